import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Test } from 'tap'
import { loadConfig, type Config } from '../../src/config.js'
import { buildServer } from '../../src/server.js'
import { installResponseContract } from '../helpers/response-contract.js'

// The CLI is tested as users run it: the built dist/cli.js (`npm test` builds first).
export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url))

/** A run that has not ended this long after it started is killed and fails its test. */
const RUN_LIMIT_MS = 30_000

/** Throws when dist/cli.js is missing; call from t.before. */
export function requireBuiltCli (): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`)
}

/**
 * A real server on 127.0.0.1, port 0, with its own data dir and the real
 * clock (long-polls and consumer instances wait in real time), every
 * response checked against its route's declared contract. Closed at teardown.
 * Answers its base URL.
 */
export async function startServer (t: Test, overrides: Partial<Config> = {}): Promise<string> {
  const app = buildServer({
    ...loadConfig({ env: {} }),
    dataDir: join(t.testdir(), 'data'),
    logLevel: 'silent',
    retentionCheckIntervalMs: 0,
    ...overrides
  })
  installResponseContract(app, ({ method, url, status, problem }) => t.fail(`response contract: ${method} ${url} answered ${status}: ${problem}`))
  t.teardown(async () => await app.close())
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  await app.getLog()
  return url
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
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...cleanEnv, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] })
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

/** A record to seed a topic with through the REST API (test setup that is not under test). */
export interface SeedRecord {
  partition?: number
  key?: string
  value: string
  headers?: Record<string, string>
}

/** Calls the server's REST API; fails `t` unless the answer is 2xx. Answers the JSON body. */
export async function api<T = unknown> (t: Test, server: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  })
  const text = await res.text()
  t.ok(res.ok, `${method} ${path} answered ${res.status} ${text}`)
  return (text === '' ? undefined : JSON.parse(text)) as T
}

/** `/v3/clusters/<id>` of the server. */
export async function clusterPath (t: Test, server: string): Promise<string> {
  const list = await api<{ data: Array<{ cluster_id: string }> }>(t, server, 'GET', '/v3/clusters')
  return `/v3/clusters/${list.data[0]?.cluster_id ?? ''}`
}

/** Creates a topic (with `configs`) and produces `records` to it (as STRING keys and values) through the REST API. */
export async function seedTopic (t: Test, server: string, topic: string, partitions: number, records: SeedRecord[] = [], configs: Record<string, string> = {}): Promise<void> {
  const cluster = await clusterPath(t, server)
  await api(t, server, 'POST', `${cluster}/topics`, {
    topic_name: topic,
    partitions_count: partitions,
    configs: Object.entries(configs).map(([name, value]) => ({ name, value }))
  })
  await seedRecords(t, server, topic, records)
}

/** Produces `records` (STRING keys and values) to an existing topic through the REST API, in order. */
export async function seedRecords (t: Test, server: string, topic: string, records: SeedRecord[]): Promise<void> {
  if (records.length === 0) return
  const cluster = await clusterPath(t, server)
  await api(t, server, 'POST', `${cluster}/topics/${topic}/records:batch`, {
    entries: records.map((r, i) => ({
      id: `r${i}`,
      ...(r.partition === undefined ? {} : { partition_id: r.partition }),
      ...(r.key === undefined ? {} : { key: { type: 'STRING', data: r.key } }),
      value: { type: 'STRING', data: r.value },
      ...(r.headers === undefined ? {} : { headers: Object.entries(r.headers).map(([name, value]) => ({ name, value: Buffer.from(value).toString('base64') })) })
    }))
  })
}
