// #/groups: every consumer group with its state, member count and total lag.
import { ApiError, api, clusterPath } from './api.js'
import { append, errorNotice, h, pageHeading, replace, table } from './dom.js'
import { count } from './format.js'
import { stateBadge } from './group-state.js'

/** @type {import('./app.js').Page} */
export async function groupsPage (view) {
  const listArea = h('div', {})
  const refresh = async () => {
    try {
      replace(listArea, await groupList())
    } catch (err) {
      replace(listArea, errorNotice(err))
    }
  }
  append(view, [
    h('div', { class: 'page-head' }, pageHeading('Consumer groups'),
      h('button', { type: 'button', class: 'secondary', onclick: () => { refresh() } }, 'Refresh')),
    listArea
  ])
  await refresh()
}

async function groupList () {
  const groups = (await api(await clusterPath('consumer-groups')))?.data ?? []
  if (groups.length === 0) {
    return h('div', { class: 'empty' },
      h('p', {}, h('strong', {}, 'No consumer groups yet.')),
      h('p', {}, 'A group appears when a consumer joins it or commits offsets (for example with the REST v2 consumer API).'))
  }
  const details = await Promise.all(groups.map(async (/** @type {any} */ group) => {
    const id = String(group.consumer_group_id)
    const [consumers, summary] = await Promise.all([
      api(await clusterPath('consumer-groups', id, 'consumers')),
      // A group that has committed no offset has no lag summary (404): its lag is unknown, not 0.
      api(await clusterPath('consumer-groups', id, 'lag-summary')).catch(err => {
        if (err instanceof ApiError && err.status === 404) return null
        throw err
      })
    ])
    return { members: consumers?.data?.length ?? 0, totalLag: summary === null ? null : summary.total_lag }
  }))
  const rows = groups.map((/** @type {any} */ group, /** @type {number} */ i) => {
    const id = String(group.consumer_group_id)
    const { members = 0, totalLag = null } = details[i] ?? {}
    return [
      h('a', { href: `#/groups/${encodeURIComponent(id)}` }, id),
      stateBadge(group.state),
      count(members),
      group.is_simple ? h('span', { class: 'muted' }, 'simple (offsets only)') : group.partition_assignor,
      totalLag === null ? h('span', { class: 'muted' }, 'no commits') : count(totalLag)
    ]
  })
  return table(`${count(groups.length)} consumer ${groups.length === 1 ? 'group' : 'groups'}`, ['Group', 'State', 'Members', 'Assignor', 'Total lag'], rows, { numeric: [2, 4] })
}
