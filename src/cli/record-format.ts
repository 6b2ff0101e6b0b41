import { isLogwayError } from '../errors.js'
import { decodeBase64, renderBytes, type RecordFormat } from '../records/record-data.js'
import { UsageError } from './args.js'
import { CliFailure } from './failure.js'

/** How a key or value is written on a line: UTF-8 text, a JSON value, or base64 bytes. */
export type LineFormat = RecordFormat

const FORMATS: readonly LineFormat[] = ['string', 'json', 'binary']

/**
 * A --key-format or --value-format flag's value; `fallback` when absent.
 * @throws UsageError when it is not string, json or binary
 */
export function lineFormat (flag: string, raw: string | undefined, fallback: LineFormat, usage: string): LineFormat {
  if (raw === undefined) return fallback
  if ((FORMATS as readonly string[]).includes(raw)) return raw as LineFormat
  throw new UsageError(`--${flag} must be one of ${FORMATS.join(', ')} (got ${JSON.stringify(raw)})`, usage)
}

/** A line that cannot become a record; the message says why, without the line number. */
export class LineError extends Error {
  constructor (message: string) {
    super(message)
    this.name = 'LineError'
  }
}

/**
 * The JSON text of a v3 produce key or value (schemas/RecordData.json) for
 * `text` read in `format`. A json field keeps the line's own JSON text once
 * it parsed: a valid JSON value cannot break out of the object around it.
 * @throws LineError when `text` is not JSON (json) or not base64 (binary)
 */
export function recordDataJson (text: string, format: LineFormat, field: string): string {
  if (format === 'string') return `{"type":"STRING","data":${JSON.stringify(text)}}`
  if (format === 'json') {
    try {
      JSON.parse(text)
    } catch (err) {
      throw new LineError(`the ${field} is not JSON (${err instanceof Error ? err.message : String(err)}); use --${field}-format string`)
    }
    return `{"type":"JSON","data":${text}}`
  }
  try {
    decodeBase64(text, field)
  } catch (err) {
    if (isLogwayError(err)) throw new LineError(`the ${field} is not base64; use --${field}-format string`)
    throw err
  }
  return `{"type":"BINARY","data":${JSON.stringify(text)}}`
}

/**
 * A consumed key or value, sent by the server as base64, in `format`: the
 * base64 itself, the UTF-8 text, or the parsed JSON value; null stays null.
 * `where` names the record (topic, partition, offset) in the error.
 * @throws CliFailure when `format` is json and the bytes are not JSON
 */
export function renderField (base64: string | null, format: LineFormat, field: 'key' | 'value', where: string): unknown {
  if (base64 === null) return null
  if (format === 'binary') return base64
  try {
    return renderBytes(Buffer.from(base64, 'base64'), format, field)
  } catch (err) {
    if (isLogwayError(err, 'INVALID_RECORD')) throw new CliFailure(`the ${field} of ${where} is not JSON; read it with --${field}-format string or binary`)
    throw err
  }
}

/** A rendered key or value as printed for people: text as is, JSON compact, null as "null". */
export function printable (rendered: unknown, format: LineFormat): string {
  if (rendered === null) return 'null'
  if (format === 'json') return JSON.stringify(rendered)
  return String(rendered)
}
