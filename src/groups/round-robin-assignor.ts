import type { PartitionAssignor } from './assignors.js'
import { compareIds } from './range-assignor.js'
import type { TopicPartition } from './types.js'

/**
 * Kafka's RoundRobinAssignor: every subscribed partition, sorted by topic
 * then partition, goes to the next member in member-id order, skipping
 * members not subscribed to its topic.
 */
export const roundRobinAssign: PartitionAssignor = (members, partitionsPerTopic) => {
  const assignment = new Map<string, TopicPartition[]>(members.map(m => [m.memberId, []]))
  const sorted = [...members].sort((a, b) => compareIds(a.memberId, b.memberId))
  const topics = [...new Set(members.flatMap(m => m.topics))].sort(compareIds)
  const subscribed = sorted.map(m => new Set(m.topics))
  let next = 0
  for (const topic of topics) {
    const partitionCount = partitionsPerTopic.get(topic)
    if (partitionCount === undefined) continue
    for (let partition = 0; partition < partitionCount; partition++) {
      // Some member is subscribed to every topic in the list, so this ends.
      while (!(subscribed[next] as Set<string>).has(topic)) next = (next + 1) % sorted.length
      assignment.get((sorted[next] as { memberId: string }).memberId)?.push({ topic, partition })
      next = (next + 1) % sorted.length
    }
  }
  return assignment
}
