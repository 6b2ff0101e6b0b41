// Kafka's default partitioner hash: the 32-bit MurmurHash2 variant of
// org.apache.kafka.common.utils.Utils.murmur2, with Kafka's fixed seed.
const SEED = 0x9747b28c
const M = 0x5bd1e995
const R = 24

/**
 * Hashes `data` exactly as Java's `org.apache.kafka.common.utils.Utils.murmur2`
 * does, so a key lands on the same partition as with a Java producer.
 *
 * @returns the hash as a signed 32-bit integer (the value Java's `int` holds),
 *   in [-2^31, 2^31 - 1]. Never throws.
 */
export function murmur2 (data: Uint8Array): number {
  const length = data.length
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength)
  const tail = length & 3
  const bodyEnd = length - tail

  // `^` and Math.imul keep every intermediate a 32-bit integer, as Java's int
  // arithmetic does; `>>>` is Java's unsigned shift.
  let h = SEED ^ length
  for (let i = 0; i < bodyEnd; i += 4) {
    let k = view.getInt32(i, true)
    k = Math.imul(k, M)
    k ^= k >>> R
    k = Math.imul(k, M)
    h = Math.imul(h, M) ^ k
  }

  if (tail > 0) {
    if (tail === 3) h ^= view.getUint8(bodyEnd + 2) << 16
    if (tail >= 2) h ^= view.getUint8(bodyEnd + 1) << 8
    h ^= view.getUint8(bodyEnd)
    h = Math.imul(h, M)
  }

  h ^= h >>> 13
  h = Math.imul(h, M)
  h ^= h >>> 15
  return h
}

/**
 * Clears the sign bit, as Kafka's `Utils.toPositive`: unlike `Math.abs` it
 * maps -2^31 to 0 rather than to a value outside the int range.
 *
 * @returns `n & 0x7fffffff`, an integer in [0, 2^31 - 1]. Never throws.
 */
export function toPositive (n: number): number {
  return n & 0x7fffffff
}

/**
 * The partition Kafka's default partitioner picks for a non-null key:
 * `toPositive(murmur2(key)) % partitionCount`.
 *
 * @returns an integer in [0, partitionCount).
 * @throws RangeError when `partitionCount` is not a positive safe integer (a
 *   caller bug, not a domain error: the log validates partition counts itself).
 */
export function partitionForKey (key: Uint8Array, partitionCount: number): number {
  if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) {
    throw new RangeError(`partitionCount must be a positive integer, got ${partitionCount}`)
  }
  return toPositive(murmur2(key)) % partitionCount
}
