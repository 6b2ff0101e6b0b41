import { flagOption, integerOption, keyValueOptions, stringsOption, UsageError, usageOf, type CommandSpec, type ParsedCommand } from './args.js'
import type { DataList, PartitionData, TopicConfigData, TopicData } from './api-types.js'
import { runCommandGroup, type CliContext, type Command, type CommandRun } from './command.js'
import { RequestError, segment, type LogwayClient } from './http-client.js'
import { mapLimit } from './map-limit.js'
import { plural } from './output.js'

/** Topics whose partitions `list` reads at once. */
const LIST_CONCURRENCY = 8

const createSpec: CommandSpec = {
  name: 'topics create',
  args: 'NAME',
  positionals: 1,
  summary: 'Create a topic (kafka-topics --create).',
  options: {
    partitions: { type: 'string', value: 'N', description: 'Number of partitions (default 1).' },
    'replication-factor': { type: 'string', value: 'N', description: 'Accepted for kafka-topics habits; a Logway node keeps one replica, so only 1 is valid.' },
    config: { type: 'string', multiple: true, value: 'K=V', description: 'A topic config, e.g. retention.ms=86400000 or cleanup.policy=compact.' },
    'if-not-exists': { type: 'boolean', description: 'Succeed without changing anything when the topic exists.' }
  },
  details: 'Example:\n  logway topics create rider-updates --partitions 2 --config retention.ms=86400000'
}

const listSpec: CommandSpec = {
  name: 'topics list',
  args: '',
  positionals: 0,
  summary: 'List topics with their partition counts and records (kafka-topics --list).',
  options: {},
  details: 'RECORDS is the sum over partitions of log end offset − log start offset; compaction can leave fewer.'
}

const describeSpec: CommandSpec = {
  name: 'topics describe',
  args: 'NAME',
  positionals: 1,
  summary: 'Show a topic\'s partitions (log start and end offsets, records, bytes) and configs (kafka-topics --describe).',
  options: {}
}

const alterSpec: CommandSpec = {
  name: 'topics alter',
  args: 'NAME',
  positionals: 1,
  summary: 'Raise the partition count and set or reset configs (kafka-topics --alter, kafka-configs --alter).',
  options: {
    partitions: { type: 'string', value: 'N', description: 'The new partition count (it may only grow).' },
    config: { type: 'string', multiple: true, value: 'K=V', description: 'Set a config.' },
    'delete-config': { type: 'string', multiple: true, value: 'K', description: 'Reset a config to its default.' }
  },
  details: 'Configs are validated before anything changes; all of them are then applied together.\n\nExample:\n  logway topics alter rider-updates --partitions 4 --config retention.ms=3600000 --delete-config cleanup.policy'
}

const deleteSpec: CommandSpec = {
  name: 'topics delete',
  args: 'NAME',
  positionals: 1,
  summary: 'Delete a topic and its records (kafka-topics --delete).',
  options: {}
}

/** --config K=V flags as the API's {name, value} entries. */
function configPairs (parsed: ParsedCommand, flag: string, usage: string): Array<{ name: string, value: string }> {
  return keyValueOptions(parsed, flag, usage).map(([name, value]) => ({ name, value }))
}

function topicPath (cluster: string, name: string): string {
  return `${cluster}/topics/${segment(name)}`
}

async function create ({ parsed, client, out }: CommandRun): Promise<number> {
  const usage = usageOf(createSpec)
  const [name = ''] = parsed.positionals
  const partitions = integerOption(parsed, 'partitions', 1, usage)
  const replicationFactor = integerOption(parsed, 'replication-factor', 1, usage)
  const configs = configPairs(parsed, 'config', usage)
  const cluster = await client.clusterPath()
  let topic: TopicData
  try {
    topic = await client.call<TopicData>('POST', `${cluster}/topics`, {
      body: {
        topic_name: name,
        ...(partitions === undefined ? {} : { partitions_count: partitions }),
        ...(replicationFactor === undefined ? {} : { replication_factor: replicationFactor }),
        ...(configs.length === 0 ? {} : { configs })
      }
    })
  } catch (err) {
    if (!(err instanceof RequestError && err.code === 'TOPIC_ALREADY_EXISTS' && flagOption(parsed, 'if-not-exists'))) throw err
    topic = await client.call<TopicData>('GET', topicPath(cluster, name))
    if (out.json) await out.document({ topic: topic.topic_name, partitions_count: topic.partitions_count, created: false })
    else await out.write(`Topic ${name} already exists (${plural(topic.partitions_count, 'partition')}).\n`)
    return 0
  }
  if (out.json) await out.document({ topic: topic.topic_name, partitions_count: topic.partitions_count, created: true })
  else await out.write(`Created topic ${topic.topic_name} (${plural(topic.partitions_count, 'partition')}).\n`)
  return 0
}

/** The records a partition holds by its offsets (compaction can leave fewer). */
function recordCount (p: PartitionData): number {
  return p.log_end_offset - p.log_start_offset
}

async function partitionsOf (client: LogwayClient, cluster: string, name: string): Promise<PartitionData[]> {
  const list = await client.call<DataList<PartitionData>>('GET', `${topicPath(cluster, name)}/partitions`)
  return [...list.data].sort((a, b) => a.partition_id - b.partition_id)
}

async function list ({ client, out }: CommandRun): Promise<number> {
  const cluster = await client.clusterPath()
  const topics = (await client.call<DataList<TopicData>>('GET', `${cluster}/topics`)).data
  const rows = await mapLimit(topics, LIST_CONCURRENCY, async topic => {
    try {
      const partitions = await partitionsOf(client, cluster, topic.topic_name)
      return { topic: topic.topic_name, partitions_count: topic.partitions_count, records: partitions.reduce((sum, p) => sum + recordCount(p), 0) }
    } catch (err) {
      // Deleted since the list was read: it is not a topic any more.
      if (err instanceof RequestError && err.code === 'UNKNOWN_TOPIC_OR_PARTITION') return undefined
      throw err
    }
  })
  const found = rows.filter(row => row !== undefined)
  if (out.json) {
    await out.document(found)
  } else if (found.length === 0) {
    await out.write('No topics.\n')
  } else {
    await out.table(['TOPIC', 'PARTITIONS', 'RECORDS'], found.map(row => [row.topic, row.partitions_count, row.records]))
  }
  return 0
}

async function describe ({ parsed, client, out }: CommandRun): Promise<number> {
  const [name = ''] = parsed.positionals
  const cluster = await client.clusterPath()
  const [topic, partitions, configs] = await Promise.all([
    client.call<TopicData>('GET', topicPath(cluster, name)),
    partitionsOf(client, cluster, name),
    client.call<DataList<TopicConfigData>>('GET', `${topicPath(cluster, name)}/configs`).then(list => [...list.data].sort((a, b) => a.name.localeCompare(b.name)))
  ])
  if (out.json) {
    await out.document({
      topic: topic.topic_name,
      partitions_count: topic.partitions_count,
      replication_factor: topic.replication_factor,
      partitions: partitions.map(p => ({
        partition: p.partition_id,
        log_start_offset: p.log_start_offset,
        log_end_offset: p.log_end_offset,
        high_watermark: p.high_watermark,
        records: recordCount(p),
        size_bytes: p.size_bytes
      })),
      configs: configs.map(c => ({ name: c.name, value: c.value, is_default: c.is_default }))
    })
    return 0
  }
  await out.write(`Topic: ${topic.topic_name}  Partitions: ${topic.partitions_count}  Replication factor: ${topic.replication_factor}\n\n`)
  await out.table(['PARTITION', 'START', 'END', 'RECORDS', 'BYTES'],
    partitions.map(p => [p.partition_id, p.log_start_offset, p.log_end_offset, recordCount(p), p.size_bytes]))
  await out.write('\n')
  await out.table(['CONFIG', 'VALUE', 'SOURCE'], configs.map(c => [c.name, c.value ?? '(none)', c.is_default ? 'default' : 'set']))
  return 0
}

async function alter ({ parsed, client, out }: CommandRun): Promise<number> {
  const usage = usageOf(alterSpec)
  const [name = ''] = parsed.positionals
  const partitions = integerOption(parsed, 'partitions', 1, usage)
  const set = configPairs(parsed, 'config', usage)
  const reset = stringsOption(parsed, 'delete-config')
  if (partitions === undefined && set.length === 0 && reset.length === 0) {
    throw new UsageError('topics alter needs --partitions, --config or --delete-config', usage)
  }
  const cluster = await client.clusterPath()
  const path = topicPath(cluster, name)
  const data = [
    ...set.map(c => ({ name: c.name, value: c.value, operation: 'SET' })),
    ...reset.map(configName => ({ name: configName, operation: 'DELETE' }))
  ]
  // Validated first, so that a bad config does not leave the partition count changed and the configs not.
  if (data.length > 0) await client.call('POST', `${path}/configs:alter`, { body: { data, validate_only: true } })
  let topic: TopicData | undefined
  if (partitions !== undefined) topic = await client.call<TopicData>('PATCH', path, { body: { partitions_count: partitions } })
  if (data.length > 0) await client.call('POST', `${path}/configs:alter`, { body: { data } })
  topic ??= await client.call<TopicData>('GET', path)
  if (out.json) {
    await out.document({ topic: topic.topic_name, partitions_count: topic.partitions_count, set: Object.fromEntries(set.map(c => [c.name, c.value])), reset })
    return 0
  }
  const changes = [
    ...(partitions === undefined ? [] : [`${plural(topic.partitions_count, 'partition')}`]),
    ...set.map(c => `${c.name}=${c.value}`),
    ...reset.map(configName => `${configName} reset to its default`)
  ]
  await out.write(`Altered topic ${topic.topic_name}: ${changes.join(', ')}.\n`)
  return 0
}

async function remove ({ parsed, client, out }: CommandRun): Promise<number> {
  const [name = ''] = parsed.positionals
  const cluster = await client.clusterPath()
  await client.call('DELETE', topicPath(cluster, name))
  if (out.json) await out.document({ topic: name, deleted: true })
  else await out.write(`Deleted topic ${name}.\n`)
  return 0
}

/** The subcommands of `logway topics`. */
export const TOPICS_COMMANDS: Record<string, Command> = {
  create: { spec: createSpec, run: create },
  list: { spec: listSpec, run: list },
  describe: { spec: describeSpec, run: describe },
  alter: { spec: alterSpec, run: alter },
  delete: { spec: deleteSpec, run: remove }
}

/** Runs `logway topics …`; answers the exit code. */
export async function runTopics (args: string[], ctx: CliContext): Promise<number> {
  return await runCommandGroup('topics', 'Create, list, describe, alter and delete topics.', TOPICS_COMMANDS, args, ctx)
}
