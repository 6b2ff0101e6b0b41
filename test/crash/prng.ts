/**
 * A small seeded pseudo-random generator (mulberry32): the same seed gives the
 * same choices, so a failing crash run can be replayed from its printed seed.
 */
export class Prng {
  readonly seed: number
  #state: number

  constructor (seed: number) {
    this.seed = seed >>> 0
    this.#state = this.seed
  }

  /** A float in [0, 1). */
  next (): number {
    this.#state = (this.#state + 0x6d2b79f5) >>> 0
    let x = this.#state
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }

  /** An integer from min to max, both included. */
  int (min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1))
  }

  /** True with probability p. */
  chance (p: number): boolean {
    return this.next() < p
  }

  pick<T> (items: readonly T[]): T {
    return items[this.int(0, items.length - 1)] as T
  }

  bytes (length: number): Buffer {
    const out = Buffer.allocUnsafe(length)
    for (let i = 0; i < length; i++) out[i] = this.int(0, 255)
    return out
  }
}
