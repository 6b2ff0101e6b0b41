import { isLogwayError, LogwayError } from '../errors.js'
import { requestFingerprint, type IdempotencyClaim } from '../log/idempotency.js'
import type { LogStore } from '../log/log-store.js'
import type { AppendResult, RecordInput } from '../log/types.js'
import { decodeBase64, recordDataBytes } from '../records/record-data.js'
import type { ProduceFrame, ProduceRecordFrame, ServerFrame } from './ws-frames.js'

type AckFrame = Extract<ServerFrame, { type: 'ack' }>
type AckResult = AckFrame['results'][number]

/**
 * Produces the records of one `produce` frame; with an `idempotency_key`,
 * at most once (see IdempotencyStore): a frame like one already acked (the
 * same key, and the same frame but for its id) writes nothing and gets that
 * ack again with its own id; the records a failed frame did write are not
 * written again by its retry. Keys live in a scope of their own per topic.
 * Only acks are kept for a key: a frame that fails leaves it free.
 * @throws LogwayError IDEMPOTENCY_KEY_REUSED, IDEMPOTENCY_KEY_IN_FLIGHT, and what `appendFrame` throws
 */
export function produceFrame (log: LogStore, frame: ProduceFrame): Promise<AckFrame> {
  if (frame.idempotency_key === undefined) {
    let issued: IssuedFrame
    try {
      issued = issueFrame(log, frame, undefined)
    } catch (err) {
      return Promise.reject(err)
    }
    return ackOf(issued)
  }
  return produceIdempotent(log, frame, frame.idempotency_key)
}

async function produceIdempotent (log: LogStore, frame: ProduceFrame, key: string): Promise<AckFrame> {
  const claim = log.idempotency.claim(`ws produce ${frame.topic}`, key)
  const { id, ...request } = frame
  const kept = claim.check(requestFingerprint([canonicalJson(request)]))
  if (kept !== undefined) return { type: 'ack', id, topic: frame.topic, results: decodeResults(kept, key) }
  let ack: AckFrame
  try {
    ack = await ackOf(issueFrame(log, frame, claim))
  } catch (err) {
    await claim.finish()
    throw err
  }
  await claim.finish(Buffer.from(JSON.stringify(ack.results)))
  return ack
}

/**
 * The results of an ack, from the bytes they were kept as for its key (their JSON).
 * @throws LogwayError UNKNOWN_SERVER_ERROR (bytes that are not such results: damaged)
 */
function decodeResults (kept: Buffer, key: string): AckResult[] {
  let results: unknown
  try {
    results = JSON.parse(kept.toString('utf8'))
  } catch {}
  if (!Array.isArray(results)) throw new LogwayError('UNKNOWN_SERVER_ERROR', `The ack kept for idempotency_key '${key}' cannot be read.`)
  return results as AckResult[]
}

/**
 * A frame whose appends are issued: what its ack needs, and nothing of the
 * frame itself, so that the parsed frame is garbage while the appends wait
 * for their flush (a frame of 100 records held that long survives young
 * garbage collections and is promoted).
 */
interface IssuedFrame {
  id: string
  topic: string
  /** Filled in beforehand for the records an earlier attempt wrote, the others once their append settles. */
  results: AckResult[]
  appends: Array<{ indexes: number[], result: Promise<AppendResult> }>
}

/**
 * Issues the appends of one `produce` frame: decoding, checks against the
 * topic, choosing partitions and the appends themselves happen synchronously
 * in the call, so appends of frames handled one after another reach each
 * partition in frame order; the records of the frame that go to one
 * partition are one atomic append. A record that fails a check fails the
 * frame before anything is written.
 * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION, INVALID_REQUEST, MESSAGE_TOO_LARGE, INVALID_RECORD, INVALID_TIMESTAMP
 */
function issueFrame (log: LogStore, frame: ProduceFrame, claim: IdempotencyClaim | undefined): IssuedFrame {
  const { topic } = frame
  const count = frame.records.length
  const partitions = new Array<number>(count)
  const batches = new Map<number, { records: RecordInput[], indexes: number[] }>()
  const partitionCount = log.describeTopic(topic).partitionCount
  const inputs = frame.records.map((record, i) => {
    const input = withIndex(i, () => toRecordInput(record))
    withIndex(i, () => log.checkRecord(topic, input))
    return input
  })
  for (let i = 0; i < count; i++) {
    const input = inputs[i] as RecordInput
    const chosen = frame.records[i]?.partition ?? frame.partition
    if (chosen !== undefined && chosen >= partitionCount) {
      throw new LogwayError('UNKNOWN_TOPIC_OR_PARTITION', `records[${i}]: partition ${chosen} of topic '${topic}' does not exist (it has ${partitionCount}).`, { topic, partition: chosen })
    }
    partitions[i] = chosen ?? log.partitionFor(topic, input.key)
  }
  const results = new Array<AckResult>(count)
  for (let i = 0; i < count; i++) {
    // Written by an earlier attempt of the frame: reported where it is.
    const written = claim?.written(i)
    if (written !== undefined) {
      results[i] = written
      continue
    }
    const partition = partitions[i] as number
    let batch = batches.get(partition)
    if (batch === undefined) {
      batch = { records: [], indexes: [] }
      batches.set(partition, batch)
    }
    batch.records.push(inputs[i] as RecordInput)
    batch.indexes.push(i)
  }
  const appends: Array<{ indexes: number[], result: Promise<AppendResult> }> = []
  for (const [partition, batch] of batches) {
    appends.push({ indexes: batch.indexes, result: log.append(topic, partition, batch.records, claim === undefined ? undefined : { claim, indexes: batch.indexes }) })
  }
  return { id: frame.id, topic, results, appends }
}

/**
 * The ack of an issued frame, once every append is durable.
 * @throws LogwayError from the appends: KAFKA_STORAGE_ERROR, BROKER_NOT_AVAILABLE (then records that went to other partitions may be written)
 */
async function ackOf ({ id, topic, results, appends }: IssuedFrame): Promise<AckFrame> {
  const settled = await Promise.allSettled(appends.map(a => a.result))
  let failure: unknown
  settled.forEach((outcome, j) => {
    if (outcome.status === 'rejected') {
      failure ??= outcome.reason
      return
    }
    const { partition, baseOffset, timestamps } = outcome.value
    const { indexes } = appends[j] as { indexes: number[] }
    indexes.forEach((index, k) => { results[index] = { partition, offset: baseOffset + k, timestamp: timestamps[k] ?? 0 } })
  })
  if (failure !== undefined) throw failure
  return { type: 'ack', id, topic, results }
}

/** Runs a check of record `index`, naming the record in the message of what it throws. */
function withIndex<T> (index: number, check: () => T): T {
  try {
    return check()
  } catch (err) {
    if (!isLogwayError(err)) throw err
    throw new LogwayError(err.code, `records[${index}]: ${err.message}`, err.details, { cause: err })
  }
}

/** @throws LogwayError INVALID_REQUEST (bad base64 or timestamp) */
function toRecordInput (record: ProduceRecordFrame): RecordInput {
  const input: RecordInput = { key: recordDataBytes(record.key, 'key'), value: recordDataBytes(record.value, 'value') }
  if (record.headers !== undefined && record.headers.length > 0) {
    input.headers = record.headers.map((h, i) => ({
      key: h.name,
      value: h.value === null || h.value === undefined ? null : decodeBase64(h.value, `headers[${i}].value`)
    }))
  }
  if (typeof record.timestamp === 'number') {
    input.timestamp = record.timestamp
  } else if (typeof record.timestamp === 'string') {
    const ms = Date.parse(record.timestamp)
    if (Number.isNaN(ms) || ms < 0) throw new LogwayError('INVALID_REQUEST', `timestamp ${JSON.stringify(record.timestamp)} is not a valid date-time.`)
    input.timestamp = ms
  }
  return input
}

/** JSON text with every object's keys in sorted order: frames alike but for their key order read the same. */
function canonicalJson (value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const object = value as Record<string, unknown>
    return `{${Object.keys(object).sort().map(key => `${JSON.stringify(key)}:${canonicalJson(object[key])}`).join(',')}}`
  }
  return JSON.stringify(value)
}
