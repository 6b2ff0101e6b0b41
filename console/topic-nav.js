// The heading and tabs shared by a topic's pages: overview, produce, live tail.
import { h, pageHeading } from './dom.js'

const TABS = [
  { key: 'overview', label: 'Partitions & messages', suffix: '' },
  { key: 'produce', label: 'Produce message', suffix: '/produce' },
  { key: 'tail', label: 'Live tail', suffix: '/tail' }
]

/**
 * @param {string} topic
 * @param {'overview' | 'produce' | 'tail'} current
 * @param {string} title the page heading
 */
export function topicHeader (topic, current, title) {
  const base = `#/topics/${encodeURIComponent(topic)}`
  return h('div', { class: 'topic-head' },
    h('p', { class: 'crumbs' }, h('a', { href: '#/topics' }, 'Topics'), ' / ', topic),
    pageHeading(title),
    h('nav', { 'aria-label': `Topic ${topic}`, class: 'tabs' },
      h('ul', {}, TABS.map(tab => h('li', {},
        h('a', { href: base + tab.suffix, 'aria-current': tab.key === current ? 'page' : undefined }, tab.label))))))
}
