import { readFileSync } from 'node:fs'
import { parse } from 'yaml'

/** A JSON Schema as openapi.yaml holds it (refs are `#/components/schemas/<Name>`). */
export type Schema = Record<string, unknown>

export interface Parameter {
  name: string
  in: 'path' | 'query' | 'header'
  required: boolean
  schema: Schema
}

/** One operation of openapi.yaml: a method on a path, with what it reads. */
export interface Operation {
  operationId: string
  method: string
  /** The path template, e.g. /topics/{topic_name}. */
  path: string
  parameters: Parameter[]
  /** The request body's media types, each with its schema; empty when the operation reads no body. */
  bodies: Array<{ contentType: string, schema: Schema }>
  bodyRequired: boolean
  /** The media types the operation answers 2xx with. */
  produces: string[]
}

interface OpenApiDocument {
  paths: Record<string, Record<string, {
    operationId: string
    parameters?: Array<{ name: string, in: string, required?: boolean, schema?: Schema }>
    requestBody?: { required?: boolean, content: Record<string, { schema: Schema }> }
    responses: Record<string, { content?: Record<string, unknown> }>
  }>>
  components: { schemas: Record<string, Schema> }
}

/** The committed openapi.yaml: every route the server documents, and the component schemas. */
export function loadOpenApi (): { operations: Operation[], components: Record<string, Schema> } {
  const doc = parse(readFileSync(new URL('../../openapi.yaml', import.meta.url), 'utf8')) as OpenApiDocument
  const operations: Operation[] = []
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(item)) {
      const content = op.requestBody?.content ?? {}
      operations.push({
        operationId: op.operationId,
        method: method.toUpperCase(),
        path,
        parameters: (op.parameters ?? []).map(p => ({ name: p.name, in: p.in as Parameter['in'], required: p.required === true, schema: p.schema ?? {} })),
        bodies: Object.entries(content).map(([contentType, { schema }]) => ({ contentType, schema })),
        bodyRequired: op.requestBody?.required === true,
        produces: [...new Set(Object.entries(op.responses).filter(([status]) => status.startsWith('2')).flatMap(([, r]) => Object.keys(r.content ?? {})))]
      })
    }
  }
  return { operations, components: doc.components.schemas }
}
