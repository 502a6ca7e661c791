/**
 * SNAPSHOT job completion: the job becomes COMPLETED when its last QUEUED or IN_PROGRESS execution
 * leaves that state, whichever way (device update, CancelJobExecution, DeleteJobExecution,
 * DeleteThing); CONTINUOUS jobs never complete. Also DeleteThing's effect on the thing's executions.
 */
import {
  AddThingToThingGroupCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  DeleteJobExecutionCommand,
  DeleteThingCommand,
  DescribeThingCommand,
  ListJobsCommand,
  ListThingsInThingGroupCommand,
  RemoveThingFromThingGroupCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-iot'
import type { Job } from '@aws-sdk/client-iot'
import { InvalidStateTransitionException as DeviceInvalidStateTransition } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import {
  DOCUMENT,
  ManualClock,
  createJob,
  createThing,
  describeJob,
  isError,
  pendingOf,
  report,
} from '../support/device.js'
import { cpExecution, executionFacts, executionsOfThing } from '../support/lifecycle.js'
import {
  assertCountersMatchRecords,
  createGroup,
  createThings,
  executionStates,
} from '../support/thing-groups.js'

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

/** Asserts the job is still IN_PROGRESS with no completedAt. */
async function stillRunning(jobId: string): Promise<Job> {
  const job = await describeJob(h, jobId)
  assert.equal(job.status, 'IN_PROGRESS')
  assert.equal(job.completedAt, undefined)
  return job
}

/** Asserts the job is COMPLETED with completedAt = lastUpdatedAt = the clock's now. */
async function completedNow(jobId: string): Promise<Job> {
  const job = await describeJob(h, jobId)
  assert.equal(job.status, 'COMPLETED')
  assert.equal(job.completedAt?.getTime(), clock.nowMs())
  assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())
  await assertCountersMatchRecords(h, jobId)
  return job
}

describe('SNAPSHOT completion [spec: state-machines#10-job-completion-snapshot] [spec: state-machines#1-job-state-machine]', () => {
  it('the job completes when its last execution reaches a terminal state through the device, not before', async () => {
    const [a, b, c] = (await createThings(h, 3)) as [string, string, string]
    const jobId = await createJob(h, [a, b, c])
    await report(h, jobId, a, 'IN_PROGRESS')
    clock.advance(1000)
    await report(h, jobId, a, 'SUCCEEDED')
    await stillRunning(jobId)
    clock.advance(1000)
    await report(h, jobId, b, 'FAILED')
    await stillRunning(jobId)
    await report(h, jobId, c, 'IN_PROGRESS')
    await stillRunning(jobId)
    clock.advance(1000)
    await report(h, jobId, c, 'REJECTED')
    const job = await completedNow(jobId)
    assert.equal(job.createdAt?.getTime(), clock.nowMs() - 3000)
    assert.deepEqual(job.jobProcessDetails, {
      numberOfCanceledThings: 0,
      numberOfSucceededThings: 1,
      numberOfFailedThings: 1,
      numberOfRejectedThings: 1,
      numberOfQueuedThings: 0,
      numberOfInProgressThings: 0,
      numberOfRemovedThings: 0,
      numberOfTimedOutThings: 0,
    })
    const listed = await h.iot.send(new ListJobsCommand({ status: 'COMPLETED', maxResults: 250 }))
    const summary = listed.jobs?.find((j) => j.jobId === jobId)
    assert.equal(summary?.status, 'COMPLETED')
    assert.equal(summary?.completedAt?.getTime(), clock.nowMs())
  })

  it('CancelJobExecution of the last QUEUED execution completes the job', async () => {
    const [a, b] = (await createThings(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b])
    await report(h, jobId, a, 'SUCCEEDED')
    await stillRunning(jobId)
    clock.advance(2000)
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: b }))
    const job = await completedNow(jobId)
    assert.equal(job.jobProcessDetails?.numberOfCanceledThings, 1)
  })

  it('CancelJobExecution with force of the last IN_PROGRESS execution completes the job', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'IN_PROGRESS')
    await stillRunning(jobId)
    clock.advance(2000)
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName, force: true }))
    await completedNow(jobId)
  })

  for (const status of ['QUEUED', 'IN_PROGRESS'] as const) {
    it(`[spec: delete-job-execution#4] DeleteJobExecution with force of the last ${status} execution completes the job`, async () => {
      const [a, b] = (await createThings(h, 2)) as [string, string]
      const jobId = await createJob(h, [a, b])
      await report(h, jobId, a, 'SUCCEEDED')
      if (status === 'IN_PROGRESS') await report(h, jobId, b, 'IN_PROGRESS')
      await stillRunning(jobId)
      clock.advance(2000)
      await h.iot.send(
        new DeleteJobExecutionCommand({ jobId, thingName: b, executionNumber: 1, force: true }),
      )
      const job = await completedNow(jobId)
      assert.equal(job.jobProcessDetails?.numberOfSucceededThings, 1)
      assert.equal(
        job.jobProcessDetails?.[status === 'QUEUED' ? 'numberOfQueuedThings' : 'numberOfInProgressThings'],
        0,
      )
    })
  }

  it('deleting a terminal execution of a running job does not complete it', async () => {
    const [a, b] = (await createThings(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b])
    await report(h, jobId, a, 'SUCCEEDED')
    await h.iot.send(new DeleteJobExecutionCommand({ jobId, thingName: a, executionNumber: 1 }))
    const job = await stillRunning(jobId)
    assert.equal(job.jobProcessDetails?.numberOfSucceededThings, 0)
    assert.equal(job.jobProcessDetails?.numberOfQueuedThings, 1)
  })

  it('[spec: things#deletething] deleting the thing of the last pending execution completes the job (REMOVED)', async () => {
    const [a, b] = (await createThings(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b])
    await report(h, jobId, a, 'FAILED')
    await report(h, jobId, b, 'IN_PROGRESS')
    clock.advance(2000)
    await h.iot.send(new DeleteThingCommand({ thingName: b }))
    const job = await completedNow(jobId)
    assert.equal(job.jobProcessDetails?.numberOfRemovedThings, 1)
    assert.equal(job.jobProcessDetails?.numberOfFailedThings, 1)
  })

  it('[open-question 58] a SNAPSHOT job whose targets reach no thing completes at creation', async () => {
    const empty = await createGroup(h)
    const jobId = unique('job')
    clock.advance(1000)
    await h.iot.send(new CreateJobCommand({ jobId, document: DOCUMENT, targets: [empty.arn] }))
    const job = await completedNow(jobId)
    assert.equal(job.createdAt?.getTime(), clock.nowMs())
    assert.deepEqual(await executionStates(h, jobId), [])
  })

  it('a COMPLETED job stays COMPLETED: a late device update is refused and nothing changes', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'SUCCEEDED')
    const done = await describeJob(h, jobId)
    clock.advance(1000)
    await assert.rejects(report(h, jobId, thingName, 'FAILED'), isError(DeviceInvalidStateTransition, 409))
    assert.deepEqual(await describeJob(h, jobId), done)
  })

  it('[spec: state-machines#7-target-selection-and-membership-changes] things joining a SNAPSHOT target group later never get the job', async () => {
    const group = await createGroup(h)
    const [member] = (await createThings(h, 1, group.name)) as [string]
    const jobId = unique('job')
    await h.iot.send(new CreateJobCommand({ jobId, document: DOCUMENT, targets: [group.arn] }))
    const [late] = (await createThings(h, 1)) as [string]
    await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: group.name, thingName: late }))
    assert.deepEqual(await executionStates(h, jobId), [`${member}#1:QUEUED`])
    assert.deepEqual(await pendingOf(h, late), [])
    clock.advance(1000)
    await report(h, jobId, member, 'SUCCEEDED')
    await completedNow(jobId)
  })

  it('[open-question 55] a thing leaving a SNAPSHOT target group keeps its execution', async () => {
    const group = await createGroup(h)
    const [member] = (await createThings(h, 1, group.name)) as [string]
    const jobId = unique('job')
    await h.iot.send(new CreateJobCommand({ jobId, document: DOCUMENT, targets: [group.arn] }))
    const before = await executionFacts(h, jobId, member)
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName: member }))
    assert.equal(await executionFacts(h, jobId, member), before)
    assert.deepEqual(await pendingOf(h, member), [`${jobId}:QUEUED`])
    await stillRunning(jobId)
  })
})

describe('CONTINUOUS jobs never complete [spec: state-machines#1-job-state-machine]', () => {
  it('stays IN_PROGRESS when every execution is terminal', async () => {
    const group = await createGroup(h)
    const [a, b] = (await createThings(h, 2, group.name)) as [string, string]
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [group.arn],
      }),
    )
    await report(h, jobId, a, 'SUCCEEDED')
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: b }))
    const job = await stillRunning(jobId)
    assert.equal(job.jobProcessDetails?.numberOfSucceededThings, 1)
    assert.equal(job.jobProcessDetails?.numberOfCanceledThings, 1)
    assert.equal(job.jobProcessDetails?.numberOfQueuedThings, 0)
  })

  it('a CONTINUOUS job on an empty group stays IN_PROGRESS', async () => {
    const group = await createGroup(h)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [group.arn],
      }),
    )
    await stillRunning(jobId)
  })
})

describe('DeleteThing and its executions [spec: things#deletething] [open-question 12] [open-question 31]', () => {
  it('QUEUED and IN_PROGRESS executions become REMOVED (versionNumber + 1); terminal ones are kept; memberships go', async () => {
    const group = await createGroup(h)
    const thingName = await createThing(h)
    await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: group.name, thingName }))
    const keepsRunning = await createThing(h)
    const queuedJob = await createJob(h, [thingName, keepsRunning])
    const runningJob = await createJob(h, [thingName, keepsRunning])
    const doneJob = await createJob(h, [thingName, keepsRunning])
    await report(h, runningJob, thingName, 'IN_PROGRESS')
    await report(h, doneJob, thingName, 'SUCCEEDED')
    const doneBefore = await executionFacts(h, doneJob, thingName)
    clock.advance(3000)
    await h.iot.send(new DeleteThingCommand({ thingName }))

    const queued = await cpExecution(h, queuedJob, thingName)
    assert.equal(queued.status, 'REMOVED')
    assert.equal(queued.versionNumber, 2)
    assert.equal(queued.lastUpdatedAt?.getTime(), clock.nowMs())
    const running = await cpExecution(h, runningJob, thingName)
    assert.equal(running.status, 'REMOVED')
    assert.equal(running.versionNumber, 3)
    assert.equal(running.lastUpdatedAt?.getTime(), clock.nowMs())
    assert.equal(running.approximateSecondsBeforeTimedOut, undefined)
    assert.equal(await executionFacts(h, doneJob, thingName), doneBefore)
    // The records of the deleted thing are still listed.
    assert.deepEqual(
      await executionsOfThing(h, thingName),
      [`${doneJob}#1:SUCCEEDED`, `${queuedJob}#1:REMOVED`, `${runningJob}#1:REMOVED`].sort(),
    )
    await assert.rejects(
      h.iot.send(new DescribeThingCommand({ thingName })),
      isError(ResourceNotFoundException, 404),
    )
    const members = await h.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group.name }))
    assert.deepEqual(members.things, [])
    // The other target is untouched and the jobs keep running for it.
    for (const jobId of [queuedJob, runningJob, doneJob]) {
      const job = await stillRunning(jobId)
      assert.equal(job.jobProcessDetails?.numberOfQueuedThings, 1)
      await assertCountersMatchRecords(h, jobId)
    }
    assert.equal((await describeJob(h, queuedJob)).jobProcessDetails?.numberOfRemovedThings, 1)
    assert.equal((await describeJob(h, runningJob)).jobProcessDetails?.numberOfRemovedThings, 1)
    assert.equal((await describeJob(h, doneJob)).jobProcessDetails?.numberOfRemovedThings, 0)
  })
})
