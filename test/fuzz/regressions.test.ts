import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import t from 'tap'
import { ManualClock } from '../../src/clock.js'
import { WS_CLOSE } from '../../src/ws/close-codes.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { listen, TestClient } from '../ws/ws-test-client.js'

// Bugs the fuzz tests of this folder found, each pinned by the smallest request that showed it.

const isErrorResponse = new Ajv().compile(JSON.parse(readFileSync(new URL('../../schemas/ErrorResponse.json', import.meta.url), 'utf8')) as object)

t.test('a URL Fastify cannot route (bad percent-encoding, a path parameter over 256 characters) answers an ErrorResponse, not Fastify\'s own body', async t => {
  const app = buildTestServer(t)
  for (const [url, status, errorCode] of [
    ['/topics/%', 400, 40001],
    ['/v3/clusters/%zz/topics', 400, 40001],
    ['/topics/a%ED%A0%80', 400, 40001],
    [`/topics/${'x'.repeat(300)}`, 414, 414]
  ] as const) {
    const res = await app.inject({ method: 'POST', url, headers: { 'content-type': 'application/json' }, payload: '{"records":[{"value":1}]}' })
    t.equal(res.statusCode, status, url.slice(0, 40))
    t.match(res.headers['content-type'], /^application\/json/)
    const body = res.json() as Record<string, unknown>
    t.ok(isErrorResponse(body), `an ErrorResponse: ${res.body.slice(0, 120)}`)
    t.match(body, { error_code: errorCode, code: 'INVALID_REQUEST' })
  }
})

t.test('a member whose connection the server closed for a frame over the limit leaves its group at once, so the group rebalances without it', async t => {
  const clock = new ManualClock()
  const app = buildTestServer(t, { wsMaxFrameBytes: 1024 }, { clock })
  const log = await app.getLog()
  await log.createTopic('orders', { partitions: 2 })
  const base = await listen(app)
  const join = (client: TestClient, id: string): void => client.send({ type: 'join', id, group: 'riders', topics: ['orders'] })

  const offender = await TestClient.open(t, app, base)
  join(offender, 'a')
  await offender.nextOf('assigned', 'a')
  const other = await TestClient.open(t, app, base)
  join(other, 'b')
  t.equal((await other.nextOf('assigned', 'b')).partitions.length, 1, 'the two members share the partitions')

  offender.send('x'.repeat(2_000))
  t.equal((await offender.whenClosed()).code, WS_CLOSE.MESSAGE_TOO_BIG, 'closed with 1009')
  // Time does not move: before the fix the member stayed until its session timed out, and the rebalance waited for it.
  const alone = await other.nextOf('assigned', 'b')
  t.same(alone.partitions.map(p => p.partition).sort(), [0, 1], 'the other member gets every partition')
  t.same((await app.getGroups()).describeGroup('riders').members.length, 1, 'one member is left')
})
