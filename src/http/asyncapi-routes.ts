import { documentRoutes } from './document-routes.js'

/** The committed, generated AsyncAPI document of the WebSocket and SSE messages (`npm run asyncapi` writes it). */
export const ASYNCAPI_FILE = new URL('../../asyncapi.yaml', import.meta.url)

/**
 * GET /asyncapi.yaml serves the committed AsyncAPI document as it is; GET
 * /asyncapi.json the same document as JSON, parsed on its first request. A
 * missing file (only while generating it for the first time) makes both
 * answer 500.
 */
export const asyncapiRoutes = documentRoutes({
  name: 'asyncapi',
  file: ASYNCAPI_FILE,
  document: 'AsyncAPI 3.0 document',
  tags: ['asyncapi'],
  yaml: {
    summary: 'The AsyncAPI document of the WebSocket and SSE messages, as YAML',
    description: 'An AsyncAPI 3.0 document generated from the frame schemas (schemas/ws/) and the SSE event schemas. The Accept header picks the media type the same text is labelled with.',
    operationId: 'getAsyncapiYaml'
  },
  json: {
    summary: 'The AsyncAPI document of the WebSocket and SSE messages, as JSON',
    operationId: 'getAsyncapiJson'
  }
})
