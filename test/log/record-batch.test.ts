import t from 'tap'
import { LogwayError } from '../../src/errors.js'
import type { LogStore } from '../../src/log/log-store.js'
import { partitionForKey } from '../../src/log/murmur2.js'
import { ROUND_ROBIN, type RecordBatch } from '../../src/log/record-batch.js'
import { bytes, openTestLog, text } from '../helpers/open-test-log.js'

const code = (c: string): { code: string } => ({ code: c })

/** Adds a record with a UTF-8 key and value (null: none) to `batch`. */
function add (batch: RecordBatch, key: string | null, value: string | null, options: { timestamp?: number, partition?: number } = {}): number {
  batch.begin()
  if (key !== null) {
    batch.startKey()
    batch.text(key)
  }
  if (value !== null) {
    batch.startValue()
    batch.text(value)
  }
  return batch.end(options.timestamp, options.partition)
}

function stored (log: LogStore, topic: string, partition: number): Array<{ offset: number, key: string | null, value: string | null }> {
  return log.read(topic, partition, { offset: 0, maxRecords: 1000 }).records.map(r => ({ offset: r.offset, key: text(r.key), value: text(r.value) }))
}

t.test('records written piece by piece read back as append() writes them', async t => {
  const { log, clock } = await openTestLog(t)
  await log.createTopic('rb', { partitions: 1 })
  const now = clock.now()
  await log.append('rb', 0, [{ key: bytes('k0'), value: bytes('first'), headers: [{ key: 'h', value: bytes('v') }], timestamp: 42 }])
  const batch = log.recordBatch('rb')
  batch.begin()
  batch.startKey()
  batch.bytes(bytes('k'))
  batch.byte(0x31)
  batch.startValue()
  batch.text('é ✓ 😀 ')
  batch.base64(Buffer.from('base64 part').toString('base64'))
  batch.header('h1', bytes('one'))
  batch.header('ñame', null)
  t.equal(batch.end(7), 0)
  t.equal(batch.lastKeySize, 2)
  t.equal(batch.lastValueSize, Buffer.byteLength('é ✓ 😀 base64 part'))
  // No key, an empty value, the append time.
  batch.begin()
  batch.startValue()
  t.equal(batch.end(), ROUND_ROBIN, 'a null key is placed round-robin when appended')
  // A tombstone with an empty key.
  batch.begin()
  batch.startKey()
  batch.end()
  // A value far larger than the buffer first taken, in multi-byte UTF-8.
  const big = '€'.repeat(50_000)
  add(batch, 'big', big)
  t.equal(batch.count, 4)

  const result = await log.appendBatch(batch)
  t.same([0, 1, 2, 3].map(j => result.offset(j)), [1, 2, 3, 4])
  t.same([0, 1, 2, 3].map(j => result.failure(j)), [undefined, undefined, undefined, undefined])
  t.same([0, 1, 2, 3].map(j => result.timestamp(j)), [7, now, now, now])
  const records = log.read('rb', 0, { offset: 1, maxBytes: 1 << 20 }).records
  t.same(records.map(r => ({ key: text(r.key), value: text(r.value), timestamp: r.timestamp })), [
    { key: 'k1', value: 'é ✓ 😀 base64 part', timestamp: 7 },
    { key: null, value: '', timestamp: now },
    { key: '', value: null, timestamp: now },
    { key: 'big', value: big, timestamp: now }
  ])
  t.same(records[0]?.headers.map(h => [h.key, text(h.value)]), [['h1', 'one'], ['ñame', null]])
  const first = log.read('rb', 0, { offset: 0, maxRecords: 1 }).records[0]
  t.same([text(first?.key ?? null), first?.headers.map(h => text(h.value)), first?.timestamp], ['k0', ['v'], 42], 'the record append() wrote is intact')
  // Positions follow on from append()'s: a bytes retention of the last record's size keeps just it.
  await log.alterConfigs('rb', { 'retention.bytes': records[3]?.sizeBytes ?? 0 })
  await log.runMaintenance()
  t.equal(log.partitionInfo('rb', 0).logStartOffset, 4)
})

t.test('a record that fails its check, or is begun again, leaves nothing behind', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('checked', { partitions: 2, configs: { 'max.message.bytes': 200 } })
  await log.createTopic('compacted', { configs: { 'cleanup.policy': 'compact' } })
  const batch = log.recordBatch('checked')
  add(batch, 'a', '1', { partition: 0 })
  t.throws(() => add(batch, 'b', 'x'.repeat(300), { partition: 0 }), code('MESSAGE_TOO_LARGE'))
  t.throws(() => add(batch, 'c', '3', { partition: 0, timestamp: -1 }), code('INVALID_TIMESTAMP'))
  t.throws(() => add(batch, 'd', '4', { partition: 0, timestamp: 1.5 }), code('INVALID_TIMESTAMP'))
  t.throws(() => add(batch, 'e', '5', { partition: 2 }), { code: 'UNKNOWN_TOPIC_OR_PARTITION', details: { partition: 2 } })
  t.throws(() => add(batch, 'f', '6', { partition: -1 }), code('UNKNOWN_TOPIC_OR_PARTITION'))
  batch.begin()
  batch.startKey()
  batch.text('abandoned')
  add(batch, 'g', '7', { partition: 0 })
  t.equal(batch.count, 2)
  const result = await log.appendBatch(batch)
  t.same([result.offset(0), result.offset(1)], [0, 1])
  t.same(stored(log, 'checked', 0), [{ offset: 0, key: 'a', value: '1' }, { offset: 1, key: 'g', value: '7' }])

  const compacted = log.recordBatch('compacted')
  t.throws(() => add(compacted, null, 'no key'), code('INVALID_RECORD'))
  add(compacted, 'k', null)
  t.equal((await log.appendBatch(compacted)).offset(0), 0, 'a keyed tombstone is fine')
  t.throws(() => log.recordBatch('nope'), code('UNKNOWN_TOPIC_OR_PARTITION'))
})

t.test('a batch over several partitions: each gets one append with dense offsets, in batch order', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('multi', { partitions: 3 })
  await log.append('multi', 1, [{ value: bytes('earlier') }])
  const batch = log.recordBatch('multi')
  const keyed = add(batch, 'rider-42', 'k')
  t.equal(keyed, partitionForKey(bytes('rider-42'), 3), 'a keyed record goes where murmur2 says')
  add(batch, null, 'rr0')
  add(batch, null, 'p2', { partition: 2 })
  add(batch, null, 'rr1')
  add(batch, null, 'rr2')
  // Three steps of the round-robin now; with three partitions the batch's three steps repeat them.
  const expected = Array.from({ length: 3 }, () => log.partitionFor('multi', null))
  const result = await log.appendBatch(batch)
  t.same([1, 3, 4].map(j => result.partition(j)), expected, 'round-robin records are placed in order as the batch is appended')
  t.equal(result.partition(2), 2)
  const byPartition = [0, 1, 2].map(p => stored(log, 'multi', p))
  for (let j = 0; j < 5; j++) {
    const partition = result.partition(j)
    const found = byPartition[partition]?.find(r => r.offset === result.offset(j))
    t.same(found?.value, ['k', 'rr0', 'p2', 'rr1', 'rr2'][j], `record ${j} at ${partition}/${result.offset(j)}`)
  }
  t.same(byPartition.map(records => records.map(r => r.offset)), byPartition.map((records) => records.map((_, i) => i)), 'offsets are dense')
})

t.test('an append that cannot be made fails its records, and only them', async t => {
  const { log } = await openTestLog(t, { minFreeBytes: Number.MAX_SAFE_INTEGER })
  await log.createTopic('full')
  const batch = log.recordBatch('full')
  add(batch, null, 'x')
  const result = await log.appendBatch(batch)
  t.equal(result.offset(0), -1)
  t.match(result.failure(0), code('KAFKA_STORAGE_ERROR'))
  t.equal(log.partitionInfo('full', 0).logEndOffset, 0)

  const closing = log.recordBatch('full')
  add(closing, null, 'y')
  await log.close()
  const closed = await log.appendBatch(closing)
  t.ok(closed.failure(0) instanceof LogwayError)
  t.match(closed.failure(0), code('BROKER_NOT_AVAILABLE'))
})
