import { SERVER_ENV } from './args.js'
import { CliFailure } from './failure.js'

/**
 * A request to the server that failed: the server refused it (`status`, and
 * Logway's error body's `code` and `errorCode`), or it never got an answer.
 * The message is one line, fit for `logway: <message>`.
 */
export class RequestError extends CliFailure {
  readonly status: number | undefined
  /** Logway's stable string code (ErrorResponse.code), when the server sent one. */
  readonly code: string | undefined
  /** The Confluent numeric error_code, when the server sent one. */
  readonly errorCode: number | undefined

  constructor (message: string, details: { status?: number, code?: string, errorCode?: number } = {}) {
    super(message)
    this.name = 'RequestError'
    this.status = details.status
    this.code = details.code
    this.errorCode = details.errorCode
  }
}

/** What one call sends besides its method and path. */
export interface RequestOptions {
  /** Sent as JSON text, unless it is already a string or a stream. */
  body?: unknown
  contentType?: string
  accept?: string
  /** Ends the request early (the AbortError is thrown as is, so callers can tell a stop from a failure). */
  signal?: AbortSignal
  /** How long to wait for the whole answer; admin calls get DEFAULT_TIMEOUT_MS. 0: no limit. */
  timeoutMs?: number
}

/** An admin call that has not answered in this long is a failure, not a hang. */
const DEFAULT_TIMEOUT_MS = 30_000

/** The error body every Logway route answers with (schemas/ErrorResponse.json). */
interface ErrorBody { error_code?: unknown, message?: unknown, code?: unknown }

/**
 * The client side of Logway's public HTTP API as the CLI uses it: the
 * server's base URL, the one cluster's v3 path, and JSON calls whose
 * failures become RequestError. Only global fetch; nothing of src/http.
 */
export class LogwayClient {
  /** The base URL, without a trailing slash. */
  readonly server: string
  #clusterPath: Promise<string> | undefined

  constructor (server: string) {
    this.server = server
  }

  /**
   * Sends one request and answers the response as is, whatever its status.
   * @throws RequestError when the server cannot be reached or does not answer in time
   */
  async send (method: string, path: string, options: RequestOptions = {}): Promise<Response> {
    const headers: Record<string, string> = {}
    let body: string | ReadableStream<Uint8Array> | undefined
    if (options.body !== undefined) {
      headers['content-type'] = options.contentType ?? 'application/json'
      body = typeof options.body === 'string' || options.body instanceof ReadableStream ? options.body as string | ReadableStream<Uint8Array> : JSON.stringify(options.body)
    }
    if (options.accept !== undefined) headers.accept = options.accept
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
    const timeout = timeoutMs > 0 ? AbortSignal.timeout(timeoutMs) : undefined
    const signals = [options.signal, timeout].filter((s): s is AbortSignal => s !== undefined)
    const signal = signals.length === 0 ? undefined : AbortSignal.any(signals)
    try {
      // duplex 'half' is what fetch needs to send a stream; undici still hands the response over while the body is going out.
      return await fetch(`${this.server}${path}`, { method, headers, body, signal, ...(body instanceof ReadableStream ? { duplex: 'half' } : {}) } as RequestInit)
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      if (timeout?.aborted === true) throw new RequestError(`no answer from ${this.server} within ${timeoutMs / 1000} s (${method} ${path})`)
      throw unreachable(this.server, err)
    }
  }

  /**
   * Sends one request and answers its JSON body (undefined for 204).
   * @throws RequestError with the server's message when the status is not 2xx
   */
  async call<T> (method: string, path: string, options: RequestOptions = {}): Promise<T> {
    const res = await this.send(method, path, options)
    let text: string
    try {
      text = await res.text()
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      throw unreachable(this.server, err)
    }
    if (!res.ok) throw errorFromResponse(res, text, method, path)
    if (res.status === 204 || text === '') return undefined as T
    try {
      return JSON.parse(text) as T
    } catch {
      throw new RequestError(`${method} ${this.server}${path} answered ${res.status} with a body that is not JSON: is this a Logway server?`, { status: res.status })
    }
  }

  /**
   * The v3 path of the server's one cluster, `/v3/clusters/<id>`, asked once.
   * @throws RequestError when the server cannot be reached or has no cluster
   */
  async clusterPath (): Promise<string> {
    this.#clusterPath ??= this.call<{ data?: Array<{ cluster_id?: unknown }> }>('GET', '/v3/clusters').then(list => {
      const id = list?.data?.[0]?.cluster_id
      if (typeof id !== 'string') throw new RequestError(`${this.server} lists no cluster: is this a Logway server?`)
      return `/v3/clusters/${encodeURIComponent(id)}`
    })
    return await this.#clusterPath
  }
}

/**
 * The RequestError for a response whose status is not 2xx: the server's own
 * message when the body is Logway's error shape, else the status line.
 */
export function errorFromResponse (res: Response, text: string, method: string, path: string): RequestError {
  let body: ErrorBody | undefined
  try {
    body = JSON.parse(text) as ErrorBody
  } catch {}
  const message = typeof body?.message === 'string' && body.message !== ''
    ? body.message
    : `${method} ${path} answered ${res.status} ${res.statusText}`.trim()
  return new RequestError(message.replace(/\s*\n\s*/g, ' '), {
    status: res.status,
    code: typeof body?.code === 'string' ? body.code : undefined,
    errorCode: typeof body?.error_code === 'number' ? body.error_code : undefined
  })
}

/** One line naming the URL and, when there is one, the system's reason (ECONNREFUSED, ENOTFOUND). */
function unreachable (server: string, err: unknown): RequestError {
  const cause = err instanceof Error ? err.cause : undefined
  const code = (cause as { code?: unknown } | undefined)?.code
  const reason = typeof code === 'string' ? code : (cause instanceof Error ? cause.message : (err instanceof Error ? err.message : String(err)))
  return new RequestError(`cannot reach the server at ${server} (${reason}): is logway serve running there? (--server URL or ${SERVER_ENV} names another)`)
}

/** A path segment: topic names are safe, group ids may hold anything but control characters. */
export function segment (value: string): string {
  return encodeURIComponent(value)
}
