import type { ErrorCode } from '../errors.js'
import type { RecordData, RecordFormat } from '../records/record-data.js'

// The frames of the WebSocket API, as typed views of schemas/ws/*.json.
// Client frames are validated against their schema before they are used.

/** Credits a client grants (schemas/ws/WsCreditGrant.json). */
export interface CreditGrant {
  messages?: number
  bytes?: number
}

export interface ProduceRecordFrame {
  key?: RecordData | null
  value?: RecordData | null
  headers?: Array<{ name: string, value?: string | null }>
  partition?: number
  timestamp?: number | string
}

export interface ProduceFrame {
  type: 'produce'
  id: string
  topic: string
  partition?: number
  idempotency_key?: string
  records: ProduceRecordFrame[]
}

export type StartPosition = 'earliest' | 'latest' | { offset: number } | { timestamp: number }

export interface SubscribeFrame {
  type: 'subscribe'
  id: string
  topic: string
  partitions?: number[]
  from: StartPosition
  format?: RecordFormat
  credits?: CreditGrant
}

export interface JoinFrame {
  type: 'join'
  id: string
  group: string
  topics: string[]
  auto_offset_reset?: 'earliest' | 'latest' | 'none'
  session_timeout_ms?: number
  format?: RecordFormat
  credits?: CreditGrant
  auto_commit?: boolean
}

export interface CreditFrame extends CreditGrant {
  type: 'credit'
  id: string
}

export interface TopicPartitionOffset {
  topic: string
  partition: number
  offset: number
}

export interface CommitFrame {
  type: 'commit'
  id: string
  offsets?: TopicPartitionOffset[]
}

export interface SeekFrame extends TopicPartitionOffset {
  type: 'seek'
  id: string
}

export interface LeaveFrame { type: 'leave', id: string }
export interface UnsubscribeFrame { type: 'unsubscribe', id: string }
export interface ProbeFrame { type: 'probe', id: string }
export interface PingFrame { type: 'ping', id?: string }

export type ClientFrame =
  | ProduceFrame | SubscribeFrame | JoinFrame | CreditFrame | CommitFrame | SeekFrame
  | LeaveFrame | UnsubscribeFrame | ProbeFrame | PingFrame

export type ClientFrameType = ClientFrame['type']

/** A delivered record (schemas/ws/WsRecord.json). */
export interface RecordView {
  topic: string
  partition: number
  offset: number
  timestamp: number
  key: unknown
  value: unknown
  headers: Array<{ name: string, value: string | null }>
}

export interface ErrorFrame {
  type: 'error'
  id?: string
  error_code: number
  code: ErrorCode
  message: string
}

export type ServerFrame =
  | { type: 'ack', id: string, topic: string, results: Array<{ partition: number, offset: number, timestamp: number }> }
  | ErrorFrame
  | { type: 'subscribed', id: string, topic: string, partitions: Array<{ partition: number, offset: number }> }
  | { type: 'records', id: string, records: RecordView[] }
  | { type: 'caught_up', id: string, topic: string, partition: number, offset: number }
  | { type: 'assigned', id: string, member_id: string, generation_id: number, partitions: TopicPartitionOffset[] }
  | { type: 'revoked', id: string, partitions: Array<{ topic: string, partition: number }> }
  | { type: 'committed', id: string, offsets: TopicPartitionOffset[] }
  | { type: 'seeked', id: string, topic: string, partition: number, offset: number }
  | { type: 'left', id: string }
  | { type: 'unsubscribed', id: string }
  | { type: 'position', id: string, partitions: Array<{ topic: string, partition: number, position: number, log_end_offset: number, caught_up: boolean }> }
  | { type: 'pong', id?: string }
