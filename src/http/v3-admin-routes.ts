import './route-docs.js'
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest, FastifySchema } from 'fastify'
import { LogwayError } from '../errors.js'
import type { LogStore } from '../log/log-store.js'
import { parseTopicConfigs, TOPIC_CONFIG_DEFINITIONS, TOPIC_CONFIG_NAMES } from '../log/topic-configs.js'
import { validateTopicName } from '../log/topic-name.js'
import type { PartitionInfo, TopicConfigEntry, TopicConfigName, TopicDescription } from '../log/types.js'
import { errorResponse } from './common-responses.js'

/** The id Logway's one node answers to in broker and replica links. */
const BROKER_ID = 0

const ERRORS = {
  400: errorResponse('Invalid request'),
  404: errorResponse('Unknown cluster, topic, partition or config')
} as const
const NO_CONTENT = { description: 'Done', type: 'null' } as const

/** A v3 operation's schema: tagged v3, so each route states only what is its own. */
function v3 (schema: FastifySchema): { schema: FastifySchema } {
  return { schema: { tags: ['v3'], ...schema } }
}

/** A params schema of string path parameters, all required. */
function pathParams (...names: string[]): { type: 'object', required: string[], properties: Record<string, { type: string }> } {
  return { type: 'object', required: names, properties: Object.fromEntries(names.map(name => [name, { type: 'string' }])) }
}

const clusterParams = pathParams('cluster_id')
const topicParams = pathParams('cluster_id', 'topic_name')
const configParams = pathParams('cluster_id', 'topic_name', 'name')
const partitionParams = {
  ...topicParams,
  required: [...topicParams.required, 'partition_id'],
  // An integer, not a minimum: a negative id is an unknown partition (404 40402), as in Confluent.
  properties: { ...topicParams.properties, partition_id: { type: 'integer' } }
}

interface ClusterParams { cluster_id: string }
interface TopicParams extends ClusterParams { topic_name: string }
interface ConfigParams extends TopicParams { name: string }
interface PartitionParams extends TopicParams { partition_id: number }

interface CreateTopicBody {
  topic_name: string
  partitions_count?: number
  replication_factor?: number
  configs?: Array<{ name: string, value?: string | null }>
  validate_only?: boolean
}
interface AlterConfigBatchBody {
  data: Array<{ name: string, value?: string | null, operation?: 'SET' | 'DELETE' }>
  validate_only?: boolean
}

/** A 404 with Confluent's bare `error_code` 404 (unknown cluster or config name), rendered by the error handler. */
function notFound (message: string): Error {
  return Object.assign(new Error(message), { statusCode: 404 })
}

/** Builds absolute URLs and CRNs for one request, as Confluent does: the request's scheme and Host header. */
class Links {
  readonly #origin: string
  readonly clusterId: string

  constructor (request: FastifyRequest, clusterId: string) {
    this.#origin = `${request.protocol}://${request.host}`
    this.clusterId = clusterId
  }

  url (...segments: Array<string | number>): string {
    return `${this.#origin}/v3/${segments.map(s => encodeURIComponent(String(s))).join('/')}`
  }

  crn (...pairs: Array<[string, string | number]>): string {
    return `crn:///kafka=${this.clusterId}${pairs.map(([k, v]) => `/${k}=${String(v)}`).join('')}`
  }

  cluster (): Record<string, unknown> {
    const c = this.clusterId
    const related = (...rest: string[]): { related: string } => ({ related: this.url('clusters', c, ...rest) })
    return {
      kind: 'KafkaCluster',
      metadata: { self: this.url('clusters', c), resource_name: this.crn() },
      cluster_id: c,
      controller: related('brokers', String(BROKER_ID)),
      acls: related('acls'),
      brokers: related('brokers'),
      broker_configs: related('broker-configs'),
      consumer_groups: related('consumer-groups'),
      topics: related('topics'),
      partition_reassignments: related('topics', '-', 'partitions', '-', 'reassignment')
    }
  }

  topicUrl (topic: string, ...rest: Array<string | number>): string {
    return this.url('clusters', this.clusterId, 'topics', topic, ...rest)
  }

  topic (topic: TopicDescription): Record<string, unknown> {
    const name = topic.name
    return {
      kind: 'KafkaTopic',
      metadata: { self: this.topicUrl(name), resource_name: this.crn(['topic', name]) },
      cluster_id: this.clusterId,
      topic_name: name,
      is_internal: false,
      replication_factor: 1,
      partitions_count: topic.partitionCount,
      partitions: { related: this.topicUrl(name, 'partitions') },
      configs: { related: this.topicUrl(name, 'configs') },
      partition_reassignments: { related: this.topicUrl(name, 'partitions', '-', 'reassignment') }
    }
  }

  config (topic: string, entry: TopicConfigEntry): Record<string, unknown> {
    const defaultValue = String(TOPIC_CONFIG_DEFINITIONS[entry.name].defaultValue)
    const synonyms = [{ name: entry.name, value: defaultValue, source: 'DEFAULT_CONFIG' }]
    if (!entry.isDefault) synonyms.unshift({ name: entry.name, value: entry.value, source: entry.source })
    return {
      kind: 'KafkaTopicConfig',
      metadata: { self: this.topicUrl(topic, 'configs', entry.name), resource_name: this.crn(['topic', topic], ['config', entry.name]) },
      cluster_id: this.clusterId,
      topic_name: topic,
      name: entry.name,
      value: entry.value,
      is_default: entry.isDefault,
      is_read_only: entry.isReadOnly,
      is_sensitive: entry.isSensitive,
      source: entry.source,
      synonyms
    }
  }

  partition (topic: string, info: PartitionInfo): Record<string, unknown> {
    const p = info.partition
    return {
      kind: 'KafkaPartition',
      metadata: { self: this.topicUrl(topic, 'partitions', p), resource_name: this.crn(['topic', topic], ['partition', p]) },
      cluster_id: this.clusterId,
      topic_name: topic,
      partition_id: p,
      leader: { related: this.topicUrl(topic, 'partitions', p, 'replicas', BROKER_ID) },
      replicas: { related: this.topicUrl(topic, 'partitions', p, 'replicas') },
      reassignment: { related: this.topicUrl(topic, 'partitions', p, 'reassignment') },
      log_start_offset: info.logStartOffset,
      log_end_offset: info.logEndOffset,
      high_watermark: info.highWatermark,
      size_bytes: info.sizeBytes
    }
  }

  list (kind: string, self: string, data: unknown[]): Record<string, unknown> {
    return { kind, metadata: { self, next: null }, data }
  }
}

function isConfigName (name: string): name is TopicConfigName {
  return (TOPIC_CONFIG_NAMES as readonly string[]).includes(name)
}

/** The log and the links for a request, once its cluster id is known to be this server's (else 404). */
async function openCluster (app: FastifyInstance, request: FastifyRequest, clusterId: string): Promise<{ log: LogStore, links: Links }> {
  const log = await app.getLog()
  if (clusterId !== log.clusterId) throw notFound(`Cluster ${clusterId} cannot be found.`)
  return { log, links: new Links(request, clusterId) }
}

/** As `openCluster`, and the topic name in the path must be a legal name (else INVALID_TOPIC_EXCEPTION, 400). */
async function openTopic (app: FastifyInstance, request: FastifyRequest, params: TopicParams): Promise<{ log: LogStore, links: Links }> {
  const opened = await openCluster(app, request, params.cluster_id)
  validateTopicName(params.topic_name)
  return opened
}

function configNotFound (links: Links, topic: string, name: string): Error {
  return notFound(`Config ${name} cannot be found for TOPIC ${topic} in cluster ${links.clusterId}.`)
}

/** As `openTopic`, and the topic must exist and `name` be a topic config (else 404). */
async function openConfig (app: FastifyInstance, request: FastifyRequest, params: ConfigParams): Promise<{ log: LogStore, name: TopicConfigName }> {
  const { log, links } = await openTopic(app, request, params)
  const { topic_name: topic, name } = params
  log.describeTopic(topic)
  if (!isConfigName(name)) throw configNotFound(links, topic, name)
  return { log, name }
}

/**
 * Confluent REST Proxy v3 admin routes: clusters, topics, topic configs and
 * partitions, under /v3/clusters. The one cluster is this server.
 */
export const v3AdminRoutes: FastifyPluginAsync = async (app) => {
  // Confluent's v3 consumes application/json only; Fastify's default text/plain parser would turn a 415 into a 400.
  app.removeContentTypeParser('text/plain')

  // ---- clusters -------------------------------------------------------------

  app.get('/v3/clusters', v3({
    summary: 'List clusters (this server is the one cluster)',
    operationId: 'listKafkaClusters',
    response: { 200: { description: 'The clusters', $ref: 'ClusterDataList#' } }
  }), async (request) => {
    const log = await app.getLog()
    const links = new Links(request, log.clusterId)
    return links.list('KafkaClusterList', links.url('clusters'), [links.cluster()])
  })

  app.get<{ Params: ClusterParams }>('/v3/clusters/:cluster_id', v3({
    summary: 'Get the cluster',
    operationId: 'getKafkaCluster',
    params: clusterParams,
    response: { 200: { description: 'The cluster', $ref: 'ClusterData#' }, 404: ERRORS[404] }
  }), async (request) => {
    const { links } = await openCluster(app, request, request.params.cluster_id)
    return links.cluster()
  })

  // ---- topics ---------------------------------------------------------------

  app.get<{ Params: ClusterParams }>('/v3/clusters/:cluster_id/topics', v3({
    summary: 'List topics',
    operationId: 'listKafkaTopics',
    params: clusterParams,
    response: { 200: { description: 'The topics, by name', $ref: 'TopicDataList#' }, 404: ERRORS[404] }
  }), async (request) => {
    const { log, links } = await openCluster(app, request, request.params.cluster_id)
    return links.list('KafkaTopicList', links.url('clusters', links.clusterId, 'topics'), log.listTopics().map(t => links.topic(t)))
  })

  app.post<{ Params: ClusterParams, Body: CreateTopicBody }>('/v3/clusters/:cluster_id/topics', v3({
    summary: 'Create a topic',
    description: 'Answers 201 with a Location header, or 200 (creating nothing) with validate_only. replication_factor must be 1.',
    operationId: 'createKafkaTopic',
    params: clusterParams,
    body: { $ref: 'CreateTopicRequest#' },
    response: {
      200: { description: 'Valid (validate_only): nothing was created', $ref: 'TopicData#' },
      201: { description: 'Created', $ref: 'TopicData#' },
      ...ERRORS
    }
  }), async (request, reply) => {
    const { log, links } = await openCluster(app, request, request.params.cluster_id)
    const body = request.body
    if (body.replication_factor !== undefined && body.replication_factor !== 1) {
      throw new LogwayError('INVALID_REPLICATION_FACTOR', `Replication factor must be 1: a single Logway node keeps one replica (got ${body.replication_factor}).`)
    }
    const configs: Record<string, string> = {}
    for (const { name, value } of body.configs ?? []) {
      if (Object.hasOwn(configs, name)) throw new LogwayError('INVALID_CONFIG', `Config ${name} is given more than once.`)
      if (value !== null && value !== undefined) configs[name] = value
    }
    const validateOnly = body.validate_only === true
    const topic = await log.createTopic(body.topic_name, { partitions: body.partitions_count, configs, validateOnly })
    return reply.code(validateOnly ? 200 : 201).header('location', links.topicUrl(topic.name)).send(links.topic(topic))
  })

  app.get<{ Params: TopicParams }>('/v3/clusters/:cluster_id/topics/:topic_name', v3({
    summary: 'Get a topic',
    operationId: 'getKafkaTopic',
    params: topicParams,
    response: { 200: { description: 'The topic', $ref: 'TopicData#' }, ...ERRORS }
  }), async (request) => {
    const { log, links } = await openTopic(app, request, request.params)
    return links.topic(log.describeTopic(request.params.topic_name))
  })

  app.patch<{ Params: TopicParams, Body: { partitions_count: number } }>('/v3/clusters/:cluster_id/topics/:topic_name', v3({
    summary: 'Raise the partition count of a topic',
    operationId: 'updatePartitionCountKafkaTopic',
    params: topicParams,
    body: { $ref: 'UpdatePartitionCountRequest#' },
    response: { 200: { description: 'The topic, after the change', $ref: 'TopicData#' }, ...ERRORS }
  }), async (request) => {
    const { log, links } = await openTopic(app, request, request.params)
    return links.topic(await log.createPartitions(request.params.topic_name, request.body.partitions_count))
  })

  app.delete<{ Params: TopicParams }>('/v3/clusters/:cluster_id/topics/:topic_name', v3({
    summary: 'Delete a topic',
    operationId: 'deleteKafkaTopic',
    params: topicParams,
    response: { 204: NO_CONTENT, ...ERRORS }
  }), async (request, reply) => {
    const { log } = await openTopic(app, request, request.params)
    await log.deleteTopic(request.params.topic_name)
    return reply.code(204).send()
  })

  // ---- topic configs --------------------------------------------------------

  app.get<{ Params: TopicParams }>('/v3/clusters/:cluster_id/topics/:topic_name/configs', v3({
    summary: 'List the configs of a topic',
    operationId: 'listKafkaTopicConfigs',
    params: topicParams,
    response: { 200: { description: 'Every config, by name', $ref: 'TopicConfigDataList#' }, ...ERRORS }
  }), async (request) => {
    const { log, links } = await openTopic(app, request, request.params)
    const topic = request.params.topic_name
    return links.list('KafkaTopicConfigList', links.topicUrl(topic, 'configs'), log.describeConfigs(topic).map(e => links.config(topic, e)))
  })

  app.get<{ Params: ConfigParams }>('/v3/clusters/:cluster_id/topics/:topic_name/configs/:name', v3({
    summary: 'Get a config of a topic',
    operationId: 'getKafkaTopicConfig',
    params: configParams,
    response: { 200: { description: 'The config', $ref: 'TopicConfigData#' }, ...ERRORS }
  }), async (request) => {
    const { log, links } = await openTopic(app, request, request.params)
    const { topic_name: topic, name } = request.params
    const entry = log.describeConfigs(topic).find(e => e.name === name)
    if (entry === undefined) throw configNotFound(links, topic, name)
    return links.config(topic, entry)
  })

  app.put<{ Params: ConfigParams, Body: { value: string | null } }>('/v3/clusters/:cluster_id/topics/:topic_name/configs/:name', v3({
    summary: 'Set a config of a topic',
    description: 'A null value resets the config to its default.',
    operationId: 'updateKafkaTopicConfig',
    params: configParams,
    body: { $ref: 'UpdateConfigRequest#' },
    response: { 204: NO_CONTENT, ...ERRORS }
  }), async (request, reply) => {
    const { log, name } = await openConfig(app, request, request.params)
    await log.alterConfigs(request.params.topic_name, { [name]: request.body.value })
    return reply.code(204).send()
  })

  app.delete<{ Params: ConfigParams }>('/v3/clusters/:cluster_id/topics/:topic_name/configs/:name', v3({
    summary: 'Reset a config of a topic to its default',
    operationId: 'resetKafkaTopicConfig',
    params: configParams,
    response: { 204: NO_CONTENT, ...ERRORS }
  }), async (request, reply) => {
    const { log, name } = await openConfig(app, request, request.params)
    await log.alterConfigs(request.params.topic_name, { [name]: null })
    return reply.code(204).send()
  })

  // ---- partitions -----------------------------------------------------------

  app.get<{ Params: TopicParams }>('/v3/clusters/:cluster_id/topics/:topic_name/partitions', v3({
    summary: 'List the partitions of a topic',
    operationId: 'listKafkaPartitions',
    params: topicParams,
    response: { 200: { description: 'The partitions, by id', $ref: 'PartitionDataList#' }, ...ERRORS }
  }), async (request) => {
    const { log, links } = await openTopic(app, request, request.params)
    const topic = request.params.topic_name
    return links.list('KafkaPartitionList', links.topicUrl(topic, 'partitions'), log.partitions(topic).map(p => links.partition(topic, p)))
  })

  app.get<{ Params: PartitionParams }>('/v3/clusters/:cluster_id/topics/:topic_name/partitions/:partition_id', v3({
    summary: 'Get a partition, with its offsets',
    description: 'Besides Confluent\'s fields, the document has log_start_offset, log_end_offset, high_watermark and size_bytes.',
    operationId: 'getKafkaPartition',
    params: partitionParams,
    response: { 200: { description: 'The partition', $ref: 'PartitionData#' }, ...ERRORS }
  }), async (request) => {
    const { log, links } = await openTopic(app, request, request.params)
    const topic = request.params.topic_name
    return links.partition(topic, log.partitionInfo(topic, request.params.partition_id))
  })

  // ---- configs:alter (find-my-way reads '::' as a literal ':') ---------------

  app.post<{ Params: TopicParams, Body: AlterConfigBatchBody }>('/v3/clusters/:cluster_id/topics/:topic_name/configs::alter', v3({
    summary: 'Set or reset several configs of a topic, all or none',
    description: 'Every name is checked before anything changes. With validate_only, the values are checked and nothing changes.',
    operationId: 'updateKafkaTopicConfigBatch',
    params: topicParams,
    body: { $ref: 'AlterConfigBatchRequest#' },
    response: { 204: NO_CONTENT, ...ERRORS }
  }), async (request, reply) => {
    const { log, links } = await openTopic(app, request, request.params)
    const topic = request.params.topic_name
    log.describeTopic(topic)
    const changes: Record<string, string | null> = {}
    for (const { name, value, operation } of request.body.data) {
      if (!isConfigName(name)) throw configNotFound(links, topic, name)
      if (Object.hasOwn(changes, name)) throw new LogwayError('INVALID_CONFIG', `Config ${name} is given more than once.`)
      changes[name] = operation === 'DELETE' ? null : value ?? null
    }
    if (request.body.validate_only === true) {
      const sets = Object.fromEntries(Object.entries(changes).filter((e): e is [string, string] => e[1] !== null))
      parseTopicConfigs(sets)
    } else {
      await log.alterConfigs(topic, changes)
    }
    return reply.code(204).send()
  })
}
