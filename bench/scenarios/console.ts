/**
 * The web console (`--console`, and then alone; SQLite), on a server of its own
 * (`serve/fleetjobs-console.ts`) holding 10,000 jobs and 1,000,000 executions, one job of them with
 * 100,000 executions:
 *
 * - `console.update-with-console.c16`: UpdateJobExecution as `http.update` sends it, at 16 connections,
 *   while a headless Chromium tab shows the console's page of the 100,000-execution job (live: every
 *   coalesced `changed` event refetches DescribeJob and a page of 100 executions) and `/metrics` is
 *   scraped every second. Baseline: the same load on the same server with no tab open and no scrape.
 *   5 rounds, each a pair in alternating order (without, with; with, without; …); the figures are the
 *   medians of each side, and (`….paired`) the median of the rounds' own with ÷ without. Aim: ≥ 0.95.
 *   The tab's Chromium runs at the lowest CPU priority (`nice -n 19`): an operator's browser runs on the
 *   operator's machine, and on this 2-core one it would otherwise take its rendering time from the
 *   server and the load generator, which is not what fleetjobs costs.
 * - `console.update-cpu-with-console.c16`: the server process's CPU per answered update in the same
 *   rounds, with against without: what the console costs fleetjobs itself, apart from what the browser
 *   takes from a shared machine.
 * - `console.first-paint`: the console's first-contentful-paint, cold (a new browser context), at
 *   `/console/#/jobs`. Baseline: a trivial static page from a bare node:http server in this process,
 *   same browser, same run. Median of 5.
 * - `console.jobs-usable`: from navigation start to the first page of jobs on screen (the page's
 *   `fleetjobs:jobs-usable` User Timing mark, read in the page). Baseline: the trivial page's load
 *   event. Median of 5.
 *
 * With `--quick`: 1,000 jobs, 100,000 executions (10,000 in the big job), 1 round, 1 load each.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import type { Browser } from 'playwright-core'
import { chromium } from 'playwright-core'
import { ACCOUNT, REGION, dataPlane } from '../lib/aws-requests.js'
import { ServerProcess } from '../lib/children.js'
import { cycle, runLoad } from '../lib/load.js'
import type { Figure, LoadStats, Scenario, ScenarioContext } from '../lib/types.js'
import { speedRatio } from '../lib/types.js'
import type { ConsoleSeedArgs, ConsoleSeedResult, ConsoleServerConfig } from '../serve/fleetjobs-console.js'

/** Headless Chromium on this closed network (as test/console/browser.ts launches it). */
const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

const UPDATE = 'console.update-with-console.c16'
const UPDATE_CPU = 'console.update-cpu-with-console.c16'
const PAINT = 'console.first-paint'
const USABLE = 'console.jobs-usable'
const CHROMIUM = process.env['FLEETJOBS_CHROMIUM'] ?? '/usr/bin/chromium'
const CONNECTIONS = 16
const SCRAPE_INTERVAL_MS = 1_000
/** Bound of one seed call: 1,000,000 rows and the server's restart. */
const SEED_LIMIT_MS = 600_000

export const consoleFamily: Scenario = {
  family: 'console',
  flag: 'console',
  points: () => [UPDATE, UPDATE_CPU, PAINT, USABLE],
  async run(ctx) {
    if (![UPDATE, UPDATE_CPU, PAINT, USABLE].some((p) => ctx.wants(p))) return
    if (!existsSync(CHROMIUM))
      throw new Error(`--console needs Chromium at ${CHROMIUM}: apt-get install chromium`)
    const quick = ctx.options.quick
    const seed: ConsoleSeedArgs = quick
      ? { progressThings: 1_000, bigJobExecutions: 10_000, jobs: 1_000, executions: 100_000 }
      : { progressThings: 1_000, bigJobExecutions: 100_000, jobs: 10_000, executions: 1_000_000 }
    const config: ConsoleServerConfig = { region: REGION, accountId: ACCOUNT }
    const server = await ServerProcess.start('fleetjobs-console', 'fleetjobs-console', config)
    ctx.log(
      `started fleetjobs-console (pid ${server.pid}); seeding ${seed.jobs} jobs, ${seed.executions} executions`,
    )
    const browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: CHROMIUM_ARGS,
    })
    // The tab of the update point: the same Chromium behind `nice -n 19` (see the header).
    const niceDir = mkdtempSync(join(tmpdir(), 'fleetjobs-bench-chromium-'))
    const niced = join(niceDir, 'chromium')
    writeFileSync(niced, `#!/bin/sh\nexec nice -n 19 ${CHROMIUM} "$@"\n`, { mode: 0o755 })
    const nicedBrowser = await chromium.launch({
      executablePath: niced,
      headless: true,
      args: CHROMIUM_ARGS,
    })
    try {
      const seeded = await withLimit(server.call<ConsoleSeedResult>('seed', seed), SEED_LIMIT_MS, 'seeding')
      ctx.log(
        `seeded ${seeded.jobs} jobs, ${seeded.executions} executions in ${(seeded.ms / 1000).toFixed(1)} s (untimed)`,
      )
      const { url, dataPlaneUrl } = seeded.info
      if (ctx.wants(PAINT) || ctx.wants(USABLE)) await paintPoints(ctx, browser, url, quick ? 1 : 5)
      if (ctx.wants(UPDATE))
        await updatePoint(ctx, server, nicedBrowser, url, dataPlaneUrl, seed.progressThings, quick ? 1 : 5)
    } finally {
      await nicedBrowser.close()
      rmSync(niceDir, { recursive: true, force: true })
      await browser.close()
      await server.close()
    }
  },
}

async function updatePoint(
  ctx: ScenarioContext,
  server: ServerProcess,
  browser: Browser,
  url: string,
  dataPlaneUrl: string,
  things: number,
  rounds: number,
): Promise<void> {
  const requests = Array.from({ length: things }, (_, i) =>
    dataPlane.updateJobExecution(`bench-u-${String(i).padStart(4, '0')}`, 'bench-progress'),
  )
  const { durationS, warmupS } = ctx.options
  const without: LoadStats[] = []
  const withConsole: LoadStats[] = []
  // The server's own CPU per answered request: what the console costs fleetjobs, whatever the
  // browser and the other processes of a shared machine take.
  const cpuWithout: number[] = []
  const cpuWith: number[] = []
  const measured = async (into: number[]): Promise<LoadStats> => {
    if (warmupS > 0)
      await runLoad({
        url: dataPlaneUrl,
        connections: CONNECTIONS,
        durationS: warmupS,
        next: cycle(requests),
      })
    const before = await server.call<number>('cpuMs')
    const stats = await runLoad({
      url: dataPlaneUrl,
      connections: CONNECTIONS,
      durationS,
      next: cycle(requests),
    })
    into.push((((await server.call<number>('cpuMs')) - before) * 1000) / Math.max(1, stats.ok))
    return stats
  }
  let refetches = 0
  let scrapes = 0
  let scrapeStatus = 0
  const withTab = async (): Promise<void> => {
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const page = await context.newPage()
    let requestsSeen = 0
    page.on('request', (r) => {
      if (r.url().includes('/console/api/aws/')) requestsSeen += 1
    })
    await page.goto(`${url}/console/#/jobs/bench-big`)
    await page.locator('table[aria-label=executions] tbody tr').first().waitFor({ timeout: 60_000 })
    await page.locator('[data-live=live]').waitFor({ timeout: 30_000 })
    requestsSeen = 0
    let scraping = true
    const scraper = (async () => {
      while (scraping) {
        const res = await fetch(`${url}/metrics`).catch(() => undefined)
        if (res !== undefined) {
          scrapeStatus = res.status
          await res.arrayBuffer()
          scrapes += 1
        }
        await new Promise((r) => setTimeout(r, SCRAPE_INTERVAL_MS))
      }
    })()
    try {
      withConsole.push(await measured(cpuWith))
    } finally {
      scraping = false
      await scraper
      refetches += requestsSeen
      await context.close()
    }
    ctx.log(
      `${UPDATE} with console     ${withConsole.at(-1)!.rps.toFixed(0).padStart(7)} req/s (${requestsSeen} console API calls, /metrics ${scrapeStatus})`,
    )
  }
  const withoutTab = async (): Promise<void> => {
    without.push(await measured(cpuWithout))
    ctx.log(`${UPDATE} without console  ${without.at(-1)!.rps.toFixed(0).padStart(7)} req/s`)
  }
  // Pairs in alternating order (without, with; with, without; …), so that a drift of the machine's
  // load weighs on both sides alike.
  for (let round = 0; round < rounds; round += 1) {
    if (round % 2 === 0) {
      await withoutTab()
      await withTab()
    } else {
      await withTab()
      await withoutTab()
    }
    ctx.log(
      `${UPDATE} round ${round + 1}: with ÷ without ${(withConsole.at(-1)!.rps / without.at(-1)!.rps).toFixed(2)}`,
    )
  }
  const a = median(withConsole.map((s) => s.rps))
  const b = median(without.map((s) => s.rps))
  ctx.log(
    `${UPDATE}: ${refetches} console API calls over ${rounds} round(s), ${scrapes} /metrics scrapes (last status ${scrapeStatus})`,
  )
  record(ctx, UPDATE, a, 'req/s', 'higher', b, 'same server, no console tab, no scrape')
  const paired = median(withConsole.map((w, i) => w.rps / without[i]!.rps))
  record(ctx, `${UPDATE}.paired`, paired, 'ratio', 'higher', 1, 'median of the rounds’ with ÷ without')
  record(
    ctx,
    UPDATE_CPU,
    median(cpuWith),
    'µs CPU/req',
    'lower',
    median(cpuWithout),
    "the server's CPU per update without console and scrape",
  )
  const failed = [...without, ...withConsole].reduce((n, s) => n + s.failed + s.errors, 0)
  if (failed > 0) ctx.recordFailure(`${UPDATE}: ${failed} requests failed`)
}

async function paintPoints(ctx: ScenarioContext, browser: Browser, url: string, reps: number): Promise<void> {
  const trivial = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    res.end(
      '<!doctype html><html><head><title>t</title></head><body><h1>fleetjobs</h1><p>a trivial page</p></body></html>',
    )
  })
  await new Promise<void>((resolve) => trivial.listen(0, '127.0.0.1', resolve))
  const trivialUrl = `http://127.0.0.1:${(trivial.address() as AddressInfo).port}/`
  try {
    const consoleTimes: { paint: number; usable: number }[] = []
    const trivialTimes: { paint: number; usable: number }[] = []
    for (let i = 0; i < reps; i += 1) {
      trivialTimes.push(await timePage(browser, trivialUrl, undefined))
      consoleTimes.push(await timePage(browser, `${url}/console/#/jobs`, 'fleetjobs:jobs-usable'))
      ctx.log(
        `console load ${i + 1}: first paint ${consoleTimes.at(-1)!.paint.toFixed(0)} ms, jobs usable ${consoleTimes.at(-1)!.usable.toFixed(0)} ms; trivial page ${trivialTimes.at(-1)!.paint.toFixed(0)} / ${trivialTimes.at(-1)!.usable.toFixed(0)} ms`,
      )
    }
    record(
      ctx,
      PAINT,
      median(consoleTimes.map((t) => t.paint)),
      'ms',
      'lower',
      median(trivialTimes.map((t) => t.paint)),
      'a trivial static page',
    )
    record(
      ctx,
      USABLE,
      median(consoleTimes.map((t) => t.usable)),
      'ms',
      'lower',
      median(trivialTimes.map((t) => t.usable)),
      "a trivial static page's load event",
    )
  } finally {
    await new Promise((resolve) => trivial.close(resolve))
  }
}

/**
 * A cold load (new context): first-contentful-paint, and when the page was usable, both from
 * navigation start and both read in the page (no driver round trip in them): the console's
 * `fleetjobs:jobs-usable` mark (its first job rows on screen), or a static page's load event.
 */
async function timePage(
  browser: Browser,
  url: string,
  usableMark: string | undefined,
): Promise<{ paint: number; usable: number }> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  try {
    const page = await context.newPage()
    await page.goto(url, { waitUntil: 'load' })
    await page.waitForFunction(() => performance.getEntriesByName('first-contentful-paint').length > 0)
    // A function, not a string: the console's Content-Security-Policy refuses eval.
    if (usableMark !== undefined)
      await page.waitForFunction((mark) => performance.getEntriesByName(mark).length > 0, usableMark, {
        timeout: 60_000,
      })
    const times = await page.evaluate<{ paint: number; usable: number }>(`(() => {
      const fcp = performance.getEntriesByName('first-contentful-paint')[0]
      const nav = performance.getEntriesByType('navigation')[0]
      const mark = ${JSON.stringify(usableMark ?? '')} === '' ? undefined : performance.getEntriesByName(${JSON.stringify(usableMark ?? '')})[0]
      return { paint: fcp ? fcp.startTime : -1, usable: mark ? mark.startTime : nav ? nav.loadEventEnd : -1 }
    })()`)
    return times
  } finally {
    await context.close()
  }
}

function record(
  ctx: ScenarioContext,
  name: string,
  value: number,
  unit: string,
  better: 'higher' | 'lower',
  baseline: number,
  baselineName: string,
): void {
  const figure: Figure = {
    name,
    value,
    unit,
    better,
    baseline,
    baselineName,
    ratio: speedRatio(value, baseline, better),
  }
  ctx.recordFigure(figure)
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

function withLimit<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    work.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms)
    }),
  ])
}
