// #/topics/NAME/tail: records as they are produced, newest first, with pause/resume and a count.
import { clusterPath } from './api.js'
import { append, h, notice, replace, table } from './dom.js'
import { count, isoTime, showBase64 } from './format.js'
import { headersCell, shownCell } from './record-cells.js'
import { topicHeader } from './topic-nav.js'
import { TailSubscription } from './tail-subscription.js'

/** Rows kept on the page: a busy topic must not grow the page without bound. */
const MAX_ROWS = 500

/** @type {import('./app.js').Page} */
export async function tailPage (view, { path }) {
  const topic = path[1] ?? ''
  append(view, topicHeader(topic, 'tail', `Live tail of ${topic}`))
  const url = `${window.location.protocol === 'https:' ? 'wss' : 'ws'}://${window.location.host}${await clusterPath('ws')}`

  const stateText = h('span', { class: 'tail-state', role: 'status' }, 'Connecting…')
  const counter = h('span', { class: 'tail-count' }, 'Records received: 0')
  const errors = h('div', {})
  const pauseButton = h('button', { type: 'button', disabled: true, onclick: () => togglePause() }, 'Pause')
  const reconnectButton = h('button', { type: 'button', class: 'secondary', hidden: true, onclick: () => reconnect() }, 'Reconnect')
  const clearButton = h('button', { type: 'button', class: 'secondary', onclick: () => clear() }, 'Clear')
  const rowsBody = h('tbody', {})
  const produceLink = h('a', { href: `#/topics/${encodeURIComponent(topic)}/produce`, target: '_blank', rel: 'noopener' }, 'produce one in another tab')
  const waiting = h('p', { class: 'empty' }, `Waiting for new records on ${topic}… `, produceLink, '.')
  const recordsTable = table(`Records received on ${topic}, newest first`, ['Partition', 'Offset', 'Timestamp', 'Key', 'Value', 'Headers'], [], { numeric: [0, 1], captionHidden: true })
  recordsTable.querySelector('tbody')?.replaceWith(rowsBody)
  recordsTable.hidden = true

  let paused = false
  let shown = 0
  /** @type {TailSubscription} */
  let subscription

  const updateCount = () => {
    const held = subscription.held
    counter.textContent = `Records received: ${count(subscription.received)}` + (held > 0 ? ` (${count(held)} held while paused)` : '')
  }

  const connect = () => {
    subscription = new TailSubscription({
      url,
      topic,
      onRecords: records => {
        show(records)
        updateCount()
      },
      onState: (state, detail) => {
        stateText.textContent = { connecting: 'Connecting…', live: 'Live', paused: 'Paused', closed: `Disconnected: ${detail ?? ''}` }[state]
        stateText.className = `tail-state tail-${state}`
        pauseButton.toggleAttribute('disabled', state === 'closed' || state === 'connecting')
        reconnectButton.hidden = state !== 'closed'
        updateCount()
      },
      onError: message => replace(errors, notice('error', message))
    })
    subscription.open()
  }

  function togglePause () {
    paused = !paused
    if (paused) subscription.pause()
    else subscription.resume()
    pauseButton.textContent = paused ? 'Resume' : 'Pause'
    updateCount()
  }

  function reconnect () {
    replace(errors)
    paused = false
    pauseButton.textContent = 'Pause'
    connect()
  }

  function clear () {
    replace(rowsBody)
    shown = 0
    recordsTable.hidden = true
    waiting.hidden = false
  }

  function show (/** @type {import('./tail-subscription.js').TailRecord[]} */ records) {
    for (const record of records) {
      const row = h('tr', {},
        h('td', { class: 'num' }, String(record.partition)),
        h('td', { class: 'num' }, String(record.offset)),
        h('td', {}, h('time', { datetime: isoTime(record.timestamp) }, isoTime(record.timestamp))),
        h('td', {}, shownCell(showBase64(record.key))),
        h('td', {}, shownCell(showBase64(record.value))),
        h('td', {}, headersCell(record.headers.map(header => ({ name: header.name, shown: showBase64(header.value) })))))
      rowsBody.insertBefore(row, rowsBody.firstChild)
      shown += 1
    }
    while (shown > MAX_ROWS && rowsBody.lastChild !== null) {
      rowsBody.removeChild(rowsBody.lastChild)
      shown -= 1
    }
    recordsTable.hidden = shown === 0
    waiting.hidden = shown > 0
  }

  append(view, [
    h('div', { class: 'tail-bar', role: 'group', 'aria-label': 'Live tail controls' },
      pauseButton, reconnectButton, clearButton,
      h('p', { class: 'tail-status' }, stateText, ' · ', counter)),
    errors,
    waiting,
    recordsTable
  ])
  connect()
  return () => subscription.close()
}
