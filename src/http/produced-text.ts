import type { AnswerBuilder } from './answer-builder.js'
import { isoTimestamp, type ProducedBatch, type ProducedData } from './produce-record.js'

/** Offsets are safe integers. */
export const MAX_OFFSET_DIGITS = 16

/** A ProducedData as JSON text (its type needs no escaping). */
export function dataText (data: ProducedData | null): string {
  return data === null ? 'null' : `{"type":"${data.type}","size":${data.size}}`
}

/**
 * Writes the fields of a produced record, in ProduceResponse's order, from
 * `"cluster_id"` to the closing brace: what a streamed delivery report and a
 * records:batch success share, built by hand because both take one per record.
 * Consecutive records mostly differ in their offset alone, so the bytes before
 * and after it are kept from the previous record while they stay the same.
 */
export class ProducedText {
  readonly #prefix: string
  readonly #end: string
  #partition = -1
  #head = Buffer.alloc(0)
  #timestamp = Number.NaN
  #key: ProducedData | null | undefined
  #value: ProducedData | null | undefined
  #tail = Buffer.alloc(0)

  /** `end`: written after each record's closing brace (a report line's newline). */
  constructor (clusterId: string, topic: string, end = '') {
    this.#prefix = `"cluster_id":${JSON.stringify(clusterId)},"topic_name":${JSON.stringify(topic)},"partition_id":`
    this.#end = end
  }

  /**
   * Writes the fields of `produced`'s record `i` and of the records after it,
   * up to `to`, that differ from it in their offset alone, each opened by
   * `open`; returns how many it wrote (at least one).
   */
  alike (produced: ProducedBatch, i: number, to: number, out: AnswerBuilder, open: Buffer): number {
    this.#prepare(produced, i)
    const alike = produced.alike(i, to)
    const offset = produced.offset(i)
    const head = this.#head
    const tail = this.#tail
    out.reserve(alike * (open.length + head.length + MAX_OFFSET_DIGITS + tail.length))
    for (let k = 0; k < alike; k++) {
      out.bytes(open)
      out.bytes(head)
      out.integer(offset + k)
      out.bytes(tail)
    }
    return alike
  }

  /** Writes the fields of `produced`'s record `i`, the caller having written its opening. */
  one (produced: ProducedBatch, i: number, out: AnswerBuilder): void {
    this.#prepare(produced, i)
    out.bytes(this.#head)
    out.integer(produced.offset(i))
    out.bytes(this.#tail)
  }

  #prepare (produced: ProducedBatch, i: number): void {
    const partition = produced.partition(i)
    if (partition !== this.#partition) {
      this.#partition = partition
      this.#head = Buffer.from(`${this.#prefix}${partition},"offset":`)
    }
    const timestamp = produced.timestamp(i)
    const key = produced.key(i)
    const value = produced.value(i)
    if (timestamp !== this.#timestamp || key !== this.#key || value !== this.#value) {
      this.#timestamp = timestamp
      this.#key = key
      this.#value = value
      // An ISO 8601 timestamp and a ProducedData type need no escaping.
      this.#tail = Buffer.from(`,"timestamp":"${isoTimestamp(timestamp)}","key":${dataText(key)},"value":${dataText(value)}}${this.#end}`)
    }
  }
}
