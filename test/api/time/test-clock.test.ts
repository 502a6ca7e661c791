/**
 * The virtual clock's test API (beyond AWS) with plain fetch: GET /_fleetjobs/clock in both modes,
 * POST /_fleetjobs/clock/advance and its bad inputs, POST /_fleetjobs/reset, both refused on the system
 * clock; and every time the service reports coming from the one clock.
 * [spec: test-clock#1] [spec: test-clock#2] [spec: test-clock#4]
 */
import {
  CreateJobTemplateCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DescribeJobTemplateCommand,
  DescribeThingCommand,
  DescribeThingGroupCommand,
  ListJobTemplatesCommand,
  ListJobsCommand,
  ListThingGroupsCommand,
  ListThingsCommand,
  ResourceNotFoundException,
} from '@aws-sdk/client-iot'
import {
  DescribeJobExecutionCommand as DeviceDescribeJobExecutionCommand,
  StartNextPendingJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { startHarness, unique } from '../../support/harness.js'
import { DOCUMENT, createJob, describeJob, isError, report } from '../../support/device.js'
import { cpExecution } from '../../support/lifecycle.js'
import {
  CLOCK_START_MS,
  DAY_S,
  MINUTE_S,
  SECOND_MS,
  advance,
  clockNow,
  clockView,
  createFleet,
  recordCount,
  reset,
  testApi,
  virtualHarness,
} from '../../support/clock.js'

const TWO_YEARS_S = 2 * 366 * DAY_S

/** Asserts a test-API answer is 400 InvalidRequestException with a message. */
function invalidRequest(reply: { status: number; errorType: string | null; json: Record<string, unknown> }) {
  assert.equal(reply.status, 400, JSON.stringify(reply.json))
  assert.equal(reply.errorType, 'InvalidRequestException')
  assert.equal(typeof reply.json['message'], 'string')
  assert.ok(String(reply.json['message']).length > 0)
}

describe('GET /_fleetjobs/clock [spec: test-clock#2]', () => {
  it('virtual mode: the start instant, as ISO-8601 UTC with milliseconds and as epoch milliseconds', async (t) => {
    const h = await virtualHarness(t, { clockStartMs: CLOCK_START_MS + 789 })
    const reply = await testApi(h, 'GET', '/_fleetjobs/clock')
    assert.equal(reply.status, 200)
    assert.deepEqual(reply.json, {
      mode: 'virtual',
      now: '2030-01-01T12:00:00.789Z',
      epochMillis: CLOCK_START_MS + 789,
    })
  })

  it('virtual mode: the clock stands still between requests', async (t) => {
    const h = await virtualHarness(t)
    const first = await clockView(h)
    await createJob(h, await createFleet(h, 1))
    assert.deepEqual(await clockView(h), first)
  })

  it("system mode: the machine's time", async (t) => {
    const h = await startHarness()
    t.after(() => h.close())
    const before = Date.now()
    const view = await clockView(h)
    const after = Date.now()
    assert.equal(view.mode, 'system')
    assert.ok(
      view.epochMillis >= before && view.epochMillis <= after,
      `${view.epochMillis} in [${before}, ${after}]`,
    )
    assert.equal(view.now, new Date(view.epochMillis).toISOString())
  })
})

describe('POST /_fleetjobs/clock/advance [spec: test-clock#2]', () => {
  let h: Harness
  before(async () => {
    h = await startHarness({ clockMode: 'virtual', clockStartMs: CLOCK_START_MS })
  })
  after(async () => {
    await h.close()
  })

  it('moves the clock by `seconds` (fractions allowed) and answers as GET does, with the new now', async () => {
    const start = await clockNow(h)
    const reply = await testApi(h, 'POST', '/_fleetjobs/clock/advance', JSON.stringify({ seconds: 90.25 }))
    assert.equal(reply.status, 200)
    const now = start + 90_250
    assert.deepEqual(reply.json, { mode: 'virtual', now: new Date(now).toISOString(), epochMillis: now })
    assert.deepEqual(await clockView(h), reply.json)
  })

  it('accepts exactly two years at once', async () => {
    const start = await clockNow(h)
    assert.equal(await advance(h, TWO_YEARS_S), start + TWO_YEARS_S * SECOND_MS)
  })

  const bad: [string, string | undefined][] = [
    ['no body', undefined],
    ['seconds missing', '{}'],
    ['seconds a string', '{"seconds":"60"}'],
    ['seconds null', '{"seconds":null}'],
    ['seconds 0', '{"seconds":0}'],
    ['seconds negative', '{"seconds":-1}'],
    ['seconds more than two years', `{"seconds":${TWO_YEARS_S + 1}}`],
    ['seconds not a number at all', '{"seconds":[1]}'],
    ['a body that is not JSON', '{"seconds":'],
  ]
  for (const [what, body] of bad) {
    it(`${what}: 400 InvalidRequestException, the clock does not move`, async () => {
      const before = await clockView(h)
      invalidRequest(await testApi(h, 'POST', '/_fleetjobs/clock/advance', body))
      assert.deepEqual(await clockView(h), before)
    })
  }
})

describe('POST /_fleetjobs/reset [spec: test-clock#2]', () => {
  it('empties things, thing groups, jobs, executions and templates, as a new data directory; the clock keeps its time', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 3)
    const thingGroupName = unique('group')
    await h.iot.send(new CreateThingGroupCommand({ thingGroupName }))
    const jobTemplateId = unique('template')
    await h.iot.send(new CreateJobTemplateCommand({ jobTemplateId, description: 'd', document: DOCUMENT }))
    const jobId = await createJob(h, things)
    await report(h, jobId, things[0] ?? '', 'IN_PROGRESS')
    await advance(h, 5 * MINUTE_S)
    const now = await clockNow(h)

    const reply = await testApi(h, 'POST', '/_fleetjobs/reset')
    assert.equal(reply.status, 200)
    assert.deepEqual(reply.json, {})
    assert.equal(await clockNow(h), now)
    assert.deepEqual((await h.iot.send(new ListThingsCommand({}))).things, [])
    assert.deepEqual((await h.iot.send(new ListThingGroupsCommand({}))).thingGroups, [])
    assert.deepEqual((await h.iot.send(new ListJobsCommand({}))).jobs, [])
    assert.deepEqual((await h.iot.send(new ListJobTemplatesCommand({}))).jobTemplates, [])
    await assert.rejects(
      h.iot.send(new DescribeThingCommand({ thingName: things[0] })),
      isError(ResourceNotFoundException, 404),
    )
    await assert.rejects(
      h.iot.send(new DescribeThingGroupCommand({ thingGroupName })),
      isError(ResourceNotFoundException, 404),
    )
    await assert.rejects(
      h.iot.send(new DescribeJobTemplateCommand({ jobTemplateId })),
      isError(ResourceNotFoundException, 404),
    )

    // The names are free again, and the service works as new.
    for (const thingName of things) await h.iot.send(new CreateThingCommand({ thingName }))
    await h.iot.send(new CreateThingGroupCommand({ thingGroupName }))
    await h.iot.send(
      new CreateJobTemplateCommand({ jobTemplateId, description: 'again', document: DOCUMENT }),
    )
    await createJob(h, [things[0] ?? ''], { jobId })
    const job = await describeJob(h, jobId)
    assert.equal(job.createdAt?.getTime(), now)
    assert.equal(job.jobProcessDetails?.numberOfQueuedThings, 1)
    assert.equal(await recordCount(h, jobId), 1)
  })

  it('time-driven work of the emptied service is gone: deadlines and rollouts due later do nothing', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 4)
    const paced = await createJob(h, things, { jobExecutionsRolloutConfig: { maximumPerMinute: 1 } })
    const timed = await createJob(h, [things[0] ?? ''], { timeoutConfig: { inProgressTimeoutInMinutes: 1 } })
    await report(h, timed, things[0] ?? '', 'IN_PROGRESS')
    await reset(h)
    for (const thingName of things) await h.iot.send(new CreateThingCommand({ thingName }))
    const fresh = await createJob(h, [things[0] ?? ''], { jobId: timed })
    await advance(h, DAY_S)
    assert.equal((await cpExecution(h, fresh, things[0] ?? '')).status, 'QUEUED')
    await assert.rejects(describeJob(h, paced), isError(ResourceNotFoundException, 404))
  })
})

describe('The system clock refuses advance and reset [spec: test-clock#2] [spec: test-clock#4]', () => {
  it('advance: 400 InvalidRequestException saying the clock is not virtual; reset: 400; nothing changes', async (t) => {
    const h = await startHarness()
    t.after(() => h.close())
    const things = await createFleet(h, 1)
    const jobId = await createJob(h, things)
    const advanced = await testApi(h, 'POST', '/_fleetjobs/clock/advance', JSON.stringify({ seconds: 60 }))
    invalidRequest(advanced)
    assert.match(String(advanced.json['message']), /virtual/)
    invalidRequest(await testApi(h, 'POST', '/_fleetjobs/reset'))
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    assert.equal(await recordCount(h, jobId), 1)
    const before = Date.now()
    const view = await clockView(h)
    const after = Date.now()
    assert.ok(view.epochMillis >= before && view.epochMillis <= after, 'the clock is still the machine clock')
  })
})

describe('Every time comes from the one clock [spec: test-clock#1]', () => {
  it('createdAt, lastUpdatedAt, queuedAt, startedAt on both planes, and approximateSecondsBeforeTimedOut follow the virtual clock', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    await advance(h, 3 * DAY_S)
    const created = CLOCK_START_MS + 3 * DAY_S * SECOND_MS
    const jobId = await createJob(h, [thingName], { timeoutConfig: { inProgressTimeoutInMinutes: 10 } })
    await advance(h, 90)
    const started = created + 90 * SECOND_MS
    await h.data.send(new StartNextPendingJobExecutionCommand({ thingName }))
    await advance(h, 30)
    const job = await describeJob(h, jobId)
    assert.equal(job.createdAt?.getTime(), created)
    assert.equal(job.lastUpdatedAt?.getTime(), created)
    const cp = await cpExecution(h, jobId, thingName)
    assert.equal(cp.queuedAt?.getTime(), created)
    assert.equal(cp.startedAt?.getTime(), started)
    assert.equal(cp.lastUpdatedAt?.getTime(), started)
    assert.equal(cp.approximateSecondsBeforeTimedOut, 570)
    const dp = (await h.data.send(new DeviceDescribeJobExecutionCommand({ jobId, thingName }))).execution
    assert.equal(dp?.queuedAt, created / 1000)
    assert.equal(dp?.startedAt, started / 1000)
    assert.equal(dp?.approximateSecondsBeforeTimedOut, 570)
  })
})
