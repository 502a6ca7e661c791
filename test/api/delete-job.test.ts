/**
 * DeleteJob through the real AWS SDK: which job statuses need `force`, DELETION_IN_PROGRESS while the
 * background worker runs (held, then released, so nothing sleeps), the job and all its executions
 * gone afterwards, deleting twice, namespaceId, the 10-deletions quota, id reuse and restart.
 */
import {
  CancelJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  DeleteJobCommand,
  DeleteJobExecutionCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  GetJobDocumentCommand,
  InvalidStateTransitionException,
  LimitExceededException,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
  ListJobsCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  paginateListJobs,
} from '@aws-sdk/client-iot'
import {
  GetPendingJobExecutionsCommand,
  InvalidStateTransitionException as DeviceInvalidStateTransition,
  ResourceNotFoundException as DeviceResourceNotFound,
} from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, startHarness, thingArnOf, unique } from '../support/harness.js'
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
import {
  REACHABLE_STATUSES,
  executionFacts,
  executionsOfThing,
  finishJobDeletions,
  holdJobDeletion,
  isoMinute,
  jobInEveryStatus,
} from '../support/lifecycle.js'

const DAY_MS = 24 * 60 * 60 * 1000

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

/** Every job id ListJobs returns (all pages). */
async function listedJobIds(): Promise<string[]> {
  const ids: string[] = []
  for await (const page of paginateListJobs({ client: h.iot, pageSize: 250 }, {})) {
    for (const j of page.jobs ?? []) ids.push(j.jobId ?? '')
  }
  return ids
}

/** The job is gone: DescribeJob, GetJobDocument and ListJobExecutionsForJob are 404, ListJobs omits it. */
async function assertGone(jobId: string): Promise<void> {
  await assert.rejects(h.iot.send(new DescribeJobCommand({ jobId })), isError(ResourceNotFoundException, 404))
  await assert.rejects(
    h.iot.send(new GetJobDocumentCommand({ jobId })),
    isError(ResourceNotFoundException, 404),
  )
  await assert.rejects(
    h.iot.send(new ListJobExecutionsForJobCommand({ jobId })),
    isError(ResourceNotFoundException, 404),
  )
  assert.ok(!(await listedJobIds()).includes(jobId), `ListJobs still lists ${jobId}`)
}

/** A job on one thing in the given job status. */
async function jobIn(
  status: 'IN_PROGRESS' | 'COMPLETED' | 'CANCELED' | 'SCHEDULED',
): Promise<{ jobId: string; thingName: string }> {
  const thingName = await createThing(h)
  const jobId = await createJob(
    h,
    [thingName],
    status === 'SCHEDULED' ? { schedulingConfig: { startTime: isoMinute(clock.nowMs(), DAY_MS) } } : {},
  )
  if (status === 'COMPLETED') await report(h, jobId, thingName, 'SUCCEEDED')
  if (status === 'CANCELED') await h.iot.send(new CancelJobCommand({ jobId }))
  assert.equal((await describeJob(h, jobId)).status, status)
  return { jobId, thingName }
}

describe('DeleteJob: DELETION_IN_PROGRESS, then gone [spec: jobs-control-plane#deletejob] [spec: state-machines#1-job-state-machine]', () => {
  it('a COMPLETED job: DELETION_IN_PROGRESS until the worker runs, then DescribeJob is 404 and no execution is left', async () => {
    const { jobId, thingName } = await jobIn('COMPLETED')
    const other = await createJob(h, [thingName])
    const hold = holdJobDeletion(h)
    let released = false
    try {
      clock.advance(4000)
      const out = await h.iot.send(new DeleteJobCommand({ jobId }))
      assert.equal(out.$metadata.httpStatusCode, 200)
      const job = await describeJob(h, jobId)
      assert.equal(job.status, 'DELETION_IN_PROGRESS')
      assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())
      assert.deepEqual(
        (await h.iot.send(new ListJobsCommand({ status: 'DELETION_IN_PROGRESS' }))).jobs?.map((j) => j.jobId),
        [jobId],
      )
      assert.equal(await hold.release(), 1)
      released = true
    } finally {
      if (!released) await hold.release()
    }
    await assertGone(jobId)
    await assert.rejects(
      h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName })),
      isError(ResourceNotFoundException, 404),
    )
    // The thing keeps its execution of the other job only.
    assert.deepEqual(await executionsOfThing(h, thingName), [`${other}#1:QUEUED`])
  })

  it('a CANCELED job is deleted without force', async () => {
    const { jobId, thingName } = await jobIn('CANCELED')
    await h.iot.send(new DeleteJobCommand({ jobId }))
    await finishJobDeletions(h)
    await assertGone(jobId)
    assert.deepEqual(await executionsOfThing(h, thingName), [])
  })

  it('an explicit force=false deletes a COMPLETED job too', async () => {
    const { jobId } = await jobIn('COMPLETED')
    await h.iot.send(new DeleteJobCommand({ jobId, force: false }))
    await finishJobDeletions(h)
    await assertGone(jobId)
  })

  it('with force, an IN_PROGRESS job with executions in every status is deleted with all of them', async () => {
    const { jobId, thingOf } = await jobInEveryStatus(h)
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
      assert.equal((await describeJob(h, jobId)).status, 'DELETION_IN_PROGRESS')
      // Devices lose their executions as soon as the deletion starts.
      assert.deepEqual(await pendingOf(h, thingOf.QUEUED), [])
      assert.deepEqual(await pendingOf(h, thingOf.IN_PROGRESS), [])
    } finally {
      await hold.release()
    }
    await assertGone(jobId)
    for (const status of REACHABLE_STATUSES.filter((s) => s !== 'REMOVED')) {
      assert.deepEqual(await executionsOfThing(h, thingOf[status]), [], `executions of the ${status} thing`)
    }
    // [spec: jobs-control-plane#listjobexecutionsforthing] the deleted thing has no records left either.
    await assert.rejects(
      h.iot.send(new ListJobExecutionsForThingCommand({ thingName: thingOf.REMOVED })),
      isError(ResourceNotFoundException, 404),
    )
  })

  it('with force, a SCHEDULED job is deleted', async () => {
    const { jobId } = await jobIn('SCHEDULED')
    await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
    await finishJobDeletions(h)
    await assertGone(jobId)
  })
})

describe('DeleteJob refusals [spec: jobs-control-plane#deletejob] [open-question 27]', () => {
  for (const status of ['IN_PROGRESS', 'SCHEDULED'] as const) {
    for (const force of [undefined, false] as const) {
      it(`${status} without force (force=${String(force)}) is InvalidStateTransitionException and nothing changes`, async () => {
        const { jobId, thingName } = await jobIn(status)
        const before = await describeJob(h, jobId)
        const executions = await executionsOfThing(h, thingName)
        clock.advance(1000)
        await assert.rejects(
          h.iot.send(new DeleteJobCommand({ jobId, ...(force === undefined ? {} : { force }) })),
          isError(InvalidStateTransitionException, 409),
        )
        assert.deepEqual(await describeJob(h, jobId), before)
        assert.deepEqual(await executionsOfThing(h, thingName), executions)
      })
    }
  }

  it('deleting twice: DELETION_IN_PROGRESS is InvalidStateTransitionException (any force); once gone, ResourceNotFoundException', async () => {
    const { jobId } = await jobIn('COMPLETED')
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId }))
      for (const force of [false, true]) {
        await assert.rejects(
          h.iot.send(new DeleteJobCommand({ jobId, force })),
          isError(InvalidStateTransitionException, 409),
        )
      }
    } finally {
      await hold.release()
    }
    await assert.rejects(
      h.iot.send(new DeleteJobCommand({ jobId, force: true })),
      isError(ResourceNotFoundException, 404),
    )
  })

  it('an unknown job is ResourceNotFoundException', async () => {
    await assert.rejects(
      h.iot.send(new DeleteJobCommand({ jobId: unique('missing'), force: true })),
      isError(ResourceNotFoundException, 404),
    )
  })

  it('[spec: limits#4] the 11th job in DELETION_IN_PROGRESS is LimitExceededException (410) and stays as it was', async () => {
    const jobs: string[] = []
    for (let i = 0; i < 11; i += 1) jobs.push((await jobIn('CANCELED')).jobId)
    const hold = holdJobDeletion(h)
    try {
      for (const jobId of jobs.slice(0, 10)) await h.iot.send(new DeleteJobCommand({ jobId }))
      const last = jobs[10]!
      const before = await describeJob(h, last)
      await assert.rejects(
        h.iot.send(new DeleteJobCommand({ jobId: last, force: true })),
        isError(LimitExceededException, 410),
      )
      assert.deepEqual(await describeJob(h, last), before)
    } finally {
      assert.equal(await hold.release(), 10)
    }
    // Once the worker has run, there is room again.
    await h.iot.send(new DeleteJobCommand({ jobId: jobs[10]! }))
    await finishJobDeletions(h)
    for (const jobId of jobs) await assertGone(jobId)
  })
})

describe('DeleteJob and namespaceId [spec: jobs-control-plane#6-namespaces-namespaceid] [open-question 28]', () => {
  it('another namespaceId is ResourceNotFoundException, also for a job without namespace; nothing changes', async () => {
    const namespaced = await createJob(h, [await createThing(h)], { namespaceId: 'ns-del' })
    const plain = await createJob(h, [await createThing(h)])
    for (const jobId of [namespaced, plain]) {
      const before = await describeJob(h, jobId)
      await assert.rejects(
        h.iot.send(new DeleteJobCommand({ jobId, force: true, namespaceId: 'ns-other' })),
        isError(ResourceNotFoundException, 404),
      )
      assert.deepEqual(await describeJob(h, jobId), before)
    }
  })

  it('the matching namespaceId, or none, deletes a namespaced job', async () => {
    const thingName = await createThing(h)
    const withNs = await createJob(h, [thingName], { namespaceId: 'ns-del' })
    const withoutNs = await createJob(h, [thingName], { namespaceId: 'ns-del' })
    await h.iot.send(new DeleteJobCommand({ jobId: withNs, force: true, namespaceId: 'ns-del' }))
    await h.iot.send(new DeleteJobCommand({ jobId: withoutNs, force: true }))
    await finishJobDeletions(h)
    await assertGone(withNs)
    await assertGone(withoutNs)
    assert.deepEqual(await executionsOfThing(h, thingName), [])
  })
})

describe('While a job is being deleted [spec: jobs-control-plane#deletejob] [spec: jobs-control-plane#createjob]', () => {
  it('its id cannot be reused (ResourceAlreadyExistsException); execution operations answer 409; after the purge the id is free', async () => {
    const { jobId, thingName } = await jobIn('IN_PROGRESS')
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
      await assert.rejects(
        h.iot.send(new CreateJobCommand({ jobId, targets: [thingArnOf(thingName)], document: DOCUMENT })),
        (e: unknown) => {
          isError(ResourceAlreadyExistsException, 409)(e)
          const error = e as ResourceAlreadyExistsException
          assert.equal(error.resourceId, jobId)
          assert.equal(error.resourceArn, `arn:aws:iot:${REGION}:${ACCOUNT}:job/${jobId}`)
          return true
        },
      )
      // [open-question 30] [open-question 61]
      await assert.rejects(
        h.iot.send(new CancelJobExecutionCommand({ jobId, thingName, force: true })),
        isError(InvalidStateTransitionException, 409),
      )
      await assert.rejects(
        h.iot.send(new DeleteJobExecutionCommand({ jobId, thingName, executionNumber: 1, force: true })),
        isError(InvalidStateTransitionException, 409),
      )
      const device = await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
      assert.deepEqual(device.queuedJobs, [])
      assert.deepEqual(device.inProgressJobs, [])
    } finally {
      await hold.release()
    }
    await assertGone(jobId)
    clock.advance(1000)
    await h.iot.send(
      new CreateJobCommand({ jobId, targets: [thingArnOf(thingName)], document: '{"operation":"again"}' }),
    )
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'IN_PROGRESS')
    assert.equal(job.createdAt?.getTime(), clock.nowMs())
    assert.equal(job.jobProcessDetails?.numberOfQueuedThings, 1)
    assert.deepEqual(await executionsOfThing(h, thingName), [`${jobId}#1:QUEUED`])
    assert.equal((await h.iot.send(new GetJobDocumentCommand({ jobId }))).document, '{"operation":"again"}')
  })
})

describe('Devices after a forced DeleteJob [spec: jobs-control-plane#deletejob] [spec: state-machines#11-force-at-a-glance]', () => {
  it('"devices lose access to their executions": an update by the device is refused while the deletion runs, and nothing changes', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
      const before = await executionFacts(h, jobId, thingName)
      clock.advance(1000)
      // [spec: state-machines#11] "the device simply gets InvalidStateTransition or ResourceNotFound"
      await assert.rejects(report(h, jobId, thingName, 'IN_PROGRESS'), (e: unknown) => {
        assert.ok(
          e instanceof DeviceInvalidStateTransition || e instanceof DeviceResourceNotFound,
          `expected InvalidStateTransitionException or ResourceNotFoundException, got ${String(e)}`,
        )
        assert.equal(e.$metadata.httpStatusCode, e instanceof DeviceResourceNotFound ? 404 : 409)
        return true
      })
      assert.equal(await executionFacts(h, jobId, thingName), before)
    } finally {
      await hold.release()
    }
  })
})

describe('DeleteJob across a restart [spec: jobs-control-plane#deletejob]', () => {
  it('a deletion a stopped server left unfinished completes when the server starts again', async () => {
    const first = await startHarness({ clock })
    const thingName = await createThing(first)
    const jobId = await createJob(first, [thingName])
    holdJobDeletion(first)
    await first.iot.send(new DeleteJobCommand({ jobId, force: true }))
    assert.equal((await describeJob(first, jobId)).status, 'DELETION_IN_PROGRESS')
    first.iot.destroy()
    first.data.destroy()
    await first.server.close()

    const second = await startHarness({ clock, dataDir: first.dataDir })
    try {
      await second.server.workers.jobDeletion.idle()
      await assert.rejects(
        second.iot.send(new DescribeJobCommand({ jobId })),
        isError(ResourceNotFoundException, 404),
      )
      assert.deepEqual(await executionsOfThing(second, thingName), [])
    } finally {
      await second.close()
    }
  })
})
