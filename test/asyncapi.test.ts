import { readdirSync, readFileSync } from 'node:fs'
import specs from '@asyncapi/specs'
import { Ajv, type ValidateFunction } from 'ajv'
import t from 'tap'
import { parse } from 'yaml'
import { ASYNCAPI_PATH, generateAsyncapiYaml } from '../scripts/generate-asyncapi.js'
import { ManualClock } from '../src/clock.js'
import { MAX_BAD_FRAMES, WS_CLOSE } from '../src/ws/close-codes.js'
import type { ClientFrameType, ServerFrame } from '../src/ws/ws-frames.js'
import { CLIENT_FRAME_SCHEMAS, sharedFrameReader } from '../src/ws/ws-schemas.js'
import { buildTestServer } from './helpers/build-test-server.js'
import { fakeLogStore } from './helpers/fake-log-store.js'
import { listen as listenHttp, SseClient } from './ws/sse-client.js'
import { listen, TestClient, until } from './ws/ws-test-client.js'

interface Ref { $ref: string }
interface Operation { action: 'send' | 'receive', channel: Ref, messages: Ref[], reply?: { channel: Ref, messages: Ref[] } }
interface Channel {
  address: string
  parameters?: Record<string, unknown>
  messages: Record<string, Ref>
  'x-close-codes'?: Array<{ code: number, name: string, description: string }>
}
interface AsyncapiDocument {
  asyncapi: string
  info: { title: string, version: string }
  channels: Record<string, Channel>
  operations: Record<string, Operation>
  components: { schemas: Record<string, unknown>, messages: Record<string, { name: string, payload: Ref }> }
}

const committed = readFileSync(ASYNCAPI_PATH, 'utf8')
const doc = parse(committed) as AsyncapiDocument
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
const WS_SCHEMAS_DIR = new URL('../schemas/ws/', import.meta.url)

/** The value a local reference (`#/a/b`) points to in the document; undefined when it points to nothing. */
function resolve (ref: string): unknown {
  if (!ref.startsWith('#/')) return undefined
  let node: unknown = doc
  for (const part of ref.slice(2).split('/').map(p => decodeURIComponent(p).replace(/~1/g, '/').replace(/~0/g, '~'))) {
    if (node === null || typeof node !== 'object' || !Object.hasOwn(node, part)) return undefined
    node = (node as Record<string, unknown>)[part]
  }
  return node
}

/**
 * The document's messages compiled as the live frame reader compiles the
 * frame schemas (no coercion, no defaults, no stripping): each message's
 * `payload` (and `headers`, for SSE events) as the document states them.
 */
const DOC_KEY = 'asyncapi.yaml'
const docAjv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: false, removeAdditional: false, strict: false })
docAjv.addSchema(doc, DOC_KEY)

interface MessageCheck { ref: string, name: string, payload: ValidateFunction, headers: ValidateFunction | undefined }

/** The messages of a channel, keyed by the reference operations use (`#/channels/<c>/messages/<m>`). */
function channelMessages (channel: string): Map<string, MessageCheck> {
  const checks = new Map<string, MessageCheck>()
  for (const [key, { $ref }] of Object.entries(doc.channels[channel]?.messages ?? {})) {
    const message = resolve($ref) as { name: string, headers?: unknown }
    checks.set(`#/channels/${channel}/messages/${key}`, {
      ref: $ref,
      name: message.name,
      payload: docAjv.getSchema(`${DOC_KEY}${$ref}/payload`) as ValidateFunction,
      headers: message.headers === undefined ? undefined : docAjv.getSchema(`${DOC_KEY}${$ref}/headers`) as ValidateFunction
    })
  }
  return checks
}

/** The messages of the operations on `channel` with `action`. */
function operationMessages (channel: string, action: Operation['action']): MessageCheck[] {
  const messages = channelMessages(channel)
  return Object.values(doc.operations)
    .filter(op => op.channel.$ref === `#/channels/${channel}` && op.action === action)
    .flatMap(op => op.messages.map(m => messages.get(m.$ref) as MessageCheck))
}

const matching = (messages: MessageCheck[], payload: unknown): MessageCheck[] => messages.filter(m => m.payload(payload))

t.test('the committed asyncapi.yaml is what the generator writes now', async t => {
  const generated = await generateAsyncapiYaml()
  if (generated !== committed) {
    t.fail('asyncapi.yaml is out of date with schemas/ws, the SSE schemas or the routes: run `npm run asyncapi` and commit the result', {
      diff: firstDifference(committed, generated)
    })
  } else {
    t.pass('asyncapi.yaml is up to date')
  }
})

t.test('asyncapi.yaml is valid against the official AsyncAPI 3.0.0 JSON Schema, and every $ref resolves', async t => {
  // The official schema embeds draft-07's meta-schema itself, so ajv's own copy must stay out.
  const ajv = new Ajv({ meta: false, validateSchema: false, allErrors: true, strict: false })
  ajv.addFormat('regex', { validate: (text: string) => { try { return new RegExp(text, 'u') instanceof RegExp } catch { return false } } })
  ajv.addFormat('uri', { validate: (text: string) => URL.canParse(text) })
  // Checked below by resolving every $ref; the document has no e-mail address or URI template.
  for (const format of ['uri-reference', 'uri-template', 'email']) ajv.addFormat(format, true)
  const validate = ajv.compile(specs.schemas['3.0.0'])

  t.equal(doc.asyncapi, '3.0.0')
  t.equal(doc.info.title, 'Logway')
  t.equal(doc.info.version, pkg.version, 'info.version is the package version')
  t.ok(validate(doc), 'the committed document is valid', { errors: validate.errors })

  const { info: _info, ...withoutInfo } = structuredClone(doc)
  t.notOk(validate(withoutInfo), 'a copy without info is rejected')
  const publish = structuredClone(doc)
  const [firstOperation] = Object.values(publish.operations)
  Object.assign(firstOperation ?? {}, { action: 'publish' })
  t.notOk(validate(publish), 'a copy with an AsyncAPI 2 action (publish) is rejected')

  const refs = [...committed.matchAll(/\$ref: "?([^"\n]+)"?/g)].map(m => m[1] ?? '')
  t.ok(refs.length > 50, 'the document is made of references')
  const dangling = refs.filter(ref => resolve(ref) === undefined)
  t.same(dangling, [], 'every $ref points into the document')

  for (const [name, channel] of Object.entries(doc.channels)) {
    const inAddress = [...channel.address.matchAll(/\{(\w+)\}/g)].map(m => m[1]).sort()
    t.same(Object.keys(channel.parameters ?? {}).sort(), inAddress, `channel ${name}: a parameter for each {name} of its address`)
  }
})

t.test('every frame of schemas/ws is a message, client frames received and server frames sent; close codes are documented', async t => {
  const files = readdirSync(WS_SCHEMAS_DIR).filter(name => name.endsWith('.json'))
  const schemas = files.map(name => JSON.parse(readFileSync(new URL(name, WS_SCHEMAS_DIR), 'utf8')) as { $id: string, properties: { type?: { const?: string } } })
  const received = operationMessages('websocket', 'receive')
  const sent = operationMessages('websocket', 'send')

  for (const schema of schemas) {
    t.ok(schema.$id in doc.components.schemas, `${schema.$id} is in components.schemas`)
    const type = schema.properties.type?.const
    if (type === undefined) {
      // A part of frames (a record, a credit grant): reached through the frames that hold it.
      t.ok(committed.includes(`$ref: "#/components/schemas/${schema.$id}"`), `${schema.$id} is referred to by a frame`)
      continue
    }
    const client = Object.values(CLIENT_FRAME_SCHEMAS).includes(schema.$id)
    const [message] = (client ? received : sent).filter(m => m.ref === `#/components/messages/${schema.$id}`)
    t.equal(message?.name, type, `${schema.$id} is the message ${type}, ${client ? 'received' : 'sent'} by the server`)
  }
  for (const [type, id] of Object.entries(CLIENT_FRAME_SCHEMAS)) {
    t.ok(received.some(m => m.name === type && m.ref === `#/components/messages/${id}`), `client frame ${type} is a message Logway receives`)
  }
  t.same(Object.values(doc.components.messages).map(m => m.payload.$ref.replace('#/components/schemas/', '')).filter(id => !id.startsWith('Sse')).sort(),
    schemas.filter(s => s.properties.type?.const !== undefined).map(s => s.$id).sort(), 'no other WebSocket message')

  const closeCodes = doc.channels.websocket?.['x-close-codes'] ?? []
  t.same(closeCodes.map(c => c.code).sort(), Object.values(WS_CLOSE).sort(), 'every close code of src/ws/close-codes.ts')
  for (const { code } of closeCodes) t.match(doc.channels.websocket, { description: new RegExp(`\\| ${code} \\| .+ \\|`) }, `${code} is in the channel's description`)
})

/** Frames the live reader accepts, at least one of each client frame type (a new type without samples fails `tsc`). */
const VALID_FRAMES: Readonly<Record<ClientFrameType, readonly object[]>> = {
  produce: [
    { type: 'produce', id: 'p', topic: 'orders', records: [{ value: { type: 'JSON', data: { a: [1, null] } } }] },
    {
      type: 'produce',
      id: 'p',
      topic: 'orders',
      partition: 1,
      records: [
        { key: { type: 'STRING', data: 'k' }, value: null, headers: [{ name: 'h', value: 'aGk=' }, { name: 'n', value: null }], partition: 0, timestamp: 1_700_000_000_000 },
        { key: { type: 'BINARY', data: 'AAE=' }, timestamp: '2024-01-02T03:04:05.000Z' }
      ]
    }
  ],
  subscribe: [
    { type: 'subscribe', id: 's', topic: 'orders', from: 'earliest' },
    { type: 'subscribe', id: 's', topic: 'orders', partitions: [0, 2], from: { offset: 5 }, format: 'json', credits: { messages: 10, bytes: 1000 } },
    { type: 'subscribe', id: 's', topic: 'orders', from: { timestamp: 0 }, credits: {} }
  ],
  join: [
    { type: 'join', id: 'm', group: 'g', topics: ['orders'] },
    { type: 'join', id: 'm', group: 'g', topics: ['a', 'b'], auto_offset_reset: 'none', session_timeout_ms: 6000, format: 'string', credits: { bytes: 1 }, auto_commit: true }
  ],
  credit: [{ type: 'credit', id: 's', messages: 1 }, { type: 'credit', id: 's', bytes: 0 }],
  commit: [{ type: 'commit', id: 'm' }, { type: 'commit', id: 'm', offsets: [{ topic: 'orders', partition: 0, offset: 3 }] }],
  seek: [{ type: 'seek', id: 's', topic: 'orders', partition: 0, offset: 0 }],
  leave: [{ type: 'leave', id: 'm' }],
  unsubscribe: [{ type: 'unsubscribe', id: 's' }],
  probe: [{ type: 'probe', id: 's' }],
  ping: [{ type: 'ping' }, { type: 'ping', id: 'x' }]
}

const REPLACEMENTS: readonly unknown[] = [null, -1, 0.5, 0, '', 'x', 'earliest', 1e13, true, [], [1], {}, { type: 'JSON' }]

/** Every copy of `value` with one change: a field removed, a field added, or one value replaced. */
function mutations (value: unknown): unknown[] {
  const out: unknown[] = REPLACEMENTS.filter(r => JSON.stringify(r) !== JSON.stringify(value))
  if (Array.isArray(value)) {
    out.push([])
    value.forEach((item, i) => {
      for (const changed of mutations(item)) out.push(value.map((other, j) => j === i ? changed : other))
      out.push(value.filter((_other, j) => j !== i))
    })
  } else if (value !== null && typeof value === 'object') {
    out.push({ ...value, unknown_field: 1 })
    for (const [key, item] of Object.entries(value)) {
      const { [key]: _removed, ...rest } = value as Record<string, unknown>
      out.push(rest)
      for (const changed of mutations(item)) out.push({ ...value, [key]: changed })
    }
  }
  return out
}

t.test('client frames: the document\'s messages accept exactly the frames the live FrameReader accepts', async t => {
  const reader = sharedFrameReader()
  const messages = operationMessages('websocket', 'receive')
  const disagreements: unknown[] = []
  const ambiguous: unknown[] = []
  const odd = [null, [], 'produce', 1, {}, { type: 'nope', id: 'x' }, { type: 1, id: 'x' }, { type: 'ack', id: 'x', topic: 'orders', results: [] }]
  for (const [type, samples] of Object.entries(VALID_FRAMES)) {
    let accepted = 0
    let rejected = 0
    for (const frame of [...samples, ...samples.flatMap(mutations), ...odd]) {
      const live = reader.read(JSON.stringify(frame)).ok
      const matches = matching(messages, frame)
      if (matches.length > 1) ambiguous.push({ frame, messages: matches.map(m => m.name) })
      if (live !== (matches.length === 1)) disagreements.push({ frame, live, document: matches.map(m => m.name) })
      if (live && matches[0]?.name !== (frame as { type?: unknown }).type) disagreements.push({ frame, matched: matches[0]?.name })
      if (live) accepted++
      else rejected++
    }
    t.ok(accepted >= samples.length && rejected > 20, `${type}: ${accepted} frames accepted and ${rejected} rejected by both`)
  }
  t.same(disagreements, [], 'no frame that one accepts and the other rejects')
  t.same(ambiguous, [], 'a frame matches one message at most, as AsyncAPI requires')
})

t.test('server frames of real sessions match their messages, and each reply is one its operation declares', async t => {
  const clock = new ManualClock()
  const app = buildTestServer(t, {}, { clock })
  const log = await app.getLog()
  await log.createTopic('orders', { partitions: 2 })
  const base = await listen(app)
  const a = await TestClient.open(t, app, base)
  const b = await TestClient.open(t, app, base)
  const exchanges: Array<{ frame: { type: string, id: string }, reply: ServerFrame }> = []

  /** Sends a client frame and returns the first frame sent after it with its id. */
  async function request (client: TestClient, frame: { type: string, id: string, [field: string]: unknown }): Promise<ServerFrame> {
    const before = client.received.length
    client.send(frame)
    const reply = (): ServerFrame | undefined => client.received.slice(before).find(f => 'id' in f && f.id === frame.id)
    await until(() => reply() !== undefined, `a reply to ${frame.type} ${frame.id}`)
    exchanges.push({ frame, reply: reply() as ServerFrame })
    return reply() as ServerFrame
  }

  t.match(await request(a, { type: 'produce', id: 'p1', topic: 'orders', records: [{ key: { type: 'STRING', data: 'k' }, value: { type: 'JSON', data: { n: 1 } }, headers: [{ name: 'h', value: 'aGk=' }] }, { value: { type: 'STRING', data: 'v' }, partition: 0 }] }), { type: 'ack' })
  t.match(await request(a, { type: 'produce', id: 'p2', topic: 'missing', records: [{ value: null }] }), { type: 'error', code: 'UNKNOWN_TOPIC_OR_PARTITION' })
  t.match(await request(a, { type: 'subscribe', id: 's', topic: 'orders', partitions: [0], from: 'earliest', format: 'string', credits: { messages: 100 } }), { type: 'subscribed' })
  await a.nextOf('records', 's')
  await a.nextOf('caught_up', 's')
  t.match(await request(a, { type: 'probe', id: 's' }), { type: 'position' })
  t.match(await request(a, { type: 'seek', id: 's', topic: 'orders', partition: 0, offset: 0 }), { type: 'seeked' })
  await a.nextOf('caught_up', 's')
  t.match(await request(a, { type: 'credit', id: 'nope', messages: 1 }), { type: 'error', code: 'INVALID_REQUEST' })
  t.match(await request(a, { type: 'commit', id: 's' }), { type: 'error', code: 'INVALID_REQUEST' }, 'a subscription does not commit')
  t.match(await request(a, { type: 'unsubscribe', id: 's' }), { type: 'unsubscribed' })
  // Members without credits: nothing is delivered, so their replies are the next frames with their ids.
  t.match(await request(a, { type: 'join', id: 'm', group: 'g', topics: ['orders'], auto_offset_reset: 'earliest' }), { type: 'assigned' })
  t.match(await request(a, { type: 'commit', id: 'm' }), { type: 'committed' })
  t.match(await request(b, { type: 'join', id: 'o', group: 'g', topics: ['orders'] }), { type: 'assigned' })
  await a.nextOf('revoked', 'm')
  await a.nextOf('assigned', 'm')
  t.match(await request(a, { type: 'leave', id: 'm' }), { type: 'left' })
  t.match(await request(b, { type: 'ping', id: 'pi' }), { type: 'pong' })
  b.send({ type: 'ping' })
  await b.next(f => f.type === 'pong' && !('id' in f), true)
  // Not a message of the document, so not an exchange: the error answers a frame no operation receives.
  b.send({ type: 'produce', id: 'bad' })
  t.match(await b.nextOf('error', 'bad'), { code: 'INVALID_REQUEST' }, 'a frame that breaks its schema')
  for (let i = 0; i <= MAX_BAD_FRAMES; i++) a.send('not json')
  const { code } = await a.whenClosed()

  const sent = operationMessages('websocket', 'send')
  const frames = [...a.received, ...b.received]
  const unmatched = frames.filter(frame => {
    const matches = matching(sent, frame)
    return matches.length !== 1 || matches[0]?.name !== frame.type
  })
  t.same(unmatched, [], `each of the ${frames.length} frames sent matches exactly one message of its type`)
  t.same([...new Set(frames.map(f => f.type))].sort(), [...new Set(sent.map(m => m.name))].sort(), 'the sessions saw every server message of the document')

  const websocket = channelMessages('websocket')
  for (const { frame, reply } of exchanges) {
    const operations = Object.values(doc.operations).filter(op => op.action === 'receive' && op.messages.some(m => websocket.get(m.$ref)?.payload(frame) === true))
    t.equal(operations.length, 1, `one operation receives ${frame.type}`)
    const replies = (operations[0]?.reply?.messages ?? []).map(m => websocket.get(m.$ref) as MessageCheck)
    t.equal(matching(replies, reply).length, 1, `${frame.type} ${frame.id} is answered by ${reply.type}, a reply its operation declares`)
  }

  t.equal(code, WS_CLOSE.POLICY_VIOLATION)
  t.ok(doc.channels.websocket?.['x-close-codes']?.some(c => c.code === code), `the close code ${code} is documented`)
})

t.test('events of a real SSE stream match the SSE messages: data as payload, event and id as headers', async t => {
  const app = buildTestServer(t, {}, { clock: new ManualClock() })
  const log = await app.getLog()
  await log.createTopic('rides', { partitions: 2 })
  await log.append('rides', 0, [
    { key: Buffer.from('"rider-1"'), value: Buffer.from('{"at":"north"}'), headers: [{ key: 'trace', value: Buffer.from('a1') }, { key: 'empty', value: null }] },
    { key: Buffer.from('"rider-1"'), value: null }
  ])
  await log.append('rides', 1, [{ value: Buffer.from('not json') }])
  const base = await listenHttp(app)
  const client = await SseClient.open(`${base}/v3/clusters/${log.clusterId}/topics/rides/events?from=earliest&format=json`)
  t.teardown(() => client.close())
  t.equal(client.status, 200)
  const events = await client.events(3)
  t.same(events.map(e => e.event), ['record', 'tombstone', 'stream-error'])

  const messages = operationMessages('topicEvents', 'send')
  for (const event of events) {
    const fields = { event: event.event, ...(event.id === undefined ? {} : { id: event.id }) }
    const matches = messages.filter(m => m.headers?.(fields) === true && m.payload(JSON.parse(event.data)))
    t.same(matches.map(m => m.name), [event.event], `the ${event.event} event (id ${event.id ?? 'none'}) matches its message only`)
  }
  t.same(messages.map(m => m.name).sort(), [...new Set(events.map(e => e.event))].sort(), 'the stream showed every SSE message of the document')
})

t.test('GET /asyncapi.yaml and /asyncapi.json serve the committed document', async t => {
  const app = buildTestServer(t, {}, { store: fakeLogStore().store })

  const yaml = await app.inject('/asyncapi.yaml')
  t.equal(yaml.statusCode, 200)
  t.match(yaml.headers['content-type'], /^application\/yaml; charset=utf-8/)
  t.equal(yaml.body, committed, 'byte for byte')

  const text = await app.inject({ url: '/asyncapi.yaml', headers: { accept: 'text/plain' } })
  t.equal(text.statusCode, 200)
  t.match(text.headers['content-type'], /^text\/plain/, 'the media type the Accept header prefers')
  t.equal(text.body, committed)

  const json = await app.inject('/asyncapi.json')
  t.equal(json.statusCode, 200)
  t.match(json.headers['content-type'], /^application\/json/)
  t.same(json.json(), doc, 'the same document as JSON')
})

function firstDifference (a: string, b: string): string {
  const left = a.split('\n')
  const right = b.split('\n')
  const line = left.findIndex((text, i) => text !== right[i])
  const at = line < 0 ? left.length : line
  return at >= Math.max(left.length, right.length) ? 'no line differs' : `line ${at + 1}: committed ${JSON.stringify(left[at])}, generated ${JSON.stringify(right[at])}`
}
