import { createServer } from 'node:net'
import { once } from 'node:events'
import t from 'tap'
import { cli, cliAll, json, requireBuiltCli, type Result } from './cli-harness.js'
import { startServer } from './cli-server.js'

t.before(requireBuiltCli)

interface DescribeJson {
  topic: string
  partitions_count: number
  replication_factor: number
  partitions: Array<{ partition: number, log_start_offset: number, log_end_offset: number, records: number }>
  configs: Array<{ name: string, value: string | null, is_default: boolean }>
}

t.test('a topic\'s lifecycle: create, list, describe, alter, delete', async t => {
  const server = await startServer(t)
  const s = ['--server', server]

  const created = await cli(t, ['topics', 'create', 'orders', '--partitions', '3', '--config', 'retention.ms=86400000', ...s])
  t.equal(created.code, 0, created.stderr)
  t.equal(created.stdout, 'Created topic orders (3 partitions).\n')

  const again = await cli(t, ['topics', 'create', 'orders', ...s])
  t.equal(again.code, 1, 'creating it twice fails')
  t.equal(again.stderr, 'logway: Topic \'orders\' already exists.\n', 'with the server\'s message on one line')
  const tolerated = await cli(t, ['topics', 'create', 'orders', '--if-not-exists', '--json', ...s])
  t.equal(tolerated.code, 0, '--if-not-exists succeeds')
  t.same(json(t, tolerated), { topic: 'orders', partitions_count: 3, created: false })

  await cli(t, ['topics', 'create', 'audit', ...s])
  const listed = await cli(t, ['topics', 'list', ...s])
  t.equal(listed.code, 0)
  t.equal(listed.stdout, [
    'TOPIC   PARTITIONS  RECORDS',
    'audit   1           0',
    'orders  3           0',
    ''
  ].join('\n'), 'an aligned table, no colour when stdout is not a terminal')
  const listedJson = await cli(t, ['topics', 'list', '--json', ...s])
  t.same(json(t, listedJson), [
    { topic: 'audit', partitions_count: 1, records: 0 },
    { topic: 'orders', partitions_count: 3, records: 0 }
  ])

  const described = await cli(t, ['topics', 'describe', 'orders', ...s])
  t.equal(described.code, 0)
  t.match(described.stdout, /^Topic: orders {2}Partitions: 3 {2}Replication factor: 1\n/)
  t.match(described.stdout, /PARTITION {2}START {2}END {2}RECORDS {2}BYTES\n0 +0 +0 +0 +0\n1 +0 +0 +0 +0\n2 +0 +0 +0 +0\n/)
  t.match(described.stdout, /retention\.ms +86400000 +set\n/, 'a config set at creation shows as set')
  t.match(described.stdout, /cleanup\.policy +delete +default\n/, 'defaults show as default')

  const altered = await cli(t, ['topics', 'alter', 'orders', '--partitions', '4', '--config', 'cleanup.policy=compact', '--delete-config', 'retention.ms', ...s])
  t.equal(altered.code, 0, altered.stderr)
  t.equal(altered.stdout, 'Altered topic orders: 4 partitions, cleanup.policy=compact, retention.ms reset to its default.\n')
  const after = json<DescribeJson>(t, await cli(t, ['topics', 'describe', 'orders', '--json', ...s]))
  t.equal(after.partitions_count, 4)
  t.same(after.partitions.map(p => p.partition), [0, 1, 2, 3])
  t.match(after.configs.find(c => c.name === 'cleanup.policy'), { value: 'compact', is_default: false })
  t.match(after.configs.find(c => c.name === 'retention.ms'), { value: '604800000', is_default: true })

  const refused = await cli(t, ['topics', 'alter', 'orders', '--partitions', '6', '--config', 'retention.ms=soon', ...s])
  t.equal(refused.code, 1, 'an invalid config fails the alter')
  t.match(refused.stderr, /^logway: .*retention\.ms.*\n$/, 'one line naming the config')
  const unchanged = json<DescribeJson>(t, await cli(t, ['topics', 'describe', 'orders', '--json', ...s]))
  t.equal(unchanged.partitions_count, 4, 'configs are validated before the partition count changes')

  const shrink = await cli(t, ['topics', 'alter', 'orders', '--partitions', '2', ...s])
  t.equal(shrink.code, 1, 'partitions may only grow')

  const deleted = await cli(t, ['topics', 'delete', 'orders', ...s])
  t.equal(deleted.code, 0)
  t.equal(deleted.stdout, 'Deleted topic orders.\n')
  const gone = await cli(t, ['topics', 'describe', 'orders', ...s])
  t.equal(gone.code, 1)
  t.equal(gone.stderr, 'logway: Topic \'orders\' does not exist.\n')
  t.equal(gone.stdout, '')
})

t.test('topics list with no topics, and LOGWAY_SERVER naming the server', async t => {
  const server = await startServer(t)
  const empty = await cli(t, ['topics', 'list'], { env: { LOGWAY_SERVER: server } })
  t.equal(empty.code, 0, empty.stderr)
  t.equal(empty.stdout, 'No topics.\n')
  const emptyJson = await cli(t, ['topics', 'list', '--json'], { env: { LOGWAY_SERVER: server } })
  t.same(json(t, emptyJson), [])
})

t.test('an unreachable server is one line naming the URL, exit 1', async t => {
  // A port that was free a moment ago: nothing listens there.
  const probe = createServer()
  probe.listen(0, '127.0.0.1')
  await once(probe, 'listening')
  const { port } = probe.address() as { port: number }
  probe.close()
  await once(probe, 'close')
  const url = `http://127.0.0.1:${port}`
  const commands = [['topics', 'list'], ['produce', 't'], ['consume', 't'], ['groups', 'describe', 'g']]
  const results = await cliAll(t, commands.map(args => [...args, '--server', url]), { input: 'a\n' })
  for (const [i, args] of commands.entries()) {
    const result = results[i] as Result
    t.equal(result.code, 1, `${args.join(' ')} exits 1`)
    t.match(result.stderr, new RegExp(`^logway: cannot reach the server at ${url.replace(/\./g, '\\.')} \\(ECONNREFUSED\\)[^\\n]*\\n$`))
    t.equal(result.stdout, '')
  }
})

t.test('create with an invalid name or replication factor fails with the server\'s message', async t => {
  const server = await startServer(t)
  const badName = await cli(t, ['topics', 'create', 'no spaces', '--server', server])
  t.equal(badName.code, 1)
  t.match(badName.stderr, /^logway: [^\n]+\n$/)
  const replicas = await cli(t, ['topics', 'create', 'r', '--replication-factor', '3', '--server', server])
  t.equal(replicas.code, 1)
  t.match(replicas.stderr, /replica/i)
  const one = await cli(t, ['topics', 'create', 'r', '--replication-factor', '1', '--server', server])
  t.equal(one.code, 0, 'kafka-topics habits: --replication-factor 1 is accepted')
})
