import type { CreditGrant } from './ws-frames.js'

/**
 * Flow-control credits of one subscription or group membership, in records
 * and in record bytes. A kind of credit limits delivery once the client has
 * granted it at least once (a client that only ever grants messages is not
 * held back by bytes); until any credit is granted nothing is delivered.
 * Credits only grow by grants and shrink by deliveries: the server never
 * sends more than was granted.
 */
export class Credits {
  #messages: number | null = null
  #bytes: number | null = null

  grant (grant: CreditGrant | undefined): void {
    if (grant?.messages !== undefined) this.#messages = Math.min(Number.MAX_SAFE_INTEGER, (this.#messages ?? 0) + grant.messages)
    if (grant?.bytes !== undefined) this.#bytes = Math.min(Number.MAX_SAFE_INTEGER, (this.#bytes ?? 0) + grant.bytes)
  }

  /** Records that may be sent now (Infinity when messages were never granted but bytes were). */
  get messages (): number {
    if (this.#messages === null) return this.#bytes === null ? 0 : Infinity
    return this.#messages
  }

  /** Record bytes that may be sent now (Infinity when bytes were never granted but messages were). */
  get bytes (): number {
    if (this.#bytes === null) return this.#messages === null ? 0 : Infinity
    return this.#bytes
  }

  /** True when at least one more record (of some size) may be sent. */
  get open (): boolean {
    return this.messages > 0 && this.bytes > 0
  }

  /** Uses credits for records sent. */
  take (messages: number, bytes: number): void {
    if (this.#messages !== null) this.#messages -= messages
    if (this.#bytes !== null) this.#bytes -= bytes
  }
}
