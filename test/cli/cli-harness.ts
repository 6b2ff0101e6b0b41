import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { spawnNode } from '../helpers/spawn-node.js'

// The CLI is tested as users run it: the built dist/cli.js (`npm test` builds first).
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))

/** A run that has not ended this long after it started is killed and fails its test. */
const RUN_LIMIT_MS = 30_000

/** Throws when dist/cli.js is missing; call from t.before. */
export function requireBuiltCli (): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`)
}

/** A CLI process under way. */
export interface Running {
  child: ChildProcess
  /** Resolves with the exit code (or the signal's name) once the process and its pipes closed. */
  exited: Promise<number | string>
  stdout: () => string
  stderr: () => string
  /** Resolves once stdout holds `count` complete lines; rejects if the process ends first. */
  lines: (count: number) => Promise<string[]>
}

/** What a finished CLI run printed. */
export interface Result {
  code: number | string
  stdout: string
  stderr: string
}

function completeLines (text: string): string[] {
  const lines = text.split('\n')
  lines.pop()
  return lines
}

/**
 * Starts `logway ARGS` with `input` on stdin (none: stdin is empty; with
 * keepStdinOpen, stdin stays open after it, as a terminal's) and no
 * LOGWAY_* variable or NO_COLOR of the outer environment. Killed at teardown, and
 * after RUN_LIMIT_MS (failing the test), whichever comes first.
 */
export function spawnCli (t: Test, args: string[], options: { input?: string, env?: Record<string, string>, keepStdinOpen?: boolean } = {}): Running {
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LOGWAY_') && name !== 'NO_COLOR'))
  const child = spawnNode([CLI, ...args], { env: { ...cleanEnv, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] })
  child.stdin.on('error', () => {})
  if (options.keepStdinOpen === true) child.stdin.write(options.input ?? '')
  else child.stdin.end(options.input)
  let stdout = ''
  let stderr = ''
  const waiters = new Set<() => void>()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const wake of [...waiters]) wake()
  })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const limit = setTimeout(() => {
    t.fail(`logway ${args.join(' ')} still running after ${RUN_LIMIT_MS} ms; stdout: ${stdout}; stderr: ${stderr}`)
    child.kill('SIGKILL')
  }, RUN_LIMIT_MS)
  let closed = false
  const exited = once(child, 'close').then(([code, signal]) => {
    clearTimeout(limit)
    closed = true
    for (const wake of [...waiters]) wake()
    return (code ?? signal) as number | string
  })
  t.teardown(() => {
    clearTimeout(limit)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const lines = async (count: number): Promise<string[]> => await new Promise((resolve, reject) => {
    const check = (): void => {
      const seen = completeLines(stdout)
      if (seen.length >= count) {
        waiters.delete(check)
        resolve(seen)
      } else if (closed) {
        waiters.delete(check)
        reject(new Error(`the process ended after ${seen.length} of ${count} lines; stderr: ${stderr}`))
      }
    }
    waiters.add(check)
    check()
  })
  return { child, exited, stdout: () => stdout, stderr: () => stderr, lines }
}

/** Runs `logway ARGS` to its end. */
export async function cli (t: Test, args: string[], options: { input?: string, env?: Record<string, string> } = {}): Promise<Result> {
  const running = spawnCli(t, args, options)
  const code = await running.exited
  return { code, stdout: running.stdout(), stderr: running.stderr() }
}

/** How many runs of `cliAll` are under way at once. */
const CONCURRENT_RUNS = 4

/**
 * Runs `logway ARGS` for every entry of `runs` (each with `options`), at most
 * CONCURRENT_RUNS at a time, and answers the results in the order of `runs`.
 * For runs that share no state (--help, usage errors, an unreachable server):
 * each is its own process either way, and most of a run is node starting up.
 */
export async function cliAll (t: Test, runs: string[][], options: { input?: string, env?: Record<string, string> } = {}): Promise<Result[]> {
  const results: Result[] = []
  let next = 0
  const worker = async (): Promise<void> => {
    for (let i = next++; i < runs.length; i = next++) results[i] = await cli(t, runs[i] as string[], options)
  }
  await Promise.all(Array.from({ length: Math.min(CONCURRENT_RUNS, runs.length) }, worker))
  return results
}

/** Parses stdout as one JSON document, failing `t` with the text when it is not. */
export function json<T = unknown> (t: Test, result: Result): T {
  try {
    return JSON.parse(result.stdout) as T
  } catch {
    t.fail(`stdout is not one JSON document: ${result.stdout}`)
    return undefined as T
  }
}

/** Parses stdout as JSON lines. */
export function ndjson<T = unknown> (result: Result): T[] {
  return completeLines(result.stdout).map(line => JSON.parse(line) as T)
}
