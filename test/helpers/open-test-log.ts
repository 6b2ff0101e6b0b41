import { join } from 'node:path'
import type { Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import { LogStore, type LogStoreOptions } from '../../src/log/log-store.js'

/** Opens a log in the test's own data dir with a manual clock; closed at teardown. */
export async function openTestLog (t: Test, options: Partial<LogStoreOptions> = {}): Promise<{ log: LogStore, clock: ManualClock, dataDir: string }> {
  const clock = options.clock instanceof ManualClock ? options.clock : new ManualClock()
  const dataDir = options.dataDir ?? join(t.testdir(), 'data')
  const log = await LogStore.open({ retentionCheckIntervalMs: 0, ...options, dataDir, clock })
  t.teardown(() => log.close())
  return { log, clock, dataDir }
}

export const bytes = (s: string): Buffer => Buffer.from(s)
export const text = (b: Buffer | null): string | null => b === null ? null : b.toString()
