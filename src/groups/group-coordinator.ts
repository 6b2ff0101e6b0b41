import { randomUUID } from 'node:crypto'
import { systemClock, type Clock } from '../clock.js'
import { LogwayError } from '../errors.js'
import type { LogStore } from '../log/log-store.js'
import type { TopicChange } from '../log/types.js'
import { isAssignorName } from './assignors.js'
import { ConsumerGroup, MAX_TIMER_MS, type GroupContext, type GroupMember } from './consumer-group.js'
import type { GroupState } from './group-state.js'
import { GroupStore, type StoredOffset } from './group-store.js'
import { compareIds } from './range-assignor.js'
import { resolveStartOffset } from './start-offset.js'
import { TopicSubscription } from './subscription.js'
import type {
  AssignorName, CommitAuthor, CommittedOffset, GroupDescription, GroupListing, JoinOptions, LagSummary,
  MemberAssignment, MemberEvent, MemberEventListener, OffsetCommit, OffsetResetPolicy, OffsetResetSpec, PartitionLag,
  StartOffset, Subscription, TopicPartition
} from './types.js'

/** What `GroupCoordinator.open` needs. Limits carry Kafka's names; defaults are Kafka's unless noted. */
export interface GroupCoordinatorOptions {
  /** The open log: topics, offsets, and the LMDB environment the groups are stored in. */
  log: LogStore
  clock?: Clock
  /** Kafka's group.min.session.timeout.ms (default 6 s). */
  minSessionTimeoutMs?: number
  /** Kafka's group.max.session.timeout.ms (default 30 min). */
  maxSessionTimeoutMs?: number
  /** For members that give none (default 45 s, Kafka's session.timeout.ms). */
  defaultSessionTimeoutMs?: number
  /** For members that give none (default 5 min, Kafka's max.poll.interval.ms). */
  defaultRebalanceTimeoutMs?: number
  /** Kafka's group.initial.rebalance.delay.ms: how long a group that was empty waits for more members (default 0, Kafka's is 3 s). */
  initialRebalanceDelayMs?: number
  /** Kafka's group.max.size (default 1000; Kafka's is unbounded). */
  maxGroupSize?: number
  /** Kafka's offset.metadata.max.bytes (default 4096). */
  maxOffsetMetadataBytes?: number
  /** The assignor of a group whose first member names none (default `range`). */
  defaultAssignor?: AssignorName
}

/** What a member's own requests see of it. */
export interface MemberStatus {
  groupId: string
  memberId: string
  state: GroupState
  /** The group's current generation: the one to commit with. */
  generationId: number
  /** The partitions the member owns now. */
  assignment: TopicPartition[]
  /**
   * A rebalance waits for this member: stop consuming `assignment`, commit
   * if you will (commits of the current generation are still accepted), then
   * call `rejoin` or `assignment`.
   */
  mustRejoin: boolean
}

const MAX_GROUP_ID_LENGTH = 255
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f]/ // eslint-disable-line no-control-regex
/** Half of a UTF-16 surrogate pair without its other half: no character at all, and no URL can name it. */
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * Whether a name a client chose (a group id, a consumer instance name) holds
 * what cannot be one: a control character, or a lone surrogate (which JSON
 * can carry as an escape but no URL path segment can name).
 */
export function hasUnnamableCharacters (name: string): boolean {
  return CONTROL_CHARACTERS.test(name) || LONE_SURROGATE.test(name)
}
const PURGE_CHUNK = 5_000
/** Logway is a single broker: it coordinates every group. */
const COORDINATOR_ID = 0

/**
 * The consumer-group coordinator: members, generations, server-side
 * assignment, committed offsets and the views the v3 API shows. Transports
 * (REST v2 consumers, WebSocket sessions, later the Kafka protocol) are
 * members alike and may share a group.
 *
 * A member learns of rebalances without polling: through `onEvent`
 * (`revoke`, `assign`, `removed`) or by awaiting `assignment`, which also
 * counts as giving up its partitions. A member shows it is alive by calling
 * the coordinator about itself (`assignment`, `heartbeat`, `commitOffsets`,
 * `rejoin`, `subscribe`) at least every session timeout.
 *
 * Durability promise: group definitions and committed offsets live in the
 * log's LMDB environment; `join` (of a new group), `commitOffsets`,
 * `resetOffsets` and `deleteGroup` resolve only once their writes are
 * flushed to disk. Members, generations and assignments live in memory: after
 * a restart every group is Empty and its members join again.
 */
export class GroupCoordinator {
  readonly #log: LogStore
  readonly #clock: Clock
  readonly #store: GroupStore
  readonly #groups = new Map<string, ConsumerGroup>()
  readonly #topicIds = new Map<string, string>()
  readonly #context: GroupContext
  readonly #minSessionTimeoutMs: number
  readonly #maxSessionTimeoutMs: number
  readonly #defaultSessionTimeoutMs: number
  readonly #defaultRebalanceTimeoutMs: number
  readonly #maxGroupSize: number
  readonly #maxOffsetMetadataBytes: number
  readonly #defaultAssignor: AssignorName
  readonly #background = new Set<Promise<unknown>>()
  #unsubscribe: () => void = () => {}
  #open = true

  private constructor (options: GroupCoordinatorOptions) {
    this.#log = options.log
    this.#clock = options.clock ?? systemClock
    this.#store = new GroupStore(options.log)
    this.#minSessionTimeoutMs = options.minSessionTimeoutMs ?? 6_000
    this.#maxSessionTimeoutMs = options.maxSessionTimeoutMs ?? 1_800_000
    this.#defaultSessionTimeoutMs = options.defaultSessionTimeoutMs ?? 45_000
    this.#defaultRebalanceTimeoutMs = options.defaultRebalanceTimeoutMs ?? 300_000
    this.#maxGroupSize = options.maxGroupSize ?? 1_000
    this.#maxOffsetMetadataBytes = options.maxOffsetMetadataBytes ?? 4_096
    this.#defaultAssignor = options.defaultAssignor ?? 'range'
    this.#context = {
      clock: this.#clock,
      topics: () => new Map(this.#log.listTopics().map(t => [t.name, t.partitionCount])),
      emit: deliver,
      initialRebalanceDelayMs: options.initialRebalanceDelayMs ?? 0
    }
  }

  /**
   * Opens the coordinator on an open log: restores every stored group (as
   * Empty) and drops committed offsets of topics deleted meanwhile.
   * @throws LogwayError BROKER_NOT_AVAILABLE (the log is closed), KAFKA_STORAGE_ERROR
   */
  static async open (options: GroupCoordinatorOptions): Promise<GroupCoordinator> {
    const coordinator = new GroupCoordinator(options)
    await coordinator.#initialise()
    return coordinator
  }

  async #initialise (): Promise<void> {
    for (const topic of this.#log.listTopics()) this.#topicIds.set(topic.name, topic.topicId)
    for (const definition of this.#store.groups()) {
      this.#groups.set(definition.groupId, new ConsumerGroup(definition, this.#context))
    }
    this.#unsubscribe = this.#log.onTopicChange(change => this.#onTopicChange(change))
    const stale = this.#store.offsets().filter(o => this.#topicIds.get(o.topic) !== o.topicId)
    await this.#removeOffsets(stale)
  }

  /** True until `close` is called. */
  get isOpen (): boolean {
    return this.#open
  }

  /**
   * Stops every timer, fails pending `assignment` calls with
   * COORDINATOR_NOT_AVAILABLE, tells members they were removed, and waits for
   * background writes. Does not close the log.
   */
  async close (): Promise<void> {
    if (!this.#open) return
    this.#open = false
    this.#unsubscribe()
    for (const group of this.#groups.values()) group.close()
    await Promise.allSettled([...this.#background])
  }

  // ---- membership ------------------------------------------------------------------

  /**
   * Adds a member to a group (creating the group if needed) and starts a
   * rebalance. The member's partitions come later: await `assignment` or
   * listen for its `assign` event. Resolves once a new group's definition is
   * durable.
   * @throws LogwayError INVALID_GROUP_ID, INVALID_REQUEST (subscription, rebalance timeout or assignor),
   *   INVALID_TOPIC_EXCEPTION, INVALID_SESSION_TIMEOUT, INCONSISTENT_GROUP_PROTOCOL (another assignor than
   *   the non-empty group's), GROUP_MAX_SIZE_REACHED, COORDINATOR_NOT_AVAILABLE, KAFKA_STORAGE_ERROR
   */
  async join (groupId: string, options: JoinOptions): Promise<{ groupId: string, memberId: string }> {
    this.#checkOpen()
    validateGroupId(groupId)
    const subscription = TopicSubscription.from(options.subscription)
    const sessionTimeoutMs = options.sessionTimeoutMs ?? this.#defaultSessionTimeoutMs
    if (!Number.isSafeInteger(sessionTimeoutMs) || sessionTimeoutMs < this.#minSessionTimeoutMs || sessionTimeoutMs > this.#maxSessionTimeoutMs) {
      throw new LogwayError('INVALID_SESSION_TIMEOUT', `The session timeout must be an integer from ${this.#minSessionTimeoutMs} to ${this.#maxSessionTimeoutMs} ms (got ${String(sessionTimeoutMs)}).`)
    }
    const rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? this.#defaultRebalanceTimeoutMs
    if (!Number.isSafeInteger(rebalanceTimeoutMs) || rebalanceTimeoutMs < 1 || rebalanceTimeoutMs > MAX_TIMER_MS) {
      throw new LogwayError('INVALID_REQUEST', `The rebalance timeout must be an integer from 1 to ${MAX_TIMER_MS} ms (got ${String(rebalanceTimeoutMs)}).`)
    }
    if (options.assignor !== undefined && !isAssignorName(options.assignor)) {
      throw new LogwayError('INVALID_REQUEST', `Unknown partition assignor '${String(options.assignor)}': use range or roundrobin.`)
    }
    let group = this.#groups.get(groupId)
    let definitionChanged = false
    const created = group === undefined
    if (group === undefined) {
      group = new ConsumerGroup({ groupId, protocolType: 'consumer', assignor: options.assignor ?? this.#defaultAssignor, createdAt: this.#clock.now() }, this.#context)
      this.#groups.set(groupId, group)
      definitionChanged = true
    } else if (group.state === 'Empty') {
      const assignor = options.assignor ?? group.assignor ?? this.#defaultAssignor
      if (group.protocolType !== 'consumer' || group.assignor !== assignor) {
        group.protocolType = 'consumer'
        group.assignor = assignor
        definitionChanged = true
      }
    } else {
      if (options.assignor !== undefined && options.assignor !== group.assignor) {
        throw new LogwayError('INCONSISTENT_GROUP_PROTOCOL', `Group '${groupId}' uses the ${String(group.assignor)} assignor; a member asking for ${options.assignor} cannot join it.`, { groupId })
      }
      if (group.memberCount >= this.#maxGroupSize) {
        throw new LogwayError('GROUP_MAX_SIZE_REACHED', `Group '${groupId}' already has ${group.memberCount} members, the most allowed.`, { groupId })
      }
    }
    const clientId = options.clientId ?? ''
    const member = group.addMember({
      // Kafka's member ids: the client id, a dash and a UUID.
      memberId: `${clientId === '' ? 'consumer' : clientId}-${randomUUID()}`,
      clientId,
      clientHost: options.clientHost ?? '',
      sessionTimeoutMs,
      rebalanceTimeoutMs,
      subscription,
      listener: options.onEvent
    })
    if (definitionChanged) {
      const definition = group.definition()
      try {
        await this.#track(this.#store.write(batch => batch.putGroup(definition)))
      } catch (err) {
        group.removeMember(member.memberId)
        if (created && group.memberCount === 0 && this.#groups.get(groupId) === group) this.#groups.delete(groupId)
        throw err
      }
    }
    return { groupId, memberId: member.memberId }
  }

  /**
   * Changes a member's subscription. A different one counts as the member
   * giving up its partitions, and rebalances the group.
   * @throws LogwayError UNKNOWN_MEMBER_ID, INVALID_REQUEST, INVALID_TOPIC_EXCEPTION, COORDINATOR_NOT_AVAILABLE
   */
  subscribe (groupId: string, memberId: string, subscription: Subscription): void {
    const { group, member } = this.#member(groupId, memberId)
    const parsed = TopicSubscription.from(subscription)
    group.touch(member)
    group.changeSubscription(member, parsed)
  }

  /**
   * The member has stopped consuming its partitions for the rebalance under
   * way (after committing, if it commits). Does nothing when no rebalance
   * waits for it.
   * @throws LogwayError UNKNOWN_MEMBER_ID, COORDINATOR_NOT_AVAILABLE
   */
  rejoin (groupId: string, memberId: string): void {
    const { group, member } = this.#member(groupId, memberId)
    group.touch(member)
    group.rejoin(member)
  }

  /**
   * The member's partitions for the current generation: at once when the
   * group is Stable, else as soon as the rebalance completes; null when that
   * takes longer than `timeoutMs` or `signal` aborts. Calling it while a
   * rebalance waits for the member counts as `rejoin`: commit before.
   * @throws LogwayError UNKNOWN_MEMBER_ID (also when removed while waiting), COORDINATOR_NOT_AVAILABLE
   */
  async assignment (groupId: string, memberId: string, timeoutMs: number, signal?: AbortSignal): Promise<MemberAssignment | null> {
    const { group, member } = this.#member(groupId, memberId)
    group.touch(member)
    group.rejoin(member)
    return group.waitForAssignment(member, timeoutMs, signal)
  }

  /**
   * Kafka's Heartbeat: keeps the member's session alive.
   * @throws LogwayError UNKNOWN_MEMBER_ID, REBALANCE_IN_PROGRESS (rejoin: call `assignment`),
   *   ILLEGAL_GENERATION (the member's generation is not the current one), COORDINATOR_NOT_AVAILABLE
   */
  heartbeat (groupId: string, memberId: string, generationId: number): void {
    const { group, member } = this.#member(groupId, memberId)
    group.touch(member)
    if (group.state === 'PreparingRebalance' || group.state === 'CompletingRebalance') {
      throw new LogwayError('REBALANCE_IN_PROGRESS', `Group '${groupId}' is rebalancing.`, { groupId })
    }
    if (generationId !== group.generationId) {
      throw new LogwayError('ILLEGAL_GENERATION', `Generation ${generationId} is not the current generation ${group.generationId} of group '${groupId}'.`, { groupId })
    }
  }

  /**
   * The member leaves; the rest of the group rebalances.
   * @throws LogwayError UNKNOWN_MEMBER_ID, COORDINATOR_NOT_AVAILABLE
   */
  leave (groupId: string, memberId: string): void {
    const { group } = this.#member(groupId, memberId)
    group.removeMember(memberId)
  }

  /**
   * What the member's own requests need to know (does not count as a sign of life).
   * @throws LogwayError UNKNOWN_MEMBER_ID, COORDINATOR_NOT_AVAILABLE
   */
  memberStatus (groupId: string, memberId: string): MemberStatus {
    const { group, member } = this.#member(groupId, memberId)
    return {
      groupId,
      memberId,
      state: group.state,
      generationId: group.generationId,
      assignment: member.assignment.map(p => ({ ...p })),
      mustRejoin: group.state === 'PreparingRebalance' && !member.joined
    }
  }

  // ---- offsets -----------------------------------------------------------------------

  /**
   * Commits offsets, all or none, resolving once they are flushed to disk.
   * With an `author`, it must be a member and name the current generation
   * (commits of the current generation are accepted while a rebalance waits
   * for members). Without one (an admin, or a consumer that assigns itself
   * partitions) the group must be empty; a group that does not exist yet is
   * created as a simple group.
   * @throws LogwayError INVALID_GROUP_ID, UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
   *   UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST (offset), OFFSET_METADATA_TOO_LARGE,
   *   COORDINATOR_NOT_AVAILABLE, KAFKA_STORAGE_ERROR
   */
  async commitOffsets (groupId: string, offsets: readonly OffsetCommit[], author?: CommitAuthor): Promise<CommittedOffset[]> {
    this.#checkOpen()
    validateGroupId(groupId)
    const group = this.#groups.get(groupId)
    if (author !== undefined) {
      const member = group?.member(author.memberId)
      if (group === undefined || member === undefined) throw unknownMember(groupId, author.memberId)
      group.touch(member)
      if (author.generationId !== group.generationId) {
        throw new LogwayError('ILLEGAL_GENERATION', `Generation ${author.generationId} is not the current generation ${group.generationId} of group '${groupId}': the partitions may have moved.`, { groupId })
      }
      if (group.state === 'CompletingRebalance') {
        throw new LogwayError('REBALANCE_IN_PROGRESS', `Group '${groupId}' is completing a rebalance; commit again with the new generation.`, { groupId })
      }
    } else if (group !== undefined && group.memberCount > 0) {
      throw new LogwayError('UNKNOWN_MEMBER_ID', `Group '${groupId}' has members: only a member of its current generation can commit.`, { groupId })
    }
    const now = this.#clock.now()
    const entries = offsets.map(o => this.#checkCommit(o, now))
    if (entries.length === 0) return []
    return this.#writeOffsets(groupId, group, entries)
  }

  async #writeOffsets (groupId: string, existing: ConsumerGroup | undefined, entries: Array<CommittedOffset & { topicId: string }>): Promise<CommittedOffset[]> {
    let group = existing
    const created = group === undefined
    if (group === undefined) {
      group = new ConsumerGroup({ groupId, protocolType: null, assignor: null, createdAt: this.#clock.now() }, this.#context)
      this.#groups.set(groupId, group)
    }
    const definition = group.definition()
    const done = group.commitStarted()
    try {
      await this.#track(this.#store.write(batch => {
        if (created) batch.putGroup(definition)
        for (const e of entries) {
          batch.putOffset(groupId, e.topic, e.partition, { offset: e.committedOffset, metadata: e.metadata, commitTimestamp: e.commitTimestamp, topicId: e.topicId })
        }
      }))
    } catch (err) {
      if (created && group.memberCount === 0 && this.#groups.get(groupId) === group) this.#groups.delete(groupId)
      throw err
    } finally {
      done()
    }
    return entries.map(({ topicId, ...committed }) => committed)
  }

  #checkCommit (commit: OffsetCommit, now: number): CommittedOffset & { topicId: string } {
    const { topic, partition, offset } = commit
    this.#log.partitionInfo(topic, partition)
    if (!Number.isSafeInteger(offset) || offset < 0) {
      throw new LogwayError('INVALID_REQUEST', `Offset ${String(offset)} for ${topic}-${partition} is not a non-negative integer.`, { topic, partition })
    }
    const metadata = commit.metadata ?? null
    if (metadata !== null && (typeof metadata !== 'string' || Buffer.byteLength(metadata) > this.#maxOffsetMetadataBytes)) {
      throw new LogwayError('OFFSET_METADATA_TOO_LARGE', `The metadata for ${topic}-${partition} must be a string of at most ${this.#maxOffsetMetadataBytes} bytes.`, { topic, partition })
    }
    return { topic, partition, committedOffset: offset, metadata, commitTimestamp: now, topicId: this.#topicIds.get(topic) as string }
  }

  /**
   * The group's committed offset for one partition; null when there is none
   * (or it belonged to a deleted topic of the same name).
   * @throws LogwayError INVALID_GROUP_ID
   */
  committedOffset (groupId: string, topic: string, partition: number): CommittedOffset | null {
    validateGroupId(groupId)
    const stored = this.#store.offset(groupId, topic, partition)
    return stored === undefined || !this.#isLive(topic, stored) ? null : committed(topic, partition, stored)
  }

  /**
   * Every committed offset of a group, by topic and partition (Kafka's
   * OffsetFetch); empty for an unknown group.
   * @throws LogwayError INVALID_GROUP_ID
   */
  committedOffsets (groupId: string): CommittedOffset[] {
    validateGroupId(groupId)
    return this.#store.offsets(groupId).filter(o => this.#isLive(o.topic, o)).map(o => committed(o.topic, o.partition, o))
  }

  /**
   * Where the group's consumer of a partition starts (`auto.offset.reset`):
   * the committed offset while it is within the log, else by `policy`.
   * @throws LogwayError INVALID_GROUP_ID, UNKNOWN_TOPIC_OR_PARTITION, and with policy `none`:
   *   NO_OFFSET_FOR_PARTITION (nothing committed), OFFSET_OUT_OF_RANGE (the committed offset left the log)
   */
  startOffset (groupId: string, topic: string, partition: number, policy: OffsetResetPolicy): StartOffset {
    const bounds = this.#log.partitionInfo(topic, partition)
    const offset = this.committedOffset(groupId, topic, partition)
    return resolveStartOffset(offset?.committedOffset ?? null, { topic, ...bounds }, policy)
  }

  /**
   * Resets an empty group's committed offsets (kafka-consumer-groups
   * --reset-offsets): to the log start or end, to the first offset at or
   * after a timestamp (the log end when there is none), or to given offsets,
   * which must lie within the log. Without a scope, every partition the group
   * has an offset for. With `dryRun`, computes and returns without writing.
   * Resolves once flushed.
   * @throws LogwayError INVALID_GROUP_ID, GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, UNKNOWN_TOPIC_OR_PARTITION,
   *   OFFSET_OUT_OF_RANGE, INVALID_REQUEST, COORDINATOR_NOT_AVAILABLE, KAFKA_STORAGE_ERROR
   */
  async resetOffsets (groupId: string, spec: OffsetResetSpec, options: { dryRun?: boolean } = {}): Promise<CommittedOffset[]> {
    this.#checkOpen()
    const group = this.#existingGroup(groupId)
    if (group.memberCount > 0) throw nonEmpty(groupId, group.memberCount)
    const now = this.#clock.now()
    const targets: OffsetCommit[] = []
    if (spec.to === 'offsets') {
      for (const { topic, partition, offset } of spec.offsets) {
        const bounds = this.#log.partitionInfo(topic, partition)
        if (!Number.isSafeInteger(offset) || offset < bounds.logStartOffset || offset > bounds.logEndOffset) {
          throw new LogwayError('OFFSET_OUT_OF_RANGE', `Offset ${String(offset)} is outside ${topic}-${partition} (${bounds.logStartOffset} to ${bounds.logEndOffset}).`,
            { logStartOffset: bounds.logStartOffset, logEndOffset: bounds.logEndOffset })
        }
        targets.push({ topic, partition, offset })
      }
    } else {
      if (spec.to === 'timestamp' && (!Number.isSafeInteger(spec.timestamp) || spec.timestamp < 0)) {
        throw new LogwayError('INVALID_REQUEST', `Timestamp ${String(spec.timestamp)} is not a non-negative integer number of milliseconds.`)
      }
      for (const { topic, partition } of this.#resetScope(groupId, spec.scope)) {
        const bounds = this.#log.partitionInfo(topic, partition)
        let offset = spec.to === 'earliest' ? bounds.logStartOffset : bounds.logEndOffset
        if (spec.to === 'timestamp') offset = this.#log.offsetForTimestamp(topic, partition, spec.timestamp)?.offset ?? bounds.logEndOffset
        targets.push({ topic, partition, offset })
      }
    }
    const entries = targets.map(t => this.#checkCommit(t, now))
    if (options.dryRun === true || entries.length === 0) return entries.map(({ topicId, ...c }) => c)
    await group.commitsSettled()
    if (group.memberCount > 0) throw nonEmpty(groupId, group.memberCount)
    if (this.#groups.get(groupId) !== group) throw groupNotFound(groupId)
    return this.#writeOffsets(groupId, group, entries)
  }

  #resetScope (groupId: string, scope: { topics?: readonly string[], partitions?: readonly TopicPartition[] } | undefined): TopicPartition[] {
    if (scope === undefined) return this.committedOffsets(groupId).map(({ topic, partition }) => ({ topic, partition }))
    const chosen = new Map<string, TopicPartition>()
    for (const topic of scope.topics ?? []) {
      for (const { partition } of this.#log.partitions(topic)) chosen.set(`${partition}:${topic}`, { topic, partition })
    }
    for (const { topic, partition } of scope.partitions ?? []) chosen.set(`${partition}:${topic}`, { topic, partition })
    return [...chosen.values()].sort(byTopicPartition)
  }

  /**
   * Deletes an empty group: its definition and committed offsets (Kafka's
   * DeleteGroups). Resolves once flushed.
   * @throws LogwayError INVALID_GROUP_ID, GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP, COORDINATOR_NOT_AVAILABLE, KAFKA_STORAGE_ERROR
   */
  async deleteGroup (groupId: string): Promise<void> {
    this.#checkOpen()
    const group = this.#existingGroup(groupId)
    if (group.memberCount > 0) throw nonEmpty(groupId, group.memberCount)
    await group.commitsSettled()
    if (this.#groups.get(groupId) !== group) throw groupNotFound(groupId)
    if (group.memberCount > 0) throw nonEmpty(groupId, group.memberCount)
    const offsets = this.#store.offsets(groupId)
    group.markDead()
    this.#groups.delete(groupId)
    try {
      await this.#track(this.#store.write(batch => {
        batch.removeGroup(groupId)
        for (const o of offsets) batch.removeOffset(groupId, o.topic, o.partition)
      }))
    } catch (err) {
      // Still stored: bring the group back unless it was joined meanwhile.
      if (!this.#groups.has(groupId)) this.#groups.set(groupId, new ConsumerGroup(group.definition(), this.#context))
      throw err
    }
  }

  // ---- views ------------------------------------------------------------------------

  /** Every group, by group id. */
  listGroups (): GroupListing[] {
    return [...this.#groups.values()].sort((a, b) => compareIds(a.groupId, b.groupId)).map(listing)
  }

  /**
   * One group in detail: state, assignor, members with their assignments.
   * @throws LogwayError INVALID_GROUP_ID, GROUP_ID_NOT_FOUND
   */
  describeGroup (groupId: string): GroupDescription {
    const group = this.#existingGroup(groupId)
    return {
      ...listing(group),
      generationId: group.generationId,
      coordinatorId: COORDINATOR_ID,
      members: group.describeMembers(),
      createdAt: group.createdAt
    }
  }

  /**
   * The lag of every partition the group has committed an offset for: the
   * log end offset minus the committed offset, never below 0.
   * @throws LogwayError INVALID_GROUP_ID, GROUP_ID_NOT_FOUND
   */
  lag (groupId: string): PartitionLag[] {
    const group = this.#existingGroup(groupId)
    return this.committedOffsets(groupId).map(({ topic, partition, committedOffset }) => {
      const { logEndOffset } = this.#log.partitionInfo(topic, partition)
      const owner = group.owner(topic, partition)
      return {
        topic,
        partition,
        committedOffset,
        logEndOffset,
        lag: Math.max(0, logEndOffset - committedOffset),
        memberId: owner?.memberId ?? null,
        clientId: owner?.clientId ?? null
      }
    })
  }

  /**
   * The group's total lag and its most lagging partition.
   * @throws LogwayError INVALID_GROUP_ID, GROUP_ID_NOT_FOUND
   */
  lagSummary (groupId: string): LagSummary {
    let maxLagPartition: PartitionLag | null = null
    let totalLag = 0
    for (const partition of this.lag(groupId)) {
      totalLag += partition.lag
      if (maxLagPartition === null || partition.lag > maxLagPartition.lag) maxLagPartition = partition
    }
    return { groupId, maxLag: maxLagPartition?.lag ?? 0, totalLag, maxLagPartition }
  }

  // ---- topics -----------------------------------------------------------------------

  #onTopicChange (change: TopicChange): void {
    if (!this.#open) return
    if (change.type === 'deleted') {
      this.#topicIds.delete(change.topic)
      const dropped = this.#store.offsets().filter(o => o.topic === change.topic && o.topicId === change.topicId)
      // Harmless if it fails: offsets of a deleted topic id are never read, and are dropped at the next open.
      this.#track(this.#removeOffsets(dropped)).catch(() => {})
    } else {
      this.#topicIds.set(change.topic, change.topicId)
    }
    for (const group of this.#groups.values()) group.topicsChanged()
  }

  async #removeOffsets (offsets: ReadonlyArray<{ groupId: string, topic: string, partition: number }>): Promise<void> {
    for (let i = 0; i < offsets.length; i += PURGE_CHUNK) {
      const chunk = offsets.slice(i, i + PURGE_CHUNK)
      await this.#store.write(batch => { for (const o of chunk) batch.removeOffset(o.groupId, o.topic, o.partition) })
    }
  }

  // ---- helpers ----------------------------------------------------------------------

  #isLive (topic: string, stored: StoredOffset): boolean {
    return this.#topicIds.get(topic) === stored.topicId
  }

  #checkOpen (): void {
    if (!this.#open) throw new LogwayError('COORDINATOR_NOT_AVAILABLE', 'The group coordinator is shutting down.')
  }

  #existingGroup (groupId: string): ConsumerGroup {
    validateGroupId(groupId)
    const group = this.#groups.get(groupId)
    if (group === undefined) throw groupNotFound(groupId)
    return group
  }

  #member (groupId: string, memberId: string): { group: ConsumerGroup, member: GroupMember } {
    this.#checkOpen()
    validateGroupId(groupId)
    const group = this.#groups.get(groupId)
    const member = group?.member(memberId)
    if (group === undefined || member === undefined) throw unknownMember(groupId, memberId)
    return { group, member }
  }

  async #track<T> (work: Promise<T>): Promise<T> {
    const tracked = work.catch(() => {}).finally(() => this.#background.delete(tracked))
    this.#background.add(tracked)
    return work
  }
}

/**
 * Checks a group id: 1 to 255 characters, no control characters or lone surrogates.
 * @throws LogwayError INVALID_GROUP_ID
 */
export function validateGroupId (groupId: unknown): asserts groupId is string {
  if (typeof groupId !== 'string' || groupId.length === 0 || groupId.length > MAX_GROUP_ID_LENGTH || hasUnnamableCharacters(groupId)) {
    throw new LogwayError('INVALID_GROUP_ID', `The group id must be 1 to ${MAX_GROUP_ID_LENGTH} characters without control characters or lone surrogates (got ${JSON.stringify(String(groupId)).slice(0, 300)}).`)
  }
}

function deliver (listener: MemberEventListener, event: MemberEvent): void {
  queueMicrotask(() => {
    try {
      listener(event)
    } catch {
      // A listener's failure is its own; the group goes on.
    }
  })
}

function listing (group: ConsumerGroup): GroupListing {
  return {
    groupId: group.groupId,
    state: group.state,
    isSimple: group.protocolType === null,
    protocolType: group.protocolType,
    assignor: group.assignor,
    memberCount: group.memberCount
  }
}

function committed (topic: string, partition: number, stored: StoredOffset): CommittedOffset {
  return { topic, partition, committedOffset: stored.offset, metadata: stored.metadata, commitTimestamp: stored.commitTimestamp }
}

function byTopicPartition (a: TopicPartition, b: TopicPartition): number {
  return compareIds(a.topic, b.topic) || a.partition - b.partition
}

function unknownMember (groupId: string, memberId: string): LogwayError {
  return new LogwayError('UNKNOWN_MEMBER_ID', `Member '${memberId}' is not in group '${groupId}'.`, { groupId, memberId })
}

function groupNotFound (groupId: string): LogwayError {
  return new LogwayError('GROUP_ID_NOT_FOUND', `Consumer group '${groupId}' does not exist.`, { groupId })
}

function nonEmpty (groupId: string, members: number): LogwayError {
  return new LogwayError('NON_EMPTY_GROUP', `Consumer group '${groupId}' has ${members} member(s); it must be empty.`, { groupId })
}
