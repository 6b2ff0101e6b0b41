import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readdirSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnNode } from '../helpers/spawn-node.js'

// The server runs as users run it: the built dist/cli.js (`npm test` builds first).
const ROOT = fileURLToPath(new URL('../../', import.meta.url))
const CLI = join(ROOT, 'dist', 'cli.js')

/** A server that has not answered this long after it was started is killed and fails the run. */
const START_LIMIT_MS = 30_000

/**
 * Why dist/ cannot be trusted to be the code under test, or undefined when it
 * can: every src/**\/*.ts must have its dist/**\/*.js, no older than itself.
 */
export function staleBuild (): string | undefined {
  const src = join(ROOT, 'src')
  for (const file of readdirSync(src, { recursive: true, encoding: 'utf8' })) {
    if (!file.endsWith('.ts') || file.endsWith('.d.ts')) continue
    const built = join(ROOT, 'dist', file.replace(/\.ts$/, '.js'))
    let builtAt: number
    try {
      builtAt = statSync(built).mtimeMs
    } catch {
      return `${relative(ROOT, built)} is missing: run \`npm run build\` first (npm test does)`
    }
    if (builtAt < statSync(join(src, file)).mtimeMs) {
      return `${relative(ROOT, built)} is older than src/${file}: run \`npm run build\` first (npm test does)`
    }
  }
  return undefined
}

/** `logway serve` in a child process of its own, killed only with SIGKILL. */
export class ServerProcess {
  readonly url: string
  readonly clusterId: string
  readonly #child: ChildProcess
  readonly #exited: Promise<unknown>
  readonly #stderr: () => string

  private constructor (url: string, clusterId: string, child: ChildProcess, exited: Promise<unknown>, stderr: () => string) {
    this.url = url
    this.clusterId = clusterId
    this.#child = child
    this.#exited = exited
    this.#stderr = stderr
  }

  /**
   * Starts `logway serve` on 127.0.0.1, port 0, over `dataDir`, with `env`
   * added to an environment without LOGWAY_* variables and with load
   * shedding off (its first sample after a start would refuse requests for a
   * second; shedding has tests of its own, this one is about durability).
   * Resolves once the log is open (the cluster id answered); rejects, the
   * process killed, if it exits first or takes longer than START_LIMIT_MS.
   */
  static async start (dataDir: string, env: Record<string, string> = {}): Promise<ServerProcess> {
    const outer = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LOGWAY_')))
    const child = spawnNode([CLI, 'serve', '--data-dir', dataDir, '--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'], {
      env: { ...outer, LOGWAY_MAX_EVENT_LOOP_DELAY_MS: '0', LOGWAY_MAX_EVENT_LOOP_UTILIZATION: '0', ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
    let stdout = ''
    let stderr = ''
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
    const exited = once(child, 'exit')
    const listening = new Promise<string>((resolve, reject) => {
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        stdout += chunk
        const found = /^logway listening on (http:\/\/\S+) /m.exec(stdout)
        if (found !== null) resolve(found[1] as string)
      })
      exited.then(([code, signal]) => reject(new Error(`logway serve exited (${String(code ?? signal)}) before it was ready; stderr: ${stderr}`)), reject)
    })
    let limit: NodeJS.Timeout | undefined
    const tooLate = new Promise<never>((_resolve, reject) => {
      limit = setTimeout(() => reject(new Error(`logway serve not ready after ${START_LIMIT_MS} ms; stderr: ${stderr}`)), START_LIMIT_MS)
    })
    try {
      const url = await Promise.race([listening, tooLate])
      // Requests wait for the log to open: the cluster id answers once it is.
      const clusters = await Promise.race([fetch(`${url}/v3/clusters`), tooLate])
      const text = await clusters.text()
      if (clusters.status !== 200) throw new Error(`GET /v3/clusters answered ${clusters.status}: ${text}`)
      const body = JSON.parse(text) as { data: Array<{ cluster_id: string }> }
      return new ServerProcess(url, body.data[0]?.cluster_id ?? '', child, exited, () => stderr)
    } catch (err) {
      child.kill('SIGKILL')
      await exited
      throw err
    } finally {
      clearTimeout(limit)
    }
  }

  /** What the server wrote to stderr so far. */
  get stderr (): string {
    return this.#stderr()
  }

  /** kill -9, at once: the process gets no chance to flush or close anything. */
  kill (): void {
    this.#child.kill('SIGKILL')
  }

  /** Kills the process (if still running) and resolves once it has exited. */
  async killed (): Promise<void> {
    this.kill()
    await this.#exited
  }
}
