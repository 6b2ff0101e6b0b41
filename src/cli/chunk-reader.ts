/**
 * Pulls chunks from a readable stream one `next()` at a time (so the stream
 * is read no faster than they are used), and can be stopped while a `next()`
 * waits, which a `for await` loop over the stream cannot: Ctrl-C while a
 * terminal's stdin waits for a line ends the input at once.
 */
export class ChunkReader {
  readonly #stream: NodeJS.ReadableStream
  #ended = false
  #error: unknown
  #waiter: { resolve: (chunk: Buffer | undefined) => void, reject: (err: unknown) => void } | undefined

  constructor (stream: NodeJS.ReadableStream) {
    this.#stream = stream
    stream.on('readable', this.#onReadable)
    stream.on('end', this.#onEnd)
    stream.on('error', this.#onError)
  }

  /** The next chunk; undefined at the end of the input or once stopped. Rejects with the stream's error. */
  async next (): Promise<Buffer | undefined> {
    if (this.#error !== undefined) throw this.#error
    if (this.#ended) return undefined
    const chunk = this.#read()
    if (chunk !== undefined) return chunk
    return await new Promise((resolve, reject) => { this.#waiter = { resolve, reject } })
  }

  /** Ends the input here: a waiting `next()` resolves with undefined, and nothing more is read. */
  stop (): void {
    if (this.#ended) return
    this.#ended = true
    this.#detach()
    // A terminal's stdin would otherwise keep waiting for a line, and the process alive.
    const destroyable = this.#stream as NodeJS.ReadableStream & { destroy?: () => void }
    destroyable.destroy?.()
    this.#settle(undefined)
  }

  #read (): Buffer | undefined {
    const chunk = this.#stream.read() as Buffer | string | null
    if (chunk === null) return undefined
    return typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk
  }

  readonly #onReadable = (): void => {
    if (this.#waiter === undefined) return
    const chunk = this.#read()
    if (chunk !== undefined) this.#settle(chunk)
  }

  readonly #onEnd = (): void => {
    this.#ended = true
    this.#detach()
    this.#settle(undefined)
  }

  readonly #onError = (err: unknown): void => {
    if (this.#ended) return
    this.#error = err
    this.#ended = true
    this.#detach()
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.reject(err)
  }

  #settle (chunk: Buffer | undefined): void {
    const waiter = this.#waiter
    this.#waiter = undefined
    waiter?.resolve(chunk)
  }

  // The error listener stays: an error after the end must not become an uncaught exception.
  #detach (): void {
    this.#stream.off('readable', this.#onReadable)
    this.#stream.off('end', this.#onEnd)
  }
}
