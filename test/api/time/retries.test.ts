/**
 * Retries (`jobExecutionsRetryConfig`) through the real AWS SDK clients on the virtual clock: a new
 * QUEUED execution record per attempt (next executionNumber, retryAttempt + 1, versionNumber 1, queued
 * at the instant of the failure), the budgets per failure type and ALL, what is never retried, the
 * counters, SNAPSHOT completion, and no retry once the job is canceled or aborted.
 * [spec: state-machines#8] [spec: state-machines#9] [spec: state-machines#10] [open-question 56] [open-question 57]
 */
import {
  CancelJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  DescribeJobExecutionCommand,
  ListJobExecutionsForThingCommand,
  RemoveThingFromThingGroupCommand,
  UpdateJobCommand,
} from '@aws-sdk/client-iot'
import type { CreateJobCommandInput, RetryCriteria } from '@aws-sdk/client-iot'
import { StartNextPendingJobExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { unique } from '../../support/harness.js'
import { DOCUMENT, createJob, describeJob, report } from '../../support/device.js'
import {
  addToGroup,
  assertCountersMatchRecords,
  assertDeviceSeesPending,
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
  createFleet,
  virtualHarness,
} from '../../support/clock.js'

const MINUTE_MS = 60 * SECOND_MS

const retrying = (...criteriaList: RetryCriteria[]): Partial<CreateJobCommandInput> => ({
  jobExecutionsRetryConfig: { criteriaList },
})
const retries = (failureType: RetryCriteria['failureType'], numberOfRetries: number): RetryCriteria => ({
  failureType,
  numberOfRetries,
})

/** `#executionNumber:STATUS:retryAttempt` of every record of the job on the thing, in number order. */
async function attempts(h: Harness, jobId: string, thingName: string): Promise<string[]> {
  return (await executionsOf(h, jobId))
    .filter((r) => r.thingName === thingName)
    .map((r) => `#${r.executionNumber}:${r.status}:${String(r.retryAttempt)}`)
}

/** The latest execution of the job on the thing moves IN_PROGRESS then times out after `minutes`. */
async function timeOut(h: Harness, jobId: string, thingName: string, minutes = 1): Promise<void> {
  await report(h, jobId, thingName, 'IN_PROGRESS', { stepTimeoutInMinutes: minutes })
  await advance(h, minutes * MINUTE_S)
}

describe('A retry is a new execution record [spec: state-machines#8] [open-question 56]', () => {
  it('FAILED → a new QUEUED record: next executionNumber, retryAttempt + 1, versionNumber 1, queuedAt = the instant of the failure', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], retrying(retries('FAILED', 2)))
    await advance(h, MINUTE_S)
    await report(h, jobId, thingName, 'FAILED')
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:FAILED:0', '#2:QUEUED:1'])
    const retry = await h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName, executionNumber: 2 }))
    assert.equal(retry.execution?.status, 'QUEUED')
    assert.equal(retry.execution?.versionNumber, 1)
    assert.equal(retry.execution?.queuedAt?.getTime(), CLOCK_START_MS + MINUTE_MS)
    assert.equal(retry.execution?.lastUpdatedAt?.getTime(), CLOCK_START_MS + MINUTE_MS)
    assert.equal(retry.execution?.startedAt, undefined)
    // The latest execution is the retry: requests without executionNumber address it.
    const latest = await h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }))
    assert.equal(latest.execution?.executionNumber, 2)
  })

  it('retryAttempt is listed by ListJobExecutionsForJob and ListJobExecutionsForThing', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], retrying(retries('FAILED', 3)))
    await report(h, jobId, thingName, 'FAILED')
    await report(h, jobId, thingName, 'FAILED')
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:FAILED:0', '#2:FAILED:1', '#3:QUEUED:2'])
    const forThing = await h.iot.send(new ListJobExecutionsForThingCommand({ thingName }))
    const listed = (forThing.executionSummaries ?? [])
      .map((s) => `#${s.jobExecutionSummary?.executionNumber}:${s.jobExecutionSummary?.retryAttempt}`)
      .sort()
    assert.deepEqual(listed, ['#1:0', '#2:1', '#3:2'])
  })

  it('the device sees the retry as pending and starts it like any execution', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], retrying(retries('FAILED', 1)))
    await report(h, jobId, thingName, 'FAILED')
    await assertDeviceSeesPending(h, jobId, [thingName])
    const started = await h.data.send(new StartNextPendingJobExecutionCommand({ thingName }))
    assert.equal(started.execution?.executionNumber, 2)
    assert.equal(started.execution?.versionNumber, 2)
    await report(h, jobId, thingName, 'SUCCEEDED')
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:FAILED:0', '#2:SUCCEEDED:1'])
  })

  it('TIMED_OUT → a retry queued at the deadline instant', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], {
      ...retrying(retries('TIMED_OUT', 1)),
      timeoutConfig: { inProgressTimeoutInMinutes: 3 },
    })
    await report(h, jobId, thingName, 'IN_PROGRESS')
    await advance(h, DAY_S)
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:TIMED_OUT:0', '#2:QUEUED:1'])
    const retry = await h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName, executionNumber: 2 }))
    assert.equal(retry.execution?.queuedAt?.getTime(), CLOCK_START_MS + 3 * MINUTE_MS)
    assert.equal(retry.execution?.versionNumber, 1)
  })

  it('[open-question 56] a retry is not paced by the rollout: it is queued at once in a minute the rollout has used up', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 3)
    const jobId = await createJob(h, things, {
      ...retrying(retries('FAILED', 1)),
      jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
    })
    await advance(h, 10)
    await report(h, jobId, things[0] ?? '', 'FAILED')
    assert.deepEqual(await executionStates(h, jobId), [`${things[0]}#1:FAILED`, `${things[0]}#2:QUEUED`])
    await advance(h, 50)
    assert.deepEqual(await executionStates(h, jobId), [
      `${things[0]}#1:FAILED`,
      `${things[0]}#2:QUEUED`,
      `${things[1]}#1:QUEUED`,
    ])
  })
})

describe('Budgets [spec: state-machines#8]', () => {
  it('numberOfRetries FAILED: that many retries, then the chain ends FAILED', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], retrying(retries('FAILED', 2)))
    for (let i = 0; i < 3; i += 1) await report(h, jobId, thingName, 'FAILED')
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:FAILED:0', '#2:FAILED:1', '#3:FAILED:2'])
  })

  it('per-type budgets: FAILED and TIMED_OUT retries are counted apart along the chain', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], retrying(retries('FAILED', 1), retries('TIMED_OUT', 1)))
    await report(h, jobId, thingName, 'FAILED')
    await timeOut(h, jobId, thingName)
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:FAILED:0', '#2:TIMED_OUT:1', '#3:QUEUED:2'])
    await report(h, jobId, thingName, 'FAILED')
    assert.deepEqual(
      await attempts(h, jobId, thingName),
      ['#1:FAILED:0', '#2:TIMED_OUT:1', '#3:FAILED:2'],
      'the FAILED budget is used up',
    )
  })

  it('per-type budgets: a used-up TIMED_OUT budget leaves the FAILED one', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], retrying(retries('FAILED', 1), retries('TIMED_OUT', 1)))
    await timeOut(h, jobId, a)
    await timeOut(h, jobId, a)
    assert.deepEqual(await attempts(h, jobId, a), ['#1:TIMED_OUT:0', '#2:TIMED_OUT:1'])
    // Another thing of the same job has budgets of its own.
    await timeOut(h, jobId, b)
    await report(h, jobId, b, 'FAILED')
    assert.deepEqual(await attempts(h, jobId, b), ['#1:TIMED_OUT:0', '#2:FAILED:1', '#3:QUEUED:2'])
  })

  it('a type without a criterion is not retried', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], retrying(retries('FAILED', 3)))
    await timeOut(h, jobId, thingName)
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:TIMED_OUT:0'])
  })

  it('ALL is one budget shared by FAILED and TIMED_OUT', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], retrying(retries('ALL', 2)))
    await timeOut(h, jobId, thingName)
    await report(h, jobId, thingName, 'FAILED')
    await timeOut(h, jobId, thingName)
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:TIMED_OUT:0', '#2:FAILED:1', '#3:TIMED_OUT:2'])
  })

  it('[spec: jobs-control-plane#updatejob] new retry criteria apply to failures that happen afterwards', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b])
    await report(h, jobId, a, 'FAILED')
    await h.iot.send(new UpdateJobCommand({ jobId, ...retrying(retries('FAILED', 1)) }))
    assert.deepEqual(await attempts(h, jobId, a), ['#1:FAILED:0'], 'no retry for a failure before the update')
    await report(h, jobId, b, 'FAILED')
    assert.deepEqual(await attempts(h, jobId, b), ['#1:FAILED:0', '#2:QUEUED:1'])
  })
})

describe('What is never retried [spec: state-machines#8]', () => {
  it('REJECTED is never retried, even with an ALL budget', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], retrying(retries('ALL', 5)))
    await report(h, jobId, thingName, 'REJECTED')
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:REJECTED:0'])
  })

  it('CANCELED is never retried (CancelJobExecution, QUEUED and IN_PROGRESS with force)', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], retrying(retries('ALL', 5)))
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: a }))
    await report(h, jobId, b, 'IN_PROGRESS')
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: b, force: true }))
    assert.deepEqual(await executionStates(h, jobId), [`${a}#1:CANCELED`, `${b}#1:CANCELED`])
  })

  it('REMOVED is never retried (the thing leaves the target group of a CONTINUOUS job)', async (t) => {
    const h = await virtualHarness(t)
    const group = await createGroup(h)
    const [thingName] = (await createFleet(h, 1)) as [string]
    await addToGroup(h, group.name, thingName)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [group.arn],
        ...retrying(retries('ALL', 5)),
      }),
    )
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName }))
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:REMOVED:0'])
  })

  it('[spec: state-machines#7] CONTINUOUS: a pending retry is REMOVED when the thing leaves the targets; joining again starts a new chain with a fresh budget', async (t) => {
    const h = await virtualHarness(t)
    const group = await createGroup(h)
    const [thingName] = (await createFleet(h, 1)) as [string]
    await addToGroup(h, group.name, thingName)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [group.arn],
        ...retrying(retries('FAILED', 1)),
      }),
    )
    await report(h, jobId, thingName, 'FAILED')
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:FAILED:0', '#2:QUEUED:1'])
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName }))
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:FAILED:0', '#2:REMOVED:1'])
    await addToGroup(h, group.name, thingName)
    await report(h, jobId, thingName, 'FAILED')
    assert.deepEqual(await attempts(h, jobId, thingName), [
      '#1:FAILED:0',
      '#2:REMOVED:1',
      '#3:FAILED:0',
      '#4:QUEUED:1',
    ])
  })

  it('no retry once the job is canceled: a device that finishes its IN_PROGRESS execution FAILED gets no new attempt', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], retrying(retries('FAILED', 3)))
    await report(h, jobId, thingName, 'IN_PROGRESS')
    await h.iot.send(new CancelJobCommand({ jobId }))
    await report(h, jobId, thingName, 'FAILED')
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:FAILED:0'])
  })

  it('no retry once the job is canceled: a timeout after CancelJob gets no new attempt', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], retrying(retries('TIMED_OUT', 3)))
    await report(h, jobId, thingName, 'IN_PROGRESS', { stepTimeoutInMinutes: 2 })
    await h.iot.send(new CancelJobCommand({ jobId }))
    await advance(h, DAY_S)
    assert.deepEqual(await attempts(h, jobId, thingName), ['#1:TIMED_OUT:0'])
  })

  it('no retry when the failure aborts the job; retries queued before the abort are canceled with the QUEUED executions', async (t) => {
    const h = await virtualHarness(t)
    const [a, b, c] = (await createFleet(h, 3)) as [string, string, string]
    const jobId = await createJob(h, [a, b, c], {
      ...retrying(retries('FAILED', 3)),
      abortConfig: {
        criteriaList: [
          { failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 100, minNumberOfExecutedThings: 2 },
        ],
      },
    })
    await report(h, jobId, a, 'FAILED')
    assert.deepEqual(
      await attempts(h, jobId, a),
      ['#1:FAILED:0', '#2:QUEUED:1'],
      '1 executed: below the minimum',
    )
    await report(h, jobId, b, 'FAILED')
    assert.equal((await describeJob(h, jobId)).reasonCode, 'ABORT_CRITERIA_MET')
    assert.deepEqual(await executionStates(h, jobId), [
      `${a}#1:FAILED`,
      `${a}#2:CANCELED`,
      `${b}#1:FAILED`,
      `${c}#1:CANCELED`,
    ])
  })
})

describe('Counters and completion with retries [spec: state-machines#9] [spec: state-machines#10] [open-question 57]', () => {
  it('counters count every record: numberOfFailedThings counts each failed attempt, and agree with the listing', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], retrying(retries('ALL', 3)))
    await report(h, jobId, a, 'FAILED')
    await report(h, jobId, a, 'FAILED')
    await timeOut(h, jobId, a)
    const details = await assertCountersMatchRecords(h, jobId)
    assert.deepEqual(
      [details.numberOfFailedThings, details.numberOfTimedOutThings, details.numberOfQueuedThings],
      [2, 1, 2],
    )
  })

  it('a SNAPSHOT job waits for pending retries and completes when the last attempt ends', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], {
      ...retrying(retries('TIMED_OUT', 1)),
      timeoutConfig: { inProgressTimeoutInMinutes: 5 },
    })
    await report(h, jobId, b, 'SUCCEEDED')
    await report(h, jobId, a, 'IN_PROGRESS')
    await advance(h, 10 * MINUTE_S)
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS', 'the retry of a is pending')
    await report(h, jobId, a, 'IN_PROGRESS')
    await advance(h, 10 * MINUTE_S)
    const job = await describeJob(h, jobId)
    assert.deepEqual(await attempts(h, jobId, a), ['#1:TIMED_OUT:0', '#2:TIMED_OUT:1'])
    assert.equal(job.status, 'COMPLETED')
    assert.equal(job.completedAt?.getTime(), CLOCK_START_MS + 15 * MINUTE_MS)
  })
})
