import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import type { Config } from '../../src/config.js'
import type { LogStore } from '../../src/log/log-store.js'
import type { RecordView } from '../../src/ws/ws-frames.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { V2Consumer } from '../e2e/v2-consumer-client.js'
import { listen, TestClient, until } from './ws-test-client.js'

interface Setup { app: FastifyInstance, log: LogStore, clock: ManualClock, base: string }

async function setup (t: Test, partitions: number, overrides: Partial<Config> = {}): Promise<Setup> {
  const clock = new ManualClock()
  const app = buildTestServer(t, overrides, { clock })
  const log = await app.getLog()
  await log.createTopic('orders', { partitions })
  const base = await listen(app)
  return { app, log, clock, base }
}

async function appendEach (s: Setup, partitions: number, tag: string): Promise<void> {
  for (let p = 0; p < partitions; p++) await s.log.append('orders', p, [{ value: Buffer.from(`${tag}-p${p}`) }])
}

async function takeRecords (client: TestClient, id: string, count: number): Promise<RecordView[]> {
  const got: RecordView[] = []
  while (got.length < count) got.push(...(await client.nextOf('records', id)).records)
  if (got.length !== count) throw new Error(`expected ${count} records, got ${got.length}`)
  return got
}

const names = (partitions: Array<{ topic: string, partition: number }>): string[] => partitions.map(p => `${p.topic}-${p.partition}`).sort()
const values = (records: RecordView[]): string[] => records.map(r => String(r.value)).sort()
const v2Values = (records: Array<{ value: unknown }>): string[] => records.map(r => Buffer.from(String(r.value), 'base64').toString()).sort()

function join (client: TestClient, id: string, group: string, extra: Record<string, unknown> = {}): void {
  client.send({ type: 'join', id, group, topics: ['orders'], auto_offset_reset: 'earliest', format: 'string', credits: { messages: 1000 }, ...extra })
}

t.test('a WebSocket member and a REST v2 member share a group: they split the partitions and rebalance when one leaves', async t => {
  const s = await setup(t, 4)
  await appendEach(s, 4, 'first')
  const ws = await TestClient.open(t, s.app, s.base)
  join(ws, 'm', 'shared')
  const alone = await ws.nextOf('assigned', 'm')
  t.equal(names(alone.partitions).length, 4, 'alone, the WebSocket member owns every partition')
  t.ok(alone.partitions.every(p => p.offset === 0), 'from the start (auto_offset_reset earliest, nothing committed)')
  t.same(values(await takeRecords(ws, 'm', 4)), ['first-p0', 'first-p1', 'first-p2', 'first-p3'])
  ws.send({ type: 'commit', id: 'm' })
  t.same((await ws.nextOf('committed', 'm')).offsets.map(o => o.offset), [1, 1, 1, 1], 'commits what was delivered')

  const http = await V2Consumer.create(s.app, 'shared', { format: 'binary', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'true' })
  t.equal((await http.subscribe(['orders'])).statusCode, 204)
  // The REST member's first read waits for the rebalance, which waits for the WebSocket member to give its partitions up.
  const httpRead = http.records({ timeout: 1_000 })
  const revoked = await ws.nextOf('revoked', 'm')
  t.same(names(revoked.partitions), names(alone.partitions), 'the WebSocket member is told to give up everything first')
  const split = await ws.nextOf('assigned', 'm')
  t.equal(split.generation_id, alone.generation_id + 1)
  t.equal(split.partitions.length, 2, 'then it owns half')
  t.same(split.partitions.map(p => p.offset), [1, 1], 'its partitions go on from where it was')
  // Its read, assigned now, waits for records until its timeout on the server's clock.
  await s.clock.advance(1_000)
  t.same(await httpRead, [], 'the REST member\'s partitions hold nothing past the committed offsets')
  const httpOwns = await http.assignments()
  t.same([...httpOwns, ...names(split.partitions)].sort(), ['orders-0', 'orders-1', 'orders-2', 'orders-3'], 'together they own every partition, each once')

  await appendEach(s, 4, 'second')
  const wsSecond = await takeRecords(ws, 'm', 2)
  t.same(values(wsSecond), split.partitions.map(p => `second-p${p.partition}`).sort(), 'the WebSocket member gets records of its own partitions only')
  t.same(v2Values(await http.records()), httpOwns.map(n => `second-p${n.slice('orders-'.length)}`).sort(), 'the REST member gets the others')

  // The REST member leaves (auto-committing what it read): the WebSocket member takes everything back.
  t.equal((await http.delete()).statusCode, 204)
  t.same(names((await ws.nextOf('revoked', 'm')).partitions), names(split.partitions))
  const whole = await ws.nextOf('assigned', 'm')
  t.equal(whole.partitions.length, 4)
  t.ok(whole.partitions.every(p => p.offset === 2), 'each partition goes on after its last record consumed by either member')
  await appendEach(s, 4, 'third')
  t.same(values(await takeRecords(ws, 'm', 4)), ['third-p0', 'third-p1', 'third-p2', 'third-p3'], 'no record lost or repeated')
  await ws.roundTrip()
  t.notOk(ws.pending.some(f => f.type === 'records'))
})

t.test('commit and reconnect: the next member starts exactly after the committed records', async t => {
  const s = await setup(t, 1)
  await s.log.append('orders', 0, Array.from({ length: 10 }, (_, i) => ({ value: Buffer.from(`v${i}`) })))
  const first = await TestClient.open(t, s.app, s.base)
  join(first, 'm', 'resume', { credits: { messages: 4 } })
  t.same((await first.nextOf('assigned', 'm')).partitions, [{ topic: 'orders', partition: 0, offset: 0 }])
  t.same((await takeRecords(first, 'm', 4)).map(r => r.value), ['v0', 'v1', 'v2', 'v3'])
  first.send({ type: 'commit', id: 'm' })
  t.same(await first.nextOf('committed', 'm'), { type: 'committed', id: 'm', offsets: [{ topic: 'orders', partition: 0, offset: 4 }] }, 'the delivered position, the next offset to consume')
  // Delivered but not committed: these come again after the reconnect.
  first.send({ type: 'credit', id: 'm', messages: 2 })
  t.same((await takeRecords(first, 'm', 2)).map(r => r.value), ['v4', 'v5'])
  first.socket.close(1000)
  await first.whenClosed()
  const groups = await s.app.getGroups()
  await until(() => groups.describeGroup('resume').members.length === 0, 'a clean close to leave the group at once')

  const second = await TestClient.open(t, s.app, s.base)
  join(second, 'again', 'resume')
  t.same((await second.nextOf('assigned', 'again')).partitions, [{ topic: 'orders', partition: 0, offset: 4 }], 'starts at the committed offset')
  const rest = await takeRecords(second, 'again', 6)
  t.same(rest.map(r => r.offset), [4, 5, 6, 7, 8, 9], 'no gap, no duplicate beyond the uncommitted deliveries')
  second.send({ type: 'commit', id: 'again', offsets: [{ topic: 'orders', partition: 0, offset: 7 }] })
  t.same((await second.nextOf('committed', 'again')).offsets, [{ topic: 'orders', partition: 0, offset: 7 }], 'explicit offsets are the next offsets to consume')
  t.equal(groups.committedOffset('resume', 'orders', 0)?.committedOffset, 7)
})

t.test('a member whose connection drops without a close frame leaves after its session timeout', async t => {
  const s = await setup(t, 2)
  const groups = await s.app.getGroups()
  const dropped = await TestClient.open(t, s.app, s.base)
  join(dropped, 'm', 'g', { session_timeout_ms: 6_000 })
  await dropped.nextOf('assigned', 'm')
  const other = await TestClient.open(t, s.app, s.base)
  join(other, 'o', 'g', { session_timeout_ms: 60_000 })
  await dropped.nextOf('revoked', 'm')
  await dropped.nextOf('assigned', 'm')
  t.equal((await other.nextOf('assigned', 'o')).partitions.length, 1)

  dropped.socket.terminate()
  await dropped.whenClosed()
  await other.roundTrip()
  await s.clock.advance(5_999)
  t.equal(groups.describeGroup('g').members.length, 2, 'still a member within its session timeout')
  await s.clock.advance(1)
  t.equal(groups.describeGroup('g').members.length, 1, 'removed at its session timeout')
  await other.nextOf('revoked', 'o')
  t.equal((await other.nextOf('assigned', 'o')).partitions.length, 2, 'the other member takes its partitions')
})

t.test('seek, probe and leave of a member; join errors', async t => {
  const s = await setup(t, 2)
  await s.log.append('orders', 0, [{ value: Buffer.from('a') }, { value: Buffer.from('b') }])
  const client = await TestClient.open(t, s.app, s.base)
  join(client, 'm', 'g', { credits: { messages: 0 } })
  await client.nextOf('assigned', 'm')
  client.send({ type: 'probe', id: 'm' })
  t.same((await client.nextOf('position', 'm')).partitions, [
    { topic: 'orders', partition: 0, position: 0, log_end_offset: 2, caught_up: false },
    { topic: 'orders', partition: 1, position: 0, log_end_offset: 0, caught_up: true }
  ])
  client.send({ type: 'seek', id: 'm', topic: 'orders', partition: 0, offset: 1 })
  await client.nextOf('seeked', 'm')
  client.send({ type: 'credit', id: 'm', messages: 10 })
  t.same((await takeRecords(client, 'm', 1)).map(r => r.value), ['b'], 'delivery starts at the sought offset')
  client.send({ type: 'seek', id: 'm', topic: 'other', partition: 0, offset: 0 })
  t.match(await client.nextOf('error', 'm'), { code: 'CONSUMER_ILLEGAL_STATE', error_code: 40903 })

  client.send({ type: 'leave', id: 'm' })
  t.same(await client.nextOf('left', 'm'), { type: 'left', id: 'm' })
  const groups = await s.app.getGroups()
  t.equal(groups.describeGroup('g').members.length, 0, 'gone from the group')
  client.send({ type: 'commit', id: 'm' })
  t.match(await client.nextOf('error', 'm'), { code: 'INVALID_REQUEST', message: /No subscription or membership/ })

  join(client, 'bad', 'g', { session_timeout_ms: 100 })
  t.match(await client.nextOf('error', 'bad'), { code: 'INVALID_SESSION_TIMEOUT', error_code: 40002 })
  join(client, 'bad2', 'g\u0001')
  t.match(await client.nextOf('error', 'bad2'), { code: 'INVALID_GROUP_ID', error_code: 40001 })
  join(client, 'bad3', 'g\ud800')
  t.match(await client.nextOf('error', 'bad3'), { code: 'INVALID_GROUP_ID', error_code: 40001, message: /lone surrogates/ })
})

t.test('auto_commit commits delivered positions on its interval and on a clean close', async t => {
  const s = await setup(t, 1)
  const groups = await s.app.getGroups()
  await s.log.append('orders', 0, [{ value: Buffer.from('a') }, { value: Buffer.from('b') }])
  const client = await TestClient.open(t, s.app, s.base)
  join(client, 'm', 'auto', { auto_commit: true })
  await takeRecords(client, 'm', 2)
  t.equal(groups.committedOffset('auto', 'orders', 0), null, 'nothing committed before the interval')
  await s.clock.advance(5_000)
  await until(() => groups.committedOffset('auto', 'orders', 0)?.committedOffset === 2, 'the interval\'s auto-commit')
  await s.log.append('orders', 0, [{ value: Buffer.from('c') }])
  await takeRecords(client, 'm', 1)
  client.socket.close(1000)
  await client.whenClosed()
  await until(() => groups.committedOffset('auto', 'orders', 0)?.committedOffset === 3, 'the auto-commit of a clean close')
  t.pass('committed on close')
})
