import type { Clock, TimerHandle } from '../clock.js'
import { isLogwayError, LogwayError } from '../errors.js'
import type { GroupCoordinator } from '../groups/group-coordinator.js'
import type { MemberEvent, OffsetResetPolicy } from '../groups/types.js'
import { RecordStream, type CursorStart, type RecordSink, type RecordStreamContext } from './record-stream.js'
import type { JoinFrame, TopicPartitionOffset } from './ws-frames.js'

/** Kafka's auto.commit.interval.ms default. */
export const AUTO_COMMIT_INTERVAL_MS = 5_000
/** Kafka's session.timeout.ms default, for members that give none. */
export const DEFAULT_SESSION_TIMEOUT_MS = 45_000

export interface MembershipContext extends RecordStreamContext {
  clock: Clock
  sink: RecordSink
  /** Shown in group descriptions. */
  clientHost: string
  /** The coordinator removed the member (or closed): the session ends the operation with `err`. */
  onRemoved: (membership: GroupMembership, err: LogwayError) => void
  /** Failures no client request reports (auto-commits, heartbeats). */
  onBackgroundError: (err: unknown, what: string) => void
}

/**
 * A WebSocket group member: a member of a consumer group in the same
 * coordinator as REST v2 consumers, driven by the coordinator's events
 * rather than by polls.
 *
 * - `assign`: the partitions of a new generation start at the position kept
 *   from the generation just before (nobody else owned them in between),
 *   else at the group's committed offset, else where auto_offset_reset says.
 *   The client gets `assigned`.
 * - `revoke`: delivery of every partition stops at once; with auto_commit
 *   the delivered positions are committed; the client gets `revoked`; then
 *   the member rejoins, and only then can the partitions move.
 * - `removed`: the operation ends with an UNKNOWN_MEMBER_ID error frame.
 *
 * The member shows it is alive by heartbeats on the server's clock while
 * its socket is open; a socket that drops without a close frame stops them,
 * and the coordinator removes the member after its session timeout.
 */
export class GroupMembership {
  readonly id: string
  readonly groupId: string
  readonly stream: RecordStream
  readonly autoCommit: boolean
  readonly #frame: JoinFrame
  readonly #ctx: MembershipContext
  readonly #policy: OffsetResetPolicy
  readonly #sessionTimeoutMs: number
  #groups: GroupCoordinator | null = null
  #memberId: string | null = null
  #generationId = -1
  /** The generation whose partitions were last given up: older assignments still queued are ignored. */
  #gaveUpAt = -1
  /** Positions of the partitions given up, kept for the very next generation. */
  #kept = new Map<string, number>()
  /** What this member last committed, so auto-commits skip partitions that did not move. */
  readonly #committed = new Map<string, number>()
  /** Coordinator events, handled one at a time in order, after the join has returned. */
  #events: Promise<void> = Promise.resolve()
  #heartbeat: TimerHandle | null = null
  #autoCommitTimer: TimerHandle | null = null
  #closed = false

  constructor (frame: JoinFrame, ctx: MembershipContext) {
    this.id = frame.id
    this.groupId = frame.group
    this.autoCommit = frame.auto_commit ?? false
    this.#frame = frame
    this.#ctx = ctx
    this.#policy = frame.auto_offset_reset ?? 'latest'
    this.#sessionTimeoutMs = frame.session_timeout_ms ?? DEFAULT_SESSION_TIMEOUT_MS
    this.stream = new RecordStream(frame.id, frame.format ?? 'binary', ctx, {
      outOfRange: (topic, partition, position, info) => {
        if (this.#policy === 'earliest') return info.logStartOffset
        if (this.#policy === 'latest') return info.logEndOffset
        return new LogwayError('OFFSET_OUT_OF_RANGE',
          `The position ${position} of ${topic}-${partition} is outside the log (${info.logStartOffset} to ${info.logEndOffset}) and auto_offset_reset is none: seek it.`,
          { topic, partition, logStartOffset: info.logStartOffset, logEndOffset: info.logEndOffset })
      },
      // A deleted topic leaves the group's assignment at the next rebalance.
      missingTopic: 'skip'
    })
    this.stream.credits.grant(frame.credits)
  }

  /** The member id once joined. */
  get memberId (): string | null {
    return this.#memberId
  }

  /**
   * Joins the group. Partitions come with the coordinator's `assign` event.
   * @throws LogwayError INVALID_GROUP_ID, INVALID_TOPIC_EXCEPTION, INVALID_SESSION_TIMEOUT,
   *   GROUP_MAX_SIZE_REACHED, COORDINATOR_NOT_AVAILABLE, KAFKA_STORAGE_ERROR
   */
  async start (groups: GroupCoordinator): Promise<void> {
    if (this.#closed) return
    this.#groups = groups
    const joining = groups.join(this.groupId, {
      subscription: { topics: this.#frame.topics },
      clientId: 'logway-ws',
      clientHost: this.#ctx.clientHost,
      sessionTimeoutMs: this.#sessionTimeoutMs,
      // Revocations are answered at once, so a rebalance never needs to wait longer for a live member.
      rebalanceTimeoutMs: this.#sessionTimeoutMs,
      onEvent: event => { this.#events = this.#events.then(async () => await this.#handle(event)) }
    })
    // Events may come before join() returns: they wait for it.
    this.#events = joining.then(() => {}, () => {})
    const { memberId } = await joining
    if (this.#closed) {
      leaveQuietly(groups, this.groupId, memberId)
      return
    }
    this.#memberId = memberId
    this.#armHeartbeat()
    if (this.autoCommit) this.#armAutoCommit()
  }

  /** The coordinator, once start() has been called (every caller runs after it). */
  get #coordinator (): GroupCoordinator {
    if (this.#groups === null) throw new LogwayError('COORDINATOR_NOT_AVAILABLE', 'The member has not joined yet.')
    return this.#groups
  }

  async #handle (event: MemberEvent): Promise<void> {
    if (this.#closed || event.memberId !== this.#memberId) return
    try {
      if (event.type === 'revoke') await this.#revoke(event.generationId, event.partitions)
      else if (event.type === 'assign') this.#assign(event.generationId, event.partitions)
      else this.#removed(new LogwayError('UNKNOWN_MEMBER_ID', `The member was removed from group '${this.groupId}' (${event.reason}): send join again.`, { groupId: this.groupId }))
    } catch (err) {
      this.#ctx.onBackgroundError(err, `handling a ${event.type} event of group '${this.groupId}'`)
    }
  }

  async #revoke (generationId: number, partitions: Array<{ topic: string, partition: number }>): Promise<void> {
    const positions = this.stream.cursors().filter(c => !c.blocked)
    this.#kept = new Map(positions.map(p => [key(p.topic, p.partition), p.offset]))
    this.stream.setCursors([])
    if (this.autoCommit) await this.#commitQuietly(positions, 'before a rebalance')
    const memberId = this.#memberId
    if (this.#closed || memberId === null) return
    this.#ctx.sink.send({ type: 'revoked', id: this.id, partitions: partitions.map(p => ({ topic: p.topic, partition: p.partition })) })
    this.#gaveUpAt = generationId
    try {
      this.#coordinator.rejoin(this.groupId, memberId)
    } catch (err) {
      // Removed meanwhile: the removed event follows.
      if (!isLogwayError(err, 'UNKNOWN_MEMBER_ID')) throw err
    }
  }

  #assign (generationId: number, partitions: Array<{ topic: string, partition: number }>): void {
    if (generationId <= this.#gaveUpAt || generationId <= this.#generationId) return
    const kept = generationId === this.#generationId + 1 ? this.#kept : new Map<string, number>()
    const failures: unknown[] = []
    const starts: CursorStart[] = []
    for (const { topic, partition } of partitions) {
      const position = kept.get(key(topic, partition))
      if (position !== undefined) {
        starts.push({ topic, partition, position })
        continue
      }
      try {
        starts.push({ topic, partition, position: this.#coordinator.startOffset(this.groupId, topic, partition, this.#policy).offset })
      } catch (err) {
        if (isLogwayError(err, 'UNKNOWN_TOPIC_OR_PARTITION')) continue
        if (!isLogwayError(err, 'NO_OFFSET_FOR_PARTITION') && !isLogwayError(err, 'OFFSET_OUT_OF_RANGE')) throw err
        // auto_offset_reset none: the partition waits for a seek.
        failures.push(err)
        starts.push({ topic, partition, position: this.#ctx.log.partitionInfo(topic, partition).logEndOffset, blocked: true })
      }
    }
    this.#generationId = generationId
    this.#kept = new Map()
    for (const k of [...this.#committed.keys()]) if (!starts.some(s => key(s.topic, s.partition) === k)) this.#committed.delete(k)
    this.stream.setCursors(starts)
    this.#ctx.sink.send({
      type: 'assigned',
      id: this.id,
      member_id: this.#memberId ?? '',
      generation_id: generationId,
      partitions: starts.map(s => ({ topic: s.topic, partition: s.partition, offset: s.position }))
    })
    for (const err of failures) this.#ctx.sink.sendError(this.id, err)
  }

  #removed (err: LogwayError): void {
    this.#memberId = null
    this.#stop()
    this.#ctx.onRemoved(this, err)
  }

  /**
   * Commits `offsets` (each the next offset to consume), or without them the
   * delivered positions of the owned partitions; resolves once durable.
   * @throws LogwayError UNKNOWN_MEMBER_ID (not or no longer a member), ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS,
   *   UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST, COORDINATOR_NOT_AVAILABLE, KAFKA_STORAGE_ERROR
   */
  async commit (offsets?: readonly TopicPartitionOffset[]): Promise<TopicPartitionOffset[]> {
    const memberId = this.#memberId
    if (memberId === null || this.#closed) {
      throw new LogwayError('UNKNOWN_MEMBER_ID', `Operation '${this.id}' is not a member of group '${this.groupId}' (yet).`, { groupId: this.groupId })
    }
    const entries = (offsets ?? this.stream.cursors().filter(c => !c.blocked))
      .map(o => ({ topic: o.topic, partition: o.partition, offset: o.offset }))
    if (entries.length === 0) return []
    const stored = await this.#coordinator.commitOffsets(this.groupId, entries, { memberId, generationId: this.#generationId })
    for (const s of stored) this.#committed.set(key(s.topic, s.partition), s.committedOffset)
    return stored.map(s => ({ topic: s.topic, partition: s.partition, offset: s.committedOffset }))
  }

  async #commitQuietly (positions: readonly TopicPartitionOffset[], when: string): Promise<void> {
    const moved = positions.filter(p => this.#committed.get(key(p.topic, p.partition)) !== p.offset)
    if (moved.length === 0) return
    try {
      await this.commit(moved)
    } catch (err) {
      this.#ctx.onBackgroundError(err, `auto-commit of group '${this.groupId}' ${when}`)
    }
  }

  /** Leaves the group (after an auto-commit of the delivered positions when `commit` and auto_commit). Never throws. */
  async leave (commit: boolean): Promise<void> {
    if (this.#closed) return
    if (commit && this.autoCommit && this.#memberId !== null) await this.#commitQuietly(this.stream.cursors().filter(c => !c.blocked), 'on leave')
    this.#stop()
    const memberId = this.#memberId
    this.#memberId = null
    if (memberId !== null) leaveQuietly(this.#coordinator, this.groupId, memberId)
  }

  /**
   * The socket died without a close: stop delivering and heartbeating but
   * stay in the group, which removes the member after its session timeout.
   */
  abandon (): void {
    this.#stop()
  }

  #stop (): void {
    this.#closed = true
    this.stream.close()
    const { clock } = this.#ctx
    if (this.#heartbeat !== null) clock.clearTimeout(this.#heartbeat)
    if (this.#autoCommitTimer !== null) clock.clearTimeout(this.#autoCommitTimer)
    this.#heartbeat = null
    this.#autoCommitTimer = null
  }

  // A third of the session timeout, as Kafka's heartbeat.interval.ms.
  #armHeartbeat (): void {
    this.#heartbeat = this.#ctx.clock.setTimeout(() => {
      this.#heartbeat = null
      const memberId = this.#memberId
      if (this.#closed || memberId === null) return
      try {
        this.#coordinator.heartbeat(this.groupId, memberId, this.#generationId)
      } catch (err) {
        // A rebalance or a newer generation is reported by events; removal too.
        if (!isLogwayError(err, 'REBALANCE_IN_PROGRESS') && !isLogwayError(err, 'ILLEGAL_GENERATION') && !isLogwayError(err, 'UNKNOWN_MEMBER_ID')) {
          this.#ctx.onBackgroundError(err, `heartbeat in group '${this.groupId}'`)
        }
      }
      this.#armHeartbeat()
    }, Math.max(1, Math.floor(this.#sessionTimeoutMs / 3)))
    this.#heartbeat.unref?.()
  }

  #armAutoCommit (): void {
    this.#autoCommitTimer = this.#ctx.clock.setTimeout(() => {
      this.#autoCommitTimer = null
      if (this.#closed) return
      this.#commitQuietly(this.stream.cursors().filter(c => !c.blocked), 'on its interval').finally(() => {
        if (!this.#closed) this.#armAutoCommit()
      })
    }, AUTO_COMMIT_INTERVAL_MS)
    this.#autoCommitTimer.unref?.()
  }
}

function leaveQuietly (groups: GroupCoordinator, groupId: string, memberId: string): void {
  try {
    groups.leave(groupId, memberId)
  } catch (err) {
    // Already removed, or the coordinator closed: nothing to leave.
    if (!isLogwayError(err, 'UNKNOWN_MEMBER_ID') && !isLogwayError(err, 'COORDINATOR_NOT_AVAILABLE')) throw err
  }
}

function key (topic: string, partition: number): string {
  return `${partition}:${topic}`
}
