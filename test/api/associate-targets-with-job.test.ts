/**
 * AssociateTargetsWithJob through the real AWS SDK: new targets of an IN_PROGRESS CONTINUOUS job give
 * a QUEUED execution to every thing they reach that has none, never a duplicate; refusals for other
 * jobs and unknown or malformed targets leave the job as it was.
 */
import {
  AssociateTargetsWithJobCommand,
  CancelJobCommand,
  CreateJobCommand,
  DeleteJobCommand,
  InvalidRequestException,
  LimitExceededException,
  ListJobExecutionsForThingCommand,
  RemoveThingFromThingGroupCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, startHarness, thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT, ManualClock, describeJob, isError, report } from '../support/device.js'
import { holdJobDeletion, isoMinute } from '../support/lifecycle.js'
import {
  addToGroup,
  assertCountersMatchRecords,
  assertDeviceSeesPending,
  createGroup,
  createThings,
  executionStates,
} from '../support/thing-groups.js'

const DAY_MS = 24 * 60 * 60 * 1000

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

/** A CONTINUOUS job on group A with two members: `queued` (QUEUED) and `done` (SUCCEEDED). */
async function continuousJob(extra: Record<string, unknown> = {}) {
  const groupA = await createGroup(h)
  const [queued, done] = (await createThings(h, 2, groupA.name)) as [string, string]
  const jobId = unique('job')
  await h.iot.send(
    new CreateJobCommand({
      jobId,
      document: DOCUMENT,
      targetSelection: 'CONTINUOUS',
      targets: [groupA.arn],
      description: 'continuous job',
      ...extra,
    }),
  )
  // A SCHEDULED job has no executions yet.
  if (extra['schedulingConfig'] === undefined) await report(h, jobId, done, 'SUCCEEDED')
  return { jobId, groupA, queued, done }
}

const associate = (
  jobId: string,
  targets: string[],
  extra: { comment?: string; namespaceId?: string } = {},
) => h.iot.send(new AssociateTargetsWithJobCommand({ jobId, targets, ...extra }))

describe('AssociateTargetsWithJob on an IN_PROGRESS CONTINUOUS job [spec: jobs-control-plane#associatetargetswithjob] [spec: state-machines#7-target-selection-and-membership-changes]', () => {
  it('appends thing and group targets; things without an execution get a QUEUED one, the others nothing', async () => {
    const { jobId, groupA, queued, done } = await continuousJob()
    const groupB = await createGroup(h)
    const [fresh] = (await createThings(h, 1, groupB.name)) as [string]
    // `queued` and `done` are in B too: already reached through A, they get nothing new.
    await addToGroup(h, groupB.name, queued)
    await addToGroup(h, groupB.name, done)
    const [direct] = (await createThings(h, 1)) as [string]
    clock.advance(6000)
    const out = await associate(jobId, [thingArnOf(direct), groupB.arn], { comment: 'more targets' })
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.equal(out.jobArn, `arn:aws:iot:${REGION}:${ACCOUNT}:job/${jobId}`)
    assert.equal(out.jobId, jobId)
    assert.equal(out.description, 'continuous job')

    const job = await describeJob(h, jobId)
    assert.deepEqual(job.targets, [groupA.arn, thingArnOf(direct), groupB.arn])
    assert.equal(job.comment, 'more targets')
    assert.equal(job.status, 'IN_PROGRESS')
    assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())
    assert.deepEqual(
      await executionStates(h, jobId),
      [`${direct}#1:QUEUED`, `${fresh}#1:QUEUED`, `${queued}#1:QUEUED`, `${done}#1:SUCCEEDED`].sort(),
    )
    const counters = await assertCountersMatchRecords(h, jobId)
    assert.equal(counters.numberOfQueuedThings, 3)
    assert.equal(counters.numberOfSucceededThings, 1)
    await assertDeviceSeesPending(h, jobId, [direct, fresh, queued, done])
    // The new execution is stamped with the time of the association.
    const listed = await h.iot.send(new ListJobExecutionsForThingCommand({ thingName: direct }))
    assert.equal(listed.executionSummaries?.[0]?.jobExecutionSummary?.queuedAt?.getTime(), clock.nowMs())
  })

  it('duplicates in the request and targets the job already has are ignored', async () => {
    const { jobId, groupA, queued, done } = await continuousJob()
    const [direct] = (await createThings(h, 1)) as [string]
    await associate(jobId, [thingArnOf(direct), groupA.arn, thingArnOf(direct)])
    await associate(jobId, [thingArnOf(direct), groupA.arn])
    const job = await describeJob(h, jobId)
    assert.deepEqual(job.targets, [groupA.arn, thingArnOf(direct)])
    assert.deepEqual(
      await executionStates(h, jobId),
      [`${direct}#1:QUEUED`, `${queued}#1:QUEUED`, `${done}#1:SUCCEEDED`].sort(),
    )
    await assertCountersMatchRecords(h, jobId)
  })

  it('a thing already reached through another target gets no second execution, whatever its status', async () => {
    const { jobId, groupA, queued, done } = await continuousJob()
    await associate(jobId, [thingArnOf(queued), thingArnOf(done)])
    assert.deepEqual((await describeJob(h, jobId)).targets, [
      groupA.arn,
      thingArnOf(queued),
      thingArnOf(done),
    ])
    assert.deepEqual(await executionStates(h, jobId), [`${queued}#1:QUEUED`, `${done}#1:SUCCEEDED`].sort())
  })

  it('an associated group is live: a thing joining it later gets an execution, one leaving it loses its QUEUED one', async () => {
    const { jobId } = await continuousJob()
    const groupB = await createGroup(h)
    await associate(jobId, [groupB.arn])
    const [joiner] = (await createThings(h, 1, groupB.name)) as [string]
    assert.deepEqual(await executionStates(h, jobId, [joiner]), [`${joiner}#1:QUEUED`])
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: groupB.name, thingName: joiner }))
    assert.deepEqual(await executionStates(h, jobId, [joiner]), [`${joiner}#1:REMOVED`])
    await assertCountersMatchRecords(h, jobId)
  })

  it('without a comment the stored comment stays; a later comment replaces it', async () => {
    const { jobId } = await continuousJob()
    const [one, two, three] = (await createThings(h, 3)) as [string, string, string]
    await associate(jobId, [thingArnOf(one)], { comment: 'first' })
    await associate(jobId, [thingArnOf(two)])
    assert.equal((await describeJob(h, jobId)).comment, 'first')
    await associate(jobId, [thingArnOf(three)], { comment: 'second' })
    assert.equal((await describeJob(h, jobId)).comment, 'second')
  })

  it('[spec: jobs-control-plane#6-namespaces-namespaceid] a matching namespaceId is accepted and the new execution is in the namespace', async () => {
    const { jobId } = await continuousJob({ namespaceId: 'ns-assoc' })
    const [thing] = (await createThings(h, 1)) as [string]
    await associate(jobId, [thingArnOf(thing)], { namespaceId: 'ns-assoc' })
    const inNs = await h.iot.send(
      new ListJobExecutionsForThingCommand({ thingName: thing, namespaceId: 'ns-assoc' }),
    )
    assert.deepEqual(
      inNs.executionSummaries?.map(
        (s) => `${String(s.jobId)}#${String(s.jobExecutionSummary?.executionNumber)}`,
      ),
      [`${jobId}#1`],
    )
  })
})

describe('AssociateTargetsWithJob refusals leave the job unchanged [spec: jobs-control-plane#associatetargetswithjob]', () => {
  /** Runs `attempt`, expecting the error, and checks that targets, comment, executions did not change. */
  async function refused(
    jobId: string,
    attempt: () => Promise<unknown>,
    check: (e: unknown) => boolean,
  ): Promise<void> {
    const before = await describeJob(h, jobId)
    const executions = await executionStates(h, jobId)
    clock.advance(1000)
    await assert.rejects(attempt(), check)
    assert.deepEqual(await describeJob(h, jobId), before)
    assert.deepEqual(await executionStates(h, jobId), executions)
  }

  it('[open-question 29] an unknown thing or group is ResourceNotFoundException, and the known targets of the request are not added', async () => {
    const { jobId } = await continuousJob()
    const [known] = (await createThings(h, 1)) as [string]
    const missingThing = thingArnOf(unique('missing'))
    const missingGroup = `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/${unique('missing')}`
    for (const target of [missingThing, missingGroup]) {
      await refused(
        jobId,
        () => associate(jobId, [thingArnOf(known), target], { comment: 'never' }),
        isError(ResourceNotFoundException, 404),
      )
    }
    assert.deepEqual(
      (await h.iot.send(new ListJobExecutionsForThingCommand({ thingName: known }))).executionSummaries,
      [],
    )
  })

  it('a target that is not a thing or thing-group ARN of this service is InvalidRequestException', async () => {
    const { jobId } = await continuousJob()
    const [known] = (await createThings(h, 1)) as [string]
    for (const target of [
      'not-an-arn',
      `arn:aws:iot:eu-west-1:${ACCOUNT}:thing/${known}`,
      `arn:aws:iot:${REGION}:999999999999:thing/${known}`,
      `arn:aws:iot:${REGION}:${ACCOUNT}:job/${jobId}`,
    ]) {
      await refused(jobId, () => associate(jobId, [target]), isError(InvalidRequestException, 400))
    }
  })

  it('a SNAPSHOT job is InvalidRequestException', async () => {
    const [target, extra] = (await createThings(h, 2)) as [string, string]
    const jobId = unique('job')
    await h.iot.send(new CreateJobCommand({ jobId, document: DOCUMENT, targets: [thingArnOf(target)] }))
    await refused(jobId, () => associate(jobId, [thingArnOf(extra)]), isError(InvalidRequestException, 400))
  })

  it('a CANCELED CONTINUOUS job is InvalidRequestException', async () => {
    const { jobId } = await continuousJob()
    await h.iot.send(new CancelJobCommand({ jobId }))
    const [extra] = (await createThings(h, 1)) as [string]
    await refused(jobId, () => associate(jobId, [thingArnOf(extra)]), isError(InvalidRequestException, 400))
  })

  it('a SCHEDULED CONTINUOUS job is InvalidRequestException', async () => {
    const { jobId } = await continuousJob({
      schedulingConfig: { startTime: isoMinute(clock.nowMs(), DAY_MS) },
    })
    const [extra] = (await createThings(h, 1)) as [string]
    await refused(jobId, () => associate(jobId, [thingArnOf(extra)]), isError(InvalidRequestException, 400))
  })

  it('a CONTINUOUS job in DELETION_IN_PROGRESS is InvalidRequestException', async () => {
    const { jobId } = await continuousJob()
    const [extra] = (await createThings(h, 1)) as [string]
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
      await refused(jobId, () => associate(jobId, [thingArnOf(extra)]), isError(InvalidRequestException, 400))
    } finally {
      await hold.release()
    }
  })

  it('an unknown job is ResourceNotFoundException', async () => {
    const [extra] = (await createThings(h, 1)) as [string]
    await assert.rejects(
      associate(unique('missing'), [thingArnOf(extra)]),
      isError(ResourceNotFoundException, 404),
    )
  })

  it('[open-question 28] another namespaceId is ResourceNotFoundException, also for a job without namespace', async () => {
    const namespaced = (await continuousJob({ namespaceId: 'ns-x' })).jobId
    const plain = (await continuousJob()).jobId
    const [extra] = (await createThings(h, 1)) as [string]
    for (const jobId of [namespaced, plain]) {
      await refused(
        jobId,
        () => associate(jobId, [thingArnOf(extra)], { namespaceId: 'ns-y' }),
        isError(ResourceNotFoundException, 404),
      )
    }
  })

  it('[spec: limits#4] [open-question 29] more than 100 targets in all is LimitExceededException (410); exactly 100 is accepted', async () => {
    const { jobId, groupA } = await continuousJob()
    const things = await createThings(h, 100)
    await associate(jobId, things.slice(0, 99).map(thingArnOf))
    assert.equal((await describeJob(h, jobId)).targets?.length, 100)
    await refused(
      jobId,
      () => associate(jobId, [thingArnOf(things[99]!), groupA.arn]),
      isError(LimitExceededException, 410),
    )
    assert.equal((await executionStates(h, jobId)).length, 101)
  })
})
