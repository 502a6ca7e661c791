/**
 * CancelJob through the real AWS SDK: the job status table, the effect on executions in every status
 * with and without `force`, reasonCode/comment, and what devices can still do afterwards.
 */
import {
  CancelJobCommand,
  CreateJobCommand,
  DeleteJobCommand,
  InvalidRequestException,
  ListJobExecutionsForJobCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-iot'
import { InvalidStateTransitionException as DeviceInvalidStateTransition } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, startHarness, unique } from '../support/harness.js'
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
  cpExecution,
  holdJobDeletion,
  isoMinute,
  jobInEveryStatus,
} from '../support/lifecycle.js'
import type { ReachableStatus } from '../support/lifecycle.js'
import {
  addToGroup,
  assertCountersMatchRecords,
  createGroup,
  createThings,
  executionStates,
} from '../support/thing-groups.js'

const DAY_MS = 24 * 60 * 60 * 1000
const jobArnOf = (jobId: string) => `arn:aws:iot:${REGION}:${ACCOUNT}:job/${jobId}`

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

/** The execution facts of every status's thing, keyed by the status it was put in. */
async function factsOf(
  jobId: string,
  thingOf: Record<ReachableStatus, string>,
): Promise<Record<ReachableStatus, string>> {
  const out = {} as Record<ReachableStatus, string>
  for (const status of REACHABLE_STATUSES) out[status] = await executionFacts(h, jobId, thingOf[status])
  return out
}

const TERMINAL = ['SUCCEEDED', 'FAILED', 'REJECTED', 'CANCELED', 'REMOVED'] as const

describe('CancelJob without force [spec: jobs-control-plane#canceljob] [spec: state-machines#11-force-at-a-glance]', () => {
  it('cancels the job and its QUEUED executions; IN_PROGRESS and terminal executions are untouched', async () => {
    const { jobId, thingOf } = await jobInEveryStatus(h, { description: 'to be canceled' })
    const before = await factsOf(jobId, thingOf)
    clock.advance(5000)
    const out = await h.iot.send(
      new CancelJobCommand({ jobId, reasonCode: 'OPERATOR_STOP_1', comment: 'stopped by the test' }),
    )
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.equal(out.jobArn, jobArnOf(jobId))
    assert.equal(out.jobId, jobId)
    assert.equal(out.description, 'to be canceled')

    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.forceCanceled, false)
    assert.equal(job.reasonCode, 'OPERATOR_STOP_1')
    assert.equal(job.comment, 'stopped by the test')
    assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())
    assert.equal(job.createdAt?.getTime(), clock.nowMs() - 5000)
    // [open-question 22] completedAt is not set for CANCELED jobs
    assert.equal(job.completedAt, undefined)

    const queued = await cpExecution(h, jobId, thingOf.QUEUED)
    assert.equal(queued.status, 'CANCELED')
    assert.equal(queued.versionNumber, 2)
    assert.equal(queued.forceCanceled, undefined)
    assert.equal(queued.lastUpdatedAt?.getTime(), clock.nowMs())
    // IN_PROGRESS keeps running; terminal executions do not change at all.
    const after = await factsOf(jobId, thingOf)
    assert.equal(after.IN_PROGRESS, before.IN_PROGRESS)
    for (const status of TERMINAL) assert.equal(after[status], before[status], `${status} execution`)

    assert.deepEqual(job.jobProcessDetails, {
      numberOfCanceledThings: 2,
      numberOfSucceededThings: 1,
      numberOfFailedThings: 1,
      numberOfRejectedThings: 1,
      numberOfQueuedThings: 0,
      numberOfInProgressThings: 1,
      numberOfRemovedThings: 1,
      numberOfTimedOutThings: 0,
    })
    await assertCountersMatchRecords(h, jobId)
    assert.deepEqual(await pendingOf(h, thingOf.QUEUED), [])
    assert.deepEqual(await pendingOf(h, thingOf.IN_PROGRESS), [`${jobId}:IN_PROGRESS`])
  })

  it('[spec: state-machines#1-job-state-machine] a device may still finish its IN_PROGRESS execution; the job stays CANCELED', async () => {
    const { jobId, thingOf } = await jobInEveryStatus(h)
    await h.iot.send(new CancelJobCommand({ jobId }))
    clock.advance(1000)
    await report(h, jobId, thingOf.IN_PROGRESS, 'SUCCEEDED')
    const e = await cpExecution(h, jobId, thingOf.IN_PROGRESS)
    assert.equal(e.status, 'SUCCEEDED')
    assert.equal(e.versionNumber, 3)
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.completedAt, undefined)
    assert.equal(job.jobProcessDetails?.numberOfSucceededThings, 2)
    assert.equal(job.jobProcessDetails?.numberOfInProgressThings, 0)
    await assertCountersMatchRecords(h, jobId)
  })

  it('stores neither reasonCode nor comment when none is given', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    const out = await h.iot.send(new CancelJobCommand({ jobId }))
    assert.equal(out.description, undefined)
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.forceCanceled, false)
    assert.equal(job.reasonCode, undefined)
    assert.equal(job.comment, undefined)
  })

  it('an explicit force=false behaves like no force', async () => {
    const { jobId, thingOf } = await jobInEveryStatus(h)
    await h.iot.send(new CancelJobCommand({ jobId, force: false }))
    assert.equal((await cpExecution(h, jobId, thingOf.QUEUED)).status, 'CANCELED')
    assert.equal((await cpExecution(h, jobId, thingOf.IN_PROGRESS)).status, 'IN_PROGRESS')
    assert.equal((await describeJob(h, jobId)).forceCanceled, false)
  })

  it('[spec: state-machines#7-target-selection-and-membership-changes] a canceled CONTINUOUS job gives no execution to a thing that joins its group later', async () => {
    const group = await createGroup(h)
    const [member] = await createThings(h, 1, group.name)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [group.arn],
      }),
    )
    await h.iot.send(new CancelJobCommand({ jobId }))
    const [late] = await createThings(h, 1)
    await addToGroup(h, group.name, late!)
    assert.deepEqual(await executionStates(h, jobId), [`${member!}#1:CANCELED`])
    assert.deepEqual(await pendingOf(h, late!), [])
  })
})

describe('CancelJob with force [spec: jobs-control-plane#canceljob] [spec: state-machines#11-force-at-a-glance]', () => {
  it('cancels QUEUED and IN_PROGRESS executions (the latter forceCanceled); terminal ones are untouched', async () => {
    const { jobId, thingOf } = await jobInEveryStatus(h)
    const before = await factsOf(jobId, thingOf)
    clock.advance(3000)
    await h.iot.send(new CancelJobCommand({ jobId, force: true, reasonCode: 'FORCED' }))

    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.forceCanceled, true)
    assert.equal(job.reasonCode, 'FORCED')
    assert.equal(job.comment, undefined)
    assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())

    const queued = await cpExecution(h, jobId, thingOf.QUEUED)
    assert.equal(queued.status, 'CANCELED')
    assert.equal(queued.versionNumber, 2)
    assert.equal(queued.lastUpdatedAt?.getTime(), clock.nowMs())
    const running = await cpExecution(h, jobId, thingOf.IN_PROGRESS)
    assert.equal(running.status, 'CANCELED')
    assert.equal(running.forceCanceled, true)
    assert.equal(running.versionNumber, 3)
    assert.equal(running.lastUpdatedAt?.getTime(), clock.nowMs())
    assert.equal(running.approximateSecondsBeforeTimedOut, undefined)
    const after = await factsOf(jobId, thingOf)
    for (const status of TERMINAL) assert.equal(after[status], before[status], `${status} execution`)

    assert.equal(job.jobProcessDetails?.numberOfCanceledThings, 3)
    assert.equal(job.jobProcessDetails?.numberOfInProgressThings, 0)
    assert.equal(job.jobProcessDetails?.numberOfQueuedThings, 0)
    await assertCountersMatchRecords(h, jobId)
    assert.deepEqual(await pendingOf(h, thingOf.IN_PROGRESS), [])
  })

  it('the device can no longer update a force-canceled execution (InvalidStateTransitionException 409)', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'IN_PROGRESS')
    await h.iot.send(new CancelJobCommand({ jobId, force: true }))
    for (const status of ['IN_PROGRESS', 'SUCCEEDED', 'FAILED'] as const) {
      await assert.rejects(report(h, jobId, thingName, status), isError(DeviceInvalidStateTransition, 409))
    }
    assert.equal((await cpExecution(h, jobId, thingName)).status, 'CANCELED')
  })

  it('[open-question 26] force on a job canceled without force upgrades it once: IN_PROGRESS executions are canceled', async () => {
    const { jobId, thingOf } = await jobInEveryStatus(h)
    await h.iot.send(new CancelJobCommand({ jobId, reasonCode: 'FIRST', comment: 'first' }))
    assert.equal((await cpExecution(h, jobId, thingOf.IN_PROGRESS)).status, 'IN_PROGRESS')
    const queuedAfterFirst = await executionFacts(h, jobId, thingOf.QUEUED)
    clock.advance(2000)
    const out = await h.iot.send(
      new CancelJobCommand({ jobId, force: true, reasonCode: 'SECOND', comment: 'second' }),
    )
    assert.equal(out.jobId, jobId)
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.forceCanceled, true)
    assert.equal(job.reasonCode, 'SECOND')
    assert.equal(job.comment, 'second')
    assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())
    const running = await cpExecution(h, jobId, thingOf.IN_PROGRESS)
    assert.equal(running.status, 'CANCELED')
    assert.equal(running.forceCanceled, true)
    // The execution canceled by the first call is not written again.
    assert.equal(await executionFacts(h, jobId, thingOf.QUEUED), queuedAfterFirst)
    await assertCountersMatchRecords(h, jobId)

    // A second upgrade, or a plain cancel, is refused and changes nothing.
    for (const force of [true, false]) {
      await assert.rejects(
        h.iot.send(new CancelJobCommand({ jobId, force, reasonCode: 'THIRD' })),
        isError(InvalidRequestException, 400),
      )
    }
    const again = await describeJob(h, jobId)
    assert.equal(again.reasonCode, 'SECOND')
    assert.equal(again.lastUpdatedAt?.getTime(), job.lastUpdatedAt?.getTime())
  })
})

describe('CancelJob by job status [spec: jobs-control-plane#canceljob] [spec: state-machines#1-job-state-machine]', () => {
  it('[open-question 26] a CANCELED job canceled again without force is InvalidRequestException and stays as it was', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await h.iot.send(new CancelJobCommand({ jobId, comment: 'once' }))
    const before = await describeJob(h, jobId)
    clock.advance(1000)
    await assert.rejects(
      h.iot.send(new CancelJobCommand({ jobId, comment: 'twice' })),
      isError(InvalidRequestException, 400),
    )
    assert.deepEqual(await describeJob(h, jobId), before)
  })

  it('[open-question 26] a COMPLETED job cannot be canceled, with or without force (InvalidRequestException)', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'SUCCEEDED')
    const before = await describeJob(h, jobId)
    assert.equal(before.status, 'COMPLETED')
    clock.advance(1000)
    for (const force of [false, true]) {
      await assert.rejects(
        h.iot.send(new CancelJobCommand({ jobId, force, reasonCode: 'LATE' })),
        isError(InvalidRequestException, 400),
      )
    }
    const job = await describeJob(h, jobId)
    assert.deepEqual(job, before)
    assert.equal(job.reasonCode, undefined)
    assert.equal(job.forceCanceled, undefined)
  })

  it('a job in DELETION_IN_PROGRESS cannot be canceled (InvalidRequestException)', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
      for (const force of [false, true]) {
        await assert.rejects(
          h.iot.send(new CancelJobCommand({ jobId, force })),
          isError(InvalidRequestException, 400),
        )
      }
      const job = await describeJob(h, jobId)
      assert.equal(job.status, 'DELETION_IN_PROGRESS')
      assert.equal(job.reasonCode, undefined)
    } finally {
      await hold.release()
    }
  })

  it('an unknown job is ResourceNotFoundException', async () => {
    await assert.rejects(
      h.iot.send(new CancelJobCommand({ jobId: unique('missing') })),
      isError(ResourceNotFoundException, 404),
    )
  })

  for (const force of [false, true]) {
    it(`a SCHEDULED job is canceled (force=${String(force)}) and never gets executions`, async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName], {
        schedulingConfig: { startTime: isoMinute(clock.nowMs(), DAY_MS) },
      })
      assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
      clock.advance(1000)
      await h.iot.send(new CancelJobCommand({ jobId, force, comment: 'not needed after all' }))
      const job = await describeJob(h, jobId)
      assert.equal(job.status, 'CANCELED')
      assert.equal(job.forceCanceled, force)
      assert.equal(job.comment, 'not needed after all')
      assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())
      const listed = await h.iot.send(new ListJobExecutionsForJobCommand({ jobId }))
      assert.deepEqual(listed.executionSummaries, [])
      assert.deepEqual(await pendingOf(h, thingName), [])
    })
  }
})
