import fastify, { type FastifyInstance } from 'fastify'
import { systemClock, type Clock } from './clock.js'
import type { Config } from './config.js'
import { handleClientError } from './http/client-errors.js'
import { installCommonResponses } from './http/common-responses.js'
import { installContentNegotiation } from './http/content-negotiation.js'
import { installErrorHandler, renderError, renderFrameworkError } from './http/error-handler.js'
import { healthRoutes } from './http/health-routes.js'
import { installLogAccess } from './http/log-access.js'
import { asyncapiRoutes } from './http/asyncapi-routes.js'
import { openapiRoutes } from './http/openapi-routes.js'
import { installOverload } from './http/overload.js'
import { consoleRoutes } from './http/console-routes.js'
import { v2AdminRoutes } from './http/v2-admin-routes.js'
import { v2ConsumerRoutes } from './http/v2-consumer-routes.js'
import { v2ProduceRoutes } from './http/v2-produce-routes.js'
import { v3FetchRoutes } from './http/v3-fetch-routes.js'
import { v3BatchRoutes } from './http/v3-batch-routes.js'
import { v3RecordsRoutes } from './http/v3-records-routes.js'
import { loadSharedSchemas } from './http/shared-schemas.js'
import { buildSerializer, buildValidator } from './http/validator-compiler.js'
import { v3AdminRoutes } from './http/v3-admin-routes.js'
import { v3GroupAdminRoutes } from './http/v3-group-admin-routes.js'
import { v3GroupRoutes } from './http/v3-group-routes.js'
import { LogStore, type LogStoreOptions } from './log/log-store.js'
import { sseRoutes } from './ws/sse-routes.js'
import { wsRoutes } from './ws/ws-routes.js'

export interface ServerDeps {
  clock?: Clock
  /**
   * A log store, or the promise of one, owned by the caller: app.close() does
   * not close it. Without one, buildServer opens a LogStore at
   * `config.dataDir` in the background and closes it in app.close().
   */
  store?: LogStore | Promise<LogStore>
  /**
   * Opens the store the app owns when `store` is not given (default
   * LogStore.open); the app closes what it returns in app.close().
   */
  openLog?: (options: LogStoreOptions) => Promise<LogStore>
  /**
   * Called with the app before any route is registered: the place for
   * onRoute hooks and for @fastify/swagger when generating openapi.yaml.
   */
  beforeRoutes?: (app: FastifyInstance) => void
}

/**
 * Builds the Logway app; never listens. The log opens in the background:
 * GET /ready answers 503 until it is open, and route plugins reach it with
 * `await app.getLog()`. app.close() stops accepting, lets in-flight requests
 * finish, then closes the log (which waits for in-flight appends).
 */
export function buildServer (config: Config, deps: ServerDeps = {}): FastifyInstance {
  const clock = deps.clock ?? systemClock
  const startedAt = clock.now()
  const app = fastify({
    logger: { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    http: { maxHeaderSize: config.maxHeaderBytes },
    // Headers over maxHeaderBytes (431) and requests Node cannot parse (400) get the usual error body.
    clientErrorHandler: handleClientError,
    // Fastify's timeouts are kept on purpose: no requestTimeout (a streamed v3
    // produce is one request that may last for hours), no socket idle timeout
    // (a v2 records long poll may wait 5 minutes in silence), 72 s keep-alive
    // between requests; Node's headersTimeout (60 s) bounds a trickling head.
    // Topic names may be 249 characters long (Kafka's limit); Fastify's default is 100.
    routerOptions: { maxParamLength: 256 },
    // Requests that arrive while closing get the usual error body from log-access.ts instead of Fastify's own.
    return503OnClosing: false,
    frameworkErrors: renderFrameworkError,
    schemaController: { compilersFactory: { buildValidator, buildSerializer } }
  })

  app.server.maxConnections = config.maxConnections
  for (const schema of loadSharedSchemas()) app.addSchema(schema)
  installErrorHandler(app)
  installContentNegotiation(app)
  installCommonResponses(app)
  installLogAccess(app, {
    // Deferred by a tick so that even a synchronous throw from open() becomes a failed open, not a failed build.
    store: deps.store ?? Promise.resolve().then(() => (deps.openLog ?? LogStore.open)({
      dataDir: config.dataDir,
      clock,
      retentionCheckIntervalMs: config.retentionCheckIntervalMs,
      minFreeBytes: config.minFreeBytes,
      idempotencyKeyTtlMs: config.idempotencyKeyTtlMs
    })),
    owned: deps.store === undefined,
    clock
  })
  installOverload(app, {
    maxEventLoopDelayMs: config.maxEventLoopDelayMs,
    maxEventLoopUtilization: config.maxEventLoopUtilization,
    sampleIntervalMs: config.eventLoopSampleIntervalMs
  })

  deps.beforeRoutes?.(app)
  app.register(healthRoutes, { clock, startedAt })
  app.register(openapiRoutes)
  app.register(asyncapiRoutes)
  app.register(consoleRoutes)
  app.register(v3AdminRoutes)
  app.register(v3RecordsRoutes)
  app.register(v3BatchRoutes)
  app.register(v3FetchRoutes)
  app.register(v3GroupRoutes)
  app.register(v3GroupAdminRoutes)
  app.register(v2AdminRoutes)
  app.register(v2ProduceRoutes)
  app.register(v2ConsumerRoutes, {
    clock,
    instanceTimeoutMs: config.consumerInstanceTimeoutMs,
    maxInstances: config.consumerMaxInstances,
    requestMaxBytes: config.consumerRequestMaxBytes
  })
  app.register(sseRoutes, { clock })
  app.register(wsRoutes, {
    clock,
    renderError: err => renderError(err),
    pingIntervalMs: config.wsPingIntervalMs,
    maxFrameBytes: config.wsMaxFrameBytes,
    maxInFlight: config.wsMaxInFlight,
    sendBufferBytes: config.wsSendBufferBytes,
    slowConsumerTimeoutMs: config.wsSlowConsumerTimeoutMs
  })
  return app
}
