import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import type { GroupCoordinator } from '../../src/groups/group-coordinator.js'
import { ERROR_MAPPING } from '../../src/http/error-mapping.js'
import type { LogStore } from '../../src/log/log-store.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { bytes } from '../helpers/open-test-log.js'

interface Res { statusCode: number, body: string, json: () => unknown }
type Body = Record<string, unknown>

interface GroupsCtx {
  app: FastifyInstance
  log: LogStore
  coordinator: GroupCoordinator
  clock: ManualClock
  /** The absolute origin links are built from. */
  base: string
  /** /v3/clusters/<this cluster> */
  url: string
}

/** A real app on the test's data dir, with its group coordinator and clock. */
async function setupGroups (t: Test): Promise<GroupsCtx> {
  const clock = new ManualClock()
  const app = buildTestServer(t, {}, { clock })
  const log = await app.getLog()
  return { app, log, coordinator: await app.getGroups(), clock, base: 'http://localhost:80', url: `/v3/clusters/${log.clusterId}` }
}

/** Asserts an error answer: status, Confluent error_code and the stable code. */
function assertError (t: Test, res: Res, status: number, errorCode: number, code: string): Body {
  t.equal(res.statusCode, status, `status (${res.body})`)
  const body = res.json() as Body
  t.match(body, { error_code: errorCode, code, message: String }, 'error body')
  return body
}

/** GROUP_ID_NOT_FOUND as the one code → HTTP mapping renders it. */
const GROUP_NOT_FOUND = ERROR_MAPPING.GROUP_ID_NOT_FOUND

/** Appends `n` records to a partition. */
async function fill (log: LogStore, topic: string, partition: number, n: number): Promise<void> {
  await log.append(topic, partition, Array.from({ length: n }, (_, i) => ({ value: bytes(`r${i}`) })))
}

/** Two members of group `g` on the 2-partition topic `orders`, both with their assignment of the same generation. */
async function stableGroup (coordinator: GroupCoordinator, log: LogStore): Promise<{ a: string, b: string, generationId: number }> {
  await log.createTopic('orders', { partitions: 2 })
  const { memberId: a } = await coordinator.join('g', { clientId: 'alpha', clientHost: '10.0.0.1', subscription: { topics: ['orders'] } })
  const { memberId: b } = await coordinator.join('g', { clientId: 'beta', subscription: { topics: ['orders'] } })
  const [ofA] = await Promise.all([coordinator.assignment('g', a, 1_000), coordinator.assignment('g', b, 1_000)])
  if (ofA === null) throw new Error('no assignment')
  return { a, b, generationId: ofA.generationId }
}

t.test('no groups; unknown cluster and group', async t => {
  const { app, base, url } = await setupGroups(t)
  const list = await app.inject(`${url}/consumer-groups`)
  t.equal(list.statusCode, 200)
  t.same(list.json(), { kind: 'KafkaConsumerGroupList', metadata: { self: `${base}${url}/consumer-groups`, next: null }, data: [] })

  const cluster = assertError(t, await app.inject('/v3/clusters/nope/consumer-groups'), 404, 404, 'INVALID_REQUEST')
  t.equal(cluster.message, 'Cluster nope cannot be found.')
  assertError(t, await app.inject('/v3/clusters/nope/consumer-groups/g'), 404, 404, 'INVALID_REQUEST')
  for (const path of ['', '/consumers', '/consumers/m', '/consumers/m/assignments', '/consumers/m/assignments/t/partitions/0', '/lags', '/lags/t/partitions/0', '/lag-summary']) {
    const res = await app.inject(`${url}/consumer-groups/ghost${path}`)
    assertError(t, res, 404, GROUP_NOT_FOUND.errorCode, 'GROUP_ID_NOT_FOUND')
    t.equal((res.json() as Body).message, 'Consumer group \'ghost\' does not exist.', `GET …/ghost${path}`)
  }
  assertError(t, await app.inject(`${url}/consumer-groups/tab%09here`), 400, 40001, 'INVALID_GROUP_ID')
  assertError(t, await app.inject(`${url}/consumer-groups/g/lags/t/partitions/x`), 400, 40001, 'INVALID_REQUEST')
})

t.test('a stable group, its consumers and their assignments, with Confluent\'s documents', async t => {
  const { app, log, coordinator, base, url } = await setupGroups(t)
  const { a, b } = await stableGroup(coordinator, log)
  const c = log.clusterId
  const crn = `crn:///kafka=${c}/consumer-group=g`
  const group = {
    kind: 'KafkaConsumerGroup',
    metadata: { self: `${base}${url}/consumer-groups/g`, resource_name: crn },
    cluster_id: c,
    consumer_group_id: 'g',
    is_simple: false,
    partition_assignor: 'range',
    state: 'STABLE',
    coordinator: { related: `${base}${url}/brokers/0` },
    consumers: { related: `${base}${url}/consumer-groups/g/consumers` },
    lag_summary: { related: `${base}${url}/consumer-groups/g/lag-summary` }
  }
  const got = await app.inject(`${url}/consumer-groups/g`)
  t.equal(got.statusCode, 200)
  t.same(got.json(), group)
  t.same((await app.inject(`${url}/consumer-groups`)).json(), {
    kind: 'KafkaConsumerGroupList', metadata: { self: `${base}${url}/consumer-groups`, next: null }, data: [group]
  })

  const consumer = (id: string, clientId: string): Body => ({
    kind: 'KafkaConsumer',
    metadata: { self: `${base}${url}/consumer-groups/g/consumers/${id}`, resource_name: `${crn}/consumer=${id}` },
    cluster_id: c,
    consumer_group_id: 'g',
    consumer_id: id,
    instance_id: null,
    client_id: clientId,
    assignments: { related: `${base}${url}/consumer-groups/g/consumers/${id}/assignments` }
  })
  const consumers = await app.inject(`${url}/consumer-groups/g/consumers`)
  t.equal(consumers.statusCode, 200)
  t.same(consumers.json(), {
    kind: 'KafkaConsumerList',
    metadata: { self: `${base}${url}/consumer-groups/g/consumers`, next: null },
    data: [consumer(a, 'alpha'), consumer(b, 'beta')]
  }, 'sorted by consumer id')
  t.same((await app.inject(`${url}/consumer-groups/g/consumers/${b}`)).json(), consumer(b, 'beta'))

  // The range assignor gives one partition each, in member id order.
  const assignment = (id: string, partition: number): Body => ({
    kind: 'KafkaConsumerAssignment',
    metadata: {
      self: `${base}${url}/consumer-groups/g/consumers/${id}/assignments/orders/partitions/${partition}`,
      resource_name: `${crn}/consumer=${id}/assignment=orders/partition=${partition}`
    },
    cluster_id: c,
    consumer_group_id: 'g',
    consumer_id: id,
    topic_name: 'orders',
    partition_id: partition,
    partition: { related: `${base}${url}/topics/orders/partitions/${partition}` },
    lag: { related: `${base}${url}/consumer-groups/g/lags/orders/partitions/${partition}` }
  })
  t.same((await app.inject(`${url}/consumer-groups/g/consumers/${a}/assignments`)).json(), {
    kind: 'KafkaConsumerAssignmentList',
    metadata: { self: `${base}${url}/consumer-groups/g/consumers/${a}/assignments`, next: null },
    data: [assignment(a, 0)]
  })
  const one = await app.inject(`${url}/consumer-groups/g/consumers/${b}/assignments/orders/partitions/1`)
  t.equal(one.statusCode, 200)
  t.same(one.json(), assignment(b, 1))

  assertError(t, await app.inject(`${url}/consumer-groups/g/consumers/${a}/assignments/orders/partitions/1`), 404, 404, 'INVALID_REQUEST')
  assertError(t, await app.inject(`${url}/consumer-groups/g/consumers/${a}/assignments/orders/partitions/2`), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject(`${url}/consumer-groups/g/consumers/${a}/assignments/nope/partitions/0`), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  for (const path of ['', '/assignments', '/assignments/orders/partitions/0']) {
    assertError(t, await app.inject(`${url}/consumer-groups/g/consumers/ghost${path}`), 404, 40403, 'UNKNOWN_MEMBER_ID')
  }
  assertError(t, await app.inject(`${url}/consumer-groups/other/consumers/${a}`), 404, GROUP_NOT_FOUND.errorCode, 'GROUP_ID_NOT_FOUND')
})

t.test('states follow the group: rebalancing, then empty', async t => {
  const { app, log, coordinator, url } = await setupGroups(t)
  const { a, b } = await stableGroup(coordinator, log)
  const state = async (): Promise<unknown> => ((await app.inject(`${url}/consumer-groups/g`)).json() as Body).state
  const assigned = async (id: string): Promise<unknown> => ((await app.inject(`${url}/consumer-groups/g/consumers/${id}/assignments`)).json() as { data: Body[] }).data.map(d => d.partition_id)

  const { memberId: late } = await coordinator.join('g', { clientId: 'gamma', subscription: { topics: ['orders'] } })
  t.equal(await state(), 'PREPARING_REBALANCE')
  t.same(await assigned(a), [0], 'a member keeps its partitions until it gives them up')
  coordinator.rejoin('g', a)
  t.same(await assigned(a), [], 'and owns none once it has')
  t.same(await assigned(late), [])

  for (const id of [a, b, late]) coordinator.leave('g', id)
  t.equal(await state(), 'EMPTY')
  t.same(((await app.inject(`${url}/consumer-groups/g/consumers`)).json() as { data: unknown[] }).data, [])
})

t.test('lags and the lag summary', async t => {
  const { app, log, coordinator, base, url } = await setupGroups(t)
  const { a, b, generationId } = await stableGroup(coordinator, log)
  const c = log.clusterId
  await fill(log, 'orders', 0, 10)
  await fill(log, 'orders', 1, 30)

  const none = await app.inject(`${url}/consumer-groups/g/lags`)
  t.equal(none.statusCode, 200)
  t.same(none.json(), { kind: 'KafkaConsumerLagList', metadata: { self: `${base}${url}/consumer-groups/g/lags`, next: null }, data: [] }, 'no committed offsets: an empty list')
  const noSummary = assertError(t, await app.inject(`${url}/consumer-groups/g/lag-summary`), 404, 404, 'INVALID_REQUEST')
  t.equal(noSummary.message, 'Consumer group \'g\' has no committed offsets.')
  assertError(t, await app.inject(`${url}/consumer-groups/g/lags/orders/partitions/0`), 404, 404, 'INVALID_REQUEST')

  await coordinator.commitOffsets('g', [{ topic: 'orders', partition: 0, offset: 4 }], { memberId: a, generationId })
  await coordinator.commitOffsets('g', [{ topic: 'orders', partition: 1, offset: 5 }], { memberId: b, generationId })
  const lag = (partition: number, consumerId: string, clientId: string, current: number, end: number): Body => ({
    kind: 'KafkaConsumerLag',
    metadata: {
      self: `${base}${url}/consumer-groups/g/lags/orders/partitions/${partition}`,
      resource_name: `crn:///kafka=${c}/consumer-group=g/lag=orders/partition=${partition}`
    },
    cluster_id: c,
    consumer_group_id: 'g',
    topic_name: 'orders',
    partition_id: partition,
    current_offset: current,
    log_end_offset: end,
    lag: end - current,
    consumer_id: consumerId,
    instance_id: null,
    client_id: clientId
  })
  const lags = await app.inject(`${url}/consumer-groups/g/lags`)
  t.equal(lags.statusCode, 200)
  t.same(lags.json(), {
    kind: 'KafkaConsumerLagList',
    metadata: { self: `${base}${url}/consumer-groups/g/lags`, next: null },
    data: [lag(1, b, 'beta', 5, 30), lag(0, a, 'alpha', 4, 10)]
  }, 'the largest lag first')
  t.same((await app.inject(`${url}/consumer-groups/g/lags/orders/partitions/0`)).json(), lag(0, a, 'alpha', 4, 10))
  assertError(t, await app.inject(`${url}/consumer-groups/g/lags/orders/partitions/-1`), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject(`${url}/consumer-groups/g/lags/nope/partitions/0`), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')

  const summary = await app.inject(`${url}/consumer-groups/g/lag-summary`)
  t.equal(summary.statusCode, 200)
  t.same(summary.json(), {
    kind: 'KafkaConsumerGroupLagSummary',
    metadata: { self: `${base}${url}/consumer-groups/g/lag-summary`, resource_name: `crn:///kafka=${c}/consumer-group=g/lag-summary` },
    cluster_id: c,
    consumer_group_id: 'g',
    max_lag_consumer_id: b,
    max_lag_instance_id: null,
    max_lag_client_id: 'beta',
    max_lag_topic_name: 'orders',
    max_lag_partition_id: 1,
    max_lag: 25,
    total_lag: 31,
    max_lag_consumer: { related: `${base}${url}/consumer-groups/g/consumers/${b}` },
    max_lag_partition: { related: `${base}${url}/topics/orders/partitions/1` }
  })

  // Once nobody owns the partitions, the owner fields are empty strings, as Confluent's.
  coordinator.leave('g', a)
  coordinator.leave('g', b)
  t.match((await app.inject(`${url}/consumer-groups/g/lags/orders/partitions/1`)).json(), { consumer_id: '', instance_id: null, client_id: '', lag: 25 })
  t.match((await app.inject(`${url}/consumer-groups/g/lag-summary`)).json(), {
    max_lag_consumer_id: '',
    max_lag_client_id: '',
    max_lag_consumer: { related: `${base}${url}/consumer-groups/g/consumers/` }
  })
})

t.test('a simple group: offsets committed without members', async t => {
  const { app, log, coordinator, url } = await setupGroups(t)
  await log.createTopic('audit')
  await fill(log, 'audit', 0, 3)
  await coordinator.commitOffsets('by-hand', [{ topic: 'audit', partition: 0, offset: 1 }])
  t.match((await app.inject(`${url}/consumer-groups/by-hand`)).json(), { consumer_group_id: 'by-hand', is_simple: true, partition_assignor: '', state: 'EMPTY' })
  t.match((await app.inject(`${url}/consumer-groups/by-hand/lag-summary`)).json(), { max_lag: 2, total_lag: 2, max_lag_consumer_id: '' })
})

t.test('ids are percent-encoded in links, and links follow the Host header', async t => {
  const { app, log, coordinator, url } = await setupGroups(t)
  await log.createTopic('t')
  const { memberId } = await coordinator.join('team/a b', { clientId: 'my app', subscription: { topics: ['t'] } })
  await coordinator.assignment('team/a b', memberId, 1_000)
  const encoded = encodeURIComponent(memberId)
  t.match(memberId, /^my app-/)
  const res = await app.inject({ url: `${url}/consumer-groups/team%2Fa%20b/consumers/${encoded}`, headers: { host: 'logway.example:8082' } })
  t.equal(res.statusCode, 200)
  t.match(res.json(), {
    consumer_group_id: 'team/a b',
    consumer_id: memberId,
    client_id: 'my app',
    metadata: { self: `http://logway.example:8082${url}/consumer-groups/team%2Fa%20b/consumers/${encoded}` },
    assignments: { related: `http://logway.example:8082${url}/consumer-groups/team%2Fa%20b/consumers/${encoded}/assignments` }
  })
})
