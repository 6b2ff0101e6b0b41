import { createHash } from 'node:crypto'

/** A record's bytes as a client sends them and a fetch reads them back: what must survive a crash exactly. */
export interface RecordContent {
  key: Buffer | null
  value: Buffer | null
  headers: ReadonlyArray<{ name: string, value: Buffer | null }>
}

/** A record as read back after a restart. */
export interface ReadRecord extends RecordContent {
  offset: number
}

/** Everything one partition holds after a restart, read from its log start to its log end. */
export interface PartitionSnapshot {
  topic: string
  partition: number
  logStartOffset: number
  logEndOffset: number
  records: readonly ReadRecord[]
}

/** A group's committed offset (the next offset to consume) as read back after a restart. */
export interface CommitSnapshot {
  groupId: string
  topic: string
  partition: number
  committedOffset: number
}

/** What the server holds after a restart: every partition written to, every committed offset of the groups committed to. */
export interface Snapshot {
  partitions: readonly PartitionSnapshot[]
  commits: readonly CommitSnapshot[]
}

export type FailureKind =
  /** An acknowledged record is not at its acknowledged offset with its bytes. */
  | 'lost-ack'
  /** A record read back by an earlier verification is gone or changed. */
  | 'lost-record'
  /** Offsets missing between the log start and the log end. */
  | 'gap'
  /** An offset read twice, or acknowledged for two different records. */
  | 'duplicate-offset'
  /** The same sent record at two offsets. */
  | 'duplicate-record'
  /** A record no client sent to that partition. */
  | 'unknown-record'
  /** The log end offset is below the one verified before. */
  | 'end-backwards'
  /** A committed offset is not the last one acknowledged (nor one sent after it). */
  | 'lost-commit'

export interface Failure {
  kind: FailureKind
  /** topic-partition, or group/topic-partition. */
  where: string
  detail: string
}

/** A hash of a record's key, value and headers, each length-prefixed (null is -1) so that no two contents collide by concatenation. */
export function digestOf (record: RecordContent): string {
  const hash = createHash('sha256')
  const field = (bytes: Buffer | null): void => {
    const length = Buffer.allocUnsafe(4)
    length.writeInt32BE(bytes === null ? -1 : bytes.length)
    hash.update(length)
    if (bytes !== null) hash.update(bytes)
  }
  field(record.key)
  field(record.value)
  for (const header of record.headers) {
    field(Buffer.from(header.name))
    field(header.value)
  }
  return hash.digest('base64')
}

interface Expected {
  digest: string
  /** Acknowledged by the server (else only read back by an earlier verification). */
  acked: boolean
}

interface PartitionHistory {
  topic: string
  partition: number
  /** Digests of every record sent to the partition, acknowledged or not. */
  sent: Set<string>
  /** What must be at each offset: acknowledged records, and those read back before. */
  expected: Map<number, Expected>
  /** Offsets acknowledged for a record other than the one already expected there. */
  conflicts: number[]
  verifiedEnd: number
}

interface CommitHistory {
  groupId: string
  topic: string
  partition: number
  /** The last committed offset acknowledged, or read back by the last verification. */
  committed: number | undefined
  /** Offsets sent since, not acknowledged: each may or may not have been stored. */
  unacked: Set<number>
}

/**
 * The history of a crash test and its verification. Clients report what they
 * send and what the server acknowledges; after each restart, `verify` compares
 * what the server holds with that history and lists every broken promise:
 * acknowledged records and commits must survive exactly, offsets stay dense
 * and unique, end offsets never go backwards, and nothing appears that no
 * client sent. Unacknowledged records and commits may or may not survive.
 * What a verification reads back becomes history too: it must never change.
 */
export class CrashChecker {
  readonly #partitions = new Map<string, PartitionHistory>()
  readonly #commits = new Map<string, CommitHistory>()
  #ackedRecords = 0
  #ackedCommits = 0

  /** Records acknowledged so far. */
  get ackedRecords (): number {
    return this.#ackedRecords
  }

  /** Committed offsets acknowledged so far (one per partition of each commit). */
  get ackedCommits (): number {
    return this.#ackedCommits
  }

  /** A client is about to send this record to (topic, partition). */
  sent (topic: string, partition: number, record: RecordContent): void {
    this.#partition(topic, partition).sent.add(digestOf(record))
  }

  /** The server acknowledged the record at (topic, partition, offset). */
  acked (topic: string, partition: number, offset: number, record: RecordContent): void {
    const history = this.#partition(topic, partition)
    const digest = digestOf(record)
    const known = history.expected.get(offset)
    this.#ackedRecords++
    if (known === undefined) history.expected.set(offset, { digest, acked: true })
    else if (known.digest !== digest) history.conflicts.push(offset)
    else known.acked = true
  }

  /** A client is about to commit `committedOffset` (the next offset to consume) for the group. */
  commitSent (groupId: string, topic: string, partition: number, committedOffset: number): void {
    this.#commit(groupId, topic, partition).unacked.add(committedOffset)
  }

  /**
   * The server acknowledged the commit. Commits of one group and partition
   * must be sent one at a time: anything sent before this one is superseded.
   */
  commitAcked (groupId: string, topic: string, partition: number, committedOffset: number): void {
    const history = this.#commit(groupId, topic, partition)
    history.committed = committedOffset
    history.unacked.clear()
    this.#ackedCommits++
  }

  /** The group's committed offset as far as the history knows (acknowledged or read back); undefined when none. */
  committedOffset (groupId: string, topic: string, partition: number): number | undefined {
    return this.#commits.get(commitKey(groupId, topic, partition))?.committed
  }

  /**
   * Checks what the server holds after a restart against the history; answers
   * every failure (none: every promise kept). What the snapshot holds then
   * becomes the history the next verification is held to.
   */
  verify (snapshot: Snapshot): Failure[] {
    const failures: Failure[] = []
    const read = new Map(snapshot.partitions.map(p => [partitionKey(p.topic, p.partition), p]))
    for (const [key, history] of this.#partitions) {
      const partition = read.get(key) ?? { topic: history.topic, partition: history.partition, logStartOffset: 0, logEndOffset: 0, records: [] }
      failures.push(...verifyPartition(history, partition))
    }
    for (const partition of snapshot.partitions) {
      if (!this.#partitions.has(partitionKey(partition.topic, partition.partition))) {
        failures.push(...verifyPartition(this.#partition(partition.topic, partition.partition), partition))
      }
    }
    const commits = new Map(snapshot.commits.map(c => [commitKey(c.groupId, c.topic, c.partition), c.committedOffset]))
    for (const [key, history] of this.#commits) {
      failures.push(...verifyCommit(history, commits.get(key)))
    }
    return failures
  }

  #partition (topic: string, partition: number): PartitionHistory {
    const key = partitionKey(topic, partition)
    let history = this.#partitions.get(key)
    if (history === undefined) {
      history = { topic, partition, sent: new Set(), expected: new Map(), conflicts: [], verifiedEnd: 0 }
      this.#partitions.set(key, history)
    }
    return history
  }

  #commit (groupId: string, topic: string, partition: number): CommitHistory {
    const key = commitKey(groupId, topic, partition)
    let history = this.#commits.get(key)
    if (history === undefined) {
      history = { groupId, topic, partition, committed: undefined, unacked: new Set() }
      this.#commits.set(key, history)
    }
    return history
  }
}

function verifyPartition (history: PartitionHistory, read: PartitionSnapshot): Failure[] {
  const where = partitionKey(history.topic, history.partition)
  const failures: Failure[] = []
  const fail = (kind: FailureKind, detail: string): void => { failures.push({ kind, where, detail }) }

  if (read.logEndOffset < history.verifiedEnd) {
    fail('end-backwards', `log end offset ${read.logEndOffset}, below ${history.verifiedEnd} verified before`)
  }
  if (history.conflicts.length > 0) {
    fail('duplicate-offset', `offsets ${ranges(history.conflicts)} acknowledged for two different records`)
  }
  const digests = new Map<number, string>()
  const firstAt = new Map<string, number>()
  const reread: number[] = []
  const unknown: number[] = []
  let next = read.logStartOffset
  for (const record of read.records) {
    if (record.offset < next) reread.push(record.offset)
    else if (record.offset > next) fail('gap', `offsets ${span(next, record.offset)} missing`)
    next = Math.max(next, record.offset + 1)
    const digest = digestOf(record)
    if (!history.sent.has(digest)) unknown.push(record.offset)
    const first = firstAt.get(digest)
    if (first !== undefined) fail('duplicate-record', `offsets ${first} and ${record.offset} hold the same record`)
    else firstAt.set(digest, record.offset)
    if (!digests.has(record.offset)) digests.set(record.offset, digest)
  }
  if (next < read.logEndOffset) fail('gap', `offsets ${span(next, read.logEndOffset)} missing below the log end`)
  if (reread.length > 0) fail('duplicate-offset', `offsets ${ranges(reread)} read more than once`)
  if (unknown.length > 0) fail('unknown-record', `offsets ${ranges(unknown)} hold records no client sent to ${where}`)

  const lost = { acked: { missing: [] as number[], changed: [] as number[] }, read: { missing: [] as number[], changed: [] as number[] } }
  for (const [offset, expected] of history.expected) {
    const found = digests.get(offset)
    if (found === expected.digest) continue
    const bucket = expected.acked ? lost.acked : lost.read
    if (found === undefined) bucket.missing.push(offset)
    else bucket.changed.push(offset)
  }
  const holds = `the log holds ${span(read.logStartOffset, read.logEndOffset)}`
  if (lost.acked.missing.length > 0) fail('lost-ack', `acknowledged offsets ${ranges(lost.acked.missing)} are missing: ${holds}`)
  if (lost.acked.changed.length > 0) fail('lost-ack', `acknowledged offsets ${ranges(lost.acked.changed)} hold other bytes`)
  if (lost.read.missing.length > 0) fail('lost-record', `offsets ${ranges(lost.read.missing)} read back before are missing: ${holds}`)
  if (lost.read.changed.length > 0) fail('lost-record', `offsets ${ranges(lost.read.changed)} read back before hold other bytes`)

  history.verifiedEnd = read.logEndOffset
  history.conflicts = []
  for (const [offset, digest] of digests) {
    if (!history.expected.has(offset)) history.expected.set(offset, { digest, acked: false })
  }
  return failures
}

function verifyCommit (history: CommitHistory, read: number | undefined): Failure[] {
  const { committed } = history
  const unacked = [...history.unacked]
  const legal = read === committed || (read !== undefined && unacked.includes(read))
  history.committed = read
  history.unacked.clear()
  if (legal) return []
  const sent = unacked.length === 0 ? '' : ` (or one sent after it: ${unacked.join(', ')})`
  return [{
    kind: 'lost-commit',
    where: `${history.groupId}/${partitionKey(history.topic, history.partition)}`,
    detail: `committed offset ${read ?? 'none'}, expected ${committed ?? 'none'}${sent}`
  }]
}

function partitionKey (topic: string, partition: number): string {
  return `${topic}-${partition}`
}

function commitKey (groupId: string, topic: string, partition: number): string {
  return `${groupId}\u0000${topic}\u0000${partition}`
}

/** "4-9" for offsets 4 to 10 (exclusive), "4" for 4 to 5, "none" for an empty span. */
function span (from: number, to: number): string {
  if (to <= from) return 'none'
  return to - from === 1 ? String(from) : `${from}-${to - 1}`
}

/** "3, 7-9, 12" from offsets in any order. */
function ranges (offsets: readonly number[]): string {
  const sorted = [...offsets].sort((a, b) => a - b)
  const parts: string[] = []
  for (let i = 0; i < sorted.length;) {
    let j = i
    while (j + 1 < sorted.length && (sorted[j + 1] as number) <= (sorted[j] as number) + 1) j++
    parts.push(sorted[i] === sorted[j] ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`)
    i = j + 1
  }
  return parts.join(', ')
}
