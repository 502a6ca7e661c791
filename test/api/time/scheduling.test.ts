/**
 * Scheduled jobs (`schedulingConfig`) through the real AWS SDK clients on the virtual clock: a future
 * startTime makes a SCHEDULED job with no executions that starts at exactly startTime (with its rollout,
 * if paced); endTime applies its endBehavior (STOP_ROLLOUT by default, CANCEL, FORCE_CANCEL) at exactly
 * endTime; endBehavior without endTime has no effect; the times are validated against the service's
 * clock, which here is virtual.
 * [spec: state-machines#1] [spec: jobs-control-plane#3.1] [spec: test-clock#1] [spec: test-clock#3]
 */
import {
  CancelJobCommand,
  InvalidRequestException,
  ListJobExecutionsForJobCommand,
  ListJobsCommand,
  UpdateJobCommand,
} from '@aws-sdk/client-iot'
import type { CreateJobCommandInput, SchedulingConfig } from '@aws-sdk/client-iot'
import { GetPendingJobExecutionsCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { createJob, describeJob, isError, report } from '../../support/device.js'
import { executionFacts } from '../../support/lifecycle.js'
import {
  assertCountersMatchRecords,
  createGroup,
  executionStates,
  executionsOf,
} from '../../support/thing-groups.js'
import {
  CLOCK_START_MS,
  DAY_S,
  MINUTE_S,
  SECOND_MS,
  advance,
  advanceTo,
  createFleet,
  createJobOn,
  isoAfter,
  recordCount,
  thingsWithExecutions,
  virtualHarness,
} from '../../support/clock.js'

const MINUTE_MS = 60 * SECOND_MS

const scheduled = (config: SchedulingConfig, extra: Partial<CreateJobCommandInput> = {}) => ({
  schedulingConfig: config,
  ...extra,
})

/** A startTime or endTime `minutes` after the clock's start. */
const at = (minutes: number): string => isoAfter(CLOCK_START_MS, minutes * MINUTE_S)
const instant = (minutes: number): number => CLOCK_START_MS + minutes * MINUTE_MS

async function pendingCount(h: Harness, thingName: string): Promise<number> {
  const out = await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
  return (out.inProgressJobs?.length ?? 0) + (out.queuedJobs?.length ?? 0)
}

describe('A future startTime [spec: state-machines#1] [spec: jobs-control-plane#3.1]', () => {
  it('creates a SCHEDULED job with no executions, which starts at exactly startTime: IN_PROGRESS, its executions queued then', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 3)
    const jobId = await createJob(h, things, scheduled({ startTime: at(45) }))
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'SCHEDULED')
    assert.deepEqual(job.schedulingConfig, { startTime: at(45) })
    const listed = await h.iot.send(new ListJobsCommand({ status: 'SCHEDULED' }))
    assert.deepEqual(
      listed.jobs?.map((j) => j.jobId),
      [jobId],
    )
    assert.equal(await recordCount(h, jobId), 0)
    assert.equal(await pendingCount(h, things[0] ?? ''), 0)

    await advance(h, 45 * MINUTE_S - 1)
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
    assert.equal(await recordCount(h, jobId), 0)
    await advance(h, 1)
    const started = await describeJob(h, jobId)
    assert.equal(started.status, 'IN_PROGRESS')
    assert.equal(started.lastUpdatedAt?.getTime(), instant(45))
    assert.equal(started.createdAt?.getTime(), CLOCK_START_MS)
    const records = await executionsOf(h, jobId)
    assert.deepEqual(
      records.map((r) => `${r.thingName}#${r.executionNumber}:${r.status}`),
      things.map((n) => `${n}#1:QUEUED`),
    )
    const page = await h.iot.send(new ListJobExecutionsForJobCommand({ jobId }))
    for (const s of page.executionSummaries ?? []) {
      assert.equal(s.jobExecutionSummary?.queuedAt?.getTime(), instant(45))
    }
    assert.equal(await pendingCount(h, things[0] ?? ''), 1)
    await assertCountersMatchRecords(h, jobId)
  })

  it('[spec: test-clock#3] one long advance over the start queues the executions at startTime, not at the end of the advance', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 2)
    const jobId = await createJob(h, things, scheduled({ startTime: at(60) }))
    await advance(h, DAY_S)
    assert.equal(await executionFacts(h, jobId, things[1] ?? ''), `QUEUED/v1/force=false/at=${instant(60)}`)
  })

  it('[spec: state-machines#5] a paced job starts its rollout at startTime: the first batch then, the next a minute later', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 5)
    const jobId = await createJob(
      h,
      things,
      scheduled({ startTime: at(30) }, { jobExecutionsRolloutConfig: { maximumPerMinute: 2 } }),
    )
    await advanceTo(h, instant(30))
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 2))
    assert.equal((await describeJob(h, jobId)).isConcurrent, true)
    await advance(h, MINUTE_S)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 4))
    await advance(h, MINUTE_S)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things)
  })

  it('[spec: jobs-control-plane#updatejob] UpdateJob on a SCHEDULED job: the new rollout rate is the one it starts with', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 6)
    const jobId = await createJob(
      h,
      things,
      scheduled({ startTime: at(30) }, { jobExecutionsRolloutConfig: { maximumPerMinute: 1 } }),
    )
    await h.iot.send(new UpdateJobCommand({ jobId, jobExecutionsRolloutConfig: { maximumPerMinute: 4 } }))
    await advanceTo(h, instant(30))
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 4))
  })

  it('[spec: state-machines#10] [open-question 58] a SNAPSHOT job whose targets reach no thing at startTime completes then', async (t) => {
    const h = await virtualHarness(t)
    const group = await createGroup(h)
    const jobId = await createJobOn(h, [group.arn], scheduled({ startTime: at(30) }))
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
    await advance(h, DAY_S)
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'COMPLETED')
    assert.equal(job.completedAt?.getTime(), instant(30))
  })

  it('[spec: jobs-control-plane#canceljob] a SCHEDULED job canceled before its start never starts', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 2)
    const jobId = await createJob(h, things, scheduled({ startTime: at(30) }))
    await advance(h, 10 * MINUTE_S)
    await h.iot.send(new CancelJobCommand({ jobId }))
    await advance(h, DAY_S)
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.lastUpdatedAt?.getTime(), instant(10))
    assert.equal(await recordCount(h, jobId), 0)
  })
})

describe('endTime and endBehavior [spec: state-machines#1] [spec: state-machines#5] [spec: jobs-control-plane#3.1]', () => {
  for (const endBehavior of [undefined, 'STOP_ROLLOUT'] as const) {
    it(`${endBehavior ?? 'no endBehavior (STOP_ROLLOUT)'}: at endTime the rollout stops for good; the job stays IN_PROGRESS and its executions go on`, async (t) => {
      const h = await virtualHarness(t)
      const things = await createFleet(h, 40)
      const jobId = await createJob(
        h,
        things,
        scheduled(
          { endTime: at(31), ...(endBehavior === undefined ? {} : { endBehavior }) },
          { jobExecutionsRolloutConfig: { maximumPerMinute: 1 } },
        ),
      )
      await advanceTo(h, instant(31) - SECOND_MS)
      assert.equal(await recordCount(h, jobId), 31, 'one a minute, minutes 0 to 30')
      await advance(h, 1)
      await advance(h, DAY_S)
      assert.deepEqual(
        await thingsWithExecutions(h, jobId),
        things.slice(0, 31),
        'no batch at or after endTime',
      )
      const job = await describeJob(h, jobId)
      assert.equal(job.status, 'IN_PROGRESS')
      assert.equal(job.isConcurrent, false)
      assert.equal(job.jobProcessDetails?.processingTargets, undefined)
      assert.equal(job.reasonCode, undefined)
      // The executions go on, and the SNAPSHOT job completes when they are done.
      for (const thingName of things.slice(0, 31)) await report(h, jobId, thingName, 'SUCCEEDED')
      assert.equal((await describeJob(h, jobId)).status, 'COMPLETED')
    })
  }

  it('CANCEL: at endTime the job is CANCELED, QUEUED executions CANCELED, IN_PROGRESS ones go on', async (t) => {
    const h = await virtualHarness(t)
    const [a, b, c] = (await createFleet(h, 3)) as [string, string, string]
    const jobId = await createJob(h, [a, b, c], scheduled({ endTime: at(40), endBehavior: 'CANCEL' }))
    await report(h, jobId, a, 'IN_PROGRESS')
    await report(h, jobId, c, 'SUCCEEDED')
    await advanceTo(h, instant(40) - SECOND_MS)
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    await advance(h, DAY_S)
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.forceCanceled, false)
    assert.equal(job.lastUpdatedAt?.getTime(), instant(40))
    assert.equal(await executionFacts(h, jobId, b), `CANCELED/v2/force=false/at=${instant(40)}`)
    assert.equal(await executionFacts(h, jobId, a), `IN_PROGRESS/v2/force=false/at=${CLOCK_START_MS}`)
    await report(h, jobId, a, 'SUCCEEDED')
    assert.deepEqual(await executionStates(h, jobId), [
      `${a}#1:SUCCEEDED`,
      `${b}#1:CANCELED`,
      `${c}#1:SUCCEEDED`,
    ])
    assert.equal((await describeJob(h, jobId)).status, 'CANCELED')
  })

  it('FORCE_CANCEL: at endTime the job is CANCELED with forceCanceled, QUEUED and IN_PROGRESS executions CANCELED (the IN_PROGRESS ones forceCanceled)', async (t) => {
    const h = await virtualHarness(t)
    const [a, b, c] = (await createFleet(h, 3)) as [string, string, string]
    const jobId = await createJob(h, [a, b, c], scheduled({ endTime: at(40), endBehavior: 'FORCE_CANCEL' }))
    await report(h, jobId, a, 'IN_PROGRESS')
    await report(h, jobId, c, 'SUCCEEDED')
    await advance(h, DAY_S)
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.forceCanceled, true)
    assert.equal(job.lastUpdatedAt?.getTime(), instant(40))
    assert.equal(await executionFacts(h, jobId, a), `CANCELED/v3/force=true/at=${instant(40)}`)
    // As CancelJob with force: only the executions that were IN_PROGRESS are forceCanceled.
    assert.equal(await executionFacts(h, jobId, b), `CANCELED/v2/force=false/at=${instant(40)}`)
    assert.equal(await executionFacts(h, jobId, c), `SUCCEEDED/v2/force=false/at=${CLOCK_START_MS}`)
    await assertCountersMatchRecords(h, jobId)
  })

  it('startTime and endTime: the job starts at startTime and its endBehavior applies at endTime', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(
      h,
      [a, b],
      scheduled({ startTime: at(60), endTime: at(120), endBehavior: 'CANCEL' }),
    )
    await advanceTo(h, instant(61))
    await report(h, jobId, a, 'IN_PROGRESS')
    await advance(h, DAY_S)
    assert.deepEqual(await executionStates(h, jobId), [`${a}#1:IN_PROGRESS`, `${b}#1:CANCELED`])
    assert.equal(await executionFacts(h, jobId, b), `CANCELED/v2/force=false/at=${instant(120)}`)
  })

  it('endBehavior without endTime is accepted, stored, returned and has no effect', async (t) => {
    const h = await virtualHarness(t)
    const [a] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [a], scheduled({ endBehavior: 'FORCE_CANCEL' }))
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'IN_PROGRESS')
    assert.deepEqual(job.schedulingConfig, { endBehavior: 'FORCE_CANCEL' })
    await report(h, jobId, a, 'IN_PROGRESS')
    await advance(h, 400 * DAY_S)
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    assert.equal(await executionFacts(h, jobId, a), `IN_PROGRESS/v2/force=false/at=${CLOCK_START_MS}`)
  })
})

describe('Times are validated against the virtual clock [spec: jobs-control-plane#3.1] [spec: test-clock#1]', () => {
  const rejects = async (h: Harness, config: SchedulingConfig, field: string) =>
    assert.rejects(createJob(h, await createFleet(h, 1), scheduled(config)), (e: unknown) => {
      isError(InvalidRequestException, 400)(e)
      assert.ok((e as Error).message.includes(field), `the message names ${field}: ${(e as Error).message}`)
      return true
    })

  it('a startTime 10 (or 29) minutes ahead is 400 InvalidRequestException naming schedulingConfig.startTime; 30 minutes ahead is accepted', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    await rejects(h, { startTime: at(10) }, 'schedulingConfig.startTime')
    await rejects(h, { startTime: at(29) }, 'schedulingConfig.startTime')
    const jobId = await createJob(h, [thingName], scheduled({ startTime: at(30) }))
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
  })

  it("the window moves with the virtual clock, not the machine's: a time valid for the machine's clock but past on the virtual one is refused, one more than a year after the machine's now is accepted", async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    // The virtual clock is in 2030: an hour after the machine's now is long past.
    await rejects(h, { startTime: isoAfter(Date.now(), 60 * MINUTE_S) }, 'schedulingConfig.startTime')
    const jobId = await createJob(h, [thingName], scheduled({ startTime: at(300 * 24 * 60) }))
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
    // An hour later, a start 40 minutes after the clock's start is 20 minutes in the past.
    await advance(h, 60 * MINUTE_S)
    await rejects(h, { startTime: at(40) }, 'schedulingConfig.startTime')
    await createJob(h, [thingName], scheduled({ startTime: at(90) }))
  })

  it('an endTime 10 minutes ahead is 400 naming schedulingConfig.endTime', async (t) => {
    const h = await virtualHarness(t)
    await rejects(h, { endTime: at(10) }, 'schedulingConfig.endTime')
  })
})
