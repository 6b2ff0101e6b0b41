import { LogwayError } from '../errors.js'

/**
 * The longest event id Logway reads back from a Last-Event-ID header. Node's
 * default header limit (16 KiB for all headers) is hit first in practice; this
 * bound only keeps a hostile header from costing more than a parse.
 */
export const MAX_EVENT_ID_LENGTH = 16_384

const SEGMENT = /^(?:(\d{1,5}):)?(\d{1,16})$/

/**
 * The id of an SSE event: the next offset to read of every partition of the
 * stream, so that `Last-Event-ID` resumes each of them exactly.
 *
 * Format: comma-separated `partition:offset` pairs in ascending partition
 * order, where `partition:` is left out when the partition is the previous
 * one plus 1. Partitions 0, 1, 2 at offsets 12, 7, 0 are `0:12,7,0`;
 * partitions 1 and 3 at 4 and 9 are `1:4,3:9`.
 *
 * @param positions the next offset by partition, in any order
 */
export function encodeEventId (positions: ReadonlyMap<number, number>): string {
  const partitions = [...positions.keys()].sort((a, b) => a - b)
  let id = ''
  let previous = -2
  for (const partition of partitions) {
    if (id !== '') id += ','
    id += segmentLabel(partition, previous) + String(positions.get(partition))
    previous = partition
  }
  return id
}

/**
 * Splits the id `encodeEventId` would give for `positions` around the offset
 * of `partition`: the id is `prefix + offset + suffix` for as long as only
 * that partition moves, so a run of events from one partition costs one
 * string concatenation each instead of a full encoding.
 */
export function eventIdTemplate (positions: ReadonlyMap<number, number>, partition: number): { prefix: string, suffix: string } {
  const partitions = [...positions.keys()].sort((a, b) => a - b)
  const at = partitions.indexOf(partition)
  if (at < 0) throw new Error(`partition ${partition} is not in the stream`)
  const before = new Map(partitions.slice(0, at).map(p => [p, positions.get(p) as number]))
  const after = partitions.slice(at + 1)
  let prefix = encodeEventId(before)
  if (prefix !== '') prefix += ','
  prefix += segmentLabel(partition, partitions[at - 1] ?? -2)
  let suffix = ''
  let previous = partition
  for (const p of after) {
    suffix += ',' + segmentLabel(p, previous) + String(positions.get(p))
    previous = p
  }
  return { prefix, suffix }
}

/**
 * Reads an id written by `encodeEventId`.
 * @returns the next offset by partition
 * @throws LogwayError INVALID_REQUEST when `id` is not such an id (the first
 *   pair must name its partition; partitions must ascend)
 */
export function parseEventId (id: string): Map<number, number> {
  const invalid = (why: string): LogwayError => new LogwayError('INVALID_REQUEST',
    `Last-Event-ID ${JSON.stringify(id.slice(0, 100))}${id.length > 100 ? '…' : ''} is not a Logway event id (partition:offset pairs such as 0:12,7,0): ${why}.`)
  if (id.length > MAX_EVENT_ID_LENGTH) throw invalid(`it is longer than ${MAX_EVENT_ID_LENGTH} characters`)
  const positions = new Map<number, number>()
  let previous = -1
  for (const segment of id.split(',')) {
    const match = SEGMENT.exec(segment.trim())
    if (match === null) throw invalid(`'${segment.slice(0, 40)}' is not partition:offset or offset`)
    const [, named, offsetText] = match
    if (named === undefined && positions.size === 0) throw invalid('the first pair must name its partition')
    const partition = named === undefined ? previous + 1 : Number(named)
    if (partition <= previous) throw invalid('partitions must ascend')
    const offset = Number(offsetText)
    if (!Number.isSafeInteger(offset)) throw invalid(`offset ${offsetText ?? ''} is too large`)
    positions.set(partition, offset)
    previous = partition
  }
  return positions
}

function segmentLabel (partition: number, previous: number): string {
  return partition === previous + 1 ? '' : `${partition}:`
}
