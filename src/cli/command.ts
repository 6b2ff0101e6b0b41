import { parseCommand, UsageError, type CommandSpec, type ParsedCommand } from './args.js'
import { LogwayClient } from './http-client.js'
import { Output, type OutputStream } from './output.js'

/** The process as a command sees it; tests of single modules can pass stand-ins. */
export interface CliContext {
  env: NodeJS.ProcessEnv
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stdout: OutputStream
  stderr: OutputStream
}

/** The context of the running process. */
export function processContext (): CliContext {
  return { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr }
}

/** What a command's body gets: its parsed arguments, a client for --server, and where to print. */
export interface CommandRun {
  parsed: ParsedCommand
  client: LogwayClient
  out: Output
  ctx: CliContext
}

/** A command: its spec (flags, help) and its body, which answers the exit code. */
export interface Command {
  spec: CommandSpec
  run: (run: CommandRun) => Promise<number>
}

/** Parses `args` for `command` and runs it; --help prints and answers 0. */
export async function runCommand (command: Command, args: string[], ctx: CliContext): Promise<number> {
  const parsed = parseCommand(command.spec, args, ctx.env, ctx.stdout)
  if (parsed === undefined) return 0
  const out = new Output({ json: parsed.json, stdout: ctx.stdout, stderr: ctx.stderr, env: ctx.env })
  return await command.run({ parsed, client: new LogwayClient(parsed.server), out, ctx })
}

/**
 * Runs `logway <group> <subcommand> …` (topics, groups): --help on the group
 * lists its subcommands; a missing or unknown one is a usage error.
 * @throws UsageError
 */
export async function runCommandGroup (group: string, summary: string, commands: Record<string, Command>, args: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = args
  const help = groupHelp(group, summary, commands)
  if (name === '-h' || name === '--help') {
    ctx.stdout.write(help)
    return 0
  }
  const usage = `Usage: logway ${group} <${Object.keys(commands).join('|')}> … (see logway ${group} --help)`
  // Options come after the command: `logway topics --json list` names no command yet.
  if (name === undefined || name.startsWith('-')) throw new UsageError(`${group} needs a command`, usage)
  const command = Object.hasOwn(commands, name) ? commands[name] : undefined
  if (command === undefined) throw new UsageError(`unknown command ${JSON.stringify(`${group} ${name}`)}`, usage)
  return await runCommand(command, rest, ctx)
}

function groupHelp (group: string, summary: string, commands: Record<string, Command>): string {
  const rows = Object.entries(commands).map(([name, c]) => [`${name}${c.spec.args === '' ? '' : ` ${c.spec.args}`}`, c.spec.summary.split('\n')[0] ?? ''] as const)
  const width = Math.max(...rows.map(([left]) => left.length))
  return `Usage: logway ${group} <command> [options]

${summary}

Commands:
${rows.map(([left, text]) => `  ${left.padEnd(width)}  ${text}`).join('\n')}

Every command takes --server URL, --json and --help (logway ${group} <command> --help).
`
}
