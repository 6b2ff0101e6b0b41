import type { FastifyContextConfig, FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { ERROR_CODES, isLogwayError, type ErrorCode } from '../errors.js'
import { ERROR_MAPPING, TRANSPORT_ERRORS } from './error-mapping.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The code a body schema violation on this route is rendered with, instead
     * of INVALID_REQUEST (400). A produce route sets INVALID_RECORD (422).
     */
    bodyErrorCode?: ErrorCode
  }
}

/** The body of every error response (schemas/ErrorResponse.json). */
export interface ErrorBody {
  error_code: number
  message: string
  code: ErrorCode
}

export interface RenderedError {
  status: number
  body: ErrorBody
  /** True for failures that are the server's fault: they are logged with their stack, which is never sent. */
  unexpected: boolean
}

/**
 * Kafka has one code for a missing topic and a missing partition; the REST
 * Proxy tells them apart (40401 topic, 40402 partition). The log names the
 * partition in `details.partition` when it is the partition that is missing.
 */
const UNKNOWN_PARTITION_MAPPING = { status: 404, errorCode: 40402 } as const

interface ErrorLike {
  code?: unknown
  statusCode?: unknown
  message?: unknown
  validation?: unknown
  validationContext?: unknown
}

/** Renders any thrown value as an error response, through the one code → HTTP mapping. */
export function renderError (err: unknown, routeConfig?: FastifyContextConfig): RenderedError {
  if (isLogwayError(err)) {
    const { status, errorCode } = err.code === 'UNKNOWN_TOPIC_OR_PARTITION' && err.details?.partition !== undefined
      ? UNKNOWN_PARTITION_MAPPING
      : ERROR_MAPPING[err.code]
    return { status, body: { error_code: errorCode, message: err.message, code: err.code }, unexpected: status >= 500 }
  }
  const e: ErrorLike = typeof err === 'object' && err !== null ? err : {}
  const message = typeof e.message === 'string' ? e.message : ''
  if (e.validation !== undefined) {
    const code = e.validationContext === 'body' ? routeConfig?.bodyErrorCode ?? 'INVALID_REQUEST' : 'INVALID_REQUEST'
    const { status, errorCode } = ERROR_MAPPING[code]
    return { status, body: { error_code: errorCode, message, code }, unexpected: false }
  }
  switch (e.code) {
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return transport(TRANSPORT_ERRORS.UNSUPPORTED_MEDIA_TYPE, message)
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return transport(TRANSPORT_ERRORS.PAYLOAD_TOO_LARGE, message)
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return transport({ ...ERROR_MAPPING.INVALID_REQUEST, code: 'INVALID_REQUEST' }, 'Body is not valid JSON')
  }
  // Other errors that carry a 4xx status (from Fastify or its parsers) describe the request, so their message is safe to show.
  if (typeof e.statusCode === 'number' && e.statusCode >= 400 && e.statusCode < 500) {
    const errorCode = e.statusCode === 400 ? ERROR_MAPPING.INVALID_REQUEST.errorCode : e.statusCode
    return transport({ status: e.statusCode, errorCode, code: 'INVALID_REQUEST' }, message)
  }
  const { status, errorCode } = ERROR_MAPPING.UNKNOWN_SERVER_ERROR
  return { status, body: { error_code: errorCode, message: ERROR_CODES.UNKNOWN_SERVER_ERROR, code: 'UNKNOWN_SERVER_ERROR' }, unexpected: true }
}

/** The 404 answer for a method and URL that match no route. */
export function routeNotFound (method: string, url: string): RenderedError {
  return transport(TRANSPORT_ERRORS.ROUTE_NOT_FOUND, `Route ${method} ${url} not found`)
}

function transport (mapping: { status: number, errorCode: number, code: ErrorCode }, message: string): RenderedError {
  return { status: mapping.status, body: { error_code: mapping.errorCode, message, code: mapping.code }, unexpected: false }
}

/**
 * Fastify's `frameworkErrors` option: the URLs Fastify refuses before any
 * route or hook runs — bad percent-encoding (400), a path parameter longer
 * than maxParamLength (414) — get the usual error body instead of Fastify's own.
 */
export function renderFrameworkError (err: FastifyError, _request: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = renderError(err)
  reply.code(status).send(body)
}

/**
 * Sets the app's error and not-found handlers: every error leaves as
 * `{ error_code, message, code }`; unexpected ones are logged, never leaked.
 * Call on the root instance so every route plugin inherits them.
 */
export function installErrorHandler (app: FastifyInstance): void {
  app.setErrorHandler((err, request, reply) => {
    const { status, body, unexpected } = renderError(err, request.routeOptions.config)
    if (unexpected) {
      request.log.error({ err }, 'request failed')
    } else {
      request.log.debug({ code: body.code, message: body.message }, 'request rejected')
    }
    return reply.code(status).send(body)
  })
  app.setNotFoundHandler((request, reply) => {
    const { status, body } = routeNotFound(request.method, request.url)
    return reply.code(status).send(body)
  })
}
