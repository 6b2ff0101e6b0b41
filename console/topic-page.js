// #/topics/NAME: partitions with their offsets, configs, and the message browser.
// #/topics/NAME?partition=P&offset=O opens the browser at that record.
import { api, clusterPath } from './api.js'
import { append, errorNotice, h, replace, table } from './dom.js'
import { bytes, count } from './format.js'
import { messageBrowser } from './message-browser.js'
import { topicHeader } from './topic-nav.js'

/** @type {import('./app.js').Page} */
export async function topicPage (view, { path, query }) {
  const topic = path[1] ?? ''
  append(view, topicHeader(topic, 'overview', topic))
  let partitions
  try {
    partitions = (await api(await clusterPath('topics', topic, 'partitions')))?.data ?? []
  } catch (err) {
    append(view, errorNotice(err))
    return
  }
  const configsArea = h('div', {})
  const partitionRows = partitions.map((/** @type {any} */ p) => [
    String(p.partition_id), count(p.log_start_offset), count(p.log_end_offset), count(p.log_end_offset - p.log_start_offset), bytes(p.size_bytes)
  ])
  const requestedPartition = query.get('partition')
  const requestedOffset = query.get('offset')
  append(view, [
    h('div', { class: 'columns' },
      h('section', { class: 'main-column', 'aria-labelledby': 'partitions-heading' },
        h('h2', { id: 'partitions-heading' }, 'Partitions'),
        table(`Partitions of ${topic}`, ['Partition', 'Start offset', 'End offset', 'Records', 'Size'], partitionRows, { numeric: [0, 1, 2, 3, 4], captionHidden: true })),
      h('section', { class: 'side-column', 'aria-labelledby': 'configs-heading' },
        h('h2', { id: 'configs-heading' }, 'Configs'),
        configsArea)),
    h('section', { 'aria-labelledby': 'messages-heading' },
      h('h2', { id: 'messages-heading' }, 'Messages'),
      messageBrowser(topic, partitions, {
        partition: requestedPartition === null ? undefined : Number(requestedPartition),
        offset: requestedOffset === null ? undefined : Number(requestedOffset)
      }))
  ])
  try {
    const configs = (await api(await clusterPath('topics', topic, 'configs')))?.data ?? []
    // Values set on the topic stand out from the server defaults.
    replace(configsArea, table(`Configs of ${topic}`, ['Name', 'Value'],
      configs.map((/** @type {any} */ c) => [
        h('code', {}, c.name),
        h('span', { class: c.is_default ? 'muted' : 'override' },
          c.value === null ? 'null' : String(c.value),
          c.is_default ? null : h('span', { class: 'tag' }, 'set on topic'))
      ]), { captionHidden: true }))
  } catch (err) {
    replace(configsArea, errorNotice(err))
  }
}
