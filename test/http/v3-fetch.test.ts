import { readFileSync } from 'node:fs'
import { setImmediate } from 'node:timers/promises'
import { Ajv } from 'ajv'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import type { LogStore } from '../../src/log/log-store.js'
import { buildTestServer } from '../helpers/build-test-server.js'

const schema = (name: string): object => JSON.parse(readFileSync(new URL(`../../schemas/${name}.json`, import.meta.url), 'utf8')) as object
const ajv = new Ajv()
for (const name of ['ErrorResponse', 'FetchedRecord', 'FetchResponse']) ajv.addSchema(schema(name))
const isError = ajv.getSchema('ErrorResponse')!
const isFetch = ajv.getSchema('FetchResponse')!

interface Setup { app: FastifyInstance, log: LogStore, clock: ManualClock, topic: string, url: string }

interface Fetched {
  log_start_offset: number
  log_end_offset: number
  high_watermark: number
  next_offset: number
  records: Array<{ offset: number, timestamp: number, key: unknown, value: unknown }>
}

/** A topic with 2 partitions; partition 0 holds `count` records v0…, one per second from t0 = 1_000_000. */
async function setup (t: Test, count = 5): Promise<Setup> {
  const clock = new ManualClock()
  const app = buildTestServer(t, {}, { clock })
  const log = await app.getLog()
  const topic = 'events'
  await log.createTopic(topic, { partitions: 2 })
  if (count > 0) {
    await log.append(topic, 0, Array.from({ length: count }, (_, i) => ({
      key: Buffer.from(`k${i}`),
      value: Buffer.from(`v${i}`),
      timestamp: 1_000_000 + i * 1000
    })))
  }
  return { app, log, clock, topic, url: `/v3/clusters/${log.clusterId}/topics/${topic}/partitions` }
}

async function fetch (s: Setup, query: string, partition = 0): Promise<Fetched> {
  const res = await s.app.inject(`${s.url}/${partition}/records?${query}`)
  if (res.statusCode !== 200) throw new Error(`${res.statusCode} ${res.body}`)
  const body = res.json() as Fetched
  if (isFetch(body) !== true) throw new Error(`not a FetchResponse: ${JSON.stringify(isFetch.errors)}`)
  return body
}

const values = (f: Fetched): unknown[] => f.records.map(r => r.value)

t.test('offset: earliest (the default), latest, a number, timestamp:<ms>', async t => {
  const s = await setup(t)
  const all = await fetch(s, 'format=string')
  t.same(values(all), ['v0', 'v1', 'v2', 'v3', 'v4'])
  t.match(all, { log_start_offset: 0, log_end_offset: 5, high_watermark: 5, next_offset: 5 })
  t.match(all.records[1], { offset: 1, timestamp: 1_001_000, timestamp_type: 'CreateTime', key: 'k1', headers: [] })
  t.same(await fetch(s, 'offset=earliest&format=string'), all)

  const latest = await fetch(s, 'offset=latest')
  t.same(latest.records, [])
  t.equal(latest.next_offset, 5)

  t.same(values(await fetch(s, 'offset=3&format=string')), ['v3', 'v4'])
  t.same(values(await fetch(s, 'offset=timestamp:1002000&format=string')), ['v2', 'v3', 'v4'], 'exact timestamp')
  t.same(values(await fetch(s, 'offset=timestamp:1002500&format=string')), ['v3', 'v4'], 'between timestamps')
  t.same(values(await fetch(s, 'offset=timestamp:0&format=string')), ['v0', 'v1', 'v2', 'v3', 'v4'])
  const none = await fetch(s, 'offset=timestamp:9999999')
  t.same(none.records, [], 'a time after the last record is the log end')
  t.equal(none.next_offset, 5)
})

t.test('max_records and max_bytes page through the partition', async t => {
  const s = await setup(t)
  const page = await fetch(s, 'max_records=2&format=string')
  t.same(values(page), ['v0', 'v1'])
  t.equal(page.next_offset, 2)
  const next = await fetch(s, `offset=${page.next_offset}&max_records=2&format=string`)
  t.same(values(next), ['v2', 'v3'])
  const one = await fetch(s, 'max_bytes=1&format=string')
  t.same(values(one), ['v0'], 'one record even when it is over max_bytes')
  t.equal(one.next_offset, 1)
})

t.test('formats: binary is the default, json parses, nulls stay null', async t => {
  const s = await setup(t, 0)
  await s.log.append(s.topic, 1, [{ key: null, value: Buffer.from('{"a":1}') }, { key: Buffer.from('x'), value: null }])
  const binary = await fetch(s, '', 1)
  t.same(binary.records.map(r => [r.key, r.value]), [[null, Buffer.from('{"a":1}').toString('base64')], [Buffer.from('x').toString('base64'), null]])
  const json = await fetch(s, 'max_records=1&format=json', 1)
  t.same(json.records.map(r => [r.key, r.value]), [[null, { a: 1 }]])
  const notJson = await s.app.inject(`${s.url}/1/records?offset=1&format=json`)
  t.equal(notJson.statusCode, 422, 'bytes that are not JSON are not guessed at')
  t.match(notJson.json(), { error_code: 42206, code: 'INVALID_RECORD', message: /key at offset 1 is not JSON/ })
})

t.test('a fetch at the log end waits for a produce, and returns it', async t => {
  const s = await setup(t, 2)
  const pending = fetch(s, 'offset=latest&timeout_ms=60000&format=string')
  while (s.clock.pending === 0) await setImmediate()
  t.equal(s.clock.pending, 1, 'the fetch is waiting')
  const produced = await s.app.inject({
    method: 'POST',
    url: `/v3/clusters/${s.log.clusterId}/topics/${s.topic}/records`,
    payload: { partition_id: 0, value: { type: 'STRING', data: 'late' } }
  })
  t.equal(produced.statusCode, 200)
  const woken = await pending
  t.same(woken.records.map(r => [r.offset, r.value]), [[2, 'late']])
  t.equal(s.clock.pending, 0, 'the wait timer is cleared')
})

t.test('a fetch at the log end answers empty when the timeout passes', async t => {
  const s = await setup(t, 1)
  const pending = fetch(s, 'offset=1&timeout_ms=500')
  while (s.clock.pending === 0) await setImmediate()
  await s.clock.advance(500)
  const res = await pending
  t.same(res.records, [])
  t.equal(res.next_offset, 1)
})

t.test('repeating a fetch answers the same bytes and changes nothing', async t => {
  const s = await setup(t)
  const url = `${s.url}/0/records?offset=1&max_records=3`
  const first = await s.app.inject(url)
  const second = await s.app.inject(url)
  t.equal(first.statusCode, 200)
  t.equal(second.body, first.body)
  t.same(s.log.partitionInfo(s.topic, 0), { partition: 0, logStartOffset: 0, logEndOffset: 5, highWatermark: 5, sizeBytes: s.log.partitionInfo(s.topic, 0).sizeBytes })
})

t.test('errors', async t => {
  const s = await setup(t)
  const expectError = async (url: string, status: number, errorCode: number, code: string): Promise<void> => {
    const res = await s.app.inject(url)
    t.equal(res.statusCode, status, url)
    t.match(res.json(), { error_code: errorCode, code }, url)
    t.ok(isError(res.json()), 'matches ErrorResponse')
  }
  await expectError(`${s.url}/0/records?offset=6`, 400, 40002, 'OFFSET_OUT_OF_RANGE')
  await expectError(`${s.url}/0/records?offset=first`, 400, 40001, 'INVALID_REQUEST')
  await expectError(`${s.url}/0/records?offset=-1`, 400, 40001, 'INVALID_REQUEST')
  await expectError(`${s.url}/0/records?max_records=0`, 400, 40001, 'INVALID_REQUEST')
  await expectError(`${s.url}/0/records?max_records=10001`, 400, 40001, 'INVALID_REQUEST')
  await expectError(`${s.url}/0/records?max_bytes=0`, 400, 40001, 'INVALID_REQUEST')
  await expectError(`${s.url}/0/records?max_bytes=67108865`, 400, 40001, 'INVALID_REQUEST')
  await expectError(`${s.url}/0/records?timeout_ms=60001`, 400, 40001, 'INVALID_REQUEST')
  await expectError(`${s.url}/0/records?format=avro`, 400, 40001, 'INVALID_REQUEST')
  await expectError(`${s.url}/2/records`, 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  await expectError(`/v3/clusters/${s.log.clusterId}/topics/nope/partitions/0/records`, 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  const cluster = await s.app.inject(`/v3/clusters/other/topics/${s.topic}/partitions/0/records`)
  t.equal(cluster.statusCode, 404)
  t.match(cluster.json(), { error_code: 404 })
})
