import type { FastifyInstance } from 'fastify'
import type { Clock } from '../clock.js'
import { LogwayError } from '../errors.js'
import { GroupCoordinator, type GroupCoordinatorOptions } from '../groups/group-coordinator.js'
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
    /**
     * The consumer-group coordinator over the log, opened on first use.
     * Rejects like getLog() when the log is not available.
     */
    getGroups (): Promise<GroupCoordinator>
  }
}

export interface LogAccessOptions {
  /** The store, or the promise of one that is still opening. */
  store: LogStore | Promise<LogStore>
  /** When true, the app opened the store and closes it in app.close(); an injected store belongs to its caller. */
  owned: boolean
  clock: Clock
  /** Limits and defaults of the group coordinator (its own defaults otherwise). */
  groups?: Omit<GroupCoordinatorOptions, 'log' | 'clock'>
}

/**
 * Decorates the app with `getLog()`, `peekLog()` and `getGroups()`, answers
 * 503 to requests that arrive while it shuts down, and in app.close(), after
 * the server has stopped accepting and in-flight requests have ended, closes
 * the group coordinator and then an owned store.
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

  let groups: Promise<GroupCoordinator> | undefined
  app.decorate('getGroups', async function getGroups (): Promise<GroupCoordinator> {
    const log = await app.getLog()
    groups ??= GroupCoordinator.open({ ...options.groups, log, clock: options.clock })
    // A failed open is not cached: the next request tries again.
    groups.catch(() => { groups = undefined })
    return await groups
  })

  app.addHook('onRequest', async () => {
    if (closing) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The server is shutting down.')
  })
  app.addHook('preClose', async () => {
    closing = true
  })
  app.addHook('onClose', async () => {
    await opening
    if (groups !== undefined) await groups.then(async coordinator => await coordinator.close(), () => {})
    if (options.owned && store !== undefined) await store.close()
  })
}
