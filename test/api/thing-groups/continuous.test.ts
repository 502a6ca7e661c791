import {
  AssociateTargetsWithJobCommand,
  CancelJobCommand,
  CreateJobCommand,
  CreateThingCommand,
  DeleteJobExecutionCommand,
  DeleteThingGroupCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  InvalidRequestException,
  IoTClient,
  LimitExceededException,
  RemoveThingFromThingGroupCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-iot'
import { UpdateJobExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { REGION, sdkCredentials, startHarness, thingArnOf, unique } from '../../support/harness.js'
import {
  addToGroup,
  assertCountersMatchRecords,
  assertDeviceSeesPending,
  createGroup,
  createThings,
  executionStates,
  executionsOf,
  groupArnOf,
} from '../../support/thing-groups.js'

let h: Harness
before(async () => {
  h = await startHarness()
})
after(async () => {
  await h.close()
})

const DOCUMENT = '{"operation":"install"}'

async function createContinuousJob(targets: string[], extra: { namespaceId?: string } = {}): Promise<string> {
  const jobId = unique('cjob')
  await h.iot.send(
    new CreateJobCommand({ jobId, targets, document: DOCUMENT, targetSelection: 'CONTINUOUS', ...extra }),
  )
  return jobId
}

/**
 * After every step: the counters equal the listed records, and each device sees exactly its pending
 * executions. Returns the job's records for these things as `thing#n:STATUS`.
 */
async function settled(jobId: string, things: readonly string[]): Promise<string[]> {
  await assertCountersMatchRecords(h, jobId)
  await assertDeviceSeesPending(h, jobId, things)
  return executionStates(h, jobId, things)
}

const remove = async (thingGroupName: string, thingName: string): Promise<void> => {
  await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName, thingName }))
}

/** The device reports a status for the latest execution of the job. */
async function device(
  jobId: string,
  thingName: string,
  status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED',
): Promise<void> {
  await h.data.send(new UpdateJobExecutionCommand({ jobId, thingName, status }))
}

async function execution(jobId: string, thingName: string, executionNumber: number) {
  const out = await h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName, executionNumber }))
  assert.ok(out.execution !== undefined)
  return out.execution
}

const isNotFound = (e: unknown): boolean => {
  assert.ok(e instanceof ResourceNotFoundException, `ResourceNotFoundException, got ${String(e)}`)
  assert.equal(e.$metadata.httpStatusCode, 404)
  return true
}
const isInvalidRequest = (e: unknown): boolean => {
  assert.ok(e instanceof InvalidRequestException, `InvalidRequestException, got ${String(e)}`)
  assert.equal(e.$metadata.httpStatusCode, 400)
  return true
}

describe('CONTINUOUS jobs: things joining the targets [spec: state-machines#7-target-selection-and-membership-changes]', () => {
  it('a thing added to a target group gets a QUEUED execution at once', async () => {
    const group = await createGroup(h)
    const [first] = await createThings(h, 1, group.name)
    const [joiner] = await createThings(h, 1)
    assert.ok(first !== undefined && joiner !== undefined)
    const jobId = await createContinuousJob([group.arn])
    assert.deepEqual(await settled(jobId, [first, joiner]), [`${first}#1:QUEUED`])
    await addToGroup(h, group.name, joiner)
    assert.deepEqual(
      await settled(jobId, [first, joiner]),
      [`${first}#1:QUEUED`, `${joiner}#1:QUEUED`].sort(),
    )
    const e = await execution(jobId, joiner, 1)
    assert.equal(e.status, 'QUEUED')
    assert.equal(e.versionNumber, 1)
    assert.ok(e.queuedAt instanceof Date)
    const described = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(described.job?.status, 'IN_PROGRESS')
  })

  it('a thing added to a descendant of a target group gets a QUEUED execution; a new child group alone adds nothing', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const jobId = await createContinuousJob([root.arn])
    const grandchild = await createGroup(h, { parent: child.name })
    assert.deepEqual(await executionsOf(h, jobId), [])
    const [deep] = await createThings(h, 1, grandchild.name)
    assert.ok(deep !== undefined)
    assert.deepEqual(await settled(jobId, [deep]), [`${deep}#1:QUEUED`])
  })

  it('a thing already reachable through another target gets nothing new', async () => {
    const a = await createGroup(h)
    const b = await createGroup(h)
    const [viaGroup, viaThing] = await createThings(h, 2, a.name)
    assert.ok(viaGroup !== undefined && viaThing !== undefined)
    const jobId = await createContinuousJob([a.arn, b.arn, thingArnOf(viaThing)])
    const before = await settled(jobId, [viaGroup, viaThing])
    assert.deepEqual(before, [`${viaGroup}#1:QUEUED`, `${viaThing}#1:QUEUED`].sort())
    await addToGroup(h, b.name, viaGroup)
    await addToGroup(h, b.name, viaThing)
    assert.deepEqual(await settled(jobId, [viaGroup, viaThing]), before)
    // Same while the execution runs.
    await device(jobId, viaGroup, 'IN_PROGRESS')
    await remove(b.name, viaGroup)
    await addToGroup(h, b.name, viaGroup)
    assert.deepEqual(
      await settled(jobId, [viaGroup, viaThing]),
      [`${viaGroup}#1:IN_PROGRESS`, `${viaThing}#1:QUEUED`].sort(),
    )
  })

  it('a thing already reachable through another target gets nothing new after its execution finished', async () => {
    const a = await createGroup(h)
    const b = await createGroup(h)
    const [thing] = await createThings(h, 1, a.name)
    assert.ok(thing !== undefined)
    const jobId = await createContinuousJob([a.arn, b.arn])
    await device(jobId, thing, 'SUCCEEDED')
    assert.deepEqual(await settled(jobId, [thing]), [`${thing}#1:SUCCEEDED`])
    // Still reachable through `a` all along: joining `b` does not make it a new target.
    await addToGroup(h, b.name, thing)
    assert.deepEqual(await settled(jobId, [thing]), [`${thing}#1:SUCCEEDED`])
  })

  it('a membership change elsewhere does not re-execute a thing that stays reachable', async () => {
    const target = await createGroup(h)
    const unrelated = await createGroup(h)
    const [byGroup, byArn] = await createThings(h, 2)
    assert.ok(byGroup !== undefined && byArn !== undefined)
    await addToGroup(h, target.name, byGroup)
    const jobId = await createContinuousJob([target.arn, thingArnOf(byArn)])
    await device(jobId, byGroup, 'SUCCEEDED')
    await device(jobId, byArn, 'FAILED')
    const before = await settled(jobId, [byGroup, byArn])
    assert.deepEqual(before, [`${byGroup}#1:SUCCEEDED`, `${byArn}#1:FAILED`].sort())
    await addToGroup(h, unrelated.name, byGroup)
    await addToGroup(h, unrelated.name, byArn)
    assert.deepEqual(await settled(jobId, [byGroup, byArn]), before)
    // A thing targeted by ARN that joins a target group was reachable already, too.
    await addToGroup(h, target.name, byArn)
    assert.deepEqual(await settled(jobId, [byGroup, byArn]), before)
  })
})

describe('CONTINUOUS jobs: things leaving the targets [spec: state-machines#7-target-selection-and-membership-changes]', () => {
  it('removing a thing from the target group turns its QUEUED execution REMOVED', async () => {
    const group = await createGroup(h)
    const [leaver, stayer] = await createThings(h, 2, group.name)
    assert.ok(leaver !== undefined && stayer !== undefined)
    const jobId = await createContinuousJob([group.arn])
    await remove(group.name, leaver)
    assert.deepEqual(
      await settled(jobId, [leaver, stayer]),
      [`${leaver}#1:REMOVED`, `${stayer}#1:QUEUED`].sort(),
    )
    const e = await execution(jobId, leaver, 1)
    assert.equal(e.status, 'REMOVED')
    // [open-question 50] the service-side write counts in versionNumber.
    assert.equal(e.versionNumber, 2)
    const details = await assertCountersMatchRecords(h, jobId)
    assert.equal(details.numberOfRemovedThings, 1)
    assert.equal(details.numberOfQueuedThings, 1)
  })

  it('leaving a descendant of the target group counts as leaving; staying reachable through another target does not', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const other = await createGroup(h)
    const [deep, twice] = await createThings(h, 2, child.name)
    assert.ok(deep !== undefined && twice !== undefined)
    await addToGroup(h, other.name, twice)
    const jobId = await createContinuousJob([root.arn, other.arn])
    assert.deepEqual(await settled(jobId, [deep, twice]), [`${deep}#1:QUEUED`, `${twice}#1:QUEUED`].sort())
    await remove(child.name, deep)
    await remove(child.name, twice)
    assert.deepEqual(await settled(jobId, [deep, twice]), [`${deep}#1:REMOVED`, `${twice}#1:QUEUED`].sort())
  })

  it('DeleteThingGroup turns the QUEUED executions of its members REMOVED and the job keeps the ARN [open-question 13]', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const [inChild] = await createThings(h, 1, child.name)
    const [inRoot] = await createThings(h, 1, root.name)
    assert.ok(inChild !== undefined && inRoot !== undefined)
    const jobOnRoot = await createContinuousJob([root.arn])
    const jobOnChild = await createContinuousJob([child.arn])
    await h.iot.send(new DeleteThingGroupCommand({ thingGroupName: child.name }))
    assert.deepEqual(
      await settled(jobOnRoot, [inChild, inRoot]),
      [`${inChild}#1:REMOVED`, `${inRoot}#1:QUEUED`].sort(),
    )
    assert.deepEqual(await settled(jobOnChild, [inChild]), [`${inChild}#1:REMOVED`])
    const described = await h.iot.send(new DescribeJobCommand({ jobId: jobOnChild }))
    assert.deepEqual(described.job?.targets, [child.arn])
    assert.equal(described.job?.status, 'IN_PROGRESS')
  })

  it('[open-question 51] an IN_PROGRESS execution keeps running when its thing leaves the targets', async () => {
    const group = await createGroup(h)
    const [runner] = await createThings(h, 1, group.name)
    assert.ok(runner !== undefined)
    const jobId = await createContinuousJob([group.arn])
    await device(jobId, runner, 'IN_PROGRESS')
    const started = await execution(jobId, runner, 1)
    await remove(group.name, runner)
    assert.deepEqual(await settled(jobId, [runner]), [`${runner}#1:IN_PROGRESS`])
    const after = await execution(jobId, runner, 1)
    assert.equal(after.versionNumber, started.versionNumber)
    // The device can still finish it.
    await device(jobId, runner, 'SUCCEEDED')
    assert.deepEqual(await settled(jobId, [runner]), [`${runner}#1:SUCCEEDED`])
  })

  it('[open-question 51] an IN_PROGRESS execution keeps running when its group is deleted', async () => {
    const group = await createGroup(h)
    const [runner, waiting] = await createThings(h, 2, group.name)
    assert.ok(runner !== undefined && waiting !== undefined)
    const jobId = await createContinuousJob([group.arn])
    await device(jobId, runner, 'IN_PROGRESS')
    await h.iot.send(new DeleteThingGroupCommand({ thingGroupName: group.name }))
    assert.deepEqual(
      await settled(jobId, [runner, waiting]),
      [`${runner}#1:IN_PROGRESS`, `${waiting}#1:REMOVED`].sort(),
    )
  })
})

describe('CONTINUOUS jobs: re-joining [spec: state-machines#32-executionnumber] [spec: state-machines#7-target-selection-and-membership-changes]', () => {
  it('leave and re-join gives a new execution with the next executionNumber and retryAttempt 0', async () => {
    const group = await createGroup(h)
    const [thing] = await createThings(h, 1, group.name)
    assert.ok(thing !== undefined)
    const jobId = await createContinuousJob([group.arn])
    await remove(group.name, thing)
    assert.deepEqual(await settled(jobId, [thing]), [`${thing}#1:REMOVED`])
    await addToGroup(h, group.name, thing)
    assert.deepEqual(await settled(jobId, [thing]), [`${thing}#1:REMOVED`, `${thing}#2:QUEUED`])
    const records = await executionsOf(h, jobId)
    assert.equal(records.find((r) => r.executionNumber === 2)?.retryAttempt ?? 0, 0)
    const second = await execution(jobId, thing, 2)
    assert.equal(second.status, 'QUEUED')
    assert.equal(second.versionNumber, 1)
    // Leave and re-join once more: number 3.
    await remove(group.name, thing)
    await addToGroup(h, group.name, thing)
    assert.deepEqual(await settled(jobId, [thing]), [
      `${thing}#1:REMOVED`,
      `${thing}#2:REMOVED`,
      `${thing}#3:QUEUED`,
    ])
  })

  it('a thing with a terminal execution that re-joins is re-executed', async () => {
    const group = await createGroup(h)
    const [thing] = await createThings(h, 1, group.name)
    assert.ok(thing !== undefined)
    const jobId = await createContinuousJob([group.arn])
    await device(jobId, thing, 'SUCCEEDED')
    await remove(group.name, thing)
    // A terminal execution is not touched by leaving.
    assert.deepEqual(await settled(jobId, [thing]), [`${thing}#1:SUCCEEDED`])
    await addToGroup(h, group.name, thing)
    assert.deepEqual(await settled(jobId, [thing]), [`${thing}#1:SUCCEEDED`, `${thing}#2:QUEUED`])
    assert.equal((await executionsOf(h, jobId)).find((r) => r.executionNumber === 2)?.retryAttempt ?? 0, 0)
  })

  it('a thing whose execution is still IN_PROGRESS gets nothing new when it leaves and re-joins', async () => {
    const group = await createGroup(h)
    const [thing] = await createThings(h, 1, group.name)
    assert.ok(thing !== undefined)
    const jobId = await createContinuousJob([group.arn])
    await device(jobId, thing, 'IN_PROGRESS')
    await remove(group.name, thing)
    await addToGroup(h, group.name, thing)
    assert.deepEqual(await settled(jobId, [thing]), [`${thing}#1:IN_PROGRESS`])
  })

  it('a canceled CONTINUOUS job queues nothing for a new member', async () => {
    const group = await createGroup(h)
    const jobId = await createContinuousJob([group.arn])
    await h.iot.send(new CancelJobCommand({ jobId }))
    const [late] = await createThings(h, 1, group.name)
    assert.ok(late !== undefined)
    assert.deepEqual(await settled(jobId, [late]), [])
  })
})

describe('DeleteJobExecution on CONTINUOUS jobs [spec: delete-job-execution#4-effects-of-a-successful-deletion] [spec: delete-job-execution#7-acceptance-tests-minimum]', () => {
  it('acceptance test 9: deleting the highest-numbered execution, then remove + re-add, issues the same executionNumber again', async () => {
    const group = await createGroup(h)
    const [thing] = await createThings(h, 1, group.name)
    assert.ok(thing !== undefined)
    const jobId = await createContinuousJob([group.arn])
    await remove(group.name, thing)
    await addToGroup(h, group.name, thing)
    await device(jobId, thing, 'SUCCEEDED')
    assert.deepEqual(await settled(jobId, [thing]), [`${thing}#1:REMOVED`, `${thing}#2:SUCCEEDED`])
    const firstTwo = await execution(jobId, thing, 2)
    await h.iot.send(new DeleteJobExecutionCommand({ jobId, thingName: thing, executionNumber: 2 }))
    assert.deepEqual(await settled(jobId, [thing]), [`${thing}#1:REMOVED`])
    await remove(group.name, thing)
    await addToGroup(h, group.name, thing)
    assert.deepEqual(await settled(jobId, [thing]), [`${thing}#1:REMOVED`, `${thing}#2:QUEUED`])
    const secondTwo = await execution(jobId, thing, 2)
    assert.equal(secondTwo.status, 'QUEUED')
    assert.equal(secondTwo.versionNumber, 1)
    assert.notEqual(firstTwo.status, secondTwo.status)
  })

  it('[open-question 63] deleting an execution does not create a new one while the thing stays in the targets', async () => {
    const group = await createGroup(h)
    const [done, queued] = await createThings(h, 2, group.name)
    assert.ok(done !== undefined && queued !== undefined)
    const jobId = await createContinuousJob([group.arn])
    await device(jobId, done, 'SUCCEEDED')
    await h.iot.send(new DeleteJobExecutionCommand({ jobId, thingName: done, executionNumber: 1 }))
    await h.iot.send(
      new DeleteJobExecutionCommand({ jobId, thingName: queued, executionNumber: 1, force: true }),
    )
    assert.deepEqual(await settled(jobId, [done, queued]), [])
    const details = await assertCountersMatchRecords(h, jobId)
    assert.equal(details.numberOfSucceededThings, 0)
    assert.equal(details.numberOfQueuedThings, 0)
    const described = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(described.job?.status, 'IN_PROGRESS')
  })
})

describe('AssociateTargetsWithJob [spec: jobs-control-plane#associatetargetswithjob]', () => {
  it('[open-question 29] adds thing and group ARNs, ignores duplicates, stores the comment and queues the new things', async () => {
    const first = await createGroup(h)
    const second = await createGroup(h)
    const secondChild = await createGroup(h, { parent: second.name })
    const [a] = await createThings(h, 1, first.name)
    const [b] = await createThings(h, 1)
    const [c] = await createThings(h, 1, second.name)
    const [d] = await createThings(h, 1, secondChild.name)
    assert.ok(a !== undefined && b !== undefined && c !== undefined && d !== undefined)
    const jobId = unique('cjob')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        targets: [first.arn],
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        description: 'wave 1',
      }),
    )
    assert.deepEqual(await settled(jobId, [a, b, c, d]), [`${a}#1:QUEUED`])
    const out = await h.iot.send(
      new AssociateTargetsWithJobCommand({
        jobId,
        targets: [thingArnOf(b), second.arn, first.arn, thingArnOf(b)],
        comment: 'wave 2',
      }),
    )
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.equal(out.jobId, jobId)
    assert.equal(out.jobArn, `arn:aws:iot:us-east-1:123456789012:job/${jobId}`)
    assert.equal(out.description, 'wave 1')
    const described = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.deepEqual(described.job?.targets, [first.arn, thingArnOf(b), second.arn])
    assert.equal(described.job?.comment, 'wave 2')
    assert.deepEqual(
      await settled(jobId, [a, b, c, d]),
      [`${a}#1:QUEUED`, `${b}#1:QUEUED`, `${c}#1:QUEUED`, `${d}#1:QUEUED`].sort(),
    )
    // The added group is a live target from now on.
    const [late] = await createThings(h, 1, secondChild.name)
    assert.ok(late !== undefined)
    assert.deepEqual(await settled(jobId, [late]), [`${late}#1:QUEUED`])
    // A later call replaces the comment.
    await h.iot.send(new AssociateTargetsWithJobCommand({ jobId, targets: [second.arn], comment: 'wave 3' }))
    const again = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(again.job?.comment, 'wave 3')
    assert.deepEqual(again.job?.targets, [first.arn, thingArnOf(b), second.arn])
  })

  it('things that already have a pending execution of the job get nothing new', async () => {
    const group = await createGroup(h)
    const [queued, running] = await createThings(h, 2, group.name)
    assert.ok(queued !== undefined && running !== undefined)
    const jobId = await createContinuousJob([group.arn])
    await device(jobId, running, 'IN_PROGRESS')
    await h.iot.send(
      new AssociateTargetsWithJobCommand({ jobId, targets: [thingArnOf(queued), thingArnOf(running)] }),
    )
    assert.deepEqual(
      await settled(jobId, [queued, running]),
      [`${queued}#1:QUEUED`, `${running}#1:IN_PROGRESS`].sort(),
    )
  })

  it('answers InvalidRequestException for a SNAPSHOT job and for a CONTINUOUS job that is not IN_PROGRESS', async () => {
    const group = await createGroup(h)
    const [thing] = await createThings(h, 1)
    assert.ok(thing !== undefined)
    const snapshot = unique('sjob')
    await h.iot.send(
      new CreateJobCommand({ jobId: snapshot, targets: [thingArnOf(thing)], document: DOCUMENT }),
    )
    await assert.rejects(
      h.iot.send(new AssociateTargetsWithJobCommand({ jobId: snapshot, targets: [group.arn] })),
      isInvalidRequest,
    )
    const canceled = await createContinuousJob([group.arn])
    await h.iot.send(new CancelJobCommand({ jobId: canceled }))
    await assert.rejects(
      h.iot.send(new AssociateTargetsWithJobCommand({ jobId: canceled, targets: [thingArnOf(thing)] })),
      isInvalidRequest,
    )
    assert.deepEqual(await executionStates(h, canceled), [])
    const described = await h.iot.send(new DescribeJobCommand({ jobId: canceled }))
    assert.deepEqual(described.job?.targets, [group.arn])
  })

  it('[open-question 29] answers LimitExceededException (410) when the union of targets exceeds 100', async () => {
    // The SDKs treat LimitExceededException as throttling and retry it: one attempt only here.
    const oneShot = new IoTClient({
      region: REGION,
      endpoint: h.server.url,
      credentials: sdkCredentials,
      maxAttempts: 1,
    })
    try {
      assert.equal(h.server.context.settings.maxTargetsPerJob, 100)
      const group = await createGroup(h)
      const jobId = await createContinuousJob([group.arn])
      const things: string[] = []
      for (let i = 0; i < 100; i += 1) {
        const thingName = unique('many')
        await h.iot.send(new CreateThingCommand({ thingName }))
        things.push(thingName)
      }
      // 1 + 99 = 100 targets: allowed.
      await oneShot.send(
        new AssociateTargetsWithJobCommand({ jobId, targets: things.slice(0, 99).map(thingArnOf) }),
      )
      // A repeat of known targets does not grow the union.
      await oneShot.send(
        new AssociateTargetsWithJobCommand({ jobId, targets: [group.arn, thingArnOf(things[0] ?? '')] }),
      )
      await assert.rejects(
        oneShot.send(
          new AssociateTargetsWithJobCommand({
            jobId,
            targets: [thingArnOf(things[99] ?? '')],
            comment: 'too many',
          }),
        ),
        (e: unknown) => {
          assert.ok(e instanceof LimitExceededException, `LimitExceededException, got ${String(e)}`)
          assert.equal(e.$metadata.httpStatusCode, 410)
          assert.equal(e.$metadata.attempts, 1)
          return true
        },
      )
      const described = await h.iot.send(new DescribeJobCommand({ jobId }))
      assert.equal(described.job?.targets?.length, 100)
      assert.equal(described.job?.comment, undefined)
      const records = await executionsOf(h, jobId)
      assert.equal(records.length, 99)
      assert.ok(!records.some((r) => r.thingName === things[99]))
      await assertCountersMatchRecords(h, jobId)
    } finally {
      oneShot.destroy()
    }
  })

  it('answers ResourceNotFoundException for an unknown target and writes nothing', async () => {
    const group = await createGroup(h)
    const [member] = await createThings(h, 1, group.name)
    const [outsider] = await createThings(h, 1)
    assert.ok(member !== undefined && outsider !== undefined)
    const jobId = await createContinuousJob([group.arn])
    for (const missing of [groupArnOf(unique('missing')), thingArnOf(unique('missing'))]) {
      await assert.rejects(
        h.iot.send(
          new AssociateTargetsWithJobCommand({
            jobId,
            targets: [thingArnOf(outsider), missing],
            comment: 'nope',
          }),
        ),
        isNotFound,
        missing,
      )
    }
    const described = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.deepEqual(described.job?.targets, [group.arn])
    assert.equal(described.job?.comment, undefined)
    assert.deepEqual(await settled(jobId, [member, outsider]), [`${member}#1:QUEUED`])
  })

  it('answers InvalidRequestException for a malformed target and ResourceNotFoundException for an unknown job', async () => {
    const group = await createGroup(h)
    const jobId = await createContinuousJob([group.arn])
    await assert.rejects(
      h.iot.send(
        new AssociateTargetsWithJobCommand({
          jobId,
          targets: [`arn:aws:iot:us-east-1:999999999999:thinggroup/${group.name}`],
        }),
      ),
      isInvalidRequest,
    )
    await assert.rejects(
      h.iot.send(new AssociateTargetsWithJobCommand({ jobId: unique('missing'), targets: [group.arn] })),
      isNotFound,
    )
  })

  it("[open-question 28] answers ResourceNotFoundException for a namespaceId that is not the job's", async () => {
    const group = await createGroup(h)
    const [thing] = await createThings(h, 1)
    assert.ok(thing !== undefined)
    const namespaced = await createContinuousJob([group.arn], { namespaceId: 'ns-a' })
    const plain = await createContinuousJob([group.arn])
    await assert.rejects(
      h.iot.send(
        new AssociateTargetsWithJobCommand({
          jobId: namespaced,
          namespaceId: 'ns-b',
          targets: [thingArnOf(thing)],
        }),
      ),
      isNotFound,
    )
    await assert.rejects(
      h.iot.send(
        new AssociateTargetsWithJobCommand({
          jobId: plain,
          namespaceId: 'ns-a',
          targets: [thingArnOf(thing)],
        }),
      ),
      isNotFound,
    )
    assert.deepEqual(await executionStates(h, namespaced), [])
    assert.deepEqual(await executionStates(h, plain), [])
    // The job's own namespace, or none given, proceeds.
    await h.iot.send(
      new AssociateTargetsWithJobCommand({
        jobId: namespaced,
        namespaceId: 'ns-a',
        targets: [thingArnOf(thing)],
      }),
    )
    await h.iot.send(new AssociateTargetsWithJobCommand({ jobId: plain, targets: [thingArnOf(thing)] }))
    assert.deepEqual(await executionStates(h, namespaced), [`${thing}#1:QUEUED`])
    assert.deepEqual(await executionStates(h, plain), [`${thing}#1:QUEUED`])
    await assertCountersMatchRecords(h, namespaced)
    await assertCountersMatchRecords(h, plain)
  })
})
