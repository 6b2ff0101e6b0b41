// A live read of one topic over the WebSocket API (GET /v3/clusters/{cluster_id}/ws), with its
// flow control: the server sends no more records than the client has granted credits for. The
// console grants a window of credits, tops it up as records are shown, and pauses by granting
// no more — so a paused tail holds at most one window of records, and nothing is dropped.

/**
 * A delivered record (schemas/ws/WsRecord.json) read in binary format: key, value and header
 * values are base64, or null.
 * @typedef {{ topic: string, partition: number, offset: number, timestamp: number, key: string | null, value: string | null, headers: Array<{ name: string, value: string | null }> }} TailRecord
 * @typedef {'connecting' | 'live' | 'paused' | 'closed'} TailState
 */

let nextId = 0

export class TailSubscription {
  #url
  #topic
  #window
  #onRecords
  #onState
  #onError
  /** @type {WebSocket | undefined} */
  #socket
  #id
  #granted = 0
  #received = 0
  #paused = false
  /** @type {TailRecord[]} */
  #held = []
  /** @type {TailState} */
  #state = 'connecting'

  /**
   * @param {{
   *   url: string, topic: string, window?: number,
   *   onRecords: (records: TailRecord[]) => void,
   *   onState: (state: TailState, detail?: string) => void,
   *   onError: (message: string) => void
   * }} options
   */
  constructor ({ url, topic, window = 200, onRecords, onState, onError }) {
    this.#url = url
    this.#topic = topic
    this.#window = window
    this.#onRecords = onRecords
    this.#onState = onState
    this.#onError = onError
    this.#id = `tail${++nextId}`
  }

  /** Records the server has sent, shown or held. */
  get received () {
    return this.#received
  }

  /** Records that arrived while paused, waiting for resume(). */
  get held () {
    return this.#held.length
  }

  /** Connects and subscribes from the log end of every partition: only new records are shown. */
  open () {
    this.#granted = this.#window
    this.#setState('connecting')
    const socket = new WebSocket(this.#url)
    this.#socket = socket
    socket.addEventListener('open', () => {
      this.#send({ type: 'subscribe', id: this.#id, topic: this.#topic, from: 'latest', format: 'binary', credits: { messages: this.#window } })
    })
    socket.addEventListener('message', event => this.#onFrame(event.data))
    socket.addEventListener('close', event => {
      if (this.#socket !== socket) return
      this.#socket = undefined
      this.#setState('closed', event.reason !== '' ? `${event.reason} (close code ${event.code})` : `close code ${event.code}`)
    })
  }

  /** Stops granting credits: records already granted arrive and are held, then the server waits. */
  pause () {
    this.#paused = true
    if (this.#state === 'live') this.#setState('paused')
  }

  /** Hands over the held records and grants credits again. */
  resume () {
    this.#paused = false
    if (this.#state === 'paused') this.#setState('live')
    const held = this.#held
    this.#held = []
    if (held.length > 0) this.#onRecords(held)
    this.#topUp()
  }

  /** Ends the subscription and the connection; `reason`, when given, is shown as the tail's state. */
  close (/** @type {string | undefined} */ reason) {
    const socket = this.#socket
    this.#socket = undefined
    if (socket === undefined) return
    if (socket.readyState === WebSocket.OPEN) {
      this.#send({ type: 'unsubscribe', id: this.#id }, socket)
      socket.close(1000, 'tail closed')
    } else {
      socket.close()
    }
    if (reason !== undefined) this.#setState('closed', reason)
  }

  #onFrame (/** @type {unknown} */ data) {
    let frame
    try {
      frame = JSON.parse(String(data))
    } catch {
      this.#onError('The server sent a frame that is not JSON.')
      return
    }
    if (frame.id !== undefined && frame.id !== this.#id) return
    switch (frame.type) {
      case 'subscribed':
        this.#setState(this.#paused ? 'paused' : 'live')
        break
      case 'records': {
        const records = Array.isArray(frame.records) ? frame.records : []
        this.#received += records.length
        if (this.#paused) {
          this.#held.push(...records)
          this.#setState('paused')
        } else {
          this.#onRecords(records)
          this.#topUp()
        }
        break
      }
      case 'error': {
        const message = typeof frame.message === 'string' ? frame.message : 'The server reported an error.'
        this.#onError(typeof frame.code === 'string' ? `${message} (${frame.code})` : message)
        // An error naming the subscription ends it (an unknown topic, a deleted one): nothing more will come.
        if (frame.id === this.#id) this.close(`subscription ended: ${frame.code ?? 'error'}`)
        break
      }
      default:
        // Other frames (caught-up notices, pings as frames) need nothing from a tail.
        break
    }
  }

  /** Grants the window again once half of it is used, so the server always has credit while the tail runs. */
  #topUp () {
    if (this.#paused) return
    const outstanding = this.#granted - this.#received
    if (outstanding > this.#window / 2) return
    const messages = this.#window - outstanding
    this.#granted += messages
    this.#send({ type: 'credit', id: this.#id, messages })
  }

  #send (/** @type {unknown} */ frame, socket = this.#socket) {
    if (socket?.readyState === WebSocket.OPEN) socket.send(JSON.stringify(frame))
  }

  #setState (/** @type {TailState} */ state, /** @type {string | undefined} */ detail) {
    this.#state = state
    this.#onState(state, detail)
  }
}
