import { CrashChecker, type Failure } from './crash-checker.js'
import { runLoad, type GroupPlan, type TopicPlan } from './crash-load.js'
import { Prng } from './prng.js'
import { readBack } from './read-back.js'
import { ServerProcess } from './server-process.js'

const TOPICS: readonly TopicPlan[] = [
  { name: 'crash-a', partitions: 3 },
  { name: 'crash-b', partitions: 2 },
  { name: 'crash-c', partitions: 4 }
]

const GROUPS: readonly GroupPlan[] = [
  { groupId: 'crash-g0', partitions: [{ topic: 'crash-a', partition: 0 }, { topic: 'crash-a', partition: 1 }, { topic: 'crash-b', partition: 0 }] },
  { groupId: 'crash-g1', partitions: [{ topic: 'crash-b', partition: 1 }, { topic: 'crash-c', partition: 2 }] },
  { groupId: 'crash-g2', partitions: [{ topic: 'crash-c', partition: 0 }, { topic: 'crash-c', partition: 3 }, { topic: 'crash-a', partition: 2 }] }
]

const PRODUCERS = 4

export interface CrashLoopOptions {
  dataDir: string
  seed: number
  /** Runs at least this many kill-and-restart cycles… */
  minCycles: number
  /** …and goes on until this many records were acknowledged… */
  minAckedRecords: number
  /** …but never more than this many cycles. */
  maxCycles: number
  /**
   * How long (drawn from the seed) each load runs before the kill (with 'ack',
   * before the kill is armed), counted from the moment the cycle has its share
   * of minAckedRecords acknowledged (at least one produce): a restarted server
   * takes a while to answer its first requests.
   */
  loadMs: { min: number, max: number }
  /**
   * 'timer': kill -9 when the load time is up, whatever is in flight.
   * 'ack': kill -9 right after the next produce acknowledged once it is up.
   */
  killOn: 'timer' | 'ack'
  /** Added to the server's environment. */
  env?: Record<string, string>
  /** Called with each server started, e.g. to kill it at teardown. */
  onStart?: (server: ServerProcess) => void
}

export interface CrashLoopResult {
  /** Kill-and-restart cycles completed (each verified after its restart). */
  cycles: number
  ackedRecords: number
  ackedCommits: number
  /** What the last verification found wrong (the loop stops at the first failing one). */
  failures: Failure[]
  /** Requests the server answered with an error while it was up. */
  refused: string[]
  /** What the servers wrote to stderr. */
  stderr: string
}

/**
 * The crash loop: starts the server on one data dir, verifies what it holds
 * against the history so far, runs concurrent producers and committers,
 * kill -9s it mid-load, and starts over; ends with a verification after the
 * last kill, or at the first verification that fails.
 */
export async function runCrashLoop (options: CrashLoopOptions): Promise<CrashLoopResult> {
  const prng = new Prng(options.seed)
  const checker = new CrashChecker()
  const result: CrashLoopResult = { cycles: 0, ackedRecords: 0, ackedCommits: 0, failures: [], refused: [], stderr: '' }
  for (let cycle = 0; ; cycle++) {
    const server = await ServerProcess.start(options.dataDir, options.env)
    options.onStart?.(server)
    try {
      if (cycle === 0) await createTopics(server)
      result.failures = checker.verify(await readBack(server.url, server.clusterId, TOPICS, GROUPS.map(g => g.groupId)))
      result.cycles = cycle
      const done = result.cycles >= options.maxCycles || (result.cycles >= options.minCycles && checker.ackedRecords >= options.minAckedRecords)
      if (result.failures.length > 0 || done) break
      await loadAndKill(server, checker, prng, cycle, options, result)
    } finally {
      await server.killed()
      result.stderr += server.stderr
    }
  }
  result.ackedRecords = checker.ackedRecords
  result.ackedCommits = checker.ackedCommits
  return result
}

async function loadAndKill (server: ServerProcess, checker: CrashChecker, prng: Prng, cycle: number, options: CrashLoopOptions, result: CrashLoopResult): Promise<void> {
  let armed = false
  let killed = false
  const kill = (): void => {
    killed = true
    server.kill()
  }
  // Each cycle gets its share of the records still to acknowledge before its kill time starts: the run reaches minAckedRecords in minCycles however slow the machine.
  const share = Math.ceil(Math.max(0, options.minAckedRecords - checker.ackedRecords) / Math.max(1, options.minCycles - cycle))
  const quota = checker.ackedRecords + share
  let quotaReached!: () => void
  const acknowledged = new Promise<void>(resolve => { quotaReached = resolve })
  const load = runLoad({
    url: server.url,
    clusterId: server.clusterId,
    topics: TOPICS,
    groups: GROUPS,
    producers: PRODUCERS,
    checker,
    seed: prng.int(0, 2 ** 31),
    cycle,
    onAck: () => {
      if (checker.ackedRecords >= quota) quotaReached()
      // Synchronously, before this process reads anything else: the server dies with the writes it just acknowledged in flight.
      if (armed && !killed) kill()
    }
  }, () => killed)
  const loadMs = prng.int(options.loadMs.min, options.loadMs.max)
  const ended = await Promise.race([acknowledged.then(() => false), load.then(() => true)])
  if (!ended) {
    await new Promise(resolve => setTimeout(resolve, loadMs))
    if (options.killOn === 'timer') kill()
    else armed = true
  }
  const { refused } = await load
  // The load ends once every client has seen the server go, or had every request refused: then it is killed now.
  kill()
  result.refused.push(...refused)
}

async function createTopics (server: ServerProcess): Promise<void> {
  for (const topic of TOPICS) {
    const res = await fetch(`${server.url}/v3/clusters/${server.clusterId}/topics`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ topic_name: topic.name, partitions_count: topic.partitions })
    })
    if (res.status !== 201) throw new Error(`creating ${topic.name} answered ${res.status}: ${await res.text()}`)
  }
}
