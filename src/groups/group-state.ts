/**
 * The states of a consumer group, with Kafka's names (the classic group protocol).
 * What each state means in Logway, where the coordinator computes assignments itself:
 *
 * | State               | Meaning                                                                        | Offset commits                        | heartbeat              |
 * |---------------------|--------------------------------------------------------------------------------|---------------------------------------|------------------------|
 * | Empty               | no members; committed offsets and the definition remain                        | only without a member (admin, manual) | UNKNOWN_MEMBER_ID      |
 * | PreparingRebalance  | waiting for every member to give up its partitions (rejoin), up to the timeout | members of the current generation     | REBALANCE_IN_PROGRESS  |
 * | CompletingRebalance | everyone rejoined; waiting for commits already accepted to be durable          | REBALANCE_IN_PROGRESS                 | REBALANCE_IN_PROGRESS  |
 * | Stable              | every member has its assignment for the current generation                     | members of the current generation     | ok                     |
 * | Dead                | the group was deleted and is forgotten at once: a later join or commit starts a new group            |
 */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

/** One allowed transition and what triggers it. */
export interface GroupTransition {
  from: GroupState
  to: GroupState
  on: string
}

/**
 * Every transition a group may make; `assertTransition` refuses any other.
 * Kafka's table, less what cannot happen on a single node (Dead by partition
 * emigration; a non-empty group cannot be deleted).
 */
export const GROUP_TRANSITIONS: readonly GroupTransition[] = [
  { from: 'Empty', to: 'PreparingRebalance', on: 'a member joins' },
  { from: 'Empty', to: 'Dead', on: 'the group is deleted' },
  { from: 'PreparingRebalance', to: 'CompletingRebalance', on: 'every member has rejoined (those that did not within the rebalance timeout are removed), and some remain' },
  { from: 'PreparingRebalance', to: 'Empty', on: 'the last member leaves, expires or is removed' },
  { from: 'CompletingRebalance', to: 'Stable', on: 'the commits accepted before are durable: the coordinator assigns the partitions' },
  { from: 'CompletingRebalance', to: 'PreparingRebalance', on: 'a member joins, leaves, expires or changes its subscription, or a subscribed topic changes' },
  { from: 'Stable', to: 'PreparingRebalance', on: 'a member joins, leaves, expires or changes its subscription, or a subscribed topic is created, deleted or grows' }
]

/** True when the table allows `from` → `to`. */
export function canTransition (from: GroupState, to: GroupState): boolean {
  return GROUP_TRANSITIONS.some(t => t.from === from && t.to === to)
}

/**
 * Checks a transition against the table.
 * @throws Error when the table does not allow it: a coordinator bug, never a client's mistake.
 */
export function assertTransition (groupId: string, from: GroupState, to: GroupState): void {
  if (!canTransition(from, to)) {
    throw new Error(`Consumer group '${groupId}' cannot go from ${from} to ${to}.`)
  }
}
