import './route-docs.js'
import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsync } from 'fastify'
import { parse } from 'yaml'
import { LogwayError } from '../errors.js'

/** The committed, generated spec (`npm run openapi` writes it). */
export const OPENAPI_FILE = new URL('../../openapi.yaml', import.meta.url)

/** What GET /openapi.yaml (and GET /asyncapi.yaml) can label the document with, preferred first. */
export const YAML_TYPES = ['application/yaml', 'text/yaml', 'text/plain'] as const

/**
 * GET /openapi.yaml serves the committed spec as it is; GET /openapi.json
 * serves the same document as JSON, parsed on its first request. A missing file
 * (only while generating it for the first time) makes both answer 500.
 */
export const openapiRoutes: FastifyPluginAsync = async (app) => {
  let yamlText: string | undefined
  let jsonText: string | undefined
  try {
    yamlText = await readFile(OPENAPI_FILE, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    app.log.warn('openapi.yaml is missing: run npm run openapi')
  }
  const missing = (): never => { throw new LogwayError('UNKNOWN_SERVER_ERROR', 'openapi.yaml is missing from this installation.') }

  app.get('/openapi.yaml', {
    config: { produces: YAML_TYPES },
    schema: {
      summary: 'This OpenAPI document, as YAML',
      description: 'The Accept header picks the media type the same text is labelled with.',
      operationId: 'getOpenapiYaml',
      tags: ['openapi'],
      response: {
        200: { description: 'OpenAPI 3.1 document', content: Object.fromEntries(YAML_TYPES.map(type => [type, { schema: { type: 'string' } }])) }
      }
    }
  }, async (request, reply) => {
    if (yamlText === undefined) return missing()
    return reply.type(`${request.responseType}; charset=utf-8`).send(yamlText)
  })

  app.get('/openapi.json', {
    schema: {
      summary: 'This OpenAPI document, as JSON',
      operationId: 'getOpenapiJson',
      tags: ['openapi'],
      response: {
        200: { description: 'OpenAPI 3.1 document', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } }
      }
    }
  }, async (_request, reply) => {
    if (yamlText === undefined) return missing()
    // Parsed on first use: parsing the YAML costs about a second of CPU, which every server start (and each test app) would otherwise pay.
    jsonText ??= JSON.stringify(parse(yamlText))
    return reply.type('application/json; charset=utf-8').send(jsonText)
  })
}
