import { createHash } from 'node:crypto'
import type { Database } from 'lmdb'
import type { Clock } from '../clock.js'
import { LogwayError } from '../errors.js'

/** Where an earlier attempt of an idempotent request wrote one of its records. */
export interface WrittenRecord {
  partition: number
  offset: number
  timestamp: number
}

/**
 * An idempotent request's view of one batch it appends (`LogStore.appendBatch`):
 * the request index of each of the batch's records, by their index in the batch.
 */
export interface ClaimedBatch {
  claim: IdempotencyClaim
  indexOf: (j: number) => number
}

/** The records of one `LogStore.append` made for an idempotent request, by their request index. */
export interface ClaimedRecords {
  claim: IdempotencyClaim
  indexes: readonly number[]
}

/**
 * The answer kept under `[ANSWERS, scope, key]`. An entry of the earlier
 * format, which kept the caller's answer as fields of its own, has no
 * `answer`: its fingerprint still holds the key, but its answer cannot be
 * read and counts as none (see `IdempotencyClaim.check`).
 */
interface AnswerEntry {
  fingerprint: string
  createdAt: number
  /** The answer, encoded by the caller. */
  answer?: Uint8Array
}

/**
 * The records of one partition an attempt wrote, kept under
 * `[ANSWERS, scope, key, partition, baseOffset]` and committed in the same
 * transaction as those records.
 */
interface PartEntry {
  fingerprint: string
  createdAt: number
  /** The request index of each record, in offset order from the base offset. */
  indexes: number[]
  /** Each record's timestamp, or the one they all share. */
  timestamps: number[] | number
}

type StoredKey = Array<string | number>

/** Key prefix of answers and parts. */
const ANSWERS = 'k'
/** Key prefix of the expiry index: `[EXPIRY, createdAt, scope, key]`. */
const EXPIRY = 't'
/** Expired keys forgotten per transaction by `sweep`. */
const SWEEP_CHUNK = 64

export interface IdempotencyStoreOptions {
  /** The database (in the log's LMDB environment) the keys live in. */
  db: Database
  clock: Clock
  ttlMs: number
  /** Applies the puts and removes `writes` makes as one durable transaction (see LogStore). */
  write: (writes: () => void) => Promise<void>
  isOpen: () => boolean
}

/**
 * Idempotency keys of produce requests, kept in the log's own LMDB
 * environment so that what a key covers is written with the records.
 * Knows nothing of HTTP: a key lives in a `scope` (the caller's route and
 * topic), a request is known by an opaque `fingerprint`, and its answer is
 * opaque bytes, which the caller encodes and decodes.
 *
 * Crash safety: each append made under a claim writes a *part* — the request
 * indexes of the records it holds and their timestamps — in the very
 * transaction that writes those records (`LogStore.appendBatch`, `append`),
 * so after any crash a part exists exactly when its records do. A request
 * whose records go to several partitions writes one transaction, and one
 * part, per partition. Once every append has settled, the answer is written
 * and the parts removed, in one transaction. A retry (same scope, key and
 * fingerprint) then finds either the answer, which it is given again, or the
 * parts of whatever was written before a crash (or before a storage failure),
 * from which the records already written are reported where they are and
 * only the others are appended: a retry never writes a record twice, and
 * completes a request that was cut short.
 *
 * A key is forgotten `ttlMs` after its first attempt began: on lookup, and
 * for good by `sweep`.
 */
export class IdempotencyStore {
  readonly ttlMs: number
  readonly #db: Database<unknown, StoredKey>
  readonly #clock: Clock
  readonly #write: (writes: () => void) => Promise<void>
  readonly #isOpen: () => boolean
  readonly #inFlight = new Map<string, IdempotencyClaim>()

  constructor (options: IdempotencyStoreOptions) {
    this.ttlMs = options.ttlMs
    this.#db = options.db as Database<unknown, StoredKey>
    this.#clock = options.clock
    this.#write = options.write
    this.#isOpen = options.isOpen
  }

  /**
   * Takes `key` in `scope` for one attempt of a request, until the claim's
   * `finish`. The caller then reads the request, and calls `check` with its
   * fingerprint before appending anything.
   * @throws LogwayError IDEMPOTENCY_KEY_IN_FLIGHT (an attempt with this key has not finished),
   *   BROKER_NOT_AVAILABLE (the log is closing)
   */
  claim (scope: string, key: string): IdempotencyClaim {
    this.#checkOpen()
    const id = `${scope}\n${key}`
    if (this.#inFlight.has(id)) {
      throw new LogwayError('IDEMPOTENCY_KEY_IN_FLIGHT', `A request with Idempotency-Key '${key}' is still being processed; retry once it has been answered.`)
    }
    const claim = new IdempotencyClaim(this, id, scope, key)
    this.#inFlight.set(id, claim)
    return claim
  }

  /** For claims: what is kept, unexpired, under a key. */
  lookup (scope: string, key: string): { answer?: AnswerEntry, parts: Array<{ partition: number, baseOffset: number, part: PartEntry }> } {
    this.#checkOpen()
    const cutoff = this.#clock.now() - this.ttlMs
    const prefix: StoredKey = [ANSWERS, scope, key]
    let answer: AnswerEntry | undefined
    const parts: Array<{ partition: number, baseOffset: number, part: PartEntry }> = []
    for (const { key: stored, value } of this.#db.getRange({ start: prefix })) {
      if (!hasPrefix(stored, prefix)) break
      const entry = value as AnswerEntry | PartEntry
      // An entry of an expired attempt is forgotten, even before `sweep` removes it.
      if (entry.createdAt <= cutoff) continue
      if (stored.length === prefix.length) answer = entry as AnswerEntry
      else parts.push({ partition: stored[3] as number, baseOffset: stored[4] as number, part: entry as PartEntry })
    }
    return answer === undefined ? { parts } : { answer, parts }
  }

  /** For claims, inside an append's transaction: see `IdempotencyClaim.recordPart`. */
  putPart (claim: IdempotencyClaim, partition: number, baseOffset: number, part: PartEntry): void {
    this.#db.put([ANSWERS, claim.scope, claim.key, partition, baseOffset], part)
    this.#db.put([EXPIRY, part.createdAt, claim.scope, claim.key], true)
  }

  /** For claims: writes the answer and removes the parts, as one durable transaction. */
  async putAnswer (claim: IdempotencyClaim, answer: AnswerEntry): Promise<void> {
    this.#checkOpen()
    const prefix: StoredKey = [ANSWERS, claim.scope, claim.key]
    const stale: StoredKey[] = []
    for (const stored of this.#db.getKeys({ start: prefix })) {
      if (!hasPrefix(stored, prefix)) break
      if (stored.length > prefix.length) stale.push(stored)
    }
    await this.#write(() => {
      for (const key of stale) this.#db.remove(key)
      this.#db.put(prefix, answer)
      this.#db.put([EXPIRY, answer.createdAt, claim.scope, claim.key], true)
    })
  }

  /** For claims: the key is free again. */
  release (claim: IdempotencyClaim): void {
    if (this.#inFlight.get(claim.id) === claim) this.#inFlight.delete(claim.id)
  }

  /**
   * Removes every key whose first attempt began `ttlMs` ago or more, a chunk
   * of keys per transaction, through the expiry index (no scan of live keys).
   * Resolves with how many keys were forgotten.
   * @throws LogwayError KAFKA_STORAGE_ERROR
   */
  async sweep (): Promise<number> {
    const cutoff = this.#clock.now() - this.ttlMs
    let forgotten = 0
    while (this.#isOpen()) {
      const expired: StoredKey[] = []
      for (const key of this.#db.getKeys({ start: [EXPIRY], limit: SWEEP_CHUNK })) {
        if (key[0] !== EXPIRY || (key[1] as number) > cutoff) break
        expired.push(key)
      }
      if (expired.length === 0) break
      const doomed: StoredKey[] = []
      for (const [, createdAt, scope, key] of expired) {
        const prefix: StoredKey = [ANSWERS, scope as string, key as string]
        for (const { key: stored, value } of this.#db.getRange({ start: prefix })) {
          if (!hasPrefix(stored, prefix)) break
          // A later attempt of the same key (after an earlier one expired) stays.
          if ((value as { createdAt: number }).createdAt === createdAt) doomed.push(stored)
        }
      }
      await this.#write(() => {
        for (const key of doomed) this.#db.remove(key)
        for (const key of expired) this.#db.remove(key)
      })
      forgotten += expired.length
    }
    return forgotten
  }

  /** For claims: the time now, by the log's clock. */
  now (): number {
    return this.#clock.now()
  }

  #checkOpen (): void {
    if (!this.#isOpen()) throw new LogwayError('BROKER_NOT_AVAILABLE', 'The log is closing.')
  }
}

/**
 * One attempt of an idempotent request, holding its key from `claim` to
 * `finish`: while it is held, another attempt with the key is refused
 * (IDEMPOTENCY_KEY_IN_FLIGHT), so two attempts never append at once.
 */
export class IdempotencyClaim {
  readonly id: string
  readonly scope: string
  readonly key: string
  readonly #store: IdempotencyStore
  #fingerprint: string | undefined
  /** When the request's first attempt began: the key expires ttlMs after. */
  #createdAt = 0
  /** Where earlier attempts wrote records, by request index. */
  readonly #written = new Map<number, WrittenRecord>()
  /** Appends made under the claim that have not settled. */
  readonly #appends = new Set<Promise<unknown>>()
  #incomplete = false
  #finished: Promise<boolean> | undefined

  constructor (store: IdempotencyStore, id: string, scope: string, key: string) {
    this.#store = store
    this.id = id
    this.scope = scope
    this.key = key
  }

  /**
   * Looks the request up by its fingerprint. Returns the answer an earlier
   * attempt kept (the bytes given to its `finish`), to be given again
   * (nothing is to be written: the claim is finished); or undefined, and then
   * `written` tells which records earlier attempts wrote before they were cut
   * short. An answer kept in an earlier format, which cannot be read, counts
   * as none: the request goes on as if it were the first, and its answer
   * replaces that one.
   * @throws LogwayError IDEMPOTENCY_KEY_REUSED (the key was used with another request: the claim is finished),
   *   BROKER_NOT_AVAILABLE
   */
  check (fingerprint: string): Buffer | undefined {
    let found
    try {
      found = this.#store.lookup(this.scope, this.key)
    } catch (err) {
      this.#store.release(this)
      throw err
    }
    const { answer, parts } = found
    const fingerprints = new Set([answer, ...parts.map(p => p.part)].flatMap(entry => entry === undefined ? [] : [entry.fingerprint]))
    if (fingerprints.size > 1 || (fingerprints.size === 1 && !fingerprints.has(fingerprint))) {
      this.#store.release(this)
      throw new LogwayError('IDEMPOTENCY_KEY_REUSED', `Idempotency-Key '${this.key}' was already used with a different request (route, topic, partition, content type or body); use a new key for a new request.`)
    }
    this.#fingerprint = fingerprint
    if (answer?.answer instanceof Uint8Array) {
      this.#finished = Promise.resolve(false)
      this.#store.release(this)
      return Buffer.from(answer.answer)
    }
    this.#createdAt = parts[0]?.part.createdAt ?? this.#store.now()
    for (const { partition, baseOffset, part } of parts) {
      part.indexes.forEach((index, k) => {
        const timestamp = typeof part.timestamps === 'number' ? part.timestamps : part.timestamps[k] as number
        this.#written.set(index, { partition, offset: baseOffset + k, timestamp })
      })
    }
    return undefined
  }

  /** Where an earlier attempt wrote record `index` of the request, or undefined when none did. */
  written (index: number): WrittenRecord | undefined {
    return this.#written.get(index)
  }

  /** How many of the request's records earlier attempts wrote. */
  get writtenCount (): number {
    return this.#written.size
  }

  /**
   * For the log, inside the transaction that writes them: records with these
   * request indexes go to `partition` from `baseOffset` on, with these
   * timestamps (or one shared timestamp).
   */
  recordPart (partition: number, baseOffset: number, indexes: readonly number[], timestamps: readonly number[] | number): void {
    if (this.#fingerprint === undefined) throw new Error('IdempotencyClaim: check() comes before any append')
    this.#store.putPart(this, partition, baseOffset, {
      fingerprint: this.#fingerprint,
      createdAt: this.#createdAt,
      indexes: [...indexes],
      timestamps: typeof timestamps === 'number' ? timestamps : [...timestamps]
    })
  }

  /**
   * For the log: an append made under the claim, resolving true when all of
   * its records were written. `finish` waits for it; one that fails marks the
   * claim incomplete.
   */
  track (append: Promise<boolean>): void {
    const tracked = append.then(written => { if (!written) this.#incomplete = true }, () => { this.#incomplete = true })
    this.#appends.add(tracked)
    tracked.finally(() => this.#appends.delete(tracked))
  }

  /**
   * The request did not get all it asked for for a reason a retry may get
   * past (a storage failure, a shutdown): its answer is not kept, so a retry
   * writes what is missing.
   */
  markIncomplete (): void {
    this.#incomplete = true
  }

  /**
   * Ends the attempt: once every append made under it has settled, keeps
   * `answer` (when given, checked, and the request is not incomplete), the
   * bytes a retry's `check` returns, and removes the parts, then frees the
   * key. Calls after the first return the first one's promise. Never
   * rejects; resolves true when the answer was kept (a failure to keep it
   * leaves the parts, so a retry still writes nothing twice).
   */
  async finish (answer?: Uint8Array): Promise<boolean> {
    this.#finished ??= this.#finish(answer)
    return await this.#finished
  }

  async #finish (answer: Uint8Array | undefined): Promise<boolean> {
    try {
      while (this.#appends.size > 0) await Promise.all(this.#appends)
      if (answer === undefined || this.#incomplete || this.#fingerprint === undefined) return false
      await this.#store.putAnswer(this, { fingerprint: this.#fingerprint, createdAt: this.#createdAt, answer })
      return true
    } catch {
      return false
    } finally {
      this.#store.release(this)
    }
  }
}

/**
 * A request's fingerprint: SHA-256 over its parts, each length-prefixed so
 * that no two different lists of parts hash alike.
 */
export function requestFingerprint (parts: ReadonlyArray<string | Uint8Array>): string {
  const hash = createHash('sha256')
  for (const part of parts) {
    const bytes = typeof part === 'string' ? Buffer.from(part, 'utf8') : part
    hash.update(`${bytes.length}:`)
    hash.update(bytes)
  }
  return hash.digest('base64url')
}

function hasPrefix (key: unknown, prefix: StoredKey): key is StoredKey {
  if (!Array.isArray(key) || key.length < prefix.length) return false
  for (let i = 0; i < prefix.length; i++) if (key[i] !== prefix[i]) return false
  return true
}
