import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { parse } from 'yaml'
import { buildOpenapiDocument, generateOpenapiYaml, OPENAPI_PATH } from '../scripts/generate-openapi.js'
import { buildTestServer } from './helpers/build-test-server.js'
import { fakeLogStore } from './helpers/fake-log-store.js'

const committed = readFileSync(OPENAPI_PATH, 'utf8')
const spec = parse(committed) as {
  openapi: string
  info: { title: string, version: string }
  paths: Record<string, Record<string, { operationId?: string, responses?: Record<string, unknown> }>>
  components: { schemas: Record<string, unknown> }
}
const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace']

t.test('the committed openapi.yaml is what the generator writes now', async t => {
  const generated = await generateOpenapiYaml()
  if (generated !== committed) {
    t.fail('openapi.yaml is out of date with the routes and schemas: run `npm run openapi` and commit the result', {
      diff: firstDifference(committed, generated)
    })
  } else {
    t.pass('openapi.yaml is up to date')
  }
})

t.test('openapi.yaml is an OpenAPI 3.1 document', async t => {
  t.match(spec.openapi, /^3\.1\.\d+$/, 'openapi: 3.1.x')
  t.equal(spec.info.title, 'Logway')
  t.equal(spec.info.version, pkg.version, 'info.version is the package version')
  t.ok(Object.keys(spec.paths).length > 0, 'has paths')

  const ids = new Set<string>()
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      t.ok(METHODS.includes(method), `${path}: ${method} is an HTTP method`)
      t.ok(operation.operationId, `${method.toUpperCase()} ${path} has an operationId`)
      t.notOk(ids.has(operation.operationId ?? ''), `operationId ${operation.operationId} is unique`)
      ids.add(operation.operationId ?? '')
      t.ok(operation.responses !== undefined && Object.keys(operation.responses).length > 0, `${method.toUpperCase()} ${path} documents its responses`)
    }
  }

  const schemaIds = readdirSync(new URL('../schemas/', import.meta.url))
    .filter(name => name.endsWith('.json'))
    .map(name => (JSON.parse(readFileSync(new URL(`../schemas/${name}`, import.meta.url), 'utf8')) as { $id: string }).$id)
  for (const id of schemaIds) t.ok(id in spec.components.schemas, `components.schemas has ${id} from schemas/`)

  for (const ref of committed.matchAll(/\$ref: "?([^"\n]+)"?/g)) {
    const target = /^#\/components\/schemas\/(.+)$/.exec(ref[1] ?? '')
    t.ok(target !== null && target[1] !== undefined && target[1] in spec.components.schemas, `${ref[1]} resolves to a component`)
  }
})

t.test('every operation documents the errors any route can answer (src/http/common-responses.ts)', async t => {
  const error = { $ref: '#/components/schemas/ErrorResponse' }
  for (const [path, item] of Object.entries(spec.paths)) {
    for (const [method, operation] of Object.entries(item)) {
      const statuses = ['406', '500', '503', ...(method === 'get' ? [] : ['400', '413', '415', '507'])]
      for (const status of statuses) {
        const response = operation.responses?.[status] as { description?: string, content?: Record<string, { schema?: unknown }> } | undefined
        t.ok(response?.description, `${method.toUpperCase()} ${path} documents ${status}`)
        t.same(response?.content, { 'application/json': { schema: error } }, `${method.toUpperCase()} ${path} ${status} is an ErrorResponse`)
      }
    }
  }
  t.match(spec.paths['/ready']?.get?.responses?.['503'], { description: 'The log is not open (yet)' }, 'a route\'s own declaration wins')
})

t.test('the spec and the live routes list the same operations', async t => {
  const routes = new Set<string>()
  const app = buildTestServer(t, {}, {
    store: fakeLogStore().store,
    beforeRoutes: app => app.addHook('onRoute', route => {
      for (const method of [route.method].flat()) {
        if (method !== 'HEAD') routes.add(`${method} ${route.url.replace(/::/g, '\0').replace(/:(\w+)/g, '{$1}').replace(/\0/g, ':')}`)
      }
    })
  })
  await app.ready()
  const documented = new Set(Object.entries(spec.paths).flatMap(([path, item]) => Object.keys(item).map(method => `${method.toUpperCase()} ${path}`)))

  const undocumented = [...routes].filter(op => !documented.has(op))
  const stale = [...documented].filter(op => !routes.has(op))
  t.same(undocumented, [], `routes missing from openapi.yaml (run \`npm run openapi\`): ${undocumented.join(', ')}`)
  t.same(stale, [], `openapi.yaml entries with no route: ${stale.join(', ')}`)
  t.ok(routes.size > 0, 'saw the routes')
})

t.test('the runtime serves the committed file', async t => {
  const app = buildTestServer(t, {}, { store: fakeLogStore().store })

  const yaml = await app.inject('/openapi.yaml')
  t.equal(yaml.statusCode, 200)
  t.match(yaml.headers['content-type'], /^application\/yaml/)
  t.equal(yaml.body, committed, 'byte for byte')

  const json = await app.inject('/openapi.json')
  t.equal(json.statusCode, 200)
  t.match(json.headers['content-type'], /^application\/json/)
  t.same(json.json(), spec, 'the same document as JSON')
})

t.test('generation opens no log and leaves no server behind', async t => {
  const doc = await buildOpenapiDocument()
  t.match(doc, { openapi: '3.1.0', paths: { '/health': { get: {} }, '/ready': { get: {} } } })
})

function firstDifference (a: string, b: string): string {
  const left = a.split('\n')
  const right = b.split('\n')
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] !== right[i]) return `line ${i + 1}: committed ${JSON.stringify(left[i])}, generated ${JSON.stringify(right[i])}`
  }
  return 'no line differs'
}
