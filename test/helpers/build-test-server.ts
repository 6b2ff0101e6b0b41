import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import { loadConfig, type Config } from '../../src/config.js'
import { buildServer, type ServerDeps } from '../../src/server.js'

/**
 * Builds the app on the test's own data dir (`<testdir>/data`), silent, with
 * background retention off and a ManualClock unless `deps` says otherwise.
 * The app is closed at teardown. Call t.testdir() at most once per test: a
 * second call empties the directory.
 */
export function buildTestServer (t: Test, overrides: Partial<Config> = {}, deps: ServerDeps = {}): FastifyInstance {
  const config: Config = {
    ...loadConfig({ env: {} }),
    dataDir: join(t.testdir(), 'data'),
    logLevel: 'silent',
    retentionCheckIntervalMs: 0,
    ...overrides
  }
  const app = buildServer(config, { clock: new ManualClock(), ...deps })
  t.teardown(() => app.close())
  return app
}
