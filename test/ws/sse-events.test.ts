import { readFileSync } from 'node:fs'
import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { setImmediate } from 'node:timers/promises'
import { Ajv } from 'ajv'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import type { LogStore } from '../../src/log/log-store.js'
import type { RecordInput } from '../../src/log/types.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { listen, SseClient, type SseRecord } from './sse-client.js'

const schema = (name: string): object => JSON.parse(readFileSync(new URL(`../../schemas/${name}.json`, import.meta.url), 'utf8')) as object
const ajv = new Ajv()
for (const name of ['ErrorResponse', 'SseRecordEvent', 'SseErrorEvent']) ajv.addSchema(schema(name))
const isError = ajv.getSchema('ErrorResponse')!
const isRecordEvent = ajv.getSchema('SseRecordEvent')!
const isErrorEvent = ajv.getSchema('SseErrorEvent')!

interface Setup { app: FastifyInstance, log: LogStore, clock: ManualClock, base: string, path: string }

/** A listening app with topic `rides` of `partitions` partitions; `path` is its events path. */
async function setup (t: Test, partitions = 2, beforeListen: (app: FastifyInstance) => void = () => {}): Promise<Setup> {
  const clock = new ManualClock()
  const app = buildTestServer(t, {}, { clock })
  beforeListen(app)
  const log = await app.getLog()
  await log.createTopic('rides', { partitions })
  const base = await listen(app)
  return { app, log, clock, base, path: `/v3/clusters/${log.clusterId}/topics/rides/events` }
}

async function open (t: Test, s: Setup, query: string, headers: Record<string, string> = {}): Promise<SseClient> {
  const client = await SseClient.open(`${s.base}${s.path}?${query}`, headers)
  t.teardown(() => client.close())
  t.equal(client.status, 200, `the stream opens (${query})`)
  return client
}

const text = (values: string[], timestamp?: (i: number) => number): RecordInput[] =>
  values.map((v, i) => ({ key: Buffer.from(`k-${v}`), value: Buffer.from(v), ...(timestamp === undefined ? {} : { timestamp: timestamp(i) }) }))

const positions = (records: SseRecord[]): string[] => records.map(r => `${r.partition}/${r.offset}`)

t.test('records arrive in offset order, each with the stream position as its id; tombstones have their own type', async t => {
  const s = await setup(t)
  await s.log.append('rides', 0, [
    { key: Buffer.from('rider-1'), value: Buffer.from('north'), headers: [{ key: 'trace', value: Buffer.from('a1') }, { key: 'empty', value: null }], timestamp: 1_000 },
    { key: Buffer.from('rider-2'), value: Buffer.from('south'), timestamp: 2_000 },
    { key: Buffer.from('rider-1'), value: null, timestamp: 3_000 }
  ])
  await s.log.append('rides', 1, text(['east', 'west']))

  const client = await open(t, s, 'from=earliest&format=string')
  t.match(client.headers['content-type'], /^text\/event-stream/)
  t.equal(client.headers['cache-control'], 'no-cache')
  const records = await client.records(5)
  t.equal(client.retry, 3000, 'the stream starts with retry:')
  t.same(records.map(r => [r.event, r.id, r.partition, r.offset]), [
    ['record', '0:1,0', 0, 0],
    ['record', '0:2,0', 0, 1],
    ['tombstone', '0:3,0', 0, 2],
    ['record', '0:3,1', 1, 0],
    ['record', '0:3,2', 1, 1]
  ], 'partition by partition, in offset order; ids name the next offset of both partitions')
  t.same(records[0], {
    topic: 'rides',
    partition: 0,
    offset: 0,
    timestamp: 1_000,
    key: 'rider-1',
    value: 'north',
    headers: [{ name: 'trace', value: Buffer.from('a1').toString('base64') }, { name: 'empty', value: null }],
    event: 'record',
    id: '0:1,0'
  })
  t.match(records[2], { key: 'rider-1', value: null }, 'a tombstone has a null value')
  for (const r of records) {
    const { event: _event, id: _id, ...data } = r
    t.ok(isRecordEvent(data), `offset ${r.partition}/${r.offset} matches SseRecordEvent`)
  }

  await s.log.append('rides', 1, text(['up']))
  const [live] = await client.records(1)
  t.match(live, { partition: 1, offset: 2, value: 'up', id: '0:3,3' }, 'a record appended later arrives with the next id')
})

t.test('format: binary (the default) is base64, json is the parsed value', async t => {
  const s = await setup(t, 1)
  await s.log.append('rides', 0, [{ key: Buffer.from('"k"'), value: Buffer.from('{"speed":12}') }])
  const binary = await (await open(t, s, 'from=earliest')).records(1)
  t.match(binary[0], { key: Buffer.from('"k"').toString('base64'), value: Buffer.from('{"speed":12}').toString('base64') })
  const json = await (await open(t, s, 'from=earliest&format=json')).records(1)
  t.match(json[0], { key: 'k', value: { speed: 12 } })
})

t.test('format=json: a record that is not JSON ends the stream with a stream-error event after the ones before it', async t => {
  const s = await setup(t, 1)
  await s.log.append('rides', 0, [{ value: Buffer.from('1') }, { value: Buffer.from('not json') }, { value: Buffer.from('3') }])
  const client = await open(t, s, 'from=earliest&format=json')
  const [first] = await client.records(1)
  t.match(first, { offset: 0, value: 1, id: '0:1' })
  const [failure] = await client.events(1)
  t.equal(failure?.event, 'stream-error')
  t.equal(failure?.id, undefined, 'no id: Last-Event-ID still points at the record that failed')
  const data = JSON.parse(failure?.data ?? '{}') as Record<string, unknown>
  t.match(data, { code: 'INVALID_RECORD', message: /value at offset 1 of partition 0 is not JSON/ })
  t.ok(isErrorEvent(data), 'matches SseErrorEvent')
  t.equal(await client.next(), undefined, 'then the stream ends')
})

t.test('a topic deleted under a stream ends it with a stream-error event', async t => {
  const s = await setup(t, 1)
  await s.log.append('rides', 0, text(['a']))
  const client = await open(t, s, 'from=earliest&format=string')
  t.match(await client.records(1), [{ value: 'a', id: '0:1' }])
  await s.log.deleteTopic('rides')
  const [failure] = await client.events(1)
  t.equal(failure?.event, 'stream-error')
  t.match(JSON.parse(failure?.data ?? '{}'), { code: 'UNKNOWN_TOPIC_OR_PARTITION' })
  t.equal(await client.next(), undefined, 'then the stream ends')
})

t.test('start positions: earliest, latest (the default), an offset, a timestamp, some partitions', async t => {
  const s = await setup(t)
  await s.log.append('rides', 0, text(['a0', 'a1', 'a2', 'a3'], i => 10_000 + i * 1000))
  await s.log.append('rides', 1, text(['b0', 'b1'], i => 10_000 + i * 1000))

  const earliest = await open(t, s, 'from=earliest&format=string')
  const latest = await open(t, s, 'format=string')
  const offset = await open(t, s, 'from=1&format=string')
  const timestamp = await open(t, s, 'from_timestamp=11500&format=string')
  const some = await open(t, s, 'partitions=1&from=earliest&format=string')
  const late = await open(t, s, 'from_timestamp=99000&format=string')

  t.same(positions(await earliest.records(6)), ['0/0', '0/1', '0/2', '0/3', '1/0', '1/1'])
  t.same(positions(await offset.records(4)), ['0/1', '0/2', '0/3', '1/1'], 'the same offset in every partition')
  t.same(positions(await timestamp.records(2)), ['0/2', '0/3'], 'the first record at or after the time')
  t.same(positions(await some.records(2)), ['1/0', '1/1'])

  // Every stream is caught up: the next append is the next event of each, and the only one of `latest` and `late`.
  await s.log.append('rides', 1, text(['b2']))
  for (const [name, client, id] of [['earliest', earliest, '0:4,3'], ['latest', latest, '0:4,3'], ['offset', offset, '0:4,3'], ['timestamp', timestamp, '0:4,3'], ['partitions=1', some, '1:3'], ['a time after the last record', late, '0:4,3']] as const) {
    t.match(await client.records(1), [{ partition: 1, offset: 2, value: 'b2', id }], name)
  }
})

t.test('Last-Event-ID resumes exactly where the client stopped, in every partition, and overrides from', async t => {
  const s = await setup(t, 3)
  for (const p of [0, 1, 2]) await s.log.append('rides', p, text([0, 1, 2, 3].map(i => `p${p}-${i}`)))

  const first = await open(t, s, 'from=earliest&format=string')
  const seen = await first.records(6)
  t.same(positions(seen), ['0/0', '0/1', '0/2', '0/3', '1/0', '1/1'])
  const lastId = seen.at(-1)?.id ?? ''
  t.equal(lastId, '0:4,2,0')
  first.close()

  for (const p of [0, 1, 2]) await s.log.append('rides', p, text([`p${p}-4`]))
  const resumed = await open(t, s, 'from=latest&format=string', { 'last-event-id': lastId })
  const rest = await resumed.records(9)
  const all = [...seen, ...rest].map(r => String(r.value)).sort()
  const expected = [0, 1, 2].flatMap(p => [0, 1, 2, 3, 4].map(i => `p${p}-${i}`)).sort()
  t.same(all, expected, 'every record once: no duplicate, no gap')
  t.same(positions(rest), ['0/4', '1/2', '1/3', '1/4', '2/0', '2/1', '2/2', '2/3', '2/4'])
  t.equal(rest.at(-1)?.id, '0:5,5,5')
  await s.log.append('rides', 1, text(['p1-5']))
  t.match(await resumed.records(1), [{ partition: 1, offset: 5, id: '0:5,6,5' }], 'then the next append, nothing in between')

  // A partition the id does not name starts where `from` says.
  const partial = await open(t, s, 'from=earliest&format=string', { 'last-event-id': '2:3' })
  t.same(positions(await partial.records(7)), ['0/0', '0/1', '0/2', '0/3', '0/4', '1/0', '1/1'])
})

t.test('errors before the stream starts are JSON error responses', async t => {
  const s = await setup(t)
  await s.log.append('rides', 0, text(['a']))
  const cases: Array<[string, Record<string, string>, number, number, string]> = [
    [`/v3/clusters/${s.log.clusterId}/topics/nope/events`, {}, 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION'],
    [`${s.path}?partitions=0,7`, {}, 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['/v3/clusters/other/topics/rides/events', {}, 404, 404, 'INVALID_REQUEST'],
    [`${s.path}?from=5`, {}, 400, 40002, 'OFFSET_OUT_OF_RANGE'],
    [`${s.path}?from=soon`, {}, 400, 40001, 'INVALID_REQUEST'],
    [`${s.path}?from=earliest&from_timestamp=5`, {}, 400, 40001, 'INVALID_REQUEST'],
    [`${s.path}?partitions=0;1`, {}, 400, 40001, 'INVALID_REQUEST'],
    [`${s.path}?format=avro`, {}, 400, 40001, 'INVALID_REQUEST'],
    [`${s.path}?auto_offset_reset=earliest`, {}, 400, 40001, 'INVALID_REQUEST'],
    [`${s.path}?group=g&partitions=0`, {}, 400, 40001, 'INVALID_REQUEST'],
    [`${s.path}?group=g&from=earliest`, {}, 400, 40001, 'INVALID_REQUEST'],
    [s.path, { 'last-event-id': 'p0:12' }, 400, 40001, 'INVALID_REQUEST'],
    [s.path, { 'last-event-id': '0:9' }, 400, 40002, 'OFFSET_OUT_OF_RANGE'],
    [s.path, { accept: 'application/json' }, 406, 406, 'INVALID_REQUEST']
  ]
  for (const [url, headers, status, errorCode, code] of cases) {
    const res = await s.app.inject({ url, headers })
    t.equal(res.statusCode, status, `${url} ${JSON.stringify(headers)}: ${res.body}`)
    t.match(res.headers['content-type'], /^application\/json/)
    t.match(res.json(), { error_code: errorCode, code })
    t.ok(isError(res.json()), 'an ErrorResponse')
  }

  // Over a real socket too, as EventSource sees it.
  const client = await SseClient.open(`${s.base}/v3/clusters/${s.log.clusterId}/topics/nope/events`)
  t.equal(client.status, 404)
  t.match(await client.json(), { error_code: 40401, code: 'UNKNOWN_TOPIC_OR_PARTITION', message: "Topic 'nope' does not exist." })
})

t.test('a keep-alive comment goes out every 15 s of the injected clock', async t => {
  const s = await setup(t, 1)
  const client = await open(t, s, 'format=string')
  await s.clock.advance(14_999)
  await s.log.append('rides', 0, text(['first']))
  t.match(await client.next(), { kind: 'event', event: 'record' }, 'no comment before 15 s')
  await s.clock.advance(1)
  t.same(await client.next(), { kind: 'comment', text: 'keep-alive' }, 'at 15 s')
  await s.clock.advance(15_000)
  t.same(await client.next(), { kind: 'comment', text: 'keep-alive' }, 'and again at 30 s')
})

t.test('a client that does not read holds back the stream: bounded buffers, nothing lost', async t => {
  // The server side of the stream as the test sees it: the body the route sends, and the response it is piped into.
  const bodies: Readable[] = []
  const s = await setup(t, 1, app => app.addHook('onSend', async (_request, _reply, payload) => {
    if (payload instanceof Readable) bodies.push(payload)
    return payload
  }))
  const value = Buffer.alloc(16_384, 'v')
  const count = 2_000
  for (let i = 0; i < count; i += 200) {
    await s.log.append('rides', 0, Array.from({ length: 200 }, (_, j) => ({ key: Buffer.from(String(i + j)), value })))
  }
  const responses: ServerResponse[] = []
  s.app.server.on('request', (_req, res) => responses.push(res))
  const client = await open(t, s, 'from=earliest')
  const [res, body] = [responses[0], bodies[0]]
  if (res === undefined || body === undefined) throw new Error('no response seen')

  // Wait (a bounded number of turns) until the response cannot take more: the stream then waits for the client.
  const deadline = Date.now() + 10_000
  for (let turn = 0; turn < 100_000 && !res.writableNeedDrain && Date.now() < deadline; turn++) await setImmediate()
  t.ok(res.writableNeedDrain, 'the response is congested')
  for (let turn = 0; turn < 200; turn++) await setImmediate()
  const sent = res.socket?.bytesWritten ?? 0
  const queued = res.writableLength + body.readableLength + (body as Readable & { writableLength: number }).writableLength
  const total = count * value.length * 4 / 3
  t.ok(queued < 2 * 1024 * 1024, `the server queues little for the client (${queued} bytes)`)
  t.ok(sent < total / 3, `it stopped reading the log: ${sent} of about ${Math.round(total)} bytes went out`)

  const records = await client.records(count)
  t.same(records.map(r => r.offset), Array.from({ length: count }, (_, i) => i), 'then every record arrives, in order')
})

t.test('a client that goes away frees its stream; app.close() ends open streams and does not hang', async t => {
  const s = await setup(t, 1)
  const idle = s.clock.pending
  const gone = await open(t, s, 'format=string')
  t.ok(s.clock.pending > idle, 'an open stream holds timers (heartbeat, wait)')
  gone.close()
  for (let turn = 0; turn < 1000 && s.clock.pending > idle; turn++) await setImmediate()
  t.equal(s.clock.pending, idle, 'the server let go of the stream\'s timers')

  const reader = await open(t, s, 'from=earliest&format=string')
  const stalled = await open(t, s, 'from=earliest')
  await s.log.append('rides', 0, Array.from({ length: 300 }, () => ({ value: Buffer.alloc(65_536, 's') })))
  t.match(await reader.records(1), [{ offset: 0 }])
  await s.app.close()
  t.pass('app.close() resolved with a reading and a stalled stream open')
  for (const client of [reader, stalled]) {
    // What was already on its way still arrives; then the stream ends.
    for (let i = 0; i < 1_000 && !client.ended; i++) await client.next()
  }
  t.ok(reader.ended, 'the reader\'s stream ended')
  t.ok(stalled.ended, 'the stalled stream ended')
})
