import { compareIds, rangeAssign } from './range-assignor.js'
import { roundRobinAssign } from './round-robin-assignor.js'
import type { AssignorName, TopicPartition } from './types.js'

/** A member as an assignor sees it: its id and the existing topics it is subscribed to. */
export interface AssignorMember {
  memberId: string
  topics: readonly string[]
}

/**
 * Computes a generation's assignment: every member id maps to its partitions;
 * each partition of a subscribed topic goes to exactly one subscribed member.
 * Deterministic: the same members and partition counts give the same result.
 */
export type PartitionAssignor = (members: readonly AssignorMember[], partitionsPerTopic: ReadonlyMap<string, number>) => Map<string, TopicPartition[]>

/** The assignors a group can use, by Kafka's names. */
export const ASSIGNORS: Readonly<Record<AssignorName, PartitionAssignor>> = {
  range: rangeAssign,
  roundrobin: roundRobinAssign
}

/** True when `name` is an assignor the coordinator runs. */
export function isAssignorName (name: unknown): name is AssignorName {
  return typeof name === 'string' && Object.hasOwn(ASSIGNORS, name)
}

/**
 * Runs the named assignor and sorts each member's partitions by topic, then
 * partition. Topics missing from `partitionsPerTopic` are not assigned.
 */
export function assignPartitions (assignor: AssignorName, members: readonly AssignorMember[], partitionsPerTopic: ReadonlyMap<string, number>): Map<string, TopicPartition[]> {
  const assignment = ASSIGNORS[assignor](members, partitionsPerTopic)
  for (const partitions of assignment.values()) {
    partitions.sort((a, b) => compareIds(a.topic, b.topic) || a.partition - b.partition)
  }
  return assignment
}
