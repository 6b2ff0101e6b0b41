import type { FastifyInstance } from 'fastify'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import type { Config } from '../../src/config.js'
import type { LogStore } from '../../src/log/log-store.js'
import type { AppendResult } from '../../src/log/types.js'
import type { RecordView } from '../../src/ws/ws-frames.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { listen, TestClient, until } from './ws-test-client.js'

interface Setup { app: FastifyInstance, log: LogStore, clock: ManualClock, base: string }

async function setup (t: Test, overrides: Partial<Config> = {}): Promise<Setup> {
  const clock = new ManualClock()
  const app = buildTestServer(t, overrides, { clock })
  const log = await app.getLog()
  const base = await listen(app)
  return { app, log, clock, base }
}

t.test('a reader that stops reading is paused at the send buffer mark, closed with 4008 after the timeout, and resumes without loss', async t => {
  const sendBufferBytes = 64 * 1024
  const s = await setup(t, { wsSendBufferBytes: sendBufferBytes, wsSlowConsumerTimeoutMs: 5_000 })
  await s.log.createTopic('big')
  const recordBytes = 64 * 1024
  const total = 256 // 16 MiB of values, about 22 MiB of frames: far more than socket buffers hold
  for (let i = 0; i < total; i += 32) {
    await s.log.append('big', 0, Array.from({ length: 32 }, (_, j) => ({ key: Buffer.from(String(i + j)), value: Buffer.alloc(recordBytes, i + j) })))
  }
  const healthy = await TestClient.open(t, s.app, s.base)
  const slow = await TestClient.open(t, s.app, s.base)
  slow.socket._socket.pause()
  slow.send({ type: 'subscribe', id: 'r', topic: 'big', from: 'earliest', credits: { messages: total } })

  await until(() => s.app.wsSessions().some(x => x.stalled), 'the slow session to stall')
  const stalled = s.app.wsSessions().find(x => x.stalled)
  t.ok(stalled !== undefined && stalled.readingPaused, 'the stalled session is not read either')
  // One records frame of at most 256 KiB of stored records (base64 in JSON: under 512 KiB) may go past the mark.
  t.ok((stalled?.bufferedBytes ?? Infinity) <= sendBufferBytes + 512 * 1024, `the send buffer is bounded (${stalled?.bufferedBytes ?? '?'} bytes)`)

  // The other connection is unaffected meanwhile.
  await healthy.roundTrip()
  await s.clock.advance(4_999)
  t.equal(slow.socket.readyState, 1, 'still open just before the timeout')
  t.ok(s.app.wsSessions().every(x => x.bufferedBytes <= sendBufferBytes + 512 * 1024), 'the buffer stayed bounded')
  await s.clock.advance(1)

  slow.socket._socket.resume()
  const { code, reason } = await slow.whenClosed()
  t.equal(code, 4008, 'closed as a slow consumer')
  t.equal(reason, 'slow consumer')
  const delivered = slow.received.flatMap(f => f.type === 'records' ? f.records : [])
  t.same(delivered.map(r => r.offset), Array.from({ length: delivered.length }, (_, i) => i), 'what arrived is contiguous from offset 0')
  t.ok(delivered.length < total, `the server stopped reading the log: ${delivered.length} of ${total} records went out before the close`)

  // Nothing is lost: a new connection resumes from the next offset.
  const next = delivered.length
  const again = await TestClient.open(t, s.app, s.base)
  again.send({ type: 'subscribe', id: 'r', topic: 'big', from: { offset: next }, credits: { messages: total } })
  const rest: RecordView[] = []
  while (rest.length < total - next) rest.push(...(await again.nextOf('records', 'r')).records)
  t.same(rest.map(r => r.offset), Array.from({ length: total - next }, (_, i) => next + i), 'the rest arrives exactly once')
  t.equal(Buffer.from(rest.at(-1)?.value as string, 'base64')[0], (total - 1) % 256)
})

t.test('a client that answers pings stays open; one that leaves two pings unanswered is closed with 4000', async t => {
  const s = await setup(t, { wsPingIntervalMs: 1_000 })
  const alive = await TestClient.open(t, s.app, s.base)
  const dead = await TestClient.open(t, s.app, s.base, { autoPong: false })
  let deadPings = 0
  dead.socket.on('ping', () => { deadPings++ })
  for (let i = 0; i < 2; i++) {
    const pinged = new Promise(resolve => alive.socket.once('ping', resolve))
    await s.clock.advance(1_000)
    await pinged
    // The pong went out before the ping event; a round trip after it shows the server has read it.
    await alive.roundTrip()
  }
  await until(() => deadPings === 2, 'two pings to the silent client')
  t.equal(dead.socket.readyState, 1, 'two unanswered pings: still open')
  const pinged = new Promise(resolve => alive.socket.once('ping', resolve))
  await s.clock.advance(1_000)
  const { code, reason } = await dead.whenClosed()
  t.equal(code, 4000)
  t.equal(reason, 'heartbeat timeout')
  await pinged
  await alive.roundTrip()
  t.equal(alive.socket.readyState, 1, 'the client that answers stays open')
})

t.test('any frame counts as a sign of life', async t => {
  const s = await setup(t, { wsPingIntervalMs: 1_000 })
  const client = await TestClient.open(t, s.app, s.base, { autoPong: false })
  for (let i = 0; i < 5; i++) {
    await s.clock.advance(1_000)
    await client.roundTrip()
  }
  t.equal(client.socket.readyState, 1, 'frames instead of pongs keep it open')
})

t.test('produce frames beyond wsMaxInFlight are not read until acks go out; acks keep frame order', async t => {
  const s = await setup(t, { wsMaxInFlight: 4 })
  await s.log.createTopic('orders')
  // Hold every append until released, so acks wait.
  let release: () => void = () => {}
  const gate = new Promise<void>(resolve => { release = resolve })
  const append = s.log.append.bind(s.log)
  s.log.append = async (...args: Parameters<LogStore['append']>): Promise<AppendResult> => {
    const result = append(...args)
    await gate
    return await result
  }
  const client = await TestClient.open(t, s.app, s.base)
  const frames = 300
  const padding = 'x'.repeat(2000)
  for (let i = 0; i < frames; i++) client.send({ type: 'produce', id: `p${i}`, topic: 'orders', records: [{ value: { type: 'STRING', data: `${i}-${padding}` } }] })
  await until(() => s.app.wsSessions()[0]?.readingPaused === true, 'the session to stop reading')
  const { inFlight } = s.app.wsSessions()[0] ?? { inFlight: Infinity }
  // Frames already read from the socket (one read of at most 64 KiB: about 32 of these) are handled even after the pause.
  t.ok(inFlight >= 4 && inFlight <= 4 + 40, `about wsMaxInFlight frames are in flight (${inFlight}), not ${frames}`)
  t.equal(client.received.length, 0, 'no ack yet')
  release()
  const acks = []
  for (let i = 0; i < frames; i++) acks.push(await client.nextOf('ack'))
  t.same(acks.map(a => a.id), Array.from({ length: frames }, (_, i) => `p${i}`), 'every frame is acked, in order')
  t.same(acks.map(a => a.results[0]?.offset), Array.from({ length: frames }, (_, i) => i))
})
