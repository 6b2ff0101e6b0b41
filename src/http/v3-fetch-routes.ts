import './route-docs.js'
import type { FastifyPluginAsync } from 'fastify'
import { LogwayError } from '../errors.js'
import type { LogStore } from '../log/log-store.js'
import { errorResponse } from './common-responses.js'
import { renderBytes, type RecordFormat } from '../records/record-data.js'
import { clusterNotFound } from './v3-records-routes.js'

interface FetchParams {
  cluster_id: string
  topic_name: string
  partition_id: number
}

interface FetchQuery {
  offset: string
  max_records: number
  max_bytes: number
  timeout_ms: number
  format: RecordFormat
}

/**
 * GET /v3/clusters/{c}/topics/{t}/partitions/{p}/records: Logway's stateless
 * fetch. Reads from an offset the client names and keeps no state: the same
 * request against the same log answers the same bytes. At the log end, waits
 * up to timeout_ms for an append (woken by it, never polling).
 */
export const v3FetchRoutes: FastifyPluginAsync = async (app) => {
  app.get<{ Params: FetchParams, Querystring: FetchQuery }>('/v3/clusters/:cluster_id/topics/:topic_name/partitions/:partition_id/records', {
    schema: {
      summary: 'Fetch records from one partition (stateless)',
      description: 'Reads committed records from `offset`. When `offset` is the log end and `timeout_ms` > 0, the request waits for the next append or the timeout, whichever comes first.',
      operationId: 'fetchRecords',
      tags: ['records'],
      params: {
        type: 'object',
        required: ['cluster_id', 'topic_name', 'partition_id'],
        properties: {
          cluster_id: { type: 'string' },
          topic_name: { type: 'string' },
          partition_id: { type: 'integer', minimum: 0 }
        }
      },
      querystring: {
        type: 'object',
        properties: {
          offset: {
            description: 'An offset, `earliest` (the log start), `latest` (the log end) or `timestamp:<ms>` (the first record at or after that time; the log end when there is none).',
            type: 'string',
            pattern: '^(\\d{1,16}|earliest|latest|timestamp:\\d{1,16})$',
            default: 'earliest'
          },
          max_records: { type: 'integer', minimum: 1, maximum: 10000, default: 500 },
          max_bytes: { description: 'Soft cap: one record is returned even when it is larger.', type: 'integer', minimum: 1, maximum: 67108864, default: 1048576 },
          timeout_ms: { description: 'How long to wait for records at the log end.', type: 'integer', minimum: 0, maximum: 60000, default: 0 },
          format: {
            description: 'How keys and values are rendered: binary (base64), string (UTF-8 text), json (the parsed JSON value; bytes that are not JSON fail the request with 422).',
            type: 'string',
            enum: ['binary', 'string', 'json'],
            default: 'binary'
          }
        }
      },
      response: {
        200: { description: 'The records (possibly none)', $ref: 'FetchResponse#' },
        400: errorResponse('Invalid parameters, or the offset is out of range'),
        404: errorResponse('Unknown cluster, topic or partition'),
        422: errorResponse('format=json and a key or value is not JSON')
      }
    }
  }, async (request, reply) => {
    const { cluster_id: clusterId, topic_name: topic, partition_id: partition } = request.params
    const { max_records: maxRecords, max_bytes: maxBytes, timeout_ms: timeoutMs, format } = request.query
    const log = await app.getLog()
    if (clusterId !== log.clusterId) throw clusterNotFound(clusterId)

    const offset = resolveOffset(log, topic, partition, request.query.offset)
    if (timeoutMs > 0 && offset === log.partitionInfo(topic, partition).logEndOffset) {
      // The response's close (not the request's, which Node fires once the body is read) tells a client that went away.
      const abort = new AbortController()
      const onClose = (): void => abort.abort()
      reply.raw.once('close', onClose)
      try {
        await log.waitForAppend(topic, partition, offset, timeoutMs, abort.signal)
      } finally {
        reply.raw.off('close', onClose)
      }
    }

    const result = log.read(topic, partition, { offset, maxRecords, maxBytes })
    return {
      cluster_id: log.clusterId,
      topic_name: topic,
      partition_id: partition,
      log_start_offset: result.logStartOffset,
      log_end_offset: result.logEndOffset,
      high_watermark: result.highWatermark,
      next_offset: result.nextOffset,
      records: result.records.map(r => ({
        offset: r.offset,
        timestamp: r.timestamp,
        timestamp_type: r.timestampType,
        key: renderBytes(r.key, format, `key at offset ${r.offset}`),
        value: renderBytes(r.value, format, `value at offset ${r.offset}`),
        headers: r.headers.map(h => ({ name: h.key, value: h.value === null ? null : h.value.toString('base64') }))
      }))
    }
  })
}

function resolveOffset (log: LogStore, topic: string, partition: number, offset: string): number {
  if (offset === 'earliest') return log.partitionInfo(topic, partition).logStartOffset
  if (offset === 'latest') return log.partitionInfo(topic, partition).logEndOffset
  if (offset.startsWith('timestamp:')) {
    const found = log.offsetForTimestamp(topic, partition, Number(offset.slice('timestamp:'.length)))
    return found?.offset ?? log.partitionInfo(topic, partition).logEndOffset
  }
  const n = Number(offset)
  if (!Number.isSafeInteger(n)) throw new LogwayError('INVALID_REQUEST', `offset ${offset} is not a safe integer.`)
  return n
}
