// The web console in real headless Chromium (Debian's chromium driven by playwright-core),
// against a real server on 127.0.0.1. Each test has its own server, data dir and browser context.
// Screenshots of the main pages go to test-artefacts/console/, and to docs/screenshots/ when
// LOGWAY_UPDATE_SCREENSHOTS=1 (the README shows docs/screenshots/topics.png).
import { copyFileSync, existsSync, mkdirSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import type { FastifyInstance } from 'fastify'
import { chromium, type Browser, type Locator, type Page } from 'playwright-core'
import t, { type Test } from 'tap'
import { systemClock } from '../../src/clock.js'
import { buildTestServer } from '../helpers/build-test-server.js'

const CHROMIUM = '/usr/bin/chromium'
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is missing: install Debian's chromium to run the web console's browser tests`
const ARTEFACTS = fileURLToPath(new URL('../../test-artefacts/console/', import.meta.url))
const DOCS_SCREENSHOTS = fileURLToPath(new URL('../../docs/screenshots/', import.meta.url))

let browser: Browser | undefined
t.before(async () => {
  if (skip !== false) return
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] })
})
t.teardown(async () => { await browser?.close() })

interface Console {
  app: FastifyInstance
  page: Page
  /** http://127.0.0.1:<port> */
  origin: string
  clusterId: string
  /** A REST call from the test, as any client would make it; resolves with status and parsed body. */
  rest: (method: string, path: string, body?: unknown, contentType?: string) => Promise<{ status: number, body: any }>
  /** /v3/clusters/<id> */
  v3: string
}

/** A server on a free port of 127.0.0.1 with its own data dir, and a fresh browser page on it. */
async function openConsole (t: Test): Promise<Console> {
  // The real clock: the page shows real timestamps and v2 consumers long-poll in real time.
  const app = buildTestServer(t, {}, { clock: systemClock })
  await app.listen({ host: '127.0.0.1', port: 0 })
  const origin = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`
  const rest = async (method: string, path: string, body?: unknown, contentType = 'application/json'): Promise<{ status: number, body: any }> => {
    const res = await fetch(origin + path, {
      method,
      headers: body === undefined ? {} : { 'content-type': contentType },
      body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body)
    })
    const text = await res.text()
    return { status: res.status, body: text === '' ? null : JSON.parse(text) }
  }
  const clusterId: string = (await rest('GET', '/v3/clusters')).body.data[0].cluster_id
  if (browser === undefined) throw new Error('no browser')
  const context = await browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: 'light' })
  context.setDefaultTimeout(10_000)
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  // Uncaught exceptions in the console's scripts fail the test.
  page.on('pageerror', err => t.fail(`uncaught error in the page: ${err.message}`))
  return { app, page, origin, clusterId, rest, v3: `/v3/clusters/${clusterId}` }
}

/** Saves a screenshot as a test artefact (and for the README when asked to). */
async function screenshot (page: Page, name: string): Promise<void> {
  mkdirSync(ARTEFACTS, { recursive: true })
  const path = `${ARTEFACTS}${name}.png`
  await page.screenshot({ path, fullPage: true })
  if (process.env.LOGWAY_UPDATE_SCREENSHOTS === '1') {
    mkdirSync(DOCS_SCREENSHOTS, { recursive: true })
    copyFileSync(path, `${DOCS_SCREENSHOTS}${name}.png`)
  }
}

/** The text of each body row of a table, cell by cell. */
async function rowsOf (table: Locator): Promise<string[][]> {
  return await table.locator('tbody tr').evaluateAll(rows => rows.map(row =>
    [...row.querySelectorAll('td')].map(cell => (cell.textContent ?? '').replace(/\s+/g, ' ').trim())))
}

/** Waits until the status region (role=status) shows `text`. */
async function status (page: Page, text: string | RegExp): Promise<Locator> {
  const found = page.getByRole('status').filter({ hasText: text })
  await found.first().waitFor()
  return found.first()
}

/** Waits until an alert (role=alert) shows `text`. */
async function alert (page: Page, text: string | RegExp): Promise<Locator> {
  const found = page.getByRole('alert').filter({ hasText: text })
  await found.first().waitFor()
  return found.first()
}

async function produce (c: Console, topic: string, records: unknown[]): Promise<void> {
  for (const record of records) {
    const res = await c.rest('POST', `${c.v3}/topics/${topic}/records`, record)
    if (res.status !== 200) throw new Error(`produce: ${res.status} ${JSON.stringify(res.body)}`)
  }
}

t.test('topics: empty state, create through the form, record totals, server errors, delete with confirmation', { skip }, async t => {
  const c = await openConsole(t)
  const { page } = c
  await page.goto(`${c.origin}/`)
  await page.getByRole('heading', { level: 1, name: 'Topics' }).waitFor()
  await page.getByText('No topics yet — create one.').waitFor()
  const version = (await c.rest('GET', '/health')).body.version
  await page.locator('#server-info').filter({ hasText: `Cluster ${c.clusterId} · Logway ${version}` }).waitFor()
  t.pass('the header shows the cluster id and the server version')

  await page.getByLabel('Topic name').fill('rider-updates')
  await page.getByLabel('Partitions').fill('2')
  await page.getByLabel('retention.ms').fill('86400000')
  await page.getByLabel('cleanup.policy').selectOption('compact,delete')
  await page.getByRole('button', { name: 'Create topic' }).click()
  await status(page, 'Topic rider-updates created.')
  const topic = await c.rest('GET', `${c.v3}/topics/rider-updates`)
  t.equal(topic.body.partitions_count, 2, 'the server has the topic with 2 partitions')
  t.equal((await c.rest('GET', `${c.v3}/topics/rider-updates/configs/retention.ms`)).body.value, '86400000', 'and its retention.ms')
  t.equal((await c.rest('GET', `${c.v3}/topics/rider-updates/configs/cleanup.policy`)).body.value, 'compact,delete', 'and its cleanup.policy')

  // Another topic with records, made over REST: the list counts them after a refresh.
  t.equal((await c.rest('POST', `${c.v3}/topics`, { topic_name: 'orders', partitions_count: 3 })).status, 201)
  await produce(c, 'orders', [0, 1, 2, 0, 1].map(p => ({ partition_id: p, value: { type: 'JSON', data: { n: p } } })))
  await page.getByRole('button', { name: 'Refresh' }).click()
  const list = page.getByRole('table', { name: '2 topics' })
  await list.waitFor()
  const rows = await rowsOf(list)
  t.same(rows.map(row => row.slice(0, 3)), [['orders', '3', '5'], ['rider-updates', '2', '0']], 'name, partitions and record totals')
  await screenshot(page, 'topics')

  await page.getByLabel('Topic name').fill('orders')
  await page.getByRole('button', { name: 'Create topic' }).click()
  const error = await alert(page, 'already exists')
  t.match(await error.textContent(), /TOPIC_ALREADY_EXISTS/, 'the server\'s message and code are shown')

  await page.getByRole('button', { name: 'Delete topic orders' }).click()
  const dialog = page.getByRole('dialog', { name: 'Delete topic orders?' })
  await dialog.waitFor()
  await dialog.getByRole('button', { name: 'Cancel' }).click()
  await dialog.waitFor({ state: 'detached' })
  t.equal((await c.rest('GET', `${c.v3}/topics/orders`)).status, 200, 'cancelling deletes nothing')

  await page.getByRole('button', { name: 'Delete topic orders' }).click()
  await dialog.getByRole('button', { name: 'Delete topic' }).click()
  await status(page, 'Topic orders deleted.')
  await page.getByRole('table', { name: '1 topic' }).waitFor()
  t.equal((await c.rest('GET', `${c.v3}/topics/orders`)).status, 404, 'the topic is gone from the server')
  t.same((await rowsOf(page.getByRole('table', { name: '1 topic' }))).map(row => row[0]), ['rider-updates'])
})

t.test('produce through the form, then see the record in the message browser; paging', { skip }, async t => {
  const c = await openConsole(t)
  const { page } = c
  t.equal((await c.rest('POST', `${c.v3}/topics`, { topic_name: 'rider-updates', partitions_count: 2, configs: [{ name: 'retention.ms', value: '86400000' }] })).status, 201)

  await page.goto(`${c.origin}/#/topics/rider-updates/produce`)
  await page.getByRole('heading', { level: 1, name: 'Produce to rider-updates' }).waitFor()
  await page.getByLabel('Key', { exact: true }).fill('rider-42')
  await page.getByLabel('Value', { exact: true }).fill('{"name":"Ada","location":"north"}')
  await page.getByRole('button', { name: 'Add header' }).click()
  await page.getByLabel('Header 1 name').fill('source')
  await page.getByLabel('Header 1 value').fill('console')
  await page.getByRole('button', { name: 'Produce message' }).click()
  // rider-42 lands on partition 1 with Kafka's murmur2 partitioner (as in the README's tour).
  await status(page, 'Produced to partition 1 at offset 0')
  await screenshot(page, 'produce')

  const fetched = await c.rest('GET', `${c.v3}/topics/rider-updates/partitions/1/records?offset=0&format=string`)
  t.match(fetched.body.records, [{
    offset: 0,
    key: 'rider-42',
    value: '{"name":"Ada","location":"north"}',
    headers: [{ name: 'source', value: Buffer.from('console').toString('base64') }]
  }], 'the server stored the key, the value as JSON, and the header')

  await page.getByLabel('Value format').selectOption('JSON')
  await page.getByLabel('Value', { exact: true }).fill('not json')
  await page.getByRole('button', { name: 'Produce message' }).click()
  await alert(page, 'The value is not JSON')
  t.equal((await c.rest('GET', `${c.v3}/topics/rider-updates/partitions`)).body.data[1].log_end_offset, 1, 'nothing was sent')

  await page.getByLabel('Value format').selectOption('STRING')
  await page.getByLabel('Partition', { exact: true }).selectOption('0')
  await page.getByRole('button', { name: 'Produce message' }).click()
  await status(page, 'Produced to partition 0 at offset 0')

  await page.getByRole('link', { name: 'Show it in the message browser' }).click()
  await page.getByRole('heading', { level: 1, name: 'rider-updates' }).waitFor()
  const partitions = page.getByRole('table', { name: 'Partitions of rider-updates' })
  await partitions.waitFor()
  t.same((await rowsOf(partitions)).map(row => row.slice(0, 3)), [['0', '0', '1'], ['1', '0', '1']], 'partition, start and end offsets')
  const configs = page.getByRole('table', { name: 'Configs of rider-updates' })
  await configs.waitFor()
  const configRows = await rowsOf(configs)
  t.same(configRows.find(row => row[0] === 'retention.ms'), ['retention.ms', '86400000set on topic'], 'a config set on the topic is marked')
  t.same(configRows.find(row => row[0] === 'cleanup.policy'), ['cleanup.policy', 'delete'], 'a default config shows the default')

  // The link opened the browser at partition 0, offset 0: the text value produced last.
  const messages = page.getByRole('table', { name: 'Messages in partition 0' })
  await messages.waitFor()
  t.match(await rowsOf(messages), [['0', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/, 'rider-42', 'not json', 'source = console']], 'the form kept its key and header')

  await page.getByLabel('Partition', { exact: true }).selectOption('1')
  await page.getByLabel('Start at').selectOption('earliest')
  await page.getByRole('button', { name: 'Show messages' }).click()
  const first = page.getByRole('table', { name: 'Messages in partition 1' })
  await first.waitFor()
  const [row] = await rowsOf(first)
  t.equal(row?.[2], 'rider-42', 'key')
  t.equal(row?.[4], 'source = console', 'headers')
  t.equal(row?.[1], new Date(fetched.body.records[0].timestamp).toISOString(), 'the timestamp, as ISO 8601')
  const value = await first.locator('tbody tr td:nth-child(4) pre').textContent()
  t.equal(value, '{\n  "name": "Ada",\n  "location": "north"\n}', 'a JSON value is pretty-printed')

  // Paging through 25 more records of partition 0, 10 at a time.
  await produce(c, 'rider-updates', Array.from({ length: 25 }, (_, i) => ({ partition_id: 0, value: { type: 'STRING', data: `r${i + 1}` } })))
  await page.getByLabel('Partition', { exact: true }).selectOption('0')
  await page.getByLabel('Page size').selectOption('10')
  await page.getByRole('button', { name: 'Show messages' }).click()
  const pageRange = page.locator('.range')
  await pageRange.filter({ hasText: 'Partition 0: offsets 0–9 (log start 0, end 26).' }).waitFor()
  const next = page.getByRole('button', { name: 'Next page' })
  const previous = page.getByRole('button', { name: 'Previous page' })
  t.ok(await previous.isDisabled(), 'no previous page at the log start')
  await next.click()
  await pageRange.filter({ hasText: 'offsets 10–19' }).waitFor()
  await next.click()
  await pageRange.filter({ hasText: 'offsets 20–25' }).waitFor()
  t.ok(await next.isDisabled(), 'no next page at the log end')
  t.same((await rowsOf(page.getByRole('table', { name: 'Messages in partition 0' }))).map(r => r[3]), ['r20', 'r21', 'r22', 'r23', 'r24', 'r25'])
  await previous.click()
  await pageRange.filter({ hasText: 'offsets 10–19' }).waitFor()

  await page.getByLabel('Start at').selectOption('latest')
  await page.getByRole('button', { name: 'Show messages' }).click()
  await pageRange.filter({ hasText: 'offsets 16–25' }).waitFor()
  t.pass('"Latest messages" shows the last page')

  await page.getByLabel('Start at').selectOption('offset')
  await page.getByLabel('Offset', { exact: true }).fill('99')
  await page.getByRole('button', { name: 'Show messages' }).click()
  await alert(page, 'OFFSET_OUT_OF_RANGE')
  t.pass('an offset past the log end shows the server\'s error')

  await page.getByLabel('Start at').selectOption('latest')
  await page.getByRole('button', { name: 'Show messages' }).click()
  await pageRange.filter({ hasText: 'offsets 16–25' }).waitFor()
  // Partition offsets are read when the page opens: a reload shows the 25 records added since.
  await page.goto(`${c.origin}/#/topics/rider-updates`)
  await pageRange.filter({ hasText: 'offsets 6–25' }).waitFor()
  t.same((await rowsOf(page.getByRole('table', { name: 'Partitions of rider-updates' }))).map(row => row.slice(0, 4)), [['0', '0', '26', '26'], ['1', '0', '1', '1']])
  await screenshot(page, 'topic')

  // A server-side error in the produce form: the topic is deleted behind the form's back.
  await page.goto(`${c.origin}/#/topics/rider-updates/produce`)
  await page.getByRole('button', { name: 'Produce message' }).waitFor()
  t.equal((await c.rest('DELETE', `${c.v3}/topics/rider-updates`)).status, 204)
  await page.getByRole('button', { name: 'Produce message' }).click()
  await alert(page, 'UNKNOWN_TOPIC_OR_PARTITION')
})

t.test('live tail: records produced over REST appear; pause holds them, resume shows them', { skip }, async t => {
  const c = await openConsole(t)
  const { page } = c
  t.equal((await c.rest('POST', `${c.v3}/topics`, { topic_name: 'rider-updates', partitions_count: 2 })).status, 201)
  await produce(c, 'rider-updates', [{ partition_id: 0, value: { type: 'STRING', data: 'before the tail' } }])

  await page.goto(`${c.origin}/#/topics/rider-updates/tail`)
  await page.getByRole('heading', { level: 1, name: 'Live tail of rider-updates' }).waitFor()
  await status(page, 'Live')
  await page.getByText('Waiting for new records on rider-updates…').waitFor()

  await produce(c, 'rider-updates', [
    { key: { type: 'STRING', data: 'rider-42' }, value: { type: 'JSON', data: { name: 'Ada', location: 'north' } }, headers: [{ name: 'source', value: Buffer.from('rest').toString('base64') }] },
    { partition_id: 0, value: { type: 'STRING', data: 'second' } }
  ])
  const counter = page.locator('.tail-count')
  await counter.filter({ hasText: 'Records received: 2' }).waitFor()
  const records = page.getByRole('table', { name: 'Records received on rider-updates, newest first' })
  const rows = await rowsOf(records)
  t.match(rows, [
    ['0', '1', /Z$/, 'null', 'second', '—'],
    ['1', '0', /Z$/, 'rider-42', /"name": "Ada"/, 'source = rest']
  ], 'newest first; the record from before the tail is not shown')
  await screenshot(page, 'tail')

  await page.getByRole('button', { name: 'Pause' }).click()
  await status(page, 'Paused')
  await produce(c, 'rider-updates', [{ partition_id: 1, value: { type: 'STRING', data: 'while paused' } }])
  // Credits were granted before the pause: the record arrives, and is held rather than shown.
  await counter.filter({ hasText: 'Records received: 3 (1 held while paused)' }).waitFor()
  t.equal((await rowsOf(records)).length, 2, 'a held record is not shown')
  await page.getByRole('button', { name: 'Resume' }).click()
  await status(page, 'Live')
  await counter.filter({ hasText: /^Records received: 3$/ }).waitFor()
  t.equal((await rowsOf(records))[0]?.[4], 'while paused', 'resume shows the held record')

  // More records than one window of credits (200): the tail keeps granting, nothing is lost.
  const ndjson = Array.from({ length: 450 }, (_, i) => JSON.stringify({ partition_id: i % 2, value: { type: 'STRING', data: `bulk-${i}` } })).join('\n')
  const bulk = await fetch(`${c.origin}${c.v3}/topics/rider-updates/records`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: ndjson })
  const reports = (await bulk.text()).trim().split('\n').map(line => JSON.parse(line) as { error_code: number })
  t.ok(reports.length === 450 && reports.every(report => report.error_code === 200), 'the records were produced (a stream of 450)')
  await counter.filter({ hasText: /^Records received: 453$/ }).waitFor()
  t.pass('453 records received across several credit grants')

  await page.goto(`${c.origin}/#/topics/ghost/tail`)
  await alert(page, 'UNKNOWN_TOPIC_OR_PARTITION')
  await status(page, 'Disconnected: subscription ended')
  t.ok(await page.getByRole('button', { name: 'Reconnect' }).isVisible(), 'the tail of a topic that does not exist ends with the server\'s error')
})

t.test('consumer groups: a v2 consumer\'s members, assignments, committed offsets and lag', { skip }, async t => {
  const c = await openConsole(t)
  const { page } = c
  await page.goto(`${c.origin}/#/groups`)
  await page.getByRole('heading', { level: 1, name: 'Consumer groups' }).waitFor()
  await page.getByText('No consumer groups yet.').waitFor()

  t.equal((await c.rest('POST', `${c.v3}/topics`, { topic_name: 'orders', partitions_count: 2 })).status, 201)
  await produce(c, 'orders', [0, 0, 0, 0, 0, 1, 1, 1].map(p => ({ partition_id: p, value: { type: 'STRING', data: `o${p}` } })))
  const V2 = 'application/vnd.kafka.v2+json'
  const created = await c.rest('POST', '/consumers/billing', { name: 'c1', format: 'binary', 'auto.offset.reset': 'earliest' }, V2)
  t.equal(created.status, 200, 'a v2 consumer instance in group billing')
  t.equal((await c.rest('POST', '/consumers/billing/instances/c1/subscription', { topics: ['orders'] }, V2)).status, 204)
  // The first poll waits for the group's assignment; later ones return at once while records remain.
  let consumed = 0
  for (let poll = 0; poll < 10 && consumed === 0; poll++) {
    const res = await fetch(`${c.origin}/consumers/billing/instances/c1/records?timeout=2000`, { headers: { accept: 'application/vnd.kafka.binary.v2+json' } })
    t.equal(res.status, 200)
    consumed += (await res.json() as unknown[]).length
  }
  t.ok(consumed > 0, 'the consumer read records')
  // The v2 API commits the offset of the last record consumed; offset + 1 is stored.
  const commit = await c.rest('POST', '/consumers/billing/instances/c1/offsets', { offsets: [{ topic: 'orders', partition: 0, offset: 1 }, { topic: 'orders', partition: 1, offset: 0 }] }, V2)
  t.equal(commit.status, 200, 'offsets committed')

  await page.getByRole('button', { name: 'Refresh' }).click()
  const groups = page.getByRole('table', { name: '1 consumer group' })
  await groups.waitFor()
  t.same(await rowsOf(groups), [['billing', 'Stable', '1', 'range', '5']], 'group, state, members, assignor, total lag')
  await screenshot(page, 'groups')

  await page.getByRole('link', { name: 'billing' }).click()
  await page.getByRole('heading', { level: 1, name: 'billing' }).waitFor()
  const members = page.getByRole('table', { name: 'Members of billing' })
  await members.waitFor()
  t.match(await rowsOf(members), [[/.+/, /.*/, 'orders-0, orders-1']], 'the one member owns both partitions')
  const lags = await rowsOf(page.getByRole('table', { name: 'Committed offsets and lag of billing' }))
  t.same(lags.map(row => row.slice(0, 5)), [['orders', '0', '2', '5', '3'], ['orders', '1', '1', '3', '2']], 'topic, partition, committed offset, end offset, lag')
  t.ok(await page.getByText('Total lag').isVisible())
  await screenshot(page, 'group')
})
