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

/** One entry of an Accept header. */
export interface MediaRange {
  type: string
  subtype: string
  q: number
  /** How specific the range is: 2 for type/subtype, 1 for type/*, 0 for *\/*. */
  specificity: number
}

// RFC 9110's qvalue, leniently: any decimal from 0 to 1 ("0.5", ".5", "1.0000").
const QVALUE = /^(?:\d+(?:\.\d*)?|\.\d+)$/

/**
 * Parses an Accept header into media ranges. Parameters other than q are
 * ignored. An entry that is not `type/subtype`, `type/*` or `*\/*`, or whose q
 * is not a number from 0 to 1, is skipped: browsers and proxies send odd
 * values and a lenient reading serves them best.
 */
export function parseAccept (header: string): MediaRange[] {
  const ranges: MediaRange[] = []
  for (const entry of header.split(',')) {
    const [range = '', ...params] = entry.split(';')
    const [type, subtype, extra] = range.toLowerCase().split('/').map(s => s.trim())
    if (type === undefined || subtype === undefined || extra !== undefined || type === '' || subtype === '') continue
    if (type === '*' && subtype !== '*') continue
    let q: number | undefined = 1
    for (const param of params) {
      const [name = '', value = ''] = param.split('=').map(s => s.trim())
      if (name.toLowerCase() !== 'q') continue
      q = QVALUE.test(value) && Number(value) <= 1 ? Number(value) : undefined
    }
    if (q === undefined) continue
    const specificity = type === '*' ? 0 : subtype === '*' ? 1 : 2
    ranges.push({ type, subtype, q, specificity })
  }
  return ranges
}

/**
 * Picks the media type to answer with from `produces`. Each candidate is
 * rated by the most specific range of the Accept header that matches it (as
 * RFC 9110 says; of equally specific ranges, the highest q); q=0 excludes it.
 * The highest q wins; on a tie, the candidate matched by the more specific
 * range (a client that names `text/yaml` besides `*\/*` gets text/yaml), then
 * the one earlier in `produces`. An absent or empty header accepts anything,
 * and so does one with no readable range.
 * @returns the media type, or undefined when none is acceptable
 */
export function negotiate (accept: string | undefined, produces: readonly string[]): string | undefined {
  const ranges = accept === undefined ? [] : parseAccept(accept)
  if (ranges.length === 0) return produces[0]
  let best: { candidate: string, rating: MediaRange } | undefined
  for (const candidate of produces) {
    const [type = '', subtype = ''] = (candidate.split(';')[0] ?? '').toLowerCase().split('/').map(s => s.trim())
    let rating: MediaRange | undefined
    for (const range of ranges) {
      const matches = (range.type === '*' || range.type === type) && (range.subtype === '*' || range.subtype === subtype)
      if (matches && (rating === undefined || outranks(range, rating, 'specificity', 'q'))) rating = range
    }
    if (rating === undefined || rating.q === 0) continue
    if (best === undefined || outranks(rating, best.rating, 'q', 'specificity')) best = { candidate, rating }
  }
  return best?.candidate
}

/** Whether `a` beats `b` on `first`, or ties on it and beats `b` on `second`; a full tie does not. */
function outranks (a: MediaRange, b: MediaRange, first: 'q' | 'specificity', second: 'q' | 'specificity'): boolean {
  return a[first] > b[first] || (a[first] === b[first] && a[second] > b[second])
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
    // An unknown route is a 404 whatever the client accepts: its error body is JSON.
    if (request.is404) return
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
