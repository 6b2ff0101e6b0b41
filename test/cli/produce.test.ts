import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { cli, json, requireBuiltCli, spawnCli } from './cli-harness.js'
import { clusterPath, seedTopic, startServer } from './cli-server.js'

t.before(requireBuiltCli)

interface Fetched {
  offset: number
  key: string | null
  value: string | null
  headers: Array<{ name: string, value: string | null }>
}

/** What partition `partition` of `topic` holds, read through the public fetch route (keys and values as text). */
async function records (server: string, topic: string, partition: number): Promise<Fetched[]> {
  const clusters = await (await fetch(`${server}/v3/clusters`)).json() as { data: Array<{ cluster_id: string }> }
  const res = await fetch(`${server}/v3/clusters/${clusters.data[0]?.cluster_id ?? ''}/topics/${topic}/partitions/${partition}/records?offset=earliest&format=string&max_records=10000`)
  return ((await res.json()) as { records: Fetched[] }).records.map(({ offset, key, value, headers }) => ({ offset, key, value, headers }))
}

function header (name: string, value: string): { name: string, value: string } {
  return { name, value: Buffer.from(value).toString('base64') }
}

t.test('produce reads lines from stdin: keys, a partition, headers', async t => {
  const server = await startServer(t)
  await seedTopic(t, server, 'events', 2)
  const result = await cli(t, ['produce', 'events', '--key-separator', ':', '--partition', '1', '--header', 'source=cli', '--header', 'trace=a=b', '--server', server], {
    input: 'k1:first value\r\n\nk2:second:with colon\nk3:'
  })
  t.equal(result.code, 0, result.stderr)
  t.equal(result.stdout, '3 records written to events\n', 'the empty line is skipped; CRLF and a last line without newline are lines')
  t.equal(result.stderr, '', 'no progress line when stderr is not a terminal')
  t.same(await records(server, 'events', 0), [], 'nothing on partition 0')
  const headers = [header('source', 'cli'), header('trace', 'a=b')]
  t.same(await records(server, 'events', 1), [
    { offset: 0, key: 'k1', value: 'first value', headers },
    { offset: 1, key: 'k2', value: 'second:with colon', headers },
    { offset: 2, key: 'k3', value: '', headers }
  ], 'key before the first separator, the rest is the value')
})

t.test('lines without a key separator: unkeyed values, round-robin; with one missing: that line fails', async t => {
  const server = await startServer(t)
  await seedTopic(t, server, 'plain', 2)
  const plain = await cli(t, ['produce', 'plain', '--server', server], { input: 'a b\nc d\ne f\ng h\n' })
  t.equal(plain.code, 0, plain.stderr)
  const [p0, p1] = [await records(server, 'plain', 0), await records(server, 'plain', 1)]
  t.equal(p0.length + p1.length, 4)
  t.ok(p0.length > 0 && p1.length > 0, 'spread over both partitions')
  t.ok([...p0, ...p1].every(r => r.key === null), 'no keys')

  const missing = await cli(t, ['produce', 'plain', '--key-separator', '=', '--server', server], { input: 'a=1\nno separator\nc=3\n' })
  t.equal(missing.code, 1, 'not every record was written')
  t.equal(missing.stdout, '2 records written to plain\n')
  t.equal(missing.stderr, 'logway: line 2: no key separator "=" on the line\nlogway: 1 record failed\n')
})

t.test('value formats: json, binary, string', async t => {
  const server = await startServer(t)
  await seedTopic(t, server, 'formats', 1)
  const asJson = await cli(t, ['produce', 'formats', '--value-format', 'json', '--server', server], { input: '{"name": "ada"}\n42\nnot json\n"text"\n' })
  t.equal(asJson.code, 1)
  t.equal(asJson.stdout, '3 records written to formats\n')
  t.match(asJson.stderr, /^logway: line 3: the value is not JSON \([^\n]*\); use --value-format string\nlogway: 1 record failed\n$/)

  const asBinary = await cli(t, ['produce', 'formats', '--value-format', 'binary', '--key-format', 'json', '--key-separator', ' ', '--json', '--server', server], {
    input: `{"id":1} ${Buffer.from([0xff, 0x00, 0x41]).toString('base64')}\n{"id":2} %%%\n`
  })
  t.equal(asBinary.code, 1)
  t.same(json(t, asBinary), { topic: 'formats', written: 1, failed: 1, errors: [{ line: 2, message: 'the value is not base64; use --value-format string' }] })

  const stored = await records(server, 'formats', 0)
  t.same(stored.map(r => r.value), ['{"name":"ada"}', '42', '"text"', Buffer.from([0xff, 0x00, 0x41]).toString('utf8')], 'JSON is stored as its JSON text; binary as the decoded bytes')
  t.equal(stored[3]?.key, '{"id":1}')

  const bytes = await fetch(`${server}/v3/clusters/${((await (await fetch(`${server}/v3/clusters`)).json()) as { data: Array<{ cluster_id: string }> }).data[0]?.cluster_id ?? ''}/topics/formats/partitions/0/records?offset=3&format=binary&max_records=1`)
  t.equal(((await bytes.json()) as { records: Fetched[] }).records[0]?.value, Buffer.from([0xff, 0x00, 0x41]).toString('base64'), 'binary bytes arrive unchanged')
})

t.test('a record the server rejects: non-zero exit, the count, the line and the server\'s message', async t => {
  const server = await startServer(t)
  await seedTopic(t, server, 'small', 1, [], { 'max.message.bytes': '200' })
  const big = 'x'.repeat(500)
  const result = await cli(t, ['produce', 'small', '--server', server], { input: `ok 1\n${big}\nok 2\n` })
  t.equal(result.code, 1)
  t.equal(result.stdout, '2 records written to small\n')
  t.match(result.stderr, /^logway: line 2: [^\n]*max\.message\.bytes[^\n]*\nlogway: 1 record failed\n$/)
  t.same((await records(server, 'small', 0)).map(r => r.value), ['ok 1', 'ok 2'], 'the records around it were written')

  const lone = await cli(t, ['produce', 'small', '--json', '--server', server], { input: `${big}\n` })
  t.equal(lone.code, 1, 'a lone record that is refused fails too')
  t.match(json(t, lone), { topic: 'small', written: 0, failed: 1, errors: [{ line: 1, code: 'MESSAGE_TOO_LARGE', error_code: Number, message: String }] })
})

t.test('--file, many lines, and an input with no records', async t => {
  const server = await startServer(t)
  await seedTopic(t, server, 'bulk', 3)
  const count = 5000
  const file = join(t.testdir(), 'lines.txt')
  writeFileSync(file, Array.from({ length: count }, (_, i) => `key-${i % 97}\tvalue ${i}`).join('\n') + '\n')
  const result = await cli(t, ['produce', 'bulk', '--file', file, '--key-separator', '\t', '--json', '--server', server])
  t.equal(result.code, 0, result.stderr)
  t.same(json(t, result), { topic: 'bulk', written: count, failed: 0, errors: [] })
  t.equal(result.stderr, '', 'no progress when stderr is not a terminal')
  const stored = [...await records(server, 'bulk', 0), ...await records(server, 'bulk', 1), ...await records(server, 'bulk', 2)]
  t.equal(stored.length, count)
  t.equal(new Set(stored.map(r => r.value)).size, count, 'every line once')
  // The key picks the partition: one key's records all share one.
  const partitionsOfKey = new Set<number>()
  for (const [partition, list] of [await records(server, 'bulk', 0), await records(server, 'bulk', 1), await records(server, 'bulk', 2)].entries()) {
    if (list.some(r => r.key === 'key-5')) partitionsOfKey.add(partition)
  }
  t.equal(partitionsOfKey.size, 1)

  const nothing = await cli(t, ['produce', 'bulk', '--server', server], { input: '\n\n' })
  t.equal(nothing.code, 0)
  t.equal(nothing.stdout, '0 records written to bulk\n')

  const noFile = await cli(t, ['produce', 'bulk', '--file', join(t.testdir(), 'missing.txt'), '--server', server])
  t.equal(noFile.code, 1)
  t.match(noFile.stderr, /^logway: cannot read [^\n]*missing\.txt: ENOENT\n$/)
})

t.test('an unknown topic or partition fails before reading the input', async t => {
  const server = await startServer(t)
  const unknown = await cli(t, ['produce', 'nope', '--server', server], { input: 'a\n' })
  t.equal(unknown.code, 1)
  t.equal(unknown.stderr, 'logway: Topic \'nope\' does not exist.\n')
  await seedTopic(t, server, 'two', 2)
  const partition = await cli(t, ['produce', 'two', '--partition', '2', '--server', server], { input: 'a\n' })
  t.equal(partition.code, 1)
  t.equal(partition.stderr, 'logway: topic two has no partition 2 (it has 2 partitions)\n')
  t.same(await records(server, 'two', 0), [])
})

t.test('Ctrl-C while produce waits for more input ends the input: what was read is written, exit 0', async t => {
  const server = await startServer(t)
  await seedTopic(t, server, 'typed', 1)
  const producer = spawnCli(t, ['produce', 'typed', '--server', server], { input: 'one\ntwo\n', keepStdinOpen: true })
  // Long-poll until both lines are in the log: the producer has read them and waits for a third.
  const partition = `${server}${await clusterPath(t, server)}/topics/typed/partitions/0/records`
  const seen: string[] = []
  for (let offset = 0, polls = 0; seen.length < 2 && polls < 5; polls++) {
    const page = await (await fetch(`${partition}?offset=${offset}&timeout_ms=20000&format=string`)).json() as { next_offset: number, records: Fetched[] }
    seen.push(...page.records.map(r => r.value ?? ''))
    offset = page.next_offset
  }
  t.same(seen, ['one', 'two'])
  producer.child.kill('SIGINT')
  t.equal(await producer.exited, 0)
  t.equal(producer.stdout(), '2 records written to typed\n')
})
