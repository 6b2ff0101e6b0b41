import fc from 'fast-check'
import t from 'tap'
import { MAX_BAD_FRAMES, WS_CLOSE } from '../../src/ws/close-codes.js'
import { listen } from '../ws/ws-test-client.js'
import { buildFuzzApp, describeChange, fingerprint, settleGroups } from './fuzz-app.js'
import { fuzzSettings } from './fuzz-settings.js'
import { FIXTURE_TOPICS, SIMPLE_GROUP } from './http-fixtures.js'
import { frameArbitrary } from './ws-frame-generator.js'
import { FuzzSocket, type Frame } from './ws-fuzz-socket.js'

/** The fuzzed server's frame limit: small, so that frames near and over it are cheap. */
const MAX_FRAME_BYTES = 65_536
/** How long a frame's answer may take before the run fails (a bound, never a pause). */
const WAIT_MS = 5_000
/** The healthy socket produces once every this many runs. */
const HEALTHY_EVERY = 20

/** The frame that ends each frame type's work: once it (or an error) is in, the frame changes nothing more. */
const ANSWER: Record<string, string> = {
  produce: 'ack',
  subscribe: 'subscribed',
  join: 'assigned',
  commit: 'committed',
  seek: 'seeked',
  leave: 'left',
  unsubscribe: 'unsubscribed',
  probe: 'position',
  ping: 'pong'
}

t.test('hostile WebSocket frames: every frame type, valid and mutated, and frames no schema describes', async t => {
  const { seed, runs } = fuzzSettings(t, 0.15)
  const fz = await buildFuzzApp(t, { wsMaxFrameBytes: MAX_FRAME_BYTES })
  for (const spec of FIXTURE_TOPICS) {
    await fz.log.createTopic(spec.name, { partitions: spec.partitions, configs: spec.configs })
    for (let p = 0; p < spec.partitions; p++) await fz.log.append(spec.name, p, [{ key: Buffer.from('"k"'), value: Buffer.from('{"n":1}') }])
  }
  await fz.groups.commitOffsets(SIMPLE_GROUP, [{ topic: 'fz-orders', partition: 0, offset: 1 }])
  const url = `${await listen(fz.app)}/v3/clusters/${fz.log.clusterId}/ws`

  let socket = await FuzzSocket.open(url)
  const healthy = await FuzzSocket.open(url)
  t.teardown(async () => { await socket.close(); await healthy.close() })
  const closes = new Map<number, number>()
  let frames = 0
  let errors = 0
  let healthyAcks = 0

  const property = fc.asyncProperty(frameArbitrary(MAX_FRAME_BYTES), async model => {
    const problems: string[] = []
    // The server closed the connection (the run that made it checked the code): go on with a new one.
    if (!socket.open) {
      const code = socket.closed?.code ?? 0
      closes.set(code, (closes.get(code) ?? 0) + 1)
      socket = await FuzzSocket.open(url)
    }
    if (frames % HEALTHY_EVERY === 0) {
      const id = `healthy-${frames}`
      const from = healthy.received.length
      healthy.send(JSON.stringify({ type: 'produce', id, topic: 'fz-orders', records: [{ value: { type: 'JSON', data: frames } }] }))
      const answer = await healthy.waitFor(from, f => f.id === id, WAIT_MS)
      if (answer?.type === 'ack') healthyAcks++
      else problems.push(`the healthy socket's produce ${id} got ${JSON.stringify(answer) ?? (healthy.open ? 'no answer' : `a close ${JSON.stringify(healthy.closed)}`)}`)
    }

    await settleGroups(fz)
    const before = fingerprint(fz, 'offsets')
    const from = socket.received.length
    socket.send(model.data, model.binary)
    frames++
    // A ping after it: once its pong is in, the frame has been read and every synchronous answer sent.
    const ping = `rt-${frames}`
    socket.send(JSON.stringify({ type: 'ping', id: ping }))
    await socket.waitFor(from, f => f.type === 'pong' && f.id === ping, WAIT_MS)
    const answerType = ANSWER[model.type]
    const mine = (f: Frame): boolean => model.id === undefined ? f.type === 'error' && f.id === undefined : f.id === model.id && (f.type === 'error' || f.type === answerType)
    const answer = socket.open && model.id !== undefined && answerType !== undefined && model.type !== 'ping'
      ? await socket.waitFor(from, mine, WAIT_MS)
      : socket.received.slice(from).find(mine)

    if (socket.open) {
      if (answer === undefined && model.id !== undefined && answerType !== undefined && model.type !== 'ping') problems.push(`no ${answerType} nor error frame for ${model.id} within ${WAIT_MS} ms`)
      if (model.unreadable && answer?.type !== 'error') problems.push(`an unreadable frame (${model.kind}) got no error frame`)
      if (model.oversized) problems.push(`a frame over the ${MAX_FRAME_BYTES}-byte limit did not close the connection`)
      if (socket.received.slice(from).every(f => f.id !== ping)) problems.push('no pong for the ping that followed the frame')
    } else {
      const code = socket.closed?.code
      const documented = model.oversized ? code === WS_CLOSE.MESSAGE_TOO_BIG : code === WS_CLOSE.POLICY_VIOLATION || code === WS_CLOSE.MESSAGE_TOO_BIG
      if (!documented) problems.push(`the connection closed with ${JSON.stringify(socket.closed)}`)
    }
    if (answer?.type === 'error') {
      errors++
      // A refused frame changes nothing. Only the log and the committed offsets are compared: the members of the
      // socket's other operations come and go meanwhile (one whose records cannot be rendered ends, and leaves its
      // group), but nothing commits in the background (auto_commit is off) and each run waits for its answers.
      const after = fingerprint(fz, 'offsets')
      if (after !== before) problems.push(`refused (${JSON.stringify(answer).slice(0, 300)}) yet the state changed:\n${describeChange(before, after)}`)
    }
    problems.push(...socket.problems.splice(0), ...healthy.problems.splice(0))
    for (const err of fz.crashes.splice(0)) problems.push(`unhandled: ${(err as Error)?.stack ?? String(err)}`)
    if (problems.length > 0) throw new Error(`${model.kind} ${model.type} frame ${String(model.data).slice(0, 300)}\n${problems.join('\n')}`)
  })
  await fc.assert(property, { seed, numRuns: runs })

  t.comment(`${frames} frames, ${errors} answered with an error; closes by code ${JSON.stringify(Object.fromEntries(closes))}; ${healthyAcks} healthy acks`)
  t.ok(healthy.open, 'the healthy socket is still open')
  t.equal(healthyAcks, Math.ceil(runs / HEALTHY_EVERY), 'the healthy socket got an ack for every produce')
  if (runs >= 1_000) t.ok((closes.get(WS_CLOSE.POLICY_VIOLATION) ?? 0) > 0, `more than ${MAX_BAD_FRAMES} bad frames closed a connection with 1008`)
  const res = await fz.app.inject({ method: 'GET', url: '/ready' })
  t.equal(res.statusCode, 200, 'the server is still up')
})
