// #/topics: every topic with its partition count and record total; create and delete.
import { api, clusterPath } from './api.js'
import { append, confirmDialog, errorNotice, field, h, notice, pageHeading, replace, table } from './dom.js'
import { bytes, count } from './format.js'

/** The cleanup policies Kafka knows, as a topic config value. */
const CLEANUP_POLICIES = ['delete', 'compact', 'compact,delete']

/** @type {import('./app.js').Page} */
export async function topicsPage (view) {
  const outcome = h('div', { class: 'outcome' })
  const listArea = h('div', {})
  const refreshButton = h('button', { type: 'button', class: 'secondary', onclick: () => { refresh() } }, 'Refresh')

  async function refresh () {
    try {
      replace(listArea, await topicList(remove))
    } catch (err) {
      replace(listArea, errorNotice(err))
    }
  }

  async function remove (/** @type {string} */ name) {
    const confirmed = await confirmDialog(`Delete topic ${name}?`,
      `Every record of ${name} is deleted, in all its partitions. This cannot be undone.`, 'Delete topic')
    if (!confirmed) return
    try {
      await api(await clusterPath('topics', name), { method: 'DELETE' })
      replace(outcome, notice('success', `Topic ${name} deleted.`))
    } catch (err) {
      replace(outcome, errorNotice(err))
    }
    await refresh()
  }

  async function created (/** @type {string} */ name) {
    replace(outcome, notice('success', 'Topic ', h('a', { href: `#/topics/${encodeURIComponent(name)}` }, name), ' created.'))
    await refresh()
  }

  append(view, [
    h('div', { class: 'page-head' }, pageHeading('Topics'), refreshButton),
    outcome,
    h('div', { class: 'columns' },
      h('section', { class: 'main-column', 'aria-label': 'All topics' }, listArea),
      h('section', { class: 'side-column card', 'aria-labelledby': 'create-topic-heading' },
        h('h2', { id: 'create-topic-heading' }, 'Create a topic'),
        createForm(created, err => replace(outcome, errorNotice(err)))))
  ])
  await refresh()
}

/**
 * The table of topics, or the empty state.
 * @param {(name: string) => void} remove
 */
async function topicList (remove) {
  const topics = (await api(await clusterPath('topics')))?.data ?? []
  if (topics.length === 0) {
    return h('div', { class: 'empty' },
      h('p', {}, h('strong', {}, 'No topics yet — create one.')),
      h('p', {}, 'A topic is a named log split into partitions; producers append records to it and consumers read them in order.'))
  }
  // Record totals come from each topic's partitions: the records between log start and log end.
  const partitions = await Promise.all(topics.map(async (/** @type {any} */ topic) =>
    (await api(await clusterPath('topics', topic.topic_name, 'partitions')))?.data ?? []))
  const rows = topics.map((/** @type {any} */ topic, /** @type {number} */ i) => {
    const parts = partitions[i] ?? []
    const records = parts.reduce((/** @type {number} */ sum, /** @type {any} */ p) => sum + p.log_end_offset - p.log_start_offset, 0)
    const size = parts.reduce((/** @type {number} */ sum, /** @type {any} */ p) => sum + p.size_bytes, 0)
    const name = String(topic.topic_name)
    return [
      h('a', { href: `#/topics/${encodeURIComponent(name)}` }, name),
      count(topic.partitions_count),
      count(records),
      bytes(size),
      h('div', { class: 'row-actions' },
        h('a', { href: `#/topics/${encodeURIComponent(name)}/produce`, 'aria-label': `Produce to ${name}` }, 'Produce'),
        h('a', { href: `#/topics/${encodeURIComponent(name)}/tail`, 'aria-label': `Live tail of ${name}` }, 'Tail'),
        h('button', { type: 'button', class: 'link danger', 'aria-label': `Delete topic ${name}`, onclick: () => remove(name) }, 'Delete'))
    ]
  })
  return table(`${count(topics.length)} ${topics.length === 1 ? 'topic' : 'topics'}`, ['Topic', 'Partitions', 'Records', 'Size', 'Actions'], rows, { numeric: [1, 2, 3] })
}

/**
 * The create form: a name, a partition count and the two configs people set first.
 * @param {(name: string) => Promise<void>} created
 * @param {(err: unknown) => void} failed
 */
function createForm (created, failed) {
  const name = h('input', { name: 'topic_name', required: true, maxlength: '249', pattern: '[a-zA-Z0-9._\\-]+', autocomplete: 'off', spellcheck: 'false' })
  const partitions = h('input', { name: 'partitions_count', type: 'number', min: '1', value: '1', required: true })
  const retention = h('input', { name: 'retention.ms', type: 'number', min: '-1', placeholder: 'server default (7 days)' })
  const cleanup = h('select', { name: 'cleanup.policy' },
    h('option', { value: '' }, 'server default (delete)'),
    CLEANUP_POLICIES.map(policy => h('option', { value: policy }, policy)))
  const submit = h('button', { type: 'submit' }, 'Create topic')
  const form = h('form', {
    onsubmit: async (/** @type {SubmitEvent} */ event) => {
      event.preventDefault()
      const topicName = /** @type {HTMLInputElement} */ (name).value.trim()
      const configs = []
      const retentionMs = /** @type {HTMLInputElement} */ (retention).value.trim()
      if (retentionMs !== '') configs.push({ name: 'retention.ms', value: retentionMs })
      const policy = /** @type {HTMLSelectElement} */ (cleanup).value
      if (policy !== '') configs.push({ name: 'cleanup.policy', value: policy })
      submit.setAttribute('disabled', '')
      try {
        await api(await clusterPath('topics'), {
          method: 'POST',
          body: { topic_name: topicName, partitions_count: Number(/** @type {HTMLInputElement} */ (partitions).value), configs }
        })
        form.reset()
        await created(topicName)
      } catch (err) {
        failed(err)
      } finally {
        submit.removeAttribute('disabled')
      }
    }
  },
  field('Topic name', name, '1 to 249 letters, digits, dots, underscores or dashes.'),
  field('Partitions', partitions),
  field('retention.ms', retention, 'How long records are kept, in milliseconds; -1 keeps them forever.'),
  field('cleanup.policy', cleanup, 'compact keeps the latest record of each key.'),
  h('div', { class: 'actions' }, submit))
  return form
}
