import t from 'tap'
import { bytes, text } from '../helpers/open-test-log.js'
import { code, names, openTestCoordinator, recorder, settle } from './open-test-coordinator.js'

// The seeds' kafkajs demo at the coordinator level: topic rider-updates with
// two partitions (north → 0, everything else → 1) and consumers that run
// `subscribe({ topics: ['rider-updates'], fromBeginning: true })` in groups
// named on the command line.
t.test('rider-updates: groups, members, a death and a resumption', async t => {
  const { log, clock, coordinator } = await openTestCoordinator(t)
  await log.createTopic('rider-updates', { partitions: 2 })
  const produce = async (name: string, location: string) =>
    log.append('rider-updates', location === 'north' ? 0 : 1, [{ key: bytes('location-update'), value: bytes(JSON.stringify({ name, location })) }])
  await produce('tony', 'north')
  await produce('ana', 'south')
  await produce('raj', 'south')

  const join = async (group: string, clientId: string, events = recorder()) => {
    const { memberId } = await coordinator.join(group, { clientId, subscription: { topics: ['rider-updates'] }, sessionTimeoutMs: 10_000, onEvent: events.onEvent })
    return { memberId, events }
  }
  // What one eachMessage loop would read: from the start position (fromBeginning: earliest) to the end.
  const consume = (group: string, partition: number) => {
    const start = coordinator.startOffset(group, 'rider-updates', partition, 'earliest')
    const read = log.read('rider-updates', partition, { offset: start.offset })
    return { start, values: read.records.map(r => JSON.parse(text(r.value) as string).name as string), nextOffset: read.nextOffset }
  }

  // Two groups each get every partition: each group consumes the whole topic.
  const g1a = await join('group-1', 'a')
  const g2a = await join('group-2', 'a')
  const [g1aFirst, g2aFirst] = await Promise.all([coordinator.assignment('group-1', g1a.memberId, 1_000), coordinator.assignment('group-2', g2a.memberId, 1_000)])
  t.same(names(g1aFirst!.partitions), ['rider-updates-0', 'rider-updates-1'])
  t.same(names(g2aFirst!.partitions), ['rider-updates-0', 'rider-updates-1'])
  t.same(consume('group-2', 1).values, ['ana', 'raj'])

  // A second member of group-1: one partition each, once a has given up its partitions.
  const g1b = await join('group-1', 'b')
  t.same(coordinator.memberStatus('group-1', g1a.memberId).mustRejoin, true)
  const [aGen2, bGen2] = await Promise.all([coordinator.assignment('group-1', g1b.memberId, 1_000), coordinator.assignment('group-1', g1a.memberId, 1_000)]).then(([b, a]) => [a, b])
  t.same(names(aGen2!.partitions), ['rider-updates-0'])
  t.same(names(bGen2!.partitions), ['rider-updates-1'])
  t.same(names((await coordinator.assignment('group-2', g2a.memberId, 0))!.partitions), ['rider-updates-0', 'rider-updates-1'], 'group-2 is not affected')

  // b consumes partition 1 and commits what it processed.
  const bRead = consume('group-1', 1)
  t.same(bRead.values, ['ana', 'raj'])
  await coordinator.commitOffsets('group-1', [{ topic: 'rider-updates', partition: 1, offset: bRead.nextOffset }], { memberId: g1b.memberId, generationId: bGen2!.generationId })
  await produce('lee', 'south')

  // A third member gets nothing: there are only two partitions.
  const g1c = await join('group-1', 'c')
  const [a3, b3, c3] = await Promise.all([g1a, g1b, g1c].map(m => coordinator.assignment('group-1', m.memberId, 1_000)))
  t.same([a3, b3, c3].map(x => names(x!.partitions)), [['rider-updates-0'], ['rider-updates-1'], []])

  // a leaves. Range is not sticky: b (sorted first) now gets partition 0, c partition 1,
  // and c resumes partition 1 where b committed.
  coordinator.leave('group-1', g1a.memberId)
  const [b4, c4] = await Promise.all([g1b, g1c].map(m => coordinator.assignment('group-1', m.memberId, 1_000)))
  t.same([b4, c4].map(x => names(x!.partitions)), [['rider-updates-0'], ['rider-updates-1']])
  const cRead = consume('group-1', 1)
  t.same(cRead, { start: { offset: 2, source: 'committed' }, values: ['lee'], nextOffset: 3 })
  await coordinator.commitOffsets('group-1', [{ topic: 'rider-updates', partition: 1, offset: cRead.nextOffset }], { memberId: g1c.memberId, generationId: c4!.generationId })
  const bRead0 = consume('group-1', 0)
  t.same(bRead0.values, ['tony'], 'b starts partition 0 from the beginning: nothing was committed there')
  await coordinator.commitOffsets('group-1', [{ topic: 'rider-updates', partition: 0, offset: bRead0.nextOffset }], { memberId: g1b.memberId, generationId: b4!.generationId })
  await produce('zed', 'north')

  // b dies (stops calling); c stays alive. After b's session timeout its partition moves to c.
  for (let elapsed = 0; elapsed < 12_000; elapsed += 4_000) {
    await clock.advance(4_000)
    if (coordinator.memberStatus('group-1', g1c.memberId).mustRejoin) break
    coordinator.heartbeat('group-1', g1c.memberId, c4!.generationId)
  }
  await settle()
  t.same(g1b.events.events.at(-1), { type: 'removed', groupId: 'group-1', memberId: g1b.memberId, reason: 'session-timeout' })
  const c5 = await coordinator.assignment('group-1', g1c.memberId, 1_000)
  t.same(names(c5!.partitions), ['rider-updates-0', 'rider-updates-1'])
  const resumed = consume('group-1', 0)
  t.same(resumed.start, { offset: 1, source: 'committed' }, 'the survivor resumes from b\'s last commit')
  t.same(resumed.values, ['zed'], 'nothing b committed is read again, nothing after it is lost')

  // b's late commit, with the generation it knew, is refused; so is c's with an old generation.
  await t.rejects(coordinator.commitOffsets('group-1', [{ topic: 'rider-updates', partition: 0, offset: 2 }], { memberId: g1b.memberId, generationId: b4!.generationId }), code('UNKNOWN_MEMBER_ID'))
  await t.rejects(coordinator.commitOffsets('group-1', [{ topic: 'rider-updates', partition: 0, offset: 2 }], { memberId: g1c.memberId, generationId: c4!.generationId }), code('ILLEGAL_GENERATION'))
  await coordinator.commitOffsets('group-1', [{ topic: 'rider-updates', partition: 0, offset: resumed.nextOffset }], { memberId: g1c.memberId, generationId: c5!.generationId })
  t.same(coordinator.lagSummary('group-1').totalLag, 0)
  t.same(coordinator.lag('group-2'), [], 'group-2 committed nothing')
})
