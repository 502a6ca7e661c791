/**
 * UpdateJob through the real AWS SDK: the members it may change, per job status; whole-member
 * replacement; namespaceId; the timeout rule for executions already running; members outside the
 * operation are ignored; invalid values are refused without a write.
 */
import {
  CancelJobCommand,
  DeleteJobCommand,
  GetJobDocumentCommand,
  InvalidRequestException,
  ResourceNotFoundException,
  UpdateJobCommand,
} from '@aws-sdk/client-iot'
import type { UpdateJobCommandInput } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, raw, startHarness, thingArnOf, unique } from '../support/harness.js'
import {
  DOCUMENT,
  MINUTE_MS,
  ManualClock,
  createJob,
  createThing,
  describeJob,
  isError,
  report,
} from '../support/device.js'
import { cpExecution, holdJobDeletion, isoMinute } from '../support/lifecycle.js'

const DAY_MS = 24 * 60 * MINUTE_MS
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/fleet-urls`

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

type JobSettings = Required<Omit<UpdateJobCommandInput, 'jobId' | 'namespaceId'>>

/** Every member UpdateJob accepts, each with a value different from `INITIAL`. */
const CHANGES: JobSettings = {
  description: 'updated description',
  presignedUrlConfig: { roleArn: ROLE_ARN, expiresInSec: 900 },
  jobExecutionsRolloutConfig: { maximumPerMinute: 50 },
  abortConfig: {
    criteriaList: [
      { failureType: 'REJECTED', action: 'CANCEL', thresholdPercentage: 25.5, minNumberOfExecutedThings: 4 },
    ],
  },
  timeoutConfig: { inProgressTimeoutInMinutes: 30 },
  jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'TIMED_OUT', numberOfRetries: 3 }] },
}

/** A fully configured job, so that replacement of every member is visible. */
const INITIAL: JobSettings = {
  description: 'initial description',
  presignedUrlConfig: { roleArn: ROLE_ARN, expiresInSec: 3600 },
  jobExecutionsRolloutConfig: {
    maximumPerMinute: 100,
    exponentialRate: {
      baseRatePerMinute: 10,
      incrementFactor: 2,
      rateIncreaseCriteria: { numberOfNotifiedThings: 5 },
    },
  },
  abortConfig: {
    criteriaList: [
      { failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 50, minNumberOfExecutedThings: 1 },
      { failureType: 'TIMED_OUT', action: 'CANCEL', thresholdPercentage: 10, minNumberOfExecutedThings: 2 },
    ],
  },
  timeoutConfig: { inProgressTimeoutInMinutes: 60 },
  jobExecutionsRetryConfig: {
    criteriaList: [
      { failureType: 'FAILED', numberOfRetries: 2 },
      { failureType: 'TIMED_OUT', numberOfRetries: 1 },
    ],
  },
}

const MEMBERS = Object.keys(CHANGES) as (keyof typeof CHANGES)[]

/** The stored values of the UpdateJob members, as DescribeJob returns them. */
async function configOf(jobId: string): Promise<Record<string, unknown>> {
  const job = await describeJob(h, jobId)
  return Object.fromEntries(MEMBERS.map((m) => [m, job[m]]))
}

async function configuredJob(
  extra: Record<string, unknown> = {},
): Promise<{ jobId: string; thingName: string }> {
  const thingName = await createThing(h)
  const jobId = await createJob(h, [thingName], { ...structuredClone(INITIAL), ...extra })
  return { jobId, thingName }
}

describe('UpdateJob on an IN_PROGRESS job [spec: jobs-control-plane#updatejob]', () => {
  it('replaces every member it is given and sets lastUpdatedAt; the rest of the job is unchanged', async () => {
    const { jobId, thingName } = await configuredJob()
    const before = await describeJob(h, jobId)
    clock.advance(7000)
    const out = await h.iot.send(new UpdateJobCommand({ jobId, ...structuredClone(CHANGES) }))
    assert.equal(out.$metadata.httpStatusCode, 200)
    const job = await describeJob(h, jobId)
    assert.deepEqual(await configOf(jobId), CHANGES)
    assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())
    assert.equal(job.createdAt?.getTime(), before.createdAt?.getTime())
    assert.equal(job.status, 'IN_PROGRESS')
    assert.equal(job.targetSelection, 'SNAPSHOT')
    assert.deepEqual(job.targets, [thingArnOf(thingName)])
    assert.deepEqual(job.jobProcessDetails, before.jobProcessDetails)
    assert.equal(job.forceCanceled, undefined)
    const doc = await h.iot.send(new GetJobDocumentCommand({ jobId }))
    assert.equal(doc.document, DOCUMENT)
  })

  for (const member of MEMBERS) {
    it(`${member} alone: replaces that member as a whole (no deep merge) and leaves the others`, async () => {
      const { jobId } = await configuredJob()
      clock.advance(1000)
      await h.iot.send(new UpdateJobCommand({ jobId, [member]: structuredClone(CHANGES[member]) }))
      assert.deepEqual(await configOf(jobId), { ...INITIAL, [member]: CHANGES[member] })
      assert.equal((await describeJob(h, jobId)).lastUpdatedAt?.getTime(), clock.nowMs())
    })
  }

  it('sets members the job did not have', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    assert.deepEqual(await configOf(jobId), Object.fromEntries(MEMBERS.map((m) => [m, undefined])))
    await h.iot.send(new UpdateJobCommand({ jobId, ...structuredClone(CHANGES) }))
    assert.deepEqual(await configOf(jobId), CHANGES)
  })

  it('[spec: wire-protocol#2.3] members outside UpdateJob (document, targets, targetSelection, namespaceId in the body) are ignored', async () => {
    const { jobId, thingName } = await configuredJob()
    const other = await createThing(h)
    const reply = await raw(
      h.server.url,
      'PATCH',
      `/jobs/${jobId}`,
      JSON.stringify({
        description: 'only this changes',
        document: '{"operation":"replaced"}',
        targets: [thingArnOf(other)],
        targetSelection: 'CONTINUOUS',
        namespaceId: 'sneaky',
        status: 'CANCELED',
      }),
    )
    assert.equal(reply.status, 200)
    assert.deepEqual(reply.json, {})
    const job = await describeJob(h, jobId)
    assert.equal(job.description, 'only this changes')
    assert.deepEqual(job.targets, [thingArnOf(thingName)])
    assert.equal(job.targetSelection, 'SNAPSHOT')
    assert.equal(job.namespaceId, undefined)
    assert.equal(job.status, 'IN_PROGRESS')
    assert.equal((await h.iot.send(new GetJobDocumentCommand({ jobId }))).document, DOCUMENT)
  })

  it('an update with no members succeeds and changes only lastUpdatedAt', async () => {
    const { jobId } = await configuredJob()
    const before = await describeJob(h, jobId)
    clock.advance(1000)
    await h.iot.send(new UpdateJobCommand({ jobId }))
    const job = await describeJob(h, jobId)
    assert.deepEqual({ ...job, lastUpdatedAt: undefined }, { ...before, lastUpdatedAt: undefined })
    assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())
  })

  it('[spec: state-machines#4-timers-and-timed_out] a new timeoutConfig applies only to executions that start afterwards', async () => {
    const early = await createThing(h)
    const late = await createThing(h)
    const jobId = await createJob(h, [early, late], { timeoutConfig: { inProgressTimeoutInMinutes: 60 } })
    await report(h, jobId, early, 'IN_PROGRESS')
    clock.advance(MINUTE_MS)
    await h.iot.send(new UpdateJobCommand({ jobId, timeoutConfig: { inProgressTimeoutInMinutes: 10 } }))
    await report(h, jobId, late, 'IN_PROGRESS')
    clock.advance(MINUTE_MS)
    // early: started 2 minutes ago with 60; late: started 1 minute ago with 10.
    assert.equal((await cpExecution(h, jobId, early)).approximateSecondsBeforeTimedOut, 58 * 60)
    assert.equal((await cpExecution(h, jobId, late)).approximateSecondsBeforeTimedOut, 9 * 60)
  })
})

describe('UpdateJob by job status [spec: jobs-control-plane#updatejob] [open-question 25]', () => {
  it('a SCHEDULED job can be updated', async () => {
    const { jobId } = await configuredJob({
      schedulingConfig: { startTime: isoMinute(clock.nowMs(), DAY_MS) },
    })
    assert.equal((await describeJob(h, jobId)).status, 'SCHEDULED')
    clock.advance(1000)
    await h.iot.send(new UpdateJobCommand({ jobId, ...structuredClone(CHANGES) }))
    const job = await describeJob(h, jobId)
    assert.deepEqual(await configOf(jobId), CHANGES)
    assert.equal(job.status, 'SCHEDULED')
    assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())
  })

  const refused = async (jobId: string): Promise<void> => {
    const before = await describeJob(h, jobId)
    clock.advance(1000)
    await assert.rejects(
      h.iot.send(new UpdateJobCommand({ jobId, ...structuredClone(CHANGES) })),
      isError(InvalidRequestException, 400),
    )
    assert.deepEqual(await describeJob(h, jobId), before)
  }

  it('a CANCELED job cannot be updated (InvalidRequestException, nothing changes)', async () => {
    const { jobId } = await configuredJob()
    await h.iot.send(new CancelJobCommand({ jobId }))
    await refused(jobId)
  })

  it('a COMPLETED job cannot be updated (InvalidRequestException, nothing changes)', async () => {
    const { jobId, thingName } = await configuredJob()
    await report(h, jobId, thingName, 'SUCCEEDED')
    assert.equal((await describeJob(h, jobId)).status, 'COMPLETED')
    await refused(jobId)
  })

  it('a job in DELETION_IN_PROGRESS cannot be updated (InvalidRequestException, nothing changes)', async () => {
    const { jobId } = await configuredJob()
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
      assert.equal((await describeJob(h, jobId)).status, 'DELETION_IN_PROGRESS')
      await refused(jobId)
    } finally {
      await hold.release()
    }
  })

  it('an unknown job is ResourceNotFoundException', async () => {
    await assert.rejects(
      h.iot.send(new UpdateJobCommand({ jobId: unique('missing'), description: 'x' })),
      isError(ResourceNotFoundException, 404),
    )
  })
})

describe('UpdateJob and namespaceId [spec: jobs-control-plane#6-namespaces-namespaceid] [open-question 28]', () => {
  it('a matching namespaceId, or none, reaches a namespaced job', async () => {
    const { jobId } = await configuredJob({ namespaceId: 'ns-update' })
    await h.iot.send(new UpdateJobCommand({ jobId, namespaceId: 'ns-update', description: 'with ns' }))
    assert.equal((await describeJob(h, jobId)).description, 'with ns')
    await h.iot.send(new UpdateJobCommand({ jobId, description: 'without ns' }))
    const job = await describeJob(h, jobId)
    assert.equal(job.description, 'without ns')
    assert.equal(job.namespaceId, 'ns-update')
  })

  it('another namespaceId is ResourceNotFoundException, also for a job without namespace', async () => {
    const namespaced = (await configuredJob({ namespaceId: 'ns-a' })).jobId
    const plain = (await configuredJob()).jobId
    for (const jobId of [namespaced, plain]) {
      const before = await describeJob(h, jobId)
      await assert.rejects(
        h.iot.send(new UpdateJobCommand({ jobId, namespaceId: 'ns-b', description: 'never' })),
        isError(ResourceNotFoundException, 404),
      )
      assert.deepEqual(await describeJob(h, jobId), before)
    }
  })
})

describe('UpdateJob refuses invalid configurations [spec: jobs-control-plane#3-validation-rules-shared-by-createjob-updatejob-and-createjobtemplate]', () => {
  const cases: [string, Omit<UpdateJobCommandInput, 'jobId'>, string][] = [
    ['description with a control character', { description: 'a\u0007b' }, 'description'],
    [
      'expiresInSec below 60',
      { presignedUrlConfig: { roleArn: ROLE_ARN, expiresInSec: 59 } },
      'expiresInSec',
    ],
    [
      '[open-question 14] maximumPerMinute above 1000',
      { jobExecutionsRolloutConfig: { maximumPerMinute: 1001 } },
      'maximumPerMinute',
    ],
    [
      'incrementFactor with two decimals',
      {
        jobExecutionsRolloutConfig: {
          exponentialRate: {
            baseRatePerMinute: 5,
            incrementFactor: 1.55,
            rateIncreaseCriteria: { numberOfSucceededThings: 1 },
          },
        },
      },
      'incrementFactor',
    ],
    [
      '[open-question 15] baseRatePerMinute above maximumPerMinute',
      {
        jobExecutionsRolloutConfig: {
          maximumPerMinute: 5,
          exponentialRate: {
            baseRatePerMinute: 6,
            incrementFactor: 2,
            rateIncreaseCriteria: { numberOfSucceededThings: 1 },
          },
        },
      },
      'baseRatePerMinute',
    ],
    [
      '[open-question 16] the same abort failureType twice',
      {
        abortConfig: {
          criteriaList: [
            { failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 5, minNumberOfExecutedThings: 1 },
            { failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 9, minNumberOfExecutedThings: 1 },
          ],
        },
      },
      'failureType',
    ],
    [
      'inProgressTimeoutInMinutes above 10080',
      { timeoutConfig: { inProgressTimeoutInMinutes: 10081 } },
      'inProgressTimeoutInMinutes',
    ],
    [
      'more than 10 retries in total',
      {
        jobExecutionsRetryConfig: {
          criteriaList: [
            { failureType: 'FAILED', numberOfRetries: 6 },
            { failureType: 'TIMED_OUT', numberOfRetries: 5 },
          ],
        },
      },
      'jobExecutionsRetryConfig',
    ],
  ]
  for (const [what, change, names] of cases) {
    it(`${what}: InvalidRequestException naming ${names}; the job is unchanged`, async () => {
      const { jobId } = await configuredJob()
      const before = await describeJob(h, jobId)
      clock.advance(1000)
      await assert.rejects(h.iot.send(new UpdateJobCommand({ jobId, ...change })), (e: unknown) => {
        isError(InvalidRequestException, 400)(e)
        assert.match((e as Error).message, new RegExp(names))
        return true
      })
      assert.deepEqual(await describeJob(h, jobId), before)
    })
  }
})
