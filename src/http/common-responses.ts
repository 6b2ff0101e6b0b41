import type { FastifyInstance } from 'fastify'

/** A response declaration with an ErrorResponse body. */
export function errorResponse (description: string): { description: string, $ref: 'ErrorResponse#' } {
  return { description, $ref: 'ErrorResponse#' }
}

/** What any route can answer, whatever its handler does. */
const EVERY_ROUTE = {
  406: errorResponse('Not Acceptable: the Accept header allows none of the media types this operation produces'),
  500: errorResponse('Unexpected server error (UNKNOWN_SERVER_ERROR); the cause is logged, never sent'),
  503: errorResponse('The log is not open: it is opening, failed to open, or the server is shutting down; or the server is overloaded, answered at once with a Retry-After header in seconds (BROKER_NOT_AVAILABLE)')
} as const

/** What a route can answer when Fastify reads the request body (every method but GET, HEAD and TRACE). */
const BODY_ROUTE = {
  400: errorResponse('Invalid request'),
  413: errorResponse('The body is larger than the server\'s bodyLimitBytes'),
  415: errorResponse('The body is not application/json')
} as const

/** What a route that can write to the log can answer. */
const WRITE_ROUTE = {
  507: errorResponse('The log could not write: the disk is (nearly) full or failing (KAFKA_STORAGE_ERROR); nothing was written')
} as const

const BODYLESS_METHODS = new Set(['GET', 'HEAD', 'TRACE'])

/**
 * Adds the error responses that come from the transport rather than from a
 * route's handler — 406, 500 and 503 everywhere; 400, 413, 415 and 507 where
 * the method carries a body — to every route that declares its responses, so
 * each route declares only its own. A route's own declaration of a status
 * wins. Call on the root instance before any route is registered.
 */
export function installCommonResponses (app: FastifyInstance): void {
  app.addHook('onRoute', route => {
    const response = route.schema?.response
    if (route.schema === undefined || typeof response !== 'object' || response === null) return
    const methods = [route.method].flat()
    const withBody = methods.some(method => !BODYLESS_METHODS.has(method))
    // A new object: routes may share their response declarations.
    route.schema = {
      ...route.schema,
      response: { ...EVERY_ROUTE, ...(withBody ? { ...BODY_ROUTE, ...WRITE_ROUTE } : {}), ...response }
    }
  })
}
