import { flagOption, stringOption, stringsOption, UsageError, usageOf, type CommandSpec } from './args.js'
import type { ConsumerAssignmentData, ConsumerData, ConsumerGroupData, ConsumerGroupOffsetData, ConsumerLagData, DataList, PartitionData } from './api-types.js'
import { runCommandGroup, type CliContext, type Command, type CommandRun } from './command.js'
import { CliFailure } from './failure.js'
import { RequestError, segment, type LogwayClient } from './http-client.js'
import { mapLimit } from './map-limit.js'
import { plural } from './output.js'

/** Groups (or members) read at once by list and describe. */
const CONCURRENCY = 8

const listSpec: CommandSpec = {
  name: 'groups list',
  args: '',
  positionals: 0,
  summary: 'List consumer groups with their state and members (kafka-consumer-groups --list).',
  options: {}
}

const describeSpec: CommandSpec = {
  name: 'groups describe',
  args: 'GROUP',
  positionals: 1,
  summary: 'Show a group\'s members and, per partition, the committed offset, log end offset, lag and owner (kafka-consumer-groups --describe).',
  options: {},
  details: 'A partition a member owns without a committed offset shows "-" as its committed offset and lag.'
}

const deleteSpec: CommandSpec = {
  name: 'groups delete',
  args: 'GROUP',
  positionals: 1,
  summary: 'Delete an empty consumer group and its committed offsets (kafka-consumer-groups --delete).',
  options: {}
}

const resetSpec: CommandSpec = {
  name: 'groups reset-offsets',
  args: 'GROUP',
  positionals: 1,
  summary: 'Move an empty group\'s committed offsets (kafka-consumer-groups --reset-offsets --execute).',
  options: {
    topic: { type: 'string', multiple: true, value: 'T[:P,…]', description: 'The topic to reset, every partition or those listed (T:0,2).' },
    'all-topics': { type: 'boolean', description: 'Every partition the group has committed offsets for, instead of --topic.' },
    'to-earliest': { type: 'boolean', description: 'To the log start offset.' },
    'to-latest': { type: 'boolean', description: 'To the log end offset.' },
    'to-offset': { type: 'string', value: 'N', description: 'To offset N (it must lie within each partition\'s log).' },
    'to-datetime': { type: 'string', value: 'ISO', description: 'To the first record at or after this time, e.g. 2024-11-11T09:00:00Z (no zone: local time).' },
    'dry-run': { type: 'boolean', description: 'Show the offsets the reset would set, and change nothing.' }
  },
  details: 'Exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime. The group must have no members:\nstop its consumers first.\n\nExample:\n  logway groups reset-offsets billing --topic rider-updates --to-earliest --dry-run'
}

function groupPath (cluster: string, group: string): string {
  return `${cluster}/consumer-groups/${segment(group)}`
}

async function list ({ client, out }: CommandRun): Promise<number> {
  const cluster = await client.clusterPath()
  const groups = (await client.call<DataList<ConsumerGroupData>>('GET', `${cluster}/consumer-groups`)).data
  const rows = await mapLimit(groups, CONCURRENCY, async g => {
    const members = await client.call<DataList<ConsumerData>>('GET', `${groupPath(cluster, g.consumer_group_id)}/consumers`)
      .then(list => list.data.length, (err: unknown) => {
        // Deleted since the list was read: no members.
        if (err instanceof RequestError && err.code === 'GROUP_ID_NOT_FOUND') return 0
        throw err
      })
    return { group: g.consumer_group_id, state: g.state, assignor: g.partition_assignor, members }
  })
  if (out.json) await out.document(rows)
  else if (rows.length === 0) await out.write('No consumer groups.\n')
  else await out.table(['GROUP', 'STATE', 'ASSIGNOR', 'MEMBERS'], rows.map(r => [r.group, r.state, r.assignor === '' ? '-' : r.assignor, r.members]))
  return 0
}

/** One partition row of describe. */
interface PartitionRow {
  topic: string
  partition: number
  committed_offset: number | null
  log_end_offset: number
  lag: number | null
  consumer_id: string | null
}

async function describe ({ parsed, client, out }: CommandRun): Promise<number> {
  const [group = ''] = parsed.positionals
  const cluster = await client.clusterPath()
  const path = groupPath(cluster, group)
  const [info, consumers, lags] = await Promise.all([
    client.call<ConsumerGroupData>('GET', path),
    client.call<DataList<ConsumerData>>('GET', `${path}/consumers`).then(l => l.data),
    client.call<DataList<ConsumerLagData>>('GET', `${path}/lags`).then(l => l.data)
  ])
  const members = await mapLimit(consumers, CONCURRENCY, async c => {
    const assignments = await client.call<DataList<ConsumerAssignmentData>>('GET', `${path}/consumers/${segment(c.consumer_id)}/assignments`)
      .then(l => l.data.map(a => ({ topic: a.topic_name, partition: a.partition_id })).sort(byTopicPartition))
    return { consumer_id: c.consumer_id, client_id: c.client_id, assignments }
  })
  const rows = new Map<string, PartitionRow>()
  for (const l of lags) {
    rows.set(`${l.topic_name}\u0000${l.partition_id}`, {
      topic: l.topic_name,
      partition: l.partition_id,
      committed_offset: l.current_offset,
      log_end_offset: l.log_end_offset,
      lag: l.lag,
      consumer_id: l.consumer_id === '' ? null : l.consumer_id
    })
  }
  // Owned partitions without a committed offset have no lag entry: their end offset comes from the topic.
  const uncommitted = members.flatMap(m => m.assignments.map(a => ({ ...a, consumer_id: m.consumer_id })))
    .filter(a => !rows.has(`${a.topic}\u0000${a.partition}`))
  const topics = [...new Set(uncommitted.map(a => a.topic))]
  const ends = new Map<string, number>()
  await mapLimit(topics, CONCURRENCY, async topic => {
    const partitions = await client.call<DataList<PartitionData>>('GET', `${cluster}/topics/${segment(topic)}/partitions`)
    for (const p of partitions.data) ends.set(`${topic}\u0000${p.partition_id}`, p.log_end_offset)
  })
  for (const a of uncommitted) {
    const key = `${a.topic}\u0000${a.partition}`
    rows.set(key, { topic: a.topic, partition: a.partition, committed_offset: null, log_end_offset: ends.get(key) ?? 0, lag: null, consumer_id: a.consumer_id })
  }
  const partitions = [...rows.values()].sort(byTopicPartition)
  const totalLag = partitions.reduce((sum, p) => sum + (p.lag ?? 0), 0)
  if (out.json) {
    await out.document({ group: info.consumer_group_id, state: info.state, assignor: info.partition_assignor, is_simple: info.is_simple, total_lag: totalLag, members, partitions })
    return 0
  }
  await out.write(`Group: ${info.consumer_group_id}  State: ${info.state}  Assignor: ${info.partition_assignor === '' ? '-' : info.partition_assignor}  Members: ${members.length}  Total lag: ${totalLag}\n\n`)
  if (partitions.length === 0) {
    await out.write('No committed offsets and no assigned partitions.\n')
  } else {
    await out.table(['TOPIC', 'PARTITION', 'COMMITTED', 'END', 'LAG', 'CONSUMER'],
      partitions.map(p => [p.topic, p.partition, p.committed_offset ?? '-', p.log_end_offset, p.lag ?? '-', p.consumer_id ?? '-']))
  }
  if (members.length > 0) {
    await out.write('\n')
    await out.table(['CONSUMER', 'CLIENT', 'ASSIGNMENTS'],
      members.map(m => [m.consumer_id, m.client_id, m.assignments.length === 0 ? '-' : m.assignments.map(a => `${a.topic}-${a.partition}`).join(',')]))
  }
  return 0
}

function byTopicPartition (a: { topic: string, partition: number }, b: { topic: string, partition: number }): number {
  return a.topic === b.topic ? a.partition - b.partition : (a.topic < b.topic ? -1 : 1)
}

async function remove ({ parsed, client, out }: CommandRun): Promise<number> {
  const [group = ''] = parsed.positionals
  const cluster = await client.clusterPath()
  await client.call('DELETE', groupPath(cluster, group))
  if (out.json) await out.document({ group, deleted: true })
  else await out.write(`Deleted consumer group ${group}.\n`)
  return 0
}

/** A --topic value: the topic, and the partitions named after a colon (none: all of them). */
function topicScope (raw: string, usage: string): { topic: string, partitions: number[] | undefined } {
  const colon = raw.lastIndexOf(':')
  if (colon < 0) return { topic: raw, partitions: undefined }
  const topic = raw.slice(0, colon)
  const list = raw.slice(colon + 1).split(',')
  if (topic === '' || !list.every(p => /^\d{1,9}$/.test(p))) {
    throw new UsageError(`--topic takes TOPIC or TOPIC:P,P,… (got ${JSON.stringify(raw)})`, usage)
  }
  return { topic, partitions: list.map(Number) }
}

/** What reset-offsets was asked to do, checked before any request. */
interface ResetPlan {
  scopes: Array<{ topic: string, partitions: number[] | undefined }>
  allTopics: boolean
  target: { to: 'earliest' | 'latest' } | { to: 'timestamp', timestamp: number } | { to: 'offsets', offset: number }
  dryRun: boolean
}

/**
 * Reads and checks the reset-offsets flags.
 * @throws UsageError when the scope or the target is missing, doubled or malformed
 */
function resetPlan (parsed: CommandRun['parsed'], usage: string): ResetPlan {
  const scopes = stringsOption(parsed, 'topic').map(raw => topicScope(raw, usage))
  const allTopics = flagOption(parsed, 'all-topics')
  if (scopes.length === 0 && !allTopics) throw new UsageError('groups reset-offsets needs --topic T (or --all-topics)', usage)
  if (scopes.length > 0 && allTopics) throw new UsageError('--topic and --all-topics cannot be used together', usage)
  const targets = ['to-earliest', 'to-latest', 'to-offset', 'to-datetime'].filter(flag => parsed.values[flag] !== undefined)
  if (targets.length !== 1) throw new UsageError('groups reset-offsets needs exactly one of --to-earliest, --to-latest, --to-offset, --to-datetime', usage)
  const dryRun = flagOption(parsed, 'dry-run')
  if (flagOption(parsed, 'to-earliest')) return { scopes, allTopics, dryRun, target: { to: 'earliest' } }
  if (flagOption(parsed, 'to-latest')) return { scopes, allTopics, dryRun, target: { to: 'latest' } }
  const datetime = stringOption(parsed, 'to-datetime')
  if (datetime !== undefined) {
    const timestamp = Date.parse(datetime)
    if (Number.isNaN(timestamp) || timestamp < 0) throw new UsageError(`--to-datetime must be a date and time such as 2024-11-11T09:00:00Z (got ${JSON.stringify(datetime)})`, usage)
    return { scopes, allTopics, dryRun, target: { to: 'timestamp', timestamp } }
  }
  const raw = stringOption(parsed, 'to-offset') ?? ''
  if (!/^\d{1,16}$/.test(raw)) throw new UsageError(`--to-offset must be an offset (got ${JSON.stringify(raw)})`, usage)
  return { scopes, allTopics, dryRun, target: { to: 'offsets', offset: Number(raw) } }
}

/** The body of offsets:reset (schemas/OffsetResetRequest.json) for a plan. */
async function resetRequest (client: LogwayClient, cluster: string, group: string, plan: ResetPlan): Promise<Record<string, unknown>> {
  const { scopes, allTopics, target } = plan
  const dryRun = plan.dryRun ? { dry_run: true } : {}
  if (target.to !== 'offsets') {
    const whole = scopes.filter(s => s.partitions === undefined).map(s => s.topic)
    const some = scopes.flatMap(s => (s.partitions ?? []).map(p => ({ topic_name: s.topic, partition_id: p })))
    return { ...target, ...(whole.length > 0 ? { topics: whole } : {}), ...(some.length > 0 ? { partitions: some } : {}), ...dryRun }
  }
  // The API takes an explicit offset per partition: list the partitions in scope.
  const partitions: Array<{ topic_name: string, partition_id: number }> = []
  if (allTopics) {
    const committed = await client.call<DataList<ConsumerGroupOffsetData>>('GET', `${groupPath(cluster, group)}/offsets`)
    for (const o of committed.data) partitions.push({ topic_name: o.topic_name, partition_id: o.partition_id })
  }
  for (const s of scopes) {
    const ids = s.partitions ?? (await client.call<DataList<PartitionData>>('GET', `${cluster}/topics/${segment(s.topic)}/partitions`)).data.map(p => p.partition_id)
    for (const id of ids) partitions.push({ topic_name: s.topic, partition_id: id })
  }
  if (partitions.length === 0) throw new CliFailure(`group ${group} has no committed offsets to reset; name the partitions with --topic`)
  return { to: 'offsets', offsets: partitions.map(p => ({ ...p, offset: target.offset })), ...dryRun }
}

async function resetOffsets ({ parsed, client, out }: CommandRun): Promise<number> {
  const [group = ''] = parsed.positionals
  const plan = resetPlan(parsed, usageOf(resetSpec))
  const cluster = await client.clusterPath()
  const body = await resetRequest(client, cluster, group, plan)
  const result = await client.call<DataList<ConsumerGroupOffsetData>>('POST', `${groupPath(cluster, group)}/offsets:reset`, { body })
  const offsets = result.data.map(o => ({ topic: o.topic_name, partition: o.partition_id, offset: o.committed_offset })).sort(byTopicPartition)
  if (out.json) {
    await out.document({ group, dry_run: plan.dryRun, offsets })
    return 0
  }
  await out.write(plan.dryRun
    ? `Dry run: the offsets group ${group} would be reset to (nothing changed):\n\n`
    : `Reset the offsets of group ${group} (${plural(offsets.length, 'partition')}):\n\n`)
  await out.table(['TOPIC', 'PARTITION', 'NEW-OFFSET'], offsets.map(o => [o.topic, o.partition, o.offset]))
  return 0
}

/** The subcommands of `logway groups`. */
export const GROUPS_COMMANDS: Record<string, Command> = {
  list: { spec: listSpec, run: list },
  describe: { spec: describeSpec, run: describe },
  delete: { spec: deleteSpec, run: remove },
  'reset-offsets': { spec: resetSpec, run: resetOffsets }
}

/** Runs `logway groups …`; answers the exit code. */
export async function runGroups (args: string[], ctx: CliContext): Promise<number> {
  return await runCommandGroup('groups', 'List, describe, delete consumer groups and reset their offsets.', GROUPS_COMMANDS, args, ctx)
}
