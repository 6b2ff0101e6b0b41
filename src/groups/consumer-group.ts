import type { Clock, TimerHandle } from '../clock.js'
import { LogwayError } from '../errors.js'
import { assignPartitions } from './assignors.js'
import { assertTransition, type GroupState } from './group-state.js'
import type { StoredGroup } from './group-store.js'
import { compareIds } from './range-assignor.js'
import type { TopicSubscription } from './subscription.js'
import type {
  AssignorName, MemberAssignment, MemberDescription, MemberEvent, MemberEventListener, MemberRemovalReason, TopicPartition
} from './types.js'

/** Longest delay a timer can take (Node turns anything longer into 1 ms). */
export const MAX_TIMER_MS = 2_147_483_647

/** What a group needs from its coordinator. */
export interface GroupContext {
  clock: Clock
  /** The partition count of every existing topic. */
  topics (): ReadonlyMap<string, number>
  /** Delivers an event to a member's listener, asynchronously and in order. */
  emit (listener: MemberEventListener, event: MemberEvent): void
  /** How long a group that was empty waits for more members before its first assignment. */
  initialRebalanceDelayMs: number
}

/** A member as the group keeps it. */
export interface GroupMember {
  readonly memberId: string
  readonly clientId: string
  readonly clientHost: string
  readonly sessionTimeoutMs: number
  readonly rebalanceTimeoutMs: number
  subscription: TopicSubscription
  /** The partitions it owns now: none from the moment it rejoins a rebalance until the next assignment. */
  assignment: TopicPartition[]
  /** It has given up its partitions for the rebalance in progress (or owned none, or just joined). */
  joined: boolean
  /** Null while its session is suspended: it rejoined and waits for the rebalance to complete. */
  sessionTimer: TimerHandle | null
  readonly listener: MemberEventListener | undefined
  readonly waiters: Set<AssignmentWaiter>
}

/** A new member's settings, validated by the coordinator. */
export interface NewMember {
  memberId: string
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  subscription: TopicSubscription
  listener: MemberEventListener | undefined
}

interface AssignmentWaiter {
  settle: (result: MemberAssignment | null | LogwayError) => void
}

/**
 * One consumer group's membership and rebalance state machine (see
 * GROUP_TRANSITIONS). The coordinator computes assignments itself, so a
 * rebalance runs in three steps:
 *
 * 1. PreparingRebalance: members that own partitions are told to give them
 *    up (`revoke`) and the group waits until each has rejoined; those that
 *    do not within the rebalance timeout are removed. Until then nobody else
 *    gets their partitions, so a partition never has two owners.
 * 2. CompletingRebalance: commits accepted earlier are awaited until durable,
 *    so the next owner of a partition starts from the last commit.
 * 3. Stable: a new generation; the assignor's result goes to every member
 *    (`assign` events, pending `assignment` calls).
 *
 * Knows nothing of storage or transports; never throws for a client mistake
 * (the coordinator validates first).
 */
export class ConsumerGroup {
  readonly groupId: string
  readonly createdAt: number
  protocolType: 'consumer' | null
  assignor: AssignorName | null
  readonly #context: GroupContext
  readonly #members = new Map<string, GroupMember>()
  #state: GroupState = 'Empty'
  #generationId = 0
  #rebalanceTimer: TimerHandle | null = null
  #initialDelayTimer: TimerHandle | null = null
  /** Partition counts of the subscribed topics when the current generation was assigned. */
  #assignedTopics = new Map<string, number>()
  #pendingCommits = 0
  #commitsSettled: Array<() => void> = []

  constructor (definition: StoredGroup, context: GroupContext) {
    this.groupId = definition.groupId
    this.createdAt = definition.createdAt
    this.protocolType = definition.protocolType
    this.assignor = definition.assignor
    this.#context = context
  }

  /** The group's state (see GROUP_TRANSITIONS). */
  get state (): GroupState {
    return this.#state
  }

  /** Starts at 0 and grows by one each time an assignment is handed out (or the group empties). */
  get generationId (): number {
    return this.#generationId
  }

  /** How many members the group has. */
  get memberCount (): number {
    return this.#members.size
  }

  /** The definition to store. */
  definition (): StoredGroup {
    return { groupId: this.groupId, protocolType: this.protocolType, assignor: this.assignor, createdAt: this.createdAt }
  }

  /** A member by id, if it is in the group. */
  member (memberId: string): GroupMember | undefined {
    return this.#members.get(memberId)
  }

  /** Members sorted by member id. */
  members (): GroupMember[] {
    return [...this.#members.values()].sort((a, b) => compareIds(a.memberId, b.memberId))
  }

  /** The member owning a partition now, if any. */
  owner (topic: string, partition: number): GroupMember | undefined {
    for (const member of this.#members.values()) {
      if (member.assignment.some(p => p.topic === topic && p.partition === partition)) return member
    }
    return undefined
  }

  // ---- membership ---------------------------------------------------------------

  /** Adds a member, which starts a rebalance (or joins the one under way). */
  addMember (init: NewMember): GroupMember {
    const member: GroupMember = { ...init, assignment: [], joined: true, sessionTimer: null, waiters: new Set() }
    this.#members.set(member.memberId, member)
    if (this.#state === 'PreparingRebalance') this.#maybeCompleteJoin()
    else this.#prepareRebalance(member)
    return member
  }

  /**
   * The member gives up its partitions for the rebalance under way (Kafka's
   * rejoin). Its session is suspended until the rebalance completes. Does
   * nothing when no rebalance waits for it.
   */
  rejoin (member: GroupMember): void {
    if (this.#state !== 'PreparingRebalance' || member.joined) return
    member.joined = true
    member.assignment = []
    this.#suspendSession(member)
    this.#maybeCompleteJoin()
  }

  /** A new subscription: the member gives up its partitions and the group rebalances. */
  changeSubscription (member: GroupMember, subscription: TopicSubscription): void {
    if (member.subscription.equals(subscription)) return
    member.subscription = subscription
    member.assignment = []
    member.joined = true
    this.#suspendSession(member)
    if (this.#state === 'PreparingRebalance') this.#maybeCompleteJoin()
    else this.#prepareRebalance(member)
  }

  /**
   * Removes a member (its waiters fail with UNKNOWN_MEMBER_ID) and rebalances
   * the rest. `reason` is told to the member; a member that leaves by itself has none.
   */
  removeMember (memberId: string, reason?: MemberRemovalReason): void {
    const member = this.#members.get(memberId)
    if (member === undefined) return
    this.#detach(member, reason)
    if (this.#state === 'PreparingRebalance') this.#maybeCompleteJoin()
    else if (this.#state === 'Stable' || this.#state === 'CompletingRebalance') this.#prepareRebalance()
  }

  /** A sign of life from the member: restarts its session timer (unless suspended). */
  touch (member: GroupMember): void {
    if (member.sessionTimer !== null) this.#startSession(member)
  }

  /**
   * The member's assignment for the current generation, at once when the
   * group is Stable, else when the rebalance completes; null after
   * `timeoutMs` or on abort.
   * @throws LogwayError UNKNOWN_MEMBER_ID (removed meanwhile), COORDINATOR_NOT_AVAILABLE (closed meanwhile)
   */
  async waitForAssignment (member: GroupMember, timeoutMs: number, signal?: AbortSignal): Promise<MemberAssignment | null> {
    if (this.#state === 'Stable') return { generationId: this.#generationId, partitions: copy(member.assignment) }
    if (timeoutMs <= 0 || signal?.aborted === true) return null
    return new Promise<MemberAssignment | null>((resolve, reject) => {
      const waiter: AssignmentWaiter = {
        settle: (result) => {
          member.waiters.delete(waiter)
          this.#context.clock.clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          if (result instanceof LogwayError) reject(result)
          else resolve(result)
        }
      }
      const onAbort = (): void => waiter.settle(null)
      const timer = this.#context.clock.setTimeout(() => waiter.settle(null), Math.min(timeoutMs, MAX_TIMER_MS))
      timer.unref?.()
      signal?.addEventListener('abort', onAbort, { once: true })
      member.waiters.add(waiter)
    })
  }

  // ---- offsets and topics ---------------------------------------------------------

  /** Records a commit in flight; call the returned function once it settles. */
  commitStarted (): () => void {
    this.#pendingCommits++
    let done = false
    return () => {
      if (done) return
      done = true
      this.#pendingCommits--
      if (this.#pendingCommits > 0) return
      for (const resolve of this.#commitsSettled.splice(0)) resolve()
      this.#maybeFinishRebalance()
    }
  }

  /** Resolves once no commit is in flight. */
  async commitsSettled (): Promise<void> {
    if (this.#pendingCommits === 0) return
    await new Promise<void>(resolve => this.#commitsSettled.push(resolve))
  }

  /** Topics were created, deleted or grew: a Stable group whose subscribed partitions changed rebalances. */
  topicsChanged (): void {
    if (this.#state !== 'Stable') return
    if (!sameCounts(this.#subscribedTopics(this.#context.topics()), this.#assignedTopics)) this.#prepareRebalance()
  }

  /** The group is deleted: Empty → Dead. */
  markDead (): void {
    this.#transition('Dead')
    this.#clearRebalanceTimers()
  }

  /** Stops every timer and fails pending waits with COORDINATOR_NOT_AVAILABLE. */
  close (): void {
    this.#clearRebalanceTimers()
    for (const member of this.#members.values()) {
      this.#suspendSession(member)
      for (const waiter of [...member.waiters]) waiter.settle(new LogwayError('COORDINATOR_NOT_AVAILABLE', 'The group coordinator is shutting down.'))
      if (member.listener !== undefined) this.#context.emit(member.listener, { type: 'removed', groupId: this.groupId, memberId: member.memberId, reason: 'coordinator-closed' })
    }
  }

  /** The members as views show them, sorted by member id. */
  describeMembers (): MemberDescription[] {
    return this.members().map(m => ({
      memberId: m.memberId,
      groupInstanceId: null,
      clientId: m.clientId,
      clientHost: m.clientHost,
      sessionTimeoutMs: m.sessionTimeoutMs,
      rebalanceTimeoutMs: m.rebalanceTimeoutMs,
      subscription: m.subscription.subscription,
      assignment: copy(m.assignment)
    }))
  }

  // ---- the rebalance ---------------------------------------------------------------

  #prepareRebalance (trigger?: GroupMember): void {
    const from = this.#state
    this.#transition('PreparingRebalance')
    if (from === 'Stable') {
      for (const member of this.#members.values()) {
        member.joined = member === trigger || member.assignment.length === 0
        if (!member.joined && member.listener !== undefined) {
          this.#context.emit(member.listener, { type: 'revoke', groupId: this.groupId, memberId: member.memberId, generationId: this.#generationId, partitions: copy(member.assignment) })
        }
      }
    }
    const timeoutMs = Math.max(0, ...[...this.#members.values()].map(m => m.rebalanceTimeoutMs))
    this.#rebalanceTimer = this.#context.clock.setTimeout(() => this.#onRebalanceTimeout(), Math.min(timeoutMs, MAX_TIMER_MS))
    this.#rebalanceTimer.unref?.()
    if (from === 'Empty' && this.#context.initialRebalanceDelayMs > 0) {
      this.#initialDelayTimer = this.#context.clock.setTimeout(() => {
        this.#initialDelayTimer = null
        this.#maybeCompleteJoin()
      }, Math.min(this.#context.initialRebalanceDelayMs, MAX_TIMER_MS))
      this.#initialDelayTimer.unref?.()
    }
    this.#maybeCompleteJoin()
  }

  #maybeCompleteJoin (): void {
    if (this.#state !== 'PreparingRebalance') return
    if (this.#members.size > 0) {
      if (this.#initialDelayTimer !== null) return
      for (const member of this.#members.values()) if (!member.joined) return
    }
    this.#completeJoin()
  }

  #onRebalanceTimeout (): void {
    this.#rebalanceTimer = null
    if (this.#state !== 'PreparingRebalance') return
    for (const member of [...this.#members.values()]) {
      if (!member.joined) this.#detach(member, 'rebalance-timeout')
    }
    this.#completeJoin()
  }

  #completeJoin (): void {
    this.#clearRebalanceTimers()
    if (this.#members.size === 0) {
      this.#generationId++
      this.#assignedTopics = new Map()
      this.#transition('Empty')
      return
    }
    this.#transition('CompletingRebalance')
    this.#maybeFinishRebalance()
  }

  #maybeFinishRebalance (): void {
    if (this.#state !== 'CompletingRebalance' || this.#pendingCommits > 0) return
    const topics = this.#context.topics()
    const members = this.members()
    const assignment = assignPartitions(this.assignor ?? 'range', members.map(m => ({ memberId: m.memberId, topics: m.subscription.select(topics.keys()) })), topics)
    this.#assignedTopics = this.#subscribedTopics(topics)
    this.#generationId++
    this.#transition('Stable')
    const generationId = this.#generationId
    for (const member of members) {
      member.assignment = assignment.get(member.memberId) ?? []
      member.joined = true
      this.#startSession(member)
      for (const waiter of [...member.waiters]) waiter.settle({ generationId, partitions: copy(member.assignment) })
      if (member.listener !== undefined) {
        this.#context.emit(member.listener, { type: 'assign', groupId: this.groupId, memberId: member.memberId, generationId, partitions: copy(member.assignment) })
      }
    }
  }

  #subscribedTopics (topics: ReadonlyMap<string, number>): Map<string, number> {
    const subscribed = new Map<string, number>()
    for (const member of this.#members.values()) {
      for (const topic of member.subscription.select(topics.keys())) subscribed.set(topic, topics.get(topic) as number)
    }
    return subscribed
  }

  #transition (to: GroupState): void {
    assertTransition(this.groupId, this.#state, to)
    this.#state = to
  }

  #clearRebalanceTimers (): void {
    if (this.#rebalanceTimer !== null) this.#context.clock.clearTimeout(this.#rebalanceTimer)
    if (this.#initialDelayTimer !== null) this.#context.clock.clearTimeout(this.#initialDelayTimer)
    this.#rebalanceTimer = null
    this.#initialDelayTimer = null
  }

  #detach (member: GroupMember, reason: MemberRemovalReason | undefined): void {
    this.#members.delete(member.memberId)
    this.#suspendSession(member)
    member.assignment = []
    for (const waiter of [...member.waiters]) {
      waiter.settle(new LogwayError('UNKNOWN_MEMBER_ID', `Member '${member.memberId}' is no longer in group '${this.groupId}'.`, { groupId: this.groupId, memberId: member.memberId }))
    }
    if (reason !== undefined && member.listener !== undefined) {
      this.#context.emit(member.listener, { type: 'removed', groupId: this.groupId, memberId: member.memberId, reason })
    }
  }

  #startSession (member: GroupMember): void {
    if (member.sessionTimer !== null) this.#context.clock.clearTimeout(member.sessionTimer)
    member.sessionTimer = this.#context.clock.setTimeout(() => {
      member.sessionTimer = null
      if (this.#members.get(member.memberId) === member) this.removeMember(member.memberId, 'session-timeout')
    }, Math.min(member.sessionTimeoutMs, MAX_TIMER_MS))
    member.sessionTimer.unref?.()
  }

  #suspendSession (member: GroupMember): void {
    if (member.sessionTimer !== null) this.#context.clock.clearTimeout(member.sessionTimer)
    member.sessionTimer = null
  }
}

function copy (partitions: readonly TopicPartition[]): TopicPartition[] {
  return partitions.map(p => ({ topic: p.topic, partition: p.partition }))
}

function sameCounts (a: ReadonlyMap<string, number>, b: ReadonlyMap<string, number>): boolean {
  if (a.size !== b.size) return false
  for (const [topic, count] of a) if (b.get(topic) !== count) return false
  return true
}
