import type { Clock } from '../clock.js'
import type {
  AppendListener, AppendResult, CreateTopicOptions, DurabilityOptions, PartitionInfo,
  ReadOptions, ReadResult, RecordInput, TopicConfigEntry, TopicDescription
} from './types.js'

export interface LogStoreOptions {
  dataDir: string
  clock?: Clock
  /** How often retention and compaction run in the background; 0 turns the timer off. */
  retentionCheckIntervalMs?: number
}

export interface MaintenanceReport {
  deletedRecords: number
  compactedRecords: number
}

const TODO = (): never => { throw new Error('not implemented yet') }

/** The append-only log (shell: being implemented). */
export class LogStore {
  readonly clusterId: string = ''
  readonly dataDir: string = ''
  static async open (_options: LogStoreOptions): Promise<LogStore> { return TODO() }
  get isOpen (): boolean { return false }
  async close (): Promise<void> { TODO() }
  async createTopic (_name: string, _options?: CreateTopicOptions): Promise<TopicDescription> { return TODO() }
  listTopics (): TopicDescription[] { return TODO() }
  describeTopic (_name: string): TopicDescription { return TODO() }
  async deleteTopic (_name: string): Promise<void> { TODO() }
  async createPartitions (_name: string, _totalCount: number): Promise<TopicDescription> { return TODO() }
  describeConfigs (_name: string): TopicConfigEntry[] { return TODO() }
  async alterConfigs (_name: string, _changes: Record<string, string | number | null>): Promise<TopicDescription> { return TODO() }
  partitions (_topic: string): PartitionInfo[] { return TODO() }
  partitionInfo (_topic: string, _partition: number): PartitionInfo { return TODO() }
  partitionFor (_topic: string, _key: Buffer | null | undefined): number { return TODO() }
  async append (_topic: string, _partition: number, _records: RecordInput[]): Promise<AppendResult> { return TODO() }
  read (_topic: string, _partition: number, _options: ReadOptions): ReadResult { return TODO() }
  offsetForTimestamp (_topic: string, _partition: number, _timestamp: number): { offset: number, timestamp: number } | null { return TODO() }
  async waitForAppend (_topic: string, _partition: number, _offset: number, _timeoutMs: number, _signal?: AbortSignal): Promise<boolean> { return TODO() }
  onAppend (_listener: AppendListener): () => void { return TODO() }
  async deleteRecords (_topic: string, _partition: number, _beforeOffset: number): Promise<number> { return TODO() }
  async runMaintenance (): Promise<MaintenanceReport> { return TODO() }
  durabilityOptions (): DurabilityOptions { return TODO() }
}
