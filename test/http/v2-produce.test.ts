import { join } from 'node:path'
import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { LogwayError } from '../../src/errors.js'
import type { LogStore } from '../../src/log/log-store.js'
import { partitionForKey } from '../../src/log/murmur2.js'
import { BatchAppendResult, ROUND_ROBIN, type RecordBatch } from '../../src/log/record-batch.js'
import { decodeRecord } from '../../src/log/record-codec.js'
import type { CreateTopicOptions, RecordInput } from '../../src/log/types.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { deferred } from '../helpers/fake-log-store.js'
import { openTestLog } from '../helpers/open-test-log.js'

const schema = (name: string): object => JSON.parse(readFileSync(new URL(`../../schemas/${name}.json`, import.meta.url), 'utf8')) as object
const ajv = new Ajv()
for (const name of ['ErrorResponse', 'V2ProduceResponse']) ajv.addSchema(schema(name))
const isError = ajv.getSchema('ErrorResponse')!
const isProduceResponse = ajv.getSchema('V2ProduceResponse')!

const BINARY = 'application/vnd.kafka.binary.v2+json'
const JSON_TYPE = 'application/vnd.kafka.json.v2+json'

interface Offset { partition: number | null, offset: number | null, error_code: number | null, error: string | null, code?: string }
interface Setup { app: FastifyInstance, log: LogStore, topic: string }

async function setup (t: Test, options: CreateTopicOptions = { partitions: 1 }): Promise<Setup> {
  const app = buildTestServer(t)
  const log = await app.getLog()
  await log.createTopic('orders', options)
  return { app, log, topic: 'orders' }
}

async function post (s: Setup, url: string, contentType: string | undefined, payload: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await s.app.inject({
    method: 'POST',
    url,
    headers: { ...(contentType === undefined ? {} : { 'content-type': contentType }), ...headers },
    ...(payload === undefined ? {} : { payload: typeof payload === 'string' ? payload : JSON.stringify(payload) })
  })
}

/** Asserts a 200 produce answer in Confluent's v2 media type; returns its offsets. */
function assertProduced (t: Test, res: LightMyRequestResponse): Offset[] {
  t.equal(res.statusCode, 200, `status (${res.body})`)
  t.match(res.headers['content-type'], /^application\/vnd\.kafka\.v2\+json/)
  const body = res.json() as { key_schema_id: null, value_schema_id: null, offsets: Offset[] }
  t.ok(isProduceResponse(body), `matches V2ProduceResponse: ${JSON.stringify(isProduceResponse.errors)}`)
  t.equal(body.key_schema_id, null)
  t.equal(body.value_schema_id, null)
  return body.offsets
}

function assertError (t: Test, res: LightMyRequestResponse, status: number, errorCode: number, code: string): Record<string, unknown> {
  t.equal(res.statusCode, status, `status (${res.body})`)
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json() as Record<string, unknown>
  t.match(body, { error_code: errorCode, code, message: String }, 'error body')
  t.ok(isError(body), 'matches ErrorResponse')
  return body
}

const ok = (partition: number, offset: number): Offset => ({ partition, offset, error_code: null, error: null })
const endOffsets = (s: Setup): number[] => s.log.partitions(s.topic).map(p => p.logEndOffset)
const b64 = (bytes: Buffer | string): string => Buffer.from(bytes).toString('base64')

function readAll (s: Setup, partition: number): Array<{ key: string | null, value: string | null }> {
  return s.log.read(s.topic, partition, { offset: 0 }).records.map(r => ({ key: r.key?.toString() ?? null, value: r.value?.toString() ?? null }))
}

t.test('json format: any JSON key and value, stored as its JSON text', async t => {
  const s = await setup(t, { partitions: 2 })
  const res = await post(s, '/topics/orders', JSON_TYPE, {
    records: [
      { key: 'somekey', value: { foo: 'bar' }, partition: 0 },
      { value: ['foo', 'bar'], partition: 1 },
      { value: 53.5, partition: 1 },
      { key: { id: 7 }, value: null, partition: 1 },
      { value: 'héllo ✓', partition: 0 }
    ]
  })
  t.same(assertProduced(t, res), [ok(0, 0), ok(1, 0), ok(1, 1), ok(1, 2), ok(0, 1)], 'offsets in request order')
  t.same(readAll(s, 0), [{ key: '"somekey"', value: '{"foo":"bar"}' }, { key: null, value: '"héllo ✓"' }])
  t.same(readAll(s, 1), [{ key: null, value: '["foo","bar"]' }, { key: null, value: '53.5' }, { key: '{"id":7}', value: null }])

  const fetched = await s.app.inject(`/v3/clusters/${s.log.clusterId}/topics/orders/partitions/0/records?format=json`)
  t.match(fetched.json(), { records: [{ key: 'somekey', value: { foo: 'bar' } }, { key: null, value: 'héllo ✓' }] }, 'fetch format=json gives the values back')
})

t.test('application/vnd.kafka.v2+json and application/json are read as the json format', async t => {
  const s = await setup(t)
  for (const type of ['application/vnd.kafka.v2+json', 'application/json', 'application/json; charset=utf-8', 'Application/VND.Kafka.JSON.v2+JSON']) {
    assertProduced(t, await post(s, '/topics/orders', type, { records: [{ key: 'k', value: { type } }] }))
  }
  t.same(readAll(s, 0).map(r => r.value), [
    '{"type":"application/vnd.kafka.v2+json"}',
    '{"type":"application/json"}',
    '{"type":"application/json; charset=utf-8"}',
    '{"type":"Application/VND.Kafka.JSON.v2+JSON"}'
  ])
})

t.test('binary format round-trips through the v3 fetch route', async t => {
  const s = await setup(t, { partitions: 2 })
  const key = Buffer.from([0, 1, 2, 255])
  const value = Buffer.from([0xde, 0xad, 0xbe, 0xef, 0x00, 0x7f])
  const res = await post(s, '/topics/orders', BINARY, {
    records: [
      { key: b64(key), value: b64(value), partition: 1 },
      { value: 'a2Fma2E=', partition: 1 },
      { key: 'a2V5', value: null, partition: 1 },
      { value: '', partition: 1 }
    ]
  })
  t.same(assertProduced(t, res), [ok(1, 0), ok(1, 1), ok(1, 2), ok(1, 3)])

  const fetched = await s.app.inject(`/v3/clusters/${s.log.clusterId}/topics/orders/partitions/1/records?offset=0&format=binary`)
  t.equal(fetched.statusCode, 200)
  const records = (fetched.json() as { records: Array<{ key: string | null, value: string | null }> }).records
  t.same(records.map(r => [r.key, r.value]), [
    [b64(key), b64(value)],
    [null, 'a2Fma2E='],
    ['a2V5', null],
    [null, '']
  ], 'the same bytes come back')
})

t.test('records without a partition: keyed ones go where murmur2 says, unkeyed ones round-robin', async t => {
  const s = await setup(t, { partitions: 6 })
  const keys = ['a', 'b', 'user-42', 'é', 'orders', 'k-7', 'zz']
  const binary = assertProduced(t, await post(s, '/topics/orders', BINARY, { records: keys.map(k => ({ key: b64(k), value: b64('v') })) }))
  t.same(binary.map(o => o.partition), keys.map(k => partitionForKey(Buffer.from(k), 6)), 'binary keys hash as their bytes')
  const json = assertProduced(t, await post(s, '/topics/orders', JSON_TYPE, { records: keys.map(k => ({ key: k, value: 'v' })) }))
  t.same(json.map(o => o.partition), keys.map(k => partitionForKey(Buffer.from(JSON.stringify(k)), 6)), 'json keys hash as their JSON text')

  const before = endOffsets(s)
  const unkeyed = assertProduced(t, await post(s, '/topics/orders', BINARY, { records: Array.from({ length: 12 }, () => ({ value: b64('v') })) }))
  t.equal(new Set(unkeyed.map(o => o.partition)).size, 6, 'unkeyed records use every partition')
  t.same(endOffsets(s).map((end, i) => end - (before[i] ?? 0)), [2, 2, 2, 2, 2, 2], 'round-robin')
})

t.test('POST /topics/{topic_name}/partitions/{partition_id} writes to the path partition', async t => {
  const s = await setup(t, { partitions: 3 })
  const binary = await post(s, '/topics/orders/partitions/2', BINARY, { records: [{ key: 'a2V5', value: 'Y29uZmx1ZW50' }, { value: 'a2Fma2E=' }] })
  t.same(assertProduced(t, binary), [ok(2, 0), ok(2, 1)], 'keys do not move records off the path partition')
  const json = await post(s, '/topics/orders/partitions/0', JSON_TYPE, { records: [{ key: 'somekey', value: { foo: 'bar' } }, { value: 53.5 }] })
  t.same(assertProduced(t, json), [ok(0, 0), ok(0, 1)])
  t.same(readAll(s, 2), [{ key: 'key', value: 'confluent' }, { key: null, value: 'kafka' }])
  t.same(endOffsets(s), [2, 0, 2])

  assertError(t, await post(s, '/topics/nope/partitions/0', BINARY, { records: [{ value: 'YQ==' }] }), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await post(s, '/topics/orders/partitions/3', BINARY, { records: [{ value: 'YQ==' }] }), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await post(s, '/topics/orders/partitions/-1', JSON_TYPE, { records: [{ value: 1 }] }), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await post(s, '/topics/orders/partitions/one', JSON_TYPE, { records: [{ value: 1 }] }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await post(s, '/topics/orders/partitions/0', JSON_TYPE, { records: [{ value: 1, partition: 0 }] }), 422, 42206, 'INVALID_RECORD')
  t.same(endOffsets(s), [2, 0, 2], 'rejected requests wrote nothing')
})

t.test('headers and timestamp extensions round-trip', async t => {
  const s = await setup(t)
  const headers = [{ name: 'trace', value: b64('abc') }, { name: 'trace', value: null }, { name: 'empty', value: '' }]
  const iso = '2025-02-05T19:14:42.123Z'
  const res = await post(s, '/topics/orders', JSON_TYPE, {
    records: [
      { value: 1, headers, timestamp: iso },
      { value: 2, timestamp: 1700000000000 },
      { value: 3, timestamp: null, headers: [] }
    ]
  })
  t.same(assertProduced(t, res), [ok(0, 0), ok(0, 1), ok(0, 2)])
  const fetched = await s.app.inject(`/v3/clusters/${s.log.clusterId}/topics/orders/partitions/0/records?format=json`)
  const records = (fetched.json() as { records: Array<Record<string, unknown>> }).records
  t.match(records[0], { value: 1, timestamp: Date.parse(iso), timestamp_type: 'CreateTime', headers: [{ name: 'trace', value: b64('abc') }, { name: 'trace', value: null }, { name: 'empty', value: '' }] })
  t.match(records[1], { value: 2, timestamp: 1700000000000, headers: [] })
  t.match(records[2], { value: 3, headers: [] })
  t.equal(records[2]?.timestamp, s.log.read(s.topic, 0, { offset: 2 }).records[0]?.timestamp, 'no timestamp: the append time')

  const binary = await post(s, '/topics/orders', BINARY, { records: [{ value: 'YQ==', headers: [{ name: 'h', value: 'AAE=' }], timestamp: 5 }] })
  t.same(assertProduced(t, binary), [ok(0, 3)])
  const stored = s.log.read(s.topic, 0, { offset: 3 }).records[0]
  t.same(stored?.headers.map(h => [h.key, h.value]), [['h', Buffer.from([0, 1])]])
  t.equal(stored?.timestamp, 5)
})

t.test('some records fail: 200, and the failed ones carry Confluent\'s per-record error', async t => {
  const s = await setup(t, { partitions: 2, configs: { 'max.message.bytes': 200 } })
  const res = await post(s, '/topics/orders', JSON_TYPE, {
    records: [
      { value: 'a', partition: 0 },
      { value: 'x'.repeat(300), partition: 0 },
      { value: 'b', partition: 5 },
      { value: 'c', partition: 0 },
      { value: 'd', partition: 1 }
    ]
  })
  const offsets = assertProduced(t, res)
  t.same(offsets[0], ok(0, 0))
  t.match(offsets[1], { partition: null, offset: null, error_code: 50002, error: /max\.message\.bytes/, code: 'MESSAGE_TOO_LARGE' })
  t.match(offsets[2], { partition: null, offset: null, error_code: 50002, error: /Partition 5/, code: 'UNKNOWN_TOPIC_OR_PARTITION' })
  t.same(offsets[3], ok(0, 1), 'the failed record takes no offset')
  t.same(offsets[4], ok(1, 0))
  t.same(readAll(s, 0).map(r => r.value), ['"a"', '"c"'])
})

t.test('every record fails: not a 200; the first record\'s error, with its status', async t => {
  const s = await setup(t, { partitions: 2, configs: { 'max.message.bytes': 200 } })
  await s.log.createTopic('compacted', { configs: { 'cleanup.policy': 'compact' } })

  const tooLarge = assertError(t, await post(s, '/topics/orders', JSON_TYPE, { records: [{ value: 'x'.repeat(300) }] }), 422, 42206, 'MESSAGE_TOO_LARGE')
  t.match(tooLarge.message, /max\.message\.bytes/)
  assertError(t, await post(s, '/topics/orders/partitions/1', BINARY, { records: [{ value: b64('x'.repeat(300)) }] }), 422, 42206, 'MESSAGE_TOO_LARGE')
  const nullKey = assertError(t, await post(s, '/topics/compacted', JSON_TYPE, { records: [{ value: 'no key' }, { value: 'none either' }] }), 422, 42206, 'INVALID_RECORD')
  t.match(nullKey.message, /^All 2 records failed; the first: .*null key/)
  assertError(t, await post(s, '/topics/orders', JSON_TYPE, { records: [{ value: 'a', partition: 7 }, { value: 'x'.repeat(300) }] }), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await post(s, '/topics/orders', JSON_TYPE, { records: [{ value: 'x'.repeat(300) }, { value: 'a', partition: 7 }] }), 422, 42206, 'MESSAGE_TOO_LARGE')

  t.same(endOffsets(s), [0, 0])
  t.equal(s.log.partitionInfo('compacted', 0).logEndOffset, 0)
})

t.test('a disk that is nearly full fails every record: 507', async t => {
  const app = buildTestServer(t, { minFreeBytes: Number.MAX_SAFE_INTEGER })
  const log = await app.getLog()
  await log.createTopic('orders')
  const res = await app.inject({ method: 'POST', url: '/topics/orders', headers: { 'content-type': JSON_TYPE }, payload: JSON.stringify({ records: [{ value: 1 }, { value: 2 }] }) })
  assertError(t, res, 507, 50701, 'KAFKA_STORAGE_ERROR')
  t.equal(log.partitionInfo('orders', 0).logEndOffset, 0)
})

/**
 * An app over a real log whose appends to `failing` partitions reject with
 * `failure` (made fresh for each append), as a failed commit would.
 */
async function appWithFailingAppends (t: Test, failing: number[], failure: () => Error): Promise<Setup> {
  const store = deferred<LogStore>()
  const app = buildTestServer(t, {}, { store: store.promise })
  // buildTestServer has made the test dir; the log gets a folder of its own in it.
  const { log } = await openTestLog(t, { dataDir: join(t.testdirName, 'log') })
  await log.createTopic('orders', { partitions: 3 })
  store.resolve(new Proxy(log, {
    get (target, prop) {
      if (prop === 'appendBatch') {
        // The batch's records are decoded and appended a partition at a time, but for the failing partitions.
        return async (batch: RecordBatch) => {
          const { data, ends, partitions, timestamps } = batch.take()
          const byPartition = new Map<number, RecordInput[]>()
          for (let j = 0; j < ends.length; j++) {
            const partition = partitions[j] === ROUND_ROBIN ? target.partitionFor(batch.topic.name, null) : partitions[j] as number
            partitions[j] = partition
            const { key, value, headers, timestamp } = decodeRecord(0, data.subarray(j === 0 ? 0 : ends[j - 1], ends[j]))
            byPartition.set(partition, [...byPartition.get(partition) ?? [], { key, value, headers, timestamp }])
          }
          const result = new BatchAppendResult(partitions, timestamps)
          for (const [partition, records] of byPartition) {
            if (failing.includes(partition)) result.fail(partition, failure())
            else result.succeed(partition, (await target.append(batch.topic.name, partition, records)).baseOffset)
          }
          return result
        }
      }
      const value: unknown = Reflect.get(target, prop, target)
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value
    }
  }))
  return { app, log, topic: 'orders' }
}

t.test('a failed commit is a retriable per-record error (50003); all failed is its own status', async t => {
  const s = await appWithFailingAppends(t, [1], () => new LogwayError('KAFKA_STORAGE_ERROR', 'The log could not commit the write to disk.'))
  const offsets = assertProduced(t, await post(s, '/topics/orders', JSON_TYPE, {
    records: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }, { value: 'c', partition: 2 }, { value: 'd', partition: 1 }]
  }))
  t.same(offsets[0], ok(0, 0))
  t.same(offsets[1], { partition: null, offset: null, error_code: 50003, error: 'The log could not commit the write to disk.', code: 'KAFKA_STORAGE_ERROR' })
  t.same(offsets[2], ok(2, 0))
  t.same(offsets[3], offsets[1], 'every record of the failed batch fails')
  assertError(t, await post(s, '/topics/orders/partitions/1', BINARY, { records: [{ value: 'YQ==' }] }), 507, 50701, 'KAFKA_STORAGE_ERROR')
  t.same(endOffsets(s), [1, 0, 1])
})

t.test('an unexpected append failure is reported without its message; all failed is a 500', async t => {
  const s = await appWithFailingAppends(t, [0], () => new Error('secret internals'))
  const offsets = assertProduced(t, await post(s, '/topics/orders', JSON_TYPE, { records: [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }] }))
  t.match(offsets[0], { partition: null, offset: null, error_code: 50002, code: 'UNKNOWN_SERVER_ERROR' })
  t.notMatch(offsets[0]?.error, /secret/)
  t.same(offsets[1], ok(1, 0))
  const all = assertError(t, await post(s, '/topics/orders/partitions/0', JSON_TYPE, { records: [{ value: 'a' }] }), 500, 50001, 'UNKNOWN_SERVER_ERROR')
  t.notMatch(all.message, /secret/)
})

t.test('rejected requests change nothing', async t => {
  const s = await setup(t, { partitions: 2 })
  const url = '/topics/orders'
  const rejections: Array<[string, () => Promise<LightMyRequestResponse>, number, number, string]> = [
    ['unknown topic', async () => await post(s, '/topics/nope', JSON_TYPE, { records: [{ value: 1 }] }), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION'],
    ['text/plain', async () => await post(s, url, 'text/plain', '{"records":[{"value":1}]}'), 415, 415, 'INVALID_REQUEST'],
    ['octet-stream', async () => await post(s, url, 'application/octet-stream', '{"records":[{"value":1}]}'), 415, 415, 'INVALID_REQUEST'],
    ['a v1 type', async () => await post(s, url, 'application/vnd.kafka.binary.v1+json', { records: [{ value: 'YQ==' }] }), 415, 415, 'INVALID_REQUEST'],
    ['no body', async () => await post(s, url, undefined, undefined), 415, 415, 'INVALID_REQUEST'],
    ['Accept mismatch', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1 }] }, { accept: 'text/html' }), 406, 406, 'INVALID_REQUEST'],
    ['malformed JSON', async () => await post(s, url, JSON_TYPE, '{"records":[{"value":1}'), 400, 40001, 'INVALID_REQUEST'],
    ['empty body', async () => await post(s, url, BINARY, ''), 400, 40001, 'INVALID_REQUEST'],
    ['unknown top-level field', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1 }], extra: true }), 422, 42206, 'INVALID_RECORD'],
    ['unknown record field', async () => await post(s, url, BINARY, { records: [{ value: 'YQ==', topic: 'orders' }] }), 422, 42206, 'INVALID_RECORD'],
    ['no records field', async () => await post(s, url, JSON_TYPE, { value: 1 }), 422, 42206, 'INVALID_RECORD'],
    ['empty records', async () => await post(s, url, JSON_TYPE, { records: [] }), 422, 42206, 'INVALID_RECORD'],
    ['records not an array', async () => await post(s, url, JSON_TYPE, { records: { value: 1 } }), 422, 42206, 'INVALID_RECORD'],
    ['partition "1"', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1, partition: '1' }] }), 422, 42206, 'INVALID_RECORD'],
    ['partition 1.5', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1, partition: 1.5 }] }), 422, 42206, 'INVALID_RECORD'],
    ['negative partition', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1, partition: -1 }] }), 422, 42206, 'INVALID_RECORD'],
    ['binary value not a string', async () => await post(s, url, BINARY, { records: [{ value: 123 }] }), 422, 42206, 'INVALID_RECORD'],
    ['binary value not base64', async () => await post(s, url, BINARY, { records: [{ value: 'YQ==' }, { value: 'not base64!' }] }), 422, 42206, 'INVALID_RECORD'],
    ['binary key not base64', async () => await post(s, url, BINARY, { records: [{ key: 'abcde', value: 'YQ==' }] }), 422, 42206, 'INVALID_RECORD'],
    ['header value not base64', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1, headers: [{ name: 'h', value: '***' }] }] }), 422, 42206, 'INVALID_RECORD'],
    ['header without a name', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1, headers: [{ value: null }] }] }), 422, 42206, 'INVALID_RECORD'],
    ['timestamp not a date', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1 }, { value: 2, timestamp: 'yesterday' }] }), 422, 42206, 'INVALID_RECORD'],
    ['timestamp out of range', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1 }, { value: 2, timestamp: '2025-13-45T00:00:00Z' }] }), 422, 42206, 'INVALID_RECORD'],
    ['negative timestamp', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1, timestamp: -1 }] }), 422, 42206, 'INVALID_RECORD'],
    ['key_schema_id not an integer', async () => await post(s, url, JSON_TYPE, { records: [{ value: 1 }], key_schema_id: 'one' }), 422, 42206, 'INVALID_RECORD']
  ]
  for (const [name, send, status, errorCode, code] of rejections) {
    const before = endOffsets(s)
    const res = await send()
    t.equal(res.statusCode, status, `${name}: status (${res.body})`)
    assertError(t, res, status, errorCode, code)
    t.same(endOffsets(s), before, `${name}: end offsets unchanged`)
  }
  t.same(endOffsets(s), [0, 0], 'nothing was written')

  // Nor did the round-robin move: the next unkeyed record goes where a fresh topic's first one goes.
  await s.log.createTopic('fresh', { partitions: 2 })
  const expected = s.log.partitionFor('fresh', null)
  t.same(assertProduced(t, await post(s, url, JSON_TYPE, { records: [{ value: 1 }] })), [ok(expected, 0)])
})

t.test('schema-registry formats are refused with 415, saying why', async t => {
  const s = await setup(t)
  for (const format of ['avro', 'protobuf', 'jsonschema']) {
    for (const url of ['/topics/orders', '/topics/orders/partitions/0']) {
      const res = await post(s, url, `application/vnd.kafka.${format}.v2+json`, { value_schema: '{"type":"int"}', records: [{ value: 12 }] })
      const body = assertError(t, res, 415, 415, 'INVALID_REQUEST')
      t.match(body.message, /schema registry/, `${format} on ${url}`)
    }
  }
  t.same(endOffsets(s), [0])
})

t.test('key_schema and value_schema fields are accepted and ignored, as Confluent does for binary and json', async t => {
  const s = await setup(t)
  const res = await post(s, '/topics/orders', JSON_TYPE, { key_schema: null, key_schema_id: null, value_schema: '{"type":"int"}', value_schema_id: 3, records: [{ value: 12 }] })
  t.same(assertProduced(t, res), [ok(0, 0)])
})

t.test('Accept picks the response type; errors stay application/json', async t => {
  const s = await setup(t)
  const cases: Array<[string, RegExp]> = [
    ['application/vnd.kafka.v2+json, application/vnd.kafka+json, application/json', /^application\/vnd\.kafka\.v2\+json/],
    ['application/vnd.kafka+json', /^application\/vnd\.kafka\+json/],
    ['application/json', /^application\/json/]
  ]
  for (const [accept, type] of cases) {
    const res = await post(s, '/topics/orders', BINARY, { records: [{ value: 'YQ==' }] }, { accept })
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], type, accept)
  }
  const error = await post(s, '/topics/nope', BINARY, { records: [{ value: 'YQ==' }] }, { accept: 'application/vnd.kafka.v2+json' })
  assertError(t, error, 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
})

t.test('json format: values are stored as exactly the text JSON.stringify gives', async t => {
  const s = await setup(t)
  const values = ['plain ascii', 'quote " and backslash \\', 'tab\tnewline\n', 'é ✓ 😀', 'lone \ud800 surrogate', '\u2028\u2029', '', 'del \u007f', 7, -0.5, true, null, { a: [1, 'x'] }]
  const res = await post(s, '/topics/orders', JSON_TYPE, { records: values.map(value => ({ key: value, value })) })
  t.same(assertProduced(t, res).map(o => o.error_code), values.map(() => null))
  const stored = s.log.read(s.topic, 0, { offset: 0, maxRecords: 100 }).records
  for (const [i, value] of values.entries()) {
    const text = value === null ? null : JSON.stringify(value)
    t.equal(stored[i]?.value?.toString('utf8') ?? null, text, `value ${i}`)
    t.equal(stored[i]?.key?.toString('utf8') ?? null, text, `key ${i}`)
  }
})

t.test('offsets in the answer stay right across digit counts and partitions', async t => {
  const s = await setup(t, { partitions: 2 })
  const records = Array.from({ length: 1005 }, (_, i) => ({ value: i, partition: i < 995 || i % 2 === 0 ? 0 : 1 }))
  const offsets = assertProduced(t, await post(s, '/topics/orders', JSON_TYPE, { records }))
  const next = [0, 0]
  const expected = records.map(r => ok(r.partition, (next[r.partition] = (next[r.partition] ?? 0) + 1) - 1))
  t.same(offsets, expected, '9 → 10, 99 → 100 and 999 → 1000, and back to a partition whose offsets are short')
  const again = assertProduced(t, await post(s, '/topics/orders/partitions/1', JSON_TYPE, { records: [{ value: 'x' }, { value: 'y' }] }))
  t.same(again, [ok(1, 5), ok(1, 6)])
})

t.test('json format: a body without a backslash is stored as JSON.stringify gives too, whatever its characters', async t => {
  const s = await setup(t)
  // Raw (unescaped) non-ASCII, emoji, DEL, U+2028, and bytes that are not UTF-8 (read as U+FFFD).
  const body = Buffer.concat([
    Buffer.from('{"records":[{"key":"é ✓ 😀","value":"del \u007f and \u2028"},{"value":"bad '),
    Buffer.from([0xff, 0xed, 0xa0, 0x80]),
    Buffer.from(' bytes"},{"value":{"nested":["x",1.50,{"y":null}]}},{"value":"plain"}]}')
  ])
  const res = await s.app.inject({ method: 'POST', url: '/topics/orders', headers: { 'content-type': JSON_TYPE }, payload: body })
  t.same(assertProduced(t, res).map(o => o.offset), [0, 1, 2, 3])
  const parsed = JSON.parse(body.toString('utf8')) as { records: Array<{ key?: unknown, value: unknown }> }
  const records = s.log.read(s.topic, 0, { offset: 0 }).records
  for (const [i, record] of parsed.records.entries()) {
    t.equal(records[i]?.value?.toString('utf8'), JSON.stringify(record.value), `value ${i}`)
    t.equal(records[i]?.key?.toString('utf8') ?? null, record.key === undefined ? null : JSON.stringify(record.key), `key ${i}`)
  }
})

t.test('json format: prototype-poisoning keys are refused with or without escapes; a plain constructor key is data', async t => {
  const s = await setup(t)
  for (const payload of [
    '{"records":[{"value":{"__proto__":{"polluted":true}}}]}',
    '{"records":[{"value":{"\\u005f_proto__":{"polluted":true}}}]}',
    '{"records":[{"value":{"constructor":{"prototype":{"polluted":true}}}}]}'
  ]) {
    for (const type of [JSON_TYPE, 'application/json']) {
      assertError(t, await post(s, '/topics/orders', type, payload), 400, 40001, 'INVALID_REQUEST')
    }
  }
  t.same(endOffsets(s), [0], 'nothing was written')
  const res = await post(s, '/topics/orders', JSON_TYPE, '{"records":[{"value":{"constructor":1}}]}')
  t.same(assertProduced(t, res), [ok(0, 0)])
  t.equal(s.log.read(s.topic, 0, { offset: 0 }).records[0]?.value?.toString(), '{"constructor":1}')
  t.equal(({} as Record<string, unknown>).polluted, undefined)
})
