import t from 'tap'
import { assignPartitions, isAssignorName, type AssignorMember } from '../../src/groups/assignors.js'
import type { AssignorName } from '../../src/groups/types.js'

type Expected = Record<string, string[]>

function run (assignor: AssignorName, members: AssignorMember[], partitions: Record<string, number>): Expected {
  const result = assignPartitions(assignor, members, new Map(Object.entries(partitions)))
  return Object.fromEntries([...result].map(([id, owned]) => [id, owned.map(p => `${p.topic}-${p.partition}`)]))
}

const both = (topics: string[], ...ids: string[]): AssignorMember[] => ids.map(memberId => ({ memberId, topics }))

t.test('range: the examples of Kafka\'s RangeAssignor documentation and tests', async t => {
  t.same(run('range', both(['t0', 't1'], 'C0', 'C1'), { t0: 3, t1: 3 }),
    { C0: ['t0-0', 't0-1', 't1-0', 't1-1'], C1: ['t0-2', 't1-2'] }, 'javadoc: two consumers, two topics of 3')
  t.same(run('range', both(['t'], 'c0'), { t: 3 }), { c0: ['t-0', 't-1', 't-2'] })
  t.same(run('range', both(['t'], 'c0', 'c1'), { t: 1 }), { c0: ['t-0'], c1: [] }, 'a member beyond the partition count gets nothing')
  t.same(run('range', both(['t'], 'c0', 'c1'), { t: 2 }), { c0: ['t-0'], c1: ['t-1'] })
  t.same(run('range', [
    { memberId: 'consumer1', topics: ['topic1'] },
    { memberId: 'consumer2', topics: ['topic1', 'topic2'] },
    { memberId: 'consumer3', topics: ['topic1'] }
  ], { topic1: 3, topic2: 2 }), {
    consumer1: ['topic1-0'], consumer2: ['topic1-1', 'topic2-0', 'topic2-1'], consumer3: ['topic1-2']
  }, 'mixed subscriptions')
  t.same(run('range', both(['t'], 'c0'), {}), { c0: [] }, 'a topic that does not exist is not assigned')
  t.same(run('range', [{ memberId: 'c0', topics: ['t0'] }, { memberId: 'c1', topics: ['t1'] }], { t0: 2, t1: 1 }),
    { c0: ['t0-0', 't0-1'], c1: ['t1-0'] }, 'only partitions of subscribed topics')
  t.same(run('range', both(['t'], 'c0', 'c1', 'c2'), { t: 7 }), { c0: ['t-0', 't-1', 't-2'], c1: ['t-3', 't-4'], c2: ['t-5', 't-6'] })
})

t.test('roundrobin: the examples of Kafka\'s RoundRobinAssignor documentation and tests', async t => {
  t.same(run('roundrobin', both(['t0', 't1'], 'C0', 'C1'), { t0: 3, t1: 3 }),
    { C0: ['t0-0', 't0-2', 't1-1'], C1: ['t0-1', 't1-0', 't1-2'] }, 'javadoc: identical subscriptions')
  t.same(run('roundrobin', [
    { memberId: 'C0', topics: ['t0'] },
    { memberId: 'C1', topics: ['t0', 't1'] },
    { memberId: 'C2', topics: ['t0', 't1', 't2'] }
  ], { t0: 1, t1: 2, t2: 3 }), { C0: ['t0-0'], C1: ['t1-0'], C2: ['t1-1', 't2-0', 't2-1', 't2-2'] }, 'javadoc: subscriptions differ')
  t.same(run('roundrobin', [
    { memberId: 'consumer1', topics: ['topic1'] },
    { memberId: 'consumer2', topics: ['topic1', 'topic2'] },
    { memberId: 'consumer3', topics: ['topic1'] }
  ], { topic1: 3, topic2: 2 }), {
    consumer1: ['topic1-0'], consumer2: ['topic1-1', 'topic2-0', 'topic2-1'], consumer3: ['topic1-2']
  }, 'mixed subscriptions')
  t.same(run('roundrobin', both(['t'], 'c0', 'c1', 'c2'), { t: 2 }), { c0: ['t-0'], c1: ['t-1'], c2: [] })
})

t.test('assignment is deterministic and sorts member ids as Java strings', async t => {
  for (const assignor of ['range', 'roundrobin'] as const) {
    const members = both(['b', 'a'], 'm-b', 'M-z', 'm-a')
    const forward = run(assignor, members, { a: 5, b: 4 })
    t.same(run(assignor, [...members].reverse(), { a: 5, b: 4 }), forward, `${assignor}: input order does not matter`)
    t.same(Object.keys(forward).sort(), ['M-z', 'm-a', 'm-b'])
    t.same(forward['M-z']?.[0], 'a-0', `${assignor}: upper case sorts first, as in Java`)
    const owned = Object.values(forward).flat().sort()
    t.same(owned, [...new Set(owned)], `${assignor}: no partition twice`)
    t.equal(owned.length, 9, `${assignor}: every partition once`)
  }
  t.ok(isAssignorName('range'))
  t.notOk(isAssignorName('sticky'))
  t.notOk(isAssignorName('toString'))
})
