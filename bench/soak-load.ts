// The soak's mixed load, at a steady rate: every way of producing (v3 single, v3 streaming,
// v3 records:batch, v2, WebSocket) and of consuming (stateless fetch, churned v2 group members,
// churned WebSocket readers and group members, churned SSE streams, with and without groups),
// plus topics created, used and deleted now and then. Each actor is a loop; an answer it does not
// expect is counted as an error and described, and the actor goes on.
import { get, type IncomingMessage } from 'node:http'
import { setMaxListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import WebSocket from 'ws'

/** Topics the load creates first: retention keeps both bounded, one by size and one by age. */
export const SOAK_TOPICS = [
  { name: 'soak-sized', partitions: 4, configs: { 'retention.bytes': String(1024 * 1024) } },
  { name: 'soak-aged', partitions: 2, configs: { 'retention.ms': '60000' } }
] as const

const TOPIC_NAMES = SOAK_TOPICS.map(topic => topic.name)

/** Share of --rate, records per request or frame, and label of each way of producing. */
const PRODUCERS = [
  { kind: 'v3 single', share: 0.1, records: 1 },
  { kind: 'v3 stream', share: 0.2, records: 10 },
  { kind: 'v3 batch', share: 0.2, records: 20 },
  { kind: 'v2', share: 0.2, records: 20 },
  { kind: 'ws produce', share: 0.3, records: 5 }
] as const

type ProducerKind = typeof PRODUCERS[number]['kind']

/** How many of each churned consumer run at once. */
const CONCURRENCY = { fetch: 2, v2Member: 2, wsReader: 6, sse: 3 }

export interface LoadOptions {
  /** http://host:port of the server. */
  url: string
  clusterId: string
  /** Records per second over all producers. */
  rate: number
}

/** What the load did so far. */
export class LoadStats {
  produced = 0
  consumed = 0
  /** WebSocket connections of the load that are open now. */
  wsOpen = 0
  /** Sessions (WS, SSE, v2 instances, fetch readers) begun and topics churned. */
  sessions = 0
  /** Outcomes that are part of the load's normal life (a commit refused by a rebalance), by kind. */
  readonly expected = new Map<string, number>()
  /** Everything else that went wrong, by kind (digits folded), with the first message of each. */
  readonly errors = new Map<string, { count: number, example: string }>()
  #errorCount = 0

  get errorCount (): number {
    return this.#errorCount
  }

  error (where: string, message: string): void {
    const kind = `${where}: ${message.replace(/\d+/g, 'N').slice(0, 160)}`
    const seen = this.errors.get(kind)
    if (seen === undefined) this.errors.set(kind, { count: 1, example: message.slice(0, 500) })
    else seen.count++
    this.#errorCount++
  }

  expect (kind: string): void {
    this.expected.set(kind, (this.expected.get(kind) ?? 0) + 1)
  }
}

/** An answer the load did not expect; its message names the status and code. */
class Unexpected extends Error {}

interface Answer {
  status: number
  text: string
}

const V2 = 'application/vnd.kafka.v2+json'
const V2_BINARY = 'application/vnd.kafka.binary.v2+json'
const V2_JSON = 'application/vnd.kafka.json.v2+json'

const pick = <T>(items: readonly T[]): T => items[Math.floor(Math.random() * items.length)] as T
const between = (low: number, high: number): number => low + Math.random() * (high - low)
const LETTERS = 'abcdefghijklmnopqrstuvwxyz0123456789'

/** A value of 100 to 300 characters that names where it came from. */
function valueText (kind: string, seq: number): string {
  let text = `${kind} #${seq} `
  const length = Math.floor(between(100, 300))
  while (text.length < length) text += LETTERS[Math.floor(Math.random() * LETTERS.length)]
  return text
}

/** Half the records are keyed (murmur2 picks the partition), the others go round-robin. */
const maybeKey = (): { key?: { type: 'STRING', data: string } } =>
  Math.random() < 0.5 ? { key: { type: 'STRING', data: `user-${Math.floor(Math.random() * 1000)}` } } : {}

/** Spaces sends so that they add up to `recordsPerSecond`; a sender that fell behind does not burst to catch up. */
class Pacer {
  readonly #intervalMsPerRecord: number
  #next = performance.now()

  constructor (recordsPerSecond: number) {
    this.#intervalMsPerRecord = 1000 / recordsPerSecond
  }

  async take (records: number, signal: AbortSignal): Promise<void> {
    const wait = this.#next - performance.now()
    if (wait > 0) await pause(wait, signal)
    this.#next = Math.max(this.#next, performance.now() - 1000) + records * this.#intervalMsPerRecord
  }
}

/** Waits `ms`, or less when `signal` aborts; never rejects. */
async function pause (ms: number, signal: AbortSignal): Promise<void> {
  await sleep(ms, undefined, { signal }).catch(() => {})
}

/** The running load: its counters, and stop(), which ends every actor and waits for them. */
export class SoakLoad {
  readonly stats = new LoadStats()
  readonly #options: LoadOptions
  readonly #stop = new AbortController()
  readonly #actors: Array<Promise<void>> = []
  readonly #sockets = new Set<WebSocket>()
  /** Churned topics not deleted yet, oldest first. */
  readonly #churned: string[] = []
  #seq = 0

  private constructor (options: LoadOptions) {
    this.#options = options
    // Every actor waits on it at once: more than Node's default of 10 listeners, and no leak.
    setMaxListeners(100, this.#stop.signal)
  }

  /** Creates the topics, then starts every actor. */
  static async start (options: LoadOptions): Promise<SoakLoad> {
    const load = new SoakLoad(options)
    for (const topic of SOAK_TOPICS) {
      await load.#expect('setup', await load.#call('POST', load.#v3('/topics'), {
        json: { topic_name: topic.name, partitions_count: topic.partitions, configs: Object.entries(topic.configs).map(([name, value]) => ({ name, value })) }
      }), [201])
    }
    const actor = (where: string, body: () => Promise<void>, count = 1): void => {
      for (let i = 0; i < count; i++) load.#actors.push(load.#forever(where, body))
    }
    for (const producer of PRODUCERS) {
      const pacer = new Pacer(options.rate * producer.share)
      // WebSocket producers keep a connection for a while; the HTTP ones send a request per turn.
      if (producer.kind === 'ws produce') actor(producer.kind, () => load.#wsProducer(pacer, producer.records), 2)
      else actor(producer.kind, () => load.#produceOnce(producer.kind, pacer, producer.records))
    }
    actor('fetch', () => load.#fetchReader(), CONCURRENCY.fetch)
    actor('v2 member', () => load.#v2Member(), CONCURRENCY.v2Member)
    actor('ws reader', () => load.#wsReader(), CONCURRENCY.wsReader)
    actor('sse', () => load.#sseReader(), CONCURRENCY.sse)
    actor('topic churn', () => load.#churnTopic())
    return load
  }

  async stop (): Promise<void> {
    this.#stop.abort()
    for (const socket of this.#sockets) socket.terminate()
    await Promise.all(this.#actors)
  }

  get #signal (): AbortSignal {
    return this.#stop.signal
  }

  async #forever (where: string, body: () => Promise<void>): Promise<void> {
    while (!this.#signal.aborted) {
      try {
        await body()
      } catch (err) {
        if (this.#signal.aborted) break
        this.stats.error(where, err instanceof Unexpected ? err.message : `${(err as Error).name}: ${(err as Error).message}`)
        await pause(1000, this.#signal)
      }
    }
  }

  // -- HTTP ------------------------------------------------------------------------------------

  #v3 (path: string): string {
    return `/v3/clusters/${this.#options.clusterId}${path}`
  }

  async #call (method: string, path: string, request: { json?: unknown, body?: string, type?: string, accept?: string, signal?: AbortSignal } = {}): Promise<Answer> {
    const headers: Record<string, string> = {}
    if (request.json !== undefined || request.body !== undefined) headers['content-type'] = request.type ?? 'application/json'
    if (request.accept !== undefined) headers.accept = request.accept
    const response = await fetch(`${this.#options.url}${path}`, {
      method,
      headers,
      body: request.json !== undefined ? JSON.stringify(request.json) : request.body,
      // Never the long-lived stop signal: fetch leaves a listener on it for every request until GC.
      // Requests last at most a long poll (1 s), so stopping waits for them instead.
      signal: request.signal
    })
    return { status: response.status, text: await response.text() }
  }

  /** The answer's JSON when its status is one of `statuses`; throws Unexpected otherwise. */
  async #expect<T = unknown>(where: string, answer: Answer, statuses: number[]): Promise<T> {
    if (!statuses.includes(answer.status)) throw new Unexpected(describeAnswer(where, answer))
    return (answer.text === '' ? undefined : JSON.parse(answer.text)) as T
  }

  // -- producers -------------------------------------------------------------------------------

  async #produceOnce (kind: Exclude<ProducerKind, 'ws produce'>, pacer: Pacer, records: number): Promise<void> {
    await pacer.take(records, this.#signal)
    if (this.#signal.aborted) return
    const topic = pick(TOPIC_NAMES)
    const v3Record = (): object => ({ ...maybeKey(), value: { type: 'STRING', data: valueText(kind, this.#seq++) } })
    let written = 0
    if (kind === 'v3 single') {
      const report = await this.#expect<{ error_code: number }>(kind, await this.#call('POST', this.#v3(`/topics/${topic}/records`), { json: v3Record() }), [200])
      written = report.error_code === 200 ? 1 : 0
    } else if (kind === 'v3 stream') {
      const body = Array.from({ length: records }, () => JSON.stringify(v3Record())).join('\n')
      const answer = await this.#call('POST', this.#v3(`/topics/${topic}/records`), { body })
      if (answer.status !== 200) throw new Unexpected(describeAnswer(kind, answer))
      written = answer.text.split('\n').filter(line => line.startsWith('{"error_code":200,')).length
    } else if (kind === 'v3 batch') {
      const entries = Array.from({ length: records }, (_, i) => ({ id: `e${i}`, ...v3Record() }))
      const result = await this.#expect<{ successes: unknown[] }>(kind, await this.#call('POST', this.#v3(`/topics/${topic}/records:batch`), { json: { entries } }), [207])
      written = result.successes.length
    } else {
      const body = { records: Array.from({ length: records }, () => ({ ...(Math.random() < 0.5 ? { key: `user-${Math.floor(Math.random() * 1000)}` } : {}), value: valueText(kind, this.#seq++) })) }
      const result = await this.#expect<{ offsets: Array<{ error_code: number | null }> }>(kind, await this.#call('POST', `/topics/${topic}`, { json: body, type: V2_JSON }), [200])
      written = result.offsets.filter(o => o.error_code === null).length
    }
    this.stats.produced += written
    if (written !== records) throw new Unexpected(`${kind}: ${written} of ${records} records written`)
  }

  /** One WebSocket connection that produces frames for 30 to 120 s, each frame awaited, then closes. */
  async #wsProducer (pacer: Pacer, records: number): Promise<void> {
    const session = await this.#openWs()
    this.stats.sessions++
    const until = performance.now() + between(30_000, 120_000)
    try {
      while (!this.#signal.aborted && performance.now() < until) {
        await pacer.take(records, this.#signal)
        if (this.#signal.aborted) break
        const id = `p${this.#seq}`
        const topic = pick(TOPIC_NAMES)
        session.send({ type: 'produce', id, topic, records: Array.from({ length: records }, () => ({ ...maybeKey(), value: { type: 'STRING', data: valueText('ws', this.#seq++) } })) })
        const frame = await session.next(10_000)
        if (frame.type !== 'ack' || frame.id !== id) throw new Unexpected(`ws produce: answered ${describeFrame(frame)}`)
        this.stats.produced += (frame.results as unknown[]).length
      }
    } finally {
      await session.close(true)
    }
  }

  // -- consumers -------------------------------------------------------------------------------

  /** Stateless fetch of one partition for 5 to 15 s: from the start or the end, then long polls. */
  async #fetchReader (): Promise<void> {
    this.stats.sessions++
    const topic = pick(SOAK_TOPICS)
    const partition = Math.floor(Math.random() * topic.partitions)
    let offset = pick(['earliest', 'latest'])
    const until = performance.now() + between(5000, 15_000)
    while (!this.#signal.aborted && performance.now() < until) {
      const answer = await this.#call('GET', this.#v3(`/topics/${topic.name}/partitions/${partition}/records?offset=${offset}&max_records=500&timeout_ms=1000`))
      if (answer.status === 400 && answer.text.includes('"OFFSET_OUT_OF_RANGE"')) {
        // Retention removed the records at the reader's offset: start again at the log start, as a client would.
        this.stats.expect('fetch offset removed by retention')
        offset = 'earliest'
        continue
      }
      const page = await this.#expect<{ records: unknown[], next_offset: number }>('fetch', answer, [200])
      this.stats.consumed += page.records.length
      offset = String(page.next_offset)
    }
  }

  /**
   * A v2 instance of group soak-v2: created, subscribed to both topics, 3 to 10 polls each
   * followed by a commit, deleted. One time in six it is abandoned instead, in one of three idle
   * groups (so that soak-v2 never waits for it), and left to expire (consumerInstanceTimeoutMs).
   */
  async #v2Member (): Promise<void> {
    this.stats.sessions++
    const abandon = Math.random() < 1 / 6
    const group = abandon ? `soak-v2-idle-${this.#seq % 3}` : 'soak-v2'
    const name = `m${this.#seq++}`
    const base = `/consumers/${group}/instances/${name}`
    await this.#expect('v2 create', await this.#call('POST', `/consumers/${group}`, {
      json: { name, format: 'binary', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' },
      type: V2
    }), [200])
    await this.#expect('v2 subscribe', await this.#call('POST', `${base}/subscription`, { json: { topics: TOPIC_NAMES }, type: V2 }), [204])
    const polls = abandon ? 1 : Math.floor(between(3, 11))
    for (let i = 0; i < polls && !this.#signal.aborted; i++) {
      const records = await this.#expect<unknown[]>('v2 poll', await this.#call('GET', `${base}/records?timeout=1000`, { accept: V2_BINARY }), [200])
      this.stats.consumed += records.length
      if (records.length === 0) continue
      const committed = await this.#call('POST', `${base}/offsets`, { type: V2, body: '' })
      // A member that the group rebalanced without is refused its commit (and rejoins at its next poll).
      if (committed.status === 409) this.stats.expect('v2 commit refused by a rebalance')
      else await this.#expect('v2 commit', committed, [200])
    }
    if (!abandon) await this.#expect('v2 delete', await this.#call('DELETE', base, { type: V2 }), [204])
  }

  /**
   * A WebSocket reader for 2 to 8 s: two times in three a subscribe to one topic (from the start
   * or the end), else a member of group soak-ws on both topics; credits granted as records
   * arrive. It ends with a close frame, or one time in five by dropping the connection.
   */
  async #wsReader (): Promise<void> {
    const session = await this.#openWs()
    this.stats.sessions++
    const grouped = Math.random() < 1 / 3
    const format = pick(['binary', 'string'])
    const credits = { messages: 200 }
    session.onFrame = frame => {
      if (frame.type === 'records') {
        const count = (frame.records as unknown[]).length
        this.stats.consumed += count
        session.send({ type: 'credit', id: 'r', messages: count })
      } else if (frame.type === 'error') {
        this.stats.error('ws reader', `error frame ${String(frame.code)}: ${String(frame.message)}`)
      }
    }
    session.send(grouped
      ? { type: 'join', id: 'r', group: 'soak-ws', topics: TOPIC_NAMES, format, credits, auto_commit: Math.random() < 0.5, auto_offset_reset: 'earliest', session_timeout_ms: 10_000 }
      : { type: 'subscribe', id: 'r', topic: pick(TOPIC_NAMES), from: pick(['earliest', 'latest']), format, credits })
    await pause(between(2000, 8000), this.#signal)
    await session.close(Math.random() >= 0.2)
  }

  /**
   * An SSE stream for 2 to 8 s: one time in three a member of group soak-sse, else from the start
   * or the end of one topic. Read with node:http and ended by closing the connection, as
   * EventSource.close() does: an aborted fetch (undici) can leave a connection open on which no
   * request is ever sent, which holds the server's graceful close until Node's headers timeout.
   */
  async #sseReader (): Promise<void> {
    this.stats.sessions++
    const topic = pick(TOPIC_NAMES)
    const query = Math.random() < 1 / 3 ? 'group=soak-sse&auto_offset_reset=earliest' : `from=${pick(['earliest', 'latest'])}`
    const done = AbortSignal.any([this.#signal, AbortSignal.timeout(Math.round(between(2000, 8000)))])
    const request = get(`${this.#options.url}${this.#v3(`/topics/${topic}/events?${query}&format=string`)}`)
    done.addEventListener('abort', () => request.destroy(), { once: true })
    let response: IncomingMessage
    try {
      response = await new Promise<IncomingMessage>((resolve, reject) => request.once('response', resolve).on('error', reject))
    } catch (err) {
      if (done.aborted) return
      throw err
    }
    response.setEncoding('utf8')
    if (response.statusCode !== 200) {
      let text = ''
      for await (const chunk of response) text += chunk as string
      throw new Unexpected(describeAnswer('sse', { status: response.statusCode ?? 0, text }))
    }
    let rest = ''
    let lastEvent = ''
    try {
      for await (const chunk of response) {
        const lines = (rest + (chunk as string)).split('\n')
        rest = lines.pop() ?? ''
        for (const line of lines) {
          if (line.startsWith('event: ')) lastEvent = line.slice(7)
          if (!line.startsWith('data: ')) continue
          if (lastEvent === 'record' || lastEvent === 'tombstone') this.stats.consumed++
          else if (lastEvent === 'stream-error') this.stats.error('sse', `stream-error ${line.slice(6, 300)}`)
        }
      }
    } catch (err) {
      if (!done.aborted) throw err
    }
    if (!done.aborted && lastEvent !== 'stream-error') this.stats.error('sse', 'the server ended the stream')
    request.destroy()
  }

  /** Every 30 to 60 s: a new topic, 50 records produced to it and read back; the topic before the last one is deleted. */
  async #churnTopic (): Promise<void> {
    await pause(between(30_000, 60_000), this.#signal)
    if (this.#signal.aborted) return
    this.stats.sessions++
    const topic = `soak-churn-${this.#seq++}`
    await this.#expect('churn create', await this.#call('POST', this.#v3('/topics'), { json: { topic_name: topic, partitions_count: 2 } }), [201])
    const entries = Array.from({ length: 50 }, (_, i) => ({ id: `e${i}`, value: { type: 'STRING', data: valueText('churn', i) } }))
    const result = await this.#expect<{ successes: unknown[] }>('churn produce', await this.#call('POST', this.#v3(`/topics/${topic}/records:batch`), { json: { entries } }), [207])
    this.stats.produced += result.successes.length
    let read = 0
    for (const partition of [0, 1]) {
      const page = await this.#expect<{ records: unknown[] }>('churn fetch', await this.#call('GET', this.#v3(`/topics/${topic}/partitions/${partition}/records?offset=earliest&max_records=100`)), [200])
      read += page.records.length
    }
    this.stats.consumed += read
    if (result.successes.length !== 50 || read !== 50) throw new Unexpected(`churn: ${result.successes.length} of 50 records written, ${read} read back`)
    this.#churned.push(topic)
    const old = this.#churned.length > 2 ? this.#churned.shift() : undefined
    if (old !== undefined) await this.#expect('churn delete', await this.#call('DELETE', this.#v3(`/topics/${old}`)), [204])
  }

  // -- WebSocket -------------------------------------------------------------------------------

  async #openWs (): Promise<WsSession> {
    const socket = new WebSocket(`${this.#options.url.replace(/^http/, 'ws')}${this.#v3('/ws')}`)
    this.#sockets.add(socket)
    const session = new WsSession(socket, this.stats, this.#signal)
    socket.once('close', () => this.#sockets.delete(socket))
    await session.opened
    return session
  }
}

type Frame = Record<string, unknown> & { type: string }

/** A client WebSocket of the load: frames in order, through `onFrame` or awaited with `next`. */
class WsSession {
  readonly opened: Promise<void>
  onFrame: ((frame: Frame) => void) | undefined
  readonly #socket: WebSocket
  readonly #stats: LoadStats
  readonly #signal: AbortSignal
  readonly #queue: Frame[] = []
  #wake: (() => void) | undefined
  #open = false
  /** Set once the connection ends or this side starts closing it. */
  #closed = false

  constructor (socket: WebSocket, stats: LoadStats, signal: AbortSignal) {
    this.#socket = socket
    this.#stats = stats
    this.#signal = signal
    this.opened = new Promise((resolve, reject) => {
      socket.once('open', () => {
        this.#open = true
        stats.wsOpen++
        resolve()
      })
      // A connection that never opened is reported once, by the actor that awaited it.
      socket.once('error', reject)
    })
    socket.on('message', data => {
      const frame = JSON.parse(String(data)) as Frame
      if (this.onFrame !== undefined) this.onFrame(frame)
      else this.#queue.push(frame)
      this.#wake?.()
    })
    socket.on('error', err => { if (this.#open && !signal.aborted) stats.error('ws', `${err.name}: ${err.message}`) })
    socket.once('close', (code, reason) => {
      if (this.#open) {
        stats.wsOpen--
        if (!this.#closed && !signal.aborted) stats.error('ws', `closed by the server: ${code} ${String(reason)}`)
      }
      this.#closed = true
      this.#wake?.()
    })
  }

  send (frame: object): void {
    this.#socket.send(JSON.stringify(frame))
  }

  /** The next frame; throws when none comes within `timeoutMs` or the connection ends. */
  async next (timeoutMs: number): Promise<Frame> {
    const deadline = performance.now() + timeoutMs
    while (this.#queue.length === 0) {
      if (this.#closed || this.#signal.aborted) throw new Unexpected('ws: the connection ended while a frame was awaited')
      const left = deadline - performance.now()
      if (left <= 0) throw new Unexpected(`ws: no frame within ${timeoutMs} ms`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(resolve, left)
        this.#wake = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.#wake = undefined
    }
    return this.#queue.shift() as Frame
  }

  /** Ends the connection with a close frame (and waits up to 5 s for the server's), or drops it. */
  async close (clean: boolean): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (!clean) {
      this.#socket.terminate()
      return
    }
    const closed = new Promise(resolve => this.#socket.once('close', resolve))
    this.#socket.close(1000)
    await Promise.race([closed, sleep(5000)])
    if (this.#socket.readyState !== WebSocket.CLOSED) {
      this.#stats.error('ws', 'the server did not answer a close frame within 5 s')
      this.#socket.terminate()
    }
  }
}

function describeAnswer (where: string, answer: Answer): string {
  let code = ''
  let message = answer.text.slice(0, 200)
  try {
    const body = JSON.parse(answer.text) as { code?: string, message?: string }
    code = body.code ?? ''
    message = body.message ?? message
  } catch {}
  return `${where}: HTTP ${answer.status} ${code} ${message}`
}

function describeFrame (frame: Frame): string {
  return frame.type === 'error' ? `error ${String(frame.code)}: ${String(frame.message)}` : frame.type
}
