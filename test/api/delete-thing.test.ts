import {
  CreateJobCommand,
  CreateThingCommand,
  DeleteThingCommand,
  DescribeJobExecutionCommand,
  DescribeThingCommand,
  ListJobExecutionsForThingCommand,
  ListThingGroupsForThingCommand,
  ListThingsCommand,
  ListThingsInThingGroupCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot'
import type { JobExecution } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT, ManualClock, createJob, createThing, describeJob, report } from '../support/device.js'
import { cpDate, expectError } from '../support/registry.js'
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

const del = (thingName: string, expectedVersion?: number) =>
  h.iot.send(
    new DeleteThingCommand({ thingName, ...(expectedVersion === undefined ? {} : { expectedVersion }) }),
  )

const exists = async (thingName: string): Promise<boolean> => {
  try {
    await h.iot.send(new DescribeThingCommand({ thingName }))
    return true
  } catch (error) {
    if (error instanceof Error && error.name === 'ResourceNotFoundException') return false
    throw error
  }
}

/** The control-plane view of the latest execution of the job on the thing. */
async function cpExecution(jobId: string, thingName: string): Promise<JobExecution> {
  const out = await h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }))
  assert.ok(out.execution !== undefined)
  return out.execution
}

const brief = (e: JobExecution) => ({
  status: e.status,
  versionNumber: e.versionNumber,
  lastUpdatedAt: e.lastUpdatedAt,
  startedAt: e.startedAt,
})

describe('DeleteThing: the thing [spec: things#deletething]', () => {
  it('deletes the thing; the response has no members; DescribeThing and ListThings no longer find it', async () => {
    const thingName = unique('thing')
    await h.iot.send(
      new CreateThingCommand({ thingName, attributePayload: { attributes: { gone: thingName } } }),
    )
    const out = await del(thingName)
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.deepEqual(
      Object.keys(out).filter((k) => k !== '$metadata'),
      [],
    )
    await expectError(h.iot.send(new DescribeThingCommand({ thingName })), 'ResourceNotFoundException', 404, [
      thingName,
    ])
    const listed = await h.iot.send(
      new ListThingsCommand({ attributeName: 'gone', attributeValue: thingName }),
    )
    assert.deepEqual(listed.things, [])
  })

  it('deleting a thing that does not exist succeeds, also with an expectedVersion', async () => {
    const thingName = unique('never')
    assert.equal((await del(thingName)).$metadata.httpStatusCode, 200)
    assert.equal((await del(thingName, 7)).$metadata.httpStatusCode, 200)
    assert.equal(await exists(thingName), false)
  })

  it('deleting twice succeeds both times', async () => {
    const thingName = await createThing(h)
    await del(thingName)
    await del(thingName)
    assert.equal(await exists(thingName), false)
  })

  it('the current expectedVersion deletes the thing', async () => {
    const thingName = await createThing(h)
    await h.iot.send(new UpdateThingCommand({ thingName, attributePayload: { attributes: { a: '1' } } }))
    await del(thingName, 2)
    assert.equal(await exists(thingName), false)
  })

  for (const expectedVersion of [1, 3]) {
    it(`expectedVersion ${expectedVersion} on a version-2 thing is VersionConflictException (409) naming the versions; the thing stays`, async () => {
      const thingName = await createThing(h)
      await h.iot.send(new UpdateThingCommand({ thingName, attributePayload: { attributes: { a: '1' } } }))
      await expectError(del(thingName, expectedVersion), 'VersionConflictException', 409, [
        String(expectedVersion),
        'version 2',
        thingName,
      ])
      const d = await h.iot.send(new DescribeThingCommand({ thingName }))
      assert.deepEqual([d.version, d.attributes], [2, { a: '1' }])
    })
  }

  it('a version conflict leaves the executions of the thing alone', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await expectError(del(thingName, 5), 'VersionConflictException', 409)
    assert.deepEqual(
      {
        status: (await cpExecution(jobId, thingName)).status,
        versionNumber: (await cpExecution(jobId, thingName)).versionNumber,
      },
      { status: 'QUEUED', versionNumber: 1 },
    )
  })

  it('a bad thing name is InvalidRequestException (400) naming thingName [spec: limits#2]', async () => {
    await expectError(del('bad name'), 'InvalidRequestException', 400, ['thingName'])
  })

  it('group memberships are dropped: the group no longer lists it, and a thing made again under that name is in no group', async () => {
    const group = await createGroup(h)
    const thingName = await createThing(h)
    const stays = await createThing(h)
    await addToGroup(h, group.name, thingName)
    await addToGroup(h, group.name, stays)
    await del(thingName)
    const members = await h.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group.name }))
    assert.deepEqual(members.things, [stays])
    await h.iot.send(new CreateThingCommand({ thingName }))
    const groups = await h.iot.send(new ListThingGroupsForThingCommand({ thingName }))
    assert.deepEqual(groups.thingGroups, [])
  })
})

describe('DeleteThing: effects on jobs [spec: things#deletething] [spec: state-machines#7-target-selection-and-membership-changes]', () => {
  it('[open-question 12] QUEUED and IN_PROGRESS executions become REMOVED (version +1, lastUpdatedAt now); terminal ones are kept as they were', async () => {
    const thingName = await createThing(h)
    const other = await createThing(h)
    const queuedJob = await createJob(h, [thingName, other])
    const runningJob = await createJob(h, [thingName, other])
    const doneJob = await createJob(h, [thingName, other])
    clock.advance(1000)
    const startedMs = clock.nowMs()
    await report(h, runningJob, thingName, 'IN_PROGRESS')
    await report(h, doneJob, thingName, 'SUCCEEDED')
    const doneBefore = brief(await cpExecution(doneJob, thingName))
    clock.advance(5000)
    const deletedMs = clock.nowMs()
    await del(thingName)

    assert.deepEqual(brief(await cpExecution(queuedJob, thingName)), {
      status: 'REMOVED',
      versionNumber: 2,
      lastUpdatedAt: cpDate(deletedMs),
      startedAt: undefined,
    })
    assert.deepEqual(brief(await cpExecution(runningJob, thingName)), {
      status: 'REMOVED',
      versionNumber: 3,
      lastUpdatedAt: cpDate(deletedMs),
      startedAt: cpDate(startedMs),
    })
    assert.deepEqual(brief(await cpExecution(doneJob, thingName)), doneBefore)
    assert.equal(doneBefore.status, 'SUCCEEDED')

    // The other thing's executions are untouched; the counters follow. [spec: state-machines#9]
    for (const jobId of [queuedJob, runningJob, doneJob]) {
      assert.equal((await cpExecution(jobId, other)).status, 'QUEUED')
      await assertCountersMatchRecords(h, jobId)
    }
    const q = (await describeJob(h, queuedJob)).jobProcessDetails
    assert.deepEqual([q?.numberOfQueuedThings, q?.numberOfRemovedThings], [1, 1])
    const r = (await describeJob(h, runningJob)).jobProcessDetails
    assert.deepEqual(
      [r?.numberOfQueuedThings, r?.numberOfInProgressThings, r?.numberOfRemovedThings],
      [1, 0, 1],
    )
    const d = (await describeJob(h, doneJob)).jobProcessDetails
    assert.deepEqual(
      [d?.numberOfQueuedThings, d?.numberOfSucceededThings, d?.numberOfRemovedThings],
      [1, 1, 0],
    )
  })

  it('a SNAPSHOT job whose last pending execution belonged to the thing becomes COMPLETED at that moment [spec: state-machines#10]', async () => {
    const thingName = await createThing(h)
    const other = await createThing(h)
    const jobId = await createJob(h, [thingName, other])
    await report(h, jobId, other, 'SUCCEEDED')
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    clock.advance(3000)
    const deletedMs = clock.nowMs()
    await del(thingName)
    const job = await describeJob(h, jobId)
    assert.deepEqual(
      { status: job.status, completedAt: job.completedAt, lastUpdatedAt: job.lastUpdatedAt },
      { status: 'COMPLETED', completedAt: cpDate(deletedMs), lastUpdatedAt: cpDate(deletedMs) },
    )
  })

  it('[open-question 31] the execution records of a deleted thing stay listed for the thing', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await del(thingName)
    const out = await h.iot.send(new ListJobExecutionsForThingCommand({ thingName }))
    assert.deepEqual(
      out.executionSummaries?.map((s) => [
        s.jobId,
        s.jobExecutionSummary?.status,
        s.jobExecutionSummary?.executionNumber,
      ]),
      [[jobId, 'REMOVED', 1]],
    )
  })

  it('CONTINUOUS group job: the REMOVED execution stays; the thing made again and put back in the group is executed anew (#2) [spec: state-machines#3.2]', async () => {
    const group = await createGroup(h)
    const thingName = await createThing(h)
    await addToGroup(h, group.name, thingName)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [group.arn],
      }),
    )
    await del(thingName)
    assert.deepEqual(await executionStates(h, jobId), [`${thingName}#1:REMOVED`])
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS', 'a CONTINUOUS job never completes')
    await h.iot.send(new CreateThingCommand({ thingName }))
    assert.deepEqual(
      await executionStates(h, jobId),
      [`${thingName}#1:REMOVED`],
      'no group, no new execution',
    )
    await addToGroup(h, group.name, thingName)
    assert.deepEqual(await executionStates(h, jobId), [`${thingName}#1:REMOVED`, `${thingName}#2:QUEUED`])
    await assertCountersMatchRecords(h, jobId)
  })

  it('the device of a deleted thing that is made again cannot move its REMOVED execution [spec: state-machines#11]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'IN_PROGRESS')
    await del(thingName)
    await h.iot.send(new CreateThingCommand({ thingName }))
    await expectError(report(h, jobId, thingName, 'SUCCEEDED'), 'InvalidStateTransitionException', 409)
    assert.equal((await cpExecution(jobId, thingName)).status, 'REMOVED')
    assert.equal((await cpExecution(jobId, thingName)).thingArn, thingArnOf(thingName))
  })
})
