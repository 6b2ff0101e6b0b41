import { join } from 'node:path'
import t, { type Test } from 'tap'
import { ConfigError, configSchema, loadConfig, SETTINGS, type Config, type SettingName } from '../src/config.js'

const defaults: Config = {
  dataDir: './data',
  host: '127.0.0.1',
  port: 8082,
  logLevel: 'info',
  retentionCheckIntervalMs: 30000,
  bodyLimitBytes: 16 * 1024 * 1024,
  minFreeBytes: 64 * 1024 * 1024,
  idempotencyKeyTtlMs: 24 * 60 * 60 * 1000,
  shutdownGraceMs: 10_000,
  consumerInstanceTimeoutMs: 300000,
  consumerMaxInstances: 1000,
  consumerRequestMaxBytes: 16 * 1024 * 1024,
  wsPingIntervalMs: 30000,
  wsMaxFrameBytes: 4 * 1024 * 1024,
  wsMaxInFlight: 1024,
  wsSendBufferBytes: 1024 * 1024,
  wsSlowConsumerTimeoutMs: 30000,
  maxHeaderBytes: 16384,
  maxConnections: 10000,
  maxEventLoopDelayMs: 1000,
  maxEventLoopUtilization: 0,
  eventLoopSampleIntervalMs: 1000
}

/** Asserts that loading fails with a one-line ConfigError naming the setting. */
function assertInvalid (t: Test, load: () => unknown, setting: string, message: RegExp): void {
  let thrown: unknown
  try {
    load()
  } catch (err) {
    thrown = err
  }
  t.type(thrown, ConfigError)
  const err = thrown as ConfigError
  t.equal(err.code, 'INVALID_CONFIG')
  t.equal(err.setting, setting, 'names the setting')
  t.match(err.message, message)
  t.notMatch(err.message, /\n/, 'one line')
  t.notMatch(err.message, /NaN/, 'never NaN')
}

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

t.test('defaults come from schemas/config.json', async t => {
  t.same(loadConfig(), defaults)
  t.same(loadConfig({ env: {}, flags: {} }), defaults)
})

t.test('Config and the schema name the same settings', async t => {
  t.same(Object.keys(configSchema.properties).sort(), Object.keys(defaults).sort())
  t.equal(configSchema.$id, 'Config')
})

t.test('environment names and flags are derived from the setting names', async t => {
  t.same(SETTINGS.map(s => [s.name, s.env, s.flag]), [
    ['dataDir', 'LOGWAY_DATA_DIR', 'data-dir'],
    ['host', 'LOGWAY_HOST', 'host'],
    ['port', 'LOGWAY_PORT', 'port'],
    ['logLevel', 'LOGWAY_LOG_LEVEL', 'log-level'],
    ['retentionCheckIntervalMs', 'LOGWAY_RETENTION_CHECK_INTERVAL_MS', 'retention-check-interval-ms'],
    ['bodyLimitBytes', 'LOGWAY_BODY_LIMIT_BYTES', 'body-limit-bytes'],
    ['minFreeBytes', 'LOGWAY_MIN_FREE_BYTES', 'min-free-bytes'],
    ['shutdownGraceMs', 'LOGWAY_SHUTDOWN_GRACE_MS', 'shutdown-grace-ms'],
    ['idempotencyKeyTtlMs', 'LOGWAY_IDEMPOTENCY_KEY_TTL_MS', 'idempotency-key-ttl-ms'],
    ['consumerInstanceTimeoutMs', 'LOGWAY_CONSUMER_INSTANCE_TIMEOUT_MS', 'consumer-instance-timeout-ms'],
    ['consumerMaxInstances', 'LOGWAY_CONSUMER_MAX_INSTANCES', 'consumer-max-instances'],
    ['consumerRequestMaxBytes', 'LOGWAY_CONSUMER_REQUEST_MAX_BYTES', 'consumer-request-max-bytes'],
    ['wsPingIntervalMs', 'LOGWAY_WS_PING_INTERVAL_MS', 'ws-ping-interval-ms'],
    ['wsMaxFrameBytes', 'LOGWAY_WS_MAX_FRAME_BYTES', 'ws-max-frame-bytes'],
    ['wsMaxInFlight', 'LOGWAY_WS_MAX_IN_FLIGHT', 'ws-max-in-flight'],
    ['wsSendBufferBytes', 'LOGWAY_WS_SEND_BUFFER_BYTES', 'ws-send-buffer-bytes'],
    ['wsSlowConsumerTimeoutMs', 'LOGWAY_WS_SLOW_CONSUMER_TIMEOUT_MS', 'ws-slow-consumer-timeout-ms'],
    ['maxHeaderBytes', 'LOGWAY_MAX_HEADER_BYTES', 'max-header-bytes'],
    ['maxConnections', 'LOGWAY_MAX_CONNECTIONS', 'max-connections'],
    ['maxEventLoopDelayMs', 'LOGWAY_MAX_EVENT_LOOP_DELAY_MS', 'max-event-loop-delay-ms'],
    ['maxEventLoopUtilization', 'LOGWAY_MAX_EVENT_LOOP_UTILIZATION', 'max-event-loop-utilization'],
    ['eventLoopSampleIntervalMs', 'LOGWAY_EVENT_LOOP_SAMPLE_INTERVAL_MS', 'event-loop-sample-interval-ms']
  ])
})

t.test('precedence: flags > environment > config file > defaults', async t => {
  const dir = t.testdir({
    'logway.json': JSON.stringify({ dataDir: '/file/data', host: '0.0.0.0', port: 1000, logLevel: 'warn' })
  })
  const file = join(dir, 'logway.json')
  const env = { LOGWAY_HOST: '::1', LOGWAY_PORT: '2000', LOGWAY_LOG_LEVEL: 'debug' }
  const flags = { port: '3000' }

  t.same(loadConfig({ file }), { ...defaults, dataDir: '/file/data', host: '0.0.0.0', port: 1000, logLevel: 'warn' }, 'file over defaults')
  t.same(loadConfig({ file, env }), { ...defaults, dataDir: '/file/data', host: '::1', port: 2000, logLevel: 'debug' }, 'env over file')
  t.same(loadConfig({ file, env, flags }), { ...defaults, dataDir: '/file/data', host: '::1', port: 3000, logLevel: 'debug' }, 'flags over env')
})

t.test('every setting can be set from the environment and from flags, converted by its type', async t => {
  const strings: Record<SettingName, string> = {
    dataDir: '/var/lib/logway',
    host: '0.0.0.0',
    port: '0',
    logLevel: 'trace',
    retentionCheckIntervalMs: '0',
    bodyLimitBytes: '1024',
    minFreeBytes: '0',
    idempotencyKeyTtlMs: '60000',
    shutdownGraceMs: '2500',
    consumerInstanceTimeoutMs: '60000',
    consumerMaxInstances: '10',
    consumerRequestMaxBytes: '4096',
    wsPingIntervalMs: '1000',
    wsMaxFrameBytes: '65536',
    wsMaxInFlight: '8',
    wsSendBufferBytes: '65536',
    wsSlowConsumerTimeoutMs: '5000',
    maxHeaderBytes: '8192',
    maxConnections: '100',
    maxEventLoopDelayMs: '0',
    maxEventLoopUtilization: '0.95',
    eventLoopSampleIntervalMs: '250'
  }
  const expected: Config = {
    dataDir: '/var/lib/logway',
    host: '0.0.0.0',
    port: 0,
    logLevel: 'trace',
    retentionCheckIntervalMs: 0,
    bodyLimitBytes: 1024,
    minFreeBytes: 0,
    idempotencyKeyTtlMs: 60000,
    shutdownGraceMs: 2500,
    consumerInstanceTimeoutMs: 60000,
    consumerMaxInstances: 10,
    consumerRequestMaxBytes: 4096,
    wsPingIntervalMs: 1000,
    wsMaxFrameBytes: 65536,
    wsMaxInFlight: 8,
    wsSendBufferBytes: 65536,
    wsSlowConsumerTimeoutMs: 5000,
    maxHeaderBytes: 8192,
    maxConnections: 100,
    maxEventLoopDelayMs: 0,
    maxEventLoopUtilization: 0.95,
    eventLoopSampleIntervalMs: 250
  }
  const env = Object.fromEntries(SETTINGS.map(s => [s.env, strings[s.name]]))
  t.same(loadConfig({ env }), expected, 'from the environment')
  t.same(loadConfig({ flags: strings }), expected, 'from flags')
})

t.test('the config file comes from LOGWAY_CONFIG unless --config names one', async t => {
  const dir = t.testdir({
    'a.json': JSON.stringify({ port: 1111 }),
    'b.json': JSON.stringify({ port: 2222 })
  })
  t.equal(loadConfig({ env: { LOGWAY_CONFIG: join(dir, 'a.json') } }).port, 1111)
  t.equal(loadConfig({ env: { LOGWAY_CONFIG: join(dir, 'a.json') }, file: join(dir, 'b.json') }).port, 2222)
})

t.test('an empty environment variable counts as unset', async t => {
  t.same(loadConfig({ env: { LOGWAY_PORT: '', LOGWAY_HOST: '', LOGWAY_CONFIG: '' } }), defaults)
})

t.test('strings that are not integers are errors naming the setting, never NaN', async t => {
  for (const setting of SETTINGS.filter(s => configSchema.properties[s.name].type === 'integer')) {
    for (const raw of ['abc', '80x', '1.5', '1e3', ' 80', '0x10', '', '99999999999999999999']) {
      t.test(`${setting.flag}=${JSON.stringify(raw)}`, async t => {
        assertInvalid(t, () => loadConfig({ flags: { [setting.name]: raw } }), setting.name,
          new RegExp(`^invalid setting ${setting.name}: must be an integer .*\\(got ${escape(JSON.stringify(raw))} from --${setting.flag}\\)$`))
        if (raw !== '') {
          assertInvalid(t, () => loadConfig({ env: { [setting.env]: raw } }), setting.name, new RegExp(`from ${setting.env}\\)$`))
        }
      })
    }
  }
})

t.test('the message for a bad port is exact', async t => {
  assertInvalid(t, () => loadConfig({ env: { LOGWAY_PORT: 'abc' } }), 'port',
    /^invalid setting port: must be an integer from 0 to 65535 \(got "abc" from LOGWAY_PORT\)$/)
})

t.test('out-of-range and out-of-enum values are errors naming the setting', async t => {
  assertInvalid(t, () => loadConfig({ flags: { port: '65536' } }), 'port', /must be an integer from 0 to 65535 \(got 65536 from --port\)/)
  assertInvalid(t, () => loadConfig({ env: { LOGWAY_PORT: '-1' } }), 'port', /must be an integer from 0 to 65535 \(got -1 from LOGWAY_PORT\)/)
  assertInvalid(t, () => loadConfig({ flags: { retentionCheckIntervalMs: '-5' } }), 'retentionCheckIntervalMs', /must be an integer from 0 to 2147483647/)
  assertInvalid(t, () => loadConfig({ flags: { bodyLimitBytes: '0' } }), 'bodyLimitBytes', /must be an integer from 1 to/)
  assertInvalid(t, () => loadConfig({ env: { LOGWAY_LOG_LEVEL: 'loud' } }), 'logLevel',
    /^invalid setting logLevel: must be one of fatal, error, warn, info, debug, trace, silent \(got "loud" from LOGWAY_LOG_LEVEL\)$/)
  assertInvalid(t, () => loadConfig({ flags: { dataDir: '' } }), 'dataDir', /must be a non-empty string/)
  assertInvalid(t, () => loadConfig({ env: { LOGWAY_CONSUMER_INSTANCE_TIMEOUT_MS: '999' } }), 'consumerInstanceTimeoutMs',
    /must be an integer from 1000 to 2147483647 \(got 999 from LOGWAY_CONSUMER_INSTANCE_TIMEOUT_MS\)/)
  assertInvalid(t, () => loadConfig({ flags: { consumerMaxInstances: '0' } }), 'consumerMaxInstances', /must be an integer from 1 to 1000000/)
  assertInvalid(t, () => loadConfig({ flags: { consumerRequestMaxBytes: '100' } }), 'consumerRequestMaxBytes', /must be an integer from 1024 to 1073741824/)
})

t.test('config file values are checked with their JSON types', async t => {
  const dir = t.testdir({
    'string-port.json': JSON.stringify({ port: '8082' }),
    'big-port.json': JSON.stringify({ port: 70000 }),
    'float.json': JSON.stringify({ retentionCheckIntervalMs: 1.5 }),
    'host.json': JSON.stringify({ host: 7 })
  })
  assertInvalid(t, () => loadConfig({ file: join(dir, 'string-port.json') }), 'port', /must be an integer from 0 to 65535 \(got "8082" in .*string-port\.json\)/)
  assertInvalid(t, () => loadConfig({ file: join(dir, 'big-port.json') }), 'port', /\(got 70000 in /)
  assertInvalid(t, () => loadConfig({ file: join(dir, 'float.json') }), 'retentionCheckIntervalMs', /got 1\.5 in /)
  assertInvalid(t, () => loadConfig({ file: join(dir, 'host.json') }), 'host', /must be a non-empty string \(got 7 in /)
  t.equal(loadConfig({ file: join(dir, 'string-port.json'), flags: { port: '1' } }).port, 1, 'a valid flag hides a bad file value')
})

t.test('an unknown key in the config file is an error naming the key', async t => {
  const dir = t.testdir({ 'typo.json': JSON.stringify({ prot: 8080 }) })
  assertInvalid(t, () => loadConfig({ file: join(dir, 'typo.json') }), 'prot', /^unknown setting "prot" in config file .*typo\.json/)
})

t.test('a config file that is missing, not JSON or not an object is an error naming the file', async t => {
  const dir = t.testdir({ 'bad.json': '{ port: 1 }', 'array.json': '[]' })
  for (const [name, message] of [['missing.json', /cannot read config file .*missing\.json: ENOENT/], ['bad.json', /config file .*bad\.json is not valid JSON/], ['array.json', /must hold a JSON object/]] as const) {
    const err = t.throws(() => loadConfig({ file: join(dir, name) })) as Error
    t.type(err, ConfigError)
    t.match(err.message, message)
    t.notMatch(err.message, /\n/)
  }
})
