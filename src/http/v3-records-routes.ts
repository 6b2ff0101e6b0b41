import './route-docs.js'
import { finished, type Readable } from 'node:stream'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { LogwayError } from '../errors.js'
import { renderError } from './error-handler.js'
import { claimOf, IDEMPOTENCY_HEADERS, IDEMPOTENCY_RESPONSES, installIdempotentProduce, KEY_REUSED, REPLAYED_HEADERS } from './idempotent-produce.js'
import { produceBatch, unknownTopic, type ProducedBatch } from './produce-record.js'
import { ProducedText } from './produced-text.js'
import { ProduceStream, wholeBodyShape, type ProduceBodyShape, type ProduceStreamOptions } from './produce-stream.js'
import type { AnswerBuilder } from './answer-builder.js'

/**
 * The most records of one streamed produce request that are issued and not
 * yet reported; at the bound the request is not read until reports drain.
 */
export const MAX_RECORDS_IN_FLIGHT = 1000

interface ProduceParams {
  cluster_id: string
  topic_name: string
}

/**
 * A body whose Content-Length is at most this is read whole before its
 * records are produced: it cannot outgrow what the server holds for a
 * request anyway, and the records read at once would have been issued
 * together and answered in one piece by the stream too.
 */
export const WHOLE_BODY_BYTES = 64 * 1024

/** What this route's JSON parser hands on: the body, unread, for the handler to read as it arrives. */
class UnreadBody {
  readonly #stream: Readable
  constructor (stream: Readable) { this.#stream = stream }
  get stream (): Readable { return this.#stream }
}

/** What this route's JSON parser hands on for a body of known, small length (WHOLE_BODY_BYTES): its bytes. */
class WholeBody {
  readonly #bytes: Buffer
  constructor (bytes: Buffer) { this.#bytes = bytes }
  get bytes (): Buffer { return this.#bytes }
}

type RecordsOptions = Pick<ProduceStreamOptions<ProducedBatch>, 'produce' | 'report' | 'failure'>

/**
 * POST /v3/clusters/{cluster_id}/topics/{topic_name}/records: Confluent v3
 * produce. The body is read incrementally (see ProduceStream): a body of one
 * JSON object produces one record and answers its delivery report or an HTTP
 * error; a body of several concatenated JSON objects (Confluent's streaming
 * mode; NDJSON is a special case) answers 200 and one report or error object
 * per record, in request order, each written as soon as that record is durable.
 */
export const v3RecordsRoutes: FastifyPluginAsync = async (app) => {
  /** What to do to each open body once the server asks it to stop. */
  const open = new StopSlots()

  // Only this plugin's routes see the replaced parsers: a JSON body is handed on unread, any other is a 415.
  app.removeContentTypeParser('text/plain')
  app.removeContentTypeParser('application/json')
  app.addContentTypeParser('application/json', (request, payload, done) => {
    const length = Number(request.headers['content-length'])
    if (length > 0 && length <= WHOLE_BODY_BYTES && length <= request.routeOptions.bodyLimit) readWhole(payload, length, done)
    else done(null, new UnreadBody(payload))
  })

  installIdempotentProduce(app)

  // A long-lived producer would hold app.close() forever: end each stream where it is.
  app.addHook('preClose', async () => {
    open.stopAll()
  })

  app.post<{ Params: ProduceParams }>('/v3/clusters/:cluster_id/topics/:topic_name/records', {
    // The body is validated object by object in the handler, as it arrives.
    attachValidation: true,
    schema: {
      summary: 'Produce records (Confluent REST Proxy v3)',
      description: [
        'Without partition_id, a keyed record goes to the partition murmur2(key) picks (as Kafka\'s default partitioner) and an unkeyed one round-robin. Answers once the record is durable.',
        `Streaming mode: a body of several concatenated JSON objects (NDJSON is a special case; send it with \`Transfer-Encoding: chunked\` for as long as you like) is answered 200 with one delivery report or error object per record, in request order, as concatenated JSON (one per line). A chunked body, or one longer than ${WHOLE_BODY_BYTES / 1024} KiB, is read as it arrives and each record is produced as soon as it is parsed; its line is written once it and every record before it are durable. A shorter body with a Content-Length is read whole first, its records produced together and answered in one piece (the same lines). A body holding exactly one object keeps single-record semantics (the HTTP status is its outcome), so the first line is written once the second object begins (or the single answer once the body ends).`,
        `Limits: each object is bounded by the server's body limit (over it: 413 for the first object; later, an error line and the end of the response); the stream as a whole is not. At most ${MAX_RECORDS_IN_FLIGHT} records are in flight: beyond that, and while the client does not read the response, the request is not read. Malformed JSON mid-stream is answered with an error line at that point, then the response ends; records before it stay written and reported. A server shutting down ends open streams the same way (error_code 50301).`,
        'Idempotency-Key: a retry writes nothing and is given the first answer again, a stream\'s whole answer included. With a key the body is read whole before the first record is produced, so a stream is bounded by the body limit (over it: 413, nothing written).'
      ].join('\n\n'),
      operationId: 'produceRecord',
      tags: ['records'],
      params: {
        type: 'object',
        required: ['cluster_id', 'topic_name'],
        properties: { cluster_id: { type: 'string' }, topic_name: { type: 'string' } }
      },
      headers: IDEMPOTENCY_HEADERS,
      body: { $ref: 'ProduceRequest#' },
      response: {
        200: { description: 'The record is committed and flushed; in streaming mode, one report or error object per record', headers: REPLAYED_HEADERS, $ref: 'ProduceResponse#' },
        400: { description: 'The body is invalid (not JSON, schema, unknown field, bad base64 or timestamp)', $ref: 'ErrorResponse#' },
        404: { description: 'Unknown cluster, topic or partition', $ref: 'ErrorResponse#' },
        406: { description: 'The Accept header allows no JSON response', $ref: 'ErrorResponse#' },
        413: { description: 'The (first) JSON object is larger than the server\'s body limit', $ref: 'ErrorResponse#' },
        415: { description: 'The body is not application/json', $ref: 'ErrorResponse#' },
        409: IDEMPOTENCY_RESPONSES[409],
        422: { description: `The record is too large (max.message.bytes) or not valid for the topic; or ${KEY_REUSED}`, $ref: 'ErrorResponse#' },
        500: { description: 'Unexpected server error', $ref: 'ErrorResponse#' },
        503: { description: 'The log is not open yet, or the server is shutting down', $ref: 'ErrorResponse#' },
        507: { description: 'The log could not write to disk (for example the disk is nearly full); nothing was written', $ref: 'ErrorResponse#' }
      }
    }
  }, async (request, reply) => {
    const { cluster_id: clusterId, topic_name: topic } = request.params
    const log = await app.getLog()
    if (clusterId !== log.clusterId) throw clusterNotFound(clusterId)
    if (!log.hasTopic(topic)) throw unknownTopic(topic)
    const body: unknown = request.body
    // Only a request without a body (and without Content-Type) gets here unparsed.
    if (!(body instanceof UnreadBody) && !(body instanceof WholeBody)) throw request.validationError ?? new LogwayError('INVALID_REQUEST', 'The body must be a JSON object.')

    // Made at the first report: a single-record body writes none.
    let reportLines: ReturnType<typeof reportWriter> | undefined
    const check = bodyChecker(request)
    const claim = claimOf(request)
    const records: RecordsOptions = {
      produce: (values, firstIndex) => produceBatch(log, topic, values, check, claim === undefined ? undefined : { claim, firstIndex }),
      report: (produced, from, to, out) => { (reportLines ??= reportWriter(log.clusterId, topic))(produced, from, to, out) },
      failure: (err, index) => {
        const { status, body: error, unexpected } = renderError(err, request.routeOptions.config)
        // A record a retry may get written (a storage failure, a shutdown): the answer is not kept for the key.
        if (status >= 500) claim?.markIncomplete()
        if (unexpected) request.log.error({ err, record: index }, 'record failed')
        return { ...error, message: `record ${index}: ${error.message}` }
      }
    }
    let shape: ProduceBodyShape<ProducedBatch>
    if (body instanceof WholeBody) {
      // All read already: nothing to stop at shutdown, and no connection to close after an error.
      shape = await wholeBodyShape(body.bytes, { maxObjectBytes: request.routeOptions.bodyLimit, ...records })
    } else {
      const stream = new ProduceStream<ProducedBatch>({
        input: body.stream,
        maxObjectBytes: request.routeOptions.bodyLimit,
        maxInFlight: MAX_RECORDS_IN_FLIGHT,
        ...records
      })
      const slot = open.add(() => {
        stream.stop(new LogwayError('BROKER_NOT_AVAILABLE', 'The server is shutting down: records from here on were not read.'))
        // The client may still be sending: once the answer is out, drop the connection so the server can close.
        finished(reply.raw, () => { if (!request.raw.complete) request.raw.destroy() })
      })
      stream.finished.then(() => open.delete(slot))
      try {
        shape = await stream.shape
      } catch (err) {
        closeAfterReply(request, reply)
        throw err
      }
    }
    if (shape.mode === 'single') {
      const failure = shape.settled === undefined ? shape.error : shape.settled.failure(0)
      if (failure !== undefined) throw failure
      return { error_code: 200, ...(shape.settled as ProducedBatch).produced(0) }
    }
    return reply.type(`${request.responseType}; charset=utf-8`).send(shape.output)
  })
}

/**
 * Reads a body of `length` bytes whole and hands it on as a WholeBody; a
 * client that goes away first fails the request as it would a stream.
 */
function readWhole (payload: Readable, length: number, done: (err: Error | null, body?: unknown) => void): void {
  const bytes = Buffer.allocUnsafe(length)
  let at = 0
  const onData = (chunk: Buffer): void => {
    if (at + chunk.length <= length) chunk.copy(bytes, at)
    at += chunk.length
  }
  const onEnd = (): void => {
    payload.off('data', onData)
    payload.off('error', onError)
    // Node's parser frames the body by its Content-Length, so this does not happen from a socket.
    if (at !== length) done(new LogwayError('INVALID_REQUEST', `The body's length is not its Content-Length (${length} bytes).`))
    else done(null, new WholeBody(bytes))
  }
  const onError = (err: Error): void => {
    payload.off('data', onData)
    payload.off('end', onEnd)
    done(err)
  }
  payload.on('data', onData)
  payload.once('end', onEnd)
  payload.once('error', onError)
}

const REPORT_OPEN = Buffer.from('{"error_code":200,')

/**
 * The stop functions of open bodies, in reused slots. A Map with an entry
 * set and deleted per request (its first form) made request objects outlive
 * young-generation collections: at 8k single-record chunked requests/s every
 * scavenge (one each ~85 ms) promoted ~6 MB and took ~20 ms. In the slots of
 * an array that only grows to the peak of open bodies, none are promoted and
 * a scavenge takes ~2 ms.
 */
class StopSlots {
  readonly #slots: Array<(() => void) | undefined> = []
  readonly #free: number[] = []

  /** Keeps `stop`; returns its slot. */
  add (stop: () => void): number {
    const slot = this.#free.pop() ?? this.#slots.length
    this.#slots[slot] = stop
    return slot
  }

  delete (slot: number): void {
    this.#slots[slot] = undefined
    this.#free.push(slot)
  }

  stopAll (): void {
    for (const stop of this.#slots) stop?.()
  }
}

/**
 * Writes a streamed delivery report of the request's topic: the JSON text of
 * `{ error_code: 200, ...produced }`, in ProduceResponse's order, one line per record.
 */
function reportWriter (clusterId: string, topic: string): (produced: ProducedBatch, from: number, to: number, out: AnswerBuilder) => void {
  const fields = new ProducedText(clusterId, topic, '\n')
  return (produced, from, to, out) => {
    for (let i = from; i < to;) i += fields.alike(produced, i, to, out, REPORT_OPEN)
  }
}

/**
 * Validates objects against the route's body schema (ProduceRequest).
 * @throws a validation error, rendered as 400 like Fastify's own
 */
function bodyChecker (request: FastifyRequest): (value: object) => void {
  // The route's compiled body validator, called directly: a stream calls it once per record.
  const validate = request.getValidationFunction('body')
  if (validate === undefined) return value => checkBody(request, value)
  return value => { if (validate(value) !== true) checkBody(request, value) }
}

/**
 * Validates one object against the route's body schema (ProduceRequest).
 * @throws a validation error, rendered as 400 like Fastify's own
 */
function checkBody (request: FastifyRequest, value: object): void {
  if (request.validateInput(value, 'body')) return
  const [first] = request.getValidationFunction('body')?.errors ?? []
  throw Object.assign(new Error(`body${first?.instancePath ?? ''} ${first?.message ?? 'is not valid'}`), {
    statusCode: 400,
    validation: first === undefined ? [] : [first],
    validationContext: 'body'
  })
}

/** An error answered before the body was read to its end: close the connection after it, as Fastify does for a body it cannot parse. */
function closeAfterReply (request: FastifyRequest, reply: FastifyReply): void {
  if (!request.raw.complete && !reply.raw.headersSent) reply.header('connection', 'close')
}

/** Confluent answers an unknown cluster with a bare 404 (error_code 404); a 4xx statusCode renders that way. */
export function clusterNotFound (clusterId: string): Error {
  return Object.assign(new Error(`Cluster ${clusterId} cannot be found.`), { statusCode: 404 })
}
