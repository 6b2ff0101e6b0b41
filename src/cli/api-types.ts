// The fields of the server's documents (schemas/*.json) the CLI reads. Declared
// here rather than imported, because the CLI is a client of the public API only.

/** schemas/TopicData.json */
export interface TopicData {
  topic_name: string
  partitions_count: number
  replication_factor: number
}

/** schemas/PartitionData.json */
export interface PartitionData {
  partition_id: number
  log_start_offset: number
  log_end_offset: number
  high_watermark: number
  size_bytes: number
}

/** schemas/TopicConfigData.json */
export interface TopicConfigData {
  name: string
  value: string | null
  is_default: boolean
  source: string
}

/** A v3 collection: `data` holds the items. */
export interface DataList<T> {
  data: T[]
}

/** schemas/ProduceResponse.json, or an error object of a produce stream. */
export interface ProduceAnswer {
  error_code: number
  partition_id?: number
  offset?: number
  message?: string
  code?: string
}

/** schemas/FetchResponse.json */
export interface FetchResponse {
  log_start_offset: number
  log_end_offset: number
  next_offset: number
  records: Array<{
    offset: number
    timestamp: number
    key: string | null
    value: string | null
    headers: Array<{ name: string, value: string | null }>
  }>
}

/** schemas/V2ConsumerBinaryRecord.json */
export interface V2BinaryRecord {
  topic: string
  key: string | null
  value: string | null
  partition: number
  offset: number
  timestamp: number
  headers: Array<{ name: string, value: string | null }>
}

/** schemas/ConsumerGroupData.json */
export interface ConsumerGroupData {
  consumer_group_id: string
  is_simple: boolean
  partition_assignor: string
  state: string
}

/** schemas/ConsumerData.json */
export interface ConsumerData {
  consumer_id: string
  client_id: string
}

/** schemas/ConsumerAssignmentData.json */
export interface ConsumerAssignmentData {
  topic_name: string
  partition_id: number
}

/** schemas/ConsumerLagData.json */
export interface ConsumerLagData {
  topic_name: string
  partition_id: number
  current_offset: number
  log_end_offset: number
  lag: number
  consumer_id: string
  client_id: string
}

/** schemas/ConsumerGroupOffsetData.json */
export interface ConsumerGroupOffsetData {
  topic_name: string
  partition_id: number
  committed_offset: number
}
