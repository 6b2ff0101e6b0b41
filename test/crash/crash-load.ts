import type { CrashChecker, RecordContent } from './crash-checker.js'
import { Prng } from './prng.js'

export interface TopicPlan {
  name: string
  partitions: number
}

/** A consumer group and the partitions its one committer commits offsets of. */
export interface GroupPlan {
  groupId: string
  partitions: ReadonlyArray<{ topic: string, partition: number }>
}

export interface LoadOptions {
  url: string
  clusterId: string
  topics: readonly TopicPlan[]
  groups: readonly GroupPlan[]
  /** Concurrent producers, each with its own keep-alive connection and one request at a time. */
  producers: number
  checker: CrashChecker
  /** Seeds every client's generator: the records sent do not depend on how requests interleave. */
  seed: number
  /** Names the consumer instances and the records' ids, unique over the run. */
  cycle: number
  /** Called as soon as a produce request is acknowledged, before its acknowledgements are recorded. */
  onAck?: () => void
}

export interface LoadResult {
  /** Requests (or records of one) the server refused: none is expected before the kill. */
  refused: string[]
}

/** A record to send: its bytes, and whether key and value were generated as text (sent as STRING by v3). */
interface Outgoing {
  partition: number
  content: RecordContent
  keyIsText: boolean
  valueIsText: boolean
}

/** A request unanswered this long is given up: it bounds the run should the server hang. */
const REQUEST_LIMIT_MS = 15_000
const TEXT = ['a', 'b', 'z', 'Q', '0', '9', ' ', '-', '"', '\\', '\n', 'é', 'ß', '€', '中', '😀']
const HEADER_NAMES = ['trace', 'h', 'ü-name']

/**
 * Runs producers (v3 records:batch and v2 binary produce, 1 to 200 records of
 * random bytes or text with headers, each to an explicit partition) and one
 * offset committer per group (a v2 consumer instance committing growing
 * offsets), all recording what they send and what is acknowledged in the
 * checker, until `stopped()` is true or the server goes away.
 */
export async function runLoad (options: LoadOptions, stopped: () => boolean): Promise<LoadResult> {
  const result: LoadResult = { refused: [] }
  const clients: Array<Promise<void>> = []
  let producing = options.producers
  for (let i = 0; i < options.producers; i++) {
    clients.push(produce(options, new Prng(options.seed + i), `${options.cycle}.p${i}`, stopped, result).finally(() => { producing-- }))
  }
  // Committers stop with the producers too, so that a load whose every produce was refused still ends.
  const stopCommitting = (): boolean => stopped() || producing === 0
  options.groups.forEach((group, i) => {
    clients.push(commit(options, group, new Prng(options.seed + 1000 + i), stopCommitting, result))
  })
  await Promise.all(clients)
  return result
}

async function produce (options: LoadOptions, prng: Prng, name: string, stopped: () => boolean, result: LoadResult): Promise<void> {
  const { checker } = options
  for (let n = 0; !stopped(); n++) {
    const topic = prng.pick(options.topics)
    const records = Array.from({ length: prng.int(1, 200) }, (_, i) => randomRecord(prng, topic, `${name}.${n}.${i}`))
    for (const r of records) checker.sent(topic.name, r.partition, r.content)
    const acks = prng.chance(0.5)
      ? await produceV3(options, topic.name, records, result)
      : await produceV2(options, topic.name, records, result)
    if (acks === undefined) return
    options.onAck?.()
    for (const { index, partition, offset } of acks) checker.acked(topic.name, partition, offset, (records[index] as Outgoing).content)
  }
}

interface Ack { index: number, partition: number, offset: number }

async function produceV3 (options: LoadOptions, topic: string, records: Outgoing[], result: LoadResult): Promise<Ack[] | undefined> {
  const entries = records.map((r, i) => ({
    id: `r${i}`,
    partition_id: r.partition,
    key: data(r.content.key, r.keyIsText),
    value: data(r.content.value, r.valueIsText),
    headers: r.content.headers.map(h => ({ name: h.name, value: h.value?.toString('base64') ?? null }))
  }))
  const body = await request(options, 'POST', `/v3/clusters/${options.clusterId}/topics/${topic}/records:batch`, 'application/json', { entries }, result)
  const answer = body as { successes: Array<{ id: string, partition_id: number, offset: number }>, failures: unknown[] } | undefined
  if (answer === undefined) return undefined
  for (const failure of answer.failures) result.refused.push(`an entry of a records:batch to ${topic} failed: ${JSON.stringify(failure)}`)
  return answer.successes.map(s => ({ index: Number(s.id.slice(1)), partition: s.partition_id, offset: s.offset }))
}

async function produceV2 (options: LoadOptions, topic: string, records: Outgoing[], result: LoadResult): Promise<Ack[] | undefined> {
  const body = {
    records: records.map(r => ({
      partition: r.partition,
      key: r.content.key?.toString('base64') ?? null,
      value: r.content.value?.toString('base64') ?? null,
      headers: r.content.headers.map(h => ({ name: h.name, value: h.value?.toString('base64') ?? null }))
    }))
  }
  const answer = await request(options, 'POST', `/topics/${topic}`, 'application/vnd.kafka.binary.v2+json', body, result) as
    { offsets: Array<{ partition: number | null, offset: number | null, error: string | null }> } | undefined
  if (answer === undefined) return undefined
  const acks: Ack[] = []
  answer.offsets.forEach(({ partition, offset, error }, index) => {
    if (partition !== null && offset !== null) acks.push({ index, partition, offset })
    else result.refused.push(`a record of a v2 produce to ${topic} failed: ${String(error)}`)
  })
  return acks
}

async function commit (options: LoadOptions, group: GroupPlan, prng: Prng, stopped: () => boolean, result: LoadResult): Promise<void> {
  const { checker } = options
  const base = `/consumers/${group.groupId}`
  const created = await request(options, 'POST', base, 'application/vnd.kafka.v2+json', { name: `crash-${options.cycle}`, format: 'binary', 'auto.commit.enable': 'false' }, result)
  if (created === undefined) return
  // Each commit names offsets above the last one sent, so a commit that was stored is never mistaken for an older one.
  const last = new Map<string, number>()
  while (!stopped()) {
    const chosen = group.partitions.filter(() => prng.chance(0.5))
    if (chosen.length === 0) continue
    const offsets = chosen.map(({ topic, partition }) => {
      const key = `${topic}-${partition}`
      const committedOffset = (last.get(key) ?? checker.committedOffset(group.groupId, topic, partition) ?? 0) + prng.int(1, 100)
      last.set(key, committedOffset)
      checker.commitSent(group.groupId, topic, partition, committedOffset)
      // A v2 commit names the last offset consumed; the group's committed offset is the one after it.
      return { topic, partition, offset: committedOffset - 1 }
    })
    const stored = await request(options, 'POST', `${base}/instances/crash-${options.cycle}/offsets`, 'application/vnd.kafka.v2+json', { offsets }, result) as
      Array<{ topic: string, partition: number, committed: number }> | undefined
    if (stored === undefined) return
    for (const s of stored) checker.commitAcked(group.groupId, s.topic, s.partition, s.committed)
  }
}

/**
 * Sends one request; answers its JSON body when it succeeded, undefined when
 * it failed (the server was killed, or it answered an error, which is recorded).
 */
async function request (options: LoadOptions, method: string, path: string, type: string, body: unknown, result: LoadResult): Promise<unknown> {
  let status: number
  let text: string
  try {
    const res = await fetch(`${options.url}${path}`, {
      method,
      headers: { 'content-type': type },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(REQUEST_LIMIT_MS)
    })
    status = res.status
    text = await res.text()
  } catch {
    return undefined
  }
  if (status >= 300) {
    result.refused.push(`${method} ${path} answered ${status}: ${text.slice(0, 300)}`)
    return undefined
  }
  return JSON.parse(text)
}

function data (bytes: Buffer | null, isText: boolean): { type: 'STRING' | 'BINARY', data: string } | null {
  if (bytes === null) return null
  return isText ? { type: 'STRING', data: bytes.toString('utf8') } : { type: 'BINARY', data: bytes.toString('base64') }
}

function randomRecord (prng: Prng, topic: TopicPlan, id: string): Outgoing {
  const keyIsText = prng.chance(0.5)
  const valueIsText = prng.chance(0.3)
  const key = prng.chance(0.2) ? null : randomBytes(prng, keyIsText, 32)
  const value = prng.chance(0.05) ? null : randomBytes(prng, valueIsText, prng.chance(0.05) ? 4096 : 400)
  // The id makes every record sent unique, so a record read back names the one send it came from.
  const headers: Array<{ name: string, value: Buffer | null }> = [{ name: 'crash-id', value: Buffer.from(id) }]
  for (let h = prng.int(0, 2); h > 0; h--) {
    headers.push({ name: prng.pick(HEADER_NAMES), value: prng.chance(0.2) ? null : prng.bytes(prng.int(0, 16)) })
  }
  return { partition: prng.int(0, topic.partitions - 1), content: { key, value, headers }, keyIsText, valueIsText }
}

function randomBytes (prng: Prng, asText: boolean, maxLength: number): Buffer {
  const length = prng.int(0, maxLength)
  if (!asText) return prng.bytes(length)
  let text = ''
  while (Buffer.byteLength(text) < length) text += prng.pick(TEXT)
  return Buffer.from(text)
}
