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

/** The encoded size of a record, without encoding it. */
export function encodedSize (key: Uint8Array | null, value: Uint8Array | null, headers: readonly RecordHeader[]): number {
  let size = FIXED_BYTES + (key?.length ?? 0) + (value?.length ?? 0)
  for (const h of headers) size += 8 + Buffer.byteLength(h.key) + (h.value?.length ?? 0)
  return size
}

/** Encodes a record; its position is patched in when the offset is assigned. */
export function encodeRecord (
  key: Uint8Array | null, value: Uint8Array | null, headers: readonly RecordHeader[],
  timestamp: number, timestampType: TimestampType, size = encodedSize(key, value, headers)
): Buffer {
  const buf = Buffer.allocUnsafe(size)
  buf[0] = (key === null ? KEY_NULL : 0) | (value === null ? VALUE_NULL : 0) | (timestampType === 'LogAppendTime' ? LOG_APPEND_TIME : 0)
  buf.writeDoubleLE(timestamp, 1)
  buf.writeDoubleLE(0, POSITION_AT)
  let at = 17
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
  return buf
}

function writeBytes (buf: Buffer, at: number, bytes: Uint8Array | null): number {
  const length = bytes?.length ?? 0
  buf.writeUInt32LE(length, at)
  if (bytes !== null) buf.set(bytes, at + 4)
  return at + 4 + length
}

export function setPosition (buf: Buffer, position: number): void {
  buf.writeDoubleLE(position, POSITION_AT)
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
