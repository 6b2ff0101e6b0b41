import type { FastifyRequest } from 'fastify'
import type { GroupState } from '../groups/group-state.js'
import type { CommittedOffset, GroupListing, MemberDescription, PartitionLag, TopicPartition } from '../groups/types.js'

/** The broker that coordinates every group: a Logway node is broker 0. */
const COORDINATOR_BROKER_ID = 0

/** Kafka's group states as Confluent's v3 API spells them (ConsumerGroupState). */
const V3_STATES: Readonly<Record<GroupState, string>> = {
  Empty: 'EMPTY',
  PreparingRebalance: 'PREPARING_REBALANCE',
  CompletingRebalance: 'COMPLETING_REBALANCE',
  Stable: 'STABLE',
  Dead: 'DEAD'
}

type Document = Record<string, unknown>

/**
 * Builds the v3 consumer-group documents of one request, with Confluent's
 * kinds, field names, links and CRNs: absolute URLs from the request's
 * scheme and Host header, each path segment percent-encoded (member ids
 * carry the client id, which may hold any character).
 */
export class GroupDocuments {
  readonly #origin: string
  readonly clusterId: string
  readonly groupId: string

  private constructor (origin: string, clusterId: string, groupId: string) {
    this.#origin = origin
    this.clusterId = clusterId
    this.groupId = groupId
  }

  /** The documents of a request about a cluster's groups (with `groupId`, about that group). */
  static of (request: FastifyRequest, clusterId: string, groupId = ''): GroupDocuments {
    return new GroupDocuments(`${request.protocol}://${request.host}`, clusterId, groupId)
  }

  /** The same request's documents about another group. */
  forGroup (groupId: string): GroupDocuments {
    return new GroupDocuments(this.#origin, this.clusterId, groupId)
  }

  /** The URL of a v3 path under /v3/clusters/{cluster}. */
  clusterUrl (...segments: Array<string | number>): string {
    return `${this.#origin}/v3/clusters/${[this.clusterId, ...segments].map(s => encodeURIComponent(String(s))).join('/')}`
  }

  /** The URL of a path under this request's group. */
  groupUrl (...segments: Array<string | number>): string {
    return this.clusterUrl('consumer-groups', this.groupId, ...segments)
  }

  #crn (...pairs: Array<[string, string | number] | string>): string {
    const parts = [['kafka', this.clusterId], ['consumer-group', this.groupId], ...pairs]
    return `crn:///${parts.map(p => typeof p === 'string' ? p : `${p[0]}=${String(p[1])}`).join('/')}`
  }

  #partitionUrl (topic: string, partition: number): string {
    return this.clusterUrl('topics', topic, 'partitions', partition)
  }

  list (kind: string, self: string, data: Document[]): Document {
    return { kind, metadata: { self, next: null }, data }
  }

  group (group: GroupListing): Document {
    return {
      kind: 'KafkaConsumerGroup',
      metadata: { self: this.groupUrl(), resource_name: this.#crn() },
      cluster_id: this.clusterId,
      consumer_group_id: this.groupId,
      is_simple: group.isSimple,
      // Kafka reports a simple group's protocol as the empty string.
      partition_assignor: group.assignor ?? '',
      state: V3_STATES[group.state],
      coordinator: { related: this.clusterUrl('brokers', COORDINATOR_BROKER_ID) },
      consumers: { related: this.groupUrl('consumers') },
      lag_summary: { related: this.groupUrl('lag-summary') }
    }
  }

  consumer (member: MemberDescription): Document {
    return {
      kind: 'KafkaConsumer',
      metadata: { self: this.groupUrl('consumers', member.memberId), resource_name: this.#crn(['consumer', member.memberId]) },
      cluster_id: this.clusterId,
      consumer_group_id: this.groupId,
      consumer_id: member.memberId,
      instance_id: member.groupInstanceId,
      client_id: member.clientId,
      assignments: { related: this.groupUrl('consumers', member.memberId, 'assignments') }
    }
  }

  assignment (memberId: string, { topic, partition }: TopicPartition): Document {
    return {
      kind: 'KafkaConsumerAssignment',
      metadata: {
        self: this.groupUrl('consumers', memberId, 'assignments', topic, 'partitions', partition),
        resource_name: this.#crn(['consumer', memberId], ['assignment', topic], ['partition', partition])
      },
      cluster_id: this.clusterId,
      consumer_group_id: this.groupId,
      consumer_id: memberId,
      topic_name: topic,
      partition_id: partition,
      partition: { related: this.#partitionUrl(topic, partition) },
      lag: { related: this.groupUrl('lags', topic, 'partitions', partition) }
    }
  }

  lag (lag: PartitionLag): Document {
    return {
      kind: 'KafkaConsumerLag',
      metadata: {
        self: this.groupUrl('lags', lag.topic, 'partitions', lag.partition),
        resource_name: this.#crn(['lag', lag.topic], ['partition', lag.partition])
      },
      cluster_id: this.clusterId,
      consumer_group_id: this.groupId,
      topic_name: lag.topic,
      partition_id: lag.partition,
      current_offset: lag.committedOffset,
      log_end_offset: lag.logEndOffset,
      lag: lag.lag,
      // Confluent answers empty strings for a partition no member owns.
      consumer_id: lag.memberId ?? '',
      instance_id: null,
      client_id: lag.clientId ?? ''
    }
  }

  lagSummary (maxLag: PartitionLag, totalLag: number): Document {
    const consumerId = maxLag.memberId ?? ''
    return {
      kind: 'KafkaConsumerGroupLagSummary',
      metadata: { self: this.groupUrl('lag-summary'), resource_name: this.#crn('lag-summary') },
      cluster_id: this.clusterId,
      consumer_group_id: this.groupId,
      max_lag_consumer_id: consumerId,
      max_lag_instance_id: null,
      max_lag_client_id: maxLag.clientId ?? '',
      max_lag_topic_name: maxLag.topic,
      max_lag_partition_id: maxLag.partition,
      max_lag: maxLag.lag,
      total_lag: totalLag,
      max_lag_consumer: { related: this.groupUrl('consumers', consumerId) },
      max_lag_partition: { related: this.#partitionUrl(maxLag.topic, maxLag.partition) }
    }
  }

  /** A committed offset (Logway extension). */
  offset (offset: CommittedOffset): Document {
    const { topic, partition } = offset
    return {
      kind: 'KafkaConsumerGroupOffset',
      metadata: {
        self: this.groupUrl('offsets', topic, 'partitions', partition),
        resource_name: this.#crn(['offset', topic], ['partition', partition])
      },
      cluster_id: this.clusterId,
      consumer_group_id: this.groupId,
      topic_name: topic,
      partition_id: partition,
      committed_offset: offset.committedOffset,
      offset_metadata: offset.metadata,
      commit_timestamp: new Date(offset.commitTimestamp).toISOString(),
      partition: { related: this.#partitionUrl(topic, partition) },
      lag: { related: this.groupUrl('lags', topic, 'partitions', partition) }
    }
  }
}
