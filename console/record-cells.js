// Table cells for a record's key, value and headers, shared by the message browser and the live tail.
import { h } from './dom.js'

/** @typedef {import('./format.js').Shown} Shown */

const KIND_LABELS = { null: 'null', json: 'JSON', text: null, binary: 'not UTF-8: base64' }

/** A key or value: preformatted text, tagged with what it is unless it is plain text. */
export function shownCell (/** @type {Shown} */ shown) {
  const label = KIND_LABELS[shown.kind]
  if (shown.kind === 'null') return h('span', { class: 'null' }, 'null')
  return h('div', { class: `data data-${shown.kind}` },
    label === null ? null : h('span', { class: 'tag' }, label),
    h('pre', {}, shown.text))
}

/**
 * Headers as "name = value" lines, in order (names may repeat).
 * @param {Array<{ name: string, shown: Shown }>} headers
 */
export function headersCell (headers) {
  if (headers.length === 0) return h('span', { class: 'none' }, '—')
  return h('ul', { class: 'headers' }, headers.map(({ name, shown }) =>
    h('li', {}, h('span', { class: 'header-name' }, name), ' = ', h('span', { class: shown.kind === 'null' ? 'null' : undefined }, shown.text))))
}
