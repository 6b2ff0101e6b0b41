// Writes asyncapi.yaml: the AsyncAPI 3 document of the WebSocket API and of
// the Server-Sent Events endpoint, built from schemas/ws/*.json, the SSE
// schemas and the two routes' own declarations. Run with `npm run asyncapi`;
// test/asyncapi.test.ts fails when the committed asyncapi.yaml is stale.
import { readFileSync, realpathSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { FastifySchema } from 'fastify'
import { stringify } from 'yaml'
import { loadConfig } from '../src/config.js'
import type { LogStore } from '../src/log/log-store.js'
import { buildServer } from '../src/server.js'
import { MAX_BAD_FRAMES, WS_CLOSE } from '../src/ws/close-codes.js'
import type { ClientFrameType, ServerFrame } from '../src/ws/ws-frames.js'
import { CLIENT_FRAME_SCHEMAS, loadWsSchemas, type WsSchema } from '../src/ws/ws-schemas.js'

export const ASYNCAPI_PATH = fileURLToPath(new URL('../asyncapi.yaml', import.meta.url))

const SCHEMAS_DIR = new URL('../schemas/', import.meta.url)
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string, license: string }

const WS_ROUTE = '/v3/clusters/:cluster_id/ws'
const SSE_ROUTE = '/v3/clusters/:cluster_id/topics/:topic_name/events'

/**
 * The server frames that can answer each client frame: the first frame the
 * server sends with the client frame's `id`. Records, caught_up, revoked and
 * later assigned frames follow as deliveries, not replies. test/asyncapi.test.ts
 * checks this table against live sessions.
 */
export const WS_REPLIES: Readonly<Record<ClientFrameType, ReadonlyArray<ServerFrame['type']>>> = {
  produce: ['ack', 'error'],
  subscribe: ['subscribed', 'error'],
  join: ['assigned', 'error'],
  // A credit for an operation the connection has is not answered.
  credit: ['error'],
  commit: ['committed', 'error'],
  seek: ['seeked', 'error'],
  leave: ['left', 'error'],
  unsubscribe: ['unsubscribed', 'error'],
  probe: ['position', 'error'],
  ping: ['pong']
}

/** When each close code of src/ws/close-codes.ts is sent; a code added there without a line here fails `tsc`. */
const CLOSE_CODE_DESCRIPTIONS: Readonly<Record<keyof typeof WS_CLOSE, string>> = {
  GOING_AWAY: 'The server shuts down (after acknowledging the produce frames it has read).',
  POLICY_VIOLATION: `More than ${MAX_BAD_FRAMES} frames that could not be read.`,
  MESSAGE_TOO_BIG: 'A frame larger than `wsMaxFrameBytes`.',
  HEARTBEAT_TIMEOUT: 'Two pings in a row went unanswered (heartbeat timeout).',
  SLOW_CONSUMER: 'Slow consumer: the send buffer stayed above `wsSendBufferBytes` for `wsSlowConsumerTimeoutMs`.'
}

/** The SSE events the endpoint writes (src/ws/sse-events.ts), with the schema of their `data:`. */
const SSE_EVENTS = [
  { message: 'SseRecord', event: 'record', schema: 'SseRecordEvent', withId: true, description: 'One record whose value is not null.' },
  { message: 'SseTombstone', event: 'tombstone', schema: 'SseRecordEvent', withId: true, description: 'One record whose value is null (a tombstone of a compacted topic).' },
  { message: 'SseStreamError', event: 'stream-error', schema: 'SseErrorEvent', withId: false, description: 'The last event of a stream that cannot go on. It has no id: Last-Event-ID still names the position after the last record delivered.' }
] as const

const EVENT_ID_DESCRIPTION = 'The stream\'s position after this record: the next offset of every partition of the stream, as `partition:offset` pairs in ascending partition order, `partition:` left out when it is the previous one plus 1 (`0:12,7,0`). EventSource sends it back as Last-Event-ID when it reconnects.'

const PARAMETERS = {
  cluster_id: { description: 'The id of this server\'s cluster, as GET /v3/clusters lists it.' },
  topic_name: { description: 'The topic to stream.' }
}

type Json = Record<string, unknown>

/** The AsyncAPI 3.0.0 document of the WebSocket and SSE messages, as an object. Opens no log and binds no port. */
export async function buildAsyncapiDocument (): Promise<Json> {
  const routes = await routeSchemas()
  const wsRoute = routes.get(WS_ROUTE)
  const sseRoute = routes.get(SSE_ROUTE)
  if (wsRoute === undefined || sseRoute === undefined) throw new Error(`the app registers no ${wsRoute === undefined ? WS_ROUTE : SSE_ROUTE}`)

  const wsSchemas = loadWsSchemas()
  const components = componentSchemas([...wsSchemas, ...SSE_EVENTS.map(e => readSchema(e.schema))])
  const frames = wsSchemas.filter(schema => frameType(schema) !== undefined)
  const clientIds: readonly string[] = Object.values(CLIENT_FRAME_SCHEMAS)
  const clientFrames = clientIds.map(id => frames.find(schema => schema.$id === id) ?? missing(id))
  const serverFrames = frames.filter(schema => !clientIds.includes(schema.$id))
  const serverFrameId = (type: string): string => serverFrames.find(schema => frameType(schema) === type)?.$id ?? missing(type)

  const wsMessage = (id: string): Json => ({ $ref: `#/channels/websocket/messages/${id}` })
  const sseMessage = (id: string): Json => ({ $ref: `#/channels/topicEvents/messages/${id}` })
  const channelMessages = (ids: string[]): Json => Object.fromEntries(ids.map(id => [id, { $ref: `#/components/messages/${id}` }]))

  const operations: Json = {}
  for (const schema of clientFrames) {
    const type = frameType(schema) as ClientFrameType
    operations[`receive${pascal(type)}`] = {
      action: 'receive',
      channel: { $ref: '#/channels/websocket' },
      summary: `Client frame \`${type}\``,
      messages: [wsMessage(schema.$id)],
      reply: { channel: { $ref: '#/channels/websocket' }, messages: WS_REPLIES[type].map(reply => wsMessage(serverFrameId(reply))) }
    }
  }
  for (const schema of serverFrames) {
    const type = frameType(schema) as string
    operations[`send${pascal(type)}`] = {
      action: 'send',
      channel: { $ref: '#/channels/websocket' },
      summary: `Server frame \`${type}\``,
      messages: [wsMessage(schema.$id)]
    }
  }
  operations.streamTopicEvents = {
    action: 'send',
    channel: { $ref: '#/channels/topicEvents' },
    summary: sseRoute.summary,
    messages: SSE_EVENTS.map(e => sseMessage(e.message)),
    bindings: { http: { method: 'GET', query: sseRoute.querystring, bindingVersion: '0.3.0' } }
  }

  const messages: Json = {}
  for (const schema of frames) {
    messages[schema.$id] = {
      name: frameType(schema),
      title: schema.$id,
      description: schema.description,
      contentType: 'application/json',
      ...('id' in (schema.properties as Json) ? { correlationId: { $ref: '#/components/correlationIds/operationId' } } : {}),
      payload: { $ref: `#/components/schemas/${schema.$id}` }
    }
  }
  for (const e of SSE_EVENTS) {
    messages[e.message] = {
      name: e.event,
      title: e.message,
      description: e.description,
      contentType: 'application/json',
      // The event's other fields, as EventSource hands them over beside `data`.
      headers: {
        type: 'object',
        required: ['event', ...(e.withId ? ['id'] : [])],
        properties: {
          event: { const: e.event },
          ...(e.withId ? { id: { description: EVENT_ID_DESCRIPTION, type: 'string', pattern: '^\\d{1,5}:\\d{1,16}(,(\\d{1,5}:)?\\d{1,16})*$' } } : {})
        }
      },
      payload: { $ref: `#/components/schemas/${e.schema}` }
    }
  }

  const host = `localhost:${loadConfig({ env: {} }).port}`
  const closeCodes = (Object.keys(WS_CLOSE) as Array<keyof typeof WS_CLOSE>)
    .map(name => ({ code: WS_CLOSE[name], name, description: CLOSE_CODE_DESCRIPTIONS[name] }))
    .sort((a, b) => a.code - b.code)
  const sseStreamDescription = ((sseRoute.response as Json)[200] as { content: Record<string, { schema: { description: string } }> })
    .content['text/event-stream']?.schema.description

  return {
    asyncapi: '3.0.0',
    info: {
      title: 'Logway',
      version: pkg.version,
      description: 'The messages of Logway\'s WebSocket API and of its Server-Sent Events endpoint. The REST API is described by openapi.yaml.',
      license: { name: pkg.license }
    },
    defaultContentType: 'application/json',
    servers: {
      logway: {
        host,
        protocol: 'ws',
        description: 'A Logway server at its default port: the WebSocket API.'
      },
      logwayHttp: {
        host,
        protocol: 'http',
        description: 'The same server\'s HTTP API, where the Server-Sent Events stream.'
      }
    },
    channels: {
      websocket: {
        address: WS_ROUTE.replace(/:(\w+)/g, '{$1}'),
        title: 'WebSocket session',
        description: [
          wsRoute.description,
          'The same session is served at `/ws`, without a cluster id. Every frame is a JSON text frame; operations are tagged with the `id` the client picks.',
          'The server closes a session with these codes:',
          ['| close code | when |', '| --- | --- |', ...closeCodes.map(c => `| ${c.code} | ${c.description} |`)].join('\n')
        ].join('\n\n'),
        servers: [{ $ref: '#/servers/logway' }],
        parameters: { cluster_id: PARAMETERS.cluster_id },
        messages: channelMessages([...clientFrames, ...serverFrames].map(schema => schema.$id)),
        bindings: { ws: { method: 'GET', bindingVersion: '0.1.0' } },
        'x-close-codes': closeCodes
      },
      topicEvents: {
        address: SSE_ROUTE.replace(/:(\w+)/g, '{$1}'),
        title: 'Server-Sent Events of a topic',
        description: [sseRoute.description, sseStreamDescription].join('\n\n'),
        servers: [{ $ref: '#/servers/logwayHttp' }],
        parameters: PARAMETERS,
        messages: channelMessages(SSE_EVENTS.map(e => e.message))
      }
    },
    operations,
    components: {
      schemas: components,
      messages,
      correlationIds: {
        operationId: {
          description: 'The operation a frame belongs to: the client picks the id in produce, subscribe and join frames, and every reply and delivery of that operation carries it.',
          location: '$message.payload#/id'
        }
      }
    }
  }
}

/** asyncapi.yaml as `npm run asyncapi` writes it. */
export async function generateAsyncapiYaml (): Promise<string> {
  return stringify(await buildAsyncapiDocument(), { lineWidth: 0, aliasDuplicateObjects: false })
}

/** The schema of each route the app registers, by URL, as the route declares it. */
async function routeSchemas (): Promise<Map<string, FastifySchema>> {
  const schemas = new Map<string, FastifySchema>()
  // Generation only registers routes: it never touches the log.
  const app = buildServer(loadConfig({ flags: { logLevel: 'silent' } }), {
    store: {} as LogStore,
    beforeRoutes: app => app.addHook('onRoute', route => { if (route.schema !== undefined) schemas.set(route.url, route.schema) })
  })
  try {
    await app.ready()
  } finally {
    await app.close()
  }
  return schemas
}

/**
 * The given schemas and every schema of schemas/ they refer to, by name, as
 * AsyncAPI components: without `$id`, each `Name#pointer` reference rewritten
 * to `#/components/schemas/Name` + pointer.
 */
function componentSchemas (roots: WsSchema[]): Json {
  const byName = new Map(roots.map(schema => [schema.$id, schema]))
  const components: Json = {}
  const pending = [...byName.keys()]
  for (let name = pending.shift(); name !== undefined; name = pending.shift()) {
    if (name in components) continue
    const schema = byName.get(name) ?? readSchema(name)
    const { $id: _id, ...rest } = schema
    components[name] = rewriteRefs(rest, name, target => pending.push(target))
  }
  return Object.fromEntries(Object.entries(components).sort(([a], [b]) => a.localeCompare(b)))
}

function rewriteRefs (value: unknown, self: string, onRef: (name: string) => void): unknown {
  if (Array.isArray(value)) return value.map(item => rewriteRefs(item, self, onRef))
  if (value === null || typeof value !== 'object') return value
  return Object.fromEntries(Object.entries(value).map(([key, item]) => {
    if (key !== '$ref' || typeof item !== 'string') return [key, rewriteRefs(item, self, onRef)]
    const [name = '', pointer = ''] = item.split('#')
    const target = name === '' ? self : name
    onRef(target)
    return [key, `#/components/schemas/${target}${pointer}`]
  }))
}

function readSchema (name: string): WsSchema {
  return JSON.parse(readFileSync(new URL(`${name}.json`, SCHEMAS_DIR), 'utf8')) as WsSchema
}

/** The `type` a frame schema fixes (`const`); undefined for the schemas of parts of frames. */
function frameType (schema: WsSchema): string | undefined {
  const type = (schema.properties as Record<string, { const?: unknown }> | undefined)?.type?.const
  return typeof type === 'string' ? type : undefined
}

function pascal (type: string): string {
  return type.split('_').map(word => word.charAt(0).toUpperCase() + word.slice(1)).join('')
}

function missing (what: string): never {
  throw new Error(`schemas/ws/ has no frame schema for ${what}`)
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(ASYNCAPI_PATH, await generateAsyncapiYaml())
  console.log(`wrote ${ASYNCAPI_PATH}`)
}
