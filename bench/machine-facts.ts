// What the benchmarks print about the machine and the code they ran on, so that figures can be
// compared (or dismissed) later: Node, OS, CPUs, commit, file system, package versions, load.
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { statfs } from 'node:fs/promises'
import { arch, availableParallelism, cpus, loadavg, platform } from 'node:os'
import { SERVER_NODE_FLAGS } from '../src/node-flags.js'

/** The short commit of the working tree, marked when tracked files have uncommitted changes; 'unknown' outside git. */
export function commit (): string {
  try {
    const git = (...args: string[]): string => execFileSync('git', args, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      env: { ...process.env, GIT_OPTIONAL_LOCKS: '0' } // read only: never refresh the index
    }).trim()
    const sha = git('rev-parse', '--short', 'HEAD')
    return git('status', '--porcelain', '--untracked-files=no') === '' ? sha : `${sha} + uncommitted changes`
  } catch {
    return 'unknown'
  }
}

const FS_TYPES: Record<number, string> = {
  0xef53: 'ext4', 0x58465342: 'xfs', 0x9123683e: 'btrfs', 0x2fc12fc1: 'zfs', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs', 0x6969: 'nfs', 0x1badface: 'apfs'
}

/** The file system `dir` is on (tmpfs ignores fsync: its figures are not durable ones). */
export async function describeFs (dir: string): Promise<string> {
  try {
    const { type } = await statfs(dir)
    return FS_TYPES[type] ?? `fs type 0x${type.toString(16)}`
  } catch {
    return 'unknown fs'
  }
}

/** The installed version of a dependency, '?' when it cannot be read. */
export function packageVersion (name: string): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL(`../node_modules/${name}/package.json`, import.meta.url), 'utf8')) as { version?: string }
    return pkg.version ?? '?'
  } catch {
    return '?'
  }
}

/** The 1, 5 and 15 minute load averages. */
export const loadAverage = (): string => loadavg().map(n => n.toFixed(2)).join(' ')

/** One line: Node, OS and architecture, CPU count and model, commit. */
export function machineSummary (): string {
  const cpu = cpus()[0]?.model.trim() ?? 'unknown CPU'
  return `node ${process.version} · ${platform()} ${arch()} · ${availableParallelism()} CPUs (${cpu}) · commit ${commit()}`
}

/**
 * For a benchmark whose server runs in its own process: whether that process
 * has the flags `logway serve` runs with (they change its GC, so figures
 * without them are not the server's).
 */
export function nodeFlagsNote (): string {
  const missing = SERVER_NODE_FLAGS.filter(flag => !process.execArgv.includes(flag))
  return missing.length === 0
    ? `node flags ${SERVER_NODE_FLAGS.join(' ')} as logway serve`
    : `NOT the node flags of logway serve (missing ${missing.join(' ')}): run it through its npm script`
}
