// A consumer group's state (Kafka's names, as the REST API gives them) as a readable badge.
import { h } from './dom.js'

/** @type {Record<string, string>} */
const LABELS = {
  STABLE: 'Stable',
  EMPTY: 'Empty',
  PREPARING_REBALANCE: 'Preparing rebalance',
  COMPLETING_REBALANCE: 'Completing rebalance',
  DEAD: 'Dead',
  UNKNOWN: 'Unknown'
}

export function stateBadge (/** @type {string} */ state) {
  return h('span', { class: `badge state-${state.toLowerCase().replace(/_/g, '-')}`, title: state }, LABELS[state] ?? state)
}
