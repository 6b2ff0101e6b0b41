import { LogwayError } from '../errors.js'
import type { LogStore } from '../log/log-store.js'
import { RecordStream, type RecordStreamContext } from './record-stream.js'
import type { ServerFrame, StartPosition, SubscribeFrame } from './ws-frames.js'

/**
 * Opens the positional reader of a `subscribe` frame (no group): every
 * partition asked for (default: all the topic has now) starts where `from`
 * says, with the frame's credits. A position that falls out of the log
 * (retention) moves to the log start offset. Returns the stream and its
 * `subscribed` frame.
 * @throws LogwayError UNKNOWN_TOPIC_OR_PARTITION, OFFSET_OUT_OF_RANGE (an explicit offset outside the log)
 */
export function openReader (frame: SubscribeFrame, ctx: RecordStreamContext): { stream: RecordStream, subscribed: ServerFrame } {
  const { log } = ctx
  const { topic } = frame
  const partitions = frame.partitions ?? log.partitions(topic).map(p => p.partition)
  const starts = partitions.map(partition => ({ topic, partition, position: startOffset(log, topic, partition, frame.from) }))
  const stream = new RecordStream(frame.id, frame.format ?? 'binary', ctx, {
    outOfRange: (_topic, _partition, _position, info) => info.logStartOffset,
    missingTopic: 'fail'
  })
  stream.credits.grant(frame.credits)
  stream.setCursors(starts)
  return {
    stream,
    subscribed: { type: 'subscribed', id: frame.id, topic, partitions: starts.map(s => ({ partition: s.partition, offset: s.position })) }
  }
}

function startOffset (log: LogStore, topic: string, partition: number, from: StartPosition): number {
  const { logStartOffset, logEndOffset } = log.partitionInfo(topic, partition)
  if (from === 'earliest') return logStartOffset
  if (from === 'latest') return logEndOffset
  if ('timestamp' in from) return log.offsetForTimestamp(topic, partition, from.timestamp)?.offset ?? logEndOffset
  if (from.offset < logStartOffset || from.offset > logEndOffset) {
    throw new LogwayError('OFFSET_OUT_OF_RANGE',
      `Offset ${from.offset} is out of range for ${topic}-${partition}: the log holds offsets ${logStartOffset} to ${logEndOffset} (end, exclusive).`,
      { topic, partition, logStartOffset, logEndOffset })
  }
  return from.offset
}
