import './route-docs.js'
import { Ajv, type ValidateFunction } from 'ajv'
import type { FastifyPluginAsync, FastifyRequest, FastifySchemaValidationError } from 'fastify'
import type { Clock } from '../clock.js'
import { LogwayError } from '../errors.js'
import type { OffsetResetPolicy, TopicPartition } from '../groups/types.js'
import type { LogStore } from '../log/log-store.js'
import type { StoredRecord } from '../log/types.js'
import { ConsumerInstances } from './consumer-instances.js'
import { negotiate } from './content-negotiation.js'
import { errorResponse } from './common-responses.js'
import { loadSharedSchemas } from './shared-schemas.js'
import { V2_PRODUCES } from './v2-admin-routes.js'
import { absoluteUrl } from './v2-consumer-base-uri.js'
import type { ConsumerInstance, ConsumerInstanceSettings, EmbeddedFormat, PartitionOffset, PartitionTimestamp } from '../groups/consumer-instance.js'

declare module 'fastify' {
  interface FastifySchema {
    /** The request body's media types, for the OpenAPI document (as @fastify/swagger reads them). */
    consumes?: readonly string[]
  }
}

export interface V2ConsumerRoutesOptions {
  clock: Clock
  /** consumerInstanceTimeoutMs */
  instanceTimeoutMs: number
  /** consumerMaxInstances */
  maxInstances: number
  /** consumerRequestMaxBytes: the cap on a records response whatever max_bytes asks for. */
  requestMaxBytes: number
}

const V2 = 'application/vnd.kafka.v2+json'
const BINARY = 'application/vnd.kafka.binary.v2+json'
const JSON_FORMAT = 'application/vnd.kafka.json.v2+json'
/** The v2 types of the embedded formats that need a schema registry. */
const SCHEMA_FORMAT_TYPES = ['application/vnd.kafka.avro.v2+json', 'application/vnd.kafka.protobuf.v2+json', 'application/vnd.kafka.jsonschema.v2+json']
/** What the routes read: Confluent's v2 types (the format-less one and each embedded format's, as Confluent accepts any of them on these routes) and plain JSON. */
const JSON_BODIES = [V2, BINARY, JSON_FORMAT, ...SCHEMA_FORMAT_TYPES, 'application/vnd.kafka+json', 'application/json']
/** The request body types the OpenAPI document shows. */
const CONSUMES = [V2, 'application/vnd.kafka+json', 'application/json'] as const
/**
 * What the other routes answer: Confluent's v2 types first, then each
 * embedded format's v2 type, which Confluent also answers on these routes
 * (clients send their format's type as Accept on every consumer request).
 */
const CONSUMER_PRODUCES = [...V2_PRODUCES, BINARY, JSON_FORMAT, ...SCHEMA_FORMAT_TYPES]
/** The records route answers in the instance's embedded format; Confluent reads the format-less v2 type as binary. */
const RECORD_TYPES: Record<EmbeddedFormat, readonly string[]> = { binary: [BINARY, V2], json: [JSON_FORMAT] }
const SCHEMA_FORMATS = new Set(['avro', 'protobuf', 'jsonschema'])

const TAGS = ['v2-consumers']
const DEFAULT_REQUEST_TIMEOUT_MS = 1_000
const GET_BODY_LIMIT_BYTES = 1_048_576

const INSTANCE_NOT_FOUND = errorResponse('No such consumer instance in the group: never created, deleted, expired after consumerInstanceTimeoutMs without requests, or lost in a restart (40403)')
const NO_CONTENT = { description: 'Done', type: 'null' } as const
const ILLEGAL_STATE = 'Kafka\'s illegal state: CONSUMER_ILLEGAL_STATE, 40903'

interface GroupParams { group_name: string }
interface InstanceParams extends GroupParams { instance: string }

const groupParams = {
  type: 'object',
  required: ['group_name'],
  properties: { group_name: { type: 'string' } }
} as const
const instanceParams = {
  type: 'object',
  required: ['group_name', 'instance'],
  properties: { group_name: { type: 'string' }, instance: { type: 'string' } }
} as const

interface CreateBody {
  name?: string
  id?: string
  format?: string
  'auto.offset.reset'?: OffsetResetPolicy
  'auto.commit.enable'?: boolean | string
  'fetch.min.bytes'?: number | string
  responseMinBytes?: number | string
  'consumer.request.timeout.ms'?: number | string
  requestWaitMs?: number | string
}
interface SubscriptionBody { topics?: string[], topic_pattern?: string }
interface PartitionsBody { partitions: TopicPartition[] }
interface SeekBody {
  offsets?: PartitionOffset[]
  timestamps?: Array<TopicPartition & { timestamp: string | number, metadata?: string | null }>
}
interface CommitBody { offsets?: PartitionOffset[] }
interface RecordsQuery { timeout?: number, max_bytes?: number }
interface OffsetsQuery { topic?: string[], partition?: number[] }

interface RenderedRecord {
  topic: string
  key: unknown
  value: unknown
  partition: number
  offset: number
  timestamp: number
  headers: Array<{ name: string, value: string | null }>
}

/**
 * Confluent REST Proxy v2 consumers: consumer instances in groups, at the
 * root of the server as in Confluent. An instance subscribes (a member of its
 * group, partitions assigned by the coordinator) or is assigned partitions by
 * hand, reads records by long polling, moves its positions and commits
 * offsets. Instances live in memory: deleted, expired when idle, or lost in a
 * restart; their group's committed offsets are durable.
 */
export const v2ConsumerRoutes: FastifyPluginAsync<V2ConsumerRoutesOptions> = async (app, options) => {
  const instances = new ConsumerInstances({
    clock: options.clock,
    instanceTimeoutMs: options.instanceTimeoutMs,
    maxInstances: options.maxInstances,
    onBackgroundError: (err, what) => app.log.warn({ err }, `${what} failed`)
  })
  app.addHook('preClose', async () => instances.interruptAll())
  // Before the coordinator closes (a parent's onClose hook), so auto-commits and leaves still reach it.
  app.addHook('onClose', async () => await instances.closeAll())

  // Only this plugin's routes see these parsers. An empty body is a body without fields (Confluent's "commit everything", "defaults").
  app.removeContentTypeParser(['application/json', 'text/plain'])
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser(JSON_BODIES, { parseAs: 'string' }, (request, body, done) => {
    const text = body as string
    if (text.trim() === '') {
      done(null, undefined)
      return
    }
    parseJson(request, text, done)
  })
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.body === null) request.body = {}
  })

  const use = async <T>(request: FastifyRequest<{ Params: InstanceParams }>, work: (instance: ConsumerInstance) => Promise<T> | T): Promise<T> =>
    await instances.use(request.params.group_name, request.params.instance, work)

  // ---- instances ---------------------------------------------------------------------------

  app.post<{ Params: GroupParams, Body: CreateBody }>('/consumers/:group_name', {
    config: { produces: CONSUMER_PRODUCES },
    schemaErrorFormatter: createSchemaError,
    schema: {
      summary: 'Create a consumer instance (Confluent REST Proxy v2)',
      description: [
        'Creates a consumer instance in the group and answers its name and base_uri, the URL of its other requests.',
        'It is not in the group until it subscribes. It lives in this server\'s memory: it is closed after consumerInstanceTimeoutMs (default 5 min) without requests (auto-committing when enabled, then leaving its group), when deleted, and when the server stops.',
        'The body\'s settings are Confluent\'s; a bad one, or the avro, protobuf or jsonschema format (which need a schema registry), is refused with 422 (42204).'
      ].join(' '),
      operationId: 'v2CreateConsumer',
      tags: TAGS,
      params: groupParams,
      consumes: CONSUMES,
      body: { $ref: 'V2ConsumerCreateRequest#' },
      response: {
        200: { description: 'The instance', $ref: 'V2ConsumerCreateResponse#' },
        400: errorResponse('The group name is not valid (1 to 255 characters, no control characters), or the body is not JSON'),
        409: errorResponse('An instance of that name already exists in the group (CONSUMER_ALREADY_EXISTS, 40902)'),
        422: errorResponse('A setting is not valid, or the format needs a schema registry (INVALID_CONSUMER_CONFIG, 42204)'),
        429: errorResponse('The server holds consumerMaxInstances instances already (TOO_MANY_CONSUMER_INSTANCES, 429)')
      }
    }
  }, async (request, reply) => {
    const body = request.body
    const settings = instanceSettings(body)
    const log = await app.getLog()
    const groups = await app.getGroups()
    const groupId = request.params.group_name
    const instance = await instances.create({ groupId, name: body.id ?? body.name, settings, log, groups, clientHost: request.ip })
    const path = `/consumers/${encodeURIComponent(groupId)}/instances/${encodeURIComponent(instance.name)}`
    return reply.type(request.responseType).send({ instance_id: instance.name, base_uri: absoluteUrl(request.headers, request.protocol, path) })
  })

  app.delete<{ Params: InstanceParams }>('/consumers/:group_name/instances/:instance', {
    config: { produces: CONSUMER_PRODUCES },
    schema: {
      summary: 'Delete a consumer instance (Confluent REST Proxy v2)',
      description: 'Closes the instance: ends its waiting records requests, commits its positions when auto.commit.enable is true, and leaves its group, whose other members then rebalance.',
      operationId: 'v2DeleteConsumer',
      tags: TAGS,
      params: instanceParams,
      response: { 204: NO_CONTENT, 404: INSTANCE_NOT_FOUND }
    }
  }, async (request, reply) => {
    await instances.delete(request.params.group_name, request.params.instance)
    return reply.code(204).send()
  })

  // ---- subscription ------------------------------------------------------------------------

  app.post<{ Params: InstanceParams, Body: SubscriptionBody }>('/consumers/:group_name/instances/:instance/subscription', {
    config: { produces: CONSUMER_PRODUCES },
    schema: {
      summary: 'Subscribe a consumer instance (Confluent REST Proxy v2)',
      description: 'Subscribes to a list of topics or to a topic pattern, replacing any earlier subscription: the instance joins its group (or changes its subscription), which rebalances. Its partitions come with its next records request, which waits for the assignment within its timeout.',
      operationId: 'v2Subscribe',
      tags: TAGS,
      params: instanceParams,
      consumes: CONSUMES,
      body: { $ref: 'V2ConsumerSubscriptionRequest#' },
      response: {
        204: NO_CONTENT,
        400: errorResponse('Not exactly one of topics and topic_pattern, a topic name that is not valid, or a pattern that is not a regular expression or needs backtracking (a backreference or a lookaround)'),
        404: INSTANCE_NOT_FOUND,
        409: errorResponse(`The instance has partitions assigned by hand (${ILLEGAL_STATE}), or the group is full or uses another assignor (40903)`)
      }
    }
  }, async (request, reply) => {
    const { topics, topic_pattern: pattern } = request.body
    await use(request, async instance => await instance.subscribe(topics !== undefined ? { topics } : { pattern: pattern as string }))
    return reply.code(204).send()
  })

  app.get<{ Params: InstanceParams }>('/consumers/:group_name/instances/:instance/subscription', {
    config: { produces: CONSUMER_PRODUCES },
    schema: {
      summary: 'Get the subscribed topics of a consumer instance (Confluent REST Proxy v2)',
      description: 'The topics the instance is subscribed to; for a pattern, the existing topics it matches now.',
      operationId: 'v2GetSubscription',
      tags: TAGS,
      params: instanceParams,
      response: { 200: { description: 'The topics', $ref: 'V2ConsumerSubscription#' }, 404: INSTANCE_NOT_FOUND }
    }
  }, async (request, reply) => {
    const topics = await use(request, instance => instance.subscribedTopics())
    return reply.type(request.responseType).send({ topics })
  })

  app.delete<{ Params: InstanceParams }>('/consumers/:group_name/instances/:instance/subscription', {
    config: { produces: CONSUMER_PRODUCES },
    schema: {
      summary: 'Unsubscribe a consumer instance (Confluent REST Proxy v2)',
      description: 'Commits its positions when auto.commit.enable is true, then drops the subscription (the instance leaves its group) and any partitions assigned by hand, as Kafka\'s unsubscribe.',
      operationId: 'v2Unsubscribe',
      tags: TAGS,
      params: instanceParams,
      response: { 204: NO_CONTENT, 404: INSTANCE_NOT_FOUND }
    }
  }, async (request, reply) => {
    await use(request, async instance => await instance.unsubscribe())
    return reply.code(204).send()
  })

  // ---- manual assignment -------------------------------------------------------------------

  app.post<{ Params: InstanceParams, Body: PartitionsBody }>('/consumers/:group_name/instances/:instance/assignments', {
    config: { produces: CONSUMER_PRODUCES },
    schema: {
      summary: 'Assign partitions to a consumer instance by hand (Confluent REST Proxy v2)',
      description: 'Kafka\'s assign: the instance consumes these partitions without joining its group (an empty list unassigns). Each starts at the group\'s committed offset, else where auto.offset.reset says. Its commits are accepted only while the group has no members, as in Kafka.',
      operationId: 'v2AssignPartitions',
      tags: TAGS,
      params: instanceParams,
      consumes: CONSUMES,
      body: { $ref: 'V2ConsumerPartitionList#' },
      response: {
        204: NO_CONTENT,
        404: errorResponse('Unknown instance (40403), topic (40401) or partition (40402)'),
        409: errorResponse(`The instance is subscribed (${ILLEGAL_STATE})`)
      }
    }
  }, async (request, reply) => {
    await use(request, async instance => await instance.assign(request.body.partitions))
    return reply.code(204).send()
  })

  app.get<{ Params: InstanceParams }>('/consumers/:group_name/instances/:instance/assignments', {
    config: { produces: CONSUMER_PRODUCES },
    schema: {
      summary: 'Get the partitions of a consumer instance (Confluent REST Proxy v2)',
      description: 'The partitions the instance consumes: assigned by hand, or by its group as of its last records request (as Kafka\'s assignment()).',
      operationId: 'v2GetAssignments',
      tags: TAGS,
      params: instanceParams,
      response: { 200: { description: 'The partitions', $ref: 'V2ConsumerPartitionList#' }, 404: INSTANCE_NOT_FOUND }
    }
  }, async (request, reply) => {
    const partitions = await use(request, instance => instance.assignment())
    return reply.type(request.responseType).send({ partitions })
  })

  // ---- positions ---------------------------------------------------------------------------

  const SEEK_ERRORS = {
    204: NO_CONTENT,
    404: errorResponse('Unknown instance (40403), topic (40401) or partition (40402)'),
    409: errorResponse(`A partition is not one the instance consumes (${ILLEGAL_STATE})`)
  } as const

  app.post<{ Params: InstanceParams, Body: SeekBody }>('/consumers/:group_name/instances/:instance/positions', {
    config: { produces: CONSUMER_PRODUCES },
    schema: {
      summary: 'Move the positions of a consumer instance (Confluent REST Proxy v2)',
      description: [
        'Sets where the next records request reads each partition: `offsets` name the offset of the next record to read (not + 1);',
        '`timestamps` (Confluent\'s newer seek body; also milliseconds since the epoch, a Logway extension) move to the first record at or after the time, or to the log end when there is none.',
        'Every partition must be one the instance consumes; nothing moves unless all can. Positions are what a commit without offsets stores.'
      ].join(' '),
      operationId: 'v2SeekPositions',
      tags: TAGS,
      params: instanceParams,
      consumes: CONSUMES,
      body: { $ref: 'V2ConsumerSeekRequest#' },
      response: SEEK_ERRORS
    }
  }, async (request, reply) => {
    const offsets = request.body.offsets ?? []
    const timestamps = (request.body.timestamps ?? []).map(toPartitionTimestamp)
    await use(request, instance => instance.seek(offsets, timestamps))
    return reply.code(204).send()
  })

  for (const where of ['beginning', 'end'] as const) {
    app.post<{ Params: InstanceParams, Body: PartitionsBody }>(`/consumers/:group_name/instances/:instance/positions/${where}`, {
      config: { produces: CONSUMER_PRODUCES },
      schema: {
        summary: `Move positions to the ${where} (Confluent REST Proxy v2)`,
        description: where === 'beginning'
          ? 'The next records request reads each partition from its log start offset.'
          : 'The next records request reads each partition from its log end offset: only records appended from now on.',
        operationId: where === 'beginning' ? 'v2SeekToBeginning' : 'v2SeekToEnd',
        tags: TAGS,
        params: instanceParams,
        consumes: CONSUMES,
        body: { $ref: 'V2ConsumerPartitionList#' },
        response: SEEK_ERRORS
      }
    }, async (request, reply) => {
      await use(request, instance => instance.seekTo(where, request.body.partitions))
      return reply.code(204).send()
    })
  }

  // ---- records -----------------------------------------------------------------------------

  app.get<{ Params: InstanceParams, Querystring: RecordsQuery }>('/consumers/:group_name/instances/:instance/records', {
    config: { produces: [BINARY, JSON_FORMAT, V2] },
    // A HEAD would read records (moving positions) and drop them.
    exposeHeadRoute: false,
    schema: {
      summary: 'Read records (Confluent REST Proxy v2)',
      description: [
        'Kafka\'s poll: returns records from the instance\'s positions and moves them past. Waits up to the timeout — first, after a subscription or a rebalance, for the group\'s assignment; then for records, woken by appends (long polling) — and answers once it holds fetch.min.bytes (by default any record), or at the timeout with what it has (possibly nothing).',
        'A rebalance that waits for the instance is joined here: positions are auto-committed first when auto.commit.enable is true.',
        'A partition without a position starts at the group\'s committed offset, else where auto.offset.reset says; a position the log no longer holds (retention) moves by auto.offset.reset too.',
        'Accept must name the instance\'s format: application/vnd.kafka.binary.v2+json (or application/vnd.kafka.v2+json, read as binary as Confluent does) or application/vnd.kafka.json.v2+json; another format is refused with 406 (40601). Without an Accept header, the instance\'s format.',
        'headers and timestamp are Logway extensions.'
      ].join(' '),
      operationId: 'v2ReadRecords',
      tags: TAGS,
      params: instanceParams,
      querystring: {
        type: 'object',
        properties: {
          timeout: {
            description: 'The longest to wait, in ms; at most the instance\'s consumer.request.timeout.ms (default 1000), which is also the default (as Confluent).',
            type: 'integer'
          },
          max_bytes: {
            description: 'The most bytes of records (as stored) to return, at most consumerRequestMaxBytes, which is also the default; one record is returned even when larger.',
            type: 'integer'
          }
        }
      },
      response: {
        200: {
          description: 'The records, in offset order within each partition',
          content: {
            [BINARY]: { schema: { $ref: 'V2ConsumerBinaryRecordList#' } },
            [V2]: { schema: { $ref: 'V2ConsumerBinaryRecordList#' } },
            [JSON_FORMAT]: { schema: { $ref: 'V2ConsumerJsonRecordList#' } }
          }
        },
        400: errorResponse('timeout or max_bytes is not an integer; or a position left the log and auto.offset.reset is none (40002)'),
        404: INSTANCE_NOT_FOUND,
        406: errorResponse('Accept names another embedded format than the instance\'s (CONSUMER_FORMAT_MISMATCH, 40601), or no format Logway renders (406)'),
        409: errorResponse(`The instance is neither subscribed nor assigned (${ILLEGAL_STATE}); or a partition has no committed offset and auto.offset.reset is none, or the group is full (40903)`),
        422: errorResponse('A json instance met a key or value that is not JSON (42206): read it with a binary instance, or move past it')
      }
    }
  }, async (request, reply) => {
    const abort = new AbortController()
    // The response's close (not the request's, which Node fires once the body is read) tells a client that went away.
    const onClose = (): void => abort.abort()
    reply.raw.once('close', onClose)
    try {
      const { type, records } = await use(request, async instance => {
        const { format, requestTimeoutMs } = instance.settings
        const type = negotiate(request.headers.accept, RECORD_TYPES[format])
        if (type === undefined) {
          throw new LogwayError('CONSUMER_FORMAT_MISMATCH', `The requested embedded data format does not match the deserializer for this consumer instance: '${instance.name}' reads ${format} records (Accept ${RECORD_TYPES[format].join(' or ')}).`)
        }
        const timeout = request.query.timeout ?? -1
        const maxBytes = request.query.max_bytes ?? -1
        const records = await instance.poll<RenderedRecord>({
          timeoutMs: timeout > 0 ? Math.min(timeout, requestTimeoutMs) : requestTimeoutMs,
          maxBytes: maxBytes > 0 ? Math.min(maxBytes, options.requestMaxBytes) : options.requestMaxBytes,
          signal: abort.signal,
          render: format === 'binary' ? renderBinary : renderJson
        })
        return { type, records }
      })
      return await reply.type(type).send(records)
    } finally {
      reply.raw.off('close', onClose)
    }
  })

  // ---- offsets -----------------------------------------------------------------------------

  app.post<{ Params: InstanceParams, Body: CommitBody }>('/consumers/:group_name/instances/:instance/offsets', {
    config: { produces: CONSUMER_PRODUCES },
    schema: {
      summary: 'Commit offsets (Confluent REST Proxy v2)',
      description: [
        'Commits offsets for the group, answering once they are durable.',
        'Each offset given is that of the LAST RECORD CONSUMED, and offset + 1 is stored: the group\'s committed offset is always the next offset to consume (Kafka\'s convention), and GET …/offsets shows the stored value. This is Confluent REST Proxy v2\'s behaviour.',
        'Without offsets (no body, an empty body, or {}), the instance commits its positions: for each partition it consumes, the offset after the last record it returned (or where …/positions moved it), which is again the next offset to consume.',
        'A subscribed instance commits as a member of its current generation: after its group rebalanced without it the commit is refused with 409 (40903), and it should read records to rejoin. An instance with partitions assigned by hand can commit only while the group has no members.',
        'The async query parameter is accepted and ignored: every commit is durable before the answer.'
      ].join(' '),
      operationId: 'v2CommitOffsets',
      tags: TAGS,
      params: instanceParams,
      querystring: { type: 'object', properties: { async: { description: 'Accepted for compatibility and ignored.', type: 'string' } } },
      consumes: CONSUMES,
      body: { $ref: 'V2ConsumerOffsetCommitRequest#' },
      response: {
        200: { description: 'What was stored, per partition', $ref: 'V2ConsumerCommitResponse#' },
        400: errorResponse('The body breaks its schema, or a metadata is longer than 4096 bytes (40002)'),
        404: errorResponse('Unknown instance (40403), topic (40401) or partition (40402)'),
        409: errorResponse('The group rebalanced: the instance\'s generation is not the current one, or the rebalance is completing; or the instance is assigned by hand and the group has members (40903)')
      }
    }
  }, async (request, reply) => {
    const stored = await use(request, async instance => await instance.commit(request.body.offsets))
    return reply.type(request.responseType).send(stored.map(s => ({
      topic: s.topic,
      partition: s.partition,
      consumed: s.committedOffset - 1,
      committed: s.committedOffset
    })))
  })

  app.get<{ Params: InstanceParams, Querystring: OffsetsQuery }>('/consumers/:group_name/instances/:instance/offsets', {
    config: { produces: CONSUMER_PRODUCES },
    exposeHeadRoute: false,
    schema: {
      summary: 'Get committed offsets (Confluent REST Proxy v2)',
      description: [
        'The group\'s committed offsets (whoever committed them) of the partitions asked for; partitions without one are left out.',
        'Each offset is the stored committed offset: the NEXT offset the group consumes, one more than the offset a POST …/offsets named.',
        'The partitions come, as in Confluent, from a JSON body {"partitions": [{"topic", "partition"}]} (V2ConsumerPartitionList) sent with the GET;',
        'or, for clients that cannot send a body with GET, from the query string: topic and partition repeated in pairs (?topic=t&partition=0&topic=t&partition=1), or topic alone for every partition of those topics;',
        'with neither, the partitions the instance consumes.'
      ].join(' '),
      operationId: 'v2GetCommittedOffsets',
      tags: TAGS,
      params: instanceParams,
      querystring: {
        type: 'object',
        properties: {
          topic: { description: 'A topic; repeat it, paired with partition by position.', type: 'array', maxItems: 10000, items: { type: 'string' } },
          partition: { description: 'A partition of the topic at the same position.', type: 'array', maxItems: 10000, items: { type: 'integer', minimum: 0 } }
        }
      },
      response: {
        200: { description: 'The committed offsets', $ref: 'V2ConsumerCommittedOffsets#' },
        400: errorResponse('The body is not JSON or breaks V2ConsumerPartitionList, or topic and partition do not pair up'),
        404: errorResponse('Unknown instance (40403), topic (40401) or partition (40402)'),
        413: errorResponse('The body is larger than 1 MiB')
      }
    }
  }, async (request, reply) => {
    const fromBody = await readGetBody(request)
    const log = await app.getLog()
    const offsets = await use(request, instance => instance.committed(fromBody ?? fromQuery(request.query, instance, log)))
    return reply.type(request.responseType).send({ offsets })
  })
}

/**
 * The settings of a create request; the schema has checked the types.
 * @throws LogwayError INVALID_CONSUMER_CONFIG
 */
function instanceSettings (body: CreateBody): ConsumerInstanceSettings {
  const format = (body.format ?? 'binary').toLowerCase()
  if (SCHEMA_FORMATS.has(format)) {
    throw invalidConfig(`the ${format} format needs a schema registry, which Logway does not have: use binary or json.`)
  }
  if (format !== 'binary' && format !== 'json') throw invalidConfig(`format must be binary or json (got ${JSON.stringify(body.format)}).`)
  const autoCommit = body['auto.commit.enable'] ?? true
  const fetchMinBytes = integerSetting(body['fetch.min.bytes'] ?? body.responseMinBytes, 'fetch.min.bytes', -1, 2_147_483_647) ?? -1
  const requestTimeoutMs = integerSetting(body['consumer.request.timeout.ms'] ?? body.requestWaitMs, 'consumer.request.timeout.ms', 0, 300_000) ?? DEFAULT_REQUEST_TIMEOUT_MS
  return {
    format,
    autoOffsetReset: body['auto.offset.reset'] ?? 'latest',
    autoCommitEnable: typeof autoCommit === 'boolean' ? autoCommit : autoCommit.trim().toLowerCase() === 'true',
    fetchMinBytes: Math.max(1, fetchMinBytes),
    requestTimeoutMs
  }
}

function integerSetting (value: number | string | undefined, name: string, min: number, max: number): number | undefined {
  if (value === undefined) return undefined
  const n = typeof value === 'number' ? value : Number(value.trim())
  if (!Number.isSafeInteger(n) || n < min || n > max) throw invalidConfig(`${name} must be an integer from ${min} to ${max} (got ${JSON.stringify(value)}).`)
  return n
}

function invalidConfig (message: string): LogwayError {
  return new LogwayError('INVALID_CONSUMER_CONFIG', `Invalid consumer configuration: ${message}`)
}

/**
 * A create request's schema violation, worded as Fastify does: a bad body is
 * an invalid consumer configuration (422 42204), as Confluent answers; the
 * error handler renders anything else as INVALID_REQUEST.
 */
function createSchemaError (errors: FastifySchemaValidationError[], dataVar: string): Error {
  const text = errors.map(e => `${dataVar}${e.instancePath} ${e.message ?? 'is not valid'}`).join(', ')
  return dataVar === 'body' ? invalidConfig(text) : new Error(text)
}

function toPartitionTimestamp (item: TopicPartition & { timestamp: string | number }): PartitionTimestamp {
  const timestamp = typeof item.timestamp === 'number' ? item.timestamp : Date.parse(item.timestamp)
  if (!Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new LogwayError('INVALID_REQUEST', `timestamp ${JSON.stringify(item.timestamp)} for ${item.topic}-${item.partition} is not a date-time from 1970 on.`)
  }
  return { topic: item.topic, partition: item.partition, timestamp }
}

function fromQuery (query: OffsetsQuery, instance: ConsumerInstance, log: LogStore): TopicPartition[] {
  const topics = query.topic ?? []
  const partitions = query.partition ?? []
  if (topics.length === 0 && partitions.length === 0) return instance.assignment()
  if (partitions.length === 0) return topics.flatMap(topic => log.partitions(topic).map(p => ({ topic, partition: p.partition })))
  if (topics.length !== partitions.length) {
    throw new LogwayError('INVALID_REQUEST', `topic and partition must be repeated in pairs (got ${topics.length} topic and ${partitions.length} partition parameters).`)
  }
  return topics.map((topic, i) => ({ topic, partition: partitions[i] as number }))
}

let validatePartitionList: ValidateFunction | undefined

/**
 * The partitions a GET names in a JSON body (Fastify does not read GET
 * bodies); undefined when there is none.
 * @throws a 400 when it is not JSON or breaks V2ConsumerPartitionList, a 413 when it is too large
 */
async function readGetBody (request: FastifyRequest): Promise<TopicPartition[] | undefined> {
  const length = request.headers['content-length']
  if ((length === undefined || length === '0') && request.headers['transfer-encoding'] === undefined) return undefined
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of request.raw) {
    const buffer = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string)
    size += buffer.length
    if (size > GET_BODY_LIMIT_BYTES) throw Object.assign(new Error(`The body is larger than ${GET_BODY_LIMIT_BYTES} bytes.`), { statusCode: 413 })
    chunks.push(buffer)
  }
  const text = Buffer.concat(chunks).toString('utf8')
  if (text.trim() === '') return undefined
  let body: unknown
  try {
    body = JSON.parse(text)
  } catch {
    throw new LogwayError('INVALID_REQUEST', 'The body is not valid JSON.')
  }
  // Strict like every request body: no coercion, no defaults, no stripping.
  validatePartitionList ??= strictValidator('V2ConsumerPartitionList')
  if (!validatePartitionList(body)) {
    const first = validatePartitionList.errors?.[0]
    throw new LogwayError('INVALID_REQUEST', `body${first?.instancePath ?? ''} ${first?.message ?? 'is not valid'} (see V2ConsumerPartitionList).`)
  }
  return (body as PartitionsBody).partitions
}

function strictValidator (id: string): ValidateFunction {
  const ajv = new Ajv({ strict: false, coerceTypes: false, useDefaults: false, removeAdditional: false })
  for (const schema of loadSharedSchemas()) ajv.addSchema(schema)
  const validate = ajv.getSchema(id)
  if (validate === undefined) throw new Error(`schemas/${id}.json is missing`)
  return validate
}

function headers (record: StoredRecord): RenderedRecord['headers'] {
  return record.headers.map(h => ({ name: h.key, value: h.value === null ? null : h.value.toString('base64') }))
}

function renderBinary (topic: string, partition: number, record: StoredRecord): RenderedRecord {
  return {
    topic,
    key: record.key === null ? null : record.key.toString('base64'),
    value: record.value === null ? null : record.value.toString('base64'),
    partition,
    offset: record.offset,
    timestamp: record.timestamp,
    headers: headers(record)
  }
}

function renderJson (topic: string, partition: number, record: StoredRecord): RenderedRecord {
  const parse = (bytes: Buffer | null, what: string): unknown => {
    if (bytes === null) return null
    try {
      return JSON.parse(bytes.toString('utf8')) as unknown
    } catch {
      throw new LogwayError('INVALID_RECORD', `The ${what} of the record at offset ${record.offset} of ${topic}-${partition} is not JSON, so a json consumer instance cannot render it: read it with a binary instance, or move past it with POST …/positions.`, { topic, partition })
    }
  }
  return {
    topic,
    key: parse(record.key, 'key'),
    value: parse(record.value, 'value'),
    partition,
    offset: record.offset,
    timestamp: record.timestamp,
    headers: headers(record)
  }
}
