import { setFlagsFromString } from 'node:v8'
import { LogwayError } from '../errors.js'
import { validateTopicName } from '../log/topic-name.js'
import { compareIds } from './range-assignor.js'
import type { Subscription } from './types.js'

/** The most topics one subscription may list (bounds what a client can make the coordinator hold). */
export const MAX_SUBSCRIBED_TOPICS = 10_000
/** The longest topic pattern. */
export const MAX_PATTERN_LENGTH = 1_000

// A topic pattern comes from a client and is run against every topic name: with
// V8's backtracking engine a pattern like `(a+)+` takes seconds on a name of 30
// characters and years on one of 249, blocking the whole server. Patterns run
// on V8's linear-time engine instead (the `l` flag), which Node 20 has behind
// this flag; it only enables the flag, no other regular expression changes.
setFlagsFromString('--enable-experimental-regexp-engine')

/** A validated subscription, with its pattern compiled. */
export class TopicSubscription {
  readonly subscription: Subscription
  readonly #topics: ReadonlySet<string> | null
  readonly #pattern: RegExp | null

  private constructor (subscription: Subscription, topics: ReadonlySet<string> | null, pattern: RegExp | null) {
    this.subscription = subscription
    this.#topics = topics
    this.#pattern = pattern
  }

  /**
   * Validates a subscription: a non-empty list of valid topic names
   * (duplicates dropped, sorted), or a regular expression that must match a
   * whole topic name, as Java's `Pattern.matches` does (JavaScript syntax),
   * run in time linear in the name: constructs that need backtracking
   * (backreferences, lookarounds) are refused.
   * @throws LogwayError INVALID_REQUEST (neither or both, empty, too long, bad pattern), INVALID_TOPIC_EXCEPTION
   */
  static from (subscription: unknown): TopicSubscription {
    const input = subscription as { topics?: unknown, pattern?: unknown } | null
    if (typeof input !== 'object' || input === null || (input.topics === undefined) === (input.pattern === undefined)) {
      throw new LogwayError('INVALID_REQUEST', 'A subscription names either topics or a topic pattern.')
    }
    if (input.topics !== undefined) {
      if (!Array.isArray(input.topics) || input.topics.length === 0 || input.topics.length > MAX_SUBSCRIBED_TOPICS) {
        throw new LogwayError('INVALID_REQUEST', `A subscription lists 1 to ${MAX_SUBSCRIBED_TOPICS} topics.`)
      }
      for (const topic of input.topics) validateTopicName(topic)
      const topics = [...new Set(input.topics as string[])].sort(compareIds)
      return new TopicSubscription({ topics }, new Set(topics), null)
    }
    const pattern = input.pattern
    if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) {
      throw new LogwayError('INVALID_REQUEST', `A topic pattern is a regular expression of 1 to ${MAX_PATTERN_LENGTH} characters.`)
    }
    let compiled: RegExp
    try {
      new RegExp(pattern) // eslint-disable-line no-new -- only its syntax error, if any, is wanted
    } catch (err) {
      throw new LogwayError('INVALID_REQUEST', `The topic pattern is not a valid regular expression: ${(err as Error).message}`)
    }
    try {
      // The linear-time engine's flag, which the linter does not know.
      compiled = new RegExp(`^(?:${pattern})$`, 'l') // eslint-disable-line no-invalid-regexp
    } catch {
      throw new LogwayError('INVALID_REQUEST', 'The topic pattern uses a construct that needs backtracking (a backreference or a lookaround): ' +
        'patterns run in time linear in the topic name, so that no pattern can stall the server; rewrite it without one.')
    }
    return new TopicSubscription({ pattern }, null, compiled)
  }

  /** True when the member consumes `topic`. */
  matches (topic: string): boolean {
    return this.#topics !== null ? this.#topics.has(topic) : (this.#pattern as RegExp).test(topic)
  }

  /** The topics among `existing` that the member consumes. */
  select (existing: Iterable<string>): string[] {
    const selected: string[] = []
    for (const topic of existing) if (this.matches(topic)) selected.push(topic)
    return selected
  }

  /** True when both describe the same subscription. */
  equals (other: TopicSubscription): boolean {
    const a = this.subscription
    const b = other.subscription
    if ('pattern' in a) return 'pattern' in b && a.pattern === b.pattern
    return 'topics' in b && a.topics.length === b.topics.length && a.topics.every((t, i) => t === b.topics[i])
  }
}
