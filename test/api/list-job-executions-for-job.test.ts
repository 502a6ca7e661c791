import {
  AssociateTargetsWithJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  CreateThingCommand,
  DeleteJobExecutionCommand,
  DeleteThingCommand,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
  RemoveThingFromThingGroupCommand,
} from '@aws-sdk/client-iot'
import type {
  JobExecutionStatus,
  JobExecutionSummaryForJob,
  ListJobExecutionsForJobCommandInput,
} from '@aws-sdk/client-iot'
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT, MINUTE_MS, ManualClock, createJob, createThing, report } from '../support/device.js'
import { cpDate, duplicates, expectError, makeThings, walk } from '../support/registry.js'
import { addToGroup, createGroup, executionStates } from '../support/thing-groups.js'

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

const list = async (input: ListJobExecutionsForJobCommandInput, on: Harness = h) => {
  const out = await on.iot.send(new ListJobExecutionsForJobCommand(input))
  assert.ok(out.executionSummaries !== undefined, 'executionSummaries is always present')
  return { items: out.executionSummaries, nextToken: out.nextToken }
}

/** `thingName#executionNumber` of a listed record. */
const keyOf = (s: JobExecutionSummaryForJob): string =>
  `${(s.thingArn ?? '').slice((s.thingArn ?? '').lastIndexOf('/') + 1)}#${s.jobExecutionSummary?.executionNumber ?? 0}`

const walkKeys = async (
  input: ListJobExecutionsForJobCommandInput,
  between?: (page: number) => Promise<void>,
) =>
  (
    await walk((nextToken) => list({ ...input, ...(nextToken === undefined ? {} : { nextToken }) }), {
      ...(between === undefined ? {} : { between }),
    })
  ).items.map(keyOf)

/** Ignores the refusals a random change may meet (a move out of a terminal status). */
async function tolerated(call: Promise<unknown>): Promise<void> {
  try {
    await call
  } catch (error) {
    if (!(error instanceof Error) || error.name !== 'InvalidStateTransitionException') throw error
  }
}

describe('ListJobExecutionsForJob: items [spec: jobs-control-plane#listjobexecutionsforjob]', () => {
  it('each item is thingArn plus {status, queuedAt, startedAt when started, lastUpdatedAt, executionNumber, retryAttempt}', async () => {
    const [a, b] = (await makeThings(h, 2)).sort() as [string, string]
    const queuedMs = clock.nowMs()
    const jobId = await createJob(h, [b, a])
    clock.advance(2000)
    const startedMs = clock.nowMs()
    await report(h, jobId, b, 'IN_PROGRESS')
    const out = await list({ jobId })
    assert.equal(out.nextToken, undefined)
    assert.deepEqual(out.items, [
      {
        thingArn: thingArnOf(a),
        jobExecutionSummary: {
          status: 'QUEUED',
          queuedAt: cpDate(queuedMs),
          lastUpdatedAt: cpDate(queuedMs),
          executionNumber: 1,
          retryAttempt: 0,
        },
      },
      {
        thingArn: thingArnOf(b),
        jobExecutionSummary: {
          status: 'IN_PROGRESS',
          queuedAt: cpDate(queuedMs),
          startedAt: cpDate(startedMs),
          lastUpdatedAt: cpDate(startedMs),
          executionNumber: 1,
          retryAttempt: 0,
        },
      },
    ])
  })

  it('a thing executed again appears once per execution record [spec: state-machines#3.2-executionnumber]', async () => {
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
    await report(h, jobId, thingName, 'SUCCEEDED')
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName }))
    await addToGroup(h, group.name, thingName)
    const out = await list({ jobId })
    assert.deepEqual(
      out.items.map((s) => [
        s.thingArn,
        s.jobExecutionSummary?.executionNumber,
        s.jobExecutionSummary?.status,
      ]),
      [
        [thingArnOf(thingName), 1, 'SUCCEEDED'],
        [thingArnOf(thingName), 2, 'QUEUED'],
      ],
    )
  })

  it('a SCHEDULED job lists no executions', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName], {
      schedulingConfig: { startTime: new Date(clock.nowMs() + 60 * MINUTE_MS).toISOString().slice(0, 16) },
    })
    assert.deepEqual(await list({ jobId }), { items: [], nextToken: undefined })
  })

  it('lists executions of a thing that has since been deleted [spec: things#deletething]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await h.iot.send(new DeleteThingCommand({ thingName }))
    assert.deepEqual(
      (await list({ jobId })).items.map((s) => [s.thingArn, s.jobExecutionSummary?.status]),
      [[thingArnOf(thingName), 'REMOVED']],
    )
  })

  it('an unknown job is ResourceNotFoundException (404) naming the job', async () => {
    const jobId = unique('missing')
    await expectError(
      h.iot.send(new ListJobExecutionsForJobCommand({ jobId })),
      'ResourceNotFoundException',
      404,
      [jobId],
    )
  })

  it('a bad jobId, status or maxResults is InvalidRequestException (400) naming it [spec: limits#2] [spec: limits#3]', async () => {
    const jobId = await createJob(h, [await createThing(h)])
    const bad: [ListJobExecutionsForJobCommandInput, string][] = [
      [{ jobId: 'bad.id' }, 'jobId'],
      [{ jobId: 'j'.repeat(65) }, 'jobId'],
      [{ jobId, status: 'DONE' as never }, 'status'],
      [{ jobId, maxResults: 0 }, 'maxResults'],
      [{ jobId, maxResults: 251 }, 'maxResults'],
    ]
    for (const [input, field] of bad) {
      await expectError(
        h.iot.send(new ListJobExecutionsForJobCommand(input)),
        'InvalidRequestException',
        400,
        [field],
      )
    }
    assert.equal((await list({ jobId, maxResults: 250 })).items.length, 1)
  })
})

describe('ListJobExecutionsForJob: status filter [spec: jobs-control-plane#listjobexecutionsforjob]', () => {
  it('status keeps exactly the records in that status, for every status a test can reach', async () => {
    const things = (await makeThings(h, 8)).sort()
    const jobId = await createJob(h, things)
    const [queued, inProgress, succeeded, failed, rejected, canceled, removed, queued2] = things as [
      string,
      string,
      string,
      string,
      string,
      string,
      string,
      string,
    ]
    await report(h, jobId, inProgress, 'IN_PROGRESS')
    await report(h, jobId, succeeded, 'SUCCEEDED')
    await report(h, jobId, failed, 'FAILED')
    await report(h, jobId, rejected, 'REJECTED')
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: canceled }))
    await h.iot.send(new DeleteThingCommand({ thingName: removed }))
    const expected: Record<JobExecutionStatus, string[]> = {
      QUEUED: [queued, queued2],
      IN_PROGRESS: [inProgress],
      SUCCEEDED: [succeeded],
      FAILED: [failed],
      REJECTED: [rejected],
      CANCELED: [canceled],
      REMOVED: [removed],
      TIMED_OUT: [],
    }
    for (const [status, names] of Object.entries(expected) as [JobExecutionStatus, string[]][]) {
      const out = await list({ jobId, status })
      assert.deepEqual(
        out.items.map(keyOf),
        names.map((n) => `${n}#1`),
        status,
      )
      assert.ok(out.items.every((s) => s.jobExecutionSummary?.status === status))
    }
  })
})

describe('ListJobExecutionsForJob: pagination [spec: wire-protocol#6-pagination]', () => {
  for (const maxResults of [1, 2, 3, 5]) {
    it(`maxResults=${maxResults}: the walk returns every record exactly once, pages of at most ${maxResults}`, async () => {
      const things = (await makeThings(h, 7)).sort()
      const jobId = await createJob(h, things)
      const w = await walk((nextToken) =>
        list({ jobId, maxResults, ...(nextToken === undefined ? {} : { nextToken }) }),
      )
      assert.deepEqual(
        w.items.map(keyOf),
        things.map((t) => `${t}#1`),
      )
      assert.ok(w.sizes.every((n) => n <= maxResults))
      assert.equal(w.pages, Math.ceil(7 / maxResults))
    })
  }

  it('[open-question 2] without maxResults a page holds 50 records', async () => {
    const things = await makeThings(h, 51)
    const jobId = await createJob(h, things)
    const first = await list({ jobId })
    assert.equal(first.items.length, 50)
    const second = await list({ jobId, nextToken: first.nextToken! })
    assert.deepEqual([second.items.length, second.nextToken], [1, undefined])
  })

  it('[open-question 3] records are ordered by queuedAt, then thing name', async () => {
    const group = await createGroup(h)
    const [first, second] = (await makeThings(h, 2)).sort() as [string, string]
    await addToGroup(h, group.name, second)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [group.arn],
      }),
    )
    clock.advance(1000)
    const late = await createThing(h)
    await addToGroup(h, group.name, late)
    // Same queuedAt as `late`, earlier name than `second`.
    await addToGroup(h, group.name, first)
    assert.deepEqual(await walkKeys({ jobId, maxResults: 1 }), [
      `${second}#1`,
      ...[`${first}#1`, `${late}#1`].sort(),
    ])
  })

  it('updates and new records between pages: every record that existed before the walk appears exactly once; new ones come after', async () => {
    const group = await createGroup(h)
    const things = (await makeThings(h, 9)).sort()
    for (const t of things) await addToGroup(h, group.name, t)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [group.arn],
      }),
    )
    const added: string[] = []
    const keys = await walkKeys({ jobId, maxResults: 2 }, async (page) => {
      // While the cursor is in the first half: one record behind it and one ahead of it change status.
      // After every page a thing joins the targets.
      if (page < 4) {
        await report(h, jobId, things[page]!, 'SUCCEEDED')
        await report(h, jobId, things[things.length - 1 - page]!, 'IN_PROGRESS')
      }
      const joined = await createThing(h)
      await addToGroup(h, group.name, joined)
      added.push(`${joined}#1`)
    })
    assert.deepEqual(duplicates(keys), [])
    assert.deepEqual(keys, [...things.map((t) => `${t}#1`), ...added])
  })

  it('records leaving the targets (REMOVED) or deleted between pages are never listed twice; the others exactly once', async () => {
    const things = (await makeThings(h, 10)).sort()
    const jobId = await createJob(h, things)
    const gone: string[] = []
    const keys = await walkKeys({ jobId, maxResults: 3 }, async (page) => {
      const victim = things[things.length - 1 - page]!
      await report(h, jobId, victim, 'REJECTED')
      await h.iot.send(new DeleteJobExecutionCommand({ jobId, thingName: victim, executionNumber: 1 }))
      gone.push(`${victim}#1`)
      await h.iot.send(new DeleteThingCommand({ thingName: things[page]! }))
    })
    assert.deepEqual(duplicates(keys), [])
    assert.deepEqual(
      keys,
      things.map((t) => `${t}#1`).filter((k) => !gone.includes(k)),
    )
  })

  it('a status-filtered walk while records change status: records that kept the status appear exactly once, none twice', async () => {
    const things = (await makeThings(h, 9)).sort()
    const jobId = await createJob(h, things)
    const moved: string[] = []
    const keys = await walkKeys({ jobId, status: 'QUEUED', maxResults: 2 }, async (page) => {
      const victim = things[things.length - 1 - page]!
      await report(h, jobId, victim, 'IN_PROGRESS')
      moved.push(`${victim}#1`)
    })
    assert.deepEqual(duplicates(keys), [])
    assert.deepEqual(
      keys,
      things.map((t) => `${t}#1`).filter((k) => !moved.includes(k)),
    )
  })

  it('a made-up nextToken, one for another status, another job or another operation is InvalidRequestException (400) naming nextToken', async () => {
    const things = await makeThings(h, 3)
    const jobId = await createJob(h, things)
    const otherJob = await createJob(h, things)
    const token = (await list({ jobId, maxResults: 1 })).nextToken
    assert.ok(token !== undefined)
    const forged = Buffer.from(
      JSON.stringify({ v: 1, op: 'ListJobExecutionsForJob', f: JSON.stringify({ jobId }), a: '1 OR 1=1' }),
    ).toString('base64url')
    for (const input of [
      { jobId, nextToken: 'garbage' },
      { jobId, nextToken: forged },
      { jobId, nextToken: token, status: 'QUEUED' as const },
      { jobId: otherJob, nextToken: token },
    ]) {
      await expectError(
        h.iot.send(new ListJobExecutionsForJobCommand(input)),
        'InvalidRequestException',
        400,
        ['nextToken'],
      )
    }
    await expectError(
      h.iot.send(new ListJobExecutionsForThingCommand({ thingName: things[0]!, nextToken: token })),
      'InvalidRequestException',
      400,
      ['nextToken'],
    )
    // The token still works where it belongs.
    assert.equal((await list({ jobId, nextToken: token })).items.length, 2)
  })
})

describe('ListJobExecutionsForJob: property [spec: wire-protocol#6-pagination]', () => {
  const THINGS = 12
  let targets: string[] = []
  before(async () => {
    targets = (await makeThings(h, THINGS)).sort()
  })

  type Change =
    | { kind: 'device'; index: number; status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'REJECTED' }
    | { kind: 'cancel'; index: number; force: boolean }
    | { kind: 'add' }

  const change: fc.Arbitrary<Change> = fc.oneof(
    fc.record({
      kind: fc.constant('device' as const),
      index: fc.nat(THINGS - 1),
      status: fc.constantFrom(
        'IN_PROGRESS' as const,
        'SUCCEEDED' as const,
        'FAILED' as const,
        'REJECTED' as const,
      ),
    }),
    fc.record({ kind: fc.constant('cancel' as const), index: fc.nat(THINGS - 1), force: fc.boolean() }),
    fc.record({ kind: fc.constant('add' as const) }),
  )

  it('for any maxResults 1..10 and any updates between pages, the walk yields every execution that existed before it exactly once, and nothing else but new ones', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1, max: 10 }),
        fc.array(change, { maxLength: 12 }),
        async (maxResults, changes) => {
          const jobId = unique('prop')
          await h.iot.send(
            new CreateJobCommand({
              jobId,
              document: DOCUMENT,
              targetSelection: 'CONTINUOUS',
              targets: targets.map(thingArnOf),
            }),
          )
          const existing = new Set((await executionStates(h, jobId)).map((s) => s.slice(0, s.indexOf(':'))))
          assert.equal(existing.size, THINGS)
          const added = new Set<string>()
          let next = 0
          const keys = await walkKeys({ jobId, maxResults }, async () => {
            const c = changes[next]
            next += 1
            if (c === undefined) return
            if (c.kind === 'device') await tolerated(report(h, jobId, targets[c.index]!, c.status))
            else if (c.kind === 'cancel')
              await tolerated(
                h.iot.send(
                  new CancelJobExecutionCommand({ jobId, thingName: targets[c.index]!, force: c.force }),
                ),
              )
            else {
              const thingName = unique('joined')
              await h.iot.send(new CreateThingCommand({ thingName }))
              await h.iot.send(
                new AssociateTargetsWithJobCommand({ jobId, targets: [thingArnOf(thingName)] }),
              )
              added.add(`${thingName}#1`)
            }
          })
          assert.deepEqual(duplicates(keys), [], 'no record twice')
          for (const k of existing) assert.ok(keys.includes(k), `${k} existed before the walk and is listed`)
          for (const k of keys) assert.ok(existing.has(k) || added.has(k), `${k} is a real record`)
        },
      ),
      { numRuns: 25 },
    )
  })
})
