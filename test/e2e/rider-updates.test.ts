// The seeds' kafkajs demo (admin.js, producer.js, consumer.js) played over
// Logway's HTTP API: a rider-updates topic with 2 partitions, updates routed
// by location, and consumer groups reading them through Confluent REST Proxy
// v2 consumer instances, across member failures and a server restart.
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import { loadConfig } from '../../src/config.js'
import { buildServer } from '../../src/server.js'
import { installResponseContract } from '../helpers/response-contract.js'
import { call, V2Consumer, type ConsumedRecord } from './v2-consumer-client.js'

const TOPIC = 'rider-updates'
/** Instances idle this long expire; a member that stops reading is gone after it. */
const INSTANCE_TIMEOUT_MS = 30_000

interface RiderUpdate { name: string, location: string }

/** One server on `dataDir`, with every response checked against its route's declared contract. */
function startServer (t: Test, dataDir: string, clock: ManualClock): FastifyInstance {
  const app = buildServer({
    ...loadConfig({ env: {} }),
    dataDir,
    logLevel: 'silent',
    retentionCheckIntervalMs: 0,
    consumerInstanceTimeoutMs: INSTANCE_TIMEOUT_MS
  }, { clock })
  installResponseContract(app, ({ method, url, status, problem }) => t.fail(`response contract: ${method} ${url} answered ${status}: ${problem}`))
  t.teardown(async () => await app.close())
  return app
}

/** admin.js: creates the topic with v3 (the REST Proxy's admin API). */
async function createTopic (t: Test, app: FastifyInstance): Promise<void> {
  const clusters = await call(app, 'GET', '/v3/clusters')
  const clusterId = (clusters.json() as { data: Array<{ cluster_id: string }> }).data[0]?.cluster_id
  const res = await call(app, 'POST', `/v3/clusters/${clusterId ?? ''}/topics`, { topic_name: TOPIC, partitions_count: 2 }, { 'content-type': 'application/json' })
  t.equal(res.statusCode, 201, `topic created (${res.body})`)
}

/** producer.js: one update per line, north to partition 0 and everything else to 1, key "location-update". */
async function publish (t: Test, app: FastifyInstance, line: string): Promise<{ partition: number, offset: number }> {
  const [name = '', location = ''] = line.split(' ')
  const partition = location.toLowerCase() === 'north' ? 0 : 1
  const res = await call(app, 'POST', `/topics/${TOPIC}`, { records: [{ key: 'location-update', value: { name, location }, partition }] }, { 'content-type': 'application/vnd.kafka.json.v2+json' })
  t.equal(res.statusCode, 200, `published ${line}`)
  const [{ partition: at, offset } = { partition: -1, offset: -1 }] = (res.json() as { offsets: Array<{ partition: number, offset: number }> }).offsets
  return { partition: at, offset }
}

/**
 * What a consumer group received, checked as it arrives: nothing the group
 * committed is ever delivered again, and each record is a rider update.
 */
class Ledger {
  readonly group: string
  /** `partition:offset` → how many times it was delivered. */
  readonly deliveries = new Map<string, number>()
  /** The group's committed offset (the next to consume), by partition, from commit answers. */
  readonly committed = new Map<number, number>()
  readonly #t: Test

  constructor (t: Test, group: string) {
    this.#t = t
    this.group = group
  }

  receive (member: V2Consumer, records: ConsumedRecord[]): RiderUpdate[] {
    for (const r of records) {
      this.#t.equal(r.topic, TOPIC)
      this.#t.equal(r.key, 'location-update')
      const committed = this.committed.get(r.partition) ?? 0
      this.#t.ok(r.offset >= committed, `${this.group}: ${member.name} gets ${r.partition}:${r.offset}, not below the committed offset ${committed}`)
      const id = `${r.partition}:${r.offset}`
      this.deliveries.set(id, (this.deliveries.get(id) ?? 0) + 1)
    }
    return records.map(r => r.value as RiderUpdate)
  }

  /** The member commits everything it consumed (POST …/offsets without a body). */
  async commit (member: V2Consumer): Promise<void> {
    const res = await member.commit()
    this.#t.equal(res.statusCode, 200, `${member.name} commits (${res.body})`)
    for (const c of res.json() as Array<{ partition: number, committed: number }>) {
      this.committed.set(c.partition, Math.max(this.committed.get(c.partition) ?? 0, c.committed))
    }
  }

  delivered (partition: number, offset: number): number {
    return this.deliveries.get(`${partition}:${offset}`) ?? 0
  }
}

/**
 * consumer.js's loop, one round: every member reads at once (a rebalance
 * needs all of them), the clock moving until all have answered.
 */
async function readAll (clock: ManualClock, members: V2Consumer[], timeoutMs = 1_000): Promise<ConsumedRecord[][]> {
  const answered = new Set<number>()
  const reads = members.map(async (m, i) => await m.records({ timeout: timeoutMs }).finally(() => answered.add(i)))
  for (let round = 0; round < 100 && answered.size < members.length; round++) await clock.advance(timeoutMs)
  return await Promise.all(reads)
}

const names = (updates: RiderUpdate[]): string[] => updates.map(u => u.name)

async function join2 (app: FastifyInstance, group: string, name: string): Promise<V2Consumer> {
  const member = await V2Consumer.create(app, group, { name, format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' })
  const res = await member.subscribe([TOPIC])
  if (res.statusCode !== 204) throw new Error(`${name} subscribes: ${res.statusCode} ${res.body}`)
  return member
}

t.test('rider updates: two groups, partitions shared out, a member dies, the server restarts', async t => {
  const clock = new ManualClock()
  const dataDir = join(t.testdir(), 'data')
  let app = startServer(t, dataDir, clock)
  await createTopic(t, app)
  const dispatch = new Ledger(t, 'dispatch')
  const analytics = new Ledger(t, 'analytics')
  const produced: Array<{ partition: number, offset: number }> = []
  for (const line of ['alice north', 'bob south', 'carol north', 'dave south']) produced.push(await publish(t, app, line))
  t.same(produced, [{ partition: 0, offset: 0 }, { partition: 1, offset: 0 }, { partition: 0, offset: 1 }, { partition: 1, offset: 1 }], 'north to 0, south to 1')

  // Two groups: each receives every update.
  const x = await join2(app, 'analytics', 'x')
  const a = await join2(app, 'dispatch', 'a')
  const [fromX, fromA] = await readAll(clock, [x, a])
  t.same(names(analytics.receive(x, fromX!)).sort(), ['alice', 'bob', 'carol', 'dave'], 'analytics gets every update')
  t.same(names(dispatch.receive(a, fromA!)).sort(), ['alice', 'bob', 'carol', 'dave'], 'dispatch gets every update too')
  t.same(await a.assignments(), [`${TOPIC}-0`, `${TOPIC}-1`], 'alone in dispatch, a owns both partitions')
  await dispatch.commit(a)
  await analytics.commit(x)

  // A second dispatch member: the group rebalances and each owns one partition.
  const b = await join2(app, 'dispatch', 'b')
  const round = await readAll(clock, [a, b])
  t.same(round, [[], []], 'nothing committed comes again after the rebalance')
  t.same(await a.assignments(), [`${TOPIC}-0`])
  t.same(await b.assignments(), [`${TOPIC}-1`])
  await publish(t, app, 'eve north')
  await publish(t, app, 'frank south')
  const [toA, toB, toX] = await readAll(clock, [a, b, x])
  t.same(names(dispatch.receive(a, toA!)), ['eve'], 'north updates go to the owner of partition 0')
  t.same(names(dispatch.receive(b, toB!)), ['frank'], 'south updates go to the owner of partition 1')
  t.same(names(analytics.receive(x, toX!)).sort(), ['eve', 'frank'])
  await dispatch.commit(a)
  await dispatch.commit(b)

  // A third member gets nothing: two partitions, three members.
  const c = await join2(app, 'dispatch', 'c')
  await publish(t, app, 'gina north')
  await publish(t, app, 'hugo south')
  const [aGets, bGets, cGets] = await readAll(clock, [a, b, c])
  t.same(await c.assignments(), [], 'c has no partition')
  t.same(cGets, [], 'and reads nothing')
  t.same(names(dispatch.receive(a, aGets!)), ['gina'])
  t.same(names(dispatch.receive(b, bGets!)), ['hugo'])
  await dispatch.commit(b)

  // a dies before committing gina: it stops reading. b and c go on; once a's
  // instance expires it leaves the group, which rebalances without it.
  const groups = await app.getGroups()
  t.equal(groups.describeGroup('dispatch').members.length, 3)
  let redelivered: RiderUpdate[] = []
  let toAnalytics: RiderUpdate[] = []
  for (let elapsed = 0; elapsed <= INSTANCE_TIMEOUT_MS + 5_000; elapsed += 5_000) {
    await clock.advance(5_000)
    const [fromB, fromC, fromX] = await readAll(clock, [b, c, x], 1)
    redelivered = redelivered.concat(dispatch.receive(b, fromB!), dispatch.receive(c, fromC!))
    toAnalytics = toAnalytics.concat(analytics.receive(x, fromX!))
  }
  t.equal(groups.describeGroup('dispatch').members.length, 2, 'a is out of the group')
  t.equal((await a.request('GET', '/assignments')).statusCode, 404, 'a\'s instance expired')
  const owners = [await b.assignments(), await c.assignments()]
  t.same(owners.flat().sort(), [`${TOPIC}-0`, `${TOPIC}-1`], 'b and c own one partition each: c got one once a left')
  t.same(names(redelivered), ['gina'], 'gina, consumed but never committed by a, goes to the new owner of partition 0')
  t.equal(dispatch.delivered(0, 3), 2, 'delivered twice: at least once')
  for (const offset of [0, 1, 2]) t.equal(dispatch.delivered(0, offset), 1, `committed record 0:${offset} was delivered once`)
  await dispatch.commit(b)
  await dispatch.commit(c)
  t.same([...dispatch.committed].sort(), [[0, 4], [1, 4]], 'dispatch has committed everything so far')

  // analytics, reading all along, got the rest; it commits, and two more updates arrive that nobody reads before the restart.
  t.same(names(toAnalytics).sort(), ['gina', 'hugo'])
  await analytics.commit(x)
  await publish(t, app, 'ivan north')
  await publish(t, app, 'judy south')

  // The restart: close the server, open a new one on the same data dir.
  await app.close()
  app = startServer(t, dataDir, clock)
  const restored = await app.getGroups()
  t.match(restored.listGroups(), [
    { groupId: 'analytics', state: 'Empty', isSimple: false, protocolType: 'consumer' },
    { groupId: 'dispatch', state: 'Empty', isSimple: false, protocolType: 'consumer' }
  ], 'group definitions survived (their members did not: instances live in memory)')
  t.same(restored.committedOffsets('dispatch').map(o => [o.partition, o.committedOffset]), [[0, 4], [1, 4]], 'dispatch\'s committed offsets survived')
  t.same(restored.committedOffsets('analytics').map(o => [o.partition, o.committedOffset]), [[0, 4], [1, 4]], 'analytics\'s committed offsets survived')

  const d = await join2(app, 'dispatch', 'd')
  const y = await join2(app, 'analytics', 'y')
  t.same(await d.committed([{ topic: TOPIC, partition: 0 }, { topic: TOPIC, partition: 1 }]), { [`${TOPIC}-0`]: 4, [`${TOPIC}-1`]: 4 }, 'GET …/offsets shows them')
  const [toD, toY] = await readAll(clock, [d, y])
  t.same(names(dispatch.receive(d, toD!)).sort(), ['ivan', 'judy'], 'dispatch resumes at its committed offsets')
  t.same(names(analytics.receive(y, toY!)).sort(), ['ivan', 'judy'], 'and so does analytics')

  // Every group received every record, and only the uncommitted one twice.
  for (const ledger of [dispatch, analytics]) {
    for (const [partition, count] of [[0, 5], [1, 5]]) {
      for (let offset = 0; offset < count!; offset++) t.ok(ledger.delivered(partition!, offset) >= 1, `${ledger.group} received ${partition}:${offset}`)
    }
  }
  t.same([...dispatch.deliveries.values()].filter(n => n > 1).length, 1, 'dispatch: one redelivery (gina)')
  t.same([...analytics.deliveries.values()].filter(n => n > 1).length, 0, 'analytics: none')
})

t.test('closing the server auto-commits what auto-committing instances consumed', async t => {
  const clock = new ManualClock()
  const dataDir = join(t.testdir(), 'data')
  let app = startServer(t, dataDir, clock)
  await createTopic(t, app)
  for (const line of ['alice north', 'bob south']) await publish(t, app, line)
  const auto = await V2Consumer.create(app, 'auto', { name: 'auto', format: 'json', 'auto.offset.reset': 'earliest' })
  t.equal((await auto.subscribe([TOPIC])).statusCode, 204)
  t.equal((await auto.records()).length, 2)
  await app.close()

  app = startServer(t, dataDir, clock)
  await publish(t, app, 'carol north')
  const again = await V2Consumer.create(app, 'auto', { name: 'auto', format: 'json', 'auto.offset.reset': 'earliest' })
  t.equal((await again.subscribe([TOPIC])).statusCode, 204)
  const [records] = await readAll(clock, [again])
  t.same(names(records!.map(r => r.value as RiderUpdate)), ['carol'], 'only what was not consumed before the restart')
})
