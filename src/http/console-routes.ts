import './route-docs.js'
import { createHash } from 'node:crypto'
import { readdir, readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify'
import { errorResponse } from './common-responses.js'
import { negotiate } from './content-negotiation.js'

/** The web console's static files (console/ at the package root, shipped with it). */
export const CONSOLE_DIR = new URL('../../console/', import.meta.url)

/** The media types the console is made of, by file extension; files of other kinds are not served. */
const MEDIA_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.css': 'text/css',
  '.svg': 'image/svg+xml'
}
const ASSET_TYPES = [...new Set(Object.values(MEDIA_TYPES))]

/**
 * The page and its scripts may only load from this server and talk to it:
 * the console renders keys, values and headers that anyone who can produce
 * controls, so even a rendering mistake must not run or load anything else.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'"
].join('; ')

interface Asset {
  body: Buffer
  type: string
  etag: string
}

/** Reads every servable file of `dir` (not its subfolders): the fixed set of assets for the process's lifetime. */
async function loadAssets (dir: URL): Promise<Map<string, Asset>> {
  const assets = new Map<string, Asset>()
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const type = MEDIA_TYPES[extname(entry.name)]
    if (!entry.isFile() || type === undefined) continue
    const body = await readFile(new URL(entry.name, dir))
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
    assets.set(entry.name, { body, type, etag })
  }
  return assets
}

/** Whether an If-None-Match header names `etag` (RFC 9110's weak comparison, as for GET). */
function matchesEtag (ifNoneMatch: string | undefined, etag: string): boolean {
  if (ifNoneMatch === undefined) return false
  return ifNoneMatch.split(',').some(tag => {
    const trimmed = tag.trim()
    return trimmed === '*' || trimmed.replace(/^W\//, '') === etag
  })
}

async function send (request: FastifyRequest, reply: FastifyReply, asset: Asset): Promise<FastifyReply> {
  // no-cache, not max-age: the browser revalidates on every load (a 304 when nothing changed),
  // so a console from before an upgrade is never run against the new server.
  reply.header('etag', asset.etag).header('cache-control', 'no-cache').header('x-content-type-options', 'nosniff')
  if (asset.type === 'text/html') reply.header('content-security-policy', CONTENT_SECURITY_POLICY)
  if (matchesEtag(request.headers['if-none-match'], asset.etag)) return await reply.code(304).send()
  return await reply.type(`${asset.type}; charset=utf-8`).send(asset.body)
}

/**
 * The web console: GET / serves its page and GET /console/{file} the files
 * next to it (scripts, stylesheet), read once at startup, each with an ETag.
 * The console itself talks to the server through the public REST and
 * WebSocket APIs only. Without a console/ folder (a broken installation)
 * both answer 404.
 */
export const consoleRoutes: FastifyPluginAsync = async (app) => {
  let assets = new Map<string, Asset>()
  try {
    assets = await loadAssets(CONSOLE_DIR)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    app.log.warn('console/ is missing: the web console is not served')
  }
  const notFound = (what: string): never => {
    throw Object.assign(new Error(`The web console has no ${what}.`), { statusCode: 404 })
  }
  // type null: swagger documents no body (as for the 204s of other routes).
  const notModified = { description: 'Not Modified: If-None-Match names the current ETag', type: 'null' } as const

  app.get('/', {
    config: { produces: ['text/html'] },
    schema: {
      summary: 'The web console',
      description: 'A page that browses topics, produces and tails records, and shows consumer groups, through this API.',
      operationId: 'getConsole',
      tags: ['console'],
      response: {
        200: { description: 'The console page', content: { 'text/html': { schema: { type: 'string' } } } },
        304: notModified,
        404: errorResponse('The installation has no console')
      }
    }
  }, async (request, reply) => {
    const page = assets.get('index.html') ?? notFound('page (console/index.html is missing)')
    return await send(request, reply, page)
  })

  app.get<{ Params: { file: string } }>('/console/:file', {
    config: { produces: ASSET_TYPES },
    schema: {
      summary: 'A file of the web console',
      description: 'The scripts (ES modules) and stylesheet the console page loads. Only the files of the installed console are served; any other name is a 404.',
      operationId: 'getConsoleAsset',
      tags: ['console'],
      params: {
        type: 'object',
        required: ['file'],
        properties: { file: { type: 'string', description: 'A file name such as app.js or style.css' } }
      },
      response: {
        200: { description: 'The file', content: Object.fromEntries(ASSET_TYPES.map(type => [type, { schema: { type: 'string' } }])) },
        304: notModified,
        404: errorResponse('No console file has this name'),
        406: errorResponse('Not Acceptable: the Accept header does not allow the file\'s media type')
      }
    }
  }, async (request, reply) => {
    // A map lookup by the exact name: "../x" or "a/b" can never name a file outside the console.
    const asset = assets.get(request.params.file) ?? notFound(`file named ${JSON.stringify(request.params.file)}`)
    // The route's produces let the request in; the file itself has one type, which Accept must allow.
    if (negotiate(request.headers.accept, [asset.type]) === undefined) {
      throw Object.assign(new Error(`${request.params.file} is ${asset.type}, which Accept (${request.headers.accept ?? ''}) does not allow`), { statusCode: 406 })
    }
    return await send(request, reply, asset)
  })
}
