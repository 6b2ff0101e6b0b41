// What every benchmark needs: number formatting, medians and quantiles, and
// temp data dirs that are removed however the run ends (done, failed, Ctrl-C).
import { readFileSync, rmSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { join } from 'node:path'

/** A figure with thousands separators and `digits` decimals; '-' for NaN or infinity. */
export const fmt = (n: number, digits = 0): string => Number.isFinite(n)
  ? n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits })
  : '-'

/** The nearest-rank `q` quantile (0–1) of `values`; NaN for none. */
export function quantile (values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN
}

/** The median of `values` (the mean of the middle two for an even count); NaN for none. */
export function median (values: readonly number[]): number {
  if (values.length === 0) return Number.NaN
  const sorted = Float64Array.from(values).sort()
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] as number : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2
}

const liveDirs = new Set<string>()

/**
 * Runs `work` with a fresh temp dir under `parent` (named `prefix`…), removed
 * afterwards; `work` gets the path of a `data` dir inside it, as a bare temp
 * path may contain dots, which lmdb-js would take for a file name.
 */
export async function withTempDataDir<T> (parent: string, prefix: string, work: (dataDir: string, dir: string) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(parent, prefix))
  liveDirs.add(dir)
  try {
    return await work(join(dir, 'data'), dir)
  } finally {
    await rm(dir, { recursive: true, force: true })
    liveDirs.delete(dir)
  }
}

/**
 * Runs a benchmark's main: an error is printed (its message only) with exit
 * code 1; on an error or Ctrl-C the temp dirs still in use are removed first.
 */
export async function runMain (main: () => Promise<void>): Promise<void> {
  const removeLiveDirs = (): void => { for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true }) }
  process.once('SIGINT', () => {
    removeLiveDirs()
    process.exit(130)
  })
  try {
    await main()
  } catch (err) {
    removeLiveDirs()
    console.error(err instanceof Error ? err.message : err)
    process.exitCode = 1
  }
}

/** The kB figures of /proc/<pid>/status (RssAnon, RssFile, …), in bytes; empty where /proc is missing. */
export function procStatusBytes (pid: number | 'self' = 'self'): Record<string, number> {
  const figures: Record<string, number> = {}
  try {
    for (const match of readFileSync(`/proc/${pid}/status`, 'utf8').matchAll(/^(\w+):\s+(\d+) kB$/gm)) {
      figures[match[1] as string] = Number(match[2]) * 1024
    }
  } catch {}
  return figures
}

/** User + system CPU time in ms (10 ms resolution) from a /proc stat file; NaN where it cannot be read. */
function statCpuMs (path: string): number {
  try {
    const stat = readFileSync(path, 'latin1')
    // Fields after the parenthesised name: state is the first, utime the 12th and stime the 13th (clock ticks of 10 ms).
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) * 10
  } catch {
    return Number.NaN
  }
}

/** CPU time a process has used, in ms, from /proc/<pid>/stat; NaN elsewhere. */
export const processCpuMs = (pid: number): number => statCpuMs(`/proc/${pid}/stat`)

/** CPU time this process's main thread has used, in ms (Node 20 has no per-thread CPU clock); NaN elsewhere. */
export const mainThreadCpuMs = (): number => statCpuMs(`/proc/self/task/${process.pid}/stat`)
