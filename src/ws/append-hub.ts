import type { LogStore } from '../log/log-store.js'

/**
 * One listener on the log's appends for all WebSocket sessions: it wakes
 * the sessions that watch the partition appended to, so that a session
 * reads only when there is something to read.
 */
export class AppendHub {
  readonly #watchers = new Map<string, Set<() => void>>()
  readonly #unsubscribe: () => void

  constructor (log: LogStore) {
    this.#unsubscribe = log.onAppend((topic, partition) => {
      const watchers = this.#watchers.get(watchKey(topic, partition))
      if (watchers !== undefined) for (const wake of watchers) wake()
    })
  }

  /** Calls `wake` after each append to the partition, until the returned function is called. */
  watch (topic: string, partition: number, wake: () => void): () => void {
    const key = watchKey(topic, partition)
    let watchers = this.#watchers.get(key)
    if (watchers === undefined) {
      watchers = new Set()
      this.#watchers.set(key, watchers)
    }
    watchers.add(wake)
    return () => {
      const current = this.#watchers.get(key)
      if (current === undefined) return
      current.delete(wake)
      if (current.size === 0) this.#watchers.delete(key)
    }
  }

  close (): void {
    this.#unsubscribe()
    this.#watchers.clear()
  }
}

function watchKey (topic: string, partition: number): string {
  return `${partition}:${topic}`
}
