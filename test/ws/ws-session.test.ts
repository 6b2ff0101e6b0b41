import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import type { Config } from '../../src/config.js'
import type { LogStore } from '../../src/log/log-store.js'
import { LogStore as Store } from '../../src/log/log-store.js'
import type { ServerFrame } from '../../src/ws/ws-frames.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { listen, TestClient, WebSocket } from './ws-test-client.js'

interface Setup { app: FastifyInstance, log: LogStore, clock: ManualClock, base: string }

async function setup (t: Test, overrides: Partial<Config> = {}): Promise<Setup> {
  const clock = new ManualClock()
  const app = buildTestServer(t, overrides, { clock })
  const log = await app.getLog()
  const base = await listen(app)
  return { app, log, clock, base }
}

type Ack = Extract<ServerFrame, { type: 'ack' }>
type ErrorFrame = Extract<ServerFrame, { type: 'error' }>

t.test('pipelined produce frames are acked in frame order, with dense increasing offsets per partition', async t => {
  const s = await setup(t)
  await s.log.createTopic('orders', { partitions: 3 })
  const client = await TestClient.open(t, s.app, s.base)
  const frames = 300
  for (let i = 0; i < frames; i++) {
    // Mixed: whole frames to one partition, and frames whose records spread over partitions by key.
    const records = i % 3 === 0
      ? [{ key: { type: 'STRING', data: `k${i}` }, value: { type: 'JSON', data: { i } } }, { key: { type: 'STRING', data: `k${i + 1}` }, value: { type: 'JSON', data: { i, second: true } } }]
      : [{ value: { type: 'STRING', data: `v${i}` }, partition: i % 2 }]
    client.send({ type: 'produce', id: `p${i}`, topic: 'orders', records })
  }
  const acks: Ack[] = []
  for (let i = 0; i < frames; i++) acks.push(await client.next(f => f.type === 'ack') as Ack)
  t.same(acks.map(a => a.id), Array.from({ length: frames }, (_, i) => `p${i}`), 'acks come in frame order')

  const seen = new Map<number, number[]>()
  for (const ack of acks) {
    for (const r of ack.results) {
      const offsets = seen.get(r.partition) ?? []
      offsets.push(r.offset)
      seen.set(r.partition, offsets)
    }
  }
  for (const [partition, offsets] of seen) {
    t.same(offsets, Array.from({ length: offsets.length }, (_, i) => i), `partition ${partition}: offsets in ack order are 0, 1, 2, … (increasing, no gap)`)
    t.equal(s.log.partitionInfo('orders', partition).logEndOffset, offsets.length, `partition ${partition} holds exactly the acked records`)
  }
  // Each ack names where its records are: read them back.
  for (const ack of acks.slice(0, 30)) {
    const i = Number(ack.id.slice(1))
    for (const [j, r] of ack.results.entries()) {
      const [record] = s.log.read('orders', r.partition, { offset: r.offset, maxRecords: 1 }).records
      const expected = i % 3 === 0 ? JSON.stringify(j === 0 ? { i } : { i, second: true }) : `v${i}`
      t.equal(record?.value?.toString(), expected, `${ack.id}[${j}] is at ${r.partition}/${r.offset}`)
      t.equal(record?.timestamp, r.timestamp, 'the ack carries the stored timestamp')
    }
  }
})

t.test('produce stores keys, values, headers and timestamps as v3 REST does, keyed records by murmur2', async t => {
  const s = await setup(t)
  await s.log.createTopic('rider-updates', { partitions: 2 })
  const client = await TestClient.open(t, s.app, s.base)
  client.send({
    type: 'produce',
    id: 'one',
    topic: 'rider-updates',
    records: [
      { key: { type: 'STRING', data: 'rider-42' }, value: { type: 'JSON', data: { name: 'Ada' } }, headers: [{ name: 'h', value: Buffer.from('hv').toString('base64') }, { name: 'n', value: null }], timestamp: 1_700_000_000_000 },
      { key: { type: 'BINARY', data: Buffer.from([0, 1, 2]).toString('base64') }, value: null, timestamp: '2024-01-02T03:04:05.000Z' }
    ]
  })
  const ack = await client.nextOf('ack', 'one')
  t.equal(ack.topic, 'rider-updates')
  t.equal(ack.results[0]?.partition, 1, 'rider-42 lands on partition 1, as the README tour says for REST')
  t.equal(ack.results[0]?.timestamp, 1_700_000_000_000)
  t.equal(ack.results[1]?.timestamp, Date.parse('2024-01-02T03:04:05.000Z'))
  const clusterId = s.log.clusterId
  const res = await s.app.inject(`/v3/clusters/${clusterId}/topics/rider-updates/partitions/1/records?offset=${ack.results[0]?.offset ?? 0}&format=string&max_records=1`)
  t.match(res.json(), { records: [{ key: 'rider-42', value: '{"name":"Ada"}', headers: [{ name: 'h', value: Buffer.from('hv').toString('base64') }, { name: 'n', value: null }] }] })
  const second = ack.results[1] as { partition: number, offset: number }
  const [tombstone] = s.log.read('rider-updates', second.partition, { offset: second.offset, maxRecords: 1 }).records
  t.same(tombstone?.key, Buffer.from([0, 1, 2]))
  t.equal(tombstone?.value, null, 'a null value is a tombstone')
})

t.test('produce failures are error frames with the REST codes, and a frame with a bad record writes nothing', async t => {
  const s = await setup(t)
  await s.log.createTopic('small', { partitions: 2, configs: { 'max.message.bytes': 200 } })
  const client = await TestClient.open(t, s.app, s.base)
  const cases: Array<[string, unknown, number, string, RegExp]> = [
    ['no-topic', { topic: 'nope', records: [{ value: { type: 'STRING', data: 'x' } }] }, 40401, 'UNKNOWN_TOPIC_OR_PARTITION', /nope/],
    ['no-partition', { topic: 'small', partition: 7, records: [{ value: { type: 'STRING', data: 'x' } }] }, 40402, 'UNKNOWN_TOPIC_OR_PARTITION', /partition 7/],
    ['bad-base64', { topic: 'small', records: [{ value: { type: 'STRING', data: 'ok' } }, { value: { type: 'BINARY', data: '!!' } }] }, 40001, 'INVALID_REQUEST', /records\[1\]: value\.data is not a valid base64/],
    ['too-large', { topic: 'small', records: [{ value: { type: 'STRING', data: 'ok' } }, { value: { type: 'STRING', data: 'x'.repeat(500) } }] }, 42206, 'MESSAGE_TOO_LARGE', /records\[1\]/],
    ['bad-date', { topic: 'small', records: [{ value: { type: 'STRING', data: 'x' }, timestamp: 'yesterday' }] }, 40001, 'INVALID_REQUEST', /timestamp/]
  ]
  for (const [id, body] of cases) client.send({ type: 'produce', id, ...(body as object) })
  client.send({ type: 'produce', id: 'fine', topic: 'small', partition: 0, records: [{ value: { type: 'STRING', data: 'fine' } }] })
  for (const [id, , errorCode, code, message] of cases) {
    const frame = await client.next() as ErrorFrame
    t.match(frame, { type: 'error', id, error_code: errorCode, code, message }, id)
  }
  const ack = await client.nextOf('ack', 'fine')
  t.same(ack.results, [{ partition: 0, offset: 0, timestamp: s.clock.now() }], 'the good frame after the bad ones is acked; nothing of the bad ones was written')
  t.equal(s.log.partitionInfo('small', 1).logEndOffset, 0)
})

t.test('bad frames get an error frame naming the problem; the connection and other sockets go on', async t => {
  const s = await setup(t)
  await s.log.createTopic('orders')
  const bad = await TestClient.open(t, s.app, s.base)
  const good = await TestClient.open(t, s.app, s.base)
  const cases: Array<[string | Buffer, string | undefined, RegExp]> = [
    ['{"type":"produce", ', undefined, /not valid JSON/],
    ['[1,2]', undefined, /JSON object with a string "type"/],
    ['{"id":"x1"}', 'x1', /JSON object with a string "type"/],
    ['{"type":"teleport","id":"x2"}', 'x2', /Unknown frame type "teleport".*produce, subscribe, join/],
    ['{"type":"produce","id":"x3","topic":"orders","records":[],"extra":1}', 'x3', /unknown field "extra"/],
    ['{"type":"produce","id":"x4","topic":"orders"}', 'x4', /lacks the field "records"/],
    ['{"type":"produce","id":"x5","topic":"orders","records":[{"value":{"type":"STRING","data":5}}]}', 'x5', /records\.0\.value/],
    ['{"type":"subscribe","id":"x6","topic":"orders","from":"yesterday"}', 'x6', /Invalid subscribe frame: from/],
    ['{"type":"credit","id":"x7","messages":-1}', 'x7', /messages must be >= 0/],
    [Buffer.from('{"type":"ping"}'), undefined, /Binary frames are not accepted/]
  ]
  for (const [frame] of cases) {
    if (typeof frame === 'string') bad.send(frame)
    else bad.socket.send(frame, { binary: true })
  }
  good.send({ type: 'produce', id: 'g', topic: 'orders', records: [{ value: { type: 'STRING', data: 'unaffected' } }] })
  for (const [, id, message] of cases) {
    const frame = await bad.next() as ErrorFrame
    t.match(frame, { type: 'error', error_code: 40001, code: 'INVALID_REQUEST', message }, String(message))
    t.equal(frame.id, id, id === undefined ? 'no id when none could be read' : `carries the id ${id}`)
  }
  t.match(await good.nextOf('ack', 'g'), { results: [{ partition: 0, offset: 0 }] }, 'the other socket is unaffected')
  bad.send({ type: 'ping', id: 'still-there' })
  t.same(await bad.next(), { type: 'pong', id: 'still-there' }, 'the connection stays open')
})

t.test('more than 100 bad frames close the connection with 1008; others stay open', async t => {
  const s = await setup(t)
  const bad = await TestClient.open(t, s.app, s.base)
  const good = await TestClient.open(t, s.app, s.base)
  for (let i = 0; i < 101; i++) bad.send('nonsense')
  const { code, reason } = await bad.whenClosed()
  t.equal(code, 1008)
  t.match(reason, /bad frames/)
  t.equal(bad.received.filter(f => f.type === 'error').length, 101, 'each bad frame got its error frame first')
  await good.roundTrip()
  t.pass('another connection is unaffected')
})

t.test('a frame over wsMaxFrameBytes closes the connection with 1009', async t => {
  const s = await setup(t, { wsMaxFrameBytes: 1024 })
  const client = await TestClient.open(t, s.app, s.base)
  client.send({ type: 'ping', id: 'x'.repeat(2000) })
  t.equal((await client.whenClosed()).code, 1009)
  const other = await TestClient.open(t, s.app, s.base)
  await other.roundTrip()
})

t.test('the paths: /v3/clusters/{id}/ws and /ws upgrade; a plain GET gets 426; an unknown cluster 404', async t => {
  const s = await setup(t)
  const short = await TestClient.open(t, s.app, s.base, { path: '/ws' })
  await short.roundTrip()
  t.pass('/ws is a WebSocket session too')

  const plain = await s.app.inject(`/v3/clusters/${s.log.clusterId}/ws`)
  t.equal(plain.statusCode, 426)
  t.match(plain.json(), { error_code: 426, code: 'INVALID_REQUEST', message: /WebSocket client/ })
  t.equal(plain.headers.upgrade, 'websocket')

  const unknown = await s.app.inject('/v3/clusters/nope/ws')
  t.equal(unknown.statusCode, 404)
  const socket = new WebSocket(`${s.base}/v3/clusters/nope/ws`)
  const status = await new Promise<number>(resolve => {
    socket.on('unexpected-response', (_req, res) => resolve(res.statusCode))
    socket.on('error', () => {})
  })
  t.equal(status, 404, 'an upgrade to an unknown cluster is refused in HTTP')
})

t.test('ping frames are answered with pong, with or without an id', async t => {
  const s = await setup(t)
  const client = await TestClient.open(t, s.app, s.base)
  client.send({ type: 'ping' })
  t.same(await client.next(), { type: 'pong' })
  client.send({ type: 'ping', id: 'a' })
  t.same(await client.next(), { type: 'pong', id: 'a' })
})

t.test('closing the server acks the produce frames already read, then closes with 1001; the acked records are durable', async t => {
  const clock = new ManualClock()
  const dataDir = join(t.testdir(), 'data')
  const app = buildTestServer(t, { dataDir }, { clock })
  const log = await app.getLog()
  await log.createTopic('orders')
  const base = await listen(app)
  const client = await TestClient.open(t, app, base)
  const count = 50
  for (let i = 0; i < count; i++) client.send({ type: 'produce', id: `p${i}`, topic: 'orders', records: [{ value: { type: 'STRING', data: `v${i}` } }] })
  client.send({ type: 'ping', id: 'read' })
  await client.nextOf('pong', 'read')
  const closing = app.close()
  const { code } = await client.whenClosed()
  await closing
  t.equal(code, 1001, 'closed with 1001 (going away)')
  const acks = client.received.filter(f => f.type === 'ack')
  t.equal(acks.length, count, 'every produce frame read before the close was acked before it')
  const reopened = await Store.open({ dataDir, clock })
  t.teardown(async () => await reopened.close())
  t.equal(reopened.partitionInfo('orders', 0).logEndOffset, count, 'and every acked record is in the log')
})
