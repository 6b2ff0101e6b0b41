import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import { loadConfig, type Config } from '../../src/config.js'
import { buildServer, type ServerDeps } from '../../src/server.js'
import { installResponseContract } from './response-contract.js'

/**
 * Builds the app on the test's own data dir (`<testdir>/data`), silent, with
 * background retention off and a ManualClock unless `deps` says otherwise.
 * The app is closed at teardown. Call t.testdir() at most once per test: a
 * second call empties the directory.
 *
 * Every response the app sends is checked against the responses its route
 * declares (test/helpers/response-contract.ts): a status the route does not
 * declare, or a body that does not match the declared schema, fails `t`.
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
  const stats = installResponseContract(app, ({ method, url, status, problem, errors }) => {
    t.fail(`response contract: ${method} ${url} answered ${status}: ${problem}`, { method, url, status, errors })
  })
  t.teardown(async () => {
    await app.close()
    if (stats.streams > 0) t.comment(`response contract: ${stats.checked} responses checked, ${stats.streams} streamed bodies not read`)
  })
  return app
}
