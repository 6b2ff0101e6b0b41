import fc from 'fast-check'
import { hostileValue } from './hostile-values.js'
import type { Schema } from './openapi-operations.js'

/**
 * Values for one property, where the schema alone would rarely hit anything
 * that exists (a topic name, a config name): `owner` is the component the
 * property belongs to, `property` its name (`topics[]` for an array's items,
 * '' for the component itself). Undefined: generate from the schema.
 */
export type Hints = (owner: string, property: string) => fc.Arbitrary<unknown> | undefined

/**
 * Arbitraries for values valid against the JSON Schemas of openapi.yaml (the
 * subset it uses: $ref, const, enum, type lists, properties/required,
 * anyOf/oneOf, items, bounds, patterns), steered by hints towards existing
 * fixtures, and mutations of such values.
 */
export class SchemaValues {
  readonly #components: Record<string, Schema>
  readonly #hints: Hints
  readonly #byRef = new Map<string, fc.Arbitrary<unknown>>()

  constructor (components: Record<string, Schema>, hints: Hints) {
    this.#components = components
    this.#hints = hints
  }

  /** A value valid against `schema` (as far as the schema says: hints may reach for values the server refuses). */
  valid (schema: Schema, owner = '', property?: string): fc.Arbitrary<unknown> {
    const hinted = property === undefined ? undefined : this.#hints(owner, property)
    if (hinted !== undefined) return hinted
    if (typeof schema.$ref === 'string') return this.#ref(schema.$ref)
    if ('const' in schema) return fc.constant(schema.const)
    if (Array.isArray(schema.enum)) return fc.constantFrom(...schema.enum as unknown[])
    const branches = (schema.anyOf ?? schema.oneOf) as Schema[] | undefined
    if (branches !== undefined && !branches.every(onlyRequired)) {
      const { anyOf: _anyOf, oneOf: _oneOf, ...rest } = schema
      return fc.oneof(...branches.map(branch => this.valid({ ...rest, ...branch }, owner)))
    }
    const types = Array.isArray(schema.type) ? schema.type as string[] : typeof schema.type === 'string' ? [schema.type] : []
    if (types.length > 1) return fc.oneof(...types.map(type => this.valid({ ...schema, type }, owner)))
    switch (types[0]) {
      case 'object': return this.#object(schema, owner)
      case 'array': return this.#array(schema, owner, property)
      case 'string': return string(schema)
      case 'integer': return integer(schema)
      case 'number': return fc.double({ noNaN: true, noDefaultInfinity: true, min: num(schema.minimum), max: num(schema.maximum) })
      case 'boolean': return fc.boolean()
      case 'null': return fc.constant(null)
      default: return schema.properties === undefined ? fc.jsonValue({ maxDepth: 2 }) : this.#object(schema, owner)
    }
  }

  #ref (ref: string): fc.Arbitrary<unknown> {
    const name = ref.slice(ref.lastIndexOf('/') + 1).replace(/#$/, '')
    let arbitrary = this.#byRef.get(name)
    if (arbitrary === undefined) {
      const schema = this.#components[name]
      if (schema === undefined) throw new Error(`openapi.yaml has no component ${name}`)
      arbitrary = this.#hints(name, '') ?? this.valid(schema, name)
      this.#byRef.set(name, arbitrary)
    }
    return arbitrary
  }

  #object (schema: Schema, owner: string): fc.Arbitrary<unknown> {
    const properties = (schema.properties ?? {}) as Record<string, Schema>
    const required = (schema.required ?? []) as string[]
    const record = (forced: readonly string[], excluded: readonly string[]): fc.Arbitrary<unknown> => {
      const model: Record<string, fc.Arbitrary<unknown>> = {}
      for (const [name, property] of Object.entries(properties)) {
        if (!excluded.includes(name)) model[name] = this.valid(property, owner, name)
      }
      return fc.record(model, { requiredKeys: [...new Set([...required, ...forced])].filter(name => name in model) })
    }
    // V2 consumer bodies say "one of these fields is required" with branches that hold only `required`.
    const oneOf = schema.oneOf as Schema[] | undefined
    const anyOf = schema.anyOf as Schema[] | undefined
    const branches = oneOf ?? anyOf
    if (branches === undefined) return record([], [])
    const named = branches.map(b => b.required as string[])
    return fc.constantFrom(...named).chain(forced => record(forced, oneOf === undefined ? [] : named.flat().filter(n => !forced.includes(n))))
  }

  #array (schema: Schema, owner: string, property: string | undefined): fc.Arbitrary<unknown> {
    const items = this.valid((schema.items ?? {}) as Schema, owner, property === undefined ? undefined : `${property}[]`)
    const minLength = typeof schema.minItems === 'number' ? schema.minItems : 0
    const maxLength = Math.min(typeof schema.maxItems === 'number' ? schema.maxItems : Infinity, minLength + 3)
    return schema.uniqueItems === true
      ? fc.uniqueArray(items, { minLength, maxLength, selector: v => JSON.stringify(v) })
      : fc.array(items, { minLength, maxLength })
  }

  /**
   * A hostile change to make somewhere inside a value (see `applyChange`): a
   * value replaced by one of another type, a boundary number, odd unicode, a
   * huge array or a deeply nested object; a property removed or an unknown
   * one added; a value turned into its JSON text or wrapped in an array.
   */
  static change (): fc.Arbitrary<ValueChange> {
    return fc.record({
      at: fc.nat(),
      kind: fc.constantFrom<ValueChange['kind']>('replace', 'replace', 'replace', 'remove', 'add', 'stringify', 'wrap'),
      hostile: hostileValue()
    })
  }
}

/** One change to a value: where (an index into its nodes, modulo their count), what, and the hostile value it brings. */
export interface ValueChange {
  at: number
  kind: 'replace' | 'remove' | 'add' | 'stringify' | 'wrap'
  hostile: unknown
}

/** `value` with `change` made; `where` names the node changed. */
export function applyChange (value: unknown, change: ValueChange): { value: unknown, where: string } {
  const paths = pathsOf(value)
  const path = paths[change.at % paths.length] as Path
  return { value: changeAt(value, path, change.kind, change.hostile), where: `${change.kind} at /${path.join('/')}` }
}

type Path = Array<string | number>

function onlyRequired (branch: Schema): boolean {
  return Object.keys(branch).every(key => key === 'required')
}

function num (value: unknown): number | undefined {
  return typeof value === 'number' ? value : undefined
}

function string (schema: Schema): fc.Arbitrary<string> {
  const minLength = num(schema.minLength) ?? 0
  const maxLength = num(schema.maxLength) ?? 40
  if (typeof schema.pattern === 'string') {
    return fc.stringMatching(new RegExp(schema.pattern)).filter(s => s.length >= minLength && s.length <= maxLength)
  }
  return fc.string({ minLength, maxLength: Math.min(maxLength, minLength + 20) })
}

function integer (schema: Schema): fc.Arbitrary<number> {
  const min = num(schema.minimum) ?? -(2 ** 31)
  const max = num(schema.maximum) ?? 2 ** 31 - 1
  // Small values reach the interesting cases (existing partitions, offsets in the log) far more often.
  const small = fc.integer({ min: Math.max(min, Math.min(0, max)), max: Math.min(max, Math.max(min, 0) + 10) })
  return fc.oneof({ weight: 3, arbitrary: small }, { weight: 1, arbitrary: fc.integer({ min, max }) })
}

function pathsOf (value: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  out.push(prefix)
  if (out.length > 200) return out
  if (Array.isArray(value)) value.slice(0, 20).forEach((item, i) => pathsOf(item, [...prefix, i], out))
  else if (isObject(value)) for (const [key, item] of Object.entries(value)) pathsOf(item, [...prefix, key], out)
  return out
}

function changeAt (value: unknown, path: Path, kind: string, hostile: unknown): unknown {
  if (path.length === 0) {
    switch (kind) {
      case 'remove': return undefined
      case 'add': return isObject(value) ? { ...value, unknown_field: hostile } : Array.isArray(value) ? [...value, hostile] : hostile
      case 'stringify': return JSON.stringify(value) ?? ''
      case 'wrap': return [value]
      default: return hostile
    }
  }
  const [head, ...rest] = path as [string | number, ...Path]
  if (Array.isArray(value)) {
    const copy = [...value]
    const changed = changeAt(copy[head as number], rest, kind, hostile)
    if (changed === undefined) copy.splice(head as number, 1)
    else copy[head as number] = changed
    return copy
  }
  if (isObject(value)) {
    const copy: Record<string, unknown> = { ...value }
    const changed = changeAt(copy[head], rest, kind, hostile)
    if (changed === undefined) delete copy[head]
    else copy[head] = changed
    return copy
  }
  return value
}

function isObject (value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}
