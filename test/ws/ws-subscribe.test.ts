import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import type { Config } from '../../src/config.js'
import type { LogStore } from '../../src/log/log-store.js'
import type { RecordView, ServerFrame } from '../../src/ws/ws-frames.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { listen, TestClient } from './ws-test-client.js'

interface Setup { app: FastifyInstance, log: LogStore, clock: ManualClock, base: string }

async function setup (t: Test, overrides: Partial<Config> = {}): Promise<Setup> {
  const clock = new ManualClock()
  const app = buildTestServer(t, overrides, { clock })
  const log = await app.getLog()
  const base = await listen(app)
  return { app, log, clock, base }
}

async function append (s: Setup, topic: string, partition: number, values: string[], timestamp?: number): Promise<void> {
  await s.log.append(topic, partition, values.map(v => ({ key: null, value: Buffer.from(v), ...(timestamp === undefined ? {} : { timestamp }) })))
}

/** Takes `count` records of operation `id`, skipping other frames; fails on a records frame that would overshoot. */
async function takeRecords (t: Test, client: TestClient, id: string, count: number): Promise<RecordView[]> {
  const got: RecordView[] = []
  while (got.length < count) {
    const frame = await client.nextOf('records', id)
    got.push(...frame.records)
  }
  t.equal(got.length, count, `exactly ${count} records`)
  return got
}

/** What the server says about the operation's partitions; every frame sent before it has been handled. */
async function probe (client: TestClient, id: string): Promise<Extract<ServerFrame, { type: 'position' }>['partitions']> {
  client.send({ type: 'probe', id })
  return (await client.nextOf('position', id)).partitions
}

const values = (records: RecordView[]): unknown[] => records.map(r => r.value)

t.test('a reader from earliest gets every record in offset order per partition, then caught_up', async t => {
  const s = await setup(t)
  await s.log.createTopic('orders', { partitions: 2 })
  await append(s, 'orders', 0, ['a0', 'a1', 'a2'])
  await append(s, 'orders', 1, ['b0', 'b1'])
  const client = await TestClient.open(t, s.app, s.base)
  client.send({ type: 'subscribe', id: 'r', topic: 'orders', from: 'earliest', format: 'string', credits: { messages: 100 } })
  t.same(await client.next(), { type: 'subscribed', id: 'r', topic: 'orders', partitions: [{ partition: 0, offset: 0 }, { partition: 1, offset: 0 }] })
  const records = await takeRecords(t, client, 'r', 5)
  t.same(values(records.filter(r => r.partition === 0)), ['a0', 'a1', 'a2'])
  t.same(values(records.filter(r => r.partition === 1)), ['b0', 'b1'])
  t.same(records.filter(r => r.partition === 0).map(r => r.offset), [0, 1, 2])
  t.match(records[0], { topic: 'orders', timestamp: s.clock.now(), key: null, headers: [] })
  const caughtUp = [await client.nextOf('caught_up', 'r'), await client.nextOf('caught_up', 'r')]
  t.same(caughtUp.map(c => [c.partition, c.offset]).sort(), [[0, 3], [1, 2]], 'caught_up once per partition at its log end offset')

  // Falling behind and catching up again announces caught_up again.
  await append(s, 'orders', 1, ['b2'])
  t.same(values(await takeRecords(t, client, 'r', 1)), ['b2'])
  t.match(await client.nextOf('caught_up', 'r'), { partition: 1, offset: 3 })
  t.same(await probe(client, 'r'), [
    { topic: 'orders', partition: 0, position: 3, log_end_offset: 3, caught_up: true },
    { topic: 'orders', partition: 1, position: 3, log_end_offset: 3, caught_up: true }
  ])
  t.equal(client.pending.length, 0, 'nothing else was sent')
})

t.test('a reader from latest starts at the log end: only records appended later arrive', async t => {
  const s = await setup(t)
  await s.log.createTopic('orders')
  await append(s, 'orders', 0, ['old0', 'old1'])
  const client = await TestClient.open(t, s.app, s.base)
  client.send({ type: 'subscribe', id: 'r', topic: 'orders', from: 'latest', format: 'string', credits: { messages: 10 } })
  t.same(await client.next(), { type: 'subscribed', id: 'r', topic: 'orders', partitions: [{ partition: 0, offset: 2 }] })
  t.same(await client.next(), { type: 'caught_up', id: 'r', topic: 'orders', partition: 0, offset: 2 }, 'already at the end')
  await append(s, 'orders', 0, ['new2', 'new3'])
  const records = await takeRecords(t, client, 'r', 2)
  t.same(records.map(r => [r.offset, r.value]), [[2, 'new2'], [3, 'new3']])
})

t.test('a reader from an offset starts there; an offset outside the log is refused', async t => {
  const s = await setup(t)
  await s.log.createTopic('orders', { partitions: 2 })
  await append(s, 'orders', 0, ['a0', 'a1', 'a2', 'a3'])
  await append(s, 'orders', 1, ['b0', 'b1', 'b2'])
  const client = await TestClient.open(t, s.app, s.base)
  client.send({ type: 'subscribe', id: 'r', topic: 'orders', partitions: [0], from: { offset: 2 }, format: 'string', credits: { messages: 10 } })
  t.same(await client.next(), { type: 'subscribed', id: 'r', topic: 'orders', partitions: [{ partition: 0, offset: 2 }] })
  t.same((await takeRecords(t, client, 'r', 2)).map(r => [r.partition, r.offset, r.value]), [[0, 2, 'a2'], [0, 3, 'a3']], 'only the partition asked for')

  client.send({ type: 'subscribe', id: 'far', topic: 'orders', from: { offset: 4 }, credits: { messages: 10 } })
  t.match(await client.nextOf('error', 'far'), { error_code: 40002, code: 'OFFSET_OUT_OF_RANGE', message: /orders-1/ }, 'partition 1 ends at 3')
  client.send({ type: 'credit', id: 'far', messages: 1 })
  t.match(await client.nextOf('error', 'far'), { code: 'INVALID_REQUEST', message: /No subscription or membership/ }, 'nothing was subscribed')
  client.send({ type: 'subscribe', id: 'x', topic: 'orders', partitions: [5], from: 'earliest' })
  t.match(await client.nextOf('error', 'x'), { error_code: 40402, code: 'UNKNOWN_TOPIC_OR_PARTITION' })
  client.send({ type: 'subscribe', id: 'y', topic: 'nope', from: 'earliest' })
  t.match(await client.nextOf('error', 'y'), { error_code: 40401, code: 'UNKNOWN_TOPIC_OR_PARTITION' })
})

t.test('a reader from a timestamp starts at the first record at or after it, else at the log end', async t => {
  const s = await setup(t)
  await s.log.createTopic('orders')
  await append(s, 'orders', 0, ['t1000'], 1000)
  await append(s, 'orders', 0, ['t2000'], 2000)
  await append(s, 'orders', 0, ['t3000'], 3000)
  const client = await TestClient.open(t, s.app, s.base)
  client.send({ type: 'subscribe', id: 'r', topic: 'orders', from: { timestamp: 1500 }, format: 'string', credits: { messages: 10 } })
  t.same(await client.next(), { type: 'subscribed', id: 'r', topic: 'orders', partitions: [{ partition: 0, offset: 1 }] })
  t.same((await takeRecords(t, client, 'r', 2)).map(r => [r.timestamp, r.value]), [[2000, 't2000'], [3000, 't3000']])
  client.send({ type: 'subscribe', id: 'late', topic: 'orders', from: { timestamp: 9999 }, credits: { messages: 10 } })
  t.match(await client.nextOf('subscribed', 'late'), { partitions: [{ partition: 0, offset: 3 }] })
})

t.test('message credits: nothing without credits, exactly what is granted, more after each grant', async t => {
  const s = await setup(t)
  await s.log.createTopic('orders')
  await append(s, 'orders', 0, Array.from({ length: 20 }, (_, i) => `v${i}`))
  const client = await TestClient.open(t, s.app, s.base)
  client.send({ type: 'subscribe', id: 'r', topic: 'orders', from: 'earliest', format: 'string' })
  await client.nextOf('subscribed', 'r')
  t.match(await probe(client, 'r'), [{ position: 0, caught_up: false }], 'no credits: nothing delivered')
  t.notOk(client.received.some(f => f.type === 'records'))

  client.send({ type: 'credit', id: 'r', messages: 3 })
  t.same(values(await takeRecords(t, client, 'r', 3)), ['v0', 'v1', 'v2'])
  t.match(await probe(client, 'r'), [{ position: 3, log_end_offset: 20, caught_up: false }], 'stops at exactly 3')
  t.equal(client.pending.length, 0, 'and sends nothing more')

  client.send({ type: 'credit', id: 'r', messages: 5 })
  t.same(values(await takeRecords(t, client, 'r', 5)), ['v3', 'v4', 'v5', 'v6', 'v7'])
  t.match(await probe(client, 'r'), [{ position: 8 }])

  // Credits granted at subscribe count too, and credits left over serve later appends.
  client.send({ type: 'subscribe', id: 'live', topic: 'orders', from: 'latest', format: 'string', credits: { messages: 2 } })
  await client.nextOf('subscribed', 'live')
  await append(s, 'orders', 0, ['n20', 'n21', 'n22'])
  t.same(values(await takeRecords(t, client, 'live', 2)), ['n20', 'n21'])
  t.match(await probe(client, 'live'), [{ position: 22, log_end_offset: 23, caught_up: false }])
})

t.test('byte credits count key, value and header bytes; a record waits until its bytes are granted', async t => {
  const s = await setup(t)
  await s.log.createTopic('orders')
  // Each record: 10 value bytes; the last one also a 2-byte key and a header "h" = 3 bytes (6 bytes in all more).
  await s.log.append('orders', 0, [
    ...Array.from({ length: 4 }, (_, i) => ({ value: Buffer.from(`value-000${i}`) })),
    { key: Buffer.from('kk'), value: Buffer.from('value-0004'), headers: [{ key: 'h', value: Buffer.from('abc') }] }
  ])
  const client = await TestClient.open(t, s.app, s.base)
  client.send({ type: 'subscribe', id: 'r', topic: 'orders', from: 'earliest', format: 'string', credits: { bytes: 25 } })
  t.same(values(await takeRecords(t, client, 'r', 2)), ['value-0000', 'value-0001'], '25 bytes: two records of 10')
  t.match(await probe(client, 'r'), [{ position: 2 }])
  client.send({ type: 'credit', id: 'r', bytes: 10 })
  t.same(values(await takeRecords(t, client, 'r', 1)), ['value-0002'], '15 bytes left: one more')
  t.match(await probe(client, 'r'), [{ position: 3 }], '5 bytes left: the next record of 10 waits')
  client.send({ type: 'credit', id: 'r', bytes: 14 })
  t.same(values(await takeRecords(t, client, 'r', 1)), ['value-0003'])
  t.match(await probe(client, 'r'), [{ position: 4 }], '9 bytes left: the record of 16 bytes (key 2, value 10, header 1 + 3) waits')
  client.send({ type: 'credit', id: 'r', bytes: 7 })
  const [last] = await takeRecords(t, client, 'r', 1)
  t.match(last, { key: 'kk', value: 'value-0004', headers: [{ name: 'h', value: Buffer.from('abc').toString('base64') }] })

  // Both kinds granted: whichever runs out first stops delivery.
  await append(s, 'orders', 0, ['aaaaaaaaaa', 'bbbbbbbbbb', 'cccccccccc'])
  t.match(await probe(client, 'r'), [{ position: 5, log_end_offset: 8 }], 'every byte granted is used: nothing more')
  client.send({ type: 'credit', id: 'r', messages: 5, bytes: 10 })
  t.same(values(await takeRecords(t, client, 'r', 1)), ['aaaaaaaaaa'], '10 bytes: one record, although 5 messages are granted')
  t.match(await probe(client, 'r'), [{ position: 6 }])
  client.send({ type: 'credit', id: 'r', bytes: 1000 })
  t.same(values(await takeRecords(t, client, 'r', 2)), ['bbbbbbbbbb', 'cccccccccc'])
})

t.test('format json renders JSON values and ends the subscription with INVALID_RECORD at a value that is not JSON', async t => {
  const s = await setup(t)
  await s.log.createTopic('orders')
  await append(s, 'orders', 0, ['{"a":1}', '[2]', 'not json', '{"b":3}'])
  const client = await TestClient.open(t, s.app, s.base)
  client.send({ type: 'subscribe', id: 'r', topic: 'orders', from: 'earliest', format: 'json', credits: { messages: 10 } })
  await client.nextOf('subscribed', 'r')
  t.same(values(await takeRecords(t, client, 'r', 2)), [{ a: 1 }, [2]], 'the records before the bad one arrive')
  t.match(await client.nextOf('error', 'r'), { error_code: 42206, code: 'INVALID_RECORD', message: /offset 2/ })
  client.send({ type: 'probe', id: 'r' })
  t.match(await client.nextOf('error', 'r'), { code: 'INVALID_REQUEST' }, 'the subscription has ended')

  client.send({ type: 'subscribe', id: 'b', topic: 'orders', from: 'earliest', format: 'binary', credits: { messages: 10 } })
  await client.nextOf('subscribed', 'b')
  t.same(values(await takeRecords(t, client, 'b', 4)).map(v => Buffer.from(v as string, 'base64').toString()), ['{"a":1}', '[2]', 'not json', '{"b":3}'], 'binary is the default rendering and takes anything')
})

t.test('seek moves a partition; unsubscribe ends the subscription; ids are unique per connection', async t => {
  const s = await setup(t)
  await s.log.createTopic('orders')
  await append(s, 'orders', 0, ['v0', 'v1', 'v2', 'v3'])
  const client = await TestClient.open(t, s.app, s.base)
  client.send({ type: 'subscribe', id: 'r', topic: 'orders', from: 'latest', format: 'string', credits: { messages: 10 } })
  await client.nextOf('subscribed', 'r')
  client.send({ type: 'subscribe', id: 'r', topic: 'orders', from: 'latest' })
  t.match(await client.nextOf('error', 'r'), { code: 'INVALID_REQUEST', message: /already names/ })

  client.send({ type: 'seek', id: 'r', topic: 'orders', partition: 0, offset: 1 })
  t.same(await client.nextOf('seeked', 'r'), { type: 'seeked', id: 'r', topic: 'orders', partition: 0, offset: 1 })
  t.same(values(await takeRecords(t, client, 'r', 3)), ['v1', 'v2', 'v3'])
  client.send({ type: 'seek', id: 'r', topic: 'orders', partition: 0, offset: 9 })
  t.match(await client.nextOf('error', 'r'), { code: 'OFFSET_OUT_OF_RANGE', error_code: 40002 })
  client.send({ type: 'seek', id: 'r', topic: 'orders', partition: 3, offset: 0 })
  t.match(await client.nextOf('error', 'r'), { code: 'CONSUMER_ILLEGAL_STATE', message: /orders-3 is not delivered/ })

  client.send({ type: 'unsubscribe', id: 'r' })
  t.same(await client.nextOf('unsubscribed', 'r'), { type: 'unsubscribed', id: 'r' })
  await append(s, 'orders', 0, ['after'])
  await client.roundTrip()
  t.notOk(client.received.some(f => f.type === 'records' && f.records.some(r => r.value === 'after')), 'nothing after unsubscribe')
  client.send({ type: 'leave', id: 'r' })
  t.match(await client.nextOf('error', 'r'), { code: 'INVALID_REQUEST' })
})
