import type { ErrorCode } from '../errors.js'

/** How an error is rendered over HTTP: the status and the Confluent-style numeric `error_code`. */
export interface HttpErrorMapping {
  status: number
  errorCode: number
}

/**
 * The one mapping from Logway error codes to HTTP. Numeric codes follow the
 * Confluent REST Proxy: the first three digits are the HTTP status, the rest
 * tell cases apart (40401 topic not found, 42206 bad record, …); where the
 * REST Proxy has no such number it echoes the bare status (404, 429).
 *
 * - Malformed input (a bad field, a bad topic name) is 400/40001.
 * - Kafka-level bad requests on well-formed input (the topic exists, bad
 *   partition count or config) are 400/40002.
 * - OFFSET_OUT_OF_RANGE is 400/40002 rather than a 404: the partition exists,
 *   the offset asked for does not; Confluent also answers 40002 for it.
 * - Problems with a record's payload are 422/42206, and so are body schema
 *   violations on routes that opt in (see `bodyErrorCode` in error-handler.ts).
 * - Kafka has one code for a missing topic and a missing partition; the
 *   error handler renders it 40402 when the error names a partition
 *   (`details.partition`), else 40401.
 */
export const ERROR_MAPPING: Readonly<Record<ErrorCode, HttpErrorMapping>> = {
  INVALID_REQUEST: { status: 400, errorCode: 40001 },
  INVALID_TOPIC_EXCEPTION: { status: 400, errorCode: 40001 },
  TOPIC_ALREADY_EXISTS: { status: 400, errorCode: 40002 },
  UNKNOWN_TOPIC_OR_PARTITION: { status: 404, errorCode: 40401 },
  INVALID_PARTITIONS: { status: 400, errorCode: 40002 },
  INVALID_REPLICATION_FACTOR: { status: 400, errorCode: 40002 },
  INVALID_CONFIG: { status: 400, errorCode: 40002 },
  OFFSET_OUT_OF_RANGE: { status: 400, errorCode: 40002 },
  MESSAGE_TOO_LARGE: { status: 422, errorCode: 42206 },
  INVALID_RECORD: { status: 422, errorCode: 42206 },
  INVALID_TIMESTAMP: { status: 422, errorCode: 42206 },
  KAFKA_STORAGE_ERROR: { status: 507, errorCode: 50701 },
  BROKER_NOT_AVAILABLE: { status: 503, errorCode: 50301 },
  UNKNOWN_SERVER_ERROR: { status: 500, errorCode: 50001 },
  // Consumer groups: 40403 is the REST Proxy's "consumer instance not found";
  // it has no numeric code of its own for an unknown consumer group and
  // answers it with a bare 404, as here. 40903 is its "illegal state", used
  // for every request the group's current state forbids (the string code
  // tells them apart); bad group settings are 400 like bad topic settings.
  INVALID_GROUP_ID: { status: 400, errorCode: 40001 },
  GROUP_ID_NOT_FOUND: { status: 404, errorCode: 404 },
  UNKNOWN_MEMBER_ID: { status: 404, errorCode: 40403 },
  ILLEGAL_GENERATION: { status: 409, errorCode: 40903 },
  REBALANCE_IN_PROGRESS: { status: 409, errorCode: 40903 },
  NON_EMPTY_GROUP: { status: 409, errorCode: 40903 },
  INVALID_SESSION_TIMEOUT: { status: 400, errorCode: 40002 },
  INCONSISTENT_GROUP_PROTOCOL: { status: 409, errorCode: 40903 },
  GROUP_MAX_SIZE_REACHED: { status: 409, errorCode: 40903 },
  OFFSET_METADATA_TOO_LARGE: { status: 400, errorCode: 40002 },
  NO_OFFSET_FOR_PARTITION: { status: 409, errorCode: 40903 },
  COORDINATOR_NOT_AVAILABLE: { status: 503, errorCode: 50301 },
  // v2 consumer instances, with the REST Proxy's numbers: 40902 "consumer
  // already exists", 40601 "consumer format mismatch", 40903 "illegal state"
  // and 42204 "invalid consumer config". The instance limit (consumerMaxInstances)
  // has no REST Proxy number, so it echoes its status, 429.
  CONSUMER_ALREADY_EXISTS: { status: 409, errorCode: 40902 },
  CONSUMER_FORMAT_MISMATCH: { status: 406, errorCode: 40601 },
  CONSUMER_ILLEGAL_STATE: { status: 409, errorCode: 40903 },
  INVALID_CONSUMER_CONFIG: { status: 422, errorCode: 42204 },
  TOO_MANY_CONSUMER_INSTANCES: { status: 429, errorCode: 429 },
  // Idempotent produce (the Idempotency-Key header): the REST Proxy has none,
  // so these numbers are Logway's own, outside those it uses. A key reused
  // for another request is a request that cannot be processed (422/42209); a
  // key whose first request is still running conflicts with it (409/40904).
  IDEMPOTENCY_KEY_REUSED: { status: 422, errorCode: 42209 },
  IDEMPOTENCY_KEY_IN_FLIGHT: { status: 409, errorCode: 40904 }
}

/**
 * Failures of the HTTP request itself, which have no domain code of their own:
 * they carry code INVALID_REQUEST and, as the REST Proxy does, echo the HTTP
 * status as `error_code`.
 */
export const TRANSPORT_ERRORS = {
  ROUTE_NOT_FOUND: { status: 404, errorCode: 404, code: 'INVALID_REQUEST' },
  NOT_ACCEPTABLE: { status: 406, errorCode: 406, code: 'INVALID_REQUEST' },
  PAYLOAD_TOO_LARGE: { status: 413, errorCode: 413, code: 'INVALID_REQUEST' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, errorCode: 415, code: 'INVALID_REQUEST' }
} as const satisfies Record<string, HttpErrorMapping & { code: ErrorCode }>
