import type { ValidateFunction } from 'ajv'
import { wsAjv } from '../../src/ws/ws-schemas.js'
import { WebSocket, type RawWebSocket } from '../ws/ws-test-client.js'

/** A server frame as received. */
export interface Frame {
  type: string
  id?: string
  [field: string]: unknown
}

const ajv = wsAjv()
const validators = new Map<string, ValidateFunction | undefined>()

/** The schema of a server frame type: `caught_up` is WsCaughtUp. */
function validatorFor (type: string): ValidateFunction | undefined {
  if (!validators.has(type)) {
    const name = `Ws${type.split('_').map(word => word.charAt(0).toUpperCase() + word.slice(1)).join('')}`
    validators.set(type, /^[a-z_]+$/.test(type) ? ajv.getSchema(name) : undefined)
  }
  return validators.get(type)
}

/**
 * A WebSocket client for the fuzz: keeps every frame it receives, and
 * records as a problem any frame that is binary, not JSON, of an unknown
 * type, or not valid against its schema of schemas/ws/.
 */
export class FuzzSocket {
  readonly received: Frame[] = []
  readonly problems: string[] = []
  closed: { code: number, reason: string } | undefined
  readonly #socket: RawWebSocket
  #wake: (() => void) | null = null

  private constructor (socket: RawWebSocket) {
    this.#socket = socket
    socket.on('message', (data, isBinary) => {
      if (isBinary) this.problems.push('the server sent a binary frame')
      let frame: Frame
      try {
        frame = JSON.parse(data.toString('utf8')) as Frame
      } catch {
        this.problems.push(`the server sent a frame that is not JSON: ${data.toString('utf8').slice(0, 200)}`)
        return
      }
      const validate = validatorFor(String(frame.type))
      if (validate === undefined) this.problems.push(`unknown server frame type ${JSON.stringify(frame.type)}`)
      else if (validate(frame) !== true) this.problems.push(`frame contract: ${JSON.stringify(frame).slice(0, 300)} does not match its schema: ${JSON.stringify(validate.errors)}`)
      this.received.push(frame)
      this.#wake?.()
    })
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() }
      this.#wake?.()
    })
    socket.on('error', () => {})
  }

  /** Connects to `url`; rejects when the upgrade fails. */
  static async open (url: string): Promise<FuzzSocket> {
    const socket = new WebSocket(url, { autoPong: true })
    const client = new FuzzSocket(socket)
    await new Promise<void>((resolve, reject) => {
      socket.on('open', resolve)
      socket.on('error', reject)
      socket.on('unexpected-response', (_req, res) => reject(new Error(`unexpected response ${res.statusCode}`)))
    })
    return client
  }

  get open (): boolean {
    return this.closed === undefined
  }

  send (data: string | Buffer, binary = false): void {
    if (this.#socket.readyState === 1) this.#socket.send(data, { binary })
  }

  /**
   * The first frame from index `from` on that `match` accepts; undefined if
   * the socket closes first or none comes within `limitMs` (a bound, never a pause).
   */
  async waitFor (from: number, match: (frame: Frame) => boolean, limitMs: number): Promise<Frame | undefined> {
    const deadline = Date.now() + limitMs
    for (let i = from; ;) {
      for (; i < this.received.length; i++) if (match(this.received[i] as Frame)) return this.received[i]
      const remaining = deadline - Date.now()
      if (!this.open || remaining <= 0) return undefined
      await new Promise<void>(resolve => {
        const timer = setTimeout(done, remaining)
        this.#wake = done
        function done (): void {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = null
    }
  }

  /** Closes the connection, waiting (bounded) for the close handshake. */
  async close (): Promise<void> {
    if (!this.open) return
    this.#socket.close(1000)
    await this.waitFor(this.received.length, () => false, 2_000)
    if (this.open) this.#socket.terminate()
  }
}
