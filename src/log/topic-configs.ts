import { LogwayError } from '../errors.js'
import type { CleanupPolicy, TimestampType, TopicConfigEntry, TopicConfigName, TopicConfigs } from './types.js'

interface ConfigDefinition<T> {
  defaultValue: T
  /** Parses a user-supplied value. @throws LogwayError INVALID_CONFIG */
  parse (raw: string | number): T
  doc: string
}

function long (name: string, min: number): (raw: string | number) => number {
  return (raw) => {
    const n = typeof raw === 'number' ? raw : (/^-?\d+$/.test(raw.trim()) ? Number(raw.trim()) : NaN)
    if (!Number.isSafeInteger(n) || n < min) {
      throw new LogwayError('INVALID_CONFIG', `Invalid value ${JSON.stringify(raw)} for configuration ${name}: must be an integer ≥ ${min}.`)
    }
    return n
  }
}

function oneOf<T extends string> (name: string, values: readonly T[], normalise: (s: string) => string = s => s): (raw: string | number) => T {
  return (raw) => {
    const s = normalise(String(raw))
    if (!(values as readonly string[]).includes(s)) {
      throw new LogwayError('INVALID_CONFIG', `Invalid value ${JSON.stringify(raw)} for configuration ${name}: must be one of ${values.join(', ')}.`)
    }
    return s as T
  }
}

/** Accepts `compact,delete` in any order and spacing, as Kafka does. */
function normalisePolicy (s: string): string {
  const parts = [...new Set(s.split(',').map(p => p.trim()).filter(Boolean))].sort()
  return parts.join(',')
}

/** The topic configs Logway supports, with Kafka's names and defaults. */
export const TOPIC_CONFIG_DEFINITIONS: { [K in TopicConfigName]: ConfigDefinition<TopicConfigs[K]> } = {
  'cleanup.policy': {
    defaultValue: 'delete',
    parse: oneOf<CleanupPolicy>('cleanup.policy', ['delete', 'compact', 'compact,delete'], normalisePolicy),
    doc: 'delete: drop old records by retention.ms/retention.bytes; compact: keep the latest record per key; or both.'
  },
  'delete.retention.ms': {
    defaultValue: 86_400_000,
    parse: long('delete.retention.ms', 0),
    doc: 'How long a tombstone is kept (measured from its timestamp) before compaction removes it.'
  },
  'max.message.bytes': {
    defaultValue: 1_048_588,
    parse: long('max.message.bytes', 0),
    doc: 'The largest record the topic accepts, in encoded bytes.'
  },
  'message.timestamp.type': {
    defaultValue: 'CreateTime',
    parse: oneOf<TimestampType>('message.timestamp.type', ['CreateTime', 'LogAppendTime']),
    doc: 'CreateTime keeps the producer\'s timestamp; LogAppendTime stamps records with the time of append.'
  },
  'min.compaction.lag.ms': {
    defaultValue: 0,
    parse: long('min.compaction.lag.ms', 0),
    doc: 'The minimum age of a record before compaction may remove it.'
  },
  'retention.bytes': {
    defaultValue: -1,
    parse: long('retention.bytes', -1),
    doc: 'The most bytes a partition keeps before the oldest records are deleted; -1 is no limit.'
  },
  'retention.ms': {
    defaultValue: 604_800_000,
    parse: long('retention.ms', -1),
    doc: 'How long records are kept, by timestamp; -1 is forever.'
  }
}

export const TOPIC_CONFIG_NAMES = Object.keys(TOPIC_CONFIG_DEFINITIONS).sort() as TopicConfigName[]

function isConfigName (name: string): name is TopicConfigName {
  return Object.hasOwn(TOPIC_CONFIG_DEFINITIONS, name)
}

/**
 * @throws LogwayError INVALID_CONFIG when `name` is not a supported topic config.
 */
export function checkTopicConfigName (name: string): TopicConfigName {
  if (!isConfigName(name)) {
    throw new LogwayError('INVALID_CONFIG', `Unknown topic config name: ${name}. Supported: ${TOPIC_CONFIG_NAMES.join(', ')}.`)
  }
  return name
}

/**
 * Validates config overrides and returns them normalised as strings.
 * @throws LogwayError INVALID_CONFIG for an unknown name or an invalid value.
 */
export function parseTopicConfigs (raw: Record<string, string | number>): Partial<Record<TopicConfigName, string>> {
  const out: Partial<Record<TopicConfigName, string>> = {}
  for (const [name, value] of Object.entries(raw)) {
    checkTopicConfigName(name)
    if (typeof value !== 'string' && typeof value !== 'number') {
      throw new LogwayError('INVALID_CONFIG', `Invalid value for configuration ${name}: must be a string or a number.`)
    }
    out[name as TopicConfigName] = String(TOPIC_CONFIG_DEFINITIONS[name as TopicConfigName].parse(value))
  }
  return out
}

/** Effective configs: defaults overlaid with the (already validated) overrides. */
export function resolveTopicConfigs (overrides: Partial<Record<TopicConfigName, string>>): TopicConfigs {
  const configs = {} as Record<TopicConfigName, unknown>
  for (const name of TOPIC_CONFIG_NAMES) {
    const definition = TOPIC_CONFIG_DEFINITIONS[name]
    const override = overrides[name]
    configs[name] = override === undefined ? definition.defaultValue : definition.parse(override)
  }
  return configs as TopicConfigs
}

/** Describes each config as Kafka's DescribeConfigs does. */
export function describeTopicConfigs (overrides: Partial<Record<TopicConfigName, string>>): TopicConfigEntry[] {
  const effective = resolveTopicConfigs(overrides)
  return TOPIC_CONFIG_NAMES.map(name => ({
    name,
    value: String(effective[name]),
    isDefault: overrides[name] === undefined,
    source: overrides[name] === undefined ? 'DEFAULT_CONFIG' : 'DYNAMIC_TOPIC_CONFIG',
    isReadOnly: false,
    isSensitive: false
  }))
}
