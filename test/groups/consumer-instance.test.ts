// ConsumerInstance without HTTP: what the routes cannot easily show.
import t, { type Test } from 'tap'
import { ConsumerInstance, type ConsumerInstanceSettings } from '../../src/groups/consumer-instance.js'
import type { StoredRecord } from '../../src/log/types.js'
import { openTestCoordinator, settle } from '../groups/open-test-coordinator.js'

const SETTINGS: ConsumerInstanceSettings = { format: 'binary', autoOffsetReset: 'earliest', autoCommitEnable: false, fetchMinBytes: 1, requestTimeoutMs: 1_000 }
const render = (_topic: string, partition: number, record: StoredRecord): string => `${partition}:${record.value?.toString() ?? ''}`

async function setup (t: Test, partitions = 1) {
  const opened = await openTestCoordinator(t)
  await opened.log.createTopic('orders', { partitions })
  const instance = (name: string, settings: Partial<ConsumerInstanceSettings> = {}): ConsumerInstance => {
    const created = new ConsumerInstance('g', name, { ...SETTINGS, ...settings }, {
      log: opened.log,
      groups: opened.coordinator,
      clock: opened.clock,
      sessionTimeoutMs: 10_000,
      rebalanceTimeoutMs: 10_000,
      clientHost: '127.0.0.1'
    })
    t.teardown(async () => await created.close())
    return created
  }
  const produce = async (partition: number, ...values: string[]): Promise<void> => {
    await opened.log.append('orders', partition, values.map(v => ({ value: Buffer.from(v) })))
  }
  return { ...opened, instance, produce }
}

t.test('a request whose client went away gives its records back', async t => {
  const s = await setup(t)
  const c = s.instance('c', { fetchMinBytes: 10_000 })
  await c.subscribe({ topics: ['orders'] })
  const client = new AbortController()
  const polling = c.poll({ timeoutMs: 60_000, maxBytes: 1_000_000, signal: client.signal, render })
  await s.produce(0, 'a', 'b')
  await settle()
  client.abort()
  t.same(await polling, [], 'nothing for a client that is gone')
  t.same(await c.poll({ timeoutMs: 0, maxBytes: 1_000_000, render }), ['0:a', '0:b'], 'the next request reads them')
})

t.test('interrupt ends a wait with what the request holds', async t => {
  const s = await setup(t)
  const c = s.instance('c', { fetchMinBytes: 10_000 })
  await c.subscribe({ topics: ['orders'] })
  const polling = c.poll({ timeoutMs: 60_000, maxBytes: 1_000_000, render })
  await s.produce(0, 'a')
  await settle()
  c.interrupt()
  t.same(await polling, ['0:a'])
})

t.test('a position survives a rebalance only when the partition stays with the instance', async t => {
  const s = await setup(t, 2)
  await s.produce(0, 'a0', 'b0')
  await s.produce(1, 'a1', 'b1')
  const a = s.instance('a')
  await a.subscribe({ topics: ['orders'] })
  t.same((await a.poll({ timeoutMs: 0, maxBytes: 1_000_000, render })).sort(), ['0:a0', '0:b0', '1:a1', '1:b1'])
  // Nothing committed. b joins: a keeps orders-0 (and its position), orders-1 goes to b from the start.
  const b = s.instance('b')
  await b.subscribe({ topics: ['orders'] })
  const bPoll = b.poll({ timeoutMs: 1_000, maxBytes: 1_000_000, render })
  const aPoll = a.poll({ timeoutMs: 1_000, maxBytes: 1_000_000, render })
  await s.clock.advance(1_000)
  t.same(await bPoll, ['1:a1', '1:b1'], 'b reads orders-1 from the committed offset (none: earliest)')
  t.same(await aPoll, [], 'a does not read orders-0 again')
  t.same(a.assignment(), [{ topic: 'orders', partition: 0 }])

  // b leaves; a gets orders-1 back, but b may have moved on meanwhile: a starts it at the committed offset.
  await b.close()
  const again = a.poll({ timeoutMs: 1_000, maxBytes: 1_000_000, render })
  await s.clock.advance(1_000)
  t.same(await again, ['1:a1', '1:b1'], 'orders-1 from the committed offset, not from a\'s old position')
})

t.test('close auto-commits, leaves, and ends waiting requests', async t => {
  const s = await setup(t)
  await s.produce(0, 'a', 'b')
  const c = s.instance('c', { autoCommitEnable: true })
  await c.subscribe({ topics: ['orders'] })
  t.same(await c.poll({ timeoutMs: 0, maxBytes: 1_000_000, render }), ['0:a', '0:b'])
  const waiting = c.poll({ timeoutMs: 60_000, maxBytes: 1_000_000, render })
  await settle()
  await c.close()
  t.same(await waiting, [])
  t.equal(s.coordinator.committedOffset('g', 'orders', 0)?.committedOffset, 2)
  t.equal(s.coordinator.describeGroup('g').members.length, 0)
  await c.close()
  t.pass('closing twice is harmless')
})
