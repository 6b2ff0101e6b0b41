import fc from 'fast-check'
import { CLIENT_FRAME_SCHEMAS, loadWsSchemas } from '../../src/ws/ws-schemas.js'
import { SIMPLE_GROUP } from './http-fixtures.js'
import { fieldHints, mostlyExisting } from './http-requests.js'
import { loadOpenApi, type Schema } from './openapi-operations.js'
import { applyChange, SchemaValues, type Hints } from './schema-values.js'

/** One client frame, as fast-check generates, shrinks and prints it. */
export interface FrameModel {
  /** The frame type it was made from (`raw` for bytes made from none). */
  type: string
  /** `valid`, or how it was made hostile. */
  kind: string
  data: string | Buffer
  binary: boolean
  /** The id the server can read from it (a string of 1 to 256 characters), if any. */
  id?: string
  /** The server cannot read it at all (not JSON, not an object, no known type, binary, no id): it must answer an error frame. */
  unreadable: boolean
  /** Larger than the server's frame limit: the server closes with 1009. */
  oversized: boolean
}

/** Ids of subscriptions and memberships: few, so that credit, seek, commit and the others often name one that exists. */
const OPERATION_IDS = ['s1', 's2', 'g1', 'g2', 'nope']

const wsHints: Hints = (owner, property) => {
  switch (property) {
    case 'id': return owner === 'WsProduce' || owner === 'WsPing' ? fc.nat({ max: 999_999 }).map(n => `${owner === 'WsPing' ? 'ping' : 'p'}${n}`) : fc.constantFrom(...OPERATION_IDS)
    case 'group': return mostlyExisting({ existing: ['ws-group', SIMPLE_GROUP], other: ['ws-other'] })
    // Auto-commits run in the background (on rebalances and on the clock) and would blur which frame changed what.
    case 'auto_commit': return fc.constant(false)
    case 'messages': return fc.integer({ min: 0, max: 50 })
    case 'bytes': return fc.integer({ min: 0, max: 100_000 })
    case 'session_timeout_ms': return fc.constantFrom(6_000, 45_000)
    case 'from': return fc.oneof(
      fc.constantFrom('earliest', 'latest'),
      fc.record({ offset: fc.constantFrom(0, 1, 2, 50) }),
      fc.record({ timestamp: fc.constantFrom(0, Date.UTC(2026, 0, 1), 2 ** 53 - 1) })
    )
  }
  return fieldHints(owner, property)
}

/** The frame with `auto_commit: true` turned off (see wsHints). */
function withoutAutoCommit (frame: unknown): unknown {
  const fields = frame as { auto_commit?: unknown } | null
  return typeof fields === 'object' && fields?.auto_commit === true ? { ...fields, auto_commit: false } : frame
}

/**
 * Client frames of every type of CLIENT_FRAME_SCHEMAS, valid (from the
 * frame's schema) or mutated, and raw frames no schema describes: bad JSON,
 * binary, JSON that is not an object, an unknown or missing type, a missing
 * id, huge strings below the frame limit, and now and then one above it.
 */
export function frameArbitrary (maxFrameBytes: number): fc.Arbitrary<FrameModel> {
  const components: Record<string, Schema> = { ...loadOpenApi().components }
  for (const schema of loadWsSchemas()) components[schema.$id] = schema
  const values = new SchemaValues(components, wsHints)
  const types = Object.entries(CLIENT_FRAME_SCHEMAS)
  const valid = fc.oneof(...types.map(([type, name]) => values.valid({ $ref: name }).map(frame => ({ type, frame: frame as Record<string, unknown> }))))

  const asText = (type: string, kind: string, frame: unknown): FrameModel => {
    const data = JSON.stringify(frame) ?? ''
    const id = (frame as { id?: unknown } | null)?.id
    return {
      type,
      kind,
      data,
      binary: false,
      ...(typeof id === 'string' && id.length > 0 && id.length <= 256 ? { id } : {}),
      unreadable: false,
      oversized: Buffer.byteLength(data) > maxFrameBytes
    }
  }
  const raw = (kind: string, data: string | Buffer, binary = false): FrameModel =>
    ({ type: 'raw', kind, data, binary, unreadable: true, oversized: Buffer.byteLength(data) > maxFrameBytes })

  return fc.oneof(
    { weight: 3, arbitrary: valid.map(({ type, frame }) => asText(type, 'valid', frame)) },
    {
      weight: 5,
      arbitrary: fc.tuple(valid, SchemaValues.change()).map(([{ type, frame }, change]) => {
        const { value, where } = applyChange(frame, change)
        return asText(type, `mutated: ${where}`, withoutAutoCommit(value))
      })
    },
    {
      weight: 1,
      arbitrary: valid.map(({ type, frame }) => {
        const { id: _id, ...rest } = frame
        return { ...asText(type, 'no id', rest), unreadable: type !== 'ping' }
      })
    },
    // The server reads no id from a binary frame.
    { weight: 1, arbitrary: valid.map(({ type, frame }) => ({ ...asText(type, 'binary', frame), id: undefined, binary: true, unreadable: true })) },
    {
      weight: 1,
      arbitrary: fc.constantFrom('', '{', 'nope', '{"type":"produce"', '{"type":"ping",}', "{'type':'ping'}", '\u0000', '\ud800', 'NaN', '{"type":"ping"}garbage')
        .map(text => raw(`not JSON: ${JSON.stringify(text)}`, text))
    },
    { weight: 1, arbitrary: fc.constantFrom('[]', '1', 'null', 'true', '"ping"', '[{"type":"ping"}]').map(text => raw(`not an object: ${text}`, text)) },
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom<unknown>('explode', 'PING', '', ' ping', '__proto__', 'constructor', 1, null, ['ping'], { type: 'ping' }), fc.constantFrom(...OPERATION_IDS))
        .map(([type, id]) => ({ ...raw(`type ${JSON.stringify(type)}`, JSON.stringify({ type, id })), id }))
    },
    // Huge strings, below the frame limit (and now and then above it: the server closes with 1009).
    {
      weight: 1,
      arbitrary: fc.tuple(fc.constantFrom('id', 'topic', 'value'), fc.integer({ min: maxFrameBytes - 200, max: maxFrameBytes + 100 })).map(([field, size]) => {
        const huge = 'x'.repeat(Math.max(0, size - 120))
        const frame = field === 'value'
          ? { type: 'produce', id: 'huge', topic: 'fz-orders', records: [{ value: { type: 'STRING', data: huge } }] }
          : { type: 'produce', id: field === 'id' ? huge : 'huge', topic: field === 'topic' ? huge : 'fz-orders', records: [{}] }
        return asText('produce', `huge ${field} (${size} bytes)`, frame)
      })
    }
  )
}
