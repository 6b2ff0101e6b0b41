import fc from 'fast-check'
import { FUZZ_BODY_LIMIT_BYTES } from './fuzz-app.js'
import { encodeSegment } from './encode-segment.js'
import { FIXTURE_GROUP, POOLS } from './http-fixtures.js'
import { BOUNDARY_NUMBERS, hostileValue, NUMERIC_STRINGS, oddString } from './hostile-values.js'
import type { Operation, Parameter, Schema } from './openapi-operations.js'
import { applyChange, SchemaValues, type Hints } from './schema-values.js'

/** A path parameter value standing for the member id the fixture group has at the time of the request. */
export const MEMBER_TOKEN = '@member'

/**
 * One request, before it is written: what fast-check generates, shrinks and
 * prints. `body` is a JSON value (undefined: none); `rawBody`, when set, is
 * sent instead, byte for byte.
 */
export interface RequestModel {
  operationId: string
  /** `valid`, or the mutation that made the request hostile. */
  kind: string
  method: string
  path: string
  /** Path parameters, unencoded; a value in `rawSegments` is sent as is (already percent-encoded, or garbage). */
  params: Record<string, string>
  rawSegments: string[]
  query: Array<[string, string]>
  rawQuery?: string
  headers: Record<string, string | string[]>
  body?: unknown
  rawBody?: string | Buffer
}

/** A request as app.inject takes it. */
export interface WireRequest {
  method: string
  url: string
  headers: Record<string, string | string[]>
  payload?: string | Buffer
}

const ACCEPT_GARBAGE = [
  'garbage', '*/*;q=0', 'application/xml', 'text/html;q=2', ',,,', 'application/json;q=0', 'a/b/c', '*/json', ';', '*/*;q=abc',
  'application/json;q=0.0001, text/plain', 'application/vnd.kafka.avro.v2+json', 'text/event-stream', 'application/json'.repeat(500)
]
const CONTENT_TYPE_GARBAGE = [
  'text/plain', 'application/xml', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/json; charset=utf-16',
  'application/json;;;', 'APPLICATION/JSON', 'application/vnd.kafka.avro.v2+json', 'application/octet-stream', 'application/vnd.kafka.binary.v2+json',
  'application/vnd.kafka.json.v2+json', 'application/vnd.kafka.v2+json', 'application/json, text/plain', '*/*', 'json', ' ', 'application/json; charset=latin1'
]
const RAW_SEGMENTS = ['%', '%zz', '%ED%A0%80', '%00', '%C0%AF', '%FF', '%2F', '..', '.', '%2e%2e', 'a%20b', '~', 'x'.repeat(300), '%E2%80%AE', '%F0%9F%9A%80']
const RAW_QUERIES = ['%%%&&==', '=&=', 'a=%zz', 'offset', 'offset=&offset=', '%00=%00', `${'a=1&'.repeat(2_000)}b=2`, 'format[]=json', '__proto__[x]=1', 'timeout=1&timeout=2&timeout=3']
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS']

/** Turns a valid request into a hostile one. */
type Mutation = (model: RequestModel) => RequestModel

/**
 * Generates requests for every operation of openapi.yaml: valid ones (path
 * parameters from the fixture pools, query parameters and bodies from the
 * schemas) and hostile variations of them. Arbitraries are built once: a
 * run only draws values.
 */
export class RequestGenerator {
  readonly #values: SchemaValues
  readonly #clusterId: fc.Arbitrary<string>
  readonly #valid = new Map<Operation, fc.Arbitrary<RequestModel>>()
  readonly #mutations = new Map<Operation, fc.Arbitrary<Mutation>>()

  constructor (components: Record<string, Schema>, clusterId: string) {
    this.#values = new SchemaValues(components, fieldHints)
    this.#clusterId = mostlyExisting({ existing: [clusterId], other: ['no-such-cluster'] })
  }

  /**
   * One request for one of `operations` (those that read a body twice as
   * often: they have more to get wrong): valid one time in four, else hostile.
   */
  request (operations: readonly Operation[]): fc.Arbitrary<RequestModel> {
    return fc.oneof(...operations.map(op => ({
      weight: op.bodies.length > 0 ? 2 : 1,
      arbitrary: fc.tuple(
        this.valid(op),
        fc.oneof({ weight: 1, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: this.#mutationsFor(op) })
      ).map(([model, mutate]) => mutate === null ? model : mutate(model))
    })))
  }

  #mutationsFor (op: Operation): fc.Arbitrary<Mutation> {
    let arbitrary = this.#mutations.get(op)
    if (arbitrary === undefined) {
      arbitrary = mutations(op)
      this.#mutations.set(op, arbitrary)
    }
    return arbitrary
  }

  valid (op: Operation): fc.Arbitrary<RequestModel> {
    let arbitrary = this.#valid.get(op)
    if (arbitrary === undefined) {
      arbitrary = this.#buildValid(op)
      this.#valid.set(op, arbitrary)
    }
    return arbitrary
  }

  #buildValid (op: Operation): fc.Arbitrary<RequestModel> {
    const byIn = (where: Parameter['in']): Parameter[] => op.parameters.filter(p => p.in === where)
    // An instance lives in one group: the fixture instances' group is the one worth naming with them.
    const instancePath = op.parameters.some(p => p.name === 'instance')
    const params = fc.record(Object.fromEntries(byIn('path').map(p => [p.name, instancePath && p.name === 'group_name'
      ? mostlyExisting({ existing: [FIXTURE_GROUP], other: POOLS.groups.other })
      : this.#pathValue(p)])))
    const query = fc.tuple(...byIn('query').map(p => fc.option(this.#values.valid(p.schema, op.operationId, p.name), { freq: 2 })
      .map(value => queryPairs(p.name, value)))).map(pairs => pairs.flat())
    const headerParams = fc.tuple(...byIn('header').map(p => fc.option(headerValue(p.name), { freq: 2 })
      .map(value => value === null ? [] : [[p.name, value] as const]))).map(pairs => Object.fromEntries(pairs.flat()))
    const accept = fc.option(fc.constantFrom('*/*', ...op.produces), { freq: 3 })
    const body = op.bodies.length === 0
      ? fc.constant(undefined)
      : fc.oneof(...op.bodies.map(b => this.#values.valid(b.schema, '').map(value => ({ contentType: b.contentType, value }))))
    return fc.record({ params, query, headerParams, accept, body }).map(({ params, query, headerParams, accept, body }) => ({
      operationId: op.operationId,
      kind: 'valid',
      method: op.method,
      path: op.path,
      params,
      rawSegments: [],
      query,
      headers: {
        ...headerParams,
        ...(accept === null ? {} : { accept }),
        ...(body === undefined ? {} : { 'content-type': body.contentType })
      },
      ...(body === undefined ? {} : { body: body.value })
    }))
  }

  #pathValue (p: Parameter): fc.Arbitrary<string> {
    switch (p.name) {
      case 'cluster_id': return this.#clusterId
      case 'topic_name': return mostlyExisting(POOLS.topics)
      case 'partition_id': return mostlyExisting(POOLS.partitions).map(String)
      case 'consumer_group_id':
      case 'group_name': return mostlyExisting(POOLS.groups)
      case 'instance': return mostlyExisting(POOLS.instances)
      case 'consumer_id': return mostlyExisting({ existing: [MEMBER_TOKEN], other: ['no-such-member'] })
      case 'name': return mostlyExisting(POOLS.configNames)
      case 'file': return mostlyExisting(POOLS.consoleFiles)
      default: throw new Error(`no pool for path parameter ${p.name}`)
    }
  }
}

/** Values of a header parameter: SSE positions for Last-Event-ID, a few reused keys and fresh ones for the others (Idempotency-Key). */
function headerValue (name: string): fc.Arbitrary<string> {
  return name === 'last-event-id'
    ? fc.constantFrom('0:3,1', '0:1', '', '1:5', '0:99')
    : fc.oneof(fc.constantFrom('key-1', 'key-2'), fc.string({ unit: fc.constantFrom(...'abc-_19'), minLength: 1, maxLength: 12 }))
}

/** A name from a pool, four times in five one that exists. */
export function mostlyExisting<T> (pool: { existing: readonly T[], other: readonly T[] }): fc.Arbitrary<T> {
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...pool.existing) }, { weight: 1, arbitrary: fc.constantFrom(...pool.other) })
}

/** Every way a valid request of `op` is made hostile. */
function mutations (op: Operation): fc.Arbitrary<Mutation> {
  const tag = (model: RequestModel, kind: string, changes: Partial<RequestModel>): RequestModel => ({ ...model, ...changes, kind })
  const withType = (model: RequestModel): Record<string, string | string[]> => ({ 'content-type': 'application/json', ...model.headers })
  const pathNames = op.parameters.filter(p => p.in === 'path').map(p => p.name)
  const queryNames = [...op.parameters.filter(p => p.in === 'query').map(p => p.name), 'unknown', '__proto__']
  const pathMutation = (kind: string, values: fc.Arbitrary<string>, raw: boolean): fc.Arbitrary<Mutation> =>
    fc.tuple(fc.constantFrom(...pathNames), values).map(([name, value]) => (model: RequestModel) =>
      tag(model, `${kind} ${name}`, { params: { ...model.params, [name]: value }, rawSegments: raw ? [name] : [] }))
  const bodyMutations: Array<fc.Arbitrary<Mutation>> = [
    // One value somewhere inside the body changed.
    SchemaValues.change().map(change => (model: RequestModel) => {
      const { value, where } = applyChange(model.body, change)
      return tag(model, `body: ${where}`, { body: value, headers: withType(model) })
    }),
    // The body replaced by bytes that are not the JSON the route reads, or not JSON at all.
    fc.tuple(fc.constantFrom(...RAW_BODIES), fc.nat()).map(([[what, bytes], size]) => (model: RequestModel) =>
      tag(model, `raw body: ${what}`, { rawBody: bytes ?? paddedBody(model.body, size), headers: withType(model) }))
  ]
  const arbitraries: Array<fc.Arbitrary<Mutation>> = [
    ...(op.bodies.length > 0
      ? [...bodyMutations, ...bodyMutations, ...bodyMutations]
      : [hostileValue().map(body => (model: RequestModel) => tag(model, 'unexpected body', { body, headers: withType(model) }))]),
    // Headers: garbage, missing or duplicated Accept and Content-Type; odd others.
    fc.constantFrom(...ACCEPT_GARBAGE).map(accept => (model: RequestModel) => tag(model, 'accept', { headers: { ...model.headers, accept } })),
    fc.constantFrom(...CONTENT_TYPE_GARBAGE).map(type => (model: RequestModel) => tag(model, 'content type', { headers: { ...model.headers, 'content-type': type } })),
    fc.constantFrom('missing', 'duplicated', 'duplicated accept').map(what => (model: RequestModel) => {
      const { 'content-type': contentType = 'application/json', ...others } = model.headers
      if (what === 'missing') return tag(model, 'content type missing', { headers: others })
      if (what === 'duplicated') return tag(model, 'content type duplicated', { headers: { ...others, 'content-type': [String(contentType), 'text/plain'] } })
      return tag(model, 'accept duplicated', { headers: { ...model.headers, accept: ['application/json', 'text/html'] } })
    }),
    fc.constantFrom(...ODD_HEADERS).map(extra => (model: RequestModel) => tag(model, 'odd headers', { headers: { ...model.headers, ...extra } })),
    // Another method on the same path.
    fc.constantFrom(...METHODS.filter(m => m !== op.method)).map(method => (model: RequestModel) => tag(model, 'method', { method })),
    // Query parameters: hostile values for declared ones (sometimes twice), unknown ones, garbage.
    fc.tuple(fc.constantFrom(...queryNames), fc.oneof(hostileValue(), fc.constantFrom(...NUMERIC_STRINGS)), fc.boolean()).map(([name, value, twice]) => (model: RequestModel) =>
      tag(model, `query ${name}`, { query: [...model.query, ...queryPairs(name, value), ...(twice ? queryPairs(name, value) : [])] })),
    fc.constantFrom(...RAW_QUERIES).map(rawQuery => (model: RequestModel) => tag(model, 'raw query', { rawQuery }))
  ]
  if (pathNames.length > 0) {
    // Path parameters: odd unicode, numbers at the edges, percent-encoding that is garbage.
    arbitraries.push(
      pathMutation('path', oddString(), false),
      pathMutation('raw path', fc.constantFrom(...RAW_SEGMENTS), true),
      pathMutation('numeric path', fc.constantFrom(...BOUNDARY_NUMBERS.map(String), ...NUMERIC_STRINGS), false)
    )
  }
  return fc.oneof(...arbitraries)
}

/** Resolves a model into the request app.inject sends; `member` stands in for MEMBER_TOKEN. */
export function wire (model: RequestModel, member: string): WireRequest {
  const path = model.path.replace(/\{([^}]+)\}/g, (_, name: string) => {
    const value = model.params[name] === MEMBER_TOKEN ? member : model.params[name] ?? ''
    return model.rawSegments.includes(name) ? value : encodeSegment(value)
  })
  const query = model.rawQuery ?? model.query.map(([k, v]) => `${encodeSegment(k)}=${encodeSegment(v)}`).join('&')
  const payload = model.rawBody ?? (model.body === undefined ? undefined : JSON.stringify(model.body))
  return { method: model.method, url: query === '' ? path : `${path}?${query}`, headers: model.headers, ...(payload === undefined ? {} : { payload }) }
}

function queryPairs (name: string, value: unknown): Array<[string, string]> {
  if (value === null || value === undefined) return []
  if (Array.isArray(value)) return value.flatMap(v => queryPairs(name, v))
  return [[name, typeof value === 'string' ? value : JSON.stringify(value)]]
}

/** `depth` nested arrays, or a `records` field holding `depth` nested objects, as JSON text (JSON.stringify itself runs out of stack). */
function nestedText (depth: number, arrays: boolean): string {
  return arrays ? '['.repeat(depth) + ']'.repeat(depth) : `{"records":${'{"a":'.repeat(depth)}{}${'}'.repeat(depth)}}`
}

/** The request's body as JSON padded with whitespace to just under, at, or over the body limit. */
function paddedBody (body: unknown, size: number): string {
  const text = JSON.stringify(body ?? {})
  const over = [-1, 0, 1, 1_000][size % 4] as number
  return text + ' '.repeat(Math.max(0, FUZZ_BODY_LIMIT_BYTES + over - Buffer.byteLength(text)))
}

/** Bodies that are not the JSON a route expects, or not JSON at all; null stands for the request's own body padded to the body limit. */
const RAW_BODIES: ReadonlyArray<[string, string | Buffer | null]> = [
  ['empty', ''], ['whitespace', ' \n\t '], ['null', 'null'], ['array', '[]'], ['string', '"records"'], ['number', '1'], ['NaN', 'NaN'],
  ['single quotes', "{'records':[]}"], ['trailing comma', '{"records":[],}'], ['open brace', '{'], ['BOM', '\ufeff{"records":[{"value":1}]}'],
  ['trailing garbage', '{"records":[{"value":1}]}garbage'], ['two objects', '{"value":{"type":"JSON","data":1}}{"records":[]}'],
  ['NDJSON with a bad line', '{"value":{"type":"JSON","data":1}}\n{"nope"\n{"value":null}'],
  ['duplicate keys', '{"records":[{"value":1}],"records":5,"partitions":[],"partitions":{},"topic_name":"fz-new-0","topic_name":7}'],
  ['__proto__', '{"__proto__":{"polluted":true},"records":[{"value":1}],"partitions":[],"offsets":[]}'],
  ['constructor', '{"constructor":{"prototype":{"polluted":true}}}'],
  ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d])], ['NUL bytes', Buffer.from([0x7b, 0x00, 0x7d])],
  ['lone surrogate escapes', '{"records":[{"key":"\\ud800","value":"\\udfff"}],"topics":["\\ud800"],"name":"\\ud800"}'],
  ['escaped NUL', '{"records":[{"key":"\\u0000"}],"topics":["a\\u0000b"],"name":"\\u0000"}'],
  ['number overflow', '{"partitions_count":1e400,"partition":1e400,"offset":-1e400,"records":[{"partition":1e400}]}'],
  ['nested arrays 1000', nestedText(1_000, true)], ['nested arrays 30000', nestedText(30_000, true)],
  ['nested objects 1000', nestedText(1_000, false)], ['nested objects 10000', nestedText(10_000, false)],
  ['near the body limit', null], ['near the body limit', null]
]

const ODD_HEADERS: ReadonlyArray<Record<string, string>> = [
  { upgrade: 'websocket', connection: 'upgrade' },
  { 'transfer-encoding': 'chunked' },
  { 'content-encoding': 'gzip' },
  { 'x-forwarded-proto': 'javascript', 'x-forwarded-host': '\u00ff'.repeat(10) },
  { host: '' },
  { 'last-event-id': '\u00e9\u00e9:-1,,99999999999999999' },
  { expect: '100-continue' }
]

/** Field values the schemas alone would rarely get right: names from the fixture pools, sensible bounds, dates. */
export const fieldHints: Hints = (owner, property) => {
  switch (property) {
    case 'topic_name':
    case 'topic':
    case 'topics[]': return mostlyExisting(POOLS.topics)
    case 'partition_id':
    case 'partition': return mostlyExisting(POOLS.partitions)
    case 'partitions_count': return fc.oneof({ weight: 5, arbitrary: fc.integer({ min: 1, max: 6 }) }, { weight: 1, arbitrary: fc.constantFrom(0, -1, 10_000, 10_001) })
    case 'replication_factor': return fc.constantFrom(1, 1, 1, 3)
    case 'offset': return owner === 'fetchRecords'
      ? fc.constantFrom('earliest', 'latest', '0', '5', '11', '999999', 'timestamp:0')
      : fc.constantFrom(0, 1, 5, 11, 2_000, 2 ** 53 - 2)
    case 'timestamp': return fc.oneof(fc.constantFrom(0, Date.UTC(2026, 0, 1)), fc.constantFrom('2026-01-01T00:00:00Z', '2026-01-01T00:00:00.123+02:00', '1970-01-01T00:00:00Z', '9999-12-31T23:59:59Z'))
    case 'timeout_ms':
    case 'timeout': return fc.constantFrom(0, 1, 100, 1_000)
    case 'max_records': return fc.constantFrom(1, 2, 10, 500)
    case 'group': return mostlyExisting(POOLS.groups)
    case 'partitions': return owner === 'streamTopicEvents' ? fc.constantFrom('0', '0,1', '1,0,1', '7') : undefined
    case 'from': return fc.constantFrom('earliest', 'latest', '0', '3', '99')
    case 'topic_pattern': return fc.constantFrom('fz-.*', 'fz-orders', '.*', 'nothing', '(', '[a-')
    case 'format': return owner === 'V2ConsumerCreateRequest' ? fc.constantFrom('binary', 'json', 'JSON', 'avro', 'xml') : undefined
  }
  if (property === 'headers' && (owner === 'ProduceRequest' || owner === 'ProduceBatchRequest' || owner === 'WsProduceRecord')) {
    return fc.array(fc.record({ name: fc.string({ maxLength: 8 }), value: fc.option(fc.base64String({ maxLength: 12 })) }, { requiredKeys: ['name'] }), { maxLength: 2 })
  }
  // Patterns fast-check's stringMatching would match slowly, or mostly with values the server refuses anyway.
  if (property === 'id' && owner === 'ProduceBatchRequest') return fc.string({ unit: fc.constantFrom(...'ab9_-'), minLength: 1, maxLength: 8 })
  if ((property === 'key' || property === 'value') && owner.startsWith('V2Binary')) return fc.option(fc.base64String({ maxLength: 24 }))
  if (property === 'value' && owner === 'V2RecordHeader') return fc.option(fc.base64String({ maxLength: 12 }))
  if (owner === 'V2ConsumerCreateRequest') {
    switch (property) {
      case 'auto.commit.enable': return fc.constantFrom(true, false, 'true', 'FALSE', ' true ', 'yes')
      case 'fetch.min.bytes':
      case 'responseMinBytes': return fc.constantFrom(-1, 0, 1, 1024, '100', ' -1 ', '99999999999')
      case 'consumer.request.timeout.ms':
      case 'requestWaitMs': return fc.constantFrom(0, 1, 1000, 300_000, '500', ' 0 ', '300001')
    }
  }
  if (property === 'name' && (owner === 'ConfigNameValue' || owner === 'AlterConfigBatchRequest')) return mostlyExisting(POOLS.configNames)
  if (property === 'value' && (owner === 'ConfigNameValue' || owner === 'AlterConfigBatchRequest' || owner === 'UpdateConfigRequest')) return fc.constantFrom(...POOLS.configValues)
  if ((property === 'name' || property === 'id') && owner === 'V2ConsumerCreateRequest') return mostlyExisting(POOLS.instances)
  if (property === '' && owner === 'RecordData') {
    return fc.oneof(
      fc.record({ type: fc.constant('BINARY'), data: fc.oneof(fc.base64String({ maxLength: 24 }), fc.constant(null)) }, { requiredKeys: ['type'] }),
      fc.record({ type: fc.constant('STRING'), data: fc.oneof(fc.string({ maxLength: 20 }), fc.constant(null)) }, { requiredKeys: ['type'] }),
      fc.record({ type: fc.constant('JSON'), data: fc.jsonValue({ maxDepth: 2 }) }, { requiredKeys: ['type'] })
    )
  }
  return undefined
}
