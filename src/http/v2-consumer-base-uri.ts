/** The request headers a base URI is built from. */
export interface BaseUriHeaders {
  forwarded?: string | string[]
  'x-forwarded-proto'?: string | string[]
  'x-forwarded-host'?: string | string[]
  host?: string
}

// A host and optional port as clients send them: a name, IPv4 or a bracketed IPv6 address.
const HOST = /^(?:[A-Za-z0-9._~-]+|\[[0-9A-Fa-f:.]+\])(?::\d{1,5})?$/
const PROTOCOLS = new Set(['http', 'https'])

/**
 * The absolute URL of `path` as the client reached the server: the scheme
 * and host of the first hop of the Forwarded header (RFC 7239), else of
 * X-Forwarded-Proto and X-Forwarded-Host, else `protocol` and the Host
 * header. Values that are not a plain scheme or host are ignored.
 */
export function absoluteUrl (headers: BaseUriHeaders, protocol: string, path: string): string {
  const forwarded = firstForwarded(headers.forwarded)
  const scheme = pickProtocol(forwarded.proto) ?? pickProtocol(firstValue(headers['x-forwarded-proto'])) ?? pickProtocol(protocol) ?? 'http'
  const host = pickHost(forwarded.host) ?? pickHost(firstValue(headers['x-forwarded-host'])) ?? pickHost(headers.host) ?? 'localhost'
  return `${scheme}://${host}${path}`
}

/** The parameters of the first element of a Forwarded header, lower-cased names, unquoted values. */
function firstForwarded (header: string | string[] | undefined): Record<string, string> {
  const first = firstValue(header)
  const params: Record<string, string> = {}
  if (first === undefined) return params
  for (const pair of first.split(';')) {
    const at = pair.indexOf('=')
    if (at < 0) continue
    const name = pair.slice(0, at).trim().toLowerCase()
    let value = pair.slice(at + 1).trim()
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1).replace(/\\(.)/g, '$1')
    params[name] ??= value
  }
  return params
}

/** The first of a comma-separated list (a header given several times counts as one list). */
function firstValue (header: string | string[] | undefined): string | undefined {
  const text = Array.isArray(header) ? header[0] : header
  const first = text?.split(',')[0]?.trim()
  return first === undefined || first === '' ? undefined : first
}

function pickProtocol (value: string | undefined): string | undefined {
  const lower = value?.toLowerCase()
  return lower !== undefined && PROTOCOLS.has(lower) ? lower : undefined
}

function pickHost (value: string | undefined): string | undefined {
  return value !== undefined && HOST.test(value) ? value : undefined
}
