// Crash safety, issue #7: the real server (dist/cli.js) is kill -9'd at
// random moments under concurrent produce and commit load, restarted, and what
// it holds is checked against everything it acknowledged (crash-checker.ts).
// The seed is printed; LOGWAY_CRASH_SEED=<seed> replays its choices.
import { randomInt } from 'node:crypto'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { Failure } from './crash-checker.js'
import { runCrashLoop, type CrashLoopOptions, type CrashLoopResult } from './crash-loop.js'
import { staleBuild, type ServerProcess } from './server-process.js'

// About 21 server starts of ~2 s CPU each (most of it the server's own startup): on a busy
// machine that can pass the suite's 120 s per file, which would be a failure of the machine, not of the log.
t.setTimeout(300_000)

const seed = process.env.LOGWAY_CRASH_SEED === undefined ? randomInt(2 ** 31) : Number(process.env.LOGWAY_CRASH_SEED)
const stale = staleBuild()

function summary (result: CrashLoopResult): string {
  return `${result.cycles} cycles, ${result.ackedRecords} acknowledged records, ${result.ackedCommits} acknowledged commits, seed ${seed}`
}

function kinds (failures: readonly Failure[]): string[] {
  return [...new Set(failures.map(f => f.kind))].sort()
}

/**
 * Runs the crash loop on the test's own data dir with this run's seed, the
 * load of 20 to 150 ms before each kill, and every server it starts killed
 * at teardown; `options` sets the cycles, when to kill and the server's
 * environment. Answers undefined, failing `t`, when dist/ is older than src/.
 */
async function crashLoop (t: Test, options: Pick<CrashLoopOptions, 'minCycles' | 'minAckedRecords' | 'maxCycles' | 'killOn' | 'env'>): Promise<CrashLoopResult | undefined> {
  if (stale !== undefined) {
    t.fail(stale)
    return undefined
  }
  const servers: ServerProcess[] = []
  t.teardown(async () => { await Promise.all(servers.map(async s => await s.killed())) })
  return await runCrashLoop({
    dataDir: join(t.testdir(), 'data'),
    seed,
    loadMs: { min: 20, max: 150 },
    onStart: server => { servers.push(server) },
    ...options
  })
}

t.test('kill -9 at random moments loses no acknowledged record or commit', async t => {
  t.comment(`seed ${seed} (replay with LOGWAY_CRASH_SEED=${seed})`)
  const result = await crashLoop(t, { minCycles: 20, minAckedRecords: 10_000, maxCycles: 60, killOn: 'timer' })
  if (result === undefined) return
  t.comment(summary(result))
  t.same(result.failures, [], `every acknowledged record and commit survived, offsets dense, ends never back (seed ${seed})`)
  t.same(result.refused, [], 'no request refused while the server was up')
  t.ok(result.cycles >= 20, `at least 20 kill -9 cycles (${result.cycles})`)
  t.ok(result.ackedRecords >= 10_000, `at least 10,000 acknowledged records (${result.ackedRecords})`)
  t.ok(result.ackedCommits > 0, `commits acknowledged (${result.ackedCommits})`)
})

t.test('with appends acknowledged before they are written, the checker reports lost acknowledged records', async t => {
  const result = await crashLoop(t, { minCycles: 5, minAckedRecords: 0, maxCycles: 5, killOn: 'ack', env: { LOGWAY_TEST_UNSAFE_EARLY_ACK: '1' } })
  if (result === undefined) return
  t.comment(`unsafe: ${summary(result)}; found ${kinds(result.failures).join(', ')}`)
  t.match(result.stderr, /WARNING: LOGWAY_TEST_UNSAFE_EARLY_ACK=1/, 'the server warned it loses acknowledged records')
  t.ok(result.failures.some(f => f.kind === 'lost-ack'), `lost acknowledged records reported within ${result.cycles} cycles: ${JSON.stringify(result.failures.slice(0, 3))}`)
})
