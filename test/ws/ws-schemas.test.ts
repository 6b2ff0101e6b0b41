import { readFileSync } from 'node:fs'
import { Ajv } from 'ajv'
import t from 'tap'
import { WS_CLOSE } from '../../src/ws/close-codes.js'
import { CLIENT_FRAME_SCHEMAS, FrameReader, loadWsSchemas } from '../../src/ws/ws-schemas.js'

const schemas = loadWsSchemas()
const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8')
const section = readme.slice(readme.indexOf('## WebSocket API'), readme.indexOf('\n## ', readme.indexOf('## WebSocket API') + 1))

t.test('each frame schema has its file name as $id and compiles in strict mode', async t => {
  t.ok(schemas.length > 0)
  const ajv = new Ajv({ strict: true })
  ajv.addSchema(JSON.parse(readFileSync(new URL('../../schemas/RecordData.json', import.meta.url), 'utf8')) as object)
  for (const schema of schemas) ajv.addSchema(schema)
  for (const schema of schemas) t.doesNotThrow(() => ajv.getSchema(schema.$id), schema.$id)
  for (const schema of schemas) t.equal(schema.additionalProperties, false, `${schema.$id} is strict about fields`)
})

t.test('every client frame type has a schema', async t => {
  const ids = new Set(schemas.map(s => s.$id))
  for (const [type, id] of Object.entries(CLIENT_FRAME_SCHEMAS)) {
    t.ok(ids.has(id), `${type}: ${id}`)
    t.match(schemas.find(s => s.$id === id), { properties: { type: { const: type } } }, `${id} pins type to ${type}`)
  }
})

t.test('the README documents every client frame type and close code', async t => {
  t.ok(section.length > 0, 'has a WebSocket API section')
  for (const type of Object.keys(CLIENT_FRAME_SCHEMAS)) t.match(section, `\`${type}\``, `frame ${type}`)
  for (const [name, code] of Object.entries(WS_CLOSE)) t.match(section, `| ${code} |`, `close code ${code} (${name})`)
})

t.test('the frame reader accepts a valid frame of each kind', async t => {
  const reader = new FrameReader()
  const frames = [
    { type: 'produce', id: 'a', topic: 't', records: [{ value: { type: 'JSON', data: { x: 1 } } }] },
    { type: 'subscribe', id: 'a', topic: 't', from: { timestamp: 5 }, format: 'json', credits: { bytes: 10 } },
    { type: 'join', id: 'a', group: 'g', topics: ['t'], auto_commit: true },
    { type: 'credit', id: 'a', messages: 1 },
    { type: 'commit', id: 'a', offsets: [{ topic: 't', partition: 0, offset: 3 }] },
    { type: 'seek', id: 'a', topic: 't', partition: 0, offset: 0 },
    { type: 'leave', id: 'a' },
    { type: 'unsubscribe', id: 'a' },
    { type: 'probe', id: 'a' },
    { type: 'ping' }
  ]
  for (const frame of frames) t.same(reader.read(JSON.stringify(frame)), { ok: true, frame }, frame.type)
  t.match(reader.read('{"type":"credit","id":"a"}'), { ok: false, id: 'a' }, 'a credit grants something')
})
