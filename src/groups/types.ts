import type { GroupState } from './group-state.js'

/** One partition of one topic. */
export interface TopicPartition {
  topic: string
  partition: number
}

/** The partition assignors the coordinator runs (Kafka's `partition.assignment.strategy` names). */
export type AssignorName = 'range' | 'roundrobin'

/**
 * What a member consumes: a list of topic names, or a regular expression
 * that must match a whole topic name (Kafka's `subscribe(Pattern)`), matched
 * again whenever topics are created or deleted. Topics that do not exist are
 * kept in the subscription and assigned once they are created.
 */
export type Subscription = { topics: readonly string[] } | { pattern: string }

/** A member's partitions in one generation. */
export interface MemberAssignment {
  generationId: number
  /** Sorted by topic, then partition. */
  partitions: TopicPartition[]
}

/** Why a member left the group without asking to. */
export type MemberRemovalReason = 'session-timeout' | 'rebalance-timeout' | 'coordinator-closed'

/**
 * What the coordinator tells a member, in order, without being asked:
 * - `revoke`: a rebalance began. Stop consuming `partitions` (commit first if
 *   you will), then call `rejoin` (or `assignment`). Until then the member
 *   keeps them and the rebalance waits, up to the rebalance timeout.
 * - `assign`: the member's partitions for a new generation.
 * - `removed`: the member is no longer in the group; its partitions will be
 *   (or were) given to others, and its commits are refused (UNKNOWN_MEMBER_ID).
 *
 * A member that gave its partitions up while the group's generation was N
 * must ignore an `assign` of a generation up to N still in its queue: the
 * next assignment always has a larger generation id.
 */
export type MemberEvent =
  | { type: 'revoke', groupId: string, memberId: string, generationId: number, partitions: TopicPartition[] }
  | { type: 'assign', groupId: string, memberId: string, generationId: number, partitions: TopicPartition[] }
  | { type: 'removed', groupId: string, memberId: string, reason: MemberRemovalReason }

/** Receives a member's events (see MemberEvent). */
export type MemberEventListener = (event: MemberEvent) => void

/** How a member joins a group. */
export interface JoinOptions {
  subscription: Subscription
  /** Shown in group descriptions and used as the member id's prefix (Kafka's client.id). */
  clientId?: string
  /** The client's address, shown in group descriptions. */
  clientHost?: string
  /** The member is removed when it shows no sign of life for this long (default 45 s, Kafka's default). */
  sessionTimeoutMs?: number
  /**
   * How long a rebalance waits for this member to give up its partitions
   * before removing it (default 5 min, Kafka's max.poll.interval.ms).
   */
  rebalanceTimeoutMs?: number
  /** The group's assignor; must match the group's unless the group is empty (default: the group's, else `range`). */
  assignor?: AssignorName
  /** Receives the member's events; called asynchronously, never from inside a coordinator call. */
  onEvent?: MemberEventListener
}

/** A commit's author: a member of the current generation, or nobody (an admin or a consumer with manual assignment). */
export interface CommitAuthor {
  memberId: string
  generationId: number
}

/** One offset to commit. */
export interface OffsetCommit {
  topic: string
  partition: number
  /** The next offset to consume (Kafka's convention). */
  offset: number
  metadata?: string | null
}

/** An offset as committed. */
export interface CommittedOffset {
  topic: string
  partition: number
  committedOffset: number
  metadata: string | null
  /** When it was committed, in ms since the epoch. */
  commitTimestamp: number
}

/** Kafka's `auto.offset.reset`: where to start when there is no usable committed offset. */
export type OffsetResetPolicy = 'earliest' | 'latest' | 'none'

/** Where a member starts reading a partition, and why. */
export interface StartOffset {
  offset: number
  /** `committed`: the group's committed offset; `reset`: chosen by the auto.offset.reset policy. */
  source: 'committed' | 'reset'
}

/** Which partitions an offset reset touches: these topics (all their partitions) and these partitions. */
export interface OffsetResetScope {
  topics?: readonly string[]
  partitions?: readonly TopicPartition[]
}

/**
 * An offset reset for an empty group (kafka-consumer-groups --reset-offsets).
 * Without a scope, it touches every partition the group has an offset for.
 */
export type OffsetResetSpec =
  | { to: 'earliest' | 'latest', scope?: OffsetResetScope }
  | { to: 'timestamp', timestamp: number, scope?: OffsetResetScope }
  | { to: 'offsets', offsets: ReadonlyArray<{ topic: string, partition: number, offset: number }> }

/** One member, as group descriptions show it. */
export interface MemberDescription {
  memberId: string
  /** Kafka's group.instance.id (static membership): not supported, always null. */
  groupInstanceId: null
  clientId: string
  clientHost: string
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  subscription: Subscription
  /** The partitions the member owns now (none while it has given them up for a rebalance). */
  assignment: TopicPartition[]
}

/** A group in a listing. */
export interface GroupListing {
  groupId: string
  state: GroupState
  /** A group that only stores offsets and never had members (Kafka's empty protocol type). */
  isSimple: boolean
  protocolType: 'consumer' | null
  /** The group's partition assignor, null for a simple group. */
  assignor: AssignorName | null
  memberCount: number
}

/** A group in detail (the v3 consumer-group view). */
export interface GroupDescription extends GroupListing {
  generationId: number
  /** The broker coordinating the group: a Logway node is broker 0. */
  coordinatorId: number
  members: MemberDescription[]
  createdAt: number
}

/** The lag of one partition: its log end offset minus the group's committed offset (never below 0). */
export interface PartitionLag {
  topic: string
  partition: number
  committedOffset: number
  logEndOffset: number
  lag: number
  /** The member that owns the partition now, if any. */
  memberId: string | null
  clientId: string | null
}

/** The v3 lag summary of a group: its worst partition and the total. */
export interface LagSummary {
  groupId: string
  maxLag: number
  totalLag: number
  /** The partition with the largest lag (the first by topic and partition on a tie); null without committed offsets. */
  maxLagPartition: PartitionLag | null
}
