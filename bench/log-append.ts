// Durable append throughput of the log core against the raw lmdb-js ceiling.
//
//   npm run bench:log -- [--duration 5] [--warmup 1] [--concurrency 256[,16,...]]
//                        [--record-size 100] [--batch-size 100] [--rounds 1] [--only raw,single,batch] [--dir /path]
//
// Every flag also reads from LOGWAY_BENCH_<FLAG> (LOGWAY_BENCH_RECORD_SIZE=…); flags win.
// --only also accepts raw-commit: raw puts awaited to commit only (not durable), for reference.
// Each scenario runs C concurrent callers in a closed loop (each awaits its write, then
// issues the next) against a fresh data dir, removed afterwards. "Durable" means the
// caller waited for the fsync, not just the commit.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import { arch, availableParallelism, cpus, platform, tmpdir } from 'node:os'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { open } from 'lmdb'
import { LogStore } from '../src/log/log-store.js'
import type { RecordInput } from '../src/log/types.js'
import { fmt, median, runMain, withTempDataDir } from './bench-util.js'
import { loadAverage } from './machine-facts.js'

interface Params {
  durationMs: number
  warmupMs: number
  concurrencies: number[]
  recordSize: number
  batchSize: number
  rounds: number
  only: ScenarioId[]
  parentDir: string
}

type ScenarioId = 'raw' | 'single' | 'batch' | 'raw-commit'

/** A ready-to-measure instance: `op` performs one call and returns how many records it made durable. */
interface Subject {
  op: () => Promise<number>
  close: () => Promise<void>
  /** Extra facts printed after the figures. */
  notes?: () => string
}

interface Scenario {
  id: ScenarioId
  label: (params: Params) => string
  setup: (dataDir: string, params: Params) => Promise<Subject>
}

interface Measurement {
  recordsPerSecond: number
  callsPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
}

const TOPIC = 'bench'

// lmdb-js resolves a put's promise on commit; with separateFlushed the promise also
// carries `flushed`, which resolves once that commit is fsynced (write.js). The type
// declarations do not mention it.
type FlushablePromise = Promise<boolean> & { flushed?: Promise<unknown> }

/** (a): the raw durable ceiling, lmdb-js defaults (overlappingSync on, no noSync/useWritemap/mapAsync). */
function rawLmdb (waitFor: 'flushed' | 'committed'): Scenario['setup'] {
  return async (dataDir, params) => {
    const db = open<Buffer, number[]>({ path: dataDir, separateFlushed: true })
    const value = Buffer.alloc(params.recordSize, 0x61)
    let nextOffset = 0
    // Puts issued in one event turn share one transaction and hence one `flushed` promise:
    // counting distinct promises counts group commits.
    const groups = new WeakSet<object>()
    let groupCount = 0
    let records = 0
    return {
      async op () {
        const committed = db.put([1, 0, nextOffset++], value) as FlushablePromise
        const flushed = committed.flushed
        if (flushed === undefined) throw new Error('lmdb returned no `flushed` promise: is separateFlushed on?')
        if (!groups.has(flushed)) {
          groups.add(flushed)
          groupCount++
        }
        records++
        // Await the commit as well: a failed commit rejects it, while `flushed` would never settle.
        if (waitFor === 'flushed') await Promise.all([committed, flushed])
        else await committed
        return 1
      },
      close: () => db.close(),
      notes: () => `${groupCount} commit groups, ${(records / Math.max(1, groupCount)).toFixed(1)} records/group`
    }
  }
}

/** (b) and (c): LogStore.append of `recordsPerCall` records per call. */
function logStoreAppend (recordsPerCall: (params: Params) => number): Scenario['setup'] {
  return async (dataDir, params) => {
    const store = await LogStore.open({ dataDir, retentionCheckIntervalMs: 0 })
    try {
      await store.createTopic(TOPIC, { partitions: 1 })
    } catch (err) {
      await store.close()
      throw err
    }
    const value = Buffer.alloc(params.recordSize, 0x61)
    const count = recordsPerCall(params)
    return {
      async op () {
        const records: RecordInput[] = Array.from({ length: count }, () => ({ value }))
        await store.append(TOPIC, 0, records)
        return count
      },
      close: () => store.close(),
      notes: () => 'store ' + Object.entries(store.durabilityOptions()).map(([name, on]) => `${name}=${on ? 'on' : 'off'}`).join(' ')
    }
  }
}

const SCENARIOS: Scenario[] = [
  { id: 'raw', label: () => '(a) raw lmdb put, await flushed', setup: rawLmdb('flushed') },
  { id: 'single', label: () => '(b) LogStore.append, 1 record', setup: logStoreAppend(() => 1) },
  { id: 'batch', label: params => `(c) LogStore.append, ${params.batchSize} records`, setup: logStoreAppend(params => params.batchSize) },
  // Not run by default: shows what awaiting the fsync costs over awaiting the commit.
  { id: 'raw-commit', label: () => 'raw lmdb put, await commit only (NOT durable)', setup: rawLmdb('committed') }
]

/** Runs `concurrency` callers in a closed loop; counts only calls that finish inside the measured window. */
async function measure (op: () => Promise<number>, concurrency: number, warmupMs: number, durationMs: number): Promise<Measurement> {
  // One object, not two lets: the callers' loop condition changes from outside the loop.
  const state = { stopped: false, measuring: false }
  let records = 0
  let calls = 0
  const latencies = new LatencySample(100_000)
  let fail: (err: unknown) => void = () => {}
  const failed = new Promise<never>((_resolve, reject) => { fail = reject })
  failed.catch(() => {})

  const caller = async (): Promise<void> => {
    try {
      while (!state.stopped) {
        const start = performance.now()
        const made = await op()
        if (state.measuring) {
          records += made
          calls++
          latencies.add(performance.now() - start)
        }
      }
    } catch (err) {
      state.stopped = true
      fail(err)
    }
  }
  const callers = Array.from({ length: concurrency }, caller)

  try {
    await Promise.race([sleep(warmupMs), failed])
    state.measuring = true
    const start = performance.now()
    await Promise.race([sleep(durationMs), failed])
    state.measuring = false
    const elapsedS = (performance.now() - start) / 1000
    return {
      recordsPerSecond: records / elapsedS,
      callsPerSecond: calls / elapsedS,
      p50Ms: latencies.quantile(0.5),
      p99Ms: latencies.quantile(0.99),
      maxMs: latencies.max
    }
  } finally {
    state.stopped = true
    await Promise.all(callers)
  }
}

/** A uniform reservoir sample (Algorithm R) of call latencies, so long runs use bounded memory. */
class LatencySample {
  #capacity: number
  #values: number[] = []
  #seen = 0
  max = 0

  constructor (capacity: number) {
    this.#capacity = capacity
  }

  add (ms: number): void {
    this.#seen++
    if (ms > this.max) this.max = ms
    if (this.#values.length < this.#capacity) {
      this.#values.push(ms)
      return
    }
    const slot = Math.floor(Math.random() * this.#seen)
    if (slot < this.#capacity) this.#values[slot] = ms
  }

  quantile (q: number): number {
    if (this.#values.length === 0) return Number.NaN
    const sorted = [...this.#values].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
  }
}

async function runScenario (scenario: Scenario, concurrency: number, params: Params): Promise<{ measurement: Measurement, notes: string }> {
  return await withTempDataDir(params.parentDir, 'logway-bench-', async dataDir => {
    const subject = await scenario.setup(dataDir, params)
    try {
      const measurement = await measure(subject.op, concurrency, params.warmupMs, params.durationMs)
      return { measurement, notes: subject.notes?.() ?? '' }
    } finally {
      await subject.close()
    }
  })
}

function parseParams (): Params {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      concurrency: { type: 'string' },
      'record-size': { type: 'string' },
      'batch-size': { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      dir: { type: 'string' }
    }
  })
  const setting = (name: keyof typeof values, fallback: string): string => {
    const flag = values[name]
    if (typeof flag === 'string') return flag
    return process.env[`LOGWAY_BENCH_${name.toUpperCase().replace('-', '_')}`] ?? fallback
  }
  const number = (name: keyof typeof values, fallback: string, min: number, integer: boolean): number => {
    const text = setting(name, fallback)
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${JSON.stringify(text)}`)
    }
    return n
  }
  const concurrencies = setting('concurrency', '256').split(',').map(part => {
    const n = Number(part)
    if (!Number.isInteger(n) || n < 1) throw new Error(`--concurrency must list integers ≥ 1, got ${JSON.stringify(part)}`)
    return n
  })
  const only = setting('only', 'raw,single,batch').split(',').map(id => {
    if (!SCENARIOS.some(s => s.id === id)) throw new Error(`--only: unknown scenario ${JSON.stringify(id)} (known: ${SCENARIOS.map(s => s.id).join(', ')})`)
    return id as ScenarioId
  })
  const durationS = number('duration', '5', 0.1, false)
  return {
    durationMs: durationS * 1000,
    warmupMs: number('warmup', String(Math.min(1, durationS / 5)), 0, false) * 1000,
    concurrencies,
    recordSize: number('record-size', '100', 0, true),
    batchSize: number('batch-size', '100', 1, true),
    rounds: number('rounds', '1', 1, true),
    only,
    parentDir: setting('dir', tmpdir())
  }
}

function commit (): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } // read only: never refresh the index
    }).trim()
    const sha = git('rev-parse', '--short', 'HEAD')
    return git('status', '--porcelain', '--untracked-files=no') === '' ? sha : `${sha} + uncommitted changes`
  } catch {
    return 'unknown'
  }
}

const FS_TYPES: Record<number, string> = {
  0xef53: 'ext4', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x2fc12fc1: 'zfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs', 0x6969: 'nfs', 0x1badface: 'apfs'
}

async function describeFs (dir: string): Promise<string> {
  try {
    const { type } = await statfs(dir)
    return FS_TYPES[type] ?? `fs type 0x${type.toString(16)}`
  } catch {
    return 'unknown fs'
  }
}

function lmdbVersion (): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../node_modules/lmdb/package.json', import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? '?'
  } catch {
    return '?'
  }
}

/** The median, or undefined where nothing was measured. */
const medianOrNone = (values: number[]): number | undefined => values.length === 0 ? undefined : median(values)

async function main (): Promise<void> {
  const params = parseParams()
  const fs = await describeFs(params.parentDir)
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'

  console.log('Logway log append benchmark')
  console.log(`node ${process.version} · ${platform()} ${arch()} · ${availableParallelism()} CPUs (${cpu}) · commit ${commit()}`)
  console.log(`lmdb ${lmdbVersion()} · data dirs under ${params.parentDir} (${fs}) · record ${params.recordSize} B · ` +
    `batch ${params.batchSize} · concurrency ${params.concurrencies.join(', ')} · ${params.durationMs / 1000} s each after ` +
    `${params.warmupMs / 1000} s warm-up · ${params.rounds} round(s)`)
  console.log('raw lmdb options: open({ path, separateFlushed: true }), otherwise defaults (overlappingSync on, ' +
    'eventTurnBatching on, no noSync/useWritemap/mapAsync/noMetaSync); key [1, 0, offset]')
  console.log(`load average ${loadAverage()} at start: other processes on this machine skew the figures`)
  if (fs === 'tmpfs') console.log('WARNING: tmpfs ignores fsync: these are not durable figures. Pass --dir on a real disk.')
  console.log('')

  const widths = [52, 5, 12, 10, 8, 8, 8, 0]
  const row = (cells: string[]): string => cells.map((cell, i) => {
    const width = widths[i] ?? 0
    return i === 0 || i === cells.length - 1 ? cell.padEnd(width) : cell.padStart(width)
  }).join('  ').trimEnd()
  console.log(row(['scenario', 'C', 'records/s', 'calls/s', 'p50 ms', 'p99 ms', 'max ms', 'notes']))

  // Rounds are the outer loop so that scenarios alternate (a b c a b c …): a drift in
  // machine load then hits every scenario alike instead of skewing one ratio.
  const scenarios = SCENARIOS.filter(s => params.only.includes(s.id))
  const results = new Map<string, number[]>()
  let failures = 0
  for (let round = 1; round <= params.rounds; round++) {
    for (const concurrency of params.concurrencies) {
      for (const scenario of scenarios) {
        const label = params.rounds > 1 ? `${scenario.label(params)} #${round}` : scenario.label(params)
        try {
          const { measurement: m, notes } = await runScenario(scenario, concurrency, params)
          const key = `${scenario.id}@${concurrency}`
          results.set(key, [...(results.get(key) ?? []), m.recordsPerSecond])
          console.log(row([label, String(concurrency), fmt(m.recordsPerSecond), fmt(m.callsPerSecond),
            fmt(m.p50Ms, 2), fmt(m.p99Ms, 2), fmt(m.maxMs, 1), notes]))
        } catch (err) {
          failures++
          console.log(row([label, String(concurrency), 'FAILED', '', '', '', '', err instanceof Error ? err.message : String(err)]))
        }
      }
    }
  }

  console.log('')
  const recordsPerSecond = (id: ScenarioId, concurrency: number): number | undefined => medianOrNone(results.get(`${id}@${concurrency}`) ?? [])
  if (params.rounds > 1) {
    for (const concurrency of params.concurrencies) {
      for (const scenario of scenarios) {
        console.log(`median of ${params.rounds} rounds, ${scenario.label(params)}, C=${concurrency}: ${fmt(recordsPerSecond(scenario.id, concurrency) ?? Number.NaN)} records/s`)
      }
    }
  }
  for (const concurrency of params.concurrencies) {
    const raw = recordsPerSecond('raw', concurrency)
    const single = recordsPerSecond('single', concurrency)
    const ratio = raw !== undefined && single !== undefined ? single / raw : undefined
    console.log(`core/raw, ${params.recordSize} B single-record appends, C=${concurrency}: ` +
      (ratio === undefined ? 'n/a ((a) or (b) did not run)' : `${fmt(ratio, 2)} (target ≥ 0.70${ratio >= 0.7 ? ', met' : ', NOT met'})`))
  }
  console.log(`load average ${loadAverage()} at end`)
  if (failures > 0) process.exitCode = 1
}

await runMain(main)
