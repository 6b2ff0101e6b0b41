import './route-docs.js'
import { PassThrough } from 'node:stream'
import type { FastifyPluginAsync } from 'fastify'
import { LogwayError } from '../errors.js'
import type { LogStore } from '../log/log-store.js'
import type { RecordHeader, RecordInput } from '../log/types.js'
import { renderError } from './error-handler.js'
import { decodeBase64, recordDataBytes, type RecordData } from './record-data.js'

interface ProduceParams {
  cluster_id: string
  topic_name: string
}

interface ProduceBody {
  partition_id?: number | null
  headers?: Array<{ name: string, value?: string | null }>
  key?: RecordData | null
  value?: RecordData | null
  timestamp?: string | number | null
}

/** What the JSON parser of this route hands on for a body of several concatenated JSON objects. */
class RecordSequence {
  readonly records: unknown[]
  constructor (records: unknown[]) { this.records = records }
}

/**
 * POST /v3/clusters/{cluster_id}/topics/{topic_name}/records: Confluent v3
 * produce. A body of one JSON object produces one record and answers its
 * delivery report, or an HTTP error. A body of several concatenated JSON
 * objects (Confluent's streaming mode; NDJSON is a special case) answers 200
 * with one report per record, in request order, each written as that record
 * is committed; a record that fails gets `{error_code, message, code}` in its
 * place and the others go on. The body is read whole first (bodyLimit bounds
 * it), so malformed JSON anywhere rejects the request before anything is written.
 */
export const v3RecordsRoutes: FastifyPluginAsync = async (app) => {
  // Only this plugin's routes see the replaced parser.
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (_request, text, done) => {
    try {
      const values = parseJsonObjects(text as string)
      done(null, values.length === 1 ? values[0] : new RecordSequence(values))
    } catch (err) {
      done(err as Error, undefined)
    }
  })

  app.post<{ Params: ProduceParams, Body: ProduceBody }>('/v3/clusters/:cluster_id/topics/:topic_name/records', {
    // A stream of records is validated record by record in the handler.
    attachValidation: true,
    schema: {
      summary: 'Produce records (Confluent REST Proxy v3)',
      description: 'Without partition_id, a keyed record goes to the partition murmur2(key) picks (as Kafka\'s default partitioner) and an unkeyed one round-robin. Answers once the record is durable. Several concatenated JSON objects in one body (streaming mode) are answered with 200 and one delivery report or error object per record, in order, as concatenated JSON (one per line).',
      operationId: 'produceRecord',
      tags: ['records'],
      params: {
        type: 'object',
        required: ['cluster_id', 'topic_name'],
        properties: { cluster_id: { type: 'string' }, topic_name: { type: 'string' } }
      },
      body: { $ref: 'ProduceRequest#' },
      response: {
        200: { description: 'The record is committed and flushed', $ref: 'ProduceResponse#' },
        400: { description: 'The body is invalid (schema, unknown field, bad base64)', $ref: 'ErrorResponse#' },
        404: { description: 'Unknown cluster, topic or partition', $ref: 'ErrorResponse#' },
        422: { description: 'The record is too large (max.message.bytes) or not valid for the topic', $ref: 'ErrorResponse#' }
      }
    }
  }, async (request, reply) => {
    const { cluster_id: clusterId, topic_name: topic } = request.params
    const log = await app.getLog()
    if (clusterId !== log.clusterId) throw clusterNotFound(clusterId)

    const body: unknown = request.body
    if (!(body instanceof RecordSequence)) {
      if (request.validationError !== undefined) throw request.validationError
      return await produceOne(log, topic, body as ProduceBody)
    }

    // Every record is checked and issued at once, in order, so they share group commits; reports follow in order.
    // Each outcome is settled at once: a record that fails early must not be an unhandled rejection while an earlier one commits.
    const outcomes = body.records.map(async (record, index) => {
      if (!request.validateInput(record, 'body')) {
        const [first] = request.getValidationFunction('body')?.errors ?? []
        throw new LogwayError('INVALID_REQUEST', `record ${index}: body${first?.instancePath ?? ''} ${first?.message ?? 'is not valid'}`)
      }
      return await produceOne(log, topic, record as ProduceBody)
    }).map(async report => await report.then(
      (ok): object => ok,
      (err: unknown): object => {
        const { body: error, unexpected } = renderError(err, request.routeOptions.config)
        if (unexpected) request.log.error({ err }, 'record failed')
        return error
      }))
    const out = new PassThrough()
    reply.type('application/json; charset=utf-8').send(out)
    for (const outcome of outcomes) out.write(JSON.stringify(await outcome) + '\n')
    out.end()
    return reply
  })
}

async function produceOne (log: LogStore, topic: string, body: ProduceBody): Promise<object> {
  const key = recordDataBytes(body.key, 'key')
  const value = recordDataBytes(body.value, 'value')
  const headers: RecordHeader[] = (body.headers ?? []).map((h, i) => ({
    key: h.name,
    value: h.value === null || h.value === undefined ? null : decodeBase64(h.value, `headers[${i}].value`)
  }))
  const timestamp = parseTimestamp(body.timestamp)
  const record: RecordInput = { key, value, headers, ...(timestamp === undefined ? {} : { timestamp }) }

  // Check before choosing a partition, so an unknown topic or a bad record does not move the round-robin.
  log.checkRecord(topic, record)
  const partition = body.partition_id ?? log.partitionFor(topic, key)
  const result = await log.append(topic, partition, [record])
  return {
    error_code: 200,
    cluster_id: log.clusterId,
    topic_name: topic,
    partition_id: partition,
    offset: result.baseOffset,
    timestamp: new Date(result.timestamps[0] ?? 0).toISOString(),
    key: key === null || body.key == null ? null : { type: body.key.type, size: key.length },
    value: value === null || body.value == null ? null : { type: body.value.type, size: value.length }
  }
}

function parseTimestamp (timestamp: string | number | null | undefined): number | undefined {
  if (timestamp === null || timestamp === undefined) return undefined
  if (typeof timestamp === 'number') return timestamp
  const ms = Date.parse(timestamp)
  if (Number.isNaN(ms) || ms < 0) throw new LogwayError('INVALID_REQUEST', `timestamp ${timestamp} is not a valid date-time.`)
  return ms
}

/**
 * Splits a body of concatenated JSON objects (whitespace between them is
 * allowed, none is needed) and parses each.
 * @throws an error rendered as 400 "Body is not valid JSON" when the body is empty or not such a sequence
 */
function parseJsonObjects (text: string): unknown[] {
  const values: unknown[] = []
  let i = 0
  for (;;) {
    while (i < text.length && /\s/.test(text[i] as string)) i++
    if (i === text.length) break
    if (text[i] !== '{') throw invalidJson()
    const start = i
    let depth = 0
    let inString = false
    for (; i < text.length; i++) {
      const c = text[i]
      if (inString) {
        if (c === '\\') i++
        else if (c === '"') inString = false
      } else if (c === '"') {
        inString = true
      } else if (c === '{' || c === '[') {
        depth++
      } else if (c === '}' || c === ']') {
        if (--depth === 0) break
      }
    }
    if (depth !== 0) throw invalidJson()
    i++
    try {
      values.push(JSON.parse(text.slice(start, i)))
    } catch {
      throw invalidJson()
    }
  }
  if (values.length === 0) throw invalidJson()
  return values
}

function invalidJson (): Error {
  return Object.assign(new Error('Body is not valid JSON'), { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' })
}

/** Confluent answers an unknown cluster with a bare 404 (error_code 404); a 4xx statusCode renders that way. */
export function clusterNotFound (clusterId: string): Error {
  return Object.assign(new Error(`Cluster ${clusterId} cannot be found.`), { statusCode: 404 })
}
