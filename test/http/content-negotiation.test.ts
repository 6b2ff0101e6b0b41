import { readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { negotiate, parseAccept } from '../../src/http/content-negotiation.js'
import { buildTestServer } from '../helpers/build-test-server.js'
import { fakeLogStore } from '../helpers/fake-log-store.js'

const JSON_ONLY = ['application/json']
const YAML = ['application/yaml', 'text/yaml', 'text/plain']

t.test('parseAccept', async t => {
  t.test('reads types, q-values and how specific each range is', async t => {
    t.same(parseAccept('application/json, text/*;q=0.5, */*;q=0.1'), [
      { type: 'application', subtype: 'json', q: 1, specificity: 2 },
      { type: 'text', subtype: '*', q: 0.5, specificity: 1 },
      { type: '*', subtype: '*', q: 0.1, specificity: 0 }
    ])
  })

  t.test('is case-insensitive and ignores whitespace and other parameters', async t => {
    t.same(parseAccept(' Application/JSON ; charset=utf-8 ; Q = 0.8 ;ext=1'), [{ type: 'application', subtype: 'json', q: 0.8, specificity: 2 }])
    t.same(parseAccept('text/html;q=0'), [{ type: 'text', subtype: 'html', q: 0, specificity: 2 }], 'q=0 is kept: it excludes')
    t.same(parseAccept('text/html;q=.5').map(r => r.q), [0.5])
    t.same(parseAccept('text/html;q=1.000').map(r => r.q), [1])
  })

  t.test('skips entries it cannot read', async t => {
    for (const garbage of ['', ',,,', 'garbage', 'json', '/json', 'application/', 'a/b/c', '*/json', ' / ',
      'text/html;q=abc', 'text/html;q=', 'text/html;q=2', 'text/html;q=-1', 'text/html;q=0x1', 'text/html;q=1e-3']) {
      t.same(parseAccept(garbage), [], JSON.stringify(garbage))
    }
    t.same(parseAccept('garbage, text/html;q=nope, application/json').map(r => r.subtype), ['json'], 'keeps the readable entries')
  })
})

t.test('negotiate', async t => {
  t.test('an absent, empty or unreadable header accepts anything: the first type produced', async t => {
    for (const accept of [undefined, '', '   ', 'garbage', 'text/html;q=banana']) {
      t.equal(negotiate(accept, YAML), 'application/yaml', JSON.stringify(accept))
    }
  })

  t.test('wildcards', async t => {
    t.equal(negotiate('*/*', JSON_ONLY), 'application/json')
    t.equal(negotiate('application/*', JSON_ONLY), 'application/json')
    t.equal(negotiate('text/*', JSON_ONLY), undefined)
    t.equal(negotiate('text/*', YAML), 'text/yaml', 'the first text/ type produced')
  })

  t.test('nothing acceptable', async t => {
    t.equal(negotiate('text/html', JSON_ONLY), undefined)
    t.equal(negotiate('text/html, application/xml;q=0.9', JSON_ONLY), undefined)
    t.equal(negotiate('garbage, text/html', JSON_ONLY), undefined, 'one readable range is enough to refuse')
  })

  t.test('q-values choose, and q=0 excludes', async t => {
    t.equal(negotiate('application/json;q=0.5, text/html', JSON_ONLY), 'application/json', 'a low q is still acceptable')
    t.equal(negotiate('text/plain;q=0.9, text/yaml;q=0.4', YAML), 'text/plain')
    t.equal(negotiate('application/json;q=0', JSON_ONLY), undefined)
    t.equal(negotiate('application/json;q=0, */*', JSON_ONLY), undefined, 'an exclusion beats a wildcard')
    t.equal(negotiate('application/yaml;q=0, */*', YAML), 'text/yaml')
    t.equal(negotiate('*/*;q=0', YAML), undefined)
  })

  t.test('the most specific matching range rates a type', async t => {
    t.equal(negotiate('text/*;q=0.2, text/yaml;q=0.9, */*;q=0.1', YAML), 'text/yaml', 'text/yaml 0.9 beats application/yaml 0.1 and text/plain 0.2')
    t.equal(negotiate('text/*;q=0, text/plain', YAML), 'text/plain', 'text/plain is named, so text/*;q=0 does not exclude it')
    t.equal(negotiate('application/json;q=0, application/json;q=0.5', JSON_ONLY), 'application/json', 'of equally specific ranges, the highest q')
  })

  t.test('ties', async t => {
    t.equal(negotiate('*/*', YAML), 'application/yaml', 'the first type produced')
    t.equal(negotiate('text/plain, text/yaml', YAML), 'text/yaml', 'equally rated: the order of produces, not of the header')
    t.equal(negotiate('text/yaml, */*', YAML), 'text/yaml', 'a named type beats one only a wildcard accepts')
    t.equal(negotiate('text/yaml;q=0.5, */*', YAML), 'application/yaml', 'but a higher q beats a more specific range')
  })

  t.test('media types are compared without case or parameters', async t => {
    t.equal(negotiate('APPLICATION/JSON', JSON_ONLY), 'application/json')
    t.equal(negotiate('application/json', ['application/json; charset=utf-8']), 'application/json; charset=utf-8')
  })
})

t.test('through the app', async t => {
  const app = buildTestServer(t)
  const log = await app.getLog()
  const topics = `/v3/clusters/${log.clusterId}/topics`

  t.test('a JSON route refuses text/html with 406 and an error body', async t => {
    const res = await app.inject({ url: '/v3/clusters', headers: { accept: 'text/html' } })
    t.equal(res.statusCode, 406)
    t.match(res.headers['content-type'], /^application\/json/)
    t.match(res.json(), { error_code: 406, code: 'INVALID_REQUEST', message: /text\/html.*application\/json/ })
  })

  t.test('a refused request changes nothing', async t => {
    const res = await app.inject({ method: 'POST', url: topics, headers: { accept: 'text/html' }, payload: { topic_name: 'refused' } })
    t.equal(res.statusCode, 406)
    t.notOk(log.hasTopic('refused'), 'the topic was not created')
    t.equal((await app.inject({ method: 'POST', url: topics, headers: { accept: 'application/json' }, payload: { topic_name: 'accepted' } })).statusCode, 201)
    t.ok(log.hasTopic('accepted'))
  })

  t.test('acceptable headers', async t => {
    for (const accept of ['*/*', 'application/*', 'application/json', 'application/json;q=0.5, text/html', 'text/html, */*;q=0.1', 'nonsense']) {
      const res = await app.inject({ url: '/v3/clusters', headers: { accept } })
      t.equal(res.statusCode, 200, accept)
      t.match(res.headers['content-type'], /^application\/json/, accept)
    }
  })

  t.test('an unknown route is 404 whatever the client accepts', async t => {
    const res = await app.inject({ url: '/no/such/route', headers: { accept: 'text/html' } })
    t.equal(res.statusCode, 404)
    t.match(res.json(), { error_code: 404, code: 'INVALID_REQUEST' })
  })
})

t.test('/openapi.yaml answers the YAML type asked for', async t => {
  const app = buildTestServer(t, {}, { store: fakeLogStore().store })
  const cases: Array<[string | undefined, string | undefined]> = [
    [undefined, 'application/yaml'],
    ['application/yaml', 'application/yaml'],
    ['text/yaml', 'text/yaml'],
    ['text/*', 'text/yaml'],
    ['text/plain', 'text/plain'],
    ['text/yaml, */*', 'text/yaml'],
    ['application/yaml;q=0.1, text/yaml;q=0.2', 'text/yaml'],
    ['application/json', undefined],
    ['text/html', undefined]
  ]
  for (const [accept, type] of cases) {
    const res = await app.inject({ url: '/openapi.yaml', headers: accept === undefined ? {} : { accept } })
    if (type === undefined) {
      t.equal(res.statusCode, 406, `${accept}: 406`)
      t.match(res.json(), { error_code: 406, code: 'INVALID_REQUEST', message: /application\/yaml, text\/yaml, text\/plain/ })
    } else {
      t.equal(res.statusCode, 200, `${accept ?? '(no Accept)'}: 200`)
      t.equal(res.headers['content-type'], `${type}; charset=utf-8`, `${accept ?? '(no Accept)'}: ${type}`)
    }
  }
  const json = await app.inject({ url: '/openapi.json', headers: { accept: 'application/yaml' } })
  t.equal(json.statusCode, 406, '/openapi.json produces JSON only')
})

t.test('openapi.yaml documents 406 on every operation, and the YAML types', async t => {
  const spec = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as {
    paths: Record<string, Record<string, { responses: Record<string, { content?: Record<string, { schema?: { $ref?: string } }> }> }>>
  }
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      t.same(operation.responses['406']?.content?.['application/json']?.schema, { $ref: '#/components/schemas/ErrorResponse' }, `${method.toUpperCase()} ${path} documents 406`)
    }
  }
  t.same(Object.keys(spec.paths['/openapi.yaml']?.get?.responses['200']?.content ?? {}), YAML)
})
