import type { FastifyInstance, LightMyRequestResponse } from 'fastify'

export const V2 = 'application/vnd.kafka.v2+json'
export const BINARY = 'application/vnd.kafka.binary.v2+json'
export const JSON_TYPE = 'application/vnd.kafka.json.v2+json'

export interface ConsumedRecord {
  topic: string
  key: unknown
  value: unknown
  partition: number
  offset: number
  timestamp: number
  headers: Array<{ name: string, value: string | null }>
}

/** One request to the app; a body is sent as Confluent's v2 JSON type unless headers say otherwise. */
export async function call (app: FastifyInstance, method: 'GET' | 'POST' | 'DELETE', url: string, body?: unknown, headers: Record<string, string> = {}): Promise<LightMyRequestResponse> {
  return await app.inject({
    method,
    url,
    headers: { ...(body === undefined ? {} : { 'content-type': V2 }), ...headers },
    ...(body === undefined ? {} : { payload: typeof body === 'string' ? body : JSON.stringify(body) })
  })
}

/** A Confluent REST Proxy v2 consumer instance, driven through app.inject as a client would. */
export class V2Consumer {
  readonly app: FastifyInstance
  readonly group: string
  readonly name: string
  readonly format: 'binary' | 'json'

  constructor (app: FastifyInstance, group: string, name: string, format: 'binary' | 'json') {
    this.app = app
    this.group = group
    this.name = name
    this.format = format
  }

  /** Creates an instance; throws unless the answer is 200. */
  static async create (app: FastifyInstance, group: string, settings: Record<string, unknown> = {}): Promise<V2Consumer> {
    const res = await call(app, 'POST', `/consumers/${encodeURIComponent(group)}`, settings)
    if (res.statusCode !== 200) throw new Error(`create consumer in ${group}: ${res.statusCode} ${res.body}`)
    const { instance_id: name } = res.json() as { instance_id: string }
    return new V2Consumer(app, group, name, settings.format === 'json' ? 'json' : 'binary')
  }

  get url (): string {
    return `/consumers/${encodeURIComponent(this.group)}/instances/${encodeURIComponent(this.name)}`
  }

  async request (method: 'GET' | 'POST' | 'DELETE', path: string, body?: unknown, headers?: Record<string, string>): Promise<LightMyRequestResponse> {
    return await call(this.app, method, `${this.url}${path}`, body, headers)
  }

  async subscribe (topics: string[]): Promise<LightMyRequestResponse> {
    return await this.request('POST', '/subscription', { topics })
  }

  /** GET …/records; resolves with the raw answer (for status checks). */
  async fetch (query: { timeout?: number, max_bytes?: number } = {}, accept?: string): Promise<LightMyRequestResponse> {
    const search = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)])).toString()
    return await this.request('GET', `/records${search === '' ? '' : `?${search}`}`, undefined, { accept: accept ?? (this.format === 'json' ? JSON_TYPE : BINARY) })
  }

  /** GET …/records; throws unless 200. */
  async records (query: { timeout?: number, max_bytes?: number } = {}): Promise<ConsumedRecord[]> {
    const res = await this.fetch(query)
    if (res.statusCode !== 200) throw new Error(`records of ${this.name}: ${res.statusCode} ${res.body}`)
    return res.json() as ConsumedRecord[]
  }

  /** POST …/offsets, with the offsets of the last records consumed, or none (commit everything consumed). */
  async commit (offsets?: Array<{ topic: string, partition: number, offset: number, metadata?: string }>): Promise<LightMyRequestResponse> {
    return await this.request('POST', '/offsets', offsets === undefined ? undefined : { offsets })
  }

  /** The group's committed offsets (GET with a JSON body, as Confluent): next offsets to consume, by "topic-partition". */
  async committed (partitions: Array<{ topic: string, partition: number }>): Promise<Record<string, number>> {
    const res = await this.request('GET', '/offsets', { partitions })
    if (res.statusCode !== 200) throw new Error(`offsets of ${this.name}: ${res.statusCode} ${res.body}`)
    const { offsets } = res.json() as { offsets: Array<{ topic: string, partition: number, offset: number }> }
    return Object.fromEntries(offsets.map(o => [`${o.topic}-${o.partition}`, o.offset]))
  }

  async assignments (): Promise<string[]> {
    const res = await this.request('GET', '/assignments')
    if (res.statusCode !== 200) throw new Error(`assignments of ${this.name}: ${res.statusCode} ${res.body}`)
    return (res.json() as { partitions: Array<{ topic: string, partition: number }> }).partitions.map(p => `${p.topic}-${p.partition}`)
  }

  async delete (): Promise<LightMyRequestResponse> {
    return await this.request('DELETE', '')
  }
}
