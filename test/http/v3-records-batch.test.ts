import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { partitionForKey } from '../../src/log/murmur2.js'
import type { CreateTopicOptions } from '../../src/log/types.js'
import { buildTestServer } from '../helpers/build-test-server.js'

const schema = (name: string): object => JSON.parse(readFileSync(new URL(`../../schemas/${name}.json`, import.meta.url), 'utf8')) as object
const ajv = new Ajv()
for (const name of ['ErrorResponse', 'ProducedData', 'ProduceBatchResponse']) ajv.addSchema(schema(name))
const isBatchResponse = ajv.getSchema('ProduceBatchResponse')!
const isError = ajv.getSchema('ErrorResponse')!

interface Setup { app: FastifyInstance, clusterId: string, topic: string, base: string }

interface BatchResponse {
  successes: Array<Record<string, unknown> & { id: string }>
  failures: Array<{ id: string, error_code: number, message: string, code: string }>
}

async function setup (t: Test, options: CreateTopicOptions = { partitions: 1 }): Promise<Setup> {
  const app = buildTestServer(t)
  const log = await app.getLog()
  const topic = 'orders'
  await log.createTopic(topic, options)
  return { app, clusterId: log.clusterId, topic, base: `/v3/clusters/${log.clusterId}/topics/${topic}` }
}

async function batch (s: Setup, payload: unknown, topic = s.topic): Promise<LightMyRequestResponse> {
  return await s.app.inject({ method: 'POST', url: `/v3/clusters/${s.clusterId}/topics/${topic}/records:batch`, payload: payload as object })
}

function multiStatus (t: Test, res: LightMyRequestResponse): BatchResponse {
  t.equal(res.statusCode, 207, '207 Multi-Status')
  const body = res.json() as BatchResponse
  t.ok(isBatchResponse(body), 'matches ProduceBatchResponse')
  return body
}

function assertError (t: Test, res: LightMyRequestResponse, status: number, errorCode: number, code: string, message?: RegExp): void {
  t.equal(res.statusCode, status, 'status')
  const body = res.json() as Record<string, unknown>
  t.match(body, { error_code: errorCode, code, message: message ?? String }, 'error body')
  t.ok(isError(body), 'matches ErrorResponse')
}

async function endOffsets (s: Setup): Promise<number[]> {
  const log = await s.app.getLog()
  return log.partitions(s.topic).map(p => p.logEndOffset)
}

const value = (data: string): object => ({ type: 'STRING', data })

t.test('every entry produced: successes by id, in request order, with where each was written', async t => {
  const s = await setup(t, { partitions: 4 })
  const keys = ['a', 'user-42', 'é', 'orders', 'b']
  const entries = keys.map((k, i) => ({ id: `e-${i}`, key: { type: 'STRING', data: k }, value: value(`v${i}`) }))
  const body = multiStatus(t, await batch(s, { entries }))
  t.same(body.failures, [])
  t.same(body.successes.map(e => e.id), entries.map(e => e.id), 'in request order')
  const log = await s.app.getLog()
  for (const [i, k] of keys.entries()) {
    t.match(body.successes[i], {
      id: `e-${i}`,
      cluster_id: s.clusterId,
      topic_name: s.topic,
      partition_id: partitionForKey(Buffer.from(k), 4),
      offset: Number,
      timestamp: String,
      key: { type: 'STRING', size: Buffer.byteLength(k) },
      value: { type: 'STRING', size: 2 }
    }, `key ${k} lands where murmur2 says`)
  }
  const written = body.successes.map(e => `${String(e.partition_id)}:${String(e.offset)}`)
  t.equal(new Set(written).size, written.length, 'each at its own offset')
  t.same(log.partitions(s.topic).reduce((n, p) => n + p.logEndOffset, 0), keys.length)
})

t.test('headers and timestamps round trip through fetch; unkeyed entries spread; partition_id is obeyed', async t => {
  const s = await setup(t, { partitions: 3 })
  const timestamp = '2025-02-05T19:14:42.123Z'
  const body = multiStatus(t, await batch(s, {
    entries: [
      { id: 'with-headers', partition_id: 2, headers: [{ name: 'h', value: 'SGVhZGVyLTE=' }, { name: 'h', value: null }], value: value('x'), timestamp },
      { id: 'epoch', partition_id: 2, value: { type: 'JSON', data: { n: 1 } }, timestamp: 1700000000000 },
      { id: 'null-value', partition_id: 2, key: { type: 'BINARY', data: 'AAEC' } },
      ...Array.from({ length: 6 }, (_, i) => ({ id: `rr-${i}`, value: value('r') }))
    ]
  }))
  t.same(body.failures, [])
  t.match(body.successes.slice(0, 3), [
    { id: 'with-headers', partition_id: 2, offset: 0, timestamp },
    { id: 'epoch', partition_id: 2, offset: 1, timestamp: new Date(1700000000000).toISOString(), value: { type: 'JSON', size: 7 } },
    { id: 'null-value', partition_id: 2, offset: 2, key: { type: 'BINARY', size: 3 }, value: null }
  ])
  t.same(await endOffsets(s), [2, 2, 5], 'unkeyed entries go round-robin')

  const fetched = await s.app.inject(`${s.base}/partitions/2/records?offset=0`)
  t.equal(fetched.statusCode, 200)
  t.match((fetched.json() as { records: unknown[] }).records.slice(0, 3), [
    { offset: 0, timestamp: Date.parse(timestamp), timestamp_type: 'CreateTime', value: Buffer.from('x').toString('base64'), headers: [{ name: 'h', value: 'SGVhZGVyLTE=' }, { name: 'h', value: null }] },
    { offset: 1, timestamp: 1700000000000, value: Buffer.from('{"n":1}').toString('base64'), headers: [] },
    { offset: 2, key: 'AAEC', value: null }
  ])
})

t.test('some entries fail: each failure carries its id and the error a single produce would answer; the others are written', async t => {
  const s = await setup(t, { partitions: 2, configs: { 'max.message.bytes': 200 } })
  const body = multiStatus(t, await batch(s, {
    entries: [
      { id: 'ok-1', partition_id: 0, value: value('a') },
      { id: 'no-partition', partition_id: 9, value: value('b') },
      { id: 'too-large', partition_id: 1, value: value('x'.repeat(300)) },
      { id: 'bad-base64', value: { type: 'BINARY', data: 'not base64!' } },
      { id: 'bad-header', headers: [{ name: 'h', value: '***' }] },
      { id: 'negative', partition_id: -1 },
      { id: 'ok-2', partition_id: 1, value: value('c') }
    ]
  }))
  t.match(body.successes, [{ id: 'ok-1', partition_id: 0, offset: 0 }, { id: 'ok-2', partition_id: 1, offset: 0 }])
  t.equal(body.successes.length, 2)
  t.match(body.failures, [
    { id: 'no-partition', error_code: 40402, code: 'UNKNOWN_TOPIC_OR_PARTITION', message: /Partition 9/ },
    { id: 'too-large', error_code: 42206, code: 'MESSAGE_TOO_LARGE', message: /max\.message\.bytes/ },
    { id: 'bad-base64', error_code: 40001, code: 'INVALID_REQUEST', message: /base64/ },
    { id: 'bad-header', error_code: 40001, code: 'INVALID_REQUEST', message: /headers\[0\]/ },
    { id: 'negative', error_code: 40402, code: 'UNKNOWN_TOPIC_OR_PARTITION' }
  ])
  t.equal(body.failures.length, 5)
  t.same(await endOffsets(s), [1, 1], 'only the good entries were written')
})

t.test('every entry failed: still 207, everything in failures', async t => {
  const s = await setup(t, { partitions: 1, configs: { 'max.message.bytes': 100 } })
  const body = multiStatus(t, await batch(s, {
    entries: [
      { id: 'a', partition_id: 1 },
      { id: 'b', value: value('x'.repeat(200)) }
    ]
  }))
  t.same(body.successes, [])
  t.match(body.failures, [{ id: 'a', error_code: 40402 }, { id: 'b', error_code: 42206 }])
  t.same(await endOffsets(s), [0])
})

t.test('the request itself is refused, with nothing written', async t => {
  const s = await setup(t)
  const good = { id: 'a', value: value('x') }
  assertError(t, await batch(s, { entries: [good, { id: 'b', value: value('y') }, { id: 'a', value: value('z') }] }), 400, 40001, 'INVALID_REQUEST', /Entry id 'a' is used more than once/)
  assertError(t, await batch(s, { entries: [] }), 400, 40001, 'INVALID_REQUEST', /entries/)
  assertError(t, await batch(s, {}), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await batch(s, { entries: [good], validate_only: true }), 400, 40001, 'INVALID_REQUEST', /additional properties/)
  assertError(t, await batch(s, { entries: [{ ...good, extra: 1 }] }), 400, 40001, 'INVALID_REQUEST', /additional properties/)
  assertError(t, await batch(s, { entries: [{ ...good, value: { type: 'STRING', data: 'x', extra: 1 } }] }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await batch(s, { entries: [{ value: value('x') }] }), 400, 40001, 'INVALID_REQUEST', /id/)
  for (const id of ['', 'has space', 'x'.repeat(81), 'é', 7, null]) {
    assertError(t, await batch(s, { entries: [{ ...good, id }] }), 400, 40001, 'INVALID_REQUEST', /id/)
  }
  assertError(t, await batch(s, { entries: [{ ...good, partition_id: '0' }] }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await batch(s, { entries: [good] }, 'nope'), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  const wrongCluster = await s.app.inject({ method: 'POST', url: `/v3/clusters/other/topics/${s.topic}/records:batch`, payload: { entries: [good] } })
  assertError(t, wrongCluster, 404, 404, 'INVALID_REQUEST', /Cluster other cannot be found/)
  const notJson = await s.app.inject({ method: 'POST', url: `${s.base}/records:batch`, headers: { 'content-type': 'text/plain' }, payload: JSON.stringify({ entries: [good] }) })
  assertError(t, notJson, 415, 415, 'INVALID_REQUEST')
  const malformed = await s.app.inject({ method: 'POST', url: `${s.base}/records:batch`, headers: { 'content-type': 'application/json' }, payload: '{"entries":[' })
  assertError(t, malformed, 400, 40001, 'INVALID_REQUEST')
  const yaml = await s.app.inject({ method: 'POST', url: `${s.base}/records:batch`, headers: { accept: 'text/yaml' }, payload: { entries: [good] } })
  assertError(t, yaml, 406, 406, 'INVALID_REQUEST')
  t.same(await endOffsets(s), [0], 'nothing was written')
})

t.test('at most 1000 entries; all of a batch share group commits', async t => {
  const s = await setup(t)
  const entries = (n: number): object[] => Array.from({ length: n }, (_, i) => ({ id: `e${i}`, value: value(`v${i}`) }))
  assertError(t, await batch(s, { entries: entries(1001) }), 400, 40001, 'INVALID_REQUEST', /more than 1000 items/)
  t.same(await endOffsets(s), [0], 'nothing was written')

  const log = await s.app.getLog()
  let commits = 0
  const unsubscribe = log.onAppend(() => { commits++ })
  const body = multiStatus(t, await batch(s, { entries: entries(1000) }))
  unsubscribe()
  t.equal(body.successes.length, 1000)
  t.ok(body.successes.every((e, i) => e.id === `e${i}` && e.offset === i), 'in request order, offsets dense')
  t.ok(commits < 10, `1000 entries became visible in ${commits} commit(s)`)
})
