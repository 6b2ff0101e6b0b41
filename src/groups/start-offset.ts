import { LogwayError } from '../errors.js'
import type { OffsetResetPolicy, StartOffset } from './types.js'

/** The bounds of a partition's log, and its name for error messages. */
export interface PartitionBounds {
  topic: string
  partition: number
  logStartOffset: number
  logEndOffset: number
}

/**
 * Where a consumer starts reading a partition (Kafka's `auto.offset.reset`):
 * the committed offset while it lies within the log (logStartOffset to
 * logEndOffset, both included); otherwise `earliest` gives logStartOffset and
 * `latest` gives logEndOffset.
 * @throws LogwayError with policy `none`: OFFSET_OUT_OF_RANGE when the committed offset left the log
 *   (retention, DeleteRecords), NO_OFFSET_FOR_PARTITION when nothing is committed.
 */
export function resolveStartOffset (committedOffset: number | null, bounds: PartitionBounds, policy: OffsetResetPolicy): StartOffset {
  const { logStartOffset, logEndOffset } = bounds
  if (committedOffset !== null && committedOffset >= logStartOffset && committedOffset <= logEndOffset) {
    return { offset: committedOffset, source: 'committed' }
  }
  switch (policy) {
    case 'earliest': return { offset: logStartOffset, source: 'reset' }
    case 'latest': return { offset: logEndOffset, source: 'reset' }
    case 'none':
      if (committedOffset !== null) {
        throw new LogwayError('OFFSET_OUT_OF_RANGE',
          `The committed offset ${committedOffset} of ${bounds.topic}-${bounds.partition} is outside the log (${logStartOffset} to ${logEndOffset}) and auto.offset.reset is none.`,
          { topic: bounds.topic, partition: bounds.partition, logStartOffset, logEndOffset })
      }
      throw new LogwayError('NO_OFFSET_FOR_PARTITION', `No offset is committed for ${bounds.topic}-${bounds.partition} and auto.offset.reset is none.`,
        { topic: bounds.topic, partition: bounds.partition })
  }
}
