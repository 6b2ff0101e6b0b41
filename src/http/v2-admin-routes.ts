import './route-docs.js'
import type { FastifyPluginAsync } from 'fastify'
import type { PartitionInfo } from '../log/types.js'

/** The id Logway's one node answers to: it leads every partition and is its only replica. */
const BROKER_ID = 0

/** The media types every v2 route answers with, preferred first (Confluent's v2 type, then its generic ones). */
export const V2_PRODUCES: readonly string[] = ['application/vnd.kafka.v2+json', 'application/vnd.kafka+json', 'application/json']

const TAGS = ['v2']

/** Answers any route can give: Accept mismatch, the log not open (or closing), a server fault. */
export const V2_COMMON_ERRORS = {
  406: { description: 'The Accept header allows none of the media types the route answers', $ref: 'ErrorResponse#' },
  500: { description: 'Unexpected server error', $ref: 'ErrorResponse#' },
  503: { description: 'The log is not open yet, or the server is shutting down', $ref: 'ErrorResponse#' }
} as const

const TOPIC_NOT_FOUND = { description: 'Unknown topic (40401)', $ref: 'ErrorResponse#' } as const
const PARTITION_ERRORS = {
  400: { description: 'partition_id is not an integer', $ref: 'ErrorResponse#' },
  404: { description: 'Unknown topic (40401) or partition (40402)', $ref: 'ErrorResponse#' }
} as const

const topicParams = {
  type: 'object',
  required: ['topic_name'],
  properties: { topic_name: { type: 'string' } }
} as const
const partitionParams = {
  type: 'object',
  required: ['topic_name', 'partition_id'],
  // An integer, not a minimum: a negative id is an unknown partition (404 40402), as in Confluent.
  properties: { topic_name: { type: 'string' }, partition_id: { type: 'integer' } }
} as const

interface TopicParams { topic_name: string }
interface PartitionParams extends TopicParams { partition_id: number }

function v2Partition (info: PartitionInfo): Record<string, unknown> {
  return {
    partition: info.partition,
    leader: BROKER_ID,
    replicas: [{ broker: BROKER_ID, leader: true, in_sync: true }]
  }
}

/**
 * Confluent REST Proxy v2 metadata routes: topics, partitions, partition
 * offsets and brokers, at the root of the server (no /v2 prefix, as in
 * Confluent). Answers are application/vnd.kafka.v2+json unless Accept asks
 * for application/vnd.kafka+json or application/json.
 */
export const v2AdminRoutes: FastifyPluginAsync = async (app) => {
  const config = { produces: V2_PRODUCES }

  app.get('/topics', {
    config,
    schema: {
      summary: 'List topic names (Confluent REST Proxy v2)',
      description: 'Every topic name, sorted.',
      operationId: 'v2ListTopics',
      tags: TAGS,
      response: { 200: { description: 'The topic names', $ref: 'V2TopicList#' }, ...V2_COMMON_ERRORS }
    }
  }, async (request, reply) => {
    const log = await app.getLog()
    return reply.type(request.responseType).send(log.listTopics().map(t => t.name))
  })

  app.get<{ Params: TopicParams }>('/topics/:topic_name', {
    config,
    schema: {
      summary: 'Get a topic (Confluent REST Proxy v2)',
      description: 'The topic\'s name, every config with its effective value, and its partitions.',
      operationId: 'v2GetTopic',
      tags: TAGS,
      params: topicParams,
      response: { 200: { description: 'The topic', $ref: 'V2Topic#' }, 404: TOPIC_NOT_FOUND, ...V2_COMMON_ERRORS }
    }
  }, async (request, reply) => {
    const log = await app.getLog()
    const name = request.params.topic_name
    const configs = Object.fromEntries(log.describeConfigs(name).map(e => [e.name, e.value]))
    return reply.type(request.responseType).send({ name, configs, partitions: log.partitions(name).map(v2Partition) })
  })

  app.get<{ Params: TopicParams }>('/topics/:topic_name/partitions', {
    config,
    schema: {
      summary: 'List the partitions of a topic (Confluent REST Proxy v2)',
      operationId: 'v2ListPartitions',
      tags: TAGS,
      params: topicParams,
      response: { 200: { description: 'The partitions, by id', $ref: 'V2PartitionList#' }, 404: TOPIC_NOT_FOUND, ...V2_COMMON_ERRORS }
    }
  }, async (request, reply) => {
    const log = await app.getLog()
    return reply.type(request.responseType).send(log.partitions(request.params.topic_name).map(v2Partition))
  })

  app.get<{ Params: PartitionParams }>('/topics/:topic_name/partitions/:partition_id', {
    config,
    schema: {
      summary: 'Get a partition (Confluent REST Proxy v2)',
      operationId: 'v2GetPartition',
      tags: TAGS,
      params: partitionParams,
      response: { 200: { description: 'The partition', $ref: 'V2Partition#' }, ...PARTITION_ERRORS, ...V2_COMMON_ERRORS }
    }
  }, async (request, reply) => {
    const log = await app.getLog()
    return reply.type(request.responseType).send(v2Partition(log.partitionInfo(request.params.topic_name, request.params.partition_id)))
  })

  app.get<{ Params: PartitionParams }>('/topics/:topic_name/partitions/:partition_id/offsets', {
    config,
    schema: {
      summary: 'Get the beginning and end offsets of a partition (Confluent REST Proxy v2)',
      description: 'beginning_offset is the log start offset; end_offset the next offset to assign.',
      operationId: 'v2GetPartitionOffsets',
      tags: TAGS,
      params: partitionParams,
      response: { 200: { description: 'The offsets', $ref: 'V2PartitionOffsets#' }, ...PARTITION_ERRORS, ...V2_COMMON_ERRORS }
    }
  }, async (request, reply) => {
    const log = await app.getLog()
    const info = log.partitionInfo(request.params.topic_name, request.params.partition_id)
    return reply.type(request.responseType).send({ beginning_offset: info.logStartOffset, end_offset: info.logEndOffset })
  })

  app.get('/brokers', {
    config,
    schema: {
      summary: 'List broker ids (Confluent REST Proxy v2)',
      description: 'Logway is one node: broker 0.',
      operationId: 'v2ListBrokers',
      tags: TAGS,
      response: { 200: { description: 'The broker ids', $ref: 'V2BrokerList#' }, ...V2_COMMON_ERRORS }
    }
  }, async (request, reply) => {
    return reply.type(request.responseType).send({ brokers: [BROKER_ID] })
  })
}
