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

const GROUP_NOT_FOUND = ERROR_MAPPING.GROUP_ID_NOT_FOUND

async function setup (t: Test): Promise<{ app: FastifyInstance, log: LogStore, coordinator: GroupCoordinator, clock: ManualClock, base: string, url: string }> {
  const clock = new ManualClock()
  const app = buildTestServer(t, {}, { clock })
  const log = await app.getLog()
  return { app, log, coordinator: await app.getGroups(), clock, base: 'http://localhost:80', url: `/v3/clusters/${log.clusterId}` }
}

function assertError (t: Test, res: Res, status: number, errorCode: number, code: string): Body {
  t.equal(res.statusCode, status, `status (${res.body})`)
  const body = res.json() as Body
  t.match(body, { error_code: errorCode, code, message: String }, 'error body')
  return body
}

/** Appends records to a partition, each with its own timestamp. */
async function fill (log: LogStore, topic: string, partition: number, timestamps: number[]): Promise<void> {
  await log.append(topic, partition, timestamps.map((timestamp, i) => ({ value: bytes(`r${i}`), timestamp })))
}

/** `topic-partition@offset` of each entry of an offset list answer. */
function offsetsOf (res: Res): string[] {
  return (res.json() as { data: Body[] }).data.map(o => `${String(o.topic_name)}-${String(o.partition_id)}@${String(o.committed_offset)}`)
}

async function reset (app: FastifyInstance, url: string, group: string, body: unknown): Promise<Res> {
  return app.inject({ method: 'POST', url: `${url}/consumer-groups/${group}/offsets:reset`, payload: body as object })
}

t.test('delete a group: only when empty', async t => {
  const { app, log, coordinator, url } = await setup(t)
  await log.createTopic('t')
  const { memberId } = await coordinator.join('busy', { subscription: { topics: ['t'] } })
  await coordinator.commitOffsets('idle', [{ topic: 't', partition: 0, offset: 0 }])

  const refused = assertError(t, await app.inject({ method: 'DELETE', url: `${url}/consumer-groups/busy` }), 409, 40903, 'NON_EMPTY_GROUP')
  t.match(refused.message, /has 1 member/)
  t.equal(coordinator.describeGroup('busy').memberCount, 1, 'nothing changed')

  const deleted = await app.inject({ method: 'DELETE', url: `${url}/consumer-groups/idle` })
  t.equal(deleted.statusCode, 204)
  t.equal(deleted.body, '')
  t.same(coordinator.committedOffsets('idle'), [], 'its offsets went with it')
  assertError(t, await app.inject(`${url}/consumer-groups/idle`), 404, GROUP_NOT_FOUND.errorCode, 'GROUP_ID_NOT_FOUND')
  assertError(t, await app.inject({ method: 'DELETE', url: `${url}/consumer-groups/idle` }), 404, GROUP_NOT_FOUND.errorCode, 'GROUP_ID_NOT_FOUND')

  coordinator.leave('busy', memberId)
  t.equal((await app.inject({ method: 'DELETE', url: `${url}/consumer-groups/busy` })).statusCode, 204, 'deletable once its last member left')
  t.same(((await app.inject(`${url}/consumer-groups`)).json() as { data: unknown[] }).data, [])

  assertError(t, await app.inject({ method: 'DELETE', url: '/v3/clusters/nope/consumer-groups/busy' }), 404, 404, 'INVALID_REQUEST')
  assertError(t, await app.inject({ method: 'DELETE', url: `${url}/consumer-groups/tab%09here` }), 400, 40001, 'INVALID_GROUP_ID')
})

t.test('read committed offsets', async t => {
  const { app, log, coordinator, clock, base, url } = await setup(t)
  const c = log.clusterId
  await log.createTopic('b', { partitions: 2 })
  await log.createTopic('a')
  await coordinator.commitOffsets('g', [{ topic: 'b', partition: 1, offset: 7, metadata: 'note' }, { topic: 'a', partition: 0, offset: 0 }])
  const offset = (topic: string, partition: number, committed: number, metadata: string | null): Body => ({
    kind: 'KafkaConsumerGroupOffset',
    metadata: {
      self: `${base}${url}/consumer-groups/g/offsets/${topic}/partitions/${partition}`,
      resource_name: `crn:///kafka=${c}/consumer-group=g/offset=${topic}/partition=${partition}`
    },
    cluster_id: c,
    consumer_group_id: 'g',
    topic_name: topic,
    partition_id: partition,
    committed_offset: committed,
    offset_metadata: metadata,
    commit_timestamp: new Date(clock.now()).toISOString(),
    partition: { related: `${base}${url}/topics/${topic}/partitions/${partition}` },
    lag: { related: `${base}${url}/consumer-groups/g/lags/${topic}/partitions/${partition}` }
  })
  const list = await app.inject(`${url}/consumer-groups/g/offsets`)
  t.equal(list.statusCode, 200)
  t.same(list.json(), {
    kind: 'KafkaConsumerGroupOffsetList',
    metadata: { self: `${base}${url}/consumer-groups/g/offsets`, next: null },
    data: [offset('a', 0, 0, null), offset('b', 1, 7, 'note')]
  }, 'by topic and partition')
  const one = await app.inject(`${url}/consumer-groups/g/offsets/b/partitions/1`)
  t.equal(one.statusCode, 200)
  t.same(one.json(), offset('b', 1, 7, 'note'))

  assertError(t, await app.inject(`${url}/consumer-groups/g/offsets/b/partitions/0`), 404, 404, 'INVALID_REQUEST')
  assertError(t, await app.inject(`${url}/consumer-groups/g/offsets/b/partitions/2`), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject(`${url}/consumer-groups/g/offsets/nope/partitions/0`), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject(`${url}/consumer-groups/ghost/offsets`), 404, GROUP_NOT_FOUND.errorCode, 'GROUP_ID_NOT_FOUND')
  assertError(t, await app.inject(`${url}/consumer-groups/ghost/offsets/b/partitions/1`), 404, GROUP_NOT_FOUND.errorCode, 'GROUP_ID_NOT_FOUND')

  const { memberId } = await coordinator.join('joined', { subscription: { topics: ['a'] } })
  await coordinator.assignment('joined', memberId, 1_000)
  t.same((await app.inject(`${url}/consumer-groups/joined/offsets`)).json(), {
    kind: 'KafkaConsumerGroupOffsetList', metadata: { self: `${base}${url}/consumer-groups/joined/offsets`, next: null }, data: []
  }, 'a group that has not committed yet')
})

t.test('reset to earliest, latest, a timestamp or given offsets', async t => {
  const { app, log, coordinator, url } = await setup(t)
  await log.createTopic('r', { partitions: 2 })
  await log.createTopic('s')
  await fill(log, 'r', 0, [1_000, 2_000, 3_000, 4_000])
  await fill(log, 'r', 1, [1_500, 2_500])
  await fill(log, 's', 0, [1_000])
  await coordinator.commitOffsets('g', [{ topic: 'r', partition: 0, offset: 2 }, { topic: 'r', partition: 1, offset: 1 }])

  const latest = await reset(app, url, 'g', { to: 'latest' })
  t.equal(latest.statusCode, 200)
  t.match(latest.json(), { kind: 'KafkaConsumerGroupOffsetList', metadata: { self: `http://localhost:80${url}/consumer-groups/g/offsets` } })
  t.same(offsetsOf(latest), ['r-0@4', 'r-1@2'], 'without a scope: every partition with a committed offset')
  t.equal(coordinator.committedOffset('g', 'r', 0)?.committedOffset, 4, 'written')

  t.same(offsetsOf(await reset(app, url, 'g', { to: 'earliest', partitions: [{ topic_name: 'r', partition_id: 1 }] })), ['r-1@0'], 'one partition')
  t.equal(coordinator.committedOffset('g', 'r', 0)?.committedOffset, 4, 'the others are untouched')

  t.same(offsetsOf(await reset(app, url, 'g', { to: 'timestamp', timestamp: 2_000, topics: ['r'] })), ['r-0@1', 'r-1@1'], 'the first record at or after')
  t.same(offsetsOf(await reset(app, url, 'g', { to: 'timestamp', timestamp: '1970-01-01T00:00:03.500Z', topics: ['r'], partitions: [{ topic_name: 's', partition_id: 0 }] })),
    ['r-0@3', 'r-1@2', 's-0@1'], 'an ISO date-time; no record that late: the log end; topics and partitions together')

  t.same(offsetsOf(await reset(app, url, 'g', { to: 'offsets', offsets: [{ topic_name: 's', partition_id: 0, offset: 0 }, { topic_name: 'r', partition_id: 0, offset: 3 }] })),
    ['r-0@3', 's-0@0'], 'given offsets, answered by topic and partition')
  t.same(coordinator.committedOffsets('g').map(o => `${o.topic}-${o.partition}@${o.committedOffset}`), ['r-0@3', 'r-1@2', 's-0@0'])
})

t.test('a dry run answers what a reset would set and changes nothing', async t => {
  const { app, log, coordinator, url } = await setup(t)
  await log.createTopic('d')
  await fill(log, 'd', 0, [1, 2, 3])
  await coordinator.commitOffsets('g', [{ topic: 'd', partition: 0, offset: 1 }])
  const before = coordinator.committedOffsets('g')
  const dry = await reset(app, url, 'g', { to: 'latest', dry_run: true })
  t.equal(dry.statusCode, 200)
  t.same(offsetsOf(dry), ['d-0@3'])
  t.same(coordinator.committedOffsets('g'), before, 'nothing written')
  assertError(t, await reset(app, url, 'g', { to: 'offsets', offsets: [{ topic_name: 'd', partition_id: 0, offset: 4 }], dry_run: true }), 400, 40002, 'OFFSET_OUT_OF_RANGE')
})

t.test('a reset needs an existing, empty group and a consistent body', async t => {
  const { app, log, coordinator, url } = await setup(t)
  await log.createTopic('x', { partitions: 2 })
  await fill(log, 'x', 0, [1, 2])
  const { memberId } = await coordinator.join('busy', { subscription: { topics: ['x'] } })
  await coordinator.commitOffsets('g', [{ topic: 'x', partition: 0, offset: 1 }])

  assertError(t, await reset(app, url, 'busy', { to: 'earliest', topics: ['x'] }), 409, 40903, 'NON_EMPTY_GROUP')
  assertError(t, await reset(app, url, 'busy', { to: 'earliest', topics: ['x'], dry_run: true }), 409, 40903, 'NON_EMPTY_GROUP')
  coordinator.leave('busy', memberId)
  t.same(offsetsOf(await reset(app, url, 'busy', { to: 'latest', topics: ['x'] })), ['x-0@2', 'x-1@0'], 'allowed once empty')

  assertError(t, await reset(app, url, 'ghost', { to: 'earliest' }), 404, GROUP_NOT_FOUND.errorCode, 'GROUP_ID_NOT_FOUND')
  assertError(t, await reset(app, '/v3/clusters/nope', 'g', { to: 'earliest' }), 404, 404, 'INVALID_REQUEST')
  assertError(t, await reset(app, url, 'g', { to: 'earliest', topics: ['nope'] }), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await reset(app, url, 'g', { to: 'earliest', partitions: [{ topic_name: 'x', partition_id: 5 }] }), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await reset(app, url, 'g', { to: 'offsets', offsets: [{ topic_name: 'x', partition_id: 0, offset: 3 }] }), 400, 40002, 'OFFSET_OUT_OF_RANGE')

  const invalid: Array<[unknown, RegExp]> = [
    [{}, /must have required property 'to'/],
    [{ to: 'middle' }, /must be equal to one of the allowed values/],
    [{ to: 'earliest', extra: 1 }, /must NOT have additional properties/],
    [{ to: 'earliest', dry_run: 'yes' }, /must be boolean/],
    [{ to: 'timestamp' }, /to=timestamp needs timestamp/],
    [{ to: 'timestamp', timestamp: 'yesterday' }, /body\/timestamp/],
    [{ to: 'latest', timestamp: 5 }, /timestamp goes with to=timestamp only/],
    [{ to: 'offsets' }, /to=offsets needs offsets/],
    [{ to: 'offsets', offsets: [] }, /must NOT have fewer than 1 items/],
    [{ to: 'offsets', offsets: [{ topic_name: 'x', partition_id: 0, offset: 1 }], topics: ['x'] }, /takes no topics or partitions/],
    [{ to: 'earliest', offsets: [{ topic_name: 'x', partition_id: 0, offset: 1 }] }, /offsets goes with to=offsets only/],
    [{ to: 'offsets', offsets: [{ topic_name: 'x', partition_id: 0, offset: -1 }] }, /must be >= 0/]
  ]
  for (const [body, message] of invalid) {
    const res = assertError(t, await reset(app, url, 'g', body), 400, 40001, 'INVALID_REQUEST')
    t.match(res.message, message, JSON.stringify(body))
  }
  t.same(coordinator.committedOffsets('g').map(o => o.committedOffset), [1], 'no refused reset changed anything')
  const text = await app.inject({ method: 'POST', url: `${url}/consumer-groups/g/offsets:reset`, headers: { 'content-type': 'text/plain' }, payload: 'to=earliest' })
  t.equal(text.statusCode, 415)
})
