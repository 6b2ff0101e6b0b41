import type { LogStore } from '../log/log-store.js'
import type { SubDatabase } from '../log/types.js'
import type { AssignorName } from './types.js'

/** A group's definition as stored: what survives a restart besides its offsets. */
export interface StoredGroup {
  groupId: string
  /** 'consumer' once a member joined; null for a group that only ever stored offsets. */
  protocolType: 'consumer' | null
  assignor: AssignorName | null
  createdAt: number
}

/** A committed offset as stored. */
export interface StoredOffset {
  offset: number
  metadata: string | null
  commitTimestamp: number
  /** The topic's id when committed: an offset of a deleted topic never applies to a new topic of the same name. */
  topicId: string
}

/** A stored offset with its place. */
export interface StoredOffsetEntry extends StoredOffset {
  groupId: string
  topic: string
  partition: number
}

/** The writes of one GroupStore transaction. */
export interface GroupStoreBatch {
  putGroup (group: StoredGroup): void
  removeGroup (groupId: string): void
  putOffset (groupId: string, topic: string, partition: number, offset: StoredOffset): void
  removeOffset (groupId: string, topic: string, partition: number): void
}

type Stored = StoredGroup | StoredOffset

/** The sub-database of the log that holds group definitions and committed offsets. */
export const GROUP_SUB_DATABASE = 'consumer-groups'

/**
 * Group definitions and committed offsets, in a sub-database of the log's
 * LMDB environment: `['group', groupId]` and `['offset', groupId, topic, partition]`.
 * Durability promise: `write` resolves only once its changes are flushed to disk.
 */
export class GroupStore {
  readonly #db: SubDatabase<Stored>

  constructor (log: LogStore) {
    this.#db = log.openSubDatabase<Stored>(GROUP_SUB_DATABASE)
  }

  /** Every stored group definition, by group id. */
  groups (): StoredGroup[] {
    return this.#db.range(['group']).map(e => e.value as StoredGroup)
  }

  /** The stored definition of one group, if any. */
  group (groupId: string): StoredGroup | undefined {
    return this.#db.get(['group', groupId]) as StoredGroup | undefined
  }

  /** The offsets stored for one group (all groups without an argument), by topic and partition. */
  offsets (groupId?: string): StoredOffsetEntry[] {
    return this.#db.range(groupId === undefined ? ['offset'] : ['offset', groupId]).map(({ key, value }) => ({
      ...(value as StoredOffset),
      groupId: key[1] as string,
      topic: key[2] as string,
      partition: key[3] as number
    }))
  }

  /** One stored offset, if any. */
  offset (groupId: string, topic: string, partition: number): StoredOffset | undefined {
    return this.#db.get(['offset', groupId, topic, partition]) as StoredOffset | undefined
  }

  /**
   * Applies the writes `writes` makes as one transaction; resolves once flushed.
   * @throws LogwayError KAFKA_STORAGE_ERROR (nothing was written), BROKER_NOT_AVAILABLE
   */
  async write (writes: (batch: GroupStoreBatch) => void): Promise<void> {
    await this.#db.write(batch => writes({
      putGroup: (group) => batch.put(['group', group.groupId], group),
      removeGroup: (groupId) => batch.remove(['group', groupId]),
      putOffset: (groupId, topic, partition, offset) => batch.put(['offset', groupId, topic, partition], offset),
      removeOffset: (groupId, topic, partition) => batch.remove(['offset', groupId, topic, partition])
    }))
  }
}
