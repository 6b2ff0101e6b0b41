import { isLogwayError, type ErrorCode } from '../errors.js'
import type { StoredRecord } from '../log/types.js'
import { renderBytes, type RecordFormat } from '../records/record-data.js'

/** The data of a `record` or `tombstone` event (schemas/SseRecordEvent.json). */
export interface SseRecordData {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: unknown
  value: unknown
  headers: Array<{ name: string, value: string | null }>
}

/** The data of a `stream-error` event (schemas/SseErrorEvent.json). */
export interface SseErrorData {
  code: ErrorCode
  message: string
}

/**
 * One record as an SSE event: `event: record`, or `event: tombstone` when its
 * value is null; `id:` the stream's position after it (see sse-event-id.ts);
 * `data:` one line of JSON (JSON.stringify escapes every line break).
 * @throws LogwayError INVALID_RECORD when `format` is json and the key or value is not JSON
 */
export function recordEvent (topic: string, partition: number, record: StoredRecord, format: RecordFormat, id: string): string {
  const data: SseRecordData = {
    topic,
    partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: renderBytes(record.key, format, `key at offset ${record.offset} of partition ${partition}`),
    value: renderBytes(record.value, format, `value at offset ${record.offset} of partition ${partition}`),
    headers: record.headers.map(h => ({ name: h.key, value: h.value === null ? null : h.value.toString('base64') }))
  }
  return `event: ${record.value === null ? 'tombstone' : 'record'}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`
}

/**
 * The last event of a stream that cannot go on: `event: stream-error` (not
 * `error`, which EventSource also fires for network failures) with the
 * stable code and message. It has no id, so Last-Event-ID still names the
 * position of the last record delivered. Unexpected failures are not
 * described: their cause is logged, never sent.
 */
export function errorEvent (err: unknown): string {
  const data: SseErrorData = isLogwayError(err) && err.code !== 'UNKNOWN_SERVER_ERROR'
    ? { code: err.code, message: err.message }
    : { code: 'UNKNOWN_SERVER_ERROR', message: 'An unexpected server error ended the stream.' }
  return `event: stream-error\ndata: ${JSON.stringify(data)}\n\n`
}
