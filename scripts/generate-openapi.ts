// Writes openapi.yaml from the routes and schemas the app registers.
// Run with `npm run openapi`; test/openapi.test.ts fails when the committed file is stale.
import { readFileSync, writeFileSync } from 'node:fs'
import { realpathSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import swagger from '@fastify/swagger'
import { stringify } from 'yaml'
import { loadConfig } from '../src/config.js'
import type { LogStore } from '../src/log/log-store.js'
import { buildServer } from '../src/server.js'

export const OPENAPI_PATH = fileURLToPath(new URL('../openapi.yaml', import.meta.url))

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

if (process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)) {
  writeFileSync(OPENAPI_PATH, await generateOpenapiYaml())
  console.log(`wrote ${OPENAPI_PATH}`)
}
