import { request, type IncomingHttpHeaders, type IncomingMessage } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { FastifyInstance } from 'fastify'

/** One message of an event stream: an event (with its fields) or a comment. */
export type SseMessage =
  | { kind: 'event', event: string, id: string | undefined, data: string }
  | { kind: 'comment', text: string }

/** A record event's data (schemas/SseRecordEvent.json). */
export interface SseRecord {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: unknown
  value: unknown
  headers: Array<{ name: string, value: string | null }>
}

/** How long one wait for a message may take before the test fails instead of hanging. */
const WAIT_LIMIT_MS = 10_000

/** The base URL of an app listening on 127.0.0.1 at a free port. */
export async function listen (app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  return `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
}

/**
 * A client of one text/event-stream response over a real socket, parsing it
 * as EventSource does (fields `event`, `id`, `data`, `retry`; comments kept
 * as messages so tests can see heartbeats). It reads only when asked to
 * (`next`), so the server sees a client that reads at the test's pace.
 */
export class SseClient {
  readonly status: number
  readonly headers: IncomingHttpHeaders
  /** The reconnection time the stream set last (`retry:`), if any. */
  retry: number | undefined
  readonly #res: IncomingMessage
  #text = ''
  readonly #messages: SseMessage[] = []
  #ended = false
  #block: { event: string, id: string | undefined, data: string[] } = emptyBlock()

  private constructor (res: IncomingMessage) {
    this.#res = res
    this.status = res.statusCode ?? 0
    this.headers = res.headers
    res.setEncoding('utf8')
    res.pause()
    res.on('end', () => { this.#ended = true })
    res.on('close', () => { this.#ended = true })
    res.on('error', () => { this.#ended = true })
  }

  /** Opens a stream at `url` (absolute) with extra request headers. */
  static async open (url: string, headers: Record<string, string> = {}): Promise<SseClient> {
    return await new Promise<SseClient>((resolve, reject) => {
      const req = request(url, { headers: { accept: 'text/event-stream', ...headers } }, res => resolve(new SseClient(res)))
      req.on('error', reject)
      req.end()
    })
  }

  /** The whole body of a response that is not a stream (an error), as JSON. */
  async json (): Promise<Record<string, unknown>> {
    this.#res.resume()
    let body = ''
    for await (const chunk of this.#res) body += String(chunk)
    return JSON.parse(body) as Record<string, unknown>
  }

  /** True once the server ended the stream (or the connection closed). */
  get ended (): boolean {
    return this.#ended && this.#messages.length === 0
  }

  /**
   * The next message, reading more of the stream as needed; undefined when
   * the stream ends first. Fails after WAIT_LIMIT_MS of real time.
   */
  async next (): Promise<SseMessage | undefined> {
    const deadline = Date.now() + WAIT_LIMIT_MS
    while (this.#messages.length === 0) {
      if (this.#ended) {
        // What was left in the socket's buffer when it ended.
        const rest = this.#res.read() as string | null
        if (rest === null) return undefined
        this.#parse(rest)
        continue
      }
      const chunk = await this.#read(deadline)
      if (chunk !== null) this.#parse(chunk)
    }
    return this.#messages.shift()
  }

  /** The next `count` events, skipping comments. */
  async events (count: number): Promise<Array<Extract<SseMessage, { kind: 'event' }>>> {
    const events: Array<Extract<SseMessage, { kind: 'event' }>> = []
    while (events.length < count) {
      const message = await this.next()
      if (message === undefined) throw new Error(`the stream ended after ${events.length} of ${count} events`)
      if (message.kind === 'event') events.push(message)
    }
    return events
  }

  /** The next `count` record or tombstone events, skipping comments and the retry line; fails on any other event. */
  async records (count: number): Promise<Array<SseRecord & { event: string, id: string }>> {
    const records: Array<SseRecord & { event: string, id: string }> = []
    while (records.length < count) {
      const [event] = await this.events(1)
      if (event === undefined) continue
      if (event.event !== 'record' && event.event !== 'tombstone') throw new Error(`expected a record, got ${event.event}: ${event.data}`)
      records.push({ ...(JSON.parse(event.data) as SseRecord), event: event.event, id: event.id ?? '' })
    }
    return records
  }

  /** Closes the connection, as a browser tab that goes away. */
  close (): void {
    this.#res.destroy()
  }

  async #read (deadline: number): Promise<string | null> {
    const chunk = this.#res.read() as string | null
    if (chunk !== null) return chunk
    await new Promise<void>((resolve, reject) => {
      const left = deadline - Date.now()
      const timer = setTimeout(() => {
        cleanup()
        reject(new Error(`no message from the event stream within ${WAIT_LIMIT_MS} ms`))
      }, Math.max(0, left))
      const done = (): void => {
        cleanup()
        resolve()
      }
      const cleanup = (): void => {
        clearTimeout(timer)
        this.#res.off('readable', done)
        this.#res.off('end', done)
        this.#res.off('close', done)
      }
      this.#res.once('readable', done)
      this.#res.once('end', done)
      this.#res.once('close', done)
    })
    return this.#res.read() as string | null
  }

  #parse (chunk: string): void {
    this.#text += chunk
    let newline = this.#text.indexOf('\n')
    while (newline >= 0) {
      const line = this.#text.slice(0, newline).replace(/\r$/, '')
      this.#text = this.#text.slice(newline + 1)
      this.#line(line)
      newline = this.#text.indexOf('\n')
    }
  }

  #line (line: string): void {
    const block = this.#block
    if (line === '') {
      // As EventSource: a block without data dispatches nothing.
      if (block.data.length > 0) {
        this.#messages.push({ kind: 'event', event: block.event === '' ? 'message' : block.event, id: block.id, data: block.data.join('\n') })
      }
      this.#block = emptyBlock()
      return
    }
    if (line.startsWith(':')) {
      this.#messages.push({ kind: 'comment', text: line.slice(1).trim() })
      return
    }
    const colon = line.indexOf(':')
    const field = colon < 0 ? line : line.slice(0, colon)
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '')
    if (field === 'event') block.event = value
    else if (field === 'id') block.id = value
    else if (field === 'data') block.data.push(value)
    else if (field === 'retry') this.retry = Number(value)
  }
}

function emptyBlock (): { event: string, id: string | undefined, data: string[] } {
  return { event: '', id: undefined, data: [] }
}
