// The console's entry point: the header's server facts and a hash router over the pages.
// Every page is a function (view, params) → optional cleanup, called when the page is left.
import { api, clusterId } from './api.js'
import { errorNotice, h, replace } from './dom.js'
import { groupPage } from './group-page.js'
import { groupsPage } from './groups-page.js'
import { producePage } from './produce-page.js'
import { tailPage } from './tail-page.js'
import { topicPage } from './topic-page.js'
import { topicsPage } from './topics-page.js'

/**
 * @typedef {{ path: string[], query: URLSearchParams }} Route
 * @typedef {(view: HTMLElement, route: Route) => (void | (() => void) | Promise<void | (() => void)>)} Page
 */

/** @type {Array<{ pattern: RegExp, section: string, page: Page }>} */
const ROUTES = [
  { pattern: /^topics$/, section: 'topics', page: topicsPage },
  { pattern: /^topics\/[^/]+$/, section: 'topics', page: topicPage },
  { pattern: /^topics\/[^/]+\/produce$/, section: 'topics', page: producePage },
  { pattern: /^topics\/[^/]+\/tail$/, section: 'topics', page: tailPage },
  { pattern: /^groups$/, section: 'groups', page: groupsPage },
  { pattern: /^groups\/[^/]+$/, section: 'groups', page: groupPage }
]

const view = /** @type {HTMLElement} */ (document.getElementById('view'))
/** @type {(() => void) | undefined} */
let leave
let navigation = 0

/** Renders the page the location's hash names (#/topics when it names none). */
async function render () {
  const hash = window.location.hash.replace(/^#\/?/, '')
  const [pathText = '', queryText = ''] = hash.split('?')
  const match = ROUTES.find(route => route.pattern.test(pathText))
  if (match === undefined) {
    window.location.replace('#/topics')
    return
  }
  leave?.()
  leave = undefined
  const current = ++navigation
  for (const link of document.querySelectorAll('nav a[data-section]')) {
    if (link.getAttribute('data-section') === match.section) link.setAttribute('aria-current', 'page')
    else link.removeAttribute('aria-current')
  }
  // Each visit renders into its own element: a slow page the user has already left fills a
  // detached element instead of overwriting the page that replaced it.
  const page = h('div', { class: 'page' })
  replace(view, page)
  view.setAttribute('aria-busy', 'true')
  try {
    const path = pathText.split('/').map(segment => decodeURIComponent(segment))
    const cleanup = await match.page(page, { path, query: new URLSearchParams(queryText) })
    if (typeof cleanup === 'function') {
      // The user may have moved on while this page loaded: leave it at once.
      if (current === navigation) leave = cleanup
      else cleanup()
    }
  } catch (err) {
    if (current === navigation) replace(page, errorNotice(err))
  } finally {
    if (current === navigation) {
      view.removeAttribute('aria-busy')
      // Move focus to the new page's heading so keyboard and screen-reader users start there.
      const heading = view.querySelector('h1')
      if (heading instanceof window.HTMLElement && document.activeElement === document.body) heading.focus({ preventScroll: true })
    }
  }
}

/** The header's "cluster … · Logway x.y.z", from GET /health and GET /v3/clusters. */
async function showServer () {
  const info = /** @type {HTMLElement} */ (document.getElementById('server-info'))
  try {
    const [health, id] = await Promise.all([api('/health'), clusterId()])
    info.textContent = `Cluster ${id} · Logway ${health.version}`
    info.classList.remove('offline')
  } catch (err) {
    info.textContent = `Server unavailable: ${err instanceof Error ? err.message : String(err)}`
    info.classList.add('offline')
  }
}

window.addEventListener('hashchange', () => { render() })
showServer()
render()
