import { Readable } from 'node:stream'
import t from 'tap'
import { loadConfig } from '../../src/config.js'
import { buildServer } from '../../src/server.js'
import { fakeLogStore } from '../helpers/fake-log-store.js'
import { checkResponse, installResponseContract, type ContractViolation, type SentResponse } from '../helpers/response-contract.js'

const health = { status: 'ok', version: '1.0.0', uptime_ms: 5 }
const errorBody = { error_code: 40001, message: 'no', code: 'INVALID_REQUEST' }
const error = { $ref: 'ErrorResponse#' }

function sent (response: Partial<SentResponse>): SentResponse {
  return {
    method: 'GET',
    url: '/x',
    status: 200,
    contentType: 'application/json; charset=utf-8',
    payload: JSON.stringify(health),
    declared: { 200: { $ref: 'HealthResponse#' }, 400: error },
    ...response
  }
}

t.test('checkResponse', async t => {
  t.test('passes a response that keeps the contract', async t => {
    t.equal(checkResponse(sent({})), undefined)
    t.equal(checkResponse(sent({ payload: Buffer.from(JSON.stringify(health)) })), undefined, 'a Buffer payload')
    t.equal(checkResponse(sent({ contentType: 'application/problem+json', status: 400, payload: JSON.stringify(errorBody) })), undefined, 'a +json type')
  })

  t.test('fails a status the route does not declare', async t => {
    t.match(checkResponse(sent({ status: 404, payload: JSON.stringify(errorBody) })), { problem: /status 404 is not declared \(declared: 200, 400\)/ })
    t.match(checkResponse(sent({ declared: undefined })), { problem: /declares no responses/ })
  })

  t.test('falls back to the range key, then default, as Fastify does', async t => {
    const declared = { 200: { $ref: 'HealthResponse#' }, '4xx': error, default: { type: 'null' } }
    t.equal(checkResponse(sent({ declared, status: 409, payload: JSON.stringify(errorBody) })), undefined, '409 → 4xx')
    t.match(checkResponse(sent({ declared, status: 409, payload: JSON.stringify(health) })), { problem: /does not match the schema declared for status 409/ })
    t.equal(checkResponse(sent({ declared, status: 302, contentType: undefined, payload: undefined })), undefined, '302 → default')
    t.equal(checkResponse(sent({ declared: { 404: error, '4xx': { type: 'null' } }, status: 404, payload: JSON.stringify(errorBody) })), undefined, 'the exact status first')
  })

  t.test('fails a body that does not match, with ajv\'s errors', async t => {
    const extra = checkResponse(sent({ payload: JSON.stringify({ ...health, extra: 1 }) }))
    t.match(extra, { problem: /does not match the schema declared for status 200/, errors: [{ keyword: 'additionalProperties', params: { additionalProperty: 'extra' } }] })
    t.match(checkResponse(sent({ payload: JSON.stringify({ ...health, uptime_ms: '5' }) })), { errors: [{ instancePath: '/uptime_ms', keyword: 'type' }] }, 'no coercion')
    t.match(checkResponse(sent({ payload: JSON.stringify({ ...health, status: 'down' }) })), { errors: [{ instancePath: '/status', keyword: 'const' }] })
    t.match(checkResponse(sent({ payload: '{"status":' })), { problem: /not JSON/ })
    t.match(checkResponse(sent({ payload: '' })), { problem: /does not match/ }, 'an empty body is not a HealthResponse')
  })

  t.test('checks a streamed answer handed on whole line by line: the declared body or an ErrorResponse', async t => {
    const lines = (...bodies: unknown[]): string => bodies.map(body => JSON.stringify(body) + '\n').join('')
    t.equal(checkResponse(sent({ payload: Buffer.from(lines(health, errorBody, health)) })), undefined)
    t.match(checkResponse(sent({ payload: lines(health, { ...health, uptime_ms: '5' }) })), { problem: /line 2 of the body matches neither/ })
    t.match(checkResponse(sent({ payload: lines(health) + '{"status":\n' })), { problem: /line 2 of the body is not JSON/ })
    t.match(checkResponse(sent({ payload: lines(health, health).trimEnd() })), { problem: /the body is not JSON/ }, 'each line ends with a newline')
  })

  t.test('a JSON declaration needs a JSON content type', async t => {
    t.match(checkResponse(sent({ contentType: 'text/plain; charset=utf-8' })), { problem: /content type text\/plain; charset=utf-8 for a JSON body/ })
    t.equal(checkResponse(sent({ status: 204, contentType: undefined, payload: undefined, declared: { 204: { type: 'null' } } })), undefined, 'an empty 204')
    t.match(checkResponse(sent({ status: 204, contentType: undefined, payload: undefined, declared: { 204: { type: 'object' } } })), { problem: /does not match/ })
  })

  t.test('a declaration with content names the media types', async t => {
    const declared = { 200: { content: { 'application/yaml': { schema: { type: 'string' } }, 'application/json': { schema: { $ref: 'HealthResponse#' } } } } }
    t.equal(checkResponse(sent({ declared, contentType: 'application/yaml; charset=utf-8', payload: 'a: 1\n' })), undefined)
    t.equal(checkResponse(sent({ declared })), undefined, 'a JSON entry is parsed and validated')
    t.match(checkResponse(sent({ declared, payload: JSON.stringify({ status: 'ok' }) })), { errors: [{ keyword: 'required' }] })
    t.match(checkResponse(sent({ declared, contentType: 'text/yaml', payload: 'a: 1\n' })), { problem: /content type text\/yaml is not declared for status 200 \(declared: application\/yaml, application\/json\)/ })
    t.match(checkResponse(sent({ declared, contentType: undefined, payload: 'a: 1\n' })), { problem: /content type \(none\)/ })
  })

  t.test('stream bodies are not read, but their status and type are checked', async t => {
    t.equal(checkResponse(sent({ payload: Readable.from(['not json']) })), undefined)
    t.match(checkResponse(sent({ status: 201, payload: Readable.from([]) })), { problem: /status 201 is not declared/ })
  })

  t.test('the not-found handler must answer an error body', async t => {
    t.equal(checkResponse(sent({ declared: null, status: 404, payload: JSON.stringify(errorBody) })), undefined)
    t.equal(checkResponse(sent({ declared: null, status: 503, payload: JSON.stringify({ ...errorBody, error_code: 50301, code: 'BROKER_NOT_AVAILABLE' }) })), undefined)
    t.match(checkResponse(sent({ declared: null, status: 404, payload: JSON.stringify({ statusCode: 404, error: 'Not Found' }) })), { problem: /does not match/ })
    t.match(checkResponse(sent({ declared: null, status: 200 })), { problem: /status 200 is not declared/ })
  })
})

t.test('installed on an app, it reports what the routes break', async t => {
  const app = buildServer({ ...loadConfig({ env: {} }), logLevel: 'silent' }, { store: fakeLogStore().store })
  t.teardown(() => app.close())
  const violations: ContractViolation[] = []
  const stats = installResponseContract(app, violation => violations.push(violation))

  const response: Record<number, object> = { 200: { $ref: 'HealthResponse#' } }
  app.get('/good', { schema: { response } }, async () => health)
  // The serializer strips unknown fields and throws on missing ones, but checks no minimum (or enum, or pattern).
  app.get('/bad-minimum', { schema: { response } }, async () => ({ ...health, uptime_ms: -1 }))
  // A string body skips the serializer altogether.
  app.get('/bad-string', { schema: { response } }, async (_request, reply) => reply.type('application/json').send(JSON.stringify({ ...health, extra: true })))
  app.get('/teapot', { schema: { response } }, async (_request, reply) => reply.code(418).send(errorBody))
  app.get('/stream', { schema: { response } }, async (_request, reply) => reply.type('application/json').send(Readable.from(['{}'])))
  app.get('/undocumented', async () => health)

  for (const url of ['/good', '/bad-minimum', '/bad-string', '/teapot', '/stream', '/undocumented', '/no/such/route']) {
    await app.inject(url)
  }
  const accepted = await app.inject({ url: '/good', headers: { accept: 'text/html' } })
  t.equal(accepted.statusCode, 406, 'a 406 is declared on every documented route')

  t.same(violations.map(v => [v.method, v.url, v.status]), [
    ['GET', '/bad-minimum', 200],
    ['GET', '/bad-string', 200],
    ['GET', '/teapot', 418],
    ['GET', '/undocumented', 200]
  ])
  t.match(violations[0], { problem: /does not match/, errors: [{ instancePath: '/uptime_ms', keyword: 'minimum' }] })
  t.match(violations[1], { errors: [{ keyword: 'additionalProperties', params: { additionalProperty: 'extra' } }] })
  t.match(violations[2], { problem: /status 418 is not declared \(declared: 200, 406, 500, 503\)/ })
  t.match(violations[3], { problem: /declares no responses/ })
  t.same(stats, { checked: 7, streams: 1, violations }, 'every response is counted; the stream body is not read')
})
