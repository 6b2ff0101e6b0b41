import type { FastifyBaseLogger } from 'fastify'
import type { Clock, TimerHandle } from '../clock.js'
import { LogwayError, type ErrorCode } from '../errors.js'
import type { GroupCoordinator } from '../groups/group-coordinator.js'
import type { LogStore } from '../log/log-store.js'
import type { AppendHub } from './append-hub.js'
import { MAX_BAD_FRAMES, WS_CLOSE } from './close-codes.js'
import { GroupMembership } from './group-membership.js'
import type { RecordSink, RecordStream } from './record-stream.js'
import { openReader } from './topic-reader.js'
import type { ClientFrame, CommitFrame, JoinFrame, ProduceFrame, ServerFrame, SubscribeFrame } from './ws-frames.js'
import { produceFrame } from './ws-produce.js'
import type { FrameReader } from './ws-schemas.js'
import { WS_OPEN, type WsSocket } from './ws-socket.js'

/** Renders any thrown value as the fields of an error frame, through the same code table as HTTP. */
export type WsErrorRenderer = (err: unknown) => { body: { error_code: number, code: ErrorCode, message: string }, unexpected: boolean }

/** The most subscriptions and memberships one connection holds at once. */
export const MAX_OPERATIONS = 1_000
/** Produce frames stop being read while the frames awaiting their ack total this many bytes. */
export const MAX_IN_FLIGHT_BYTES = 64 * 1024 * 1024
/** How long a socket the server closed may take to finish the close handshake before it is cut. */
export const CLOSE_GRACE_MS = 5_000

export interface WsSessionOptions {
  socket: WsSocket
  log: LogStore
  getGroups: () => Promise<GroupCoordinator>
  hub: AppendHub
  clock: Clock
  reader: FrameReader
  renderError: WsErrorRenderer
  logger: FastifyBaseLogger
  clientHost: string
  /** Heartbeat ping period; a connection that answers two pings in a row with no pong is closed with 4000. */
  pingIntervalMs: number
  /** Produce frames awaiting their ack above which the socket is not read. */
  maxInFlight: number
  /** Send buffer high-water mark: above it no records are read and the socket is not read. */
  sendBufferBytes: number
  /** How long the send buffer may stay above its mark before the connection is closed with 4008. */
  slowConsumerTimeoutMs: number
  /** Called once the socket has closed. */
  onClosed: (session: WsSession) => void
}

type Operation =
  | { kind: 'reader', stream: RecordStream }
  | { kind: 'member', stream: RecordStream, membership: GroupMembership }

interface PendingReply {
  frame: ServerFrame | null
  bytes: number
}

/** What a session reports of itself (WsSessions.stats). */
export interface WsSessionStats {
  bufferedBytes: number
  stalled: boolean
  readingPaused: boolean
  operations: number
  inFlight: number
}

/**
 * One WebSocket connection: reads and validates client frames, runs the
 * operations they start, and writes server frames under flow control.
 *
 * Memory per connection stays bounded: records are read from the log only
 * while the send buffer is below `sendBufferBytes` (and their credits
 * allow), the socket is not read while the send buffer is above it or
 * `maxInFlight` produce frames (or MAX_IN_FLIGHT_BYTES) await their ack,
 * and a send buffer that stays above the mark for `slowConsumerTimeoutMs`
 * closes the connection with 4008.
 */
export class WsSession implements RecordSink {
  readonly #o: WsSessionOptions
  readonly #socket: WsSocket
  readonly #operations = new Map<string, Operation>()
  readonly #replies: PendingReply[] = []
  #inFlightBytes = 0
  #badFrames = 0
  #stalled = false
  #stallTimer: TimerHandle | null = null
  #readingPaused = false
  #unansweredPings = 0
  #heartbeat: TimerHandle | null = null
  #closeTimer: TimerHandle | null = null
  #pumpScheduled = false
  #rotation = 0
  /** The server has started closing the socket (any code): a member leaving then does not auto-commit. */
  #closingByServer = false
  #shuttingDown = false
  #repliesDrained: (() => void) | null = null
  #closed = false
  #onClosedSignal: () => void = () => {}
  /** Resolves once the socket has closed. */
  readonly whenClosed = new Promise<void>(resolve => { this.#onClosedSignal = resolve })

  constructor (options: WsSessionOptions) {
    this.#o = options
    this.#socket = options.socket
    this.#socket.on('message', (data, isBinary) => this.#onMessage(data, isBinary))
    this.#socket.on('pong', () => { this.#unansweredPings = 0 })
    this.#socket.on('close', code => this.#onClose(code))
    // `ws` emits an error when the client breaks the protocol (a frame over maxPayload, text that is not UTF-8, …)
    // and the server then ends the connection: it did not drop, so its group members leave now rather than at their
    // session timeout, which would hold up every rebalance of their groups until then.
    this.#socket.on('error', () => { this.#closingByServer = true })
    this.#armHeartbeat()
  }

  // ---- RecordSink ----------------------------------------------------------------

  get writable (): boolean {
    return !this.#stalled && !this.#closed
  }

  send (frame: ServerFrame): void {
    const socket = this.#socket
    if (socket.readyState !== WS_OPEN) return
    socket.send(JSON.stringify(frame), this.#onFlushed)
    if (!this.#stalled && socket.bufferedAmount >= this.#o.sendBufferBytes) this.#stall()
  }

  sendError (id: string | undefined, err: unknown): void {
    const { body, unexpected } = this.#o.renderError(err)
    if (unexpected) this.#o.logger.error({ err, operation: id }, 'websocket operation failed')
    this.send({ type: 'error', ...(id === undefined ? {} : { id }), error_code: body.error_code, code: body.code, message: body.message })
  }

  // ---- reading frames --------------------------------------------------------------

  #onMessage (data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (this.#closed || this.#closingByServer || this.#shuttingDown) return
    this.#unansweredPings = 0
    if (isBinary) {
      this.#badFrame(undefined, 'Binary frames are not accepted: send each frame as JSON text.')
      return
    }
    const text = Buffer.isBuffer(data) ? data.toString('utf8') : Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data).toString('utf8')
    const read = this.#o.reader.read(text)
    if (!read.ok) {
      this.#badFrame(read.id, read.message)
      return
    }
    this.#dispatch(read.frame, text.length)
  }

  #badFrame (id: string | undefined, message: string): void {
    this.#badFrames++
    this.sendError(id, new LogwayError('INVALID_REQUEST', message))
    if (this.#badFrames > MAX_BAD_FRAMES) this.#closeWith(WS_CLOSE.POLICY_VIOLATION, `more than ${MAX_BAD_FRAMES} bad frames`)
  }

  #dispatch (frame: ClientFrame, bytes: number): void {
    switch (frame.type) {
      case 'produce': return this.#produce(frame, bytes)
      case 'subscribe': return this.#subscribe(frame)
      case 'join': return this.#join(frame)
      case 'ping': return this.send(frame.id === undefined ? { type: 'pong' } : { type: 'pong', id: frame.id })
    }
    const operation = this.#operations.get(frame.id)
    if (operation === undefined) {
      this.sendError(frame.id, new LogwayError('INVALID_REQUEST', `No subscription or membership has the id ${JSON.stringify(frame.id)} on this connection.`))
      return
    }
    switch (frame.type) {
      case 'credit':
        operation.stream.credits.grant(frame)
        this.#schedulePump()
        return
      case 'probe':
        this.send({ type: 'position', id: frame.id, partitions: operation.stream.probe() })
        return
      case 'seek':
        try {
          operation.stream.seek(frame.topic, frame.partition, frame.offset)
          this.send({ type: 'seeked', id: frame.id, topic: frame.topic, partition: frame.partition, offset: frame.offset })
        } catch (err) {
          this.sendError(frame.id, err)
        }
        return
      case 'commit':
        if (operation.kind !== 'member') {
          this.sendError(frame.id, new LogwayError('INVALID_REQUEST', `Operation '${frame.id}' is a subscription without a group: only a group membership (join) commits.`))
          return
        }
        this.#commit(operation.membership, frame)
        return
      case 'leave':
        if (operation.kind !== 'member') {
          this.sendError(frame.id, new LogwayError('INVALID_REQUEST', `Operation '${frame.id}' is a subscription without a group: end it with unsubscribe.`))
          return
        }
        this.#end(frame.id, 'left')
        return
      case 'unsubscribe':
        this.#end(frame.id, 'unsubscribed')
    }
  }

  // ---- produce -------------------------------------------------------------------

  #produce (frame: ProduceFrame, bytes: number): void {
    const reply: PendingReply = { frame: null, bytes }
    this.#replies.push(reply)
    this.#inFlightBytes += bytes
    this.#updateReading()
    // produceFrame issues its appends before it returns, so appends follow frame order.
    // Only the id is kept while the appends wait for their flush, not the parsed frame.
    const id = frame.id
    produceFrame(this.#o.log, frame).then(
      ack => { reply.frame = ack },
      err => { reply.frame = this.#errorFrame(id, err) }
    ).finally(() => this.#flushReplies())
  }

  #errorFrame (id: string, err: unknown): ServerFrame {
    const { body, unexpected } = this.#o.renderError(err)
    if (unexpected) this.#o.logger.error({ err, operation: id }, 'websocket produce failed')
    return { type: 'error', id, error_code: body.error_code, code: body.code, message: body.message }
  }

  /** Sends the replies to produce frames in the order the frames came. */
  #flushReplies (): void {
    let sent = 0
    while (sent < this.#replies.length) {
      const reply = this.#replies[sent] as PendingReply
      if (reply.frame === null) break
      this.send(reply.frame)
      this.#inFlightBytes -= reply.bytes
      sent++
    }
    if (sent > 0) this.#replies.splice(0, sent)
    this.#updateReading()
    if (this.#replies.length === 0) this.#repliesDrained?.()
  }

  // ---- subscriptions and memberships -----------------------------------------------

  #checkNewId (id: string): boolean {
    if (this.#operations.has(id)) {
      this.sendError(id, new LogwayError('INVALID_REQUEST', `The id ${JSON.stringify(id)} already names a subscription or membership on this connection.`))
      return false
    }
    if (this.#operations.size >= MAX_OPERATIONS) {
      this.sendError(id, new LogwayError('INVALID_REQUEST', `A connection holds at most ${MAX_OPERATIONS} subscriptions and memberships.`))
      return false
    }
    return true
  }

  #streamContext (): { log: LogStore, hub: AppendHub, wake: () => void } {
    return { log: this.#o.log, hub: this.#o.hub, wake: this.#schedulePump }
  }

  #subscribe (frame: SubscribeFrame): void {
    if (!this.#checkNewId(frame.id)) return
    try {
      const { stream, subscribed } = openReader(frame, this.#streamContext())
      this.#operations.set(frame.id, { kind: 'reader', stream })
      this.send(subscribed)
    } catch (err) {
      this.sendError(frame.id, err)
    }
  }

  #join (frame: JoinFrame): void {
    if (!this.#checkNewId(frame.id)) return
    // Registered at once, so that credits sent right after the join count.
    const membership = new GroupMembership(frame, {
      ...this.#streamContext(),
      clock: this.#o.clock,
      sink: this,
      clientHost: this.#o.clientHost,
      onRemoved: (m, err) => this.#onRemoved(m, err),
      onBackgroundError: (err, what) => this.#o.logger.warn({ err }, `websocket group member: ${what} failed`)
    })
    const operation: Operation = { kind: 'member', stream: membership.stream, membership }
    this.#operations.set(frame.id, operation)
    this.#o.getGroups().then(async groups => await membership.start(groups)).catch((err: unknown) => {
      if (this.#operations.get(frame.id) === operation) this.#operations.delete(frame.id)
      membership.abandon()
      this.sendError(frame.id, err)
    })
  }

  #commit (membership: GroupMembership, frame: CommitFrame): void {
    membership.commit(frame.offsets).then(
      offsets => this.send({ type: 'committed', id: frame.id, offsets }),
      err => this.sendError(frame.id, err)
    )
  }

  #end (id: string, reply: 'left' | 'unsubscribed'): void {
    const operation = this.#operations.get(id)
    if (operation === undefined) return
    this.#operations.delete(id)
    if (operation.kind === 'reader') {
      operation.stream.close()
      this.send({ type: reply, id })
      return
    }
    // leave() auto-commits the positions first, then stops the stream.
    operation.membership.leave(true).then(() => this.send({ type: reply, id }), err => this.sendError(id, err))
  }

  #onRemoved (membership: GroupMembership, err: LogwayError): void {
    const operation = this.#operations.get(membership.id)
    if (operation?.kind === 'member' && operation.membership === membership) this.#operations.delete(membership.id)
    this.sendError(membership.id, err)
  }

  // ---- delivery --------------------------------------------------------------------

  readonly #schedulePump = (): void => {
    if (this.#pumpScheduled || this.#closed) return
    this.#pumpScheduled = true
    setImmediate(this.#pump)
  }

  // One frame per partition per pass, then a turn of the event loop, so that sockets and appends interleave.
  readonly #pump = (): void => {
    this.#pumpScheduled = false
    if (this.#closed || this.#shuttingDown) return
    const operations = [...this.#operations.entries()]
    const count = operations.length
    if (count === 0) return
    const start = this.#rotation++ % count
    let more = false
    for (let i = 0; i < count; i++) {
      if (this.#stalled || this.#closed) return
      const [id, operation] = operations[(start + i) % count] as [string, Operation]
      if (this.#operations.get(id) !== operation) continue
      const delivery = operation.stream.deliver(this)
      if (delivery.failure !== undefined) {
        this.#fail(id, operation, delivery.failure)
        continue
      }
      if (delivery.more) more = true
    }
    if (more) this.#schedulePump()
  }

  /** Ends an operation that cannot go on, with an error frame. */
  #fail (id: string, operation: Operation, err: unknown): void {
    this.#operations.delete(id)
    operation.stream.close()
    if (operation.kind === 'member') {
      operation.membership.leave(false).catch(() => {})
    }
    this.sendError(id, err)
  }

  // ---- flow control ----------------------------------------------------------------

  // Called as each write reaches the kernel; the last write of a stall always calls it with an empty buffer.
  readonly #onFlushed = (): void => {
    if (this.#stalled && this.#socket.bufferedAmount < this.#o.sendBufferBytes / 2) this.#unstall()
  }

  #stall (): void {
    this.#stalled = true
    this.#updateReading()
    this.#stallTimer = this.#o.clock.setTimeout(() => {
      this.#stallTimer = null
      if (this.#stalled) this.#closeWith(WS_CLOSE.SLOW_CONSUMER, 'slow consumer')
    }, this.#o.slowConsumerTimeoutMs)
    this.#stallTimer.unref?.()
  }

  #unstall (): void {
    this.#stalled = false
    if (this.#stallTimer !== null) this.#o.clock.clearTimeout(this.#stallTimer)
    this.#stallTimer = null
    this.#updateReading()
    this.#schedulePump()
  }

  #updateReading (): void {
    // Once the server closes, the socket is read again (frames are ignored) so that the peer's close frame gets through.
    const pause = !this.#closingByServer && (this.#stalled ||
      this.#replies.length >= this.#o.maxInFlight || this.#inFlightBytes >= MAX_IN_FLIGHT_BYTES)
    if (pause === this.#readingPaused || this.#closed) return
    this.#readingPaused = pause
    if (pause) this.#socket.pause()
    else this.#socket.resume()
  }

  // ---- heartbeats and closing ------------------------------------------------------

  #armHeartbeat (): void {
    this.#heartbeat = this.#o.clock.setTimeout(() => {
      this.#heartbeat = null
      if (this.#closed || this.#closingByServer) return
      // A socket the server does not read cannot deliver its pongs: the slow-consumer timer watches it instead.
      if (!this.#readingPaused) {
        if (this.#unansweredPings >= 2) {
          this.#closeWith(WS_CLOSE.HEARTBEAT_TIMEOUT, 'heartbeat timeout')
          return
        }
        this.#unansweredPings++
      }
      if (this.#socket.readyState === WS_OPEN) this.#socket.ping(undefined, undefined, this.#onFlushed)
      this.#armHeartbeat()
    }, this.#o.pingIntervalMs)
    this.#heartbeat.unref?.()
  }

  /** Closes with `code`, and cuts the socket if the peer does not finish the close handshake within CLOSE_GRACE_MS. */
  #closeWith (code: number, reason: string): void {
    if (this.#closed || this.#closingByServer) return
    this.#closingByServer = true
    this.#updateReading()
    this.#socket.close(code, reason)
    this.#closeTimer = this.#o.clock.setTimeout(() => {
      this.#closeTimer = null
      if (!this.#closed) this.#socket.terminate()
    }, CLOSE_GRACE_MS)
    this.#closeTimer.unref?.()
  }

  /**
   * Server shutdown: stops reading frames and delivering records, waits for
   * the acks of produce frames already read (their appends finish), then
   * closes with 1001.
   */
  async shutdown (): Promise<void> {
    if (this.#closed) return
    this.#shuttingDown = true
    if (this.#replies.length > 0) await new Promise<void>(resolve => { this.#repliesDrained = resolve })
    this.#closeWith(WS_CLOSE.GOING_AWAY, 'server shutting down')
  }

  /** Cuts the connection at once. */
  terminate (): void {
    this.#socket.terminate()
  }

  get closed (): boolean {
    return this.#closed
  }

  stats (): WsSessionStats {
    return {
      bufferedBytes: this.#socket.bufferedAmount,
      stalled: this.#stalled,
      readingPaused: this.#readingPaused,
      operations: this.#operations.size,
      inFlight: this.#replies.length
    }
  }

  #onClose (code: number): void {
    if (this.#closed) return
    this.#closed = true
    const clock = this.#o.clock
    for (const timer of [this.#heartbeat, this.#stallTimer, this.#closeTimer]) if (timer !== null) clock.clearTimeout(timer)
    this.#heartbeat = this.#stallTimer = this.#closeTimer = null
    // A connection that dropped without a close frame (1006) keeps its group members until their session
    // timeout; one the server closed itself (cut or not) is known to be over.
    const dropped = code === 1006 && !this.#closingByServer
    for (const operation of this.#operations.values()) {
      if (operation.kind !== 'member') {
        operation.stream.close()
        continue
      }
      if (dropped) operation.membership.abandon()
      else operation.membership.leave(!this.#closingByServer).catch(() => {})
    }
    this.#operations.clear()
    this.#o.onClosed(this)
    this.#onClosedSignal()
  }
}
