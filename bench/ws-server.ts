// The server side of bench/ws.ts, in a process of its own so that the RSS, CPU time and event loop
// it reports are the server's alone (the clients run in the bench process):
//
//   node --import ./bench/register.js bench/ws-server.ts '<ServerOptions as JSON>'
//
// `logway`: the Logway app (buildServer, default config, durable LogStore on a fresh data dir) with
// the bench's topic, of one partition. `raw`: the ceiling, a bare `ws` WebSocketServer with the same
// `ws` options Logway gives @fastify/websocket, no storage: each text frame is JSON.parse'd, a
// produce frame is answered by an ack of the same shape (JSON.stringify) and its records are sent
// to every subscribed socket as one `records` frame of Logway's shape; a subscribe frame is answered
// by `subscribed`; credit frames are parsed and ignored (the raw server has no flow control).
// It talks to the bench over IPC: `ready` once listening, a `stats` answer to each `stats` request,
// and it exits after a `close` (so that --cpu-prof, when given, writes its profile).
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { WebSocketServer, type WebSocket } from 'ws'
import { loadConfig, type SettingName } from '../src/config.js'
import type { LogStore } from '../src/log/log-store.js'
import { buildServer } from '../src/server.js'
import { mainThreadCpuMs, procStatusBytes } from './bench-util.js'

export interface ServerOptions {
  mode: 'raw' | 'logway'
  /** Logway: the topic created (one partition); raw: any topic name is accepted. */
  topic: string
  /** Logway only: the data dir (without dots in its last segment: lmdb-js would take it for a file name). */
  dataDir: string
  logLevel: string
  /** Logway only: config settings given as flags (wsSlowConsumerTimeoutMs for the stalled-reader scenario). */
  flags: Partial<Record<SettingName, string>>
}

/** One WebSocket connection as the server sees it (Logway: app.wsSessions(); raw: its socket). */
export interface SessionStats {
  bufferedBytes: number
  /** Logway: the send buffer went over wsSendBufferBytes and has not drained below half of it. */
  stalled: boolean
  /** Logway: stalled but read again, which a session does only once it has started closing (4008 sent). */
  closing: boolean
}

export interface ServerStats {
  rssBytes: number
  /** Linux only (/proc/self/status), else NaN: anonymous memory (heap, buffers) and file-backed pages (lmdb's memory map, code). */
  rssAnonBytes: number
  rssFileBytes: number
  heapUsedBytes: number
  /** The JS heap's committed size (used and free pages). */
  heapTotalBytes: number
  /** Memory of Buffers and other objects outside the JS heap (process.memoryUsage().external). */
  externalBytes: number
  /** Cumulative: the bench takes differences. */
  eluIdleMs: number
  eluActiveMs: number
  cpuUs: number
  /** CPU time of the main thread alone (the event loop: sockets, frames, JSON), ms at 10 ms resolution; NaN where there is no /proc. */
  mainThreadCpuMs: number
  sessions: SessionStats[]
  /** Records of the topic so far (raw: offsets handed out). */
  logEndOffset: number
}

/** `gc`: collect garbage first (the server runs with --expose-gc), so that the figures are what it holds. */
export type ToServer = { type: 'stats', gc?: boolean } | { type: 'close' }
export type FromServer =
  | { type: 'ready', port: number, path: string, notes: string }
  | { type: 'stats', stats: ServerStats }

interface Subject {
  port: number
  path: string
  notes: string
  sessions: () => SessionStats[]
  logEndOffset: () => number
  close: () => Promise<void>
}

async function logwayServer (options: ServerOptions): Promise<Subject> {
  const app = buildServer(loadConfig({ env: {}, flags: { ...options.flags, dataDir: options.dataDir, logLevel: options.logLevel } }))
  await app.listen({ host: '127.0.0.1', port: 0 })
  const log: LogStore = await app.getLog()
  await log.createTopic(options.topic, { partitions: 1 })
  return {
    port: (app.server.address() as AddressInfo).port,
    path: `/v3/clusters/${log.clusterId}/ws`,
    notes: 'store ' + Object.entries(log.durabilityOptions()).map(([name, on]) => `${name}=${on ? 'on' : 'off'}`).join(' '),
    sessions: () => app.wsSessions().map(s => ({ bufferedBytes: s.bufferedBytes, stalled: s.stalled, closing: s.stalled && !s.readingPaused })),
    logEndOffset: () => log.partitionInfo(options.topic, 0).logEndOffset,
    close: async () => await app.close()
  }
}

interface ProducedRecord { value?: { data?: unknown } | null }
type RawFrame =
  | { type: 'produce', id: string, topic: string, records: ProducedRecord[] }
  | { type: 'subscribe', id: string, topic: string }
  | { type: 'credit' }

async function rawServer (): Promise<Subject> {
  const config = loadConfig({ env: {} })
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, maxPayload: config.wsMaxFrameBytes, perMessageDeflate: false })
  await new Promise<void>((resolve, reject) => wss.once('listening', resolve).once('error', reject))
  const subscribers = new Map<WebSocket, string>()
  let nextOffset = 0
  wss.on('connection', socket => {
    socket.on('message', data => {
      const frame = JSON.parse((data as Buffer).toString('utf8')) as RawFrame
      if (frame.type === 'produce') {
        const timestamp = Date.now()
        const results = frame.records.map(() => ({ partition: 0, offset: nextOffset++, timestamp }))
        socket.send(JSON.stringify({ type: 'ack', id: frame.id, topic: frame.topic, results }))
        if (subscribers.size === 0) return
        const records = frame.records.map((record, i) => ({
          topic: frame.topic, partition: 0, offset: results[i]?.offset, timestamp, key: null, value: record.value?.data ?? null, headers: []
        }))
        for (const [subscriber, id] of subscribers) subscriber.send(JSON.stringify({ type: 'records', id, records }))
      } else if (frame.type === 'subscribe') {
        subscribers.set(socket, frame.id)
        socket.send(JSON.stringify({ type: 'subscribed', id: frame.id, topic: frame.topic, partitions: [{ partition: 0, offset: nextOffset }] }))
      }
    })
    socket.on('close', () => subscribers.delete(socket))
  })
  return {
    port: (wss.address() as AddressInfo).port,
    path: '/ws',
    notes: `bare ws ${config.wsMaxFrameBytes / 1024 / 1024} MiB maxPayload, no permessage-deflate`,
    sessions: () => [...wss.clients].map(s => ({ bufferedBytes: s.bufferedAmount, stalled: false, closing: false })),
    logEndOffset: () => nextOffset,
    close: async () => {
      for (const client of wss.clients) client.terminate()
      await new Promise<void>(resolve => wss.close(() => resolve()))
    }
  }
}

function stats (subject: Subject): ServerStats {
  const memory = process.memoryUsage()
  const status = procStatusBytes()
  const elu = performance.eventLoopUtilization()
  const cpu = process.cpuUsage()
  return {
    rssBytes: memory.rss,
    rssAnonBytes: status.RssAnon ?? Number.NaN,
    rssFileBytes: status.RssFile ?? Number.NaN,
    heapUsedBytes: memory.heapUsed,
    heapTotalBytes: memory.heapTotal,
    externalBytes: memory.external,
    eluIdleMs: elu.idle,
    eluActiveMs: elu.active,
    cpuUs: cpu.user + cpu.system,
    mainThreadCpuMs: mainThreadCpuMs(),
    sessions: subject.sessions(),
    logEndOffset: subject.logEndOffset()
  }
}

async function main (): Promise<void> {
  const send = process.send?.bind(process)
  if (send === undefined) throw new Error('bench/ws-server.ts is started by bench/ws.ts, with an IPC channel')
  const options = JSON.parse(process.argv[2] ?? '') as ServerOptions
  const subject = options.mode === 'raw' ? await rawServer() : await logwayServer(options)
  process.on('message', (message: ToServer) => {
    if (message.type === 'stats') {
      if (message.gc === true) (globalThis as { gc?: () => void }).gc?.()
      send({ type: 'stats', stats: stats(subject) } satisfies FromServer)
      return
    }
    subject.close().then(() => process.exit(0), (err: unknown) => {
      console.error(err)
      process.exit(1)
    })
  })
  // The bench going away (killed, crashed) must not leave a server behind.
  process.on('disconnect', () => process.exit(1))
  send({ type: 'ready', port: subject.port, path: subject.path, notes: subject.notes } satisfies FromServer)
}

await main()
