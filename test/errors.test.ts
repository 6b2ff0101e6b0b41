import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import t from 'tap'
import { ERROR_CODES, LogwayError, type ErrorCode } from '../src/errors.js'
import { renderError, routeNotFound } from '../src/http/error-handler.js'
import { ERROR_MAPPING, TRANSPORT_ERRORS } from '../src/http/error-mapping.js'

const codes = Object.keys(ERROR_CODES) as ErrorCode[]
const errorSchema = JSON.parse(readFileSync(new URL('../schemas/ErrorResponse.json', import.meta.url), 'utf8')) as { properties: { code: { enum: string[] } } }
const isErrorBody = new Ajv().compile(errorSchema)

t.test('every error code is documented', async t => {
  for (const code of codes) {
    t.match(ERROR_CODES[code], /\S/, `${code} has a description`)
  }
})

t.test('every error code is mapped to an HTTP status and a Confluent-style error_code', async t => {
  t.same(Object.keys(ERROR_MAPPING).sort(), [...codes].sort(), 'the table has exactly the codes of src/errors.ts')
  for (const code of codes) {
    const { status, errorCode } = ERROR_MAPPING[code]
    t.ok(status >= 400 && status <= 599, `${code}: ${status} is an error status`)
    t.ok(errorCode === status || Math.floor(errorCode / 100) === status, `${code}: error_code ${errorCode} is its status ${status} or starts with it`)
  }
})

t.test('the consumer errors keep the Confluent REST Proxy\'s numbers', async t => {
  const confluent: Partial<Record<ErrorCode, [number, number]>> = {
    GROUP_ID_NOT_FOUND: [404, 404],
    CONSUMER_ALREADY_EXISTS: [409, 40902],
    CONSUMER_FORMAT_MISMATCH: [406, 40601],
    CONSUMER_ILLEGAL_STATE: [409, 40903],
    INVALID_CONSUMER_CONFIG: [422, 42204],
    TOO_MANY_CONSUMER_INSTANCES: [429, 429]
  }
  for (const [code, [status, errorCode]] of Object.entries(confluent) as Array<[ErrorCode, [number, number]]>) {
    t.same(ERROR_MAPPING[code], { status, errorCode }, code)
  }
})

t.test('ErrorResponse.json lists exactly the error codes', async t => {
  t.same([...errorSchema.properties.code.enum].sort(), [...codes].sort())
})

t.test('every code renders as a valid error body', async t => {
  for (const code of codes) {
    const { status, body } = renderError(new LogwayError(code))
    t.equal(status, ERROR_MAPPING[code].status)
    t.same(body, { error_code: ERROR_MAPPING[code].errorCode, message: ERROR_CODES[code], code }, code)
    t.ok(isErrorBody(body), `${code} body matches ErrorResponse`)
  }
  for (const [name, mapping] of Object.entries(TRANSPORT_ERRORS)) {
    t.ok(codes.includes(mapping.code), `${name} uses a known code`)
  }
  t.ok(isErrorBody(routeNotFound('GET', '/x').body), 'the 404 body matches ErrorResponse')
})

t.test('an unknown failure renders as 500 and hides its message', async t => {
  for (const thrown of [new Error('db password is hunter2'), 'a string', null, { statusCode: 503, message: 'upstream' }]) {
    const { status, body, unexpected } = renderError(thrown)
    t.equal(status, 500)
    t.ok(unexpected, 'is logged as unexpected')
    t.same(body, { error_code: 50001, message: ERROR_CODES.UNKNOWN_SERVER_ERROR, code: 'UNKNOWN_SERVER_ERROR' })
  }
})

t.test('a 5xx domain error is logged as unexpected but keeps its message', async t => {
  const { status, body, unexpected } = renderError(new LogwayError('KAFKA_STORAGE_ERROR', 'disk full'))
  t.equal(status, 507)
  t.ok(unexpected)
  t.same(body, { error_code: 50701, message: 'disk full', code: 'KAFKA_STORAGE_ERROR' })
})
