import t from 'tap'
import { encodeEventId, eventIdTemplate, parseEventId } from '../../src/ws/sse-event-id.js'

const positions = (...pairs: Array<[number, number]>): Map<number, number> => new Map(pairs)

t.test('ids name the first partition, and every partition that does not follow the previous one', async t => {
  t.equal(encodeEventId(positions([0, 12], [1, 7], [2, 0])), '0:12,7,0')
  t.equal(encodeEventId(positions([1, 4], [3, 9])), '1:4,3:9')
  t.equal(encodeEventId(positions([5, 3])), '5:3')
  t.equal(encodeEventId(positions([2, 1], [0, 5], [1, 6])), '0:5,6,1', 'in partition order, whatever the map\'s')
  t.equal(encodeEventId(positions([0, 1], [1, 2], [4, 3], [5, 4])), '0:1,2,4:3,4')
})

t.test('parseEventId reads back what encodeEventId writes', async t => {
  for (const p of [positions([0, 12], [1, 7], [2, 0]), positions([1, 4], [3, 9]), positions([9999, Number.MAX_SAFE_INTEGER]), positions([0, 0], [2, 1], [3, 2], [7, 3])]) {
    t.same(parseEventId(encodeEventId(p)), p, encodeEventId(p))
  }
  t.same(parseEventId('0:1,1:2,2:3'), positions([0, 1], [1, 2], [2, 3]), 'naming every partition is allowed too')
})

t.test('eventIdTemplate gives the same id as a full encoding when one partition moves', async t => {
  const p = positions([0, 12], [1, 7], [2, 0], [5, 9], [6, 1])
  for (const partition of p.keys()) {
    const { prefix, suffix } = eventIdTemplate(p, partition)
    for (const offset of [0, 13, 1000]) {
      t.equal(prefix + String(offset) + suffix, encodeEventId(new Map(p).set(partition, offset)), `partition ${partition} at ${offset}`)
    }
  }
})

t.test('parseEventId refuses what is not an id with INVALID_REQUEST', async t => {
  for (const id of ['', 'p0:12', '12', '0:1,,2', '0:1,0:2', '3:1,1:2', '0:-1', '0:1.5', '0:99999999999999999', '123456:1', 'x'.repeat(20_000)]) {
    t.throws(() => parseEventId(id), { name: 'LogwayError', code: 'INVALID_REQUEST' }, JSON.stringify(id.slice(0, 30)))
  }
})
