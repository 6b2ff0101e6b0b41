import { randomUUID } from 'node:crypto'
import type { Clock } from '../clock.js'
import { ConsumerInstance } from '../groups/consumer-instance.js'
import type { GroupCoordinator } from '../groups/group-coordinator.js'
import type { OffsetResetPolicy } from '../groups/types.js'
import type { LogStore } from '../log/log-store.js'
import type { RecordFormat } from '../records/record-data.js'
import { encodeEventId } from './sse-event-id.js'
import { recordEvent } from './sse-events.js'
import type { SseStream } from './sse-stream.js'

/** What a group reader needs. */
export interface SseGroupReaderOptions {
  log: LogStore
  groups: GroupCoordinator
  clock: Clock
  groupId: string
  topic: string
  format: RecordFormat
  autoOffsetReset: OffsetResetPolicy
  /** The member's session timeout: it heartbeats at least every third of it while the stream flows. */
  sessionTimeoutMs: number
  /** How long a rebalance waits for this member, e.g. while its client does not read. */
  rebalanceTimeoutMs: number
  /** Soft cap on the stored bytes of one poll. */
  maxBytes: number
  /** How long one poll waits for records before the next one (which may auto-commit) starts. */
  pollTimeoutMs: number
  /** Shown in the group's description. */
  clientHost: string
  /** Failures nobody asked about: auto-commits, leaving the group. */
  onBackgroundError: (err: unknown, what: string) => void
}

/**
 * Streams a topic as one member of a consumer group, through the same
 * coordinator and ConsumerInstance as REST v2 consumers (so SSE, REST and
 * WebSocket members can share a group): partitions come from the group's
 * assignment, each starts at the group's committed offset (or where
 * auto.offset.reset says), and what the stream sent is committed every
 * AUTO_COMMIT_INTERVAL_MS of the injected clock, before partitions are given
 * up in a rebalance, and when the stream ends, which also leaves the group.
 */
export class SseGroupReader {
  readonly #instance: ConsumerInstance
  readonly #options: SseGroupReaderOptions
  /** The next offset by partition, of the partitions this stream sent records of and still owns: the events' ids. */
  readonly #positions = new Map<number, number>()

  private constructor (instance: ConsumerInstance, options: SseGroupReaderOptions) {
    this.#instance = instance
    this.#options = options
  }

  /**
   * Joins the group, subscribed to the topic. Partitions are assigned once the stream runs.
   * @throws LogwayError INVALID_GROUP_ID, GROUP_MAX_SIZE_REACHED, COORDINATOR_NOT_AVAILABLE, KAFKA_STORAGE_ERROR
   */
  static async join (options: SseGroupReaderOptions): Promise<SseGroupReader> {
    const instance = new ConsumerInstance(options.groupId, `sse-${randomUUID()}`, {
      // The instance's format only matters to REST v2 Accept checks; events render with `options.format`.
      format: 'binary',
      autoOffsetReset: options.autoOffsetReset,
      autoCommitEnable: true,
      fetchMinBytes: 1,
      requestTimeoutMs: options.pollTimeoutMs
    }, {
      log: options.log,
      groups: options.groups,
      clock: options.clock,
      sessionTimeoutMs: options.sessionTimeoutMs,
      rebalanceTimeoutMs: options.rebalanceTimeoutMs,
      clientHost: options.clientHost,
      onBackgroundError: options.onBackgroundError
    })
    try {
      await instance.subscribe({ topics: [options.topic] })
    } catch (err) {
      await instance.close()
      throw err
    }
    return new SseGroupReader(instance, options)
  }

  /**
   * Writes the records of the member's partitions to `stream` until it
   * stops, one poll at a time; after a write the buffer could not take
   * whole, waits for it to drain before polling again (a rebalance meanwhile
   * waits up to the rebalance timeout).
   * @throws LogwayError NO_OFFSET_FOR_PARTITION, OFFSET_OUT_OF_RANGE (auto.offset.reset none),
   *   INVALID_RECORD (format=json, bytes not JSON), GROUP_MAX_SIZE_REACHED (rejoining), COORDINATOR_NOT_AVAILABLE
   */
  async run (stream: SseStream): Promise<void> {
    const { format, maxBytes, pollTimeoutMs } = this.#options
    while (!stream.stopped) {
      let fresh = true
      const events = await this.#instance.poll({
        timeoutMs: pollTimeoutMs,
        maxBytes,
        signal: stream.signal,
        render: (topic, partition, record) => {
          // Rendering starts once the poll holds the current assignment: ids name owned partitions only.
          if (fresh) this.#forgetRevoked()
          fresh = false
          const previous = this.#positions.get(partition)
          this.#positions.set(partition, record.offset + 1)
          try {
            return recordEvent(topic, partition, record, format, encodeEventId(this.#positions))
          } catch (err) {
            if (previous === undefined) this.#positions.delete(partition)
            else this.#positions.set(partition, previous)
            throw err
          }
        }
      })
      if (events.length > 0 && !stream.write(events.join(''))) await stream.drained()
    }
  }

  /** Commits what was sent and leaves the group. Never throws. */
  async close (): Promise<void> {
    await this.#instance.close()
  }

  #forgetRevoked (): void {
    const owned = new Set(this.#instance.assignment().filter(p => p.topic === this.#options.topic).map(p => p.partition))
    for (const partition of [...this.#positions.keys()]) if (!owned.has(partition)) this.#positions.delete(partition)
  }
}
