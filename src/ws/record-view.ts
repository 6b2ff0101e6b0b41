import type { StoredRecord } from '../log/types.js'
import { renderBytes, type RecordFormat } from '../records/record-data.js'
import type { RecordView } from './ws-frames.js'

/**
 * A stored record as a `records` frame carries it: key and value in
 * `format` (as v3 fetch renders them), header values in base64.
 * @throws LogwayError INVALID_RECORD when `format` is json and the key or value is not JSON
 */
export function recordView (topic: string, partition: number, record: StoredRecord, format: RecordFormat): RecordView {
  return {
    topic,
    partition,
    offset: record.offset,
    timestamp: record.timestamp,
    key: renderBytes(record.key, format, `key at offset ${record.offset} of ${topic}-${partition}`),
    value: renderBytes(record.value, format, `value at offset ${record.offset} of ${topic}-${partition}`),
    headers: record.headers.map(h => ({ name: h.key, value: h.value === null ? null : h.value.toString('base64') }))
  }
}

/**
 * The bytes a record counts against byte credits: its key, value, header
 * names (UTF-8) and header values as stored, whatever format they are sent in.
 */
export function recordBytes (record: StoredRecord): number {
  let bytes = (record.key?.length ?? 0) + (record.value?.length ?? 0)
  for (const header of record.headers) bytes += Buffer.byteLength(header.key) + (header.value?.length ?? 0)
  return bytes
}
