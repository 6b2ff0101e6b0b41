import './route-docs.js'
import { readFile } from 'node:fs/promises'
import type { FastifyPluginAsync } from 'fastify'
import { parse } from 'yaml'
import { LogwayError } from '../errors.js'

/** What GET /openapi.yaml and GET /asyncapi.yaml can label their document with, preferred first. */
export const YAML_TYPES = ['application/yaml', 'text/yaml', 'text/plain'] as const

/** A committed YAML document, and how its two routes are documented. */
export interface DocumentRoutesOptions {
  /** The document's name: its routes are GET /`name`.yaml and GET /`name`.json. */
  name: string
  /** The committed file; `npm run <name>` writes it. */
  file: URL
  /** The description of the 200 answer of both routes. */
  document: string
  tags: readonly string[]
  yaml: { summary: string, description: string, operationId: string }
  json: { summary: string, operationId: string }
}

/**
 * The routes of a committed, generated YAML document: GET /`name`.yaml
 * serves the file as it is, with the media type the Accept header picks among
 * YAML_TYPES; GET /`name`.json the same document as JSON, parsed on its first
 * request. A missing file (only while generating it for the first time) makes
 * both answer 500.
 */
export function documentRoutes (options: DocumentRoutesOptions): FastifyPluginAsync {
  const { name, file, document, tags, yaml, json } = options
  return async (app) => {
    let yamlText: string | undefined
    let jsonText: string | undefined
    try {
      yamlText = await readFile(file, 'utf8')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
      app.log.warn(`${name}.yaml is missing: run npm run ${name}`)
    }
    const missing = (): never => { throw new LogwayError('UNKNOWN_SERVER_ERROR', `${name}.yaml is missing from this installation.`) }

    app.get(`/${name}.yaml`, {
      config: { produces: YAML_TYPES },
      schema: {
        summary: yaml.summary,
        description: yaml.description,
        operationId: yaml.operationId,
        tags,
        response: {
          200: { description: document, content: Object.fromEntries(YAML_TYPES.map(type => [type, { schema: { type: 'string' } }])) }
        }
      }
    }, async (request, reply) => {
      if (yamlText === undefined) return missing()
      return reply.type(`${request.responseType}; charset=utf-8`).send(yamlText)
    })

    app.get(`/${name}.json`, {
      schema: {
        summary: json.summary,
        operationId: json.operationId,
        tags,
        response: {
          200: { description: document, content: { 'application/json': { schema: { type: 'object', additionalProperties: true } } } }
        }
      }
    }, async (_request, reply) => {
      if (yamlText === undefined) return missing()
      // Parsed on first use: parsing the YAML costs about a second of CPU, which every server start (and each test app) would otherwise pay.
      jsonText ??= JSON.stringify(parse(yamlText))
      return reply.type('application/json; charset=utf-8').send(jsonText)
    })
  }
}
