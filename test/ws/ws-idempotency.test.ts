import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { LogStore, type LogStoreOptions } from '../../src/log/log-store.js'
import type { ServerFrame } from '../../src/ws/ws-frames.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { deferred } from '../helpers/fake-log-store.js'
import { listen, TestClient } from './ws-test-client.js'

type Ack = Extract<ServerFrame, { type: 'ack' }>
type ErrorFrame = Extract<ServerFrame, { type: 'error' }>

interface Setup { app: FastifyInstance, log: LogStore, client: TestClient }

async function setup (t: Test, openLog?: (options: LogStoreOptions) => Promise<LogStore>): Promise<Setup> {
  const app = buildTestServer(t, {}, openLog === undefined ? {} : { openLog })
  const log = await app.getLog()
  await log.createTopic('orders', { partitions: 3 })
  const client = await TestClient.open(t, app, await listen(app))
  return { app, log, client }
}

const RECORDS = [
  { key: { type: 'STRING', data: 'rider-1' }, value: { type: 'JSON', data: { lat: 1, lng: 2 } } },
  { value: { type: 'STRING', data: 'no key' }, partition: 2 }
]
const ends = (s: Setup): number[] => s.log.partitions('orders').map(p => p.logEndOffset)

t.test('a retried produce frame gets the first ack again, under its own id, and writes nothing', async t => {
  const s = await setup(t)
  s.client.send({ type: 'produce', id: 'p1', topic: 'orders', idempotency_key: 'batch-7', records: RECORDS })
  const first = await s.client.nextOf('ack', 'p1')
  const written = ends(s)
  t.equal(written.reduce((a, b) => a + b), 2)

  // The same frame, its fields (and those of its records) in another order, with a new id.
  s.client.send(JSON.parse(JSON.stringify({ records: RECORDS.map(r => Object.fromEntries(Object.entries(r).reverse())), idempotency_key: 'batch-7', topic: 'orders', type: 'produce', id: 'p1-retry' })))
  const again = await s.client.nextOf('ack', 'p1-retry')
  t.same(again, { ...first, id: 'p1-retry' }, 'the first results: partitions, offsets and timestamps')
  t.same(ends(s), written, 'nothing more written')

  s.client.send({ type: 'produce', id: 'p2', topic: 'orders', idempotency_key: 'batch-7', records: RECORDS.slice(0, 1) })
  const reused = await s.client.nextOf('error', 'p2')
  t.match(reused, { error_code: 42209, code: 'IDEMPOTENCY_KEY_REUSED' })
  t.same(ends(s), written, 'other records with the key are refused, and nothing is written')
})

t.test('WebSocket keys are apart from REST keys', async t => {
  const s = await setup(t)
  const rest = await s.app.inject({
    method: 'POST',
    url: `/v3/clusters/${s.log.clusterId}/topics/orders/records`,
    headers: { 'content-type': 'application/json', 'idempotency-key': 'shared' },
    payload: { partition_id: 0, value: { type: 'STRING', data: 'rest' } }
  })
  t.equal(rest.statusCode, 200)
  s.client.send({ type: 'produce', id: 'ws', topic: 'orders', idempotency_key: 'shared', records: RECORDS })
  await s.client.nextOf('ack', 'ws')
  t.same(ends(s).reduce((a, b) => a + b), 3, 'the frame wrote its records')
})

t.test('a frame with the key of a frame still awaiting its ack gets an error frame and writes nothing', async t => {
  const gate = deferred<void>()
  const reached = deferred<void>()
  const s = await setup(t, async options => {
    const log = await LogStore.open(options)
    // The first frame's append waits here: its key stays held.
    const append = log.append.bind(log)
    log.append = async (...args) => {
      reached.resolve()
      await gate.promise
      return await append(...args)
    }
    return log
  })
  s.client.send({ type: 'produce', id: 'first', topic: 'orders', partition: 1, idempotency_key: 'k', records: [RECORDS[0]] })
  await reached.promise
  s.client.send({ type: 'produce', id: 'second', topic: 'orders', partition: 1, idempotency_key: 'k', records: [RECORDS[0]] })
  await s.client.roundTrip()
  gate.resolve()
  const ack = await s.client.next() as Ack
  t.match(ack, { type: 'ack', id: 'first', results: [{ partition: 1, offset: 0 }] })
  const refused = await s.client.next() as ErrorFrame
  t.match(refused, { type: 'error', id: 'second', error_code: 40904, code: 'IDEMPOTENCY_KEY_IN_FLIGHT' }, 'answered in frame order')
  t.same(ends(s), [0, 1, 0], 'one record written')

  s.client.send({ type: 'produce', id: 'third', topic: 'orders', partition: 1, idempotency_key: 'k', records: [RECORDS[0]] })
  t.same(await s.client.nextOf('ack', 'third'), { ...ack, id: 'third' }, 'once acked, a retry is answered the ack')
})

t.test('an idempotency_key that is not 1 to 255 printable ASCII characters is a bad frame', async t => {
  const s = await setup(t)
  for (const key of ['', 'x'.repeat(256), 'é']) {
    s.client.send({ type: 'produce', id: 'bad', topic: 'orders', idempotency_key: key, records: RECORDS })
    t.match(await s.client.nextOf('error', 'bad'), { error_code: 40001, code: 'INVALID_REQUEST' })
  }
  t.same(ends(s), [0, 0, 0])
})
