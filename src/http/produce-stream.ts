import { PassThrough, type Readable } from 'node:stream'
import { LogwayError } from '../errors.js'
import { JsonObjectStream, JsonObjectStreamError } from './json-object-stream.js'

/** How one record turned out; failures are values here, so nothing is an unhandled rejection while earlier records commit. */
export type Outcome<T> = { ok: true, value: T } | { ok: false, error: unknown }

/**
 * What a produce body turned out to be. `single`: exactly one object, whose
 * outcome is known. `stream`: a second object began; `output` carries one
 * line per record, in request order.
 */
export type ProduceBodyShape<T> =
  | { mode: 'single', outcome: Outcome<T> }
  | { mode: 'stream', output: Readable }

export interface ProduceStreamOptions<T> {
  /** The request body, unread. */
  input: Readable
  /** The largest object accepted, in bytes (the server's bodyLimit); the body as a whole is not bounded. */
  maxObjectBytes: number
  /** Records issued whose line is not written yet; at the bound, reading the input pauses. */
  maxInFlight: number
  /** Issues one record. Called in request order, synchronously as each object is parsed, so records parsed together share group commits. */
  produce: (value: object, index: number) => Promise<T>
  /** The line written for a record that was produced. */
  report: (value: T) => object
  /** The line written for a record that failed, or for the point where the stream was cut short. */
  failure: (error: unknown, index: number) => object
}

interface Pending<T> {
  index: number
  outcome: Promise<Outcome<T>>
}

/**
 * Confluent's v3 produce over one request body, read incrementally: objects
 * are parsed as bytes arrive and each is issued at once. A body holding
 * exactly one object (known when the input ends after it) is `single`; once
 * the first byte of a second object arrives it is a `stream`, and each
 * record's line is written, in order, as soon as it and every record before
 * it are settled.
 *
 * Memory is bounded whatever the client does: one object at most
 * `maxObjectBytes`, at most `maxInFlight` records between issue and write
 * (reading pauses at the bound, so TCP pushes back on the client), and the
 * output is written only as fast as the client reads it (the writer waits
 * for `drain`, which holds the in-flight records, which pauses reading).
 *
 * Malformed JSON, an object over the limit, or `stop()` ends the input at
 * that point: records before it are still reported, then the line for the
 * failure, then the output ends. The rest of the request body is read and
 * discarded.
 */
export class ProduceStream<T> {
  /** Settles once the body's shape is known; rejects when it fails before a record could be read (an HTTP error). */
  readonly shape: Promise<ProduceBodyShape<T>>
  /** Resolves once nothing more will be issued or written. */
  readonly finished: Promise<void>

  readonly #input: Readable
  readonly #options: ProduceStreamOptions<T>
  readonly #splitter: JsonObjectStream
  readonly #queue: Array<Pending<T>> = []
  #mode: 'undecided' | 'single' | 'stream' = 'undecided'
  /** Nothing more will be issued. */
  #stopped = false
  #inputEnded = false
  #wakeWriter: (() => void) | undefined
  #resolveShape!: (shape: ProduceBodyShape<T>) => void
  #rejectShape!: (err: unknown) => void
  #resolveFinished!: () => void

  constructor (options: ProduceStreamOptions<T>) {
    this.#options = options
    this.#input = options.input
    this.#splitter = new JsonObjectStream({ maxObjectBytes: options.maxObjectBytes })
    this.shape = new Promise((resolve, reject) => {
      this.#resolveShape = resolve
      this.#rejectShape = reject
    })
    this.finished = new Promise(resolve => { this.#resolveFinished = resolve })
    this.#input.on('data', this.#onData)
    this.#input.on('end', this.#onEnd)
    this.#input.on('error', this.#onError)
    this.#input.on('close', this.#onClose)
  }

  /**
   * Stops reading (the server is shutting down). A body of which one object
   * was read and no second one begun is `single`; before any object the
   * shape rejects with `error`; a stream reports what it issued, then
   * `error`'s line, and ends.
   */
  stop (error: unknown): void {
    if (this.#stopped) return
    if (this.#mode === 'undecided' && this.#splitter.count === 1) {
      this.#stopReading()
      this.#decideSingle()
      return
    }
    this.#cutShort(error)
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#splitter.push(chunk)
    this.#pump()
  }

  readonly #onEnd = (): void => {
    this.#inputEnded = true
    this.#splitter.end()
    this.#pump()
  }

  // The request fails (or closes before its end) when the client goes away; its reason is not the server's fault.
  readonly #onError = (): void => {
    this.#cutShort(clientGone())
  }

  readonly #onClose = (): void => {
    if (!this.#inputEnded) this.#cutShort(clientGone())
  }

  /** Issues parsed objects until the input needs more bytes or the in-flight bound is reached. */
  #pump (): void {
    while (!this.#stopped) {
      // Before the body is known to be a stream, at most one record is in hand.
      if (this.#mode === 'stream' && this.#queue.length >= this.#options.maxInFlight) {
        this.#input.pause()
        return
      }
      let value: object | undefined
      try {
        value = this.#splitter.next()
      } catch (err) {
        // Whatever follows a first object makes the body a stream, even garbage.
        if (this.#mode === 'undecided' && this.#splitter.count === 1) this.#startStreaming()
        this.#cutShort(inputError(err))
        return
      }
      if (value === undefined) {
        if (this.#splitter.done) {
          this.#endOfInput()
          return
        }
        if (this.#mode === 'undecided' && this.#splitter.count === 1 && this.#splitter.pending) this.#startStreaming()
        if (!this.#inputEnded) this.#input.resume()
        return
      }
      if (this.#mode === 'undecided' && this.#splitter.count === 2) this.#startStreaming()
      this.#issue(value, this.#splitter.count - 1)
    }
  }

  #issue (value: object, index: number): void {
    let outcome: Promise<Outcome<T>>
    try {
      outcome = this.#options.produce(value, index).then(
        (result): Outcome<T> => ({ ok: true, value: result }),
        (error: unknown): Outcome<T> => ({ ok: false, error }))
    } catch (error) {
      outcome = Promise.resolve({ ok: false, error })
    }
    this.#queue.push({ index, outcome })
    this.#wake()
  }

  #endOfInput (): void {
    this.#stopReading()
    if (this.#mode === 'undecided') {
      if (this.#splitter.count === 0) {
        this.#rejectShape(new LogwayError('INVALID_REQUEST', 'Body is not valid JSON: it holds no JSON object.'))
        this.#resolveFinished()
      } else {
        this.#decideSingle()
      }
    }
    this.#wake()
  }

  /** Stops reading before the end of the input; `error` is reported where the input was cut. */
  #cutShort (error: unknown): void {
    if (this.#stopped) return
    this.#stopReading()
    if (this.#mode === 'undecided') {
      this.#rejectShape(error)
      this.#resolveFinished()
      return
    }
    this.#queue.push({ index: this.#splitter.count, outcome: Promise.resolve({ ok: false, error }) })
    this.#wake()
  }

  #stopReading (): void {
    this.#stopped = true
    this.#input.off('data', this.#onData)
    this.#input.off('end', this.#onEnd)
    this.#input.off('error', this.#onError)
    this.#input.off('close', this.#onClose)
    // Read and drop the rest of the body, so the client can finish sending and read its answer.
    this.#input.on('error', () => {})
    if (!this.#inputEnded && !this.#input.destroyed) this.#input.resume()
  }

  #decideSingle (): void {
    this.#mode = 'single'
    const first = this.#queue.shift() as Pending<T>
    first.outcome.then(outcome => {
      this.#resolveShape({ mode: 'single', outcome })
      this.#resolveFinished()
    })
  }

  #startStreaming (): void {
    this.#mode = 'stream'
    const output = new PassThrough()
    // The response closed before its end (the client went away): nobody reads what follows.
    output.once('close', () => {
      if (!this.#stopped) this.#stopReading()
      this.#wake()
    })
    this.#resolveShape({ mode: 'stream', output })
    this.#write(output).catch(() => {}).finally(() => this.#resolveFinished())
  }

  async #write (output: PassThrough): Promise<void> {
    for (;;) {
      const head = this.#queue[0]
      if (head === undefined) {
        if (this.#stopped || output.destroyed) break
        await new Promise<void>(resolve => { this.#wakeWriter = resolve })
        continue
      }
      const outcome = await head.outcome
      if (output.destroyed) return
      this.#queue.shift()
      const line = outcome.ok ? this.#options.report(outcome.value) : this.#options.failure(outcome.error, head.index)
      if (!output.write(JSON.stringify(line) + '\n')) await drained(output)
      this.#pump()
    }
    if (!output.destroyed) output.end()
  }

  #wake (): void {
    const wake = this.#wakeWriter
    this.#wakeWriter = undefined
    wake?.()
  }
}

function drained (output: PassThrough): Promise<void> {
  return new Promise(resolve => {
    const done = (): void => {
      output.off('drain', done)
      output.off('close', done)
      resolve()
    }
    output.on('drain', done)
    output.on('close', done)
  })
}

function clientGone (): LogwayError {
  return new LogwayError('INVALID_REQUEST', 'The client closed the request before its end.')
}

/** The error a stream splitting failure is rendered as: 400 for malformed JSON, 413 for an object over the limit. */
function inputError (err: unknown): unknown {
  if (!(err instanceof JsonObjectStreamError)) return err
  if (err.reason === 'too-large') {
    return Object.assign(new Error(`Body too large: ${err.message} (the server's bodyLimit bounds each record, not the stream).`), { statusCode: 413, code: 'FST_ERR_CTP_BODY_TOO_LARGE' })
  }
  return new LogwayError('INVALID_REQUEST', `Body is not valid JSON: ${err.message}.`)
}
