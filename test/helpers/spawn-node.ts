import { spawn, type ChildProcess, type ChildProcessByStdio, type SpawnOptions, type SpawnOptionsWithStdioTuple, type StdioNull, type StdioPipe } from 'node:child_process'
import type { Readable, Writable } from 'node:stream'

/** A NODE_OPTIONS word (quoted or not) that preloads tap's process tracker, @tapjs/processinfo. */
const TRACKER = /@tapjs[\\/]processinfo/
const WORD = /"(?:[^"\\]|\\.)*"|'[^']*'|\S+/g
const PRELOAD_FLAGS = new Set(['--import', '--loader', '--experimental-loader'])

/** `options` (NODE_OPTIONS) without the words that preload tap's process tracker. */
function withoutTracker (options: string): string {
  const words = options.match(WORD) ?? []
  const kept: string[] = []
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string
    if (TRACKER.test(word)) continue
    // `--import <tracker>` as two words.
    if (PRELOAD_FLAGS.has(word.replace(/^["']|["']$/g, '')) && TRACKER.test(words[i + 1] ?? '')) {
      i++
      continue
    }
    kept.push(word)
  }
  return kept.join(' ')
}

/**
 * Starts `node ARGS` as a user's shell would, without tap's process tracker.
 * tap preloads @tapjs/processinfo into every process a test starts (it puts
 * it back into NODE_OPTIONS even when `options.env` leaves it out); with
 * coverage off it records nothing the suite uses, yet it runs the child's
 * module loading through a loader thread and writes a file per process:
 * `logway --help` takes 0.45 s instead of 0.18 s, a server start 0.4 s more
 * CPU. The child is started through `env`, which sets NODE_OPTIONS (the rest
 * of it kept) and execs node: the ChildProcess is node's own process, so
 * signals reach it directly. Outside tap this is a plain spawn.
 */
export function spawnNode (args: readonly string[], options: SpawnOptionsWithStdioTuple<StdioPipe, StdioPipe, StdioPipe>): ChildProcessByStdio<Writable, Readable, Readable>
export function spawnNode (args: readonly string[], options: SpawnOptionsWithStdioTuple<StdioNull, StdioPipe, StdioPipe>): ChildProcessByStdio<null, Readable, Readable>
export function spawnNode (args: readonly string[], options: SpawnOptions): ChildProcess {
  const env = options.env ?? process.env
  const nodeOptions = env.NODE_OPTIONS ?? process.env.NODE_OPTIONS ?? ''
  if (!TRACKER.test(nodeOptions)) return spawn(process.execPath, args, options)
  const kept = withoutTracker(nodeOptions)
  return spawn('env', [...(kept === '' ? ['-u', 'NODE_OPTIONS'] : [`NODE_OPTIONS=${kept}`]), process.execPath, ...args], options)
}
