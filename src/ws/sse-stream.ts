import { PassThrough } from 'node:stream'
import type { Clock, TimerHandle } from '../clock.js'

/** How an SSE response behaves on the wire. */
export interface SseStreamOptions {
  clock: Clock
  /** A `: keep-alive` comment goes out this often, so proxies keep an idle stream open. */
  heartbeatIntervalMs: number
  /** Sent as the stream's first line (`retry:`): how long EventSource waits before reconnecting. */
  retryMs: number
  /** Bytes queued in the stream before `write` asks the writer to wait for `drained`. */
  highWaterMarkBytes: number
}

/**
 * The body of one `text/event-stream` response: a bounded buffer between
 * the code that reads the log and the socket. `write` returns false once the
 * buffer holds `highWaterMarkBytes`; the writer then awaits `drained()`
 * before reading more, so a client that stops reading costs one buffer and
 * one read batch, never more. Node's pipe from this body to the response
 * stops whenever the response's own `write` returns false and resumes on its
 * 'drain', so the buffer only empties as fast as the client reads.
 *
 * `signal` aborts when the stream stops: the client went away (the body is
 * destroyed with the response), the server is closing, or the stream ended.
 */
export class SseStream {
  readonly body: PassThrough
  readonly #abort = new AbortController()
  readonly #options: SseStreamOptions
  #heartbeat: TimerHandle | null = null

  constructor (options: SseStreamOptions) {
    this.#options = options
    this.body = new PassThrough({ highWaterMark: options.highWaterMarkBytes })
    this.body.once('close', () => this.stop())
    this.body.on('error', () => this.stop())
    this.body.write(`retry: ${options.retryMs}\n\n`)
    this.#scheduleHeartbeat()
  }

  /** Aborts when the stream stops. */
  get signal (): AbortSignal {
    return this.#abort.signal
  }

  get stopped (): boolean {
    return this.#abort.signal.aborted
  }

  /** True while the buffer is full: the client reads slower than the stream is written. */
  get congested (): boolean {
    return this.body.writableNeedDrain
  }

  /**
   * Queues text (whole events) for the client; nothing once stopped.
   * @returns false when the buffer is full: await `drained()` before writing more
   */
  write (text: string): boolean {
    if (this.stopped) return false
    return this.body.write(text)
  }

  /** Resolves once the buffer has room again, or the stream stopped. */
  async drained (): Promise<void> {
    if (this.stopped || !this.body.writableNeedDrain) return
    await new Promise<void>(resolve => {
      const done = (): void => {
        this.body.off('drain', done)
        this.#abort.signal.removeEventListener('abort', done)
        resolve()
      }
      this.body.once('drain', done)
      this.#abort.signal.addEventListener('abort', done, { once: true })
    })
  }

  /** Stops the stream: no more writes, no more heartbeats. The body is not ended: see `end`. */
  stop (): void {
    if (this.#heartbeat !== null) this.#options.clock.clearTimeout(this.#heartbeat)
    this.#heartbeat = null
    this.#abort.abort()
  }

  /** Stops the stream and ends the body: what is queued still goes out, then the response ends. */
  end (): void {
    this.stop()
    if (!this.body.writableEnded && !this.body.destroyed) this.body.end()
  }

  #scheduleHeartbeat (): void {
    if (this.stopped) return
    this.#heartbeat = this.#options.clock.setTimeout(() => {
      // A congested stream is not idle, and a comment would only add to what the client has not read.
      if (!this.stopped && !this.body.writableNeedDrain) this.body.write(': keep-alive\n\n')
      this.#scheduleHeartbeat()
    }, this.#options.heartbeatIntervalMs)
    this.#heartbeat.unref?.()
  }
}
