import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import type { LogStore } from '../../src/log/log-store.js'
import { buildTestServer } from '../helpers/build-test-server.js'

const errorSchema = JSON.parse(readFileSync(new URL('../../schemas/ErrorResponse.json', import.meta.url), 'utf8')) as object
const isErrorBody = new Ajv().compile(errorSchema)

interface Res { statusCode: number, headers: Record<string, unknown>, body: string, json: () => unknown }
type Body = Record<string, unknown>

/** Asserts an error response: status, Confluent error_code, stable code, and the ErrorResponse shape. */
function assertError (t: Test, res: Res, status: number, errorCode: number, code: string): Body {
  t.equal(res.statusCode, status, `status (${res.body})`)
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json() as Body
  t.match(body, { error_code: errorCode, code, message: String }, 'error body')
  t.ok(isErrorBody(body), `matches ErrorResponse: ${JSON.stringify(isErrorBody.errors)}`)
  return body
}

interface Ctx { app: FastifyInstance, log: LogStore, base: string, url: string }

/** A real app on the test's data dir; `url` is /v3/clusters/<this cluster>, `base` the absolute origin used in links. */
async function setup (t: Test): Promise<Ctx> {
  const app = buildTestServer(t)
  const log = await app.getLog()
  return { app, log, base: 'http://localhost:80', url: `/v3/clusters/${log.clusterId}` }
}

async function send (app: FastifyInstance, method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE', url: string, payload?: unknown): Promise<Res> {
  return app.inject({ method, url, ...(payload === undefined ? {} : { payload: payload as object }) })
}

t.test('clusters', async t => {
  const { app, log, base, url } = await setup(t)
  const c = log.clusterId

  const list = await send(app, 'GET', '/v3/clusters')
  t.equal(list.statusCode, 200)
  const cluster = {
    kind: 'KafkaCluster',
    metadata: { self: `${base}${url}`, resource_name: `crn:///kafka=${c}` },
    cluster_id: c,
    controller: { related: `${base}${url}/brokers/0` },
    acls: { related: `${base}${url}/acls` },
    brokers: { related: `${base}${url}/brokers` },
    broker_configs: { related: `${base}${url}/broker-configs` },
    consumer_groups: { related: `${base}${url}/consumer-groups` },
    topics: { related: `${base}${url}/topics` },
    partition_reassignments: { related: `${base}${url}/topics/-/partitions/-/reassignment` }
  }
  t.same(list.json(), { kind: 'KafkaClusterList', metadata: { self: `${base}/v3/clusters`, next: null }, data: [cluster] })

  const one = await send(app, 'GET', url)
  t.equal(one.statusCode, 200)
  t.same(one.json(), cluster)

  const unknown = assertError(t, await send(app, 'GET', '/v3/clusters/nope'), 404, 404, 'INVALID_REQUEST')
  t.equal(unknown.message, 'Cluster nope cannot be found.')
  assertError(t, await send(app, 'GET', '/v3/clusters/nope/topics'), 404, 404, 'INVALID_REQUEST')
  assertError(t, await send(app, 'POST', '/v3/clusters/nope/topics', { topic_name: 'x' }), 404, 404, 'INVALID_REQUEST')
  t.same(log.listTopics(), [], 'a request to another cluster creates nothing')
})

t.test('links are absolute, from the request scheme and Host header', async t => {
  const { app, log } = await setup(t)
  const res = await app.inject({ url: '/v3/clusters', headers: { host: 'logway.example:8082' } })
  t.match(res.json(), { metadata: { self: 'http://logway.example:8082/v3/clusters' }, data: [{ metadata: { self: `http://logway.example:8082/v3/clusters/${log.clusterId}` } }] })
})

t.test('create, get, list and delete topics', async t => {
  const { app, log, base, url } = await setup(t)
  const created = await send(app, 'POST', `${url}/topics`, {
    topic_name: 'orders',
    partitions_count: 3,
    replication_factor: 1,
    configs: [{ name: 'cleanup.policy', value: 'compact' }, { name: 'retention.ms', value: null }]
  })
  t.equal(created.statusCode, 201)
  t.equal(created.headers.location, `${base}${url}/topics/orders`)
  const topic = {
    kind: 'KafkaTopic',
    metadata: { self: `${base}${url}/topics/orders`, resource_name: `crn:///kafka=${log.clusterId}/topic=orders` },
    cluster_id: log.clusterId,
    topic_name: 'orders',
    is_internal: false,
    replication_factor: 1,
    partitions_count: 3,
    partitions: { related: `${base}${url}/topics/orders/partitions` },
    configs: { related: `${base}${url}/topics/orders/configs` },
    partition_reassignments: { related: `${base}${url}/topics/orders/partitions/-/reassignment` }
  }
  t.same(created.json(), topic)
  t.same(log.describeTopic('orders').overrides, { 'cleanup.policy': 'compact' }, 'configs were applied; a null value is the default')

  const got = await send(app, 'GET', `${url}/topics/orders`)
  t.equal(got.statusCode, 200)
  t.same(got.json(), topic)

  t.equal((await send(app, 'POST', `${url}/topics`, { topic_name: 'audit' })).statusCode, 201)
  const list = await send(app, 'GET', `${url}/topics`)
  t.equal(list.statusCode, 200)
  t.match(list.json(), { kind: 'KafkaTopicList', metadata: { self: `${base}${url}/topics`, next: null } })
  t.same((list.json() as { data: Body[] }).data.map(d => [d.topic_name, d.partitions_count]), [['audit', 1], ['orders', 3]], 'sorted by name, default 1 partition')

  const deleted = await send(app, 'DELETE', `${url}/topics/orders`)
  t.equal(deleted.statusCode, 204)
  t.equal(deleted.body, '')
  t.notOk(log.hasTopic('orders'))
  assertError(t, await send(app, 'GET', `${url}/topics/orders`), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await send(app, 'DELETE', `${url}/topics/orders`), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
})

t.test('validate_only answers 200 with a Location and creates nothing', async t => {
  const { app, log, base, url } = await setup(t)
  const res = await send(app, 'POST', `${url}/topics`, { topic_name: 'dry', partitions_count: 2, validate_only: true })
  t.equal(res.statusCode, 200)
  t.equal(res.headers.location, `${base}${url}/topics/dry`)
  t.match(res.json(), { kind: 'KafkaTopic', topic_name: 'dry', partitions_count: 2 })
  t.notOk(log.hasTopic('dry'))
  assertError(t, await send(app, 'POST', `${url}/topics`, { topic_name: 'dry', configs: [{ name: 'retention.ms', value: 'soon' }], validate_only: true }), 400, 40002, 'INVALID_CONFIG')
})

t.test('rejected topic creations change nothing', async t => {
  const { app, log, url } = await setup(t)
  await log.createTopic('taken')
  const cases: Array<[string, unknown, number, number, string]> = [
    ['exists', { topic_name: 'taken' }, 400, 40002, 'TOPIC_ALREADY_EXISTS'],
    ['bad name', { topic_name: 'no spaces' }, 400, 40001, 'INVALID_TOPIC_EXCEPTION'],
    ['name too long', { topic_name: 'x'.repeat(250) }, 400, 40001, 'INVALID_TOPIC_EXCEPTION'],
    ['empty name', { topic_name: '' }, 400, 40001, 'INVALID_TOPIC_EXCEPTION'],
    ['replication factor 3', { topic_name: 'rf', replication_factor: 3 }, 400, 40002, 'INVALID_REPLICATION_FACTOR'],
    ['0 partitions', { topic_name: 'p0', partitions_count: 0 }, 400, 40002, 'INVALID_PARTITIONS'],
    ['negative partitions', { topic_name: 'pn', partitions_count: -2 }, 400, 40002, 'INVALID_PARTITIONS'],
    ['string for a number', { topic_name: 's', partitions_count: '1' }, 400, 40001, 'INVALID_REQUEST'],
    ['fractional count', { topic_name: 'f', partitions_count: 1.5 }, 400, 40001, 'INVALID_REQUEST'],
    ['unknown field', { topic_name: 'u', colour: 'red' }, 400, 40001, 'INVALID_REQUEST'],
    ['unknown field in a config', { topic_name: 'u', configs: [{ name: 'retention.ms', value: '1', extra: 1 }] }, 400, 40001, 'INVALID_REQUEST'],
    ['no topic name', { partitions_count: 1 }, 400, 40001, 'INVALID_REQUEST'],
    ['unknown config', { topic_name: 'c', configs: [{ name: 'compression.type', value: 'gzip' }] }, 400, 40002, 'INVALID_CONFIG'],
    ['invalid config value', { topic_name: 'c', configs: [{ name: 'retention.ms', value: 'forever' }] }, 400, 40002, 'INVALID_CONFIG'],
    ['config given twice', { topic_name: 'c', configs: [{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }] }, 400, 40002, 'INVALID_CONFIG']
  ]
  for (const [name, body, status, errorCode, code] of cases) {
    await t.test(name, async t => {
      assertError(t, await send(app, 'POST', `${url}/topics`, body), status, errorCode, code)
    })
  }
  const rf = await send(app, 'POST', `${url}/topics`, { topic_name: 'rf', replication_factor: 2 })
  t.match((rf.json() as Body).message, /one replica/)

  for (const contentType of ['text/plain', 'application/xml']) {
    const wrongType = await app.inject({ method: 'POST', url: `${url}/topics`, payload: '{"topic_name":"x"}', headers: { 'content-type': contentType } })
    assertError(t, wrongType, 415, 415, 'INVALID_REQUEST')
  }
  assertError(t, await app.inject({ method: 'POST', url: `${url}/topics`, payload: '{"topic_name":', headers: { 'content-type': 'application/json' } }), 400, 40001, 'INVALID_REQUEST')
  t.same(log.listTopics().map(topic => topic.name), ['taken'], 'nothing was created')
})

t.test('any method that carries a body can be refused for its body, and changes nothing', async t => {
  const app = buildTestServer(t, { bodyLimitBytes: 32 })
  const log = await app.getLog()
  const url = `/v3/clusters/${log.clusterId}`
  await log.createTopic('kept')
  const deleteWith = async (payload: string, contentType: string): Promise<Res> =>
    app.inject({ method: 'DELETE', url: `${url}/topics/kept`, payload, headers: { 'content-type': contentType } })
  assertError(t, await deleteWith('{}', 'text/plain'), 415, 415, 'INVALID_REQUEST')
  assertError(t, await deleteWith('{"a":', 'application/json'), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await deleteWith(JSON.stringify({ pad: 'x'.repeat(64) }), 'application/json'), 413, 413, 'INVALID_REQUEST')
  t.ok(log.hasTopic('kept'))
})

t.test('topic names in the path are checked', async t => {
  const { app, url } = await setup(t)
  assertError(t, await send(app, 'GET', `${url}/topics/a%20b`), 400, 40001, 'INVALID_TOPIC_EXCEPTION')
  assertError(t, await send(app, 'GET', `${url}/topics/a%2Fb/configs`), 400, 40001, 'INVALID_TOPIC_EXCEPTION')
  assertError(t, await send(app, 'DELETE', `${url}/topics/a%2Fb`), 400, 40001, 'INVALID_TOPIC_EXCEPTION')
})

t.test('PATCH raises the partition count', async t => {
  const { app, log, url } = await setup(t)
  await log.createTopic('grow', { partitions: 2 })
  const res = await send(app, 'PATCH', `${url}/topics/grow`, { partitions_count: 5 })
  t.equal(res.statusCode, 200)
  t.match(res.json(), { kind: 'KafkaTopic', topic_name: 'grow', partitions_count: 5 })
  t.equal(log.describeTopic('grow').partitionCount, 5)

  assertError(t, await send(app, 'PATCH', `${url}/topics/grow`, { partitions_count: 5 }), 400, 40002, 'INVALID_PARTITIONS')
  assertError(t, await send(app, 'PATCH', `${url}/topics/grow`, { partitions_count: 3 }), 400, 40002, 'INVALID_PARTITIONS')
  assertError(t, await send(app, 'PATCH', `${url}/topics/grow`, { partitions_count: '9' }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await send(app, 'PATCH', `${url}/topics/grow`, { partitions_count: 9, replication_factor: 1 }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await send(app, 'PATCH', `${url}/topics/grow`, {}), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await send(app, 'PATCH', `${url}/topics/missing`, { partitions_count: 9 }), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  t.equal(log.describeTopic('grow').partitionCount, 5, 'rejected requests change nothing')
})

t.test('topic configs: list and get', async t => {
  const { app, log, base, url } = await setup(t)
  await log.createTopic('cfg', { configs: { 'retention.ms': 1000 } })
  const list = await send(app, 'GET', `${url}/topics/cfg/configs`)
  t.equal(list.statusCode, 200)
  const body = list.json() as { kind: string, metadata: Body, data: Body[] }
  t.equal(body.kind, 'KafkaTopicConfigList')
  t.same(body.metadata, { self: `${base}${url}/topics/cfg/configs`, next: null })
  const names = body.data.map(d => d.name as string)
  t.same(names, [...names].sort(), 'sorted by name')
  t.ok(names.includes('cleanup.policy') && names.includes('retention.ms'))

  const one = await send(app, 'GET', `${url}/topics/cfg/configs/retention.ms`)
  t.equal(one.statusCode, 200)
  t.same(one.json(), {
    kind: 'KafkaTopicConfig',
    metadata: { self: `${base}${url}/topics/cfg/configs/retention.ms`, resource_name: `crn:///kafka=${log.clusterId}/topic=cfg/config=retention.ms` },
    cluster_id: log.clusterId,
    topic_name: 'cfg',
    name: 'retention.ms',
    value: '1000',
    is_default: false,
    is_read_only: false,
    is_sensitive: false,
    source: 'DYNAMIC_TOPIC_CONFIG',
    synonyms: [
      { name: 'retention.ms', value: '1000', source: 'DYNAMIC_TOPIC_CONFIG' },
      { name: 'retention.ms', value: '604800000', source: 'DEFAULT_CONFIG' }
    ]
  })
  t.match((await send(app, 'GET', `${url}/topics/cfg/configs/cleanup.policy`)).json(), {
    value: 'delete', is_default: true, source: 'DEFAULT_CONFIG', synonyms: [{ name: 'cleanup.policy', value: 'delete', source: 'DEFAULT_CONFIG' }]
  })

  const unknown = assertError(t, await send(app, 'GET', `${url}/topics/cfg/configs/compression.type`), 404, 404, 'INVALID_REQUEST')
  t.equal(unknown.message, `Config compression.type cannot be found for TOPIC cfg in cluster ${log.clusterId}.`)
  assertError(t, await send(app, 'GET', `${url}/topics/missing/configs`), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await send(app, 'GET', `${url}/topics/missing/configs/retention.ms`), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
})

t.test('topic configs: PUT and DELETE', async t => {
  const { app, log, url } = await setup(t)
  await log.createTopic('cfg')
  const configPath = `${url}/topics/cfg/configs`

  const put = await send(app, 'PUT', `${configPath}/cleanup.policy`, { value: 'compact' })
  t.equal(put.statusCode, 204)
  t.equal(put.body, '')
  t.same(log.describeTopic('cfg').overrides, { 'cleanup.policy': 'compact' })

  assertError(t, await send(app, 'PUT', `${configPath}/cleanup.policy`, { value: 'shred' }), 400, 40002, 'INVALID_CONFIG')
  assertError(t, await send(app, 'PUT', `${configPath}/retention.ms`, { value: 5 }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await send(app, 'PUT', `${configPath}/retention.ms`, { value: '5', operation: 'SET' }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await send(app, 'PUT', `${configPath}/retention.ms`, {}), 400, 40001, 'INVALID_REQUEST')
  const unknown = assertError(t, await send(app, 'PUT', `${configPath}/compression.type`, { value: 'gzip' }), 404, 404, 'INVALID_REQUEST')
  t.match(unknown.message, /^Config compression.type cannot be found for TOPIC cfg in cluster /)
  assertError(t, await send(app, 'PUT', `${url}/topics/missing/configs/retention.ms`, { value: '1' }), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  t.same(log.describeTopic('cfg').overrides, { 'cleanup.policy': 'compact' }, 'rejected requests change nothing')

  t.equal((await send(app, 'PUT', `${configPath}/retention.ms`, { value: '60000' })).statusCode, 204)
  t.equal((await send(app, 'PUT', `${configPath}/retention.ms`, { value: null })).statusCode, 204, 'a null value resets')
  t.same(log.describeTopic('cfg').overrides, { 'cleanup.policy': 'compact' })

  const del = await send(app, 'DELETE', `${configPath}/cleanup.policy`)
  t.equal(del.statusCode, 204)
  t.same(log.describeTopic('cfg').overrides, {})
  t.equal((await send(app, 'DELETE', `${configPath}/cleanup.policy`)).statusCode, 204, 'resetting a default is fine')
  assertError(t, await send(app, 'DELETE', `${configPath}/compression.type`), 404, 404, 'INVALID_REQUEST')
  assertError(t, await send(app, 'DELETE', `${url}/topics/missing/configs/retention.ms`), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
})

t.test('topic configs: configs:alter', async t => {
  const { app, log, url } = await setup(t)
  await log.createTopic('cfg', { configs: { 'cleanup.policy': 'compact' } })
  const alter = `${url}/topics/cfg/configs:alter`

  const ok = await send(app, 'POST', alter, {
    data: [{ name: 'cleanup.policy', operation: 'DELETE' }, { name: 'retention.ms', value: '1000' }, { name: 'max.message.bytes', value: '2048', operation: 'SET' }]
  })
  t.equal(ok.statusCode, 204)
  t.same(log.describeTopic('cfg').overrides, { 'retention.ms': '1000', 'max.message.bytes': '2048' })

  const before = log.describeTopic('cfg').overrides
  t.equal((await send(app, 'POST', alter, { data: [{ name: 'retention.ms', value: '5' }], validate_only: true })).statusCode, 204)
  assertError(t, await send(app, 'POST', alter, { data: [{ name: 'retention.ms', value: 'x' }], validate_only: true }), 400, 40002, 'INVALID_CONFIG')
  assertError(t, await send(app, 'POST', alter, { data: [{ name: 'retention.ms', value: '5' }, { name: 'cleanup.policy', value: 'shred' }] }), 400, 40002, 'INVALID_CONFIG')
  const unknown = assertError(t, await send(app, 'POST', alter, { data: [{ name: 'retention.ms', value: '5' }, { name: 'compression.type', value: 'gzip' }] }), 404, 404, 'INVALID_REQUEST')
  t.match(unknown.message, /^Config compression.type cannot be found for TOPIC cfg/)
  assertError(t, await send(app, 'POST', alter, { data: [{ name: 'retention.ms', value: '5', operation: 'APPEND' }] }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await send(app, 'POST', alter, { data: [{ name: 'retention.ms', value: 5 }] }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await send(app, 'POST', alter, { data: [], extra: true }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await send(app, 'POST', alter, { data: [{ name: 'retention.ms', value: '1' }, { name: 'retention.ms', value: '2' }] }), 400, 40002, 'INVALID_CONFIG')
  assertError(t, await send(app, 'POST', `${url}/topics/missing/configs:alter`, { data: [] }), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  const wrongType = await app.inject({ method: 'POST', url: alter, payload: '{"data":[]}', headers: { 'content-type': 'text/plain' } })
  assertError(t, wrongType, 415, 415, 'INVALID_REQUEST')
  t.same(log.describeTopic('cfg').overrides, before, 'validate_only and rejected batches change nothing')
})

t.test('partitions, with their offsets', async t => {
  const { app, log, base, url } = await setup(t)
  await log.createTopic('p', { partitions: 2 })
  await log.append('p', 1, [{ value: Buffer.from('a') }, { value: Buffer.from('b') }])
  const info = log.partitionInfo('p', 1)

  const list = await send(app, 'GET', `${url}/topics/p/partitions`)
  t.equal(list.statusCode, 200)
  const body = list.json() as { kind: string, metadata: Body, data: Body[] }
  t.equal(body.kind, 'KafkaPartitionList')
  t.same(body.metadata, { self: `${base}${url}/topics/p/partitions`, next: null })
  t.same(body.data.map(d => [d.partition_id, d.log_end_offset]), [[0, 0], [1, 2]])

  const one = await send(app, 'GET', `${url}/topics/p/partitions/1`)
  t.equal(one.statusCode, 200)
  const self = `${base}${url}/topics/p/partitions/1`
  t.same(one.json(), {
    kind: 'KafkaPartition',
    metadata: { self, resource_name: `crn:///kafka=${log.clusterId}/topic=p/partition=1` },
    cluster_id: log.clusterId,
    topic_name: 'p',
    partition_id: 1,
    leader: { related: `${self}/replicas/0` },
    replicas: { related: `${self}/replicas` },
    reassignment: { related: `${self}/reassignment` },
    log_start_offset: 0,
    log_end_offset: 2,
    high_watermark: 2,
    size_bytes: info.sizeBytes
  })
  t.ok(info.sizeBytes > 0)

  assertError(t, await send(app, 'GET', `${url}/topics/p/partitions/2`), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await send(app, 'GET', `${url}/topics/p/partitions/-1`), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await send(app, 'GET', `${url}/topics/p/partitions/one`), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await send(app, 'GET', `${url}/topics/p/partitions/1.5`), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await send(app, 'GET', `${url}/topics/missing/partitions`), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await send(app, 'GET', `${url}/topics/missing/partitions/0`), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await send(app, 'GET', '/v3/clusters/other/topics/p/partitions/0'), 404, 404, 'INVALID_REQUEST')
})
