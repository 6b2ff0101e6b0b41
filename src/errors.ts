/**
 * The stable error codes of Logway. Codes are public API: add, never rename.
 * Kafka's names are used where Kafka has one. Nothing here knows about HTTP:
 * `src/http/error-mapping.ts` maps each code to a status exactly once.
 */
export const ERROR_CODES = {
  INVALID_REQUEST: 'The request is malformed or has an invalid field.',
  INVALID_TOPIC_EXCEPTION: 'The topic name is not valid: 1 to 249 characters of [a-zA-Z0-9._-], not "." or "..".',
  TOPIC_ALREADY_EXISTS: 'A topic with this name already exists.',
  UNKNOWN_TOPIC_OR_PARTITION: 'The topic or partition does not exist.',
  INVALID_PARTITIONS: 'The partition count is not valid (it must be at least 1 and may only grow).',
  INVALID_REPLICATION_FACTOR: 'The replication factor is not valid: a single Logway node keeps one replica.',
  INVALID_CONFIG: 'A topic or server configuration value is not valid.',
  OFFSET_OUT_OF_RANGE: 'The offset is below the log start offset or above the log end offset.',
  MESSAGE_TOO_LARGE: 'The record is larger than the topic\'s max.message.bytes.',
  INVALID_RECORD: 'The record is not valid for this topic (for example a null key on a compacted topic).',
  INVALID_TIMESTAMP: 'The record timestamp is not valid.',
  KAFKA_STORAGE_ERROR: 'The log could not commit the write to disk (for example the disk is full); nothing was written.',
  BROKER_NOT_AVAILABLE: 'The log is not open yet, or is shutting down.',
  UNKNOWN_SERVER_ERROR: 'An unexpected server error.'
} as const

export type ErrorCode = keyof typeof ERROR_CODES

/** A domain error with a stable string `code`; carries no transport status. */
export class LogwayError extends Error {
  readonly code: ErrorCode
  readonly details: Record<string, unknown> | undefined

  constructor (code: ErrorCode, message?: string, details?: Record<string, unknown>, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code], options)
    this.name = 'LogwayError'
    this.code = code
    this.details = details
  }
}

/** True when `err` is a LogwayError, optionally with the given code. */
export function isLogwayError (err: unknown, code?: ErrorCode): err is LogwayError {
  return err instanceof LogwayError && (code === undefined || err.code === code)
}
