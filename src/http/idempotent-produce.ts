import { PassThrough, pipeline, Readable, Transform } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { LogwayError } from '../errors.js'
import { requestFingerprint, type IdempotencyClaim } from '../log/idempotency.js'
import { errorResponse } from './common-responses.js'

/** The request header naming an idempotency key (Fastify reads header names in lower case). */
export const IDEMPOTENCY_KEY = 'idempotency-key'
/** The response header of an answer given again from its key. */
export const IDEMPOTENT_REPLAYED = 'Idempotent-Replayed'

/** 1 to 255 printable ASCII characters. */
const KEY_PATTERN = /^[\x20-\x7e]{1,255}$/

/** The `headers` schema of a produce route: the optional Idempotency-Key. */
export const IDEMPOTENCY_HEADERS = {
  type: 'object',
  properties: {
    [IDEMPOTENCY_KEY]: {
      description: 'Makes the request idempotent: a retry with the same key and the same request (route, topic, partition, Content-Type and body bytes) writes nothing and is answered the first answer again, byte for byte, with `Idempotent-Replayed: true`; the same key with another request is refused (422, IDEMPOTENCY_KEY_REUSED); while the first request with the key is still being processed, another is refused (409, IDEMPOTENCY_KEY_IN_FLIGHT). Keys are scoped to the route and topic, survive restarts, and are forgotten idempotencyKeyTtlMs (default 24 h) after their first request. 1 to 255 printable ASCII characters (else 400). With a key the body is read whole before any record is written, so it is bounded by the server\'s body limit even in streaming mode.',
      type: 'string',
      minLength: 1,
      maxLength: 255,
      pattern: '^[ -~]+$'
    }
  }
} as const

/** The response headers of an answer that can be given again from its key. */
export const REPLAYED_HEADERS = {
  [IDEMPOTENT_REPLAYED]: { description: '`true` when the answer is that of an earlier request with the same Idempotency-Key, given again: nothing was written.', type: 'string', enum: ['true'] }
} as const

/** What an idempotency key adds to a produce route's answers. */
export const IDEMPOTENCY_RESPONSES = {
  409: errorResponse('A request with the same Idempotency-Key is still being processed (IDEMPOTENCY_KEY_IN_FLIGHT, 40904); nothing was written')
} as const

/** How a 422 of a produce route reads when an idempotency key is reused. */
export const KEY_REUSED = 'the Idempotency-Key was already used with a different request (IDEMPOTENCY_KEY_REUSED, 42209); nothing was written'

/** An answer kept for its key, to be given again byte for byte. */
interface KeptAnswer {
  status: number
  contentType: string
  body: Buffer
  /** The body was first sent as a stream (and is given again as one). */
  streamed: boolean
}

/** The first byte of a kept answer: the format of what follows. */
const ANSWER_FORMAT = 1
/** The flag (second byte) of an answer whose body was streamed. */
const STREAMED = 1
/** Format, flags, status (uint16) and the content type's length in bytes (uint32). */
const ANSWER_HEADER_BYTES = 8

interface Held {
  claim: IdempotencyClaim
  /** The route's handler ran: its answer is the request's, and may be kept. */
  handled: boolean
}

const held = new WeakMap<FastifyRequest, Held>()

/** The claim an idempotent request's appends are made under; undefined without an Idempotency-Key. */
export function claimOf (request: FastifyRequest): IdempotencyClaim | undefined {
  return held.get(request)?.claim
}

/**
 * Makes the produce routes of `app` (a route plugin; every route needs the
 * `topic_name` param) idempotent under the Idempotency-Key header:
 *
 * - before the body is parsed, the key is claimed in the route's and topic's
 *   scope (409 while another request holds it), the body is read whole and
 *   the request fingerprinted; an answer kept for the key is given again at
 *   once (422 when it was another request's), otherwise the body is handed
 *   on and the handler appends under the claim (`claimOf`);
 * - once the answer is made, it is kept before it is sent (a stream's as its
 *   last bytes are), so a retry that follows an answer always finds it. Only
 *   answers the handler made are kept, and only those below 500: a failure of
 *   the request's validation, or one a retry may get past, leaves the key
 *   free and what was written recorded, so a retry writes the rest.
 */
export function installIdempotentProduce (app: FastifyInstance): void {
  // Callback hooks: a request without a key costs no promise.
  app.addHook('preParsing', (request, reply, payload, done) => {
    if (request.headers[IDEMPOTENCY_KEY] === undefined) {
      done(null, payload)
      return
    }
    // A replayed answer is sent from here, and the request goes no further (done is not called).
    claimRequest(app, request, reply, payload).then(unread => { if (unread !== undefined) done(null, unread) }, done)
  })

  app.addHook('preHandler', (request, _reply, done) => {
    const entry = held.get(request)
    if (entry !== undefined) entry.handled = true
    done()
  })

  app.addHook('onSend', (request, reply, payload, done) => {
    const entry = held.get(request)
    if (entry === undefined) {
      done(null, payload)
      return
    }
    held.delete(request)
    const { claim, handled } = entry
    const answer = (body: ReadonlyArray<Buffer | string>, streamed: boolean): Buffer | undefined => handled && reply.statusCode < 500
      ? encodeAnswer(reply.statusCode, String(reply.getHeader('content-type') ?? ''), streamed, body)
      : undefined
    if (isReadable(payload)) {
      done(null, keptStream(payload, body => claim.finish(body === undefined ? undefined : answer(body, true))))
      return
    }
    const body = payload === undefined || payload === null ? [] : Buffer.isBuffer(payload) ? [payload] : [String(payload)]
    claim.finish(answer(body, false)).then(() => done(null, payload), done)
  })
}

/**
 * Claims the request's key, reads its body and looks the request up.
 * Resolves with the body, unread, for the request to go on under the claim;
 * or undefined once a kept answer has been sent.
 * @throws LogwayError INVALID_REQUEST (a bad key), IDEMPOTENCY_KEY_IN_FLIGHT, IDEMPOTENCY_KEY_REUSED;
 *   a 413 error (the body is over the route's limit)
 */
async function claimRequest (app: FastifyInstance, request: FastifyRequest, reply: FastifyReply, payload: Readable): Promise<Readable | undefined> {
  const key = request.headers[IDEMPOTENCY_KEY]
  if (typeof key !== 'string' || !KEY_PATTERN.test(key)) {
    throw new LogwayError('INVALID_REQUEST', 'The Idempotency-Key header must be 1 to 255 printable ASCII characters.')
  }
  const log = await app.getLog()
  const params = request.params as Record<string, string>
  const claim = log.idempotency.claim(`${request.method} ${request.routeOptions.url ?? ''} ${params.topic_name ?? ''}`, key)
  let body: Buffer
  try {
    body = await readBody(request, reply, payload)
  } catch (err) {
    await claim.finish()
    throw err
  }
  const kept = claim.check(requestFingerprint([
    request.method,
    request.routeOptions.url ?? '',
    Object.keys(params).sort().map(name => `${name}=${params[name] ?? ''}`).join('&'),
    request.headers['content-type'] ?? '',
    body
  ]))
  if (kept !== undefined) {
    const replay = decodeAnswer(kept)
    // Only bytes encodeAnswer wrote are kept under an HTTP scope: these are damaged.
    if (replay === undefined) throw new LogwayError('UNKNOWN_SERVER_ERROR', `The answer kept for Idempotency-Key '${key}' cannot be read.`)
    reply.code(replay.status).header('content-type', replay.contentType).header(IDEMPOTENT_REPLAYED, 'true')
      .send(replay.streamed ? Readable.from([replay.body]) : replay.body)
    return undefined
  }
  held.set(request, { claim, handled: false })
  const unread = new PassThrough()
  unread.end(body)
  return unread
}

/**
 * The whole body, at most the route's body limit.
 * @throws a 413 error beyond it (the rest of the body is read and dropped, so the client reads its answer)
 */
async function readBody (request: FastifyRequest, reply: FastifyReply, payload: Readable): Promise<Buffer> {
  const limit = request.routeOptions.bodyLimit ?? Infinity
  return await new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const tooLarge = (): void => {
      payload.off('data', onData)
      payload.off('end', onEnd)
      payload.resume()
      if (!request.raw.complete) reply.header('connection', 'close')
      reject(Object.assign(new Error(`Body too large: a request with an Idempotency-Key is read whole, and may be at most ${limit} bytes.`), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' }))
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limit) tooLarge()
      else chunks.push(chunk)
    }
    const onEnd = (): void => { resolve(Buffer.concat(chunks, size)) }
    if (Number(request.headers['content-length']) > limit) {
      tooLarge()
      return
    }
    payload.on('data', onData)
    payload.once('end', onEnd)
    payload.once('error', reject)
  })
}

/**
 * The streamed answer, passed through while its bytes are gathered: `keep`
 * gets them all (as the chunks they came in) before the stream's end is
 * passed on, or undefined once the stream failed or was cut short (the
 * client went away).
 */
function keptStream (payload: Readable, keep: (body: readonly Buffer[] | undefined) => Promise<unknown>): Readable {
  const chunks: Buffer[] = []
  const tee = new Transform({
    transform (chunk: Buffer, _encoding, done) {
      chunks.push(chunk)
      done(null, chunk)
    },
    flush (done) {
      keep(chunks).then(() => done(), done)
    }
  })
  pipeline(payload, tee, err => { if (err != null) keep(undefined).catch(() => {}) })
  return tee
}

/**
 * The bytes an answer is kept as, opaque to the log: a header of
 * ANSWER_HEADER_BYTES (ANSWER_FORMAT, flags, the status and the content
 * type's length in bytes, big-endian), the content type (UTF-8), then the
 * body, its parts (strings as UTF-8) one after another.
 */
function encodeAnswer (status: number, contentType: string, streamed: boolean, body: ReadonlyArray<Buffer | string>): Buffer {
  const typeBytes = Buffer.byteLength(contentType)
  let size = ANSWER_HEADER_BYTES + typeBytes
  for (const part of body) size += typeof part === 'string' ? Buffer.byteLength(part) : part.length
  const bytes = Buffer.allocUnsafe(size)
  bytes.writeUInt8(ANSWER_FORMAT, 0)
  bytes.writeUInt8(streamed ? STREAMED : 0, 1)
  bytes.writeUInt16BE(status, 2)
  bytes.writeUInt32BE(typeBytes, 4)
  let offset = ANSWER_HEADER_BYTES + bytes.write(contentType, ANSWER_HEADER_BYTES)
  for (const part of body) offset += typeof part === 'string' ? bytes.write(part, offset) : part.copy(bytes, offset)
  return bytes
}

/** The answer `encodeAnswer` wrote into `bytes`; undefined for bytes it cannot have written. */
function decodeAnswer (bytes: Buffer): KeptAnswer | undefined {
  if (bytes.length < ANSWER_HEADER_BYTES || bytes[0] !== ANSWER_FORMAT) return undefined
  const bodyStart = ANSWER_HEADER_BYTES + bytes.readUInt32BE(4)
  if (bodyStart > bytes.length) return undefined
  return {
    status: bytes.readUInt16BE(2),
    contentType: bytes.toString('utf8', ANSWER_HEADER_BYTES, bodyStart),
    body: bytes.subarray(bodyStart),
    streamed: ((bytes[1] as number) & STREAMED) !== 0
  }
}

function isReadable (payload: unknown): payload is Readable {
  return typeof payload === 'object' && payload !== null && typeof (payload as Readable).pipe === 'function'
}
