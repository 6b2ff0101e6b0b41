const OPEN_BRACE = 0x7b
const CLOSE_BRACE = 0x7d
const OPEN_BRACKET = 0x5b
const CLOSE_BRACKET = 0x5d
const QUOTE = 0x22
const BACKSLASH = 0x5c
const NEWLINE = 0x0a

/** Why a stream of JSON objects could not be split. */
export type JsonObjectStreamFailure = 'malformed' | 'too-large'

/** A stream that is not a sequence of JSON objects, or holds an object over the size limit. */
export class JsonObjectStreamError extends Error {
  readonly reason: JsonObjectStreamFailure
  /** Byte offset in the stream where the offending object (or stray byte) starts. */
  readonly offset: number

  constructor (reason: JsonObjectStreamFailure, message: string, offset: number) {
    super(message)
    this.name = 'JsonObjectStreamError'
    this.reason = reason
    this.offset = offset
  }
}

export interface JsonObjectStreamOptions {
  /** The largest object accepted, in bytes; a larger one fails as soon as its byte maxObjectBytes + 1 arrives. */
  maxObjectBytes: number
}

/**
 * Splits a byte stream of concatenated JSON objects (JSON whitespace between
 * them is allowed, none is needed; NDJSON is a special case) into parsed
 * objects, incrementally: bytes are pushed as they arrive and objects are
 * pulled one at a time, so a caller can stop pulling (and stop reading its
 * source) whenever it has enough work in hand.
 *
 * Only the unconsumed chunks and the object being assembled are held, and an
 * object is refused once it outgrows `maxObjectBytes`, so memory is bounded by
 * the limit plus what the caller pushes before pulling.
 *
 * Once it has failed, every further `next()` or `end()` throws the same error.
 */
export class JsonObjectStream {
  readonly #maxObjectBytes: number
  /** Pushed chunks not scanned to their end yet; the first is scanned from #position. */
  readonly #chunks: Buffer[] = []
  #position = 0
  /** Bytes of the current object that lie in chunks already dropped from #chunks. */
  readonly #parts: Buffer[] = []
  /** Where the current object starts in #chunks[0], when it starts there. */
  #partStart = -1
  /** Stream offset of the first byte of #chunks[0]. */
  #chunkOffset = 0
  /** Stream offset where the current object starts; -1 between objects. */
  #objectStart = -1
  #depth = 0
  #inString = false
  #escaped = false
  #failure: JsonObjectStreamError | undefined
  /** The complete lines of #textChunk from byte #textStart, decoded at once for the NDJSON fast path. */
  #text = ''
  #textChunk: Buffer | undefined
  #textStart = 0
  #count = 0
  #ended = false

  constructor (options: JsonObjectStreamOptions) {
    this.#maxObjectBytes = options.maxObjectBytes
  }

  /** How many objects `next()` has returned. */
  get count (): number {
    return this.#count
  }

  /**
   * True when bytes that are not whitespace between objects have been pushed
   * and not yet returned: the start of another object (or of garbage).
   */
  get pending (): boolean {
    if (this.#objectStart >= 0) return true
    for (let c = 0; c < this.#chunks.length; c++) {
      const chunk = this.#chunks[c] as Buffer
      for (let i = c === 0 ? this.#position : 0; i < chunk.length; i++) {
        if (!isWhitespace(chunk[i] as number)) return true
      }
    }
    return false
  }

  /** Adds the next bytes of the stream. */
  push (chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.#chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength))
  }

  /**
   * The next complete object, or undefined when more bytes are needed (or,
   * after `end()`, when there are no more objects).
   * @throws JsonObjectStreamError 'malformed' when the stream holds something
   *   other than a JSON object at this point or ends inside one, 'too-large'
   *   when the object outgrows maxObjectBytes
   */
  next (): object | undefined {
    if (this.#failure !== undefined) throw this.#failure
    while (this.#chunks.length > 0) {
      const chunk = this.#chunks[0] as Buffer
      if (this.#objectStart < 0) {
        const line = this.#nextLine(chunk)
        if (line !== undefined) return line
      }
      const end = this.#scan(chunk)
      if (end >= 0) return this.#complete(chunk, end)
      // The chunk is used up: keep its share of the object being assembled, if any.
      if (this.#objectStart >= 0) this.#parts.push(this.#partStart > 0 ? chunk.subarray(this.#partStart) : chunk)
      this.#chunks.shift()
      if (this.#textChunk === chunk) {
        this.#textChunk = undefined
        this.#text = ''
      }
      this.#chunkOffset += chunk.length
      this.#position = 0
      this.#partStart = this.#objectStart >= 0 ? 0 : -1
    }
    if (this.#ended && this.#objectStart >= 0) {
      throw this.#fail('malformed', `the stream ends inside the JSON object that starts at byte ${this.#objectStart}`, this.#objectStart)
    }
    return undefined
  }

  /**
   * Marks the end of the stream: nothing more will be pushed. Objects already
   * pushed are still returned by `next()`, which throws if the stream ends
   * inside an object.
   */
  end (): void {
    this.#ended = true
  }

  /** True once `end()` was called and `next()` has returned every object. */
  get done (): boolean {
    return this.#ended && this.#chunks.length === 0 && this.#objectStart < 0 && this.#failure === undefined
  }

  /**
   * The fast path for NDJSON, between objects: when the rest of the line in
   * `chunk` parses as one JSON object, that object, found with a native
   * search for the newline instead of the byte-by-byte scan. Anything else
   * (no newline in this chunk, a line longer than the limit, several objects
   * or part of one on the line, not an object, not JSON) is left to the
   * scanner, which gives the same objects and the same errors.
   */
  #nextLine (chunk: Buffer): object | undefined {
    // Whitespace between objects (the newline after one the scanner found) is skipped.
    let start = this.#position
    while (start < chunk.length && isWhitespace(chunk[start] as number)) start++
    this.#position = start
    if (chunk[start] !== OPEN_BRACE) return undefined
    if (this.#textChunk !== chunk || start >= this.#textStart + this.#text.length) this.#decodeLines(chunk, start)
    if (this.#textChunk !== chunk) return this.#nextLineOfBytes(chunk, start)
    // Within the decoded lines, a character is a byte.
    const text = this.#text
    const at = start - this.#textStart
    const newline = text.indexOf('\n', at)
    if (newline - at > this.#maxObjectBytes) return undefined
    let last = newline - 1
    while (last > at && isWhitespace(text.charCodeAt(last))) last--
    // Not one object on the line (a pretty-printed one, say): spare JSON.parse a throw.
    if (text.charCodeAt(last) !== CLOSE_BRACE) return undefined
    return this.#parsedLine(text.slice(at, newline), this.#textStart + newline + 1)
  }

  /**
   * Decodes the complete lines of `chunk` from `start` at once, when they
   * decode to a character per byte (ASCII, so positions carry over); else
   * leaves #textChunk unset, for #nextLineOfBytes.
   */
  #decodeLines (chunk: Buffer, start: number): void {
    this.#textChunk = undefined
    this.#text = ''
    const end = chunk.lastIndexOf(NEWLINE) + 1
    if (end <= start) return
    // Every other UTF-8 sequence takes more bytes than it gives characters.
    const text = chunk.toString('utf8', start, end)
    if (text.length !== end - start) return
    this.#text = text
    this.#textChunk = chunk
    this.#textStart = start
  }

  /** #nextLine for bytes that are not ASCII: the line is decoded on its own. */
  #nextLineOfBytes (chunk: Buffer, start: number): object | undefined {
    const newline = chunk.indexOf(NEWLINE, start)
    if (newline < 0 || newline - start > this.#maxObjectBytes) return undefined
    let last = newline - 1
    while (last > start && isWhitespace(chunk[last] as number)) last--
    if (chunk[last] !== CLOSE_BRACE) return undefined
    return this.#parsedLine(chunk.toString('utf8', start, newline), newline + 1)
  }

  /** The object `line` holds, which then ends at byte `next` of #chunks[0]; undefined when it holds none. */
  #parsedLine (line: string, next: number): object | undefined {
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch {
      return undefined
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined
    this.#position = next
    this.#count++
    return value
  }

  /** Scans `chunk` from #position; returns the index just past a completed object, or -1. */
  #scan (chunk: Buffer): number {
    let i = this.#position
    let depth = this.#depth
    let inString = this.#inString
    let escaped = this.#escaped
    try {
      for (; i < chunk.length; i++) {
        const c = chunk[i] as number
        if (depth === 0) {
          if (isWhitespace(c)) continue
          const at = this.#chunkOffset + i
          if (c !== OPEN_BRACE) throw this.#fail('malformed', `expected a JSON object at byte ${at}`, at)
          this.#objectStart = at
          this.#partStart = i
          depth = 1
          continue
        }
        if (inString) {
          if (escaped) escaped = false
          else if (c === BACKSLASH) escaped = true
          else if (c === QUOTE) inString = false
        } else if (c === QUOTE) {
          inString = true
        } else if (c === OPEN_BRACE || c === OPEN_BRACKET) {
          depth++
        } else if (c === CLOSE_BRACE || c === CLOSE_BRACKET) {
          depth--
          if (depth === 0) {
            this.#checkSize(this.#chunkOffset + i)
            i++
            return i
          }
        }
      }
      if (depth > 0) this.#checkSize(this.#chunkOffset + chunk.length - 1)
      return -1
    } finally {
      this.#position = i
      this.#depth = depth
      this.#inString = inString
      this.#escaped = escaped
    }
  }

  #checkSize (lastByteOffset: number): void {
    const size = lastByteOffset - this.#objectStart + 1
    if (size > this.#maxObjectBytes) {
      throw this.#fail('too-large', `the JSON object that starts at byte ${this.#objectStart} is larger than ${this.#maxObjectBytes} bytes`, this.#objectStart)
    }
  }

  #complete (chunk: Buffer, end: number): object {
    const start = this.#objectStart
    const tail = chunk.subarray(this.#partStart, end)
    const bytes = this.#parts.length === 0 ? tail : Buffer.concat([...this.#parts, tail])
    this.#parts.length = 0
    this.#objectStart = -1
    this.#partStart = -1
    // Depth counting cannot tell `{]` from `{}`, nor catch bad tokens: JSON.parse does.
    let value: unknown
    try {
      value = JSON.parse(bytes.toString('utf8'))
    } catch (err) {
      throw this.#fail('malformed', `the JSON object that starts at byte ${start} is not valid JSON (${(err as Error).message})`, start)
    }
    this.#count++
    return value as object
  }

  #fail (reason: JsonObjectStreamFailure, message: string, offset: number): JsonObjectStreamError {
    this.#failure = new JsonObjectStreamError(reason, message, offset)
    // Nothing more will be read: let the buffered bytes go.
    this.#chunks.length = 0
    this.#textChunk = undefined
    this.#text = ''
    this.#parts.length = 0
    return this.#failure
  }
}

function isWhitespace (c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09
}
