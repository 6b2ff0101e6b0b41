// The message browser of a topic page: one partition, a page of records at a time, from the
// earliest record, from an offset, or the latest ones, through the stateless fetch endpoint.
import { api, clusterPath } from './api.js'
import { errorNotice, field, h, replace, table } from './dom.js'
import { isoTime, showBase64 } from './format.js'
import { headersCell, shownCell } from './record-cells.js'

const PAGE_SIZES = [10, 20, 50, 100]

/**
 * @param {string} topic
 * @param {Array<{ partition_id: number }>} partitions
 * @param {{ partition?: number, offset?: number }} initial where to open (from a link), else the latest records of partition 0
 */
export function messageBrowser (topic, partitions, initial) {
  if (partitions.length === 0) return h('p', { class: 'empty' }, 'This topic has no partitions.')
  const partitionSelect = h('select', { name: 'partition' },
    partitions.map(p => h('option', { value: String(p.partition_id) }, `Partition ${p.partition_id}`)))
  const startSelect = h('select', { name: 'start' },
    h('option', { value: 'latest' }, 'Latest messages'),
    h('option', { value: 'earliest' }, 'Earliest messages'),
    h('option', { value: 'offset' }, 'From an offset'))
  const offsetInput = h('input', { name: 'offset', type: 'number', min: '0', value: '0', disabled: true })
  const sizeSelect = h('select', { name: 'size' }, PAGE_SIZES.map(n => h('option', { value: String(n) }, String(n))))
  const get = {
    partition: () => Number(/** @type {HTMLSelectElement} */ (partitionSelect).value),
    start: () => /** @type {HTMLSelectElement} */ (startSelect).value,
    offset: () => Number(/** @type {HTMLInputElement} */ (offsetInput).value),
    size: () => Number(/** @type {HTMLSelectElement} */ (sizeSelect).value)
  }
  sizeSelect.value = '20'
  startSelect.addEventListener('change', () => {
    if (get.start() === 'offset') offsetInput.removeAttribute('disabled')
    else offsetInput.setAttribute('disabled', '')
  })

  const results = h('div', { class: 'browser-results', 'aria-live': 'polite' })
  const previous = h('button', { type: 'button', class: 'secondary', disabled: true, onclick: () => { if (page !== undefined) load(page.partition, Math.max(page.logStart, page.from - page.size)) } }, '← Previous page')
  const next = h('button', { type: 'button', class: 'secondary', disabled: true, onclick: () => { if (page !== undefined) load(page.partition, page.next) } }, 'Next page →')

  /** @type {{ partition: number, from: number, size: number, next: number, logStart: number, logEnd: number } | undefined} */
  let page
  let loading = 0

  /** Shows the page of `partition` that starts at `position`. */
  async function load (/** @type {number} */ partition, /** @type {number | 'earliest' | 'latest'} */ position) {
    const current = ++loading
    const size = get.size()
    try {
      const recordsPath = await clusterPath('topics', topic, 'partitions', partition, 'records')
      const fetchPage = (/** @type {number | string} */ offset, /** @type {number} */ max) =>
        api(`${recordsPath}?offset=${offset}&max_records=${max}&format=binary`)
      let from = position
      if (from === 'latest') {
        // The latest page ends at the log end: ask where that is, then read the page before it.
        const ends = await fetchPage('latest', 1)
        from = Math.max(ends.log_start_offset, ends.log_end_offset - size)
      }
      const answer = await fetchPage(from, size)
      if (current !== loading) return
      const start = from === 'earliest' ? answer.log_start_offset : from
      page = { partition, from: start, size, next: answer.next_offset, logStart: answer.log_start_offset, logEnd: answer.log_end_offset }
      replace(results, renderPage(topic, page, answer.records))
    } catch (err) {
      if (current !== loading) return
      page = undefined
      replace(results, errorNotice(err))
    }
    previous.toggleAttribute('disabled', page === undefined || page.from <= page.logStart)
    next.toggleAttribute('disabled', page === undefined || page.next >= page.logEnd)
  }

  const form = h('form', {
    class: 'inline-form',
    'aria-label': 'Choose messages',
    onsubmit: (/** @type {SubmitEvent} */ event) => {
      event.preventDefault()
      const start = get.start()
      load(get.partition(), start === 'offset' ? get.offset() : /** @type {'earliest' | 'latest'} */ (start))
    }
  },
  field('Partition', partitionSelect),
  field('Start at', startSelect),
  field('Offset', offsetInput),
  field('Page size', sizeSelect),
  h('div', { class: 'actions' }, h('button', { type: 'submit' }, 'Show messages')))

  if (initial.partition !== undefined && partitions.some(p => p.partition_id === initial.partition)) {
    partitionSelect.value = String(initial.partition)
  }
  if (initial.offset !== undefined && Number.isInteger(initial.offset)) {
    startSelect.value = 'offset'
    offsetInput.value = String(initial.offset)
    offsetInput.removeAttribute('disabled')
    load(get.partition(), initial.offset)
  } else {
    load(get.partition(), 'latest')
  }
  return h('div', { class: 'browser' }, form, results, h('div', { class: 'pager' }, previous, next))
}

/**
 * One page of records, or what the range holds when it holds none.
 * @param {string} topic
 * @param {{ partition: number, from: number, next: number, logStart: number, logEnd: number }} page
 * @param {any[]} records
 */
function renderPage (topic, page, records) {
  const range = `log start ${page.logStart}, end ${page.logEnd}`
  if (records.length === 0) {
    const empty = page.logStart === page.logEnd
      ? ['Partition ', String(page.partition), ' is empty. ', h('a', { href: `#/topics/${encodeURIComponent(topic)}/produce` }, 'Produce a message'), '.']
      : [`No messages from offset ${page.from} (${range}).`]
    return h('p', { class: 'empty' }, ...empty)
  }
  const last = records[records.length - 1].offset
  const rows = records.map(record => [
    String(record.offset),
    h('time', { datetime: isoTime(record.timestamp), title: record.timestamp_type }, isoTime(record.timestamp)),
    shownCell(showBase64(record.key)),
    shownCell(showBase64(record.value)),
    headersCell(record.headers.map((/** @type {{ name: string, value: string | null }} */ header) => ({ name: header.name, shown: showBase64(header.value) })))
  ])
  return h('div', {},
    h('p', { class: 'range' }, `Partition ${page.partition}: offsets ${records[0].offset}–${last} (${range}).`),
    table(`Messages in partition ${page.partition}`, ['Offset', 'Timestamp', 'Key', 'Value', 'Headers'], rows, { numeric: [0], captionHidden: true }))
}
