import t, { type Test } from 'tap'
import { cli, cliAll, ndjson, requireBuiltCli, spawnCli, type Result } from './cli-harness.js'
import { seedRecords, seedTopic, startServer } from './cli-server.js'

t.before(requireBuiltCli)

/** A topic with two partitions: a0, a1 (with a header h=1) on 0 and b0, b1, b2 on 1, keyed k-<value>. */
async function twoPartitions (t: Test, server: string): Promise<void> {
  await seedTopic(t, server, 'letters', 2, [
    ...['a0', 'a1'].map(value => ({ partition: 0, key: `k-${value}`, value, headers: { h: '1' } })),
    ...['b0', 'b1', 'b2'].map(value => ({ partition: 1, key: `k-${value}`, value }))
  ])
}

interface JsonRecord { topic: string, partition: number, offset: number, timestamp: number, key: unknown, value: unknown, headers: Array<{ name: string, value: string | null }> }

t.test('--from-beginning reads every partition; --max-messages stops it with exit 0', async t => {
  const server = await startServer(t)
  await twoPartitions(t, server)
  const all = await cli(t, ['consume', 'letters', '--from-beginning', '--max-messages', '5', '--print-partition', '--print-offset', '--print-key', '--server', server])
  t.equal(all.code, 0, all.stderr)
  t.same(all.stdout.split('\n').filter(l => l !== '').sort(), [
    'Partition:0\tOffset:0\tk-a0\ta0',
    'Partition:0\tOffset:1\tk-a1\ta1',
    'Partition:1\tOffset:0\tk-b0\tb0',
    'Partition:1\tOffset:1\tk-b1\tb1',
    'Partition:1\tOffset:2\tk-b2\tb2'
  ])
  t.equal(all.stderr, 'Processed a total of 5 messages\n')

  const three = await cli(t, ['consume', 'letters', '--from-beginning', '--max-messages', '3', '--server', server])
  t.equal(three.code, 0)
  t.equal(three.stdout.split('\n').filter(l => l !== '').length, 3, 'exactly N records, however the partitions answer')
})

t.test('--partition and --offset start at that record; headers and a custom separator', async t => {
  const server = await startServer(t)
  await twoPartitions(t, server)
  const fromOne = await cli(t, ['consume', 'letters', '--partition', '1', '--offset', '1', '--max-messages', '2', '--server', server])
  t.equal(fromOne.code, 0, fromOne.stderr)
  t.equal(fromOne.stdout, 'b1\nb2\n')

  const headers = await cli(t, ['consume', 'letters', '--partition', '0', '--offset', 'earliest', '--max-messages', '1', '--print-headers', '--print-key', '--key-separator', ' | ', '--server', server])
  t.equal(headers.stdout, 'h:1 | k-a0 | a0\n')
  const none = await cli(t, ['consume', 'letters', '--partition', '1', '--offset', '0', '--max-messages', '1', '--print-headers', '--server', server])
  t.equal(none.stdout, 'NO_HEADERS\tb0\n')
  const stamped = await cli(t, ['consume', 'letters', '--partition', '1', '--offset', '0', '--max-messages', '1', '--print-timestamp', '--server', server])
  t.match(stamped.stdout, /^CreateTime:\d{13}\tb0\n$/)

  const outOfRange = await cli(t, ['consume', 'letters', '--partition', '1', '--offset', '99', '--max-messages', '1', '--server', server])
  t.equal(outOfRange.code, 1, 'an offset beyond the log end is an error')
  t.match(outOfRange.stderr, /^logway: [^\n]+\n$/)
})

t.test('--json prints one JSON object a record; value formats', async t => {
  const server = await startServer(t)
  await seedTopic(t, server, 'docs', 1, [{ value: '{"n":1}', headers: { src: 'test' } }, { value: '{"n":2}', headers: { src: 'test' } }])
  const lines = ndjson<JsonRecord>(await cli(t, ['consume', 'docs', '--from-beginning', '--max-messages', '2', '--value-format', 'json', '--json', '--server', server]))
  t.same(lines.map(({ timestamp, ...rest }) => rest), [
    { topic: 'docs', partition: 0, offset: 0, key: null, value: { n: 1 }, headers: [{ name: 'src', value: 'test' }] },
    { topic: 'docs', partition: 0, offset: 1, key: null, value: { n: 2 }, headers: [{ name: 'src', value: 'test' }] }
  ])
  t.ok(lines.every(l => Number.isInteger(l.timestamp) && l.timestamp > 0), 'timestamps in ms')

  const binary = await cli(t, ['consume', 'docs', '--from-beginning', '--max-messages', '1', '--value-format', 'binary', '--server', server])
  t.equal(binary.stdout, `${Buffer.from('{"n":1}').toString('base64')}\n`)

  await seedRecords(t, server, 'docs', [{ value: 'plain text' }])
  const notJson = await cli(t, ['consume', 'docs', '--partition', '0', '--offset', '2', '--max-messages', '1', '--value-format', 'json', '--server', server])
  t.equal(notJson.code, 1, 'a value that is not JSON fails --value-format json')
  t.equal(notJson.stderr, 'logway: the value of docs partition 0 offset 2 is not JSON; read it with --value-format string or binary\n')
})

t.test('a running consumer prints records produced after it started, and Ctrl-C exits 0', async t => {
  const server = await startServer(t)
  await twoPartitions(t, server)
  const tail = spawnCli(t, ['consume', 'letters', '--from-beginning', '--server', server])
  await tail.lines(5)
  // Caught up: it waits on long-polls now; these arrive through them.
  await seedRecords(t, server, 'letters', [{ partition: 0, value: 'c0' }, { partition: 1, value: 'c1' }])
  const lines = await tail.lines(7)
  t.same(lines.slice(5).sort(), ['c0', 'c1'])
  tail.child.kill('SIGINT')
  t.equal(await tail.exited, 0)
  t.equal(tail.stderr(), 'Processed a total of 7 messages\n')
})

t.test('--timeout-ms exits 0 once no record arrived for that long', async t => {
  const server = await startServer(t)
  await twoPartitions(t, server)
  const result = await cli(t, ['consume', 'letters', '--from-beginning', '--timeout-ms', '300', '--server', server])
  t.equal(result.code, 0, result.stderr)
  t.equal(result.stdout.split('\n').filter(l => l !== '').length, 5)
})

t.test('usage errors exit 2 with the usage line', async t => {
  const server = await startServer(t)
  const cases = [
    [['--offset', '3'], '--offset needs --partition'],
    [['--group', 'g', '--partition', '0'], '--group cannot be used with --partition or --offset'],
    [['--partition', '0', '--offset', '1', '--from-beginning'], '--offset and --from-beginning cannot be used together'],
    [['--partition', '0', '--offset', 'soon'], '--offset must be an offset, earliest or latest'],
    [['--max-messages', '0'], '--max-messages must be an integer of at least 1'],
    [['--value-format', 'avro'], '--value-format must be one of string, json, binary'],
    [['--bogus'], 'unknown option --bogus']
  ] as const
  const results = await cliAll(t, cases.map(([args]) => ['consume', 'letters', ...args, '--server', server]))
  for (const [i, [args, message]] of cases.entries()) {
    const result = results[i] as Result
    t.equal(result.code, 2, args.join(' '))
    t.match(result.stderr, `logway: ${message}`)
    t.match(result.stderr, /\nUsage: logway consume TOPIC \[options\] \(see logway consume --help\)\n$/)
  }
  const unknown = await cli(t, ['consume', 'nope', '--server', server])
  t.equal(unknown.code, 1, 'an unknown topic is a failure, not a usage error')
})
