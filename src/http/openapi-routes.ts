import { documentRoutes } from './document-routes.js'

/** The committed, generated spec (`npm run openapi` writes it). */
export const OPENAPI_FILE = new URL('../../openapi.yaml', import.meta.url)

/**
 * GET /openapi.yaml serves the committed spec as it is; GET /openapi.json
 * serves the same document as JSON, parsed on its first request. A missing file
 * (only while generating it for the first time) makes both answer 500.
 */
export const openapiRoutes = documentRoutes({
  name: 'openapi',
  file: OPENAPI_FILE,
  document: 'OpenAPI 3.1 document',
  tags: ['openapi'],
  yaml: {
    summary: 'This OpenAPI document, as YAML',
    description: 'The Accept header picks the media type the same text is labelled with.',
    operationId: 'getOpenapiYaml'
  },
  json: {
    summary: 'This OpenAPI document, as JSON',
    operationId: 'getOpenapiJson'
  }
})
