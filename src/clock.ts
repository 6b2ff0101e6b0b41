/** Time as the rest of Logway sees it. Injected so tests can move time by hand. */
export interface Clock {
  /** Milliseconds since the epoch. */
  now (): number
  setTimeout (fn: () => void, ms: number): TimerHandle
  clearTimeout (handle: TimerHandle): void
}

export interface TimerHandle {
  /** Lets the process exit while the timer is pending. */
  unref? (): unknown
}

export const systemClock: Clock = {
  now: () => Date.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)
}

interface ManualTimer extends TimerHandle {
  at: number
  seq: number
  fn: () => void
  cancelled: boolean
}

/**
 * A clock that moves only when told to. `advance(ms)` runs every timer that
 * falls due, in due order, and lets promise callbacks settle between timers.
 */
export class ManualClock implements Clock {
  #now: number
  #seq = 0
  #timers: ManualTimer[] = []

  constructor (start = Date.UTC(2026, 0, 1)) {
    this.#now = start
  }

  now (): number {
    return this.#now
  }

  setTimeout (fn: () => void, ms: number): TimerHandle {
    const timer: ManualTimer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false, unref: () => timer }
    this.#timers.push(timer)
    return timer
  }

  clearTimeout (handle: TimerHandle): void {
    (handle as ManualTimer).cancelled = true
  }

  /** Timers not yet run nor cleared. */
  get pending (): number {
    return this.#timers.filter(t => !t.cancelled).length
  }

  async advance (ms: number): Promise<void> {
    const target = this.#now + ms
    for (;;) {
      await settle()
      this.#timers = this.#timers.filter(t => !t.cancelled)
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq)
      const next = this.#timers[0]
      if (next === undefined || next.at > target) break
      this.#timers.shift()
      this.#now = Math.max(this.#now, next.at)
      next.fn()
    }
    this.#now = target
    await settle()
  }
}

async function settle (): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise<void>(resolve => setImmediate(resolve))
}
