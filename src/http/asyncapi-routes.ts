import './route-docs.js'
import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsync } from 'fastify'
import { parse } from 'yaml'
import { LogwayError } from '../errors.js'
import { YAML_TYPES } from './openapi-routes.js'

/** The committed, generated AsyncAPI document of the WebSocket and SSE messages (`npm run asyncapi` writes it). */
export const ASYNCAPI_FILE = new URL('../../asyncapi.yaml', import.meta.url)

/**
 * GET /asyncapi.yaml serves the committed AsyncAPI document as it is; GET
 * /asyncapi.json the same document as JSON, parsed on its first request. A
 * missing file (only while generating it for the first time) makes both
 * answer 500.
 */
export const asyncapiRoutes: FastifyPluginAsync = async (app) => {
  let yamlText: string | undefined
  let jsonText: string | undefined
  try {
    yamlText = await readFile(ASYNCAPI_FILE, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    app.log.warn('asyncapi.yaml is missing: run npm run asyncapi')
  }
  const missing = (): never => { throw new LogwayError('UNKNOWN_SERVER_ERROR', 'asyncapi.yaml is missing from this installation.') }

  app.get('/asyncapi.yaml', {
    config: { produces: YAML_TYPES },
    schema: {
      summary: 'The AsyncAPI document of the WebSocket and SSE messages, as YAML',
      description: 'An AsyncAPI 3.0 document generated from the frame schemas (schemas/ws/) and the SSE event schemas. The Accept header picks the media type the same text is labelled with.',
      operationId: 'getAsyncapiYaml',
      tags: ['asyncapi'],
      response: {
        200: { description: 'AsyncAPI 3.0 document', content: Object.fromEntries(YAML_TYPES.map(type => [type, { schema: { type: 'string' } }])) }
      }
    }
  }, async (request, reply) => {
    if (yamlText === undefined) return missing()
    return reply.type(`${request.responseType}; charset=utf-8`).send(yamlText)
  })

  app.get('/asyncapi.json', {
    schema: {
      summary: 'The AsyncAPI document of the WebSocket and SSE messages, as JSON',
      operationId: 'getAsyncapiJson',
      tags: ['asyncapi'],
      response: {
        200: { description: 'AsyncAPI 3.0 document', content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } }
      }
    }
  }, async (_request, reply) => {
    if (yamlText === undefined) return missing()
    // Parsed on first use: parsing the YAML costs about a second of CPU, which every server start (and each test app) would otherwise pay.
    jsonText ??= JSON.stringify(parse(yamlText))
    return reply.type('application/json; charset=utf-8').send(jsonText)
  })
}
