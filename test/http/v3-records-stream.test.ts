import { once } from 'node:events'
import { request, type ClientRequest, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PassThrough } from 'node:stream'
import { setImmediate as nextTurn } from 'node:timers/promises'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { Config } from '../../src/config.js'
import { ProduceStream, type SettledRecords } from '../../src/http/produce-stream.js'
import { MAX_RECORDS_IN_FLIGHT, WHOLE_BODY_BYTES } from '../../src/http/v3-records-routes.js'
import type { LogStore } from '../../src/log/log-store.js'
import { BatchAppendResult, RecordBatch } from '../../src/log/record-batch.js'
import type { CreateTopicOptions } from '../../src/log/types.js'
import { buildTestServer } from '../helpers/build-test-server.js'

const TOPIC = 'events'

type Line = Record<string, unknown>

interface Listening {
  app: FastifyInstance
  port: number
  path: string
}

/** The app on a real socket, with topic `events`. */
async function listen (t: Test, overrides: Partial<Config> = {}, options: CreateTopicOptions = { partitions: 1 }): Promise<Listening & { log: LogStore }> {
  const app = buildTestServer(t, overrides)
  const log = await app.getLog()
  await log.createTopic(TOPIC, options)
  return { ...await listening(app, log.clusterId, TOPIC), log }
}

async function listening (app: FastifyInstance, clusterId: string, topic: string): Promise<Listening> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, port: (app.server.address() as AddressInfo).port, path: `/v3/clusters/${clusterId}/topics/${topic}/records` }
}

/** A chunked POST whose body the test writes piece by piece; its headers are sent at once. */
function post (s: Listening, headers: Record<string, string> = {}): { req: ClientRequest, response: Promise<IncomingMessage> } {
  const req = request({
    host: '127.0.0.1',
    port: s.port,
    method: 'POST',
    path: s.path,
    agent: false,
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked', ...headers }
  })
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve)
    req.once('error', reject)
  })
  req.flushHeaders()
  return { req, response }
}

/** Reads a response line by line, as the lines arrive. */
class Lines {
  readonly #lines: string[] = []
  #buffer = ''
  #ended = false
  #wake: (() => void) | undefined

  constructor (res: IncomingMessage) {
    res.setEncoding('utf8')
    res.on('data', (chunk: string) => {
      this.#buffer += chunk
      for (let i = this.#buffer.indexOf('\n'); i >= 0; i = this.#buffer.indexOf('\n')) {
        this.#lines.push(this.#buffer.slice(0, i))
        this.#buffer = this.#buffer.slice(i + 1)
      }
      this.#notify()
    })
    res.on('end', () => {
      this.#ended = true
      this.#notify()
    })
    // A response the test paused does not flow again by itself.
    res.resume()
  }

  /** The next line, parsed; null once the response has ended. */
  async next (): Promise<Line | null> {
    while (this.#lines.length === 0 && !this.#ended) await new Promise<void>(resolve => { this.#wake = resolve })
    const line = this.#lines.shift()
    return line === undefined ? null : JSON.parse(line) as Line
  }

  /** Every line until the response ends. */
  async rest (): Promise<Line[]> {
    const lines: Line[] = []
    for (let line = await this.next(); line !== null; line = await this.next()) lines.push(line)
    return lines
  }

  /** What is left after the last newline. */
  get unterminated (): string {
    return this.#buffer
  }

  #notify (): void {
    const wake = this.#wake
    this.#wake = undefined
    wake?.()
  }
}

const record = (i: number, extra: object = {}): string => JSON.stringify({ value: { type: 'STRING', data: `r${i}` }, ...extra }) + '\n'

/** Resolves once `read()` has not changed for `turns` turns of the event loop (or has reached `limit`). */
async function quiescent (read: () => number, limit: number, turns = 50): Promise<number> {
  let last = read()
  for (let still = 0; still < turns && last < limit;) {
    await nextTurn()
    const now = read()
    still = now === last ? still + 1 : 0
    last = now
  }
  return last
}

t.test('each report is written as soon as its record is durable: the client waits for it before sending the next', async t => {
  const s = await listen(t)
  const { req, response } = post(s)
  req.write(record(0))
  // The first byte of a second object is what makes the body a stream.
  const second = record(1)
  req.write(second.slice(0, 1))
  const res = await response
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const lines = new Lines(res)
  t.match(await lines.next(), { error_code: 200, topic_name: TOPIC, partition_id: 0, offset: 0 }, 'record 0 reported before record 1 is complete')
  t.equal(s.log.partitionInfo(TOPIC, 0).logEndOffset, 1, 'and it is durable and visible')
  req.write(second.slice(1))
  t.match(await lines.next(), { error_code: 200, offset: 1 })
  for (let i = 2; i < 6; i++) {
    req.write(record(i))
    t.match(await lines.next(), { error_code: 200, offset: i }, `record ${i} reported before record ${i + 1} is sent`)
    t.equal(s.log.partitionInfo(TOPIC, 0).logEndOffset, i + 1)
  }
  req.end()
  t.equal(await lines.next(), null, 'the response ends with the request')
  const fetched = await s.app.inject(`${s.path.replace(/\/records$/, '')}/partitions/0/records?format=string`)
  t.same((fetched.json() as { records: Array<{ value: string }> }).records.map(r => r.value), ['r0', 'r1', 'r2', 'r3', 'r4', 'r5'])
})

t.test('a body of known length (read whole) and the same body chunked (read as it arrives) get the same answer', async t => {
  const s = await listen(t)
  const send = async (topic: string, body: string, chunked: boolean): Promise<{ status: number, text: string }> => {
    const req = request({
      host: '127.0.0.1',
      port: s.port,
      method: 'POST',
      path: s.path.replace(`/topics/${TOPIC}/`, `/topics/${topic}/`),
      agent: false,
      headers: { 'content-type': 'application/json', ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': String(Buffer.byteLength(body)) }) }
    })
    req.end(body)
    const [res] = await once(req, 'response') as [IncomingMessage]
    res.setEncoding('utf8')
    let text = ''
    for await (const chunk of res) text += chunk as string
    return { status: res.statusCode ?? 0, text: text.replaceAll(topic, 'TOPIC') }
  }
  const bodies: Array<[string, string]> = [
    ['one record', record(0)],
    ['one record, its partition unknown', record(0, { partition_id: 5 })],
    ['three records, the middle one invalid', record(0) + record(1, { surplus: true }) + record(2)],
    ['two records, then malformed JSON', record(0) + record(1) + '{"value": '],
    ['one record, then garbage', record(0) + 'x'],
    ['whitespace only', ' \n '],
    ['not an object', '[1]'],
    ['records on one line, no newlines', record(0).trim() + record(1).trim() + record(2).trim()]
  ]
  for (const [i, [name, body]] of bodies.entries()) {
    t.ok(Buffer.byteLength(body) <= WHOLE_BODY_BYTES, `${name}: short enough to be read whole`)
    await s.log.createTopic(`whole-${i}`, { partitions: 1 })
    await s.log.createTopic(`chunked-${i}`, { partitions: 1 })
    const whole = await send(`whole-${i}`, body, false)
    const chunked = await send(`chunked-${i}`, body, true)
    t.same(whole, chunked, name)
    t.equal(s.log.partitionInfo(`whole-${i}`, 0).logEndOffset, s.log.partitionInfo(`chunked-${i}`, 0).logEndOffset, `${name}: as many records written`)
  }
})

t.test('20,000 records in one stream: 20,000 reports in order, offsets dense', async t => {
  const s = await listen(t, {}, { partitions: 3 })
  const count = 20_000
  const { req, response } = post(s)
  const collected = response.then(async res => {
    t.equal(res.statusCode, 200)
    return await new Lines(res).rest()
  })
  for (let i = 0; i < count; i += 250) {
    let chunk = ''
    for (let j = i; j < i + 250; j++) chunk += record(j, { partition_id: j % 3 })
    if (!req.write(chunk)) await once(req, 'drain')
  }
  req.end()
  const lines = await collected
  t.equal(lines.length, count, 'one report per record')
  const next = [0, 0, 0]
  let inOrder = true
  for (const [i, line] of lines.entries()) {
    const p = i % 3
    if (line.error_code !== 200 || line.partition_id !== p || line.offset !== next[p]) inOrder = false
    next[p] = (next[p] ?? 0) + 1
  }
  t.ok(inOrder, 'reports in request order, each partition\'s offsets dense from 0')
  t.same(s.log.partitions(TOPIC).map(p => p.logEndOffset), next, 'every record was written once')
})

t.test('malformed JSON mid-stream: an error where it is, then the end; records before it stay written', async t => {
  const s = await listen(t)
  for (const garbage of ['{"value": }', '[1]', 'hello', '{"value":{"type":"STRING","data":"x"}]']) {
    const before = s.log.partitionInfo(TOPIC, 0).logEndOffset
    const res = await s.app.inject({ method: 'POST', url: s.path, headers: { 'content-type': 'application/json' }, payload: record(0) + record(1) + garbage + record(3) })
    t.equal(res.statusCode, 200)
    const lines = res.body.trim().split('\n').map(line => JSON.parse(line) as Line)
    t.equal(lines.length, 3, `${garbage}: two reports and the error`)
    t.match(lines[0], { error_code: 200, offset: before })
    t.match(lines[1], { error_code: 200, offset: before + 1 })
    t.match(lines[2], { error_code: 40001, code: 'INVALID_REQUEST', message: /^record 2: Body is not valid JSON/ })
    t.equal(s.log.partitionInfo(TOPIC, 0).logEndOffset, before + 2, 'the records before it are written, none after')
  }

  const cut = await s.app.inject({ method: 'POST', url: s.path, headers: { 'content-type': 'application/json' }, payload: record(0) + '{"value":{"type":"STRING"' })
  t.match(cut.body.trim().split('\n').map(line => JSON.parse(line) as Line), [{ error_code: 200 }, { error_code: 40001, message: /^record 1: Body is not valid JSON: the stream ends inside/ }])
})

t.test('over a socket, the response ends at malformed JSON even while the client goes on sending', async t => {
  const s = await listen(t)
  const { req, response } = post(s)
  req.on('error', () => {})
  req.write(record(0) + record(1) + '{oops}\n')
  const lines = new Lines(await response)
  t.match(await lines.rest(), [{ offset: 0 }, { offset: 1 }, { error_code: 40001, message: /^record 2: / }])
  req.write(record(3))
  req.end()
  t.equal(s.log.partitionInfo(TOPIC, 0).logEndOffset, 2)
  const after = await s.app.inject({ method: 'POST', url: s.path, payload: { value: { type: 'STRING', data: 'next' } } })
  t.match(after.json(), { offset: 2 }, 'the server goes on')
})

t.test('each object is bounded by the body limit, the stream is not', async t => {
  const s = await listen(t, { bodyLimitBytes: 200 })
  const small = Array.from({ length: 100 }, (_, i) => record(i)).join('')
  t.ok(small.length > 2000, 'the stream is ten times the limit')
  const ok = await s.app.inject({ method: 'POST', url: s.path, headers: { 'content-type': 'application/json' }, payload: small })
  t.equal(ok.statusCode, 200)
  t.equal(ok.body.trim().split('\n').length, 100)
  t.equal(s.log.partitionInfo(TOPIC, 0).logEndOffset, 100)

  const big = record(0, { headers: [{ name: 'h', value: 'QUFB'.repeat(60) }] })
  t.ok(big.length > 200)
  const first = await s.app.inject({ method: 'POST', url: s.path, headers: { 'content-type': 'application/json' }, payload: big + record(1) })
  t.equal(first.statusCode, 413, 'a first object over the limit is a 413')
  t.match(first.json(), { error_code: 413, code: 'INVALID_REQUEST', message: /larger than 200 bytes/ })

  const later = await s.app.inject({ method: 'POST', url: s.path, headers: { 'content-type': 'application/json' }, payload: record(0) + big + record(2) })
  t.equal(later.statusCode, 200)
  t.match(later.body.trim().split('\n').map(line => JSON.parse(line) as Line), [{ error_code: 200 }, { error_code: 413, message: /^record 1: Body too large/ }])
  t.equal(s.log.partitionInfo(TOPIC, 0).logEndOffset, 101, 'only the record before it was written')
})

t.test('one object sent in pieces over a socket is a single produce', async t => {
  const s = await listen(t)
  const { req, response } = post(s)
  const body = record(0)
  req.write(body.slice(0, 10))
  req.write(body.slice(10) + '\n\n')
  req.end()
  const res = await response
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/json/)
  const text = (await res.toArray()).join('')
  t.match(JSON.parse(text), { error_code: 200, offset: 0 }, 'one JSON object, the delivery report')

  const missing = post(s)
  missing.req.end('{"partition_id": 3}')
  t.equal((await missing.response).statusCode, 404, 'its status is its outcome')
})

t.test('the server shutting down ends an open stream where it is', async t => {
  const s = await listen(t)
  const { req, response } = post(s)
  req.on('error', () => {})
  req.write(record(0) + record(1))
  const lines = new Lines(await response)
  t.match(await lines.next(), { offset: 0 })
  t.match(await lines.next(), { offset: 1 })
  await s.app.close()
  t.match(await lines.next(), { error_code: 50301, code: 'BROKER_NOT_AVAILABLE', message: /^record 2: The server is shutting down/ })
  t.equal(await lines.next(), null, 'and the response ends, so close() could finish')
})

t.test('a client that goes away mid-stream leaves the server working', async t => {
  const s = await listen(t)
  const { req, response } = post(s)
  req.on('error', () => {})
  req.write(record(0) + record(1))
  const lines = new Lines(await response)
  await lines.next()
  await lines.next()
  req.destroy()
  const after = await s.app.inject({ method: 'POST', url: s.path, payload: { value: { type: 'STRING', data: 'next' } } })
  t.match(after.json(), { error_code: 200, offset: 2 })
})

/** A log store whose appends the test settles, one at a time; it counts the records of appends in flight. */
function controlledStore (clusterId: string, topic: string, hold: boolean): {
  store: LogStore
  stats: { appended: number, pending: number, maxPending: number }
  /** Settles the oldest held append, if any. */
  release: () => void
  reached: (pending: number) => Promise<void>
} {
  const stats = { appended: 0, pending: 0, maxPending: 0 }
  const held: Array<() => void> = []
  let waiting: { pending: number, resolve: () => void } | undefined
  const store = {
    clusterId,
    isOpen: true,
    async close () {},
    hasTopic: (name: string) => name === topic,
    recordBatch: (name: string) => new RecordBatch({ name, partitionCount: 1, timestampType: 'CreateTime', maxMessageBytes: 1_000_000, keyRequired: false }, 0),
    appendBatch: async (batch: RecordBatch): Promise<BatchAppendResult> => {
      const { partitions, timestamps } = batch.take()
      const count = partitions.length
      const result = new BatchAppendResult(partitions.fill(0), timestamps)
      const offset = stats.appended
      stats.appended += count
      stats.pending += count
      stats.maxPending = Math.max(stats.maxPending, stats.pending)
      if (waiting !== undefined && stats.pending >= waiting.pending) waiting.resolve()
      result.succeed(0, offset)
      if (hold && count > 0) await new Promise<void>(resolve => held.push(resolve))
      stats.pending -= count
      return result
    }
  }
  return {
    store: store as unknown as LogStore,
    stats,
    release: () => { held.shift()?.() },
    reached: async pending => {
      if (stats.pending >= pending) return
      await new Promise<void>(resolve => { waiting = { pending, resolve } })
    }
  }
}

t.test(`at most ${MAX_RECORDS_IN_FLIGHT} records are in flight: reading the request pauses until reports drain`, async t => {
  const fake = controlledStore('held-cluster', TOPIC, true)
  const app = buildTestServer(t, {}, { store: fake.store })
  const s = await listening(app, 'held-cluster', TOPIC)
  const count = MAX_RECORDS_IN_FLIGHT * 3 + 17
  const { req, response } = post(s)
  let body = ''
  for (let i = 0; i < count; i++) body += record(i)
  req.end(body)

  await fake.reached(MAX_RECORDS_IN_FLIGHT)
  const collected = response.then(async res => await new Lines(res).rest())
  // Settle one append per turn of the event loop: the server has every chance to read ahead, and must not.
  while (fake.stats.appended < count || fake.stats.pending > 0) {
    fake.release()
    await nextTurn()
  }
  const lines = await collected
  t.equal(fake.stats.maxPending, MAX_RECORDS_IN_FLIGHT, 'the bound was reached and never passed')
  t.equal(lines.length, count)
  t.ok(lines.every((line, i) => line.error_code === 200 && line.offset === i), 'every record reported, in order')
})

t.test('a client that does not read its reports stops the server reading its records', async t => {
  // Long names make long reports, so the socket buffers between server and client fill sooner.
  const clusterId = 'c'.repeat(250)
  const topic = 't'.repeat(249)
  const fake = controlledStore(clusterId, topic, false)
  const app = buildTestServer(t, {}, { store: fake.store })
  const s = await listening(app, clusterId, topic)
  const count = 40_000
  const { req, response } = post(s)
  req.on('error', () => {})
  let body = ''
  for (let i = 0; i < count; i++) body += record(i)
  req.end(body)
  // Nothing reads the response until told to: an IncomingMessage does not flow by itself.
  const res = await response

  const produced = await quiescent(() => fake.stats.appended, count)
  t.ok(produced < count, `the server stopped producing (at ${produced} of ${count}) while the reports were not read`)
  const lines = await new Lines(res).rest()
  t.equal(lines.length, count, 'once read, every report comes')
  t.ok(lines.every((line, i) => line.offset === i), 'in order')
})

t.test('ProduceStream: the output is written only as fast as it is read', async t => {
  const input = new PassThrough()
  let produced = 0
  const maxInFlight = 10
  const stream = new ProduceStream<SettledRecords & { firstIndex: number }>({
    input,
    maxObjectBytes: 1024,
    maxInFlight,
    produce: async (values, firstIndex) => {
      produced += values.length
      return { firstIndex, failure: () => undefined }
    },
    report: (settled, from, to, out) => {
      for (let i = from; i < to; i++) out.text(JSON.stringify({ index: settled.firstIndex + i, padding: 'x'.repeat(1000) }) + '\n')
    },
    failure: (error, index) => ({ index, error: String(error) })
  })
  const count = 5000
  for (let i = 0; i < count; i++) input.write(record(i))
  input.end()
  const shape = await stream.shape
  if (shape.mode !== 'stream' || Buffer.isBuffer(shape.output)) throw new Error('expected a stream of lines')
  const stalled = await quiescent(() => produced, count)
  // Each line is about 1 KiB; the output's buffers hold about 32 of them.
  t.ok(stalled <= maxInFlight + 40, `unread output stops production (${stalled} produced)`)
  const text = (await shape.output.toArray()).join('')
  const lines = text.trim().split('\n').map(line => JSON.parse(line) as { index: number })
  t.equal(lines.length, count)
  t.ok(lines.every((line, i) => line.index === i), 'in order')
  await stream.finished
})

t.test('ProduceStream: one object is single, even when its record fails', async t => {
  for (const fail of [false, true]) {
    const input = new PassThrough()
    const settled: SettledRecords = { failure: () => undefined }
    const stream = new ProduceStream<SettledRecords>({
      input,
      maxObjectBytes: 1024,
      maxInFlight: 10,
      produce: async () => { if (fail) throw new Error('no'); return settled },
      report: (_settled, _from, _to, out) => { out.text(JSON.stringify({ value: 'yes' }) + '\n') },
      failure: error => ({ error: String(error) })
    })
    input.end('  {"a": 1}  \n')
    const shape = await stream.shape
    t.same(shape, fail ? { mode: 'single', settled: undefined, error: new Error('no') } : { mode: 'single', settled, error: undefined })
  }
})
