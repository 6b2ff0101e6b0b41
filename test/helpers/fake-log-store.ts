import type { LogStore } from '../../src/log/log-store.js'

export interface FakeLogStore {
  store: LogStore
  /** How many times close() was called. */
  closed: () => number
}

/**
 * A stand-in for an open LogStore that knows only what the server skeleton
 * uses (clusterId, isOpen, close); anything else is undefined.
 */
export function fakeLogStore (clusterId = 'fake-cluster'): FakeLogStore {
  let closeCalls = 0
  const fake = {
    clusterId,
    get isOpen () { return closeCalls === 0 },
    async close () { closeCalls++ }
  }
  return { store: fake as unknown as LogStore, closed: () => closeCalls }
}

/** A promise with its resolve and reject, to control when a store "opens". */
export function deferred<T> (): { promise: Promise<T>, resolve: (value: T) => void, reject: (err: unknown) => void } {
  let settle!: { resolve: (value: T) => void, reject: (err: unknown) => void }
  const promise = new Promise<T>((resolve, reject) => { settle = { resolve, reject } })
  return { promise, ...settle }
}
