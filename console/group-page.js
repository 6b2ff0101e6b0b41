// #/groups/ID: a consumer group's state, members and their assignments, and per partition its
// committed offset, the log end offset and the lag between them.
import { api, clusterPath } from './api.js'
import { append, h, pageHeading, table } from './dom.js'
import { count } from './format.js'
import { stateBadge } from './group-state.js'

/** @type {import('./app.js').Page} */
export async function groupPage (view, { path }) {
  const id = path[1] ?? ''
  append(view, [
    h('p', { class: 'crumbs' }, h('a', { href: '#/groups' }, 'Consumer groups'), ' / ', id),
    h('div', { class: 'page-head' }, pageHeading(id),
      h('button', { type: 'button', class: 'secondary', onclick: () => window.dispatchEvent(new window.HashChangeEvent('hashchange')) }, 'Refresh'))
  ])
  const [group, consumers, lags] = await Promise.all([
    api(await clusterPath('consumer-groups', id)),
    api(await clusterPath('consumer-groups', id, 'consumers')).then(list => list?.data ?? []),
    api(await clusterPath('consumer-groups', id, 'lags')).then(list => list?.data ?? [])
  ])
  const assignments = await Promise.all(consumers.map(async (/** @type {any} */ consumer) =>
    (await api(await clusterPath('consumer-groups', id, 'consumers', consumer.consumer_id, 'assignments')))?.data ?? []))
  const totalLag = lags.reduce((/** @type {number} */ sum, /** @type {any} */ lag) => sum + lag.lag, 0)

  append(view, [
    h('dl', { class: 'facts' },
      fact('State', stateBadge(group.state)),
      fact('Partition assignor', group.is_simple ? 'none (a simple group: offsets only)' : group.partition_assignor),
      fact('Members', count(consumers.length)),
      fact('Total lag', lags.length === 0 ? 'no committed offsets' : count(totalLag))),
    h('section', { 'aria-labelledby': 'members-heading' },
      h('h2', { id: 'members-heading' }, 'Members'),
      consumers.length === 0
        ? h('p', { class: 'empty' }, 'No members: no consumer is in this group now.')
        : table(`Members of ${id}`, ['Consumer id', 'Client id', 'Assigned partitions'],
          consumers.map((/** @type {any} */ consumer, /** @type {number} */ i) => [
            h('code', {}, consumer.consumer_id),
            consumer.client_id,
            (assignments[i] ?? []).length === 0
              ? h('span', { class: 'muted' }, 'none')
              : (assignments[i] ?? []).map((/** @type {any} */ a) => `${a.topic_name}-${a.partition_id}`).join(', ')
          ]), { captionHidden: true })),
    h('section', { 'aria-labelledby': 'lag-heading' },
      h('h2', { id: 'lag-heading' }, 'Committed offsets and lag'),
      lags.length === 0
        ? h('p', { class: 'empty' }, 'This group has committed no offsets yet.')
        : table(`Committed offsets and lag of ${id}`, ['Topic', 'Partition', 'Committed offset', 'End offset', 'Lag', 'Owner'],
          lags.map((/** @type {any} */ lag) => [
            h('a', { href: `#/topics/${encodeURIComponent(lag.topic_name)}` }, lag.topic_name),
            String(lag.partition_id),
            count(lag.current_offset),
            count(lag.log_end_offset),
            h('span', { class: lag.lag > 0 ? 'lagging' : undefined }, count(lag.lag)),
            lag.consumer_id === '' ? h('span', { class: 'muted' }, 'unassigned') : lag.client_id || lag.consumer_id
          ]), { numeric: [1, 2, 3, 4], captionHidden: true }))
  ])
}

function fact (/** @type {string} */ term, /** @type {import('./dom.js').Child} */ description) {
  return h('div', {}, h('dt', {}, term), h('dd', {}, description))
}
