import { LogwayError } from '../errors.js'
import type { LogStore } from '../log/log-store.js'
import type { RecordHeader, RecordInput } from '../log/types.js'
import { decodeBase64, recordDataBytes, type RecordData } from './record-data.js'

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

/**
 * Produces one record and resolves once it is durable. Everything up to the
 * append (decoding, checks, choosing the partition, queueing the append)
 * happens synchronously in the call, so records produced in one synchronous
 * block share the log's group commits and keep their call order in each partition.
 * Without partition_id, a keyed record goes to murmur2(key), an unkeyed one round-robin.
 * @throws LogwayError INVALID_REQUEST (bad base64 or timestamp) and whatever LogStore.append throws
 */
export async function produceRecord (log: LogStore, topic: string, body: ProduceRecordBody): Promise<ProducedRecord> {
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
    cluster_id: log.clusterId,
    topic_name: topic,
    partition_id: partition,
    offset: result.baseOffset,
    timestamp: new Date(result.timestamps[0] ?? 0).toISOString(),
    key: key === null || body.key == null ? null : { type: body.key.type, size: key.length },
    value: value === null || body.value == null ? null : { type: body.value.type, size: value.length }
  }
}

/** The 404 for a topic named in the path that does not exist (rendered 40401). */
export function unknownTopic (topic: string): LogwayError {
  return new LogwayError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${topic}' does not exist.`, { topic })
}

function parseTimestamp (timestamp: string | number | null | undefined): number | undefined {
  if (timestamp === null || timestamp === undefined) return undefined
  if (typeof timestamp === 'number') return timestamp
  const ms = Date.parse(timestamp)
  if (Number.isNaN(ms) || ms < 0) throw new LogwayError('INVALID_REQUEST', `timestamp ${timestamp} is not a valid date-time.`)
  return ms
}
