import type { ErrorCode } from '../errors.js'
import type { HttpErrorMapping } from './error-mapping.js'

/**
 * Failures that belong to the REST Proxy's consumer instances rather than to
 * Kafka's model, with the Confluent REST Proxy's own numbers. They have no
 * domain code of their own yet, so their string `code` is INVALID_REQUEST,
 * as for the other transport failures in error-mapping.ts.
 */
export const V2_CONSUMER_ERRORS = {
  /** A consumer instance of that name already exists in the group. */
  CONSUMER_ALREADY_EXISTS: { status: 409, errorCode: 40902, code: 'INVALID_REQUEST' },
  /** The Accept header asks for another embedded format than the instance's. */
  CONSUMER_FORMAT_MISMATCH: { status: 406, errorCode: 40601, code: 'INVALID_REQUEST' },
  /**
   * Kafka's IllegalStateException, which Confluent renders 40903: subscribing
   * while manually assigned (or the reverse), seeking a partition the instance
   * does not own, reading records with neither a subscription nor an assignment.
   */
  CONSUMER_ILLEGAL_STATE: { status: 409, errorCode: 40903, code: 'INVALID_REQUEST' },
  /** A create request with a bad setting or an embedded format Logway does not have. */
  INVALID_CONSUMER_CONFIG: { status: 422, errorCode: 42204, code: 'INVALID_REQUEST' },
  /** The server holds as many consumer instances as it allows (consumerMaxInstances). */
  TOO_MANY_CONSUMER_INSTANCES: { status: 429, errorCode: 429, code: 'INVALID_REQUEST' }
} as const satisfies Record<string, HttpErrorMapping & { code: ErrorCode }>

export type V2ConsumerErrorKind = keyof typeof V2_CONSUMER_ERRORS

/** A consumer-instance failure; the v2 consumer routes render it with V2_CONSUMER_ERRORS. */
export class V2ConsumerError extends Error {
  readonly kind: V2ConsumerErrorKind

  constructor (kind: V2ConsumerErrorKind, message: string) {
    super(message)
    this.name = 'V2ConsumerError'
    this.kind = kind
  }
}
