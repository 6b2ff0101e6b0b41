import type { FastifyInstance } from 'fastify'
import { renderError } from './error-handler.js'
import { TRANSPORT_ERRORS } from './error-mapping.js'

declare module 'fastify' {
  interface FastifyContextConfig {
    /**
     * The media types the route can answer with, preferred first. Without it
     * a route answers `application/json` only.
     */
    produces?: readonly string[]
  }
  interface FastifyRequest {
    /** The media type chosen from the route's `produces` by the request's Accept header. */
    responseType: string
  }
}

const DEFAULT_PRODUCES: readonly string[] = ['application/json']

interface MediaRange {
  type: string
  subtype: string
  q: number
  /** How specific the range is: 2 for type/subtype, 1 for type/*, 0 for *\/*. */
  specificity: number
}

/**
 * Parses an Accept header into media ranges. Parameters other than q are
 * ignored; an entry that is not `type/subtype` is skipped, as browsers and
 * proxies send odd values and a lenient reading serves them best.
 */
export function parseAccept (header: string): MediaRange[] {
  const ranges: MediaRange[] = []
  for (const entry of header.split(',')) {
    const [range = '', ...params] = entry.split(';')
    const [type, subtype, extra] = range.trim().toLowerCase().split('/')
    if (type === undefined || subtype === undefined || extra !== undefined || type === '' || subtype === '') continue
    let q = 1
    for (const param of params) {
      const [name, value] = param.split('=').map(s => s.trim())
      if (name?.toLowerCase() === 'q' && value !== undefined) {
        const parsed = Number(value)
        if (value !== '' && Number.isFinite(parsed)) q = Math.min(Math.max(parsed, 0), 1)
      }
    }
    const specificity = type === '*' ? 0 : subtype === '*' ? 1 : 2
    ranges.push({ type, subtype, q, specificity })
  }
  return ranges
}

/**
 * Picks the media type to answer with: the one of `produces` the Accept
 * header rates highest (the most specific matching range sets its quality, as
 * RFC 9110 says), earlier entries of `produces` winning ties. An absent or
 * empty header accepts anything.
 * @returns the media type, or undefined when none is acceptable
 */
export function negotiate (accept: string | undefined, produces: readonly string[]): string | undefined {
  if (accept === undefined || accept.trim() === '') return produces[0]
  const ranges = parseAccept(accept)
  // A header with no readable range is treated as absent rather than refusing everything.
  if (ranges.length === 0) return produces[0]
  let best: string | undefined
  let bestQ = 0
  for (const candidate of produces) {
    const [type, subtype] = candidate.toLowerCase().split('/')
    let match: MediaRange | undefined
    for (const range of ranges) {
      const matches = (range.type === '*' || range.type === type) && (range.subtype === '*' || range.subtype === subtype)
      if (matches && (match === undefined || range.specificity > match.specificity)) match = range
    }
    if (match !== undefined && match.q > bestQ) {
      best = candidate
      bestQ = match.q
    }
  }
  return best
}

/**
 * Adds Accept negotiation to every route: a request whose Accept header
 * allows none of the route's `produces` types is answered 406 before its
 * handler runs; otherwise `request.responseType` holds the chosen type.
 * Call on the root instance.
 */
export function installContentNegotiation (app: FastifyInstance): void {
  app.decorateRequest('responseType', '')
  app.addHook('onRequest', async (request, reply) => {
    // The not-found handler has no route config; its error body is JSON whatever was asked for.
    const produces = request.routeOptions.config.produces ?? DEFAULT_PRODUCES
    const chosen = negotiate(request.headers.accept, produces)
    if (chosen !== undefined) {
      request.responseType = chosen
      return
    }
    const { status, body } = renderError(Object.assign(
      new Error(`None of the media types in Accept (${request.headers.accept ?? ''}) can be produced; this route answers ${produces.join(', ')}`),
      { statusCode: TRANSPORT_ERRORS.NOT_ACCEPTABLE.status }))
    return await reply.code(status).type('application/json; charset=utf-8').send(body)
  })
}
