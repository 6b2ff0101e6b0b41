import { existsSync } from 'node:fs'
import { chromium, type Browser, type BrowserContextOptions, type Page } from 'playwright-core'
import type { Test } from 'tap'

/**
 * Debian's chromium, driven by playwright-core. Browser tests never download
 * a browser (`npx playwright install`): without this one they are skipped.
 */
export const CHROMIUM = '/usr/bin/chromium'

/** tap's `skip` option for a test that needs Chromium: false, or why it is skipped. */
export const skipWithoutChromium: false | string = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is missing: install Debian's chromium to run the browser tests`

/** Starts headless Chromium; close it at teardown. */
export async function launchChromium (): Promise<Browser> {
  return await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking']
  })
}

/**
 * A page in a fresh browser context that is closed at `t`'s teardown (before
 * the teardowns registered earlier, such as the server's, so the page's
 * connections end first). An uncaught exception in the page fails `t`, and
 * every wait of the page is bounded by `timeoutMs`.
 */
export async function openPage (t: Test, browser: Browser, options: BrowserContextOptions = {}, timeoutMs = 10_000): Promise<Page> {
  const context = await browser.newContext(options)
  context.setDefaultTimeout(timeoutMs)
  t.teardown(async () => { await context.close() })
  const page = await context.newPage()
  page.on('pageerror', err => t.fail(`uncaught error in the page: ${err.message}`))
  return page
}
