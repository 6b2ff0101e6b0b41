// The console's only way to the server: the public REST API, as any client would use it.

/** A failed request, with the server's own message when it sent an error body. */
export class ApiError extends Error {
  /**
   * @param {number} status HTTP status, 0 when the server could not be reached
   * @param {string} message
   * @param {string | undefined} code Logway's stable error code from the body
   */
  constructor (status, message, code) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

/**
 * Calls the REST API and returns the parsed JSON answer (null for an empty one).
 * Throws an ApiError carrying the error body's message and code.
 * @param {string} path
 * @param {{ method?: string, body?: unknown, signal?: AbortSignal }} [options]
 */
export async function api (path, { method = 'GET', body, signal } = {}) {
  /** @type {Record<string, string>} */
  const headers = { accept: 'application/json' }
  if (body !== undefined) headers['content-type'] = 'application/json'
  let res
  try {
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal })
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err
    throw new ApiError(0, `Cannot reach the server (${err instanceof Error ? err.message : String(err)}).`, undefined)
  }
  const text = await res.text()
  let json = null
  try {
    json = text === '' ? null : JSON.parse(text)
  } catch {
    json = null
  }
  if (!res.ok) {
    const message = json !== null && typeof json.message === 'string' ? json.message : `${res.status} ${res.statusText}`
    throw new ApiError(res.status, message, json !== null && typeof json.code === 'string' ? json.code : undefined)
  }
  return json
}

/** A path of this server's v3 cluster: each segment is percent-encoded (topic and group names may hold any character). */
export async function clusterPath (/** @type {Array<string | number>} */ ...segments) {
  const id = await clusterId()
  return ['/v3/clusters', id, ...segments].map((segment, i) => i === 0 ? segment : encodeURIComponent(String(segment))).join('/')
}

/** @type {Promise<string> | undefined} */
let clusterIdPromise

/** The id of the one cluster this server is; asked once, and again after a failure. */
export function clusterId () {
  clusterIdPromise ??= api('/v3/clusters').then(list => {
    const first = list?.data?.[0]
    if (first === undefined) throw new ApiError(0, 'The server lists no cluster.', undefined)
    return String(first.cluster_id)
  })
  clusterIdPromise.catch(() => { clusterIdPromise = undefined })
  return clusterIdPromise
}
