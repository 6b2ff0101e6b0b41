// The WebSocket API and the event stream as a browser uses them: a page on the server's origin
// (test/ws/browser-streams.html) with headless Chromium's own WebSocket and EventSource, records
// produced over REST by the test. Each test has its own server, data dir and browser context.
import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'
import type { FastifyInstance } from 'fastify'
import type { Browser, Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { ManualClock } from '../../src/clock.js'
import type { ClientFrame, RecordView, ServerFrame } from '../../src/ws/ws-frames.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { launchChromium, openPage, skipWithoutChromium as skip } from '../helpers/browser.js'
import { listen, type SseRecord } from './sse-client.js'

const PAGE_HTML = readFileSync(new URL('browser-streams.html', import.meta.url), 'utf8')

/** What the page keeps in window.received (see browser-streams.html). */
interface Received {
  frames: ServerFrame[]
  records: Record<string, RecordView[] | undefined>
  events: Array<{ type: string, id: string, data: SseRecord }>
  opens: number
  errors: number
}

/** The page's globals, as the functions run in the page see them. */
interface PageGlobals {
  received: Received
  openSocket: (path: string) => Promise<void>
  sendFrame: (frame: ClientFrame) => void
  openEvents: (path: string) => void
  closeEvents: () => void
}

let browser: Browser | undefined
t.before(async () => {
  if (skip === false) browser = await launchChromium()
})
t.teardown(async () => { await browser?.close() })

interface Setup {
  app: FastifyInstance
  clock: ManualClock
  page: Page
  /** http://127.0.0.1:<port> */
  origin: string
  /** /v3/clusters/<id> */
  v3: string
}

/** A server on a free port of 127.0.0.1, and the page on its origin. */
async function setup (t: Test, prepare: (app: FastifyInstance) => void = () => {}): Promise<Setup> {
  // Nothing here waits on the server's clock: appends wake readers, and no test runs long enough for a heartbeat.
  const clock = new ManualClock()
  const app = buildTestServer(t, {}, { clock })
  // The server itself serves the page: Chromium lets a page open WebSockets to 127.0.0.1 only when it
  // came from a local address (a page fulfilled by Playwright gets net::ERR_BLOCKED_BY_LOCAL_NETWORK_ACCESS_CHECKS).
  app.get('/browser-streams.html', {
    schema: { response: { 200: { content: { 'text/html': { schema: { type: 'string' } } } } } }
  }, async (_request, reply) => await reply.type('text/html; charset=utf-8').send(PAGE_HTML))
  prepare(app)
  const origin = await listen(app)
  const v3 = `/v3/clusters/${(await app.getLog()).clusterId}`
  if (browser === undefined) throw new Error('no browser')
  const page = await openPage(t, browser)
  await page.goto(`${origin}/browser-streams.html`)
  return { app, clock, page, origin, v3 }
}

async function rest (s: Setup, method: string, path: string, body?: unknown): Promise<{ status: number, body: any }> {
  const res = await fetch(s.origin + path, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body)
  })
  const text = await res.text()
  return { status: res.status, body: text === '' ? null : JSON.parse(text) }
}

async function createTopic (s: Setup, name: string, partitions: number): Promise<void> {
  const res = await rest(s, 'POST', `${s.v3}/topics`, { topic_name: name, partitions_count: partitions })
  if (res.status !== 201) throw new Error(`create ${name}: ${res.status} ${JSON.stringify(res.body)}`)
}

/** Produces one record over REST; resolves once it is durable. */
async function produce (s: Setup, topic: string, record: unknown): Promise<void> {
  const res = await rest(s, 'POST', `${s.v3}/topics/${topic}/records`, record)
  if (res.status !== 200) throw new Error(`produce: ${res.status} ${JSON.stringify(res.body)}`)
}

async function openSocket (page: Page, path: string): Promise<void> {
  await page.evaluate(async path => { await (globalThis as unknown as PageGlobals).openSocket(path) }, path)
}

async function sendFrame (page: Page, frame: ClientFrame): Promise<void> {
  await page.evaluate(frame => { (globalThis as unknown as PageGlobals).sendFrame(frame) }, frame)
}

/**
 * Waits (within the page's default timeout) until `check` holds in the page, then returns what
 * the page received. `check` runs in the page: it sees its arguments and nothing of the test's scope.
 */
async function pageHas<A> (page: Page, check: (received: Received, arg: A) => boolean, arg: A): Promise<Received> {
  await page.waitForFunction(`(${check.toString()})(window.received, ${JSON.stringify(arg)})`)
  return await page.evaluate(() => (globalThis as unknown as PageGlobals).received)
}

/** Settles as `promise` does, or fails after `ms`: a bound, never a pause. */
async function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_resolve, reject) => { timer = setTimeout(() => reject(new Error(`not done within ${ms} ms: ${what}`)), ms) })
  try {
    return await Promise.race([promise, late])
  } finally {
    clearTimeout(timer)
  }
}

const base64 = (text: string): string => Buffer.from(text).toString('base64')
const STRING = (data: string): { type: 'STRING', data: string } => ({ type: 'STRING', data })

t.test('native WebSocket: a subscription from earliest gets REST-produced records in order, with flow control; a produce from the page is acked and readable over REST', { skip }, async t => {
  const s = await setup(t)
  await createTopic(s, 'rider-updates', 1)
  const produced = [
    { key: STRING('rider-42'), value: { type: 'JSON', data: { name: 'Ada', location: { lat: 51.5, lon: -0.12 } } }, headers: [{ name: 'source', value: base64('rest') }] },
    { key: STRING('rider-7'), value: STRING('héllo, wörld'), headers: [{ name: 'trace', value: base64('t-1') }, { name: 'empty', value: null }, { name: 'trace', value: base64('t-2') }] },
    { value: { type: 'JSON', data: [1, 'two', null] } }
  ]
  // Two records before the page subscribes (history), one after (live), then one from the page.
  for (const record of produced.slice(0, 2)) await produce(s, 'rider-updates', record)

  await openSocket(s.page, `${s.v3}/ws`)
  await sendFrame(s.page, { type: 'subscribe', id: 'tail', topic: 'rider-updates', from: 'earliest', format: 'string', credits: { messages: 1 } })
  let got = await pageHas(s.page, (r, offset) => r.frames.some(f => f.type === 'caught_up' && f.offset === offset), 2)
  t.same(got.frames.find(f => f.type === 'subscribed'), { type: 'subscribed', id: 'tail', topic: 'rider-updates', partitions: [{ partition: 0, offset: 0 }] },
    'subscribed at the log start')

  await produce(s, 'rider-updates', produced[2])
  await sendFrame(s.page, {
    type: 'produce',
    id: 'p1',
    topic: 'rider-updates',
    records: [{ key: STRING('from-browser'), value: { type: 'JSON', data: { by: 'page' } }, headers: [{ name: 'agent', value: base64('chromium') }] }]
  })
  got = await pageHas(s.page, (r, n) => (r.records.tail?.length ?? 0) >= n, 4)

  const now = s.clock.now()
  t.same(got.frames.find(f => f.type === 'ack'), { type: 'ack', id: 'p1', topic: 'rider-updates', results: [{ partition: 0, offset: 3, timestamp: now }] },
    'the page\'s produce is acked with the next offset')
  t.same(got.records.tail, [
    { topic: 'rider-updates', partition: 0, offset: 0, timestamp: now, key: 'rider-42', value: '{"name":"Ada","location":{"lat":51.5,"lon":-0.12}}', headers: [{ name: 'source', value: base64('rest') }] },
    { topic: 'rider-updates', partition: 0, offset: 1, timestamp: now, key: 'rider-7', value: 'héllo, wörld', headers: [{ name: 'trace', value: base64('t-1') }, { name: 'empty', value: null }, { name: 'trace', value: base64('t-2') }] },
    { topic: 'rider-updates', partition: 0, offset: 2, timestamp: now, key: null, value: '[1,"two",null]', headers: [] },
    { topic: 'rider-updates', partition: 0, offset: 3, timestamp: now, key: 'from-browser', value: '{"by":"page"}', headers: [{ name: 'agent', value: base64('chromium') }] }
  ], 'every record, in offset order, with its key, value and headers as produced')
  const batches = got.frames.filter(f => f.type === 'records')
  t.same(batches.map(f => f.records.length), [1, 1, 1, 1], 'one credit at a time: even the two records already in the log came one per frame')
  t.notOk(got.frames.some(f => f.type === 'error'), 'no error frame')

  const fetched = await rest(s, 'GET', `${s.v3}/topics/rider-updates/partitions/0/records?offset=3&format=string`)
  t.equal(fetched.status, 200, 'fetched over REST')
  t.same(fetched.body.records.map((r: RecordView) => ({ offset: r.offset, key: r.key, value: r.value, headers: r.headers })),
    [{ offset: 3, key: 'from-browser', value: '{"by":"page"}', headers: [{ name: 'agent', value: base64('chromium') }] }],
    'REST reads the record the page produced')
})

t.test('native EventSource: live records and a tombstone with their ids; after the server drops the stream, the browser resumes it with Last-Event-ID', { skip }, async t => {
  /** The requests for the event stream, as the server saw them. */
  const streams: Array<{ lastEventId: string | undefined, socket: Socket }> = []
  // The browser's reconnect request: `reconnect` settles when it arrives, and it is held until `release()`.
  let reconnected: () => void = () => {}
  const reconnect = new Promise<void>(resolve => { reconnected = resolve })
  let release: () => void = () => {}
  const held = new Promise<void>(resolve => { release = resolve })
  const s = await setup(t, app => {
    app.addHook('onRequest', async request => {
      if (!request.url.includes('/events')) return
      streams.push({ lastEventId: request.headers['last-event-id'] as string | undefined, socket: request.raw.socket })
      if (streams.length > 1) {
        reconnected()
        await held
      }
    })
  })
  await createTopic(s, 'rides', 3)
  await produce(s, 'rides', { partition_id: 0, value: STRING('before the stream') })

  await s.page.evaluate(path => { (globalThis as unknown as PageGlobals).openEvents(path) }, `${s.v3}/topics/rides/events?format=string`)
  await pageHas(s.page, (r, n) => r.opens >= n, 1)
  // One at a time, each after the page has the previous one, so the order (and with it each id) is fixed.
  const live = [
    { partition_id: 1, key: STRING('rider-1'), value: { type: 'JSON', data: { km: 3.5 } }, headers: [{ name: 'trip', value: base64('t-9') }] },
    { partition_id: 2, key: STRING('rider-2'), value: STRING('arrived') },
    { partition_id: 0, key: STRING('rider-3'), value: STRING('left') },
    { partition_id: 1, key: STRING('rider-1'), value: null }
  ]
  for (const [i, record] of live.entries()) {
    await produce(s, 'rides', record)
    await pageHas(s.page, (r, n) => r.events.length >= n, i + 1)
  }

  // The server drops the connection; the browser reconnects on its own after the stream's `retry:` (3 s).
  // Its request is held until three more records are in the log, so they are all after the resumed position.
  streams[0]?.socket.destroy()
  await pageHas(s.page, (r, n) => r.errors >= n, 1)
  await within(reconnect, 10_000, 'the browser reconnects')
  const resumed = [
    { partition_id: 2, key: STRING('rider-2'), value: STRING('back') },
    { partition_id: 0, key: STRING('rider-4'), value: { type: 'JSON', data: { km: 1 } } },
    { partition_id: 1, key: STRING('rider-5'), value: STRING('new') }
  ]
  for (const record of resumed) await produce(s, 'rides', record)
  release()
  const got = await pageHas(s.page, (r, n) => r.events.length >= n && r.opens >= 2, live.length + resumed.length)

  const now = s.clock.now()
  const event = (type: string, id: string, partition: number, offset: number, key: string, value: string | null, headers: SseRecord['headers'] = []): Received['events'][number] =>
    ({ type, id, data: { topic: 'rides', partition, offset, timestamp: now, key, value, headers } })
  t.same(got.events, [
    event('record', '0:1,1,0', 1, 0, 'rider-1', '{"km":3.5}', [{ name: 'trip', value: base64('t-9') }]),
    event('record', '0:1,1,1', 2, 0, 'rider-2', 'arrived'),
    event('record', '0:2,1,1', 0, 1, 'rider-3', 'left'),
    event('tombstone', '0:2,2,1', 1, 1, 'rider-1', null),
    // Resumed: each partition from the id above, read in partition order.
    event('record', '0:3,2,1', 0, 2, 'rider-4', '{"km":1}'),
    event('record', '0:3,3,1', 1, 2, 'rider-5', 'new'),
    event('record', '0:3,3,2', 2, 1, 'rider-2', 'back')
  ], 'the record from before the stream is not sent; every later one once, in order, with its id; nothing twice after the reconnect')
  t.same(streams.map(r => r.lastEventId), [undefined, '0:2,2,1'], 'the browser sent the last id it received as Last-Event-ID')
  t.equal(got.opens, 2, 'the EventSource opened twice: once, and once on reconnecting')
  await s.page.evaluate(() => { (globalThis as unknown as PageGlobals).closeEvents() })
})

t.test('native WebSocket: a consumer-group member in the page is assigned every partition, gets their records and commits them', { skip }, async t => {
  const s = await setup(t)
  await createTopic(s, 'orders', 2)
  for (const [partition, value] of [[0, 'a0'], [1, 'b0'], [0, 'a1'], [1, 'b1']] as const) await produce(s, 'orders', { partition_id: partition, value: STRING(value) })

  await openSocket(s.page, '/ws')
  await sendFrame(s.page, { type: 'join', id: 'm', group: 'billing', topics: ['orders'], auto_offset_reset: 'earliest', format: 'string', credits: { messages: 10 } })
  let got = await pageHas(s.page, (r, n) => (r.records.m?.length ?? 0) >= n, 4)
  t.match(got.frames.find(f => f.type === 'assigned'), { type: 'assigned', id: 'm', member_id: String, generation_id: Number, partitions: [{ topic: 'orders', partition: 0, offset: 0 }, { topic: 'orders', partition: 1, offset: 0 }] },
    'alone in the group, the page owns both partitions from the start')
  const byPartition = (p: number): unknown[] => (got.records.m ?? []).filter(r => r.partition === p).map(r => [r.offset, r.value])
  t.same([byPartition(0), byPartition(1)], [[[0, 'a0'], [1, 'a1']], [[0, 'b0'], [1, 'b1']]], 'each partition\'s records in offset order')

  await sendFrame(s.page, { type: 'commit', id: 'm' })
  got = await pageHas(s.page, r => r.frames.some(f => f.type === 'committed'), null)
  t.same(got.frames.find(f => f.type === 'committed'), { type: 'committed', id: 'm', offsets: [{ topic: 'orders', partition: 0, offset: 2 }, { topic: 'orders', partition: 1, offset: 2 }] },
    'the commit covers what was delivered')
  const offsets = await rest(s, 'GET', `${s.v3}/consumer-groups/billing/offsets`)
  t.same(offsets.body.data.map((o: { partition_id: number, committed_offset: number }) => [o.partition_id, o.committed_offset]), [[0, 2], [1, 2]], 'REST sees the offsets the page committed')
})
