import { open } from 'lmdb'
import t from 'tap'
import type { IdempotencyClaim } from '../../src/log/idempotency.js'
import type { LogStore } from '../../src/log/log-store.js'
import type { BatchAppendResult } from '../../src/log/record-batch.js'
import { bytes, openTestLog, text } from '../helpers/open-test-log.js'

const SCOPE = 'test orders'
const HOUR = 60 * 60 * 1000

interface Rec { value: string, partition: number }

/** Appends request records `indexes` of `records` as one batch under `claim` (all of them by default). */
async function appendClaimed (log: LogStore, claim: IdempotencyClaim, records: Rec[], indexes = records.map((_, i) => i)): Promise<BatchAppendResult> {
  const batch = log.recordBatch('orders')
  for (const i of indexes) {
    const record = records[i] as Rec
    batch.begin()
    batch.startValue()
    batch.text(record.value)
    batch.end(undefined, record.partition)
  }
  return await log.appendBatch(batch, { claim, indexOf: j => indexes[j] as number })
}

function where (result: BatchAppendResult): Array<[number, number]> {
  return Array.from({ length: result.count }, (_, j) => [result.partition(j), result.offset(j)])
}

function values (log: LogStore, partition: number): Array<string | null> {
  return log.read('orders', partition, { offset: 0, maxRecords: 100 }).records.map(r => text(r.value))
}

const ends = (log: LogStore): number[] => log.partitions('orders').map(p => p.logEndOffset)
const answer = (text: string): Buffer => Buffer.from(text)
const RECORDS: Rec[] = [{ value: 'a', partition: 0 }, { value: 'b', partition: 1 }, { value: 'c', partition: 0 }]

t.test('a finished request is answered again from its key and writes nothing', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('orders', { partitions: 2 })
  const first = log.idempotency.claim(SCOPE, 'k1')
  t.equal(first.check('fp-1'), undefined, 'a new key: nothing kept')
  t.same(where(await appendClaimed(log, first, RECORDS)), [[0, 0], [1, 0], [0, 1]])
  t.equal(await first.finish(answer('{"ok":1}')), true, 'the answer is kept')

  const retry = log.idempotency.claim(SCOPE, 'k1')
  const replay = retry.check('fp-1')
  t.same(replay, answer('{"ok":1}'), 'the bytes given to finish, byte for byte')
  t.same(ends(log), [2, 1], 'nothing more written')

  const other = log.idempotency.claim(SCOPE, 'k1')
  t.throws(() => other.check('fp-2'), { code: 'IDEMPOTENCY_KEY_REUSED' }, 'another request with the key is refused')
  t.equal(log.idempotency.claim('other scope', 'k1').check('fp-2'), undefined, 'keys are per scope')
  t.equal(log.idempotency.claim(SCOPE, 'k1').check('fp-1') !== undefined, true, 'a refused request frees the key')
})

t.test('a key is held from claim to finish: a second attempt meanwhile is refused', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('orders', { partitions: 2 })
  const first = log.idempotency.claim(SCOPE, 'k')
  first.check('fp')
  const appended = appendClaimed(log, first, RECORDS)
  t.throws(() => log.idempotency.claim(SCOPE, 'k'), { code: 'IDEMPOTENCY_KEY_IN_FLIGHT' })
  // finish waits for the appends made under the claim before it frees the key.
  const finished = first.finish(answer('done'))
  t.throws(() => log.idempotency.claim(SCOPE, 'k'), { code: 'IDEMPOTENCY_KEY_IN_FLIGHT' }, 'still held while the answer is being kept')
  await appended
  t.equal(await finished, true)
  t.same(log.idempotency.claim(SCOPE, 'k').check('fp'), answer('done'))
})

t.test('a crash before the answer was kept: the retry writes only what is missing and reports the rest where it is', async t => {
  const { log, clock, dataDir } = await openTestLog(t)
  await log.createTopic('orders', { partitions: 2 })
  await log.append('orders', 0, [{ value: bytes('before') }])
  const first = log.idempotency.claim(SCOPE, 'k')
  first.check('fp')
  // Records 0 and 2 (partition 0) were committed with the key's part; the
  // process died before partition 1's transaction and before the answer.
  const partial = await appendClaimed(log, first, RECORDS, [0, 2])
  t.same(where(partial), [[0, 1], [0, 2]])
  await log.close()

  const { log: reopened } = await openTestLog(t, { dataDir, clock })
  const retry = reopened.idempotency.claim(SCOPE, 'k')
  t.throws(() => reopened.idempotency.claim(SCOPE, 'k').check('fp'), { code: 'IDEMPOTENCY_KEY_IN_FLIGHT' })
  t.equal(retry.check('fp'), undefined, 'no answer was kept')
  t.equal(retry.writtenCount, 2, 'the parts say what was written')
  const result = await appendClaimed(reopened, retry, RECORDS)
  t.same(where(result), [[0, 1], [1, 0], [0, 2]], 'records 0 and 2 where the first attempt wrote them, record 1 written now')
  t.same(values(reopened, 0), ['before', 'a', 'c'], 'partition 0: nothing twice')
  t.same(values(reopened, 1), ['b'])
  t.equal(await retry.finish(answer('whole')), true)

  // A retry that finds every record written appends nothing at all.
  const again = reopened.idempotency.claim(SCOPE, 'k')
  t.same(again.check('fp'), answer('whole'))
  t.same(ends(reopened), [3, 1])

  const mismatch = reopened.idempotency.claim(SCOPE, 'k2')
  mismatch.check('fp')
  await appendClaimed(reopened, mismatch, RECORDS, [1])
  // Cut short: no answer, and the key is free again.
  t.equal(await mismatch.finish(), false)
  t.throws(() => reopened.idempotency.claim(SCOPE, 'k2').check('other'), { code: 'IDEMPOTENCY_KEY_REUSED' }, 'parts alone pin the key to its request')
})

t.test('an attempt marked incomplete keeps no answer: its retry completes it', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('orders', { partitions: 2 })
  const first = log.idempotency.claim(SCOPE, 'k')
  first.check('fp')
  await appendClaimed(log, first, RECORDS, [1])
  first.markIncomplete()
  t.equal(await first.finish(answer('partial')), false)
  const retry = log.idempotency.claim(SCOPE, 'k')
  t.equal(retry.check('fp'), undefined)
  t.same(where(await appendClaimed(log, retry, RECORDS)), [[0, 0], [1, 0], [0, 1]])
  t.same(ends(log), [2, 1])
})

t.test('append() under a claim records its records too', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('orders', { partitions: 2 })
  const first = log.idempotency.claim(SCOPE, 'ws')
  first.check('fp')
  await log.append('orders', 1, [{ value: bytes('x') }, { value: bytes('y') }], { claim: first, indexes: [3, 5] })
  t.equal(await first.finish(), false)
  const retry = log.idempotency.claim(SCOPE, 'ws')
  retry.check('fp')
  t.same([3, 4, 5].map(i => retry.written(i)?.offset), [0, undefined, 1])
  t.equal(retry.written(5)?.partition, 1)
})

t.test('keys expire ttl after the first attempt: forgotten on lookup, then swept', async t => {
  const { log, clock } = await openTestLog(t, { idempotencyKeyTtlMs: HOUR })
  await log.createTopic('orders', { partitions: 2 })
  const first = log.idempotency.claim(SCOPE, 'k')
  first.check('fp')
  await appendClaimed(log, first, RECORDS)
  await first.finish(answer('one'))
  const parts = log.idempotency.claim(SCOPE, 'p')
  parts.check('fp')
  await appendClaimed(log, parts, RECORDS, [0])
  await parts.finish()

  await clock.advance(HOUR - 1)
  t.same(log.idempotency.claim(SCOPE, 'k').check('fp'), answer('one'), 'still remembered just before the ttl')
  t.equal(await log.idempotency.sweep(), 0, 'nothing to sweep yet')
  await clock.advance(1)
  const late = log.idempotency.claim(SCOPE, 'k')
  t.equal(late.check('other request'), undefined, 'expired: the key is new again, whatever the request')
  t.same(where(await appendClaimed(log, late, RECORDS)), [[0, 3], [1, 1], [0, 4]], 'and writes again')
  await late.finish(answer('two'))
  const expiredParts = log.idempotency.claim(SCOPE, 'p')
  t.equal(expiredParts.check('fp'), undefined)
  t.equal(expiredParts.writtenCount, 0, 'expired parts are forgotten too')
  await expiredParts.finish()

  t.equal(await log.idempotency.sweep(), 2, 'both expired attempts are swept')
  t.same(log.idempotency.claim(SCOPE, 'k').check('other request'), answer('two'), 'the later attempt of a key stays')
  await clock.advance(HOUR)
  await log.runMaintenance()
  t.equal(log.idempotency.claim(SCOPE, 'k').check('third'), undefined, 'the maintenance run sweeps too')
  t.equal(await log.idempotency.sweep(), 0, 'nothing left')
})

t.test('an answer kept in the format before answers were opaque bytes counts as none; its fingerprint still holds the key', async t => {
  const { log, clock, dataDir } = await openTestLog(t, { idempotencyKeyTtlMs: HOUR })
  await log.createTopic('orders', { partitions: 2 })
  await log.close()
  // What finish wrote in that format: the HTTP answer's fields beside the log's own.
  const env = open({ path: dataDir, maxDbs: 16, compression: false })
  const db = env.openDB({ name: 'idempotency' })
  const createdAt = clock.now()
  await db.put(['k', SCOPE, 'old'], { status: 201, contentType: 'application/json', body: Buffer.from('{"ok":1}'), streamed: false, fingerprint: 'fp', createdAt })
  await db.put(['t', createdAt, SCOPE, 'old'], true)
  await env.close()

  const { log: reopened } = await openTestLog(t, { dataDir, clock, idempotencyKeyTtlMs: HOUR })
  t.throws(() => reopened.idempotency.claim(SCOPE, 'old').check('other'), { code: 'IDEMPOTENCY_KEY_REUSED' }, 'another request with the key is still refused')
  await clock.advance(1)
  const retry = reopened.idempotency.claim(SCOPE, 'old')
  t.equal(retry.check('fp'), undefined, 'no answer to give again: the request goes on as a first one')
  t.same(where(await appendClaimed(reopened, retry, RECORDS)), [[0, 0], [1, 0], [0, 1]])
  t.equal(await retry.finish(answer('new')), true)
  t.same(reopened.idempotency.claim(SCOPE, 'old').check('fp'), answer('new'), 'its answer replaces the unreadable one')

  await clock.advance(HOUR - 1)
  t.equal(await reopened.idempotency.sweep(), 1, 'the old entry\'s expiry goes')
  t.same(reopened.idempotency.claim(SCOPE, 'old').check('fp'), answer('new'), 'the answer kept after it stays until its own expiry')
  await clock.advance(1)
  t.equal(await reopened.idempotency.sweep(), 1)
  t.equal(reopened.idempotency.claim(SCOPE, 'old').check('other'), undefined, 'then the key is forgotten')
})
