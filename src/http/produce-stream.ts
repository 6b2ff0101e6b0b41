import { Readable } from 'node:stream'
import { LogwayError } from '../errors.js'
import { JsonObjectStream, JsonObjectStreamError } from './json-object-stream.js'
import { AnswerBuilder } from './answer-builder.js'

/** How one record turned out; failures are values here, so nothing is an unhandled rejection while earlier records commit. */
export type Outcome<T> = { ok: true, value: T } | { ok: false, error: unknown }

/** How the records of one `produce` call turned out, read by their index in the call. */
export interface SettledRecords {
  /** Why record `i` failed, or undefined when it was produced. */
  failure: (i: number) => unknown
}

/**
 * What a produce body turned out to be. `single`: exactly one object, whose
 * outcome is record 0 of `settled`, or `error` when `produce` failed as a
 * whole. `stream`: a second object began; `output` carries one line per
 * record, in request order: a Buffer when the whole answer was known before
 * its first line could be written, else a stream of the lines as they come.
 */
export type ProduceBodyShape<T extends SettledRecords> =
  | { mode: 'single', settled: T | undefined, error: unknown }
  | { mode: 'stream', output: Readable | Buffer }

export interface ProduceStreamOptions<T extends SettledRecords> {
  /** The request body, unread. */
  input: Readable
  /** The largest object accepted, in bytes (the server's bodyLimit); the body as a whole is not bounded. */
  maxObjectBytes: number
  /** Records issued whose line is not written yet; at the bound, reading the input pauses. */
  maxInFlight: number
  /**
   * Issues records, in request order: the objects parsed in one synchronous
   * pass over the bytes at hand, as soon as they are parsed, so they can share
   * one append; `firstIndex` is the first one's place in the body. Resolves
   * once every record is settled; a rejection fails them all.
   */
  produce: (values: object[], firstIndex: number) => Promise<T>
  /** Writes the lines (each its JSON text and a newline) of records `from` to `to` (exclusive) of `settled`, which were all produced. */
  report: (settled: T, from: number, to: number, out: AnswerBuilder) => void
  /** The line written for a record that failed, or for the point where the stream was cut short. */
  failure: (error: unknown, index: number) => object
}

/** The records issued together, whose lines are written together once all are settled. */
interface Group<T> {
  firstIndex: number
  count: number
  /** Set once every record of the group is settled, unless they all failed with `error`. */
  outcomes: T | undefined
  error?: unknown
  done: boolean
  /** Resolves once `done`. */
  settled: Promise<void>
}

/** Report lines are gathered into writes of about this many bytes. */
const WRITE_BYTES = 16 * 1024
/** The first buffer of a request's report lines: one or two lines, taken from Buffer's shared pool. */
const LINES_FIRST_BYTES = 512
const NEWLINE = 0x0a

/**
 * Confluent's v3 produce over one request body, read incrementally: objects
 * are parsed as bytes arrive and issued at once, those parsed together in
 * one call. A body holding exactly one object (known when the input ends
 * after it) is `single`; once the first byte of a second object arrives it
 * is a `stream`, and each record's line is written, in order, as soon as it
 * and every record before it are settled: the lines settled together go in
 * one write, and when the whole body was read and every record settled
 * before the first line could be written, the answer goes as one piece.
 *
 * Memory is bounded whatever the client does: one object at most
 * `maxObjectBytes`, at most `maxInFlight` records between issue and write
 * (reading pauses at the bound, so TCP pushes back on the client), and the
 * output is written only as fast as the client reads it (lines wait, and
 * hold their records in flight, while the output's buffer is full, which
 * pauses reading).
 *
 * Malformed JSON, an object over the limit, or `stop()` ends the input at
 * that point: records before it are still reported, then the line for the
 * failure, then the output ends. The rest of the request body is read and
 * discarded.
 */
export class ProduceStream<T extends SettledRecords> {
  /** Settles once the body's shape is known; rejects when it fails before a record could be read (an HTTP error). */
  readonly shape: Promise<ProduceBodyShape<T>>
  /** Resolves once nothing more will be issued or written. */
  readonly finished: Promise<void>

  readonly #input: Readable
  readonly #options: ProduceStreamOptions<T>
  readonly #splitter: JsonObjectStream
  /** Groups issued and not yet written, in order. */
  readonly #queue: Array<Group<T>> = []
  /** Records in #queue. */
  #inFlight = 0
  #mode: 'undecided' | 'single' | 'stream' = 'undecided'
  /** Nothing more will be issued. */
  #stopped = false
  #inputEnded = false
  #pumping = false
  #output: Readable | undefined
  /** The output's buffer is full: lines wait until it asks for more. */
  #outputFull = false
  #outputEnded = false
  // Sized by what is written (report writers reserve room for their records):
  // a buffer of WRITE_BYTES per request cost a single-record produce 16 KiB of
  // garbage outside the pool, which drove the young-generation GCs.
  readonly #lines = new AnswerBuilder(LINES_FIRST_BYTES)
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

  /**
   * Parses objects until the input needs more bytes or the in-flight bound
   * is reached, and issues them as one group.
   */
  #pump (): void {
    if (this.#pumping) return
    this.#pumping = true
    const firstIndex = this.#splitter.count
    const values: object[] = []
    try {
      while (!this.#stopped) {
        // Before the body is known to be a stream, at most one record is in hand.
        if (this.#mode === 'stream' && this.#inFlight + values.length >= this.#options.maxInFlight) {
          this.#input.pause()
          break
        }
        let value: object | undefined
        try {
          value = this.#splitter.next()
        } catch (err) {
          // Whatever follows a first object makes the body a stream, even garbage.
          if (this.#mode === 'undecided' && this.#splitter.count === 1) this.#startStreaming()
          this.#issue(values, firstIndex)
          this.#cutShort(inputError(err))
          return
        }
        if (value === undefined) {
          if (this.#splitter.done) {
            this.#issue(values, firstIndex)
            this.#endOfInput()
            return
          }
          if (this.#mode === 'undecided' && this.#splitter.count === 1 && this.#splitter.pending) this.#startStreaming()
          if (!this.#inputEnded) this.#input.resume()
          break
        }
        if (this.#mode === 'undecided' && this.#splitter.count === 2) this.#startStreaming()
        values.push(value)
      }
      this.#issue(values, firstIndex)
    } finally {
      this.#pumping = false
    }
  }

  #issue (values: object[], firstIndex: number): void {
    if (values.length === 0) return
    let outcomes: Promise<T>
    try {
      outcomes = this.#options.produce(values, firstIndex)
    } catch (error) {
      outcomes = Promise.reject(error)
    }
    const count = values.length
    const group: Group<T> = {
      firstIndex,
      count,
      outcomes: undefined,
      done: false,
      settled: outcomes.then(settled => {
        group.outcomes = settled
        group.done = true
      }, (error: unknown) => {
        group.error = error
        group.done = true
      })
    }
    group.settled.then(() => this.#writeSettled())
    this.#queue.push(group)
    this.#inFlight += group.count
  }

  #endOfInput (): void {
    this.#stopReading()
    if (this.#mode === 'undecided') {
      if (this.#splitter.count === 0) {
        this.#rejectShape(noObject())
        this.#resolveFinished()
      } else {
        this.#decideSingle()
      }
    }
    this.#writeSettled()
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
    this.#queue.push({ firstIndex: this.#splitter.count, count: 1, outcomes: undefined, error, done: true, settled: Promise.resolve() })
    this.#inFlight++
    this.#writeSettled()
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
    const first = this.#queue.shift() as Group<T>
    this.#inFlight -= first.count
    first.settled.then(() => {
      this.#resolveShape({ mode: 'single', settled: first.outcomes, error: first.error })
      this.#resolveFinished()
    })
  }

  #startStreaming (): void {
    this.#mode = 'stream'
    // The output is made when the first line can be written (see #writeSettled).
  }

  #openOutput (): Readable {
    const output = new Readable({
      read: () => {
        this.#outputFull = false
        this.#writeSettled()
      }
    })
    this.#output = output
    // The response closed before its end (the client went away): nobody reads what follows.
    output.once('close', () => {
      if (!this.#stopped) this.#stopReading()
      this.#queue.length = 0
      this.#inFlight = 0
      this.#resolveFinished()
    })
    this.#resolveShape({ mode: 'stream', output })
    return output
  }

  /**
   * Writes the lines of the settled groups at the head of the queue, as few
   * writes as the output's buffer allows; ends the output once nothing more
   * will come; then reads on if the in-flight bound had paused reading.
   */
  #writeSettled (): void {
    if (this.#mode !== 'stream' || this.#outputEnded) return
    if (this.#output === undefined) {
      if (this.#queue[0]?.done !== true) return
      if (this.#stopped && this.#queue.every(group => group.done)) {
        // The whole answer is known before its first line: it is handed on
        // complete, as bytes, so it leaves in one write with its length rather
        // than through a stream, in chunks, with another write for the end.
        for (const group of this.#queue) this.#render(group)
        this.#queue.length = 0
        this.#inFlight = 0
        this.#outputEnded = true
        this.#resolveShape({ mode: 'stream', output: this.#lines.take() })
        this.#resolveFinished()
        return
      }
      this.#output = this.#openOutput()
    }
    const output = this.#output
    if (output.destroyed) return
    const lines = this.#lines
    while (!this.#outputFull) {
      const head = this.#queue[0]
      if (head?.done !== true) break
      this.#queue.shift()
      this.#inFlight -= head.count
      this.#render(head)
      if (lines.length >= WRITE_BYTES) this.#outputFull = !output.push(lines.take())
    }
    if (lines.length > 0) this.#outputFull = !output.push(lines.take())
    if (this.#queue.length === 0 && this.#stopped) {
      this.#outputEnded = true
      output.push(null)
      this.#resolveFinished()
      return
    }
    if (!this.#stopped && this.#inFlight < this.#options.maxInFlight) this.#pump()
  }

  /** Writes the lines of a settled group. */
  #render (group: Group<T>): void {
    renderLines(group.outcomes, group.error, group.firstIndex, group.count, this.#options, this.#lines)
  }
}

/** A report line is about this long: the first guess at the size of an answer made at once. */
const REPORT_LINE_BYTES = 256

/**
 * The shape ProduceStream gives a body whose bytes are all in hand, made at
 * once: its objects are produced in one call, as the stream would issue
 * objects that arrive together, and a stream's answer is bytes. Exactly one
 * object and nothing after it is `single`; anything after a first object
 * (another, or bytes that cut the body short) makes it a `stream`, whose
 * lines end with the line for the cut.
 * @throws (rejects) as `shape` does: no object, or the body cut before its first
 */
export async function wholeBodyShape<T extends SettledRecords> (
  bytes: Buffer, options: Pick<ProduceStreamOptions<T>, 'maxObjectBytes' | 'produce' | 'report' | 'failure'>
): Promise<ProduceBodyShape<T>> {
  const splitter = new JsonObjectStream({ maxObjectBytes: options.maxObjectBytes })
  splitter.push(bytes)
  splitter.end()
  const values: object[] = []
  let cut: unknown
  try {
    for (let value = splitter.next(); value !== undefined; value = splitter.next()) values.push(value)
  } catch (err) {
    cut = inputError(err)
  }
  if (values.length === 0) throw cut ?? noObject()
  let settled: T | undefined
  let error: unknown
  try {
    settled = await options.produce(values, 0)
  } catch (err) {
    error = err
  }
  if (values.length === 1 && cut === undefined) return { mode: 'single', settled, error }
  const lines = new AnswerBuilder(values.length * REPORT_LINE_BYTES)
  renderLines(settled, error, 0, values.length, options, lines)
  if (cut !== undefined) renderLines(undefined, cut, values.length, 1, options, lines)
  return { mode: 'stream', output: lines.take() }
}

/**
 * Writes the lines of `count` records issued together, the first of them
 * record `firstIndex` of the body: those produced a run at a time through
 * `report`, each failed one as its `failure` object; `settled` undefined
 * means they all failed with `error`.
 */
function renderLines<T extends SettledRecords> (
  settled: T | undefined, error: unknown, firstIndex: number, count: number,
  options: Pick<ProduceStreamOptions<T>, 'report' | 'failure'>, lines: AnswerBuilder
): void {
  let from = 0
  for (let i = 0; i < count; i++) {
    const failure = settled === undefined ? error : settled.failure(i)
    if (failure === undefined) continue
    if (from < i) options.report(settled as T, from, i, lines)
    lines.text(JSON.stringify(options.failure(failure, firstIndex + i)))
    lines.byte(NEWLINE)
    from = i + 1
  }
  if (from < count) options.report(settled as T, from, count, lines)
}

function noObject (): LogwayError {
  return new LogwayError('INVALID_REQUEST', 'Body is not valid JSON: it holds no JSON object.')
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
