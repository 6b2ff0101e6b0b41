import { SerializerSelector } from '@fastify/fast-json-stringify-compiler'
import { Ajv, type AnySchema, type ValidateFunction } from 'ajv'
import type { FastifyServerOptions } from 'fastify'

type CompilersFactory = NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>
type ValidatorFactory = NonNullable<CompilersFactory['buildValidator']>
type SerializerFactory = NonNullable<CompilersFactory['buildSerializer']>
type Serializer = (data: unknown) => string

interface RouteSchemaDef {
  schema: AnySchema & { $id?: string }
  httpPart?: string
}

/**
 * Compiled code depends only on the schema and the shared schemas it may
 * refer to, so both compilers keep what they compiled for the life of the
 * process, keyed by that text: a second app built in the same process (tests
 * build hundreds) reuses it instead of spending a second compiling ajv and
 * fast-json-stringify code for every route again. One app compiles exactly
 * what it did before.
 */
class CompiledCache<T> {
  readonly #byContext = new Map<string, Map<string, T>>()

  /** The entries compiled under one set of shared schemas and options. */
  context (...parts: unknown[]): Map<string, T> {
    const key = JSON.stringify(parts)
    let entries = this.#byContext.get(key)
    if (entries === undefined) {
      entries = new Map()
      this.#byContext.set(key, entries)
    }
    return entries
  }
}

const validators = new CompiledCache<{ body: Ajv, other: Ajv, compiled: Map<string, ValidateFunction> }>()
const serializers = new CompiledCache<Serializer>()

/**
 * Fastify's default ajv coerces types and strips unknown properties everywhere.
 * Request bodies are strict instead: no coercion and no stripping, so a wrong
 * type or an unknown field is an error. Querystrings, params and headers are
 * strings on the wire and keep Fastify's coercion and stripping.
 */
export const buildValidator = ((externalSchemas: Record<string, AnySchema>) => {
  const entries = validators.context(externalSchemas)
  let state = entries.get('')
  if (state === undefined) {
    const shared = { useDefaults: true, allErrors: false } as const
    state = {
      body: withSchemas(new Ajv({ ...shared, coerceTypes: false, removeAdditional: false }), externalSchemas),
      other: withSchemas(new Ajv({ ...shared, coerceTypes: 'array', removeAdditional: true }), externalSchemas),
      compiled: new Map()
    }
    entries.set('', state)
  }
  const { body, other, compiled } = state
  return ({ schema, httpPart }: RouteSchemaDef): ValidateFunction => {
    const isBody = httpPart === 'body'
    const key = `${isBody ? 'body' : 'other'} ${JSON.stringify(schema)}`
    let validate = compiled.get(key)
    if (validate === undefined) {
      const ajv = isBody ? body : other
      // ajv refuses to compile the same $id twice: reuse the compiled one.
      const known = schema.$id === undefined ? undefined : ajv.getSchema(schema.$id)
      validate = known ?? ajv.compile(schema)
      compiled.set(key, validate)
    }
    return validate
  }
}) as unknown as ValidatorFactory

/** Fastify's own response serializer compiler (fast-json-stringify), with compiled serializers kept as above. */
export const buildSerializer = ((externalSchemas: Record<string, AnySchema> | undefined, serializerOpts: unknown) => {
  const compiled = serializers.context(externalSchemas ?? null, serializerOpts ?? null)
  const compile = SerializerSelector()(externalSchemas, serializerOpts as never) as (def: { schema: AnySchema }) => Serializer
  return (def: { schema: AnySchema }): Serializer => {
    const key = JSON.stringify(def.schema)
    let serialize = compiled.get(key)
    if (serialize === undefined) {
      serialize = compile(def)
      compiled.set(key, serialize)
    }
    return serialize
  }
}) as unknown as SerializerFactory

function withSchemas (ajv: Ajv, schemas: Record<string, AnySchema>): Ajv {
  for (const schema of Object.values(schemas)) ajv.addSchema(schema)
  return ajv
}
