import t, { type Test } from 'tap'
import { JsonObjectStream, JsonObjectStreamError } from '../../src/http/json-object-stream.js'

const LIMIT = 1024 * 1024

/** Pushes `text` in pieces of `size` bytes, pulling after each push; returns every object, then ends. */
function split (t: Test, text: string | Buffer, size = Infinity, maxObjectBytes = LIMIT): object[] {
  const bytes = typeof text === 'string' ? Buffer.from(text) : text
  const stream = new JsonObjectStream({ maxObjectBytes })
  const out: object[] = []
  const drain = (): void => {
    for (let value = stream.next(); value !== undefined; value = stream.next()) out.push(value)
  }
  for (let i = 0; i < bytes.length; i += size === Infinity ? bytes.length : size) {
    stream.push(bytes.subarray(i, size === Infinity ? bytes.length : i + size))
    drain()
  }
  stream.end()
  drain()
  t.ok(stream.done, 'done after end')
  t.equal(stream.count, out.length, 'count')
  return out
}

function failure (fn: () => unknown): JsonObjectStreamError {
  try {
    fn()
  } catch (err) {
    if (err instanceof JsonObjectStreamError) return err
    throw err
  }
  throw new Error('expected a JsonObjectStreamError')
}

t.test('concatenated objects, with or without whitespace between them', async t => {
  t.same(split(t, '{"a":1}{"b":2}'), [{ a: 1 }, { b: 2 }])
  t.same(split(t, ' \n{"a":1}\n\n{"b":2}\r\n\t{}  '), [{ a: 1 }, { b: 2 }, {}])
  t.same(split(t, ''), [])
  t.same(split(t, '  \n '), [])
})

t.test('braces, brackets, quotes and escapes inside strings do not split', async t => {
  const objects = [
    { '}': '{"', x: ['[', ']', '\\', '\\"', '"}'] },
    { nested: { deep: [{ a: [1, { b: '}}}' }] }] } },
    { unicode: 'é ✓ 😀 \u0000 \u2028', escaped: '\\\\' }
  ]
  const text = objects.map(o => JSON.stringify(o)).join('\n')
  t.same(split(t, text), objects)
})

t.test('any split of the bytes gives the same objects (multi-byte characters and escapes cut in half)', async t => {
  const objects = [
    { value: { type: 'STRING', data: 'héllo "wörld" \\ 😀' } },
    { key: { type: 'JSON', data: { '{': ['}', '\\"'] } } },
    {}
  ]
  const bytes = Buffer.from(objects.map(o => JSON.stringify(o)).join(' '))
  for (const size of [1, 2, 3, 5, 7, 13, 64]) t.same(split(t, bytes, size), objects, `pieces of ${size} bytes`)
})

t.test('random objects split at random points', async t => {
  let seed = 42
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
  const pick = <T>(items: T[]): T => items[Math.floor(random() * items.length)] as T
  const value = (depth: number): unknown => {
    const kind = depth > 3 ? Math.floor(random() * 4) : Math.floor(random() * 6)
    if (kind === 0) return Math.floor(random() * 1e6) - 5e5
    if (kind === 1) return pick(['', '{', '}', '[', ']', '"', '\\', '\\"', 'é😀', 'a b', '\n'])
    if (kind === 2) return pick([true, false, null])
    if (kind === 3) return random()
    if (kind === 4) return Array.from({ length: Math.floor(random() * 4) }, () => value(depth + 1))
    return object(depth + 1)
  }
  const object = (depth: number): Record<string, unknown> =>
    Object.fromEntries(Array.from({ length: Math.floor(random() * 4) }, (_, i) => [pick(['k', '}', '"q"', 'ü', '\\']) + i, value(depth)]))
  for (let round = 0; round < 50; round++) {
    const objects = Array.from({ length: 1 + Math.floor(random() * 10) }, () => object(0))
    const bytes = Buffer.from(objects.map(o => JSON.stringify(o) + pick(['', ' ', '\n', '\r\n', '\t '])).join(''))
    const stream = new JsonObjectStream({ maxObjectBytes: LIMIT })
    const out: object[] = []
    for (let i = 0; i < bytes.length;) {
      const size = 1 + Math.floor(random() * 40)
      stream.push(bytes.subarray(i, i + size))
      i += size
      for (let v = stream.next(); v !== undefined; v = stream.next()) out.push(v)
    }
    stream.end()
    t.equal(stream.next(), undefined)
    t.same(out, objects, `round ${round}`)
  }
})

t.test('objects are returned one at a time, as soon as they are complete', async t => {
  const stream = new JsonObjectStream({ maxObjectBytes: LIMIT })
  stream.push(Buffer.from('{"a":1}{"b":2}{"c"'))
  t.same(stream.next(), { a: 1 })
  t.equal(stream.count, 1)
  t.same(stream.next(), { b: 2 })
  t.equal(stream.next(), undefined, 'the third is not complete')
  t.ok(stream.pending, 'an object has begun')
  stream.push(Buffer.from(':3}'))
  t.same(stream.next(), { c: 3 })
  t.notOk(stream.pending)
  stream.push(Buffer.from('\n  '))
  t.equal(stream.next(), undefined)
  t.notOk(stream.pending, 'whitespace is not the start of anything')
  stream.push(Buffer.from(' {'))
  t.ok(stream.pending, 'the first byte of the next object counts')
  t.notOk(stream.done)
})

t.test('something other than an object fails where it starts, and the failure sticks', async t => {
  for (const [text, offset] of [['[1]', 0], ['{"a":1} 2', 8], ['{"a":1}\n"s"', 8], ['nul', 0], ['{"a":1}}', 7]] as const) {
    const stream = new JsonObjectStream({ maxObjectBytes: LIMIT })
    stream.push(Buffer.from(text))
    const values: object[] = []
    const err = failure(() => { for (let v = stream.next(); v !== undefined; v = stream.next()) values.push(v) })
    t.equal(err.reason, 'malformed', text)
    t.equal(err.offset, offset, `${text}: offset`)
    t.match(err.message, `byte ${offset}`)
    t.same(failure(() => stream.next()), err, 'the same error again')
  }
})

t.test('an object that is not valid JSON inside fails at its start', async t => {
  for (const text of ['{"a":}', '{"a":1,}', '{]', '{"a" 1}', "{'a':1}", '{"a":tru}']) {
    const stream = new JsonObjectStream({ maxObjectBytes: LIMIT })
    stream.push(Buffer.from(`{"ok":true}\n${text}`))
    t.same(stream.next(), { ok: true })
    const err = failure(() => stream.next())
    t.equal(err.reason, 'malformed', text)
    t.equal(err.offset, 12)
    t.match(err.message, /not valid JSON/)
  }
})

t.test('the stream may not end inside an object', async t => {
  const stream = new JsonObjectStream({ maxObjectBytes: LIMIT })
  stream.push(Buffer.from('{"a":1} {"b":'))
  t.same(stream.next(), { a: 1 })
  t.equal(stream.next(), undefined)
  stream.end()
  const err = failure(() => stream.next())
  t.equal(err.reason, 'malformed')
  t.equal(err.offset, 8)
  t.match(err.message, /ends inside/)
  t.notOk(stream.done)
})

t.test('objects are bounded by maxObjectBytes, the stream is not', async t => {
  const object = JSON.stringify({ data: 'x'.repeat(40) })
  const size = Buffer.byteLength(object)
  t.same(split(t, `${object}\n`.repeat(1000), 100, size).length, 1000, 'many objects of exactly the limit')

  const stream = new JsonObjectStream({ maxObjectBytes: size - 1 })
  stream.push(Buffer.from(`{"a":1}  ${object}`))
  t.same(stream.next(), { a: 1 })
  const err = failure(() => stream.next())
  t.equal(err.reason, 'too-large')
  t.equal(err.offset, 9)
  t.match(err.message, `larger than ${size - 1} bytes`)
})

t.test('an object too large fails before it is complete', async t => {
  const stream = new JsonObjectStream({ maxObjectBytes: 100 })
  stream.push(Buffer.from('{"data":"'))
  for (let i = 0; i < 9; i++) {
    stream.push(Buffer.from('x'.repeat(10)))
    t.equal(stream.next(), undefined)
  }
  stream.push(Buffer.from('x'.repeat(10)))
  const err = failure(() => stream.next())
  t.equal(err.reason, 'too-large', 'fails at byte 101 without waiting for the closing brace')
  t.equal(err.offset, 0)
})

t.test('NDJSON: whole lines and lines cut by chunk boundaries give the same objects as the scanner', async t => {
  // ASCII lines, lines with other characters, and both in one chunk.
  for (const mark of ['', ' ✓', '\u00ff']) {
    const objects = Array.from({ length: 200 }, (_, i) => ({ i, value: { type: 'STRING', data: `r${i}${i % 7 === 3 ? mark : ''} "q" }{ \\` } }))
    const ndjson = objects.map(o => JSON.stringify(o)).join('\n') + '\n'
    for (const size of [Infinity, 4096, 1000, 137, 64, 7]) t.same(split(t, ndjson, size), objects, `${JSON.stringify(mark)}: pieces of ${size} bytes`)
  }
  // Bytes that are not UTF-8 decode as U+FFFD, whichever path reads them.
  const invalid = Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xff]), Buffer.from('"}\n{"b":"'), Buffer.from([0xe2, 0x82]), Buffer.from('"}\n{"c":1}\n')])
  for (const size of [Infinity, 1, 4]) t.same(split(t, invalid, size), [{ a: '\ufffd' }, { b: '\ufffd' }, { c: 1 }], `invalid UTF-8, pieces of ${size} bytes`)
  // Lines the fast path leaves to the scanner: blank lines, CRLF, several objects or a pretty-printed one, nested lines.
  const mixed = '\n{"a":1}\r\n\r\n  {"b":2}  \n{"c":3}{"d":4}\n{\n  "e": [\n    5\n  ]\n}\n{"f":{"g":6}}\n{"h":7}'
  const expected = [{ a: 1 }, { b: 2 }, { c: 3 }, { d: 4 }, { e: [5] }, { f: { g: 6 } }, { h: 7 }]
  for (const size of [Infinity, 1, 2, 3, 5, 11]) t.same(split(t, mixed, size), expected, `mixed, pieces of ${size} bytes`)
})

t.test('NDJSON: a bad line fails where its bad object starts, whole or in pieces', async t => {
  for (const [text, offset] of [['{"a":1}\n{"b":}\n{"c":3}\n', 8], ['{"a":1}\n{"b":2} x\n', 16], ['{"a":1}\n[1]\n', 8], ['{"a":1}\n{"b":2}}\n', 15]] as const) {
    for (const size of [Infinity, 3]) {
      const stream = new JsonObjectStream({ maxObjectBytes: LIMIT })
      const bytes = Buffer.from(text)
      const values: object[] = []
      const err = failure(() => {
        for (let i = 0; i < bytes.length; i += size === Infinity ? bytes.length : size) {
          stream.push(bytes.subarray(i, size === Infinity ? bytes.length : i + size))
          for (let v = stream.next(); v !== undefined; v = stream.next()) values.push(v)
        }
      })
      t.equal(err.reason, 'malformed', `${JSON.stringify(text)} in pieces of ${size}`)
      t.equal(err.offset, offset, `${JSON.stringify(text)}: offset`)
      t.same(values[0], { a: 1 }, 'the objects before it are returned')
    }
  }
})

t.test('NDJSON: the limit bounds the object, not its line', async t => {
  const object = JSON.stringify({ data: 'x'.repeat(40) })
  const size = Buffer.byteLength(object)
  t.same(split(t, `    ${object}    \n`.repeat(3), Infinity, size).length, 3, 'a line longer than the limit around an object of the limit')
  const stream = new JsonObjectStream({ maxObjectBytes: size - 1 })
  stream.push(Buffer.from(`{"a":1}\n${object}\n`))
  t.same(stream.next(), { a: 1 })
  const err = failure(() => stream.next())
  t.equal(err.reason, 'too-large')
  t.equal(err.offset, 8)
})
