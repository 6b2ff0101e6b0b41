import t from 'tap'
import { assertTransition, canTransition, GROUP_TRANSITIONS, type GroupState } from '../../src/groups/group-state.js'
import { code, openTestCoordinator, settle } from './open-test-coordinator.js'

const STATES: GroupState[] = ['Empty', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Dead']

t.test('the transition table is Kafka\'s classic group table, and nothing else is allowed', async t => {
  const allowed = GROUP_TRANSITIONS.map(({ from, to }) => `${from} → ${to}`).sort()
  t.same(allowed, [
    'CompletingRebalance → PreparingRebalance',
    'CompletingRebalance → Stable',
    'Empty → Dead',
    'Empty → PreparingRebalance',
    'PreparingRebalance → CompletingRebalance',
    'PreparingRebalance → Empty',
    'Stable → PreparingRebalance'
  ])
  for (const transition of GROUP_TRANSITIONS) t.match(transition.on, /\w/, `${transition.from} → ${transition.to} says what triggers it`)
  for (const from of STATES) {
    for (const to of STATES) {
      const ok = allowed.includes(`${from} → ${to}`)
      t.equal(canTransition(from, to), ok, `${from} → ${to}`)
      if (ok) t.doesNotThrow(() => assertTransition('g', from, to))
      else t.throws(() => assertTransition('g', from, to), /cannot go from/)
    }
  }
})

t.test('a group goes through every transition of the table', async t => {
  const { log, clock, coordinator } = await openTestCoordinator(t, { initialRebalanceDelayMs: 1_000 })
  await log.createTopic('st', { partitions: 2 })
  const seen: GroupState[] = []
  const state = (): GroupState => {
    const current = coordinator.describeGroup('walk').state
    if (seen.at(-1) !== current) seen.push(current)
    return current
  }

  const { memberId: a } = await coordinator.join('walk', { clientId: 'a', subscription: { topics: ['st'] } })
  t.equal(state(), 'PreparingRebalance', 'Empty → PreparingRebalance: a member joins (and the initial delay holds it)')
  const pending = coordinator.assignment('walk', a, 5_000)
  await clock.advance(999)
  t.equal(state(), 'PreparingRebalance')
  await clock.advance(1)
  const first = await pending
  t.equal(state(), 'Stable', 'PreparingRebalance → CompletingRebalance → Stable once the delay is over')
  t.same(first?.partitions.length, 2)

  const { memberId: b } = await coordinator.join('walk', { clientId: 'b', subscription: { topics: ['st'] } })
  t.equal(state(), 'PreparingRebalance', 'Stable → PreparingRebalance: a member joins')
  // a commits for its generation (accepted while preparing), then gives its partitions up.
  const commit = coordinator.commitOffsets('walk', [{ topic: 'st', partition: 0, offset: 0 }], { memberId: a, generationId: first!.generationId })
  coordinator.rejoin('walk', a)
  t.equal(state(), 'CompletingRebalance', 'PreparingRebalance → CompletingRebalance: everyone rejoined; a commit is still in flight')
  t.throws(() => coordinator.heartbeat('walk', a, first!.generationId), code('REBALANCE_IN_PROGRESS'))
  await t.rejects(coordinator.commitOffsets('walk', [{ topic: 'st', partition: 0, offset: 1 }], { memberId: a, generationId: first!.generationId }), code('REBALANCE_IN_PROGRESS'))
  const { memberId: c } = await coordinator.join('walk', { clientId: 'c', subscription: { topics: ['st'] } })
  t.equal(state(), 'CompletingRebalance', 'CompletingRebalance → PreparingRebalance → CompletingRebalance: a joins while completing')
  await commit
  t.equal(state(), 'Stable', 'CompletingRebalance → Stable once the commit is durable')
  t.equal(coordinator.describeGroup('walk').members.length, 3)

  coordinator.leave('walk', a)
  coordinator.leave('walk', b)
  await coordinator.assignment('walk', c, 1_000)
  t.equal(state(), 'Stable')
  coordinator.leave('walk', c)
  t.equal(state(), 'Empty', 'Stable → PreparingRebalance → Empty: the last member leaves')
  await coordinator.deleteGroup('walk')
  t.throws(() => coordinator.describeGroup('walk'), code('GROUP_ID_NOT_FOUND'), 'Empty → Dead: deleted')
  await settle()
  t.same(seen, ['PreparingRebalance', 'Stable', 'PreparingRebalance', 'CompletingRebalance', 'Stable', 'Empty'])
})
