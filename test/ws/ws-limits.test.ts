import t from 'tap'
import type { ServerFrame } from '../../src/ws/ws-frames.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { listen, TestClient } from './ws-test-client.js'

type ErrorFrame = Extract<ServerFrame, { type: 'error' }>

t.test('a produce frame of more than 10000 records gets an error frame and writes nothing; the connection goes on', async t => {
  const app = buildTestServer(t)
  const log = await app.getLog()
  await log.createTopic('orders', { partitions: 1 })
  const client = await TestClient.open(t, app, await listen(app))
  const records = (n: number): unknown[] => Array.from({ length: n }, () => ({ value: { type: 'STRING', data: 'v' } }))

  client.send({ type: 'produce', id: 'over', topic: 'orders', records: records(10_001) })
  const error = await client.next() as ErrorFrame
  t.match(error, { type: 'error', id: 'over', error_code: 40001, code: 'INVALID_REQUEST', message: /records must NOT have more than 10000 items/ })
  t.equal(log.partitionInfo('orders', 0).logEndOffset, 0, 'nothing was written')

  client.send({ type: 'produce', id: 'max', topic: 'orders', records: records(10_000) })
  const ack = await client.nextOf('ack', 'max')
  t.equal(ack.results.length, 10_000, 'a frame of 10000 records is acked')
  t.equal(log.partitionInfo('orders', 0).logEndOffset, 10_000)
})
