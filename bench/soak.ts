// Soak: the real server under a steady mixed load for a long while, its memory watched.
//
//   npm run soak -- [--minutes 30] [--warmup-minutes 5] [--interval 30] [--rate 300] [--dir /path]
//                   [--log-level warn] [--gc]
//
// Every flag also reads from LOGWAY_BENCH_<FLAG> (LOGWAY_BENCH_MINUTES=…); flags win.
// The server is `node dist/cli.js serve` (build first) in a child process, so its RSS is its own,
// with the default config on a fresh data dir. bench/soak-load.ts drives the load from this
// process. Every --interval seconds a line shows the server's memory and the load's counters; at
// the end a least-squares slope of RSS over the samples after warm-up is held against the target
// (≤ 1 MB/min). The exit code is 1 when the target is missed, when any request or frame had an
// answer the load did not expect, when the server logged an error, or when it did not stop cleanly.
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { setTimeout as sleep } from 'node:timers/promises'
import { parseArgs } from 'node:util'
import { describeFs, loadAverage, machineSummary, packageVersion } from './machine-facts.js'
import { SOAK_TOPICS, SoakLoad } from './soak-load.js'
import { dataFileBytes, SoakServer, type ServerSample } from './soak-server.js'
import { SERVER_NODE_FLAGS } from '../src/node-flags.js'

const TARGET_MB_PER_MIN = 1
/** Memory is read this often (or every --interval when shorter); the slope is fitted over every reading. */
const SAMPLE_MS = 5000

interface Params {
  minutes: number
  warmupMinutes: number
  intervalS: number
  rate: number
  parentDir: string
  logLevel: string
  gc: boolean
}

interface Reading {
  minutes: number
  sample: ServerSample
}

const MB = 1024 * 1024

function parseParams (): Params {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string' },
      'warmup-minutes': { type: 'string' },
      interval: { type: 'string' },
      rate: { type: 'string' },
      dir: { type: 'string' },
      'log-level': { type: 'string' },
      gc: { type: 'boolean' }
    }
  })
  const setting = (name: Exclude<keyof typeof values, 'gc'>, fallback: string): string => {
    const flag = values[name]
    if (typeof flag === 'string') return flag
    return process.env[`LOGWAY_BENCH_${name.toUpperCase().replaceAll('-', '_')}`] ?? fallback
  }
  const number = (name: Exclude<keyof typeof values, 'gc' | 'dir' | 'log-level'>, fallback: string, min: number): number => {
    const text = setting(name, fallback)
    const n = Number(text)
    if (text.trim() === '' || !Number.isFinite(n) || n < min) throw new Error(`--${name} must be a number ≥ ${min}, got ${JSON.stringify(text)}`)
    return n
  }
  const minutes = number('minutes', '30', 0.5)
  const warmupMinutes = number('warmup-minutes', String(Math.min(5, minutes / 6)), 0)
  if (warmupMinutes >= minutes) throw new Error('--warmup-minutes must be shorter than --minutes')
  return {
    minutes,
    warmupMinutes,
    intervalS: number('interval', '30', 1),
    rate: number('rate', '300', 1),
    parentDir: setting('dir', tmpdir()),
    logLevel: setting('log-level', 'warn'),
    gc: values.gc === true || ['1', 'true'].includes(process.env.LOGWAY_BENCH_GC ?? '')
  }
}

/** Least-squares slope of value over minutes. */
function slope (points: Array<[number, number]>): number {
  const n = points.length
  const meanX = points.reduce((sum, [x]) => sum + x, 0) / n
  const meanY = points.reduce((sum, [, y]) => sum + y, 0) / n
  let covariance = 0
  let variance = 0
  for (const [x, y] of points) {
    covariance += (x - meanX) * (y - meanY)
    variance += (x - meanX) ** 2
  }
  return covariance / variance
}

const fmt = (n: number, digits = 1): string => Number.isFinite(n) ? n.toFixed(digits) : '-'
const clock = (minutes: number): string => {
  const seconds = Math.round(minutes * 60)
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, '0')}`
}

const COLUMNS = [
  ['elapsed', 7], ['RSS MB', 7], ['anon', 6], ['file', 6], ['heap MB', 7], ['ext MB', 6], ['disk MB', 7],
  ['srv CPU', 7], ['produced', 9], ['consumed', 9], ['sessions', 8], ['errors', 6], ['WS open', 7], ['srv sockets', 11], ['srv timers', 10]
] as const
const row = (cells: string[]): string => cells.map((cell, i) => cell.padStart(COLUMNS[i]?.[1] ?? 0)).join('  ')

async function main (): Promise<number> {
  const params = parseParams()
  const dir = await mkdtemp(join(params.parentDir, 'logway-soak-'))
  // A bare temp path may contain dots, which lmdb-js would take for a file name.
  const dataDir = join(dir, 'data')
  const serverErrors: string[] = []
  let stopping = false
  const server = await SoakServer.start({
    dataDir,
    logLevel: params.logLevel,
    gcBeforeSample: params.gc,
    onError: message => { if (!stopping) serverErrors.push(message) }
  })
  const removeDir = async (): Promise<void> => await rm(dir, { recursive: true, force: true })
  process.once('SIGINT', () => {
    server.stop(5000).finally(removeDir).finally(() => process.exit(130))
  })

  console.log('Logway soak: the server under a steady mixed load, its RSS watched')
  console.log(machineSummary())
  console.log(`lmdb ${packageVersion('lmdb')} · fastify ${packageVersion('fastify')} · server pid ${server.pid} (node ${SERVER_NODE_FLAGS.join(' ')} dist/cli.js serve, default config, log level ${params.logLevel}${params.gc ? ', GC before each sample' : ''}) at ${server.url}`)
  console.log(`data dir ${dataDir} (${await describeFs(dir)}) · ${params.minutes} min, warm-up ${params.warmupMinutes} min, a line every ${params.intervalS} s · ${params.rate} records/s`)
  console.log(`topics: ${SOAK_TOPICS.map(t => `${t.name} (${t.partitions} partitions, ${Object.entries(t.configs).map(([k, v]) => `${k}=${v}`).join(' ')})`).join(', ')}, and soak-churn-N created and deleted every 30–60 s`)
  console.log(`load average ${loadAverage()} at start: other processes on this machine skew the figures`)
  console.log('')

  let exitCode = 0
  const readings: Reading[] = []
  let load: SoakLoad | undefined
  try {
    const clusters = await (await fetch(`${server.url}/v3/clusters`)).json() as { data: Array<{ cluster_id: string }> }
    load = await SoakLoad.start({ url: server.url, clusterId: clusters.data[0]?.cluster_id ?? '', rate: params.rate })
    const stats = load.stats
    console.log(row(COLUMNS.map(([name]) => name)))
    const start = performance.now()
    const sampleMs = Math.min(SAMPLE_MS, params.intervalS * 1000)
    let nextPrint = params.intervalS * 1000
    let printed = { at: 0, cpuMs: (await server.sample()).cpuMs }
    for (let at = sampleMs; at <= params.minutes * 60_000 && server.running; at += sampleMs) {
      await sleep(Math.max(0, start + at - performance.now()))
      if (!server.running) {
        serverErrors.push(`the server exited during the run (${await server.exited})`)
        break
      }
      const sample = await server.sample()
      readings.push({ minutes: at / 60_000, sample })
      if (at < nextPrint && at + sampleMs <= params.minutes * 60_000) continue
      nextPrint += params.intervalS * 1000
      // The server's CPU use since the previous line, in CPUs (1.00: one core busy all the time).
      const cpus = (sample.cpuMs - printed.cpuMs) / (at - printed.at)
      printed = { at, cpuMs: sample.cpuMs }
      console.log(row([
        clock(at / 60_000), fmt(sample.rssBytes / MB), fmt(sample.rssAnonBytes / MB), fmt(sample.rssFileBytes / MB),
        fmt(sample.heapUsedBytes / MB), fmt(sample.externalBytes / MB), fmt(dataFileBytes(dataDir) / MB), fmt(cpus, 2),
        String(stats.produced), String(stats.consumed), String(stats.sessions), String(stats.errorCount + serverErrors.length),
        String(stats.wsOpen), String(sample.resources.TCPSocketWrap ?? 0), String(sample.resources.Timeout ?? 0)
      ]))
    }
  } catch (err) {
    serverErrors.push(`the run stopped early: ${err instanceof Error ? err.message : String(err)}`)
  } finally {
    stopping = true
    await load?.stop()
  }
  const exit = await server.stop()
  if (exit !== 0) serverErrors.push(`the server did not stop cleanly on SIGTERM: exit ${exit}`)
  await removeDir()

  console.log('')
  const after = readings.filter(r => r.minutes >= params.warmupMinutes)
  if (after.length < 2) {
    console.log(`RSS growth after warm-up: not enough samples after ${params.warmupMinutes} min (${after.length})`)
    exitCode = 1
  } else {
    const fit = (value: (s: ServerSample) => number): number => slope(after.map(r => [r.minutes, value(r.sample) / MB]))
    const rssSlope = fit(s => s.rssBytes)
    const met = rssSlope <= TARGET_MB_PER_MIN
    const first = after[0] as Reading
    const last = after.at(-1) as Reading
    console.log(`RSS growth after warm-up: ${fmt(rssSlope, 2)} MB/min (target ≤ ${TARGET_MB_PER_MIN} MB/min): ${met ? 'MET' : 'NOT MET'}`)
    console.log(`  fitted over ${after.length} samples from ${clock(first.minutes)} to ${clock(last.minutes)}: RSS ${fmt(first.sample.rssBytes / MB)} → ${fmt(last.sample.rssBytes / MB)} MB; ` +
      `slopes in MB/min: anon ${fmt(fit(s => s.rssAnonBytes), 2)}, file-backed ${fmt(fit(s => s.rssFileBytes), 2)}, heap used ${fmt(fit(s => s.heapUsedBytes), 2)}, heap total ${fmt(fit(s => s.heapTotalBytes), 2)}, ` +
      `external ${fmt(fit(s => s.externalBytes), 2)}`)
    const spaces = Object.keys(last.sample.spaces).map(name => `${name} ${fmt((last.sample.spaces[name] ?? 0) / MB)} (${fmt(fit(s => s.spaces[name] ?? 0), 2)}/min)`)
    console.log(`  heap spaces at the end, MB: ${spaces.join(', ')}`)
    if (!met) exitCode = 1
  }
  if (load !== undefined) {
    const { stats } = load
    console.log(`load: ${stats.produced} records produced, ${stats.consumed} consumed, ${stats.sessions} sessions` +
      (stats.expected.size === 0 ? '' : `; expected outcomes: ${[...stats.expected].map(([kind, n]) => `${kind} ×${n}`).join(', ')}`))
    for (const [kind, { count, example }] of stats.errors) console.log(`!!! ${count}× ${kind}\n      e.g. ${example}`)
    if (stats.errorCount > 0) exitCode = 1
  }
  for (const message of serverErrors.slice(0, 20)) console.log(`!!! ${message}`)
  if (serverErrors.length > 20) console.log(`!!! … and ${serverErrors.length - 20} more server errors`)
  if (serverErrors.length > 0) exitCode = 1
  console.log(`load average ${loadAverage()} at end`)
  if (exitCode !== 0) console.log('\n!!! the soak FAILED: see the lines marked !!! above')
  return exitCode
}

try {
  process.exitCode = await main()
} catch (err) {
  console.error(err instanceof Error ? err.stack ?? err.message : err)
  process.exitCode = 1
}
