import './route-docs.js'
import type { FastifyPluginAsync } from 'fastify'
import { LogwayError } from '../errors.js'
import type { OffsetResetScope, OffsetResetSpec } from '../groups/types.js'
import { errorResponse } from './common-responses.js'
import { GROUP_ERRORS, groupParams, notFound, openGroups, v3, type GroupParams, type GroupPartitionParams } from './v3-group-routes.js'

interface TopicPartitionBody { topic_name: string, partition_id: number }

interface OffsetResetBody {
  to: 'earliest' | 'latest' | 'timestamp' | 'offsets'
  timestamp?: string | number
  offsets?: Array<TopicPartitionBody & { offset: number }>
  topics?: string[]
  partitions?: TopicPartitionBody[]
  dry_run?: boolean
}

const EXTENSION = 'A Logway extension: Confluent REST Proxy v3 has no such operation.'

const NON_EMPTY = errorResponse('The group has members (NON_EMPTY_GROUP): stop its consumers first')

/**
 * The request's reset as the coordinator takes it.
 * @throws LogwayError INVALID_REQUEST when fields that go with another `to` are given, or those of this one are missing
 */
function resetSpec (body: OffsetResetBody): OffsetResetSpec {
  const { to } = body
  if (to !== 'timestamp' && body.timestamp !== undefined) throw invalid(`timestamp goes with to=timestamp only (got to=${to}).`)
  if (to !== 'offsets' && body.offsets !== undefined) throw invalid(`offsets goes with to=offsets only (got to=${to}).`)
  if (to === 'offsets') {
    if (body.offsets === undefined) throw invalid('to=offsets needs offsets.')
    if (body.topics !== undefined || body.partitions !== undefined) throw invalid('to=offsets takes no topics or partitions: the offsets name their partitions.')
    return { to, offsets: body.offsets.map(o => ({ topic: o.topic_name, partition: o.partition_id, offset: o.offset })) }
  }
  const scope: OffsetResetScope | undefined = body.topics === undefined && body.partitions === undefined
    ? undefined
    : { topics: body.topics ?? [], partitions: (body.partitions ?? []).map(p => ({ topic: p.topic_name, partition: p.partition_id })) }
  if (to === 'timestamp') {
    if (body.timestamp === undefined) throw invalid('to=timestamp needs timestamp.')
    const timestamp = typeof body.timestamp === 'number' ? body.timestamp : Date.parse(body.timestamp)
    if (!Number.isSafeInteger(timestamp) || timestamp < 0) throw invalid(`timestamp ${JSON.stringify(body.timestamp)} is not a date-time from 1970 on.`)
    return { to, timestamp, ...(scope === undefined ? {} : { scope }) }
  }
  return { to, ...(scope === undefined ? {} : { scope }) }
}

function invalid (message: string): LogwayError {
  return new LogwayError('INVALID_REQUEST', message)
}

/**
 * Logway's consumer-group operations beyond Confluent REST Proxy v3: delete
 * a group, read its committed offsets, reset them (all need an empty group
 * to change anything, as kafka-consumer-groups does).
 */
export const v3GroupAdminRoutes: FastifyPluginAsync = async (app) => {
  // Confluent's v3 consumes application/json only; Fastify's default text/plain parser would turn a 415 into a 400.
  app.removeContentTypeParser('text/plain')

  app.delete<{ Params: GroupParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id', v3({
    summary: 'Delete a consumer group',
    description: `Deletes an empty group with its committed offsets (Kafka's DeleteGroups; kafka-consumer-groups --delete). A group with members is refused with 409 NON_EMPTY_GROUP. Answers once the deletion is durable. ${EXTENSION}`,
    operationId: 'deleteKafkaConsumerGroup',
    params: groupParams(),
    response: { 204: { description: 'Deleted', type: 'null' }, ...GROUP_ERRORS, 409: NON_EMPTY }
  }), async (request, reply) => {
    const { coordinator } = await openGroups(app, request, request.params.cluster_id)
    await coordinator.deleteGroup(request.params.consumer_group_id)
    return reply.code(204).send()
  })

  app.get<{ Params: GroupParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id/offsets', v3({
    summary: 'List the committed offsets of a consumer group',
    description: `The group's committed offsets, by topic and partition (Kafka's OffsetFetch; kafka-consumer-groups --describe --offsets). ${EXTENSION}`,
    operationId: 'listKafkaConsumerGroupOffsets',
    params: groupParams(),
    response: { 200: { description: 'The committed offsets', $ref: 'ConsumerGroupOffsetDataList#' }, ...GROUP_ERRORS }
  }), async (request) => {
    const { cluster_id: clusterId, consumer_group_id: groupId } = request.params
    const { coordinator, docs } = await openGroups(app, request, clusterId, groupId)
    coordinator.describeGroup(groupId)
    return docs.list('KafkaConsumerGroupOffsetList', docs.groupUrl('offsets'), coordinator.committedOffsets(groupId).map(o => docs.offset(o)))
  })

  app.get<{ Params: GroupPartitionParams }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id/offsets/:topic_name/partitions/:partition_id', v3({
    summary: 'Get the committed offset of a consumer group on one partition',
    description: EXTENSION,
    operationId: 'getKafkaConsumerGroupOffset',
    params: groupParams('topic_name', 'partition_id'),
    response: {
      200: { description: 'The committed offset', $ref: 'ConsumerGroupOffsetData#' },
      ...GROUP_ERRORS,
      404: errorResponse('Unknown cluster (error_code 404), consumer group (GROUP_ID_NOT_FOUND), topic (40401) or partition (40402), or the group has no committed offset for the partition (error_code 404)')
    }
  }), async (request) => {
    const { cluster_id: clusterId, consumer_group_id: groupId, topic_name: topic, partition_id: partition } = request.params
    const { log, coordinator, docs } = await openGroups(app, request, clusterId, groupId)
    coordinator.describeGroup(groupId)
    log.partitionInfo(topic, partition)
    const offset = coordinator.committedOffset(groupId, topic, partition)
    if (offset === null) throw notFound(`Consumer group '${groupId}' has no committed offset for ${topic}-${partition}.`)
    return docs.offset(offset)
  })

  app.post<{ Params: GroupParams, Body: OffsetResetBody }>('/v3/clusters/:cluster_id/consumer-groups/:consumer_group_id/offsets::reset', v3({
    summary: 'Reset the committed offsets of an empty consumer group',
    description: [
      'As kafka-consumer-groups --reset-offsets: to the log start (earliest), the log end (latest), the first offset at or after a timestamp (the log end when there is none), or given offsets, which must lie within the log (else 400 OFFSET_OUT_OF_RANGE).',
      'Without topics or partitions, every partition the group has a committed offset for is reset; with them, exactly those partitions (every partition of each topic in topics). Every partition is checked before anything is written, and all offsets are written together, durably, before the answer.',
      `The group must exist and be empty: one with members is refused with 409 NON_EMPTY_GROUP. With dry_run, the answer is the offsets the reset would set, and nothing changes. The path follows Confluent's :action convention (configs:alter). ${EXTENSION}`
    ].join('\n\n'),
    operationId: 'resetKafkaConsumerGroupOffsets',
    params: groupParams(),
    body: { $ref: 'OffsetResetRequest#' },
    response: {
      200: { description: 'The offsets set (with dry_run: that would be set), by topic and partition', $ref: 'ConsumerGroupOffsetDataList#' },
      ...GROUP_ERRORS,
      400: errorResponse('Invalid body or group id, or an offset outside its partition\'s log (OFFSET_OUT_OF_RANGE)'),
      404: errorResponse('Unknown cluster (error_code 404), consumer group (GROUP_ID_NOT_FOUND), topic (40401) or partition (40402)'),
      409: NON_EMPTY
    }
  }), async (request) => {
    const { cluster_id: clusterId, consumer_group_id: groupId } = request.params
    const { coordinator, docs } = await openGroups(app, request, clusterId, groupId)
    const offsets = await coordinator.resetOffsets(groupId, resetSpec(request.body), { dryRun: request.body.dry_run === true })
    offsets.sort((a, b) => (a.topic < b.topic ? -1 : a.topic > b.topic ? 1 : 0) || a.partition - b.partition)
    return docs.list('KafkaConsumerGroupOffsetList', docs.groupUrl('offsets'), offsets.map(o => docs.offset(o)))
  })
}
