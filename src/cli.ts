#!/usr/bin/env -S node --max-semi-space-size=32
import { readFileSync } from 'node:fs'
import { parseArgs, type ParseArgsConfig } from 'node:util'
import { UsageError } from './cli/args.js'
import { processContext } from './cli/command.js'
import { runConsume } from './cli/consume-command.js'
import { CliFailure } from './cli/failure.js'
import { runGroups } from './cli/groups-command.js'
import { runProduce } from './cli/produce-command.js'
import { runTopics } from './cli/topics-command.js'
import type * as ConfigModule from './config.js'
import type { SettingName } from './config.js'
import type { ServerDeps } from './server.js'

// Exit codes: 0 clean stop, 1 runtime failure (cannot listen, log failed to open, forced stop), 2 usage or configuration error.
const USAGE_ERROR = 2
const FAILURE = 1
const UNSAFE_EARLY_ACK_ENV = 'LOGWAY_TEST_UNSAFE_EARLY_ACK'

const { version } = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }

const PROGRAM_HELP = `Usage: logway <command> [options]

An event-streaming server: Kafka's model over HTTP, with the log in LMDB.

Commands:
  serve          Run the server (see logway serve --help)
  topics         Create, list, describe, alter and delete topics
  produce        Produce records read from stdin, one a line
  consume        Print a topic's records as they arrive, alone or in a consumer group
  groups         List, describe and delete consumer groups; reset their offsets

The client commands talk to a running server: --server URL (default
http://127.0.0.1:8082, env LOGWAY_SERVER), --json for scripts, and
--help on every command (logway topics --help, logway topics create --help).

Options:
  -h, --help     Show this help
  -v, --version  Show the version
`

function serveHelp ({ SETTINGS, CONFIG_FILE_ENV }: typeof ConfigModule): string {
  // The value's placeholder is the flag's last word: --data-dir DIR, --port PORT, --body-limit-bytes BYTES.
  const entries = SETTINGS.map(s => [
    `--${s.flag} ${s.flag.split('-').pop()?.toUpperCase() ?? ''}`,
    `${s.description} Default ${JSON.stringify(s.default)}; env ${s.env}.`
  ])
  entries.push(['--config FILE', `JSON file of settings, keyed as in schemas/config.json; env ${CONFIG_FILE_ENV}.`])
  entries.push(['-h, --help', 'Show this help.'])
  return `Usage: logway serve [options]

Runs the server until SIGINT or SIGTERM. On the signal it stops accepting
connections, lets running requests finish and cuts the connections still open
after --shutdown-grace-ms; a second signal exits at once. Flags win over LOGWAY_*
environment variables, which win over the config file, which wins over the defaults.

Options:
${entries.map(([flag = '', text = '']) => `  ${flag}\n${wrap(text, 72).map(line => `      ${line}`).join('\n')}`).join('\n')}
`
}

function wrap (text: string, width: number): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(' ')) {
    if (line !== '' && line.length + 1 + word.length > width) {
      lines.push(line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  lines.push(line)
  return lines
}

/** The commands that talk to a running server over its public HTTP API (src/cli/). */
const CLIENT_COMMANDS = new Map([
  ['topics', runTopics],
  ['produce', runProduce],
  ['consume', runConsume],
  ['groups', runGroups]
])

async function main (argv: string[]): Promise<number> {
  const [command, ...rest] = argv
  if (command === undefined || command === '-h' || command === '--help') {
    process[command === undefined ? 'stderr' : 'stdout'].write(PROGRAM_HELP)
    return command === undefined ? USAGE_ERROR : 0
  }
  if (command === '-v' || command === '--version') {
    process.stdout.write(`${version}\n`)
    return 0
  }
  const client = CLIENT_COMMANDS.get(command)
  if (client !== undefined) return await client(rest, processContext())
  if (command !== 'serve') throw new UsageError(`unknown command ${JSON.stringify(command)} (see logway --help)`)
  return await serve(rest)
}

async function serve (args: string[]): Promise<number> {
  // Loaded here rather than at the top (as the server is, below): the client commands start without compiling the config schema.
  const configModule = await import('./config.js')
  const { ConfigError, loadConfig, SETTINGS } = configModule
  const options: NonNullable<ParseArgsConfig['options']> = {
    config: { type: 'string' },
    help: { type: 'boolean', short: 'h' }
  }
  for (const setting of SETTINGS) options[setting.flag] = { type: 'string' }
  const { values } = parseServeArgs(args, options)
  if (values.help === true) {
    process.stdout.write(serveHelp(configModule))
    return 0
  }
  const flags: Partial<Record<SettingName, string>> = {}
  for (const setting of SETTINGS) {
    const value = values[setting.flag]
    if (typeof value === 'string') flags[setting.name] = value
  }
  let config: ConfigModule.Config
  try {
    config = loadConfig({ flags, env: process.env, file: typeof values.config === 'string' ? values.config : undefined })
  } catch (err) {
    // A bad setting is a usage error (exit 2), reported as one line like any other.
    if (err instanceof ConfigError) throw new UsageError(err.message)
    throw err
  }

  // Loaded here, not at the top: the client commands start without loading Fastify and LMDB.
  const { buildServer } = await import('./server.js')
  const app = buildServer(config, await unsafeTestDeps())
  let stopping = false
  let finish: (code: number) => void = () => {}
  const finished = new Promise<number>(resolve => { finish = resolve })
  const shutdown = (code: number): void => {
    if (stopping) return
    stopping = true
    // Requests still running after the grace period (a client that stopped
    // sending its body, a connection that never sent a request) are cut.
    const cut = setTimeout(() => {
      app.log.warn({ shutdownGraceMs: config.shutdownGraceMs }, 'closing: cutting the connections still open')
      app.server.closeAllConnections()
    }, config.shutdownGraceMs)
    cut.unref()
    app.close().then(
      () => finish(code),
      (err: unknown) => {
        process.stderr.write(`logway: failed to close cleanly: ${oneLine(err)}\n`)
        finish(FAILURE)
      }
    )
  }
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      process.stderr.write(`logway: ${signal} again, exiting without waiting\n`)
      process.exit(FAILURE)
    }
    app.log.info({ signal }, 'closing')
    shutdown(0)
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  try {
    const address = await app.listen({ host: config.host, port: config.port })
    process.stdout.write(`logway listening on ${address} (data: ${config.dataDir})\n`)
  } catch (err) {
    process.stderr.write(`logway: cannot listen on ${config.host}:${config.port}: ${oneLine(err)}\n`)
    shutdown(FAILURE)
  }
  // A server whose log cannot open would answer 503 forever: fail loudly instead.
  app.getLog().catch((err: unknown) => {
    if (stopping) return
    process.stderr.write(`logway: ${oneLine(err)}\n`)
    shutdown(FAILURE)
  })
  // Exit explicitly once closed, so that no stray handle can keep a stopped server's process alive.
  process.exit(await finished)
}

/**
 * Test-only, and deliberately not a setting: LOGWAY_TEST_UNSAFE_EARLY_ACK=1
 * opens the log with `unsafeEarlyAck` (appends acknowledged before they are
 * written), so that the crash test (test/crash/) can show that its checker
 * catches acknowledged records lost by kill -9. Read here and nowhere else;
 * announced on stderr whatever the log level.
 */
async function unsafeTestDeps (): Promise<ServerDeps> {
  if (process.env[UNSAFE_EARLY_ACK_ENV] !== '1') return {}
  process.stderr.write(`logway: WARNING: ${UNSAFE_EARLY_ACK_ENV}=1: appends are acknowledged before they are written, so a crash LOSES ACKNOWLEDGED RECORDS. For tests only.\n`)
  const { LogStore } = await import('./log/log-store.js')
  return { openLog: async options => await LogStore.open({ ...options, unsafeEarlyAck: true }) }
}

function parseServeArgs (args: string[], options: NonNullable<ParseArgsConfig['options']>) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false })
  } catch (err) {
    const e = err as { code?: string, message?: string }
    const unknown = /Unknown option '([^']+)'/.exec(e.message ?? '')
    if (e.code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION' && unknown !== null) {
      throw new UsageError(`unknown option ${unknown[1]} (see logway serve --help)`)
    }
    if (e.code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') {
      throw new UsageError(`serve takes no arguments besides options (see logway serve --help): ${oneLine(err)}`)
    }
    throw new UsageError(oneLine(err))
  }
}

function oneLine (err: unknown): string {
  const message = err instanceof Error ? err.message : String(err)
  return message.replace(/\s*\n\s*/g, ' ')
}

main(process.argv.slice(2)).then(
  code => { process.exitCode = code },
  (err: unknown) => {
    if (err instanceof UsageError) {
      process.stderr.write(`logway: ${oneLine(err)}\n`)
      if (err.usage !== undefined) process.stderr.write(`${err.usage}\n`)
      process.exitCode = USAGE_ERROR
      return
    }
    if (err instanceof CliFailure) {
      process.stderr.write(`logway: ${oneLine(err)}\n`)
      process.exitCode = FAILURE
      return
    }
    process.stderr.write(`logway: ${err instanceof Error ? err.stack ?? err.message : String(err)}\n`)
    process.exitCode = FAILURE
  }
)
