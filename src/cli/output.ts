/** A writable the CLI prints to: process.stdout or stderr, or a stand-in in tests. */
export interface OutputStream {
  write: (chunk: string) => boolean
  once: (event: 'drain' | 'error' | 'close', listener: () => void) => unknown
  removeListener: (event: 'drain' | 'error' | 'close', listener: () => void) => unknown
  isTTY?: boolean
}

/** A table cell. */
export type Cell = string | number

const BOLD = '\u001b[1m'
const NORMAL = '\u001b[22m'
/** Carriage return and erase-to-end-of-line: the progress line is redrawn in place. */
const REDRAW = '\r\u001b[K'

/**
 * True when text styling may be used on `stream`: it is a terminal and
 * NO_COLOR (https://no-color.org) is unset or empty.
 */
export function colorAllowed (stream: OutputStream, env: NodeJS.ProcessEnv): boolean {
  return stream.isTTY === true && (env.NO_COLOR === undefined || env.NO_COLOR === '')
}

/**
 * Renders rows as left-aligned columns (as kafka-consumer-groups prints
 * them) separated by two spaces, each as wide as its widest cell; no
 * trailing spaces. With `color`, the header row is bold.
 */
export function renderTable (headers: string[], rows: Cell[][], color = false): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map(row => String(row[i] ?? '').length)))
  const render = (cells: Cell[]): string => cells.map((cell, i) => {
    const text = String(cell)
    return i === cells.length - 1 ? text : text.padEnd(widths[i] ?? text.length)
  }).join('  ')
  const head = render(headers)
  return [color ? `${BOLD}${head}${NORMAL}` : head, ...rows.map(render)].join('\n') + '\n'
}

/**
 * What a command prints: human text and tables, or with --json one JSON
 * document (or one per line for streams) on stdout. Diagnostics go to
 * stderr either way, as `logway: <message>`.
 */
export class Output {
  readonly json: boolean
  readonly stdout: OutputStream
  readonly stderr: OutputStream
  readonly #color: boolean

  constructor (options: { json: boolean, stdout: OutputStream, stderr: OutputStream, env: NodeJS.ProcessEnv }) {
    this.json = options.json
    this.stdout = options.stdout
    this.stderr = options.stderr
    this.#color = colorAllowed(options.stdout, options.env)
  }

  /**
   * Writes text to stdout; resolves at once, or when its buffer is full once
   * it drained, or failed or closed (`logway consume t | head` after head
   * exits: a drain that never comes must not leave the command waiting).
   */
  async write (text: string): Promise<void> {
    if (this.stdout.write(text)) return
    const stdout = this.stdout
    await new Promise<void>(resolve => {
      const done = (): void => {
        for (const event of ['drain', 'error', 'close'] as const) stdout.removeListener(event, done)
        resolve()
      }
      for (const event of ['drain', 'error', 'close'] as const) stdout.once(event, done)
    })
  }

  /** Writes an aligned table to stdout. */
  async table (headers: string[], rows: Cell[][]): Promise<void> {
    await this.write(renderTable(headers, rows, this.#color))
  }

  /** Writes one JSON document (one line) to stdout. */
  async document (value: unknown): Promise<void> {
    await this.write(JSON.stringify(value) + '\n')
  }

  /** Writes `logway: <message>` to stderr. */
  warn (message: string): void {
    this.stderr.write(`logway: ${message}\n`)
  }
}

/**
 * A progress line on stderr (records so far, records per second), redrawn
 * at most every `intervalMs` and only when stderr is a terminal: piped or
 * redirected stderr gets nothing.
 */
export class Progress {
  readonly #stream: OutputStream
  readonly #now: () => number
  readonly #intervalMs: number
  readonly #enabled: boolean
  readonly #label: string
  #lastAt: number
  #lastTotal = 0
  #shown = false

  constructor (stream: OutputStream, label: string, options: { now?: () => number, intervalMs?: number } = {}) {
    this.#stream = stream
    this.#label = label
    this.#now = options.now ?? Date.now
    this.#intervalMs = options.intervalMs ?? 250
    this.#enabled = stream.isTTY === true
    this.#lastAt = this.#now()
  }

  /** Reports the running total; draws when the interval has passed since the last drawing. */
  update (total: number): void {
    if (!this.#enabled) return
    const now = this.#now()
    const elapsedMs = now - this.#lastAt
    if (elapsedMs < this.#intervalMs) return
    const rate = Math.round((total - this.#lastTotal) * 1000 / elapsedMs)
    this.#stream.write(`${REDRAW}${total} ${this.#label}, ${rate} ${this.#label}/s`)
    this.#shown = true
    this.#lastAt = now
    this.#lastTotal = total
  }

  /** Erases the line, so what follows starts on a clean line. */
  done (): void {
    if (this.#shown) this.#stream.write(REDRAW)
    this.#shown = false
  }
}

/** "1 record", "2 records". */
export function plural (count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`
}
