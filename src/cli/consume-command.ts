import { randomBytes } from 'node:crypto'
import { flagOption, integerOption, stringOption, UsageError, usageOf, type CommandSpec } from './args.js'
import type { FetchResponse, TopicData, V2BinaryRecord } from './api-types.js'
import { runCommand, type CliContext, type Command, type CommandRun } from './command.js'
import { CliFailure } from './failure.js'
import { RequestError, segment, type LogwayClient } from './http-client.js'
import { onInterrupt } from './interrupt.js'
import { plural, type Output } from './output.js'
import { lineFormat, printable, renderField, type LineFormat } from './record-format.js'

/** How long one long-poll waits for records before asking again. */
const POLL_MS = 5_000
/** A poll that has not answered this long after its own timeout is a failure. */
const POLL_GRACE_MS = 30_000
/** Records asked for in one stateless fetch. */
const FETCH_MAX_RECORDS = 500
const V2 = 'application/vnd.kafka.v2+json'
const V2_BINARY = 'application/vnd.kafka.binary.v2+json'

const consumeSpec: CommandSpec = {
  name: 'consume',
  args: 'TOPIC',
  positionals: 1,
  summary: `Print records of a topic as they arrive (kafka-console-consumer), until
Ctrl-C, --max-messages or --timeout-ms.

Without --group, every partition (or --partition) is read with the stateless
fetch route and nothing is remembered. With --group, a consumer instance joins
the group, gets its share of the partitions, and commits what it printed as it
goes; Ctrl-C commits, leaves the group and exits 0.`,
  options: {
    group: { type: 'string', value: 'G', description: 'Consume as a member of consumer group G, committing offsets.' },
    'from-beginning': { type: 'boolean', description: 'Start at the log start (with --group: where the group has no committed offset). Default: only new records.' },
    partition: { type: 'string', value: 'P', description: 'Read only partition P (not with --group).' },
    offset: { type: 'string', value: 'O', description: 'With --partition: start at offset O, earliest or latest.' },
    'max-messages': { type: 'string', value: 'N', description: 'Exit after N records.' },
    'timeout-ms': { type: 'string', value: 'T', description: 'Exit when no record arrived for T ms.' },
    'print-key': { type: 'boolean', description: 'Print the key before the value.' },
    'print-headers': { type: 'boolean', description: 'Print the headers (name:value,… or NO_HEADERS) before the key.' },
    'print-partition': { type: 'boolean', description: 'Print Partition:P first.' },
    'print-offset': { type: 'boolean', description: 'Print Offset:O first.' },
    'print-timestamp': { type: 'boolean', description: 'Print CreateTime:MS (the record timestamp, ms since the epoch) first.' },
    'key-separator': { type: 'string', value: 'SEP', description: 'Between printed fields (default a tab).' },
    'value-format': { type: 'string', value: 'FORMAT', description: 'How values are printed: string (UTF-8 text, the default), json (compact JSON; a value that is not JSON is an error), binary (base64).' },
    'key-format': { type: 'string', value: 'FORMAT', description: 'How keys are printed: string (the default), json or binary.' }
  },
  details: `With --json, each record is one line of JSON: {topic, partition, offset, timestamp,
key, value, headers}, key and value as --key-format/--value-format render them
(json: the parsed value), header values as text.

Examples:
  logway consume rider-updates --from-beginning --print-key
  logway consume rider-updates --group billing --from-beginning
  logway consume rider-updates --partition 1 --offset 42 --max-messages 10`
}

/** A consumed record, whichever route read it; key, value and header values are base64 as the server sent them. */
interface Consumed {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: string | null
  value: string | null
  headers: Array<{ name: string, value: string | null }>
}

interface PrintOptions {
  json: boolean
  separator: string
  keyFormat: LineFormat
  valueFormat: LineFormat
  key: boolean
  headers: boolean
  partition: boolean
  offset: boolean
  timestamp: boolean
}

function headerText (value: string | null): string | null {
  return value === null ? null : Buffer.from(value, 'base64').toString('utf8')
}

/** One record as printed: a line of fields for people, or a line of JSON. */
function formatRecord (r: Consumed, o: PrintOptions): string {
  const where = `${r.topic} partition ${r.partition} offset ${r.offset}`
  const value = renderField(r.value, o.valueFormat, 'value', where)
  if (o.json) {
    const key = renderField(r.key, o.keyFormat, 'key', where)
    const headers = r.headers.map(h => ({ name: h.name, value: headerText(h.value) }))
    return JSON.stringify({ topic: r.topic, partition: r.partition, offset: r.offset, timestamp: r.timestamp, key, value, headers }) + '\n'
  }
  const fields: string[] = []
  if (o.timestamp) fields.push(`CreateTime:${r.timestamp}`)
  if (o.partition) fields.push(`Partition:${r.partition}`)
  if (o.offset) fields.push(`Offset:${r.offset}`)
  if (o.headers) fields.push(r.headers.length === 0 ? 'NO_HEADERS' : r.headers.map(h => `${h.name}:${headerText(h.value) ?? 'null'}`).join(','))
  if (o.key) fields.push(printable(renderField(r.key, o.keyFormat, 'key', where), o.keyFormat))
  fields.push(printable(value, o.valueFormat))
  return fields.join(o.separator) + '\n'
}

/**
 * Where records go: printed in batches (one write each, waiting while
 * stdout is full), counted against --max-messages, and the clock of
 * --timeout-ms restarted. Stops the consumer when the count is reached.
 */
class RecordSink {
  count = 0
  readonly #out: Output
  readonly #print: PrintOptions
  readonly #max: number
  readonly #stop: () => void
  readonly #idleMs: number | undefined
  #idleTimer: NodeJS.Timeout | undefined

  constructor (out: Output, print: PrintOptions, limits: { max: number | undefined, idleMs: number | undefined }, stop: () => void) {
    this.#out = out
    this.#print = print
    this.#max = limits.max ?? Number.POSITIVE_INFINITY
    this.#idleMs = limits.idleMs
    this.#stop = stop
    this.#armIdle()
  }

  /** How many more records may be printed. */
  get remaining (): number {
    return this.#max - this.count
  }

  /** Prints as many of `records` as the limit allows; answers those printed. */
  async emit (records: Consumed[]): Promise<Consumed[]> {
    const taken = records.slice(0, Math.max(0, this.remaining))
    if (taken.length === 0) return taken
    let text = ''
    for (const r of taken) text += formatRecord(r, this.#print)
    this.count += taken.length
    this.#armIdle()
    if (this.remaining <= 0) this.#stop()
    await this.#out.write(text)
    return taken
  }

  close (): void {
    clearTimeout(this.#idleTimer)
  }

  #armIdle (): void {
    if (this.#idleMs === undefined) return
    clearTimeout(this.#idleTimer)
    this.#idleTimer = setTimeout(this.#stop, this.#idleMs)
  }
}

function isAbort (err: unknown, signal: AbortSignal): boolean {
  return signal.aborted && (err as { name?: string } | undefined)?.name === 'AbortError'
}

/**
 * Reads every partition in `partitions` from `start` with the stateless
 * fetch route, one long-poll loop a partition, until `signal` aborts.
 */
async function consumeStateless (client: LogwayClient, topicPath: string, topic: string, partitions: number[], start: string, sink: RecordSink, signal: AbortSignal, out: Output): Promise<void> {
  const loop = async (partition: number): Promise<void> => {
    let offset = start
    let first = true
    while (!signal.aborted && sink.remaining > 0) {
      const query = `offset=${offset}&max_records=${Math.min(FETCH_MAX_RECORDS, sink.remaining)}&timeout_ms=${POLL_MS}&format=binary`
      let page: FetchResponse
      try {
        page = await client.call<FetchResponse>('GET', `${topicPath}/partitions/${partition}/records?${query}`, { signal, timeoutMs: POLL_MS + POLL_GRACE_MS })
      } catch (err) {
        if (isAbort(err, signal)) return
        // Retention removed records under a running consumer: carry on from what is left, as auto.offset.reset=earliest.
        if (!first && err instanceof RequestError && err.code === 'OFFSET_OUT_OF_RANGE') {
          out.warn(`partition ${partition}: offset ${offset} is no longer in the log; going on from the log start`)
          offset = 'earliest'
          continue
        }
        throw err
      }
      first = false
      if (signal.aborted) return
      await sink.emit(page.records.map(r => ({ ...r, topic, partition })))
      offset = String(page.next_offset)
    }
  }
  await Promise.all(partitions.map(loop))
}

/**
 * Consumes as a member of `group` through a Confluent v2 consumer instance:
 * creates it, subscribes, polls, commits the last record printed of each
 * partition after each batch (so nothing printed is delivered again, and
 * nothing unprinted is skipped), and deletes the instance at the end, which
 * leaves the group.
 */
async function consumeInGroup (client: LogwayClient, group: string, topic: string, fromBeginning: boolean, sink: RecordSink, signal: AbortSignal): Promise<void> {
  const name = `logway-cli-${randomBytes(4).toString('hex')}`
  const base = `/consumers/${segment(group)}`
  await client.call('POST', base, {
    contentType: V2,
    body: {
      name,
      format: 'binary',
      'auto.offset.reset': fromBeginning ? 'earliest' : 'latest',
      // Committed here, after printing: an instance that auto-commits would commit records fetched but never printed.
      'auto.commit.enable': false,
      'consumer.request.timeout.ms': POLL_MS
    }
  })
  const instance = `${base}/instances/${segment(name)}`
  let failure: unknown
  try {
    await client.call('POST', `${instance}/subscription`, { contentType: V2, body: { topics: [topic] } })
    while (!signal.aborted && sink.remaining > 0) {
      let records: V2BinaryRecord[]
      try {
        records = await client.call<V2BinaryRecord[]>('GET', `${instance}/records?timeout=${POLL_MS}`, { accept: V2_BINARY, signal, timeoutMs: POLL_MS + POLL_GRACE_MS })
      } catch (err) {
        if (isAbort(err, signal)) break
        throw err
      }
      const printed = await sink.emit(records)
      const last = new Map<string, { topic: string, partition: number, offset: number }>()
      for (const r of printed) last.set(`${r.topic}\u0000${r.partition}`, { topic: r.topic, partition: r.partition, offset: r.offset })
      // Not given `signal`: a commit under way when Ctrl-C comes must finish.
      if (last.size > 0) await client.call('POST', `${instance}/offsets`, { contentType: V2, body: { offsets: [...last.values()] } })
    }
  } catch (err) {
    failure = err
  }
  try {
    await client.call('DELETE', instance, { contentType: V2 })
  } catch (err) {
    failure ??= err
  }
  if (failure !== undefined) throw failure
}

async function consume ({ parsed, client, out, ctx }: CommandRun): Promise<number> {
  const usage = usageOf(consumeSpec)
  const [topic = ''] = parsed.positionals
  const group = stringOption(parsed, 'group')
  const partition = integerOption(parsed, 'partition', 0, usage)
  const offset = stringOption(parsed, 'offset')
  const fromBeginning = flagOption(parsed, 'from-beginning')
  const max = integerOption(parsed, 'max-messages', 1, usage)
  const idleMs = integerOption(parsed, 'timeout-ms', 1, usage)
  if (group !== undefined && (partition !== undefined || offset !== undefined)) {
    throw new UsageError('--group cannot be used with --partition or --offset: a group assigns the partitions and remembers the offsets', usage)
  }
  if (offset !== undefined && partition === undefined) throw new UsageError('--offset needs --partition', usage)
  if (offset !== undefined && fromBeginning) throw new UsageError('--offset and --from-beginning cannot be used together', usage)
  if (offset !== undefined && !/^(\d{1,16}|earliest|latest)$/.test(offset)) {
    throw new UsageError(`--offset must be an offset, earliest or latest (got ${JSON.stringify(offset)})`, usage)
  }
  const print: PrintOptions = {
    json: out.json,
    separator: stringOption(parsed, 'key-separator') ?? '\t',
    keyFormat: lineFormat('key-format', stringOption(parsed, 'key-format'), 'string', usage),
    valueFormat: lineFormat('value-format', stringOption(parsed, 'value-format'), 'string', usage),
    key: flagOption(parsed, 'print-key'),
    headers: flagOption(parsed, 'print-headers'),
    partition: flagOption(parsed, 'print-partition'),
    offset: flagOption(parsed, 'print-offset'),
    timestamp: flagOption(parsed, 'print-timestamp')
  }

  const cluster = await client.clusterPath()
  const topicPath = `${cluster}/topics/${segment(topic)}`
  const { partitions_count: partitionsCount } = await client.call<TopicData>('GET', topicPath)
  if (partition !== undefined && partition >= partitionsCount) {
    throw new CliFailure(`topic ${topic} has no partition ${partition} (it has ${plural(partitionsCount, 'partition')})`)
  }

  const stopper = new AbortController()
  const stop = (): void => stopper.abort()
  const sink = new RecordSink(out, print, { max, idleMs }, stop)
  const removeHandlers = onInterrupt(stop, ctx.stderr)
  // `logway consume t | head -1`: the reader went away, which ends consuming like Ctrl-C.
  const onStdoutError = (err: { code?: string }): void => { if (err.code === 'EPIPE') stop() }
  const stdout = ctx.stdout as Partial<NodeJS.WritableStream>
  stdout.on?.('error', onStdoutError)
  try {
    if (group !== undefined) {
      await consumeInGroup(client, group, topic, fromBeginning, sink, stopper.signal)
    } else {
      const partitions = partition === undefined ? Array.from({ length: partitionsCount }, (_, i) => i) : [partition]
      await consumeStateless(client, topicPath, topic, partitions, offset ?? (fromBeginning ? 'earliest' : 'latest'), sink, stopper.signal, out)
    }
  } finally {
    stop()
    sink.close()
    removeHandlers()
    stdout.off?.('error', onStdoutError)
  }
  if (!out.json) ctx.stderr.write(`Processed a total of ${plural(sink.count, 'message')}\n`)
  return 0
}

/** `logway consume`. */
export const CONSUME_COMMAND: Command = { spec: consumeSpec, run: consume }

/** Runs `logway consume …`; answers the exit code. */
export async function runConsume (args: string[], ctx: CliContext): Promise<number> {
  return await runCommand(CONSUME_COMMAND, args, ctx)
}
