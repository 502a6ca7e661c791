/**
 * Maintenance windows (`schedulingConfig.maintenanceWindows`, a newer member) through the real AWS SDK
 * clients on the virtual clock: a job rolls out only inside its windows — SCHEDULED outside them,
 * IN_PROGRESS inside, back to SCHEDULED when a window closes with the rollout unfinished —, DescribeJob's
 * `scheduledJobRollouts` (the next seven window starts), windows together with startTime, and the
 * validation of the cron expression and the duration.
 * [spec: newer-in-latest-sdk#control-plane] [spec: state-machines#1] [spec: state-machines#5] [spec: test-clock#3]
 */
import { InvalidRequestException, ListJobExecutionsForJobCommand } from '@aws-sdk/client-iot'
import type { CreateJobCommandInput, Job } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { createJob, describeJob, isError, report } from '../../support/device.js'
import { executionFacts } from '../../support/lifecycle.js'
import { assertDeviceSeesPending, executionStates } from '../../support/thing-groups.js'
import {
  DAY_S,
  MINUTE_S,
  SECOND_MS,
  advance,
  advanceTo,
  createFleet,
  recordCount,
  thingsWithExecutions,
  virtualHarness,
} from '../../support/clock.js'

const MINUTE_MS = 60 * SECOND_MS
/** A minute of a day in January 2030, UTC: `jan(2, 2)` is 2030-01-02T02:00Z. The clock starts on Jan 1 12:00. */
const jan = (day: number, hour: number, minute = 0): number => Date.UTC(2030, 0, day, hour, minute)

/** Every day at 02:00 UTC for `durationInMinutes`. */
const nightly = (durationInMinutes: number): Partial<CreateJobCommandInput> => ({
  schedulingConfig: { maintenanceWindows: [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes }] },
})

/** `scheduledJobRollouts` of DescribeJob (a member newer than the 2022 model). */
async function scheduledJobRollouts(h: Harness, jobId: string): Promise<Job['scheduledJobRollouts']> {
  return (await describeJob(h, jobId)).scheduledJobRollouts
}

/** The queuedAt of each execution of the job, as ISO `YYYY-MM-DDTHH:MM`, sorted. */
async function queuedTimes(h: Harness, jobId: string): Promise<string[]> {
  const out = await h.iot.send(new ListJobExecutionsForJobCommand({ jobId, maxResults: 250 }))
  return (out.executionSummaries ?? [])
    .map((s) => s.jobExecutionSummary?.queuedAt?.toISOString().slice(0, 16) ?? 'none')
    .sort()
}

describe('Rollout inside maintenance windows [spec: newer-in-latest-sdk#control-plane] [spec: state-machines#1]', () => {
  it('created outside its windows the job is SCHEDULED with no executions; when a window opens it is IN_PROGRESS and rolls out', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 3)
    const jobId = await createJob(h, things, nightly(60))
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
    assert.equal(await recordCount(h, jobId), 0)
    await advanceTo(h, jan(2, 2) - SECOND_MS)
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
    assert.equal(await recordCount(h, jobId), 0)
    await advance(h, 1)
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    assert.deepEqual(await thingsWithExecutions(h, jobId), things)
    assert.deepEqual(
      await queuedTimes(h, jobId),
      things.map(() => '2030-01-02T02:00'),
    )
    // Its rollout finished: the window's end leaves it IN_PROGRESS, and it completes as any job.
    await advanceTo(h, jan(2, 4))
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    for (const thingName of things) await report(h, jobId, thingName, 'SUCCEEDED')
    assert.equal((await describeJob(h, jobId)).status, 'COMPLETED')
  })

  it('a paced rollout creates executions only inside the windows: SCHEDULED again when a window closes with things left, IN_PROGRESS at the next', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 8)
    const jobId = await createJob(h, things, {
      ...nightly(5),
      jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
    })
    await advanceTo(h, jan(2, 2, 4))
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    assert.equal(await recordCount(h, jobId), 5)
    await advance(h, MINUTE_S)
    const paused = await describeJob(h, jobId)
    assert.equal(paused.status, 'SCHEDULED', 'the window closed at 02:05 with three things left')
    assert.equal(paused.lastUpdatedAt?.getTime(), jan(2, 2, 5))
    await advanceTo(h, jan(3, 2) - SECOND_MS)
    assert.equal(await recordCount(h, jobId), 5)
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
    await advance(h, 1)
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    await advance(h, DAY_S)
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS', 'finished on Jan 3: no pause any more')
    assert.deepEqual(await thingsWithExecutions(h, jobId), things)
    assert.deepEqual(await queuedTimes(h, jobId), [
      '2030-01-02T02:00',
      '2030-01-02T02:01',
      '2030-01-02T02:02',
      '2030-01-02T02:03',
      '2030-01-02T02:04',
      '2030-01-03T02:00',
      '2030-01-03T02:01',
      '2030-01-03T02:02',
    ])
  })

  it('[spec: test-clock#3] one advance over several windows runs the rollout only inside them, and ends SCHEDULED when unfinished', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 14)
    const jobId = await createJob(h, things, {
      ...nightly(3),
      jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
    })
    await advance(h, 2 * DAY_S)
    const twice = (day: number, minute: number) => Array(2).fill(`2030-01-0${day}T02:0${minute}`) as string[]
    assert.deepEqual(await queuedTimes(h, jobId), [
      ...twice(2, 0),
      ...twice(2, 1),
      ...twice(2, 2),
      ...twice(3, 0),
      ...twice(3, 1),
      ...twice(3, 2),
    ])
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 12))
  })

  it('created inside a window, the job is IN_PROGRESS at once', async (t) => {
    const h = await virtualHarness(t, { clockStartMs: jan(2, 2, 30) })
    const things = await createFleet(h, 2)
    const jobId = await createJob(h, things, nightly(60))
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    assert.deepEqual(await thingsWithExecutions(h, jobId), things)
  })

  it('executions created inside a window stay with their devices while the job waits for the next one', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 4)
    const jobId = await createJob(h, things, {
      ...nightly(2),
      jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
    })
    await advanceTo(h, jan(2, 3))
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
    assert.deepEqual(await executionStates(h, jobId), [`${things[0]}#1:QUEUED`, `${things[1]}#1:QUEUED`])
    await assertDeviceSeesPending(h, jobId, things)
    await report(h, jobId, things[0] ?? '', 'SUCCEEDED')
    assert.equal(await executionFacts(h, jobId, things[0] ?? ''), `SUCCEEDED/v2/force=false/at=${jan(2, 3)}`)
  })

  it('with a startTime, the rollout begins at the first window open at or after startTime', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 2)
    const later = await createJob(h, things, {
      schedulingConfig: {
        startTime: '2030-01-02T01:00',
        maintenanceWindows: [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes: 60 }],
      },
    })
    const inside = await createJob(h, things, {
      schedulingConfig: {
        startTime: '2030-01-02T02:30',
        maintenanceWindows: [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes: 60 }],
      },
    })
    await advanceTo(h, jan(2, 1, 30))
    assert.equal((await describeJob(h, later)).status, 'SCHEDULED', 'startTime passed, no window open')
    assert.equal(await recordCount(h, later), 0)
    await advanceTo(h, jan(2, 2))
    assert.equal((await describeJob(h, later)).status, 'IN_PROGRESS')
    assert.equal(
      (await describeJob(h, inside)).status,
      'SCHEDULED',
      'the window is open, startTime is not reached',
    )
    await advance(h, DAY_S)
    assert.deepEqual(await queuedTimes(h, later), ['2030-01-02T02:00', '2030-01-02T02:00'])
    assert.deepEqual(await queuedTimes(h, inside), ['2030-01-02T02:30', '2030-01-02T02:30'])
  })
})

describe('scheduledJobRollouts [spec: newer-in-latest-sdk#control-plane]', () => {
  it('DescribeJob lists the next seven window starts, and the list moves with the clock', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 10)
    const jobId = await createJob(h, things, {
      ...nightly(1),
      jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
    })
    const week = (firstDay: number) =>
      Array.from({ length: 7 }, (_, i) => ({
        startTime: new Date(jan(firstDay + i, 2)).toISOString().slice(0, 16),
      }))
    assert.deepEqual(await scheduledJobRollouts(h, jobId), week(2))
    await advanceTo(h, jan(2, 2) + 2 * MINUTE_MS)
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
    assert.deepEqual(await scheduledJobRollouts(h, jobId), week(3))
  })
})

describe('Validation of maintenanceWindows [spec: newer-in-latest-sdk#control-plane]', () => {
  const invalid: [string, { startTime: string; durationInMinutes: number }, string][] = [
    ['a rate expression', { startTime: 'rate(5 minutes)', durationInMinutes: 60 }, 'startTime'],
    ['both day fields given', { startTime: 'cron(0 2 * * * *)', durationInMinutes: 60 }, 'startTime'],
    ['minute 61', { startTime: 'cron(61 2 * * ? *)', durationInMinutes: 60 }, 'startTime'],
    ['five fields', { startTime: 'cron(0 2 * * ?)', durationInMinutes: 60 }, 'startTime'],
    ['durationInMinutes 0', { startTime: 'cron(0 2 * * ? *)', durationInMinutes: 0 }, 'durationInMinutes'],
    [
      'durationInMinutes 1431',
      { startTime: 'cron(0 2 * * ? *)', durationInMinutes: 1431 },
      'durationInMinutes',
    ],
  ]
  for (const [what, window, member] of invalid) {
    it(`${what}: 400 InvalidRequestException naming schedulingConfig.maintenanceWindows[0].${member}; nothing created`, async (t) => {
      const h = await virtualHarness(t)
      const things = await createFleet(h, 1)
      await assert.rejects(
        createJob(h, things, { jobId: 'refused', schedulingConfig: { maintenanceWindows: [window] } }),
        (e: unknown) => {
          isError(InvalidRequestException, 400)(e)
          const message = (e as Error).message
          assert.ok(message.includes(`schedulingConfig.maintenanceWindows[0].${member}`), message)
          return true
        },
      )
      await assert.rejects(describeJob(h, 'refused'))
    })
  }

  it('the limits are accepted: durationInMinutes 1 and 1430', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 1)
    for (const durationInMinutes of [1, 1430]) {
      const jobId = await createJob(h, things, {
        schedulingConfig: { maintenanceWindows: [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes }] },
      })
      assert.deepEqual((await describeJob(h, jobId)).schedulingConfig, {
        maintenanceWindows: [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes }],
      })
    }
  })
})
