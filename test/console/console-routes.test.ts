import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { CONSOLE_DIR } from '../../src/http/console-routes.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { fakeLogStore } from '../helpers/fake-log-store.js'

const FILES = readdirSync(CONSOLE_DIR)

t.test('GET / serves the console page, which loads its script and stylesheet from /console/', async t => {
  const app = buildTestServer(t, {}, { store: fakeLogStore().store })
  const res = await app.inject({ url: '/', headers: { accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8' } })
  t.equal(res.statusCode, 200)
  t.equal(res.headers['content-type'], 'text/html; charset=utf-8')
  t.equal(res.body, readFileSync(new URL('index.html', CONSOLE_DIR), 'utf8'), 'the file as it is')
  t.match(res.body, '<script type="module" src="/console/app.js"></script>')
  t.match(res.body, '<link rel="stylesheet" href="/console/style.css">')
  t.match(res.headers['content-security-policy'], /script-src 'self'/, 'scripts only from this server')
  t.equal(res.headers['x-content-type-options'], 'nosniff')

  const head = await app.inject({ method: 'HEAD', url: '/' })
  t.equal(head.statusCode, 200, 'HEAD works too')
  t.equal(head.body, '')

  const json = await app.inject({ url: '/', headers: { accept: 'application/json' } })
  t.equal(json.statusCode, 406, 'a client that takes only JSON gets 406, as on every route')
})

t.test('each console file is served with its media type; ETags make revalidation cheap', async t => {
  const app = buildTestServer(t, {}, { store: fakeLogStore().store })
  const expected: Record<string, string> = { '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8', '.html': 'text/html; charset=utf-8' }
  t.ok(FILES.includes('app.js') && FILES.includes('style.css'), 'console/ has the entry script and the stylesheet')
  for (const file of FILES) {
    const type = expected[file.slice(file.lastIndexOf('.'))]
    if (type === undefined) continue
    const res = await app.inject({ url: `/console/${file}`, headers: { accept: '*/*' } })
    t.equal(res.statusCode, 200, `${file}: 200`)
    t.equal(res.headers['content-type'], type, `${file}: ${type}`)
    t.equal(res.body, readFileSync(new URL(file, CONSOLE_DIR), 'utf8'), `${file}: the file as it is`)
    t.equal(res.headers['cache-control'], 'no-cache', `${file}: revalidated on every load`)
    const etag = res.headers.etag
    t.match(etag, /^"[\w-]{27}"$/, `${file}: a strong ETag`)

    const again = await app.inject({ url: `/console/${file}`, headers: { 'if-none-match': String(etag) } })
    t.equal(again.statusCode, 304, `${file}: 304 when If-None-Match names the ETag`)
    t.equal(again.body, '', `${file}: no body with the 304`)
    t.equal(again.headers.etag, etag)
    const weak = await app.inject({ url: `/console/${file}`, headers: { 'if-none-match': `"other", W/${String(etag)}` } })
    t.equal(weak.statusCode, 304, `${file}: the weak form of the ETag, in a list, matches too`)
    const stale = await app.inject({ url: `/console/${file}`, headers: { 'if-none-match': '"an-old-version"' } })
    t.equal(stale.statusCode, 200, `${file}: a stale ETag gets the file`)
  }
  const index = await app.inject('/')
  const asAsset = await app.inject('/console/index.html')
  t.equal(asAsset.headers.etag, index.headers.etag, 'the page has one ETag under both names')
})

t.test('every module the console imports is served', async t => {
  const app = buildTestServer(t, {}, { store: fakeLogStore().store })
  const seen = new Set<string>()
  const queue = ['app.js']
  while (queue.length > 0) {
    const file = queue.shift() as string
    if (seen.has(file)) continue
    seen.add(file)
    const res = await app.inject(`/console/${file}`)
    t.equal(res.statusCode, 200, `${file} is served`)
    for (const [, target] of res.body.matchAll(/^\s*(?:import|export)\s[^'"]*from\s+'\.\/([^']+)'/gm)) queue.push(target as string)
  }
  t.ok(seen.size > 5, `followed the imports through ${seen.size} modules`)
})

t.test('only the console\'s own files: unknown names and paths out of the folder are 404', async t => {
  const app = buildTestServer(t, {}, { store: fakeLogStore().store })
  for (const url of [
    '/console/nope.js',
    '/console/',
    '/console/..%2Fpackage.json',
    '/console/%2E%2E%2Fpackage.json',
    '/console/../package.json',
    '/console/app.js%00',
    '/console/style.css/x',
    '/index.html'
  ]) {
    const res = await app.inject(url)
    t.equal(res.statusCode, 404, `${url}: 404`)
    t.match(res.headers['content-type'], /^application\/json/, `${url}: the usual error body`)
    t.match(res.json(), { error_code: 404, message: String, code: 'INVALID_REQUEST' })
    t.notMatch(res.body, /"name": "logway"/, `${url}: nothing of package.json`)
  }
  const named = await app.inject('/console/nope.js')
  t.equal(named.json().message, 'The web console has no file named "nope.js".')
})

t.test('a file whose type Accept excludes is 406', async t => {
  const app = buildTestServer(t, {}, { store: fakeLogStore().store })
  const res = await app.inject({ url: '/console/app.js', headers: { accept: 'text/css' } })
  t.equal(res.statusCode, 406)
  t.match(res.json(), { error_code: 406, code: 'INVALID_REQUEST', message: /app\.js is text\/javascript/ })
  const ok = await app.inject({ url: '/console/style.css', headers: { accept: 'text/css,*/*;q=0.1' } })
  t.equal(ok.statusCode, 200, 'what a browser asks for a stylesheet')
})
