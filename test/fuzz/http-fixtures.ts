import type { FuzzApp } from './fuzz-app.js'
import { encodeSegment } from './encode-segment.js'

/**
 * The state the HTTP fuzz starts from and keeps coming back to: topics with
 * records, a consumer group with members and commits, an offsets-only group,
 * and v2 consumer instances (subscribed, assigned by hand, idle). Valid
 * requests may delete or reshape any of it; `restoreFixtures` puts back
 * what later requests need, so they keep reaching deep code.
 */
export const FIXTURE_TOPICS = [
  { name: 'fz-orders', partitions: 3, configs: {} },
  { name: 'fz-events', partitions: 1, configs: { 'cleanup.policy': 'compact' } },
  { name: 'fz-empty', partitions: 2, configs: {} }
] as const

export const FIXTURE_GROUP = 'fz-group'
/** A group that only holds committed offsets: it has no members, so a valid delete or offsets:reset succeeds. */
export const SIMPLE_GROUP = 'fz-simple'

export const FIXTURE_INSTANCES = [
  { name: 'fz-sub', settings: { format: 'binary', 'auto.offset.reset': 'earliest', 'auto.commit.enable': 'false' }, then: { path: 'subscription', body: { topics: ['fz-orders'] } } },
  { name: 'fz-assigned', settings: { format: 'json', 'auto.offset.reset': 'earliest' }, then: { path: 'assignments', body: { partitions: [{ topic: 'fz-events', partition: 0 }] } } },
  { name: 'fz-idle', settings: {}, then: undefined }
] as const

/** Pools the generators draw path parameters and fields from: names of fixtures, and others (new or missing ones). */
export const POOLS = {
  topics: { existing: ['fz-orders', 'fz-events', 'fz-empty'], other: ['fz-missing', 'fz-new-0', 'fz-new-1'] },
  partitions: { existing: [0, 1, 2], other: [3, 7] },
  groups: { existing: [FIXTURE_GROUP, SIMPLE_GROUP], other: ['fz-new-group', 'fz-missing-group'] },
  instances: { existing: ['fz-sub', 'fz-assigned', 'fz-idle'], other: ['fz-new-instance', 'fz-missing-instance'] },
  configNames: { existing: ['cleanup.policy', 'delete.retention.ms', 'max.message.bytes', 'message.timestamp.type', 'min.compaction.lag.ms', 'retention.bytes', 'retention.ms'], other: ['no.such.config'] },
  configValues: ['delete', 'compact', 'compact,delete', 'CreateTime', 'LogAppendTime', '0', '1000', '-1', '86400000', '1048588', null],
  consoleFiles: { existing: ['app.js', 'style.css', 'index.html', 'api.js'], other: ['missing.js', 'app.js.map', '.env', '..'] }
}

/** Keeps the record count of fixture partitions bounded: valid produces of 10,000 records add up. */
const MAX_RECORDS_KEPT = 2_000
/** Beyond this many topics the ones valid requests created are deleted again. */
const MAX_TOPICS = 12
/** Beyond this many instances created by valid requests, they are deleted again. */
const MAX_CREATED_INSTANCES = 20

const recordsOf = (topic: string, count: number): Array<{ key: Buffer, value: Buffer }> =>
  Array.from({ length: count }, (_, i) => ({ key: Buffer.from(JSON.stringify(`${topic}-k${i % 4}`)), value: Buffer.from(JSON.stringify({ n: i })) }))

/** Creates every fixture; throws if any step is refused. */
export async function createFixtures (fz: FuzzApp): Promise<void> {
  for (const spec of FIXTURE_TOPICS) await createTopic(fz, spec)
  await fz.groups.commitOffsets(SIMPLE_GROUP, [{ topic: 'fz-orders', partition: 0, offset: 3 }, { topic: 'fz-events', partition: 0, offset: 1 }])
  await fz.groups.commitOffsets(FIXTURE_GROUP, [{ topic: 'fz-events', partition: 0, offset: 2 }])
  for (const spec of FIXTURE_INSTANCES) await createInstance(fz, spec)
}

async function createTopic (fz: FuzzApp, spec: typeof FIXTURE_TOPICS[number]): Promise<void> {
  await fz.log.createTopic(spec.name, { partitions: spec.partitions, configs: spec.configs })
  if (spec.name === 'fz-empty') return
  for (let p = 0; p < spec.partitions; p++) await fz.log.append(spec.name, p, recordsOf(spec.name, 10))
  // A value that is not JSON: format=json reads of it must answer 422, not fail.
  await fz.log.append(spec.name, 0, [{ key: Buffer.from('"raw"'), value: Buffer.from([0xff, 0x00, 0xfe]) }])
}

async function createInstance (fz: FuzzApp, spec: typeof FIXTURE_INSTANCES[number]): Promise<void> {
  const headers = { 'content-type': 'application/vnd.kafka.v2+json' }
  const created = await fz.app.inject({ method: 'POST', url: `/consumers/${FIXTURE_GROUP}`, headers, payload: JSON.stringify({ name: spec.name, ...spec.settings }) })
  if (created.statusCode !== 200) throw new Error(`fixture instance ${spec.name}: ${created.statusCode} ${created.body}`)
  if (spec.then === undefined) return
  const res = await fz.app.inject({ method: 'POST', url: `/consumers/${FIXTURE_GROUP}/instances/${spec.name}/${spec.then.path}`, headers, payload: JSON.stringify(spec.then.body) })
  if (res.statusCode !== 204) throw new Error(`fixture instance ${spec.name} ${spec.then.path}: ${res.statusCode} ${res.body}`)
}

/** Instances valid requests created (group, name), so they can be deleted again. */
export class CreatedInstances {
  readonly #created: Array<[string, string]> = []

  add (group: string, name: string): void {
    if (!(group === FIXTURE_GROUP && FIXTURE_INSTANCES.some(i => i.name === name))) this.#created.push([group, name])
  }

  async trim (fz: FuzzApp): Promise<void> {
    if (this.#created.length <= MAX_CREATED_INSTANCES) return
    for (const [group, name] of this.#created.splice(0)) {
      await fz.app.inject({ method: 'DELETE', url: `/consumers/${encodeSegment(group)}/instances/${encodeSegment(name)}` })
    }
  }
}

/**
 * Puts the fixtures back after a request that succeeded: re-creates a
 * deleted or re-partitioned fixture topic, resets configs a request changed,
 * re-creates the offsets-only group and (when `instances`: the request
 * deleted one) deleted fixture instances, trims the oldest records and the
 * topics and instances valid requests added.
 */
export async function restoreFixtures (fz: FuzzApp, created: CreatedInstances, instances: boolean): Promise<void> {
  for (const spec of FIXTURE_TOPICS) {
    if (fz.log.hasTopic(spec.name)) {
      const topic = fz.log.describeTopic(spec.name)
      if (topic.partitionCount !== spec.partitions) {
        await fz.log.deleteTopic(spec.name)
      } else {
        const wanted: Record<string, string> = spec.configs
        const changes: Record<string, string | null> = {}
        for (const name of new Set([...Object.keys(topic.overrides), ...Object.keys(wanted)])) {
          const now = (topic.overrides as Record<string, string | undefined>)[name]
          if (now !== wanted[name]) changes[name] = wanted[name] ?? null
        }
        if (Object.keys(changes).length > 0) await fz.log.alterConfigs(spec.name, changes)
        for (const p of fz.log.partitions(spec.name)) {
          if (p.logEndOffset - p.logStartOffset > MAX_RECORDS_KEPT) await fz.log.deleteRecords(spec.name, p.partition, p.logEndOffset - 100)
        }
      }
    }
    if (!fz.log.hasTopic(spec.name)) await createTopic(fz, spec)
  }
  const topics = fz.log.listTopics()
  if (topics.length > MAX_TOPICS) {
    for (const topic of topics) if (!FIXTURE_TOPICS.some(f => f.name === topic.name)) await fz.log.deleteTopic(topic.name)
  }
  if (!fz.groups.listGroups().some(g => g.groupId === SIMPLE_GROUP)) {
    await fz.groups.commitOffsets(SIMPLE_GROUP, [{ topic: 'fz-orders', partition: 0, offset: 3 }])
  }
  for (const spec of instances ? FIXTURE_INSTANCES : []) {
    const res = await fz.app.inject({ method: 'GET', url: `/consumers/${FIXTURE_GROUP}/instances/${spec.name}/subscription` })
    if (res.statusCode === 404) await createInstance(fz, spec)
  }
  await created.trim(fz)
}
