// Writes openapi.yaml from the routes and schemas the app registers, then the
// TypeScript client types from that openapi.yaml (openapi-typescript).
// Run with `npm run openapi`; test/openapi.test.ts fails when the committed
// openapi.yaml is stale, test/client/generated-client.test.ts when the types are.
import { readFileSync, writeFileSync } from 'node:fs'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import swagger from '@fastify/swagger'
import openapiTS, { astToString, COMMENT_HEADER } from 'openapi-typescript'
import { stringify } from 'yaml'
import { loadConfig } from '../src/config.js'
import type { LogStore } from '../src/log/log-store.js'
import { buildServer } from '../src/server.js'

export const OPENAPI_PATH = fileURLToPath(new URL('../openapi.yaml', import.meta.url))
export const CLIENT_TYPES_PATH = fileURLToPath(new URL('../test/client/logway-api.ts', import.meta.url))

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string, description: string, license: string }

/** The OpenAPI 3.1 document of the app, as an object. Opens no log and binds no port. */
export async function buildOpenapiDocument (): Promise<Record<string, unknown>> {
  // Generation only registers routes: it never touches the log.
  const store = {} as LogStore
  const app = buildServer(loadConfig({ flags: { logLevel: 'silent' } }), {
    store,
    beforeRoutes (app) {
      app.register(swagger, {
        openapi: {
          openapi: '3.1.0',
          info: {
            title: 'Logway',
            version: pkg.version,
            description: pkg.description,
            license: { name: pkg.license, identifier: pkg.license }
          },
          tags: [
            { name: 'health', description: 'Liveness and readiness probes.' },
            { name: 'openapi', description: 'This document.' }
          ]
        },
        // Name components after the $id of schemas/*.json instead of def-0, def-1, …
        refResolver: {
          buildLocalReference: (json, _baseUri, _fragment, i) => typeof json.$id === 'string' ? json.$id : `def-${i}`
        }
      })
    }
  })
  try {
    await app.ready()
    return app.swagger() as unknown as Record<string, unknown>
  } finally {
    await app.close()
  }
}

/** openapi.yaml as `npm run openapi` writes it. */
export async function generateOpenapiYaml (): Promise<string> {
  return stringify(await buildOpenapiDocument(), { lineWidth: 0, aliasDuplicateObjects: false })
}

/**
 * test/client/logway-api.ts as `npm run openapi` writes it: the `paths`,
 * `components` and `operations` types openapi-fetch's createClient<paths>()
 * takes, generated from the text of an openapi.yaml.
 */
export async function generateClientTypes (openapiYaml: string): Promise<string> {
  const ast = await openapiTS(openapiYaml, { silent: true })
  return COMMENT_HEADER.replace(' */', ' * Generated from openapi.yaml by `npm run openapi`.\n */') + astToString(ast)
}

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const yaml = await generateOpenapiYaml()
  writeFileSync(OPENAPI_PATH, yaml)
  console.log(`wrote ${OPENAPI_PATH}`)
  // From the text just written, exactly as the drift test regenerates them from the committed file.
  writeFileSync(CLIENT_TYPES_PATH, await generateClientTypes(yaml))
  console.log(`wrote ${CLIENT_TYPES_PATH}`)
}
