import { readFileSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import createClient from 'openapi-fetch'
import t from 'tap'
import { CLIENT_TYPES_PATH, generateClientTypes, OPENAPI_PATH } from '../../scripts/generate-openapi.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import type { components, paths } from './logway-api.js'

type ErrorCode = components['schemas']['ErrorResponse']['code']
type RecordData = components['schemas']['RecordData']

const base64 = (text: string): string => Buffer.from(text).toString('base64')

t.test('the committed client types are what openapi-typescript generates from the committed openapi.yaml', async t => {
  const committed = readFileSync(CLIENT_TYPES_PATH, 'utf8')
  const generated = await generateClientTypes(readFileSync(OPENAPI_PATH, 'utf8'))
  if (generated !== committed) {
    t.fail('test/client/logway-api.ts is out of date with openapi.yaml: run `npm run openapi` and commit the result', {
      diff: firstDifference(committed, generated)
    })
  } else {
    t.pass('test/client/logway-api.ts is up to date')
  }
})

t.test('a client generated from openapi.yaml creates a topic, produces and fetches', async t => {
  const app = buildTestServer(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const client = createClient<paths>({ baseUrl: `http://127.0.0.1:${port}` })

  const clusters = await client.GET('/v3/clusters')
  t.equal(clusters.response.status, 200)
  const clusterId = clusters.data?.data[0]?.cluster_id
  if (clusterId === undefined) throw new Error('GET /v3/clusters listed no cluster')
  const topic = `orders-${process.pid}`

  const created = await client.POST('/v3/clusters/{cluster_id}/topics', {
    params: { path: { cluster_id: clusterId } },
    body: { topic_name: topic, partitions_count: 1 }
  })
  t.equal(created.response.status, 201, 'topic created')
  t.match(created.data, { kind: 'KafkaTopic', cluster_id: clusterId, topic_name: topic, partitions_count: 1 })

  // Keys and values as a produce request carries them, and as format=string renders them back.
  const produced: Array<{ key: RecordData, value: RecordData, text: [string, string], headers: Record<string, string>, timestamp: string | number }> = [
    { key: { type: 'STRING', data: 'user-1' }, value: { type: 'STRING', data: 'created' }, text: ['user-1', 'created'], headers: { trace: 'a1', source: 'web' }, timestamp: '2024-05-01T10:00:00.000Z' },
    { key: { type: 'STRING', data: 'user-2' }, value: { type: 'BINARY', data: base64('héllo') }, text: ['user-2', 'héllo'], headers: {}, timestamp: '2024-05-01T12:00:01.250+02:00' },
    { key: { type: 'JSON', data: { user: 1 } }, value: { type: 'JSON', data: { total: 42, items: ['a'] } }, text: ['{"user":1}', '{"total":42,"items":["a"]}'], headers: { trace: 'a2' }, timestamp: Date.parse('2024-05-01T10:00:02.500Z') }
  ]
  for (const [i, record] of produced.entries()) {
    const { data, error, response } = await client.POST('/v3/clusters/{cluster_id}/topics/{topic_name}/records', {
      params: { path: { cluster_id: clusterId, topic_name: topic } },
      body: {
        key: record.key,
        value: record.value,
        headers: Object.entries(record.headers).map(([name, value]) => ({ name, value: base64(value) })),
        timestamp: record.timestamp
      }
    })
    t.equal(response.status, 200, `record ${i} produced`)
    t.equal(error, undefined)
    t.match(data, {
      error_code: 200,
      cluster_id: clusterId,
      topic_name: topic,
      partition_id: 0,
      offset: i,
      timestamp: new Date(record.timestamp).toISOString(),
      key: { type: record.key.type, size: Buffer.byteLength(record.text[0]) },
      value: { type: record.value.type, size: Buffer.byteLength(record.text[1]) }
    }, `delivery report of record ${i}`)
  }

  const { data: fetched, response } = await client.GET('/v3/clusters/{cluster_id}/topics/{topic_name}/partitions/{partition_id}/records', {
    params: {
      path: { cluster_id: clusterId, topic_name: topic, partition_id: 0 },
      query: { offset: '0', format: 'string' }
    }
  })
  t.equal(response.status, 200)
  if (fetched === undefined) throw new Error('fetch answered no body')
  t.match(fetched, { cluster_id: clusterId, topic_name: topic, partition_id: 0, log_start_offset: 0, log_end_offset: 3, next_offset: 3 })
  t.same(fetched.records.map(r => ({
    offset: r.offset,
    key: r.key,
    value: r.value,
    headers: r.headers.map(h => [h.name, h.value === null ? null : Buffer.from(h.value, 'base64').toString()]),
    timestamp: r.timestamp,
    timestamp_type: r.timestamp_type
  })), produced.map((record, i) => ({
    offset: i,
    key: record.text[0],
    value: record.text[1],
    headers: Object.entries(record.headers),
    timestamp: new Date(record.timestamp).getTime(),
    timestamp_type: 'CreateTime'
  })), 'the records come back with their offsets, keys, values, headers and timestamps')

  const json = await client.GET('/v3/clusters/{cluster_id}/topics/{topic_name}/partitions/{partition_id}/records', {
    params: {
      path: { cluster_id: clusterId, topic_name: topic, partition_id: 0 },
      query: { offset: '2', format: 'json' }
    }
  })
  t.equal(json.response.status, 200)
  t.same(json.data?.records.map(r => [r.offset, r.key, r.value]), [[2, { user: 1 }, { total: 42, items: ['a'] }]], 'format=json answers the parsed JSON key and value')
})

t.test('the generated client gets typed error bodies', async t => {
  const app = buildTestServer(t)
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as AddressInfo
  const client = createClient<paths>({ baseUrl: `http://127.0.0.1:${port}` })
  const clusters = await client.GET('/v3/clusters')
  const clusterId = clusters.data?.data[0]?.cluster_id ?? ''
  const topic = `errors-${process.pid}`
  const created = await client.POST('/v3/clusters/{cluster_id}/topics', { params: { path: { cluster_id: clusterId } }, body: { topic_name: topic } })
  t.equal(created.response.status, 201)

  const unknown = await client.POST('/v3/clusters/{cluster_id}/topics/{topic_name}/records', {
    params: { path: { cluster_id: clusterId, topic_name: 'no-such-topic' } },
    body: { value: { type: 'STRING', data: 'lost' } }
  })
  t.equal(unknown.response.status, 404)
  t.equal(unknown.data, undefined)
  const code: ErrorCode | undefined = unknown.error?.code
  t.equal(code, 'UNKNOWN_TOPIC_OR_PARTITION')
  t.equal(unknown.error?.error_code, 40401, 'Confluent error_code for an unknown topic')
  t.type(unknown.error?.message, 'string')

  const strict = await client.POST('/v3/clusters/{cluster_id}/topics/{topic_name}/records', {
    params: { path: { cluster_id: clusterId, topic_name: topic } },
    // @ts-expect-error the generated types reject a field the schema does not have, as the server does
    body: { value: { type: 'STRING', data: 'lost' }, partition: 0 }
  })
  t.equal(strict.response.status, 400)
  t.match(strict.error, { error_code: 40001, code: 'INVALID_REQUEST' }, 'the server rejects it too')
})

function firstDifference (a: string, b: string): string {
  const left = a.split('\n')
  const right = b.split('\n')
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] !== right[i]) return `line ${i + 1}: committed ${JSON.stringify(left[i])}, generated ${JSON.stringify(right[i])}`
  }
  return 'no line differs'
}
