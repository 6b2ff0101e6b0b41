// logway groups reset-offsets and delete, on groups the CLI's consumers left.
import t, { type Test } from 'tap'
import { cli, cliAll, json, requireBuiltCli, type Result } from './cli-harness.js'
import { seedTopic, startServer } from './cli-server.js'

t.before(requireBuiltCli)

interface DescribeJson {
  total_lag: number
  partitions: Array<{ partition: number, committed_offset: number | null }>
}

function sortedLines (text: string): string[] {
  return text.split('\n').filter(line => line !== '').sort()
}

async function describe (t: Test, server: string, group: string): Promise<DescribeJson> {
  const result = await cli(t, ['groups', 'describe', group, '--json', '--server', server])
  t.equal(result.code, 0, result.stderr)
  return json<DescribeJson>(t, result)
}

t.test('groups reset-offsets (dry run, earliest, an offset on some partitions, a datetime) and delete', async t => {
  const server = await startServer(t)
  const s = ['--server', server]
  await seedTopic(t, server, 'rides', 2, ['a', 'b', 'c', 'd', 'e'].map((value, i) => ({ partition: i % 2, value })))
  const consumed = await cli(t, ['consume', 'rides', '--group', 'g', '--from-beginning', '--max-messages', '5', ...s])
  t.equal(consumed.code, 0, consumed.stderr)

  const dry = await cli(t, ['groups', 'reset-offsets', 'g', '--topic', 'rides', '--to-earliest', '--dry-run', ...s])
  t.equal(dry.code, 0, dry.stderr)
  t.equal(dry.stdout, [
    'Dry run: the offsets group g would be reset to (nothing changed):',
    '',
    'TOPIC  PARTITION  NEW-OFFSET',
    'rides  0          0',
    'rides  1          0',
    ''
  ].join('\n'))
  t.same((await describe(t, server, 'g')).partitions.map(p => p.committed_offset), [3, 2], 'a dry run changes nothing')

  const earliest = await cli(t, ['groups', 'reset-offsets', 'g', '--topic', 'rides', '--to-earliest', '--json', ...s])
  t.same(json(t, earliest), { group: 'g', dry_run: false, offsets: [{ topic: 'rides', partition: 0, offset: 0 }, { topic: 'rides', partition: 1, offset: 0 }] })
  t.equal((await describe(t, server, 'g')).total_lag, 5)

  const some = await cli(t, ['groups', 'reset-offsets', 'g', '--topic', 'rides:1', '--to-offset', '1', ...s])
  t.equal(some.code, 0, some.stderr)
  t.same((await describe(t, server, 'g')).partitions.map(p => p.committed_offset), [0, 1], 'only partition 1 moved')
  const replay = await cli(t, ['consume', 'rides', '--group', 'g', '--max-messages', '4', ...s])
  t.same(sortedLines(replay.stdout), ['a', 'c', 'd', 'e'], 'the group reads again from the reset offsets')

  const future = await cli(t, ['groups', 'reset-offsets', 'g', '--all-topics', '--to-datetime', '2999-01-01T00:00:00Z', ...s])
  t.equal(future.code, 0, future.stderr)
  t.same((await describe(t, server, 'g')).partitions.map(p => p.committed_offset), [3, 2], 'a time after every record is the log end')

  const beyond = await cli(t, ['groups', 'reset-offsets', 'g', '--topic', 'rides', '--to-offset', '9', ...s])
  t.equal(beyond.code, 1, 'an offset outside the log is refused')

  const deleted = await cli(t, ['groups', 'delete', 'g', ...s])
  t.equal(deleted.code, 0, deleted.stderr)
  t.equal(deleted.stdout, 'Deleted consumer group g.\n')
  t.equal((await cli(t, ['groups', 'list', ...s])).stdout, 'No consumer groups.\n')
  const again = await cli(t, ['groups', 'delete', 'g', ...s])
  t.equal(again.code, 1)
  t.match(again.stderr, /^logway: [^\n]+\n$/)
})

t.test('groups reset-offsets usage errors exit 2', async t => {
  const cases = [
    [['--topic', 't'], 'groups reset-offsets needs exactly one of --to-earliest'],
    [['--topic', 't', '--to-earliest', '--to-latest'], 'groups reset-offsets needs exactly one of --to-earliest'],
    [['--to-earliest'], 'groups reset-offsets needs --topic T'],
    [['--topic', 't:x', '--to-earliest'], '--topic takes TOPIC or TOPIC:P'],
    [['--topic', 't', '--to-datetime', 'yesterday'], '--to-datetime must be a date and time'],
    [['--topic', 't', '--to-offset', '1.5'], '--to-offset must be an offset']
  ] as const
  const results = await cliAll(t, cases.map(([args]) => ['groups', 'reset-offsets', 'g', ...args, '--server', 'http://127.0.0.1:9']))
  for (const [i, [args, message]] of cases.entries()) {
    const result = results[i] as Result
    t.equal(result.code, 2, args.join(' '))
    t.match(result.stderr, `logway: ${message}`)
    t.match(result.stderr, /\nUsage: logway groups reset-offsets GROUP \[options\]/)
  }
})
