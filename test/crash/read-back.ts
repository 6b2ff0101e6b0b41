import type { CommitSnapshot, PartitionSnapshot, ReadRecord, Snapshot } from './crash-checker.js'
import type { TopicPlan } from './crash-load.js'

/** Records asked for per fetch: paging is part of what is verified. */
const PAGE_RECORDS = 5000

interface FetchPage {
  log_start_offset: number
  log_end_offset: number
  next_offset: number
  records: Array<{
    offset: number
    key: string | null
    value: string | null
    headers: Array<{ name: string, value: string | null }>
  }>
}

/**
 * Reads back what a restarted server holds through its public API: every
 * record of every partition of `topics` with the stateless fetch
 * (format=binary, paged from the log start to the log end), and every
 * committed offset of `groupIds` (none for a group that does not exist).
 */
export async function readBack (url: string, clusterId: string, topics: readonly TopicPlan[], groupIds: readonly string[]): Promise<Snapshot> {
  const cluster = `${url}/v3/clusters/${clusterId}`
  const partitions: PartitionSnapshot[] = []
  for (const topic of topics) {
    for (let partition = 0; partition < topic.partitions; partition++) {
      partitions.push(await readPartition(`${cluster}/topics/${topic.name}/partitions/${partition}/records`, topic.name, partition))
    }
  }
  const commits: CommitSnapshot[] = []
  for (const groupId of groupIds) {
    const res = await fetch(`${cluster}/consumer-groups/${groupId}/offsets`)
    if (res.status === 404) {
      await res.arrayBuffer()
      continue
    }
    const body = await json<{ data: Array<{ topic_name: string, partition_id: number, committed_offset: number }> }>(res)
    for (const o of body.data) commits.push({ groupId, topic: o.topic_name, partition: o.partition_id, committedOffset: o.committed_offset })
  }
  return { partitions, commits }
}

async function readPartition (path: string, topic: string, partition: number): Promise<PartitionSnapshot> {
  const first = await fetchPage(`${path}?offset=earliest&format=binary&max_records=${PAGE_RECORDS}`)
  const records = first.records.map(toRecord)
  let next = first.next_offset
  // The server takes no writes while it is read back: the first page's end is the end.
  while (next < first.log_end_offset) {
    const page = await fetchPage(`${path}?offset=${next}&format=binary&max_records=${PAGE_RECORDS}`)
    if (page.records.length === 0) break
    records.push(...page.records.map(toRecord))
    next = page.next_offset
  }
  return { topic, partition, logStartOffset: first.log_start_offset, logEndOffset: first.log_end_offset, records }
}

async function fetchPage (url: string): Promise<FetchPage> {
  return await json<FetchPage>(await fetch(url))
}

async function json<T> (res: Response): Promise<T> {
  const text = await res.text()
  if (!res.ok) throw new Error(`${res.url} answered ${res.status}: ${text}`)
  return JSON.parse(text) as T
}

function toRecord (r: FetchPage['records'][number]): ReadRecord {
  return {
    offset: r.offset,
    key: bytes(r.key),
    value: bytes(r.value),
    headers: r.headers.map(h => ({ name: h.name, value: bytes(h.value) }))
  }
}

function bytes (base64: string | null): Buffer | null {
  return base64 === null ? null : Buffer.from(base64, 'base64')
}
