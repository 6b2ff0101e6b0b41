import type { LogStore } from '../log/log-store.js'
import type { RecordFormat } from '../records/record-data.js'
import { eventIdTemplate } from './sse-event-id.js'
import { recordEvent } from './sse-events.js'
import type { SseStream } from './sse-stream.js'

/** How a partition reader reads the log. */
export interface SsePartitionReaderOptions {
  log: LogStore
  topic: string
  /** The next offset to read, by partition: the stream's partitions and where each starts. */
  positions: ReadonlyMap<number, number>
  format: RecordFormat
  /** Records per read of one partition. */
  maxRecords: number
  /** Soft cap on the stored bytes of one read (one record is read even when larger). */
  maxBytes: number
  /** How long one wait for appends lasts before it is renewed (it ends early on append or stop). */
  waitMs: number
}

/**
 * Streams a fixed set of partitions from given positions, with no group: a
 * positional reader. Reads each partition in turn, a bounded read at a time,
 * and waits for the next append on any of them when all are caught up.
 */
export class SsePartitionReader {
  readonly #options: SsePartitionReaderOptions
  readonly #positions: Map<number, number>

  constructor (options: SsePartitionReaderOptions) {
    this.#options = options
    this.#positions = new Map(options.positions)
  }

  /**
   * Writes the partitions' records to `stream` until it stops. After a
   * write the buffer could not take whole, waits for it to drain before the
   * next read.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION (the topic was deleted),
   *   OFFSET_OUT_OF_RANGE (retention removed records not read yet), INVALID_RECORD (format=json, bytes not JSON)
   */
  async run (stream: SseStream): Promise<void> {
    const { log, topic, format, maxRecords, maxBytes } = this.#options
    const partitions = [...this.#positions.keys()]
    let rotation = 0
    while (!stream.stopped) {
      let delivered = false
      // Start each round at another partition so that a busy one does not starve the rest.
      for (let i = 0; i < partitions.length && !stream.stopped; i++) {
        const partition = partitions[(rotation + i) % partitions.length] as number
        const offset = this.#positions.get(partition) as number
        const result = log.read(topic, partition, { offset, maxRecords, maxBytes })
        if (result.records.length === 0) {
          // Compaction can leave a range with no records: step over it, or the wait below would return at once forever.
          this.#positions.set(partition, result.nextOffset)
          continue
        }
        delivered = true
        const { prefix, suffix } = eventIdTemplate(this.#positions, partition)
        let text = ''
        let failure: unknown
        for (const record of result.records) {
          try {
            text += recordEvent(topic, partition, record, format, prefix + String(record.offset + 1) + suffix)
          } catch (err) {
            failure = err
            break
          }
          this.#positions.set(partition, record.offset + 1)
        }
        // The events before a record that cannot be rendered still go out.
        const room = stream.write(text)
        if (failure !== undefined) throw failure
        if (!room) await stream.drained()
      }
      rotation++
      if (!delivered && !stream.stopped) await this.#waitForAppend(stream.signal)
    }
  }

  /** Nothing to release: a reader holds no state outside the stream. */
  async close (): Promise<void> {}

  /** Resolves when any partition has records past its position, or on timeout or stop. */
  async #waitForAppend (signal: AbortSignal): Promise<void> {
    const { log, topic, waitMs } = this.#options
    const stop = new AbortController()
    const onAbort = (): void => stop.abort()
    signal.addEventListener('abort', onAbort, { once: true })
    try {
      await Promise.race([...this.#positions].map(async ([partition, offset]) =>
        await log.waitForAppend(topic, partition, offset, waitMs, stop.signal)))
    } finally {
      signal.removeEventListener('abort', onAbort)
      // Releases the other partitions' waiters (and their timers).
      stop.abort()
    }
  }
}
