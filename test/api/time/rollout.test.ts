/**
 * Rollout pacing on the virtual clock, through the real AWS SDK clients: `maximumPerMinute` batches in
 * thing-name order at t₀, t₀ + 60 s, …; the exponential rate and its growth (by executions created or
 * SUCCEEDED, rounded down, at least +1, capped); isConcurrent and processingTargets while rolling out;
 * SNAPSHOT completion only after the rollout; cancel, deletion and UpdateJob; CONTINUOUS joiners and
 * AssociateTargetsWithJob on a paced job.
 * [spec: state-machines#5] [spec: state-machines#9] [spec: test-clock#3]
 */
import {
  AssociateTargetsWithJobCommand,
  CancelJobCommand,
  CreateJobCommand,
  DeleteJobCommand,
  DeleteThingCommand,
  ListJobExecutionsForJobCommand,
  ListJobsCommand,
  RemoveThingFromThingGroupCommand,
  UpdateJobCommand,
} from '@aws-sdk/client-iot'
import type { CreateJobCommandInput, JobExecutionsRolloutConfig } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { thingArnOf, unique } from '../../support/harness.js'
import { DOCUMENT, createJob, describeJob, report } from '../../support/device.js'
import { executionsOfThing, finishJobDeletions } from '../../support/lifecycle.js'
import {
  addToGroup,
  assertCountersMatchRecords,
  assertDeviceSeesPending,
  createGroup,
  executionsOf,
  groupArnOf,
} from '../../support/thing-groups.js'
import {
  CLOCK_START_MS,
  DAY_S,
  MINUTE_S,
  SECOND_MS,
  advance,
  createFleet,
  createJobOn,
  recordCount,
  thingsWithExecutions,
  virtualHarness,
} from '../../support/clock.js'

const MINUTE_MS = 60 * SECOND_MS

const paced = (config: JobExecutionsRolloutConfig): Partial<CreateJobCommandInput> => ({
  jobExecutionsRolloutConfig: config,
})

/**
 * How many executions were queued at each minute after `startMs` (index = minute), from the records'
 * queuedAt; fails when one was queued between whole minutes.
 */
async function batchSizes(h: Harness, jobId: string, startMs = CLOCK_START_MS): Promise<number[]> {
  const sizes: number[] = []
  let nextToken: string | undefined
  do {
    const page = await h.iot.send(new ListJobExecutionsForJobCommand({ jobId, maxResults: 250, nextToken }))
    for (const item of page.executionSummaries ?? []) {
      const queuedAt = item.jobExecutionSummary?.queuedAt?.getTime()
      assert.ok(queuedAt !== undefined)
      const offset = queuedAt - startMs
      assert.equal(offset % MINUTE_MS, 0, `${item.thingArn} queued ${offset} ms after the start`)
      const minute = offset / MINUTE_MS
      while (sizes.length <= minute) sizes.push(0)
      sizes[minute] = (sizes[minute] ?? 0) + 1
    }
    nextToken = page.nextToken
  } while (nextToken !== undefined)
  return sizes
}

describe('maximumPerMinute [spec: state-machines#5] [spec: test-clock#3]', () => {
  it('creates m executions at t₀, m more at t₀ + 60 s, …, in thing-name order, and not one earlier', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 25)
    // Targets given in reverse order: the rollout order is the things' names, not the targets'.
    const jobId = await createJob(h, [...things].reverse(), paced({ maximumPerMinute: 10 }))
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 10))
    await advance(h, 59)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 10))
    await advance(h, 1)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 20))
    await advance(h, 60)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things)
    assert.deepEqual(await batchSizes(h, jobId), [10, 10, 5])
    await advance(h, 10 * MINUTE_S)
    assert.equal(await recordCount(h, jobId), 25, 'nothing more once every thing has its execution')
    await assertCountersMatchRecords(h, jobId)
  })

  it('[spec: test-clock#3] one 10-minute advance creates the executions minute by minute, as if the time had passed', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 15)
    const jobId = await createJob(h, things, paced({ maximumPerMinute: 2 }))
    await advance(h, 10 * MINUTE_S)
    assert.deepEqual(await batchSizes(h, jobId), [2, 2, 2, 2, 2, 2, 2, 1])
    // Each thing's execution came in name order.
    const queued = (await executionsOf(h, jobId)).map((r) => r.thingName)
    assert.deepEqual(queued, things)
  })

  it('a 100-thing rollout: no duplicates, no gaps, every execution QUEUED with versionNumber 1, counters agree, devices see exactly theirs', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 100)
    const jobId = await createJob(h, things, paced({ maximumPerMinute: 30 }))
    await advance(h, 90)
    assert.equal(await recordCount(h, jobId), 60)
    await assertDeviceSeesPending(h, jobId, [things[59] ?? '', things[60] ?? ''])
    await advance(h, 5 * MINUTE_S)
    const records = await executionsOf(h, jobId)
    assert.equal(records.length, 100)
    assert.deepEqual(
      records.map((r) => r.thingName),
      things,
    )
    assert.ok(records.every((r) => r.executionNumber === 1 && r.status === 'QUEUED'))
    assert.deepEqual(await batchSizes(h, jobId), [30, 30, 30, 10])
    assert.equal((await assertCountersMatchRecords(h, jobId)).numberOfQueuedThings, 100)
  })

  it('a thing deleted while waiting for its batch is skipped and does not use up a slot of the batch', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 6)
    const jobId = await createJob(h, things, paced({ maximumPerMinute: 2 }))
    await h.iot.send(new DeleteThingCommand({ thingName: things[2] }))
    await advance(h, 5 * MINUTE_S)
    assert.deepEqual(await thingsWithExecutions(h, jobId), [
      things[0],
      things[1],
      things[3],
      things[4],
      things[5],
    ])
    assert.deepEqual(await batchSizes(h, jobId), [2, 2, 1])
    await assertCountersMatchRecords(h, jobId)
  })

  it('[spec: state-machines#7] SNAPSHOT: the things are those the group held at creation; later joiners never get the job, leavers still do', async (t) => {
    const h = await virtualHarness(t)
    const group = await createGroup(h)
    const things = await createFleet(h, 4)
    for (const thingName of things) await addToGroup(h, group.name, thingName)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targets: [group.arn],
        jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
      }),
    )
    const [late] = await createFleet(h, 1)
    await addToGroup(h, group.name, late ?? '')
    await h.iot.send(
      new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName: things[3] }),
    )
    await advance(h, 10 * MINUTE_S)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things)
  })
})

describe('exponentialRate [spec: state-machines#5] [open-question 53]', () => {
  it('numberOfNotifiedThings: the rate starts at the base and is multiplied by the factor at each multiple of N created', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 40)
    const jobId = await createJob(
      h,
      things,
      paced({
        exponentialRate: {
          baseRatePerMinute: 2,
          incrementFactor: 2,
          rateIncreaseCriteria: { numberOfNotifiedThings: 4 },
        },
      }),
    )
    await advance(h, 10 * MINUTE_S)
    // created: 2 → rate 2 (2 < 4); 4 → one multiple: 4; 8 → two: 8; 16 → four: 32 (capped by what is left).
    assert.deepEqual(await batchSizes(h, jobId), [2, 2, 4, 8, 24])
  })

  it('the growth is rounded down and at least +1 (factor 1.5 from a base of 1)', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 20)
    const jobId = await createJob(
      h,
      things,
      paced({
        exponentialRate: {
          baseRatePerMinute: 1,
          incrementFactor: 1.5,
          rateIncreaseCriteria: { numberOfNotifiedThings: 2 },
        },
      }),
    )
    await advance(h, 10 * MINUTE_S)
    // created 1 → 1; 2 (1 multiple) → 1+1 = 2; 4 (2) → 2+1 = 3; 7 (3) → floor(4.5) = 4; 11 (5) → 6 → 9.
    assert.deepEqual(await batchSizes(h, jobId), [1, 1, 2, 3, 4, 9])
  })

  it('numberOfSucceededThings: the rate grows only when SUCCEEDED executions reach a multiple of N', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 20)
    const jobId = await createJob(
      h,
      things,
      paced({
        exponentialRate: {
          baseRatePerMinute: 1,
          incrementFactor: 3,
          rateIncreaseCriteria: { numberOfSucceededThings: 2 },
        },
      }),
    )
    await advance(h, 2 * MINUTE_S)
    assert.deepEqual(await batchSizes(h, jobId), [1, 1, 1], 'nothing succeeded: the base rate')
    await report(h, jobId, things[0] ?? '', 'SUCCEEDED')
    await report(h, jobId, things[1] ?? '', 'FAILED')
    await advance(h, MINUTE_S)
    assert.deepEqual(await batchSizes(h, jobId), [1, 1, 1, 1], 'one SUCCEEDED is not a multiple of 2')
    await report(h, jobId, things[2] ?? '', 'SUCCEEDED')
    await advance(h, MINUTE_S)
    assert.deepEqual(await batchSizes(h, jobId), [1, 1, 1, 1, 3])
  })

  it('maximumPerMinute caps the exponential rate', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 30)
    const jobId = await createJob(
      h,
      things,
      paced({
        maximumPerMinute: 5,
        exponentialRate: {
          baseRatePerMinute: 2,
          incrementFactor: 5,
          rateIncreaseCriteria: { numberOfNotifiedThings: 2 },
        },
      }),
    )
    await advance(h, 10 * MINUTE_S)
    assert.deepEqual(await batchSizes(h, jobId), [2, 5, 5, 5, 5, 5, 3])
  })
})

describe('isConcurrent and processingTargets [spec: state-machines#9]', () => {
  it('DescribeJob and ListJobs say isConcurrent while the rollout creates executions, with the targets in processingTargets; neither once it is finished', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 3)
    const jobId = await createJob(h, things, paced({ maximumPerMinute: 1 }))
    const rolling = await describeJob(h, jobId)
    assert.equal(rolling.isConcurrent, true)
    assert.deepEqual(
      [...(rolling.jobProcessDetails?.processingTargets ?? [])].sort(),
      things.map(thingArnOf).sort(),
    )
    const summary = (await h.iot.send(new ListJobsCommand({ maxResults: 250 }))).jobs?.find(
      (j) => j.jobId === jobId,
    )
    assert.equal(summary?.isConcurrent, true)
    await advance(h, 2 * MINUTE_S)
    const done = await describeJob(h, jobId)
    assert.equal(done.isConcurrent, false)
    assert.equal(done.jobProcessDetails?.processingTargets, undefined)
    const after = (await h.iot.send(new ListJobsCommand({ maxResults: 250 }))).jobs?.find(
      (j) => j.jobId === jobId,
    )
    assert.equal(after?.isConcurrent, false)
  })

  it('a job without rollout config is never concurrent', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 3)
    const jobId = await createJob(h, things)
    const job = await describeJob(h, jobId)
    assert.equal(job.isConcurrent, false)
    assert.equal(job.jobProcessDetails?.processingTargets, undefined)
  })
})

describe('The end of a rollout [spec: state-machines#5] [spec: state-machines#10]', () => {
  it('a SNAPSHOT job completes only after its rollout finished, even when every execution created so far ended', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 3)
    const jobId = await createJob(h, things, paced({ maximumPerMinute: 2 }))
    await report(h, jobId, things[0] ?? '', 'SUCCEEDED')
    await report(h, jobId, things[1] ?? '', 'SUCCEEDED')
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS', 'one thing still waits for its batch')
    await advance(h, MINUTE_S)
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    await advance(h, 30)
    await report(h, jobId, things[2] ?? '', 'SUCCEEDED')
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'COMPLETED')
    assert.equal(job.completedAt?.getTime(), CLOCK_START_MS + 90 * SECOND_MS)
  })

  it('CancelJob stops the rollout for good: no execution is created afterwards, and the QUEUED ones are canceled', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 10)
    const jobId = await createJob(h, things, paced({ maximumPerMinute: 3 }))
    await advance(h, MINUTE_S)
    await report(h, jobId, things[0] ?? '', 'IN_PROGRESS')
    await h.iot.send(new CancelJobCommand({ jobId }))
    await advance(h, DAY_S)
    const records = await executionsOf(h, jobId)
    assert.deepEqual(
      records.map((r) => `${r.thingName}:${r.status}`),
      things.slice(0, 6).map((n, i) => `${n}:${i === 0 ? 'IN_PROGRESS' : 'CANCELED'}`),
    )
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.isConcurrent, false)
    assert.equal(job.jobProcessDetails?.processingTargets, undefined)
  })

  it('DeleteJob with force stops the rollout: after the deletion no thing gets an execution, not even from a job reusing the id', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 6)
    const jobId = await createJob(h, things, paced({ maximumPerMinute: 2 }))
    await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
    await finishJobDeletions(h)
    await advance(h, 10 * MINUTE_S)
    for (const thingName of things) assert.deepEqual(await executionsOfThing(h, thingName), [], thingName)
    // The id is free again; the new job has only what it creates itself.
    await createJob(h, [things[5] ?? ''], { jobId })
    await advance(h, 10 * MINUTE_S)
    assert.deepEqual(await thingsWithExecutions(h, jobId), [things[5]])
  })

  it('[spec: jobs-control-plane#updatejob] a new maximumPerMinute applies to the rest of the rollout', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 20)
    const jobId = await createJob(h, things, paced({ maximumPerMinute: 2 }))
    await advance(h, 30)
    await h.iot.send(new UpdateJobCommand({ jobId, jobExecutionsRolloutConfig: { maximumPerMinute: 5 } }))
    assert.equal(await recordCount(h, jobId), 2, 'the new rate waits for the next minute')
    await advance(h, 10 * MINUTE_S)
    assert.deepEqual(await batchSizes(h, jobId), [2, 5, 5, 5, 3])
    assert.deepEqual(await thingsWithExecutions(h, jobId), things)
  })
})

describe('CONTINUOUS jobs and new targets while the rollout is paced [spec: state-machines#5] [spec: state-machines#7]', () => {
  it('a thing joining a target group gets its execution at once; the paced things keep their pace', async (t) => {
    const h = await virtualHarness(t)
    const group = await createGroup(h)
    const things = await createFleet(h, 6)
    for (const thingName of things) await addToGroup(h, group.name, thingName)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [groupArnOf(group.name)],
        jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
      }),
    )
    await advance(h, 10)
    const [joiner] = (await createFleet(h, 1)) as [string]
    await addToGroup(h, group.name, joiner)
    assert.deepEqual(await thingsWithExecutions(h, jobId), [...things.slice(0, 2), joiner].sort())
    const joined = (await executionsOf(h, jobId)).find((r) => r.thingName === joiner)
    assert.equal(joined?.status, 'QUEUED')
    await advance(h, 50)
    assert.deepEqual(await thingsWithExecutions(h, jobId), [...things.slice(0, 4), joiner].sort())
    await advance(h, MINUTE_S)
    assert.deepEqual(await thingsWithExecutions(h, jobId), [...things, joiner].sort())
    await assertCountersMatchRecords(h, jobId)
  })

  it('[spec: state-machines#7] a thing that leaves the target group while waiting for its batch gets no execution: the set of a CONTINUOUS job is live', async (t) => {
    const h = await virtualHarness(t)
    const group = await createGroup(h)
    const things = await createFleet(h, 4)
    for (const thingName of things) await addToGroup(h, group.name, thingName)
    const jobId = await createJobOn(h, [group.arn], {
      targetSelection: 'CONTINUOUS',
      jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
    })
    await advance(h, 10)
    await h.iot.send(
      new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName: things[2] }),
    )
    await advance(h, 10 * MINUTE_S)
    assert.deepEqual(await thingsWithExecutions(h, jobId), [things[0], things[1], things[3]])
    assert.deepEqual(await batchSizes(h, jobId), [1, 1, 1])
    await assertCountersMatchRecords(h, jobId)
  })

  it('a waiting thing that leaves and joins again gets its execution at once, and the rollout gives it no second one', async (t) => {
    const h = await virtualHarness(t)
    const group = await createGroup(h)
    const things = await createFleet(h, 4)
    for (const thingName of things) await addToGroup(h, group.name, thingName)
    const jobId = await createJobOn(h, [group.arn], {
      targetSelection: 'CONTINUOUS',
      jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
    })
    await advance(h, 10)
    await h.iot.send(
      new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName: things[3] }),
    )
    await addToGroup(h, group.name, things[3] ?? '')
    assert.deepEqual(await thingsWithExecutions(h, jobId), [things[0], things[3]])
    await advance(h, 10 * MINUTE_S)
    const records = await executionsOf(h, jobId)
    assert.deepEqual(
      records.map((r) => `${r.thingName}#${r.executionNumber}`),
      things.map((n) => `${n}#1`),
    )
    await assertCountersMatchRecords(h, jobId)
  })

  it('[open-question 29] AssociateTargetsWithJob on a paced CONTINUOUS job: the new things wait for the rollout and come at its pace', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 6)
    const jobId = await createJob(h, things.slice(0, 2), {
      targetSelection: 'CONTINUOUS',
      jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
    })
    await advance(h, 10)
    await h.iot.send(new AssociateTargetsWithJobCommand({ jobId, targets: things.slice(2).map(thingArnOf) }))
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 2), 'this minute already had 2')
    await advance(h, 50)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 4))
    await advance(h, MINUTE_S)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things)
    assert.deepEqual(await batchSizes(h, jobId), [2, 2, 2])
  })

  it('[open-question 29] AssociateTargetsWithJob on a paced CONTINUOUS job whose last batch is more than a minute old: the first batch at once, the rest a minute later', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 5)
    const jobId = await createJob(h, things.slice(0, 1), {
      targetSelection: 'CONTINUOUS',
      jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
    })
    await advance(h, 5 * MINUTE_S)
    await h.iot.send(new AssociateTargetsWithJobCommand({ jobId, targets: things.slice(1).map(thingArnOf) }))
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 3), 'the rate allows 2 now')
    await advance(h, 59)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 3))
    await advance(h, 1)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things)
  })
})
