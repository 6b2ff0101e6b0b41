import type { FastifyInstance } from 'fastify'
import { LogwayError } from '../errors.js'
import type { LogStore } from '../log/log-store.js'

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The log store, once it is open: route plugins `await app.getLog()` in
     * their handlers. Rejects with BROKER_NOT_AVAILABLE (503) if the log
     * failed to open or the server is shutting down.
     */
    getLog (): Promise<LogStore>
    /** The log store if it is open right now, else undefined; never waits (for /ready). */
    peekLog (): LogStore | undefined
  }
}

export interface LogAccessOptions {
  /** The store, or the promise of one that is still opening. */
  store: LogStore | Promise<LogStore>
  /** When true, the app opened the store and closes it in app.close(); an injected store belongs to its caller. */
  owned: boolean
}

/**
 * Decorates the app with `getLog()` and `peekLog()`, answers 503 to requests
 * that arrive while it shuts down, and closes an owned store in app.close(),
 * after the server has stopped accepting and in-flight requests have ended.
 */
export function installLogAccess (app: FastifyInstance, options: LogAccessOptions): void {
  let store: LogStore | undefined
  let failure: LogwayError | undefined
  let closing = false
  const opening = Promise.resolve(options.store).then(
    opened => {
      store = opened
      app.log.info({ clusterId: opened.clusterId }, 'the log is open')
    },
    (err: unknown) => {
      failure = new LogwayError('BROKER_NOT_AVAILABLE', `The log failed to open: ${(err as Error)?.message ?? String(err)}`, undefined, { cause: err })
      app.log.error({ err }, 'the log failed to open')
    }
  )

  app.decorate('getLog', async function getLog (): Promise<LogStore> {
    await opening
    if (closing) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The server is shutting down.')
    if (store === undefined) throw failure ?? new LogwayError('BROKER_NOT_AVAILABLE')
    return store
  })
  app.decorate('peekLog', function peekLog (): LogStore | undefined {
    return !closing && store?.isOpen === true ? store : undefined
  })

  app.addHook('onRequest', async () => {
    if (closing) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The server is shutting down.')
  })
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onClose', async () => {
    await opening
    if (options.owned && store !== undefined) await store.close()
  })
}
