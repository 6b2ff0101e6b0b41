import './route-docs.js'
import type { FastifyPluginAsync, FastifyRequest } from 'fastify'
import { isLogwayError, LogwayError, type ErrorCode } from '../errors.js'
import type { LogStore } from '../log/log-store.js'
import type { BatchAppendResult, RecordBatch } from '../log/record-batch.js'
import { renderError } from './error-handler.js'
import { TRANSPORT_ERRORS } from './error-mapping.js'
import { claimOf, IDEMPOTENCY_HEADERS, IDEMPOTENCY_RESPONSES, installIdempotentProduce, KEY_REUSED, REPLAYED_HEADERS } from './idempotent-produce.js'
import { IndexList, unknownTopic } from './produce-record.js'
import { AnswerBuilder } from './answer-builder.js'
import { parsePlainJson } from './plain-json.js'
import { checkBase64, decodeBase64, writeJson } from '../records/record-data.js'
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
  200: { description: 'Every record was written, or some were and the others carry an error (as Confluent)', headers: REPLAYED_HEADERS, $ref: 'V2ProduceResponse#' },
  413: { description: 'The body is larger than the server\'s body limit', $ref: 'ErrorResponse#' },
  415: { description: 'The Content-Type is not binary or json (avro, protobuf and jsonschema need a schema registry)', $ref: 'ErrorResponse#' },
  422: { description: `The body breaks its schema (unknown field, wrong type, bad base64, no records); or every record was too large or invalid; or ${KEY_REUSED}`, $ref: 'ErrorResponse#' },
  507: { description: 'Every record failed because the disk holding the log is nearly full', $ref: 'ErrorResponse#' },
  ...IDEMPOTENCY_RESPONSES,
  ...V2_COMMON_ERRORS
} as const

const PRODUCE_DESCRIPTION = [
  'Content-Type picks the embedded format: application/vnd.kafka.binary.v2+json (key and value are base64) or application/vnd.kafka.json.v2+json (any JSON, stored as its JSON text); application/vnd.kafka.v2+json and application/json are read as json.',
  'The avro, protobuf and jsonschema formats need a schema registry, which Logway does not have: they are refused with 415.',
  'Each record may also carry headers and a timestamp (Logway extensions).',
  'A body that breaks its schema is refused with 422 and nothing is written.',
  'Every record is checked, then all are written together and the answer comes once they are durable.',
  'When some records fail (too large for max.message.bytes, a null key on a compacted topic, an unknown partition, …) the answer is 200 and each failed record has a null partition and offset, error_code 50002 (or 50003 when a retry may succeed) and an error, as Confluent.',
  'When every record fails, the answer is not 200: it is the error of the first record, in request order, with its own status (404 unknown partition, 422 record too large or invalid, 503 log unavailable, 507 disk nearly full).',
  'With an Idempotency-Key header a retry writes nothing and gets the first answer again (see the header).'
].join(' ')

/**
 * Confluent REST Proxy v2 produce: POST /topics/{topic_name} and
 * POST /topics/{topic_name}/partitions/{partition_id}, with the binary and
 * json embedded formats.
 */
export const v2ProduceRoutes: FastifyPluginAsync = async (app) => {
  // Only this plugin's routes see these parsers.
  app.removeContentTypeParser(['text/plain', 'application/json'])
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser([BINARY, JSON_FORMAT, FORMATLESS, 'application/json'], { parseAs: 'string' }, (request, body, done) => {
    const parsed = parsePlainJson(body as string)
    if (parsed === undefined) {
      parseJson(request, body as string, done)
      return
    }
    plainBodies.add(parsed)
    done(null, parsed)
  })
  app.addContentTypeParser(SCHEMA_FORMATS, { parseAs: 'string' }, (request, _body, done) => {
    done(unsupportedMediaType(`The ${request.mediaType ?? ''} embedded format needs a schema registry, which Logway does not have: produce with application/vnd.kafka.binary.v2+json or application/vnd.kafka.json.v2+json.`), undefined)
  })

  installIdempotentProduce(app)
  const config = { produces: V2_PRODUCES, bodyErrorCode: 'INVALID_RECORD' as const }

  app.post<{ Params: TopicParams, Body: V2ProduceBody }>('/topics/:topic_name', {
    config,
    schema: {
      summary: 'Produce records to a topic (Confluent REST Proxy v2)',
      description: `${PRODUCE_DESCRIPTION} A record without a partition goes to murmur2(key) mod partitions when keyed (Kafka's default partitioner), round-robin otherwise.`,
      operationId: 'v2ProduceToTopic',
      tags: ['v2'],
      params: { type: 'object', required: ['topic_name'], properties: { topic_name: { type: 'string' } } },
      headers: IDEMPOTENCY_HEADERS,
      body: bodySchemas('V2ProduceRequest', 'V2BinaryProduceRequest'),
      response: {
        ...PRODUCE_RESPONSES,
        400: { description: 'The body is not JSON', $ref: 'ErrorResponse#' },
        404: { description: 'Unknown topic (40401); or every record named an unknown partition (40402)', $ref: 'ErrorResponse#' }
      }
    }
  }, async (request, reply) => {
    const log = await app.getLog()
    if (!log.hasTopic(request.params.topic_name)) throw unknownTopic(request.params.topic_name)
    const answer = await produce(log, request, request.params.topic_name, undefined)
    return reply.type(`${request.responseType}; charset=utf-8`).send(answer)
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
      headers: IDEMPOTENCY_HEADERS,
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
    return reply.type(`${request.responseType}; charset=utf-8`).send(answer)
  })
}

/**
 * Writes the records of a checked request: each record is encoded and
 * checked against the topic, then the log appends those that passed, one
 * batch per partition, all partitions at once so they share group commits.
 * Resolves, once they are durable, with the answer's JSON.
 * @throws the first record's error when every record failed
 */
async function produce (log: LogStore, request: FastifyRequest, topic: string, pathPartition: number | undefined): Promise<Buffer> {
  const { count, indexes, failures, result } = issueRecords(log, request, topic, pathPartition)
  // The parsed body is not needed past this point: holding it while the
  // records wait for their flush costs every young-generation GC a copy of it.
  request.body = undefined
  const appended = await result
  for (let j = 0; j < appended.count; j++) {
    if (appended.offset(j) < 0) failures.set(indexes.at(j), appended.failure(j))
  }
  if (failures.size === count) throw allFailed(failures, count)
  return answer(request, count, indexes, appended, failures)
}

const ANSWER_START = Buffer.from('{"key_schema_id":null,"value_schema_id":null,"offsets":[')
const ANSWER_END = Buffer.from(']}')
const WRITTEN_END = Buffer.from(',"error_code":null,"error":null}')
const COMMA = 0x2c

/**
 * The answer's JSON (V2ProduceResponse), written by hand rather than
 * serialised from an object per record by the response schema.
 */
function answer (request: FastifyRequest, count: number, indexes: IndexList, appended: BatchAppendResult, failures: Map<number, unknown>): Buffer {
  const out = new AnswerBuilder(ANSWER_START.length + count * 64)
  out.bytes(ANSWER_START)
  let prefixOf = -1
  let prefix = Buffer.alloc(0)
  // j walks the records the log took, which are the request's records without those that failed their checks.
  let j = 0
  for (let i = 0; i < count; i++) {
    if (i > 0) out.byte(COMMA)
    const written = j < appended.count && indexes.at(j) === i
    const offset = written ? appended.offset(j) : -1
    if (written) j++
    if (offset >= 0) {
      const partition = appended.partition(j - 1)
      if (partition !== prefixOf) {
        prefixOf = partition
        prefix = Buffer.from(`{"partition":${partition},"offset":`)
      }
      out.bytes(prefix)
      out.integer(offset)
      out.bytes(WRITTEN_END)
      continue
    }
    const err = failures.get(i)
    const { body: error, unexpected } = renderError(err)
    if (unexpected) request.log.error({ err }, 'record failed')
    const entry: PartitionOffset = {
      partition: null,
      offset: null,
      error_code: RETRIABLE.has(error.code) ? KAFKA_RETRIABLE_ERROR : KAFKA_ERROR,
      error: error.message,
      code: error.code
    }
    out.text(JSON.stringify(entry))
  }
  out.bytes(ANSWER_END)
  return out.take()
}

/** Bytes a record takes in the log besides its key and value, about. */
const RECORD_OVERHEAD = 32

/**
 * Encodes every record of the request into one batch for the log and hands
 * it over; records that fail the topic's checks are failures, by index. A
 * record that cannot be decoded (bad base64 or timestamp) fails the whole
 * request before anything is appended.
 */
function issueRecords (log: LogStore, request: FastifyRequest, topic: string, pathPartition: number | undefined): {
  count: number
  /** The request index of each record of the batch. */
  indexes: IndexList
  failures: Map<number, unknown>
  result: Promise<BatchAppendResult>
} {
  const body = request.body as V2ProduceBody | undefined
  // A bodiless POST reaches the handler unparsed and unvalidated.
  if (body === undefined) throw unsupportedMediaType(`A produce request needs a body of type ${BINARY} or ${JSON_FORMAT}.`)
  const records = body.records
  const count = records.length
  const binary = request.mediaType === BINARY
  const plain = plainBodies.has(body)
  const batch = log.recordBatch(topic, RECORD_OVERHEAD * count + (request.headers['content-length'] === undefined ? 0 : Number(request.headers['content-length'])))
  const failures = new Map<number, unknown>()
  const indexes = new IndexList()
  for (let i = 0; i < count; i++) {
    const record = records[i] as V2Record
    batch.begin()
    if (binary) {
      writeBase64(batch, record.key, i, 'key')
      writeBase64(batch, record.value, i, 'value')
    } else {
      writeJsonData(batch, record.key, true, plain)
      writeJsonData(batch, record.value, false, plain)
    }
    if (record.headers !== undefined) {
      for (let h = 0; h < record.headers.length; h++) {
        const { name, value } = record.headers[h] as V2Header
        batch.header(name, value === null || value === undefined ? null : decodeBase64(value, `records[${i}].headers[${h}].value`))
      }
    }
    const timestamp = parseTimestamp(record.timestamp, i)
    try {
      batch.end(timestamp, pathPartition ?? record.partition ?? undefined)
    } catch (err) {
      failures.set(i, err)
      continue
    }
    indexes.push(i)
  }
  const claim = claimOf(request)
  return { count, indexes, failures, result: log.appendBatch(batch, claim === undefined ? undefined : { claim, indexOf: j => indexes.at(j) }) }
}

/** A json-format key or value: stored as its JSON text; absent or null is a null one. */
function writeJsonData (batch: RecordBatch, data: unknown, key: boolean, plain: boolean): void {
  if (data === null || data === undefined) return
  if (key) batch.startKey()
  else batch.startValue()
  writeJson(batch, data, plain)
}

/** A binary-format key or value: base64 (the body schema has checked it is a string); absent or null is a null one. */
function writeBase64 (batch: RecordBatch, data: unknown, index: number, field: 'key' | 'value'): void {
  if (data === null || data === undefined) return
  checkBase64(data as string, `records[${index}].${field}`)
  if (field === 'key') batch.startKey()
  else batch.startValue()
  batch.base64(data as string)
}

/** @throws LogwayError INVALID_RECORD for a string that is not a date-time */
function parseTimestamp (timestamp: string | number | null | undefined, index: number): number | undefined {
  if (typeof timestamp === 'number') return timestamp
  if (typeof timestamp !== 'string') return undefined
  const ms = Date.parse(timestamp)
  if (Number.isNaN(ms) || ms < 0) throw new LogwayError('INVALID_RECORD', `records[${index}].timestamp ${timestamp} is not a valid date-time.`)
  return ms
}

/** Bodies parsed from JSON text without a backslash: none of their strings needs escaping to be written as JSON. */
const plainBodies = new WeakSet<object>()

/** The error a request answers when every record failed: the first record's, saying how many failed. */
function allFailed (failures: Map<number, unknown>, count: number): unknown {
  const first = failures.get(0)
  if (count === 1 || !isLogwayError(first)) return first
  return new LogwayError(first.code, `All ${count} records failed; the first: ${first.message}`, first.details, { cause: first })
}

function unsupportedMediaType (message: string): Error {
  return Object.assign(new Error(message), { statusCode: TRANSPORT_ERRORS.UNSUPPORTED_MEDIA_TYPE.status })
}
