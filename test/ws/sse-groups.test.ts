import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { Ajv } from 'ajv'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import { GroupCoordinator } from '../../src/groups/group-coordinator.js'
import { LogStore } from '../../src/log/log-store.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { listen, SseClient, type SseRecord } from './sse-client.js'

const ajv = new Ajv()
ajv.addSchema(JSON.parse(readFileSync(new URL('../../schemas/SseErrorEvent.json', import.meta.url), 'utf8')) as object)
const isErrorEvent = ajv.getSchema('SseErrorEvent')!

interface Setup { app: FastifyInstance, log: LogStore, clock: ManualClock, base: string, path: string }

interface Lag { partition_id: number, current_offset: number, consumer_id: string }

async function setup (t: Test, partitions: number): Promise<Setup> {
  const clock = new ManualClock()
  const app = buildTestServer(t, {}, { clock })
  const log = await app.getLog()
  await log.createTopic('rides', { partitions })
  const base = await listen(app)
  return { app, log, clock, base, path: `/v3/clusters/${log.clusterId}/topics/rides/events` }
}

async function member (t: Test, s: Setup, group: string, query = 'auto_offset_reset=earliest&format=string'): Promise<SseClient> {
  const client = await SseClient.open(`${s.base}${s.path}?group=${group}&${query}`)
  t.teardown(() => client.close())
  t.equal(client.status, 200, 'the group stream opens')
  return client
}

async function append (s: Setup, partition: number, values: string[]): Promise<void> {
  await s.log.append('rides', partition, values.map(value => ({ value: Buffer.from(value) })))
}

/** The group's lag per partition, as GET …/lags shows it (committed offset and owner). */
async function lags (s: Setup, group: string): Promise<Lag[]> {
  const res = await s.app.inject(`/v3/clusters/${s.log.clusterId}/consumer-groups/${group}/lags`)
  if (res.statusCode !== 200) return []
  return ((res.json() as { data: Lag[] }).data).sort((a, b) => a.partition_id - b.partition_id)
}

/** Lets the server work (injected clock still) until `check` holds; a bounded number of turns. */
async function until (s: Setup, what: string, check: () => Promise<boolean>): Promise<void> {
  for (let turn = 0; turn < 200; turn++) {
    if (await check()) return
    await s.clock.advance(0)
  }
  throw new Error(`never: ${what}`)
}

/** The member ids that own partitions now, from the group's consumers view. */
async function owners (s: Setup, group: string): Promise<Map<number, string>> {
  const res = await s.app.inject(`/v3/clusters/${s.log.clusterId}/consumer-groups/${group}/consumers`)
  const owned = new Map<number, string>()
  if (res.statusCode !== 200) return owned
  for (const consumer of (res.json() as { data: Array<{ consumer_id: string }> }).data) {
    const assignments = await s.app.inject(`/v3/clusters/${s.log.clusterId}/consumer-groups/${group}/consumers/${consumer.consumer_id}/assignments`)
    for (const a of (assignments.json() as { data: Array<{ partition_id: number }> }).data) owned.set(a.partition_id, consumer.consumer_id)
  }
  return owned
}

const values = (records: SseRecord[]): unknown[] => records.map(r => r.value)

t.test('two SSE members of one group split the partitions; when one goes away the other takes its partitions from the committed offset', async t => {
  const s = await setup(t, 2)
  const a = await member(t, s, 'dash')
  const b = await member(t, s, 'dash')
  await until(s, 'each member owns one partition', async () => new Set((await owners(s, 'dash')).values()).size === 2)

  await append(s, 0, ['p0-0', 'p0-1'])
  await append(s, 1, ['p1-0', 'p1-1'])
  const fromA = await a.records(2)
  const fromB = await b.records(2)
  const partitionOfA = fromA[0]?.partition
  t.same(fromA.map(r => r.partition), [partitionOfA, partitionOfA], 'a reads one partition')
  t.same(fromB.map(r => r.partition), [1 - (partitionOfA ?? 0), 1 - (partitionOfA ?? 0)], 'b reads the other')
  t.same([...values(fromA), ...values(fromB)].sort(), ['p0-0', 'p0-1', 'p1-0', 'p1-1'])
  t.same(fromA.map(r => r.id), [`${partitionOfA}:1`, `${partitionOfA}:2`], 'a group stream\'s ids name the partitions it streams')

  a.close()
  await until(s, 'a left and committed', async () => (await owners(s, 'dash')).size === 2 && new Set((await owners(s, 'dash')).values()).size === 1)
  t.match((await lags(s, 'dash')).find(l => l.partition_id === partitionOfA), { current_offset: 2 }, 'a committed what it sent when it went away')

  await append(s, 0, ['p0-2'])
  await append(s, 1, ['p1-2'])
  const taken = await b.records(2)
  t.same(values(taken).sort(), ['p0-2', 'p1-2'], 'b now reads both partitions, a\'s from where a stopped: nothing again, nothing skipped')
})

t.test('a group stream commits as it goes and a new stream of the group resumes at the committed offset', async t => {
  const s = await setup(t, 1)
  await append(s, 0, ['r0', 'r1', 'r2'])
  const first = await member(t, s, 'resume')
  t.same(values(await first.records(3)), ['r0', 'r1', 'r2'])

  // Still connected: the commit comes with the next poll after 5 s of the injected clock.
  await until(s, 'the commit while streaming', async () => {
    await s.clock.advance(1_000)
    return (await lags(s, 'resume'))[0]?.current_offset === 3
  })
  await append(s, 0, ['r3'])
  t.match(await first.records(1), [{ value: 'r3', id: '0:4' }])
  first.close()
  await until(s, 'the commit on disconnect', async () => (await lags(s, 'resume'))[0]?.current_offset === 4)

  await append(s, 0, ['r4', 'r5'])
  const second = await member(t, s, 'resume')
  t.same(values(await second.records(2)), ['r4', 'r5'], 'exactly the records after the committed offset')
})

t.test('auto_offset_reset: latest (the default) skips what is there; none ends the stream without a committed offset', async t => {
  const s = await setup(t, 1)
  await append(s, 0, ['old'])
  const latest = await member(t, s, 'fresh', 'format=string')
  await until(s, 'it owns the partition', async () => (await owners(s, 'fresh')).size === 1)
  await append(s, 0, ['new'])
  t.same(values(await latest.records(1)), ['new'])

  const none = await member(t, s, 'strict', 'auto_offset_reset=none&format=string')
  const [failure] = await none.events(1)
  t.equal(failure?.event, 'stream-error')
  const data = JSON.parse(failure?.data ?? '{}') as Record<string, unknown>
  t.match(data, { code: 'NO_OFFSET_FOR_PARTITION' })
  t.ok(isErrorEvent(data), 'matches SseErrorEvent')
  t.equal(await none.next(), undefined, 'the stream ends')
  await until(s, 'it left the group', async () => (await owners(s, 'strict')).size === 0)
})

t.test('an SSE member and an HTTP v2 consumer share a group', async t => {
  const s = await setup(t, 2)
  const sse = await member(t, s, 'mixed')
  const v2 = { 'content-type': 'application/vnd.kafka.v2+json' }
  t.equal((await s.app.inject({ method: 'POST', url: '/consumers/mixed', headers: v2, payload: { name: 'rest', format: 'binary', 'auto.offset.reset': 'earliest' } })).statusCode, 200)
  t.equal((await s.app.inject({ method: 'POST', url: '/consumers/mixed/instances/rest/subscription', headers: v2, payload: { topics: ['rides'] } })).statusCode, 204)
  // A records request of the REST member, with the injected clock moved until it answers.
  const restRecords = async (): Promise<string[]> => {
    const state = { done: false }
    const pending = s.app.inject({ url: '/consumers/mixed/instances/rest/records?timeout=1000', headers: { accept: 'application/vnd.kafka.binary.v2+json' } })
      .finally(() => { state.done = true })
    for (let round = 0; round < 50 && !state.done; round++) await s.clock.advance(100)
    const res = await pending
    t.equal(res.statusCode, 200, 'records request')
    return (res.json() as Array<{ value: string }>).map(r => Buffer.from(r.value, 'base64').toString())
  }
  // The REST member takes part in the rebalance through its records requests.
  await until(s, 'both members own a partition', async () => {
    t.same(await restRecords(), [], 'nothing to read yet')
    return new Set((await owners(s, 'mixed')).values()).size === 2
  })
  await append(s, 0, ['x0'])
  await append(s, 1, ['x1'])
  const [record] = await sse.records(1)
  t.ok(record !== undefined && ['x0', 'x1'].includes(String(record.value)), 'the SSE member reads its partition')
  t.same([String(record?.value), ...await restRecords()].sort(), ['x0', 'x1'], 'the REST member reads the other')
})

t.test('app.close() ends group streams: they commit and leave before the coordinator closes', async t => {
  const s = await setup(t, 1)
  await append(s, 0, ['c0', 'c1'])
  const client = await member(t, s, 'closing')
  t.same(values(await client.records(2)), ['c0', 'c1'])
  await s.app.close()
  t.equal(await client.next(), undefined, 'the stream ended')

  // What the group committed is on disk: open the data dir again, as a restarted server would.
  const log = await LogStore.open({ dataDir: join(t.testdirName, 'data'), clock: s.clock, retentionCheckIntervalMs: 0 })
  t.teardown(() => log.close())
  const groups = await GroupCoordinator.open({ log, clock: s.clock })
  t.teardown(() => groups.close())
  t.equal(groups.committedOffset('closing', 'rides', 0)?.committedOffset, 2, 'the stream committed what it sent')
  t.same(groups.describeGroup('closing').members, [], 'and left the group')
})
