import { join } from 'node:path'
import type { Test } from 'tap'
import { loadConfig, type Config } from '../../src/config.js'
import { buildServer } from '../../src/server.js'
import { installResponseContract } from '../helpers/response-contract.js'

// The server side of the CLI tests, apart from cli-harness.ts so that tests which start no server (help.test.ts) do not load it.

/**
 * A real server on 127.0.0.1, port 0, with its own data dir and the real
 * clock (long-polls and consumer instances wait in real time), every
 * response checked against its route's declared contract. Closed at teardown.
 * Answers its base URL.
 */
export async function startServer (t: Test, overrides: Partial<Config> = {}): Promise<string> {
  const app = buildServer({
    ...loadConfig({ env: {} }),
    dataDir: join(t.testdir(), 'data'),
    logLevel: 'silent',
    retentionCheckIntervalMs: 0,
    ...overrides
  })
  installResponseContract(app, ({ method, url, status, problem }) => t.fail(`response contract: ${method} ${url} answered ${status}: ${problem}`))
  t.teardown(async () => await app.close())
  const url = await app.listen({ host: '127.0.0.1', port: 0 })
  await app.getLog()
  return url
}

/** A record to seed a topic with through the REST API (test setup that is not under test). */
export interface SeedRecord {
  partition?: number
  key?: string
  value: string
  headers?: Record<string, string>
}

/** Calls the server's REST API; fails `t` unless the answer is 2xx. Answers the JSON body. */
export async function api<T = unknown> (t: Test, server: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await fetch(`${server}${path}`, {
    method,
    ...(body === undefined ? {} : { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
  })
  const text = await res.text()
  t.ok(res.ok, `${method} ${path} answered ${res.status} ${text}`)
  return (text === '' ? undefined : JSON.parse(text)) as T
}

/** `/v3/clusters/<id>` of the server. */
export async function clusterPath (t: Test, server: string): Promise<string> {
  const list = await api<{ data: Array<{ cluster_id: string }> }>(t, server, 'GET', '/v3/clusters')
  return `/v3/clusters/${list.data[0]?.cluster_id ?? ''}`
}

/** Creates a topic (with `configs`) and produces `records` to it (as STRING keys and values) through the REST API. */
export async function seedTopic (t: Test, server: string, topic: string, partitions: number, records: SeedRecord[] = [], configs: Record<string, string> = {}): Promise<void> {
  const cluster = await clusterPath(t, server)
  await api(t, server, 'POST', `${cluster}/topics`, {
    topic_name: topic,
    partitions_count: partitions,
    configs: Object.entries(configs).map(([name, value]) => ({ name, value }))
  })
  await seedRecords(t, server, topic, records)
}

/** Produces `records` (STRING keys and values) to an existing topic through the REST API, in order. */
export async function seedRecords (t: Test, server: string, topic: string, records: SeedRecord[]): Promise<void> {
  if (records.length === 0) return
  const cluster = await clusterPath(t, server)
  await api(t, server, 'POST', `${cluster}/topics/${topic}/records:batch`, {
    entries: records.map((r, i) => ({
      id: `r${i}`,
      ...(r.partition === undefined ? {} : { partition_id: r.partition }),
      ...(r.key === undefined ? {} : { key: { type: 'STRING', data: r.key } }),
      value: { type: 'STRING', data: r.value },
      ...(r.headers === undefined ? {} : { headers: Object.entries(r.headers).map(([name, value]) => ({ name, value: Buffer.from(value).toString('base64') })) })
    }))
  })
}
