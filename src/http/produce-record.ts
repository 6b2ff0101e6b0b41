import { LogwayError } from '../errors.js'
import type { LogStore } from '../log/log-store.js'
import type { AppendResult, RecordInput } from '../log/types.js'
import type { Outcome } from './produce-stream.js'
import { decodeBase64, recordDataBytes, type RecordData, type RecordDataType } from '../records/record-data.js'

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

/** The records of one call that go to one partition: one append. */
interface PartitionBatch {
  partition: number
  indexes: IndexList
  records: RecordInput[]
  /** What the keys and values were stored as, in runs of records alike: all a report needs besides the offset. */
  runs: DataRun[]
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
 * Produces records, each on its own: one that fails (`check` throws, bad
 * base64 or timestamp, invalid for the topic, unknown partition, a failed
 * commit) does not stop the others. Everything up to the appends (checks,
 * decoding, choosing partitions, queueing) happens synchronously in the call,
 * and the records that pass go to the log as one append per partition, so
 * they share one commit and keep their call order in each partition; calls
 * made in one synchronous block share the log's group commits too.
 * Without partition_id, a keyed record goes to murmur2(key), an unkeyed one round-robin.
 * Resolves once every record is durable or failed, with their outcomes in call order; never rejects.
 * @param check runs first on each body (a schema check); what it throws is that record's failure
 */
export function produceRecords (
  log: LogStore, topic: string, bodies: readonly object[], check?: (body: object) => void
): Promise<Array<Outcome<ProducedRecord>>> {
  const outcomes: Array<Outcome<ProducedRecord>> = new Array(bodies.length)
  // Not async itself, so that nothing holds the request bodies while the appends wait for their flush.
  return settle(log, topic, issueAppends(log, topic, bodies, outcomes, check), outcomes)
}

/** Decodes, checks and groups the records, fails those that do not pass, and issues one append per partition. */
function issueAppends (
  log: LogStore, topic: string, bodies: readonly object[], outcomes: Array<Outcome<ProducedRecord>>, check?: (body: object) => void
): Array<{ batch: PartitionBatch, result: Promise<AppendResult> }> {
  const batches = new Map<number, PartitionBatch>()
  for (let i = 0; i < bodies.length; i++) {
    const body = bodies[i] as ProduceRecordBody
    let record: RecordInput
    let partition: number
    try {
      check?.(body)
      record = toRecordInput(body)
      // Check before choosing a partition, so an unknown topic or a bad record does not move the round-robin.
      log.checkRecord(topic, record)
      partition = body.partition_id ?? log.partitionFor(topic, record.key)
    } catch (error) {
      outcomes[i] = { ok: false, error }
      continue
    }
    let batch = batches.get(partition)
    if (batch === undefined) {
      batch = { partition, indexes: new IndexList(), records: [], runs: [] }
      batches.set(partition, batch)
    }
    batch.indexes.push(i)
    batch.records.push(record)
    const keyType = record.key === null ? null : (body.key as RecordData).type
    const valueType = record.value === null ? null : (body.value as RecordData).type
    const keySize = record.key?.length ?? 0
    const valueSize = record.value?.length ?? 0
    const run = batch.runs.at(-1)
    if (run !== undefined && isData(run.key, keyType, keySize) && isData(run.value, valueType, valueSize)) {
      run.count++
    } else {
      batch.runs.push({
        count: 1,
        key: keyType === null ? null : { type: keyType, size: keySize },
        value: valueType === null ? null : { type: valueType, size: valueSize }
      })
    }
  }
  const appends: Array<{ batch: PartitionBatch, result: Promise<AppendResult> }> = []
  for (const batch of batches.values()) {
    appends.push({ batch, result: log.append(topic, batch.partition, batch.records) })
    // The log has encoded them: nothing needs the decoded records while the append waits for its flush.
    batch.records = []
  }
  return appends
}

/** Waits for the appends and fills in the outcome of each of their records. */
async function settle (
  log: LogStore, topic: string, appends: Array<{ batch: PartitionBatch, result: Promise<AppendResult> }>, outcomes: Array<Outcome<ProducedRecord>>
): Promise<Array<Outcome<ProducedRecord>>> {
  await Promise.all(appends.map(async ({ batch, result }) => {
    let appended: AppendResult
    try {
      appended = await result
    } catch (error) {
      for (let j = 0; j < batch.indexes.length; j++) outcomes[batch.indexes.at(j)] = { ok: false, error }
      return
    }
    const { baseOffset, timestamps } = appended
    let j = 0
    // Records alike share their (read-only) ProducedData: a writer can tell them alike at a glance.
    for (const { count, key, value } of batch.runs) {
      for (const end = j + count; j < end; j++) {
        outcomes[batch.indexes.at(j)] = {
          ok: true,
          value: {
            cluster_id: log.clusterId,
            topic_name: topic,
            partition_id: batch.partition,
            offset: baseOffset + j,
            timestamp: isoTimestamp(timestamps[j] ?? 0),
            key,
            value
          }
        }
      }
    }
  }))
  return outcomes
}

function isData (data: ProducedData | null, type: RecordDataType | null, size: number): boolean {
  return data === null ? type === null : data.type === type && data.size === size
}

/** The 404 for a topic named in the path that does not exist (rendered 40401). */
export function unknownTopic (topic: string): LogwayError {
  return new LogwayError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${topic}' does not exist.`, { topic })
}

/** @throws LogwayError INVALID_REQUEST (bad base64 or timestamp) */
function toRecordInput (body: ProduceRecordBody): RecordInput {
  const record: RecordInput = { key: recordDataBytes(body.key, 'key'), value: recordDataBytes(body.value, 'value') }
  if (body.headers !== undefined && body.headers.length > 0) {
    record.headers = body.headers.map((h, i) => ({
      key: h.name,
      value: h.value === null || h.value === undefined ? null : decodeBase64(h.value, `headers[${i}].value`)
    }))
  }
  const timestamp = parseTimestamp(body.timestamp)
  if (timestamp !== undefined) record.timestamp = timestamp
  return record
}

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
function isoTimestamp (ms: number): string {
  if (ms !== lastTimestamp) {
    lastIsoTimestamp = new Date(ms).toISOString()
    lastTimestamp = ms
  }
  return lastIsoTimestamp
}
