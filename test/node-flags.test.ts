import { readFileSync } from 'node:fs'
import t from 'tap'
import { SERVER_NODE_FLAGS } from '../src/node-flags.js'

// Node reads its V8 flags before any of our code runs, so they are written out
// where each way of starting the server is defined: these must match the list.
const root = new URL('../', import.meta.url)

t.test('the CLI shebang runs node with the server flags', async t => {
  const shebang = readFileSync(new URL('src/cli.ts', root), 'utf8').split('\n')[0]
  t.equal(shebang, `#!/usr/bin/env -S node ${SERVER_NODE_FLAGS.join(' ')}`)
})

t.test('npm start and the in-process benchmarks run node with the server flags', async t => {
  const { scripts } = JSON.parse(readFileSync(new URL('package.json', root), 'utf8')) as { scripts: Record<string, string> }
  for (const name of ['start', 'bench:http', 'bench:consume']) {
    t.ok(scripts[name]?.startsWith(`node ${SERVER_NODE_FLAGS.join(' ')} `), `${name}: ${scripts[name]}`)
  }
})

t.test('the flags are ones this node accepts', async t => {
  for (const flag of SERVER_NODE_FLAGS) t.ok(process.allowedNodeEnvironmentFlags.has(flag.split('=')[0] as string), flag)
})
