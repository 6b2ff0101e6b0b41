// Consumption over HTTP, in one run against one server:
//   (c) the stateless fetch (GET /v3/clusters/{c}/topics/{t}/partitions/{p}/records) draining a pre-filled topic,
//   (a) a group of Confluent v2 consumer instances (POST /consumers/{g}, subscribe, poll, commit) draining the same data,
//   (b) end-to-end latency: a record produced over HTTP (v3) carrying its send time, received by a long-polling v2 consumer
//       (a group of its own on a topic of its own, so the drained topic never changes).
//
//   npm run bench:consume -- [--records 300000] [--partitions 2] [--record-size 100] [--consumers 2]
//                            [--max-bytes 1048576] [--poll-timeout 1000] [--samples 500] [--rounds 1]
//                            [--dir /path] [--log-level silent]
//
// Every flag also reads from LOGWAY_BENCH_<FLAG> (LOGWAY_BENCH_RECORDS=…); flags win.
// The server (the Logway app, default config, durable LogStore, on a fresh data dir) listens on
// 127.0.0.1, port 0, in this process's main thread; the topic is filled through the log core before
// anything is measured. The clients run in a worker thread of this process, over real HTTP, so they
// have their own event loop (the same reasoning as bench/http-produce.ts, see bench/README.md).
// Every record is counted once by partition and offset: a drain ends when each offset was seen.
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { isMainThread, parentPort, Worker } from 'node:worker_threads'
import { loadConfig } from '../src/config.js'
import type { LogStore } from '../src/log/log-store.js'
import { buildServer } from '../src/server.js'
import { fmt, median, quantile } from './bench-util.js'
import { describeFs, loadAverage, machineSummary, nodeFlagsNote, packageVersion } from './machine-facts.js'

interface Params {
  records: number
  partitions: number
  recordSize: number
  consumers: number
  maxBytes: number
  pollTimeoutMs: number
  samples: number
  rounds: number
  parentDir: string
  logLevel: string
}

/** What the worker needs to reach the server and the topic. */
interface Target {
  origin: string
  clusterId: string
  topic: string
  /** The log end offset of each partition after the fill: what a drain must see. */
  endOffsets: number[]
  /** The topic (b) produces to and polls, as many partitions as `topic`. */
  latencyTopic: string
}

const TOPIC = 'bench'
const LATENCY_TOPIC = 'bench-latency'
const V2_JSON = 'application/vnd.kafka.v2+json'
const V2_BINARY = 'application/vnd.kafka.binary.v2+json'
/** Latency samples taken before measuring, so connection setup and first-call costs stay out of the figures. */
const LATENCY_WARMUP = 10
/** The longest a latency sample may take before the run is declared broken. */
const SAMPLE_TIMEOUT_MS = 10_000

// ---------------------------------------------------------------------------------------------
// The clients, in a worker thread

type Job =
  | { type: 'fetch', target: Target, params: Params }
  | { type: 'drain', target: Target, params: Params, group: string }
  | { type: 'latency', target: Target, params: Params, group: string }

interface FetchResult { records: number, requests: number, elapsedMs: number }
interface DrainResult {
  records: number
  duplicates: number
  polls: number
  emptyPolls: number
  commits: number
  elapsedMs: number
  /** From the first poll to the first record: consumer creation is not counted, the group's first assignment is. */
  firstRecordMs: number
  perConsumer: number[]
}
interface LatencyResult { samples: number[] }
type JobResult = FetchResult | DrainResult | LatencyResult

/** Tells the server thread when the measured part of a job starts and ends, so that setup and teardown stay out of its cost. */
interface MeasuredWindow {
  start: () => void
  end: () => void
}

type WorkerMessage = { type: 'measuring' } | { type: 'measured' } | { type: 'done', result: JobResult } | { type: 'failed', message: string, skipped?: boolean }

/** An answer that is not what the benchmark expects: the run is not valid. */
class BadAnswer extends Error {
  readonly skipped: boolean
  constructor (message: string, skipped = false) {
    super(message)
    this.skipped = skipped
  }
}

async function call (url: string, init: RequestInit & { expect?: number[] } = {}): Promise<Response> {
  const response = await fetch(url, init)
  const ok = init.expect?.includes(response.status) ?? (response.status >= 200 && response.status < 300)
  if (ok) return response
  const body = await response.text()
  const routeMissing = response.status === 404 && /"error_code":404\b/.test(body) && /Route \w+ /.test(body)
  throw new BadAnswer(`${init.method ?? 'GET'} ${new URL(url).pathname} answered ${response.status} ${body.slice(0, 300)}`, routeMissing)
}

/** Offsets seen per partition, to count each record once whatever the delivery order or redelivery. */
class SeenOffsets {
  readonly #seen: Uint8Array[]
  readonly total: number
  unique = 0
  duplicates = 0

  constructor (endOffsets: number[]) {
    this.#seen = endOffsets.map(end => new Uint8Array(end))
    this.total = endOffsets.reduce((a, b) => a + b, 0)
  }

  add (partition: number, offset: number): void {
    const seen = this.#seen[partition]
    if (seen === undefined || offset >= seen.length) throw new BadAnswer(`record ${partition}@${offset} is beyond the filled log`)
    if (seen[offset] === 1) {
      this.duplicates++
      return
    }
    seen[offset] = 1
    this.unique++
  }

  get complete (): boolean {
    return this.unique === this.total
  }
}

interface FetchedPage { next_offset: number, records: Array<{ offset: number }> }

/** (c) One reader per partition, each asking for the next offset as soon as a page arrives. */
async function statelessFetch (target: Target, params: Params, span: MeasuredWindow): Promise<FetchResult> {
  const seen = new SeenOffsets(target.endOffsets)
  let requests = 0
  span.start()
  const start = performance.now()
  await Promise.all(target.endOffsets.map(async (end, partition) => {
    let offset = 0
    while (offset < end) {
      const url = `${target.origin}/v3/clusters/${target.clusterId}/topics/${target.topic}/partitions/${partition}/records` +
        `?offset=${offset}&max_records=10000&max_bytes=${params.maxBytes}&format=binary`
      const page = await (await call(url)).json() as FetchedPage
      requests++
      for (const record of page.records) seen.add(partition, record.offset)
      if (page.next_offset <= offset) throw new BadAnswer(`fetch at ${partition}@${offset} did not advance`)
      offset = page.next_offset
    }
  }))
  const elapsedMs = performance.now() - start
  span.end()
  if (!seen.complete) throw new BadAnswer(`the fetch saw ${seen.unique} of ${seen.total} records`)
  return { records: seen.unique, requests, elapsedMs }
}

interface V2Record { topic: string, partition: number, offset: number, key: string | null, value: string | null }

/** A Confluent v2 consumer instance, as a client drives it: create, subscribe, poll, commit, delete. */
class V2Consumer {
  readonly #origin: string
  readonly #base: string
  readonly #maxBytes: number

  private constructor (origin: string, base: string, maxBytes: number) {
    this.#origin = origin
    this.#base = base
    this.#maxBytes = maxBytes
  }

  static async create (origin: string, group: string, name: string, topic: string, params: Params): Promise<V2Consumer> {
    const created = await call(`${origin}/consumers/${encodeURIComponent(group)}`, {
      method: 'POST',
      headers: { 'content-type': V2_JSON, accept: V2_JSON },
      body: JSON.stringify({
        name,
        format: 'binary',
        'auto.offset.reset': 'earliest',
        'auto.commit.enable': 'false',
        // The instance's cap on a records request's wait; the request's timeout parameter can only shorten it.
        'consumer.request.timeout.ms': String(params.pollTimeoutMs)
      })
    })
    const { base_uri: baseUri } = await created.json() as { base_uri?: unknown }
    if (typeof baseUri !== 'string') throw new BadAnswer(`creating consumer ${name} answered no base_uri`)
    // Only the path: the server builds base_uri from its own idea of its address.
    const consumer = new V2Consumer(origin, new URL(baseUri, origin).pathname, params.maxBytes)
    await call(`${consumer.#url('/subscription')}`, {
      method: 'POST',
      headers: { 'content-type': V2_JSON },
      body: JSON.stringify({ topics: [topic] })
    })
    return consumer
  }

  #url (suffix: string): string {
    return `${this.#origin}${this.#base}${suffix}`
  }

  async poll (timeoutMs: number, signal?: AbortSignal): Promise<V2Record[]> {
    const response = await call(this.#url(`/records?timeout=${timeoutMs}&max_bytes=${this.#maxBytes}`), { headers: { accept: V2_BINARY }, signal })
    const records = await response.json() as unknown
    if (!Array.isArray(records)) throw new BadAnswer(`a poll answered ${JSON.stringify(records).slice(0, 200)}`)
    return records as V2Record[]
  }

  /** Commits the last record of each partition in `records`: Confluent commits the offset after the one named. */
  async commit (records: V2Record[]): Promise<void> {
    const last = new Map<string, V2Record>()
    for (const record of records) last.set(`${record.partition}:${record.topic}`, record)
    await call(this.#url('/offsets'), {
      method: 'POST',
      headers: { 'content-type': V2_JSON },
      body: JSON.stringify({ offsets: [...last.values()].map(r => ({ topic: r.topic, partition: r.partition, offset: r.offset })) })
    })
  }

  async delete (): Promise<void> {
    await call(this.#url(''), { method: 'DELETE', headers: { accept: V2_JSON }, expect: [204, 404] })
  }
}

/** Creates `params.consumers` instances of a group, subscribed to `topic`, runs `work` with them, then deletes them. */
async function withConsumers<T> (target: Target, params: Params, group: string, topic: string, work: (consumers: V2Consumer[]) => Promise<T>): Promise<T> {
  const consumers: V2Consumer[] = []
  try {
    for (let i = 0; i < params.consumers; i++) consumers.push(await V2Consumer.create(target.origin, group, `consumer-${i}`, topic, params))
    return await work(consumers)
  } finally {
    await Promise.allSettled(consumers.map(async c => await c.delete()))
  }
}

/** (a) `params.consumers` instances of one group drain the topic, each committing after every poll that returned records. */
async function drain (target: Target, params: Params, group: string, span: MeasuredWindow): Promise<DrainResult> {
  return await withConsumers(target, params, group, target.topic, async consumers => await drainWith(consumers, target, params, span))
}

async function drainWith (consumers: V2Consumer[], target: Target, params: Params, span: MeasuredWindow): Promise<DrainResult> {
  const seen = new SeenOffsets(target.endOffsets)
  const result: DrainResult = { records: 0, duplicates: 0, polls: 0, emptyPolls: 0, commits: 0, elapsedMs: 0, firstRecordMs: Number.NaN, perConsumer: consumers.map(() => 0) }
  // Ends the long polls still waiting once every record is in (or one loop failed).
  const stop = new AbortController()
  const run: { failure?: unknown } = {}
  span.start()
  const start = performance.now()
  await Promise.all(consumers.map(async (consumer, i) => {
    try {
      while (!seen.complete && run.failure === undefined) {
        const records = await consumer.poll(params.pollTimeoutMs, stop.signal)
        result.polls++
        if (records.length === 0) {
          result.emptyPolls++
          continue
        }
        if (Number.isNaN(result.firstRecordMs)) result.firstRecordMs = performance.now() - start
        for (const record of records) seen.add(record.partition, record.offset)
        result.perConsumer[i] = (result.perConsumer[i] ?? 0) + records.length
        await consumer.commit(records)
        result.commits++
        if (seen.complete && result.elapsedMs === 0) {
          result.elapsedMs = performance.now() - start
          span.end()
          stop.abort()
        }
      }
    } catch (err) {
      if (!stop.signal.aborted) {
        run.failure ??= err
        stop.abort()
      }
    }
  }))
  if (run.failure !== undefined) throw run.failure
  result.records = seen.unique
  result.duplicates = seen.duplicates
  return result
}

/**
 * (b) Sequential samples: produce one record carrying its send time, wait until a consumer of the
 * group polls it. The group is new and starts at the earliest offset, so a record produced before
 * its first assignment is still delivered; records of earlier rounds carry another group name and
 * are skipped.
 */
async function latency (target: Target, params: Params, group: string, span: MeasuredWindow): Promise<LatencyResult> {
  return await withConsumers(target, params, group, target.latencyTopic, async consumers => await latencyWith(consumers, target, params, group, span))
}

async function latencyWith (consumers: V2Consumer[], target: Target, params: Params, group: string, span: MeasuredWindow): Promise<LatencyResult> {
  const waiting = new Map<number, (receivedAt: number, sentAt: number) => void>()
  const stop = new AbortController()
  const run: { failure?: unknown } = {}
  const loops = consumers.map(async consumer => {
    try {
      while (!stop.signal.aborted) {
        for (const record of await consumer.poll(params.pollTimeoutMs, stop.signal)) {
          const receivedAt = performance.now()
          const sample = JSON.parse(Buffer.from(record.value ?? '', 'base64').toString('utf8')) as { group: string, i: number, sentAt: number }
          if (sample.group === group) waiting.get(sample.i)?.(receivedAt, sample.sentAt)
        }
      }
    } catch (err) {
      if (!stop.signal.aborted) run.failure ??= err
    }
  })
  const samples: number[] = []
  const produceUrl = `${target.origin}/v3/clusters/${target.clusterId}/topics/${target.latencyTopic}/records`
  try {
    for (let i = 0; i < LATENCY_WARMUP + params.samples; i++) {
      if (i === LATENCY_WARMUP) span.start()
      let timer: NodeJS.Timeout | undefined
      const received = new Promise<number>((resolve, reject) => {
        waiting.set(i, (receivedAt, sentAt) => resolve(receivedAt - sentAt))
        timer = setTimeout(() => reject(new BadAnswer(`sample ${i} was not polled within ${SAMPLE_TIMEOUT_MS} ms${run.failure === undefined ? '' : `: ${String(run.failure)}`}`)), SAMPLE_TIMEOUT_MS)
      })
      const sentAt = performance.now()
      const produced = call(produceUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ value: { type: 'JSON', data: { group, i, sentAt } } })
      })
      try {
        const [ms] = await Promise.all([received, produced])
        if (i >= LATENCY_WARMUP) samples.push(ms)
      } finally {
        clearTimeout(timer)
        waiting.delete(i)
      }
    }
    span.end()
  } finally {
    stop.abort()
  }
  await Promise.all(loops)
  if (run.failure !== undefined) throw run.failure
  return { samples }
}

async function worker (): Promise<void> {
  const port = parentPort
  if (port === null) return
  const send = (message: WorkerMessage): void => port.postMessage(message)
  port.on('message', (job: Job) => {
    const span: MeasuredWindow = { start: () => send({ type: 'measuring' }), end: () => send({ type: 'measured' }) }
    const run = async (): Promise<JobResult> => {
      switch (job.type) {
        case 'fetch': return await statelessFetch(job.target, job.params, span)
        case 'drain': return await drain(job.target, job.params, job.group, span)
        case 'latency': return await latency(job.target, job.params, job.group, span)
      }
    }
    run().then(
      result => send({ type: 'done', result }),
      (err: unknown) => send({ type: 'failed', message: err instanceof Error ? err.message : String(err), skipped: err instanceof BadAnswer && err.skipped }))
  })
}

// ---------------------------------------------------------------------------------------------
// The server and the report, in the main thread

/** Server-side cost of a phase: the server thread's event-loop utilisation, and the CPUs the whole process used. */
interface Cost { elu: number, cpus: number }

class Clients {
  readonly #worker = new Worker(new URL(import.meta.url))

  /** Runs a job; the cost is measured from the worker's `measuring` message to its `measured` one. */
  async run<T extends JobResult> (job: Job): Promise<{ result: T, cost: Cost }> {
    let elu = performance.eventLoopUtilization()
    let cpu = process.cpuUsage()
    let start = performance.now()
    let cost: Cost = { elu: Number.NaN, cpus: Number.NaN }
    const result = await new Promise<JobResult>((resolve, reject) => {
      const onMessage = (message: WorkerMessage): void => {
        if (message.type === 'measuring') {
          elu = performance.eventLoopUtilization()
          cpu = process.cpuUsage()
          start = performance.now()
          return
        }
        if (message.type === 'measured') {
          const used = process.cpuUsage(cpu)
          cost = { elu: performance.eventLoopUtilization(elu).utilization, cpus: (used.user + used.system) / 1000 / (performance.now() - start) }
          return
        }
        cleanup()
        if (message.type === 'done') resolve(message.result)
        else reject(Object.assign(new Error(message.message), { skipped: message.skipped === true }))
      }
      const onError = (err: Error): void => {
        cleanup()
        reject(err)
      }
      const cleanup = (): void => {
        this.#worker.off('message', onMessage)
        this.#worker.off('error', onError)
      }
      this.#worker.on('message', onMessage)
      this.#worker.on('error', onError)
      this.#worker.postMessage(job)
    })
    return { result: result as T, cost }
  }

  async close (): Promise<void> {
    await this.#worker.terminate()
  }
}

function parseParams (): Params {
  const { values } = parseArgs({
    options: {
      records: { type: 'string' },
      partitions: { type: 'string' },
      'record-size': { type: 'string' },
      consumers: { type: 'string' },
      'max-bytes': { type: 'string' },
      'poll-timeout': { type: 'string' },
      samples: { type: 'string' },
      rounds: { type: 'string' },
      dir: { type: 'string' },
      'log-level': { type: 'string' }
    }
  })
  const setting = (name: keyof typeof values, fallback: string): string => {
    const flag = values[name]
    if (typeof flag === 'string') return flag
    return process.env[`LOGWAY_BENCH_${name.toUpperCase().replace('-', '_')}`] ?? fallback
  }
  const integer = (name: keyof typeof values, fallback: string, min: number): number => {
    const text = setting(name, fallback)
    const n = Number(text)
    if (text.trim() === '' || !Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${JSON.stringify(text)}`)
    return n
  }
  return {
    records: integer('records', '300000', 1),
    partitions: integer('partitions', '2', 1),
    recordSize: integer('record-size', '100', 0),
    consumers: integer('consumers', '2', 1),
    maxBytes: integer('max-bytes', '1048576', 1),
    pollTimeoutMs: integer('poll-timeout', '1000', 0),
    samples: integer('samples', '500', 1),
    rounds: integer('rounds', '1', 1),
    parentDir: setting('dir', tmpdir()),
    logLevel: setting('log-level', 'silent')
  }
}

/** Appends `params.records` records round-robin over the partitions, through the log core, 1,000 per append. */
async function fill (log: LogStore, params: Params): Promise<number[]> {
  await log.createTopic(TOPIC, { partitions: params.partitions })
  const value = Buffer.alloc(params.recordSize, 'a')
  const CHUNK = 1_000
  const writes: Array<Promise<unknown>> = []
  for (let partition = 0; partition < params.partitions; partition++) {
    let left = Math.floor(params.records / params.partitions) + (partition < params.records % params.partitions ? 1 : 0)
    while (left > 0) {
      const n = Math.min(CHUNK, left)
      writes.push(log.append(TOPIC, partition, Array.from({ length: n }, () => ({ value }))))
      left -= n
      // A bounded number of appends in flight: they share lmdb's commits without holding every chunk in memory.
      if (writes.length >= 64) await Promise.all(writes.splice(0))
    }
  }
  await Promise.all(writes)
  return log.partitions(TOPIC).map(p => p.logEndOffset)
}

async function main (): Promise<void> {
  const params = parseParams()
  const fs = await describeFs(params.parentDir)
  console.log('Logway HTTP consume benchmark')
  console.log(`${machineSummary()} · ${nodeFlagsNote()}`)
  console.log(`fastify ${packageVersion('fastify')} · lmdb ${packageVersion('lmdb')} · clients: fetch (undici) in a worker thread · data dir under ${params.parentDir} (${fs}) · ` +
    `${fmt(params.records)} records of ${params.recordSize} B over ${params.partitions} partitions · ${params.consumers} v2 consumers · ` +
    `max_bytes ${fmt(params.maxBytes)} · poll timeout ${params.pollTimeoutMs} ms · ${params.samples} latency samples · ${params.rounds} round(s)`)
  console.log(`Logway: default config and durable LogStore, log level ${params.logLevel}; v2 consumers commit after every poll that returned records`)
  console.log(`load average ${loadAverage()} at start: other processes on this machine skew the figures`)
  if (fs === 'tmpfs') console.log('WARNING: tmpfs ignores fsync: commits and the produce in (b) are not durable. Pass --dir on a real disk.')
  console.log('')

  const dir = await mkdtemp(join(params.parentDir, 'logway-bench-consume-'))
  let failed = false
  // A bare temp path may contain dots, which lmdb-js would take for a file name.
  const app = buildServer(loadConfig({ env: {}, flags: { dataDir: join(dir, 'data'), logLevel: params.logLevel } }))
  const clients = new Clients()
  try {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const log = await app.getLog()
    const fillStart = performance.now()
    const endOffsets = await fill(log, params)
    console.log(`filled ${fmt(endOffsets.reduce((a, b) => a + b, 0))} records (${endOffsets.join(' + ')}) through the log core in ${fmt((performance.now() - fillStart) / 1000, 1)} s`)
    console.log('')
    await log.createTopic(LATENCY_TOPIC, { partitions: params.partitions })
    const target: Target = { origin: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`, clusterId: log.clusterId, topic: TOPIC, endOffsets, latencyTopic: LATENCY_TOPIC }

    const widths = [44, 10, 9, 11, 5, 5, 0]
    const row = (cells: string[]): string => cells.map((cell, i) => {
      const width = widths[i] ?? 0
      return i === 0 || i === cells.length - 1 ? cell.padEnd(width) : cell.padStart(width)
    }).join('  ').trimEnd()
    console.log(row(['scenario', 'records', 'requests', 'records/s', 'ELU', 'CPUs', 'notes']))

    const fetchRates: number[] = []
    const drainRates: number[] = []
    let v2Skipped: string | undefined
    let latencySamples: number[] = []
    for (let round = 1; round <= params.rounds; round++) {
      const suffix = params.rounds > 1 ? ` #${round}` : ''
      const fetchLabel = `(c) stateless fetch, ${params.partitions} readers${suffix}`
      try {
        const { result, cost } = await clients.run<FetchResult>({ type: 'fetch', target, params })
        const rate = result.records / result.elapsedMs * 1000
        fetchRates.push(rate)
        console.log(row([fetchLabel, fmt(result.records), fmt(result.requests), fmt(rate), fmt(cost.elu, 2), fmt(cost.cpus, 2),
          `${fmt(result.records / result.requests)} records per request`]))
      } catch (err) {
        failed = true
        console.log(row([fetchLabel, 'FAILED', '', '', '', '', (err as Error).message]))
      }

      const drainLabel = `(a) v2 group of ${params.consumers}, poll + commit${suffix}`
      if (v2Skipped !== undefined) continue
      try {
        const { result, cost } = await clients.run<DrainResult>({ type: 'drain', target, params, group: `bench-${round}` })
        const rate = result.records / result.elapsedMs * 1000
        drainRates.push(rate)
        console.log(row([drainLabel, fmt(result.records), fmt(result.polls + result.commits), fmt(rate), fmt(cost.elu, 2), fmt(cost.cpus, 2),
          [`${fmt(result.polls)} polls (${fmt(result.emptyPolls)} empty), ${fmt(result.commits)} commits, ${fmt(result.records / Math.max(1, result.polls - result.emptyPolls))} records per poll`,
            `per consumer ${result.perConsumer.map(n => fmt(n)).join(' / ')}`,
            `first record after ${fmt(result.firstRecordMs)} ms`,
            result.duplicates > 0 ? `${fmt(result.duplicates)} redelivered` : ''].filter(n => n !== '').join('; ')]))
      } catch (err) {
        if ((err as { skipped?: boolean }).skipped === true) {
          v2Skipped = `SKIPPED: ${(err as Error).message}`
          console.log(row([drainLabel, '', '', '', '', '', v2Skipped]))
          continue
        }
        failed = true
        console.log(row([drainLabel, 'FAILED', '', '', '', '', (err as Error).message]))
      }

      try {
        const { result, cost } = await clients.run<LatencyResult>({ type: 'latency', target, params, group: `bench-latency-${round}` })
        latencySamples = latencySamples.concat(result.samples)
        console.log(row([`(b) produce → v2 poll latency${suffix}`, fmt(result.samples.length), '', '', fmt(cost.elu, 2), fmt(cost.cpus, 2),
          `p50 ${fmt(quantile(result.samples, 0.5), 2)} ms, p99 ${fmt(quantile(result.samples, 0.99), 2)} ms, max ${fmt(Math.max(...result.samples), 2)} ms`]))
      } catch (err) {
        failed = true
        console.log(row([`(b) produce → v2 poll latency${suffix}`, 'FAILED', '', '', '', '', (err as Error).message]))
      }
    }

    console.log('')
    const fetchRate = median(fetchRates)
    const drainRate = median(drainRates)
    const rounds = params.rounds > 1 ? `median of ${params.rounds} rounds, ` : ''
    console.log(`${rounds}(c) stateless fetch: ${fmt(fetchRate)} records/s`)
    console.log(`${rounds}(a) v2 group of ${params.consumers}: ${drainRates.length === 0 ? `n/a${v2Skipped === undefined ? '' : ' (v2 consumer routes not registered)'}` : `${fmt(drainRate)} records/s`}` +
      (drainRates.length > 0 && fetchRates.length > 0 ? ` = ${fmt(drainRate / fetchRate, 2)} × (c)` : ''))
    if (latencySamples.length > 0) {
      console.log(`(b) produce → poll latency over ${latencySamples.length} samples: p50 ${fmt(quantile(latencySamples, 0.5), 2)} ms, p99 ${fmt(quantile(latencySamples, 0.99), 2)} ms`)
    }
    console.log(`load average ${loadAverage()} at end`)
  } finally {
    await clients.close()
    await app.close()
    await rm(dir, { recursive: true, force: true })
  }
  if (failed) {
    console.log('')
    console.log('!!! some runs failed: their figures are NOT valid !!!')
    process.exitCode = 1
  }
}

if (isMainThread) {
  try {
    await main()
  } catch (err) {
    console.error(err instanceof Error ? err.message : err)
    process.exitCode = 1
  }
} else {
  await worker()
}
