import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { ManualClock, type TimerHandle } from '../../src/clock.js'
import { loadConfig, type Config } from '../../src/config.js'
import type { GroupCoordinator } from '../../src/groups/group-coordinator.js'
import { LogStore } from '../../src/log/log-store.js'
import { buildServer } from '../../src/server.js'
import { installResponseContract, type ContractViolation } from '../helpers/response-contract.js'

/**
 * A ManualClock that also tells which timers were set since a mark: the
 * fuzz moves time for a long poll only as far as a timer that poll set, and
 * never for other requests, so that time-driven changes (session timeouts,
 * auto-commits) happen inside long polls only.
 */
export class FuzzClock extends ManualClock {
  #set = 0
  readonly #pending = new Map<TimerHandle, { at: number, seq: number }>()

  /** The mark to pass to `nextTimerSince`. */
  mark (): number {
    return this.#set
  }

  /** When the earliest timer set since `mark`, and neither run nor cleared, falls due; undefined if there is none. */
  nextTimerSince (mark: number): number | undefined {
    let next: number | undefined
    for (const { at, seq } of this.#pending.values()) if (seq >= mark && (next === undefined || at < next)) next = at
    return next
  }

  override setTimeout (fn: () => void, ms: number): TimerHandle {
    const handle = super.setTimeout(() => {
      this.#pending.delete(handle)
      fn()
    }, ms)
    this.#pending.set(handle, { at: this.now() + Math.max(0, ms), seq: this.#set++ })
    return handle
  }

  override clearTimeout (handle: TimerHandle): void {
    this.#pending.delete(handle)
    super.clearTimeout(handle)
  }
}

/** The app under fuzz, with what the invariants look at. */
export interface FuzzApp {
  app: FastifyInstance
  clock: FuzzClock
  log: LogStore
  groups: GroupCoordinator
  /** Responses that broke their route's declared contract, until the fuzz takes them. */
  violations: ContractViolation[]
  /** Unhandled rejections and uncaught exceptions, until the fuzz takes them. */
  crashes: unknown[]
}

/** The body limit of the fuzzed app: small, so that bodies near and over it are cheap to send. */
export const FUZZ_BODY_LIMIT_BYTES = 65_536

/**
 * Builds the app as buildTestServer does (test/helpers/build-test-server.ts:
 * own data dir, silent, retention off, ManualClock, the response-contract
 * check on every response) but collects contract violations instead of
 * failing the test at once, so that fast-check sees them as a failed run and
 * shrinks the request. Differences that keep 20,000 requests fast: a small
 * body limit, LMDB without fsync (nothing here survives a crash anyway), no
 * free-space check, and consumer instances that never expire while the
 * manual clock is moved to end long polls. Process-wide unhandled rejections
 * and uncaught exceptions are collected too.
 */
export async function buildFuzzApp (t: Test, overrides: Partial<Config> = {}): Promise<FuzzApp> {
  const clock = new FuzzClock()
  const config: Config = {
    ...loadConfig({ env: {} }),
    dataDir: join(t.testdir(), 'data'),
    logLevel: 'silent',
    retentionCheckIntervalMs: 0,
    bodyLimitBytes: FUZZ_BODY_LIMIT_BYTES,
    minFreeBytes: 0,
    consumerInstanceTimeoutMs: 2_147_483_647,
    ...overrides
  }
  const app = buildServer(config, { clock, openLog: async options => await LogStore.open({ ...options, unsafeNoSync: true }) })
  const violations: ContractViolation[] = []
  installResponseContract(app, violation => violations.push(violation))
  const crashes: unknown[] = []
  const onCrash = (err: unknown): void => { crashes.push(err) }
  process.on('unhandledRejection', onCrash)
  process.on('uncaughtException', onCrash)
  t.teardown(async () => {
    await app.close()
    process.off('unhandledRejection', onCrash)
    process.off('uncaughtException', onCrash)
    if (crashes.length > 0) t.fail(`${crashes.length} unhandled rejections or uncaught exceptions`, { crashes: crashes.map(String) })
  })
  const log = await app.getLog()
  return { app, clock, log, groups: await app.getGroups(), violations, crashes }
}

/**
 * How much of the state a fingerprint covers: `log`, the topics only;
 * `offsets`, also every group's committed offsets; `all`, also every
 * group's state, generation and members with their subscriptions and
 * assignments.
 */
export type FingerprintScope = 'log' | 'offsets' | 'all'

/**
 * What a request must not change when it is refused: every topic (id,
 * partition count, config overrides, each partition's start, end and high
 * watermark) and, as `scope` says, the consumer groups. Cheap: a few
 * synchronous reads.
 */
export function fingerprint (fz: FuzzApp, scope: FingerprintScope = 'all'): string {
  const topics = fz.log.listTopics().map(topic => [
    topic.name, topic.topicId, topic.partitionCount, topic.overrides,
    fz.log.partitions(topic.name).map(p => [p.logStartOffset, p.logEndOffset, p.highWatermark])
  ])
  if (scope === 'log') return JSON.stringify({ topics })
  const groups = fz.groups.listGroups().map(({ groupId }) => {
    const offsets = fz.groups.committedOffsets(groupId)
    if (scope === 'offsets') return [groupId, offsets]
    const group = fz.groups.describeGroup(groupId)
    return [groupId, group.state, group.generationId, group.assignor, group.members.map(m => [m.memberId, m.subscription, m.assignment]), offsets]
  })
  return JSON.stringify({ topics, groups })
}

/**
 * Waits (a bound, never a pause) until no consumer group is completing a
 * rebalance: that state waits only for commits to reach the disk, and ends
 * by itself. Called before a fingerprint, so that background progress is
 * not taken for a change the next request made.
 */
export async function settleGroups (fz: FuzzApp): Promise<void> {
  const deadline = Date.now() + 2_000
  while (fz.groups.listGroups().some(g => g.state === 'CompletingRebalance') && Date.now() < deadline) {
    await new Promise(resolve => setTimeout(resolve, 1))
  }
}

/** The first difference between two fingerprints, for the failure message. */
export function describeChange (before: string, after: string): string {
  let i = 0
  while (i < before.length && before[i] === after[i]) i++
  const from = Math.max(0, i - 120)
  return `before: …${before.slice(from, i + 200)}\nafter:  …${after.slice(from, i + 200)}`
}
