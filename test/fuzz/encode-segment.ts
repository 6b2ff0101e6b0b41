/** Percent-encodes the UTF-8 bytes of `value` (a lone surrogate becomes U+FFFD, as any UTF-8 client sends it). */
export function encodeSegment (value: string): string {
  let out = ''
  for (const byte of Buffer.from(value, 'utf8')) {
    const c = String.fromCharCode(byte)
    out += /[A-Za-z0-9\-._~]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}
