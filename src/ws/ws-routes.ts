import websocket from '@fastify/websocket'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify'
import type { Clock } from '../clock.js'
import type { LogStore } from '../log/log-store.js'
import { AppendHub } from './append-hub.js'
import { WS_CLOSE } from './close-codes.js'
import { sharedFrameReader } from './ws-schemas.js'
import { WsSession, type WsErrorRenderer, type WsSessionStats } from './ws-session.js'
import type { WsSocket } from './ws-socket.js'

declare module 'fastify' {
  interface FastifyInstance {
    /** What each open WebSocket session holds now (send buffer, stall, operations, produce frames awaiting acks). */
    wsSessions (): WsSessionStats[]
  }
}

export interface WsRoutesOptions {
  clock: Clock
  /** Renders thrown values as error frames, with the code table HTTP uses (injected: src/ws does not import src/http). */
  renderError: WsErrorRenderer
  pingIntervalMs: number
  maxFrameBytes: number
  maxInFlight: number
  sendBufferBytes: number
  slowConsumerTimeoutMs: number
}

/** How long server shutdown waits for sockets to finish their close handshake before cutting them (real time: shutdown must end). */
const SHUTDOWN_GRACE_MS = 2_000

/**
 * The WebSocket API: `GET /v3/clusters/{cluster_id}/ws` (and `/ws`) upgrade
 * to a session (src/ws/ws-session.ts) whose frames are described by
 * schemas/ws/. A plain GET answers 426. Closing the app stops every session
 * (produce frames already read are acknowledged first) with 1001.
 */
export const wsRoutes: FastifyPluginAsync<WsRoutesOptions> = async (app, options) => {
  const sessions = new Set<WsSession>()
  app.decorate('wsSessions', () => [...sessions].map(s => s.stats()))
  app.register(async scope => await sessionRoutes(scope, options, sessions))
}
// Not encapsulated (as fastify-plugin does it), so that app.wsSessions reaches the root; the routes and
// @fastify/websocket's hooks stay inside sessionRoutes' own scope.
Object.assign(wsRoutes, { [Symbol.for('skip-override')]: true })

async function sessionRoutes (app: FastifyInstance, options: WsRoutesOptions, sessions: Set<WsSession>): Promise<void> {
  const reader = sharedFrameReader()
  let hub: { log: LogStore, hub: AppendHub } | undefined

  await app.register(websocket, {
    options: { maxPayload: options.maxFrameBytes, perMessageDeflate: false },
    errorHandler: (err: Error, socket: WsSocket, request: FastifyRequest) => {
      request.log.debug({ err }, 'websocket error')
      socket.terminate()
    },
    preClose: async () => {
      await Promise.all([...sessions].map(async session => await session.shutdown()))
      const open = [...sessions]
      let timer: ReturnType<typeof setTimeout> | undefined
      const grace = new Promise<void>(resolve => { timer = setTimeout(resolve, SHUTDOWN_GRACE_MS) })
      await Promise.race([Promise.all(open.map(async s => await s.whenClosed)), grace])
      clearTimeout(timer)
      for (const session of open) if (!session.closed) session.terminate()
      await new Promise<void>(resolve => app.websocketServer.close(() => resolve()))
    }
  })
  app.addHook('onClose', async () => { hub?.hub.close() })

  for (const url of ['/v3/clusters/:cluster_id/ws', '/ws']) {
    const short = url === '/ws'
    app.route<{ Params: { cluster_id?: string } }>({
      method: 'GET',
      url,
      schema: {
        summary: short ? 'Open a WebSocket session (short path)' : 'Open a WebSocket session',
        description: 'Upgrades the connection to the WebSocket API (README, "WebSocket API"): JSON text frames described by schemas/ws/ to produce, read from a position, join consumer groups, commit and seek, with credit-based flow control. A GET without an Upgrade header answers 426.',
        operationId: short ? 'openWebSocketShort' : 'openWebSocket',
        tags: ['websocket'],
        ...(short
          ? {}
          : { params: { type: 'object', required: ['cluster_id'], properties: { cluster_id: { type: 'string' } } } }),
        response: {
          101: { description: 'Switching Protocols: the connection is a WebSocket session from here on' },
          ...(short ? {} : { 404: { description: 'Unknown cluster', $ref: 'ErrorResponse#' } }),
          426: { description: 'Upgrade Required: open the path with a WebSocket client', $ref: 'ErrorResponse#' }
        }
      },
      // Runs before the upgrade: an unknown cluster or a log that is not open answers in HTTP.
      preHandler: async request => {
        const log = await app.getLog()
        const clusterId = request.params.cluster_id
        if (clusterId !== undefined && clusterId !== log.clusterId) {
          throw Object.assign(new Error(`Cluster ${clusterId} cannot be found.`), { statusCode: 404 })
        }
      },
      handler: async (_request, reply) => {
        reply.header('upgrade', 'websocket')
        throw Object.assign(new Error('This path speaks WebSocket: open it with a WebSocket client (an Upgrade: websocket request).'), { statusCode: 426 })
      },
      wsHandler: (socket: WsSocket, request: FastifyRequest) => {
        const log = app.peekLog()
        if (log === undefined) {
          socket.close(WS_CLOSE.GOING_AWAY, 'server shutting down')
          return
        }
        if (hub === undefined || hub.log !== log) hub = { log, hub: new AppendHub(log) }
        const session = new WsSession({
          socket,
          log,
          getGroups: async () => await app.getGroups(),
          hub: hub.hub,
          clock: options.clock,
          reader,
          renderError: options.renderError,
          logger: request.log,
          clientHost: request.ip,
          pingIntervalMs: options.pingIntervalMs,
          maxInFlight: options.maxInFlight,
          sendBufferBytes: options.sendBufferBytes,
          slowConsumerTimeoutMs: options.slowConsumerTimeoutMs,
          onClosed: s => sessions.delete(s)
        })
        sessions.add(session)
      }
    })
  }
}
