import { LogwayError } from '../errors.js'

const LEGAL = /^[a-zA-Z0-9._-]+$/
/** Kafka's limit on topic name length. */
export const MAX_TOPIC_NAME_LENGTH = 249

/**
 * Checks a topic name against Kafka's rule: 1 to 249 characters of
 * `[a-zA-Z0-9._-]`, and neither `.` nor `..`.
 * @throws LogwayError INVALID_TOPIC_EXCEPTION naming what is wrong.
 */
export function validateTopicName (name: unknown): asserts name is string {
  if (typeof name !== 'string' || name.length === 0) {
    throw new LogwayError('INVALID_TOPIC_EXCEPTION', 'Topic name must be a non-empty string.')
  }
  if (name.length > MAX_TOPIC_NAME_LENGTH) {
    throw new LogwayError('INVALID_TOPIC_EXCEPTION', `Topic name is ${name.length} characters long; the limit is ${MAX_TOPIC_NAME_LENGTH}.`)
  }
  if (name === '.' || name === '..') {
    throw new LogwayError('INVALID_TOPIC_EXCEPTION', `Topic name cannot be "${name}".`)
  }
  if (!LEGAL.test(name)) {
    throw new LogwayError('INVALID_TOPIC_EXCEPTION', `Topic name "${name}" is illegal: it may contain only ASCII letters, digits, '.', '_' and '-'.`)
  }
}
