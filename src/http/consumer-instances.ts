import { randomUUID } from 'node:crypto'
import type { Clock, TimerHandle } from '../clock.js'
import { LogwayError } from '../errors.js'
import type { GroupCoordinator } from '../groups/group-coordinator.js'
import { hasUnnamableCharacters, validateGroupId } from '../groups/group-coordinator.js'
import type { LogStore } from '../log/log-store.js'
import { ConsumerInstance, type ConsumerInstanceSettings } from '../groups/consumer-instance.js'

/** The coordinator's default bounds on session timeouts (group.min/max.session.timeout.ms). */
const MIN_SESSION_TIMEOUT_MS = 6_000
const MAX_SESSION_TIMEOUT_MS = 1_800_000
/**
 * An instance's session (and rebalance) timeout outlasts its idle timeout
 * by this much, so an idle instance expires (auto-committing, leaving)
 * before its group gives up on it.
 */
const SESSION_MARGIN_MS = 1_000
/** The longest delay a timer takes. */
const MAX_TIMER_MS = 2_147_483_647
/** The longest instance name: it is a URL path segment and a member id prefix. */
const MAX_NAME_LENGTH = 255

export interface ConsumerInstancesOptions {
  clock: Clock
  /** An instance with no request for this long is closed (Confluent's consumer.instance.timeout.ms). */
  instanceTimeoutMs: number
  /** The most instances kept at once. */
  maxInstances: number
  /** Failures of background work (auto-commits on expiry, leaving the group). */
  onBackgroundError?: (err: unknown, what: string) => void
}

/** What an instance needs from the server when it is created. */
export interface NewInstance {
  groupId: string
  /** Absent: a generated name (rest-consumer-<uuid>). */
  name?: string
  settings: ConsumerInstanceSettings
  log: LogStore
  groups: GroupCoordinator
  clientHost: string
}

interface Entry {
  instance: ConsumerInstance
  /** When the instance expires unless a request comes first (ms since the epoch). */
  expiresAt: number
  /** Requests in progress: an instance never expires under one. */
  active: number
  timer: TimerHandle | null
}

/**
 * The REST v2 consumer instances of one server, by group and name, with
 * bounded memory (at most `maxInstances`) and idle expiry on the injected
 * clock: an instance that sees no request for `instanceTimeoutMs` is closed
 * (auto-commit when enabled, then it leaves its group).
 */
export class ConsumerInstances {
  readonly #options: ConsumerInstancesOptions
  readonly #entries = new Map<string, Entry>()
  /** Instances being closed, by id: requests for them wait for the close to end, then find none. */
  readonly #closing = new Map<string, Promise<void>>()
  #closed = false

  constructor (options: ConsumerInstancesOptions) {
    this.#options = options
  }

  /** How many instances exist. */
  get size (): number {
    return this.#entries.size
  }

  /**
   * Creates an instance (not yet subscribed or assigned), once an instance
   * of the same name that is closing has closed.
   * @throws LogwayError INVALID_GROUP_ID, INVALID_REQUEST (bad name), BROKER_NOT_AVAILABLE (closing),
   *   CONSUMER_ALREADY_EXISTS, TOO_MANY_CONSUMER_INSTANCES
   */
  async create (init: NewInstance): Promise<ConsumerInstance> {
    validateGroupId(init.groupId)
    const name = init.name ?? `rest-consumer-${randomUUID()}`
    if (name.length === 0 || name.length > MAX_NAME_LENGTH || hasUnnamableCharacters(name)) {
      throw new LogwayError('INVALID_REQUEST', `A consumer instance name is 1 to ${MAX_NAME_LENGTH} characters without control characters or lone surrogates (got ${JSON.stringify(name).slice(0, 300)}).`)
    }
    const id = entryId(init.groupId, name)
    await this.#closing.get(id)
    if (this.#closed) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The server is shutting down.')
    if (this.#entries.has(id)) {
      throw new LogwayError('CONSUMER_ALREADY_EXISTS', `Consumer with specified consumer ID already exists in the specified consumer group: '${name}' in group '${init.groupId}'.`)
    }
    if (this.#entries.size >= this.#options.maxInstances) {
      throw new LogwayError('TOO_MANY_CONSUMER_INSTANCES', `The server already holds ${this.#entries.size} consumer instances, the most it allows (consumerMaxInstances): delete unused ones or wait for idle ones to expire.`)
    }
    const timeoutMs = this.#options.instanceTimeoutMs
    const instance = new ConsumerInstance(init.groupId, name, init.settings, {
      log: init.log,
      groups: init.groups,
      clock: this.#options.clock,
      sessionTimeoutMs: Math.min(MAX_SESSION_TIMEOUT_MS, Math.max(MIN_SESSION_TIMEOUT_MS, timeoutMs + SESSION_MARGIN_MS)),
      rebalanceTimeoutMs: Math.min(MAX_TIMER_MS, timeoutMs + SESSION_MARGIN_MS),
      clientHost: init.clientHost,
      onBackgroundError: this.#options.onBackgroundError
    })
    const entry: Entry = { instance, expiresAt: this.#options.clock.now() + timeoutMs, active: 0, timer: null }
    this.#entries.set(id, entry)
    this.#schedule(id, entry, timeoutMs)
    return instance
  }

  /**
   * Runs one request's work on an instance: it cannot expire meanwhile, and
   * its idle time starts again when the work ends.
   * @throws LogwayError UNKNOWN_MEMBER_ID (no such instance: 404 40403), and what `work` throws
   */
  async use<T> (groupId: string, name: string, work: (instance: ConsumerInstance) => Promise<T> | T): Promise<T> {
    const id = entryId(groupId, name)
    await this.#closing.get(id)
    const entry = this.#entries.get(id)
    if (entry === undefined) throw instanceNotFound(groupId, name)
    entry.active++
    try {
      return await work(entry.instance)
    } finally {
      entry.active--
      entry.expiresAt = this.#options.clock.now() + this.#options.instanceTimeoutMs
    }
  }

  /**
   * Deletes an instance: auto-commits (when enabled) and leaves its group.
   * @throws LogwayError UNKNOWN_MEMBER_ID (no such instance)
   */
  async delete (groupId: string, name: string): Promise<void> {
    const id = entryId(groupId, name)
    await this.#closing.get(id)
    const entry = this.#entries.get(id)
    if (entry === undefined) throw instanceNotFound(groupId, name)
    await this.#remove(id, entry)
  }

  /** Ends every waiting records request (they answer with what they hold). */
  interruptAll (): void {
    for (const entry of this.#entries.values()) entry.instance.interrupt()
  }

  /** Closes every instance (auto-commits, leaves); later creates are refused. */
  async closeAll (): Promise<void> {
    this.#closed = true
    await Promise.all([...this.#entries].map(async ([id, entry]) => await this.#remove(id, entry)))
    await Promise.all([...this.#closing.values()])
  }

  async #remove (id: string, entry: Entry): Promise<void> {
    if (this.#entries.get(id) !== entry) return
    this.#entries.delete(id)
    if (entry.timer !== null) this.#options.clock.clearTimeout(entry.timer)
    entry.timer = null
    const closing = entry.instance.close().finally(() => {
      if (this.#closing.get(id) === closing) this.#closing.delete(id)
    })
    this.#closing.set(id, closing)
    await closing
  }

  // One timer per instance, moved lazily: requests only push expiresAt back, and the timer re-arms when it fires early.
  #schedule (id: string, entry: Entry, delayMs: number): void {
    const clock = this.#options.clock
    entry.timer = clock.setTimeout(() => {
      entry.timer = null
      if (this.#entries.get(id) !== entry) return
      const now = clock.now()
      if (entry.active > 0 || now < entry.expiresAt) {
        this.#schedule(id, entry, entry.active > 0 ? this.#options.instanceTimeoutMs : entry.expiresAt - now)
        return
      }
      this.#remove(id, entry).catch(err => this.#options.onBackgroundError?.(err, `expiring consumer instance '${entry.instance.name}'`))
    }, delayMs)
    entry.timer.unref?.()
  }
}

function entryId (groupId: string, name: string): string {
  return JSON.stringify([groupId, name])
}

function instanceNotFound (groupId: string, name: string): LogwayError {
  return new LogwayError('UNKNOWN_MEMBER_ID', `Consumer instance not found: no instance '${name}' in group '${groupId}' (it was deleted, expired after a while without requests, or the server restarted).`, { groupId, instance: name })
}
