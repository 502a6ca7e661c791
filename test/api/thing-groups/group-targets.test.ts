import {
  CreateJobCommand,
  DeleteThingGroupCommand,
  DescribeJobCommand,
  InvalidRequestException,
  ListJobsCommand,
  RemoveThingFromThingGroupCommand,
  ResourceNotFoundException,
  paginateListJobs,
} from '@aws-sdk/client-iot'
import type { JobSummary } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { startHarness, thingArnOf, unique } from '../../support/harness.js'
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

const DOCUMENT = '{"operation":"update"}'

async function createJob(
  targets: string[],
  targetSelection: 'SNAPSHOT' | 'CONTINUOUS' = 'SNAPSHOT',
): Promise<string> {
  const jobId = unique('job')
  await h.iot.send(new CreateJobCommand({ jobId, targets, document: DOCUMENT, targetSelection }))
  return jobId
}

/** Every job summary ListJobs returns for these filters (all pages). */
async function listJobs(input: { thingGroupName?: string; thingGroupId?: string }): Promise<JobSummary[]> {
  const jobs: JobSummary[] = []
  for await (const page of paginateListJobs({ client: h.iot, pageSize: 250 }, input))
    jobs.push(...(page.jobs ?? []))
  return jobs
}

const isNotFound = (e: unknown): boolean => {
  assert.ok(e instanceof ResourceNotFoundException, `ResourceNotFoundException, got ${String(e)}`)
  assert.equal(e.$metadata.httpStatusCode, 404)
  return true
}

describe('CreateJob with thing-group targets [spec: jobs-control-plane#createjob] [spec: state-machines#7-target-selection-and-membership-changes]', () => {
  it('reaches the things of the group and of all its descendants, and no other', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const grandchild = await createGroup(h, { parent: child.name })
    const outside = await createGroup(h)
    const reached = [
      ...(await createThings(h, 1, root.name)),
      ...(await createThings(h, 2, child.name)),
      ...(await createThings(h, 1, grandchild.name)),
    ]
    const notReached = [...(await createThings(h, 1, outside.name)), ...(await createThings(h, 1))]
    const jobId = await createJob([root.arn])
    const records = await executionsOf(h, jobId)
    assert.deepEqual(
      records.map((r) => `${r.thingName}#${r.executionNumber}:${r.status}`),
      [...reached].sort().map((t) => `${t}#1:QUEUED`),
    )
    const details = await assertCountersMatchRecords(h, jobId)
    assert.equal(details.numberOfQueuedThings, 4)
    await assertDeviceSeesPending(h, jobId, [...reached, ...notReached])
  })

  it('a group target below the root reaches only its own subtree', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    await createThings(h, 1, root.name)
    const inChild = await createThings(h, 2, child.name)
    const jobId = await createJob([child.arn])
    assert.deepEqual(
      await executionStates(h, jobId),
      [...inChild].sort().map((t) => `${t}#1:QUEUED`),
    )
  })

  it('gives each thing one execution when a thing ARN and two groups of different hierarchies reach it', async () => {
    const rootA = await createGroup(h)
    const childA = await createGroup(h, { parent: rootA.name })
    const rootB = await createGroup(h)
    const [shared] = await createThings(h, 1, childA.name)
    assert.ok(shared !== undefined)
    await addToGroup(h, rootB.name, shared)
    const [onlyB] = await createThings(h, 1, rootB.name)
    assert.ok(onlyB !== undefined)
    const jobId = await createJob([thingArnOf(shared), rootA.arn, rootB.arn, rootB.arn])
    assert.deepEqual(await executionStates(h, jobId), [`${shared}#1:QUEUED`, `${onlyB}#1:QUEUED`].sort())
    const details = await assertCountersMatchRecords(h, jobId)
    assert.equal(details.numberOfQueuedThings, 2)
    await assertDeviceSeesPending(h, jobId, [shared, onlyB])
    const described = await h.iot.send(new DescribeJobCommand({ jobId }))
    // Duplicated targets collapse.
    assert.deepEqual(described.job?.targets, [thingArnOf(shared), rootA.arn, rootB.arn])
  })

  it('[open-question 19] answers ResourceNotFoundException for a well-formed ARN of an unknown group and creates no job', async () => {
    const known = await createGroup(h)
    await createThings(h, 1, known.name)
    const jobId = unique('job')
    await assert.rejects(
      h.iot.send(
        new CreateJobCommand({
          jobId,
          targets: [known.arn, groupArnOf(unique('missing'))],
          document: DOCUMENT,
        }),
      ),
      isNotFound,
    )
    await assert.rejects(h.iot.send(new DescribeJobCommand({ jobId })), ResourceNotFoundException)
  })

  it('answers InvalidRequestException for a group ARN of another account or region', async () => {
    const group = await createGroup(h)
    for (const target of [
      `arn:aws:iot:us-east-1:999999999999:thinggroup/${group.name}`,
      `arn:aws:iot:eu-west-1:123456789012:thinggroup/${group.name}`,
    ]) {
      await assert.rejects(
        h.iot.send(new CreateJobCommand({ jobId: unique('job'), targets: [target], document: DOCUMENT })),
        (e: unknown) => {
          assert.ok(e instanceof InvalidRequestException)
          assert.equal(e.$metadata.httpStatusCode, 400)
          return true
        },
        target,
      )
    }
  })
})

describe('SNAPSHOT jobs and later membership changes [spec: state-machines#7-target-selection-and-membership-changes]', () => {
  it('a thing that joins a target group later gets no execution', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const first = await createThings(h, 1, root.name)
    const jobId = await createJob([root.arn])
    const [late, lateDeep] = await createThings(h, 2)
    assert.ok(late !== undefined && lateDeep !== undefined)
    await addToGroup(h, root.name, late)
    await addToGroup(h, child.name, lateDeep)
    assert.deepEqual(
      await executionStates(h, jobId),
      first.map((t) => `${t}#1:QUEUED`),
    )
    await assertCountersMatchRecords(h, jobId)
    await assertDeviceSeesPending(h, jobId, [late, lateDeep])
  })

  it('[open-question 55] a thing that leaves a target group later keeps its execution', async () => {
    const group = await createGroup(h)
    const [leaver, stayer] = await createThings(h, 2, group.name)
    assert.ok(leaver !== undefined && stayer !== undefined)
    const jobId = await createJob([group.arn])
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName: leaver }))
    assert.deepEqual(await executionStates(h, jobId), [`${leaver}#1:QUEUED`, `${stayer}#1:QUEUED`].sort())
    await assertCountersMatchRecords(h, jobId)
    await assertDeviceSeesPending(h, jobId, [leaver, stayer])
  })

  it('[open-question 55] deleting a target group leaves the executions of a SNAPSHOT job untouched', async () => {
    const group = await createGroup(h)
    const things = await createThings(h, 2, group.name)
    const jobId = await createJob([group.arn])
    await h.iot.send(new DeleteThingGroupCommand({ thingGroupName: group.name }))
    assert.deepEqual(
      await executionStates(h, jobId),
      [...things].sort().map((t) => `${t}#1:QUEUED`),
    )
    await assertCountersMatchRecords(h, jobId)
    const described = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(described.job?.status, 'IN_PROGRESS')
  })

  it('[open-question 58] a SNAPSHOT job whose groups are empty completes at once', async () => {
    const root = await createGroup(h)
    await createGroup(h, { parent: root.name })
    const other = await createGroup(h)
    const jobId = await createJob([root.arn, other.arn])
    const described = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(described.job?.status, 'COMPLETED')
    assert.ok(described.job?.completedAt instanceof Date)
    assert.equal(await executionsOf(h, jobId).then((r) => r.length), 0)
    await assertCountersMatchRecords(h, jobId)
  })

  it('a CONTINUOUS job whose groups are empty stays IN_PROGRESS', async () => {
    const group = await createGroup(h)
    const jobId = await createJob([group.arn], 'CONTINUOUS')
    const described = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(described.job?.status, 'IN_PROGRESS')
    assert.equal(described.job?.completedAt, undefined)
  })
})

describe('ListJobs group filters and JobSummary.thingGroupId [spec: jobs-control-plane#listjobs]', () => {
  let parent: { name: string; id: string; arn: string }
  let child: { name: string; id: string; arn: string }
  let other: { name: string; id: string; arn: string }
  let jobOnChild: string
  let jobOnParent: string
  let jobOnBoth: string
  let jobOnThing: string
  before(async () => {
    parent = await createGroup(h)
    child = await createGroup(h, { parent: parent.name })
    other = await createGroup(h)
    const [thing] = await createThings(h, 1, child.name)
    assert.ok(thing !== undefined)
    jobOnChild = await createJob([child.arn])
    jobOnParent = await createJob([parent.arn], 'CONTINUOUS')
    jobOnBoth = await createJob([thingArnOf(thing), other.arn, child.arn])
    jobOnThing = await createJob([thingArnOf(thing)])
  })

  it('thingGroupName keeps the jobs that target the group directly (not through an ancestor)', async () => {
    const ids = (await listJobs({ thingGroupName: child.name })).map((j) => j.jobId)
    assert.deepEqual(ids, [jobOnChild, jobOnBoth])
    assert.deepEqual(
      (await listJobs({ thingGroupName: parent.name })).map((j) => j.jobId),
      [jobOnParent],
    )
    assert.ok(!ids.includes(jobOnThing))
  })

  it('thingGroupId filters like thingGroupName; both naming the same group is allowed', async () => {
    assert.deepEqual(
      (await listJobs({ thingGroupId: child.id })).map((j) => j.jobId),
      [jobOnChild, jobOnBoth],
    )
    assert.deepEqual(
      (await listJobs({ thingGroupName: other.name, thingGroupId: other.id })).map((j) => j.jobId),
      [jobOnBoth],
    )
  })

  it('answers ResourceNotFoundException for an unknown thingGroupName or thingGroupId', async () => {
    await assert.rejects(h.iot.send(new ListJobsCommand({ thingGroupName: unique('missing') })), isNotFound)
    await assert.rejects(
      h.iot.send(new ListJobsCommand({ thingGroupId: '00000000-0000-4000-8000-000000000000' })),
      isNotFound,
    )
  })

  it('answers InvalidRequestException when thingGroupName and thingGroupId name different groups', async () => {
    await assert.rejects(
      h.iot.send(new ListJobsCommand({ thingGroupName: child.name, thingGroupId: parent.id })),
      (e: unknown) => {
        assert.ok(e instanceof InvalidRequestException)
        assert.equal(e.$metadata.httpStatusCode, 400)
        return true
      },
    )
  })

  it('[open-question 24] JobSummary.thingGroupId is the id of the first group ARN in targets, absent without one', async () => {
    const summaries = new Map((await listJobs({ thingGroupName: child.name })).map((j) => [j.jobId, j]))
    assert.equal(summaries.get(jobOnChild)?.thingGroupId, child.id)
    // targets = [thing, other, child]: the first group ARN is `other`'s.
    assert.equal(summaries.get(jobOnBoth)?.thingGroupId, other.id)
    const [parentSummary] = await listJobs({ thingGroupName: parent.name })
    assert.equal(parentSummary?.thingGroupId, parent.id)
    assert.equal(parentSummary?.targetSelection, 'CONTINUOUS')
    const all: JobSummary[] = []
    for await (const page of paginateListJobs({ client: h.iot, pageSize: 250 }, {}))
      all.push(...(page.jobs ?? []))
    const thingOnly = all.find((j) => j.jobId === jobOnThing)
    assert.ok(thingOnly !== undefined)
    assert.equal(thingOnly.thingGroupId, undefined)
  })
})
