import {
  CancelJobExecutionCommand,
  CreateJobCommand,
  CreateThingCommand,
  DeleteJobExecutionCommand,
  DeleteThingCommand,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
} from '@aws-sdk/client-iot'
import type {
  JobExecutionStatus,
  JobExecutionSummaryForThing,
  ListJobExecutionsForThingCommandInput,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT, ManualClock, createJob, createThing, report } from '../support/device.js'
import { cpDate, duplicates, expectError, walk } from '../support/registry.js'

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

const list = async (input: ListJobExecutionsForThingCommandInput) => {
  const out = await h.iot.send(new ListJobExecutionsForThingCommand(input))
  assert.ok(out.executionSummaries !== undefined, 'executionSummaries is always present')
  return { items: out.executionSummaries, nextToken: out.nextToken }
}

/** `jobId#executionNumber` of a listed record. */
const keyOf = (s: JobExecutionSummaryForThing): string =>
  `${s.jobId ?? ''}#${s.jobExecutionSummary?.executionNumber ?? 0}`

const walkKeys = async (
  input: ListJobExecutionsForThingCommandInput,
  between?: (page: number) => Promise<void>,
) =>
  (
    await walk((nextToken) => list({ ...input, ...(nextToken === undefined ? {} : { nextToken }) }), {
      ...(between === undefined ? {} : { between }),
    })
  ).items.map(keyOf)

/** `count` jobs on the thing, created a second apart; returns their ids in creation order. */
async function jobsOn(
  thingName: string,
  count: number,
  extra: Parameters<typeof createJob>[2] = {},
): Promise<string[]> {
  const ids: string[] = []
  for (let i = 0; i < count; i += 1) {
    clock.advance(1000)
    ids.push(await createJob(h, [thingName], extra))
  }
  return ids
}

describe('ListJobExecutionsForThing: items [spec: jobs-control-plane#listjobexecutionsforthing]', () => {
  it('each item is jobId plus {status, queuedAt, startedAt when started, lastUpdatedAt, executionNumber, retryAttempt}, in queuedAt order', async () => {
    const thingName = await createThing(h)
    const firstMs = clock.nowMs()
    const first = await createJob(h, [thingName])
    clock.advance(1000)
    const secondMs = clock.nowMs()
    const second = await createJob(h, [thingName])
    clock.advance(1000)
    await report(h, first, thingName, 'IN_PROGRESS')
    clock.advance(1000)
    await report(h, first, thingName, 'SUCCEEDED')
    const out = await list({ thingName })
    assert.deepEqual(out, {
      items: [
        {
          jobId: first,
          jobExecutionSummary: {
            status: 'SUCCEEDED',
            queuedAt: cpDate(firstMs),
            startedAt: cpDate(secondMs + 1000),
            lastUpdatedAt: cpDate(clock.nowMs()),
            executionNumber: 1,
            retryAttempt: 0,
          },
        },
        {
          jobId: second,
          jobExecutionSummary: {
            status: 'QUEUED',
            queuedAt: cpDate(secondMs),
            lastUpdatedAt: cpDate(secondMs),
            executionNumber: 1,
            retryAttempt: 0,
          },
        },
      ],
      nextToken: undefined,
    })
  })

  it('a thing without executions lists nothing', async () => {
    const thingName = await createThing(h)
    assert.deepEqual(await list({ thingName }), { items: [], nextToken: undefined })
  })

  it('a thing that does not exist and has no execution records is ResourceNotFoundException (404) naming the thing', async () => {
    const thingName = unique('missing')
    await expectError(
      h.iot.send(new ListJobExecutionsForThingCommand({ thingName })),
      'ResourceNotFoundException',
      404,
      [thingName],
    )
  })

  it('[open-question 31] a deleted thing lists its remaining records; a thing made again under the name lists old and new', async () => {
    const thingName = await createThing(h)
    const [done, pending] = await jobsOn(thingName, 2)
    await report(h, done!, thingName, 'SUCCEEDED')
    await h.iot.send(new DeleteThingCommand({ thingName }))
    const statuses = (items: readonly JobExecutionSummaryForThing[]) =>
      items.map((s) => [s.jobId, s.jobExecutionSummary?.status])
    assert.deepEqual(statuses((await list({ thingName })).items), [
      [done, 'SUCCEEDED'],
      [pending, 'REMOVED'],
    ])
    await h.iot.send(new CreateThingCommand({ thingName }))
    const [again] = await jobsOn(thingName, 1)
    assert.deepEqual(statuses((await list({ thingName })).items), [
      [done, 'SUCCEEDED'],
      [pending, 'REMOVED'],
      [again, 'QUEUED'],
    ])
  })

  it('once every record of a deleted thing is deleted, the thing is unknown again (404)', async () => {
    const thingName = await createThing(h)
    const [jobId] = await jobsOn(thingName, 1)
    await h.iot.send(new DeleteThingCommand({ thingName }))
    await h.iot.send(new DeleteJobExecutionCommand({ jobId: jobId!, thingName, executionNumber: 1 }))
    await expectError(
      h.iot.send(new ListJobExecutionsForThingCommand({ thingName })),
      'ResourceNotFoundException',
      404,
      [thingName],
    )
  })

  it('bad parameters are InvalidRequestException (400) naming them [spec: limits#2] [spec: limits#3]', async () => {
    const thingName = await createThing(h)
    const bad: [ListJobExecutionsForThingCommandInput, string][] = [
      [{ thingName: 'bad.name' }, 'thingName'],
      [{ thingName: 't'.repeat(129) }, 'thingName'],
      [{ thingName, status: 'DONE' as never }, 'status'],
      [{ thingName, jobId: 'bad.id' }, 'jobId'],
      [{ thingName, namespaceId: 'bad ns' }, 'namespaceId'],
      [{ thingName, maxResults: 0 }, 'maxResults'],
      [{ thingName, maxResults: 251 }, 'maxResults'],
    ]
    for (const [input, field] of bad) {
      await expectError(
        h.iot.send(new ListJobExecutionsForThingCommand(input)),
        'InvalidRequestException',
        400,
        [field],
      )
    }
    assert.equal(
      (await h.iot.send(new ListJobExecutionsForThingCommand({ thingName, maxResults: 250 }))).$metadata
        .httpStatusCode,
      200,
    )
  })
})

describe('ListJobExecutionsForThing: filters [spec: jobs-control-plane#listjobexecutionsforthing]', () => {
  it('status keeps exactly the records in that status, for every status a test can reach', async () => {
    const thingName = await createThing(h)
    const [queued, inProgress, succeeded, failed, rejected, canceled] = (await jobsOn(thingName, 6)) as [
      string,
      string,
      string,
      string,
      string,
      string,
    ]
    await report(h, inProgress, thingName, 'IN_PROGRESS')
    await report(h, succeeded, thingName, 'SUCCEEDED')
    await report(h, failed, thingName, 'FAILED')
    await report(h, rejected, thingName, 'REJECTED')
    await h.iot.send(new CancelJobExecutionCommand({ jobId: canceled, thingName }))
    const expected: Record<JobExecutionStatus, string[]> = {
      QUEUED: [queued],
      IN_PROGRESS: [inProgress],
      SUCCEEDED: [succeeded],
      FAILED: [failed],
      REJECTED: [rejected],
      CANCELED: [canceled],
      REMOVED: [],
      TIMED_OUT: [],
    }
    for (const [status, ids] of Object.entries(expected) as [JobExecutionStatus, string[]][]) {
      const out = await list({ thingName, status })
      assert.deepEqual(
        out.items.map(keyOf),
        ids.map((id) => `${id}#1`),
        status,
      )
      assert.ok(out.items.every((s) => s.jobExecutionSummary?.status === status))
    }
  })

  it("jobId keeps only that job's records; a job without records on the thing lists nothing", async () => {
    const thingName = await createThing(h)
    const other = await createThing(h)
    const [a, b] = (await jobsOn(thingName, 2)) as [string, string]
    const elsewhere = await createJob(h, [other])
    assert.deepEqual(await walkKeys({ thingName, jobId: b }), [`${b}#1`])
    assert.deepEqual(await walkKeys({ thingName, jobId: a }), [`${a}#1`])
    assert.deepEqual(await walkKeys({ thingName, jobId: elsewhere }), [])
  })

  it('namespaceId keeps only the records of jobs in that namespace', async () => {
    const thingName = await createThing(h)
    const ns = unique('ns')
    const [plain] = await jobsOn(thingName, 1)
    const [inNs1] = await jobsOn(thingName, 1, { namespaceId: ns })
    await jobsOn(thingName, 1, { namespaceId: `${ns}-other` })
    const [inNs2] = await jobsOn(thingName, 1, { namespaceId: ns })
    assert.deepEqual(await walkKeys({ thingName, namespaceId: ns }), [`${inNs1}#1`, `${inNs2}#1`])
    assert.deepEqual(await walkKeys({ thingName, namespaceId: unique('empty') }), [])
    assert.equal((await walkKeys({ thingName })).length, 4, 'no namespaceId: every record')
    assert.ok((await walkKeys({ thingName })).includes(`${plain}#1`))
  })

  it('filters combine with AND', async () => {
    const thingName = await createThing(h)
    const ns = unique('ns')
    const [a, b] = (await jobsOn(thingName, 2, { namespaceId: ns })) as [string, string]
    const [c] = await jobsOn(thingName, 1)
    await report(h, a, thingName, 'SUCCEEDED')
    await report(h, c!, thingName, 'SUCCEEDED')
    assert.deepEqual(await walkKeys({ thingName, namespaceId: ns, status: 'SUCCEEDED' }), [`${a}#1`])
    assert.deepEqual(await walkKeys({ thingName, namespaceId: ns, status: 'QUEUED' }), [`${b}#1`])
    assert.deepEqual(await walkKeys({ thingName, namespaceId: ns, jobId: c! }), [])
    assert.deepEqual(await walkKeys({ thingName, jobId: a, status: 'QUEUED' }), [])
  })
})

describe('ListJobExecutionsForThing: pagination [spec: wire-protocol#6-pagination]', () => {
  for (const maxResults of [1, 2, 3, 5]) {
    it(`maxResults=${maxResults}: the walk returns every record exactly once in queuedAt order, pages of at most ${maxResults}`, async () => {
      const thingName = await createThing(h)
      const ids = await jobsOn(thingName, 7)
      const w = await walk((nextToken) =>
        list({ thingName, maxResults, ...(nextToken === undefined ? {} : { nextToken }) }),
      )
      assert.deepEqual(
        w.items.map(keyOf),
        ids.map((id) => `${id}#1`),
      )
      assert.ok(w.sizes.every((n) => n <= maxResults))
      assert.equal(w.pages, Math.ceil(7 / maxResults))
    })
  }

  it('[open-question 2] without maxResults a page holds 50 records', async () => {
    const thingName = await createThing(h)
    for (let i = 0; i < 51; i += 1) await createJob(h, [thingName])
    const first = await list({ thingName })
    assert.equal(first.items.length, 50)
    const second = await list({ thingName, nextToken: first.nextToken! })
    assert.deepEqual([second.items.length, second.nextToken], [1, undefined])
  })

  it('[open-question 3] records queued at the same instant are ordered by jobId', async () => {
    const thingName = await createThing(h)
    const suffix = unique('')
    for (const id of ['b', 'c', 'a']) {
      await h.iot.send(
        new CreateJobCommand({
          jobId: `${id}${suffix}`,
          targets: [thingArnOf(thingName)],
          document: DOCUMENT,
        }),
      )
    }
    assert.deepEqual(
      await walkKeys({ thingName }),
      ['a', 'b', 'c'].map((id) => `${id}${suffix}#1`),
    )
  })

  it('new jobs and status changes between pages: every record that existed before the walk appears exactly once; new ones come after', async () => {
    const thingName = await createThing(h)
    const ids = await jobsOn(thingName, 8)
    const added: string[] = []
    const keys = await walkKeys({ thingName, maxResults: 3 }, async (page) => {
      if (page < 3) {
        await report(h, ids[page]!, thingName, 'SUCCEEDED')
        await report(h, ids[ids.length - 1 - page]!, thingName, 'IN_PROGRESS')
      }
      const [jobId] = await jobsOn(thingName, 1)
      added.push(`${jobId}#1`)
    })
    assert.deepEqual(duplicates(keys), [])
    assert.deepEqual(keys, [...ids.map((id) => `${id}#1`), ...added])
  })

  it('a status-filtered walk while records change status: records that kept the status appear exactly once, none twice', async () => {
    const thingName = await createThing(h)
    const ids = await jobsOn(thingName, 9)
    const moved: string[] = []
    const keys = await walkKeys({ thingName, status: 'QUEUED', maxResults: 2 }, async (page) => {
      const victim = ids[ids.length - 1 - page]!
      await report(h, victim, thingName, 'REJECTED')
      moved.push(`${victim}#1`)
    })
    assert.deepEqual(duplicates(keys), [])
    assert.deepEqual(
      keys,
      ids.map((id) => `${id}#1`).filter((k) => !moved.includes(k)),
    )
  })

  it('records deleted between pages are never listed twice; the others exactly once', async () => {
    const thingName = await createThing(h)
    const ids = await jobsOn(thingName, 8)
    const gone: string[] = []
    const keys = await walkKeys({ thingName, maxResults: 3 }, async (page) => {
      for (const victim of [ids[page]!, ids[ids.length - 1 - page]!]) {
        await report(h, victim, thingName, 'FAILED')
        await h.iot.send(new DeleteJobExecutionCommand({ jobId: victim, thingName, executionNumber: 1 }))
        gone.push(`${victim}#1`)
      }
    })
    assert.deepEqual(duplicates(keys), [])
    const kept = ids.map((id) => `${id}#1`).filter((k) => !gone.includes(k))
    for (const k of kept) assert.ok(keys.includes(k), `${k} is listed`)
    for (const k of keys) assert.ok(ids.map((id) => `${id}#1`).includes(k))
  })

  it('a made-up nextToken, one for other filters, another thing or another operation is InvalidRequestException (400) naming nextToken', async () => {
    const thingName = await createThing(h)
    const other = await createThing(h)
    const [jobId] = await jobsOn(thingName, 3)
    await jobsOn(other, 1)
    const token = (await list({ thingName, maxResults: 1 })).nextToken
    assert.ok(token !== undefined)
    for (const input of [
      { thingName, nextToken: 'garbage' },
      { thingName, nextToken: Buffer.from('{"v":2}').toString('base64url') },
      { thingName, nextToken: token, status: 'QUEUED' as const },
      { thingName, nextToken: token, jobId: jobId! },
      { thingName, nextToken: token, namespaceId: 'ns' },
      { thingName: other, nextToken: token },
    ]) {
      await expectError(
        h.iot.send(new ListJobExecutionsForThingCommand(input)),
        'InvalidRequestException',
        400,
        ['nextToken'],
      )
    }
    await expectError(
      h.iot.send(new ListJobExecutionsForJobCommand({ jobId: jobId!, nextToken: token })),
      'InvalidRequestException',
      400,
      ['nextToken'],
    )
    assert.equal((await list({ thingName, nextToken: token })).items.length, 2)
  })
})
