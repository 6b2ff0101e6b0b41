import t from 'tap'
import { cli, cliAll, requireBuiltCli, type Result } from './cli-harness.js'

t.before(requireBuiltCli)

// No server is needed: --help and usage errors are answered before any request.
const NOWHERE = ['--server', 'http://127.0.0.1:9']

t.test('logway --help lists the client commands', async t => {
  const result = await cli(t, ['--help'])
  t.equal(result.code, 0)
  for (const command of ['serve', 'topics', 'produce', 'consume', 'groups']) t.match(result.stdout, new RegExp(`\\n {2}${command} +\\S`))
})

t.test('--help on every command and subcommand: exit 0, usage, its own flags and the common ones', async t => {
  const cases: Array<[string[], string, string[]]> = [
    [['topics', 'create'], 'Usage: logway topics create NAME [options]', ['--partitions N', '--config K=V', '--if-not-exists']],
    [['topics', 'list'], 'Usage: logway topics list [options]', []],
    [['topics', 'describe'], 'Usage: logway topics describe NAME [options]', []],
    [['topics', 'alter'], 'Usage: logway topics alter NAME [options]', ['--partitions N', '--config K=V', '--delete-config K']],
    [['topics', 'delete'], 'Usage: logway topics delete NAME [options]', []],
    [['produce'], 'Usage: logway produce TOPIC [options]', ['--file FILE', '--key-separator SEP', '--partition P', '--header K=V', '--value-format FORMAT']],
    [['consume'], 'Usage: logway consume TOPIC [options]', ['--group G', '--from-beginning', '--partition P', '--offset O', '--max-messages N', '--print-key', '--print-headers', '--timeout-ms T']],
    [['groups', 'list'], 'Usage: logway groups list [options]', []],
    [['groups', 'describe'], 'Usage: logway groups describe GROUP [options]', []],
    [['groups', 'delete'], 'Usage: logway groups delete GROUP [options]', []],
    [['groups', 'reset-offsets'], 'Usage: logway groups reset-offsets GROUP [options]', ['--topic T[:P,…]', '--to-earliest', '--to-latest', '--to-offset N', '--to-datetime ISO', '--dry-run']]
  ]
  const runs = cases.flatMap(([command, usage, flags]) => ['--help', '-h'].map(help => ({ command, usage, flags, help })))
  const results = await cliAll(t, runs.map(({ command, help }) => [...command, help]))
  for (const [i, { command, usage, flags, help }] of runs.entries()) {
    const result = results[i] as Result
    t.equal(result.code, 0, `${command.join(' ')} ${help}`)
    t.equal(result.stdout.split('\n')[0], usage)
    for (const flag of [...flags, '--server URL', '--json', '-h, --help']) t.match(result.stdout, flag, `${command.join(' ')} --help shows ${flag}`)
    t.equal(result.stderr, '')
  }
})

t.test('--help on topics and groups lists their subcommands', async t => {
  const [topics, groups] = await cliAll(t, [['topics', '--help'], ['groups', '-h']]) as [Result, Result]
  t.equal(topics.code, 0)
  t.match(topics.stdout, /^Usage: logway topics <command> \[options\]\n/)
  for (const sub of ['create NAME', 'list', 'describe NAME', 'alter NAME', 'delete NAME']) t.match(topics.stdout, `\n  ${sub} `)
  t.equal(groups.code, 0)
  for (const sub of ['list', 'describe GROUP', 'delete GROUP', 'reset-offsets GROUP']) t.match(groups.stdout, `\n  ${sub} `)
})

t.test('usage errors exit 2 with one message line and the usage line', async t => {
  const cases: Array<[string[], string]> = [
    [['topics'], 'logway: topics needs a command\nUsage: logway topics <create|list|describe|alter|delete> … (see logway topics --help)\n'],
    [['topics', 'rename', 'x'], 'logway: unknown command "topics rename"\nUsage: logway topics <create|list|describe|alter|delete> … (see logway topics --help)\n'],
    [['topics', 'create'], 'logway: topics create needs NAME\nUsage: logway topics create NAME [options] (see logway topics create --help)\n'],
    [['topics', 'create', 'a', 'b'], 'logway: unexpected argument "b"\nUsage: logway topics create NAME [options] (see logway topics create --help)\n'],
    [['topics', 'create', 'a', '--partitions', 'two'], 'logway: --partitions must be an integer of at least 1 (got "two")\nUsage: logway topics create NAME [options] (see logway topics create --help)\n'],
    [['topics', 'create', 'a', '--config', 'retention.ms'], 'logway: --config takes NAME=VALUE (got "retention.ms")\nUsage: logway topics create NAME [options] (see logway topics create --help)\n'],
    [['topics', 'alter', 'a'], 'logway: topics alter needs --partitions, --config or --delete-config\nUsage: logway topics alter NAME [options] (see logway topics alter --help)\n'],
    [['topics', 'list', '--server'], 'logway: option --server needs a value\nUsage: logway topics list [options] (see logway topics list --help)\n'],
    [['topics', 'list', '--server', 'localhost:8082'], 'logway: --server must be an http or https URL (got "localhost:8082")\nUsage: logway topics list [options] (see logway topics list --help)\n'],
    [['produce'], 'logway: produce needs TOPIC\nUsage: logway produce TOPIC [options] (see logway produce --help)\n'],
    [['produce', 't', '--key-separator='], 'logway: --key-separator must not be empty\nUsage: logway produce TOPIC [options] (see logway produce --help)\n'],
    [['produce', 't', '--header', 'novalue'], 'logway: --header takes NAME=VALUE (got "novalue")\nUsage: logway produce TOPIC [options] (see logway produce --help)\n'],
    [['groups', 'describe'], 'logway: groups describe needs GROUP\nUsage: logway groups describe GROUP [options] (see logway groups describe --help)\n'],
    [['groups', 'list', '--json=yes'], 'logway: option --json takes no value\nUsage: logway groups list [options] (see logway groups list --help)\n']
  ]
  const results = await cliAll(t, cases.map(([args]) => [...args, ...(args.includes('--server') ? [] : NOWHERE)]))
  for (const [i, [args, stderr]] of cases.entries()) {
    const result = results[i] as Result
    t.equal(result.code, 2, args.join(' '))
    t.equal(result.stderr, stderr)
    t.equal(result.stdout, '')
  }
})
