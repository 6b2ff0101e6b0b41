// The seeds' rider-updates demo (kafkajs admin.js, producer.js, consumer.js
// run as two groups) played with the logway command line, then the groups
// commands on what it left.
import t, { type Test } from 'tap'
import { cli, json, requireBuiltCli, spawnCli } from './cli-harness.js'
import { seedRecords, seedTopic, startServer } from './cli-server.js'

t.before(requireBuiltCli)

interface DescribeJson {
  group: string
  state: string
  total_lag: number
  members: Array<{ consumer_id: string, client_id: string, assignments: Array<{ topic: string, partition: number }> }>
  partitions: Array<{ topic: string, partition: number, committed_offset: number | null, log_end_offset: number, lag: number | null, consumer_id: string | null }>
}

function sortedLines (text: string): string[] {
  return text.split('\n').filter(line => line !== '').sort()
}

async function describe (t: Test, server: string, group: string): Promise<DescribeJson> {
  const result = await cli(t, ['groups', 'describe', group, '--json', '--server', server])
  t.equal(result.code, 0, result.stderr)
  return json<DescribeJson>(t, result)
}

t.test('the seeds\' flow: rider-updates with 2 partitions, lines "name location", two groups each get every record', async t => {
  const server = await startServer(t)
  const s = ['--server', server]
  // admin.js
  const created = await cli(t, ['topics', 'create', 'rider-updates', '--partitions', '2', ...s])
  t.equal(created.code, 0, created.stderr)
  // producer.js: one update a line; the rider's name is the key, so a rider's updates stay in order on one partition.
  const updates = ['ada north', 'grace south', 'linus north', 'barbara east']
  const produced = await cli(t, ['produce', 'rider-updates', '--key-separator', ' ', ...s], { input: updates.join('\n') + '\n' })
  t.equal(produced.code, 0, produced.stderr)
  t.equal(produced.stdout, '4 records written to rider-updates\n')

  // consumer.js, started once per group.
  const expected = ['ada north', 'barbara east', 'grace south', 'linus north']
  for (const group of ['billing', 'analytics']) {
    const consumed = await cli(t, ['consume', 'rider-updates', '--group', group, '--from-beginning', '--max-messages', '4', '--print-key', '--key-separator', ' ', ...s])
    t.equal(consumed.code, 0, consumed.stderr)
    t.same(sortedLines(consumed.stdout), expected, `${group} gets every record`)
  }

  const listed = await cli(t, ['groups', 'list', ...s])
  t.equal(listed.code, 0)
  t.equal(listed.stdout, [
    'GROUP      STATE  ASSIGNOR  MEMBERS',
    'analytics  EMPTY  range     0',
    'billing    EMPTY  range     0',
    ''
  ].join('\n'), 'both groups, empty once their consumers left')

  const caughtUp = await describe(t, server, 'billing')
  t.equal(caughtUp.total_lag, 0, 'billing committed everything it printed')
  t.same(caughtUp.partitions.map(p => p.lag), [0, 0])

  const more = await cli(t, ['produce', 'rider-updates', '--key-separator', ' ', ...s], { input: 'ada west\ngrace west\n' })
  t.equal(more.code, 0)
  const lagging = await describe(t, server, 'billing')
  t.equal(lagging.total_lag, 2, 'groups describe shows the lag')
  t.same(lagging.partitions.map(p => p.log_end_offset - (p.committed_offset ?? 0)), lagging.partitions.map(p => p.lag))
  const text = await cli(t, ['groups', 'describe', 'billing', ...s])
  t.match(text.stdout, /^Group: billing {2}State: EMPTY {2}Assignor: range {2}Members: 0 {2}Total lag: 2\n\nTOPIC +PARTITION +COMMITTED +END +LAG +CONSUMER\nrider-updates +0 +\d+ +\d+ +\d+ +-\nrider-updates +1 +\d+ +\d+ +\d+ +-\n$/)

  const next = await cli(t, ['consume', 'rider-updates', '--group', 'billing', '--max-messages', '2', ...s])
  t.same(sortedLines(next.stdout), ['west', 'west'], 'the group goes on from its committed offsets')
})

t.test('a consumer in a group shows as a member; Ctrl-C commits what it printed and leaves', async t => {
  const server = await startServer(t)
  await seedTopic(t, server, 'rides', 2, ['a', 'b', 'c', 'd'].map((value, i) => ({ partition: i % 2, value })))
  const member = spawnCli(t, ['consume', 'rides', '--group', 'live', '--from-beginning', '--server', server])
  await member.lines(4)

  const busy = await describe(t, server, 'live')
  t.equal(busy.state, 'STABLE')
  t.equal(busy.members.length, 1)
  t.match(busy.members[0], { client_id: /^logway-cli-/, assignments: [{ topic: 'rides', partition: 0 }, { topic: 'rides', partition: 1 }] })
  t.same(busy.partitions.map(p => [p.partition, p.committed_offset, p.lag, p.consumer_id]), [
    [0, 2, 0, busy.members[0]?.consumer_id],
    [1, 2, 0, busy.members[0]?.consumer_id]
  ], 'committed as it goes')

  const refused = await cli(t, ['groups', 'reset-offsets', 'live', '--topic', 'rides', '--to-earliest', '--server', server])
  t.equal(refused.code, 1, 'a group with members cannot be reset')
  t.match(refused.stderr, /^logway: [^\n]+\n$/)

  member.child.kill('SIGINT')
  t.equal(await member.exited, 0, 'Ctrl-C exits 0')
  const left = await describe(t, server, 'live')
  t.equal(left.members.length, 0, 'the instance left the group')
  t.equal(left.state, 'EMPTY')

  await seedRecords(t, server, 'rides', [{ partition: 1, value: 'e' }])
  const again = await cli(t, ['consume', 'rides', '--group', 'live', '--from-beginning', '--max-messages', '1', '--server', server])
  t.equal(again.stdout, 'e\n', 'a new member starts after what the last one printed')
})

t.test('a group consumer whose reader goes away (consume | head) leaves the group and exits 0', async t => {
  const server = await startServer(t)
  await seedTopic(t, server, 'rides', 1, [{ value: 'a' }])
  const member = spawnCli(t, ['consume', 'rides', '--group', 'piped', '--from-beginning', '--server', server])
  t.same(await member.lines(1), ['a'])
  t.equal((await describe(t, server, 'piped')).members.length, 1)
  // The reading end closes; the next record it prints meets a broken pipe.
  member.child.stdout?.destroy()
  await seedRecords(t, server, 'rides', [{ value: 'b' }])
  t.equal(await member.exited, 0)
  const left = await describe(t, server, 'piped')
  t.equal(left.members.length, 0, 'it deleted its instance, leaving the group')
  t.same(left.partitions.map(p => p.committed_offset), [2], 'and committed what it wrote')
})
