import './route-docs.js'
import type { FastifyPluginAsync } from 'fastify'
import { LogwayError } from '../errors.js'
import { AnswerBuilder } from './answer-builder.js'
import { renderError } from './error-handler.js'
import { claimOf, IDEMPOTENCY_HEADERS, IDEMPOTENCY_RESPONSES, installIdempotentProduce, KEY_REUSED, REPLAYED_HEADERS } from './idempotent-produce.js'
import { parsePlainJson } from './plain-json.js'
import { produceBatch, unknownTopic, type ProducedBatch, type ProduceRecordBody } from './produce-record.js'
import { ProducedText } from './produced-text.js'
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

/**
 * POST /v3/clusters/{cluster_id}/topics/{topic_name}/records:batch: Confluent
 * v3 batch produce. Every entry is produced on its own (one failing does not
 * stop the others) and answered 207 with the outcome of each, by id.
 */
export const v3BatchRoutes: FastifyPluginAsync = async (app) => {
  // A body that is not JSON is a 415 (Fastify would otherwise parse text/plain and fail validation with a 400).
  app.removeContentTypeParser(['text/plain', 'application/json'])
  installIdempotentProduce(app)
  // A batch body is one JSON document of up to 1000 records: parsed without the default parser's scans when it can be.
  const parseJson = app.getDefaultJsonParser('error', 'error')
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (request, body, done) => {
    const parsed = parsePlainJson(body as string)
    if (parsed === undefined) parseJson(request, body as string, done)
    else done(null, parsed)
  })

  // find-my-way reads '::' as a literal ':'.
  app.post<{ Params: BatchParams, Body: BatchBody }>('/v3/clusters/:cluster_id/topics/:topic_name/records::batch', {
    schema: {
      summary: 'Produce a batch of records (Confluent REST Proxy v3)',
      description: [
        'Produces up to 1000 records, each entry on its own: an entry that fails does not stop the others, and none is retried. Each entry is routed as in produceRecord (partition_id, else murmur2(key), else round-robin). All entries are issued together, so they share the log\'s group commits; the answer comes once every produced record is committed and flushed.',
        'The answer is 207 Multi-Status, as Confluent\'s: `successes` holds where each produced entry was written and `failures` the error of each entry that was not (the same error_code, message and code a single produce of it would have answered), both by id and in request order. It is 207 even when every entry failed: the request itself was valid and each entry\'s status is in its own error_code, so a client must read `failures`.',
        'The request as a whole is refused, with nothing written, when the body is invalid (unknown field, bad id, no entries, more than 1000 entries: 400), when two entries share an id (400), or when the cluster or topic does not exist (404).',
        'With an Idempotency-Key header a retry writes nothing and gets the first answer again (see the header).'
      ].join('\n\n'),
      operationId: 'produceRecordBatch',
      tags: ['records'],
      params: {
        type: 'object',
        required: ['cluster_id', 'topic_name'],
        properties: { cluster_id: { type: 'string' }, topic_name: { type: 'string' } }
      },
      headers: IDEMPOTENCY_HEADERS,
      body: { $ref: 'ProduceBatchRequest#' },
      response: {
        207: { description: 'The outcome of every entry (even when all failed)', headers: REPLAYED_HEADERS, $ref: 'ProduceBatchResponse#' },
        400: { description: 'The body is invalid (not JSON, schema, unknown field, bad id, no entries or more than 1000) or two entries share an id; nothing was written', $ref: 'ErrorResponse#' },
        404: { description: 'Unknown cluster or topic; nothing was written', $ref: 'ErrorResponse#' },
        406: { description: 'The Accept header allows no JSON response', $ref: 'ErrorResponse#' },
        413: { description: 'The body is larger than the server\'s body limit', $ref: 'ErrorResponse#' },
        415: { description: 'The body is not application/json', $ref: 'ErrorResponse#' },
        ...IDEMPOTENCY_RESPONSES,
        422: { description: `Refused: ${KEY_REUSED}`, $ref: 'ErrorResponse#' },
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
    const claim = claimOf(request)
    const produced = produceBatch(log, topic, entries, undefined, claim === undefined ? undefined : { claim, firstIndex: 0 })
    const entryIds = entries.map(entry => entry.id)
    // The parsed body is not needed past this point: holding it while the
    // records wait for their flush costs every young-generation GC a copy of it.
    request.body = undefined as unknown as BatchBody
    const answer = batchAnswer(await produced, entryIds, (error, id) => {
      const { body, unexpected } = renderError(error, request.routeOptions.config)
      if (unexpected) request.log.error({ err: error, entry: id }, 'batch entry failed')
      return JSON.stringify({ id, ...body })
    })
    return reply.code(207).type(`${request.responseType}; charset=utf-8`).send(answer)
  })
}

const COMMA = 0x2c

/**
 * The 207 answer's JSON (ProduceBatchResponse), written by hand rather than
 * serialised from an object per entry by the response schema: successes in
 * request order, each `{id, cluster_id, topic_name, partition_id, offset,
 * timestamp, key, value}`, then the failures as `renderFailure` writes them.
 * Entry ids match `^[0-9A-Za-z_-]+$` (the schema checked it): ASCII that needs no escaping.
 */
function batchAnswer (produced: ProducedBatch, ids: readonly string[], renderFailure: (error: unknown, id: string) => string): Buffer {
  const out = new AnswerBuilder(64 + ids.length * 200)
  const fields = new ProducedText(produced.clusterId, produced.topic)
  let failed = 0
  out.ascii('{"successes":[')
  for (let i = 0; i < produced.count; i++) {
    if (produced.failure(i) !== undefined) {
      failed++
      continue
    }
    out.ascii(i > failed ? ',{"id":"' : '{"id":"')
    out.ascii(ids[i] as string)
    out.ascii('",')
    fields.one(produced, i, out)
  }
  out.ascii('],"failures":[')
  let firstFailure = true
  const end = failed > 0 ? produced.count : 0
  for (let i = 0; i < end; i++) {
    const failure = produced.failure(i)
    if (failure === undefined) continue
    if (!firstFailure) out.byte(COMMA)
    firstFailure = false
    out.text(renderFailure(failure, ids[i] as string))
  }
  out.ascii(']}')
  return out.take()
}
