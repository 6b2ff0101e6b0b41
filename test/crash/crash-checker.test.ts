import t from 'tap'
import { CrashChecker, type PartitionSnapshot, type ReadRecord, type RecordContent } from './crash-checker.js'

// Fabricated histories: each promise the crash loop relies on, broken once, must be reported.

function record (name: string): RecordContent {
  return { key: name === 'null-key' ? null : Buffer.from(`k-${name}`), value: Buffer.from(name), headers: [{ name: 'id', value: Buffer.from(name) }] }
}

function at (offset: number, content: RecordContent): ReadRecord {
  return { offset, ...content }
}

/** A checker that sent r0…r(sent-1) to t-0 and was acknowledged r0…r(acked-1) at offsets 0…acked-1. */
function history (sent: number, acked: number): { checker: CrashChecker, r: RecordContent[] } {
  const checker = new CrashChecker()
  const r = Array.from({ length: sent }, (_, i) => record(`r${i}`))
  for (const content of r) checker.sent('t', 0, content)
  for (let i = 0; i < acked; i++) checker.acked('t', 0, i, r[i] as RecordContent)
  return { checker, r }
}

function partition (logEndOffset: number, records: ReadRecord[], logStartOffset = 0): PartitionSnapshot {
  return { topic: 't', partition: 0, logStartOffset, logEndOffset, records }
}

t.test('a history kept passes, whether unacknowledged records and commits survived or not', async t => {
  const { checker, r } = history(4, 2)
  checker.commitSent('g', 't', 0, 5)
  checker.commitAcked('g', 't', 0, 5)
  checker.commitSent('g', 't', 0, 9)
  // r2 (unacknowledged) made it, r3 did not; the commit of 9 in flight made it.
  const snapshot = { partitions: [partition(3, [at(0, r[0]!), at(1, r[1]!), at(2, r[2]!)])], commits: [{ groupId: 'g', topic: 't', partition: 0, committedOffset: 9 }] }
  t.same(checker.verify(snapshot), [])
  t.same(checker.verify(snapshot), [], 'the same log verified again')
  t.equal(checker.committedOffset('g', 't', 0), 9, 'what was read back is the committed offset from now on')
  t.equal(checker.ackedRecords, 2)
  t.equal(checker.ackedCommits, 1)
})

t.test('an acknowledged record lost or changed is reported', async t => {
  const { checker, r } = history(3, 3)
  const failures = checker.verify({ partitions: [partition(2, [at(0, r[0]!), at(1, r[2]!)])], commits: [] })
  t.same(failures, [
    { kind: 'lost-ack', where: 't-0', detail: 'acknowledged offsets 2 are missing: the log holds 0-1' },
    { kind: 'lost-ack', where: 't-0', detail: 'acknowledged offsets 1 hold other bytes' }
  ])
})

t.test('a partition that vanished loses its acknowledged records', async t => {
  const { checker } = history(2, 2)
  t.match(checker.verify({ partitions: [], commits: [] }), [{ kind: 'lost-ack', where: 't-0', detail: /offsets 0-1 are missing/ }])
})

t.test('a gap is reported, inside the records and below the log end', async t => {
  const { checker, r } = history(4, 0)
  t.same(checker.verify({ partitions: [partition(5, [at(0, r[0]!), at(2, r[1]!), at(3, r[2]!)])], commits: [] }), [
    { kind: 'gap', where: 't-0', detail: 'offsets 1 missing' },
    { kind: 'gap', where: 't-0', detail: 'offsets 4 missing below the log end' }
  ])
})

t.test('a duplicate offset is reported, read twice or acknowledged twice', async t => {
  const { checker, r } = history(3, 2)
  checker.acked('t', 0, 1, r[2]!)
  t.same(checker.verify({ partitions: [partition(2, [at(0, r[0]!), at(1, r[1]!), at(1, r[1]!)])], commits: [] }).map(f => f.kind).sort(),
    ['duplicate-offset', 'duplicate-offset', 'duplicate-record'])
})

t.test('a record written twice is reported', async t => {
  const { checker, r } = history(2, 1)
  t.same(checker.verify({ partitions: [partition(3, [at(0, r[0]!), at(1, r[1]!), at(2, r[1]!)])], commits: [] }), [
    { kind: 'duplicate-record', where: 't-0', detail: 'offsets 1 and 2 hold the same record' }
  ])
})

t.test('a record no client sent is reported', async t => {
  const { checker, r } = history(1, 1)
  t.same(checker.verify({ partitions: [partition(2, [at(0, r[0]!), at(1, record('garbage'))])], commits: [] }), [
    { kind: 'unknown-record', where: 't-0', detail: 'offsets 1 hold records no client sent to t-0' }
  ])
})

t.test('an end offset going backwards is reported, with the records read before it', async t => {
  const { checker, r } = history(3, 1)
  t.same(checker.verify({ partitions: [partition(3, [at(0, r[0]!), at(1, r[1]!), at(2, r[2]!)])], commits: [] }), [])
  t.same(checker.verify({ partitions: [partition(2, [at(0, r[0]!), at(1, r[1]!)])], commits: [] }), [
    { kind: 'end-backwards', where: 't-0', detail: 'log end offset 2, below 3 verified before' },
    { kind: 'lost-record', where: 't-0', detail: 'offsets 2 read back before are missing: the log holds 0-1' }
  ])
})

t.test('a lost acknowledged commit is reported: older, missing, or never sent', async t => {
  const checker = new CrashChecker()
  for (const groupId of ['older', 'missing', 'other']) {
    checker.commitSent(groupId, 't', 0, 5)
    checker.commitAcked(groupId, 't', 0, 5)
    checker.commitSent(groupId, 't', 0, 8)
    checker.commitAcked(groupId, 't', 0, 8)
  }
  checker.commitSent('other', 't', 0, 12)
  const failures = checker.verify({
    partitions: [],
    commits: [
      { groupId: 'older', topic: 't', partition: 0, committedOffset: 5 },
      { groupId: 'other', topic: 't', partition: 0, committedOffset: 11 }
    ]
  })
  t.same(failures, [
    { kind: 'lost-commit', where: 'older/t-0', detail: 'committed offset 5, expected 8' },
    { kind: 'lost-commit', where: 'missing/t-0', detail: 'committed offset none, expected 8' },
    { kind: 'lost-commit', where: 'other/t-0', detail: 'committed offset 11, expected 8 (or one sent after it: 12)' }
  ])
})
