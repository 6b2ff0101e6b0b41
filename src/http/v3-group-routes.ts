import './route-docs.js'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, FastifySchema } from 'fastify'
import { LogwayError } from '../errors.js'
import type { GroupCoordinator } from '../groups/group-coordinator.js'
import type { MemberDescription } from '../groups/types.js'
import type { LogStore } from '../log/log-store.js'
import { errorResponse } from './common-responses.js'
import { GroupDocuments } from './v3-group-documents.js'
import { clusterNotFound } from './v3-records-routes.js'

/** A v3 consumer-group operation's schema: tagged v3, so each route states only what is its own. */
export function v3 (schema: FastifySchema): { schema: FastifySchema } {
  return { schema: { tags: ['v3'], ...schema } }
}

/** A params schema of string path parameters, all required, and optionally an integer partition_id. */
export function groupParams (...names: string[]): { type: 'object', required: string[], properties: Record<string, { type: string }> } {
  const properties = Object.fromEntries(['cluster_id', 'consumer_group_id', ...names].map(name => [name, { type: 'string' }]))
  // An integer, not a minimum: a negative id is an unknown partition (404 40402), as in the other v3 routes.
  if ('partition_id' in properties) properties.partition_id = { type: 'integer' }
  return { type: 'object', required: Object.keys(properties), properties }
}

export interface GroupParams { cluster_id: string, consumer_group_id: string }
interface ConsumerParams extends GroupParams { consumer_id: string }
export interface GroupPartitionParams extends GroupParams { topic_name: string, partition_id: number }
interface AssignmentParams extends ConsumerParams { topic_name: string, partition_id: number }

export const GROUP_ERRORS = {
  400: errorResponse('Invalid consumer group id (INVALID_GROUP_ID) or path parameter'),
  404: errorResponse('Unknown cluster (error_code 404) or consumer group (GROUP_ID_NOT_FOUND)')
} as const

/** A 404 with Confluent's bare `error_code` 404, for what Confluent answers with JAX-RS's NotFoundException. */
export function notFound (message: string): Error {
  return Object.assign(new Error(message), { statusCode: 404 })
}

/** The log and the group coordinator, once the cluster id is known to be this server's (else 404). */
export async function openGroups (app: FastifyInstance, request: FastifyRequest, clusterId: string, groupId?: string): Promise<{
  log: LogStore
  coordinator: GroupCoordinator
  docs: GroupDocuments
}> {
  const log = await app.getLog()
  if (clusterId !== log.clusterId) throw clusterNotFound(clusterId)
  return { log, coordinator: await app.getGroups(), docs: GroupDocuments.of(request, clusterId, groupId) }
}

function findMember (members: MemberDescription[], groupId: string, consumerId: string): MemberDescription {
  const member = members.find(m => m.memberId === consumerId)
  if (member === undefined) throw new LogwayError('UNKNOWN_MEMBER_ID', `Consumer '${consumerId}' is not in consumer group '${groupId}'.`, { groupId, memberId: consumerId })
  return member
}

const byConsumerId = (a: MemberDescription, b: MemberDescription): number => a.memberId < b.memberId ? -1 : a.memberId > b.memberId ? 1 : 0

/**
 * Confluent REST Proxy v3 consumer-group views: groups, their consumers and
 * assignments, lags and the lag summary, with Confluent's paths, kinds,
 * field names and links. Read only: groups are joined through the consumer
 * APIs; Logway's extensions (delete, offsets, reset) are in
 * v3-group-admin-routes.ts.
 */
export const v3GroupRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: { cluster_id: string } }>('/v3/clusters/:cluster_id/consumer-groups', v3({
    summary: 'List consumer groups',
    description: 'Every group the coordinator knows, sorted by id: groups with members, empty groups that keep committed offsets, and simple groups (offsets committed without members).',
    operationId: 'listKafkaConsumerGroups',
    params: { type: 'object', required: ['cluster_id'], properties: { cluster_id: { type: 'string' } } },
    response: { 200: { description: 'The consumer groups', $ref: 'ConsumerGroupDataList#' }, 404: errorResponse('Unknown cluster') }
  }), async (request) => {
    const { coordinator, docs } = await openGroups(app, request, request.params.cluster_id)
    return docs.list('KafkaConsumerGroupList', docs.clusterUrl('consumer-groups'),
      coordinator.listGroups().map(group => docs.forGroup(group.groupId).group(group)))
  })

  app.get<{ Params: GroupParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id', v3({
    summary: 'Get a consumer group',
    description: 'partition_assignor is Kafka\'s protocol name of the group\'s assignor (range or roundrobin), empty for a simple group; the coordinator is broker 0.',
    operationId: 'getKafkaConsumerGroup',
    params: groupParams(),
    response: { 200: { description: 'The consumer group', $ref: 'ConsumerGroupData#' }, ...GROUP_ERRORS }
  }), async (request) => {
    const { coordinator, docs } = await openGroups(app, request, request.params.cluster_id, request.params.consumer_group_id)
    return docs.group(coordinator.describeGroup(request.params.consumer_group_id))
  })

  // ---- consumers and their assignments --------------------------------------

  app.get<{ Params: GroupParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id/consumers', v3({
    summary: 'List the consumers of a consumer group',
    description: 'The group\'s members now, sorted by consumer_id; empty for an empty group.',
    operationId: 'listKafkaConsumers',
    params: groupParams(),
    response: { 200: { description: 'The consumers', $ref: 'ConsumerDataList#' }, ...GROUP_ERRORS }
  }), async (request) => {
    const { coordinator, docs } = await openGroups(app, request, request.params.cluster_id, request.params.consumer_group_id)
    const members = coordinator.describeGroup(request.params.consumer_group_id).members.sort(byConsumerId)
    return docs.list('KafkaConsumerList', docs.groupUrl('consumers'), members.map(m => docs.consumer(m)))
  })

  const CONSUMER_ERRORS = {
    ...GROUP_ERRORS,
    404: errorResponse('Unknown cluster (error_code 404), consumer group (GROUP_ID_NOT_FOUND) or consumer (UNKNOWN_MEMBER_ID)')
  }

  app.get<{ Params: ConsumerParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id/consumers/:consumer_id', v3({
    summary: 'Get a consumer of a consumer group',
    operationId: 'getKafkaConsumer',
    params: groupParams('consumer_id'),
    response: { 200: { description: 'The consumer', $ref: 'ConsumerData#' }, ...CONSUMER_ERRORS }
  }), async (request) => {
    const { cluster_id: clusterId, consumer_group_id: groupId, consumer_id: consumerId } = request.params
    const { coordinator, docs } = await openGroups(app, request, clusterId, groupId)
    return docs.consumer(findMember(coordinator.describeGroup(groupId).members, groupId, consumerId))
  })

  app.get<{ Params: ConsumerParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id/consumers/:consumer_id/assignments', v3({
    summary: 'List the partitions assigned to a consumer',
    description: 'The partitions the consumer owns now, by topic and partition. While a rebalance waits for it to give them up it still owns them; once it has, the list is empty until the new assignment.',
    operationId: 'listKafkaConsumerAssignment',
    params: groupParams('consumer_id'),
    response: { 200: { description: 'The assignments', $ref: 'ConsumerAssignmentDataList#' }, ...CONSUMER_ERRORS }
  }), async (request) => {
    const { cluster_id: clusterId, consumer_group_id: groupId, consumer_id: consumerId } = request.params
    const { coordinator, docs } = await openGroups(app, request, clusterId, groupId)
    const member = findMember(coordinator.describeGroup(groupId).members, groupId, consumerId)
    return docs.list('KafkaConsumerAssignmentList', docs.groupUrl('consumers', consumerId, 'assignments'),
      member.assignment.map(p => docs.assignment(consumerId, p)))
  })

  app.get<{ Params: AssignmentParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id/consumers/:consumer_id/assignments/:topic_name/partitions/:partition_id', v3({
    summary: 'Get one partition assigned to a consumer',
    operationId: 'getKafkaConsumerAssignment',
    params: groupParams('consumer_id', 'topic_name', 'partition_id'),
    response: {
      200: { description: 'The assignment', $ref: 'ConsumerAssignmentData#' },
      ...GROUP_ERRORS,
      404: errorResponse('Unknown cluster (error_code 404), consumer group (GROUP_ID_NOT_FOUND), consumer (UNKNOWN_MEMBER_ID), topic (40401) or partition (40402), or the consumer does not own the partition (error_code 404)')
    }
  }), async (request) => {
    const { cluster_id: clusterId, consumer_group_id: groupId, consumer_id: consumerId, topic_name: topic, partition_id: partition } = request.params
    const { log, coordinator, docs } = await openGroups(app, request, clusterId, groupId)
    const member = findMember(coordinator.describeGroup(groupId).members, groupId, consumerId)
    log.partitionInfo(topic, partition)
    const assigned = member.assignment.find(p => p.topic === topic && p.partition === partition)
    if (assigned === undefined) throw notFound(`Consumer '${consumerId}' of consumer group '${groupId}' is not assigned ${topic}-${partition}.`)
    return docs.assignment(consumerId, assigned)
  })

  // ---- lags -----------------------------------------------------------------

  app.get<{ Params: GroupParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id/lags', v3({
    summary: 'List the lags of a consumer group',
    description: 'One entry per partition the group has committed an offset for: current_offset is the committed offset, lag is log_end_offset − current_offset (never below 0), and consumer_id and client_id name the member that owns the partition now (empty strings when none does, as Confluent). Sorted as Confluent: the largest lag first, then by topic and partition. Unlike Confluent, which answers 404 when the group has no committed offsets, the list is then empty.',
    operationId: 'listKafkaConsumerLags',
    params: groupParams(),
    response: { 200: { description: 'The lags', $ref: 'ConsumerLagDataList#' }, ...GROUP_ERRORS }
  }), async (request) => {
    const { coordinator, docs } = await openGroups(app, request, request.params.cluster_id, request.params.consumer_group_id)
    const lags = coordinator.lag(request.params.consumer_group_id)
      .sort((a, b) => b.lag - a.lag || (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0) || a.partition - b.partition)
    return docs.list('KafkaConsumerLagList', docs.groupUrl('lags'), lags.map(lag => docs.lag(lag)))
  })

  app.get<{ Params: GroupPartitionParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id/lags/:topic_name/partitions/:partition_id', v3({
    summary: 'Get the lag of a consumer group on one partition',
    operationId: 'getKafkaConsumerLag',
    params: groupParams('topic_name', 'partition_id'),
    response: {
      200: { description: 'The lag', $ref: 'ConsumerLagData#' },
      ...GROUP_ERRORS,
      404: errorResponse('Unknown cluster (error_code 404), consumer group (GROUP_ID_NOT_FOUND), topic (40401) or partition (40402), or the group has no committed offset for the partition (error_code 404)')
    }
  }), async (request) => {
    const { cluster_id: clusterId, consumer_group_id: groupId, topic_name: topic, partition_id: partition } = request.params
    const { log, coordinator, docs } = await openGroups(app, request, clusterId, groupId)
    const lags = coordinator.lag(groupId)
    log.partitionInfo(topic, partition)
    const lag = lags.find(l => l.topic === topic && l.partition === partition)
    if (lag === undefined) throw notFound(`Consumer group '${groupId}' has no committed offset for ${topic}-${partition}.`)
    return docs.lag(lag)
  })

  app.get<{ Params: GroupParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id/lag-summary', v3({
    summary: 'Get the lag summary of a consumer group',
    description: 'The total lag over every partition the group has committed an offset for, and its most lagging partition (on a tie, the first by topic and partition) with the member that owns it now (empty strings when none does, as Confluent). A group without committed offsets has no summary: 404 (error_code 404), as Confluent.',
    operationId: 'getKafkaConsumerGroupLagSummary',
    params: groupParams(),
    response: {
      200: { description: 'The lag summary', $ref: 'ConsumerGroupLagSummaryData#' },
      ...GROUP_ERRORS,
      404: errorResponse('Unknown cluster (error_code 404) or consumer group (GROUP_ID_NOT_FOUND), or the group has no committed offsets (error_code 404)')
    }
  }), async (request) => {
    const { cluster_id: clusterId, consumer_group_id: groupId } = request.params
    const { coordinator, docs } = await openGroups(app, request, clusterId, groupId)
    const { maxLagPartition, totalLag } = coordinator.lagSummary(groupId)
    if (maxLagPartition === null) throw notFound(`Consumer group '${groupId}' has no committed offsets.`)
    return docs.lagSummary(maxLagPartition, totalLag)
  })
}
