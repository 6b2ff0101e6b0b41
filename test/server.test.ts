import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import t, { type Test } from 'tap'
import { ManualClock } from '../src/clock.js'
import { LogwayError } from '../src/errors.js'
import { buildTestServer } from './helpers/build-test-server.js'
import { deferred, fakeLogStore } from './helpers/fake-log-store.js'
import type { LogStore } from '../src/log/log-store.js'

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
const errorSchema = JSON.parse(readFileSync(new URL('../schemas/ErrorResponse.json', import.meta.url), 'utf8')) as object
const isErrorBody = new Ajv().compile(errorSchema)

/** Asserts an error response: status, Confluent error_code, stable code, and the ErrorResponse shape. */
function assertError (t: Test, res: { statusCode: number, headers: Record<string, unknown>, json: () => unknown }, status: number, errorCode: number, code: string): Record<string, unknown> {
  t.equal(res.statusCode, status, 'status')
  t.match(res.headers['content-type'], /^application\/json/)
  const body = res.json() as Record<string, unknown>
  t.match(body, { error_code: errorCode, code, message: String }, 'error body')
  t.ok(isErrorBody(body), `matches ErrorResponse: ${JSON.stringify(isErrorBody.errors)}`)
  return body
}

t.test('GET /health answers with the version and the uptime from the injected clock', async t => {
  const clock = new ManualClock()
  const { store } = fakeLogStore()
  const app = buildTestServer(t, {}, { clock, store })
  await clock.advance(1500)
  const res = await app.inject('/health')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok', version: pkg.version, uptime_ms: 1500 })
})

t.test('GET /ready is 503 until the log is open, then 200 with the cluster id', async t => {
  const opening = deferred<LogStore>()
  const { store } = fakeLogStore('cluster-1')
  const app = buildTestServer(t, {}, { store: opening.promise })

  const before = await app.inject('/ready')
  assertError(t, before, 503, 50301, 'BROKER_NOT_AVAILABLE')
  t.equal((await app.inject('/health')).statusCode, 200, '/health does not wait for the log')

  opening.resolve(store)
  t.equal(await app.getLog(), store, 'getLog() resolves once the log is open')
  const after = await app.inject('/ready')
  t.equal(after.statusCode, 200)
  t.same(after.json(), { status: 'ready', cluster_id: 'cluster-1' })
})

t.test('GET /ready is 200 with the real log store, opened in the data dir', async t => {
  const app = buildTestServer(t)
  const log = await app.getLog()
  const res = await app.inject('/ready')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ready', cluster_id: log.clusterId })
  t.not(log.clusterId, '', 'the cluster id is set')
})

t.test('a log that fails to open: /ready stays 503, getLog() rejects with BROKER_NOT_AVAILABLE', async t => {
  const app = buildTestServer(t, {}, { store: Promise.reject(new Error('disk on fire')) })
  await t.rejects(app.getLog(), { code: 'BROKER_NOT_AVAILABLE', message: /disk on fire/ })
  assertError(t, await app.inject('/ready'), 503, 50301, 'BROKER_NOT_AVAILABLE')
})

t.test('app.close() closes the log the app opened', async t => {
  const app = buildTestServer(t)
  const log = await app.getLog()
  t.ok(log.isOpen)
  await app.close()
  t.notOk(log.isOpen, 'closed with the app')
})

t.test('app.close() while the log is still opening waits for the open, then closes the log', async t => {
  const opening = deferred<LogStore>()
  const fake = fakeLogStore()
  let options: unknown
  const app = buildTestServer(t, { retentionCheckIntervalMs: 1234 }, { openLog: async o => { options = o; return await opening.promise } })
  // The log finishes opening only once the app has begun to close.
  app.addHook('preClose', async () => { opening.resolve(fake.store) })
  await app.ready()
  const waiter = app.getLog()
  await app.close()
  t.equal(fake.closed(), 1, 'the log the app opened is closed with it')
  await t.rejects(waiter, { code: 'BROKER_NOT_AVAILABLE', message: /shutting down/ }, 'a request waiting for the log is turned away')
  t.match(options, { dataDir: /data$/, retentionCheckIntervalMs: 1234, clock: ManualClock }, 'the log is opened with the config')
})

t.test('an injected store belongs to the caller: app.close() does not close it', async t => {
  const fake = fakeLogStore()
  const app = buildTestServer(t, {}, { store: fake.store })
  await app.ready()
  await app.close()
  t.equal(fake.closed(), 0)
  await t.rejects(app.getLog(), { code: 'BROKER_NOT_AVAILABLE' }, 'no log is handed out after close')
})

t.test('errors leave as { error_code, message, code }', async t => {
  const app = buildTestServer(t, { bodyLimitBytes: 64 }, { store: fakeLogStore().store })
  const body = { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'], additionalProperties: false }
  const query = { type: 'object', properties: { limit: { type: 'integer' } }, additionalProperties: false }
  // The routes declare their responses, as the response contract of every test app asks.
  const error = { $ref: 'ErrorResponse#' }
  app.post('/echo', { schema: { body, querystring: query, response: { 200: { type: 'object', properties: { body, query }, additionalProperties: false } } } },
    async request => ({ body: request.body, query: request.query }))
  app.post('/records', { schema: { body, response: { 200: body, 422: error } }, config: { bodyErrorCode: 'INVALID_RECORD' } }, async request => request.body)
  app.post('/shared', { schema: { body: { $ref: 'HealthResponse#' }, response: { 200: { $ref: 'HealthResponse#' } } } }, async request => request.body)
  app.get('/boom', { schema: { response: { 200: body } } }, async () => { throw new Error('secret internals') })
  app.get('/missing-topic', { schema: { response: { 200: body, 404: error } } }, async () => { throw new LogwayError('UNKNOWN_TOPIC_OR_PARTITION', 'Topic orders not found.') })
  const post = (url: string, payload: string, contentType = 'application/json') =>
    app.inject({ method: 'POST', url, payload, headers: { 'content-type': contentType } })

  t.test('unknown route → 404', async t => {
    const res = await app.inject('/no/such/route')
    const error = assertError(t, res, 404, 404, 'INVALID_REQUEST')
    t.match(error.message, /GET \/no\/such\/route/)
  })

  t.test('malformed JSON → 400', async t => {
    assertError(t, await post('/echo', '{"n": 1'), 400, 40001, 'INVALID_REQUEST')
  })

  t.test('empty JSON body → 400', async t => {
    assertError(t, await post('/echo', ''), 400, 40001, 'INVALID_REQUEST')
  })

  t.test('wrong content type → 415', async t => {
    assertError(t, await post('/echo', '<n>1</n>', 'application/xml'), 415, 415, 'INVALID_REQUEST')
  })

  t.test('body over bodyLimitBytes → 413', async t => {
    assertError(t, await post('/echo', JSON.stringify({ n: 1, pad: 'x'.repeat(100) })), 413, 413, 'INVALID_REQUEST')
  })

  t.test('bodies are strict: no type coercion', async t => {
    const error = assertError(t, await post('/echo', '{"n":"1"}'), 400, 40001, 'INVALID_REQUEST')
    t.match(error.message, /body\/n must be integer/)
  })

  t.test('bodies are strict: unknown fields are an error, not stripped', async t => {
    const error = assertError(t, await post('/echo', '{"n":1,"extra":true}'), 400, 40001, 'INVALID_REQUEST')
    t.match(error.message, /additional properties/)
  })

  t.test('bodies that $ref a schema of schemas/ are strict too', async t => {
    const valid = { status: 'ok', version: '1', uptime_ms: 5 }
    t.same((await post('/shared', JSON.stringify(valid))).json(), valid)
    assertError(t, await post('/shared', JSON.stringify({ ...valid, uptime_ms: '5' })), 400, 40001, 'INVALID_REQUEST')
    assertError(t, await post('/shared', JSON.stringify({ ...valid, extra: 1 })), 400, 40001, 'INVALID_REQUEST')
  })

  t.test('querystrings are coerced', async t => {
    const res = await post('/echo?limit=5', '{"n":1}')
    t.equal(res.statusCode, 200)
    t.same(res.json(), { body: { n: 1 }, query: { limit: 5 } })
  })

  t.test('a route can render body violations with its own code (422 for records)', async t => {
    assertError(t, await post('/records', '{"n":"x"}'), 422, 42206, 'INVALID_RECORD')
  })

  t.test('a LogwayError goes through the mapping table', async t => {
    const error = assertError(t, await app.inject('/missing-topic'), 404, 40401, 'UNKNOWN_TOPIC_OR_PARTITION')
    t.equal(error.message, 'Topic orders not found.')
  })

  t.test('an unexpected error → 500 without its message or stack', async t => {
    const res = await app.inject('/boom')
    const error = assertError(t, res, 500, 50001, 'UNKNOWN_SERVER_ERROR')
    t.notMatch(res.body, /secret internals|at .*\.ts/)
    t.same(Object.keys(error).sort(), ['code', 'error_code', 'message'])
  })
})
