// How records are shown: keys, values and header values as text, JSON pretty-printed.

const utf8 = new TextDecoder('utf-8', { fatal: true })
const encoder = new TextEncoder()

/**
 * A key, value or header value ready to show.
 * @typedef {{ kind: 'null' | 'json' | 'text' | 'binary', text: string }} Shown
 */

/** Bytes from base64 (how the REST API returns binary keys, values and header values). */
export function fromBase64 (/** @type {string} */ base64) {
  const binary = atob(base64)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/** The base64 of a string's UTF-8 bytes (how the REST API takes header values). */
export function toBase64 (/** @type {string} */ text) {
  let binary = ''
  for (const byte of encoder.encode(text)) binary += String.fromCharCode(byte)
  return btoa(binary)
}

/**
 * Base64 data as the console shows it: UTF-8 text, pretty JSON when the text is JSON, or the
 * base64 itself when the bytes are not UTF-8.
 * @param {string | null} base64
 * @returns {Shown}
 */
export function showBase64 (base64) {
  if (base64 === null) return { kind: 'null', text: 'null' }
  let text
  try {
    text = utf8.decode(fromBase64(base64))
  } catch {
    return { kind: 'binary', text: base64 }
  }
  return showText(text)
}

/**
 * Text as the console shows it: pretty-printed when it parses as a JSON object or array.
 * @param {string | null} text
 * @returns {Shown}
 */
export function showText (text) {
  if (text === null) return { kind: 'null', text: 'null' }
  const trimmed = text.trim()
  if (trimmed.startsWith('{') || trimmed.startsWith('[')) {
    try {
      return { kind: 'json', text: JSON.stringify(JSON.parse(trimmed), null, 2) }
    } catch {
      // Not JSON after all: shown as the text it is.
    }
  }
  return { kind: 'text', text }
}

/** A record timestamp (milliseconds since the epoch, or an ISO string) as ISO 8601 UTC. */
export function isoTime (/** @type {number | string} */ timestamp) {
  const date = new Date(timestamp)
  return Number.isNaN(date.getTime()) ? String(timestamp) : date.toISOString()
}

/** A count with thousands separators. */
export function count (/** @type {number} */ n) {
  return n.toLocaleString('en-US')
}

/** A byte count in binary units (B, KiB, MiB, …). */
export function bytes (/** @type {number} */ n) {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let value = n
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit += 1
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`
}
