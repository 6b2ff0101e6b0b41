import { LogwayError } from '../errors.js'
import type { IdempotencyClaim } from '../log/idempotency.js'
import type { LogStore } from '../log/log-store.js'
import { RecordBatch, type BatchAppendResult } from '../log/record-batch.js'
import type { Outcome } from './produce-stream.js'
import { decodeBase64, writeRecordData, type RecordData, type RecordDataType } from '../records/record-data.js'

/** One record of a v3 produce request (schemas/ProduceRequest.json, and each entry of ProduceBatchRequest.json). */
export interface ProduceRecordBody {
  partition_id?: number | null
  headers?: Array<{ name: string, value?: string | null }>
  key?: RecordData | null
  value?: RecordData | null
  timestamp?: string | number | null
}

/** What a produced key or value was stored as (schemas/ProducedData.json). */
export interface ProducedData {
  type: RecordData['type']
  size: number
}

/** Where a record was written: the fields a v3 delivery report shares with a batch success entry. */
export interface ProducedRecord {
  cluster_id: string
  topic_name: string
  partition_id: number
  offset: number
  timestamp: string
  key: ProducedData | null
  value: ProducedData | null
}

interface DataRun {
  count: number
  key: ProducedData | null
  value: ProducedData | null
}

/**
 * Request indexes in increasing order, kept as a start and a count while
 * they are consecutive (the usual case), so that a batch waiting for its
 * flush holds no array with an entry per record.
 */
export class IndexList {
  #first = 0
  #count = 0
  #list: number[] | null = null

  get length (): number {
    return this.#count
  }

  push (index: number): void {
    if (this.#list === null && this.#count > 0 && index !== this.#first + this.#count) {
      this.#list = Array.from({ length: this.#count }, (_, j) => this.#first + j)
    }
    if (this.#list !== null) this.#list.push(index)
    else if (this.#count === 0) this.#first = index
    this.#count++
  }

  /** The `j`th index. */
  at (j: number): number {
    return this.#list === null ? this.#first + j : this.#list[j] as number
  }
}

/**
 * How the records of one produce call turned out, read record by record (by
 * their index in the call) rather than as an object per record: a stream
 * writes each report straight from here.
 */
export class ProducedBatch {
  /** The cluster and topic every record went to. */
  readonly clusterId: string
  readonly topic: string
  readonly count: number
  /** Failures before the log took the records (checks, decoding), by call index. */
  #early: Map<number, unknown> | undefined
  /** The call index of each record the log took, in order. */
  readonly #indexes = new IndexList()
  /** Each call index's place among the records the log took; null while it is the call index itself. */
  #places: number[] | null | undefined
  /** Keys and values as stored, in runs of records alike. */
  readonly #runs: DataRun[] = []
  #runStart = 0
  #run = 0
  #appended: BatchAppendResult | undefined

  constructor (clusterId: string, topic: string, count: number) {
    this.clusterId = clusterId
    this.topic = topic
    this.count = count
  }

  /** Why record `i` failed, or undefined when it is written. */
  failure (i: number): unknown {
    const j = this.#place(i)
    if (j < 0) return this.#early?.get(i)
    return (this.#appended as BatchAppendResult).failure(j)
  }

  /** The partition of written record `i`. */
  partition (i: number): number {
    return (this.#appended as BatchAppendResult).partition(this.#place(i))
  }

  /** The offset of written record `i`. */
  offset (i: number): number {
    return (this.#appended as BatchAppendResult).offset(this.#place(i))
  }

  /** The timestamp (ms since the epoch) written record `i` was stored with. */
  timestamp (i: number): number {
    return (this.#appended as BatchAppendResult).timestamp(this.#place(i))
  }

  /** What the key of written record `i` was stored as; records alike share one (read-only) object. */
  key (i: number): ProducedData | null {
    return this.#runAt(this.#place(i)).key
  }

  /** What the value of written record `i` was stored as; records alike share one (read-only) object. */
  value (i: number): ProducedData | null {
    return this.#runAt(this.#place(i)).value
  }

  /**
   * How many written records from `i` on (before `to`) are alike: in one
   * partition at consecutive offsets, with one timestamp, and keys and values
   * stored as the same types and sizes. At least 1.
   */
  alike (i: number, to: number): number {
    const j = this.#place(i)
    if (this.#places !== null || j < 0) return 1
    const run = this.#runAt(j)
    return (this.#appended as BatchAppendResult).alike(j, Math.min(to, this.#runStart + run.count))
  }

  /** Written record `i` as one object (a v3 delivery report without its error_code). */
  produced (i: number): ProducedRecord {
    return {
      cluster_id: this.clusterId,
      topic_name: this.topic,
      partition_id: this.partition(i),
      offset: this.offset(i),
      timestamp: isoTimestamp(this.timestamp(i)),
      key: this.key(i),
      value: this.value(i)
    }
  }

  /** For the produce call: record `i` failed before it reached the log. */
  fail (i: number, failure: unknown): void {
    this.#early ??= new Map()
    this.#early.set(i, failure)
  }

  /** For the produce call: record `i` is in the batch, stored with these key and value types and sizes. */
  took (i: number, keyType: RecordDataType | null, keySize: number, valueType: RecordDataType | null, valueSize: number): void {
    this.#indexes.push(i)
    const run = this.#runs.at(-1)
    if (run !== undefined && isData(run.key, keyType, keySize) && isData(run.value, valueType, valueSize)) {
      run.count++
      return
    }
    this.#runs.push({
      count: 1,
      key: keyType === null ? null : { type: keyType, size: keySize },
      value: valueType === null ? null : { type: valueType, size: valueSize }
    })
  }

  /** For the produce call: how the log's append turned out. */
  settle (appended: BatchAppendResult): this {
    this.#appended = appended
    return this
  }

  /** The call index of the log's record `j` (the records that failed before it reached the log are not in its batch). */
  callIndex (j: number): number {
    return this.#indexes.at(j)
  }

  /** Record `i`'s index in the log's batch, or -1 when it failed before. */
  #place (i: number): number {
    if (this.#places === undefined) {
      if (this.#early === undefined) {
        this.#places = null
      } else {
        const places = new Array<number>(this.count).fill(-1)
        for (let j = 0; j < this.#indexes.length; j++) places[this.#indexes.at(j)] = j
        this.#places = places
      }
    }
    return this.#places === null ? i : this.#places[i] as number
  }

  /** The run of the log's record `j`: reports read records in order, so the last run found is where to look first. */
  #runAt (j: number): DataRun {
    if (j < this.#runStart) {
      this.#run = 0
      this.#runStart = 0
    }
    for (;;) {
      const run = this.#runs[this.#run] as DataRun
      if (j < this.#runStart + run.count) return run
      this.#runStart += run.count
      this.#run++
    }
  }
}

/** A produce call made for an idempotent request: its claim, and the request index of the call's first record. */
export interface ClaimedCall {
  claim: IdempotencyClaim
  firstIndex: number
}

/**
 * Produces records, each on its own: one that fails (`check` throws, bad
 * base64 or timestamp, invalid for the topic, unknown partition, a failed
 * commit) does not stop the others. Everything up to the appends (checks,
 * encoding, choosing partitions, queueing) happens synchronously in the call,
 * and the records that pass go to the log as one batch, one append per
 * partition, so they share one commit and keep their call order in each
 * partition; calls made in one synchronous block share the log's group commits too.
 * Without partition_id, a keyed record goes to murmur2(key), an unkeyed one round-robin.
 * Resolves once every record is durable or failed; never rejects.
 * @param check runs first on each body (a schema check); what it throws is that record's failure
 * @param claimed for an idempotent request: records an earlier attempt wrote are reported, not written again
 */
export function produceBatch (log: LogStore, topic: string, bodies: readonly object[], check?: (body: object) => void, claimed?: ClaimedCall): Promise<ProducedBatch> {
  const produced = new ProducedBatch(log.clusterId, topic, bodies.length)
  // Not async itself, so that nothing holds the request bodies while the appends wait for their flush.
  return issueRecords(log, topic, bodies, produced, check, claimed).then(appended => produced.settle(appended))
}

/** `produceBatch`, with the outcome of each record as an object, in call order. */
export async function produceRecords (
  log: LogStore, topic: string, bodies: readonly object[], check?: (body: object) => void
): Promise<Array<Outcome<ProducedRecord>>> {
  const produced = await produceBatch(log, topic, bodies, check)
  const outcomes: Array<Outcome<ProducedRecord>> = new Array(produced.count)
  for (let i = 0; i < produced.count; i++) {
    const failure = produced.failure(i)
    outcomes[i] = failure === undefined ? { ok: true, value: produced.produced(i) } : { ok: false, error: failure }
  }
  return outcomes
}

/** Records take about this many bytes more in the log than their data. */
const RECORD_OVERHEAD = 32

/** Checks and encodes the records, fails those that do not pass, and hands the others to the log as one batch. */
function issueRecords (
  log: LogStore, topic: string, bodies: readonly object[], produced: ProducedBatch, check?: (body: object) => void, claimed?: ClaimedCall
): Promise<BatchAppendResult> {
  let batch: RecordBatch
  // An unknown topic (deleted since the request began) is each record's failure once it has passed its own checks.
  let topicError: unknown
  try {
    batch = log.recordBatch(topic, bodies.length * (RECORD_OVERHEAD + 128))
  } catch (error) {
    topicError = error
    batch = detachedBatch(topic)
  }
  for (let i = 0; i < bodies.length; i++) {
    const body = bodies[i] as ProduceRecordBody
    try {
      check?.(body)
      batch.begin()
      const hasKey = writeField(batch, body.key, 'key', true)
      const hasValue = writeField(batch, body.value, 'value', false)
      if (body.headers !== undefined) {
        for (let h = 0; h < body.headers.length; h++) {
          const { name, value } = body.headers[h] as { name: string, value?: string | null }
          batch.header(name, value === null || value === undefined ? null : decodeBase64(value, `headers[${h}].value`))
        }
      }
      const timestamp = parseTimestamp(body.timestamp)
      if (topicError !== undefined) throw topicError
      batch.end(timestamp, body.partition_id ?? undefined)
      produced.took(i, hasKey ? (body.key as RecordData).type : null, batch.lastKeySize, hasValue ? (body.value as RecordData).type : null, batch.lastValueSize)
    } catch (error) {
      produced.fail(i, error)
    }
  }
  if (claimed === undefined) return log.appendBatch(batch)
  const { claim, firstIndex } = claimed
  return log.appendBatch(batch, { claim, indexOf: j => firstIndex + produced.callIndex(j) })
}

/** Writes a key or value that has data; returns false (leaving it null) for one that has none. */
function writeField (batch: RecordBatch, data: RecordData | null | undefined, field: 'key' | 'value', key: boolean): boolean {
  if (data === null || data === undefined || data.data === null || data.data === undefined) return false
  if (key) batch.startKey()
  else batch.startValue()
  writeRecordData(batch, data, field)
  return true
}

/** A batch for no topic of the log: records are encoded (so that their own errors come first) and never appended. */
function detachedBatch (topic: string): RecordBatch {
  return new RecordBatch({ name: topic, partitionCount: 1, timestampType: 'CreateTime', maxMessageBytes: Infinity, keyRequired: false }, 0)
}

function isData (data: ProducedData | null, type: RecordDataType | null, size: number): boolean {
  return data === null ? type === null : data.type === type && data.size === size
}

/** The 404 for a topic named in the path that does not exist (rendered 40401). */
export function unknownTopic (topic: string): LogwayError {
  return new LogwayError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${topic}' does not exist.`, { topic })
}

/** @throws LogwayError INVALID_REQUEST (a bad timestamp) */
function parseTimestamp (timestamp: string | number | null | undefined): number | undefined {
  if (timestamp === null || timestamp === undefined) return undefined
  if (typeof timestamp === 'number') return timestamp
  const ms = Date.parse(timestamp)
  if (Number.isNaN(ms) || ms < 0) throw new LogwayError('INVALID_REQUEST', `timestamp ${timestamp} is not a valid date-time.`)
  return ms
}

let lastTimestamp = Number.NaN
let lastIsoTimestamp = ''

/** A timestamp in ISO 8601 UTC; the records of one append mostly share theirs, so the last one is kept. */
export function isoTimestamp (ms: number): string {
  if (ms !== lastTimestamp) {
    lastIsoTimestamp = new Date(ms).toISOString()
    lastTimestamp = ms
  }
  return lastIsoTimestamp
}
