import {
  CancelJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  DeleteJobCommand,
  DeleteJobExecutionCommand,
  DeleteThingCommand,
  DescribeJobCommand,
  RemoveThingFromThingGroupCommand,
} from '@aws-sdk/client-iot'
import type { JobProcessDetails } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT, ManualClock, createJob, createThing, describeJob, report } from '../support/device.js'
import { cpDate, expectError, jobArnOf, makeThings } from '../support/registry.js'
import {
  addToGroup,
  assertCountersMatchRecords,
  createGroup,
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

type Counts = Partial<Record<'Q' | 'IP' | 'S' | 'F' | 'R' | 'C' | 'RM' | 'TO', number>>

/** The full jobProcessDetails for the given non-zero counters. */
const counts = (c: Counts): JobProcessDetails => ({
  numberOfCanceledThings: c.C ?? 0,
  numberOfSucceededThings: c.S ?? 0,
  numberOfFailedThings: c.F ?? 0,
  numberOfRejectedThings: c.R ?? 0,
  numberOfQueuedThings: c.Q ?? 0,
  numberOfInProgressThings: c.IP ?? 0,
  numberOfRemovedThings: c.RM ?? 0,
  numberOfTimedOutThings: c.TO ?? 0,
})

/** The counters equal both the expected values and the records ListJobExecutionsForJob lists. */
async function expectCounts(jobId: string, expected: Counts): Promise<void> {
  const details = await assertCountersMatchRecords(h, jobId)
  assert.deepEqual(details, counts(expected))
}

describe('DescribeJob: the job [spec: jobs-control-plane#describejob]', () => {
  it('returns the Job shape exactly, with no top-level documentSource', async () => {
    const thingName = await createThing(h)
    const jobId = unique('job')
    clock.advance(1000)
    const createdMs = clock.nowMs()
    await h.iot.send(
      new CreateJobCommand({ jobId, targets: [thingArnOf(thingName)], document: DOCUMENT, description: 'd' }),
    )
    clock.advance(1000)
    const out = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.equal(out.documentSource, undefined)
    assert.deepEqual(out.job, {
      jobArn: `arn:aws:iot:us-east-1:123456789012:job/${jobId}`,
      jobId,
      targetSelection: 'SNAPSHOT',
      status: 'IN_PROGRESS',
      targets: [thingArnOf(thingName)],
      description: 'd',
      createdAt: cpDate(createdMs),
      lastUpdatedAt: cpDate(createdMs),
      jobProcessDetails: counts({ Q: 1 }),
      isConcurrent: false,
    })
    assert.equal(out.job?.createdAt?.getTime(), createdMs, 'milliseconds survive the epoch-seconds wire form')
  })

  it('beforeSubstitution (newer query parameter) is accepted and changes nothing [spec: newer-in-latest-sdk]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    const plain = await h.iot.send(new DescribeJobCommand({ jobId }))
    for (const beforeSubstitution of [true, false]) {
      const out = await h.iot.send(new DescribeJobCommand({ jobId, beforeSubstitution }))
      assert.deepEqual([out.job, out.documentSource], [plain.job, plain.documentSource])
    }
  })

  it('an unknown job is ResourceNotFoundException (404) naming the job', async () => {
    const jobId = unique('missing')
    await expectError(h.iot.send(new DescribeJobCommand({ jobId })), 'ResourceNotFoundException', 404, [
      jobId,
    ])
  })

  it('a bad jobId is InvalidRequestException (400) naming jobId [spec: limits#2]', async () => {
    for (const jobId of ['bad.id', 'j'.repeat(65)]) {
      await expectError(h.iot.send(new DescribeJobCommand({ jobId })), 'InvalidRequestException', 400, [
        'jobId',
      ])
    }
  })

  it('a job whose deletion has started is returned with status DELETION_IN_PROGRESS; once deleted it is 404', async () => {
    const own = await startHarness()
    try {
      const thingName = await createThing(own)
      const jobId = await createJob(own, [thingName])
      await own.server.workers.jobDeletion.stop()
      await own.iot.send(new DeleteJobCommand({ jobId, force: true }))
      const job = await describeJob(own, jobId)
      assert.deepEqual([job.jobId, job.jobArn, job.status], [jobId, jobArnOf(jobId), 'DELETION_IN_PROGRESS'])
    } finally {
      await own.close()
    }
    const again = await startHarness()
    try {
      const thingName = await createThing(again)
      const jobId = await createJob(again, [thingName])
      await again.iot.send(new DeleteJobCommand({ jobId, force: true }))
      await again.server.workers.jobDeletion.idle()
      await expectError(again.iot.send(new DescribeJobCommand({ jobId })), 'ResourceNotFoundException', 404, [
        jobId,
      ])
    } finally {
      await again.close()
    }
  })
})

describe('DescribeJob: jobProcessDetails are the real counts [spec: state-machines#9-counters-jobprocessdetails-processingtargets-isconcurrent]', () => {
  it('follows executions through every status a test can reach, then completes the SNAPSHOT job with completedAt [spec: state-machines#10-job-completion-snapshot]', async () => {
    const [t1, t2, t3, t4, t5, t6, t7, t8] = (await makeThings(h, 8)) as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ]
    const jobId = await createJob(h, [t1, t2, t3, t4, t5, t6, t7, t8])
    await expectCounts(jobId, { Q: 8 })
    await report(h, jobId, t1, 'IN_PROGRESS')
    await expectCounts(jobId, { Q: 7, IP: 1 })
    await report(h, jobId, t2, 'IN_PROGRESS')
    await report(h, jobId, t2, 'SUCCEEDED')
    await expectCounts(jobId, { Q: 6, IP: 1, S: 1 })
    await report(h, jobId, t3, 'IN_PROGRESS')
    await report(h, jobId, t3, 'FAILED')
    await expectCounts(jobId, { Q: 5, IP: 1, S: 1, F: 1 })
    await report(h, jobId, t4, 'REJECTED')
    await expectCounts(jobId, { Q: 4, IP: 1, S: 1, F: 1, R: 1 })
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: t5 }))
    await expectCounts(jobId, { Q: 3, IP: 1, S: 1, F: 1, R: 1, C: 1 })
    await h.iot.send(new DeleteThingCommand({ thingName: t6 }))
    await expectCounts(jobId, { Q: 2, IP: 1, S: 1, F: 1, R: 1, C: 1, RM: 1 })
    await report(h, jobId, t7, 'SUCCEEDED')
    await expectCounts(jobId, { Q: 1, IP: 1, S: 2, F: 1, R: 1, C: 1, RM: 1 })
    // [spec: delete-job-execution#4] a deleted execution is no longer counted
    await h.iot.send(new DeleteJobExecutionCommand({ jobId, thingName: t4, executionNumber: 1 }))
    await expectCounts(jobId, { Q: 1, IP: 1, S: 2, F: 1, C: 1, RM: 1 })
    await report(h, jobId, t1, 'SUCCEEDED')
    await expectCounts(jobId, { Q: 1, S: 3, F: 1, C: 1, RM: 1 })
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    assert.equal((await describeJob(h, jobId)).completedAt, undefined)

    clock.advance(60_000)
    const doneMs = clock.nowMs()
    await report(h, jobId, t8, 'FAILED')
    await expectCounts(jobId, { S: 3, F: 2, C: 1, RM: 1 })
    const job = await describeJob(h, jobId)
    assert.deepEqual(
      {
        status: job.status,
        completedAt: job.completedAt,
        lastUpdatedAt: job.lastUpdatedAt,
        isConcurrent: job.isConcurrent,
      },
      {
        status: 'COMPLETED',
        completedAt: cpDate(doneMs),
        lastUpdatedAt: cpDate(doneMs),
        isConcurrent: false,
      },
    )
  })

  it('[open-question 57] counts execution records, not things: a re-executed thing is counted twice; a CONTINUOUS job never completes', async () => {
    const group = await createGroup(h)
    const [a, b] = (await makeThings(h, 2)) as [string, string]
    await addToGroup(h, group.name, a)
    await addToGroup(h, group.name, b)
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
    await report(h, jobId, b, 'SUCCEEDED')
    await expectCounts(jobId, { S: 2 })
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName: a }))
    await addToGroup(h, group.name, a)
    assert.deepEqual(await executionStates(h, jobId, [a]), [`${a}#1:SUCCEEDED`, `${a}#2:QUEUED`])
    await expectCounts(jobId, { S: 2, Q: 1 })
    await report(h, jobId, a, 'REJECTED')
    await expectCounts(jobId, { S: 2, R: 1 })
    const job = await describeJob(h, jobId)
    assert.deepEqual([job.status, job.completedAt], ['IN_PROGRESS', undefined])
  })

  it('counters of several jobs on the same things are kept apart', async () => {
    const things = await makeThings(h, 3)
    const first = await createJob(h, things)
    const second = await createJob(h, things)
    await report(h, first, things[0]!, 'SUCCEEDED')
    await report(h, second, things[1]!, 'IN_PROGRESS')
    await expectCounts(first, { Q: 2, S: 1 })
    await expectCounts(second, { Q: 2, IP: 1 })
  })
})

describe('DescribeJob: canceled jobs [spec: jobs-control-plane#describejob] [spec: jobs-control-plane#canceljob]', () => {
  it('[open-question 22] a canceled job shows forceCanceled=false, reasonCode and comment, and no completedAt; IN_PROGRESS executions keep counting', async () => {
    const [queued, running] = (await makeThings(h, 2)) as [string, string]
    const jobId = await createJob(h, [queued, running])
    await report(h, jobId, running, 'IN_PROGRESS')
    clock.advance(2000)
    const canceledMs = clock.nowMs()
    await h.iot.send(new CancelJobCommand({ jobId, reasonCode: 'BAD_FIRMWARE_2', comment: 'stop it' }))
    const job = await describeJob(h, jobId)
    assert.deepEqual(
      {
        status: job.status,
        forceCanceled: job.forceCanceled,
        reasonCode: job.reasonCode,
        comment: job.comment,
        completedAt: job.completedAt,
        lastUpdatedAt: job.lastUpdatedAt,
      },
      {
        status: 'CANCELED',
        forceCanceled: false,
        reasonCode: 'BAD_FIRMWARE_2',
        comment: 'stop it',
        completedAt: undefined,
        lastUpdatedAt: cpDate(canceledMs),
      },
    )
    await expectCounts(jobId, { C: 1, IP: 1 })
    // [spec: state-machines#1] devices may still finish; the job stays CANCELED.
    await report(h, jobId, running, 'SUCCEEDED')
    await expectCounts(jobId, { C: 1, S: 1 })
    const finished = await describeJob(h, jobId)
    assert.deepEqual([finished.status, finished.completedAt], ['CANCELED', undefined])
  })

  it('a force-canceled job shows forceCanceled=true and counts its IN_PROGRESS executions as CANCELED', async () => {
    const [queued, running] = (await makeThings(h, 2)) as [string, string]
    const jobId = await createJob(h, [queued, running])
    await report(h, jobId, running, 'IN_PROGRESS')
    await h.iot.send(new CancelJobCommand({ jobId, force: true }))
    const job = await describeJob(h, jobId)
    assert.deepEqual(
      {
        status: job.status,
        forceCanceled: job.forceCanceled,
        reasonCode: job.reasonCode,
        comment: job.comment,
      },
      { status: 'CANCELED', forceCanceled: true, reasonCode: undefined, comment: undefined },
    )
    await expectCounts(jobId, { C: 2 })
  })
})
