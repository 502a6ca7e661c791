/**
 * The web console end to end (issue 13): the real server with its embedded MQTT broker, simulated
 * devices (src/simulator/fleet.ts) running the jobs, and headless Chromium using the console as an
 * operator would: create a job from a template for a group, watch its bar move, open a failed
 * execution's details and attempts, delete an execution, cancel and force-cancel jobs. Every outcome
 * is checked in the store through the AWS SDK. Screenshots for docs/console.md and the README.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import {
  AddThingToThingGroupCommand,
  CancelJobCommand,
  CreateJobCommand,
  CreateJobTemplateCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
} from '@aws-sdk/client-iot'
import {
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import type { Page } from 'playwright-core'
import type { Fleet } from '../../src/simulator/fleet.js'
import { startFleet } from '../../src/simulator/fleet.js'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import type { HeadlessBrowser } from './browser.js'
import { launchBrowser } from './browser.js'

/**
 * The little of the DOM that the functions passed to `page.evaluate` use: they run in the browser, and
 * the tests' tsconfig has no DOM library.
 */
interface PageElement {
  getAttribute(name: string): string | null
  querySelectorAll(selector: string): Iterable<PageElement> & { readonly length: number }
}
declare const document: {
  querySelector(selector: string): PageElement | null
  querySelectorAll(selector: string): Iterable<PageElement> & { readonly length: number }
}
declare const location: { hash: string }
declare const window: Record<string, unknown>
declare const CSS: { escape(text: string): string }

const THINGS = 16
const STATUSES = [
  'QUEUED',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
  'TIMED_OUT',
  'CANCELED',
  'REMOVED',
]
const DETAIL_MEMBER: Record<string, string> = {
  QUEUED: 'numberOfQueuedThings',
  IN_PROGRESS: 'numberOfInProgressThings',
  SUCCEEDED: 'numberOfSucceededThings',
  FAILED: 'numberOfFailedThings',
  REJECTED: 'numberOfRejectedThings',
  TIMED_OUT: 'numberOfTimedOutThings',
  CANCELED: 'numberOfCanceledThings',
  REMOVED: 'numberOfRemovedThings',
}

/** The numbers under a job's bar, as the page shows them now. */
function barCounts(page: Page, jobId: string): Promise<Record<string, number>> {
  return page.evaluate((id) => {
    const bar = document.querySelector(`.progress[data-job="${CSS.escape(id)}"]`)
    const counts: Record<string, number> = {}
    for (const el of bar?.querySelectorAll('[data-status]') ?? [])
      counts[el.getAttribute('data-status') ?? ''] = Number(el.getAttribute('data-count'))
    return counts
  }, jobId)
}

describe('web console, end to end in headless Chromium', () => {
  let h: Harness
  let browser: HeadlessBrowser
  let page: Page
  let fleet: Fleet | undefined
  const group = unique('fleet')
  const template = unique('firmware')
  const jobId = unique('rollout')
  const thingNames = Array.from({ length: THINGS }, (_, i) => `${group}-dev-${String(i).padStart(2, '0')}`)
  let consoleUrl: string
  let failed: { thingName: string; executionNumber: number } | undefined

  before(async () => {
    browser = await launchBrowser()
    h = await startHarness({ mqtt: { port: 0 } })
    consoleUrl = `${h.server.url}/console/`
    await h.iot.send(new CreateThingGroupCommand({ thingGroupName: group }))
    for (const thingName of thingNames) {
      await h.iot.send(new CreateThingCommand({ thingName }))
      await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: group, thingName }))
    }
    await h.iot.send(
      new CreateJobTemplateCommand({
        jobTemplateId: template,
        description: 'firmware 2.4.1 for the test fleet',
        document: JSON.stringify({ operation: 'install', firmware: '2.4.1' }),
        jobExecutionsRolloutConfig: { maximumPerMinute: 1000 },
        abortConfig: {
          criteriaList: [
            {
              failureType: 'FAILED',
              action: 'CANCEL',
              thresholdPercentage: 90,
              minNumberOfExecutedThings: 100,
            },
          ],
        },
        timeoutConfig: { inProgressTimeoutInMinutes: 30 },
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 1 }] },
      }),
    )
    // Two earlier jobs on a lab group without devices, so that the list looks like a day's work: one
    // completed (its devices' updates sent here), one canceled.
    const lab = unique('lab')
    const labThings = [0, 1, 2].map((i) => `${lab}-${i}`)
    await h.iot.send(new CreateThingGroupCommand({ thingGroupName: lab }))
    for (const thingName of labThings) {
      await h.iot.send(new CreateThingCommand({ thingName }))
      await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: lab, thingName }))
    }
    const labTarget = [`arn:aws:iot:us-east-1:123456789012:thinggroup/${lab}`]
    const done = unique('config-push')
    await h.iot.send(new CreateJobCommand({ jobId: done, targets: labTarget, document: '{"config":"v7"}' }))
    for (const thingName of labThings)
      await h.data.send(new UpdateJobExecutionCommand({ jobId: done, thingName, status: 'SUCCEEDED' }))
    const stopped = unique('firmware-2-4-0')
    await h.iot.send(
      new CreateJobCommand({
        jobId: stopped,
        targets: labTarget,
        document: '{"firmware":"2.4.0"}',
        timeoutConfig: { inProgressTimeoutInMinutes: 60 },
      }),
    )
    await h.iot.send(new CancelJobCommand({ jobId: stopped, comment: 'superseded by 2.4.1' }))
    ;({ page } = await browser.page())
  })

  after(async () => {
    await fleet?.stop()
    await browser?.close()
    await h?.close()
  })

  it('creates a job from a template for a group, with a confirmation', async () => {
    await page.goto(consoleUrl)
    await page.locator('ul[aria-label=jobs] li').nth(1).waitFor()
    // Devices connect first, and take the job as soon as it is created.
    fleet = await startFleet({
      mqttUrl: h.server.mqttUrl!,
      thingNames,
      outcomes: { success: 0.6, reject: 0.1, crash: 0 },
      durationMs: { min: 2_000, max: 6_000 },
      progressSteps: 2,
      seed: 13,
    })
    assert.equal(fleet.stats().connected, THINGS)
    await page.getByRole('button', { name: 'Create job…' }).click()
    await page.locator('select[name=template]').selectOption(template)
    await page.locator('select[name=group]').selectOption(group)
    await page.locator('input[name=jobId]').fill(jobId)
    await page.getByRole('button', { name: 'Review…' }).click()
    await page.getByText(`Job ${jobId} from template ${template}`).waitFor()
    await page.getByRole('button', { name: 'Confirm: create job' }).click()
    await page.waitForFunction((id) => location.hash === `#/jobs/${id}`, jobId)
    const { job } = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(job?.jobTemplateArn?.endsWith(`jobtemplate/${template}`), true)
    assert.deepEqual(job?.targets, [`arn:aws:iot:us-east-1:123456789012:thinggroup/${group}`])
  })

  it("shows the job's bar moving as devices finish, live, and its numbers match DescribeJob", async () => {
    await page.evaluate(() => {
      location.hash = '#/jobs'
      window['notReloaded'] = true
    })
    await page.locator(`.progress[data-job="${jobId}"]`).waitFor()
    const seen = new Set<number>()
    let shot = false
    const deadline = Date.now() + 60_000
    for (;;) {
      const counts = await barCounts(page, jobId)
      const done = STATUSES.filter((s) => s !== 'QUEUED' && s !== 'IN_PROGRESS').reduce(
        (n, s) => n + (counts[s] ?? 0),
        0,
      )
      const open = (counts['QUEUED'] ?? 0) + (counts['IN_PROGRESS'] ?? 0)
      seen.add(done)
      // Mid-rollout: some done, some not: the picture the README shows.
      if (!shot && done >= 4 && open >= 4) {
        await browser.screenshot(page, 'console-jobs.png')
        shot = true
      }
      const { job } = await h.iot.send(new DescribeJobCommand({ jobId }))
      if (job?.status === 'COMPLETED' && open === 0) {
        const expected = Object.fromEntries(
          STATUSES.map((s) => [s, (job.jobProcessDetails as Record<string, number>)[DETAIL_MEMBER[s]!] ?? 0]),
        )
        if (STATUSES.every((s) => counts[s] === expected[s])) break
      }
      assert.ok(Date.now() < deadline, `the job did not complete on the page: ${JSON.stringify(counts)}`)
      await new Promise((r) => setTimeout(r, 100))
    }
    // The bar went through several states without the page reloading: the events moved it.
    assert.ok(seen.size >= 3, `the bar took ${seen.size} states: ${[...seen].join(', ')}`)
    assert.ok(shot, 'the bar was never seen mid-rollout')
    assert.equal(await page.evaluate(() => window['notReloaded']), true)
    const stats = fleet!.stats()
    assert.ok(stats.failed > 0, `the seeded fleet failed no job: ${JSON.stringify(stats)}`)
    await page.getByText('rollout 1,000/min').first().waitFor()
    await page.getByText('timeout 30 min in progress').first().waitFor()
  })

  it("opens a failed execution's statusDetails and its attempts (retries are new execution numbers)", async () => {
    await page.evaluate((id) => (location.hash = `#/jobs/${id}`), jobId)
    await page.locator('select[name=execution-status]').selectOption('FAILED')
    const row = page.locator('table[aria-label=executions] tbody tr[data-status=FAILED]').first()
    await row.waitFor()
    const thingName = (await row.getAttribute('data-thing'))!
    await row.getByRole('button', { name: 'Details' }).click()
    const details = page.locator(`.execution-details[data-thing="${thingName}"]`)
    await details.locator('table[aria-label="status details"]').getByText('simulated failure').waitFor()
    const executionNumber = Number(await details.getAttribute('data-execution'))
    const { execution } = await h.iot.send(
      new DescribeJobExecutionCommand({ jobId, thingName, executionNumber }),
    )
    assert.equal(execution?.status, 'FAILED')
    for (const [k, v] of Object.entries(execution?.statusDetails?.detailsMap ?? {})) {
      await details.locator('table[aria-label="status details"] tr', { hasText: k }).getByText(v).waitFor()
    }
    const attempts = await h.iot.send(new ListJobExecutionsForThingCommand({ thingName, jobId }))
    const expected = (attempts.executionSummaries ?? []).filter((e) => e.jobId === jobId)
    assert.ok(expected.length >= 2, 'a FAILED execution with a retry budget has a second attempt')
    await page.waitForFunction(
      ([thing, n]) =>
        document.querySelectorAll(
          `.execution-details[data-thing="${thing}"] table[aria-label=attempts] tbody tr`,
        ).length === n,
      [thingName, expected.length] as const,
    )
    await browser.screenshot(page, 'console-job.png')
    failed = { thingName, executionNumber }
  })

  it('deletes an execution after a confirmation', async () => {
    assert.ok(failed !== undefined)
    const details = page.locator(`.execution-details[data-thing="${failed.thingName}"]`)
    await details.getByRole('button', { name: 'Delete execution…' }).click()
    const dialog = page.getByRole('dialog')
    await dialog.getByText(`Delete execution ${failed.executionNumber} of ${failed.thingName}?`).waitFor()
    await dialog.getByRole('button', { name: 'Delete execution', exact: true }).click()
    await dialog.waitFor({ state: 'detached' })
    await assert.rejects(
      h.iot.send(new DescribeJobExecutionCommand({ jobId, ...failed })),
      (e: Error) => e.name === 'ResourceNotFoundException',
    )
    await fleet!.stop()
    fleet = undefined
  })

  it('cancels a job only once confirmed', async () => {
    const second = unique('cancel-me')
    await h.iot.send(
      new CreateJobCommand({
        jobId: second,
        targets: [`arn:aws:iot:us-east-1:123456789012:thinggroup/${group}`],
        document: '{}',
      }),
    )
    await page.evaluate((id) => (location.hash = `#/jobs/${id}`), second)
    await page.getByRole('button', { name: 'Cancel job…' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel', exact: true }).click()
    await page.getByRole('dialog').waitFor({ state: 'detached' })
    assert.equal((await h.iot.send(new DescribeJobCommand({ jobId: second }))).job?.status, 'IN_PROGRESS')
    await page.getByRole('button', { name: 'Cancel job…' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Cancel job', exact: true }).click()
    await page.locator('h1 .badge', { hasText: 'canceled' }).waitFor()
    const { job } = await h.iot.send(new DescribeJobCommand({ jobId: second }))
    assert.equal(job?.status, 'CANCELED')
    assert.equal(job?.jobProcessDetails?.numberOfCanceledThings, THINGS)
  })

  it('force-cancels a job whose executions are in progress', async () => {
    const third = unique('force-me')
    await h.iot.send(
      new CreateJobCommand({
        jobId: third,
        targets: [`arn:aws:iot:us-east-1:123456789012:thinggroup/${group}`],
        document: '{}',
      }),
    )
    const started = await h.data.send(new StartNextPendingJobExecutionCommand({ thingName: thingNames[0]! }))
    assert.equal(started.execution?.jobId, third)
    await page.evaluate((id) => (location.hash = `#/jobs/${id}`), third)
    await page.locator(`.progress[data-job="${third}"] [data-status=IN_PROGRESS][data-count="1"]`).waitFor()
    await page.getByRole('button', { name: 'Force-cancel…' }).click()
    await page.getByRole('dialog').getByRole('button', { name: 'Force-cancel job', exact: true }).click()
    await page
      .locator(`.progress[data-job="${third}"] [data-status=CANCELED][data-count="${THINGS}"]`)
      .waitFor()
    const { job } = await h.iot.send(new DescribeJobCommand({ jobId: third }))
    assert.equal(job?.status, 'CANCELED')
    assert.equal(job?.forceCanceled, true)
    const { execution } = await h.iot.send(
      new DescribeJobExecutionCommand({ jobId: third, thingName: thingNames[0]! }),
    )
    assert.equal(execution?.status, 'CANCELED')
  })

  it('shows things, thing groups (members) and templates', async () => {
    await page.evaluate((g) => (location.hash = `#/groups/${g}`), group)
    await page.locator('ul[aria-label=members]').getByText(thingNames[1]!).waitFor()
    await page.locator('ul[aria-label=members]').getByText(thingNames[1]!).click()
    await page.waitForFunction((t) => location.hash === `#/things/${t}`, thingNames[1]!)
    const list = await h.iot.send(new ListJobExecutionsForThingCommand({ thingName: thingNames[1]! }))
    const rows = page.locator('table[aria-label="thing executions"] tbody tr')
    await page.waitForFunction(
      (n) => document.querySelectorAll('table[aria-label="thing executions"] tbody tr').length === n,
      list.executionSummaries?.length ?? 0,
    )
    assert.ok((await rows.count()) >= 3)
    await page.evaluate(() => (location.hash = '#/templates'))
    await page.getByRole('link', { name: template }).click()
    await page.getByText('"firmware": "2.4.1"').waitFor()
    await page.evaluate(() => (location.hash = '#/things'))
    await page.locator('table[aria-label=things]').getByText(thingNames[0]!).waitFor()
    // The job list's page of executions matches ListJobExecutionsForJob.
    const all = await h.iot.send(new ListJobExecutionsForJobCommand({ jobId, maxResults: 100 }))
    await page.evaluate((id) => (location.hash = `#/jobs/${id}`), jobId)
    await page.waitForFunction(
      (n) => document.querySelectorAll('table[aria-label=executions] tbody tr[data-status]').length === n,
      all.executionSummaries?.length ?? 0,
    )
  })
})
