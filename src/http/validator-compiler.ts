import { Ajv, type AnySchema, type ValidateFunction } from 'ajv'
import type { FastifyServerOptions } from 'fastify'

type ValidatorFactory = NonNullable<NonNullable<NonNullable<FastifyServerOptions['schemaController']>['compilersFactory']>['buildValidator']>

interface RouteSchemaDef {
  schema: AnySchema & { $id?: string }
  httpPart?: string
}

/**
 * Fastify's default ajv coerces types and strips unknown properties everywhere.
 * Request bodies are strict instead: no coercion and no stripping, so a wrong
 * type or an unknown field is an error. Querystrings, params and headers are
 * strings on the wire and keep Fastify's coercion and stripping.
 */
export const buildValidator = ((externalSchemas: Record<string, AnySchema>) => {
  const shared = { useDefaults: true, allErrors: false } as const
  const body = withSchemas(new Ajv({ ...shared, coerceTypes: false, removeAdditional: false }), externalSchemas)
  const other = withSchemas(new Ajv({ ...shared, coerceTypes: 'array', removeAdditional: true }), externalSchemas)
  return ({ schema, httpPart }: RouteSchemaDef): ValidateFunction => {
    const ajv = httpPart === 'body' ? body : other
    // ajv refuses to compile the same $id twice: reuse the compiled one.
    const known = schema.$id === undefined ? undefined : ajv.getSchema(schema.$id)
    return known ?? ajv.compile(schema)
  }
}) as unknown as ValidatorFactory

function withSchemas (ajv: Ajv, schemas: Record<string, AnySchema>): Ajv {
  for (const schema of Object.values(schemas)) ajv.addSchema(schema)
  return ajv
}
