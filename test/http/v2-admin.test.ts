import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import type { LogStore } from '../../src/log/log-store.js'
import { buildTestServer } from '../helpers/build-test-server.js'

const schema = (name: string): object => JSON.parse(readFileSync(new URL(`../../schemas/${name}.json`, import.meta.url), 'utf8')) as object
const ajv = new Ajv()
for (const name of ['ErrorResponse', 'V2Partition', 'V2PartitionList', 'V2Topic', 'V2TopicList', 'V2PartitionOffsets', 'V2BrokerList']) ajv.addSchema(schema(name))

const V2_TYPE = /^application\/vnd\.kafka\.v2\+json/

/** Asserts a 200 in Confluent's v2 media type whose body matches the named schema; returns the body. */
function assertOk (t: Test, res: LightMyRequestResponse, schemaId: string): unknown {
  t.equal(res.statusCode, 200, `status (${res.body})`)
  t.match(res.headers['content-type'], V2_TYPE, 'answers application/vnd.kafka.v2+json')
  const body = res.json() as unknown
  t.ok(ajv.getSchema(schemaId)!(body), `matches ${schemaId}`)
  return body
}

function assertError (t: Test, res: LightMyRequestResponse, status: number, errorCode: number, code: string): Record<string, unknown> {
  t.equal(res.statusCode, status, `status (${res.body})`)
  const body = res.json() as Record<string, unknown>
  t.match(body, { error_code: errorCode, code, message: String }, 'error body')
  t.ok(ajv.getSchema('ErrorResponse')!(body), 'matches ErrorResponse')
  return body
}

async function setup (t: Test): Promise<{ app: FastifyInstance, log: LogStore }> {
  const app = buildTestServer(t)
  return { app, log: await app.getLog() }
}

const ONE_REPLICA = [{ broker: 0, leader: true, in_sync: true }]

t.test('GET /topics lists topic names, sorted', async t => {
  const { app, log } = await setup(t)
  t.same(assertOk(t, await app.inject('/topics'), 'V2TopicList'), [], 'no topics yet')
  await log.createTopic('orders')
  await log.createTopic('audit', { partitions: 2 })
  t.same(assertOk(t, await app.inject('/topics'), 'V2TopicList'), ['audit', 'orders'])
})

t.test('GET /topics/{topic_name}: name, every config, partitions led by broker 0', async t => {
  const { app, log } = await setup(t)
  await log.createTopic('orders', { partitions: 2, configs: { 'cleanup.policy': 'compact', 'retention.ms': 1000 } })
  const topic = assertOk(t, await app.inject('/topics/orders'), 'V2Topic') as { configs: Record<string, string> }
  t.same(topic, {
    name: 'orders',
    configs: Object.fromEntries(log.describeConfigs('orders').map(e => [e.name, e.value])),
    partitions: [
      { partition: 0, leader: 0, replicas: ONE_REPLICA },
      { partition: 1, leader: 0, replicas: ONE_REPLICA }
    ]
  })
  t.match(topic.configs, { 'cleanup.policy': 'compact', 'retention.ms': '1000', 'max.message.bytes': String }, 'overrides and defaults, as strings')

  const missing = assertError(t, await app.inject('/topics/nope'), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  t.match(missing.message, /nope/)
  assertError(t, await app.inject('/topics/not%20a%20legal%20name'), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
})

t.test('GET /topics/{topic_name}/partitions and /partitions/{partition_id}', async t => {
  const { app, log } = await setup(t)
  await log.createTopic('orders', { partitions: 3 })
  t.same(assertOk(t, await app.inject('/topics/orders/partitions'), 'V2PartitionList'), [0, 1, 2].map(partition => ({ partition, leader: 0, replicas: ONE_REPLICA })))
  t.same(assertOk(t, await app.inject('/topics/orders/partitions/2'), 'V2Partition'), { partition: 2, leader: 0, replicas: ONE_REPLICA })

  assertError(t, await app.inject('/topics/nope/partitions'), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject('/topics/nope/partitions/0'), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject('/topics/orders/partitions/3'), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject('/topics/orders/partitions/-1'), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject('/topics/orders/partitions/one'), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await app.inject('/topics/orders/partitions/1.5'), 400, 40001, 'INVALID_REQUEST')
})

t.test('GET /topics/{topic_name}/partitions/{partition_id}/offsets', async t => {
  const { app, log } = await setup(t)
  await log.createTopic('orders', { partitions: 2 })
  t.same(assertOk(t, await app.inject('/topics/orders/partitions/1/offsets'), 'V2PartitionOffsets'), { beginning_offset: 0, end_offset: 0 })

  await log.append('orders', 1, [{ value: Buffer.from('a') }, { value: Buffer.from('b') }, { value: Buffer.from('c') }])
  await log.deleteRecords('orders', 1, 1)
  t.same(assertOk(t, await app.inject('/topics/orders/partitions/1/offsets'), 'V2PartitionOffsets'), { beginning_offset: 1, end_offset: 3 })
  t.same(assertOk(t, await app.inject('/topics/orders/partitions/0/offsets'), 'V2PartitionOffsets'), { beginning_offset: 0, end_offset: 0 })

  assertError(t, await app.inject('/topics/nope/partitions/0/offsets'), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject('/topics/orders/partitions/2/offsets'), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject('/topics/orders/partitions/-1/offsets'), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await app.inject('/topics/orders/partitions/x/offsets'), 400, 40001, 'INVALID_REQUEST')
})

t.test('GET /brokers: one node, broker 0', async t => {
  const { app } = await setup(t)
  t.same(assertOk(t, await app.inject('/brokers'), 'V2BrokerList'), { brokers: [0] })
})

t.test('Accept picks the response type among the v2 ones; anything else is 406', async t => {
  const { app, log } = await setup(t)
  await log.createTopic('orders')
  const urls = ['/topics', '/topics/orders', '/topics/orders/partitions', '/topics/orders/partitions/0', '/topics/orders/partitions/0/offsets', '/brokers']
  const cases: Array<[string, RegExp]> = [
    ['application/vnd.kafka.v2+json', V2_TYPE],
    ['application/vnd.kafka+json', /^application\/vnd\.kafka\+json/],
    ['application/json', /^application\/json/],
    ['application/vnd.kafka.v2+json; q=0.9, application/json; q=0.5', V2_TYPE],
    ['application/vnd.kafka.v2+json; q=0.4, application/json; q=0.5', /^application\/json/],
    ['*/*', V2_TYPE]
  ]
  for (const url of urls) {
    for (const [accept, type] of cases) {
      const res = await app.inject({ url, headers: { accept } })
      t.equal(res.statusCode, 200, `${url} with Accept ${accept}`)
      t.match(res.headers['content-type'], type, `${url} with Accept ${accept}`)
    }
    const refused = await app.inject({ url, headers: { accept: 'text/html' } })
    assertError(t, refused, 406, 406, 'INVALID_REQUEST')
    t.match(refused.headers['content-type'], /^application\/json/)
  }
})
