/**
 * The part of a `ws` WebSocket (as @fastify/websocket hands it to a route)
 * that the sessions use. `ws` ships no types of its own, so this names the
 * methods relied upon instead of trusting an implicit `any`.
 */
export interface WsSocket {
  /** CONNECTING 0, OPEN 1, CLOSING 2, CLOSED 3. */
  readonly readyState: number
  /** Bytes queued by send() and not yet handed to the kernel. */
  readonly bufferedAmount: number
  send (data: string, cb?: (err?: Error) => void): void
  ping (data?: Buffer, mask?: boolean, cb?: (err?: Error) => void): void
  close (code?: number, reason?: string): void
  terminate (): void
  /** Stops reading from the TCP socket (the peer sees TCP backpressure); frames already read may still arrive. */
  pause (): void
  resume (): void
  on (event: 'message', listener: (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean) => void): this
  on (event: 'close', listener: (code: number, reason: Buffer) => void): this
  on (event: 'pong', listener: () => void): this
  on (event: 'error', listener: (err: Error) => void): this
}

/** WebSocket readyState OPEN. */
export const WS_OPEN = 1
