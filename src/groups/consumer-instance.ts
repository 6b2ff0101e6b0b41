import type { Clock } from '../clock.js'
import { isLogwayError, LogwayError } from '../errors.js'
import type { GroupCoordinator } from '../groups/group-coordinator.js'
import { TopicSubscription } from '../groups/subscription.js'
import type {
  CommitAuthor, CommittedOffset, MemberAssignment, MemberEvent, OffsetCommit, OffsetResetPolicy, Subscription, TopicPartition
} from '../groups/types.js'
import type { LogStore } from '../log/log-store.js'
import type { StoredRecord } from '../log/types.js'

/** The embedded formats a v2 consumer instance renders records in (avro, protobuf and jsonschema need a schema registry). */
export type EmbeddedFormat = 'binary' | 'json'

/** An instance's settings, from its create request. */
export interface ConsumerInstanceSettings {
  format: EmbeddedFormat
  /** Where to start a partition without a usable committed offset, and where to go when the position leaves the log. */
  autoOffsetReset: OffsetResetPolicy
  /** Commit the consumed positions every AUTO_COMMIT_INTERVAL_MS (at a records request), before a rebalance, and on close. */
  autoCommitEnable: boolean
  /** A records request returns once it holds this many bytes of records (at least 1: any record), or at its timeout. */
  fetchMinBytes: number
  /** How long a records request waits at most (Confluent's consumer.request.timeout.ms). */
  requestTimeoutMs: number
}

/** What an instance works with. */
export interface ConsumerInstanceContext {
  log: LogStore
  groups: GroupCoordinator
  clock: Clock
  /** The member's session timeout in the group. */
  sessionTimeoutMs: number
  /** How long a rebalance waits for the instance to read records again. */
  rebalanceTimeoutMs: number
  /** Shown in group descriptions. */
  clientHost: string
  /** Failures no request reports (auto-commits); the instance goes on. */
  onBackgroundError?: (err: unknown, what: string) => void
}

/** One offset as a commit or seek request names it. */
export interface PartitionOffset extends TopicPartition {
  offset: number
  metadata?: string | null
}

/** One timestamp of a seek request, in milliseconds since the epoch. */
export interface PartitionTimestamp extends TopicPartition {
  timestamp: number
}

/** A committed offset as GET …/offsets shows it: `offset` is the next offset to consume. */
export interface CommittedPosition extends TopicPartition {
  offset: number
  metadata: string
}

export interface PollOptions<T> {
  timeoutMs: number
  /** Soft cap on the records' stored size: one record is returned even when larger. */
  maxBytes: number
  /** Ends the wait early (the client went away, the server is closing). */
  signal?: AbortSignal
  /**
   * Renders one record for the response. A throw stops the read before that
   * record, whose position is kept; when no record was read yet it fails the poll.
   */
  render: (topic: string, partition: number, record: StoredRecord) => T
}

/** Kafka's auto.commit.interval.ms default. */
export const AUTO_COMMIT_INTERVAL_MS = 5_000
/** The most records one records response carries. */
export const MAX_RECORDS_PER_POLL = 10_000

type Mode = 'none' | 'subscribed' | 'assigned'

interface Batch<T> {
  items: T[]
  bytes: number
  /** Stop reading: a limit was reached, or data was left behind. */
  full: boolean
  /** The position of each partition read before this batch took records from it. */
  starts: Map<string, number>
}

/**
 * One Confluent REST Proxy v2 consumer instance: Kafka's consumer, driven
 * by HTTP requests. It subscribes (a member of its group, assigned
 * partitions by the coordinator) or is assigned partitions by hand (no
 * membership), keeps a position per partition, and reads records from the
 * log at those positions, the way KafkaConsumer.poll does:
 *
 * - Membership follows the records requests. A rebalance that needs the
 *   instance waits for its next records request, which auto-commits (when
 *   enabled) and then gives its partitions up; a request that is waiting for
 *   records when a rebalance starts does so at once.
 * - A partition kept from one generation to the next keeps its position; a
 *   new one starts at the group's committed offset, or where
 *   auto.offset.reset says. After the instance lost its membership (its
 *   session or the rebalance timed out) every position is dropped.
 * - A position that falls outside the log (retention, deleted records) is
 *   moved by auto.offset.reset.
 */
export class ConsumerInstance {
  readonly groupId: string
  readonly name: string
  readonly settings: Readonly<ConsumerInstanceSettings>
  readonly #ctx: ConsumerInstanceContext
  #mode: Mode = 'none'
  #subscription: TopicSubscription | null = null
  #memberId: string | null = null
  /** The generation whose assignment `#partitions` holds; -1 without one. */
  #generationId = -1
  #joining: Promise<void> | null = null
  #partitions: TopicPartition[] = []
  /** The next offset to read, by partition. */
  readonly #positions = new Map<string, number>()
  /** What this instance last committed, by partition: auto-commit skips what did not move. */
  readonly #committed = new Map<string, number>()
  #lastAutoCommitAt: number
  readonly #wakers = new Set<() => void>()
  readonly #polls = new Set<AbortController>()
  #rotation = 0
  #closed = false

  constructor (groupId: string, name: string, settings: ConsumerInstanceSettings, ctx: ConsumerInstanceContext) {
    this.groupId = groupId
    this.name = name
    this.settings = { ...settings }
    this.#ctx = ctx
    this.#lastAutoCommitAt = ctx.clock.now()
  }

  // ---- subscription and assignment ----------------------------------------------------

  /**
   * Subscribes to topics or a pattern: joins the group (or changes the
   * subscription, which rebalances it). Partitions come with the next records request.
   * @throws LogwayError CONSUMER_ILLEGAL_STATE (partitions are assigned by hand),
   *   INVALID_REQUEST, INVALID_TOPIC_EXCEPTION, GROUP_MAX_SIZE_REACHED, INCONSISTENT_GROUP_PROTOCOL, COORDINATOR_NOT_AVAILABLE
   */
  async subscribe (subscription: Subscription): Promise<void> {
    if (this.#mode === 'assigned') {
      throw illegalState(`Subscription to topics, partitions and pattern are mutually exclusive: consumer instance '${this.name}' has partitions assigned by hand (DELETE its subscription first).`)
    }
    const parsed = TopicSubscription.from(subscription)
    if (this.#mode === 'subscribed' && this.#memberId !== null) {
      if (this.#subscription?.equals(parsed) === true) return
      await this.#autoCommit()
      const memberId = this.#memberId
      if (memberId !== null) {
        try {
          this.#ctx.groups.subscribe(this.groupId, memberId, parsed.subscription)
          this.#subscription = parsed
          this.#partitions = []
          this.#wake()
          return
        } catch (err) {
          if (!isLogwayError(err, 'UNKNOWN_MEMBER_ID')) throw err
          this.#lostMembership()
        }
      }
    }
    this.#mode = 'subscribed'
    this.#subscription = parsed
    try {
      await this.#join()
    } catch (err) {
      if (this.#memberId === null) {
        this.#mode = 'none'
        this.#subscription = null
      }
      throw err
    }
  }

  /**
   * The subscribed topics, as listed (whether they exist or not), or those a
   * pattern matches now; empty without a subscription.
   */
  subscribedTopics (): string[] {
    const subscription = this.#subscription
    if (subscription === null) return []
    const chosen = subscription.subscription
    if ('topics' in chosen) return [...chosen.topics]
    return subscription.select(this.#ctx.log.listTopics().map(t => t.name)).sort()
  }

  /**
   * Drops the subscription (leaving the group) and any assignment, after an
   * auto-commit; positions are forgotten.
   */
  async unsubscribe (): Promise<void> {
    await this.#autoCommit()
    this.#leave()
    this.#mode = 'none'
    this.#subscription = null
    this.#partitions = []
    this.#positions.clear()
    this.#committed.clear()
    this.#wake()
  }

  /**
   * Assigns partitions by hand (Kafka's assign): no group membership, commits
   * without a generation (refused while the group has members). An empty list
   * unassigns. Positions of partitions kept are kept.
   * @throws LogwayError CONSUMER_ILLEGAL_STATE (subscribed), UNKNOWN_TOPIC_OR_PARTITION
   */
  async assign (partitions: readonly TopicPartition[]): Promise<void> {
    if (this.#mode === 'subscribed') {
      throw illegalState(`Subscription to topics, partitions and pattern are mutually exclusive: consumer instance '${this.name}' is subscribed (DELETE its subscription first).`)
    }
    const chosen = new Map<string, TopicPartition>()
    for (const { topic, partition } of partitions) {
      this.#ctx.log.partitionInfo(topic, partition)
      chosen.set(key(topic, partition), { topic, partition })
    }
    await this.#autoCommit()
    this.#partitions = [...chosen.values()].sort(byTopicPartition)
    this.#keepPositions(new Set(chosen.keys()))
    this.#mode = this.#partitions.length === 0 ? 'none' : 'assigned'
    this.#wake()
  }

  /** The partitions the instance consumes now (as of its last records request when subscribed). */
  assignment (): TopicPartition[] {
    return this.#partitions.map(p => ({ ...p }))
  }

  // ---- positions -----------------------------------------------------------------------

  /**
   * Moves positions: the next records request reads from each `offset`
   * (which may lie outside the log; auto.offset.reset then applies), and for
   * each timestamp from the first record at or after it, or the log end when
   * there is none (a Logway extension). Nothing moves unless every partition
   * is the instance's.
   * @throws LogwayError CONSUMER_ILLEGAL_STATE (a partition is not the instance's), UNKNOWN_TOPIC_OR_PARTITION
   */
  seek (offsets: readonly PartitionOffset[], timestamps: readonly PartitionTimestamp[] = []): void {
    for (const p of [...offsets, ...timestamps]) this.#checkOwned(p)
    const log = this.#ctx.log
    const moves = [
      ...offsets.map(o => ({ topic: o.topic, partition: o.partition, offset: o.offset })),
      ...timestamps.map(t => ({
        topic: t.topic,
        partition: t.partition,
        offset: log.offsetForTimestamp(t.topic, t.partition, t.timestamp)?.offset ?? log.partitionInfo(t.topic, t.partition).logEndOffset
      }))
    ]
    this.#move(moves)
  }

  /**
   * Moves positions to the log start (`beginning`) or the log end.
   * @throws LogwayError CONSUMER_ILLEGAL_STATE, UNKNOWN_TOPIC_OR_PARTITION
   */
  seekTo (where: 'beginning' | 'end', partitions: readonly TopicPartition[]): void {
    for (const p of partitions) this.#checkOwned(p)
    const log = this.#ctx.log
    this.#move(partitions.map(p => {
      const info = log.partitionInfo(p.topic, p.partition)
      return { ...p, offset: where === 'beginning' ? info.logStartOffset : info.logEndOffset }
    }))
  }

  #move (moves: ReadonlyArray<{ topic: string, partition: number, offset: number }>): void {
    for (const m of moves) this.#positions.set(key(m.topic, m.partition), m.offset)
    this.#wake()
  }

  #checkOwned ({ topic, partition }: TopicPartition): void {
    if (!this.#partitions.some(p => p.topic === topic && p.partition === partition)) {
      throw illegalState(`No current assignment for partition ${topic}-${partition}: consumer instance '${this.name}' consumes ${describe(this.#partitions)}.`)
    }
  }

  // ---- offsets -------------------------------------------------------------------------

  /**
   * Commits, resolving once durable. With `offsets`, each is the offset of
   * the last record consumed, and offset + 1 is stored (Confluent's v2
   * semantics); without, the instance's positions are stored (each the
   * offset after its last record returned, or where it was moved to).
   * @returns what was stored (committedOffset is the next offset to consume)
   * @throws LogwayError ILLEGAL_GENERATION (the group rebalanced without this instance), REBALANCE_IN_PROGRESS,
   *   NON_EMPTY_GROUP (assigned by hand while the group has members), UNKNOWN_TOPIC_OR_PARTITION,
   *   OFFSET_METADATA_TOO_LARGE, COORDINATOR_NOT_AVAILABLE, KAFKA_STORAGE_ERROR
   */
  async commit (offsets?: readonly PartitionOffset[]): Promise<CommittedOffset[]> {
    const entries: OffsetCommit[] = offsets === undefined
      ? this.#consumedOffsets()
      : offsets.map(o => ({ topic: o.topic, partition: o.partition, offset: o.offset + 1, metadata: o.metadata ?? null }))
    return await this.#commit(entries)
  }

  /**
   * The group's committed offsets of these partitions; partitions without one are left out.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION
   */
  committed (partitions: readonly TopicPartition[]): CommittedPosition[] {
    const found: CommittedPosition[] = []
    for (const { topic, partition } of partitions) {
      this.#ctx.log.partitionInfo(topic, partition)
      const offset = this.#ctx.groups.committedOffset(this.groupId, topic, partition)
      if (offset !== null) found.push({ topic, partition, offset: offset.committedOffset, metadata: offset.metadata ?? '' })
    }
    return found
  }

  #consumedOffsets (): OffsetCommit[] {
    const entries: OffsetCommit[] = []
    for (const { topic, partition } of this.#partitions) {
      const offset = this.#positions.get(key(topic, partition))
      if (offset !== undefined) entries.push({ topic, partition, offset })
    }
    return entries
  }

  async #commit (entries: OffsetCommit[]): Promise<CommittedOffset[]> {
    if (entries.length === 0) return []
    let author: CommitAuthor | undefined
    if (this.#mode === 'subscribed') {
      if (this.#memberId === null) throw this.#notAMember()
      author = { memberId: this.#memberId, generationId: this.#generationId }
      if (author.generationId < 0) {
        try {
          author.generationId = this.#ctx.groups.memberStatus(this.groupId, this.#memberId).generationId
        } catch (err) {
          throw this.#commitError(err)
        }
      }
    }
    let stored: CommittedOffset[]
    try {
      stored = await this.#ctx.groups.commitOffsets(this.groupId, entries, author)
    } catch (err) {
      throw this.#commitError(err)
    }
    for (const s of stored) this.#committed.set(key(s.topic, s.partition), s.committedOffset)
    return stored
  }

  #commitError (err: unknown): unknown {
    if (!isLogwayError(err, 'UNKNOWN_MEMBER_ID')) return err
    if (this.#mode === 'subscribed') {
      this.#lostMembership()
      return this.#notAMember()
    }
    return new LogwayError('NON_EMPTY_GROUP', `Group '${this.groupId}' has members: consumer instance '${this.name}', whose partitions are assigned by hand, can commit only while the group has none (as in Kafka).`, { groupId: this.groupId })
  }

  #notAMember (): LogwayError {
    return new LogwayError('ILLEGAL_GENERATION', `Consumer instance '${this.name}' is no longer a member of group '${this.groupId}' (its session or a rebalance timed out) and its partitions may have moved: the commit is refused. Read records to rejoin the group.`, { groupId: this.groupId })
  }

  async #autoCommit (): Promise<void> {
    if (!this.settings.autoCommitEnable) return
    this.#lastAutoCommitAt = this.#ctx.clock.now()
    if (this.#mode === 'subscribed' && this.#memberId === null) return
    const entries = this.#consumedOffsets().filter(e => this.#committed.get(key(e.topic, e.partition)) !== e.offset)
    try {
      await this.#commit(entries)
    } catch (err) {
      this.#ctx.onBackgroundError?.(err, `auto-commit of consumer instance '${this.name}' in group '${this.groupId}'`)
    }
  }

  // ---- records -------------------------------------------------------------------------

  /**
   * Kafka's poll: reads records at the instance's positions and advances
   * them. Waits up to `timeoutMs` for the group's assignment, then for
   * records (woken by appends and rebalances, never polling), and returns
   * once it holds settings.fetchMinBytes, or at the timeout with what it has.
   * @throws LogwayError CONSUMER_ILLEGAL_STATE (neither subscribed nor assigned),
   *   NO_OFFSET_FOR_PARTITION and OFFSET_OUT_OF_RANGE (auto.offset.reset none), what `render` throws,
   *   GROUP_MAX_SIZE_REACHED (rejoining), COORDINATOR_NOT_AVAILABLE
   */
  async poll<T> (options: PollOptions<T>): Promise<T[]> {
    if (this.#mode === 'none') {
      throw illegalState(`Consumer instance '${this.name}' is not subscribed to any topics or assigned any partitions: POST its subscription or assignments first.`)
    }
    const abort = new AbortController()
    const onAbort = (): void => abort.abort()
    options.signal?.addEventListener('abort', onAbort, { once: true })
    if (options.signal?.aborted === true || this.#closed) abort.abort()
    this.#polls.add(abort)
    try {
      const clock = this.#ctx.clock
      const deadline = clock.now() + Math.max(0, options.timeoutMs)
      if (this.settings.autoCommitEnable && clock.now() - this.#lastAutoCommitAt >= AUTO_COMMIT_INTERVAL_MS) await this.#autoCommit()
      const batch: Batch<T> = { items: [], bytes: 0, full: false, starts: new Map() }
      for (;;) {
        if (this.#mode === 'subscribed' && !abort.signal.aborted) await this.#ensureAssignment(Math.max(0, deadline - clock.now()), abort.signal)
        // Unsubscribed or unassigned meanwhile.
        if ((this.#mode as Mode) === 'none') return batch.items
        this.#read(batch, options)
        const remaining = deadline - clock.now()
        if (options.signal?.aborted === true) {
          // The client went away: nobody gets these records, so the next request reads them again.
          for (const [k, position] of batch.starts) if (this.#positions.has(k)) this.#positions.set(k, position)
          return []
        }
        if (batch.full || batch.bytes >= this.settings.fetchMinBytes || remaining <= 0 || abort.signal.aborted) return batch.items
        // Wake up within a third of the session timeout (Kafka's heartbeat interval): the next round's assignment call keeps the session alive.
        await this.#waitForData(Math.min(remaining, Math.max(1, Math.floor(this.#ctx.sessionTimeoutMs / 3))), abort.signal)
      }
    } finally {
      this.#polls.delete(abort)
      options.signal?.removeEventListener('abort', onAbort)
      this.#heartbeat()
    }
  }

  /** A sign of life at the end of a records request, from which the instance's idle time is counted too. */
  #heartbeat (): void {
    if (this.#mode !== 'subscribed' || this.#memberId === null) return
    try {
      this.#ctx.groups.heartbeat(this.groupId, this.#memberId, this.#generationId)
    } catch {
      // It counts even when it reports a rebalance; the next records request acts on that.
    }
  }

  /** Joins if needed, takes part in a rebalance that waits for this instance, and picks up the current assignment. */
  async #ensureAssignment (timeoutMs: number, signal: AbortSignal): Promise<void> {
    const groups = this.#ctx.groups
    for (let attempt = 0; attempt < 2; attempt++) {
      if (this.#memberId === null) await this.#join()
      const memberId = this.#memberId
      if (memberId === null) return
      try {
        if (groups.memberStatus(this.groupId, memberId).mustRejoin) await this.#autoCommit()
        if (this.#memberId !== memberId) continue
        const assignment = await groups.assignment(this.groupId, memberId, timeoutMs, signal)
        if (this.#memberId !== memberId) continue
        if (assignment === null) {
          // The instance has given its partitions up; the next assignment says which it gets.
          this.#partitions = []
        } else if (assignment.generationId !== this.#generationId) {
          this.#applyAssignment(assignment)
        }
        return
      } catch (err) {
        if (!isLogwayError(err, 'UNKNOWN_MEMBER_ID')) throw err
        if (this.#memberId === memberId) this.#lostMembership()
      }
    }
  }

  #applyAssignment (assignment: MemberAssignment): void {
    // Positions survive only into the very next generation: then nobody else owned the partition in between.
    if (assignment.generationId === this.#generationId + 1) {
      this.#keepPositions(new Set(assignment.partitions.map(p => key(p.topic, p.partition))))
    } else {
      this.#positions.clear()
      this.#committed.clear()
    }
    this.#generationId = assignment.generationId
    this.#partitions = assignment.partitions.map(p => ({ ...p }))
  }

  #keepPositions (keep: ReadonlySet<string>): void {
    for (const k of [...this.#positions.keys()]) if (!keep.has(k)) this.#positions.delete(k)
    for (const k of [...this.#committed.keys()]) if (!keep.has(k)) this.#committed.delete(k)
  }

  #read<T> (batch: Batch<T>, options: PollOptions<T>): void {
    const partitions = this.#partitions
    if (partitions.length === 0) return
    // Start each read at another partition so that a busy one does not starve the rest.
    const start = this.#rotation++ % partitions.length
    for (let i = 0; i < partitions.length && !batch.full; i++) {
      const { topic, partition } = partitions[(start + i) % partitions.length] as TopicPartition
      this.#readPartition(topic, partition, batch, options)
    }
  }

  #readPartition<T> (topic: string, partition: number, batch: Batch<T>, options: PollOptions<T>): void {
    const k = key(topic, partition)
    const log = this.#ctx.log
    let position: number
    try {
      position = this.#positions.get(k) ?? this.#ctx.groups.startOffset(this.groupId, topic, partition, this.settings.autoOffsetReset).offset
    } catch (err) {
      // A topic deleted meanwhile: the next rebalance (or assignment) drops it.
      if (isLogwayError(err, 'UNKNOWN_TOPIC_OR_PARTITION')) return
      throw err
    }
    for (let attempt = 0; ; attempt++) {
      const room = options.maxBytes - batch.bytes
      const maxRecords = MAX_RECORDS_PER_POLL - batch.items.length
      if ((room <= 0 && batch.items.length > 0) || maxRecords <= 0) {
        batch.full = true
        break
      }
      let result
      try {
        result = log.read(topic, partition, { offset: position, maxRecords, maxBytes: Math.max(1, room) })
      } catch (err) {
        if (isLogwayError(err, 'OFFSET_OUT_OF_RANGE') && attempt === 0) {
          position = this.#resetPosition(topic, partition, position)
          continue
        }
        if (isLogwayError(err, 'UNKNOWN_TOPIC_OR_PARTITION')) return
        throw err
      }
      let taken = 0
      if (result.records.length > 0 && !batch.starts.has(k)) batch.starts.set(k, position)
      for (const record of result.records) {
        if (batch.items.length > 0 && batch.bytes + record.sizeBytes > options.maxBytes) break
        let rendered: T
        try {
          rendered = options.render(topic, partition, record)
        } catch (err) {
          this.#positions.set(k, position)
          if (batch.items.length === 0) throw err
          batch.full = true
          return
        }
        batch.items.push(rendered)
        batch.bytes += record.sizeBytes
        position = record.offset + 1
        taken++
      }
      if (result.records.length === 0) position = result.nextOffset
      else if (taken < result.records.length || position < result.logEndOffset) batch.full = true
      break
    }
    this.#positions.set(k, position)
  }

  /** auto.offset.reset for a position outside the log. */
  #resetPosition (topic: string, partition: number, position: number): number {
    const { logStartOffset, logEndOffset } = this.#ctx.log.partitionInfo(topic, partition)
    switch (this.settings.autoOffsetReset) {
      case 'earliest': return logStartOffset
      case 'latest': return logEndOffset
      case 'none':
        throw new LogwayError('OFFSET_OUT_OF_RANGE',
          `The position ${position} of consumer instance '${this.name}' on ${topic}-${partition} is outside the log (${logStartOffset} to ${logEndOffset}) and auto.offset.reset is none: move it with …/positions.`,
          { topic, partition, logStartOffset, logEndOffset })
    }
  }

  /** Resolves after `timeoutMs`, on an append past a position, on a member event, or on abort; whichever comes first. */
  async #waitForData (timeoutMs: number, signal: AbortSignal): Promise<void> {
    if (signal.aborted) return
    const { clock, log } = this.#ctx
    const stop = new AbortController()
    await new Promise<void>(resolve => {
      const done = (): void => {
        clock.clearTimeout(timer)
        this.#wakers.delete(done)
        signal.removeEventListener('abort', done)
        stop.abort()
        resolve()
      }
      const timer = clock.setTimeout(done, timeoutMs)
      this.#wakers.add(done)
      signal.addEventListener('abort', done, { once: true })
      for (const { topic, partition } of this.#partitions) {
        const position = this.#positions.get(key(topic, partition))
        if (position === undefined) continue
        log.waitForAppend(topic, partition, position, timeoutMs, stop.signal).then(appended => { if (appended) done() }, () => {})
      }
    })
  }

  #wake (): void {
    for (const wake of [...this.#wakers]) wake()
  }

  // ---- membership ----------------------------------------------------------------------

  async #join (): Promise<void> {
    if (this.#joining !== null) return await this.#joining
    const subscription = this.#subscription
    if (subscription === null) return
    const joining = (async () => {
      const { memberId } = await this.#ctx.groups.join(this.groupId, {
        subscription: subscription.subscription,
        clientId: this.name,
        clientHost: this.#ctx.clientHost,
        sessionTimeoutMs: this.#ctx.sessionTimeoutMs,
        rebalanceTimeoutMs: this.#ctx.rebalanceTimeoutMs,
        onEvent: event => this.#onEvent(event)
      })
      if (this.#closed || this.#mode !== 'subscribed' || this.#subscription !== subscription) {
        this.#ctx.groups.leave(this.groupId, memberId)
        return
      }
      this.#memberId = memberId
      this.#generationId = -1
      this.#partitions = []
      this.#positions.clear()
      this.#committed.clear()
    })()
    this.#joining = joining
    try {
      await joining
    } finally {
      if (this.#joining === joining) this.#joining = null
    }
  }

  #onEvent (event: MemberEvent): void {
    if (event.memberId !== this.#memberId) return
    if (event.type === 'removed') this.#lostMembership()
    this.#wake()
  }

  #lostMembership (): void {
    this.#memberId = null
    this.#generationId = -1
    this.#partitions = []
    this.#positions.clear()
    this.#committed.clear()
  }

  #leave (): void {
    const memberId = this.#memberId
    this.#memberId = null
    this.#generationId = -1
    if (memberId === null) return
    try {
      this.#ctx.groups.leave(this.groupId, memberId)
    } catch (err) {
      // Already gone (removed, or the coordinator closed): nothing to leave.
      if (!isLogwayError(err, 'UNKNOWN_MEMBER_ID') && !isLogwayError(err, 'COORDINATOR_NOT_AVAILABLE')) throw err
    }
  }

  // ---- lifecycle -----------------------------------------------------------------------

  /** Ends waiting records requests at once: they answer with what they hold. */
  interrupt (): void {
    for (const poll of this.#polls) poll.abort()
  }

  /** Closes the instance: ends waiting requests, auto-commits (when enabled), leaves the group. Never throws. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.interrupt()
    await this.#autoCommit()
    try {
      await this.#joining
    } catch {
      // A failed join left nothing to leave.
    }
    try {
      this.#leave()
    } catch (err) {
      this.#ctx.onBackgroundError?.(err, `leaving group '${this.groupId}' for consumer instance '${this.name}'`)
    }
    this.#mode = 'none'
    this.#partitions = []
  }
}

function illegalState (message: string): LogwayError {
  return new LogwayError('CONSUMER_ILLEGAL_STATE', message)
}

function key (topic: string, partition: number): string {
  return `${partition}:${topic}`
}

function byTopicPartition (a: TopicPartition, b: TopicPartition): number {
  return a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : a.partition - b.partition
}

function describe (partitions: readonly TopicPartition[]): string {
  if (partitions.length === 0) return 'no partitions'
  const names = partitions.slice(0, 10).map(p => `${p.topic}-${p.partition}`)
  return names.join(', ') + (partitions.length > 10 ? `, … (${partitions.length} in all)` : '')
}
