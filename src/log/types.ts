/** One header of a record: Kafka headers are an ordered list; names may repeat. */
export interface RecordHeader {
  key: string
  value: Buffer | null
}

/** A record as a producer hands it to the log. */
export interface RecordInput {
  key?: Buffer | null
  /** null is a tombstone. */
  value?: Buffer | null
  headers?: RecordHeader[]
  /** CreateTime in ms since the epoch; defaults to the append time. Ignored when the topic uses LogAppendTime. */
  timestamp?: number
}

export type TimestampType = 'CreateTime' | 'LogAppendTime'

/** A record as the log returns it. */
export interface StoredRecord {
  offset: number
  timestamp: number
  timestampType: TimestampType
  key: Buffer | null
  value: Buffer | null
  headers: RecordHeader[]
  /** Bytes the record takes in the log (its encoded size). */
  sizeBytes: number
}

export interface AppendResult {
  topic: string
  partition: number
  baseOffset: number
  /** Offset of the last record of the batch. */
  lastOffset: number
  /** The timestamp of each record as stored, in order. */
  timestamps: number[]
  timestampType: TimestampType
  logStartOffset: number
}

export interface ReadOptions {
  offset: number
  /** At most this many records (default 500). */
  maxRecords?: number
  /** Soft byte cap: at least one record is returned when one exists (default 1 MiB). */
  maxBytes?: number
}

export interface ReadResult {
  records: StoredRecord[]
  /** The offset to ask for next. */
  nextOffset: number
  logStartOffset: number
  logEndOffset: number
  highWatermark: number
}

export interface PartitionInfo {
  partition: number
  logStartOffset: number
  logEndOffset: number
  highWatermark: number
  /** Bytes appended between logStartOffset and logEndOffset (reclaimed compaction space is not subtracted). */
  sizeBytes: number
}

export type CleanupPolicy = 'delete' | 'compact' | 'compact,delete'

/** Topic-level configs, with Kafka's names. */
export interface TopicConfigs {
  'retention.ms': number
  'retention.bytes': number
  'cleanup.policy': CleanupPolicy
  'max.message.bytes': number
  'message.timestamp.type': TimestampType
  'delete.retention.ms': number
  'min.compaction.lag.ms': number
}

export type TopicConfigName = keyof TopicConfigs

export interface TopicConfigEntry {
  name: TopicConfigName
  value: string
  isDefault: boolean
  /** 'DYNAMIC_TOPIC_CONFIG' when set on the topic, 'DEFAULT_CONFIG' otherwise (Kafka's sources). */
  source: 'DYNAMIC_TOPIC_CONFIG' | 'DEFAULT_CONFIG'
  isReadOnly: boolean
  isSensitive: boolean
}

export interface TopicDescription {
  name: string
  topicId: string
  partitionCount: number
  configs: TopicConfigs
  /** Configs set on the topic (the rest are defaults). */
  overrides: Partial<Record<TopicConfigName, string>>
  createdAt: number
}

export interface CreateTopicOptions {
  partitions?: number
  configs?: Record<string, string | number>
  /** Validate and report, but create nothing. */
  validateOnly?: boolean
}

/** Fired after records become visible (committed and flushed). */
export type AppendListener = (topic: string, partition: number, logEndOffset: number) => void

/** A user-visible durability promise of the log: the LMDB options it runs with. */
export interface DurabilityOptions {
  noSync: boolean
  useWritemap: boolean
  mapAsync: boolean
  noMetaSync: boolean
  overlappingSync: boolean
}

/** What happened to a topic, as `LogStore.onTopicChange` reports it. */
export type TopicChangeType = 'created' | 'partitions-added' | 'deleted'

/** A change to the set of topics or to a topic's partition count, reported once it is durable. */
export interface TopicChange {
  type: TopicChangeType
  topic: string
  /** The topic's public id: a topic deleted and created again under the same name gets a new one. */
  topicId: string
  /** The partition count after the change (0 once deleted). */
  partitionCount: number
}

/** Called after each topic change is durable and visible. */
export type TopicChangeListener = (change: TopicChange) => void

/** A key of a sub-database: an array of strings and numbers, ordered element by element. */
export type SubDatabaseKey = ReadonlyArray<string | number>

/** The writes of one `SubDatabase.write` transaction. */
export interface SubDatabaseBatch<V> {
  put (key: SubDatabaseKey, value: V): void
  remove (key: SubDatabaseKey): void
}

/**
 * A named key-value database kept in the log's LMDB environment, with the
 * log's durability promise (see `LogStore.openSubDatabase`).
 */
export interface SubDatabase<V> {
  /** The committed value under `key`, or undefined. @throws LogwayError BROKER_NOT_AVAILABLE (the log is closing) */
  get (key: SubDatabaseKey): V | undefined
  /**
   * Every committed entry whose key starts with `prefix` (all entries for
   * `[]`), in key order. Read into an array so no read snapshot outlives the call.
   * @throws LogwayError BROKER_NOT_AVAILABLE (the log is closing)
   */
  range (prefix: SubDatabaseKey): Array<{ key: SubDatabaseKey, value: V }>
  /**
   * Runs `writes` synchronously and applies the puts and removes it makes as
   * one transaction. Resolves only after the transaction is committed and
   * flushed to disk; nothing of it is visible to `get`/`range` before it commits.
   * @throws LogwayError KAFKA_STORAGE_ERROR (nothing was written), BROKER_NOT_AVAILABLE (the log is closing)
   */
  write (writes: (batch: SubDatabaseBatch<V>) => void): Promise<void>
}
