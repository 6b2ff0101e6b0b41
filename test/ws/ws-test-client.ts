import type { AddressInfo } from 'node:net'
import type { Socket } from 'node:net'
import { createRequire } from 'node:module'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import type { ServerFrame } from '../../src/ws/ws-frames.js'
import { wsAjv } from '../../src/ws/ws-schemas.js'

/** The part of the `ws` client the tests use (`ws` ships no types, and @types/ws is not installed). */
export interface RawWebSocket {
  readonly readyState: number
  readonly bufferedAmount: number
  readonly _socket: Socket
  send (data: string | Buffer, options?: { binary?: boolean }, cb?: (err?: Error) => void): void
  close (code?: number, reason?: string): void
  terminate (): void
  pong (): void
  on (event: 'open', listener: () => void): this
  on (event: 'message', listener: (data: Buffer, isBinary: boolean) => void): this
  on (event: 'close', listener: (code: number, reason: Buffer) => void): this
  on (event: 'error', listener: (err: Error) => void): this
  on (event: 'ping', listener: (data: Buffer) => void): this
  on (event: 'unexpected-response', listener: (req: unknown, res: { statusCode: number }) => void): this
  once (event: 'ping', listener: (data: Buffer) => void): this
}
type WebSocketConstructor = new (url: string, options?: { autoPong?: boolean, maxPayload?: number }) => RawWebSocket
export const WebSocket = createRequire(import.meta.url)('ws') as WebSocketConstructor

const ajv = wsAjv()
const SERVER_FRAME_SCHEMAS: Record<ServerFrame['type'], string> = {
  ack: 'WsAck',
  error: 'WsError',
  subscribed: 'WsSubscribed',
  records: 'WsRecords',
  caught_up: 'WsCaughtUp',
  assigned: 'WsAssigned',
  revoked: 'WsRevoked',
  committed: 'WsCommitted',
  seeked: 'WsSeeked',
  left: 'WsLeft',
  unsubscribed: 'WsUnsubscribed',
  position: 'WsPosition',
  pong: 'WsPong'
}

/** How long a test waits for a frame or a close before it fails (a bound, never a pause). */
export const WAIT_MS = 10_000

/** Starts the app on 127.0.0.1, port 0; returns its ws:// base URL. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `ws://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/**
 * A WebSocket client over a real socket. Every frame it receives must be
 * JSON and valid against its schema of schemas/ws/ (else the test fails),
 * and is queued for `next`.
 */
export class TestClient {
  readonly socket: RawWebSocket
  readonly received: ServerFrame[] = []
  readonly #t: Test
  readonly #queue: ServerFrame[] = []
  #waiter: (() => void) | null = null
  readonly closed: Promise<{ code: number, reason: string }>

  constructor (t: Test, socket: RawWebSocket) {
    this.#t = t
    this.socket = socket
    socket.on('message', (data, isBinary) => {
      if (isBinary) t.fail('the server sent a binary frame')
      const frame = JSON.parse(data.toString('utf8')) as ServerFrame
      const type: string = frame.type
      const schema = SERVER_FRAME_SCHEMAS[frame.type] as string | undefined
      const validate = schema === undefined ? undefined : ajv.getSchema(schema)
      if (validate === undefined) t.fail(`unknown server frame type ${type}`)
      else if (validate(frame) !== true) t.fail(`frame contract: ${type} does not match ${schema ?? ''}`, { frame, errors: validate.errors })
      this.received.push(frame)
      this.#queue.push(frame)
      this.#waiter?.()
    })
    this.closed = new Promise(resolve => socket.on('close', (code, reason) => {
      resolve({ code, reason: reason.toString() })
      this.#waiter?.()
    }))
    socket.on('error', () => {})
  }

  /** Opens a connection to `path` (default the cluster's WebSocket path) and waits until it is open. */
  static async open (t: Test, app: FastifyInstance, base: string, options: { path?: string, autoPong?: boolean } = {}): Promise<TestClient> {
    const path = options.path ?? `/v3/clusters/${(await app.getLog()).clusterId}/ws`
    const socket = new WebSocket(base + path, { autoPong: options.autoPong ?? true })
    const client = new TestClient(t, socket)
    await new Promise<void>((resolve, reject) => {
      socket.on('open', resolve)
      socket.on('error', reject)
      socket.on('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)))
    })
    t.teardown(() => { if (socket.readyState < 2) socket.terminate() })
    return client
  }

  send (frame: unknown): void {
    this.socket.send(typeof frame === 'string' ? frame : JSON.stringify(frame))
  }

  /** The next frame received (the first matching `match`, leaving others queued, when `skip` is true); fails the test after WAIT_MS. */
  async next (match?: (frame: ServerFrame) => boolean, skip = false): Promise<ServerFrame> {
    const deadline = Date.now() + WAIT_MS
    for (;;) {
      if (skip) {
        // Takes the first matching frame and leaves the others queued, in order.
        const index = this.#queue.findIndex(f => match === undefined || match(f))
        if (index >= 0) return this.#queue.splice(index, 1)[0] as ServerFrame
      } else if (this.#queue.length > 0) {
        const frame = this.#queue.shift() as ServerFrame
        if (match === undefined || match(frame)) return frame
        throw new Error(`unexpected frame ${JSON.stringify(frame).slice(0, 500)}`)
      }
      if (this.socket.readyState >= 2) throw new Error('the connection closed while waiting for a frame')
      const remaining = deadline - Date.now()
      if (remaining <= 0) throw new Error(`no frame within ${WAIT_MS} ms`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(done, remaining)
        this.#waiter = done
        function done (): void {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#waiter = null
    }
  }

  /** The first frame of `type` (and `id`) received and not yet taken; other frames stay queued. */
  async nextOf<T extends ServerFrame['type']> (type: T, id?: string): Promise<Extract<ServerFrame, { type: T }>> {
    return await this.next(f => f.type === type && (id === undefined || ('id' in f && f.id === id)), true) as Extract<ServerFrame, { type: T }>
  }

  /** Frames received and not yet taken by next(). */
  get pending (): readonly ServerFrame[] {
    return this.#queue
  }

  /** Sends a ping frame and waits for its pong: every frame sent before it has been handled. */
  async roundTrip (): Promise<void> {
    const id = `rt-${Math.random()}`
    this.send({ type: 'ping', id })
    await this.next(f => f.type === 'pong' && f.id === id, true)
  }

  /** Waits for the close, failing after WAIT_MS. */
  async whenClosed (): Promise<{ code: number, reason: string }> {
    let timer: ReturnType<typeof setTimeout> | undefined
    const timeout = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`not closed within ${WAIT_MS} ms`)), WAIT_MS) })
    try {
      return await Promise.race([this.closed, timeout])
    } finally {
      clearTimeout(timer)
    }
  }
}

/** Waits (bounded) until `condition` holds, checking after each turn of the event loop. */
export async function until (condition: () => boolean, what: string, limitMs = WAIT_MS): Promise<void> {
  const deadline = Date.now() + limitMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}
