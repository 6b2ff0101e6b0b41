import { LogwayError } from '../errors.js'
import { partitionForKey } from './murmur2.js'
import type { WrittenRecord } from './idempotency.js'
import { KEY_AT, recordFlags } from './record-codec.js'
import type { TimestampType } from './types.js'

/** What a RecordBatch knows of its topic: read when the batch is made. */
export interface RecordBatchTopic {
  name: string
  partitionCount: number
  timestampType: TimestampType
  maxMessageBytes: number
  /** A compacted topic: records need a key. */
  keyRequired: boolean
}

/** A record's partition is chosen when the batch is appended (round-robin). */
export const ROUND_ROBIN = -1

// Where the record being built is: before its key, in its key, in its value, in its headers.
const BEFORE_KEY = 0
const IN_KEY = 1
const BEFORE_VALUE = 2
const IN_VALUE = 3
const IN_HEADERS = 4
const IDLE = 5

const FIRST_CAPACITY = 4096
const EMPTY = Buffer.alloc(0)
const EMPTY_VIEW = new DataView(new ArrayBuffer(0))

/**
 * Buffer's UTF-8 writer under `buf.write(text, at, 'utf8')`: for the short
 * strings of keys and values, write's argument handling costs as much as the
 * copy. Node has always had it on Buffer.prototype; write is the fallback.
 */
const utf8Write: (this: Buffer, text: string, at: number) => number =
  (Buffer.prototype as { utf8Write?: (this: Buffer, text: string, at: number) => number }).utf8Write ??
  function (this: Buffer, text: string, at: number): number { return this.write(text, at, 'utf8') }

/**
 * Records for one topic, encoded one at a time straight into one growing
 * buffer in the log's stored format, to be appended with
 * `LogStore.appendBatch`: no object, array or buffer per record between a
 * request's parsed body and the stored batch. Made by `LogStore.recordBatch`;
 * build it and append it in one synchronous block, as the topic's configs and
 * partition count are read when it is made.
 *
 * A record is written in its stored order: `begin()`, then its key (`startKey()`
 * followed by pieces; no key is a null key), its value likewise (no value is a
 * tombstone), its headers, and `end()`, which checks the record against the
 * topic. A record that fails its check, or is abandoned by calling `begin()`
 * again before `end()`, leaves nothing in the batch.
 */
export class RecordBatch {
  readonly topic: RecordBatchTopic
  /** The append time: the timestamp of a record that brings none, and of every record of a LogAppendTime topic. */
  readonly now: number
  #buffer: Buffer
  /** The same bytes: DataView's little-endian writes cost half of Buffer's. */
  #view: DataView
  /** End of the last ended record. */
  #end = 0
  /** Write position. */
  #at = 0
  #state = IDLE
  #start = 0
  /** Where the length of the field being written (or the header count) is. */
  #lengthAt = 0
  #keyNull = true
  #valueNull = true
  #headerCount = 0
  #keySize = 0
  #valueSize = 0
  readonly #ends: number[] = []
  readonly #partitions: number[] = []
  /** Per record, once one differs from `now`. */
  #timestamps: number[] | undefined

  /** `capacityHint`: the bytes the records are expected to take (the buffer grows as needed). */
  constructor (topic: RecordBatchTopic, now: number, capacityHint = FIRST_CAPACITY) {
    this.topic = topic
    this.now = now
    this.#buffer = Buffer.allocUnsafe(Math.max(64, capacityHint))
    this.#view = viewOf(this.#buffer)
  }

  /** How many records the batch holds. */
  get count (): number {
    return this.#ends.length
  }

  /** The key size in bytes of the record last ended (0 for a null key). */
  get lastKeySize (): number {
    return this.#keySize
  }

  /** The value size in bytes of the record last ended (0 for a tombstone). */
  get lastValueSize (): number {
    return this.#valueSize
  }

  /** Starts a record, dropping one begun and not ended. */
  begin (): void {
    this.#at = this.#end
    this.#start = this.#at
    this.#room(KEY_AT)
    // Flags, timestamp and position (bytes 0 to 16) are written by end() and by the log.
    this.#at += KEY_AT
    this.#state = BEFORE_KEY
    this.#keyNull = true
    this.#valueNull = true
    this.#headerCount = 0
  }

  /** Starts the key: the pieces written next are its bytes (none: an empty key). */
  startKey (): void {
    if (this.#state !== BEFORE_KEY) throw new Error('RecordBatch: startKey() belongs right after begin()')
    this.#keyNull = false
    this.#openField()
    this.#state = IN_KEY
  }

  /** Starts the value: the pieces written next are its bytes (none: an empty value). */
  startValue (): void {
    if (this.#state > BEFORE_VALUE) throw new Error('RecordBatch: startValue() belongs after the key')
    this.#toValue()
    this.#valueNull = false
    this.#openField()
    this.#state = IN_VALUE
  }

  /** Appends bytes to the key or value being written. */
  bytes (piece: Uint8Array): void {
    this.#inField()
    this.#room(piece.length)
    this.#buffer.set(piece, this.#at)
    this.#at += piece.length
  }

  /** Appends a string's UTF-8 bytes to the key or value being written. */
  text (piece: string): void {
    this.#inField()
    // No UTF-16 code unit takes more than 3 bytes of UTF-8: with that much room it is measured by writing it.
    this.#room(this.#at + 3 * piece.length <= this.#buffer.length ? 0 : Buffer.byteLength(piece, 'utf8'))
    this.#at += utf8Write.call(this.#buffer, piece, this.#at)
  }

  /** Appends the bytes of a base64 text (checked by the caller: Node skips characters outside the alphabet). */
  base64 (piece: string): void {
    this.#inField()
    this.#room(Math.ceil(piece.length * 3 / 4))
    this.#at += this.#buffer.write(piece, this.#at, 'base64')
  }

  /** Appends one byte to the key or value being written. */
  byte (value: number): void {
    this.#inField()
    this.#room(1)
    this.#buffer[this.#at++] = value
  }

  /** Adds a header (after the key and value). */
  header (name: string, value: Uint8Array | null): void {
    if (this.#state === IDLE) throw new Error('RecordBatch: header() belongs between begin() and end()')
    this.#toHeaders()
    this.#room(8 + 3 * name.length + (value?.length ?? 0))
    const nameLength = this.#buffer.write(name, this.#at + 4, 'utf8')
    this.#view.setUint32(this.#at, nameLength, true)
    this.#at += 4 + nameLength
    if (value === null) {
      this.#view.setInt32(this.#at, -1, true)
      this.#at += 4
    } else {
      this.#view.setInt32(this.#at, value.length, true)
      this.#buffer.set(value, this.#at + 4)
      this.#at += 4 + value.length
    }
    this.#headerCount++
  }

  /**
   * Ends the record and checks it against the topic (see `checkRecordLimits`).
   * `timestamp` is its CreateTime (default: the append time; ignored by a
   * LogAppendTime topic). `partition` is where it goes: a number, or
   * undefined for the partitioner's choice (murmur2 of the key; for a null
   * key, round-robin as the batch is appended). A record that fails leaves
   * nothing in the batch.
   * @returns the partition, or ROUND_ROBIN
   * @throws LogwayError INVALID_RECORD, INVALID_TIMESTAMP, MESSAGE_TOO_LARGE, UNKNOWN_TOPIC_OR_PARTITION
   */
  end (timestamp?: number, partition?: number): number {
    if (this.#state === IDLE) throw new Error('RecordBatch: end() without begin()')
    this.#toHeaders()
    this.#view.setUint32(this.#lengthAt, this.#headerCount, true)
    this.#state = IDLE
    const topic = this.topic
    const start = this.#start
    const size = this.#at - start
    const createTime = topic.timestampType === 'CreateTime' && timestamp !== undefined
    checkRecordLimits(topic, this.#keyNull, createTime ? timestamp : undefined, size, undefined)
    let target: number
    if (partition !== undefined) {
      checkPartition(topic, partition)
      target = partition
    } else if (this.#keyNull) {
      target = ROUND_ROBIN
    } else {
      const keyAt = start + KEY_AT
      target = partitionForKey(this.#buffer.subarray(keyAt + 4, keyAt + 4 + this.#keySize), topic.partitionCount)
    }
    const stamp = createTime ? timestamp : this.now
    this.#buffer[start] = recordFlags(this.#keyNull, this.#valueNull, topic.timestampType)
    this.#view.setFloat64(start + 1, stamp, true)
    const index = this.#ends.length
    if (stamp !== this.now) this.#timestamps ??= new Array<number>(index).fill(this.now)
    if (this.#timestamps !== undefined) this.#timestamps.push(stamp)
    this.#ends.push(this.#at)
    this.#partitions.push(target)
    this.#end = this.#at
    return target
  }

  /**
   * The encoded records, for the log: their bytes back to back (each ends at
   * its entry of `ends`), their partitions (ROUND_ROBIN for the log to
   * choose) and timestamps. The batch is empty afterwards.
   */
  take (): { data: Buffer, ends: number[], partitions: number[], timestamps: number[] | number } {
    const taken = {
      data: this.#buffer.subarray(0, this.#end),
      ends: this.#ends.splice(0),
      partitions: this.#partitions.splice(0),
      timestamps: this.#timestamps ?? this.now
    }
    this.#buffer = EMPTY
    this.#view = EMPTY_VIEW
    this.#at = this.#end = 0
    this.#timestamps = undefined
    this.#state = IDLE
    return taken
  }

  #inField (): void {
    if (this.#state !== IN_KEY && this.#state !== IN_VALUE) throw new Error('RecordBatch: bytes belong to a key or value')
  }

  #openField (): void {
    this.#room(4)
    this.#lengthAt = this.#at
    this.#at += 4
  }

  #closeField (): number {
    const length = this.#at - this.#lengthAt - 4
    this.#view.setUint32(this.#lengthAt, length, true)
    return length
  }

  /** Closes the key (or writes a null one). */
  #toValue (): void {
    if (this.#state === BEFORE_KEY) {
      this.#openField()
      this.#keySize = this.#closeField()
    } else if (this.#state === IN_KEY) {
      this.#keySize = this.#closeField()
    }
    this.#state = BEFORE_VALUE
  }

  /** Closes the value (or writes a null one) and reserves the header count. */
  #toHeaders (): void {
    if (this.#state === IN_HEADERS) return
    if (this.#state < BEFORE_VALUE) this.#toValue()
    if (this.#state === BEFORE_VALUE) this.#openField()
    this.#valueSize = this.#closeField()
    this.#openField()
    this.#state = IN_HEADERS
  }

  #room (bytes: number): void {
    if (this.#at + bytes <= this.#buffer.length) return
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.#buffer.length, this.#at + bytes))
    this.#buffer.copy(bigger, 0, 0, this.#at)
    this.#buffer = bigger
    this.#view = viewOf(bigger)
  }
}

function viewOf (buffer: Buffer): DataView {
  return new DataView(buffer.buffer, buffer.byteOffset, buffer.byteLength)
}

/**
 * The checks a record passes before it is appended, in this order: a null
 * key on a compacted topic, a CreateTime timestamp that is not a
 * non-negative integer, an encoded size over max.message.bytes.
 * `timestamp` is undefined when the record brings none or the topic ignores it.
 * @throws LogwayError INVALID_RECORD, INVALID_TIMESTAMP, MESSAGE_TOO_LARGE (details: `index`, `sizeBytes`)
 */
export function checkRecordLimits (topic: RecordBatchTopic, keyNull: boolean, timestamp: number | undefined, size: number, index: number | undefined): void {
  if (keyNull && topic.keyRequired) {
    throw new LogwayError('INVALID_RECORD', `Compacted topic '${topic.name}' does not accept records with a null key.`, { index })
  }
  if (timestamp !== undefined && (!Number.isSafeInteger(timestamp) || timestamp < 0)) {
    throw new LogwayError('INVALID_TIMESTAMP', `Timestamp ${String(timestamp)} is not a non-negative integer number of milliseconds.`, { index })
  }
  if (size > topic.maxMessageBytes) {
    throw new LogwayError('MESSAGE_TOO_LARGE', `The record is ${size} bytes; topic '${topic.name}' accepts at most ${topic.maxMessageBytes} (max.message.bytes).`, { index, sizeBytes: size })
  }
}

/** @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION when the topic has no partition `index` */
export function checkPartition (topic: RecordBatchTopic, index: number): void {
  if (!Number.isSafeInteger(index) || index < 0 || index >= topic.partitionCount) {
    throw new LogwayError('UNKNOWN_TOPIC_OR_PARTITION', `Partition ${String(index)} of topic '${topic.name}' does not exist (it has ${topic.partitionCount}).`, { topic: topic.name, partition: index })
  }
}

/**
 * How the records of an appended RecordBatch turned out, by their index in
 * the batch (the order they were added): each record's partition, and its
 * offset or the failure of its partition's append. The records of a
 * partition take its offsets from its base offset on, in batch order,
 * except those an earlier attempt of an idempotent request wrote (`restore`).
 */
export class BatchAppendResult {
  readonly #partitions: number[]
  readonly #timestamps: number[] | number
  /** Each record's place among its partition's records; null when they all go to one partition; undefined until needed. */
  #places: number[] | null | undefined
  /** The base offset of the partition all records went to, while there is only one. */
  #partition = -1
  #baseOffset = -1
  #baseOffsets: Map<number, number> | undefined
  #failures: Map<number, unknown> | undefined
  #failure: unknown = undefined
  /** Records written by an earlier attempt of the request, by batch index. */
  #restored: Map<number, WrittenRecord> | undefined

  /** Made by the log, which fills it in as the appends settle. */
  constructor (partitions: number[], timestamps: number[] | number) {
    this.#partitions = partitions
    this.#timestamps = timestamps
  }

  /** How many records the batch held. */
  get count (): number {
    return this.#partitions.length
  }

  /** The partition of record `j` (ROUND_ROBIN when the batch failed before choosing it). */
  partition (j: number): number {
    return this.#partitions[j] as number
  }

  /** The offset of record `j`, or -1 when it failed. */
  offset (j: number): number {
    const restored = this.#restored?.get(j)
    if (restored !== undefined) return restored.offset
    const partition = this.#partitions[j] as number
    const base = partition === this.#partition ? this.#baseOffset : this.#baseOffsets?.get(partition)
    if (base === undefined || base < 0) return -1
    const places = this.#places === undefined ? this.#findPlaces() : this.#places
    return base + (places === null ? j : places[j] as number)
  }

  #findPlaces (): number[] | null {
    const partitions = this.#partitions
    this.#places = null
    if (this.#restored === undefined && partitions.every(p => p === partitions[0])) return null
    const counts = new Map<number, number>()
    this.#places = partitions.map((p, j) => {
      if (this.#restored?.has(j) === true) return -1
      const place = counts.get(p) ?? 0
      counts.set(p, place + 1)
      return place
    })
    return this.#places
  }

  /** Why record `j` failed, or undefined when it is written. */
  failure (j: number): unknown {
    if (this.#restored?.has(j) === true) return undefined
    return this.#failure ?? this.#failures?.get(this.#partitions[j] as number)
  }

  /** The timestamp record `j` was stored with. */
  timestamp (j: number): number {
    const restored = this.#restored?.get(j)
    if (restored !== undefined) return restored.timestamp
    return typeof this.#timestamps === 'number' ? this.#timestamps : this.#timestamps[j] as number
  }

  /**
   * How many records from `j` on (before `end`) are written alike: in
   * record `j`'s partition, at consecutive offsets, with one timestamp. At
   * least 1; it is all of them in the usual case of one partition and one
   * append time, so a caller can write their reports in a tight loop.
   */
  alike (j: number, end: number): number {
    const places = this.#places === undefined ? this.#findPlaces() : this.#places
    if (places !== null || typeof this.#timestamps !== 'number' || this.offset(j) < 0) return 1
    return end - j
  }

  /** For the log: the records of `partition` were written from `baseOffset` on. */
  succeed (partition: number, baseOffset: number): void {
    if (this.#partition < 0) {
      this.#partition = partition
      this.#baseOffset = baseOffset
    } else {
      this.#baseOffsets ??= new Map()
      this.#baseOffsets.set(partition, baseOffset)
    }
  }

  /** For the log: the append of `partition` failed. */
  fail (partition: number, failure: unknown): void {
    this.#failures ??= new Map()
    this.#failures.set(partition, failure)
  }

  /** For the log: nothing was appended. */
  failAll (failure: unknown): void {
    this.#failure = failure
  }

  /** For the log: record `j` is not appended, as an earlier attempt of its request wrote it there. */
  restore (j: number, written: WrittenRecord): void {
    this.#restored ??= new Map()
    this.#restored.set(j, written)
    this.#partitions[j] = written.partition
  }

  /** True when record `j` was written by an earlier attempt of its request (see `restore`). */
  isRestored (j: number): boolean {
    return this.#restored?.has(j) === true
  }

  /** True when an append of the batch failed (then some records carry a failure). */
  get failed (): boolean {
    return this.#failure !== undefined || this.#failures !== undefined
  }
}
