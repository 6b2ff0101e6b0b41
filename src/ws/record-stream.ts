import { isLogwayError, LogwayError } from '../errors.js'
import type { LogStore } from '../log/log-store.js'
import type { PartitionInfo } from '../log/types.js'
import type { RecordFormat } from '../records/record-data.js'
import type { AppendHub } from './append-hub.js'
import { Credits } from './credits.js'
import { recordBytes, recordView } from './record-view.js'
import type { RecordView, ServerFrame, TopicPartitionOffset } from './ws-frames.js'

/** The most records one `records` frame carries. */
export const MAX_RECORDS_PER_FRAME = 500
/** Soft cap on the stored bytes one `records` frame is read from (one record is sent even when larger). */
export const MAX_FRAME_READ_BYTES = 256 * 1024

/** Where a stream sends its frames: the session. */
export interface RecordSink {
  /** False while the connection's send buffer is above its high-water mark: read nothing more then. */
  readonly writable: boolean
  send (frame: ServerFrame): void
  /** Sends an error frame for operation `id`, with the code's numbers. */
  sendError (id: string, err: unknown): void
}

export interface RecordStreamContext {
  log: LogStore
  hub: AppendHub
  /** Asks the session to deliver again soon (records appended, credits granted, a position moved). */
  wake: () => void
}

export interface RecordStreamPolicy {
  /**
   * Where a position that fell out of the log (retention, deleted records)
   * goes; a LogwayError instead stops the partition until a seek.
   */
  outOfRange: (topic: string, partition: number, position: number, info: PartitionInfo) => number | LogwayError
  /** A partition whose topic was deleted: `skip` it (a rebalance will drop it) or `fail` the stream. */
  missingTopic: 'skip' | 'fail'
}

/** A partition to deliver and where to start; `blocked` stops it until a seek, with the error already reported. */
export interface CursorStart {
  topic: string
  partition: number
  position: number
  blocked?: boolean
}

interface Cursor {
  topic: string
  partition: number
  /** The next offset to deliver. */
  position: number
  /** A caught_up frame was sent for the current position at the log end. */
  caughtUp: boolean
  blocked: boolean
  unwatch: () => void
}

/** What one delivery pass did. */
export interface Delivery {
  /** Something is left to deliver right now (credits and records both remain). */
  more: boolean
  /** The stream cannot go on: the session ends it with this error. */
  failure?: unknown
}

/**
 * The records half of a subscription or group membership: a position per
 * partition, credits, and delivery of `records` frames in offset order per
 * partition, never beyond the credits granted. Reads happen only in
 * `deliver`, which the session calls while its send buffer has room, so a
 * stream holds no records of its own between passes.
 */
export class RecordStream {
  readonly id: string
  readonly format: RecordFormat
  readonly credits = new Credits()
  readonly #ctx: RecordStreamContext
  readonly #policy: RecordStreamPolicy
  #cursors: Cursor[] = []
  #rotation = 0

  constructor (id: string, format: RecordFormat, ctx: RecordStreamContext, policy: RecordStreamPolicy) {
    this.id = id
    this.format = format
    this.#ctx = ctx
    this.#policy = policy
  }

  /** Replaces the partitions delivered (in the given order). */
  setCursors (starts: readonly CursorStart[]): void {
    for (const cursor of this.#cursors) cursor.unwatch()
    this.#cursors = starts.map(s => ({
      topic: s.topic,
      partition: s.partition,
      position: s.position,
      caughtUp: false,
      blocked: s.blocked === true,
      unwatch: this.#ctx.hub.watch(s.topic, s.partition, this.#ctx.wake)
    }))
    this.#ctx.wake()
  }

  /** The partitions delivered and their positions (the next offset to deliver). */
  cursors (): Array<TopicPartitionOffset & { blocked: boolean }> {
    return this.#cursors.map(c => ({ topic: c.topic, partition: c.partition, offset: c.position, blocked: c.blocked }))
  }

  /**
   * Moves a partition's position.
   * @throws LogwayError CONSUMER_ILLEGAL_STATE (not one of the stream's partitions), UNKNOWN_TOPIC_OR_PARTITION,
   *   OFFSET_OUT_OF_RANGE (outside the log)
   */
  seek (topic: string, partition: number, offset: number): void {
    const cursor = this.#cursors.find(c => c.topic === topic && c.partition === partition)
    if (cursor === undefined) {
      throw new LogwayError('CONSUMER_ILLEGAL_STATE', `${topic}-${partition} is not delivered by operation '${this.id}' (it delivers ${this.#cursors.map(c => `${c.topic}-${c.partition}`).join(', ') || 'no partitions'}).`)
    }
    const { logStartOffset, logEndOffset } = this.#ctx.log.partitionInfo(topic, partition)
    if (offset < logStartOffset || offset > logEndOffset) {
      throw new LogwayError('OFFSET_OUT_OF_RANGE', `Offset ${offset} is out of range for ${topic}-${partition}: the log holds offsets ${logStartOffset} to ${logEndOffset} (end, exclusive).`, { topic, partition, logStartOffset, logEndOffset })
    }
    cursor.position = offset
    cursor.caughtUp = false
    cursor.blocked = false
    this.#ctx.wake()
  }

  /** The end-of-partition probe: each partition's position against its log end offset. */
  probe (): Array<{ topic: string, partition: number, position: number, log_end_offset: number, caught_up: boolean }> {
    return this.#cursors.map(c => {
      let logEndOffset = c.position
      try {
        logEndOffset = this.#ctx.log.partitionInfo(c.topic, c.partition).logEndOffset
      } catch (err) {
        if (!isLogwayError(err, 'UNKNOWN_TOPIC_OR_PARTITION')) throw err
      }
      return { topic: c.topic, partition: c.partition, position: c.position, log_end_offset: logEndOffset, caught_up: c.position >= logEndOffset }
    })
  }

  /**
   * Delivers at most one frame per partition, starting at another partition
   * each pass so that a busy one does not starve the rest; stops when the
   * sink fills or credits run out.
   */
  deliver (sink: RecordSink): Delivery {
    const count = this.#cursors.length
    if (count === 0) return { more: false }
    const start = this.#rotation++ % count
    let more = false
    for (let i = 0; i < count; i++) {
      if (!sink.writable) return { more: true }
      const cursor = this.#cursors[(start + i) % count] as Cursor
      if (cursor.blocked) continue
      try {
        if (this.#deliverPartition(cursor, sink)) more = true
      } catch (err) {
        if (isLogwayError(err, 'UNKNOWN_TOPIC_OR_PARTITION') && this.#policy.missingTopic === 'skip') continue
        return { more: false, failure: err }
      }
    }
    return { more }
  }

  /** Returns true when the partition has more to deliver right now. */
  #deliverPartition (cursor: Cursor, sink: RecordSink): boolean {
    const { log } = this.#ctx
    const { topic, partition } = cursor
    const info = log.partitionInfo(topic, partition)
    if (cursor.position < info.logStartOffset || cursor.position > info.logEndOffset) {
      const moved = this.#policy.outOfRange(topic, partition, cursor.position, info)
      if (moved instanceof LogwayError) {
        cursor.blocked = true
        sink.sendError(this.id, moved)
        return false
      }
      cursor.position = moved
      cursor.caughtUp = false
    }
    if (cursor.position >= info.logEndOffset) {
      if (!cursor.caughtUp) {
        cursor.caughtUp = true
        sink.send({ type: 'caught_up', id: this.id, topic, partition, offset: info.logEndOffset })
      }
      return false
    }
    cursor.caughtUp = false
    const credits = this.credits
    if (!credits.open) return false
    const maxRecords = Math.min(MAX_RECORDS_PER_FRAME, credits.messages)
    const byteCredit = credits.bytes
    const result = log.read(topic, partition, { offset: cursor.position, maxRecords, maxBytes: Math.max(1, Math.min(MAX_FRAME_READ_BYTES, byteCredit)) })
    const views: RecordView[] = []
    let bytes = 0
    let failure: unknown
    for (const record of result.records) {
      const size = recordBytes(record)
      if (bytes + size > byteCredit) break
      try {
        views.push(recordView(topic, partition, record, this.format))
      } catch (err) {
        failure = err
        break
      }
      bytes += size
    }
    if (views.length > 0) {
      credits.take(views.length, bytes)
      cursor.position = (views.at(-1) as RecordView).offset + 1
      sink.send({ type: 'records', id: this.id, records: views })
    }
    if (failure !== undefined) throw failure
    if (cursor.position >= result.logEndOffset) {
      cursor.caughtUp = true
      sink.send({ type: 'caught_up', id: this.id, topic, partition, offset: result.logEndOffset })
      return false
    }
    return views.length > 0 && credits.open
  }

  /** Stops watching the log. */
  close (): void {
    for (const cursor of this.#cursors) cursor.unwatch()
    this.#cursors = []
  }
}
