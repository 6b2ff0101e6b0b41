import type { RecordHeader, StoredRecord, TimestampType } from './types.js'

// Layout of a stored record (little-endian):
//   u8  flags        bit0 key is null, bit1 value is null, bit2 LogAppendTime
//   f64 timestamp    ms since the epoch
//   f64 position     bytes appended to the partition before this record
//   u32 key length, key bytes
//   u32 value length, value bytes
//   u32 header count, then per header: u32 name length, name (UTF-8), i32 value length (-1 null), value
const KEY_NULL = 1
const VALUE_NULL = 2
const LOG_APPEND_TIME = 4
const FIXED_BYTES = 1 + 8 + 8 + 4 + 4 + 4
export const POSITION_AT = 9
/** Where a record's key length is: after its flags, timestamp and position. */
export const KEY_AT = 17

/** The flags byte of a record. */
export function recordFlags (keyNull: boolean, valueNull: boolean, timestampType: TimestampType): number {
  return (keyNull ? KEY_NULL : 0) | (valueNull ? VALUE_NULL : 0) | (timestampType === 'LogAppendTime' ? LOG_APPEND_TIME : 0)
}

/** The encoded size of a record, without encoding it. */
export function encodedSize (key: Uint8Array | null, value: Uint8Array | null, headers: readonly RecordHeader[]): number {
  let size = FIXED_BYTES + (key?.length ?? 0) + (value?.length ?? 0)
  for (const h of headers) size += 8 + Buffer.byteLength(h.key) + (h.value?.length ?? 0)
  return size
}

/**
 * Encodes a record into `buf` at `start` (room for encodedSize bytes is the
 * caller's to make), so the records of an append take one allocation. Its
 * position is left to `setPosition`, once the offset is assigned. Returns the end.
 */
export function encodeRecordInto (
  buf: Buffer, start: number, key: Uint8Array | null, value: Uint8Array | null,
  headers: readonly RecordHeader[], timestamp: number, timestampType: TimestampType
): number {
  buf[start] = recordFlags(key === null, value === null, timestampType)
  buf.writeDoubleLE(timestamp, start + 1)
  // The position (bytes 9 to 16) is written when the offset is assigned.
  let at = start + 17
  at = writeBytes(buf, at, key)
  at = writeBytes(buf, at, value)
  buf.writeUInt32LE(headers.length, at)
  at += 4
  for (const h of headers) {
    const nameLength = buf.write(h.key, at + 4, 'utf8')
    buf.writeUInt32LE(nameLength, at)
    at += 4 + nameLength
    if (h.value === null) {
      buf.writeInt32LE(-1, at)
      at += 4
    } else {
      buf.writeInt32LE(h.value.length, at)
      buf.set(h.value, at + 4)
      at += 4 + h.value.length
    }
  }
  return at
}

function writeBytes (buf: Buffer, at: number, bytes: Uint8Array | null): number {
  const length = bytes?.length ?? 0
  buf.writeUInt32LE(length, at)
  if (bytes !== null) buf.set(bytes, at + 4)
  return at + 4 + length
}

/**
 * Patches the position of the record encoded at `start` in the bytes `view`
 * covers (a DataView: its little-endian writes cost half of Buffer's, and
 * this runs once per record appended).
 */
export function setPosition (view: DataView, position: number, start: number): void {
  view.setFloat64(start + POSITION_AT, position, true)
}

/** A DataView over the bytes of `buf`. */
export function viewOf (buf: Buffer): DataView {
  return new DataView(buf.buffer, buf.byteOffset, buf.byteLength)
}

export function readPosition (buf: Uint8Array): number {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readDoubleLE(POSITION_AT)
}

export function readTimestamp (buf: Uint8Array): number {
  return Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength).readDoubleLE(1)
}

/** The key bytes (a view into `buf`) and whether the value is a tombstone, without decoding the rest. */
export function readKeyAndTombstone (buf: Buffer): { key: Buffer | null, tombstone: boolean } {
  const flags = buf[0] ?? 0
  const length = buf.readUInt32LE(17)
  return {
    key: (flags & KEY_NULL) !== 0 ? null : buf.subarray(21, 21 + length),
    tombstone: (flags & VALUE_NULL) !== 0
  }
}

/** Decodes a stored record. The returned buffers are views into `buf`. */
export function decodeRecord (offset: number, buf: Buffer): StoredRecord {
  const flags = buf[0] ?? 0
  const timestamp = buf.readDoubleLE(1)
  let at = 17
  const keyLength = buf.readUInt32LE(at)
  const key = (flags & KEY_NULL) !== 0 ? null : buf.subarray(at + 4, at + 4 + keyLength)
  at += 4 + keyLength
  const valueLength = buf.readUInt32LE(at)
  const value = (flags & VALUE_NULL) !== 0 ? null : buf.subarray(at + 4, at + 4 + valueLength)
  at += 4 + valueLength
  const count = buf.readUInt32LE(at)
  at += 4
  const headers: RecordHeader[] = []
  for (let i = 0; i < count; i++) {
    const nameLength = buf.readUInt32LE(at)
    const name = buf.toString('utf8', at + 4, at + 4 + nameLength)
    at += 4 + nameLength
    const length = buf.readInt32LE(at)
    at += 4
    if (length < 0) {
      headers.push({ key: name, value: null })
    } else {
      headers.push({ key: name, value: buf.subarray(at, at + length) })
      at += length
    }
  }
  return {
    offset,
    timestamp,
    timestampType: (flags & LOG_APPEND_TIME) !== 0 ? 'LogAppendTime' : 'CreateTime',
    key,
    value,
    headers,
    sizeBytes: buf.length
  }
}

// Layout of a stored batch, the value of one LMDB entry keyed by the offset of
// its first record as it was written (little-endian):
//   u32 count
//   count × (u32 offset − key offset, u32 record length), in offset order
//   the records, back to back
// Many records per entry make a commit a few large puts instead of one per
// record. Retention and compaction rewrite a batch without some of its
// records under the same key, so offsets within a batch may have gaps.
const BATCH_ENTRY = 8

/** The bytes a batch of `count` records totalling `recordBytes` takes. */
export function batchSize (count: number, recordBytes: number): number {
  return 4 + count * BATCH_ENTRY + recordBytes
}

/**
 * Writes the header of a batch of `count` records starting at `at` in the
 * bytes `view` covers; its records go from `at + batchRecordsAt(count)`, each
 * noted with `setBatchEntry`.
 */
export function startBatch (view: DataView, at: number, count: number): void {
  view.setUint32(at, count, true)
}

/** Where the records of a batch of `count` records start. */
export function batchRecordsAt (count: number): number {
  return 4 + count * BATCH_ENTRY
}

/** Notes record `i` of the batch starting at `at`: its offset (less the batch's key offset) and length. */
export function setBatchEntry (view: DataView, at: number, i: number, offsetDelta: number, length: number): void {
  view.setUint32(at + 4 + i * BATCH_ENTRY, offsetDelta, true)
  view.setUint32(at + 8 + i * BATCH_ENTRY, length, true)
}

/** The offset of the last record of the batch stored under `keyOffset`. */
export function lastBatchOffset (buf: Buffer, keyOffset: number): number {
  const count = buf.readUInt32LE(0)
  return keyOffset + buf.readUInt32LE(4 + (count - 1) * BATCH_ENTRY)
}

/**
 * Calls `visit` with the offset and bytes (a view into `buf`) of each record
 * of the batch stored under `keyOffset`, in order, until it returns false.
 * Returns false when `visit` stopped it.
 */
export function visitBatch (buf: Buffer, keyOffset: number, visit: (offset: number, record: Buffer) => boolean | undefined): boolean {
  const count = buf.readUInt32LE(0)
  let at = batchRecordsAt(count)
  for (let i = 0; i < count; i++) {
    const length = buf.readUInt32LE(8 + i * BATCH_ENTRY)
    if (visit(keyOffset + buf.readUInt32LE(4 + i * BATCH_ENTRY), buf.subarray(at, at + length)) === false) return false
    at += length
  }
  return true
}

/** A batch of the given records, stored under `keyOffset` (at most the first offset). */
export function encodeBatch (keyOffset: number, offsets: readonly number[], records: readonly Buffer[]): Buffer {
  let bytes = 0
  for (const record of records) bytes += record.length
  const buf = Buffer.allocUnsafe(batchSize(records.length, bytes))
  const view = viewOf(buf)
  startBatch(view, 0, records.length)
  let at = batchRecordsAt(records.length)
  for (let i = 0; i < records.length; i++) {
    const record = records[i] as Buffer
    setBatchEntry(view, 0, i, (offsets[i] as number) - keyOffset, record.length)
    buf.set(record, at)
    at += record.length
  }
  return buf
}
