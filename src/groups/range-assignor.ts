import type { AssignorMember, PartitionAssignor } from './assignors.js'
import type { TopicPartition } from './types.js'

/**
 * Kafka's RangeAssignor (without racks): topic by topic, the members
 * subscribed to it, sorted by member id, get consecutive ranges of
 * partitions; the first `partitions % members` of them get one extra.
 * Members beyond the partition count get none of that topic.
 */
export const rangeAssign: PartitionAssignor = (members, partitionsPerTopic) => {
  const assignment = new Map<string, TopicPartition[]>(members.map(m => [m.memberId, []]))
  const membersPerTopic = new Map<string, AssignorMember[]>()
  for (const member of members) {
    for (const topic of member.topics) {
      let list = membersPerTopic.get(topic)
      if (list === undefined) membersPerTopic.set(topic, list = [])
      list.push(member)
    }
  }
  for (const [topic, subscribers] of membersPerTopic) {
    const partitionCount = partitionsPerTopic.get(topic)
    if (partitionCount === undefined) continue
    const sorted = [...subscribers].sort((a, b) => compareIds(a.memberId, b.memberId))
    const perMember = Math.floor(partitionCount / sorted.length)
    const withExtra = partitionCount % sorted.length
    sorted.forEach((member, i) => {
      const start = perMember * i + Math.min(i, withExtra)
      const length = perMember + (i < withExtra ? 1 : 0)
      const owned = assignment.get(member.memberId) as TopicPartition[]
      for (let p = start; p < start + length; p++) owned.push({ topic, partition: p })
    })
  }
  return assignment
}

/** Java's String.compareTo order (UTF-16 code units), which Kafka sorts member ids and topics by. */
export function compareIds (a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}
