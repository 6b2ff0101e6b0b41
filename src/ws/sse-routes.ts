import type { ServerResponse } from 'node:http'
import { finished } from 'node:stream/promises'
import type { FastifyBaseLogger, FastifyPluginAsync } from 'fastify'
import type { Clock } from '../clock.js'
import { LogwayError } from '../errors.js'
import { validateGroupId } from '../groups/group-coordinator.js'
import type { OffsetResetPolicy } from '../groups/types.js'
import type { LogStore } from '../log/log-store.js'
import type { RecordFormat } from '../records/record-data.js'
import { parseEventId } from './sse-event-id.js'
import { errorEvent } from './sse-events.js'
import { SseGroupReader } from './sse-group-reader.js'
import { SsePartitionReader } from './sse-partition-reader.js'
import { SseStream } from './sse-stream.js'

/** Settings of the SSE endpoint; every one has a default. */
export interface SseRoutesOptions {
  clock: Clock
  /** How often an idle (or busy) stream sends a `: keep-alive` comment (default 15 s: under the 30 to 60 s idle timeouts of common proxies). */
  heartbeatIntervalMs?: number
  /** The `retry:` sent first: how long EventSource waits before reconnecting (default 3 s). */
  retryMs?: number
  /** Bytes queued per stream before it waits for the client (default 64 KiB). */
  bufferBytes?: number
  /** Records (default 500) and stored bytes (default 256 KiB, soft) of one read of the log. */
  readMaxRecords?: number
  readMaxBytes?: number
  /** Group members' session timeout (default 45 s, Kafka's) and how long a rebalance waits for one (default 60 s). */
  groupSessionTimeoutMs?: number
  groupRebalanceTimeoutMs?: number
  /** While the server closes, how long a stream's last bytes may take to leave before its connection is cut (default 2 s). */
  closeGraceMs?: number
}

interface EventsParams {
  cluster_id: string
  topic_name: string
}

interface EventsQuery {
  partitions?: string
  from?: string
  from_timestamp?: number
  format: RecordFormat
  group?: string
  auto_offset_reset?: OffsetResetPolicy
}

interface EventsHeaders {
  'last-event-id'?: string
}

/** Writes events until the stream stops; `close` releases what it holds (never throws). */
interface RecordSource {
  run (stream: SseStream): Promise<void>
  close (): Promise<void>
}

interface Session {
  stream: SseStream
  raw: ServerResponse
  /** Settles once the source is closed and the body ended. */
  done: Promise<void>
}

const EVENT_STREAM = 'text/event-stream'

const STREAM_DESCRIPTION = [
  'A `text/event-stream` for EventSource. It starts with `retry: <ms>`, then sends one event per record:',
  '`event: record` (or `event: tombstone` when the value is null), `id:` the stream\'s position after the record',
  '(the next offset of every partition of the stream as `partition:offset` pairs in ascending partition order, `partition:` left out when it is the previous one plus 1:',
  '`0:12,7,0` is partition 0 at 12, 1 at 7, 2 at 0), and `data:` one SseRecordEvent JSON object.',
  'A `: keep-alive` comment goes out every 15 s. A stream that cannot go on (topic deleted, records removed by retention before they were read,',
  'a value that is not JSON with format=json) ends with `event: stream-error` and an SseErrorEvent.'
].join(' ')

/**
 * GET /v3/clusters/{c}/topics/{t}/events: a topic as Server-Sent Events, for
 * browsers' EventSource. Either a positional reader of some or all
 * partitions (resumed exactly by Last-Event-ID), or, with `group`, a member
 * of a consumer group that commits what it sent. Every stream ends when the
 * client goes away or the server closes; app.close() waits for none.
 */
export const sseRoutes: FastifyPluginAsync<SseRoutesOptions> = async (app, options) => {
  const clock = options.clock
  const heartbeatIntervalMs = options.heartbeatIntervalMs ?? 15_000
  const retryMs = options.retryMs ?? 3_000
  const bufferBytes = options.bufferBytes ?? 65_536
  const readMaxRecords = options.readMaxRecords ?? 500
  const readMaxBytes = options.readMaxBytes ?? 262_144
  const closeGraceMs = options.closeGraceMs ?? 2_000
  const sessions = new Set<Session>()
  let closing = false

  app.addHook('preClose', async () => {
    closing = true
    await Promise.all([...sessions].map(async session => await closeForShutdown(session, clock, closeGraceMs)))
  })

  app.get<{ Params: EventsParams, Querystring: EventsQuery, Headers: EventsHeaders }>('/v3/clusters/:cluster_id/topics/:topic_name/events', {
    config: { produces: [EVENT_STREAM] },
    // A HEAD would start a stream only to throw it away.
    exposeHeadRoute: false,
    schema: {
      summary: 'Stream a topic\'s records as Server-Sent Events',
      description: [
        'Without `group`: streams `partitions` (default: all the topic has now) from `from` (default `latest`) or `from_timestamp`;',
        'a `Last-Event-ID` header (EventSource sends it when it reconnects) overrides the start of every partition it names, so the stream resumes exactly after the last event received.',
        'With `group`: the stream is a member of that consumer group (the same groups as REST v2 consumers): it gets the partitions the group assigns it,',
        'starts each at the group\'s committed offset (else where `auto_offset_reset` says), commits what it sent every 5 s, before a rebalance takes partitions away and when it ends, and then leaves the group.',
        '`partitions`, `from`, `from_timestamp` and Last-Event-ID do not apply to a group stream. Errors found before the stream starts are answered as JSON like every other route.'
      ].join(' '),
      operationId: 'streamTopicEvents',
      tags: ['records'],
      params: {
        type: 'object',
        required: ['cluster_id', 'topic_name'],
        properties: {
          cluster_id: { type: 'string' },
          topic_name: { type: 'string' }
        }
      },
      querystring: {
        type: 'object',
        properties: {
          partitions: { description: 'Comma-separated partition ids (default: every partition of the topic when the stream starts).', type: 'string', pattern: '^\\d{1,5}(,\\d{1,5})*$' },
          from: { description: 'Where each partition starts: `earliest` (the log start), `latest` (the log end; the default) or an offset, the same for every partition.', type: 'string', pattern: '^(\\d{1,16}|earliest|latest)$' },
          from_timestamp: { description: 'Start each partition at its first record at or after this time (ms since the epoch; the log end when there is none). Not with `from`.', type: 'integer', minimum: 0, maximum: 9007199254740991 },
          format: {
            description: 'How keys and values are rendered: binary (base64), string (UTF-8 text), json (the parsed JSON value; a record that is not JSON ends the stream with a stream-error event).',
            type: 'string',
            enum: ['binary', 'string', 'json'],
            default: 'binary'
          },
          group: { description: 'Consume as a member of this consumer group.', type: 'string', minLength: 1, maxLength: 255 },
          auto_offset_reset: { description: 'With `group`: where a partition without a committed offset starts (default latest); `none` ends the stream with NO_OFFSET_FOR_PARTITION.', type: 'string', enum: ['earliest', 'latest', 'none'] }
        }
      },
      headers: {
        type: 'object',
        properties: {
          'last-event-id': { description: 'The id of the last event received: the stream resumes right after it (not with `group`).', type: 'string' }
        }
      },
      response: {
        200: { description: 'The stream of events', content: { [EVENT_STREAM]: { schema: { type: 'string', description: STREAM_DESCRIPTION } } } },
        400: { description: 'Invalid parameters or Last-Event-ID, or a start offset out of range (OFFSET_OUT_OF_RANGE, 40002)', $ref: 'ErrorResponse#' },
        404: { description: 'Unknown cluster, topic (40401) or partition (40402)', $ref: 'ErrorResponse#' },
        409: { description: 'The consumer group is full (GROUP_MAX_SIZE_REACHED)', $ref: 'ErrorResponse#' },
        507: { description: 'A new consumer group could not be written (KAFKA_STORAGE_ERROR)', $ref: 'ErrorResponse#' }
      }
    }
  }, async (request, reply) => {
    const { cluster_id: clusterId, topic_name: topic } = request.params
    const query = request.query
    const log = await app.getLog()
    if (clusterId !== log.clusterId) throw Object.assign(new Error(`Cluster ${clusterId} cannot be found.`), { statusCode: 404 })
    if (!log.hasTopic(topic)) throw new LogwayError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${topic}' does not exist.`, { topic })

    let source: RecordSource
    if (query.group !== undefined) {
      for (const name of ['partitions', 'from', 'from_timestamp'] as const) {
        if (query[name] !== undefined) throw new LogwayError('INVALID_REQUEST', `${name} does not apply to a group stream: the group assigns the partitions and its committed offsets say where they start.`)
      }
      validateGroupId(query.group)
      source = await SseGroupReader.join({
        log,
        groups: await app.getGroups(),
        clock,
        groupId: query.group,
        topic,
        format: query.format,
        autoOffsetReset: query.auto_offset_reset ?? 'latest',
        sessionTimeoutMs: options.groupSessionTimeoutMs ?? 45_000,
        rebalanceTimeoutMs: options.groupRebalanceTimeoutMs ?? 60_000,
        maxBytes: readMaxBytes,
        pollTimeoutMs: 5_000,
        clientHost: request.ip,
        onBackgroundError: (err, what) => request.log.warn({ err }, `${what} failed`)
      })
    } else {
      if (query.auto_offset_reset !== undefined) throw new LogwayError('INVALID_REQUEST', 'auto_offset_reset applies to group streams only: give group, or start with from.')
      source = new SsePartitionReader({
        log,
        topic,
        positions: startPositions(log, topic, query, request.headers['last-event-id']),
        format: query.format,
        maxRecords: readMaxRecords,
        maxBytes: readMaxBytes,
        waitMs: 60_000
      })
    }

    // The server began closing while this request joined its group: a stream started now would never be ended.
    if (closing) {
      await source.close()
      throw new LogwayError('BROKER_NOT_AVAILABLE', 'The server is shutting down.')
    }
    const stream = new SseStream({ clock, heartbeatIntervalMs, retryMs, highWaterMarkBytes: bufferBytes })
    // The response's close (not the request's) tells that the client went away.
    reply.raw.once('close', () => stream.stop())
    const session: Session = { stream, raw: reply.raw, done: run(stream, source, request.log) }
    sessions.add(session)
    session.done.finally(() => sessions.delete(session)).catch(() => {})
    return await reply
      .header('cache-control', 'no-cache')
      // Tells nginx not to buffer the stream.
      .header('x-accel-buffering', 'no')
      .type(`${EVENT_STREAM}; charset=utf-8`)
      .send(stream.body)
  })
}

/** Runs a source until its stream stops; a failure becomes the stream's last event. Never rejects. */
async function run (stream: SseStream, source: RecordSource, log: FastifyBaseLogger): Promise<void> {
  try {
    await source.run(stream)
  } catch (err) {
    if (err instanceof LogwayError && err.code !== 'UNKNOWN_SERVER_ERROR') log.debug({ code: err.code, message: err.message }, 'event stream ended by an error')
    else log.error({ err }, 'event stream failed')
    stream.write(errorEvent(err))
  } finally {
    await source.close()
    stream.end()
  }
}

/**
 * Where each partition of a stream without a group starts: at the offset
 * Last-Event-ID names for it, else at `from` / `from_timestamp`.
 * @throws LogwayError INVALID_REQUEST, UNKNOWN_TOPIC_OR_PARTITION (with the partition), OFFSET_OUT_OF_RANGE
 */
function startPositions (log: LogStore, topic: string, query: EventsQuery, lastEventId: string | undefined): Map<number, number> {
  if (query.from !== undefined && query.from_timestamp !== undefined) throw new LogwayError('INVALID_REQUEST', 'Give from or from_timestamp, not both.')
  const partitions = query.partitions === undefined
    ? log.partitions(topic).map(p => p.partition)
    : [...new Set(query.partitions.split(',').map(Number))].sort((a, b) => a - b)
  const resume = lastEventId === undefined || lastEventId === '' ? new Map<number, number>() : parseEventId(lastEventId)
  const positions = new Map<number, number>()
  for (const partition of partitions) {
    const { logStartOffset, logEndOffset } = log.partitionInfo(topic, partition)
    const from = query.from ?? 'latest'
    const offset = resume.get(partition) ?? (
      query.from_timestamp !== undefined
        ? log.offsetForTimestamp(topic, partition, query.from_timestamp)?.offset ?? logEndOffset
        : from === 'earliest' ? logStartOffset : from === 'latest' ? logEndOffset : Number(from))
    if (offset < logStartOffset || offset > logEndOffset) {
      throw new LogwayError('OFFSET_OUT_OF_RANGE',
        `Offset ${offset} is out of range for ${topic}-${partition}: the log holds offsets ${logStartOffset} to ${logEndOffset} (end, exclusive).`,
        { logStartOffset, logEndOffset })
    }
    positions.set(partition, offset)
  }
  return positions
}

/**
 * Ends a stream for a server that is closing: the source stops (a group
 * member commits and leaves), the body ends, and the response gets to send
 * what is queued; a client that is not reading is cut off at once, one that
 * is slow after `graceMs`, so that app.close() never waits on a client.
 */
async function closeForShutdown (session: Session, clock: Clock, graceMs: number): Promise<void> {
  const { stream, raw } = session
  stream.stop()
  await session.done
  if (raw.writableFinished || raw.destroyed) return
  if (raw.writableNeedDrain || stream.congested) {
    raw.destroy()
    return
  }
  const timer = clock.setTimeout(() => raw.destroy(), graceMs)
  try {
    await finished(raw)
  } catch {
    // Cut off, or the client went away meanwhile: either way it is over.
  } finally {
    clock.clearTimeout(timer)
  }
}
