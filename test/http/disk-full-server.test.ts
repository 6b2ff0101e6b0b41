// Disk full through the server, issue #7: the real server (dist/cli.js) keeps its data dir on a
// small tmpfs; produce over HTTP until the disk is full, then check what users see: clear storage
// errors answered at once, a process that stays up and still serves reads, produce that works
// again once space is freed, and every acknowledged record there with its exact bytes.
import { randomBytes } from 'node:crypto'
import { rmSync, statfsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { performance } from 'node:perf_hooks'
import t, { type Test } from 'tap'
import { ServerProcess, staleBuild } from '../crash/server-process.js'
import { mountSmallDisk } from '../helpers/small-disk.js'

const TOPIC = 'full'
const PARTITIONS = 2
const RECORD_BYTES = 2000
const RECORDS_PER_REQUEST = 40
/** The server's reserve (--min-free-bytes): appends stop while less than this is free. */
const MIN_FREE_BYTES = 1024 * 1024
/** Each storage error must be answered within this: a bound on hanging, not a speed target. */
const ANSWER_LIMIT_MS = 10_000

/** An answered request: status, JSON body and how long it took. */
interface Answer {
  status: number
  body: unknown
  ms: number
}

/** What a produce route refused, entry by entry (the whole request when it failed as a whole). */
interface Produced extends Answer {
  failures: unknown[]
}

interface BatchBody {
  successes: Array<{ id: string, partition_id: number, offset: number }>
  failures: unknown[]
}
interface V2Body { offsets: Array<{ partition: number | null, offset: number | null, error_code: number | null }> }
interface FetchPage {
  records: Array<{ offset: number, value: string }>
  log_end_offset: number
  next_offset: number
}

/** Every acknowledged record by partition and offset: its value, base64. */
type Acked = Map<string, string>

const V2_BINARY = 'application/vnd.kafka.binary.v2+json'

t.test('a full disk: produce fails with 507 at once, the server stays up and serves reads, produce resumes once space is freed, no ack is lost', async t => {
  const stale = staleBuild()
  if (stale !== undefined) {
    t.fail(stale)
    return
  }
  const disk = mountSmallDisk('8m')
  if (typeof disk === 'string') {
    t.plan(0, `disk-full server test skipped: ${disk}`)
    return
  }
  // Written first, so that freeing it later gives space back.
  const filler = join(disk.dir, 'filler')
  writeFileSync(filler, Buffer.alloc(3 * 1024 * 1024))
  const server = await ServerProcess.start(join(disk.dir, 'data'), {
    LOGWAY_MIN_FREE_BYTES: String(MIN_FREE_BYTES),
    LOGWAY_RETENTION_CHECK_INTERVAL_MS: '0'
  }).catch((err: unknown) => {
    disk.unmount()
    throw err
  })
  t.teardown(async () => {
    await server.killed()
    disk.unmount()
  })

  const call = async (method: string, path: string, body?: unknown, type = 'application/json'): Promise<Answer> => {
    const start = performance.now()
    const response = await fetch(`${server.url}${path}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': type },
      body: body === undefined ? undefined : JSON.stringify(body)
    })
    const text = await response.text()
    return { status: response.status, body: text === '' ? undefined : JSON.parse(text), ms: performance.now() - start }
  }
  const v3 = `/v3/clusters/${server.clusterId}/topics/${TOPIC}`
  t.equal((await call('POST', `/v3/clusters/${server.clusterId}/topics`, { topic_name: TOPIC, partitions_count: PARTITIONS })).status, 201, 'topic created')

  const acked: Acked = new Map()
  const values = (count: number, bytes = RECORD_BYTES): string[] => Array.from({ length: count }, () => randomBytes(bytes).toString('base64'))

  /** v3 records:batch; records the successes, answers the failures. */
  const produceBatch = async (data: string[], partition?: number): Promise<Produced> => {
    const answer = await call('POST', `${v3}/records:batch`, {
      entries: data.map((value, i) => ({ id: `e${i}`, value: { type: 'BINARY', data: value }, ...(partition === undefined ? {} : { partition_id: partition }) }))
    })
    // Refused as a whole (it should not be): the error stands for every entry.
    if (answer.status !== 207) return { ...answer, failures: data.map(() => answer.body) }
    const { successes, failures } = answer.body as BatchBody
    for (const s of successes) acked.set(`${s.partition_id}:${s.offset}`, data[Number(s.id.slice(1))] as string)
    return { ...answer, failures }
  }
  /** v2 produce, binary embedded format; records the written offsets, answers the failures. */
  const produceV2 = async (data: string[], partition?: number): Promise<Produced> => {
    const answer = await call('POST', `/topics/${TOPIC}`, {
      records: data.map(value => ({ value, ...(partition === undefined ? {} : { partition }) }))
    }, V2_BINARY)
    // Refused as a whole: the error stands for every record.
    if (answer.status !== 200) return { ...answer, failures: data.map(() => answer.body) }
    const failures: unknown[] = []
    ;(answer.body as V2Body).offsets.forEach((o, i) => {
      if (o.error_code === null) acked.set(`${o.partition}:${o.offset}`, data[i] as string)
      else failures.push(o)
    })
    return { ...answer, failures }
  }

  // Fill: alternate the two produce routes until a request is refused as a whole.
  const refusals: unknown[] = []
  let slowestRefusedMs = 0
  let full = false
  for (let i = 0; i < 200 && !full; i++) {
    const data = values(RECORDS_PER_REQUEST)
    const answer = i % 2 === 0 ? await produceBatch(data) : await produceV2(data)
    if (answer.failures.length > 0) slowestRefusedMs = Math.max(slowestRefusedMs, answer.ms)
    refusals.push(...answer.failures)
    full = answer.failures.length === RECORDS_PER_REQUEST
  }
  t.ok(full, `the disk filled up after ${acked.size} acknowledged records`)
  t.ok(acked.size > 100, `${acked.size} records acknowledged before it did`)
  t.ok(refusals.every(isStorageError), `each of the ${refusals.length} records refused while filling carries a storage error (KAFKA_STORAGE_ERROR, or BROKER_NOT_AVAILABLE)`)

  // The server refuses appends early (it keeps a reserve, and estimates between statfs calls), so
  // the disk may not be quite full yet: these appends are larger than what is left above the
  // reserve, one per produce route, all to partition 0, and cannot fit.
  const { bavail, bsize } = statfsSync(disk.dir)
  const tooLarge = Math.max(0, bavail * bsize - MIN_FREE_BYTES) + 64 * 1024
  const count = Math.ceil(tooLarge / RECORD_BYTES)
  const v2 = await produceV2(values(count), 0)
  t.ok([507, 503].includes(v2.status), `v2 produce answers ${v2.status} (507 or 503)`)
  t.ok(isStorageError(v2.body), 'with the error body {error_code, message, code}', { body: v2.body })
  const single = await call('POST', `${v3}/records`, { partition_id: 0, value: { type: 'BINARY', data: values(1, tooLarge)[0] } })
  t.ok([507, 503].includes(single.status), `v3 produce answers ${single.status} (507 or 503)`)
  t.ok(isStorageError(single.body), 'with the error body', { body: single.body })
  const batch = await produceBatch(values(count), 0)
  t.equal(batch.status, 207, 'records:batch answers 207, each entry with its own outcome')
  t.ok(batch.failures.length === count && batch.failures.every(isStorageError), `each of its ${count} entries refused with the storage error`)
  const failedMs = Math.max(slowestRefusedMs, v2.ms, single.ms, batch.ms)
  t.ok(failedMs < ANSWER_LIMIT_MS, `every refused produce was answered within ${ANSWER_LIMIT_MS} ms (slowest ${Math.round(failedMs)} ms)`)

  const health = await call('GET', '/health')
  t.equal(health.status, 200, 'the process is still up: /health answers')
  t.equal((await call('GET', '/ready')).status, 200, 'and the log is still open: /ready answers')
  await checkLog(t, 'on the full disk', call, v3, acked)

  rmSync(filler)
  const after = values(RECORDS_PER_REQUEST)
  const resumedBatch = await produceBatch(after)
  t.same([resumedBatch.status, resumedBatch.failures], [207, []], 'space freed: records:batch writes every entry again')
  const resumedV2 = await produceV2(values(RECORDS_PER_REQUEST))
  t.same([resumedV2.status, resumedV2.failures], [200, []], 'and v2 produce writes every record')
  await checkLog(t, 'after space came back', call, v3, acked)
})

/**
 * A produce error as users get it: the body of a 507 or 503, a records:batch
 * failure or a v2 per-record error, naming the storage error (or the log
 * being unavailable) by its stable code and its Confluent number.
 */
function isStorageError (failure: unknown): boolean {
  const f = failure as { error_code?: unknown, code?: unknown, message?: unknown, error?: unknown }
  const message = f.message ?? f.error
  if (typeof message !== 'string' || message === '') return false
  // v2 reports a record refused among written ones with its own numbers: 50003 is "retriable".
  if (f.code === 'KAFKA_STORAGE_ERROR') return [50701, 50003].includes(f.error_code as number) && /nearly full/.test(message)
  return f.code === 'BROKER_NOT_AVAILABLE' && [50301, 50003].includes(f.error_code as number)
}

/**
 * Reads every partition with the stateless fetch: each acknowledged record is
 * there with its exact bytes, and the log holds nothing else (a refused append
 * moved no offset).
 */
async function checkLog (t: Test, when: string, call: (method: string, path: string) => Promise<Answer>, v3: string, acked: Acked): Promise<void> {
  for (let partition = 0; partition < PARTITIONS; partition++) {
    const read = new Map<number, string>()
    let offset = 0
    let logEnd = -1
    while (logEnd < 0 || offset < logEnd) {
      const page = await call('GET', `${v3}/partitions/${partition}/records?offset=${offset}&max_records=10000&max_bytes=67108864`)
      if (page.status !== 200) {
        t.fail(`fetch of partition ${partition} at ${offset} answered ${page.status} ${when}`, { body: page.body })
        return
      }
      const { records, log_end_offset: end, next_offset: next } = page.body as FetchPage
      for (const record of records) read.set(record.offset, record.value)
      logEnd = end
      offset = next
    }
    const mine = [...acked].filter(([key]) => key.startsWith(`${partition}:`)).map(([key, value]) => [Number(key.split(':')[1]), value] as const)
    t.equal(logEnd, mine.length, `partition ${partition} ${when}: its end offset counts exactly the ${mine.length} acknowledged records`)
    t.ok(mine.every(([offset, value]) => read.get(offset) === value), `partition ${partition} ${when}: every acknowledged record is read back with its exact bytes`)
  }
}
