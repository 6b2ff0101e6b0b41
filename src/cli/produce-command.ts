import { open } from 'node:fs/promises'
import { StringDecoder } from 'node:string_decoder'
import { integerOption, keyValueOptions, stringOption, UsageError, usageOf, type CommandSpec } from './args.js'
import type { ProduceAnswer, TopicData } from './api-types.js'
import { ChunkReader } from './chunk-reader.js'
import { runCommand, type CliContext, type Command, type CommandRun } from './command.js'
import { CliFailure } from './failure.js'
import { errorFromResponse, segment } from './http-client.js'
import { onInterrupt } from './interrupt.js'
import { plural, Progress } from './output.js'
import { LineError, lineFormat, recordDataJson, type LineFormat } from './record-format.js'

/** Failures kept with their details for the report; beyond this only counted. */
const MAX_ERRORS_KEPT = 100
/** Failures printed one a line for people; the rest are summed up. */
const MAX_ERRORS_PRINTED = 10

const produceSpec: CommandSpec = {
  name: 'produce',
  args: 'TOPIC',
  positionals: 1,
  summary: `Produce records read from stdin (or --file), one a line (kafka-console-producer).

Lines are streamed to the server as they are read, in one request, and each
record is acknowledged once it is durable. Empty lines are skipped. Exits 0
only when every record was acknowledged, and reports how many were written.`,
  options: {
    file: { type: 'string', value: 'FILE', description: 'Read records from FILE instead of stdin.' },
    'key-separator': { type: 'string', value: 'SEP', description: 'Each line is KEY SEP VALUE (kafka-console-producer\'s parse.key); a line without SEP fails. Without it, lines are values with no key.' },
    partition: { type: 'string', value: 'P', description: 'Write every record to partition P (default: by key with murmur2, round-robin without a key).' },
    header: { type: 'string', multiple: true, value: 'K=V', description: 'A header added to every record.' },
    'value-format': { type: 'string', value: 'FORMAT', description: 'How values are written: string (UTF-8 text, the default), json (a JSON value), binary (base64).' },
    'key-format': { type: 'string', value: 'FORMAT', description: 'How keys are written: string (the default), json or binary.' }
  },
  details: `Examples:
  logway produce rider-updates --key-separator ' ' <<'EOF'
  ada north
  grace south
  EOF
  logway produce events --file events.ndjson --value-format json --header source=import`
}

/** A record that was not written, by its line number. */
interface LineFailure {
  line: number
  message: string
  code?: string
  error_code?: number
}

/** Turns a line into the JSON text of one v3 produce request object. */
type RecordEncoder = (line: string) => string

function recordEncoder (options: { separator: string | undefined, keyFormat: LineFormat, valueFormat: LineFormat, partition: number | undefined, headers: Array<[string, string]> }): RecordEncoder {
  const { separator, keyFormat, valueFormat } = options
  // What every record shares is written once.
  const partition = options.partition === undefined ? '' : `"partition_id":${options.partition},`
  const headers = options.headers.length === 0
    ? ''
    : `"headers":${JSON.stringify(options.headers.map(([name, value]) => ({ name, value: Buffer.from(value, 'utf8').toString('base64') })))},`
  return line => {
    let value = line
    let key = ''
    if (separator !== undefined) {
      const at = line.indexOf(separator)
      if (at < 0) throw new LineError(`no key separator ${JSON.stringify(separator)} on the line`)
      key = `"key":${recordDataJson(line.slice(0, at), keyFormat, 'key')},`
      value = line.slice(at + separator.length)
    }
    return `{${partition}${headers}${key}"value":${recordDataJson(value, valueFormat, 'value')}}`
  }
}

/**
 * The state of one produce: line numbers of the records sent and not yet
 * answered (in order, as the server answers in order), counts, and the
 * failures kept for the report.
 */
class ProduceTally {
  written = 0
  failed = 0
  readonly errors: LineFailure[] = []
  /** Why the server ended the stream when it did so with no record of ours waiting (it is shutting down). */
  streamError: string | undefined
  /** Line numbers of records sent and not answered; `#head` is the first still waiting. */
  #pending: number[] = []
  #head = 0

  get waiting (): number {
    return this.#pending.length - this.#head
  }

  sent (line: number): void {
    this.#pending.push(line)
  }

  fail (failure: LineFailure): void {
    this.failed++
    if (this.errors.length < MAX_ERRORS_KEPT) this.errors.push(failure)
  }

  /** The server's answer to the oldest record waiting. */
  answered (answer: ProduceAnswer): void {
    const line = this.#next()
    if (line === undefined) {
      if (answer.error_code === 200) throw new CliFailure('the server acknowledged more records than were sent')
      this.streamError = answer.message ?? `error ${answer.error_code}`
      return
    }
    if (answer.error_code === 200) {
      this.written++
      return
    }
    this.fail({ line, message: answer.message ?? `error ${answer.error_code}`, code: answer.code, error_code: answer.error_code })
  }

  /** Every record still waiting failed with `failure` (the stream ended, or the request was refused). */
  failWaiting (failure: Omit<LineFailure, 'line'>): void {
    for (let line = this.#next(); line !== undefined; line = this.#next()) this.fail({ ...failure, line })
  }

  #next (): number | undefined {
    if (this.#head >= this.#pending.length) return undefined
    const line = this.#pending[this.#head++]
    // Drop what was answered now and then, so a long stream keeps only what is in flight.
    if (this.#head > 4096 && this.#head * 2 > this.#pending.length) {
      this.#pending = this.#pending.slice(this.#head)
      this.#head = 0
    }
    return line
  }
}

/**
 * Reads the input and encodes its lines, chunk by chunk: each call of
 * `next()` answers the NDJSON of the records of one chunk of input (lines
 * that cannot become records are failed in the tally, not sent).
 */
class LineBatcher {
  readonly #reader: ChunkReader
  readonly #source: string
  readonly #encode: RecordEncoder
  readonly #tally: ProduceTally
  readonly #decoder = new StringDecoder('utf8')
  #rest = ''
  #lineNumber = 0
  #done = false

  /** `source` names the input in errors: stdin, or the file. */
  constructor (reader: ChunkReader, source: string, encode: RecordEncoder, tally: ProduceTally) {
    this.#reader = reader
    this.#source = source
    this.#encode = encode
    this.#tally = tally
  }

  /**
   * The next non-empty batch of records (NDJSON text), or undefined at the end of the input.
   * @throws CliFailure when the input cannot be read
   */
  async next (): Promise<string | undefined> {
    while (!this.#done) {
      let chunk: Buffer | undefined
      try {
        chunk = await this.#reader.next()
      } catch (err) {
        throw new CliFailure(`cannot read ${this.#source}: ${(err as { code?: string }).code ?? String(err)}`)
      }
      let text: string
      if (chunk === undefined) {
        this.#done = true
        text = this.#rest + this.#decoder.end()
        this.#rest = ''
      } else {
        const lines = this.#rest + this.#decoder.write(chunk)
        const end = lines.lastIndexOf('\n')
        text = end < 0 ? '' : lines.slice(0, end + 1)
        this.#rest = end < 0 ? lines : lines.slice(end + 1)
      }
      const batch = this.#encodeLines(text)
      if (batch !== '') return batch
    }
    return undefined
  }

  #encodeLines (text: string): string {
    if (text === '') return ''
    let batch = ''
    const lines = text.split('\n')
    // Text ending in a newline splits into a last empty piece that is no line.
    if (text.endsWith('\n')) lines.pop()
    for (const raw of lines) {
      const lineNumber = ++this.#lineNumber
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw
      if (line === '') continue
      try {
        batch += this.#encode(line) + '\n'
      } catch (err) {
        if (!(err instanceof LineError)) throw err
        this.#tally.fail({ line: lineNumber, message: err.message })
        continue
      }
      this.#tally.sent(lineNumber)
    }
    return batch
  }
}

async function produce ({ parsed, client, out, ctx }: CommandRun): Promise<number> {
  const usage = usageOf(produceSpec)
  const [topic = ''] = parsed.positionals
  const partition = integerOption(parsed, 'partition', 0, usage)
  if (stringOption(parsed, 'key-separator') === '') throw new UsageError('--key-separator must not be empty', usage)
  const encode = recordEncoder({
    separator: stringOption(parsed, 'key-separator'),
    keyFormat: lineFormat('key-format', stringOption(parsed, 'key-format'), 'string', usage),
    valueFormat: lineFormat('value-format', stringOption(parsed, 'value-format'), 'string', usage),
    partition,
    headers: keyValueOptions(parsed, 'header', usage)
  })

  const cluster = await client.clusterPath()
  const topicPath = `${cluster}/topics/${segment(topic)}`
  // A missing topic or partition fails here, once, rather than on every record.
  const { partitions_count: partitionsCount } = await client.call<TopicData>('GET', topicPath)
  if (partition !== undefined && partition >= partitionsCount) {
    throw new CliFailure(`topic ${topic} has no partition ${partition} (it has ${plural(partitionsCount, 'partition')})`)
  }

  const file = stringOption(parsed, 'file')
  const input = file === undefined ? ctx.stdin : await openFile(file)
  const reader = new ChunkReader(input)
  const tally = new ProduceTally()
  const batcher = new LineBatcher(reader, file ?? 'stdin', encode, tally)
  const progress = new Progress(ctx.stderr, 'records')
  const removeHandlers = onInterrupt(() => reader.stop(), ctx.stderr)
  try {
    await send(client, `${topicPath}/records`, batcher, tally, progress)
  } finally {
    removeHandlers()
    reader.stop()
    progress.done()
  }
  return await report(out, topic, tally)
}

async function openFile (path: string): Promise<NodeJS.ReadableStream> {
  try {
    const handle = await open(path, 'r')
    return handle.createReadStream()
  } catch (err) {
    throw new CliFailure(`cannot read ${path}: ${(err as { code?: string }).code ?? String(err)}`)
  }
}

/**
 * Streams the batches to the v3 produce route in one request and reads the
 * answers as they come, one line per record, in order. Nothing is sent when
 * the input holds no record.
 */
async function send (client: CommandRun['client'], path: string, batcher: LineBatcher, tally: ProduceTally, progress: Progress): Promise<void> {
  const first = await batcher.next()
  if (first === undefined) return
  const encoder = new TextEncoder()
  let pendingFirst: string | undefined = first
  let inputError: unknown
  const body = new ReadableStream<Uint8Array>({
    async pull (controller) {
      try {
        const batch = pendingFirst ?? await batcher.next()
        pendingFirst = undefined
        if (batch === undefined) controller.close()
        else controller.enqueue(encoder.encode(batch))
      } catch (err) {
        inputError = err
        controller.error(err)
      }
    }
  }, { highWaterMark: 1 })
  // Aborted once the answer is complete, so a body the server stopped reading is not sent on.
  const done = new AbortController()
  let res: Response
  try {
    res = await client.send('POST', path, { body, signal: done.signal, timeoutMs: 0 })
  } catch (err) {
    if (inputError !== undefined) throw inputError
    throw err
  }
  try {
    if (res.status !== 200) {
      // The status is the outcome of a lone record, or the refusal of the whole request.
      const error = errorFromResponse(res, await res.text(), 'POST', path)
      tally.failWaiting({ message: error.message, code: error.code, error_code: error.errorCode })
      return
    }
    await readAnswers(res, tally, progress)
    if (inputError !== undefined) throw inputError
    tally.failWaiting({ message: 'not acknowledged: the server ended the stream before answering it' })
  } finally {
    done.abort()
  }
}

async function readAnswers (res: Response, tally: ProduceTally, progress: Progress): Promise<void> {
  if (res.body === null) return
  const decoder = new TextDecoder()
  let rest = ''
  const take = (line: string): void => {
    if (line.trim() === '') return
    let answer: ProduceAnswer
    try {
      answer = JSON.parse(line) as ProduceAnswer
    } catch {
      throw new CliFailure(`the server answered a line that is not JSON: ${line.slice(0, 80)}`)
    }
    tally.answered(answer)
  }
  try {
    for await (const chunk of res.body) {
      const text = rest + decoder.decode(chunk, { stream: true })
      const lines = text.split('\n')
      rest = lines.pop() ?? ''
      for (const line of lines) take(line)
      progress.update(tally.written)
    }
  } catch (err) {
    // The connection broke mid-answer: what was answered counts, the rest failed (below).
    if (err instanceof CliFailure) throw err
    return
  }
  take(rest + decoder.decode())
}

async function report (out: CommandRun['out'], topic: string, tally: ProduceTally): Promise<number> {
  const { written, failed, errors, streamError } = tally
  if (out.json) {
    await out.document({ topic, written, failed, errors, ...(streamError === undefined ? {} : { stream_error: streamError }) })
  } else {
    for (const e of errors.slice(0, MAX_ERRORS_PRINTED)) out.warn(`line ${e.line}: ${e.message}`)
    if (failed > MAX_ERRORS_PRINTED) out.warn(`… and ${plural(failed - MAX_ERRORS_PRINTED, 'more failure')}`)
    if (streamError !== undefined) out.warn(`the server ended the stream: ${streamError}`)
    await out.write(`${plural(written, 'record')} written to ${topic}\n`)
    if (failed > 0) out.warn(`${plural(failed, 'record')} failed`)
  }
  return failed === 0 && streamError === undefined ? 0 : 1
}

/** `logway produce`. */
export const PRODUCE_COMMAND: Command = { spec: produceSpec, run: produce }

/** Runs `logway produce …`; answers the exit code. */
export async function runProduce (args: string[], ctx: CliContext): Promise<number> {
  return await runCommand(PRODUCE_COMMAND, args, ctx)
}
