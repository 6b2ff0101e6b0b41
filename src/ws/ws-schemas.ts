import { readdirSync, readFileSync } from 'node:fs'
import { Ajv, type ErrorObject, type ValidateFunction } from 'ajv'
import type { ClientFrame, ClientFrameType } from './ws-frames.js'

/** schemas/ws/ of the package (next to src/ and dist/): one JSON Schema per WebSocket frame. */
export const WS_SCHEMAS_DIR = new URL('../../schemas/ws/', import.meta.url)
/** schemas/, for the shared schemas the frames refer to (RecordData). */
const SHARED_SCHEMAS_DIR = new URL('../../schemas/', import.meta.url)

export interface WsSchema {
  $id: string
  [keyword: string]: unknown
}

/**
 * Every schema of schemas/ws/, sorted by file name. Each file holds one
 * schema whose `$id` is its file name without `.json`; a file that breaks
 * the rule throws here, at startup.
 */
export function loadWsSchemas (): WsSchema[] {
  return readdirSync(WS_SCHEMAS_DIR)
    .filter(name => name.endsWith('.json'))
    .sort()
    .map(name => {
      const schema = JSON.parse(readFileSync(new URL(name, WS_SCHEMAS_DIR), 'utf8')) as Partial<WsSchema>
      const expected = name.slice(0, -'.json'.length)
      if (schema.$id !== expected) throw new Error(`schemas/ws/${name} must have "$id": "${expected}" (found ${JSON.stringify(schema.$id)})`)
      return schema as WsSchema
    })
}

/** The schema of each client frame type. */
export const CLIENT_FRAME_SCHEMAS: Readonly<Record<ClientFrameType, string>> = {
  produce: 'WsProduce',
  subscribe: 'WsSubscribe',
  join: 'WsJoin',
  credit: 'WsCredit',
  commit: 'WsCommit',
  seek: 'WsSeek',
  leave: 'WsLeave',
  unsubscribe: 'WsUnsubscribe',
  probe: 'WsProbe',
  ping: 'WsPing'
}

/**
 * An ajv instance holding the frame schemas and the shared ones they refer
 * to. Strict like request bodies: no coercion, no defaults, no stripping.
 */
export function wsAjv (): Ajv {
  const ajv = new Ajv({ allErrors: false, coerceTypes: false, useDefaults: false, removeAdditional: false })
  ajv.addSchema(JSON.parse(readFileSync(new URL('RecordData.json', SHARED_SCHEMAS_DIR), 'utf8')) as object)
  for (const schema of loadWsSchemas()) ajv.addSchema(schema)
  return ajv
}

/** A client frame as read: the frame, or why it cannot be used (with its id when the frame had a readable one). */
export type ReadFrame =
  | { ok: true, frame: ClientFrame }
  | { ok: false, id?: string, message: string }

let shared: FrameReader | undefined

/** One FrameReader for the process: compiling the frame schemas takes a while, and they never change. */
export function sharedFrameReader (): FrameReader {
  shared ??= new FrameReader()
  return shared
}

/** Reads client text frames: JSON, a known `type`, valid against that type's schema. */
export class FrameReader {
  readonly #validators: ReadonlyMap<string, ValidateFunction>

  constructor (ajv: Ajv = wsAjv()) {
    this.#validators = new Map(Object.entries(CLIENT_FRAME_SCHEMAS).map(([type, id]) => [type, ajv.getSchema(id) as ValidateFunction]))
  }

  read (text: string): ReadFrame {
    let parsed: unknown
    try {
      parsed = JSON.parse(text)
    } catch (err) {
      return { ok: false, message: `The frame is not valid JSON: ${(err as Error).message}` }
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      return { ok: false, message: 'A frame is a JSON object with a string "type".' }
    }
    const { type, id } = parsed as { type?: unknown, id?: unknown }
    const readId = typeof id === 'string' && id.length > 0 && id.length <= 256 ? { id } : {}
    if (typeof type !== 'string') return { ...readId, ok: false, message: 'A frame is a JSON object with a string "type".' }
    const validate = this.#validators.get(type)
    if (validate === undefined) {
      return { ...readId, ok: false, message: `Unknown frame type ${JSON.stringify(type).slice(0, 100)}: the client sends ${Object.keys(CLIENT_FRAME_SCHEMAS).join(', ')}.` }
    }
    if (!validate(parsed)) return { ...readId, ok: false, message: `Invalid ${type} frame: ${describe(validate.errors?.[0])}.` }
    return { ok: true, frame: parsed as ClientFrame }
  }
}

/** One ajv error in words, naming the field. */
function describe (error: ErrorObject | undefined): string {
  if (error === undefined) return 'it does not match its schema'
  const at = error.instancePath === '' ? 'the frame' : error.instancePath.slice(1).replace(/\//g, '.')
  const params = error.params as { additionalProperty?: string, missingProperty?: string }
  if (error.keyword === 'additionalProperties') return `${at} has an unknown field ${JSON.stringify(params.additionalProperty)}`
  if (error.keyword === 'required') return `${at} lacks the field ${JSON.stringify(params.missingProperty)}`
  return `${at} ${error.message ?? 'is not valid'}`
}
