import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import type { FastifyInstance, FastifySchema } from 'fastify'
import { loadSharedSchemas } from '../../src/http/shared-schemas.js'

/** A response that breaks the contract its route declares. */
export interface ContractViolation {
  method: string
  url: string
  status: number
  problem: string
  /** ajv's errors when the body does not match the declared schema. */
  errors?: ErrorObject[]
}

/** What the checker saw in one app. */
export interface ContractStats {
  /** Responses whose status, media type and body were checked. */
  checked: number
  /** Streamed responses: their status and media type were checked, their body was not. */
  streams: number
  violations: ContractViolation[]
}

/** One response as it leaves the app, after serialisation and every other onSend hook. */
export interface SentResponse {
  method: string
  url: string
  status: number
  contentType: string | undefined
  payload: unknown
  /**
   * The route's `schema.response`, or undefined when the route declares none;
   * null for the not-found handler, whose answers must be ErrorResponse.
   */
  declared: Record<string, unknown> | undefined | null
}

// Strict like the request-body validator: no coercion, no defaults, no stripping, so
// the body a client receives is judged as it is.
const ajv = new Ajv({ allErrors: true, strict: true, coerceTypes: false, useDefaults: false, removeAdditional: false })
for (const schema of loadSharedSchemas()) ajv.addSchema(schema)
// A declaration's `headers` are its response headers (for the OpenAPI document), not a body keyword.
ajv.addKeyword({ keyword: 'headers' })

// The not-found handler answers 404, or 503 while the server shuts down: always an error body.
const NOT_FOUND_RESPONSES: Record<string, unknown> = { '4xx': { $ref: 'ErrorResponse#' }, '5xx': { $ref: 'ErrorResponse#' } }
const compiled = new WeakMap<object, ValidateFunction>()
/** A line of a streamed answer that reports a failure. */
const ERROR_LINE = { $ref: 'ErrorResponse#' }

/**
 * Checks one response against the responses its route declares: the exact
 * status, else Fastify's range key ('4xx'), else 'default' — as Fastify picks
 * a serializer. A plain declaration is a JSON body; one with `content` names
 * its media types. Stream bodies are not read; a body of several JSON lines
 * (a streamed answer handed on whole) is checked line by line.
 * @returns what is wrong, or undefined when the response keeps the contract
 */
export function checkResponse (response: SentResponse): Omit<ContractViolation, 'method' | 'url' | 'status'> | undefined {
  const { status, payload } = response
  const responses = response.declared === null ? NOT_FOUND_RESPONSES : response.declared
  if (responses === undefined) return { problem: 'the route declares no responses' }
  const declaration = responses[String(status)] ?? responses[`${String(status)[0]}xx`] ?? responses.default
  if (!isObject(declaration)) return { problem: `status ${status} is not declared (declared: ${Object.keys(responses).join(', ')})` }

  const mediaType = response.contentType?.split(';')[0]?.trim().toLowerCase()
  const empty = payload === undefined || payload === null || payload === '' || (Buffer.isBuffer(payload) && payload.length === 0)
  let schema: unknown = declaration
  let json = true
  if (isObject(declaration.content)) {
    const content = declaration.content
    const entry = mediaType === undefined ? undefined : content[mediaType] ?? content['*/*']
    if (!isObject(entry)) return { problem: `content type ${response.contentType ?? '(none)'} is not declared for status ${status} (declared: ${Object.keys(content).join(', ')})` }
    schema = entry.schema ?? {}
    json = isJsonType(mediaType)
  } else if (!empty && !isJsonType(mediaType)) {
    return { problem: `content type ${response.contentType ?? '(none)'} for a JSON body` }
  }

  if (isStream(payload)) return undefined
  let validate: ValidateFunction
  try {
    validate = validatorFor(schema)
  } catch (err) {
    return { problem: `the schema declared for status ${status} does not compile: ${(err as Error).message}` }
  }
  let body: unknown = null
  if (!empty) {
    const text = Buffer.isBuffer(payload) ? payload.toString('utf8') : String(payload)
    if (json) {
      try {
        body = JSON.parse(text)
      } catch {
        return checkLines(text, validate, status)
      }
    } else {
      body = text
    }
  }
  if (validate(body)) return undefined
  return { problem: `the body does not match the schema declared for status ${status}: ${JSON.stringify(body).slice(0, 500)}`, errors: validate.errors ?? [] }
}

/**
 * A streamed answer handed on whole (v3 streaming produce): one JSON object
 * per line, each the declared body or, for a record that failed, an
 * ErrorResponse.
 */
function checkLines (text: string, validate: ValidateFunction, status: number): Omit<ContractViolation, 'method' | 'url' | 'status'> | undefined {
  const lines = text.split('\n')
  if (lines.pop() !== '' || lines.length < 2) return { problem: `the body is not JSON: ${text.slice(0, 200)}` }
  const validateError = validatorFor(ERROR_LINE)
  for (const [i, line] of lines.entries()) {
    let body: unknown
    try {
      body = JSON.parse(line)
    } catch {
      return { problem: `line ${i + 1} of the body is not JSON: ${line.slice(0, 200)}` }
    }
    if (validate(body) || validateError(body)) continue
    return { problem: `line ${i + 1} of the body matches neither the schema declared for status ${status} nor ErrorResponse: ${line.slice(0, 500)}`, errors: validate.errors ?? [] }
  }
  return undefined
}

/**
 * Adds an onSend hook that checks every response of `app` — routes and the
 * not-found handler — with `checkResponse`, and hands each violation to
 * `report`. Call it after buildServer and before the app is ready; its hook
 * runs after the app's own onSend hooks, so it sees what the client gets.
 */
export function installResponseContract (app: FastifyInstance, report: (violation: ContractViolation) => void): ContractStats {
  const stats: ContractStats = { checked: 0, streams: 0, violations: [] }
  app.addHook('onSend', (request, reply, payload, done) => {
    const contentType = reply.getHeader('content-type')
    const response: SentResponse = {
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      contentType: contentType === undefined ? undefined : String(contentType),
      payload,
      declared: request.is404 ? null : (request.routeOptions.schema as FastifySchema | undefined)?.response as Record<string, unknown> | undefined
    }
    const found = checkResponse(response)
    if (isStream(payload)) stats.streams++
    else stats.checked++
    if (found !== undefined) {
      const violation = { method: response.method, url: response.url, status: response.status, ...found }
      stats.violations.push(violation)
      report(violation)
    }
    done(null, payload)
  })
  return stats
}

function validatorFor (schema: unknown): ValidateFunction {
  if (!isObject(schema)) return ajv.compile({})
  let validate = compiled.get(schema)
  if (validate === undefined) {
    // ajv refuses to compile a second schema with a known $id: reuse the one it has.
    const known = typeof schema.$id === 'string' ? ajv.getSchema(schema.$id) : undefined
    validate = known ?? ajv.compile(schema)
    compiled.set(schema, validate)
  }
  return validate
}

function isJsonType (mediaType: string | undefined): boolean {
  return mediaType === 'application/json' || mediaType?.endsWith('+json') === true
}

function isStream (payload: unknown): boolean {
  return isObject(payload) && typeof payload.pipe === 'function'
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null
}
