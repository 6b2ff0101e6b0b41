import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { partitionForKey } from '../../src/log/murmur2.js'
import type { CreateTopicOptions } from '../../src/log/types.js'
import { buildTestServer } from '../helpers/build-test-server.js'

const schema = (name: string): object => JSON.parse(readFileSync(new URL(`../../schemas/${name}.json`, import.meta.url), 'utf8')) as object
const ajv = new Ajv()
for (const name of ['ErrorResponse', 'ProducedData', 'ProduceResponse']) ajv.addSchema(schema(name))
const isError = ajv.getSchema('ErrorResponse')!
const isReport = ajv.getSchema('ProduceResponse')!

interface Setup { app: FastifyInstance, clusterId: string, topic: string, base: string }

async function setup (t: Test, options: CreateTopicOptions = { partitions: 1 }): Promise<Setup> {
  const app = buildTestServer(t)
  const log = await app.getLog()
  const topic = 'orders'
  await log.createTopic(topic, options)
  return { app, clusterId: log.clusterId, topic, base: `/v3/clusters/${log.clusterId}/topics/${topic}` }
}

async function produce (s: Setup, payload: unknown, topic = s.topic): Promise<LightMyRequestResponse> {
  return await s.app.inject({ method: 'POST', url: `/v3/clusters/${s.clusterId}/topics/${topic}/records`, payload: payload as object })
}

function assertError (t: Test, res: { statusCode: number, json: () => unknown }, status: number, errorCode: number, code: string): void {
  t.equal(res.statusCode, status, 'status')
  const body = res.json() as Record<string, unknown>
  t.match(body, { error_code: errorCode, code, message: String }, 'error body')
  t.ok(isError(body), 'matches ErrorResponse')
}

t.test('each type round-trips through fetch: key, value, headers, timestamp', async t => {
  const s = await setup(t)
  const cases = [
    { key: { type: 'BINARY', data: Buffer.from([0, 1, 255]).toString('base64') }, value: { type: 'BINARY', data: Buffer.from('héllo').toString('base64') } },
    { key: { type: 'STRING', data: 'k-é' }, value: { type: 'STRING', data: 'plain text ✓' } },
    { key: { type: 'JSON', data: { id: 7 } }, value: { type: 'JSON', data: { foo: ['bar', 1, null, true] } } }
  ]
  const timestamp = '2025-02-05T19:14:42.123Z'
  for (const [i, c] of cases.entries()) {
    const res = await produce(s, { ...c, timestamp, headers: [{ name: 'h', value: 'SGVhZGVyLTE=' }, { name: 'h', value: null }] })
    t.equal(res.statusCode, 200, res.body)
    const report = res.json() as Record<string, unknown>
    t.ok(isReport(report), 'matches ProduceResponse')
    t.same(report, {
      error_code: 200,
      cluster_id: s.clusterId,
      topic_name: s.topic,
      partition_id: 0,
      offset: i,
      timestamp,
      key: { type: c.key.type, size: bytesOf(c.key).length },
      value: { type: c.value.type, size: bytesOf(c.value).length }
    })
  }

  const fetched = await s.app.inject(`${s.base}/partitions/0/records?offset=0`)
  t.equal(fetched.statusCode, 200)
  const records = (fetched.json() as { records: Array<Record<string, unknown>> }).records
  t.equal(records.length, 3)
  for (const [i, c] of cases.entries()) {
    t.same(records[i], {
      offset: i,
      timestamp: Date.parse(timestamp),
      timestamp_type: 'CreateTime',
      key: bytesOf(c.key).toString('base64'),
      value: bytesOf(c.value).toString('base64'),
      headers: [{ name: 'h', value: 'SGVhZGVyLTE=' }, { name: 'h', value: null }]
    }, `${c.value.type} as binary`)
  }
  const asJson = await s.app.inject(`${s.base}/partitions/0/records?offset=2&format=json`)
  t.match(asJson.json(), { records: [{ key: { id: 7 }, value: { foo: ['bar', 1, null, true] } }] })
  const asString = await s.app.inject(`${s.base}/partitions/0/records?offset=1&max_records=1&format=string`)
  t.match(asString.json(), { records: [{ key: 'k-é', value: 'plain text ✓' }] })
})

t.test('absent or null key and value are stored as null; epoch-ms timestamps work', async t => {
  const s = await setup(t)
  const res = await produce(s, { key: { type: 'JSON', data: null }, timestamp: 1700000000000 })
  t.match(res.json(), { offset: 0, key: null, value: null, timestamp: new Date(1700000000000).toISOString() })
  const fetched = await s.app.inject(`${s.base}/partitions/0/records?format=json`)
  t.match(fetched.json(), { records: [{ key: null, value: null, headers: [], timestamp: 1700000000000 }] })
})

t.test('keyed records land on the partition murmur2 picks; null keys spread', async t => {
  const s = await setup(t, { partitions: 5 })
  const log = await s.app.getLog()
  for (const k of ['a', 'b', 'user-42', 'é', 'orders']) {
    const res = await produce(s, { key: { type: 'STRING', data: k }, value: { type: 'STRING', data: 'v' } })
    const expected = partitionForKey(Buffer.from(k), 5)
    t.equal((res.json() as { partition_id: number }).partition_id, expected, `key ${k}`)
    t.equal(log.partitionFor(s.topic, Buffer.from(k)), expected)
  }
  const before = log.partitions(s.topic).map(p => p.logEndOffset)
  const seen = new Set<number>()
  for (let i = 0; i < 10; i++) {
    const res = await produce(s, { value: { type: 'STRING', data: `v${i}` } })
    seen.add((res.json() as { partition_id: number }).partition_id)
  }
  t.equal(seen.size, 5, 'unkeyed records use every partition')
  const added = log.partitions(s.topic).map((p, i) => p.logEndOffset - (before[i] ?? 0))
  t.same(added, [2, 2, 2, 2, 2], 'round-robin')
  const explicit = await produce(s, { partition_id: 3, key: { type: 'STRING', data: 'a' } })
  t.match(explicit.json(), { partition_id: 3 })
})

t.test('errors', async t => {
  const s = await setup(t, { partitions: 2, configs: { 'max.message.bytes': 200 } })
  assertError(t, await produce(s, { value: { type: 'STRING', data: 'x' } }, 'nope'), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await produce(s, { partition_id: 2, value: { type: 'STRING', data: 'x' } }), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await produce(s, { partition_id: -1, value: { type: 'STRING', data: 'x' } }), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await produce(s, { value: { type: 'BINARY', data: 'not base64!' } }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await produce(s, { value: { type: 'BINARY', data: 'abcde' } }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await produce(s, { headers: [{ name: 'h', value: '***' }] }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await produce(s, { value: { type: 'STRING', data: 'x' }, extra: 1 }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await produce(s, { value: { type: 'STRING', data: 'x', extra: 1 } }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await produce(s, { partition_id: '1', value: { type: 'STRING', data: 'x' } }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await produce(s, { value: { type: 'STRING', data: 5 } }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await produce(s, { value: { type: 'AVRO', data: 'x' } }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await produce(s, { value: { type: 'STRING', data: 'x' }, timestamp: 'yesterday' }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await produce(s, { value: { type: 'STRING', data: 'x'.repeat(300) } }), 422, 42206, 'MESSAGE_TOO_LARGE')
  const wrongCluster = await s.app.inject({ method: 'POST', url: `/v3/clusters/other/topics/${s.topic}/records`, payload: {} })
  t.equal(wrongCluster.statusCode, 404)
  t.match(wrongCluster.json(), { error_code: 404, message: 'Cluster other cannot be found.' })

  const log = await s.app.getLog()
  t.same(log.partitions(s.topic).map(p => p.logEndOffset), [0, 0], 'nothing was written')
})

t.test('streaming mode: concatenated JSON objects get one report per record, in order', async t => {
  const s = await setup(t, { partitions: 2, configs: { 'max.message.bytes': 200 } })
  const records = [
    { partition_id: 1, value: { type: 'STRING', data: 'a' } },
    { partition_id: 1, value: { type: 'STRING', data: 'x'.repeat(300) } },
    { partition_id: 0, key: { type: 'JSON', data: { '}': '{"' } }, value: { type: 'JSON', data: [1, '\\', '"'] } },
    { partition_id: 1, value: { type: 'BINARY', data: '!!' } },
    { partition_id: 1, value: { type: 'STRING', data: 'b' }, extra: true },
    { partition_id: 5, value: { type: 'STRING', data: 'c' } },
    { partition_id: 1, value: { type: 'STRING', data: 'd' } }
  ]
  // Concatenated, with and without whitespace between objects, as Confluent clients send them.
  const payload = records.map((r, i) => JSON.stringify(r) + (i % 2 === 0 ? '' : '\n ')).join('')
  const res = await s.app.inject({ method: 'POST', url: `${s.base}/records`, headers: { 'content-type': 'application/json' }, payload })
  t.equal(res.statusCode, 200)
  const lines = res.body.trim().split('\n').map(line => JSON.parse(line) as Record<string, unknown>)
  t.equal(lines.length, records.length, 'one line per record')
  t.match(lines[0], { error_code: 200, partition_id: 1, offset: 0 })
  t.match(lines[1], { error_code: 42206, code: 'MESSAGE_TOO_LARGE' })
  t.match(lines[2], { error_code: 200, partition_id: 0, offset: 0, key: { type: 'JSON' } })
  t.match(lines[3], { error_code: 40001, code: 'INVALID_REQUEST', message: /base64/ })
  t.match(lines[4], { error_code: 40001, code: 'INVALID_REQUEST', message: /record 4/ })
  t.match(lines[5], { error_code: 40402, code: 'UNKNOWN_TOPIC_OR_PARTITION' })
  t.match(lines[6], { error_code: 200, partition_id: 1, offset: 1 })
  for (const line of lines) t.ok(line.error_code === 200 ? isReport(line) : isError(line), 'report or error shape')

  const p0 = await s.app.inject(`${s.base}/partitions/0/records?format=json`)
  t.match(p0.json(), { records: [{ key: { '}': '{"' }, value: [1, '\\', '"'] }] }, 'braces and quotes inside strings are kept')
  const p1 = await s.app.inject(`${s.base}/partitions/1/records?format=string`)
  t.same((p1.json() as { records: Array<{ value: unknown }> }).records.map(r => r.value), ['a', 'd'])
})

t.test('streaming mode: each report says what its record was stored as, records alike or not', async t => {
  const s = await setup(t, { partitions: 2 })
  const datas = [
    { type: 'STRING', data: 'aa' }, { type: 'STRING', data: 'aa' }, { type: 'STRING', data: 'bbb' }, { type: 'STRING', data: 'é✓' },
    { type: 'JSON', data: 'aa' }, { type: 'JSON', data: { x: [1, 2] } }, { type: 'BINARY', data: Buffer.from([0, 1, 2]).toString('base64') }
  ]
  const records = Array.from({ length: 60 }, (_, i) => {
    const value = datas[i % datas.length] as { type: string, data: unknown }
    return { partition_id: i % 5 === 4 ? 1 : 0, value, ...(i % 3 === 0 ? { key: value } : {}) }
  })
  const res = await s.app.inject({ method: 'POST', url: `${s.base}/records`, headers: { 'content-type': 'application/json' }, payload: records.map(r => JSON.stringify(r)).join('\n') })
  t.equal(res.statusCode, 200)
  const lines = res.body.trim().split('\n').map(line => JSON.parse(line) as Record<string, unknown>)
  const next = [0, 0]
  t.same(lines, records.map(r => {
    const size = (d: { type: string, data: unknown }): object => ({ type: d.type, size: bytesOf(d).length })
    return {
      error_code: 200,
      cluster_id: lines[0]?.cluster_id,
      topic_name: s.topic,
      partition_id: r.partition_id,
      offset: (next[r.partition_id] = (next[r.partition_id] ?? 0) + 1) - 1,
      timestamp: lines[0]?.timestamp,
      key: r.key === undefined ? null : size(r.key),
      value: size(r.value)
    }
  }))
})

t.test('a body that is not a JSON object is a 400 and writes nothing', async t => {
  const s = await setup(t)
  for (const payload of ['', '  \n', '[1]', '"text"', '{"value":{"type":"STRING","data":"a"}', '{"value":}', 'nul']) {
    const res = await s.app.inject({ method: 'POST', url: `${s.base}/records`, headers: { 'content-type': 'application/json' }, payload })
    assertError(t, res, 400, 40001, 'INVALID_REQUEST')
    t.match(res.json(), { message: /^Body is not valid JSON/ }, JSON.stringify(payload))
  }
  const log = await s.app.getLog()
  t.equal(log.partitionInfo(s.topic, 0).logEndOffset, 0, 'nothing was written')
})

t.test('one object, with whitespace around it, is a single produce: the status is its outcome', async t => {
  const s = await setup(t, { partitions: 2 })
  const ok = await s.app.inject({ method: 'POST', url: `${s.base}/records`, headers: { 'content-type': 'application/json' }, payload: '\n  {"partition_id":1,"value":{"type":"STRING","data":"a"}}\r\n\n' })
  t.equal(ok.statusCode, 200)
  t.match(ok.headers['content-type'], /^application\/json/)
  t.same(ok.json(), { ...ok.json() as object, error_code: 200, partition_id: 1, offset: 0 })
  t.ok(isReport(ok.json()), 'matches ProduceResponse')
  assertError(t, await s.app.inject({ method: 'POST', url: `${s.base}/records`, headers: { 'content-type': 'application/json' }, payload: '{"partition_id":7}\n' }), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await produce(s, { value: { type: 'STRING', data: 'x' } }, 'no-such-topic'), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
})

t.test('the body must be JSON; the answer must be acceptable as JSON', async t => {
  const s = await setup(t)
  const text = await s.app.inject({ method: 'POST', url: `${s.base}/records`, headers: { 'content-type': 'text/plain' }, payload: '{"value":null}' })
  assertError(t, text, 415, 415, 'INVALID_REQUEST')
  const yaml = await s.app.inject({ method: 'POST', url: `${s.base}/records`, headers: { 'content-type': 'application/json', accept: 'text/yaml' }, payload: '{"value":null}' })
  assertError(t, yaml, 406, 406, 'INVALID_REQUEST')
  const none = await s.app.inject({ method: 'POST', url: `${s.base}/records` })
  assertError(t, none, 400, 40001, 'INVALID_REQUEST')
  const log = await s.app.getLog()
  t.equal(log.partitionInfo(s.topic, 0).logEndOffset, 0, 'nothing was written')
})

function bytesOf (data: { type: string, data: unknown }): Buffer {
  if (data.type === 'BINARY') return Buffer.from(data.data as string, 'base64')
  if (data.type === 'STRING') return Buffer.from(data.data as string)
  return Buffer.from(JSON.stringify(data.data))
}
