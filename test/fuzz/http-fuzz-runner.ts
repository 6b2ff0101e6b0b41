import { readFileSync } from 'node:fs'
import { setImmediate as nextTurn } from 'node:timers/promises'
import { Ajv } from 'ajv'
import fc from 'fast-check'
import type { LightMyRequestResponse } from 'fastify'
import type { Test } from 'tap'
import { buildFuzzApp, describeChange, fingerprint, settleGroups, type FuzzApp } from './fuzz-app.js'
import { fuzzSettings } from './fuzz-settings.js'
import { createFixtures, CreatedInstances, FIXTURE_GROUP, restoreFixtures } from './http-fixtures.js'
import { encodeSegment } from './encode-segment.js'
import { RequestGenerator, wire, type RequestModel, type WireRequest } from './http-requests.js'
import { loadOpenApi, type Operation } from './openapi-operations.js'

const isErrorResponse = new Ajv().compile(JSON.parse(readFileSync(new URL('../../schemas/ErrorResponse.json', import.meta.url), 'utf8')) as object)

/** How far the manual clock may be moved for one request (long polls wait up to 300 s) before it counts as hanging. */
const MAX_CLOCK_MS = 600_000
/** A request that has not answered after this much real time hangs (a bound, never a pause). */
const MAX_REAL_MS = 10_000

/** A response: its status and body (empty for an event stream, which is closed once its head is in). */
interface Answer {
  status: number
  body: string
}

/**
 * Fuzzes the operations of openapi.yaml that `select` picks with `share` of
 * the fuzz's requests (fuzz-settings.ts), one request per fast-check run,
 * against one app holding the fixtures. Every answer must be below 500,
 * keep its route's declared contract (an error body is an ErrorResponse),
 * and leave the state as it was when it refuses the request; no rejection
 * or exception may go unhandled. A failure is shrunk and printed with the
 * seed that replays it.
 */
export async function runHttpFuzz (t: Test, select: (op: Operation) => boolean, share: number): Promise<void> {
  const { seed, runs } = fuzzSettings(t, share)
  const { operations, components } = loadOpenApi()
  const selected = operations.filter(select)
  const fz = await buildFuzzApp(t)
  await createFixtures(fz)
  const created = new CreatedInstances()
  const generator = new RequestGenerator(components, fz.log.clusterId)
  const stats = new Map<string, Map<string, number>>(selected.map(op => [op.operationId, new Map()]))
  let sent = 0

  const property = fc.asyncProperty(generator.request(selected), async model => {
    const request = wire(model, currentMember(fz))
    const watched = mayChangeState(request)
    // A v2 records request joins its group, rebalances and auto-commits whatever it answers (as Kafka's poll does): of its state, only the log must stay.
    const poll = request.method === 'GET' && model.operationId === 'v2ReadRecords'
    const target = watched && !poll ? instanceTarget(model) : undefined
    const state = async (): Promise<string> => fingerprint(fz, poll ? 'log' : 'all') + (target === undefined ? '' : await instanceState(fz, target))
    if (watched) await settleGroups(fz)
    const before = watched ? await state() : ''
    const answer = await send(fz, request, poll || model.operationId === 'fetchRecords')
    sent++
    const counts = stats.get(model.operationId)
    counts?.set(`${answer.status}`, (counts.get(`${answer.status}`) ?? 0) + 1)

    const problems: string[] = []
    if (answer.status >= 500) problems.push(`answered ${answer.status}: ${answer.body.slice(0, 500)}`)
    for (const v of fz.violations.splice(0)) problems.push(`response contract: ${v.method} ${v.url.slice(0, 200)} answered ${v.status}: ${v.problem} ${JSON.stringify(v.errors ?? []).slice(0, 500)}`)
    for (const err of fz.crashes.splice(0)) problems.push(`unhandled: ${(err as Error)?.stack ?? String(err)}`)
    if (answer.status >= 400 && request.method !== 'HEAD') {
      let body: unknown
      try { body = JSON.parse(answer.body) } catch {}
      if (isErrorResponse(body) !== true) problems.push(`a ${answer.status} whose body is not an ErrorResponse: ${answer.body.slice(0, 300)}`)
    }
    if (answer.status >= 400 && watched) {
      const after = await state()
      if (after !== before) problems.push(`refused with ${answer.status} (${answer.body.slice(0, 200)}) yet the state changed:\n${describeChange(before, after)}`)
    } else if (answer.status < 300 && watched) {
      if (model.path === '/consumers/{group_name}' && request.method === 'POST') created.add(model.params.group_name ?? '', (JSON.parse(answer.body) as { instance_id: string }).instance_id)
      await restoreFixtures(fz, created, request.method === 'DELETE' && request.url.startsWith('/consumers/'))
    }
    if (problems.length > 0) throw new Error(`${request.method} ${request.url.slice(0, 300)}\n${problems.join('\n')}`)
  })
  await fc.assert(property, { seed, numRuns: runs })

  const statuses = new Map<string, number>()
  for (const counts of stats.values()) for (const [status, n] of counts) statuses.set(status, (statuses.get(status) ?? 0) + n)
  t.comment(`${sent} requests over ${selected.length} operations; statuses ${JSON.stringify(Object.fromEntries([...statuses].sort()))}`)
  const neverAccepted = [...stats].filter(([, counts]) => ![...counts.keys()].some(s => s.startsWith('2'))).map(([id]) => id)
  if (neverAccepted.length > 0) t.comment(`operations no request got a 2xx from: ${neverAccepted.join(', ')}`)
  t.equal(sent, runs, 'every run sent its request')
  if (runs >= selected.length * 50) t.same([...stats].filter(([, counts]) => counts.size === 0).map(([id]) => id), [], 'every operation was fuzzed')
}

/** Requests that may change state when accepted (and must not when refused): all but reads, and the reads that move or join something. */
function mayChangeState (request: WireRequest): boolean {
  if (request.method !== 'GET' && request.method !== 'HEAD') return true
  const path = request.url.split('?')[0] ?? ''
  return (path.startsWith('/consumers/') && path.endsWith('/records')) || path.endsWith('/events')
}

/** The member id of the fixture group's first member, which v3 consumer paths name. */
function currentMember (fz: FuzzApp): string {
  try {
    return fz.groups.describeGroup(FIXTURE_GROUP).members[0]?.memberId ?? 'no-member'
  } catch {
    return 'no-member'
  }
}

/** The v2 consumer instance a request acts on (its path, or the name a create asks for). */
function instanceTarget (model: RequestModel): [string, string] | undefined {
  const group = model.params.group_name
  if (group === undefined || model.rawSegments.length > 0) return undefined
  const body = model.body as { id?: unknown, name?: unknown } | undefined
  const name = model.params.instance ?? (typeof body?.id === 'string' ? body.id : typeof body?.name === 'string' ? body.name : undefined)
  return name === undefined ? undefined : [group, name]
}

/** What a client sees of an instance: whether it exists, its subscription and its assignments. */
async function instanceState (fz: FuzzApp, [group, name]: [string, string]): Promise<string> {
  const url = `/consumers/${encodeSegment(group)}/instances/${encodeSegment(name)}`
  const subscription = await fz.app.inject({ method: 'GET', url: `${url}/subscription` })
  const assignments = await fz.app.inject({ method: 'GET', url: `${url}/assignments` })
  return `|${subscription.statusCode} ${subscription.body}|${assignments.statusCode} ${assignments.body}`
}

/** Whether `answered` resolves within `count` turns of the event loop. */
async function answeredWithin (answered: Promise<true>, count: number): Promise<boolean> {
  for (let i = 0; i < count; i++) {
    if (await Promise.race([answered, nextTurn(false)])) return true
  }
  return false
}

/** Waits (a bound, never a pause) until no event stream is a group member: a closed stream commits and leaves in the background. */
async function streamsGone (fz: FuzzApp): Promise<void> {
  const deadline = Date.now() + MAX_REAL_MS
  const streaming = (): boolean => fz.groups.listGroups().some(({ groupId }) => fz.groups.describeGroup(groupId).members.some(m => m.memberId.startsWith('sse-')))
  while (streaming()) {
    if (Date.now() > deadline) throw new Error('a closed event stream is still a member of its group')
    await new Promise(resolve => setTimeout(resolve, 1))
  }
}

/**
 * Sends one request. A long poll (`longPoll`) waits on the manual clock:
 * while it is pending after some turns of the event loop and has set a
 * timer of its own, the clock moves to that timer. Other requests never
 * move the clock, so nothing driven by time happens while they run. An
 * event stream is closed, as a client going away closes it, once its head
 * has arrived.
 */
async function send (fz: FuzzApp, request: WireRequest, longPoll: boolean): Promise<Answer> {
  const stream = request.method === 'GET' && /\/events(\?|$)/.test(request.url)
  const mark = fz.clock.mark()
  const pending = fz.app.inject({ ...request, method: request.method as 'GET', payloadAsStream: stream })
  const answered = pending.then(() => true as const, () => true as const)
  const deadline = Date.now() + MAX_REAL_MS
  let movedMs = 0
  while (!await answeredWithin(answered, 20)) {
    // Real time first: a long poll may be waiting for the disk too.
    await Promise.race([answered, new Promise(resolve => setTimeout(resolve, 1))])
    const due = longPoll ? fz.clock.nextTimerSince(mark) : undefined
    if (due !== undefined && !await answeredWithin(answered, 1)) {
      movedMs += due - fz.clock.now()
      await fz.clock.advance(due - fz.clock.now())
    }
    if (movedMs > MAX_CLOCK_MS || Date.now() > deadline) throw new Error(`${request.method} ${request.url}: no answer after ${movedMs} ms on the clock and ${MAX_REAL_MS} ms of real time`)
  }
  const res: LightMyRequestResponse = await pending
  if (!stream) return { status: res.statusCode, body: res.body }
  if (res.statusCode === 200) {
    res.raw.res.destroy()
    res.stream().resume()
    // The stream stops on the close; a group stream's member commits and leaves: let that finish before the next request.
    await streamsGone(fz)
    return { status: 200, body: '' }
  }
  const chunks: Buffer[] = []
  for await (const chunk of res.stream()) chunks.push(chunk as Buffer)
  return { status: res.statusCode, body: Buffer.concat(chunks).toString('utf8') }
}
