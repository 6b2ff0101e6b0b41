import underPressure from '@fastify/under-pressure'
import type { FastifyInstance } from 'fastify'
import { LogwayError } from '../errors.js'
import { renderError } from './error-handler.js'

export interface OverloadOptions {
  /** Mean event-loop delay of a sample above which requests are refused, in ms; 0 does not check it. */
  maxEventLoopDelayMs: number
  /** Event-loop utilization of a sample (0 to 1) above which requests are refused; 0 does not check it. */
  maxEventLoopUtilization: number
  /** How often both are sampled, in ms. */
  sampleIntervalMs: number
}

/**
 * Answered even when overloaded: a liveness probe that fails on a busy server
 * gets it restarted, which loses more than waiting does. GET /ready is not
 * here: it answers 503 too, so a load balancer sends traffic elsewhere.
 */
const ALWAYS_ANSWERED: ReadonlySet<string> = new Set(['/health'])

/**
 * Load shedding: while the last sample of the event loop is over a limit,
 * every request (WebSocket and SSE upgrades included) is answered 503
 * (BROKER_NOT_AVAILABLE, 50301) with Retry-After before any body is read,
 * instead of waiting its turn in a queue that only grows; requests are
 * served again from the first sample under the limits. Connections already
 * open (streams, WebSockets) are not touched. With both limits 0 nothing is
 * installed. Call on the root instance before any route is registered.
 */
export function installOverload (app: FastifyInstance, options: OverloadOptions): void {
  const { maxEventLoopDelayMs, maxEventLoopUtilization, sampleIntervalMs } = options
  if (maxEventLoopDelayMs === 0 && maxEventLoopUtilization === 0) return
  // Registered as the sampler only (no limits of its own): its refusals would
  // reach the error handler, which logs every 5xx as a server failure.
  app.register(underPressure, { sampleInterval: sampleIntervalMs, eventLoopUtilizationMode: 'interval' })
  const retryAfterS = String(Math.max(1, Math.ceil(sampleIntervalMs / 1000)))
  // The samples taken while the app starts hold its start-up work (compiling
  // every route's schemas blocks the loop for a second or more): only those
  // of two intervals after it is ready are judged.
  let judgedFrom = Infinity
  app.addHook('onReady', async () => {
    judgedFrom = performance.now() + 2 * sampleIntervalMs
  })

  app.addHook('onRequest', async (request, reply) => {
    if (ALWAYS_ANSWERED.has(request.routeOptions.url ?? '') || performance.now() < judgedFrom) return
    const cause = overloadCause(app.memoryUsage(), maxEventLoopDelayMs, maxEventLoopUtilization)
    if (cause === undefined) return
    const { status, body } = renderError(new LogwayError('BROKER_NOT_AVAILABLE', `The server is overloaded (${cause}): retry after ${retryAfterS} s.`))
    request.log.debug({ cause }, 'request shed')
    // An upgrade's socket is detached from Node's HTTP server, and the
    // WebSocket plugin, which closes it after an answer, sees the request only
    // after this hook: without this it would stay open (and hold app.close()).
    if (request.headers.upgrade !== undefined) reply.raw.once('finish', () => request.raw.socket.destroy())
    return await reply.code(status).header('retry-after', retryAfterS).type('application/json; charset=utf-8').send(body)
  })
}

/** Which limit the sample is over, in words, or undefined when it is under both. */
function overloadCause (sample: { eventLoopDelay: number, eventLoopUtilized: number }, maxDelayMs: number, maxUtilization: number): string | undefined {
  if (maxDelayMs > 0 && sample.eventLoopDelay > maxDelayMs) {
    // Infinite when the loop was blocked from one sample to the next, so that no delay could be measured in between.
    const delay = Number.isFinite(sample.eventLoopDelay) ? `event loop delay ${Math.round(sample.eventLoopDelay)} ms` : 'event loop blocked for the whole sample'
    return `${delay}, limit ${maxDelayMs} ms`
  }
  if (maxUtilization > 0 && sample.eventLoopUtilized > maxUtilization) {
    return `event loop utilization ${sample.eventLoopUtilized.toFixed(2)}, limit ${maxUtilization}`
  }
  return undefined
}
