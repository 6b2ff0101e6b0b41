import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import type { Config } from '../../src/config.js'
import type { LogStore } from '../../src/log/log-store.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { BINARY, call, JSON_TYPE, V2, V2Consumer, type ConsumedRecord } from '../e2e/v2-consumer-client.js'

const schema = (name: string): object => JSON.parse(readFileSync(new URL(`../../schemas/${name}.json`, import.meta.url), 'utf8')) as object
const ajv = new Ajv()
ajv.addSchema(schema('ErrorResponse'))
const isError = ajv.getSchema('ErrorResponse')!

interface Setup { app: FastifyInstance, log: LogStore, clock: ManualClock }

async function setup (t: Test, partitions = 2, overrides: Partial<Config> = {}): Promise<Setup> {
  const clock = new ManualClock()
  const app = buildTestServer(t, overrides, { clock })
  const log = await app.getLog()
  await log.createTopic('orders', { partitions })
  return { app, log, clock }
}

async function produce (s: Setup, partition: number, values: string[], topic = 'orders'): Promise<void> {
  await s.log.append(topic, partition, values.map(v => ({ key: Buffer.from(JSON.stringify(`k-${v}`)), value: Buffer.from(JSON.stringify(v)) })))
}

function assertError (t: Test, res: LightMyRequestResponse, status: number, errorCode: number, code: string, message?: RegExp): void {
  t.equal(res.statusCode, status, `status (${res.body})`)
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json() as Record<string, unknown>
  t.match(body, { error_code: errorCode, code, message: message ?? String }, 'error body')
  t.ok(isError(body), 'matches ErrorResponse')
}

const values = (records: ConsumedRecord[]): unknown[] => records.map(r => r.value)
const decoded = (records: ConsumedRecord[]): string[] => records.map(r => JSON.parse(Buffer.from(r.value as string, 'base64').toString()) as string)

/** A subscribed json instance that reads from the beginning and commits by hand. */
async function subscribed (t: Test, s: Setup, group: string, name?: string, settings: Record<string, unknown> = {}, topics = ['orders']): Promise<V2Consumer> {
  const c = await V2Consumer.create(s.app, group, { ...(name === undefined ? {} : { name }), format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false', ...settings })
  t.equal((await c.subscribe(topics)).statusCode, 204, `${c.name} subscribes`)
  return c
}

/** A records request with a timeout, the manual clock moved until it answers. */
async function readFor (s: Setup, c: V2Consumer, timeoutMs = 1, query: { max_bytes?: number } = {}): Promise<ConsumedRecord[]> {
  const state = { done: false }
  const answer = c.records({ ...query, timeout: timeoutMs }).finally(() => { state.done = true })
  for (let round = 0; round < 50 && !state.done; round++) await s.clock.advance(timeoutMs)
  return await answer
}

/** True once `promise` has settled, letting pending callbacks run first. */
async function settled (s: Setup, promise: Promise<unknown>): Promise<boolean> {
  let done = false
  promise.then(() => { done = true }, () => { done = true })
  await s.clock.advance(0)
  return done
}

// ---- instances -----------------------------------------------------------------------------

t.test('create: instance_id and base_uri; names are unique per group (40902)', async t => {
  const s = await setup(t)
  const res = await call(s.app, 'POST', '/consumers/my-group', { name: 'alice', format: 'binary', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' }, { host: 'proxy.example:8082' })
  t.equal(res.statusCode, 200, res.body)
  t.match(res.headers['content-type'], /^application\/vnd\.kafka\.v2\+json/)
  t.same(res.json(), { instance_id: 'alice', base_uri: 'http://proxy.example:8082/consumers/my-group/instances/alice' })

  assertError(t, await call(s.app, 'POST', '/consumers/my-group', { name: 'alice' }), 409, 40902, 'CONSUMER_ALREADY_EXISTS', /already exists/)
  t.equal((await call(s.app, 'POST', '/consumers/other-group', { name: 'alice' })).statusCode, 200, 'the same name in another group')

  const generated = await call(s.app, 'POST', '/consumers/my-group')
  t.equal(generated.statusCode, 200, 'no body: every default')
  t.match(generated.json(), { instance_id: /^rest-consumer-[0-9a-f-]{36}$/ })
  t.equal((await call(s.app, 'POST', '/consumers/my-group', '')).statusCode, 200, 'an empty body with a content type: every default')

  const deprecated = await call(s.app, 'POST', '/consumers/my-group', { id: 'by-id', name: 'ignored' })
  t.equal(deprecated.json().instance_id, 'by-id', 'the deprecated id overrides name')

  const encoded = await call(s.app, 'POST', '/consumers/a%20group', { name: 'x/y' })
  t.equal(encoded.json().base_uri, 'http://localhost:80/consumers/a%20group/instances/x%2Fy', 'path segments are encoded')
  t.equal((await call(s.app, 'GET', '/consumers/a%20group/instances/x%2Fy/subscription')).statusCode, 200, 'and reach the instance')
})

t.test('create: base_uri follows Forwarded, then X-Forwarded-*, then Host', async t => {
  const s = await setup(t)
  const uri = async (headers: Record<string, string>): Promise<string> => {
    const res = await call(s.app, 'POST', '/consumers/g', {}, headers)
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { base_uri: string }).base_uri.replace(/\/consumers\/g\/instances\/.*$/, '')
  }
  t.equal(await uri({ host: 'h:1' }), 'http://h:1')
  t.equal(await uri({ host: 'h:1', 'x-forwarded-proto': 'https', 'x-forwarded-host': 'public.example, inner:9' }), 'https://public.example')
  t.equal(await uri({ host: 'h:1', forwarded: 'for=192.0.2.60;proto=https;host="api.example:443", for=10.0.0.1;host=inner', 'x-forwarded-host': 'ignored' }), 'https://api.example:443')
  t.equal(await uri({ host: 'h:1', forwarded: 'for=192.0.2.60;proto=https' }), 'https://h:1', 'Forwarded without host keeps Host')
  t.equal(await uri({ host: 'h:1', 'x-forwarded-proto': 'gopher', 'x-forwarded-host': 'bad host/"x' }), 'http://h:1', 'values that are not a scheme or a host are ignored')
  t.equal(await uri({ host: '[::1]:8082' }), 'http://[::1]:8082')
})

t.test('create: Confluent\'s setting forms are accepted, bad ones refused with 422 (42204)', async t => {
  const s = await setup(t)
  let n = 0
  const create = async (settings: Record<string, unknown>): Promise<LightMyRequestResponse> => await call(s.app, 'POST', '/consumers/g', { name: `c${n++}`, ...settings })
  for (const settings of [
    { 'auto.commit.enable': 'true' }, { 'auto.commit.enable': 'FALSE' }, { 'auto.commit.enable': false },
    { format: 'JSON' }, { format: 'Binary' },
    { 'fetch.min.bytes': '1024' }, { 'fetch.min.bytes': -1 }, { responseMinBytes: 10 },
    { 'consumer.request.timeout.ms': '5000' }, { requestWaitMs: 0 },
    { 'auto.offset.reset': 'none' }
  ]) {
    t.equal((await create(settings)).statusCode, 200, JSON.stringify(settings))
  }
  for (const format of ['avro', 'protobuf', 'jsonschema', 'AVRO']) {
    assertError(t, await create({ format }), 422, 42204, 'INVALID_CONSUMER_CONFIG', /needs a schema registry/)
  }
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{ format: 'xml' }, /format must be binary or json/],
    [{ 'auto.offset.reset': 'smallest' }, /^Invalid consumer configuration/],
    [{ 'auto.commit.enable': 'yes' }, /^Invalid consumer configuration/],
    [{ 'fetch.min.bytes': 'lots' }, /^Invalid consumer configuration/],
    [{ 'consumer.request.timeout.ms': 300001 }, /^Invalid consumer configuration/],
    [{ 'consumer.request.timeout.ms': '9999999' }, /consumer.request.timeout.ms must be an integer from 0 to 300000/],
    [{ 'session.timeout.ms': 1000 }, /^Invalid consumer configuration/],
    [{ name: '' }, /^Invalid consumer configuration/]
  ]
  for (const [settings, message] of refused) assertError(t, await create(settings), 422, 42204, 'INVALID_CONSUMER_CONFIG', message)

  assertError(t, await call(s.app, 'POST', '/consumers/g', '{"name":'), 400, 40001, 'INVALID_REQUEST', /not valid JSON/)
  assertError(t, await call(s.app, 'POST', '/consumers/g', 'name=x', { 'content-type': 'text/plain' }), 415, 415, 'INVALID_REQUEST')
  assertError(t, await call(s.app, 'POST', `/consumers/${'g'.repeat(256)}`, {}), 400, 40001, 'INVALID_GROUP_ID')
  assertError(t, await call(s.app, 'POST', '/consumers/g%01', {}), 400, 40001, 'INVALID_GROUP_ID')
  assertError(t, await call(s.app, 'POST', '/consumers/g', { name: 'a\u0001b' }), 400, 40001, 'INVALID_REQUEST', /control characters/)
  // A lone surrogate (JSON can escape one) names nothing a URL can hold: refused before any instance is made.
  assertError(t, await call(s.app, 'POST', '/consumers/g', '{"name":"a\\ud800"}'), 400, 40001, 'INVALID_REQUEST', /lone surrogates/)
  t.equal((await call(s.app, 'POST', '/consumers/g', '{"name":"a\\ud800"}')).statusCode, 400, 'still refused: the first attempt made no instance')
  for (const type of [BINARY, JSON_TYPE, 'application/json', 'application/vnd.kafka+json']) {
    t.equal((await call(s.app, 'POST', '/consumers/g', { name: `t${n++}` }, { 'content-type': type })).statusCode, 200, `Content-Type ${type}`)
  }
  for (const accept of [BINARY, JSON_TYPE, 'application/vnd.kafka.avro.v2+json', 'application/json']) {
    const res = await call(s.app, 'POST', '/consumers/g', { name: `t${n++}` }, { accept })
    t.equal(res.statusCode, 200, `Accept ${accept}, as Confluent answers every consumer route in any v2 type`)
    t.match(res.headers['content-type'], accept)
  }
})

t.test('the server holds at most consumerMaxInstances instances (429)', async t => {
  const s = await setup(t, 1, { consumerMaxInstances: 2 })
  await V2Consumer.create(s.app, 'g', { name: 'a' })
  const b = await V2Consumer.create(s.app, 'g', { name: 'b' })
  assertError(t, await call(s.app, 'POST', '/consumers/g', { name: 'c' }), 429, 429, 'TOO_MANY_CONSUMER_INSTANCES', /consumerMaxInstances/)
  t.equal((await b.delete()).statusCode, 204)
  t.equal((await call(s.app, 'POST', '/consumers/g', { name: 'c' })).statusCode, 200, 'room again once one is deleted')
})

t.test('every instance route answers 404 (40403) for an unknown instance', async t => {
  const s = await setup(t)
  const base = '/consumers/g/instances/nobody'
  const routes: Array<['GET' | 'POST' | 'DELETE', string, unknown?]> = [
    ['DELETE', ''],
    ['POST', '/subscription', { topics: ['orders'] }],
    ['GET', '/subscription'],
    ['DELETE', '/subscription'],
    ['POST', '/assignments', { partitions: [] }],
    ['GET', '/assignments'],
    ['POST', '/positions', { offsets: [] }],
    ['POST', '/positions/beginning', { partitions: [] }],
    ['POST', '/positions/end', { partitions: [] }],
    ['GET', '/records'],
    ['POST', '/offsets'],
    ['GET', '/offsets']
  ]
  for (const [method, path, body] of routes) {
    assertError(t, await call(s.app, method, `${base}${path}`, body), 404, 40403, 'UNKNOWN_MEMBER_ID', /^Consumer instance not found/)
  }
})

t.test('DELETE auto-commits, leaves the group, and the instance is gone', async t => {
  const s = await setup(t, 1)
  await produce(s, 0, ['a', 'b', 'c'])
  const c = await subscribed(t, s, 'g', 'c', { 'auto.commit.enable': 'true' })
  t.same(values(await c.records()), ['a', 'b', 'c'])
  const groups = await s.app.getGroups()
  t.equal(groups.describeGroup('g').members.length, 1)
  t.equal((await c.delete()).statusCode, 204)
  t.equal(groups.describeGroup('g').members.length, 0, 'left the group')
  t.equal(groups.committedOffset('g', 'orders', 0)?.committedOffset, 3, 'auto-committed on delete')
  assertError(t, await c.delete(), 404, 40403, 'UNKNOWN_MEMBER_ID')
})

t.test('deleting an instance ends its waiting records request', async t => {
  const s = await setup(t, 1)
  const c = await subscribed(t, s, 'g', 'c', { 'consumer.request.timeout.ms': 60_000 })
  const waiting = c.fetch()
  await s.clock.advance(10)
  t.equal((await c.delete()).statusCode, 204)
  const res = await waiting
  t.equal(res.statusCode, 200)
  t.same(res.json(), [])
})

// ---- subscription and records ------------------------------------------------------------

t.test('subscribe, read in the json and binary formats, with headers and timestamps', async t => {
  const s = await setup(t, 1)
  await s.log.append('orders', 0, [
    { key: Buffer.from('"k1"'), value: Buffer.from('{"n":1}'), headers: [{ key: 'trace', value: Buffer.from('abc') }, { key: 'empty', value: null }], timestamp: 1_000 },
    { key: null, value: null, timestamp: 2_000 }
  ])
  const json = await subscribed(t, s, 'g-json')
  t.same(await json.records(), [
    { topic: 'orders', key: 'k1', value: { n: 1 }, partition: 0, offset: 0, timestamp: 1_000, headers: [{ name: 'trace', value: Buffer.from('abc').toString('base64') }, { name: 'empty', value: null }] },
    { topic: 'orders', key: null, value: null, partition: 0, offset: 1, timestamp: 2_000, headers: [] }
  ])
  t.same((await json.request('GET', '/subscription')).json(), { topics: ['orders'] })
  t.same(await json.assignments(), ['orders-0'])

  const binary = await V2Consumer.create(s.app, 'g-binary', { 'auto.offset.reset': 'earliest' })
  t.equal((await binary.subscribe(['orders'])).statusCode, 204)
  const res = await binary.fetch()
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^application\/vnd\.kafka\.binary\.v2\+json/)
  t.same((res.json() as ConsumedRecord[]).map(r => [r.key, r.value]), [[Buffer.from('"k1"').toString('base64'), Buffer.from('{"n":1}').toString('base64')], [null, null]])
})

t.test('Accept must name the instance\'s format: 406 (40601) otherwise', async t => {
  const s = await setup(t, 1)
  await produce(s, 0, ['a'])
  const json = await subscribed(t, s, 'g1')
  const binary = await V2Consumer.create(s.app, 'g2', { 'auto.offset.reset': 'earliest' })
  await binary.subscribe(['orders'])
  assertError(t, await json.fetch({}, BINARY), 406, 40601, 'CONSUMER_FORMAT_MISMATCH', /does not match the deserializer/)
  assertError(t, await json.fetch({}, V2), 406, 40601, 'CONSUMER_FORMAT_MISMATCH', /reads json records/)
  assertError(t, await binary.fetch({}, JSON_TYPE), 406, 40601, 'CONSUMER_FORMAT_MISMATCH', /reads binary records/)
  assertError(t, await binary.fetch({}, 'text/csv'), 406, 406, 'INVALID_REQUEST')

  const generic = await binary.fetch({}, V2)
  t.equal(generic.statusCode, 200, 'the format-less v2 type reads binary, as Confluent')
  t.match(generic.headers['content-type'], /^application\/vnd\.kafka\.v2\+json/)
  await binary.request('POST', '/positions/beginning', { partitions: [{ topic: 'orders', partition: 0 }] })
  t.equal((await s.app.inject({ method: 'HEAD', url: `${binary.url}/records` })).statusCode, 404, 'no HEAD: it would read records and drop them')
  const none = await s.app.inject({ method: 'GET', url: `${binary.url}/records` })
  t.equal(none.statusCode, 200, 'no Accept: the instance\'s format')
  t.match(none.headers['content-type'], /^application\/vnd\.kafka\.binary\.v2\+json/)
  for (const accept of ['*/*', `${BINARY};q=0.9, ${JSON_TYPE};q=0.5`]) {
    await json.request('POST', '/positions/beginning', { partitions: [{ topic: 'orders', partition: 0 }] })
    const res = await json.request('GET', '/records', undefined, { accept })
    t.equal(res.statusCode, 200, `json instance, Accept ${accept}`)
    t.match(res.headers['content-type'], /^application\/vnd\.kafka\.json\.v2\+json/)
  }
})

t.test('a records request long-polls: woken by an append, or empty at its timeout', async t => {
  const s = await setup(t, 2)
  const c = await subscribed(t, s, 'g', 'c', { 'consumer.request.timeout.ms': 30_000 })
  t.same(await readFor(s, c), [], 'nothing yet')
  const start = s.clock.now()
  const waiting = c.records()
  await s.clock.advance(10_000)
  t.notOk(await settled(s, waiting), 'still waiting after 10 s')
  await produce(s, 1, ['late'])
  t.same(values(await waiting), ['late'], 'woken by the append')
  t.equal(s.clock.now() - start, 10_000, 'before its timeout')

  const empty = c.records({ timeout: 5_000 })
  await s.clock.advance(4_999)
  t.notOk(await settled(s, empty), 'still waiting at 4999 ms')
  await s.clock.advance(1)
  t.same(await empty, [], 'empty at the timeout')

  const capped = c.records({ timeout: 999_999 })
  await s.clock.advance(30_000)
  t.same(await capped, [], 'the timeout is capped by consumer.request.timeout.ms')
  const defaulted = c.records()
  await s.clock.advance(29_999)
  t.notOk(await settled(s, defaulted), 'without a timeout, consumer.request.timeout.ms')
  await s.clock.advance(1)
  t.same(await defaulted, [])
})

t.test('the first read after subscribing waits for the assignment instead of coming back empty', async t => {
  const s = await setup(t, 2)
  await produce(s, 0, ['p0'])
  await produce(s, 1, ['p1'])
  const a = await subscribed(t, s, 'g', 'a')
  t.same(values(await a.records()).sort(), ['p0', 'p1'], 'a alone owns both partitions')
  const b = await subscribed(t, s, 'g', 'b')
  // b's read waits for the rebalance, which waits for a to rejoin on its next read.
  const bRead = b.records()
  await s.clock.advance(100)
  t.notOk(await settled(s, bRead), 'b waits for its partitions')
  await produce(s, 0, ['p0-2'])
  await produce(s, 1, ['p1-2'])
  const fromA = await a.records()
  const fromB = await bRead
  t.same(await a.assignments(), ['orders-0'])
  t.same(await b.assignments(), ['orders-1'])
  t.same(values(fromA), ['p0-2'], 'a keeps its position on the partition it kept')
  t.same(values(fromB), ['p1', 'p1-2'], 'b starts orders-1 at the committed offset (none: earliest)')
})

t.test('max_bytes bounds a response, but one record always comes', async t => {
  const s = await setup(t, 1, { consumerRequestMaxBytes: 2048 })
  const big = 'x'.repeat(3000)
  await produce(s, 0, ['a', 'b', 'c', big, 'd'])
  const c = await subscribed(t, s, 'g')
  const size = s.log.read('orders', 0, { offset: 0, maxRecords: 1 }).records[0]!.sizeBytes
  t.same(values(await c.records({ max_bytes: size * 2 })), ['a', 'b'])
  t.same(values(await c.records({ max_bytes: 1 })), ['c'], 'one record even when larger than max_bytes')
  t.same(values(await c.records({ max_bytes: 1 })), [big], 'one record even when larger than consumerRequestMaxBytes')
  t.same(values(await c.records({ max_bytes: 10_000_000 })), ['d'])
})

t.test('fetch.min.bytes: a request waits until it holds that many bytes, or its timeout', async t => {
  const s = await setup(t, 1)
  const c = await subscribed(t, s, 'g', 'c', { 'fetch.min.bytes': 200, 'consumer.request.timeout.ms': 10_000 })
  const waiting = c.records()
  await produce(s, 0, ['small'])
  await s.clock.advance(1_000)
  t.notOk(await settled(s, waiting), 'one small record is not enough')
  await produce(s, 0, ['y'.repeat(300)])
  t.equal((await waiting).length, 2, 'answers once it holds fetch.min.bytes')

  const timed = c.records()
  await produce(s, 0, ['tiny'])
  await s.clock.advance(10_000)
  t.same(values(await timed), ['tiny'], 'what it has at the timeout')
})

t.test('a catastrophic topic_pattern cannot stall the server: patterns run in linear time', async t => {
  const s = await setup(t, 1)
  // With a backtracking engine, (a+)+ against 248 a's and a b takes longer than anyone waits.
  const long = `${'a'.repeat(248)}b`
  await s.log.createTopic(long, { partitions: 1 })
  await s.log.createTopic('aaaa', { partitions: 1 })
  const c = await V2Consumer.create(s.app, 'g', { format: 'json', 'auto.offset.reset': 'earliest' })
  t.equal((await c.request('POST', '/subscription', { topic_pattern: '(a+)+' })).statusCode, 204)
  t.same((await c.request('GET', '/subscription')).json(), { topics: ['aaaa'] }, 'the long name does not match, and saying so took no time to speak of')
  t.same(await readFor(s, c), [])
  t.same(await c.assignments(), ['aaaa-0'])
  t.equal((await s.app.inject({ method: 'GET', url: '/health' })).statusCode, 200, 'the server still answers')
})

t.test('topic_pattern subscriptions follow topic creation', async t => {
  const s = await setup(t, 1)
  await s.log.createTopic('orders-eu', { partitions: 1 })
  await s.log.createTopic('payments', { partitions: 1 })
  const c = await V2Consumer.create(s.app, 'g', { format: 'json', 'auto.offset.reset': 'earliest' })
  t.equal((await c.request('POST', '/subscription', { topic_pattern: 'orders.*' })).statusCode, 204)
  t.same((await c.request('GET', '/subscription')).json(), { topics: ['orders', 'orders-eu'] })
  t.same(await readFor(s, c), [])
  t.same(await c.assignments(), ['orders-0', 'orders-eu-0'])
  await s.log.createTopic('orders-us', { partitions: 1 })
  await s.log.append('orders-us', 0, [{ value: Buffer.from('"us"') }])
  t.same(values(await c.records()), ['us'], 'the new topic is assigned and read')
  t.same(await c.assignments(), ['orders-0', 'orders-eu-0', 'orders-us-0'])

  assertError(t, await c.request('POST', '/subscription', { topics: ['orders'], topic_pattern: 'x' }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await c.request('POST', '/subscription', {}), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await c.request('POST', '/subscription', { topic_pattern: '(' }), 400, 40001, 'INVALID_REQUEST', /not a valid regular expression/)
  assertError(t, await c.request('POST', '/subscription', { topic_pattern: '(o)\\1.*' }), 400, 40001, 'INVALID_REQUEST', /backreference or a lookaround/)
  assertError(t, await c.request('POST', '/subscription', { topic_pattern: '(?!pay).*' }), 400, 40001, 'INVALID_REQUEST', /backreference or a lookaround/)
  assertError(t, await c.request('POST', '/subscription', { topics: ['bad name!'] }), 400, 40001, 'INVALID_TOPIC_EXCEPTION')
  assertError(t, await c.request('POST', '/subscription', { topics: [] }), 400, 40001, 'INVALID_REQUEST')
  t.same((await c.request('GET', '/subscription')).json(), { topics: ['orders', 'orders-eu', 'orders-us'] }, 'refused changes change nothing')
})

t.test('a new subscription replaces the old one and rebalances', async t => {
  const s = await setup(t, 1)
  await s.log.createTopic('payments', { partitions: 1 })
  await s.log.append('payments', 0, [{ value: Buffer.from('"paid"') }])
  await produce(s, 0, ['ordered'])
  const c = await subscribed(t, s, 'g')
  t.same(values(await c.records()), ['ordered'])
  t.equal((await c.subscribe(['payments'])).statusCode, 204)
  t.same(values(await c.records()), ['paid'])
  t.same(await c.assignments(), ['payments-0'])
})

t.test('unsubscribe leaves the group; reading then is an illegal state (40903)', async t => {
  const s = await setup(t, 1)
  const fresh = await V2Consumer.create(s.app, 'g2')
  assertError(t, await fresh.fetch(), 409, 40903, 'CONSUMER_ILLEGAL_STATE', /not subscribed to any topics or assigned any partitions/)
  const c = await subscribed(t, s, 'g')
  await readFor(s, c)
  const groups = await s.app.getGroups()
  t.equal(groups.describeGroup('g').members.length, 1)
  t.equal((await c.request('DELETE', '/subscription')).statusCode, 204)
  t.equal(groups.describeGroup('g').members.length, 0)
  t.same((await c.request('GET', '/subscription')).json(), { topics: [] })
  t.same(await c.assignments(), [])
  assertError(t, await c.fetch(), 409, 40903, 'CONSUMER_ILLEGAL_STATE')
  t.equal((await c.subscribe(['orders'])).statusCode, 204, 'and can subscribe again')
  t.equal(groups.describeGroup('g').members.length, 1)
})

// ---- offsets -------------------------------------------------------------------------------

t.test('commit semantics: an explicit offset is the last consumed and offset + 1 is stored; commit-all stores positions', async t => {
  const s = await setup(t, 2)
  await produce(s, 0, ['a', 'b', 'c', 'd', 'e'])
  const c = await subscribed(t, s, 'g')
  t.same(values(await c.records()), ['a', 'b', 'c', 'd', 'e'])

  const explicit = await c.commit([{ topic: 'orders', partition: 0, offset: 2, metadata: 'processed c' }])
  t.equal(explicit.statusCode, 200, explicit.body)
  t.match(explicit.headers['content-type'], /^application\/vnd\.kafka\.v2\+json/)
  t.same(explicit.json(), [{ topic: 'orders', partition: 0, consumed: 2, committed: 3 }])
  const read = await c.request('GET', '/offsets', { partitions: [{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }] })
  t.same(read.json(), { offsets: [{ topic: 'orders', partition: 0, offset: 3, metadata: 'processed c' }] }, 'GET shows the stored offset (the next to consume); partition 1 has none')

  const all = await c.commit()
  t.same(all.json(), [
    { topic: 'orders', partition: 0, consumed: 4, committed: 5 },
    { topic: 'orders', partition: 1, consumed: -1, committed: 0 }
  ], 'no body: each position, the offset after the last record returned')
  t.same(await c.committed([{ topic: 'orders', partition: 0 }, { topic: 'orders', partition: 1 }]), { 'orders-0': 5, 'orders-1': 0 })
  t.equal((await c.request('POST', '/offsets', {})).statusCode, 200, '{} commits everything too')
  t.same((await c.request('POST', '/offsets', { offsets: [] })).json(), [], 'an empty list commits nothing, as Confluent')
  t.equal((await c.request('POST', '/offsets?async=true', '')).statusCode, 200, 'async is accepted')

  t.equal((await c.delete()).statusCode, 204)
  await produce(s, 0, ['f'])
  const next = await subscribed(t, s, 'g')
  t.same(values(await next.records()), ['f'], 'a new instance resumes at the committed offset')
  t.equal((await next.commit([{ topic: 'orders', partition: 0, offset: 1 }])).statusCode, 200)
  await next.delete()
  const again = await subscribed(t, s, 'g')
  t.same(values(await again.records()), ['c', 'd', 'e', 'f'], 'from committed offset 2: the record after offset 1')

  assertError(t, await again.commit([{ topic: 'orders', partition: 9, offset: 1 }]), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await again.commit([{ topic: 'nope', partition: 0, offset: 1 }]), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await again.commit([{ topic: 'orders', partition: 0, offset: -1 }]), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await again.commit([{ topic: 'orders', partition: 0, offset: 1, metadata: 'm'.repeat(5000) }]), 400, 40002, 'OFFSET_METADATA_TOO_LARGE')
  assertError(t, await again.request('POST', '/offsets', { offsets: [{ topic: 'orders', partition: 0 }] }), 400, 40001, 'INVALID_REQUEST')
})

t.test('GET offsets: JSON body, query-string pairs, topics alone, or the instance\'s partitions', async t => {
  const s = await setup(t, 2)
  await produce(s, 0, ['a', 'b'])
  await produce(s, 1, ['c'])
  const c = await subscribed(t, s, 'g')
  t.equal((await c.records()).length, 3)
  await c.commit()
  const offsets = async (query: string): Promise<unknown> => {
    const res = await c.request('GET', `/offsets${query}`)
    t.equal(res.statusCode, 200, res.body)
    return (res.json() as { offsets: unknown[] }).offsets
  }
  const both = [{ topic: 'orders', partition: 0, offset: 2, metadata: '' }, { topic: 'orders', partition: 1, offset: 1, metadata: '' }]
  t.same(await offsets('?topic=orders&partition=1'), [both[1]])
  t.same(await offsets('?topic=orders&partition=0&topic=orders&partition=1'), both)
  t.same(await offsets('?topic=orders'), both, 'a topic alone: all its partitions')
  t.same(await offsets(''), both, 'neither: the instance\'s partitions')
  const body = await c.request('GET', '/offsets', { partitions: [{ topic: 'orders', partition: 1 }] }, { 'content-type': BINARY })
  t.same(body.json(), { offsets: [both[1]] }, 'a body of any v2 type')

  assertError(t, await c.request('GET', '/offsets?topic=orders&partition=0&partition=1'), 400, 40001, 'INVALID_REQUEST', /in pairs/)
  assertError(t, await c.request('GET', '/offsets?topic=orders&partition=x'), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await c.request('GET', '/offsets', '{"partitions":'), 400, 40001, 'INVALID_REQUEST', /not valid JSON/)
  assertError(t, await c.request('GET', '/offsets', { partitions: [{ topic: 'orders' }] }), 400, 40001, 'INVALID_REQUEST', /partition/)
  assertError(t, await c.request('GET', '/offsets', { partitions: [{ topic: 'nope', partition: 0 }] }), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await c.request('GET', '/offsets?topic=nope'), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await c.request('GET', '/offsets', { partitions: [{ topic: 'orders', partition: 5 }] }), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await c.request('GET', '/offsets', 'x'.repeat(1_100_000)), 413, 413, 'INVALID_REQUEST')
})

t.test('auto-commit: at a records request every 5 s, before a rebalance, and on delete', async t => {
  const s = await setup(t, 2)
  await produce(s, 0, ['a', 'b'])
  await produce(s, 1, ['c'])
  const groups = await s.app.getGroups()
  const committed = (): Array<number | undefined> => [0, 1].map(p => groups.committedOffset('g', 'orders', p)?.committedOffset)
  const a = await subscribed(t, s, 'g', 'a', { 'auto.commit.enable': 'true' })
  t.equal((await a.records()).length, 3)
  t.same(committed(), [undefined, undefined], 'not yet: less than 5 s since the instance began')
  await s.clock.advance(5_000)
  t.same(await readFor(s, a), [])
  t.same(committed(), [2, 1], 'the next request after 5 s commits what the last ones returned')

  await produce(s, 0, ['d'])
  t.same(values(await a.records()), ['d'])
  const b = await subscribed(t, s, 'g', 'b', { 'auto.commit.enable': 'true' })
  const bRead = b.records({ timeout: 1_000 })
  t.same(await readFor(s, a), [], 'a rejoins on its next read')
  t.same(committed(), [3, 1], 'after committing before it gave its partitions up')
  await s.clock.advance(1_000)
  t.same(await bRead, [], 'b starts orders-1 at the committed offset: nothing is delivered twice')
  t.same(await b.assignments(), ['orders-1'])
})

t.test('without auto-commit, what was not committed goes to the next owner again', async t => {
  const s = await setup(t, 1)
  await produce(s, 0, ['a', 'b', 'c'])
  const a = await subscribed(t, s, 'g')
  t.same(values(await a.records()), ['a', 'b', 'c'])
  t.equal((await a.commit([{ topic: 'orders', partition: 0, offset: 0 }])).statusCode, 200)
  t.equal((await a.delete()).statusCode, 204)
  const b = await subscribed(t, s, 'g')
  t.same(values(await b.records()), ['b', 'c'], 'from the last commit on')
})

t.test('a commit after the group rebalanced without the instance is refused (40903)', async t => {
  const s = await setup(t, 1, { consumerInstanceTimeoutMs: 10_000 })
  await produce(s, 0, ['a'])
  const a = await subscribed(t, s, 'g', 'a')
  t.same(values(await a.records()), ['a'])
  // a stays alive with requests that are not reads; its session (11 s) runs out.
  for (let i = 0; i < 3; i++) {
    await s.clock.advance(5_000)
    t.equal((await a.request('GET', '/assignments')).statusCode, 200)
  }
  const groups = await s.app.getGroups()
  t.equal(groups.describeGroup('g').members.length, 0, 'the group removed a')
  assertError(t, await a.commit([{ topic: 'orders', partition: 0, offset: 0 }]), 409, 40903, 'ILLEGAL_GENERATION', /no longer a member/)
  t.same(values(await a.records()), ['a'], 'reading rejoins the group, and what was not committed comes again')
  t.equal(groups.describeGroup('g').members.length, 1)
  t.equal((await a.commit()).statusCode, 200, 'and commits are accepted again')
})

// ---- manual assignment and positions -----------------------------------------------------

t.test('manual assignment: no membership, positions, seeks, commits while the group is empty', async t => {
  const s = await setup(t, 2)
  await produce(s, 0, ['a', 'b', 'c', 'd'])
  await produce(s, 1, ['x'])
  const c = await V2Consumer.create(s.app, 'g', { format: 'json', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' })
  t.equal((await c.request('POST', '/assignments', { partitions: [{ topic: 'orders', partition: 0 }] })).statusCode, 204)
  t.same(await c.assignments(), ['orders-0'])
  const groups = await s.app.getGroups()
  t.same(groups.listGroups().map(g => g.groupId), [], 'no membership')
  t.same(values(await c.records({ max_bytes: 1 })), ['a'])

  t.equal((await c.request('POST', '/positions', { offsets: [{ topic: 'orders', partition: 0, offset: 3 }] })).statusCode, 204)
  t.same(values(await c.records()), ['d'], 'a seek names the next offset to read')
  t.equal((await c.request('POST', '/positions/beginning', { partitions: [{ topic: 'orders', partition: 0 }] })).statusCode, 204)
  t.same(values(await c.records()), ['a', 'b', 'c', 'd'])
  t.equal((await c.request('POST', '/positions/end', { partitions: [{ topic: 'orders', partition: 0 }] })).statusCode, 204)
  t.same(await readFor(s, c), [])
  t.equal((await c.request('POST', '/positions', { offsets: [{ topic: 'orders', partition: 0, offset: 2 }] })).statusCode, 204)
  t.same((await c.commit()).json(), [{ topic: 'orders', partition: 0, consumed: 1, committed: 2 }], 'commit-all stores the position, moved or not')

  t.equal((await c.commit([{ topic: 'orders', partition: 0, offset: 1 }])).statusCode, 200, 'commits without a generation while the group has no members')
  t.equal(groups.committedOffset('g', 'orders', 0)?.committedOffset, 2)

  assertError(t, await c.subscribe(['orders']), 409, 40903, 'CONSUMER_ILLEGAL_STATE', /mutually exclusive/)
  assertError(t, await c.request('POST', '/positions', { offsets: [{ topic: 'orders', partition: 1, offset: 0 }] }), 409, 40903, 'CONSUMER_ILLEGAL_STATE', /No current assignment for partition orders-1/)
  assertError(t, await c.request('POST', '/positions/end', { partitions: [{ topic: 'orders', partition: 1 }] }), 409, 40903, 'CONSUMER_ILLEGAL_STATE')
  assertError(t, await c.request('POST', '/assignments', { partitions: [{ topic: 'orders', partition: 7 }] }), 404, 40402, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await c.request('POST', '/assignments', { partitions: [{ topic: 'nope', partition: 0 }] }), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
  assertError(t, await c.request('POST', '/assignments', {}), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await c.request('POST', '/positions/beginning', { partitions: [{ topic: 'orders', partition: -1 }] }), 400, 40001, 'INVALID_REQUEST')

  // Another instance subscribes: the group has a member, so the instance assigned by hand may not commit.
  const member = await subscribed(t, s, 'g')
  await member.records()
  assertError(t, await c.commit([{ topic: 'orders', partition: 0, offset: 2 }]), 409, 40903, 'NON_EMPTY_GROUP', /assigned by hand/)
  assertError(t, await member.request('POST', '/assignments', { partitions: [{ topic: 'orders', partition: 0 }] }), 409, 40903, 'CONSUMER_ILLEGAL_STATE', /is subscribed/)

  t.equal((await c.request('POST', '/assignments', { partitions: [] })).statusCode, 204, 'an empty list unassigns')
  assertError(t, await c.fetch(), 409, 40903, 'CONSUMER_ILLEGAL_STATE')
})

t.test('positions by timestamp: ISO 8601 or milliseconds; the log end when no record is that late', async t => {
  const s = await setup(t, 1)
  await s.log.append('orders', 0, [1_000, 2_000, 3_000].map(ts => ({ value: Buffer.from(String(ts)), timestamp: ts })))
  const c = await subscribed(t, s, 'g')
  t.equal((await c.records()).length, 3)
  const seek = async (body: unknown): Promise<LightMyRequestResponse> => await c.request('POST', '/positions', body)
  t.equal((await seek({ timestamps: [{ topic: 'orders', partition: 0, timestamp: 1_500 }] })).statusCode, 204)
  t.same(values(await c.records()), [2_000, 3_000])
  t.equal((await seek({ timestamps: [{ topic: 'orders', partition: 0, timestamp: new Date(2_500).toISOString() }] })).statusCode, 204)
  t.same(values(await c.records()), [3_000])
  t.equal((await seek({ timestamps: [{ topic: 'orders', partition: 0, timestamp: '1970-01-01T01:00:00+01:00' }] })).statusCode, 204, 'a zone offset')
  t.same(values(await c.records()), [1_000, 2_000, 3_000])
  t.equal((await seek({ timestamps: [{ topic: 'orders', partition: 0, timestamp: 9_000, metadata: null }] })).statusCode, 204)
  t.same(await readFor(s, c), [], 'the log end')
  t.equal((await seek({ offsets: [{ topic: 'orders', partition: 0, offset: 0 }], timestamps: [] })).statusCode, 204, 'both lists at once')
  t.equal((await c.records()).length, 3)

  assertError(t, await seek({}), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await seek({ timestamps: [{ topic: 'orders', partition: 0, timestamp: 'yesterday' }] }), 400, 40001, 'INVALID_REQUEST')
  assertError(t, await seek({ timestamps: [{ topic: 'orders', partition: 0, timestamp: '2026-13-45T00:00:00Z' }] }), 400, 40001, 'INVALID_REQUEST', /not a date-time/)
  assertError(t, await seek({ offsets: [{ topic: 'orders', partition: 0, offset: 1 }], timestamps: [{ topic: 'orders', partition: 1, timestamp: 0 }] }), 409, 40903, 'CONSUMER_ILLEGAL_STATE')
  t.same(await readFor(s, c), [], 'nothing moved when one partition was refused')
})

// ---- reset policies and bad records --------------------------------------------------------

t.test('auto.offset.reset: latest by default, none refuses, and a position the log dropped is reset', async t => {
  const s = await setup(t, 1)
  await produce(s, 0, ['old'])
  const latest = await V2Consumer.create(s.app, 'g-latest', { format: 'json' })
  await latest.subscribe(['orders'])
  t.same(await readFor(s, latest), [], 'latest (the default) skips what exists')
  await produce(s, 0, ['new'])
  t.same(values(await latest.records()), ['new'])

  const none = await subscribed(t, s, 'g-none', 'n', { 'auto.offset.reset': 'none' })
  assertError(t, await none.fetch(), 409, 40903, 'NO_OFFSET_FOR_PARTITION')

  const earliest = await subscribed(t, s, 'g-earliest')
  t.same(values(await earliest.records({ max_bytes: 1 })), ['old'])
  await produce(s, 0, ['a', 'b'])
  await s.log.deleteRecords('orders', 0, 3)
  t.same(values(await earliest.records()), ['b'], 'the position (1) left the log: reset to the log start (3)')

  const strict = await V2Consumer.create(s.app, 'g-strict', { format: 'json', 'auto.offset.reset': 'none' })
  await strict.request('POST', '/assignments', { partitions: [{ topic: 'orders', partition: 0 }] })
  await strict.request('POST', '/positions', { offsets: [{ topic: 'orders', partition: 0, offset: 1 }] })
  assertError(t, await strict.fetch(), 400, 40002, 'OFFSET_OUT_OF_RANGE', /auto.offset.reset is none/)
  await strict.request('POST', '/positions', { offsets: [{ topic: 'orders', partition: 0, offset: 99 }] })
  assertError(t, await strict.fetch(), 400, 40002, 'OFFSET_OUT_OF_RANGE', /position 99/)
})

t.test('a json instance refuses a record that is not JSON (422) and can move past it', async t => {
  const s = await setup(t, 1)
  await s.log.append('orders', 0, [{ value: Buffer.from('1') }, { value: Buffer.from('not json') }, { value: Buffer.from('3') }])
  const c = await subscribed(t, s, 'g')
  t.same(values(await c.records()), [1], 'stops before the bad record')
  assertError(t, await c.fetch(), 422, 42206, 'INVALID_RECORD', /offset 1 .* not JSON/)
  assertError(t, await c.fetch(), 422, 42206, 'INVALID_RECORD', /offset 1/)
  await c.request('POST', '/positions', { offsets: [{ topic: 'orders', partition: 0, offset: 2 }] })
  t.same(values(await c.records()), [3])

  const binary = await V2Consumer.create(s.app, 'g-binary', { 'auto.offset.reset': 'earliest' })
  await binary.subscribe(['orders'])
  t.same((await binary.records()).map(r => Buffer.from(r.value as string, 'base64').toString()), ['1', 'not json', '3'], 'a binary instance reads any bytes')
})

// ---- expiry --------------------------------------------------------------------------------

t.test('an idle instance expires after consumerInstanceTimeoutMs: it auto-commits, leaves its group, and answers 404', async t => {
  const s = await setup(t, 1, { consumerInstanceTimeoutMs: 60_000 })
  await produce(s, 0, ['a'])
  const c = await subscribed(t, s, 'g', 'c', { 'auto.commit.enable': 'true' })
  const idle = await V2Consumer.create(s.app, 'g', { name: 'idle' })
  t.same(values(await c.records()), ['a'])
  const groups = await s.app.getGroups()
  await s.clock.advance(59_000)
  t.same(await readFor(s, c), [], 'a request restarts the idle time')
  t.equal(groups.committedOffset('g', 'orders', 0)?.committedOffset, 1, 'auto-committed at that request')
  await produce(s, 0, ['b'])
  t.same(values(await c.records()), ['b'])
  await s.clock.advance(2_000)
  assertError(t, await idle.request('GET', '/subscription'), 404, 40403, 'UNKNOWN_MEMBER_ID')
  t.equal(groups.describeGroup('g').members.length, 1, 'the other one is still a member')
  t.equal(groups.committedOffset('g', 'orders', 0)?.committedOffset, 1, 'b is not committed yet')
  await s.clock.advance(60_000)
  assertError(t, await c.request('GET', '/assignments'), 404, 40403, 'UNKNOWN_MEMBER_ID', /expired/)
  t.equal(groups.describeGroup('g').members.length, 0, 'it left the group')
  t.equal(groups.committedOffset('g', 'orders', 0)?.committedOffset, 2, 'it auto-committed')
  t.equal((await call(s.app, 'POST', '/consumers/g', { name: 'idle' })).statusCode, 200, 'its name is free again')
})

t.test('an instance waiting in a records request neither expires nor loses its session', async t => {
  const s = await setup(t, 1, { consumerInstanceTimeoutMs: 5_000 })
  const c = await subscribed(t, s, 'g', 'c', { 'consumer.request.timeout.ms': 20_000 })
  t.same(await readFor(s, c), [])
  const waiting = c.records()
  await s.clock.advance(19_000)
  await produce(s, 0, ['x'])
  t.same(values(await waiting), ['x'])
  const groups = await s.app.getGroups()
  t.equal(groups.describeGroup('g').members.length, 1, 'still a member')
  await s.clock.advance(4_000)
  t.equal((await c.request('GET', '/assignments')).statusCode, 200, 'the idle time counts from the end of the request')
})

t.test('a binary consumer sees base64 keys and values', async t => {
  const s = await setup(t, 1)
  await produce(s, 0, ['hello'])
  const c = await V2Consumer.create(s.app, 'g', { 'auto.offset.reset': 'earliest' })
  await c.subscribe(['orders'])
  const records = await c.records()
  t.same(decoded(records), ['hello'])
  t.same(records.map(r => Buffer.from(r.key as string, 'base64').toString()), ['"k-hello"'])
})
