// The WebSocket clients of bench/ws.ts: producers that keep a window of produce frames outstanding
// (or send at a fixed rate), and subscribers that count the records delivered to them and grant
// credits as they go, as a real client would.
//
// They read only what they must of each frame: its type (a prefix compare) and its first and last
// offsets. Within one ack or one `records` frame of a one-partition topic offsets are consecutive,
// so the two give the count, and a subscriber checks that each frame starts where the previous one
// ended (no gap, no duplicate). The first ack of each producer and the first `records` frame of each
// subscriber are parsed in full and checked. This keeps the clients' cost per record well under the
// server's: on a 2-CPU machine they share the CPUs with it.
import { performance } from 'node:perf_hooks'
import WebSocket from 'ws'

/** `skipUTF8Validation`: the client trusts the server's text; the servers (Logway's and the raw one) do validate. */
const CLIENT_OPTIONS = { perMessageDeflate: false, skipUTF8Validation: true }
/** How long stopping waits for the acks of frames already sent. */
const DRAIN_TIMEOUT_MS = 30_000

const ACK = Buffer.from('{"type":"ack",')
const RECORDS = Buffer.from('{"type":"records",')
const CAUGHT_UP = Buffer.from('{"type":"caught_up",')
const OFFSET = Buffer.from('"offset":')

/** What went wrong on the client side: a count, and the first few messages for the report. */
export class Failures {
  count = 0
  readonly #messages: string[] = []

  add (message: string): void {
    this.count++
    if (this.#messages.length < 3) this.#messages.push(message.slice(0, 300))
  }

  describe (): string {
    return `${this.count} failure(s): ${this.#messages.join(' | ')}`
  }
}

function startsWith (data: Buffer, prefix: Buffer): boolean {
  return data.length >= prefix.length && data.compare(prefix, 0, prefix.length, 0, prefix.length) === 0
}

/** The integer after the `"offset":` at `at`. Values never hold `"offset":` here (they are runs of `a`). */
function offsetAt (data: Buffer, at: number): number {
  let n = 0
  for (let i = at + OFFSET.length; i < data.length; i++) {
    const c = data[i] ?? 0
    if (c < 0x30 || c > 0x39) break
    n = n * 10 + c - 0x30
  }
  return n
}

/** The first and last offsets named in a frame, or undefined when it names none. */
function offsetRange (data: Buffer): { first: number, last: number } | undefined {
  const first = data.indexOf(OFFSET)
  if (first < 0) return undefined
  return { first: offsetAt(data, first), last: offsetAt(data, data.lastIndexOf(OFFSET)) }
}

async function connect (url: string): Promise<WebSocket> {
  const socket = new WebSocket(url, CLIENT_OPTIONS)
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      socket.off('error', reject)
      resolve()
    })
    socket.once('error', reject)
  })
  return socket
}

async function close (socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.CLOSED) return
  const closed = new Promise(resolve => socket.once('close', resolve))
  socket.close(1000)
  // A server that does not answer the close (or a socket still paused) is cut.
  const timer = setTimeout(() => socket.terminate(), 2_000)
  await closed
  clearTimeout(timer)
}

/** A 100-byte (recordSize) STRING value, no key, as bench:http and bench:log write. */
export const recordValue = (recordSize: number): string => 'a'.repeat(recordSize)

export interface ProducerOptions {
  url: string
  topic: string
  /** Prefix of the frame ids, unique per connection. */
  name: string
  /** Produce frames sent and not yet acknowledged, at most. */
  window: number
  batchSize: number
  recordSize: number
  failures: Failures
  /** Frames per second, instead of as fast as the window allows. */
  ratePerS?: number
  /** Consulted before each frame: false holds the producer until the next poke(). */
  mayProduce?: () => boolean
  /** Called for each ack: the offset of its first record, when its frame was sent and when the ack came. */
  onAck?: (firstOffset: number, sentAt: number, ackedAt: number) => void
}

/** One connection producing frames of `batchSize` records and counting the acks. */
export class Producer {
  /** Frames and records acknowledged, since open. */
  frames = 0
  records = 0
  /** Records sent, acknowledged or not. */
  sentRecords = 0
  /** Send → ack times (ms) of the frames acknowledged while `recording` is on. */
  readonly latencies: number[] = []
  recording = false
  readonly #o: ProducerOptions
  readonly #socket: WebSocket
  readonly #head: string
  readonly #tail: string
  /** When each outstanding frame was sent, a ring of `window` slots: acks come in frame order. */
  readonly #sentAt: Float64Array
  #oldest = 0
  #outstanding = 0
  #seq = 0
  #running = false
  #checked = false
  #startedAt = 0
  #ticker: NodeJS.Timeout | undefined
  #drained: (() => void) | undefined
  #closing = false

  private constructor (options: ProducerOptions, socket: WebSocket) {
    this.#o = options
    this.#socket = socket
    const record = JSON.stringify({ value: { type: 'STRING', data: recordValue(options.recordSize) } })
    this.#head = `{"type":"produce","id":"${options.name}-`
    this.#tail = `","topic":${JSON.stringify(options.topic)},"records":[${Array.from({ length: options.batchSize }, () => record).join(',')}]}`
    this.#sentAt = new Float64Array(options.window)
    socket.on('message', data => this.#onMessage(data as Buffer))
    socket.on('error', err => { if (!this.#closing) options.failures.add(`producer ${options.name}: ${err.message}`) })
    socket.on('close', code => {
      if (!this.#closing) options.failures.add(`producer ${options.name}: closed by the server with ${code}`)
      this.#drained?.()
    })
  }

  static async open (options: ProducerOptions): Promise<Producer> {
    return new Producer(options, await connect(options.url))
  }

  start (): void {
    this.#running = true
    this.#startedAt = performance.now()
    const rate = this.#o.ratePerS
    if (rate === undefined) {
      this.#pump()
      return
    }
    // Catches up on every tick with the frames due by then, so that timer jitter does not lower the rate.
    this.#ticker = setInterval(() => {
      const due = Math.floor((performance.now() - this.#startedAt) * rate / 1000) - this.#seq
      for (let i = 0; i < due && this.#outstanding < this.#o.window; i++) this.#send()
    }, 1)
  }

  /** Tries again to send, after `mayProduce` may have changed its mind. */
  poke (): void {
    if (this.#running && this.#o.ratePerS === undefined) this.#pump()
  }

  #pump (): void {
    while (this.#running && this.#outstanding < this.#o.window && (this.#o.mayProduce?.() ?? true)) this.#send()
  }

  #send (): void {
    if (this.#socket.readyState !== WebSocket.OPEN) {
      this.#running = false
      return
    }
    this.#socket.send(this.#head + String(this.#seq++) + this.#tail)
    this.#sentAt[(this.#oldest + this.#outstanding) % this.#o.window] = performance.now()
    this.#outstanding++
    this.sentRecords += this.#o.batchSize
  }

  #onMessage (data: Buffer): void {
    const ackedAt = performance.now()
    if (this.#outstanding === 0) {
      this.#o.failures.add(`producer ${this.#o.name}: unexpected frame ${data.toString('utf8')}`)
      return
    }
    const sentAt = this.#sentAt[this.#oldest] ?? ackedAt
    this.#oldest = (this.#oldest + 1) % this.#o.window
    this.#outstanding--
    if (!startsWith(data, ACK)) {
      this.#o.failures.add(`producer ${this.#o.name}: ${data.toString('utf8')}`)
    } else if (this.#checked || this.#check(data)) {
      this.frames++
      this.records += this.#o.batchSize
      if (this.recording) this.latencies.push(ackedAt - sentAt)
      this.#o.onAck?.(offsetRange(data)?.first ?? Number.NaN, sentAt, ackedAt)
    }
    if (this.#outstanding === 0) this.#drained?.()
    if (this.#o.ratePerS === undefined) this.#pump()
  }

  /** The first ack, parsed in full: one result per record, consecutive offsets. */
  #check (data: Buffer): boolean {
    this.#checked = true
    const ack = JSON.parse(data.toString('utf8')) as { results?: Array<{ offset?: unknown }> }
    const offsets = (ack.results ?? []).map(r => r.offset)
    const first = offsets[0]
    if (offsets.length === this.#o.batchSize && typeof first === 'number' && offsets.every((o, i) => o === first + i)) return true
    this.#o.failures.add(`producer ${this.#o.name}: the first ack does not hold ${this.#o.batchSize} consecutive offsets: ${data.toString('utf8')}`)
    return false
  }

  /** Stops sending, waits for the acks of the frames sent, closes. */
  async stop (): Promise<void> {
    this.#running = false
    clearInterval(this.#ticker)
    if (this.#outstanding > 0 && this.#socket.readyState === WebSocket.OPEN) {
      let timer: NodeJS.Timeout | undefined
      await new Promise<void>(resolve => {
        this.#drained = resolve
        timer = setTimeout(resolve, DRAIN_TIMEOUT_MS)
      })
      clearTimeout(timer)
      if (this.#outstanding > 0) this.#o.failures.add(`producer ${this.#o.name}: ${this.#outstanding} frames not acknowledged ${DRAIN_TIMEOUT_MS} ms after the end`)
    }
    this.#closing = true
    await close(this.#socket)
  }
}

export interface SubscriberOptions {
  url: string
  topic: string
  id: string
  /** Records granted in the subscribe frame; a healthy subscriber grants again each time half of them are used. */
  credits: number
  recordSize: number
  failures: Failures
  /** Called for each `records` frame: its first offset and record count, and when it arrived. */
  onDelivery?: (firstOffset: number, count: number, at: number) => void
}

/** One connection reading a topic from its end (`from: latest`, format string), granting credits as records arrive. */
export class Subscriber {
  /** Records and `records` frames delivered, since open. */
  records = 0
  frames = 0
  /** The next offset expected. */
  position = 0
  /** How the connection ended, when the server ended it. */
  closed: { code: number, reason: string, at: number } | undefined
  readonly #o: SubscriberOptions
  readonly #socket: WebSocket
  /** Settled by the `subscribed` frame (or its error): the first frame the server sends. */
  readonly #subscribed: Promise<void>
  #onSubscribed: ((frame: Buffer) => void) | undefined
  #ungranted = 0
  #granting = true
  #checked = false
  #closing = false

  private constructor (options: SubscriberOptions, socket: WebSocket) {
    this.#o = options
    this.#socket = socket
    this.#subscribed = new Promise<void>((resolve, reject) => {
      this.#onSubscribed = data => {
        const frame = JSON.parse(data.toString('utf8')) as { type?: string, partitions?: Array<{ offset: number }> }
        const offset = frame.partitions?.[0]?.offset
        if (frame.type !== 'subscribed' || offset === undefined) {
          reject(new Error(`subscribe answered ${data.toString('utf8').slice(0, 300)}`))
          return
        }
        this.position = offset
        resolve()
      }
      socket.once('close', code => reject(new Error(`closed with ${code} before subscribed`)))
    })
    socket.on('message', data => this.#onMessage(data as Buffer))
    socket.on('error', err => { if (!this.#closing) options.failures.add(`subscriber ${options.id}: ${err.message}`) })
    socket.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString('utf8'), at: performance.now() }
      // A stalled reader may be closed (that is the point); any other close the bench did not ask for is a failure.
      if (!this.#closing && this.#granting) options.failures.add(`subscriber ${options.id}: closed by the server with ${code} ${reason.toString('utf8')}`)
    })
  }

  static async open (options: SubscriberOptions): Promise<Subscriber> {
    const subscriber = new Subscriber(options, await connect(options.url))
    subscriber.#socket.send(JSON.stringify({ type: 'subscribe', id: options.id, topic: options.topic, from: 'latest', format: 'string', credits: { messages: options.credits } }))
    await subscriber.#subscribed
    return subscriber
  }

  #onMessage (data: Buffer): void {
    const onSubscribed = this.#onSubscribed
    if (onSubscribed !== undefined) {
      this.#onSubscribed = undefined
      onSubscribed(data)
      return
    }
    if (startsWith(data, CAUGHT_UP)) return
    const range = startsWith(data, RECORDS) ? offsetRange(data) : undefined
    if (range === undefined) {
      this.#o.failures.add(`subscriber ${this.#o.id}: ${data.toString('utf8')}`)
      return
    }
    if (!this.#checked && !this.#check(data)) return
    if (range.first !== this.position) this.#o.failures.add(`subscriber ${this.#o.id}: expected offset ${this.position}, got ${range.first}`)
    const count = range.last - range.first + 1
    this.position = range.last + 1
    this.records += count
    this.frames++
    this.#o.onDelivery?.(range.first, count, performance.now())
    if (!this.#granting) return
    this.#ungranted += count
    if (this.#ungranted * 2 >= this.#o.credits) {
      this.#socket.send(`{"type":"credit","id":${JSON.stringify(this.#o.id)},"messages":${this.#ungranted}}`)
      this.#ungranted = 0
    }
  }

  /** The first records frame, parsed in full: consecutive offsets, the value produced, no key. */
  #check (data: Buffer): boolean {
    this.#checked = true
    const frame = JSON.parse(data.toString('utf8')) as { records?: Array<{ offset?: unknown, key?: unknown, value?: unknown }> }
    const records = frame.records ?? []
    const first = records[0]?.offset
    const value = recordValue(this.#o.recordSize)
    if (typeof first === 'number' && records.every((r, i) => r.offset === first + i && r.key === null && r.value === value)) return true
    this.#o.failures.add(`subscriber ${this.#o.id}: the first records frame is not what was produced: ${data.toString('utf8')}`)
    return false
  }

  /** A real stalled reader: grants nothing more and stops reading its TCP socket, so the server's buffers fill. */
  stall (): void {
    this.#granting = false
    this.#socket.pause()
  }

  /** Reads the socket again (and so receives what the server queued, up to its close frame). */
  resume (): void {
    this.#socket.resume()
  }

  async close (): Promise<void> {
    this.#closing = true
    this.#socket.resume()
    await close(this.#socket)
  }
}
