import './route-docs.js'
import { readFileSync } from 'node:fs'
import type { FastifyPluginAsync } from 'fastify'
import type { Clock } from '../clock.js'
import { LogwayError } from '../errors.js'
import { errorResponse } from './common-responses.js'

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

export interface HealthRoutesOptions {
  clock: Clock
  /** When the server was built, in the clock's milliseconds. */
  startedAt: number
}

/** GET /health (the process serves HTTP) and GET /ready (the log is open). */
export const healthRoutes: FastifyPluginAsync<HealthRoutesOptions> = async (app, { clock, startedAt }) => {
  app.get('/health', {
    schema: {
      summary: 'Liveness: the process is up',
      operationId: 'getHealth',
      tags: ['health'],
      response: {
        200: { description: 'The process is up', $ref: 'HealthResponse#' }
      }
    }
  }, async () => ({ status: 'ok', version, uptime_ms: Math.max(0, clock.now() - startedAt) }))

  app.get('/ready', {
    schema: {
      summary: 'Readiness: the log is open',
      description: 'Answers 503 while the log is opening, if it failed to open, while the server shuts down, and while it is overloaded (with Retry-After). GET /health answers even then.',
      operationId: 'getReady',
      tags: ['health'],
      response: {
        200: { description: 'The log is open', $ref: 'ReadyResponse#' },
        503: errorResponse('The log is not open (yet), the server is shutting down, or it is overloaded (with Retry-After)')
      }
    }
  }, async () => {
    const log = app.peekLog()
    if (log === undefined) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The log is not open.')
    return { status: 'ready', cluster_id: log.clusterId }
  })
}
