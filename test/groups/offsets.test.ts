import t from 'tap'
import { GroupCoordinator } from '../../src/groups/group-coordinator.js'
import { LogStore } from '../../src/log/log-store.js'
import { bytes } from '../helpers/open-test-log.js'
import { code, names, openTestCoordinator } from './open-test-coordinator.js'

const records = (n: number) => Array.from({ length: n }, (_, i) => ({ value: bytes(`r${i}`) }))

t.test('who may commit: members of the current generation, or anybody while the group is empty', async t => {
  const { log, clock, coordinator } = await openTestCoordinator(t)
  await log.createTopic('c', { partitions: 2 })
  const admin = await coordinator.commitOffsets('simple', [{ topic: 'c', partition: 0, offset: 5, metadata: 'by hand' }])
  t.same(admin, [{ topic: 'c', partition: 0, committedOffset: 5, metadata: 'by hand', commitTimestamp: clock.now() }])
  t.same(coordinator.describeGroup('simple'), {
    groupId: 'simple',
    state: 'Empty',
    isSimple: true,
    protocolType: null,
    assignor: null,
    memberCount: 0,
    generationId: 0,
    coordinatorId: 0,
    members: [],
    createdAt: clock.now()
  }, 'a commit without a member creates a simple group')

  const { memberId } = await coordinator.join('g', { clientId: 'a', subscription: { topics: ['c'] } })
  const { generationId } = (await coordinator.assignment('g', memberId, 1))!
  await coordinator.commitOffsets('g', [{ topic: 'c', partition: 1, offset: 3 }], { memberId, generationId })
  t.equal(coordinator.committedOffset('g', 'c', 1)?.committedOffset, 3)
  await t.rejects(coordinator.commitOffsets('g', [{ topic: 'c', partition: 1, offset: 4 }]), code('UNKNOWN_MEMBER_ID'), 'no commits without a member while the group has members')
  await t.rejects(coordinator.commitOffsets('g', [{ topic: 'c', partition: 1, offset: 4 }], { memberId, generationId: generationId - 1 }), code('ILLEGAL_GENERATION'))
  await t.rejects(coordinator.commitOffsets('g', [{ topic: 'c', partition: 1, offset: 4 }], { memberId: 'ghost', generationId }), code('UNKNOWN_MEMBER_ID'))
  await t.rejects(coordinator.commitOffsets('nope', [{ topic: 'c', partition: 1, offset: 4 }], { memberId, generationId }), code('UNKNOWN_MEMBER_ID'))
  await t.rejects(coordinator.commitOffsets('g', [{ topic: 'c', partition: 2, offset: 4 }], { memberId, generationId }), code('UNKNOWN_TOPIC_OR_PARTITION'))
  await t.rejects(coordinator.commitOffsets('g', [{ topic: 'nope', partition: 0, offset: 4 }], { memberId, generationId }), code('UNKNOWN_TOPIC_OR_PARTITION'))
  await t.rejects(coordinator.commitOffsets('g', [{ topic: 'c', partition: 0, offset: -1 }], { memberId, generationId }), code('INVALID_REQUEST'))
  await t.rejects(coordinator.commitOffsets('g', [{ topic: 'c', partition: 0, offset: 1, metadata: 'x'.repeat(4097) }], { memberId, generationId }), code('OFFSET_METADATA_TOO_LARGE'))
  await t.rejects(coordinator.commitOffsets('g', [{ topic: 'c', partition: 0, offset: 1 }, { topic: 'c', partition: 9, offset: 1 }], { memberId, generationId }), code('UNKNOWN_TOPIC_OR_PARTITION'))
  t.equal(coordinator.committedOffset('g', 'c', 0), null, 'all or none')
  await t.rejects(coordinator.commitOffsets('', []), code('INVALID_GROUP_ID'))

  // While a rebalance waits for members, the current generation may still commit (before giving partitions up).
  await coordinator.join('g', { clientId: 'b', subscription: { topics: ['c'] } })
  t.equal(coordinator.describeGroup('g').state, 'PreparingRebalance')
  await coordinator.commitOffsets('g', [{ topic: 'c', partition: 0, offset: 7 }], { memberId, generationId })
  t.equal(coordinator.committedOffset('g', 'c', 0)?.committedOffset, 7)
})

t.test('startOffset applies auto.offset.reset', async t => {
  const { log, coordinator } = await openTestCoordinator(t)
  await log.createTopic('r', { partitions: 1 })
  await log.append('r', 0, records(10))
  t.same(coordinator.startOffset('g', 'r', 0, 'earliest'), { offset: 0, source: 'reset' })
  t.same(coordinator.startOffset('g', 'r', 0, 'latest'), { offset: 10, source: 'reset' })
  t.throws(() => coordinator.startOffset('g', 'r', 0, 'none'), code('NO_OFFSET_FOR_PARTITION'))
  await coordinator.commitOffsets('g', [{ topic: 'r', partition: 0, offset: 4 }])
  for (const policy of ['earliest', 'latest', 'none'] as const) {
    t.same(coordinator.startOffset('g', 'r', 0, policy), { offset: 4, source: 'committed' }, `${policy}: the committed offset wins`)
  }
  await coordinator.commitOffsets('g', [{ topic: 'r', partition: 0, offset: 10 }])
  t.same(coordinator.startOffset('g', 'r', 0, 'none'), { offset: 10, source: 'committed' }, 'the log end offset is in range')
  await coordinator.commitOffsets('g', [{ topic: 'r', partition: 0, offset: 2 }])
  await log.deleteRecords('r', 0, 6)
  t.same(coordinator.startOffset('g', 'r', 0, 'earliest'), { offset: 6, source: 'reset' }, 'a committed offset below the log start is out of range')
  t.same(coordinator.startOffset('g', 'r', 0, 'latest'), { offset: 10, source: 'reset' })
  t.throws(() => coordinator.startOffset('g', 'r', 0, 'none'), code('OFFSET_OUT_OF_RANGE'))
  await coordinator.commitOffsets('g', [{ topic: 'r', partition: 0, offset: 11 }])
  t.same(coordinator.startOffset('g', 'r', 0, 'earliest'), { offset: 6, source: 'reset' }, 'so is one beyond the end')
  t.throws(() => coordinator.startOffset('g', 'r', 0, 'none'), code('OFFSET_OUT_OF_RANGE'))
  t.throws(() => coordinator.startOffset('g', 'r', 1, 'earliest'), code('UNKNOWN_TOPIC_OR_PARTITION'))
})

t.test('offset resets of an empty group: earliest, latest, timestamp, explicit, dry run', async t => {
  const { log, clock, coordinator } = await openTestCoordinator(t)
  await log.createTopic('x', { partitions: 2 })
  await log.createTopic('y', { partitions: 1 })
  for (let i = 0; i < 10; i++) await log.append('x', 0, [{ value: bytes(`x${i}`), timestamp: 1_000 + i * 100 }])
  await log.append('x', 1, records(3))
  await log.append('y', 0, records(4))
  await t.rejects(coordinator.resetOffsets('g', { to: 'earliest' }), code('GROUP_ID_NOT_FOUND'))
  await coordinator.commitOffsets('g', [{ topic: 'x', partition: 0, offset: 5 }, { topic: 'y', partition: 0, offset: 1 }])
  const offsets = () => coordinator.committedOffsets('g').map(o => `${o.topic}-${o.partition}@${o.committedOffset}`)

  t.same((await coordinator.resetOffsets('g', { to: 'latest' }, { dryRun: true })).map(o => o.committedOffset), [10, 4])
  t.same(offsets(), ['x-0@5', 'y-0@1'], 'a dry run writes nothing')
  await coordinator.resetOffsets('g', { to: 'latest' })
  t.same(offsets(), ['x-0@10', 'y-0@4'], 'no scope: the partitions with offsets')
  await coordinator.resetOffsets('g', { to: 'earliest', scope: { topics: ['x'] } })
  t.same(offsets(), ['x-0@0', 'x-1@0', 'y-0@4'], 'a topic scope covers all its partitions')
  await coordinator.resetOffsets('g', { to: 'timestamp', timestamp: 1_450, scope: { partitions: [{ topic: 'x', partition: 0 }] } })
  t.same(offsets(), ['x-0@5', 'x-1@0', 'y-0@4'], 'the first record at or after the timestamp')
  await coordinator.resetOffsets('g', { to: 'timestamp', timestamp: clock.now() + 1, scope: { partitions: [{ topic: 'x', partition: 0 }] } })
  t.same(offsets(), ['x-0@10', 'x-1@0', 'y-0@4'], 'none after it: the log end')
  await coordinator.resetOffsets('g', { to: 'offsets', offsets: [{ topic: 'x', partition: 1, offset: 2 }] })
  t.same(offsets(), ['x-0@10', 'x-1@2', 'y-0@4'])
  await t.rejects(coordinator.resetOffsets('g', { to: 'offsets', offsets: [{ topic: 'x', partition: 1, offset: 4 }] }), code('OFFSET_OUT_OF_RANGE'))
  await t.rejects(coordinator.resetOffsets('g', { to: 'earliest', scope: { topics: ['nope'] } }), code('UNKNOWN_TOPIC_OR_PARTITION'))
  await t.rejects(coordinator.resetOffsets('g', { to: 'timestamp', timestamp: -5 }), code('INVALID_REQUEST'))

  const { memberId } = await coordinator.join('g', { subscription: { topics: ['x'] } })
  await t.rejects(coordinator.resetOffsets('g', { to: 'earliest' }), code('NON_EMPTY_GROUP'))
  coordinator.leave('g', memberId)
  await coordinator.resetOffsets('g', { to: 'earliest', scope: { topics: ['y'] } })
  t.same(offsets(), ['x-0@10', 'x-1@2', 'y-0@0'], 'allowed again once empty')
})

t.test('deleting a group removes its definition and offsets; only an empty group can be deleted', async t => {
  const { log, coordinator } = await openTestCoordinator(t)
  await log.createTopic('d')
  await t.rejects(coordinator.deleteGroup('none'), code('GROUP_ID_NOT_FOUND'))
  const { memberId } = await coordinator.join('del', { subscription: { topics: ['d'] } })
  const { generationId } = (await coordinator.assignment('del', memberId, 1))!
  await coordinator.commitOffsets('del', [{ topic: 'd', partition: 0, offset: 0 }], { memberId, generationId })
  await coordinator.commitOffsets('del-2', [{ topic: 'd', partition: 0, offset: 1 }])
  await t.rejects(coordinator.deleteGroup('del'), code('NON_EMPTY_GROUP'))
  coordinator.leave('del', memberId)
  await coordinator.deleteGroup('del')
  t.same(coordinator.listGroups().map(g => g.groupId), ['del-2'])
  t.same(coordinator.committedOffsets('del'), [])
  t.equal(coordinator.committedOffset('del-2', 'd', 0)?.committedOffset, 1, 'a group whose id starts the same is untouched')
  await coordinator.join('del', { subscription: { topics: ['d'] } })
  t.same(coordinator.committedOffsets('del'), [], 'a group of the same name starts afresh')
})

t.test('committed offsets and group definitions survive a restart', async t => {
  const { log, clock, dataDir, coordinator } = await openTestCoordinator(t)
  await log.createTopic('keep', { partitions: 3 })
  await log.append('keep', 0, records(5))
  const { memberId } = await coordinator.join('ranged', { clientId: 'a', subscription: { topics: ['keep'] } })
  const { generationId } = (await coordinator.assignment('ranged', memberId, 1))!
  await coordinator.commitOffsets('ranged', [{ topic: 'keep', partition: 0, offset: 3, metadata: 'm' }, { topic: 'keep', partition: 2, offset: 9 }], { memberId, generationId })
  await coordinator.join('robin', { clientId: 'b', subscription: { pattern: 'k.*' }, assignor: 'roundrobin' })
  await coordinator.commitOffsets('simple', [{ topic: 'keep', partition: 1, offset: 1 }])
  const before = coordinator.committedOffsets('ranged')
  await coordinator.close()
  await log.close()

  const reopened = await LogStore.open({ dataDir, clock, retentionCheckIntervalMs: 0 })
  t.teardown(() => reopened.close())
  const again = await GroupCoordinator.open({ log: reopened, clock })
  t.teardown(() => again.close())
  t.same(again.listGroups(), [
    { groupId: 'ranged', state: 'Empty', isSimple: false, protocolType: 'consumer', assignor: 'range', memberCount: 0 },
    { groupId: 'robin', state: 'Empty', isSimple: false, protocolType: 'consumer', assignor: 'roundrobin', memberCount: 0 },
    { groupId: 'simple', state: 'Empty', isSimple: true, protocolType: null, assignor: null, memberCount: 0 }
  ])
  t.same(again.committedOffsets('ranged'), before)
  t.same(before.map(o => [o.partition, o.committedOffset, o.metadata]), [[0, 3, 'm'], [2, 9, null]])
  t.same(again.startOffset('ranged', 'keep', 0, 'latest'), { offset: 3, source: 'committed' })
  const { memberId: b } = await again.join('robin', { clientId: 'b', subscription: { pattern: 'k.*' } })
  t.same(names((await again.assignment('robin', b, 1))!.partitions), ['keep-0', 'keep-1', 'keep-2'], 'the stored assignor is used')
  await t.rejects(again.join('robin', { subscription: { topics: ['keep'] }, assignor: 'range' }), code('INCONSISTENT_GROUP_PROTOCOL'))
})

t.test('deleting a topic drops its committed offsets, and a new topic of the same name never sees them', async t => {
  const { log, clock, dataDir, coordinator } = await openTestCoordinator(t)
  await log.createTopic('gone', { partitions: 2 })
  await log.createTopic('stays')
  await coordinator.commitOffsets('g', [{ topic: 'gone', partition: 0, offset: 1 }, { topic: 'gone', partition: 1, offset: 1 }, { topic: 'stays', partition: 0, offset: 0 }])
  await log.deleteTopic('gone')
  t.same(coordinator.committedOffsets('g').map(o => o.topic), ['stays'], 'invisible at once')
  await log.createTopic('gone', { partitions: 2 })
  t.equal(coordinator.committedOffset('g', 'gone', 0), null)
  t.same(coordinator.startOffset('g', 'gone', 0, 'latest'), { offset: 0, source: 'reset' })

  // While the coordinator is down, a topic is deleted: its offsets are dropped at the next open.
  await coordinator.commitOffsets('g', [{ topic: 'gone', partition: 1, offset: 0 }])
  await coordinator.close()
  await log.deleteTopic('gone')
  await log.close()
  const reopened = await LogStore.open({ dataDir, clock, retentionCheckIntervalMs: 0 })
  t.teardown(() => reopened.close())
  const db = reopened.openSubDatabase<{ offset: number }>('consumer-groups')
  t.equal(db.range(['offset', 'g', 'gone']).length, 1, 'still stored before the coordinator opens')
  const again = await GroupCoordinator.open({ log: reopened, clock })
  t.teardown(() => again.close())
  t.same(db.range(['offset', 'g']).map(e => e.key), [['offset', 'g', 'stays', 0]])
})

t.test('views: list, describe, lag per partition and lag summary', async t => {
  const { log, clock, coordinator } = await openTestCoordinator(t)
  await log.createTopic('lagging', { partitions: 3 })
  await log.append('lagging', 0, records(10))
  await log.append('lagging', 1, records(4))
  const { memberId: a } = await coordinator.join('v', { clientId: 'a', clientHost: '10.0.0.1', subscription: { topics: ['lagging'] }, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000 })
  const { memberId: b } = await coordinator.join('v', { clientId: 'b', subscription: { topics: ['lagging'] } })
  await coordinator.assignment('v', a, 1)
  const { generationId } = (await coordinator.assignment('v', b, 1))!
  await coordinator.commitOffsets('v', [{ topic: 'lagging', partition: 0, offset: 3 }, { topic: 'lagging', partition: 2, offset: 0 }], { memberId: a, generationId })
  await coordinator.commitOffsets('v', [{ topic: 'lagging', partition: 1, offset: 4 }], { memberId: b, generationId })

  t.same(coordinator.describeGroup('v'), {
    groupId: 'v',
    state: 'Stable',
    isSimple: false,
    protocolType: 'consumer',
    assignor: 'range',
    memberCount: 2,
    generationId: 2,
    coordinatorId: 0,
    createdAt: clock.now(),
    members: [
      { memberId: a, groupInstanceId: null, clientId: 'a', clientHost: '10.0.0.1', sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 20_000, subscription: { topics: ['lagging'] }, assignment: [{ topic: 'lagging', partition: 0 }, { topic: 'lagging', partition: 1 }] },
      { memberId: b, groupInstanceId: null, clientId: 'b', clientHost: '', sessionTimeoutMs: 45_000, rebalanceTimeoutMs: 300_000, subscription: { topics: ['lagging'] }, assignment: [{ topic: 'lagging', partition: 2 }] }
    ]
  })
  const lag = coordinator.lag('v')
  t.same(lag, [
    { topic: 'lagging', partition: 0, committedOffset: 3, logEndOffset: 10, lag: 7, memberId: a, clientId: 'a' },
    { topic: 'lagging', partition: 1, committedOffset: 4, logEndOffset: 4, lag: 0, memberId: a, clientId: 'a' },
    { topic: 'lagging', partition: 2, committedOffset: 0, logEndOffset: 0, lag: 0, memberId: b, clientId: 'b' }
  ])
  t.same(coordinator.lagSummary('v'), { groupId: 'v', maxLag: 7, totalLag: 7, maxLagPartition: lag[0] })
  await coordinator.commitOffsets('empty', [])
  t.throws(() => coordinator.lag('empty'), code('GROUP_ID_NOT_FOUND'), 'an empty commit creates nothing')
  await coordinator.commitOffsets('quiet', [{ topic: 'lagging', partition: 1, offset: 9 }])
  t.same(coordinator.lagSummary('quiet'), { groupId: 'quiet', maxLag: 0, totalLag: 0, maxLagPartition: { topic: 'lagging', partition: 1, committedOffset: 9, logEndOffset: 4, lag: 0, memberId: null, clientId: null } }, 'a commit beyond the end lags by 0')
  t.throws(() => coordinator.describeGroup('missing'), code('GROUP_ID_NOT_FOUND'))
  t.same(coordinator.listGroups().map(g => [g.groupId, g.state, g.memberCount]), [['quiet', 'Empty', 0], ['v', 'Stable', 2]])
})

t.test('a failed write leaves no half-made group behind', async t => {
  const { log, coordinator } = await openTestCoordinator(t)
  await log.createTopic('f')
  await coordinator.commitOffsets('kept', [{ topic: 'f', partition: 0, offset: 0 }])
  await log.close()
  await t.rejects(coordinator.join('fresh', { subscription: { topics: ['f'] } }), code('BROKER_NOT_AVAILABLE'))
  await t.rejects(coordinator.commitOffsets('fresh-simple', [{ topic: 'f', partition: 0, offset: 0 }]), code('BROKER_NOT_AVAILABLE'))
  await t.rejects(coordinator.deleteGroup('kept'), code('BROKER_NOT_AVAILABLE'))
  t.same(coordinator.listGroups().map(g => g.groupId), ['kept'], 'the new groups are forgotten and the undeleted one is back')
  t.throws(() => coordinator.committedOffset('kept', 'f', 0), code('BROKER_NOT_AVAILABLE'))
})
