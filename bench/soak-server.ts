// The soak's server: `node dist/cli.js serve` in a child process of its own, so that the RSS
// measured is the server's alone, with bench/soak-probe.js preloaded to answer memory samples
// over IPC. Its log (JSON lines on stdout) is read for error-level entries.
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { existsSync, statSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { SERVER_NODE_FLAGS } from '../src/node-flags.js'
import { processCpuMs, procStatusBytes } from './bench-util.js'

const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const PROBE = fileURLToPath(new URL('./soak-probe.js', import.meta.url))
const SAMPLE_TIMEOUT_MS = 10_000

/** One reading of the server process's memory. */
export interface ServerSample {
  rssBytes: number
  /** Anonymous and file-backed (LMDB's map) parts of the RSS, from /proc; NaN elsewhere. */
  rssAnonBytes: number
  rssFileBytes: number
  heapUsedBytes: number
  heapTotalBytes: number
  externalBytes: number
  arrayBuffersBytes: number
  /** CPU time the process has used so far (user + system), in ms; NaN where /proc is missing. */
  cpuMs: number
  /** Bytes used by each V8 heap space. */
  spaces: Record<string, number>
  /** The process's active handles and requests by kind (TCPSocketWrap, Timeout, …). */
  resources: Record<string, number>
}

interface ProbeAnswer {
  type: 'sample'
  id: number
  memory: NodeJS.MemoryUsage
  spaces: Record<string, number>
  resources: Record<string, number>
}

export interface SoakServerOptions {
  dataDir: string
  logLevel: string
  /** Starts the server with --expose-gc and collects garbage before each sample. */
  gcBeforeSample: boolean
  /** Called with every log entry of level error or fatal, and every stderr line. */
  onError: (message: string) => void
}

export class SoakServer {
  readonly url: string
  readonly pid: number
  /** Resolves with the exit code, or the signal's name. */
  readonly exited: Promise<number | string>
  readonly #child: ChildProcess
  readonly #gc: boolean
  readonly #waiting = new Map<number, (answer: ProbeAnswer) => void>()
  #nextId = 0

  private constructor (child: ChildProcess, url: string, gc: boolean) {
    this.#child = child
    this.url = url
    this.pid = child.pid ?? 0
    this.#gc = gc
    this.exited = child.exitCode !== null
      ? Promise.resolve(child.exitCode)
      : once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string)
    child.on('message', (answer: ProbeAnswer) => this.#waiting.get(answer.id)?.(answer))
  }

  /**
   * Starts the built CLI on 127.0.0.1, port 0, and resolves once it listens.
   * @throws when dist/cli.js is missing or the server exits before listening
   */
  static async start (options: SoakServerOptions): Promise<SoakServer> {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first`)
    // No LOGWAY_* from the outer environment changes the server's settings.
    const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LOGWAY_')))
    const child = spawn(process.execPath, [
      ...(options.gcBeforeSample ? ['--expose-gc'] : []),
      ...SERVER_NODE_FLAGS,
      '--import', PROBE, CLI, 'serve',
      '--host', '127.0.0.1', '--port', '0', '--data-dir', options.dataDir, '--log-level', options.logLevel
    ], { env, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] })
    createInterface({ input: child.stderr as NodeJS.ReadableStream }).on('line', line => options.onError(`server stderr: ${line}`))
    const listening = new Promise<string>((resolve, reject) => {
      createInterface({ input: child.stdout as NodeJS.ReadableStream }).on('line', line => {
        const address = /^logway listening on (\S+)/.exec(line)?.[1]
        if (address !== undefined) resolve(address)
        else if (line.startsWith('{')) reportLogEntry(line, options.onError)
      }).on('close', () => reject(new Error('the server exited before it listened')))
    })
    return new SoakServer(child, await listening, options.gcBeforeSample)
  }

  get running (): boolean {
    return this.#child.exitCode === null && this.#child.signalCode === null
  }

  /** Reads the server's memory figures. */
  async sample (): Promise<ServerSample> {
    const id = this.#nextId++
    const answered = new Promise<ProbeAnswer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(id)
        reject(new Error(`the server did not answer a memory sample within ${SAMPLE_TIMEOUT_MS} ms`))
      }, SAMPLE_TIMEOUT_MS)
      this.#waiting.set(id, answer => {
        clearTimeout(timer)
        this.#waiting.delete(id)
        resolve(answer)
      })
    })
    this.#child.send({ type: 'sample', id, gc: this.#gc })
    const { memory, spaces, resources } = await answered
    const status = procStatusBytes(this.pid)
    return {
      rssBytes: memory.rss,
      rssAnonBytes: status.RssAnon ?? Number.NaN,
      rssFileBytes: status.RssFile ?? Number.NaN,
      heapUsedBytes: memory.heapUsed,
      heapTotalBytes: memory.heapTotal,
      externalBytes: memory.external,
      arrayBuffersBytes: memory.arrayBuffers,
      cpuMs: processCpuMs(this.pid),
      spaces,
      resources
    }
  }

  /** SIGTERM (a graceful close), then SIGKILL if it has not exited within `graceMs`; resolves with the exit code or signal. */
  async stop (graceMs = 30_000): Promise<number | string> {
    if (this.running) this.#child.kill('SIGTERM')
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), graceMs)
    try {
      return await this.exited
    } finally {
      clearTimeout(timer)
    }
  }
}

/** Bytes the data dir's LMDB file occupies on disk (its allocated blocks), 0 before it exists. */
export function dataFileBytes (dataDir: string): number {
  try {
    return statSync(`${dataDir}/data.mdb`).blocks * 512
  } catch {
    return 0
  }
}

function reportLogEntry (line: string, onError: (message: string) => void): void {
  try {
    const entry = JSON.parse(line) as { level?: number, msg?: string, err?: { message?: string } }
    if ((entry.level ?? 0) >= 50) onError(`server log: ${entry.msg ?? ''}${entry.err?.message === undefined ? '' : `: ${entry.err.message}`}`)
  } catch {
    onError(`server stdout: ${line}`)
  }
}
