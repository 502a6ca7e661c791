import {
  CancelJobCommand,
  CreateJobCommand,
  DeleteJobCommand,
  ListJobExecutionsForJobCommand,
  ListJobsCommand,
} from '@aws-sdk/client-iot'
import type { CreateJobCommandInput, JobSummary, ListJobsCommandInput } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT, MINUTE_MS, ManualClock, createThing, report } from '../support/device.js'
import { cpDate, duplicates, expectError, jobArnOf, walk } from '../support/registry.js'
import { addToGroup, createGroup } from '../support/thing-groups.js'

/** Every test gets a server of its own, so a listing holds exactly the jobs the test made. */
async function withServer(test: (h: Harness, clock: ManualClock) => Promise<void>): Promise<void> {
  const clock = new ManualClock()
  const h = await startHarness({ clock })
  try {
    await test(h, clock)
  } finally {
    await h.close()
  }
}

const list = async (h: Harness, input: ListJobsCommandInput = {}) => {
  const out = await h.iot.send(new ListJobsCommand(input))
  assert.ok(out.jobs !== undefined, 'jobs is always present')
  return { items: out.jobs, nextToken: out.nextToken }
}

const idsOf = (jobs: readonly JobSummary[]): string[] => jobs.map((j) => j.jobId ?? '')

/** All pages of a listing. */
const walkIds = async (h: Harness, input: ListJobsCommandInput = {}) =>
  idsOf(
    (await walk((nextToken) => list(h, { ...input, ...(nextToken === undefined ? {} : { nextToken }) })))
      .items,
  )

async function job(
  h: Harness,
  thingName: string,
  extra: Partial<CreateJobCommandInput> = {},
): Promise<string> {
  const jobId = extra.jobId ?? unique('job')
  await h.iot.send(
    new CreateJobCommand({ document: DOCUMENT, targets: [thingArnOf(thingName)], ...extra, jobId }),
  )
  return jobId
}

/** One job in each status; DELETION_IN_PROGRESS is held there by stopping the purge worker. */
async function jobsInEveryStatus(h: Harness, clock: ManualClock) {
  const thingName = await createThing(h)
  const inProgress = await job(h, thingName)
  const completed = await job(h, thingName)
  await report(h, completed, thingName, 'SUCCEEDED')
  const canceled = await job(h, thingName)
  await h.iot.send(new CancelJobCommand({ jobId: canceled }))
  const scheduled = await job(h, thingName, {
    schedulingConfig: { startTime: new Date(clock.nowMs() + 60 * MINUTE_MS).toISOString().slice(0, 16) },
  })
  await h.server.workers.jobDeletion.stop()
  const deleting = await job(h, thingName)
  await h.iot.send(new DeleteJobCommand({ jobId: deleting, force: true }))
  return {
    IN_PROGRESS: inProgress,
    COMPLETED: completed,
    CANCELED: canceled,
    SCHEDULED: scheduled,
    DELETION_IN_PROGRESS: deleting,
  }
}

describe('ListJobs: items [spec: jobs-control-plane#listjobs]', () => {
  it('each JobSummary is exact: jobArn, jobId, targetSelection, status, createdAt, lastUpdatedAt, completedAt when completed, isConcurrent', async () => {
    await withServer(async (h, clock) => {
      const thingName = await createThing(h)
      const createdMs = clock.nowMs()
      const running = await job(h, thingName, { targetSelection: 'CONTINUOUS' })
      const done = await job(h, thingName)
      clock.advance(5000)
      await report(h, done, thingName, 'SUCCEEDED')
      const out = await list(h)
      assert.deepEqual(out, {
        items: [
          {
            jobArn: `arn:aws:iot:us-east-1:123456789012:job/${running}`,
            jobId: running,
            targetSelection: 'CONTINUOUS',
            status: 'IN_PROGRESS',
            createdAt: cpDate(createdMs),
            lastUpdatedAt: cpDate(createdMs),
            isConcurrent: false,
          },
          {
            jobArn: jobArnOf(done),
            jobId: done,
            targetSelection: 'SNAPSHOT',
            status: 'COMPLETED',
            createdAt: cpDate(createdMs),
            lastUpdatedAt: cpDate(clock.nowMs()),
            completedAt: cpDate(clock.nowMs()),
            isConcurrent: false,
          },
        ],
        nextToken: undefined,
      })
    })
  })

  it('[open-question 24] thingGroupId is the id of the first thing-group ARN in targets; omitted for thing-only jobs', async () => {
    await withServer(async (h) => {
      const thingName = await createThing(h)
      const first = await createGroup(h)
      const second = await createGroup(h)
      const mixed = await h.iot.send(
        new CreateJobCommand({
          jobId: unique('job'),
          document: DOCUMENT,
          targets: [thingArnOf(thingName), first.arn, second.arn],
        }),
      )
      const thingsOnly = await job(h, thingName)
      const byId = new Map((await list(h)).items.map((j) => [j.jobId, j.thingGroupId]))
      assert.deepEqual(
        [...byId],
        [
          [mixed.jobId, first.id],
          [thingsOnly, undefined],
        ],
      )
    })
  })

  it('an empty server lists no jobs and no nextToken', async () => {
    await withServer(async (h) => {
      assert.deepEqual(await list(h), { items: [], nextToken: undefined })
    })
  })
})

describe('ListJobs: filters [spec: jobs-control-plane#listjobs]', () => {
  it('status keeps exactly the jobs in that status, for each of the five statuses', async () => {
    await withServer(async (h, clock) => {
      const byStatus = await jobsInEveryStatus(h, clock)
      for (const [status, jobId] of Object.entries(byStatus)) {
        const out = await list(h, { status: status as keyof typeof byStatus })
        assert.deepEqual(idsOf(out.items), [jobId], status)
        assert.deepEqual(
          out.items.map((j) => j.status),
          [status],
        )
      }
      assert.deepEqual(await walkIds(h), Object.values(byStatus), 'no filter: every job')
    })
  })

  it('targetSelection keeps exactly the jobs with that selection', async () => {
    await withServer(async (h) => {
      const thingName = await createThing(h)
      const c1 = await job(h, thingName, { targetSelection: 'CONTINUOUS' })
      const s1 = await job(h, thingName)
      const s2 = await job(h, thingName, { targetSelection: 'SNAPSHOT' })
      const c2 = await job(h, thingName, { targetSelection: 'CONTINUOUS' })
      assert.deepEqual(await walkIds(h, { targetSelection: 'CONTINUOUS' }), [c1, c2])
      assert.deepEqual(await walkIds(h, { targetSelection: 'SNAPSHOT' }), [s1, s2])
    })
  })

  it('namespaceId keeps exactly the jobs of that namespace; [open-question 23] without it every job is listed', async () => {
    await withServer(async (h) => {
      const thingName = await createThing(h)
      const plain = await job(h, thingName)
      const a1 = await job(h, thingName, { namespaceId: 'ns-a' })
      const b1 = await job(h, thingName, { namespaceId: 'ns-b' })
      const a2 = await job(h, thingName, { namespaceId: 'ns-a' })
      assert.deepEqual(await walkIds(h, { namespaceId: 'ns-a' }), [a1, a2])
      assert.deepEqual(await walkIds(h, { namespaceId: 'ns-b' }), [b1])
      assert.deepEqual(await walkIds(h, { namespaceId: 'ns-none' }), [])
      assert.deepEqual(await walkIds(h), [plain, a1, b1, a2])
    })
  })

  it('thingGroupName and thingGroupId keep the jobs that target that group directly (not through a parent)', async () => {
    await withServer(async (h) => {
      const parent = await createGroup(h)
      const child = await createGroup(h, { parent: parent.name })
      const thingName = await createThing(h)
      await addToGroup(h, child.name, thingName)
      const onParent = await job(h, thingName, { targets: [parent.arn] })
      const onChild = await job(h, thingName, { targets: [child.arn] })
      const onBoth = await job(h, thingName, { targets: [thingArnOf(thingName), child.arn, parent.arn] })
      await job(h, thingName)
      assert.deepEqual(await walkIds(h, { thingGroupName: child.name }), [onChild, onBoth])
      assert.deepEqual(await walkIds(h, { thingGroupId: child.id }), [onChild, onBoth])
      assert.deepEqual(await walkIds(h, { thingGroupName: parent.name }), [onParent, onBoth])
      assert.deepEqual(await walkIds(h, { thingGroupName: parent.name, thingGroupId: parent.id }), [
        onParent,
        onBoth,
      ])
    })
  })

  it('an unknown thingGroupName or thingGroupId is ResourceNotFoundException (404) naming it', async () => {
    await withServer(async (h) => {
      const name = unique('nogroup')
      await expectError(
        h.iot.send(new ListJobsCommand({ thingGroupName: name })),
        'ResourceNotFoundException',
        404,
        [name],
      )
      const id = '00000000-0000-4000-8000-000000000000'
      await expectError(
        h.iot.send(new ListJobsCommand({ thingGroupId: id })),
        'ResourceNotFoundException',
        404,
        [id],
      )
    })
  })

  it('thingGroupName and thingGroupId naming different groups is InvalidRequestException (400) naming both', async () => {
    await withServer(async (h) => {
      const a = await createGroup(h)
      const b = await createGroup(h)
      await expectError(
        h.iot.send(new ListJobsCommand({ thingGroupName: a.name, thingGroupId: b.id })),
        'InvalidRequestException',
        400,
        ['thingGroupName', 'thingGroupId'],
      )
    })
  })

  it('filters combine with AND', async () => {
    await withServer(async (h) => {
      const thingName = await createThing(h)
      const hit = await job(h, thingName, { namespaceId: 'ns', targetSelection: 'CONTINUOUS' })
      await job(h, thingName, { namespaceId: 'ns' })
      await job(h, thingName, { targetSelection: 'CONTINUOUS' })
      const canceled = await job(h, thingName, { namespaceId: 'ns', targetSelection: 'CONTINUOUS' })
      await h.iot.send(new CancelJobCommand({ jobId: canceled }))
      assert.deepEqual(
        await walkIds(h, { namespaceId: 'ns', targetSelection: 'CONTINUOUS', status: 'IN_PROGRESS' }),
        [hit],
      )
      assert.deepEqual(await walkIds(h, { namespaceId: 'ns', status: 'CANCELED' }), [canceled])
    })
  })

  it('bad filter values are InvalidRequestException (400) naming the parameter [spec: wire-protocol#2.2]', async () => {
    await withServer(async (h) => {
      const bad: [ListJobsCommandInput, string][] = [
        [{ status: 'RUNNING' as never }, 'status'],
        [{ targetSelection: 'SOMETIMES' as never }, 'targetSelection'],
        [{ namespaceId: 'bad ns' }, 'namespaceId'],
        [{ thingGroupName: 'bad.group' }, 'thingGroupName'],
        [{ thingGroupId: 'bad_id' }, 'thingGroupId'],
      ]
      for (const [input, field] of bad) {
        await expectError(h.iot.send(new ListJobsCommand(input)), 'InvalidRequestException', 400, [field])
      }
    })
  })
})

describe('ListJobs: order and pagination [spec: wire-protocol#6-pagination]', () => {
  for (const maxResults of [1, 2, 3, 250]) {
    it(`maxResults=${maxResults}: the walk returns every job exactly once in creation order; no token on the last page`, async () => {
      await withServer(async (h, clock) => {
        const thingName = await createThing(h)
        const ids: string[] = []
        for (let i = 0; i < 7; i += 1) {
          clock.advance(1000)
          ids.push(await job(h, thingName))
        }
        const w = await walk((nextToken) =>
          list(h, { maxResults, ...(nextToken === undefined ? {} : { nextToken }) }),
        )
        assert.deepEqual(idsOf(w.items), ids)
        assert.ok(w.sizes.every((n) => n <= maxResults))
        assert.equal(w.pages, Math.ceil(7 / maxResults))
      })
    })
  }

  it('[open-question 3] jobs are ordered by createdAt, not by jobId', async () => {
    await withServer(async (h, clock) => {
      const thingName = await createThing(h)
      const late = await job(h, thingName, { jobId: 'a-created-second' })
      clock.advance(-1000)
      const early = await job(h, thingName, { jobId: 'z-created-first' })
      assert.deepEqual(await walkIds(h), [early, late])
    })
  })

  it('[open-question 3] jobs created at the same instant are ordered by jobId', async () => {
    await withServer(async (h) => {
      const thingName = await createThing(h)
      await job(h, thingName, { jobId: 'tie-b' })
      await job(h, thingName, { jobId: 'tie-c' })
      await job(h, thingName, { jobId: 'tie-a' })
      assert.deepEqual(await walkIds(h), ['tie-a', 'tie-b', 'tie-c'])
    })
  })

  it('[open-question 2] without maxResults a page holds 50 jobs', async () => {
    await withServer(async (h) => {
      const thingName = await createThing(h)
      for (let i = 0; i < 51; i += 1) await job(h, thingName)
      const first = await list(h)
      assert.equal(first.items.length, 50)
      assert.ok(first.nextToken !== undefined)
      const second = await list(h, { nextToken: first.nextToken })
      assert.deepEqual([second.items.length, second.nextToken], [1, undefined])
    })
  })

  it('jobs created, canceled and deleted between pages: every job that existed throughout appears exactly once; new jobs come last', async () => {
    await withServer(async (h, clock) => {
      const thingName = await createThing(h)
      const ids: string[] = []
      for (let i = 0; i < 8; i += 1) {
        clock.advance(1000)
        ids.push(await job(h, thingName))
      }
      const added: string[] = []
      const w = await walk(
        (nextToken) => list(h, { maxResults: 3, ...(nextToken === undefined ? {} : { nextToken }) }),
        {
          between: async (page) => {
            clock.advance(1000)
            added.push(await job(h, thingName))
            // Change a job ahead of the cursor and one behind it.
            await h.iot.send(new CancelJobCommand({ jobId: ids[7 - page]! }))
            await h.iot.send(new CancelJobCommand({ jobId: ids[page]! }))
          },
        },
      )
      const listed = idsOf(w.items)
      assert.deepEqual(duplicates(listed), [])
      assert.deepEqual(listed, [...ids, ...added])
    })
  })

  it('a status-filtered walk while jobs change status: jobs that kept the status throughout appear exactly once, none twice', async () => {
    await withServer(async (h, clock) => {
      const thingName = await createThing(h)
      const ids: string[] = []
      for (let i = 0; i < 9; i += 1) {
        clock.advance(1000)
        ids.push(await job(h, thingName))
      }
      const changed: string[] = []
      const w = await walk(
        (nextToken) =>
          list(h, {
            status: 'IN_PROGRESS',
            maxResults: 2,
            ...(nextToken === undefined ? {} : { nextToken }),
          }),
        {
          between: async (page) => {
            const victim = ids[ids.length - 1 - page]!
            await h.iot.send(new CancelJobCommand({ jobId: victim }))
            changed.push(victim)
          },
        },
      )
      const listed = idsOf(w.items)
      assert.deepEqual(duplicates(listed), [])
      for (const id of ids.filter((i) => !changed.includes(i)))
        assert.ok(listed.includes(id), `${id} is listed`)
      for (const id of listed) assert.ok(ids.includes(id))
    })
  })

  it('maxResults 0 and 251 are InvalidRequestException (400) naming maxResults [spec: limits#3]', async () => {
    await withServer(async (h) => {
      for (const maxResults of [0, 251]) {
        await expectError(h.iot.send(new ListJobsCommand({ maxResults })), 'InvalidRequestException', 400, [
          'maxResults',
        ])
      }
      assert.equal((await h.iot.send(new ListJobsCommand({ maxResults: 250 }))).$metadata.httpStatusCode, 200)
    })
  })

  it('a made-up nextToken, a token for other filters, or one of another operation is InvalidRequestException (400) naming nextToken', async () => {
    await withServer(async (h) => {
      const thingName = await createThing(h)
      const jobId = await job(h, thingName)
      await job(h, thingName)
      const token = (await list(h, { maxResults: 1 })).nextToken
      assert.ok(token !== undefined)
      const forged = Buffer.from(
        JSON.stringify({ v: 1, op: 'ListJobs', f: '{}', a: 'not-a-number' }),
      ).toString('base64url')
      for (const input of [
        { nextToken: 'garbage' },
        { nextToken: forged },
        { nextToken: token, status: 'IN_PROGRESS' as const },
        { nextToken: token, namespaceId: 'ns' },
      ]) {
        await expectError(h.iot.send(new ListJobsCommand(input)), 'InvalidRequestException', 400, [
          'nextToken',
        ])
      }
      await expectError(
        h.iot.send(new ListJobExecutionsForJobCommand({ jobId, nextToken: token })),
        'InvalidRequestException',
        400,
        ['nextToken'],
      )
    })
  })
})
