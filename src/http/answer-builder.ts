const NO_BYTES = Buffer.alloc(0)
const NINE = 0x39
const ZERO = 0x30
/** Up to this many bytes, a piece is copied byte by byte: cheaper than a call into the runtime (Buffer.write, TypedArray.set). */
const SHORT = 64

/**
 * Builds a produce answer (JSON text) straight into one buffer, growing it as
 * needed: an answer with a line or an entry per record would otherwise take
 * several strings per record, which cost more to collect than to build.
 * Consecutive integers (the offsets of a batch) are written by counting up
 * the previous one's digits.
 */
export class AnswerBuilder {
  #buffer = NO_BYTES
  #at = 0
  readonly #capacity: number
  /** Made at the first integer: a builder that writes none (a single record's answer is not built here) allocates nothing. */
  #digits: Buffer | undefined
  #digitCount = 0
  #last = Number.NaN

  /** `capacity`: the size of the buffer first taken (it grows as needed). */
  constructor (capacity = 4096) {
    this.#capacity = capacity
  }

  /** The bytes written so far. */
  get length (): number {
    return this.#at
  }

  /** Appends bytes. */
  bytes (piece: Uint8Array): void {
    const length = piece.length
    this.#room(length)
    const buffer = this.#buffer
    if (length > SHORT) {
      buffer.set(piece, this.#at)
      this.#at += length
      return
    }
    let at = this.#at
    for (let i = 0; i < length; i++) buffer[at++] = piece[i] as number
    this.#at = at
  }

  /** Appends a string, UTF-8 encoded. */
  text (piece: string): void {
    this.#room(Buffer.byteLength(piece, 'utf8'))
    this.#at += this.#buffer.write(piece, this.#at, 'utf8')
  }

  /** Appends a string that is ASCII only (the caller knows it is): no UTF-8 length to count first. */
  ascii (piece: string): void {
    const length = piece.length
    this.#room(length)
    const buffer = this.#buffer
    if (length > SHORT) {
      this.#at += buffer.write(piece, this.#at, 'latin1')
      return
    }
    let at = this.#at
    for (let i = 0; i < length; i++) buffer[at++] = piece.charCodeAt(i)
    this.#at = at
  }

  /** Appends one byte. */
  byte (value: number): void {
    this.#room(1)
    this.#buffer[this.#at++] = value
  }

  /** Appends a non-negative integer in decimal. */
  integer (value: number): void {
    const digits = this.#digits ??= Buffer.allocUnsafe(24)
    if (value === this.#last + 1) {
      let i = this.#digitCount - 1
      while (i >= 0 && digits[i] === NINE) digits[i--] = ZERO
      if (i >= 0) {
        digits[i] = (digits[i] as number) + 1
      } else {
        this.#digitCount = digits.write(String(value), 0, 'latin1')
      }
    } else {
      this.#digitCount = digits.write(String(value), 0, 'latin1')
    }
    this.#last = value
    this.#room(this.#digitCount)
    for (let i = 0; i < this.#digitCount; i++) this.#buffer[this.#at++] = digits[i] as number
  }

  /**
   * Makes room for `bytes` more without growing again: a caller that can
   * foresee the answer's size spares the copies of growing it piece by piece.
   */
  reserve (bytes: number): void {
    this.#room(bytes)
  }

  /** The bytes written, handed over; the builder starts again empty. */
  take (): Buffer {
    const written = this.#buffer.subarray(0, this.#at)
    this.#buffer = NO_BYTES
    this.#at = 0
    return written
  }

  #room (bytes: number): void {
    if (this.#at + bytes <= this.#buffer.length) return
    const bigger = Buffer.allocUnsafe(Math.max(2 * this.#buffer.length, this.#capacity, this.#at + bytes))
    this.#buffer.copy(bigger, 0, 0, this.#at)
    this.#buffer = bigger
  }
}
