import { mkdirSync, statfsSync } from 'node:fs'
import { randomBytes, randomUUID } from 'node:crypto'
import { open, type Database, type RootDatabase } from 'lmdb'
import { systemClock, type Clock, type TimerHandle } from '../clock.js'
import { LogwayError } from '../errors.js'
import { IdempotencyStore, type ClaimedBatch, type ClaimedRecords } from './idempotency.js'
import { partitionForKey } from './murmur2.js'
import { BatchAppendResult, checkRecordLimits, RecordBatch, ROUND_ROBIN, type RecordBatchTopic } from './record-batch.js'
import {
  batchRecordsAt, batchSize, decodeRecord, encodeBatch, encodedSize, encodeRecordInto, lastBatchOffset, readKeyAndTombstone,
  readPosition, readTimestamp, setBatchEntry, setPosition, startBatch, viewOf, visitBatch
} from './record-codec.js'
import { checkTopicConfigName, describeTopicConfigs, parseTopicConfigs, resolveTopicConfigs } from './topic-configs.js'
import { validateTopicName } from './topic-name.js'
import type {
  AppendListener, AppendResult, CreateTopicOptions, DurabilityOptions, PartitionInfo, ReadOptions,
  ReadResult, RecordInput, StoredRecord, SubDatabase, SubDatabaseKey, TopicChange, TopicChangeListener,
  RecordHeader, TopicConfigEntry, TopicConfigName, TopicConfigs, TopicDescription
} from './types.js'

export interface LogStoreOptions {
  dataDir: string
  clock?: Clock
  /** How often retention and compaction run in the background (default 30 s); 0 turns the timer off. */
  retentionCheckIntervalMs?: number
  /**
   * Test and benchmark switch only: open LMDB with `noSync`, so acknowledged
   * appends can be lost on a crash. Never set by the server's configuration.
   */
  unsafeNoSync?: boolean
  /**
   * Test switch only: acknowledge each append as soon as it is queued, with
   * the offsets it will be given, and write it only a while later; a crash
   * (even kill -9, which noSync survives) then loses acknowledged records. It
   * exists so the crash test (test/crash/) can show its checker catches that
   * loss. Never set by the server's configuration.
   */
  unsafeEarlyAck?: boolean
  /**
   * Appends are refused (KAFKA_STORAGE_ERROR) while the filesystem holding the
   * log has less than this many bytes free (default 64 MiB), so LMDB itself
   * never runs into a full disk.
   */
  minFreeBytes?: number
  /**
   * How long an idempotency key is remembered after its request's first
   * attempt (default 24 h); see IdempotencyStore.
   */
  idempotencyKeyTtlMs?: number
}

export interface MaintenanceReport {
  /** Records removed by retention (time or bytes). */
  deletedRecords: number
  /** Records removed by compaction (superseded records and expired tombstones). */
  compactedRecords: number
}

/** The most partitions one topic may have. */
export const MAX_PARTITIONS = 10_000
const DEFAULT_MAX_RECORDS = 500
const DEFAULT_MAX_BYTES = 1024 * 1024
/** Stored batches removed or rewritten per transaction by retention and compaction. */
const CLEANUP_CHUNK = 64
/** How long `unsafeEarlyAck` leaves acknowledged appends unwritten. */
const UNSAFE_WRITE_DELAY_MS = 200
/** A partition-state key that is never written. */
const NO_SUCH_KEY = ['never-written']
/** Stored batches read per read snapshot by scans. */
const SCAN_CHUNK = 32
/** A stored batch is closed once its records reach this size; a larger record is a batch of its own. */
const BATCH_BYTES = 32 * 1024
const NO_HEADERS: readonly RecordHeader[] = []
const EMPTY = Buffer.alloc(0)
const NO_ENDS: number[] = []
/**
 * The storage format of a data dir, kept in the meta database: 2 stores
 * records in batches (see record-codec.ts). A data dir of another format is
 * refused rather than misread.
 */
const STORAGE_FORMAT = 2
/** Names upper layers may give their sub-databases; stored with a prefix no log database uses. */
const SUB_DATABASE_NAME = /^[a-z][a-z0-9-]{0,62}$/

/** Topic number, partition, and the offset of the first record the stored batch was written with. */
type RecordKey = [number, number, number]

interface StoredTopic {
  name: string
  /** Internal number used in storage keys; never reused. */
  id: number
  /** Public id (a UUID), as Kafka's topic ids. */
  topicId: string
  partitionCount: number
  overrides: Partial<Record<TopicConfigName, string>>
  createdAt: number
}

interface EndState {
  logEndOffset: number
  endPosition: number
  maxTimestamp: number
}

interface PendingAppend {
  /** The encoded records, back to back; each ends at its entry of `ends`. Both are let go once copied into stored batches. */
  data: Buffer
  ends: number[]
  count: number
  /**
   * Each record's timestamp, or the one they all share (the append time,
   * mostly): no array per append is held while it waits for its flush.
   */
  timestamps: number[] | number
  baseOffset: number
  /** Called once: with undefined when the records are durable (baseOffset is then set), else with the failure. */
  settle: (failure: unknown) => void
  /** Writes made in the transaction that writes the records, with their base offset (an idempotency key's part). */
  inTransaction?: (baseOffset: number) => void
}

interface Waiter {
  offset: number
  done: (appended: boolean) => void
}

class Partition {
  readonly index: number
  logStartOffset: number
  /** Position of the first record at or after logStartOffset (endPosition when there is none). */
  startPosition = 0
  /** Visible end: every record below it is committed and flushed. */
  logEndOffset: number
  endPosition: number
  maxTimestamp: number
  /** Offsets, positions and the running max timestamp of batches issued to LMDB. */
  nextOffset: number
  nextPosition: number
  nextMaxTimestamp: number
  queue: PendingAppend[] = []
  /** A batch is issued and its commit outcome is not known yet. */
  committing = false
  /** Batches committed but not yet flushed. */
  flushing = 0
  waiters = new Set<Waiter>()
  idleResolvers: Array<() => void> = []
  /** Retention and compaction rewrite stored batches one change at a time: the tail of that chain. */
  cleaning: Promise<unknown> = Promise.resolve()

  constructor (index: number, start: number, end: EndState) {
    this.index = index
    this.logStartOffset = start
    this.logEndOffset = end.logEndOffset
    this.endPosition = end.endPosition
    this.maxTimestamp = end.maxTimestamp
    this.nextOffset = end.logEndOffset
    this.nextPosition = end.endPosition
    this.nextMaxTimestamp = end.maxTimestamp
  }

  get idle (): boolean {
    return !this.committing && this.flushing === 0 && this.queue.length === 0
  }
}

interface TopicState {
  stored: StoredTopic
  configs: TopicConfigs
  partitions: Partition[]
  roundRobin: number
  /** What record checks read of the topic, made again when its configs or partition count change. */
  limits?: RecordBatchTopic & { configs: TopicConfigs }
}

/**
 * The append-only log, kept in LMDB: topics, partitions, offsets, retention and
 * compaction. Knows nothing of HTTP.
 *
 * Durability promise: `append` resolves only after its records are committed
 * and flushed to disk; records become visible to readers at the same moment.
 * Appends that arrive while a partition's previous batch is committing are
 * written together in the next transaction (group commit).
 */
export class LogStore {
  readonly clusterId: string
  readonly dataDir: string
  readonly #clock: Clock
  readonly #root: RootDatabase
  readonly #meta: Database
  readonly #topicsDb: Database<StoredTopic, string>
  readonly #state: Database
  readonly #records: Database<Buffer, RecordKey>
  readonly #timeIndex: Database<number, RecordKey>
  readonly #deletedTopics: Database<boolean, number>
  /**
   * Idempotency keys of produce requests, in the same LMDB environment: an
   * append made under a claim (see `appendBatch`, `append`) records what it
   * wrote in the transaction that writes its records.
   */
  readonly idempotency: IdempotencyStore
  readonly #durability: DurabilityOptions
  readonly #topics = new Map<string, TopicState>()
  readonly #listeners = new Set<AppendListener>()
  readonly #topicListeners = new Set<TopicChangeListener>()
  readonly #subDatabases = new Map<string, SubDatabase<unknown>>()
  readonly #retentionCheckIntervalMs: number
  #nextTopicNumber: number
  #open = true
  #adminChain: Promise<unknown> = Promise.resolve()
  #maintenance: Promise<MaintenanceReport> | null = null
  #maintenanceTimer: TimerHandle | null = null
  #background = new Set<Promise<unknown>>()
  readonly #minFreeBytes: number
  readonly #unsafeEarlyAck: boolean
  #freeBytes = Infinity
  #freeCheckedAt = -Infinity
  #bytesSinceFreeCheck = 0

  private constructor (options: LogStoreOptions, root: RootDatabase, durability: DurabilityOptions) {
    this.dataDir = options.dataDir
    this.#clock = options.clock ?? systemClock
    this.#retentionCheckIntervalMs = options.retentionCheckIntervalMs ?? 30_000
    this.#minFreeBytes = options.minFreeBytes ?? 64 * 1024 * 1024
    this.#unsafeEarlyAck = options.unsafeEarlyAck === true
    this.#root = root
    this.#durability = durability
    this.#meta = root.openDB({ name: 'meta' })
    this.#topicsDb = root.openDB({ name: 'topics' })
    this.#state = root.openDB({ name: 'partition-state' })
    this.#records = root.openDB({ name: 'records', encoding: 'binary' })
    this.#timeIndex = root.openDB({ name: 'time-index' })
    this.#deletedTopics = root.openDB({ name: 'deleted-topics' })
    this.idempotency = new IdempotencyStore({
      db: root.openDB({ name: 'idempotency' }),
      clock: this.#clock,
      ttlMs: options.idempotencyKeyTtlMs ?? 24 * 60 * 60 * 1000,
      write: async writes => {
        const done = this.#durable(this.#atomically(writes))
        this.#inBackground(done)
        await done
      },
      isOpen: () => this.#open
    })
    this.clusterId = this.#meta.get('clusterId') as string | undefined ?? ''
    this.#nextTopicNumber = this.#meta.get('nextTopicNumber') as number | undefined ?? 1
  }

  /**
   * Opens (or initialises) the log in `options.dataDir`, restoring every
   * topic, config and offset. A new data dir gets a new cluster id.
   * @throws LogwayError KAFKA_STORAGE_ERROR when the data dir cannot be opened,
   *   or holds a storage format of an earlier version.
   */
  static async open (options: LogStoreOptions): Promise<LogStore> {
    const durability: DurabilityOptions = {
      noSync: options.unsafeNoSync === true,
      useWritemap: false,
      mapAsync: false,
      noMetaSync: false,
      // Each commit is flushed before the next starts: measured no slower here
      // than overlapping flushes, and it keeps lmdb-js off a write-error path
      // that corrupted its native heap in our disk-full tests.
      overlappingSync: false
    }
    let root: RootDatabase
    try {
      mkdirSync(options.dataDir, { recursive: true })
      root = open({
        path: options.dataDir,
        noSubdir: false,
        maxDbs: 16,
        compression: false,
        separateFlushed: true,
        // lmdb-js's event-turn batching adds an internal write whose promise
        // nobody handles, so a failed commit (disk full) would kill the process
        // with an unhandled rejection. Every group of writes here is made
        // atomic explicitly instead (see #atomically).
        eventTurnBatching: false,
        // With event-turn batching off, lmdb-js starts a transaction after 5
        // queued writes; a high threshold lets it start on the next turn
        // instead, so concurrent appends share one commit (3x faster here).
        ...{ txnStartThreshold: 1_000_000 } as object, // read by lmdb-js, missing from its types
        ...durability
      })
    } catch (err) {
      throw new LogwayError('KAFKA_STORAGE_ERROR', `Cannot open the data dir ${options.dataDir}: ${(err as Error).message}`, undefined, { cause: err })
    }
    const store = new LogStore(options, root, durability)
    try {
      await store.#initialise()
    } catch (err) {
      await root.close()
      throw err
    }
    return store
  }

  async #initialise (): Promise<void> {
    if (this.clusterId === '') {
      // Kafka's cluster ids are 16 random bytes in URL-safe base64.
      const clusterId = randomBytes(16).toString('base64url')
      await this.#durable(this.#atomically(() => {
        this.#meta.put('clusterId', clusterId)
        this.#meta.put('storageFormat', STORAGE_FORMAT)
      }));
      (this as { clusterId: string }).clusterId = clusterId
    } else if (this.#meta.get('storageFormat') !== STORAGE_FORMAT) {
      throw new LogwayError('KAFKA_STORAGE_ERROR', `The data dir ${this.dataDir} was written by an earlier version of Logway, whose storage format this one cannot read.`)
    }
    for (const { value: stored } of this.#topicsDb.getRange()) {
      this.#topics.set(stored.name, this.#loadTopic(stored))
    }
    for (const id of this.#deletedTopics.getKeys()) {
      this.#inBackground(this.#purgeTopic(id))
    }
    for (const topic of this.#topics.values()) {
      for (const partition of topic.partitions) {
        const first = this.#firstOffset(topic.stored.id, partition.index)
        if (first !== undefined && first < partition.logStartOffset) {
          this.#inBackground(this.#removeRange(topic, partition, first, partition.logStartOffset))
        }
      }
    }
    this.#scheduleMaintenance()
  }

  #loadTopic (stored: StoredTopic): TopicState {
    const partitions: Partition[] = []
    for (let p = 0; p < stored.partitionCount; p++) partitions.push(this.#loadPartition(stored.id, p))
    return { stored, configs: resolveTopicConfigs(stored.overrides), partitions, roundRobin: 0 }
  }

  #loadPartition (id: number, index: number): Partition {
    const start = this.#state.get([id, index, 'start']) as number | undefined ?? 0
    const end = this.#state.get([id, index, 'end']) as EndState | undefined ??
      { logEndOffset: 0, endPosition: 0, maxTimestamp: -Infinity }
    // The end state is written in the same transaction as the records; the
    // last record can only be ahead of it if that promise is ever broken.
    for (const { key, value } of this.#records.getRange({ start: [id, index, Number.MAX_SAFE_INTEGER], end: [id, index, -1], reverse: true, limit: 1 })) {
      const last = lastBatchOffset(value, key[2])
      if (last + 1 > end.logEndOffset) end.logEndOffset = last + 1
    }
    const partition = new Partition(index, Math.min(start, end.logEndOffset), end)
    partition.startPosition = this.#positionAtOrAfter(id, index, partition.logStartOffset, end.logEndOffset)?.position ?? end.endPosition
    return partition
  }

  /** True until `close` is called. */
  get isOpen (): boolean {
    return this.#open
  }

  /** The LMDB options the log runs with; none that can lose acknowledged data unless `unsafeNoSync` was asked for (`unsafeEarlyAck` loses it whatever they are). */
  durabilityOptions (): DurabilityOptions {
    return { ...this.#durability }
  }

  /**
   * Stops accepting appends, lets queued and in-flight appends finish, wakes
   * every waiter with `false`, then closes LMDB.
   */
  async close (): Promise<void> {
    if (!this.#open) return
    this.#open = false
    if (this.#maintenanceTimer !== null) this.#clock.clearTimeout(this.#maintenanceTimer)
    await Promise.allSettled([...this.#topics.values()].flatMap(t => t.partitions.map(p => this.#whenIdle(p))))
    for (const topic of this.#topics.values()) {
      for (const partition of topic.partitions) this.#wakeAll(partition, false)
    }
    await this.#adminChain.catch(() => {})
    await Promise.allSettled([this.#maintenance, ...this.#background])
    await this.#root.close()
  }

  // ---- topics ------------------------------------------------------------

  /**
   * Creates a topic. Resolves once its definition is durable.
   * @throws LogwayError INVALID_TOPIC_EXCEPTION, TOPIC_ALREADY_EXISTS, INVALID_PARTITIONS, INVALID_CONFIG
   */
  async createTopic (name: string, options: CreateTopicOptions = {}): Promise<TopicDescription> {
    return this.#admin(async () => {
      validateTopicName(name)
      const partitionCount = options.partitions ?? 1
      checkPartitionCount(partitionCount)
      const overrides = parseTopicConfigs(options.configs ?? {})
      if (this.#topics.has(name)) throw new LogwayError('TOPIC_ALREADY_EXISTS', `Topic '${name}' already exists.`)
      const stored: StoredTopic = {
        name,
        id: this.#nextTopicNumber,
        topicId: randomUUID(),
        partitionCount,
        overrides,
        createdAt: this.#clock.now()
      }
      if (options.validateOnly === true) return describe(this.#loadTopicFresh(stored))
      await this.#durable(this.#atomically(() => {
        this.#meta.put('nextTopicNumber', stored.id + 1)
        this.#topicsDb.put(name, stored)
      }))
      this.#nextTopicNumber = stored.id + 1
      const topic = this.#loadTopicFresh(stored)
      this.#topics.set(name, topic)
      this.#notifyTopicChange({ type: 'created', topic: name, topicId: stored.topicId, partitionCount })
      return describe(topic)
    })
  }

  #loadTopicFresh (stored: StoredTopic): TopicState {
    const partitions: Partition[] = []
    for (let p = 0; p < stored.partitionCount; p++) {
      partitions.push(new Partition(p, 0, { logEndOffset: 0, endPosition: 0, maxTimestamp: -Infinity }))
    }
    return { stored, configs: resolveTopicConfigs(stored.overrides), partitions, roundRobin: 0 }
  }

  /** Every topic, by name. */
  listTopics (): TopicDescription[] {
    return [...this.#topics.values()].map(describe).sort((a, b) => a.name.localeCompare(b.name))
  }

  /** @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION */
  describeTopic (name: string): TopicDescription {
    return describe(this.#topic(name))
  }

  /** True when the topic exists. */
  hasTopic (name: string): boolean {
    return this.#topics.has(name)
  }

  /**
   * Deletes a topic: it disappears at once; its records are removed in the
   * background. Queued appends to it are rejected.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION
   */
  async deleteTopic (name: string): Promise<void> {
    await this.#admin(async () => {
      const topic = this.#topic(name)
      this.#topics.delete(name)
      for (const partition of topic.partitions) {
        for (const pending of partition.queue.splice(0)) {
          pending.settle(new LogwayError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' was deleted.`))
        }
        this.#wakeAll(partition, false)
      }
      // One transaction, or a crash could leave a live topic marked for purge.
      await this.#durable(this.#atomically(() => {
        this.#deletedTopics.put(topic.stored.id, true)
        this.#topicsDb.remove(name)
      }))
      this.#notifyTopicChange({ type: 'deleted', topic: name, topicId: topic.stored.topicId, partitionCount: 0 })
      this.#inBackground((async () => {
        await Promise.all(topic.partitions.map(p => this.#whenIdle(p)))
        await this.#purgeTopic(topic.stored.id)
      })())
    })
  }

  /**
   * Raises a topic's partition count to `totalCount` (Kafka's CreatePartitions).
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION, INVALID_PARTITIONS (not larger than now, or over the limit)
   */
  async createPartitions (name: string, totalCount: number): Promise<TopicDescription> {
    return this.#admin(async () => {
      const topic = this.#topic(name)
      checkPartitionCount(totalCount)
      if (totalCount <= topic.stored.partitionCount) {
        throw new LogwayError('INVALID_PARTITIONS', `Topic '${name}' has ${topic.stored.partitionCount} partitions; the new count must be larger (got ${totalCount}).`)
      }
      const stored = { ...topic.stored, partitionCount: totalCount }
      await this.#durable(this.#topicsDb.put(name, stored))
      for (let p = topic.stored.partitionCount; p < totalCount; p++) topic.partitions.push(this.#loadPartition(stored.id, p))
      topic.stored = stored
      this.#notifyTopicChange({ type: 'partitions-added', topic: name, topicId: stored.topicId, partitionCount: totalCount })
      return describe(topic)
    })
  }

  /**
   * Calls `listener` after each topic is created, deleted or given more
   * partitions, once the change is durable and visible. Returns an
   * unsubscribe function. A listener's failure does not affect the log.
   */
  onTopicChange (listener: TopicChangeListener): () => void {
    this.#topicListeners.add(listener)
    return () => { this.#topicListeners.delete(listener) }
  }

  #notifyTopicChange (change: TopicChange): void {
    for (const listener of this.#topicListeners) {
      try {
        listener({ ...change })
      } catch {
        // A listener's failure is its own; the log goes on.
      }
    }
  }

  /** @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION */
  describeConfigs (name: string): TopicConfigEntry[] {
    return describeTopicConfigs(this.#topic(name).stored.overrides)
  }

  /**
   * Sets (or, with `null`, resets to the default) topic configs, all or none.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION, INVALID_CONFIG
   */
  async alterConfigs (name: string, changes: Record<string, string | number | null>): Promise<TopicDescription> {
    return this.#admin(async () => {
      const topic = this.#topic(name)
      const sets: Record<string, string | number> = {}
      const resets: string[] = []
      for (const [key, value] of Object.entries(changes)) {
        if (value === null) resets.push(key)
        else sets[key] = value
      }
      const overrides = { ...topic.stored.overrides, ...parseTopicConfigs(sets) }
      for (const key of resets) delete overrides[checkTopicConfigName(key)]
      const stored = { ...topic.stored, overrides }
      const configs = resolveTopicConfigs(overrides)
      await this.#durable(this.#topicsDb.put(name, stored))
      topic.stored = stored
      topic.configs = configs
      return describe(topic)
    })
  }

  // ---- partitions and offsets ----------------------------------------------

  /** @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION */
  partitions (topic: string): PartitionInfo[] {
    return this.#topic(topic).partitions.map(partitionInfo)
  }

  /** @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION */
  partitionInfo (topic: string, partition: number): PartitionInfo {
    return partitionInfo(this.#partition(this.#topic(topic), partition))
  }

  /**
   * The partition a record goes to when the producer names none: Kafka's
   * murmur2 of the key bytes for keyed records, round-robin for null keys.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION
   */
  partitionFor (topic: string, key: Uint8Array | null | undefined): number {
    const state = this.#topic(topic)
    if (key !== null && key !== undefined) return partitionForKey(key, state.partitions.length)
    return this.#roundRobin(state)
  }

  #roundRobin (state: TopicState): number {
    state.roundRobin = (state.roundRobin + 1) % state.partitions.length
    return state.roundRobin
  }

  // ---- append ---------------------------------------------------------------

  /**
   * Checks one record against the topic without writing it.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION, MESSAGE_TOO_LARGE, INVALID_RECORD, INVALID_TIMESTAMP
   */
  checkRecord (topic: string, record: RecordInput): void {
    this.#check(this.#topic(topic), record, undefined)
  }

  /**
   * Appends records to one partition as one atomic batch with dense offsets.
   * Resolves after the batch is committed and flushed to disk; rejects with
   * nothing written if any record is invalid or the commit fails.
   * `claimed`: the records are those of an idempotent request, with these
   * request indexes; the transaction that writes them records them under the
   * claim's key (see IdempotencyStore).
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION, MESSAGE_TOO_LARGE, INVALID_RECORD,
   *   INVALID_TIMESTAMP, INVALID_REQUEST (no records), KAFKA_STORAGE_ERROR, BROKER_NOT_AVAILABLE
   */
  async append (topic: string, partition: number, records: readonly RecordInput[], claimed?: ClaimedRecords): Promise<AppendResult> {
    if (!this.#open) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The log is closing.')
    const state = this.#topic(topic)
    const target = this.#partition(state, partition)
    const count = records.length
    if (count === 0) throw new LogwayError('INVALID_REQUEST', 'An append needs at least one record.')
    const now = this.#clock.now()
    const timestampType = state.configs['message.timestamp.type']
    let timestamps: number[] | undefined
    const ends: number[] = new Array(count)
    let total = 0
    for (let i = 0; i < count; i++) {
      const record = records[i] as RecordInput
      total += this.#check(state, record, i)
      ends[i] = total
      const timestamp = timestampType === 'CreateTime' && record.timestamp !== undefined ? record.timestamp : now
      if (timestamp !== now) timestamps ??= new Array<number>(count).fill(now)
      if (timestamps !== undefined) timestamps[i] = timestamp
    }
    this.#checkFreeSpace(batchSize(count, total))
    const data = Buffer.allocUnsafe(total)
    let at = 0
    for (let i = 0; i < count; i++) {
      const record = records[i] as RecordInput
      // #check has made sure key and value are bytes or null.
      encodeRecordInto(data, at, record.key ?? null, record.value ?? null, record.headers ?? NO_HEADERS, timestamps?.[i] ?? now, timestampType)
      at = ends[i] as number
    }
    const appended = new Promise<AppendResult>((resolve, reject) => {
      const pending: PendingAppend = {
        data,
        ends,
        count,
        timestamps: timestamps ?? now,
        baseOffset: -1,
        settle: failure => {
          if (failure !== undefined) {
            reject(failure)
            return
          }
          resolve({
            topic,
            partition,
            baseOffset: pending.baseOffset,
            lastOffset: pending.baseOffset + count - 1,
            timestamps: timestamps ?? new Array<number>(count).fill(now),
            timestampType,
            logStartOffset: target.logStartOffset
          })
        }
      }
      if (claimed !== undefined) pending.inTransaction = baseOffset => claimed.claim.recordPart(partition, baseOffset, claimed.indexes, timestamps ?? now)
      if (this.#unsafeEarlyAck) {
        this.#queueAcknowledged(state, target, pending)
      } else {
        target.queue.push(pending)
        if (!target.committing) queueMicrotask(() => this.#issue(state, target))
      }
    })
    claimed?.claim.track(appended.then(() => true, () => false))
    // Not awaited here: this call's frame would hold `records` (the caller's
    // inputs, with their buffers) until the flush, though `data` has them all.
    return appended
  }

  /**
   * Checks a record against the topic's configs without encoding it.
   * Returns its encoded size.
   */
  #check (state: TopicState, record: RecordInput, index: number | undefined): number {
    const key = toBytes(record.key, 'key', index)
    const value = toBytes(record.value, 'value', index)
    const headers = record.headers ?? NO_HEADERS
    for (const h of headers) {
      if (typeof h.key !== 'string' || (h.value !== null && !(h.value instanceof Uint8Array))) {
        throw new LogwayError('INVALID_RECORD', 'Each header needs a string key and a bytes or null value.', { index })
      }
    }
    const limits = this.#limits(state)
    const size = encodedSize(key, value, headers)
    checkRecordLimits(limits, key === null, limits.timestampType === 'CreateTime' ? record.timestamp : undefined, size, index)
    return size
  }

  #limits (state: TopicState): RecordBatchTopic {
    const known = state.limits
    if (known !== undefined && known.configs === state.configs && known.partitionCount === state.partitions.length) return known
    const configs = state.configs
    state.limits = {
      configs,
      name: state.stored.name,
      partitionCount: state.partitions.length,
      timestampType: configs['message.timestamp.type'],
      maxMessageBytes: configs['max.message.bytes'],
      keyRequired: configs['cleanup.policy'] !== 'delete'
    }
    return state.limits
  }

  /**
   * An empty batch of records for `topic`, to fill record by record and give
   * to `appendBatch` in the same synchronous block (it holds the topic's
   * configs and partition count as they are now, and the append time).
   * `capacityHint`: the bytes its records are expected to take.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION, BROKER_NOT_AVAILABLE
   */
  recordBatch (topic: string, capacityHint?: number): RecordBatch {
    if (!this.#open) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The log is closing.')
    return new RecordBatch(this.#limits(this.#topic(topic)), this.#clock.now(), capacityHint)
  }

  /**
   * Appends the records of a batch: those of each partition as one atomic
   * append with dense offsets, in the order they were added, all partitions
   * in the same turn so they share group commits. Records whose partition is
   * ROUND_ROBIN get theirs now, in order. Resolves once every record is
   * durable or failed, with each record's partition, offset or failure (a
   * failure is that of its partition's whole append); never rejects.
   * Failures: KAFKA_STORAGE_ERROR, BROKER_NOT_AVAILABLE, UNKNOWN_TOPIC_OR_PARTITION
   * (the topic was deleted).
   *
   * `claimed`: the records are (some of) those of an idempotent request. A
   * record an earlier attempt of it wrote is not appended again: the result
   * reports it where it was written. Each partition's append records its
   * records under the claim's key in the transaction that writes them.
   */
  appendBatch (batch: RecordBatch, claimed?: ClaimedBatch): Promise<BatchAppendResult> {
    const { data, ends, partitions, timestamps } = batch.take()
    const result = new BatchAppendResult(partitions, timestamps)
    const count = ends.length
    if (count === 0) return Promise.resolve(result)
    let restored = false
    if (claimed !== undefined && claimed.claim.writtenCount > 0) {
      for (let j = 0; j < count; j++) {
        const written = claimed.claim.written(claimed.indexOf(j))
        if (written === undefined) continue
        result.restore(j, written)
        restored = true
      }
    }
    let state: TopicState
    try {
      if (!this.#open) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The log is closing.')
      state = this.#topic(batch.topic.name)
    } catch (err) {
      result.failAll(err)
      claimed?.claim.markIncomplete()
      return Promise.resolve(result)
    }
    // Restored records are left out below, as the records of other partitions are.
    let mixed = restored
    for (let j = 0; j < count; j++) {
      if (restored && result.isRestored(j)) continue
      if (partitions[j] === ROUND_ROBIN) partitions[j] = this.#roundRobin(state)
      if (partitions[j] !== partitions[0]) mixed = true
    }
    // One promise for the whole batch, settled by the last of its appends (a promise per append and Promise.all cost a few turns more).
    let waiting = 1
    let done!: (result: BatchAppendResult) => void
    const settled = new Promise<BatchAppendResult>(resolve => { done = resolve })
    const settleOne = (): void => { if (--waiting === 0) done(result) }
    claimed?.claim.track(settled.then(appended => !appended.failed))
    /** `members`: the batch indexes of the records, null for all of them. */
    const append = (partition: number, data: Buffer, ends: number[], timestamps: number[] | number, members: readonly number[] | null): void => {
      let target: Partition
      try {
        target = this.#partition(state, partition)
        this.#checkFreeSpace(batchSize(ends.length, ends[ends.length - 1] as number))
      } catch (err) {
        result.fail(partition, err)
        return
      }
      waiting++
      const pending: PendingAppend = {
        data,
        ends,
        count: ends.length,
        timestamps,
        baseOffset: -1,
        settle: failure => {
          if (failure === undefined) result.succeed(partition, pending.baseOffset)
          else result.fail(partition, failure)
          settleOne()
        }
      }
      if (claimed !== undefined) {
        const indexes = members === null ? Array.from({ length: ends.length }, (_, j) => claimed.indexOf(j)) : members.map(j => claimed.indexOf(j))
        pending.inTransaction = baseOffset => claimed.claim.recordPart(partition, baseOffset, indexes, timestamps)
      }
      if (this.#unsafeEarlyAck) {
        this.#queueAcknowledged(state, target, pending)
      } else {
        target.queue.push(pending)
        if (!target.committing) queueMicrotask(() => this.#issue(state, target))
      }
    }
    if (!mixed) {
      append(partitions[0] as number, data, ends, timestamps, null)
    } else {
      // The records of each partition are copied out into a buffer of their own.
      const groups = new Map<number, number[]>()
      for (let j = 0; j < count; j++) {
        if (restored && result.isRestored(j)) continue
        const partition = partitions[j] as number
        let members = groups.get(partition)
        if (members === undefined) groups.set(partition, members = [])
        members.push(j)
      }
      for (const [partition, members] of groups) {
        let bytes = 0
        for (const j of members) bytes += (ends[j] as number) - (j === 0 ? 0 : ends[j - 1] as number)
        const own = Buffer.allocUnsafe(bytes)
        const ownEnds: number[] = new Array(members.length)
        const ownTimestamps = typeof timestamps === 'number' ? timestamps : members.map(j => timestamps[j] as number)
        let at = 0
        for (let m = 0; m < members.length; m++) {
          const j = members[m] as number
          at += data.copy(own, at, j === 0 ? 0 : ends[j - 1] as number, ends[j] as number)
          ownEnds[m] = at
        }
        append(partition, own, ownEnds, ownTimestamps, members)
      }
    }
    settleOne()
    return settled
  }

  /**
   * lmdb-js 3.5 can corrupt its native heap when a write fails with ENOSPC, so
   * the log stops short of a full disk instead: free space is read with
   * statfs at most every 250 ms or 1 MiB of appends.
   * @throws LogwayError KAFKA_STORAGE_ERROR while free space is under the reserve
   */
  #checkFreeSpace (bytes: number): void {
    const now = performance.now()
    if (now - this.#freeCheckedAt > 250 || this.#bytesSinceFreeCheck > 1024 * 1024 || this.#freeBytes - this.#bytesSinceFreeCheck - bytes < this.#minFreeBytes) {
      try {
        const stats = statfsSync(this.dataDir)
        this.#freeBytes = stats.bavail * stats.bsize
      } catch {
        this.#freeBytes = Infinity
      }
      this.#freeCheckedAt = now
      this.#bytesSinceFreeCheck = 0
    }
    // Pages are copied on write: count each record twice.
    const free = this.#freeBytes - this.#bytesSinceFreeCheck
    if (free - 2 * bytes < this.#minFreeBytes) {
      throw new LogwayError('KAFKA_STORAGE_ERROR', `The disk holding the log is nearly full: ${free} bytes free, and Logway keeps ${this.#minFreeBytes} in reserve; nothing was written.`, { freeBytes: free, minFreeBytes: this.#minFreeBytes })
    }
    this.#bytesSinceFreeCheck += 2 * bytes
  }

  /**
   * `unsafeEarlyAck` only: queues an append and settles it at once with the
   * offsets #issue will give it, then leaves the partition's queue unwritten
   * for UNSAFE_WRITE_DELAY_MS, as a write-behind buffer would: a crash in that
   * time loses acknowledged records, however durable LMDB's writes are.
   */
  #queueAcknowledged (state: TopicState, partition: Partition, pending: PendingAppend): void {
    let offset = partition.nextOffset
    for (const queued of partition.queue) offset += queued.count
    pending.baseOffset = offset
    const settle = pending.settle
    pending.settle = () => {}
    partition.queue.push(pending)
    if (partition.queue.length === 1) this.#clock.setTimeout(() => this.#issue(state, partition), UNSAFE_WRITE_DELAY_MS)
    settle(undefined)
  }

  /**
   * Issues every queued append of a partition as one LMDB transaction: their
   * records, with offsets and positions assigned, go into stored batches of
   * about BATCH_BYTES, each one put.
   */
  #issue (state: TopicState, partition: Partition): void {
    if (partition.committing || partition.queue.length === 0) return
    if (this.#topics.get(state.stored.name) !== state) return
    const batch = partition.queue.splice(0)
    const id = state.stored.id
    const before = { offset: partition.nextOffset, position: partition.nextPosition, maxTimestamp: partition.nextMaxTimestamp }
    let offset = before.offset
    let maxTimestamp = before.maxTimestamp
    let indexFrom = -1
    // Where the stored batches are cut: the record count and bytes of each.
    const cuts: number[] = []
    let runCount = 0
    let runBytes = 0
    for (const pending of batch) {
      pending.baseOffset = offset
      const { ends, timestamps } = pending
      let start = 0
      for (let i = 0; i < ends.length; i++) {
        const end = ends[i] as number
        if (runCount > 0 && runBytes + end - start > BATCH_BYTES) {
          cuts.push(runCount, runBytes)
          runCount = 0
          runBytes = 0
        }
        runCount++
        runBytes += end - start
        const timestamp = typeof timestamps === 'number' ? timestamps : timestamps[i] as number
        if (timestamp > maxTimestamp) {
          if (indexFrom < 0) indexFrom = offset
          maxTimestamp = timestamp
        }
        start = end
        offset++
      }
    }
    cuts.push(runCount, runBytes)
    // One allocation for the transaction; each stored batch is a view of it.
    let total = 0
    for (let c = 0; c < cuts.length; c += 2) total += batchSize(cuts[c] as number, cuts[c + 1] as number)
    const all = Buffer.allocUnsafe(total)
    const stored: Array<{ offset: number, value: Buffer }> = []
    let position = before.position
    let next = before.offset
    let cut = 0
    let batchStart = 0
    let batchEnd = 0
    let batchOffset = 0
    let inBatch = 0
    let at = 0
    const allView = viewOf(all)
    for (const pending of batch) {
      // Positions are set in the encoded records, then the records of a
      // pending append that land in one stored batch are copied at once.
      const dataView = viewOf(pending.data)
      let start = 0
      let copyFrom = 0
      let copyTo = at
      for (let i = 0; i < pending.ends.length; i++) {
        if (at === batchEnd) {
          if (start > copyFrom) pending.data.copy(all, copyTo, copyFrom, start)
          const count = cuts[cut++] as number
          batchStart = batchEnd
          batchEnd = batchStart + batchSize(count, cuts[cut++] as number)
          batchOffset = next
          inBatch = 0
          startBatch(allView, batchStart, count)
          at = batchStart + batchRecordsAt(count)
          copyFrom = start
          copyTo = at
        }
        const end = pending.ends[i] as number
        setPosition(dataView, position, start)
        position += end - start
        setBatchEntry(allView, batchStart, inBatch++, next - batchOffset, end - start)
        at += end - start
        next++
        start = end
        if (at === batchEnd) stored.push({ offset: batchOffset, value: all.subarray(batchStart, batchEnd) })
      }
      pending.data.copy(all, copyTo, copyFrom, start)
      // Copied: the encoded records are not needed while the commit is pending.
      pending.data = EMPTY
      pending.ends = NO_ENDS
    }
    const end: EndState = { logEndOffset: offset, endPosition: position, maxTimestamp }
    // The batch is one transaction, written only if its first offset is free:
    // a stale end offset can never overwrite a record.
    const written = this.#records.ifNoExists([id, partition.index, before.offset], () => {
      for (const entry of stored) this.#records.put([id, partition.index, entry.offset], entry.value)
      // One sparse time-index entry per transaction that raises the running
      // maximum timestamp: the first record with timestamp ≥ T lies at or
      // after the entry of the first transaction whose maximum reached T.
      if (indexFrom >= 0) this.#timeIndex.put([id, partition.index, maxTimestamp], indexFrom)
      this.#state.put([id, partition.index, 'end'], end)
      // An idempotency key's record of these appends commits with them, or neither does.
      for (const pending of batch) pending.inTransaction?.(pending.baseOffset)
    }) as Promise<boolean> & { flushed?: Promise<void> }
    partition.nextOffset = offset
    partition.nextPosition = position
    partition.nextMaxTimestamp = maxTimestamp
    partition.committing = true
    const fail = (err: unknown): void => {
      // Nothing of this transaction is on disk: hand its offsets back.
      partition.committing = false
      partition.nextOffset = before.offset
      partition.nextPosition = before.position
      partition.nextMaxTimestamp = before.maxTimestamp
      partition.flushing++
      storageError(err, 'append').then(failure => {
        partition.flushing--
        for (const pending of batch) pending.settle(failure)
        this.#checkIdle(partition)
      }, () => {})
      this.#issue(state, partition)
    }
    const succeed = async (): Promise<void> => {
      partition.committing = false
      partition.flushing++
      // The next batch may commit while this one is being flushed.
      this.#issue(state, partition)
      await written.flushed
      partition.flushing--
      if (end.logEndOffset > partition.logEndOffset) {
        partition.logEndOffset = end.logEndOffset
        partition.endPosition = end.endPosition
        partition.maxTimestamp = end.maxTimestamp
      }
      for (const pending of batch) pending.settle(undefined)
      this.#notify(state.stored.name, partition)
      this.#checkIdle(partition)
    }
    written.then(applied => {
      if (applied) return succeed()
      fail(new Error(`offset ${before.offset} of ${state.stored.name}-${partition.index} is already taken on disk`))
    }, fail)
  }

  // ---- read -----------------------------------------------------------------

  /**
   * Reads records from `offset`: at most `maxRecords`, and no more than
   * `maxBytes` except that one record is always returned when one exists.
   * Only records that are committed and flushed are visible.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE, INVALID_REQUEST
   */
  read (topic: string, partition: number, options: ReadOptions): ReadResult {
    const state = this.#topic(topic)
    const target = this.#partition(state, partition)
    const { offset } = options
    const maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS
    const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES
    if (!Number.isSafeInteger(maxRecords) || maxRecords < 1) throw new LogwayError('INVALID_REQUEST', 'maxRecords must be a positive integer.')
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new LogwayError('INVALID_REQUEST', 'maxBytes must be a positive integer.')
    this.#checkOffset(state, target, offset)
    const end = target.logEndOffset
    const records: StoredRecord[] = []
    let bytes = 0
    this.#visitRecords(state.stored.id, target.index, offset, end, (at, record) => {
      if (records.length > 0 && bytes + record.length > maxBytes) return false
      records.push(decodeRecord(at, record))
      bytes += record.length
      return records.length < maxRecords
    })
    const last = records.at(-1)
    return {
      records,
      nextOffset: last === undefined ? end : last.offset + 1,
      logStartOffset: target.logStartOffset,
      logEndOffset: end,
      highWatermark: end
    }
  }

  #checkOffset (state: TopicState, partition: Partition, offset: number): void {
    if (!Number.isSafeInteger(offset) || offset < partition.logStartOffset || offset > partition.logEndOffset) {
      throw new LogwayError('OFFSET_OUT_OF_RANGE',
        `Offset ${String(offset)} is out of range for ${state.stored.name}-${partition.index}: the log holds offsets ${partition.logStartOffset} to ${partition.logEndOffset} (end, exclusive).`,
        { logStartOffset: partition.logStartOffset, logEndOffset: partition.logEndOffset })
    }
  }

  /**
   * Kafka's ListOffsets by timestamp: the first offset whose timestamp is ≥
   * `timestamp`, with that record's timestamp; null when there is none.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION
   */
  offsetForTimestamp (topic: string, partition: number, timestamp: number): { offset: number, timestamp: number } | null {
    const state = this.#topic(topic)
    const target = this.#partition(state, partition)
    return this.#offsetForTimestamp(state.stored.id, target, timestamp)
  }

  #offsetForTimestamp (id: number, partition: Partition, timestamp: number): { offset: number, timestamp: number } | null {
    const end = partition.logEndOffset
    let from = partition.logStartOffset
    for (const entry of this.#timeIndex.getRange({ start: [id, partition.index, timestamp], end: [id, partition.index, Infinity], limit: 1 })) {
      from = Math.max(from, entry.value)
    }
    if (from >= end) return null
    let found: { offset: number, timestamp: number } | null = null
    this.#visitRecords(id, partition.index, from, end, (offset, record) => {
      const ts = readTimestamp(record)
      if (ts < timestamp) return true
      found = { offset, timestamp: ts }
      return false
    })
    return found
  }

  // ---- waiting for data ---------------------------------------------------------

  /**
   * Resolves `true` as soon as the partition's visible end is beyond `offset`
   * (at once if it already is), or `false` after `timeoutMs`, on abort, on
   * close, or when the topic is deleted. Woken by appends, never by polling.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION
   */
  async waitForAppend (topic: string, partition: number, offset: number, timeoutMs: number, signal?: AbortSignal): Promise<boolean> {
    const target = this.#partition(this.#topic(topic), partition)
    if (target.logEndOffset > offset) return true
    if (!this.#open || timeoutMs <= 0 || signal?.aborted === true) return false
    return new Promise<boolean>(resolve => {
      const waiter: Waiter = {
        offset,
        done: (appended) => {
          target.waiters.delete(waiter)
          this.#clock.clearTimeout(timer)
          signal?.removeEventListener('abort', onAbort)
          resolve(appended)
        }
      }
      const onAbort = (): void => waiter.done(false)
      const timer = this.#clock.setTimeout(() => waiter.done(false), timeoutMs)
      signal?.addEventListener('abort', onAbort, { once: true })
      target.waiters.add(waiter)
    })
  }

  /** Calls `listener` after each batch becomes visible. Returns an unsubscribe function. */
  onAppend (listener: AppendListener): () => void {
    this.#listeners.add(listener)
    return () => { this.#listeners.delete(listener) }
  }

  #notify (topic: string, partition: Partition): void {
    for (const waiter of [...partition.waiters]) {
      if (partition.logEndOffset > waiter.offset) waiter.done(true)
    }
    for (const listener of this.#listeners) {
      try {
        listener(topic, partition.index, partition.logEndOffset)
      } catch {
        // A listener's failure is its own; the log goes on.
      }
    }
  }

  #wakeAll (partition: Partition, appended: boolean): void {
    for (const waiter of [...partition.waiters]) waiter.done(appended)
  }

  // ---- deletion, retention and compaction --------------------------------------------

  /**
   * Kafka's DeleteRecords: advances the log start offset to `beforeOffset`
   * (-1 means the high watermark). Records below it become invisible at once
   * and are removed in the background. Resolves with the new log start offset.
   * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE (beyond the end)
   */
  async deleteRecords (topic: string, partition: number, beforeOffset: number): Promise<number> {
    const state = this.#topic(topic)
    const target = this.#partition(state, partition)
    const before = beforeOffset === -1 ? target.logEndOffset : beforeOffset
    if (!Number.isSafeInteger(before) || before < 0 || before > target.logEndOffset) {
      throw new LogwayError('OFFSET_OUT_OF_RANGE', `Cannot delete records before offset ${beforeOffset}: the log end offset of ${topic}-${partition} is ${target.logEndOffset}.`)
    }
    await this.#advanceStart(state, target, before)
    return target.logStartOffset
  }

  async #advanceStart (state: TopicState, partition: Partition, newStart: number): Promise<number> {
    const oldStart = partition.logStartOffset
    if (newStart <= oldStart) return 0
    partition.logStartOffset = newStart
    partition.startPosition = this.#positionAtOrAfter(state.stored.id, partition.index, newStart, partition.logEndOffset)?.position ?? partition.endPosition
    await this.#durable(this.#state.put([state.stored.id, partition.index, 'start'], newStart))
    return this.#removeRange(state, partition, oldStart, newStart)
  }

  /**
   * Removes stored records with offsets in [from, to), a chunk of stored
   * batches per transaction: a batch left with none is removed, one left
   * with some is rewritten without the others. Returns how many were removed.
   */
  async #removeRange (state: TopicState, partition: Partition, from: number, to: number): Promise<number> {
    return await this.#cleanup(partition, async () => {
      const removed = await this.#rewriteBatches(state, partition, from, to, () => true)
      await this.#removeDeadIndexEntries(state.stored.id, partition.index, to)
      return removed
    })
  }

  /**
   * Rewrites the stored batches holding records with offsets in [from, to)
   * without the records `drop` picks, a chunk of batches per transaction
   * (see #cleanup). Stops if the topic is deleted meanwhile, as a rewrite
   * must not bring back a batch its purge removed. Returns how many records were dropped.
   */
  async #rewriteBatches (state: TopicState, partition: Partition, from: number, to: number, drop: (offset: number) => boolean): Promise<number> {
    const id = state.stored.id
    let dropped = 0
    let start = this.#batchKeyAt(id, partition.index, from)
    for (;;) {
      const changes: Array<{ key: RecordKey, value: Buffer | null }> = []
      let next = -1
      for (const { key, value } of this.#records.getRange({ start: [id, partition.index, start], end: [id, partition.index, to], limit: CLEANUP_CHUNK })) {
        next = key[2] + 1
        const offsets: number[] = []
        const records: Buffer[] = []
        let count = 0
        visitBatch(value, key[2], (offset, record) => {
          count++
          if (offset < from || offset >= to || !drop(offset)) {
            offsets.push(offset)
            records.push(record)
          }
          return true
        })
        if (records.length === count) continue
        dropped += count - records.length
        changes.push({ key, value: records.length === 0 ? null : encodeBatch(key[2], offsets, records) })
      }
      if (next < 0 || this.#topics.get(state.stored.name) !== state) return dropped
      await committed(this.#atomically(() => {
        for (const { key, value } of changes) {
          if (value === null) this.#records.remove(key)
          else this.#records.put(key, value)
        }
      }))
      start = next
    }
  }

  /** Removes the time-index entries that only cover offsets below `to`. */
  async #removeDeadIndexEntries (id: number, partition: number, to: number): Promise<void> {
    // An index entry covers records up to the next entry's base offset, so it
    // is dead once the next entry starts at or below the new start.
    const dead: RecordKey[] = []
    let previous: RecordKey | undefined
    for (const entry of this.#timeIndex.getRange({ start: [id, partition, -Infinity], end: [id, partition, Infinity] })) {
      if (entry.value > to) break
      if (previous !== undefined) dead.push(previous)
      previous = entry.key
    }
    await committed(this.#atomically(() => { for (const key of dead) this.#timeIndex.remove(key) }))
  }

  async #purgeTopic (id: number): Promise<void> {
    for (const db of [this.#records, this.#timeIndex, this.#state] as Database[]) {
      for (;;) {
        const keys = [...db.getKeys({ start: [id], end: [id + 1], limit: CLEANUP_CHUNK })]
        if (keys.length === 0) break
        await committed(this.#atomically(() => { for (const key of keys) db.remove(key) }))
      }
    }
    await committed(this.#deletedTopics.remove(id))
  }

  /** The offset of the first stored record of a partition, if any. */
  #firstOffset (id: number, partition: number): number | undefined {
    let first: number | undefined
    this.#visitRecords(id, partition, 0, Number.MAX_SAFE_INTEGER, offset => {
      first = offset
      return false
    })
    return first
  }

  /** The key offset of the stored batch that would hold `offset`: the last at or below it (`offset` when there is none). */
  #batchKeyAt (id: number, partition: number, offset: number): number {
    const [key] = [...this.#records.getKeys({ start: [id, partition, offset], end: [id, partition, -1], reverse: true, limit: 1 })]
    return key?.[2] ?? offset
  }

  /**
   * Calls `visit` with each stored record of a partition with an offset in
   * [from, to), in order, until it returns false. Reads a chunk of stored
   * batches per read snapshot, so no snapshot is held for long.
   */
  #visitRecords (id: number, partition: number, from: number, to: number, visit: (offset: number, record: Buffer) => boolean | undefined): void {
    let start = this.#batchKeyAt(id, partition, from)
    for (;;) {
      let next = -1
      for (const { key, value } of this.#records.getRange({ start: [id, partition, start], end: [id, partition, to], limit: SCAN_CHUNK })) {
        next = key[2] + 1
        let more = true
        visitBatch(value, key[2], (offset, record) => {
          if (offset < from) return true
          more = offset < to && visit(offset, record) !== false
          return more
        })
        if (!more) return
      }
      if (next < 0) return
      start = next
    }
  }

  /**
   * Runs `work` after every earlier cleanup of the partition has finished:
   * retention and compaction read stored batches and write them back
   * changed, so two of them must not interleave. Appends never touch
   * existing batches.
   */
  async #cleanup<T> (partition: Partition, work: () => Promise<T>): Promise<T> {
    const run = partition.cleaning.then(work, work)
    partition.cleaning = run.catch(() => {})
    return await run
  }

  /**
   * Runs retention (time and bytes, for `delete` topics) and compaction (for
   * `compact` topics) once over every partition, now, then forgets expired
   * idempotency keys (IdempotencyStore.sweep). Appends go on meanwhile.
   * Concurrent calls share one run.
   */
  async runMaintenance (): Promise<MaintenanceReport> {
    this.#maintenance ??= this.#maintain().finally(() => { this.#maintenance = null })
    return this.#maintenance
  }

  async #maintain (): Promise<MaintenanceReport> {
    const report: MaintenanceReport = { deletedRecords: 0, compactedRecords: 0 }
    for (const state of [...this.#topics.values()]) {
      const policy = state.configs['cleanup.policy']
      for (const partition of state.partitions) {
        if (!this.#open || this.#topics.get(state.stored.name) !== state) break
        if (policy.includes('delete')) report.deletedRecords += await this.#applyRetention(state, partition)
        if (policy.includes('compact')) report.compactedRecords += await this.#compact(state, partition)
      }
    }
    if (this.#open) await this.idempotency.sweep()
    return report
  }

  #scheduleMaintenance (): void {
    if (this.#retentionCheckIntervalMs <= 0 || !this.#open) return
    this.#maintenanceTimer = this.#clock.setTimeout(() => {
      this.runMaintenance().catch(() => {}).finally(() => this.#scheduleMaintenance())
    }, this.#retentionCheckIntervalMs)
    this.#maintenanceTimer.unref?.()
  }

  async #applyRetention (state: TopicState, partition: Partition): Promise<number> {
    const id = state.stored.id
    const { 'retention.ms': retentionMs, 'retention.bytes': retentionBytes } = state.configs
    const end = partition.logEndOffset
    let newStart = partition.logStartOffset
    if (retentionMs >= 0) {
      const kept = this.#offsetForTimestamp(id, partition, this.#clock.now() - retentionMs)
      newStart = Math.max(newStart, kept === null ? end : kept.offset)
    }
    if (retentionBytes >= 0) {
      const endPosition = partition.endPosition
      // Positions grow with offsets: find the first record whose position
      // leaves at most retention.bytes behind it.
      let lo = newStart
      let hi = end
      while (lo < hi) {
        const mid = Math.floor((lo + hi) / 2)
        const at = this.#positionAtOrAfter(id, partition.index, mid, end)
        if (at === undefined || endPosition - at.position <= retentionBytes) hi = mid
        else lo = mid + 1
      }
      newStart = Math.max(newStart, lo)
    }
    return this.#advanceStart(state, partition, Math.min(newStart, end))
  }

  #positionAtOrAfter (id: number, partition: number, offset: number, end: number): { offset: number, position: number } | undefined {
    let found: { offset: number, position: number } | undefined
    this.#visitRecords(id, partition, offset, end, (at, record) => {
      found = { offset: at, position: readPosition(record) }
      return false
    })
    return found
  }

  /**
   * Keeps the latest record per key among records older than
   * min.compaction.lag.ms, and drops tombstones older than delete.retention.ms.
   * Scans in chunks so no read snapshot is held for long.
   */
  async #compact (state: TopicState, partition: Partition): Promise<number> {
    return await this.#cleanup(partition, async () => {
      const id = state.stored.id
      const start = partition.logStartOffset
      const end = partition.logEndOffset
      const now = this.#clock.now()
      const lagCutoff = now - state.configs['min.compaction.lag.ms']
      const tombstoneCutoff = now - state.configs['delete.retention.ms']
      const latest = new Map<string, number>()
      this.#visitRecords(id, partition.index, start, end, (offset, value) => {
        const { key } = readKeyAndTombstone(value)
        if (key !== null) latest.set(key.toString('latin1'), offset)
        return true
      })
      const doomed = new Set<number>()
      this.#visitRecords(id, partition.index, start, end, (offset, value) => {
        const timestamp = readTimestamp(value)
        if (timestamp > lagCutoff) return true
        const { key, tombstone } = readKeyAndTombstone(value)
        if (key === null) return true
        const superseded = latest.get(key.toString('latin1')) !== offset
        if (superseded || (tombstone && timestamp <= tombstoneCutoff)) doomed.add(offset)
        return true
      })
      if (doomed.size > 0) await this.#rewriteBatches(state, partition, start, end, offset => doomed.has(offset))
      return doomed.size
    })
  }

  // ---- state of upper layers ------------------------------------------------------

  /**
   * A named key-value database in the log's own LMDB environment, for layers
   * above the log (consumer groups) to keep their state next to the records
   * with the same durability promise: `write` applies its puts and removes as
   * one transaction and resolves only once it is committed and flushed to
   * disk; `close` waits for writes in flight. Opening a name again returns
   * the same database. Names cannot collide with the log's own databases.
   * @throws LogwayError INVALID_REQUEST (a name other than 1 to 63 of [a-z0-9-], starting with a letter),
   *   BROKER_NOT_AVAILABLE (the log is closing)
   */
  openSubDatabase<V> (name: string): SubDatabase<V> {
    if (!this.#open) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The log is closing.')
    if (!SUB_DATABASE_NAME.test(name)) {
      throw new LogwayError('INVALID_REQUEST', `Sub-database names are 1 to 63 characters of [a-z0-9-] starting with a letter (got '${name}').`)
    }
    const known = this.#subDatabases.get(name)
    if (known !== undefined) return known as SubDatabase<V>
    type StoredKey = Array<string | number>
    const db: Database<V, StoredKey> = this.#root.openDB({ name: `sub/${name}` })
    const sub: SubDatabase<V> = {
      get: (key) => {
        if (!this.#open) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The log is closing.')
        return db.get(key as StoredKey)
      },
      range: (prefix) => {
        if (!this.#open) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The log is closing.')
        const entries: Array<{ key: SubDatabaseKey, value: V }> = []
        for (const { key, value } of db.getRange(prefix.length === 0 ? {} : { start: prefix as StoredKey })) {
          // lmdb-js reads a one-element array key back as the element itself.
          const parts: SubDatabaseKey = Array.isArray(key) ? key : [key]
          if (!hasPrefix(parts, prefix)) break
          entries.push({ key: parts, value })
        }
        return entries
      },
      write: async (writes) => {
        if (!this.#open) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The log is closing.')
        const done = this.#durable(this.#atomically(() => writes({
          put: (key, value) => { db.put(key as StoredKey, value) },
          remove: (key) => { db.remove(key as StoredKey) }
        })))
        this.#inBackground(done)
        await done
      }
    }
    this.#subDatabases.set(name, sub as SubDatabase<unknown>)
    return sub
  }

  // ---- helpers ----------------------------------------------------------------------

  #topic (name: string): TopicState {
    const topic = this.#topics.get(name)
    if (topic === undefined) throw new LogwayError('UNKNOWN_TOPIC_OR_PARTITION', `Topic '${name}' does not exist.`, { topic: name })
    return topic
  }

  #partition (state: TopicState, index: number): Partition {
    const partition = Number.isSafeInteger(index) ? state.partitions[index] : undefined
    if (partition === undefined) {
      throw new LogwayError('UNKNOWN_TOPIC_OR_PARTITION', `Partition ${String(index)} of topic '${state.stored.name}' does not exist (it has ${state.partitions.length}).`, { topic: state.stored.name, partition: index })
    }
    return partition
  }

  /** Runs topic-level changes one at a time, so checks and writes do not interleave. */
  async #admin<T> (work: () => Promise<T>): Promise<T> {
    if (!this.#open) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The log is closing.')
    const run = this.#adminChain.then(work, work)
    this.#adminChain = run.catch(() => {})
    return run
  }

  /**
   * Runs the writes made by `writes` as one transaction with a promise of its
   * own (resolving `true` once committed, with a `flushed` promise).
   */
  #atomically (writes: () => void): Promise<boolean> {
    // A conditional block on a key that never exists: lmdb-js's way to group
    // writes atomically when event-turn batching is off.
    return this.#state.ifNoExists(NO_SUCH_KEY, writes)
  }

  /** Awaits a write's commit and then its flush to disk. @throws LogwayError KAFKA_STORAGE_ERROR */
  async #durable (write: Promise<unknown>): Promise<void> {
    await committed(write)
    await (write as { flushed?: Promise<void> }).flushed
  }

  #inBackground (work: Promise<unknown>): void {
    const tracked = work.catch(() => {}).finally(() => this.#background.delete(tracked))
    this.#background.add(tracked)
  }

  async #whenIdle (partition: Partition): Promise<void> {
    if (partition.idle) return
    await new Promise<void>(resolve => partition.idleResolvers.push(resolve))
  }

  #checkIdle (partition: Partition): void {
    if (!partition.idle) return
    for (const resolve of partition.idleResolvers.splice(0)) resolve()
  }
}

/**
 * lmdb-js rejects every write of a failed transaction with a generic error
 * whose `commitError` promise holds the cause (ENOSPC, EIO…); that promise
 * must be consumed or the process dies of an unhandled rejection.
 */
async function storageError (err: unknown, what: string): Promise<LogwayError> {
  const cause = await ((err as { commitError?: Promise<unknown> } | null)?.commitError?.catch((reason: unknown) => reason) ?? err)
  const message = cause instanceof Error ? cause.message : String(cause)
  return new LogwayError('KAFKA_STORAGE_ERROR', `The log could not commit the ${what}: ${message}`, undefined, { cause })
}

/** Awaits a write's commit. @throws LogwayError KAFKA_STORAGE_ERROR */
async function committed (write: PromiseLike<unknown>): Promise<void> {
  try {
    await write
  } catch (err) {
    throw await storageError(err, 'change')
  }
}

function hasPrefix (key: SubDatabaseKey, prefix: SubDatabaseKey): boolean {
  if (key.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false
  return true
}

function describe (topic: TopicState): TopicDescription {
  return {
    name: topic.stored.name,
    topicId: topic.stored.topicId,
    partitionCount: topic.partitions.length,
    configs: { ...topic.configs },
    overrides: { ...topic.stored.overrides },
    createdAt: topic.stored.createdAt
  }
}

function partitionInfo (partition: Partition): PartitionInfo {
  return {
    partition: partition.index,
    logStartOffset: partition.logStartOffset,
    logEndOffset: partition.logEndOffset,
    highWatermark: partition.logEndOffset,
    sizeBytes: partition.endPosition - partition.startPosition
  }
}

function checkPartitionCount (count: number): void {
  if (!Number.isSafeInteger(count) || count < 1 || count > MAX_PARTITIONS) {
    throw new LogwayError('INVALID_PARTITIONS', `The partition count must be an integer from 1 to ${MAX_PARTITIONS} (got ${String(count)}).`)
  }
}

function toBytes (value: unknown, field: string, index?: number): Buffer | null {
  if (value === null || value === undefined) return null
  if (Buffer.isBuffer(value)) return value
  if (value instanceof Uint8Array) return Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  throw new LogwayError('INVALID_RECORD', `The record's ${field} must be bytes or null.`, { index })
}
