import { LogwayError } from '../errors.js'

/** The embedded formats of Confluent v3 produce that need no schema registry. */
export type RecordDataType = 'BINARY' | 'JSON' | 'STRING'

/** A key or value as a v3 produce request carries it (schemas/RecordData.json). */
export interface RecordData {
  type: RecordDataType
  data?: unknown
}

/** How fetch renders keys and values: base64, UTF-8 text, or parsed JSON. */
export type RecordFormat = 'binary' | 'string' | 'json'

/** A string JSON.stringify would only wrap in quotes: no quote, backslash, control character or surrogate. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what JSON escapes
const PLAIN_JSON_STRING = /^[^\u0000-\u001f"\\\ud800-\udfff]*$/

/** The same, in printable ASCII: a byte a character. */
const PLAIN_ASCII_JSON_STRING = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/
const QUOTE = 0x22

/**
 * The UTF-8 bytes of the JSON text of a parsed JSON value, as
 * JSON.stringify gives it. A string that needs no escaping is just quoted:
 * far cheaper than JSON.stringify, and values are mostly such strings.
 */
export function jsonBytes (data: unknown): Buffer {
  if (typeof data === 'string') {
    if (PLAIN_ASCII_JSON_STRING.test(data)) {
      const bytes = Buffer.allocUnsafe(data.length + 2)
      bytes[0] = QUOTE
      bytes.write(data, 1, 'latin1')
      bytes[data.length + 1] = QUOTE
      return bytes
    }
    if (PLAIN_JSON_STRING.test(data)) return Buffer.from('"' + data + '"', 'utf8')
  }
  return Buffer.from(JSON.stringify(data), 'utf8')
}

// Standard alphabet; padding may be left out, as Guava's decoder (Confluent's) allows.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}(?:==)?|[A-Za-z0-9+/]{3}=?)?$/

/**
 * Checks that `text` is strict base64 (Node's decoder alone silently skips bad characters).
 * @throws LogwayError INVALID_REQUEST naming `field` when it is not
 */
export function checkBase64 (text: string, field: string): void {
  if (!BASE64.test(text)) throw new LogwayError('INVALID_REQUEST', `${field} is not a valid base64 string.`)
}

/**
 * Decodes strict base64 (Buffer.from alone silently skips bad characters).
 * @throws LogwayError INVALID_REQUEST naming `field` when `text` is not base64
 */
export function decodeBase64 (text: string, field: string): Buffer {
  checkBase64(text, field)
  return Buffer.from(text, 'base64')
}

/** Where the bytes of a key or value are written piece by piece (the log's RecordBatch). */
export interface ByteSink {
  byte: (value: number) => void
  text: (piece: string) => void
  base64: (piece: string) => void
}

/**
 * Writes the bytes `jsonBytes(data)` gives, straight into `sink`.
 * `plain`: the caller knows every string in `data` needs no escaping (it was
 * parsed from JSON text without a backslash), so none is checked.
 */
export function writeJson (sink: ByteSink, data: unknown, plain = false): void {
  if (typeof data === 'string' && (plain || PLAIN_JSON_STRING.test(data))) {
    sink.byte(QUOTE)
    sink.text(data)
    sink.byte(QUOTE)
    return
  }
  sink.text(JSON.stringify(data))
}

/**
 * Writes the bytes `recordDataBytes` gives for a key or value that has data
 * (not null) into `sink`: BINARY's base64 decoded, STRING as UTF-8, JSON as
 * its JSON text.
 * @throws LogwayError INVALID_REQUEST on bad base64 or a non-string BINARY/STRING
 */
export function writeRecordData (sink: ByteSink, value: RecordData, field: string): void {
  const { type, data } = value
  if (type === 'JSON') return writeJson(sink, data)
  if (typeof data !== 'string') throw new LogwayError('INVALID_REQUEST', `${field}.data must be a string for type ${type}.`)
  if (type === 'BINARY') {
    checkBase64(data, `${field}.data`)
    sink.base64(data)
  } else {
    sink.text(data)
  }
}

/**
 * The bytes a key or value is stored as: BINARY is base64, STRING is UTF-8,
 * JSON is the JSON text of `data`. Absent or null data is a null key/value.
 * @throws LogwayError INVALID_REQUEST on bad base64 or a non-string BINARY/STRING
 */
export function recordDataBytes (value: RecordData | null | undefined, field: string): Buffer | null {
  if (value === null || value === undefined || value.data === null || value.data === undefined) return null
  const { type, data } = value
  if (type === 'JSON') return jsonBytes(data)
  if (typeof data !== 'string') throw new LogwayError('INVALID_REQUEST', `${field}.data must be a string for type ${type}.`)
  return type === 'BINARY' ? decodeBase64(data, `${field}.data`) : Buffer.from(data, 'utf8')
}

/**
 * Renders stored bytes in a fetch `format`; null stays null. `json` parses the
 * bytes as JSON and never guesses: bytes that are not JSON are an error, so a
 * client never mistakes text for a JSON string (fetch them with `string` or `binary`).
 * @throws LogwayError INVALID_RECORD when `format` is json and the bytes are not JSON
 */
export function renderBytes (bytes: Buffer | null, format: RecordFormat, where: string): unknown {
  if (bytes === null) return null
  if (format === 'binary') return bytes.toString('base64')
  const text = bytes.toString('utf8')
  if (format === 'string') return text
  try {
    return JSON.parse(text) as unknown
  } catch {
    throw new LogwayError('INVALID_RECORD', `The ${where} is not JSON: fetch it with format=string or format=binary.`)
  }
}
