import { parseArgs } from 'node:util'

/** Where commands talk to when neither --server nor LOGWAY_SERVER says otherwise. */
export const DEFAULT_SERVER = 'http://127.0.0.1:8082'
/** The environment variable that names the server, under --server. */
export const SERVER_ENV = 'LOGWAY_SERVER'

/**
 * A mistake in how the command was called (exit code 2). `usage`, when set,
 * is printed after the message so the user sees what the command takes.
 */
export class UsageError extends Error {
  readonly usage: string | undefined

  constructor (message: string, usage?: string) {
    super(message)
    this.name = 'UsageError'
    this.usage = usage
  }
}

/** One flag of a command, as node:util parseArgs takes it, plus what --help says. */
export interface OptionSpec {
  type: 'string' | 'boolean'
  multiple?: boolean
  short?: string
  /** The value's placeholder in the help: N, URL, K=V. */
  value?: string
  description: string
}

/** A command (or subcommand): its name, arguments, flags and help. */
export interface CommandSpec {
  /** As typed after `logway`: "topics create". */
  name: string
  /** The positional arguments, for the usage line: "NAME", "TOPIC". */
  args: string
  /** How many positionals it takes. */
  positionals: number
  summary: string
  /** Text after the options in --help: examples, notes. */
  details?: string
  options: Record<string, OptionSpec>
}

/** The flags every client command takes. */
const COMMON_OPTIONS: Record<string, OptionSpec> = {
  server: { type: 'string', value: 'URL', description: `The Logway server (default ${DEFAULT_SERVER}; env ${SERVER_ENV}).` },
  json: { type: 'boolean', description: 'Machine-readable output on stdout: one JSON document, or one JSON object a line for streams.' },
  help: { type: 'boolean', short: 'h', description: 'Show this help.' }
}

/** What a command receives once its arguments parsed. */
export interface ParsedCommand {
  values: Record<string, string | boolean | Array<string | boolean> | undefined>
  positionals: string[]
  /** The server's base URL, without a trailing slash. */
  server: string
  json: boolean
}

/** The usage line of a command. */
export function usageLine (spec: CommandSpec): string {
  return `Usage: logway ${spec.name}${spec.args === '' ? '' : ` ${spec.args}`} [options]`
}

/** The --help text of a command: usage, summary, every flag, details. */
export function helpText (spec: CommandSpec): string {
  const options = { ...spec.options, ...COMMON_OPTIONS }
  const rows = Object.entries(options).map(([name, option]) => {
    const flag = `${option.short === undefined ? '' : `-${option.short}, `}--${name}${option.value === undefined ? '' : ` ${option.value}`}`
    return [flag, `${option.description}${option.multiple === true ? ' Repeatable.' : ''}`] as const
  })
  const width = Math.max(...rows.map(([flag]) => flag.length))
  const lines = rows.map(([flag, text]) => `  ${flag.padEnd(width)}  ${text}`)
  return `${usageLine(spec)}\n\n${spec.summary}\n\nOptions:\n${lines.join('\n')}\n${spec.details === undefined ? '' : `\n${spec.details}\n`}`
}

/**
 * Parses a command's arguments (strictly: an unknown flag or a missing value
 * is a usage error), resolves --server against LOGWAY_SERVER and the
 * default. Returns undefined after writing the help when --help is given.
 * @throws UsageError carrying the command's usage line
 */
export function parseCommand (spec: CommandSpec, args: string[], env: NodeJS.ProcessEnv, stdout: { write: (text: string) => unknown }): ParsedCommand | undefined {
  const usage = usageOf(spec)
  const options = { ...spec.options, ...COMMON_OPTIONS }
  let parsed: ReturnType<typeof parseArgs>
  try {
    parsed = parseArgs({
      args,
      options: Object.fromEntries(Object.entries(options).map(([name, o]) => [name, {
        type: o.type,
        // parseArgs refuses properties that are present but undefined.
        ...(o.multiple === undefined ? {} : { multiple: o.multiple }),
        ...(o.short === undefined ? {} : { short: o.short })
      }])),
      strict: true,
      allowPositionals: true
    })
  } catch (err) {
    throw new UsageError(parseArgsMessage(err), usage)
  }
  const { values, positionals } = parsed
  if (values.help === true) {
    stdout.write(helpText(spec))
    return undefined
  }
  if (positionals.length < spec.positionals) {
    throw new UsageError(`${spec.name} needs ${spec.args}`, usage)
  }
  if (positionals.length > spec.positionals) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[spec.positionals])}`, usage)
  }
  const rawServer = typeof values.server === 'string' ? values.server : nonEmpty(env[SERVER_ENV]) ?? DEFAULT_SERVER
  return { values, positionals, server: serverUrl(rawServer, usage), json: values.json === true }
}

/** parseArgs' messages are long and mention its API; users get the flag and what is wrong. */
function parseArgsMessage (err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  const code = (err as { code?: string }).code
  const unknown = /Unknown option '([^']+)'/.exec(message)
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== null) return `unknown option ${unknown[1] ?? ''}`
  const missing = /Option '(?:-\w, )?(--[^ ]+) <value>' argument missing/.exec(message)
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && missing !== null) return `option ${missing[1] ?? ''} needs a value`
  const isBoolean = /Option '(?:-\w, )?(--[^ ]+)' does not take an argument/.exec(message)
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE' && isBoolean !== null) return `option ${isBoolean[1] ?? ''} takes no value`
  return message.replace(/\s*\n\s*/g, ' ')
}

function serverUrl (raw: string, usage: string): string {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    throw new UsageError(`--server must be a URL such as ${DEFAULT_SERVER} (got ${JSON.stringify(raw)})`, usage)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new UsageError(`--server must be an http or https URL (got ${JSON.stringify(raw)})`, usage)
  }
  return url.href.replace(/\/+$/, '')
}

function nonEmpty (value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/** A string flag's value, if given. */
export function stringOption (parsed: ParsedCommand, name: string): string | undefined {
  const value = parsed.values[name]
  return typeof value === 'string' ? value : undefined
}

/** A repeatable string flag's values, in order (none: empty). */
export function stringsOption (parsed: ParsedCommand, name: string): string[] {
  const value = parsed.values[name]
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
}

/** A boolean flag. */
export function flagOption (parsed: ParsedCommand, name: string): boolean {
  return parsed.values[name] === true
}

/**
 * An integer flag's value (decimal digits only: "1e3", "0x10" and "" are refused).
 * @throws UsageError when it is not an integer from `min` to Number.MAX_SAFE_INTEGER
 */
export function integerOption (parsed: ParsedCommand, name: string, min: number, usage: string): number | undefined {
  const raw = stringOption(parsed, name)
  if (raw === undefined) return undefined
  const value = /^-?\d+$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min) {
    throw new UsageError(`--${name} must be an integer of at least ${min} (got ${JSON.stringify(raw)})`, usage)
  }
  return value
}

/**
 * Splits `k=v` flags (--config, --header) into pairs, in order; the value may hold more '='.
 * @throws UsageError when an entry has no '=' or an empty name
 */
export function keyValueOptions (parsed: ParsedCommand, name: string, usage: string): Array<[string, string]> {
  return stringsOption(parsed, name).map(entry => {
    const at = entry.indexOf('=')
    if (at <= 0) throw new UsageError(`--${name} takes NAME=VALUE (got ${JSON.stringify(entry)})`, usage)
    return [entry.slice(0, at), entry.slice(at + 1)]
  })
}

/** The usage line with its pointer to --help, as usage errors carry it. */
export function usageOf (spec: CommandSpec): string {
  return `${usageLine(spec)} (see logway ${spec.name} --help)`
}
