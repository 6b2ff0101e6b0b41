import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { EventEmitter, once } from 'node:events'
import { connect } from 'node:net'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import t, { type Test } from 'tap'
import { spawnNode } from './helpers/spawn-node.js'

// The CLI is tested as users run it: the built dist/cli.js (`npm test` builds first).
const CLI = fileURLToPath(new URL('../dist/cli.js', import.meta.url))

interface Run {
  child: ChildProcess
  /** Resolves with the exit code (or the signal's name). */
  exited: Promise<number | string>
  stdout: () => string
  stderr: () => string
  /** The first stdout line, printed so far or later, that matches; rejects if the process ends first. */
  line: (pattern: RegExp) => Promise<RegExpExecArray>
}

function run (t: Test, args: string[], env: Record<string, string> = {}): Run {
  // No LOGWAY_* from the outer environment leaks into the child.
  const cleanEnv = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('LOGWAY_')))
  const child = spawnNode([CLI, ...args], { env: { ...cleanEnv, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const lines: string[] = []
  const lineEvents = new EventEmitter()
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => { stdout += chunk })
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { stderr += chunk })
  createInterface({ input: child.stdout }).on('line', line => {
    lines.push(line)
    lineEvents.emit('line', line)
  }).on('close', () => lineEvents.emit('close'))
  const exited = once(child, 'close').then(([code, signal]) => (code ?? signal) as number | string)
  t.teardown(() => { if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL') })

  const line = (pattern: RegExp): Promise<RegExpExecArray> => new Promise((resolve, reject) => {
    for (const seen of lines) {
      const match = pattern.exec(seen)
      if (match !== null) return resolve(match)
    }
    const onLine = (text: string): void => {
      const match = pattern.exec(text)
      if (match === null) return
      lineEvents.off('line', onLine).off('close', onClose)
      resolve(match)
    }
    const onClose = (): void => {
      lineEvents.off('line', onLine)
      reject(new Error(`the process ended without printing a line matching ${pattern}; stderr: ${stderr}`))
    }
    lineEvents.on('line', onLine).once('close', onClose)
  })
  return { child, exited, stdout: () => stdout, stderr: () => stderr, line }
}

t.before(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`)
})

t.test('serve listens, answers /health over a real socket, and exits 0 on SIGTERM', async t => {
  const dataDir = join(t.testdir(), 'data')
  const cli = run(t, ['serve', '--port', '0', '--host', '127.0.0.1', '--data-dir', dataDir])
  const [line, url] = await cli.line(/^logway listening on (http:\/\/127\.0\.0\.1:\d+) \(data: (.+)\)$/)
  t.match(line, `(data: ${dataDir})`, 'names the data dir')

  const res = await fetch(`${url}/health`)
  t.equal(res.status, 200)
  t.match(await res.json(), { status: 'ok', version: String, uptime_ms: Number })

  cli.child.kill('SIGTERM')
  t.equal(await cli.exited, 0, 'exit code 0 after a clean close')
  t.equal(cli.stderr(), '', 'nothing on stderr')
})

t.test('serve exits 0 on SIGINT too, after the log has opened', async t => {
  const dataDir = join(t.testdir(), 'data')
  const cli = run(t, ['serve', '--port', '0', '--data-dir', dataDir, '--log-level', 'info'])
  const [, url] = await cli.line(/^logway listening on (\S+)/)
  // The log opens in the background and says so in the server log (pino JSON lines on stdout).
  await cli.line(/"msg":"the log is open"/)
  const ready = await fetch(`${url}/ready`)
  t.equal(ready.status, 200)
  cli.child.kill('SIGINT')
  t.equal(await cli.exited, 0)
})

t.test('a second signal while closing forces exit 1', async t => {
  const dataDir = join(t.testdir(), 'data')
  const cli = run(t, ['serve', '--port', '0', '--data-dir', dataDir])
  const [, host, port] = await cli.line(/^logway listening on http:\/\/([\d.]+):(\d+)/)
  // A request whose headers never end keeps the server from finishing its close.
  const socket = connect(Number(port), host)
  await once(socket, 'connect')
  socket.write('GET /health HTTP/1.1\r\nHost: logway\r\n')
  t.teardown(() => { socket.destroy() })

  cli.child.kill('SIGTERM')
  await cli.line(/"msg":"closing"/)
  cli.child.kill('SIGTERM')
  t.equal(await cli.exited, 1)
  t.match(cli.stderr(), /^logway: SIGTERM again, exiting without waiting\n$/)
})

for (const [label, args, env] of [
  ['--port abc', ['serve', '--port', 'abc'], {}],
  ['--port 80x', ['serve', '--port', '80x'], {}],
  ['LOGWAY_PORT=x', ['serve'], { LOGWAY_PORT: 'x' }]
] as const) {
  t.test(`an invalid port (${label}) exits 2 with one stderr line naming port`, async t => {
    const cli = run(t, [...args], { ...env })
    t.equal(await cli.exited, 2)
    t.match(cli.stderr(), /^logway: invalid setting port: must be an integer from 0 to 65535 \(got "[^"]+" from (--port|LOGWAY_PORT)\)\n$/)
    t.equal(cli.stdout(), '', 'never started')
  })
}

t.test('an unknown config file key exits 2 naming the key', async t => {
  const dir = t.testdir({ 'logway.json': JSON.stringify({ prot: 1 }) })
  const cli = run(t, ['serve', '--config', join(dir, 'logway.json')])
  t.equal(await cli.exited, 2)
  t.match(cli.stderr(), /^logway: unknown setting "prot" in config file [^\n]+\n$/)
})

t.test('an unknown flag exits 2 with one line', async t => {
  const cli = run(t, ['serve', '--prot', '1'])
  t.equal(await cli.exited, 2)
  t.equal(cli.stderr(), 'logway: unknown option --prot (see logway serve --help)\n')
})

t.test('an unknown command exits 2 with one line', async t => {
  const cli = run(t, ['srve'])
  t.equal(await cli.exited, 2)
  t.equal(cli.stderr(), 'logway: unknown command "srve" (see logway --help)\n')
})

t.test('--help and -h describe the program and serve', async t => {
  // Five processes that share nothing: started together, checked in turn.
  const program = [['--help'], ['-h']].map(args => run(t, args))
  const serve = [['serve', '--help'], ['serve', '-h']].map(args => run(t, args))
  const bare = run(t, [])
  for (const cli of program) {
    t.equal(await cli.exited, 0)
    t.match(cli.stdout(), /Usage: logway <command>[\s\S]*serve/)
  }
  for (const cli of serve) {
    t.equal(await cli.exited, 0)
    for (const flag of ['--data-dir DIR', '--host HOST', '--port PORT', '--config FILE', 'LOGWAY_PORT']) {
      t.match(cli.stdout(), flag)
    }
  }
  t.equal(await bare.exited, 2, 'no command is a usage error')
  t.match(bare.stderr(), /Usage: logway <command>/)
})
