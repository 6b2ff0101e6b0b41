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
  UNKNOWN_SERVER_ERROR: 'An unexpected server error.',
  INVALID_GROUP_ID: 'The group id is not valid: 1 to 255 characters, none of them control characters.',
  GROUP_ID_NOT_FOUND: 'The consumer group does not exist.',
  UNKNOWN_MEMBER_ID: 'The member is not in the consumer group: it left, or was removed when its session or the rebalance timed out. Join again.',
  ILLEGAL_GENERATION: 'The generation id is not the consumer group\'s current one: the member acts on an assignment a rebalance has replaced.',
  REBALANCE_IN_PROGRESS: 'The consumer group is rebalancing; rejoin (or retry once the new assignment is out).',
  NON_EMPTY_GROUP: 'The consumer group has members; this needs it to be empty.',
  INVALID_SESSION_TIMEOUT: 'The session timeout is outside the range the group coordinator allows.',
  INCONSISTENT_GROUP_PROTOCOL: 'The member asks for a partition assignor or protocol type other than the one the consumer group uses.',
  GROUP_MAX_SIZE_REACHED: 'The consumer group already has as many members as the coordinator allows.',
  OFFSET_METADATA_TOO_LARGE: 'The metadata of a committed offset is longer than the coordinator allows.',
  NO_OFFSET_FOR_PARTITION: 'The group has no committed offset for the partition and auto.offset.reset is none.',
  COORDINATOR_NOT_AVAILABLE: 'The group coordinator is not open yet, or is shutting down.',
  CONSUMER_ALREADY_EXISTS: 'A consumer instance of that name already exists in the consumer group.',
  CONSUMER_FORMAT_MISMATCH: 'The requested embedded format (the Accept header) is not the one the consumer instance reads records in.',
  CONSUMER_ILLEGAL_STATE: 'The consumer instance\'s state forbids the request: subscribing while assigned partitions by hand (or the reverse), seeking a partition it does not own, reading with neither a subscription nor an assignment.',
  INVALID_CONSUMER_CONFIG: 'A consumer instance setting is not valid, or its embedded format is one Logway does not have (those that need a schema registry).',
  TOO_MANY_CONSUMER_INSTANCES: 'The server already holds as many consumer instances as it allows: delete unused ones or wait for idle ones to expire.',
  IDEMPOTENCY_KEY_REUSED: 'The idempotency key was already used with a different request (another route, topic, partition, content type or body); nothing was written.',
  IDEMPOTENCY_KEY_IN_FLIGHT: 'A request with the same idempotency key is still being processed; nothing was written. Retry once it has been answered.'
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
