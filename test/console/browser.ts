/**
 * Headless Chromium for the console's end-to-end tests: Debian's `chromium` package driven by
 * playwright-core (no browser download). Missing chromium fails the test with how to install it; it is
 * never a skip. Screenshots go to $TMPDIR/fleetjobs-console-screenshots, or to FLEETJOBS_SCREENSHOTS
 * (`docs/images` makes the ones the docs use).
 */
import { existsSync, mkdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import type { Browser, BrowserContext, Page } from 'playwright-core'
import { chromium } from 'playwright-core'

export const CHROMIUM = process.env['FLEETJOBS_CHROMIUM'] ?? '/usr/bin/chromium'

export interface HeadlessBrowser {
  readonly browser: Browser
  /** A new isolated context (its own cookies) and page, 1280×800. */
  page(): Promise<{ context: BrowserContext; page: Page }>
  /** Writes `name` (e.g. `console-jobs.png`) to the screenshot folder; returns its path. */
  screenshot(page: Page, name: string): Promise<string>
  close(): Promise<void>
}

export async function launchBrowser(): Promise<HeadlessBrowser> {
  if (!existsSync(CHROMIUM))
    throw new Error(
      `the console tests need Chromium at ${CHROMIUM}: install Debian's package with \`apt-get install chromium\` (or set FLEETJOBS_CHROMIUM to a Chromium binary)`,
    )
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // No --user-data-dir: playwright refuses it in `launch`, and gives every launch a fresh profile
      // of its own in a temporary folder, removed when the browser closes.
    ],
  })
  const shots = process.env['FLEETJOBS_SCREENSHOTS']
  // One folder overwritten by every run (no pile of temporary folders), there to look at after a run.
  const dir =
    shots === undefined || shots === '' ? join(tmpdir(), 'fleetjobs-console-screenshots') : resolve(shots)
  mkdirSync(dir, { recursive: true })
  return {
    browser,
    page: async () => {
      const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
      context.setDefaultTimeout(20_000)
      const page = await context.newPage()
      return { context, page }
    },
    screenshot: async (page, name) => {
      const path = join(dir, name)
      await page.screenshot({ path, fullPage: false })
      return path
    },
    close: async () => {
      await browser.close()
    },
  }
}
