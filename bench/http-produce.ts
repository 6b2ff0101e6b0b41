// Durable produce throughput over HTTP against the HTTP ceiling of a bare Fastify app.
//
//   npm run bench:http -- [--duration 5] [--warmup 1] [--connections 256[,16,...]] [--record-size 100]
//                         [--batch-size 100] [--rounds 1] [--only noop,single,noop-stream,stream,...,noop-chunked,chunked]
//                         [--dir /path] [--log-level silent]
//
// Every flag also reads from LOGWAY_BENCH_<FLAG> (LOGWAY_BENCH_CONNECTIONS=…); flags win.
// Each scenario starts its own server on 127.0.0.1, port 0 (the Logway app on a fresh data dir
// with the default, durable LogStore settings, or the bare no-op app), runs autocannon against it
// and closes it. autocannon runs in a worker thread of this process, so the load generator has its
// own event loop and can use the other CPU instead of queueing behind the server's (bench/README.md).
// A request counts only when it is 2xx and its body reports every record as written.
import { Agent, request as httpRequest } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { performance } from 'node:perf_hooks'
import { parseArgs } from 'node:util'
import { isMainThread, parentPort, Worker } from 'node:worker_threads'
import autocannon from 'autocannon'
import fastify, { type FastifyInstance } from 'fastify'
import { loadConfig } from '../src/config.js'
import { buildServer } from '../src/server.js'
import { fmt, mainThreadCpuMs, median, runMain, withTempDataDir } from './bench-util.js'
import { describeFs, loadAverage, machineSummary, nodeFlagsNote, packageVersion } from './machine-facts.js'

interface Params {
  durationS: number
  warmupS: number
  connections: number[]
  recordSize: number
  batchSize: number
  rounds: number
  only: string[]
  parentDir: string
  logLevel: string
}

/** Where a workload's requests go on the Logway app. */
interface Target {
  clusterId: string
  topic: string
}

/** One kind of request body, sent both to Logway and, for the ceiling, to the no-op app. */
interface Workload {
  contentType: string
  /** The Logway route, given the cluster and topic. */
  path: (target: Target) => string
  body: (params: Params) => string
  recordsPerRequest: (params: Params) => number
  /** Whether a 2xx body from Logway reports every record of the request as written. Runs in the load thread. */
  verify: (body: string, params: Params) => boolean
  /** The probe's check of the first answer, parsed in full; `verify` where not given. */
  verifyParsed?: (body: string, params: Params) => boolean
  /** Sent with Transfer-Encoding: chunked (by this file's own load loop: autocannon sends a Content-Length). */
  chunked?: boolean
}

interface Scenario {
  id: string
  label: (params: Params) => string
  workload: Workload
  /** `noop`: the ceiling, the bare Fastify app fed the same body; `logway`: the real app. */
  server: 'noop' | 'logway'
}

/** `numerator` ÷ `denominator` on `metric`, medians over the rounds. */
interface Ratio {
  label: string
  numerator: string
  denominator: string
  metric: 'requestsPerSecond' | 'recordsPerSecond'
  /** Undefined: a figure to watch, not one the issue sets. */
  target?: number
}

interface Measurement {
  requestsPerSecond: number
  recordsPerSecond: number
  p50Ms: number
  p99Ms: number
  maxMs: number
  /** Event-loop utilisation of the server's thread (this process's main thread) during the measured window. */
  serverElu: number
  /** CPU time of the whole process (server, lmdb and load threads) per second of wall time. */
  processCpus: number
  /**
   * CPU time of the server's thread alone per verified record, in µs (NaN where /proc is missing):
   * unlike req/s it hardly moves when other processes compete for the CPUs.
   */
  serverCpuUsPerRecord: number
  /** Requests that were not a 2xx with a verified body, in warm-up or measured window, by cause. */
  failed: Failures
}

interface Failures {
  non2xx: number
  errors: number
  timeouts: number
  badBodies: number
  statusCodes: Record<string, number>
}

const TOPIC = 'bench'
const NOOP_PATH = '/noop'

const valueText = (params: Params): string => 'a'.repeat(params.recordSize)

/** A v3 produce record: a STRING value of record-size bytes, no key (one partition), as bench:log appends. */
const v3Record = (params: Params): string => JSON.stringify({ value: { type: 'STRING', data: valueText(params) } })

const v3Path = ({ clusterId, topic }: Target): string => `/v3/clusters/${clusterId}/topics/${topic}/records`

const WORKLOADS = {
  v3Single: {
    contentType: 'application/json',
    path: v3Path,
    body: v3Record,
    recordsPerRequest: () => 1,
    verify: body => parsesTo(body, report => isObject(report) && report.error_code === 200)
  },
  // The same record without a Content-Length: v3 produce reads it as it arrives (a Content-Length of
  // at most 64 KiB is read whole), so this measures the incremental reader.
  v3SingleChunked: {
    contentType: 'application/json',
    path: v3Path,
    body: v3Record,
    recordsPerRequest: () => 1,
    verify: body => parsesTo(body, report => isObject(report) && report.error_code === 200),
    chunked: true
  },
  // Confluent's streaming mode: concatenated JSON objects, here one per line; one report line per record.
  v3Stream: {
    contentType: 'application/json',
    path: v3Path,
    body: params => Array.from({ length: params.batchSize }, () => v3Record(params)).join('\n'),
    recordsPerRequest: params => params.batchSize,
    verify: (body, params) => {
      const lines = body.split('\n')
      if (lines.at(-1) === '') lines.pop()
      // Reports and per-record errors both start with error_code; only 200 is a written record.
      return lines.length === params.batchSize && lines.every(line => line.startsWith('{"error_code":200,'))
    }
  },
  // Confluent v3 records:batch: one JSON document of entries named by id; answered 207 with successes and failures.
  v3Batch: {
    contentType: 'application/json',
    path: target => `${v3Path(target)}:batch`,
    body: params => JSON.stringify({ entries: Array.from({ length: params.batchSize }, (_, i) => ({ id: `r${i}`, value: { type: 'STRING', data: valueText(params) } })) }),
    recordsPerRequest: params => params.batchSize,
    // Read as text: the 207 starts with successes, one `{"id":` per entry, and ends with an empty failures list.
    verify: (body, params) => body.startsWith('{"successes":[{"id":') && body.endsWith('],"failures":[]}') && countOf(body, '{"id":') === params.batchSize,
    verifyParsed: (body, params) => parsesTo(body, response => isObject(response) && Array.isArray(response.successes) && Array.isArray(response.failures) &&
      response.successes.length === params.batchSize && response.failures.length === 0 &&
      response.successes.every(entry => isObject(entry) && typeof entry.id === 'string' && typeof entry.offset === 'number'))
  },
  // Confluent v2 with the json embedded format: the value is a JSON string of record-size characters.
  v2Batch: {
    contentType: 'application/vnd.kafka.json.v2+json',
    path: ({ topic }) => `/topics/${topic}`,
    body: params => JSON.stringify({ records: Array.from({ length: params.batchSize }, () => ({ value: valueText(params) })) }),
    recordsPerRequest: params => params.batchSize,
    // Read as text: one error_code per record, every one of them null.
    verify: (body, params) => body.endsWith(']}') && countOf(body, '"error_code":') === params.batchSize && countOf(body, '"error_code":null,') === params.batchSize,
    verifyParsed: (body, params) => parsesTo(body, response => isObject(response) && Array.isArray(response.offsets) &&
      response.offsets.length === params.batchSize && response.offsets.every(o => isObject(o) && o.error_code === null && typeof o.offset === 'number'))
  }
} satisfies Record<string, Workload>

// Each Logway scenario has a no-op twin fed the same body: the ceiling its ratio is taken against.
// A new workload is one WORKLOADS entry, two SCENARIOS rows and one RATIOS row.
const SCENARIOS: Scenario[] = [
  { id: 'noop', label: () => '(a) no-op POST, 1-record body', workload: WORKLOADS.v3Single, server: 'noop' },
  { id: 'single', label: () => '(b) v3 produce, 1 record', workload: WORKLOADS.v3Single, server: 'logway' },
  { id: 'noop-stream', label: p => `(a') no-op POST, ${p.batchSize}-record v3 stream body`, workload: WORKLOADS.v3Stream, server: 'noop' },
  { id: 'stream', label: p => `(c) v3 streaming produce, ${p.batchSize} records`, workload: WORKLOADS.v3Stream, server: 'logway' },
  { id: 'noop-batch', label: p => `(a''') no-op POST, ${p.batchSize}-record v3 records:batch body`, workload: WORKLOADS.v3Batch, server: 'noop' },
  { id: 'batch', label: p => `(c'') v3 records:batch, ${p.batchSize} records`, workload: WORKLOADS.v3Batch, server: 'logway' },
  { id: 'noop-v2', label: p => `(a'') no-op POST, ${p.batchSize}-record v2 body`, workload: WORKLOADS.v2Batch, server: 'noop' },
  { id: 'v2', label: p => `(c') v2 produce, ${p.batchSize} records`, workload: WORKLOADS.v2Batch, server: 'logway' },
  { id: 'noop-chunked', label: () => '(d) no-op POST, 1-record body, chunked', workload: WORKLOADS.v3SingleChunked, server: 'noop' },
  { id: 'chunked', label: () => '(e) v3 produce, 1 record, chunked', workload: WORKLOADS.v3SingleChunked, server: 'logway' }
]

const RATIOS: Ratio[] = [
  { label: '(b)/(a) req/s, single-record produce', numerator: 'single', denominator: 'noop', metric: 'requestsPerSecond', target: 0.6 },
  { label: '(c)/(a\') records/s, v3 streaming produce', numerator: 'stream', denominator: 'noop-stream', metric: 'recordsPerSecond', target: 0.5 },
  { label: '(c\'\')/(a\'\'\') records/s, v3 records:batch', numerator: 'batch', denominator: 'noop-batch', metric: 'recordsPerSecond', target: 0.5 },
  { label: '(c\')/(a\'\') records/s, v2 produce', numerator: 'v2', denominator: 'noop-v2', metric: 'recordsPerSecond', target: 0.5 },
  { label: '(e)/(d) req/s, single-record produce, chunked body', numerator: 'chunked', denominator: 'noop-chunked', metric: 'requestsPerSecond' }
]

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}

/**
 * How often `needle` occurs in `text`. The load runs on the same two cores as
 * the server, so the answers of 100 records are checked by scanning them, not
 * by JSON.parse: parsing a 15 kB 207 per request took a fifth of the load
 * thread, CPU the no-op's one-line answer never costs. The probe before each
 * run parses one full answer (verifyParsed), and the log's end offset after
 * the run is checked against the records reported written.
 */
function countOf (text: string, needle: string): number {
  let count = 0
  for (let at = text.indexOf(needle); at !== -1; at = text.indexOf(needle, at + needle.length)) count++
  return count
}

function parsesTo (body: string, check: (value: unknown) => boolean): boolean {
  try {
    return check(JSON.parse(body))
  } catch {
    return false
  }
}

// ---------------------------------------------------------------------------------------------
// Servers

interface Subject {
  url: string
  /**
   * Sends one request of the scenario through inject and checks its answer: undefined when it is
   * right, a message starting with SKIPPED when the route is not registered, else what went wrong.
   */
  probe: () => Promise<string | undefined>
  /** Logway only: the records the log holds, checked after the run against those reported written. */
  logEndOffset?: () => number
  notes: string
  close: () => Promise<void>
}

/** What the no-op answers: how many JSON documents it parsed (lines of the body). */
const noopAnswer = (body: string): string => JSON.stringify({ received: body.split('\n').filter(line => line !== '').length })

/**
 * The ceiling: Fastify with no hooks, no logger and no schema, one POST route that parses the
 * body (each line with JSON.parse, which is also how a single JSON body is parsed) and answers
 * a small JSON.
 */
async function noopServer (scenario: Scenario, params: Params): Promise<Subject> {
  const app = fastify({ logger: false, bodyLimit: loadConfig({ env: {} }).bodyLimitBytes })
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'string' }, (_request, text, done) => {
    try {
      done(null, (text as string).split('\n').filter(line => line !== '').map(line => JSON.parse(line) as unknown))
    } catch (err) {
      done(err as Error, undefined)
    }
  })
  app.post(NOOP_PATH, async request => ({ received: (request.body as unknown[]).length }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const body = scenario.workload.body(params)
  return {
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}${NOOP_PATH}`,
    probe: async () => {
      const response = await app.inject({ method: 'POST', url: NOOP_PATH, headers: { 'content-type': scenario.workload.contentType }, payload: body })
      return response.body === noopAnswer(body) ? undefined : `no-op answered ${response.statusCode} ${response.body.slice(0, 300)}`
    },
    notes: '',
    close: () => app.close()
  }
}

/** The Logway app with its default config and durable LogStore, on a fresh data dir, with one 1-partition topic. */
async function logwayServer (scenario: Scenario, params: Params, dataDir: string): Promise<Subject> {
  const app = buildServer(loadConfig({ env: {}, flags: { dataDir, logLevel: params.logLevel } }))
  try {
    await app.listen({ host: '127.0.0.1', port: 0 })
    const log = await app.getLog()
    const target = { clusterId: log.clusterId, topic: TOPIC }
    const created = await app.inject({ method: 'POST', url: `/v3/clusters/${target.clusterId}/topics`, payload: { topic_name: TOPIC, partitions_count: 1 } })
    if (created.statusCode !== 201) throw new Error(`creating the topic answered ${created.statusCode} ${created.body}`)
    const path = scenario.workload.path(target)
    return {
      url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}${path}`,
      probe: () => probeLogway(app, scenario, params, path),
      logEndOffset: () => log.partitionInfo(TOPIC, 0).logEndOffset,
      notes: 'store ' + Object.entries(log.durabilityOptions()).map(([name, on]) => `${name}=${on ? 'on' : 'off'}`).join(' '),
      close: () => app.close()
    }
  } catch (err) {
    await app.close()
    throw err
  }
}

async function probeLogway (app: FastifyInstance, scenario: Scenario, params: Params, path: string): Promise<string | undefined> {
  const response = await app.inject({ method: 'POST', url: path, headers: { 'content-type': scenario.workload.contentType }, payload: scenario.workload.body(params) })
  if (response.statusCode === 404 && (response.json() as { error_code?: number }).error_code === 404) return `SKIPPED: no route POST ${path}`
  if (response.statusCode >= 200 && response.statusCode < 300 && (scenario.workload.verifyParsed ?? scenario.workload.verify)(response.body, params)) return undefined
  return `the first request answered ${response.statusCode} ${response.body.slice(0, 300)}`
}

// ---------------------------------------------------------------------------------------------
// The load generator, in a worker thread

interface LoadRequest {
  scenarioId: string
  params: Params
  url: string
  connections: number
  warmupS: number
  durationS: number
}

interface LoadResult {
  requests: number
  durationS: number
  verified: number
  latencies: number[]
  maxMs: number
  failed: Failures
}

/** What autocannon's callback gets when it runs outside the main thread (lib/run.js), as far as it is used here. */
interface RawResult {
  totalCompletedRequests: number
  /** Seconds. */
  duration: number
  errors: number
  timeouts: number
  mismatches: number
  non2xx: number
  statusCodeStats: Record<string, { count: number }>
}

type LoadMessage = { type: 'measuring' } | { type: 'done', result: LoadResult } | { type: 'failed', message: string }

async function loadWorker (): Promise<void> {
  const port = parentPort
  if (port === null) return
  port.on('message', (request: LoadRequest) => {
    runLoad(request, () => port.postMessage({ type: 'measuring' } satisfies LoadMessage)).then(
      result => port.postMessage({ type: 'done', result } satisfies LoadMessage),
      (err: unknown) => port.postMessage({ type: 'failed', message: err instanceof Error ? err.message : String(err) } satisfies LoadMessage))
  })
}

async function runLoad (request: LoadRequest, onMeasuring: () => void): Promise<LoadResult> {
  const scenario = SCENARIOS.find(s => s.id === request.scenarioId)
  if (scenario === undefined) throw new Error(`unknown scenario ${request.scenarioId}`)
  const { params } = request
  const body = scenario.workload.body(params)
  const expected = noopAnswer(body)
  const verify = (answer: string | Buffer | undefined): boolean => typeof answer === 'string' &&
    (scenario.server === 'noop' ? answer === expected : scenario.workload.verify(answer, params))
  const options = (durationS: number): autocannon.Options => ({
    url: request.url,
    method: 'POST',
    headers: { 'content-type': scenario.workload.contentType },
    body,
    connections: request.connections,
    duration: durationS,
    timeout: 30,
    verifyBody: verify
  })
  const run = async (durationS: number, latencies?: LatencySample): Promise<RawResult> => scenario.workload.chunked === true
    ? await chunkedLoad(request.url, scenario.workload.contentType, body, request.connections, durationS, verify, latencies)
    : await new Promise((resolve, reject) => {
      // Outside the main thread autocannon skips aggregating, so the callback gets its raw counters.
      const instance = autocannon(options(durationS), (err: unknown, result: unknown) => err ? reject(err) : resolve(result as RawResult))
      if (latencies !== undefined) instance.on('response', (_client, _status, _bytes, responseTime) => latencies.add(responseTime))
    })

  const failed: Failures = { non2xx: 0, errors: 0, timeouts: 0, badBodies: 0, statusCodes: {} }
  const count = (result: RawResult): void => {
    failed.non2xx += result.non2xx
    failed.errors += result.errors
    failed.timeouts += result.timeouts
    // verifyBody fails for every non-2xx body too: count those once, as non-2xx.
    failed.badBodies += Math.max(0, result.mismatches - result.non2xx)
    for (const [code, { count }] of Object.entries(result.statusCodeStats)) {
      if (!code.startsWith('2')) failed.statusCodes[code] = (failed.statusCodes[code] ?? 0) + count
    }
  }
  if (request.warmupS > 0) count(await run(request.warmupS))
  const latencies = new LatencySample(100_000)
  onMeasuring()
  const result = await run(request.durationS, latencies)
  count(result)
  return {
    requests: result.totalCompletedRequests,
    durationS: result.duration,
    // Every non-2xx body fails verifyBody too, so mismatches covers both.
    verified: Math.max(0, result.totalCompletedRequests - Math.max(result.mismatches, result.non2xx)),
    latencies: [0.5, 0.99].map(q => latencies.quantile(q)),
    maxMs: latencies.max,
    failed
  }
}

/**
 * autocannon's loop for a chunked body, which it cannot send: `connections`
 * keep-alive connections, each sending its next request once the last is
 * answered, for `durationS`; counted as autocannon counts.
 */
async function chunkedLoad (
  url: string, contentType: string, body: string, connections: number, durationS: number,
  verify: (answer: string) => boolean, latencies?: LatencySample
): Promise<RawResult> {
  const agent = new Agent({ keepAlive: true, maxSockets: connections })
  const result: RawResult = { totalCompletedRequests: 0, duration: durationS, errors: 0, timeouts: 0, mismatches: 0, non2xx: 0, statusCodeStats: {} }
  const one = async (): Promise<void> => await new Promise(resolve => {
    const sent = performance.now()
    const req = httpRequest(url, { method: 'POST', agent, headers: { 'content-type': contentType, 'transfer-encoding': 'chunked' } }, res => {
      let answer = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => { answer += chunk })
      res.on('end', () => {
        result.totalCompletedRequests++
        latencies?.add(performance.now() - sent)
        const status = res.statusCode ?? 0
        const stats = result.statusCodeStats[String(status)] ??= { count: 0 }
        stats.count++
        if (status < 200 || status >= 300) result.non2xx++
        if (!verify(answer)) result.mismatches++
        resolve()
      })
    })
    req.setTimeout(30_000, () => {
      result.timeouts++
      req.destroy()
    })
    req.on('error', () => {
      result.errors++
      resolve()
    })
    req.end(body)
  })
  const started = performance.now()
  const end = started + durationS * 1000
  await Promise.all(Array.from({ length: connections }, async () => {
    while (performance.now() < end) await one()
  }))
  result.duration = (performance.now() - started) / 1000
  agent.destroy()
  return result
}

/** A uniform reservoir sample (Algorithm R) of latencies: autocannon's own histogram has 1 ms resolution. */
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

/** The main thread's handle on the load worker: one run at a time. */
class LoadGenerator {
  #worker = new Worker(new URL(import.meta.url))

  async run (request: LoadRequest, onMeasuring: () => void): Promise<LoadResult> {
    return await new Promise((resolve, reject) => {
      const onMessage = (message: LoadMessage): void => {
        if (message.type === 'measuring') return onMeasuring()
        cleanup()
        if (message.type === 'done') resolve(message.result)
        else reject(new Error(message.message))
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
      this.#worker.postMessage(request)
    })
  }

  async close (): Promise<void> {
    await this.#worker.terminate()
  }
}

// ---------------------------------------------------------------------------------------------
// Measuring

type Outcome = { measurement: Measurement, notes: string } | { skipped: string }

async function runScenario (load: LoadGenerator, scenario: Scenario, connections: number, params: Params): Promise<Outcome> {
  return await withTempDataDir(params.parentDir, 'logway-bench-http-', async dataDir => {
    const subject = scenario.server === 'noop' ? await noopServer(scenario, params) : await logwayServer(scenario, params, dataDir)
    try {
      const problem = await subject.probe()
      if (problem?.startsWith('SKIPPED') === true) return { skipped: problem }
      if (problem !== undefined) throw new Error(problem)

      let elu = performance.eventLoopUtilization()
      let cpu = process.cpuUsage()
      let serverCpu = mainThreadCpuMs()
      let start = performance.now()
      const result = await load.run({ scenarioId: scenario.id, params, url: subject.url, connections, warmupS: params.warmupS, durationS: params.durationS }, () => {
        elu = performance.eventLoopUtilization()
        cpu = process.cpuUsage()
        serverCpu = mainThreadCpuMs()
        start = performance.now()
      })
      const serverElu = performance.eventLoopUtilization(elu).utilization
      const cpuUsed = process.cpuUsage(cpu)
      const serverCpuMs = mainThreadCpuMs() - serverCpu
      const processCpus = (cpuUsed.user + cpuUsed.system) / 1000 / (performance.now() - start)

      const recordsPerRequest = scenario.workload.recordsPerRequest(params)
      const notes = [subject.notes]
      const logEnd = subject.logEndOffset?.()
      if (logEnd !== undefined && logEnd < result.verified * recordsPerRequest) {
        result.failed.badBodies++
        notes.push(`LOG HOLDS ${logEnd} RECORDS, FEWER THAN REPORTED WRITTEN`)
      }
      return {
        measurement: {
          requestsPerSecond: result.requests / result.durationS,
          recordsPerSecond: result.verified * recordsPerRequest / result.durationS,
          p50Ms: result.latencies[0] ?? Number.NaN,
          p99Ms: result.latencies[1] ?? Number.NaN,
          maxMs: result.maxMs,
          serverElu,
          processCpus,
          serverCpuUsPerRecord: serverCpuMs * 1000 / (result.verified * recordsPerRequest),
          failed: result.failed
        },
        notes: notes.filter(n => n !== '').join('; ')
      }
    } finally {
      await subject.close()
    }
  })
}

const failureCount = (f: Failures): number => f.non2xx + f.errors + f.timeouts + f.badBodies

function describeFailures (f: Failures): string {
  const codes = Object.entries(f.statusCodes).map(([code, n]) => `${code}×${n}`).join(' ')
  return `FAILED REQUESTS: ${f.non2xx} non-2xx${codes === '' ? '' : ` (${codes})`}, ${f.errors} errors, ${f.timeouts} timeouts, ${f.badBodies} bad bodies`
}

// ---------------------------------------------------------------------------------------------
// Options, machine facts and the report

function parseParams (): Params {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string' },
      warmup: { type: 'string' },
      connections: { type: 'string' },
      'record-size': { type: 'string' },
      'batch-size': { type: 'string' },
      rounds: { type: 'string' },
      only: { type: 'string' },
      dir: { type: 'string' },
      'log-level': { type: 'string' }
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
  const connections = setting('connections', '256').split(',').map(part => {
    const n = Number(part)
    if (!Number.isInteger(n) || n < 1) throw new Error(`--connections must list integers ≥ 1, got ${JSON.stringify(part)}`)
    return n
  })
  const only = setting('only', SCENARIOS.map(s => s.id).join(',')).split(',').map(id => {
    if (!SCENARIOS.some(s => s.id === id)) throw new Error(`--only: unknown scenario ${JSON.stringify(id)} (known: ${SCENARIOS.map(s => s.id).join(', ')})`)
    return id
  })
  const durationS = number('duration', '5', 1, false)
  return {
    durationS,
    warmupS: number('warmup', String(Math.min(1, durationS / 5)), 0, false),
    connections,
    recordSize: number('record-size', '100', 0, true),
    batchSize: number('batch-size', '100', 1, true),
    rounds: number('rounds', '1', 1, true),
    only,
    parentDir: setting('dir', tmpdir()),
    logLevel: setting('log-level', 'silent')
  }
}

/** The median, or undefined where nothing was measured. */
const medianOrNone = (values: number[]): number | undefined => values.length === 0 ? undefined : median(values)

async function main (): Promise<void> {
  const params = parseParams()
  const fs = await describeFs(params.parentDir)

  console.log('Logway HTTP produce benchmark')
  console.log(`${machineSummary()} · ${nodeFlagsNote()}`)
  console.log(`fastify ${packageVersion('fastify')} · lmdb ${packageVersion('lmdb')} · autocannon ${packageVersion('autocannon')} in a worker thread · ` +
    `data dirs under ${params.parentDir} (${fs}) · record ${params.recordSize} B · batch ${params.batchSize} · ` +
    `connections ${params.connections.join(', ')} · ${params.durationS} s each after ${params.warmupS} s warm-up · ${params.rounds} round(s)`)
  console.log(`Logway: default config and durable LogStore, log level ${params.logLevel} (failures are counted from the responses), one topic with 1 partition; ` +
    'no-op: bare Fastify, no logger, JSON.parse per body line')
  console.log(`load average ${loadAverage()} at start: other processes on this machine skew the figures`)
  if (fs === 'tmpfs') console.log('WARNING: tmpfs ignores fsync: these are not durable figures. Pass --dir on a real disk.')
  console.log('')

  const widths = [48, 4, 9, 11, 7, 7, 7, 5, 5, 7, 0]
  const row = (cells: string[]): string => cells.map((cell, i) => {
    const width = widths[i] ?? 0
    return i === 0 || i === cells.length - 1 ? cell.padEnd(width) : cell.padStart(width)
  }).join('  ').trimEnd()
  console.log(row(['scenario', 'C', 'req/s', 'records/s', 'p50 ms', 'p99 ms', 'max ms', 'ELU', 'CPUs', 'µs/rec', 'notes']))

  // Rounds are the outer loop so that scenarios alternate (a b a' c … a b …): a drift in
  // machine load then hits every scenario alike instead of skewing one ratio. Each ratio's two
  // scenarios run back to back, in turn first and second (the order is reversed every other
  // round), and each round gives its own ratio: the median of those is the figure judged.
  const scenarios = SCENARIOS.filter(s => params.only.includes(s.id))
  const results = new Map<string, Measurement[]>()
  /** `id@connections` → round → measurement. */
  const byRound = new Map<string, Map<number, Measurement>>()
  const skipped = new Set<string>()
  let failedRuns = 0
  const load = new LoadGenerator()
  try {
    for (let round = 1; round <= params.rounds; round++) {
      for (const connections of params.connections) {
        for (const scenario of round % 2 === 0 ? [...scenarios].reverse() : scenarios) {
          if (skipped.has(scenario.id)) continue
          const label = params.rounds > 1 ? `${scenario.label(params)} #${round}` : scenario.label(params)
          try {
            const outcome = await runScenario(load, scenario, connections, params)
            if ('skipped' in outcome) {
              skipped.add(scenario.id)
              console.log(row([label, String(connections), '', '', '', '', '', '', '', '', outcome.skipped]))
              continue
            }
            const { measurement: m, notes } = outcome
            const key = `${scenario.id}@${connections}`
            results.set(key, [...(results.get(key) ?? []), m])
            byRound.set(key, (byRound.get(key) ?? new Map<number, Measurement>()).set(round, m))
            const failures = failureCount(m.failed)
            if (failures > 0) failedRuns++
            console.log(row([label, String(connections), fmt(m.requestsPerSecond), fmt(m.recordsPerSecond),
              fmt(m.p50Ms, 2), fmt(m.p99Ms, 2), fmt(m.maxMs, 1), fmt(m.serverElu, 2), fmt(m.processCpus, 2), fmt(m.serverCpuUsPerRecord, 2),
              [failures > 0 ? `!!! ${describeFailures(m.failed)} !!!` : '', notes].filter(n => n !== '').join('; ')]))
          } catch (err) {
            failedRuns++
            console.log(row([label, String(connections), 'FAILED', '', '', '', '', '', '', '', err instanceof Error ? err.message : String(err)]))
          }
        }
      }
    }
  } finally {
    await load.close()
  }

  console.log('')
  const metric = (id: string, connections: number, name: Ratio['metric'] | 'serverCpuUsPerRecord'): number | undefined =>
    medianOrNone((results.get(`${id}@${connections}`) ?? []).map(m => m[name]))
  if (params.rounds > 1) {
    for (const connections of params.connections) {
      for (const scenario of scenarios.filter(s => results.has(`${s.id}@${connections}`))) {
        console.log(`median of ${params.rounds} rounds, ${scenario.label(params)}, C=${connections}: ` +
          `${fmt(metric(scenario.id, connections, 'requestsPerSecond') ?? Number.NaN)} req/s, ` +
          `${fmt(metric(scenario.id, connections, 'recordsPerSecond') ?? Number.NaN)} records/s, ` +
          `${fmt(metric(scenario.id, connections, 'serverCpuUsPerRecord') ?? Number.NaN, 2)} µs of server-thread CPU per record`)
      }
    }
  }
  for (const connections of params.connections) {
    for (const ratio of RATIOS) {
      const numerator = metric(ratio.numerator, connections, ratio.metric)
      const denominator = metric(ratio.denominator, connections, ratio.metric)
      const ofMedians = numerator !== undefined && denominator !== undefined ? numerator / denominator : undefined
      // Each round's own ratio: the two runs were back to back, so a slow spell of the machine hits both.
      const perRound: number[] = []
      const denominators = byRound.get(`${ratio.denominator}@${connections}`)
      for (const [round, m] of byRound.get(`${ratio.numerator}@${connections}`) ?? []) {
        const d = denominators?.get(round)
        if (d !== undefined) perRound.push(m[ratio.metric] / d[ratio.metric])
      }
      const value = perRound.length > 0 ? median(perRound) : ofMedians
      // The same comparison by the server thread's CPU per record (ceiling ÷ Logway): close to the
      // ratio when the server thread is the bottleneck, and far steadier on a busy machine.
      const cpuNumerator = metric(ratio.denominator, connections, 'serverCpuUsPerRecord')
      const cpuDenominator = metric(ratio.numerator, connections, 'serverCpuUsPerRecord')
      const cpuRatio = cpuNumerator !== undefined && cpuDenominator !== undefined ? cpuNumerator / cpuDenominator : Number.NaN
      console.log(`${ratio.label}, C=${connections}: ` + (value === undefined
        ? 'n/a (not both measured)'
        : `${fmt(value, 2)} (${ratio.target === undefined ? 'no target' : `target ≥ ${fmt(ratio.target, 2)}, ${value >= ratio.target ? 'met' : 'NOT met'}`})` +
          (perRound.length > 1 ? `, median of the rounds' own ratios ${perRound.map(r => fmt(r, 2)).join(', ')}; ratio of the medians ${fmt(ofMedians ?? Number.NaN, 2)}` : '') +
          `; by server-thread CPU per record ${fmt(cpuRatio, 2)}`))
    }
  }
  console.log(`load average ${loadAverage()} at end`)
  if (failedRuns > 0) {
    console.log('')
    console.log(`!!! ${failedRuns} run(s) had failed requests or did not run: their figures are NOT valid !!!`)
    process.exitCode = 1
  }
}

if (isMainThread) {
  await runMain(main)
} else {
  await loadWorker()
}
