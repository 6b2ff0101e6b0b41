// A few helpers to build the page with DOM nodes. Text always goes in as text nodes, never as
// HTML: keys, values and headers come from whoever produced them.

/**
 * @typedef {Node | string | number | null | undefined | false | Child[]} Child
 */

/**
 * Creates an element. Props named on* add event listeners, `value` and `checked` set the
 * property (of elements other than input), anything else sets an attribute (true for a bare one; null, undefined and false
 * for none).
 * @param {string} tag
 * @param {Record<string, unknown>} [props]
 * @param {...Child} children
 * @returns {HTMLElement}
 */
export function h (tag, props = {}, ...children) {
  const el = document.createElement(tag)
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null || value === false) continue
    if (name.startsWith('on') && typeof value === 'function') {
      el.addEventListener(name.slice(2).toLowerCase(), /** @type {EventListener} */ (value))
    } else if ((name === 'value' || name === 'checked') && tag !== 'input') {
      // An input's value attribute is its default too (what form.reset() restores); other
      // elements (textarea, select) only have the property.
      /** @type {any} */ (el)[name] = value
    } else {
      el.setAttribute(name, value === true ? '' : String(value))
    }
  }
  append(el, children)
  return el
}

/** Appends children (nested arrays flattened; null, undefined and false skipped). */
export function append (/** @type {Node} */ parent, /** @type {Child[]} */ ...children) {
  for (const child of children) {
    if (child === null || child === undefined || child === false) continue
    if (Array.isArray(child)) append(parent, ...child)
    else parent.appendChild(typeof child === 'object' ? child : document.createTextNode(String(child)))
  }
}

/** Replaces every child of `parent`. */
export function replace (/** @type {Node} */ parent, /** @type {Child[]} */ ...children) {
  while (parent.firstChild !== null) parent.removeChild(parent.firstChild)
  append(parent, children)
}

/**
 * A message box: errors are alerts (read out at once), other messages a polite status.
 * @param {'error' | 'success' | 'info'} kind
 * @param {...Child} children
 */
export function notice (kind, ...children) {
  return h('div', { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, ...children)
}

/** An error as the server described it: its message, and its stable code when it sent one. */
export function errorNotice (/** @type {unknown} */ err) {
  if (err instanceof Error && 'code' in err && typeof err.code === 'string') {
    return notice('error', err.message, ' ', h('code', { class: 'error-code' }, err.code))
  }
  return notice('error', err instanceof Error ? err.message : String(err))
}

/**
 * A data table with a caption (its accessible name).
 * @param {string} caption
 * @param {string[]} columns
 * @param {Child[][]} rows
 * @param {{ numeric?: number[], captionHidden?: boolean }} [options] columns whose cells align right
 */
export function table (caption, columns, rows, { numeric = [], captionHidden = false } = {}) {
  const cls = (/** @type {number} */ i) => numeric.includes(i) ? 'num' : undefined
  return h('div', { class: 'table-wrap' },
    h('table', {},
      h('caption', { class: captionHidden ? 'visually-hidden' : undefined }, caption),
      h('thead', {}, h('tr', {}, columns.map((column, i) => h('th', { scope: 'col', class: cls(i) }, column)))),
      h('tbody', {}, rows.map(row => h('tr', {}, row.map((cell, i) => h('td', { class: cls(i) }, cell)))))))
}

/** A labelled form field: the label wraps nothing, it points at the control by id. */
export function field (/** @type {string} */ label, /** @type {HTMLElement} */ control, /** @type {Child} */ hint = null) {
  const id = control.id !== '' ? control.id : uniqueId('field')
  control.id = id
  const hintId = hint === null ? undefined : `${id}-hint`
  if (hintId !== undefined) control.setAttribute('aria-describedby', hintId)
  return h('div', { class: 'field' },
    h('label', { for: id }, label),
    control,
    hintId === undefined ? null : h('p', { class: 'hint', id: hintId }, hint))
}

let counter = 0
/** An id no other element of the page has. */
export function uniqueId (/** @type {string} */ prefix) {
  counter += 1
  return `${prefix}-${counter}`
}

/**
 * Asks for confirmation in a modal dialog.
 * @param {string} title the dialog's heading
 * @param {string} text
 * @param {string} confirmLabel the label of the button that confirms
 * @returns {Promise<boolean>} whether the user confirmed
 */
export function confirmDialog (title, text, confirmLabel) {
  return new Promise(resolve => {
    const headingId = uniqueId('dialog-title')
    const dialog = /** @type {HTMLDialogElement} */ (h('dialog', { 'aria-labelledby': headingId, class: 'dialog' }))
    const close = (/** @type {boolean} */ confirmed) => {
      dialog.close()
      dialog.remove()
      resolve(confirmed)
    }
    append(dialog, [
      h('h2', { id: headingId }, title),
      h('p', {}, text),
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'danger', onclick: () => close(true) }, confirmLabel),
        h('button', { type: 'button', autofocus: true, onclick: () => close(false) }, 'Cancel'))
    ])
    // Cancel has the focus, so a stray Enter deletes nothing; Escape cancels too.
    dialog.addEventListener('cancel', event => { event.preventDefault(); close(false) })
    document.body.appendChild(dialog)
    dialog.showModal()
  })
}

/** Sets the page title and returns the page's heading (focused on navigation for screen readers). */
export function pageHeading (/** @type {string} */ text, /** @type {Child[]} */ ...extra) {
  document.title = `${text} · Logway console`
  return h('h1', { tabindex: '-1' }, text, ...extra)
}
