import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { connect, type Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'

// `logway serve` as users run it (the built dist/cli.js: npm test builds first), stopped with SIGTERM
// while clients hold connections open that would never let a plain close finish.
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))
const GRACE_MS = 1_500
/** Far above the grace period: a stop that has not ended by then hangs. */
const HANG_MS = 20_000

interface Served {
  port: number
  stderr: () => string
  exited: Promise<[number | null, NodeJS.Signals | null]>
  signal: (name: NodeJS.Signals) => void
}

async function serve (t: Test, graceMs = GRACE_MS): Promise<Served> {
  const dir = mkdtempSync(join(tmpdir(), 'logway-shutdown-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LOGWAY_')))
  const child = spawn(process.execPath, [CLI, 'serve', '--data-dir', join(dir, 'data'), '--host', '127.0.0.1', '--port', '0',
    '--log-level', 'warn', '--shutdown-grace-ms', String(graceMs)], { env, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>
  let stdout = ''
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      const found = /^logway listening on http:\/\/127\.0\.0\.1:(\d+) /m.exec(stdout)
      if (found !== null) resolve(Number(found[1]))
    })
    exited.then(([code]) => reject(new Error(`logway serve exited (${String(code)}) before listening: ${stderr}`)), reject)
  })
  return { port, stderr: () => stderr, exited, signal: name => child.kill(name) }
}

async function open (port: number, send?: string): Promise<{ socket: Socket, closed: Promise<unknown>, received: () => string }> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  let received = ''
  socket.setEncoding('utf8').on('data', (chunk: string) => { received += chunk })
  socket.on('error', () => {})
  const closed = once(socket, 'close')
  if (send !== undefined) socket.write(send)
  return { socket, closed, received: () => received }
}

/** Whether connecting to `port` is refused within HANG_MS (tried every 20 ms). */
async function refusesConnections (port: number): Promise<boolean> {
  const deadline = Date.now() + HANG_MS
  while (Date.now() < deadline) {
    const socket = connect(port, '127.0.0.1')
    const refused = await new Promise<boolean>(resolve => {
      socket.once('connect', () => resolve(false))
      socket.once('error', () => resolve(true))
    })
    socket.destroy()
    if (refused) return true
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  return false
}

/** Resolves with what `promise` settled to, or 'hung' after HANG_MS. */
async function withinHangLimit<T> (promise: Promise<T>): Promise<T | 'hung'> {
  let timer: NodeJS.Timeout | undefined
  const hung = new Promise<'hung'>(resolve => { timer = setTimeout(() => resolve('hung'), HANG_MS) })
  try {
    return await Promise.race([promise, hung])
  } finally {
    clearTimeout(timer)
  }
}

t.test('SIGTERM with a request stuck mid-body and a connection that never sent one: the server cuts them after the grace period and exits 0', async t => {
  const server = await serve(t)
  // Headers promise 100 bytes of body; one comes, then nothing.
  const stuck = await open(server.port, 'POST /v3/clusters/c/topics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{')
  const silent = await open(server.port)
  // A request that completes normally on the same server first: the stop must not disturb answered work.
  const health = await fetch(`http://127.0.0.1:${server.port}/health`)
  t.equal(health.status, 200)

  server.signal('SIGTERM')
  const outcome = await withinHangLimit(server.exited)
  t.not(outcome, 'hung', `the server exited within ${HANG_MS} ms of SIGTERM`)
  if (outcome === 'hung') return
  t.same(outcome, [0, null], `exit code 0 (stderr: ${server.stderr()})`)
  t.not(await withinHangLimit(stuck.closed), 'hung', 'the stuck request\'s connection was closed')
  t.not(await withinHangLimit(silent.closed), 'hung', 'the silent connection was closed')
  t.equal(server.stderr(), '', 'nothing on stderr')
})

t.test('a second SIGTERM while waiting exits at once with code 1', async t => {
  // A grace period the test cannot outlast on a busy machine: only the second signal ends the wait.
  const server = await serve(t, 2 * HANG_MS)
  const stuck = await open(server.port, 'POST /v3/clusters/c/topics HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{')
  // An answer on another connection, sent after the stuck request's bytes: by then the server has
  // read them, so the stuck request is under way (a connection with nothing read yet is idle, and
  // closing the server closes idle connections at once).
  t.equal((await fetch(`http://127.0.0.1:${server.port}/health`)).status, 200)
  server.signal('SIGTERM')
  // Signals sent close together may arrive as one: the second is sent once the first has closed the listener.
  t.ok(await refusesConnections(server.port), 'the first SIGTERM closed the listener')
  server.signal('SIGTERM')
  const outcome = await withinHangLimit(server.exited)
  t.same(outcome, [1, null], 'exit code 1')
  t.match(server.stderr(), /SIGTERM again, exiting without waiting/)
  stuck.socket.destroy()
})
