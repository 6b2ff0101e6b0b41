import './route-docs.js'
import type { FastifyPluginAsync } from 'fastify'
import { LogwayError } from '../errors.js'
import { renderError, type ErrorBody } from './error-handler.js'
import { produceRecords, unknownTopic, type ProducedRecord, type ProduceRecordBody } from './produce-record.js'
import { clusterNotFound } from './v3-records-routes.js'

interface BatchParams {
  cluster_id: string
  topic_name: string
}

interface BatchEntry extends ProduceRecordBody {
  id: string
}

interface BatchBody {
  entries: BatchEntry[]
}

type SuccessEntry = { id: string } & ProducedRecord
type FailureEntry = { id: string } & ErrorBody

/**
 * POST /v3/clusters/{cluster_id}/topics/{topic_name}/records:batch: Confluent
 * v3 batch produce. Every entry is produced on its own (one failing does not
 * stop the others) and answered 207 with the outcome of each, by id.
 */
export const v3BatchRoutes: FastifyPluginAsync = async (app) => {
  // A body that is not JSON is a 415 (Fastify would otherwise parse text/plain and fail validation with a 400).
  app.removeContentTypeParser('text/plain')

  // find-my-way reads '::' as a literal ':'.
  app.post<{ Params: BatchParams, Body: BatchBody }>('/v3/clusters/:cluster_id/topics/:topic_name/records::batch', {
    schema: {
      summary: 'Produce a batch of records (Confluent REST Proxy v3)',
      description: [
        'Produces up to 1000 records, each entry on its own: an entry that fails does not stop the others, and none is retried. Each entry is routed as in produceRecord (partition_id, else murmur2(key), else round-robin). All entries are issued together, so they share the log\'s group commits; the answer comes once every produced record is committed and flushed.',
        'The answer is 207 Multi-Status, as Confluent\'s: `successes` holds where each produced entry was written and `failures` the error of each entry that was not (the same error_code, message and code a single produce of it would have answered), both by id and in request order. It is 207 even when every entry failed: the request itself was valid and each entry\'s status is in its own error_code, so a client must read `failures`.',
        'The request as a whole is refused, with nothing written, when the body is invalid (unknown field, bad id, no entries, more than 1000 entries: 400), when two entries share an id (400), or when the cluster or topic does not exist (404).'
      ].join('\n\n'),
      operationId: 'produceRecordBatch',
      tags: ['records'],
      params: {
        type: 'object',
        required: ['cluster_id', 'topic_name'],
        properties: { cluster_id: { type: 'string' }, topic_name: { type: 'string' } }
      },
      body: { $ref: 'ProduceBatchRequest#' },
      response: {
        207: { description: 'The outcome of every entry (even when all failed)', $ref: 'ProduceBatchResponse#' },
        400: { description: 'The body is invalid (not JSON, schema, unknown field, bad id, no entries or more than 1000) or two entries share an id; nothing was written', $ref: 'ErrorResponse#' },
        404: { description: 'Unknown cluster or topic; nothing was written', $ref: 'ErrorResponse#' },
        406: { description: 'The Accept header allows no JSON response', $ref: 'ErrorResponse#' },
        413: { description: 'The body is larger than the server\'s body limit', $ref: 'ErrorResponse#' },
        415: { description: 'The body is not application/json', $ref: 'ErrorResponse#' },
        500: { description: 'Unexpected server error', $ref: 'ErrorResponse#' },
        503: { description: 'The log is not open yet, or the server is shutting down', $ref: 'ErrorResponse#' }
      }
    }
  }, async (request, reply) => {
    const { cluster_id: clusterId, topic_name: topic } = request.params
    const log = await app.getLog()
    if (clusterId !== log.clusterId) throw clusterNotFound(clusterId)
    if (!log.hasTopic(topic)) throw unknownTopic(topic)
    const { entries } = request.body
    const ids = new Set<string>()
    for (const { id } of entries) {
      if (ids.has(id)) throw new LogwayError('INVALID_REQUEST', `Entry id '${id}' is used more than once: the ids of a batch must be distinct.`)
      ids.add(id)
    }

    // Issued in one synchronous pass: the entries of each partition go to the log as one append.
    const outcomes = await produceRecords(log, topic, entries)
    const successes: SuccessEntry[] = []
    const failures: FailureEntry[] = []
    for (const [i, outcome] of outcomes.entries()) {
      const { id } = entries[i] as BatchEntry
      if (outcome.ok) {
        successes.push({ id, ...outcome.value })
        continue
      }
      const { body, unexpected } = renderError(outcome.error, request.routeOptions.config)
      if (unexpected) request.log.error({ err: outcome.error, entry: id }, 'batch entry failed')
      failures.push({ id, ...body })
    }
    return reply.code(207).send({ successes, failures })
  })
}
