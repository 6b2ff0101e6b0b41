// #/topics/NAME/produce: the "Produce message" form (key, value, partition, headers), which
// answers with the partition and offset the record was written at, or the server's error.
import { api, clusterPath } from './api.js'
import { append, errorNotice, field, h, notice, replace, uniqueId } from './dom.js'
import { isoTime, toBase64 } from './format.js'
import { topicHeader } from './topic-nav.js'

/** @type {import('./app.js').Page} */
export async function producePage (view, { path }) {
  const topic = path[1] ?? ''
  append(view, topicHeader(topic, 'produce', `Produce to ${topic}`))
  let partitions
  try {
    partitions = (await api(await clusterPath('topics', topic, 'partitions')))?.data ?? []
  } catch (err) {
    append(view, errorNotice(err))
    return
  }

  const outcome = h('div', { class: 'outcome' })
  const key = h('input', { name: 'key', autocomplete: 'off', spellcheck: 'false' })
  const value = h('textarea', { name: 'value', rows: '8', spellcheck: 'false' })
  const valueFormat = h('select', { name: 'value_format' },
    h('option', { value: 'auto' }, 'JSON when it parses, else text'),
    h('option', { value: 'STRING' }, 'Text'),
    h('option', { value: 'JSON' }, 'JSON'))
  const partition = h('select', { name: 'partition' },
    h('option', { value: '' }, 'Automatic (by key hash, or round-robin without a key)'),
    partitions.map((/** @type {any} */ p) => h('option', { value: String(p.partition_id) }, `Partition ${p.partition_id}`)))
  const headerRows = h('div', { class: 'header-rows' })
  const addHeader = h('button', { type: 'button', class: 'secondary', onclick: () => addHeaderRow(headerRows) }, 'Add header')
  const submit = h('button', { type: 'submit' }, 'Produce message')

  const form = h('form', {
    class: 'card produce-form',
    'aria-labelledby': 'produce-heading',
    onsubmit: async (/** @type {SubmitEvent} */ event) => {
      event.preventDefault()
      let body
      try {
        body = produceRequest({
          key: /** @type {HTMLInputElement} */ (key).value,
          value: /** @type {HTMLTextAreaElement} */ (value).value,
          valueFormat: /** @type {HTMLSelectElement} */ (valueFormat).value,
          partition: /** @type {HTMLSelectElement} */ (partition).value,
          headers: readHeaders(headerRows)
        })
      } catch (err) {
        replace(outcome, errorNotice(err))
        return
      }
      submit.setAttribute('disabled', '')
      try {
        const report = await api(await clusterPath('topics', topic, 'records'), { method: 'POST', body })
        const at = `#/topics/${encodeURIComponent(topic)}?partition=${report.partition_id}&offset=${report.offset}`
        replace(outcome, notice('success',
          h('strong', {}, `Produced to partition ${report.partition_id} at offset ${report.offset}`),
          ` (${isoTime(report.timestamp)}). `,
          h('a', { href: at }, 'Show it in the message browser')))
      } catch (err) {
        replace(outcome, errorNotice(err))
      } finally {
        submit.removeAttribute('disabled')
      }
    }
  },
  h('h2', { id: 'produce-heading', class: 'visually-hidden' }, 'New message'),
  field('Key', key, 'Optional. Records with the same key go to the same partition.'),
  field('Value', value, 'Leave empty for a null value (a tombstone on a compacted topic).'),
  field('Value format', valueFormat),
  field('Partition', partition),
  h('fieldset', {}, h('legend', {}, 'Headers'), headerRows, addHeader),
  h('div', { class: 'actions' }, submit))

  append(view, h('div', { class: 'columns' }, h('div', { class: 'main-column' }, form), h('div', { class: 'side-column' }, outcome)))
}

/**
 * The ProduceRequest body for the form's values; throws an Error the form shows when they
 * cannot make one.
 * @param {{ key: string, value: string, valueFormat: string, partition: string, headers: Array<{ name: string, value: string }> }} form
 */
export function produceRequest (form) {
  /** @type {Record<string, unknown>} */
  const body = {}
  if (form.key !== '') body.key = { type: 'STRING', data: form.key }
  if (form.value !== '') body.value = recordData(form.value, form.valueFormat)
  if (form.partition !== '') body.partition_id = Number(form.partition)
  if (form.headers.length > 0) body.headers = form.headers.map(header => ({ name: header.name, value: toBase64(header.value) }))
  return body
}

/** A value as RecordData: JSON when asked (or, for auto, when it parses), else text. */
function recordData (/** @type {string} */ text, /** @type {string} */ format) {
  if (format === 'STRING') return { type: 'STRING', data: text }
  try {
    return { type: 'JSON', data: JSON.parse(text) }
  } catch (err) {
    if (format === 'JSON') throw new Error(`The value is not JSON: ${err instanceof Error ? err.message : String(err)}`)
    return { type: 'STRING', data: text }
  }
}

/** Adds a name/value row to the headers fieldset. */
function addHeaderRow (/** @type {HTMLElement} */ rows) {
  const row = h('div', { class: 'header-row' })
  const name = h('input', { class: 'header-name', id: uniqueId('header-name'), autocomplete: 'off', spellcheck: 'false' })
  const value = h('input', { class: 'header-value', id: uniqueId('header-value'), autocomplete: 'off', spellcheck: 'false' })
  const remove = h('button', { type: 'button', class: 'link danger', onclick: () => { row.remove(); renumber(rows) } })
  append(row, [h('label', { for: name.id }), name, h('span', { 'aria-hidden': 'true' }, '='), h('label', { for: value.id }), value, remove])
  rows.appendChild(row)
  renumber(rows)
  name.focus()
}

/** Rows are labelled by position ("Header 2 name"), so labels follow removals. */
function renumber (/** @type {HTMLElement} */ rows) {
  rows.querySelectorAll('.header-row').forEach((row, i) => {
    const [nameLabel, valueLabel] = row.querySelectorAll('label')
    if (nameLabel !== undefined) nameLabel.textContent = `Header ${i + 1} name`
    if (valueLabel !== undefined) valueLabel.textContent = `Header ${i + 1} value`
    const remove = row.querySelector('button')
    if (remove !== null) {
      remove.textContent = 'Remove'
      remove.setAttribute('aria-label', `Remove header ${i + 1}`)
    }
  })
}

/** The headers the form holds; a row with a value but no name is an error, an empty row is skipped. */
function readHeaders (/** @type {HTMLElement} */ rows) {
  /** @type {Array<{ name: string, value: string }>} */
  const headers = []
  rows.querySelectorAll('.header-row').forEach((row, i) => {
    const name = /** @type {HTMLInputElement} */ (row.querySelector('.header-name')).value.trim()
    const value = /** @type {HTMLInputElement} */ (row.querySelector('.header-value')).value
    if (name === '' && value === '') return
    if (name === '') throw new Error(`Header ${i + 1} has a value but no name.`)
    headers.push({ name, value })
  })
  return headers
}
