import t from 'tap'
import { LogStore } from '../../src/log/log-store.js'
import { bytes, openTestLog, text } from '../helpers/open-test-log.js'

const code = (c: string) => ({ name: 'LogwayError', code: c })

t.test('concurrent appends get dense offsets in call order, per partition', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('orders', { partitions: 3 })
  const calls = []
  for (let i = 0; i < 600; i++) {
    const partition = i % 3
    const size = 1 + (i % 4)
    calls.push(log.append('orders', partition, Array.from({ length: size }, (_, j) => ({ key: bytes(`k${i}`), value: bytes(`${i}.${j}`) }))))
  }
  const results = await Promise.all(calls)
  for (let p = 0; p < 3; p++) {
    const mine = results.filter(r => r.partition === p)
    let expected = 0
    for (const r of mine) {
      t.equal(r.baseOffset, expected, 'no gap and no overlap between batches')
      expected = r.lastOffset + 1
    }
    const info = log.partitionInfo('orders', p)
    t.equal(info.logEndOffset, expected)
    const read = log.read('orders', p, { offset: 0, maxRecords: 10_000, maxBytes: 10_000_000 })
    t.same(read.records.map(r => r.offset), Array.from({ length: expected }, (_, i) => i), 'offsets are dense')
    const values = read.records.map(r => text(r.value))
    const sent = []
    for (let i = p; i < 600; i += 3) for (let j = 0; j < 1 + (i % 4); j++) sent.push(`${i}.${j}`)
    t.same(values, sent, 'records keep call order')
  }
})

t.test('records round-trip key, value, null value, headers and timestamps', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('rt')
  const result = await log.append('rt', 0, [
    { key: bytes('a'), value: bytes('{"x":1}'), headers: [{ key: 'trace', value: bytes('1') }, { key: 'trace', value: null }, { key: 'ünï', value: Buffer.alloc(0) }], timestamp: 1000 },
    { key: null, value: null },
    { value: Buffer.from([0, 255, 1]) }
  ])
  t.equal(result.baseOffset, 0)
  t.equal(result.lastOffset, 2)
  t.equal(result.timestamps[0], 1000)
  const { records } = log.read('rt', 0, { offset: 0 })
  t.equal(records.length, 3)
  const [a, b, c] = records
  t.equal(text(a!.key), 'a')
  t.equal(text(a!.value), '{"x":1}')
  t.same(a!.headers.map(h => [h.key, h.value === null ? null : h.value.toString()]), [['trace', '1'], ['trace', null], ['ünï', '']])
  t.equal(a!.timestamp, 1000)
  t.equal(a!.timestampType, 'CreateTime')
  t.equal(b!.key, null)
  t.equal(b!.value, null, 'tombstone stays null, not empty')
  t.same([...c!.value!], [0, 255, 1])
  // Buffers returned by an earlier read stay intact after later reads.
  log.read('rt', 0, { offset: 1 })
  t.equal(text(a!.value), '{"x":1}')
})

t.test('reopen keeps every record, offset, config and the cluster id', async t => {
  const { log, dataDir, clock } = await openTestLog(t)
  await log.createTopic('keep', { partitions: 2, configs: { 'retention.ms': 1234567, 'cleanup.policy': 'compact' } })
  await log.createTopic('other')
  for (let i = 0; i < 50; i++) await log.append('keep', i % 2, [{ key: bytes(`k${i}`), value: bytes(`v${i}`), timestamp: 5000 + i }])
  await log.deleteRecords('keep', 1, 5)
  await log.createPartitions('other', 4)
  const clusterId = log.clusterId
  const before = log.read('keep', 0, { offset: 0, maxRecords: 100 })
  await log.close()
  t.notOk(log.isOpen)

  const again = await LogStore.open({ dataDir, clock, retentionCheckIntervalMs: 0 })
  t.teardown(() => again.close())
  t.equal(again.clusterId, clusterId)
  t.same(again.listTopics().map(d => [d.name, d.partitionCount]), [['keep', 2], ['other', 4]])
  t.equal(again.describeTopic('keep').configs['retention.ms'], 1234567)
  t.equal(again.describeTopic('keep').configs['cleanup.policy'], 'compact')
  t.same(again.describeTopic('keep').overrides, { 'retention.ms': '1234567', 'cleanup.policy': 'compact' })
  t.same(again.partitionInfo('keep', 1), { ...log.partitionInfo('keep', 1) }, 'start and end offsets survive')
  t.equal(again.partitionInfo('keep', 1).logStartOffset, 5)
  const after = again.read('keep', 0, { offset: 0, maxRecords: 100 })
  t.same(after.records.map(r => [r.offset, text(r.key), text(r.value), r.timestamp]), before.records.map(r => [r.offset, text(r.key), text(r.value), r.timestamp]))
  const next = await again.append('keep', 0, [{ key: bytes('k'), value: bytes('after reopen') }])
  t.equal(next.baseOffset, 25, 'offsets continue where they stopped')
})

t.test('topic names follow Kafka\'s rule', async t => {
  const { log } = await openTestLog(t)
  for (const bad of ['', '.', '..', 'a b', 'é', 'x'.repeat(250), 'a/b', 'a:b']) {
    await t.rejects(log.createTopic(bad), code('INVALID_TOPIC_EXCEPTION'), `rejects ${JSON.stringify(bad.slice(0, 20))}`)
  }
  for (const good of ['a', 'A-b_c.d', 'x'.repeat(249), '...']) {
    await log.createTopic(good)
  }
  t.equal(log.listTopics().length, 4)
  await t.rejects(log.createTopic('a'), code('TOPIC_ALREADY_EXISTS'))
  await t.rejects(log.createTopic('p0', { partitions: 0 }), code('INVALID_PARTITIONS'))
  await t.rejects(log.createTopic('p1', { partitions: 1.5 }), code('INVALID_PARTITIONS'))
  await t.rejects(log.createTopic('c1', { configs: { 'retention.ms': 'soon' } }), code('INVALID_CONFIG'))
  await t.rejects(log.createTopic('c2', { configs: { 'no.such.config': '1' } }), code('INVALID_CONFIG'))
  t.equal(log.listTopics().length, 4, 'rejected creates changed nothing')
  const dry = await log.createTopic('dry', { partitions: 3, validateOnly: true })
  t.equal(dry.partitionCount, 3)
  t.notOk(log.hasTopic('dry'), 'validateOnly creates nothing')
})

t.test('unknown topics and partitions, out-of-range offsets give typed errors', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('t', { partitions: 2 })
  await log.append('t', 0, [{ value: bytes('a') }, { value: bytes('b') }])
  t.throws(() => log.read('nope', 0, { offset: 0 }), code('UNKNOWN_TOPIC_OR_PARTITION'))
  t.throws(() => log.read('t', 2, { offset: 0 }), code('UNKNOWN_TOPIC_OR_PARTITION'))
  t.throws(() => log.read('t', -1, { offset: 0 }), code('UNKNOWN_TOPIC_OR_PARTITION'))
  await t.rejects(log.append('t', 5, [{ value: bytes('x') }]), code('UNKNOWN_TOPIC_OR_PARTITION'))
  await t.rejects(log.append('nope', 0, [{ value: bytes('x') }]), code('UNKNOWN_TOPIC_OR_PARTITION'))
  t.throws(() => log.read('t', 0, { offset: 3 }), code('OFFSET_OUT_OF_RANGE'))
  t.throws(() => log.read('t', 0, { offset: -1 }), code('OFFSET_OUT_OF_RANGE'))
  t.throws(() => log.read('t', 0, { offset: 0.5 }), code('OFFSET_OUT_OF_RANGE'))
  t.same(log.read('t', 0, { offset: 2 }).records, [], 'reading at the end is empty, not an error')
  await log.deleteRecords('t', 0, 1)
  t.throws(() => log.read('t', 0, { offset: 0 }), code('OFFSET_OUT_OF_RANGE'), 'below the start')
  t.equal(log.read('t', 0, { offset: 1 }).records[0]?.offset, 1)
  await t.rejects(log.deleteRecords('t', 0, 9), code('OFFSET_OUT_OF_RANGE'))
  await t.rejects(log.append('t', 0, []), code('INVALID_REQUEST'))
  await t.rejects(log.append('t', 0, [{ value: 'not bytes' as unknown as Buffer }]), code('INVALID_RECORD'))
  await t.rejects(log.append('t', 0, [{ value: bytes('x'), timestamp: -5 }]), code('INVALID_TIMESTAMP'))
  t.equal(log.partitionInfo('t', 0).logEndOffset, 2, 'rejected appends wrote nothing')
})

t.test('max.message.bytes rejects a whole batch holding an oversized record', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('small', { configs: { 'max.message.bytes': 200 } })
  await t.rejects(log.append('small', 0, [{ value: bytes('ok') }, { value: Buffer.alloc(300) }]),
    { code: 'MESSAGE_TOO_LARGE', details: { index: 1 } })
  t.equal(log.partitionInfo('small', 0).logEndOffset, 0)
  await log.append('small', 0, [{ value: Buffer.alloc(100) }])
  t.equal(log.partitionInfo('small', 0).logEndOffset, 1)
})

t.test('reads honour maxRecords and maxBytes, always returning one record', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('r')
  await log.append('r', 0, Array.from({ length: 10 }, (_, i) => ({ value: Buffer.alloc(100, i) })))
  t.equal(log.read('r', 0, { offset: 0, maxRecords: 4 }).records.length, 4)
  const one = log.read('r', 0, { offset: 0, maxBytes: 1 })
  t.equal(one.records.length, 1, 'one record even when it exceeds maxBytes')
  t.equal(one.nextOffset, 1)
  const some = log.read('r', 0, { offset: 2, maxBytes: 400 })
  t.ok(some.records.length >= 1 && some.records.length < 4, `${some.records.length} records fit in 400 bytes`)
  t.equal(some.nextOffset, 2 + some.records.length)
  t.throws(() => log.read('r', 0, { offset: 0, maxRecords: 0 }), code('INVALID_REQUEST'))
})

t.test('LogAppendTime stamps records with the clock', async t => {
  const { log, clock } = await openTestLog(t)
  await log.createTopic('lat', { configs: { 'message.timestamp.type': 'LogAppendTime' } })
  const r = await log.append('lat', 0, [{ value: bytes('x'), timestamp: 1 }])
  t.equal(r.timestamps[0], clock.now())
  t.equal(log.read('lat', 0, { offset: 0 }).records[0]?.timestampType, 'LogAppendTime')
})

t.test('offset for a timestamp is the first offset whose timestamp is at least T', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('ts')
  // Batches with out-of-order CreateTimes, as producers may send.
  await log.append('ts', 0, [{ value: bytes('a'), timestamp: 100 }, { value: bytes('b'), timestamp: 300 }])
  await log.append('ts', 0, [{ value: bytes('c'), timestamp: 200 }, { value: bytes('d'), timestamp: 250 }])
  await log.append('ts', 0, [{ value: bytes('e'), timestamp: 400 }])
  await log.append('ts', 0, [{ value: bytes('f'), timestamp: 350 }, { value: bytes('g'), timestamp: 500 }])
  const cases: Array<[number, number | null, number | null]> = [
    [0, 0, 100], [100, 0, 100], [101, 1, 300], [250, 1, 300], [300, 1, 300], [301, 4, 400], [360, 4, 400], [450, 6, 500], [501, null, null]
  ]
  for (const [ts, offset, found] of cases) {
    const hit = log.offsetForTimestamp('ts', 0, ts)
    t.same(hit === null ? [null, null] : [hit.offset, hit.timestamp], [offset, found], `timestamp ${ts}`)
  }
  await log.deleteRecords('ts', 0, 2)
  t.same(log.offsetForTimestamp('ts', 0, 100), { offset: 2, timestamp: 200 }, 'never below the log start')
})

t.test('retention by time advances the log start in whole ranges', async t => {
  const { log, clock } = await openTestLog(t)
  await log.createTopic('rt', { configs: { 'retention.ms': 60_000 } })
  await log.createTopic('forever', { configs: { 'retention.ms': -1 } })
  const t0 = clock.now()
  await log.append('rt', 0, Array.from({ length: 5 }, (_, i) => ({ value: bytes(`old${i}`), timestamp: t0 })))
  await log.append('forever', 0, [{ value: bytes('x'), timestamp: t0 }])
  await clock.advance(30_000)
  await log.append('rt', 0, Array.from({ length: 3 }, (_, i) => ({ value: bytes(`new${i}`), timestamp: clock.now() })))
  t.same(await log.runMaintenance(), { deletedRecords: 0, compactedRecords: 0 }, 'nothing is old enough yet')
  await clock.advance(40_000)
  const report = await log.runMaintenance()
  t.equal(report.deletedRecords, 5)
  t.same(log.partitionInfo('rt', 0).logStartOffset, 5)
  t.same(log.read('rt', 0, { offset: 5 }).records.map(r => text(r.value)), ['new0', 'new1', 'new2'])
  t.equal(log.partitionInfo('forever', 0).logStartOffset, 0, 'retention.ms -1 keeps everything')
  await clock.advance(60_000)
  await log.runMaintenance()
  t.same(log.partitionInfo('rt', 0), { partition: 0, logStartOffset: 8, logEndOffset: 8, highWatermark: 8, sizeBytes: 0 }, 'all expired: empty, end kept')
  const next = await log.append('rt', 0, [{ value: bytes('later') }])
  t.equal(next.baseOffset, 8, 'offsets are never reused')
})

t.test('retention by bytes keeps at most retention.bytes', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('rb', { configs: { 'retention.bytes': 1000, 'retention.ms': -1 } })
  for (let i = 0; i < 20; i++) await log.append('rb', 0, [{ value: Buffer.alloc(100, i) }])
  const sizeBefore = log.partitionInfo('rb', 0).sizeBytes
  t.ok(sizeBefore > 2000, `partition holds ${sizeBefore} bytes`)
  const report = await log.runMaintenance()
  const info = log.partitionInfo('rb', 0)
  t.ok(info.sizeBytes <= 1000, `kept ${info.sizeBytes} bytes ≤ 1000`)
  const recordSize = sizeBefore / 20
  t.ok(info.sizeBytes > 1000 - recordSize, 'deleted no more than needed')
  t.equal(report.deletedRecords, info.logStartOffset)
  t.equal(log.read('rb', 0, { offset: info.logStartOffset }).records[0]?.value?.[0], info.logStartOffset)
})

t.test('compaction keeps the latest record per key and drops old tombstones', async t => {
  const { log, clock } = await openTestLog(t)
  await log.createTopic('cmp', { configs: { 'cleanup.policy': 'compact', 'delete.retention.ms': 10_000 } })
  await t.rejects(log.append('cmp', 0, [{ key: null, value: bytes('x') }]), code('INVALID_RECORD'), 'compacted topics need keys')
  const put = (k: string, v: string | null) => log.append('cmp', 0, [{ key: bytes(k), value: v === null ? null : bytes(v) }])
  await put('a', '1') // 0
  await put('b', '1') // 1
  await put('a', '2') // 2
  await put('c', '1') // 3
  await put('b', null) // 4 tombstone
  await put('a', '3') // 5
  const report = await log.runMaintenance()
  t.equal(report.compactedRecords, 3, 'a@0, b@1, a@2 are superseded')
  const view = () => log.read('cmp', 0, { offset: 0, maxRecords: 100 }).records.map(r => [r.offset, text(r.key), text(r.value)])
  t.same(view(), [[3, 'c', '1'], [4, 'b', null], [5, 'a', '3']], 'offsets are kept; the tombstone stays for now')
  t.equal(log.partitionInfo('cmp', 0).logEndOffset, 6)
  await clock.advance(10_001)
  t.equal((await log.runMaintenance()).compactedRecords, 1)
  t.same(view(), [[3, 'c', '1'], [5, 'a', '3']], 'tombstone gone after delete.retention.ms')
  const next = await put('c', '2')
  t.equal(next.baseOffset, 6)
})

t.test('min.compaction.lag.ms protects recent records', async t => {
  const { log, clock } = await openTestLog(t)
  await log.createTopic('lag', { configs: { 'cleanup.policy': 'compact', 'min.compaction.lag.ms': 5000 } })
  await log.append('lag', 0, [{ key: bytes('k'), value: bytes('1') }, { key: bytes('k'), value: bytes('2') }])
  t.equal((await log.runMaintenance()).compactedRecords, 0)
  await clock.advance(5000)
  t.equal((await log.runMaintenance()).compactedRecords, 1)
  t.same(log.read('lag', 0, { offset: 0 }).records.map(r => r.offset), [1])
})

t.test('compact,delete applies both', async t => {
  const { log, clock } = await openTestLog(t)
  await log.createTopic('both', { configs: { 'cleanup.policy': 'delete,compact', 'retention.ms': 1000 } })
  t.equal(log.describeTopic('both').configs['cleanup.policy'], 'compact,delete')
  await log.append('both', 0, [{ key: bytes('k'), value: bytes('1') }, { key: bytes('k'), value: bytes('2') }, { key: bytes('j'), value: bytes('1') }])
  await clock.advance(500)
  await log.append('both', 0, [{ key: bytes('j'), value: bytes('2') }])
  const first = await log.runMaintenance()
  t.same(first, { deletedRecords: 0, compactedRecords: 2 })
  await clock.advance(600)
  const second = await log.runMaintenance()
  t.equal(log.partitionInfo('both', 0).logStartOffset, 3, 'retention drops the expired prefix')
  t.equal(second.deletedRecords, 1, 'of which compaction had already removed two records')
  t.same(log.read('both', 0, { offset: 3 }).records.map(r => text(r.value)), ['2'])
})

t.test('waitForAppend wakes on append, times out on the clock, and honours abort', async t => {
  const { log, clock } = await openTestLog(t)
  await log.createTopic('w')
  t.equal(await log.waitForAppend('w', 0, 0, 0), false, 'no wait when timeout is 0')
  const woken = log.waitForAppend('w', 0, 0, 60_000)
  await log.append('w', 0, [{ value: bytes('x') }])
  t.equal(await woken, true, 'an append wakes the waiter')
  t.equal(await log.waitForAppend('w', 0, 0, 60_000), true, 'data already there: resolves at once')
  let settled = false
  const timedOut = log.waitForAppend('w', 0, 1, 1000).then(v => { settled = true; return v })
  await clock.advance(999)
  t.equal(settled, false, 'still waiting before the timeout')
  await clock.advance(1)
  t.equal(await timedOut, false)
  const controller = new AbortController()
  const aborted = log.waitForAppend('w', 0, 1, 60_000, controller.signal)
  controller.abort()
  t.equal(await aborted, false)
  const seen: Array<[string, number, number]> = []
  const off = log.onAppend((topic, partition, end) => seen.push([topic, partition, end]))
  await log.append('w', 0, [{ value: bytes('y') }])
  off()
  await log.append('w', 0, [{ value: bytes('z') }])
  t.same(seen, [['w', 0, 2]])
})

t.test('topics: describe, configs, alter, grow partitions, delete', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('cfg', { partitions: 2, configs: { 'retention.ms': '1000' } })
  const entries = log.describeConfigs('cfg')
  const retention = entries.find(e => e.name === 'retention.ms')
  t.same(retention, { name: 'retention.ms', value: '1000', isDefault: false, source: 'DYNAMIC_TOPIC_CONFIG', isReadOnly: false, isSensitive: false })
  t.same(entries.find(e => e.name === 'max.message.bytes'), { name: 'max.message.bytes', value: '1048588', isDefault: true, source: 'DEFAULT_CONFIG', isReadOnly: false, isSensitive: false })
  t.same(entries.map(e => e.name), ['cleanup.policy', 'delete.retention.ms', 'max.message.bytes', 'message.timestamp.type', 'min.compaction.lag.ms', 'retention.bytes', 'retention.ms'])
  await log.alterConfigs('cfg', { 'retention.ms': null, 'retention.bytes': 5000 })
  t.same(log.describeTopic('cfg').overrides, { 'retention.bytes': '5000' })
  await t.rejects(log.alterConfigs('cfg', { 'retention.bytes': 1, bogus: 1 }), code('INVALID_CONFIG'))
  await t.rejects(log.alterConfigs('cfg', { 'retention.bytes': 1, 'cleanup.policy': 'shred' }), code('INVALID_CONFIG'))
  t.same(log.describeTopic('cfg').overrides, { 'retention.bytes': '5000' }, 'a rejected change changes nothing')
  await t.rejects(log.createPartitions('cfg', 2), code('INVALID_PARTITIONS'))
  await log.createPartitions('cfg', 5)
  t.equal(log.partitions('cfg').length, 5)
  const r = await log.append('cfg', 4, [{ value: bytes('new partition') }])
  t.equal(r.baseOffset, 0)
  await log.deleteTopic('cfg')
  t.notOk(log.hasTopic('cfg'))
  t.throws(() => log.describeTopic('cfg'), code('UNKNOWN_TOPIC_OR_PARTITION'))
  await t.rejects(log.deleteTopic('cfg'), code('UNKNOWN_TOPIC_OR_PARTITION'))
  await log.createTopic('cfg')
  t.equal(log.partitionInfo('cfg', 0).logEndOffset, 0, 'a re-created topic starts empty')
  t.same(log.read('cfg', 0, { offset: 0 }).records, [])
})

t.test('partitionFor: murmur2 for keys, spread for null keys', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('p', { partitions: 4 })
  const a = log.partitionFor('p', bytes('rider-42'))
  t.equal(log.partitionFor('p', bytes('rider-42')), a, 'a key always lands on one partition')
  const spread = new Set(Array.from({ length: 8 }, () => log.partitionFor('p', null)))
  t.equal(spread.size, 4, 'null keys visit every partition')
})

t.test('the log never runs with options that can lose acknowledged data', async t => {
  const { log } = await openTestLog(t)
  t.same(log.durabilityOptions(), { noSync: false, useWritemap: false, mapAsync: false, noMetaSync: false, overlappingSync: false })
})

t.test('close lets in-flight appends finish and then refuses new ones', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('c')
  const inFlight = Array.from({ length: 50 }, (_, i) => log.append('c', 0, [{ value: bytes(String(i)) }]))
  const closing = log.close()
  const results = await Promise.all(inFlight)
  t.equal(results.at(-1)?.lastOffset, 49)
  await closing
  await t.rejects(log.append('c', 0, [{ value: bytes('late') }]), code('BROKER_NOT_AVAILABLE'))
})

t.test('sub-databases: durable atomic writes, prefix ranges, kept across reopen', async t => {
  const { log, dataDir, clock } = await openTestLog(t)
  const db = log.openSubDatabase<{ n: number }>('things')
  t.equal(log.openSubDatabase('things'), db, 'the same name gives the same database')
  await db.write(batch => {
    batch.put(['a', 'g1', 't', 0], { n: 1 })
    batch.put(['a', 'g1', 't', 1], { n: 2 })
    batch.put(['a', 'g1x', 't', 0], { n: 3 })
    batch.put(['a', 'g', 't', 0], { n: 4 })
    batch.put(['b', 'g1'], { n: 5 })
  })
  t.same(db.get(['a', 'g1', 't', 1]), { n: 2 })
  t.same(db.range(['a', 'g1']).map(e => e.value.n), [1, 2], 'a prefix matches whole key elements only')
  t.same(db.range(['a']).map(e => e.value.n).sort(), [1, 2, 3, 4])
  t.equal(db.range([]).length, 5)
  await db.write(batch => { batch.remove(['a', 'g1', 't', 0]); batch.put(['b', 'g1'], { n: 6 }) })
  t.same(db.range(['a', 'g1']).map(e => e.value.n), [2])
  t.throws(() => log.openSubDatabase('Bad Name'), code('INVALID_REQUEST'))
  t.throws(() => log.openSubDatabase('records'.padEnd(70, 'x')), code('INVALID_REQUEST'))
  t.same(log.listTopics(), [], 'sub-databases are not topics')

  const pending = db.write(batch => batch.put(['late'], { n: 7 }))
  await log.close()
  await pending
  await t.rejects(db.write(batch => batch.put(['after'], { n: 8 })), code('BROKER_NOT_AVAILABLE'))
  t.throws(() => db.get(['late']), code('BROKER_NOT_AVAILABLE'))
  t.throws(() => db.range([]), code('BROKER_NOT_AVAILABLE'))
  t.throws(() => log.openSubDatabase('things'), code('BROKER_NOT_AVAILABLE'))

  const again = await LogStore.open({ dataDir, clock, retentionCheckIntervalMs: 0 })
  t.teardown(() => again.close())
  const reopened = again.openSubDatabase<{ n: number }>('things')
  t.same(reopened.range([]).map(e => [e.key, e.value.n]), [
    [['a', 'g', 't', 0], 4], [['a', 'g1', 't', 1], 2], [['a', 'g1x', 't', 0], 3], [['b', 'g1'], 6], [['late'], 7]
  ], 'a write in flight at close is kept')
})

t.test('topic change listeners hear of creation, new partitions and deletion once durable', async t => {
  const { log } = await openTestLog(t)
  const changes: unknown[] = []
  const stop = log.onTopicChange(change => {
    changes.push({ ...change, visible: log.hasTopic(change.topic) })
    throw new Error('a failing listener does not hurt the log')
  })
  const created = await log.createTopic('tc', { partitions: 2 })
  await log.createTopic('tc-dry', { validateOnly: true })
  await log.createPartitions('tc', 3)
  await log.deleteTopic('tc')
  const recreated = await log.createTopic('tc')
  stop()
  await log.createTopic('unheard')
  t.same(changes, [
    { type: 'created', topic: 'tc', topicId: created.topicId, partitionCount: 2, visible: true },
    { type: 'partitions-added', topic: 'tc', topicId: created.topicId, partitionCount: 3, visible: true },
    { type: 'deleted', topic: 'tc', topicId: created.topicId, partitionCount: 0, visible: false },
    { type: 'created', topic: 'tc', topicId: recreated.topicId, partitionCount: 1, visible: true }
  ])
  t.not(recreated.topicId, created.topicId)
})

t.test('records stored in batches: reads from any offset, across batches and appends, before and after reopen', async t => {
  const { log, dataDir, clock } = await openTestLog(t)
  await log.createTopic('many', { configs: { 'retention.ms': -1 } })
  // Appends of assorted sizes in one turn share a commit and are cut into several stored batches.
  const sizes = [1, 300, 7, 1000, 2, 64]
  const results = await Promise.all(sizes.map((n, a) => log.append('many', 0, Array.from({ length: n }, (_, i) => ({ key: bytes(`k${a}.${i}`), value: Buffer.alloc(40 + (i % 50), a) })))))
  const total = sizes.reduce((sum, n) => sum + n, 0)
  t.same(results.map(r => r.lastOffset - r.baseOffset + 1), sizes)
  const expected = sizes.flatMap((n, a) => Array.from({ length: n }, (_, i) => `k${a}.${i}`))
  const check = (store: LogStore, label: string): void => {
    for (const offset of [0, 1, 299, 300, 301, 307, 308, 700, 1307, total - 1, total]) {
      for (const maxRecords of [1, 3, 500]) {
        const read = store.read('many', 0, { offset, maxRecords })
        const want = expected.slice(offset, offset + maxRecords)
        t.same(read.records.map(r => text(r.key)), want, `${label}: from ${offset}, at most ${maxRecords}`)
        t.same(read.records.map(r => r.offset), want.map((_, i) => offset + i), `${label}: offsets from ${offset}`)
        t.equal(read.nextOffset, offset + want.length)
      }
    }
    const bytesCap = store.read('many', 0, { offset: 10, maxBytes: 200 })
    t.ok(bytesCap.records.length >= 1 && bytesCap.records.length < 5, `${label}: maxBytes caps a read inside a batch`)
  }
  check(log, 'open')
  const info = log.partitionInfo('many', 0)
  await log.close()
  const again = await LogStore.open({ dataDir, clock, retentionCheckIntervalMs: 0 })
  t.teardown(() => again.close())
  t.same(again.partitionInfo('many', 0), info, 'end offset and size survive')
  check(again, 'reopened')
  t.equal((await again.append('many', 0, [{ value: bytes('next') }])).baseOffset, total)
})

t.test('retention and deleteRecords cut stored batches in the middle', async t => {
  const { log, dataDir, clock } = await openTestLog(t)
  await log.createTopic('cut', { configs: { 'retention.ms': -1, 'retention.bytes': 20_000 } })
  await log.append('cut', 0, Array.from({ length: 1000 }, (_, i) => ({ value: Buffer.alloc(100, i % 256) })))
  const report = await log.runMaintenance()
  const start = log.partitionInfo('cut', 0).logStartOffset
  t.ok(start > 0 && start < 1000, `retention moved the start into the batch (${start})`)
  t.equal(report.deletedRecords, start, 'every record below the start was removed, no more')
  t.ok(log.partitionInfo('cut', 0).sizeBytes <= 20_000)
  t.equal(log.read('cut', 0, { offset: start }).records[0]?.offset, start)
  t.equal(log.read('cut', 0, { offset: start }).records[0]?.value?.[0], start % 256)
  await t.rejects(async () => log.read('cut', 0, { offset: start - 1 }), code('OFFSET_OUT_OF_RANGE'))

  t.equal(await log.deleteRecords('cut', 0, start + 3), start + 3)
  t.same(log.read('cut', 0, { offset: start + 3, maxRecords: 2 }).records.map(r => r.offset), [start + 3, start + 4])
  t.equal((await log.runMaintenance()).deletedRecords, 0, 'nothing left to remove')
  await log.close()
  const again = await LogStore.open({ dataDir, clock, retentionCheckIntervalMs: 0 })
  t.teardown(() => again.close())
  t.equal(again.partitionInfo('cut', 0).logStartOffset, start + 3)
  t.same(again.read('cut', 0, { offset: start + 3, maxRecords: 2 }).records.map(r => r.offset), [start + 3, start + 4])
  t.equal(again.offsetForTimestamp('cut', 0, 0)?.offset, start + 3, 'the time index starts at the log start')
})

t.test('compaction rewrites stored batches, keeping offsets', async t => {
  const { log } = await openTestLog(t)
  await log.createTopic('cb', { configs: { 'cleanup.policy': 'compact' } })
  await log.append('cb', 0, Array.from({ length: 500 }, (_, i) => ({ key: bytes(`k${i % 10}`), value: Buffer.alloc(80, i % 256) })))
  await log.append('cb', 0, [{ key: bytes('k3'), value: bytes('last') }])
  t.equal((await log.runMaintenance()).compactedRecords, 491, 'all but the last record of each key')
  const kept = log.read('cb', 0, { offset: 0, maxRecords: 100 }).records
  t.same(kept.map(r => r.offset), [490, 491, 492, 494, 495, 496, 497, 498, 499, 500])
  t.equal(text(kept.at(-1)?.value ?? null), 'last')
  t.same(log.read('cb', 0, { offset: 100, maxRecords: 2 }).records.map(r => r.offset), [490, 491], 'a read from a removed offset starts at the next record')
  t.equal((await log.runMaintenance()).compactedRecords, 0)
})

t.test('a data dir in an earlier storage format is refused, not misread', async t => {
  const { log, dataDir, clock } = await openTestLog(t)
  await log.createTopic('old')
  await log.close()
  const { open } = await import('lmdb')
  const root = open({ path: dataDir })
  await root.openDB({ name: 'meta' }).remove('storageFormat')
  await root.close()
  await t.rejects(LogStore.open({ dataDir, clock, retentionCheckIntervalMs: 0 }), { name: 'LogwayError', code: 'KAFKA_STORAGE_ERROR', message: /earlier version/ })
})
