import './route-docs.js'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { isLogwayError, LogwayError, type ErrorCode } from '../errors.js'
import type { LogStore } from '../log/log-store.js'
import type { RecordHeader, RecordInput } from '../log/types.js'
import { renderError } from './error-handler.js'
import { TRANSPORT_ERRORS } from './error-mapping.js'
import { decodeBase64 } from './record-data.js'
import { V2_COMMON_ERRORS, V2_PRODUCES } from './v2-admin-routes.js'

const BINARY = 'application/vnd.kafka.binary.v2+json'
const JSON_FORMAT = 'application/vnd.kafka.json.v2+json'
/** Confluent's format-less v2 type: read as the json embedded format, as plain application/json is. */
const FORMATLESS = 'application/vnd.kafka.v2+json'
/** Embedded formats that need a schema registry, which Logway does not have. */
const SCHEMA_FORMATS = ['application/vnd.kafka.avro.v2+json', 'application/vnd.kafka.protobuf.v2+json', 'application/vnd.kafka.jsonschema.v2+json']

/** Per-record error codes of Confluent's v2 produce response. */
const KAFKA_ERROR = 50002
const KAFKA_RETRIABLE_ERROR = 50003
/** Failures a retry may get past: the log was opening or closing, or the disk was nearly full. */
const RETRIABLE: ReadonlySet<ErrorCode> = new Set(['BROKER_NOT_AVAILABLE', 'KAFKA_STORAGE_ERROR'])

interface V2Header { name: string, value?: string | null }
interface V2Record {
  key?: unknown
  value?: unknown
  partition?: number | null
  headers?: V2Header[]
  timestamp?: string | number | null
}
interface V2ProduceBody { records: V2Record[] }

interface PartitionOffset {
  partition: number | null
  offset: number | null
  error_code: number | null
  error: string | null
  code?: ErrorCode
}

interface TopicParams { topic_name: string }
interface PartitionParams extends TopicParams { partition_id: number }

function bodySchemas (json: string, binary: string): { content: Record<string, { schema: { $ref: string } }> } {
  const content: Record<string, { schema: { $ref: string } }> = { [BINARY]: { schema: { $ref: `${binary}#` } } }
  for (const type of [JSON_FORMAT, FORMATLESS, 'application/json']) content[type] = { schema: { $ref: `${json}#` } }
  return { content }
}

/** The answers both produce routes can give besides their 400 and 404. */
const PRODUCE_RESPONSES = {
  200: { description: 'Every record was written, or some were and the others carry an error (as Confluent)', $ref: 'V2ProduceResponse#' },
  413: { description: 'The body is larger than the server\'s body limit', $ref: 'ErrorResponse#' },
  415: { description: 'The Content-Type is not binary or json (avro, protobuf and jsonschema need a schema registry)', $ref: 'ErrorResponse#' },
  422: { description: 'The body breaks its schema (unknown field, wrong type, bad base64, no records); or every record was too large or invalid', $ref: 'ErrorResponse#' },
  507: { description: 'Every record failed because the disk holding the log is nearly full', $ref: 'ErrorResponse#' },
  ...V2_COMMON_ERRORS
} as const

const PRODUCE_DESCRIPTION = [
  'Content-Type picks the embedded format: application/vnd.kafka.binary.v2+json (key and value are base64) or application/vnd.kafka.json.v2+json (any JSON, stored as its JSON text); application/vnd.kafka.v2+json and application/json are read as json.',
  'The avro, protobuf and jsonschema formats need a schema registry, which Logway does not have: they are refused with 415.',
  'Each record may also carry headers and a timestamp (Logway extensions).',
  'A body that breaks its schema is refused with 422 and nothing is written.',
  'Every record is checked, then all are written together and the answer comes once they are durable.',
  'When some records fail (too large for max.message.bytes, a null key on a compacted topic, an unknown partition, …) the answer is 200 and each failed record has a null partition and offset, error_code 50002 (or 50003 when a retry may succeed) and an error, as Confluent.',
  'When every record fails, the answer is not 200: it is the error of the first record, in request order, with its own status (404 unknown partition, 422 record too large or invalid, 503 log unavailable, 507 disk nearly full).'
].join(' ')

/**
 * Confluent REST Proxy v2 produce: POST /topics/{topic_name} and
 * POST /topics/{topic_name}/partitions/{partition_id}, with the binary and
 * json embedded formats.
 */
export const v2ProduceRoutes: FastifyPluginAsync = async (app) => {
  // Only this plugin's routes see these parsers.
  app.removeContentTypeParser('text/plain')
  // application/json keeps the app's own parser.
  app.addContentTypeParser([BINARY, JSON_FORMAT, FORMATLESS], { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'))
  app.addContentTypeParser(SCHEMA_FORMATS, { parseAs: 'string' }, (request, _body, done) => {
    done(unsupportedMediaType(`The ${request.mediaType ?? ''} embedded format needs a schema registry, which Logway does not have: produce with application/vnd.kafka.binary.v2+json or application/vnd.kafka.json.v2+json.`), undefined)
  })

  const config = { produces: V2_PRODUCES, bodyErrorCode: 'INVALID_RECORD' as const }

  app.post<{ Params: TopicParams, Body: V2ProduceBody }>('/topics/:topic_name', {
    config,
    schema: {
      summary: 'Produce records to a topic (Confluent REST Proxy v2)',
      description: `${PRODUCE_DESCRIPTION} A record without a partition goes to murmur2(key) mod partitions when keyed (Kafka's default partitioner), round-robin otherwise.`,
      operationId: 'v2ProduceToTopic',
      tags: ['v2'],
      params: { type: 'object', required: ['topic_name'], properties: { topic_name: { type: 'string' } } },
      body: bodySchemas('V2ProduceRequest', 'V2BinaryProduceRequest'),
      response: {
        ...PRODUCE_RESPONSES,
        400: { description: 'The body is not JSON', $ref: 'ErrorResponse#' },
        404: { description: 'Unknown topic (40401); or every record named an unknown partition (40402)', $ref: 'ErrorResponse#' }
      }
    }
  }, async (request, reply) => {
    const log = await app.getLog()
    log.describeTopic(request.params.topic_name)
    const answer = await produce(log, request, request.params.topic_name, undefined)
    return reply.type(request.responseType).send(answer)
  })

  app.post<{ Params: PartitionParams, Body: V2ProduceBody }>('/topics/:topic_name/partitions/:partition_id', {
    config,
    schema: {
      summary: 'Produce records to one partition (Confluent REST Proxy v2)',
      description: PRODUCE_DESCRIPTION,
      operationId: 'v2ProduceToPartition',
      tags: ['v2'],
      // An integer, not a minimum: a negative id is an unknown partition (404 40402), as in Confluent.
      params: { type: 'object', required: ['topic_name', 'partition_id'], properties: { topic_name: { type: 'string' }, partition_id: { type: 'integer' } } },
      body: bodySchemas('V2PartitionProduceRequest', 'V2BinaryPartitionProduceRequest'),
      response: {
        ...PRODUCE_RESPONSES,
        400: { description: 'The body is not JSON, or partition_id is not an integer', $ref: 'ErrorResponse#' },
        404: { description: 'Unknown topic (40401) or partition (40402)', $ref: 'ErrorResponse#' }
      }
    }
  }, async (request, reply) => {
    const log = await app.getLog()
    const { topic_name: topic, partition_id: partition } = request.params
    log.partitionInfo(topic, partition)
    const answer = await produce(log, request, topic, partition)
    return reply.type(request.responseType).send(answer)
  })
}

/**
 * Writes the records of a checked request: each record is checked against the
 * topic, then every record of a partition is appended as one batch, all
 * partitions at once so they share group commits. Resolves once they are durable.
 * @throws the first record's error when every record failed
 */
async function produce (log: LogStore, request: FastifyRequest, topic: string, pathPartition: number | undefined): Promise<object> {
  const body = request.body as V2ProduceBody | undefined
  // A bodiless POST reaches the handler unparsed and unvalidated.
  if (body === undefined) throw unsupportedMediaType(`A produce request needs a body of type ${BINARY} or ${JSON_FORMAT}.`)
  const binary = request.mediaType === BINARY
  // Decoding every record first means a bad one rejects the request before anything is written.
  const inputs = body.records.map((record, i) => toRecordInput(record, binary, i))

  const failures = new Map<number, unknown>()
  const batches = new Map<number, { indexes: number[], records: RecordInput[] }>()
  inputs.forEach((input, i) => {
    try {
      // Checked before choosing a partition, so a bad record does not move the round-robin.
      log.checkRecord(topic, input)
    } catch (err) {
      failures.set(i, err)
      return
    }
    const partition = pathPartition ?? body.records[i]?.partition ?? log.partitionFor(topic, input.key)
    const batch = batches.get(partition) ?? { indexes: [], records: [] }
    batch.indexes.push(i)
    batch.records.push(input)
    batches.set(partition, batch)
  })

  const offsets: PartitionOffset[] = new Array(inputs.length)
  await Promise.all([...batches].map(([partition, batch]) => log.append(topic, partition, batch.records).then(
    result => batch.indexes.forEach((index, j) => {
      offsets[index] = { partition, offset: result.baseOffset + j, error_code: null, error: null }
    }),
    (err: unknown) => batch.indexes.forEach(index => failures.set(index, err))
  )))

  for (const [index, err] of failures) {
    const { body: error, unexpected } = renderError(err)
    if (unexpected) request.log.error({ err }, 'record failed')
    offsets[index] = {
      partition: null,
      offset: null,
      error_code: RETRIABLE.has(error.code) ? KAFKA_RETRIABLE_ERROR : KAFKA_ERROR,
      error: error.message,
      code: error.code
    }
  }
  if (failures.size === inputs.length) throw allFailed(failures, inputs.length)
  return { key_schema_id: null, value_schema_id: null, offsets }
}

function toRecordInput (record: V2Record, binary: boolean, index: number): RecordInput {
  const bytes = (data: unknown, field: string): Buffer | null => {
    if (data === null || data === undefined) return null
    // The body schema has checked that binary data is a base64 string.
    return binary ? decodeBase64(data as string, `records[${index}].${field}`) : Buffer.from(JSON.stringify(data), 'utf8')
  }
  const headers: RecordHeader[] = (record.headers ?? []).map((h, i) => ({
    key: h.name,
    value: h.value === null || h.value === undefined ? null : decodeBase64(h.value, `records[${index}].headers[${i}].value`)
  }))
  const input: RecordInput = { key: bytes(record.key, 'key'), value: bytes(record.value, 'value'), headers }
  const timestamp = record.timestamp
  if (typeof timestamp === 'number') {
    input.timestamp = timestamp
  } else if (typeof timestamp === 'string') {
    const ms = Date.parse(timestamp)
    if (Number.isNaN(ms) || ms < 0) throw new LogwayError('INVALID_RECORD', `records[${index}].timestamp ${timestamp} is not a valid date-time.`)
    input.timestamp = ms
  }
  return input
}

/** The error a request answers when every record failed: the first record's, saying how many failed. */
function allFailed (failures: Map<number, unknown>, count: number): unknown {
  const first = failures.get(0)
  if (count === 1 || !isLogwayError(first)) return first
  return new LogwayError(first.code, `All ${count} records failed; the first: ${first.message}`, first.details, { cause: first })
}

function unsupportedMediaType (message: string): Error {
  return Object.assign(new Error(message), { statusCode: TRANSPORT_ERRORS.UNSUPPORTED_MEDIA_TYPE.status })
}
