// WebSocket produce and fan-out against the raw `ws` ceiling, and memory under a stalled reader.
//
//   node --import ./bench/register.js bench/ws.ts [--duration 5] [--warmup 1] [--rounds 1]
//     [--connections 4] [--window 64] [--batch-size 1,100] [--record-size 100]
//     [--subscribers 100] [--fanout-batch-size 100] [--max-lag 5000] [--credits 10000] [--latency-rate 200]
//     [--healthy 10] [--stall-duration 40] [--stall-warmup 20] [--slow-consumer-timeout <ms>]
//     [--only raw-produce,produce,raw-fanout,fanout,raw-latency,latency,stall-control,stall] [--dir /path]
//     [--log-level silent] [--cpu-prof /dir]
//
// Every flag also reads from LOGWAY_BENCH_<FLAG> (LOGWAY_BENCH_WINDOW=…); flags win.
// Each scenario starts its own server in a child process (bench/ws-server.ts: the Logway app with
// the default config and durable LogStore on a fresh data dir, or the bare `ws` ceiling) on
// 127.0.0.1, port 0, so that the RSS, CPU and event-loop figures are the server's own; the clients
// (bench/ws-clients.ts) run in this process's main thread, so one performance.now() clock times
// both the producer's acks and the subscribers' deliveries.
import { spawn, type ChildProcess } from 'node:child_process'
import { tmpdir } from 'node:os'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config.js'
import { fmt, median, quantile, runMain, withTempDataDir } from './bench-util.js'
import { describeFs, loadAverage, machineSummary, packageVersion } from './machine-facts.js'
import { Failures, Producer, Subscriber } from './ws-clients.js'
import type { FromServer, ServerOptions, ServerStats, ToServer } from './ws-server.js'
import { SERVER_NODE_FLAGS } from '../src/node-flags.js'

interface Params {
  durationS: number
  warmupS: number
  rounds: number
  connections: number
  window: number
  batchSizes: number[]
  recordSize: number
  subscribers: number
  fanoutBatchSize: number
  maxLag: number
  credits: number
  latencyRate: number
  healthy: number
  stallDurationS: number
  stallWarmupS: number
  slowConsumerTimeoutMs: number
  only: string[]
  parentDir: string
  logLevel: string
  cpuProfDir: string | undefined
}

const TOPIC = 'bench'
const SCENARIO_IDS = ['raw-produce', 'produce', 'raw-fanout', 'fanout', 'raw-latency', 'latency', 'stall-control', 'stall']
/** The stalled reader's one grant, in units of --credits: far more records than the socket buffers hold, so they fill. */
const STALL_CREDIT_FACTOR = 100
const MB = 1024 * 1024

// ---------------------------------------------------------------------------------------------
// The server child process

class ServerProcess {
  readonly url: string
  readonly notes: string
  readonly #child: ChildProcess
  readonly #exited: Promise<void>
  readonly #waiting: Array<{ resolve: (stats: ServerStats) => void, reject: (err: Error) => void }> = []

  private constructor (child: ChildProcess, exited: Promise<void>, ready: Extract<FromServer, { type: 'ready' }>) {
    this.#child = child
    this.#exited = exited
    this.url = `ws://127.0.0.1:${ready.port}${ready.path}`
    this.notes = ready.notes
    child.on('message', (message: FromServer) => {
      if (message.type === 'stats') this.#waiting.shift()?.resolve(message.stats)
    })
    child.once('exit', code => {
      for (const waiting of this.#waiting.splice(0)) waiting.reject(new Error(`the server exited with ${code}`))
    })
  }

  static async start (options: ServerOptions, cpuProfDir: string | undefined): Promise<ServerProcess> {
    const register = pathToFileURL(fileURLToPath(new URL('./register.js', import.meta.url))).href
    const child = spawn(process.execPath, [
      ...(cpuProfDir === undefined ? [] : ['--cpu-prof', '--cpu-prof-dir', cpuProfDir]),
      ...SERVER_NODE_FLAGS,
      // Only the stall scenarios ask for a collection, at the edges of the stall.
      '--expose-gc',
      '--import', register, fileURLToPath(new URL('./ws-server.ts', import.meta.url)), JSON.stringify(options)
    ], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
    const ready = await new Promise<Extract<FromServer, { type: 'ready' }>>((resolve, reject) => {
      child.once('message', (message: FromServer) => message.type === 'ready' ? resolve(message) : reject(new Error(`the server sent ${message.type} first`)))
      child.once('exit', code => reject(new Error(`the ${options.mode} server exited with ${code} before listening`)))
    })
    return new ServerProcess(child, exited, ready)
  }

  async stats (gc = false): Promise<ServerStats> {
    if (this.#child.exitCode !== null) throw new Error(`the server exited with ${this.#child.exitCode}`)
    return await new Promise((resolve, reject) => {
      this.#waiting.push({ resolve, reject })
      this.#child.send({ type: 'stats', gc } satisfies ToServer)
    })
  }

  async close (): Promise<void> {
    if (this.#child.exitCode === null) this.#child.send({ type: 'close' } satisfies ToServer)
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 30_000)
    await this.#exited
    clearTimeout(timer)
  }
}

/** Runs `work` against a fresh server of `mode` (Logway on its own data dir), then closes it. */
async function withServer<T> (mode: ServerOptions['mode'], params: Params, flags: ServerOptions['flags'], work: (server: ServerProcess) => Promise<T>): Promise<T> {
  return await withTempDataDir(params.parentDir, 'logway-bench-ws-', async dataDir => {
    const server = await ServerProcess.start({ mode, topic: TOPIC, dataDir, logLevel: params.logLevel, flags }, params.cpuProfDir)
    try {
      return await work(server)
    } finally {
      await server.close()
    }
  })
}

// ---------------------------------------------------------------------------------------------
// Measuring

/** What a measured window cost the server (its process) and the clients (this process). */
interface Cost {
  /** Event-loop utilisation of the server's main thread: 1.00 means it was the bottleneck. */
  serverElu: number
  /** CPU time of the whole server process (main thread, lmdb's threads, GC) per second. */
  serverCpus: number
  /**
   * CPU time of the server's main thread alone, ms (NaN without /proc). Divided by the work done it
   * hardly moves when other processes compete for the CPUs, unlike the rates.
   */
  serverThreadCpuMs: number
  clientElu: number
  clientCpus: number
  rssEndBytes: number
  rssMaxBytes: number
}

/**
 * Waits out the warm-up, then measures for `durationS`: `begin` and `end` run at the edges of the
 * window (to take the clients' counters); the server's RSS is sampled every second meanwhile.
 */
async function measure (server: ServerProcess, params: Params, begin: () => void, end: () => void): Promise<{ cost: Cost, elapsedMs: number }> {
  await sleep(params.warmupS * 1000)
  const before = await server.stats()
  const cpu = process.cpuUsage()
  const elu = performance.eventLoopUtilization()
  const start = performance.now()
  begin()
  let rssMaxBytes = before.rssBytes
  const sampler = setInterval(() => {
    server.stats().then(s => { rssMaxBytes = Math.max(rssMaxBytes, s.rssBytes) }, () => {})
  }, 1000)
  await sleep(params.durationS * 1000)
  end()
  const elapsedMs = performance.now() - start
  clearInterval(sampler)
  const clientCpu = process.cpuUsage(cpu)
  const clientElu = performance.eventLoopUtilization(elu).utilization
  const after = await server.stats()
  const serverMs = (after.eluActiveMs - before.eluActiveMs) + (after.eluIdleMs - before.eluIdleMs)
  return {
    elapsedMs,
    cost: {
      serverElu: (after.eluActiveMs - before.eluActiveMs) / serverMs,
      serverCpus: (after.cpuUs - before.cpuUs) / 1000 / elapsedMs,
      serverThreadCpuMs: after.mainThreadCpuMs - before.mainThreadCpuMs,
      clientElu,
      clientCpus: (clientCpu.user + clientCpu.system) / 1000 / elapsedMs,
      rssEndBytes: after.rssBytes,
      rssMaxBytes: Math.max(rssMaxBytes, after.rssBytes)
    }
  }
}

const sum = (values: number[]): number => values.reduce((a, b) => a + b, 0)

async function openSubscribers (count: number, make: (i: number) => Promise<Subscriber>): Promise<Subscriber[]> {
  const subscribers: Subscriber[] = []
  // A few at a time: a hundred upgrades at once is a burst no real fleet of readers makes.
  for (let i = 0; i < count; i += 10) {
    subscribers.push(...await Promise.all(Array.from({ length: Math.min(10, count - i) }, async (_, j) => await make(i + j))))
  }
  return subscribers
}

async function closeAll (clients: Array<{ close: () => Promise<void> }>): Promise<void> {
  await Promise.all(clients.map(async c => await c.close()))
}

interface Outcome {
  cost: Cost
  failures: Failures
}

interface ProduceOutcome extends Outcome {
  framesPerS: number
  recordsPerS: number
  ackP50Ms: number
  ackP99Ms: number
  /** Server main-thread CPU per acknowledged frame, µs. */
  threadUsPerFrame: number
}

/** (a)/(b): `connections` producers, each keeping `window` frames of `batchSize` records outstanding. */
async function produce (server: ServerProcess, params: Params, batchSize: number): Promise<ProduceOutcome> {
  const failures = new Failures()
  const producers = await Promise.all(Array.from({ length: params.connections }, async (_, i) => await Producer.open({
    url: server.url, topic: TOPIC, name: `p${i}`, window: params.window, batchSize, recordSize: params.recordSize, failures
  })))
  const frames = (): number => sum(producers.map(p => p.frames))
  let framesBefore = 0
  let framesDuring = 0
  for (const p of producers) p.start()
  const { cost, elapsedMs } = await measure(server, params, () => {
    framesBefore = frames()
    for (const p of producers) p.recording = true
  }, () => {
    framesDuring = frames() - framesBefore
    for (const p of producers) p.recording = false
  })
  await Promise.all(producers.map(async p => await p.stop()))
  const acked = sum(producers.map(p => p.records))
  const { logEndOffset } = await server.stats()
  if (logEndOffset < acked) failures.add(`the log holds ${logEndOffset} records, fewer than the ${acked} acknowledged`)
  const latencies = producers.flatMap(p => p.latencies)
  return {
    framesPerS: framesDuring / elapsedMs * 1000,
    recordsPerS: framesDuring * batchSize / elapsedMs * 1000,
    ackP50Ms: quantile(latencies, 0.5),
    ackP99Ms: quantile(latencies, 0.99),
    threadUsPerFrame: cost.serverThreadCpuMs * 1000 / framesDuring,
    cost,
    failures
  }
}

interface FanoutOutcome extends Outcome {
  deliveredPerS: number
  producedPerS: number
  recordsPerFrame: number
  /** Records the slowest subscriber was behind the producer at the end of the window. */
  lagEnd: number
  /** Server main-thread CPU per delivered record, µs. */
  threadUsPerRecord: number
}

/**
 * (c)/(d): `subscribers` readers from the log end, one producer of `fanoutBatchSize`-record frames
 * that never gets more than `maxLag` records ahead of the slowest reader: both servers then run at
 * the pace their readers sustain (the raw one has no flow control of its own, so it buffers what
 * is sent and not yet read), and delivered records/s is the fan-out the server sustains.
 */
async function fanout (server: ServerProcess, params: Params): Promise<FanoutOutcome> {
  const failures = new Failures()
  // Each delivery may let the producer go on (it waits while the slowest reader is maxLag behind).
  const wake = { producer: (): void => {} }
  const subscribers = await openSubscribers(params.subscribers, async i => await Subscriber.open({
    url: server.url, topic: TOPIC, id: `s${i}`, credits: params.credits, recordSize: params.recordSize, failures, onDelivery: () => wake.producer()
  }))
  const slowest = (): number => {
    let min = Infinity
    for (const s of subscribers) min = Math.min(min, s.records)
    return min
  }
  const producer = await Producer.open({
    url: server.url,
    topic: TOPIC,
    name: 'p',
    window: params.window,
    batchSize: params.fanoutBatchSize,
    recordSize: params.recordSize,
    failures,
    mayProduce: () => producer.sentRecords - slowest() < params.maxLag
  })
  wake.producer = () => producer.poke()
  const totals = (): { records: number, frames: number, produced: number } =>
    ({ records: sum(subscribers.map(s => s.records)), frames: sum(subscribers.map(s => s.frames)), produced: producer.records })
  let before = totals()
  let during = before
  let lagEnd = 0
  producer.start()
  const { cost, elapsedMs } = await measure(server, params, () => { before = totals() }, () => {
    const after = totals()
    during = { records: after.records - before.records, frames: after.frames - before.frames, produced: after.produced - before.produced }
    lagEnd = producer.sentRecords - slowest()
  })
  await producer.stop()
  await closeAll(subscribers)
  return {
    deliveredPerS: during.records / elapsedMs * 1000,
    producedPerS: during.produced / elapsedMs * 1000,
    recordsPerFrame: during.records / during.frames,
    lagEnd,
    threadUsPerRecord: cost.serverThreadCpuMs * 1000 / during.records,
    cost,
    failures
  }
}

interface LatencyOutcome extends Outcome {
  samples: number
  ackP50Ms: number
  ackP99Ms: number
  ackMaxMs: number
  sendP50Ms: number
  sendP99Ms: number
}

/**
 * (c')/(d'): end-to-end latency at a rate well under the fan-out's capacity (at capacity it only
 * measures how far behind the readers are): one-record frames at `latencyRate` per second to
 * `subscribers` readers. For each record delivered to each reader: delivery time − the time its
 * producer got the ack (negative when the delivery overtakes the ack), and − the time it was sent.
 */
async function latency (server: ServerProcess, params: Params): Promise<LatencyOutcome> {
  const failures = new Failures()
  const deliveries: Array<{ first: number, count: number, at: number }> = []
  let recording = false
  const subscribers = await openSubscribers(params.subscribers, async i => await Subscriber.open({
    url: server.url,
    topic: TOPIC,
    id: `s${i}`,
    credits: params.credits,
    recordSize: params.recordSize,
    failures,
    onDelivery: (first, count, at) => { if (recording) deliveries.push({ first, count, at }) }
  }))
  const sentAt = new Map<number, number>()
  const ackedAt = new Map<number, number>()
  const producer = await Producer.open({
    url: server.url,
    topic: TOPIC,
    name: 'p',
    window: params.window,
    batchSize: 1,
    recordSize: params.recordSize,
    failures,
    ratePerS: params.latencyRate,
    onAck: (offset, sent, acked) => {
      sentAt.set(offset, sent)
      ackedAt.set(offset, acked)
    }
  })
  producer.start()
  const { cost } = await measure(server, params, () => { recording = true }, () => { recording = false })
  await producer.stop()
  await closeAll(subscribers)
  const fromAck: number[] = []
  const fromSend: number[] = []
  for (const { first, count, at } of deliveries) {
    for (let offset = first; offset < first + count; offset++) {
      const acked = ackedAt.get(offset)
      const sent = sentAt.get(offset)
      if (acked === undefined || sent === undefined) continue
      fromAck.push(at - acked)
      fromSend.push(at - sent)
    }
  }
  return {
    samples: fromAck.length,
    ackP50Ms: quantile(fromAck, 0.5),
    ackP99Ms: quantile(fromAck, 0.99),
    ackMaxMs: quantile(fromAck, 1),
    sendP50Ms: quantile(fromSend, 0.5),
    sendP99Ms: quantile(fromSend, 0.99),
    cost,
    failures
  }
}

interface StallOutcome {
  failures: Failures
  rssStartBytes: number
  rssMaxBytes: number
  rssEndBytes: number
  anonStartBytes: number
  anonMaxBytes: number
  fileStartBytes: number
  fileMaxBytes: number
  heapStartBytes: number
  heapMaxBytes: number
  externalStartBytes: number
  externalMaxBytes: number
  /** Taken after a full garbage collection at the start and at the end of the stall (under load both times). */
  collected: { rssStartBytes: number, rssEndBytes: number, anonStartBytes: number, anonEndBytes: number, heapStartBytes: number, heapEndBytes: number, heapTotalStartBytes: number, heapTotalEndBytes: number } | undefined
  /** RSS (MB) at each second of the stall. */
  timelineMb: number[]
  producedPerS: number
  /** Delivered records/s of the slowest healthy reader, and how far behind the log end it was at the end. */
  healthyMinPerS: number
  healthyLagEnd: number
  /** Seconds from the stall to: the first sample with a stalled session, the first with a closing one (4008 sent). */
  stalledAfterS: number | undefined
  closingAfterS: number | undefined
  stalledRecords: number
  /** What the stalled reader saw once it read again. */
  stalledClose: { code: number, reason: string, afterS: number } | undefined
  maxBufferedBytes: number
}

/**
 * (e): `healthy` readers and one that stops reading (no more credits, TCP socket paused) while
 * `connections` producers produce at full speed (no lag bound) for `stallDurationS`. The server's
 * RSS is sampled every second from the start of the stall (after the warm-up). When the server
 * starts closing the stalled session (its send buffer stayed over wsSendBufferBytes for
 * wsSlowConsumerTimeoutMs: 4008), the stalled reader reads again, to see the close it was sent.
 * (e0), the control (`stallOne` false): the same, with the extra reader healthy, so that the
 * growth the load alone causes (heap sizing under a high allocation rate) can be told apart.
 */
async function stall (server: ServerProcess, params: Params, stallOne: boolean): Promise<StallOutcome> {
  const failures = new Failures()
  const healthy = await openSubscribers(params.healthy + (stallOne ? 0 : 1), async i => await Subscriber.open({
    url: server.url, topic: TOPIC, id: `h${i}`, credits: params.credits, recordSize: params.recordSize, failures
  }))
  const stalled = stallOne
    ? await Subscriber.open({ url: server.url, topic: TOPIC, id: 'stalled', credits: params.credits * STALL_CREDIT_FACTOR, recordSize: params.recordSize, failures })
    : undefined
  const producers = await Promise.all(Array.from({ length: params.connections }, async (_, i) => await Producer.open({
    url: server.url, topic: TOPIC, name: `p${i}`, window: params.window, batchSize: params.fanoutBatchSize, recordSize: params.recordSize, failures
  })))
  for (const p of producers) p.start()
  // Under the same load until the heap, the young generation and the log's
  // memory map have grown to their working size: growth after that is the stall's.
  await sleep(params.stallWarmupS * 1000)

  const startCollected = await server.stats(true)
  const start = await server.stats()
  const healthyBefore = healthy.map(s => s.records)
  const producedBefore = sum(producers.map(p => p.records))
  const startedAt = performance.now()
  stalled?.stall()
  const seconds = (): number => (performance.now() - startedAt) / 1000
  const outcome: StallOutcome = {
    failures,
    rssStartBytes: start.rssBytes,
    rssMaxBytes: start.rssBytes,
    rssEndBytes: start.rssBytes,
    anonStartBytes: start.rssAnonBytes,
    anonMaxBytes: start.rssAnonBytes,
    fileStartBytes: start.rssFileBytes,
    fileMaxBytes: start.rssFileBytes,
    heapStartBytes: start.heapUsedBytes,
    heapMaxBytes: start.heapUsedBytes,
    externalStartBytes: start.externalBytes,
    externalMaxBytes: start.externalBytes,
    timelineMb: [],
    producedPerS: 0,
    healthyMinPerS: 0,
    healthyLagEnd: 0,
    stalledAfterS: undefined,
    closingAfterS: undefined,
    stalledRecords: 0,
    stalledClose: undefined,
    maxBufferedBytes: 0,
    collected: undefined
  }
  let resumed = false
  for (let second = 1; second <= params.stallDurationS; second++) {
    await sleep(startedAt + second * 1000 - performance.now())
    const s = await server.stats()
    outcome.timelineMb.push(s.rssBytes / MB)
    outcome.rssMaxBytes = Math.max(outcome.rssMaxBytes, s.rssBytes)
    outcome.anonMaxBytes = Math.max(outcome.anonMaxBytes, s.rssAnonBytes)
    outcome.fileMaxBytes = Math.max(outcome.fileMaxBytes, s.rssFileBytes)
    outcome.heapMaxBytes = Math.max(outcome.heapMaxBytes, s.heapUsedBytes)
    outcome.externalMaxBytes = Math.max(outcome.externalMaxBytes, s.externalBytes)
    outcome.rssEndBytes = s.rssBytes
    outcome.maxBufferedBytes = Math.max(outcome.maxBufferedBytes, ...s.sessions.map(x => x.bufferedBytes))
    if (outcome.stalledAfterS === undefined && s.sessions.some(x => x.stalled)) outcome.stalledAfterS = seconds()
    if (outcome.closingAfterS === undefined && s.sessions.some(x => x.closing)) outcome.closingAfterS = seconds()
    if (stalled !== undefined && !resumed && (outcome.closingAfterS !== undefined || stalled.closed !== undefined)) {
      resumed = true
      stalled.resume()
    }
  }
  const elapsedMs = performance.now() - startedAt
  outcome.producedPerS = (sum(producers.map(p => p.records)) - producedBefore) / elapsedMs * 1000
  outcome.healthyMinPerS = Math.min(...healthy.map((s, i) => s.records - (healthyBefore[i] ?? 0))) / elapsedMs * 1000
  const endCollected = await server.stats(true)
  outcome.collected = {
    rssStartBytes: startCollected.rssBytes,
    rssEndBytes: endCollected.rssBytes,
    anonStartBytes: startCollected.rssAnonBytes,
    anonEndBytes: endCollected.rssAnonBytes,
    heapStartBytes: startCollected.heapUsedBytes,
    heapEndBytes: endCollected.heapUsedBytes,
    heapTotalStartBytes: startCollected.heapTotalBytes,
    heapTotalEndBytes: endCollected.heapTotalBytes
  }
  outcome.healthyLagEnd = endCollected.logEndOffset - Math.min(...healthy.map(s => s.position))
  await Promise.all(producers.map(async p => await p.stop()))
  if (stalled === undefined) {
    await closeAll(healthy)
    return outcome
  }
  outcome.stalledRecords = stalled.records
  if (stalled.closed !== undefined) {
    outcome.stalledClose = { code: stalled.closed.code, reason: stalled.closed.reason, afterS: (stalled.closed.at - startedAt) / 1000 }
  }
  await closeAll([...healthy, stalled])
  return outcome
}

// ---------------------------------------------------------------------------------------------
// Options and the report

function parseParams (): Params {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      rounds: { type: 'string' },
      connections: { type: 'string' },
      window: { type: 'string' },
      'batch-size': { type: 'string' },
      'record-size': { type: 'string' },
      subscribers: { type: 'string' },
      'fanout-batch-size': { type: 'string' },
      'max-lag': { type: 'string' },
      credits: { type: 'string' },
      'latency-rate': { type: 'string' },
      healthy: { type: 'string' },
      'stall-duration': { type: 'string' },
      'stall-warmup': { type: 'string' },
      'slow-consumer-timeout': { type: 'string' },
      only: { type: 'string' },
      dir: { type: 'string' },
      'log-level': { type: 'string' },
      'cpu-prof': { type: 'string' }
    }
  })
  const setting = (name: keyof typeof values, fallback: string): string => {
    const flag = values[name]
    if (typeof flag === 'string') return flag
    return process.env[`LOGWAY_BENCH_${name.toUpperCase().replaceAll('-', '_')}`] ?? fallback
  }
  const parse = (name: string, text: string, min: number, integer: boolean): number => {
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) {
      throw new Error(`--${name} must be ${integer ? 'an integer' : 'a number'} ≥ ${min}, got ${JSON.stringify(text)}`)
    }
    return n
  }
  const number = (name: keyof typeof values, fallback: string, min: number, integer = true): number => parse(name, setting(name, fallback), min, integer)
  const only = setting('only', SCENARIO_IDS.join(',')).split(',').map(id => {
    if (!SCENARIO_IDS.includes(id)) throw new Error(`--only: unknown scenario ${JSON.stringify(id)} (known: ${SCENARIO_IDS.join(', ')})`)
    return id
  })
  const durationS = number('duration', '5', 1, false)
  const cpuProf = setting('cpu-prof', '')
  return {
    durationS,
    warmupS: number('warmup', String(Math.min(1, durationS / 5)), 0, false),
    rounds: number('rounds', '1', 1),
    connections: number('connections', '4', 1),
    window: number('window', '64', 1),
    batchSizes: setting('batch-size', '1,100').split(',').map(part => parse('batch-size', part, 1, true)),
    recordSize: number('record-size', '100', 0),
    subscribers: number('subscribers', '100', 1),
    fanoutBatchSize: number('fanout-batch-size', '100', 1),
    maxLag: number('max-lag', '5000', 1),
    credits: number('credits', '10000', 2),
    latencyRate: number('latency-rate', '200', 1),
    healthy: number('healthy', '10', 0),
    stallDurationS: number('stall-duration', '40', 1),
    stallWarmupS: number('stall-warmup', '20', 0, false),
    slowConsumerTimeoutMs: number('slow-consumer-timeout', String(loadConfig({ env: {} }).wsSlowConsumerTimeoutMs), 1),
    only,
    parentDir: setting('dir', tmpdir()),
    logLevel: setting('log-level', 'silent'),
    cpuProfDir: cpuProf === '' ? undefined : cpuProf
  }
}

const mb = (bytes: number): string => fmt(bytes / MB)

function table (widths: number[]): (cells: string[]) => string {
  return cells => cells.map((cell, i) => {
    const width = widths[i] ?? 0
    return i === 0 || i === cells.length - 1 ? cell.padEnd(width) : cell.padStart(width)
  }).join('  ').trimEnd()
}

const costCells = (c: Cost): string[] => [fmt(c.serverElu, 2), fmt(c.serverCpus, 2), fmt(c.clientElu, 2), fmt(c.clientCpus, 2), `${mb(c.rssEndBytes)} (${mb(c.rssMaxBytes)})`]
const COST_HEADERS = ['srv ELU', 'srv CPUs', 'cli ELU', 'cli CPUs', 'RSS MB (max)']
const COST_WIDTHS = [7, 8, 7, 8, 12]

const failureNote = (f: Failures): string => f.count > 0 ? `!!! ${f.describe()} !!!` : ''

interface Ratio {
  label: string
  value: number | undefined
  /** How the value prints. */
  shown: string
  target: string
  met: boolean
  /** The same comparison by server main-thread CPU per unit of work (ceiling ÷ Logway): steadier on a busy machine. */
  byCpu?: number
}

async function main (): Promise<void> {
  const params = parseParams()
  const fs = await describeFs(params.parentDir)
  const config = loadConfig({ env: {} })
  const has = (id: string): boolean => params.only.includes(id)

  console.log('Logway WebSocket benchmark')
  console.log(machineSummary())
  console.log(`fastify ${packageVersion('fastify')} · @fastify/websocket ${packageVersion('@fastify/websocket')} · ws ${packageVersion('ws')} · lmdb ${packageVersion('lmdb')} · ` +
    `data dirs under ${params.parentDir} (${fs}) · servers in a child process, clients (ws) in this process's main thread · ` +
    `${params.durationS} s each after ${params.warmupS} s warm-up · ${params.rounds} round(s)`)
  console.log(`load: ${params.connections} producer connections × window ${params.window} frames × ${params.batchSizes.join(' or ')} record(s) of ${params.recordSize} B (STRING, no key, 1 partition); ` +
    `fan-out: ${params.subscribers} subscribers (from latest, format string, ${fmt(params.credits)} credits re-granted at half), 1 producer of ${params.fanoutBatchSize}-record frames at most ${fmt(params.maxLag)} records ahead of the slowest; ` +
    `latency: 1-record frames at ${fmt(params.latencyRate)}/s; stall: ${params.healthy} healthy + 1 stalled reader (granted ${fmt(params.credits * STALL_CREDIT_FACTOR)} records once) for ${params.stallDurationS} s after ${params.stallWarmupS} s of the same load`)
  console.log(`Logway: default config (wsMaxInFlight ${config.wsMaxInFlight}, wsSendBufferBytes ${fmt(config.wsSendBufferBytes)}, wsSlowConsumerTimeoutMs ${fmt(config.wsSlowConsumerTimeoutMs)}` +
    `${params.slowConsumerTimeoutMs === config.wsSlowConsumerTimeoutMs ? '' : `, ${fmt(params.slowConsumerTimeoutMs)} in (e)`}), durable LogStore, log level ${params.logLevel}; ` +
    'raw: bare ws WebSocketServer, JSON.parse of each frame, JSON.stringify of each ack and records frame, no storage, no flow control')
  console.log(`load average ${loadAverage()} at start: other processes on this machine skew the figures`)
  if (fs === 'tmpfs') console.log('WARNING: tmpfs ignores fsync: these are not durable figures. Pass --dir on a real disk.')
  if (params.cpuProfDir !== undefined) console.log(`CPU profiles of every server process go to ${params.cpuProfDir}`)
  console.log('')

  let failedRuns = 0
  const run = async <T extends { failures: Failures }>(label: string, print: (outcome: T) => void, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      const outcome = await work()
      if (outcome.failures.count > 0) failedRuns++
      print(outcome)
      return outcome
    } catch (err) {
      failedRuns++
      console.log(`${label}  FAILED ${err instanceof Error ? err.message : String(err)}`)
      return undefined
    }
  }
  const suffix = (round: number): string => params.rounds > 1 ? ` #${round}` : ''
  const results = new Map<string, number[]>()
  const record = (key: string, value: number): void => { results.set(key, [...(results.get(key) ?? []), value]) }

  // Rounds are the outer loop inside each table, so that a drift in machine load hits the ceiling and Logway alike.
  if (has('raw-produce') || has('produce')) {
    const row = table([44, 4, 9, 11, 7, 7, 8, ...COST_WIDTHS, 0])
    console.log('Produce: acknowledged frames')
    console.log(row(['scenario', 'R', 'frames/s', 'records/s', 'p50 ms', 'p99 ms', 'µs/frame', ...COST_HEADERS, 'notes']))
    for (let round = 1; round <= params.rounds; round++) {
      for (const batchSize of params.batchSizes) {
        for (const mode of ['raw', 'logway'] as const) {
          if (!has(mode === 'raw' ? 'raw-produce' : 'produce')) continue
          const label = `${mode === 'raw' ? '(a) raw ws produce' : '(b) Logway WS produce'}, ${batchSize} record${batchSize === 1 ? '' : 's'}/frame${suffix(round)}`
          await run<ProduceOutcome>(label, o => {
            record(`${mode}-produce-${batchSize}`, o.framesPerS)
            record(`${mode}-produce-${batchSize}-cpu`, o.threadUsPerFrame)
            console.log(row([label, String(batchSize), fmt(o.framesPerS), fmt(o.recordsPerS), fmt(o.ackP50Ms, 2), fmt(o.ackP99Ms, 2), fmt(o.threadUsPerFrame, 1),
              ...costCells(o.cost), failureNote(o.failures)]))
          }, async () => await withServer(mode, params, {}, async server => await produce(server, params, batchSize)))
        }
      }
    }
    console.log('')
  }

  if (has('raw-fanout') || has('fanout')) {
    const row = table([44, 12, 11, 10, 8, 7, ...COST_WIDTHS, 0])
    console.log(`Fan-out to ${params.subscribers} subscribers: records delivered, summed over the subscribers`)
    console.log(row(['scenario', 'delivered/s', 'produced/s', 'rec/frame', 'lag end', 'µs/rec', ...COST_HEADERS, 'notes']))
    for (let round = 1; round <= params.rounds; round++) {
      for (const mode of ['raw', 'logway'] as const) {
        if (!has(mode === 'raw' ? 'raw-fanout' : 'fanout')) continue
        const label = `${mode === 'raw' ? '(c) raw ws fan-out' : '(d) Logway fan-out'}, ${params.fanoutBatchSize}-record frames${suffix(round)}`
        await run<FanoutOutcome>(label, o => {
          record(`${mode}-fanout`, o.deliveredPerS)
          record(`${mode}-fanout-cpu`, o.threadUsPerRecord)
          console.log(row([label, fmt(o.deliveredPerS), fmt(o.producedPerS), fmt(o.recordsPerFrame, 1), fmt(o.lagEnd), fmt(o.threadUsPerRecord, 2),
            ...costCells(o.cost), failureNote(o.failures)]))
        }, async () => await withServer(mode, params, {}, async server => await fanout(server, params)))
      }
    }
    console.log('')
  }

  if (has('raw-latency') || has('latency')) {
    const row = table([44, 9, 9, 9, 9, 10, 10, ...COST_WIDTHS, 0])
    console.log(`End-to-end latency, ${fmt(params.latencyRate)} records/s to ${params.subscribers} subscribers: delivery − producer's ack (and − send), ms`)
    console.log(row(['scenario', 'samples', 'ack p50', 'ack p99', 'ack max', 'send p50', 'send p99', ...COST_HEADERS, 'notes']))
    for (let round = 1; round <= params.rounds; round++) {
      for (const mode of ['raw', 'logway'] as const) {
        if (!has(mode === 'raw' ? 'raw-latency' : 'latency')) continue
        const label = `${mode === 'raw' ? '(c\') raw ws' : '(d\') Logway'}, produce ack → delivery${suffix(round)}`
        await run<LatencyOutcome>(label, o => {
          record(`${mode}-latency-p50`, o.ackP50Ms)
          record(`${mode}-latency-p99`, o.ackP99Ms)
          console.log(row([label, fmt(o.samples), fmt(o.ackP50Ms, 2), fmt(o.ackP99Ms, 2), fmt(o.ackMaxMs, 1), fmt(o.sendP50Ms, 2), fmt(o.sendP99Ms, 2), ...costCells(o.cost), failureNote(o.failures)]))
        }, async () => await withServer(mode, params, {}, async server => await latency(server, params)))
      }
    }
    console.log('')
  }

  if (has('stall-control') || has('stall')) {
    console.log(`Stalled reader: ${params.healthy} healthy subscribers and 1 that stops reading, ${params.connections} producers of ${params.fanoutBatchSize}-record frames at full speed, Logway; ` +
      `(e0) is the same load with all ${params.healthy + 1} readers healthy`)
    const flags = { wsSlowConsumerTimeoutMs: String(params.slowConsumerTimeoutMs) }
    for (let round = 1; round <= params.rounds; round++) {
      for (const stallOne of [false, true]) {
        if (!has(stallOne ? 'stall' : 'stall-control')) continue
        const label = `${stallOne ? '(e) 1 stalled reader' : '(e0) no stalled reader'}${suffix(round)}`
        await run<StallOutcome>(label, o => {
          record(stallOne ? 'stall-growth' : 'stall-control-growth', o.rssMaxBytes - o.rssStartBytes)
          record(stallOne ? 'stall-anon-growth' : 'stall-control-anon-growth', o.anonMaxBytes - o.anonStartBytes)
          console.log(`${label}: server RSS ${mb(o.rssStartBytes)} MB after warm-up, max ${mb(o.rssMaxBytes)} MB, growth ${mb(o.rssMaxBytes - o.rssStartBytes)} MB, ${mb(o.rssEndBytes)} MB at the end` +
            ` (anonymous ${mb(o.anonStartBytes)} → max ${mb(o.anonMaxBytes)} MB, file-backed ${mb(o.fileStartBytes)} → max ${mb(o.fileMaxBytes)} MB, ` +
            `JS heap used ${mb(o.heapStartBytes)} → max ${mb(o.heapMaxBytes)} MB, external ${mb(o.externalStartBytes)} → max ${mb(o.externalMaxBytes)} MB)`)
          console.log(`  RSS MB each second: ${o.timelineMb.map(n => fmt(n)).join(' ')}`)
          const c = o.collected
          if (c !== undefined) {
            record(stallOne ? 'stall-collected-growth' : 'stall-control-collected-growth', c.rssEndBytes - c.rssStartBytes)
            record(stallOne ? 'stall-collected-anon-growth' : 'stall-control-collected-anon-growth', c.anonEndBytes - c.anonStartBytes)
            console.log(`  after a full GC at each edge of the stall: RSS ${mb(c.rssStartBytes)} → ${mb(c.rssEndBytes)} MB (growth ${mb(c.rssEndBytes - c.rssStartBytes)} MB), ` +
              `anonymous ${mb(c.anonStartBytes)} → ${mb(c.anonEndBytes)} MB (growth ${mb(c.anonEndBytes - c.anonStartBytes)} MB), JS heap used ${mb(c.heapStartBytes)} → ${mb(c.heapEndBytes)} MB of ${mb(c.heapTotalStartBytes)} → ${mb(c.heapTotalEndBytes)} MB committed`)
          }
          console.log(`  produced ${fmt(o.producedPerS)} records/s; slowest healthy reader ${fmt(o.healthyMinPerS)} records/s, ${fmt(o.healthyLagEnd)} records behind the log end at the end; ` +
            `largest send buffer seen ${fmt(o.maxBufferedBytes / 1024)} KiB` + (stallOne || o.failures.count === 0 ? '' : `  ${failureNote(o.failures)}`))
          if (!stallOne) return
          const closing = o.closingAfterS === undefined ? `not closed within the ${params.stallDurationS} s run` : `the server started closing it ${fmt(o.closingAfterS, 0)} s after the stall`
          const seen = o.stalledClose === undefined
            ? 'it saw no close'
            : `reading again, it got close ${o.stalledClose.code}${o.stalledClose.reason === '' ? '' : ` "${o.stalledClose.reason}"`} ${fmt(o.stalledClose.afterS, 1)} s after the stall`
          console.log(`  stalled reader: ${fmt(o.stalledRecords)} records delivered in all; send buffer over the mark ${o.stalledAfterS === undefined ? 'never seen' : `by ${fmt(o.stalledAfterS, 0)} s`}; ${closing}; ${seen}` +
            (o.failures.count > 0 ? `  ${failureNote(o.failures)}` : ''))
        }, async () => await withServer('logway', params, flags, async server => await stall(server, params, stallOne)))
      }
    }
    console.log('')
  }

  const ratios: Ratio[] = []
  const ratio = (label: string, numerator: string, denominator: string, target: number): void => {
    const of = (key: string): number => median(results.get(key) ?? [])
    const value = results.has(numerator) && results.has(denominator) ? of(numerator) / of(denominator) : undefined
    const byCpu = of(`${denominator}-cpu`) / of(`${numerator}-cpu`)
    ratios.push({ label, value, shown: fmt(value ?? Number.NaN, 2), target: `≥ ${fmt(target, 2)}`, met: value !== undefined && value >= target, byCpu })
  }
  for (const batchSize of params.batchSizes) ratio(`(b)/(a) frames/s, ${batchSize} record(s) per frame`, `logway-produce-${batchSize}`, `raw-produce-${batchSize}`, 0.5)
  ratio(`(d)/(c) delivered records/s, ${params.subscribers} subscribers`, 'logway-fanout', 'raw-fanout', 0.5)
  const growth = results.get('stall-growth')
  ratios.push({
    label: `(e) server RSS growth, 1 stalled + ${params.healthy} healthy readers`,
    value: growth === undefined ? undefined : median(growth),
    shown: growth === undefined ? '-' : `${mb(median(growth))} MB`,
    target: '≤ 50 MB',
    met: growth !== undefined && median(growth) <= 50 * MB
  })
  const row = table([52, 8, 8, 18, 0])
  console.log(params.rounds > 1 ? `Ratios (medians of ${params.rounds} rounds)` : 'Ratios')
  console.log(row(['', 'value', 'target', '', 'by server-thread CPU']))
  for (const r of ratios) {
    console.log(row([r.label, r.shown, r.target, r.value === undefined ? 'n/a (not measured)' : r.met ? 'MET' : 'NOT MET', r.byCpu === undefined ? '' : fmt(r.byCpu, 2)]))
  }
  const growthOf = (key: string): string => results.has(key) ? `${mb(median(results.get(key) ?? []))} MB` : '-'
  if (results.has('stall-growth') || results.has('stall-control-growth')) {
    console.log(`RSS growth (anonymous only): (e) 1 stalled reader ${growthOf('stall-growth')} (${growthOf('stall-anon-growth')}), ` +
      `(e0) no stalled reader ${growthOf('stall-control-growth')} (${growthOf('stall-control-anon-growth')}): what (e) adds over (e0) is the stalled reader's share`)
    console.log(`RSS growth between full GCs (anonymous only): (e) ${growthOf('stall-collected-growth')} (${growthOf('stall-collected-anon-growth')}), ` +
      `(e0) ${growthOf('stall-control-collected-growth')} (${growthOf('stall-control-collected-anon-growth')})`)
  }
  const p50 = (mode: string, q: string): string => fmt(median(results.get(`${mode}-latency-${q}`) ?? []), 2)
  if (results.has('logway-latency-p50')) console.log(`latency ack → delivery, Logway: p50 ${p50('logway', 'p50')} ms, p99 ${p50('logway', 'p99')} ms (raw ws: p50 ${p50('raw', 'p50')} ms, p99 ${p50('raw', 'p99')} ms)`)
  console.log(`load average ${loadAverage()} at end`)
  if (failedRuns > 0) {
    console.log('')
    console.log(`!!! ${failedRuns} run(s) had failures or did not run: their figures are NOT valid !!!`)
    process.exitCode = 1
  }
}

await runMain(main)
