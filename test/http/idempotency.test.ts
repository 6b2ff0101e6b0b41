import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import { loadConfig, type Config } from '../../src/config.js'
import type { LogStore } from '../../src/log/log-store.js'
import { buildServer } from '../../src/server.js'
import { deferred } from '../helpers/fake-log-store.js'
import { installResponseContract } from '../helpers/response-contract.js'

const BINARY = 'application/vnd.kafka.binary.v2+json'
const b64 = (text: string): string => Buffer.from(text).toString('base64')

interface Server { app: FastifyInstance, log: LogStore, v3: string }

/**
 * A data dir and a clock that outlive the apps started on them, so a test
 * can stop the server and start it again on the same log. (buildTestServer
 * empties the test dir on every call.)
 */
function harness (t: Test): { clock: ManualClock, start: (overrides?: Partial<Config>) => Promise<Server> } {
  const dataDir = join(t.testdir(), 'data')
  const clock = new ManualClock()
  return {
    clock,
    async start (overrides = {}) {
      const app = buildServer({ ...loadConfig({ env: {} }), dataDir, logLevel: 'silent', retentionCheckIntervalMs: 0, ...overrides }, { clock })
      installResponseContract(app, ({ method, url, status, problem }) => t.fail(`response contract: ${method} ${url} answered ${status}: ${problem}`))
      t.teardown(() => app.close())
      const log = await app.getLog()
      if (!log.hasTopic('orders')) await log.createTopic('orders', { partitions: 3 })
      return { app, log, v3: `/v3/clusters/${log.clusterId}/topics/orders` }
    }
  }
}

async function post (s: Server, url: string, payload: string | Readable, key?: string, contentType = 'application/json'): Promise<LightMyRequestResponse> {
  return await s.app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': contentType, ...(key === undefined ? {} : { 'idempotency-key': key }) },
    payload
  })
}

const ends = (s: Server): number[] => s.log.partitions('orders').map(p => p.logEndOffset)
const record = (value: string, partition?: number): string => JSON.stringify({ ...(partition === undefined ? {} : { partition_id: partition }), value: { type: 'STRING', data: value } })

/** Asserts that `again` is `first` given again: status, content type and body byte for byte, marked replayed. */
function assertReplayed (t: Test, first: LightMyRequestResponse, again: LightMyRequestResponse): void {
  t.equal(again.statusCode, first.statusCode, 'the first status')
  t.equal(again.headers['content-type'], first.headers['content-type'], 'the first content type')
  t.same(again.rawPayload, first.rawPayload, 'the first body, byte for byte')
  t.equal(again.headers['idempotent-replayed'], 'true', 'marked as replayed')
  t.equal(first.headers['idempotent-replayed'], undefined, 'the first answer is not')
}

function assertError (t: Test, res: LightMyRequestResponse, status: number, errorCode: number, code: string): void {
  t.equal(res.statusCode, status, `status (${res.body})`)
  t.match(res.json(), { error_code: errorCode, code, message: String })
}

t.test('v3 produce: a retry with the key is answered the first answer again and writes nothing', async t => {
  const s = await harness(t).start()
  const first = await post(s, `${s.v3}/records`, record('a'), 'order-1')
  t.equal(first.statusCode, 200, first.body)
  t.same(ends(s), [0, 1, 0], 'one record written')
  const again = await post(s, `${s.v3}/records`, record('a'), 'order-1')
  assertReplayed(t, first, again)
  t.same(ends(s), [0, 1, 0], 'nothing more written')

  const other = await post(s, `${s.v3}/records`, record('b'), 'order-1')
  assertError(t, other, 422, 42209, 'IDEMPOTENCY_KEY_REUSED')
  t.same(ends(s), [0, 1, 0], 'a different body with the key writes nothing')
  assertError(t, await post(s, `${s.v3}/records`, record('a', 0), 'order-1'), 422, 42209, 'IDEMPOTENCY_KEY_REUSED')

  // Keys are scoped to the route and topic: the same key elsewhere is a new one.
  const batch = await post(s, `${s.v3}/records:batch`, JSON.stringify({ entries: [{ id: 'e', value: { type: 'STRING', data: 'a' } }] }), 'order-1')
  t.equal(batch.statusCode, 207, batch.body)
  await s.log.createTopic('audit', { partitions: 1 })
  const otherTopic = await post(s, `/v3/clusters/${s.log.clusterId}/topics/audit/records`, record('a'), 'order-1')
  t.equal(otherTopic.statusCode, 200)
  t.equal(s.log.partitionInfo('audit', 0).logEndOffset, 1)

  const without = await post(s, `${s.v3}/records`, record('a'))
  t.equal(without.statusCode, 200, 'without a key nothing changes')
})

t.test('v3 streaming produce: the whole stream of reports is given again', async t => {
  const s = await harness(t).start()
  const body = [record('a', 0), record('b', 1), '{"value":{"type":"BINARY","data":"not base64!"}}', record('c', 0)].join('\n')
  const first = await post(s, `${s.v3}/records`, body, 'stream-1')
  t.equal(first.statusCode, 200)
  const lines = first.body.trim().split('\n').map(line => JSON.parse(line) as { error_code: number, offset?: number })
  t.same(lines.map(l => l.error_code), [200, 200, 40001, 200], 'one report per record, the bad one included')
  t.same(ends(s), [2, 1, 0])
  const again = await post(s, `${s.v3}/records`, body, 'stream-1')
  assertReplayed(t, first, again)
  t.same(ends(s), [2, 1, 0], 'nothing more written')
})

t.test('v3 batch produce: retried, the 207 comes again and nothing is written', async t => {
  const s = await harness(t).start()
  const body = JSON.stringify({ entries: [{ id: 'a', partition_id: 2, value: { type: 'STRING', data: 'a' } }, { id: 'b', value: { type: 'STRING', data: 'b' } }, { id: 'c', partition_id: 9, value: null }] })
  const first = await post(s, `${s.v3}/records:batch`, body, 'batch-1')
  t.equal(first.statusCode, 207)
  t.match(first.json(), { successes: [{ id: 'a' }, { id: 'b' }], failures: [{ id: 'c', error_code: 40402 }] })
  const written = ends(s)
  const again = await post(s, `${s.v3}/records:batch`, body, 'batch-1')
  assertReplayed(t, first, again)
  t.same(ends(s), written)
})

t.test('v2 produce: retried, the answer comes again and nothing is written; the path is part of the request', async t => {
  const s = await harness(t).start()
  const body = JSON.stringify({ records: [{ key: b64('k1'), value: b64('one') }, { key: b64('k2'), value: b64('two') }, { value: b64('three') }] })
  const first = await post(s, '/topics/orders', body, 'v2-1', BINARY)
  t.equal(first.statusCode, 200, first.body)
  const written = ends(s)
  t.equal(written.reduce((a, b) => a + b), 3)
  assertReplayed(t, first, await post(s, '/topics/orders', body, 'v2-1', BINARY))
  t.same(ends(s), written)
  assertError(t, await post(s, '/topics/orders', body.replace(b64('three'), b64('four')), 'v2-1', BINARY), 422, 42209, 'IDEMPOTENCY_KEY_REUSED')
  assertError(t, await post(s, '/topics/orders', JSON.stringify({ records: [{ key: 'k1', value: 'one' }] }), 'v2-1', 'application/vnd.kafka.json.v2+json'), 422, 42209, 'IDEMPOTENCY_KEY_REUSED')

  const toPartition = JSON.stringify({ records: [{ value: b64('p') }] })
  const onZero = await post(s, '/topics/orders/partitions/0', toPartition, 'v2-2', BINARY)
  t.equal(onZero.statusCode, 200)
  assertError(t, await post(s, '/topics/orders/partitions/1', toPartition, 'v2-2', BINARY), 422, 42209, 'IDEMPOTENCY_KEY_REUSED')
  t.same(ends(s), [written[0] as number + 1, written[1], written[2]], 'only the first of them wrote')
})

t.test('a retry while the first request is still being processed is refused with 409', async t => {
  const s = await harness(t).start()
  const reading = deferred<void>()
  // The first request's body has not arrived yet: the server holds its key while it waits for it.
  const body = new Readable({ read () { reading.resolve() } })
  const first = post(s, `${s.v3}/records`, body, 'slow')
  await reading.promise
  const duplicate = await post(s, `${s.v3}/records`, record('a'), 'slow')
  assertError(t, duplicate, 409, 40904, 'IDEMPOTENCY_KEY_IN_FLIGHT')
  t.same(ends(s), [0, 0, 0], 'the duplicate wrote nothing')
  body.push(record('a'))
  body.push(null)
  const answered = await first
  t.equal(answered.statusCode, 200, answered.body)
  t.same(ends(s), [0, 1, 0])
  assertReplayed(t, answered, await post(s, `${s.v3}/records`, record('a'), 'slow'))
})

t.test('keys survive a restart', async t => {
  const h = harness(t)
  const s = await h.start()
  const first = await post(s, `${s.v3}/records:batch`, JSON.stringify({ entries: [{ id: 'x', value: { type: 'STRING', data: 'x' } }] }), 'durable')
  t.equal(first.statusCode, 207)
  const written = ends(s)
  await s.app.close()

  const restarted = await h.start()
  const again = await post(restarted, `${restarted.v3}/records:batch`, JSON.stringify({ entries: [{ id: 'x', value: { type: 'STRING', data: 'x' } }] }), 'durable')
  assertReplayed(t, first, again)
  t.same(ends(restarted), written)
})

t.test('keys expire after idempotencyKeyTtlMs: then the same key writes again', async t => {
  const h = harness(t)
  const s = await h.start({ idempotencyKeyTtlMs: 60_000 })
  const first = await post(s, `${s.v3}/records`, record('a', 0), 'short-lived')
  t.match(first.json(), { offset: 0 })
  await h.clock.advance(59_999)
  assertReplayed(t, first, await post(s, `${s.v3}/records`, record('a', 0), 'short-lived'))
  await h.clock.advance(1)
  const later = await post(s, `${s.v3}/records`, record('a', 0), 'short-lived')
  t.equal(later.statusCode, 200)
  t.equal(later.headers['idempotent-replayed'], undefined)
  t.match(later.json(), { offset: 1 }, 'written again')
})

t.test('a key that is not 1 to 255 printable ASCII characters is a 400 and writes nothing', async t => {
  const s = await harness(t).start()
  for (const key of ['a'.repeat(256), 'tab\there', '']) {
    assertError(t, await post(s, `${s.v3}/records`, record('a'), key), 400, 40001, 'INVALID_REQUEST')
    assertError(t, await post(s, '/topics/orders', JSON.stringify({ records: [{ value: 'a' }] }), key, 'application/vnd.kafka.json.v2+json'), 400, 40001, 'INVALID_REQUEST')
  }
  t.same(ends(s), [0, 0, 0])
  t.equal((await post(s, `${s.v3}/records`, record('a'), ' ~'.repeat(127) + '!')).statusCode, 200, '255 printable characters are fine')
})

t.test('an answer of 500 or more is not kept: a retry can still succeed, and writes once', async t => {
  const h = harness(t)
  // A disk "nearly full" for this server: every append is refused with 507.
  const full = await h.start({ minFreeBytes: Number.MAX_SAFE_INTEGER })
  const refused = await post(full, `${full.v3}/records`, record('a', 2), 'retry-me')
  assertError(t, refused, 507, 50701, 'KAFKA_STORAGE_ERROR')
  const refusedAgain = await post(full, `${full.v3}/records`, record('a', 2), 'retry-me')
  assertError(t, refusedAgain, 507, 50701, 'KAFKA_STORAGE_ERROR')
  t.equal(refusedAgain.headers['idempotent-replayed'], undefined, 'tried again, not replayed')
  await full.app.close()

  const s = await h.start()
  const succeeded = await post(s, `${s.v3}/records`, record('a', 2), 'retry-me')
  t.equal(succeeded.statusCode, 200, succeeded.body)
  t.equal(succeeded.headers['idempotent-replayed'], undefined)
  assertReplayed(t, succeeded, await post(s, `${s.v3}/records`, record('a', 2), 'retry-me'))
  t.same(ends(s), [0, 0, 1], 'written exactly once')
})
