import { CreateThingCommand, DescribeJobCommand } from '@aws-sdk/client-iot'
import {
  GetPendingJobExecutionsCommand,
  ResourceNotFoundException,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { raw, startHarness, unique } from '../support/harness.js'
import {
  MINUTE_MS,
  ManualClock,
  createJob,
  createThing,
  deviceView,
  isError,
  report,
} from '../support/device.js'

/** [spec: jobs-device-api#1.2] the default cap of GetPendingJobExecutions. */
const PENDING_CAP = 10

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

async function pending(thingName: string) {
  const out = await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
  assert.ok(out.inProgressJobs !== undefined, 'inProgressJobs is present')
  assert.ok(out.queuedJobs !== undefined, 'queuedJobs is present')
  return { inProgress: out.inProgressJobs, queued: out.queuedJobs }
}

const ids = (list: readonly { jobId?: string | undefined }[]): (string | undefined)[] =>
  list.map((s) => s.jobId)

/** Creates one job per id on the thing, in the order given, without moving the clock. */
async function jobsInOrder(thingName: string, jobIds: readonly string[]): Promise<void> {
  for (const jobId of jobIds) await createJob(h, [thingName], { jobId })
}

describe('GetPendingJobExecutions: shape [spec: jobs-device-api#1.2]', () => {
  it('answers both lists, empty, for a registered thing with nothing pending', async () => {
    const thingName = await createThing(h)
    assert.deepEqual(await pending(thingName), { inProgress: [], queued: [] })
    const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs`)
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, { inProgressJobs: [], queuedJobs: [] })
  })

  it('keeps both keys when only one list has entries, and leaves out terminal executions', async () => {
    const thingName = await createThing(h)
    const queued = await createJob(h, [thingName])
    const done = await createJob(h, [thingName])
    await report(h, done, thingName, 'SUCCEEDED')
    const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs`)
    assert.equal(r.status, 200)
    assert.deepEqual(Object.keys(r.json).sort(), ['inProgressJobs', 'queuedJobs'])
    assert.deepEqual(r.json['inProgressJobs'], [])
    assert.deepEqual(ids(r.json['queuedJobs'] as { jobId: string }[]), [queued])
  })

  it('gives JobExecutionSummary members with integer-second timestamps [spec: wire-protocol#4-timestamps] [open-question 1]', async () => {
    const thingName = await createThing(h)
    assert.notEqual(clock.nowMs() % 1000, 0, 'the clock has a fraction that must be dropped')
    const queuedAt = clock.seconds()
    const started = await createJob(h, [thingName])
    const waiting = await createJob(h, [thingName])
    clock.advance(61_500)
    const startedAt = clock.seconds()
    await report(h, started, thingName, 'IN_PROGRESS')

    const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs`)
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, {
      inProgressJobs: [
        {
          jobId: started,
          queuedAt,
          startedAt,
          lastUpdatedAt: startedAt,
          versionNumber: 2,
          executionNumber: 1,
        },
      ],
      queuedJobs: [
        { jobId: waiting, queuedAt, lastUpdatedAt: queuedAt, versionNumber: 1, executionNumber: 1 },
      ],
    })

    // The SDK passes the integers through unchanged.
    const sdk = await pending(thingName)
    assert.equal(sdk.inProgress[0]?.startedAt, startedAt)
    assert.equal(sdk.queued[0]?.queuedAt, queuedAt)
    assert.equal(sdk.queued[0]?.startedAt, undefined, 'a QUEUED execution has not started')
  })

  it('serves a thing name with a colon (sent as %3A) [spec: wire-protocol#2.1]', async () => {
    const thingName = `${unique('thing')}:a`
    await h.iot.send(new CreateThingCommand({ thingName }))
    const jobId = await createJob(h, [thingName])
    assert.deepEqual(ids((await pending(thingName)).queued), [jobId])
  })
})

describe('GetPendingJobExecutions: pending order [spec: jobs-device-api#1.1] [spec: jobs-device-api#1.2]', () => {
  it('lists QUEUED executions in creation order even when they were created within one second', async () => {
    const thingName = await createThing(h)
    // Ids whose alphabetical order is not the creation order: the order must not fall back to jobId.
    const jobIds = ['zz', 'aa', 'mm', 'bb', 'yy'].map((p) => unique(p))
    await jobsInOrder(thingName, jobIds)
    const { inProgress, queued } = await pending(thingName)
    assert.deepEqual(inProgress, [])
    assert.deepEqual(ids(queued), jobIds)
    assert.equal(new Set(queued.map((s) => s.queuedAt)).size, 1, 'all queued in the same second')
  })

  it('lists IN_PROGRESS first, then QUEUED, each group in creation order', async () => {
    const thingName = await createThing(h)
    const first = unique('zz')
    const second = unique('aa')
    await jobsInOrder(thingName, [first, second])
    clock.advance(1500)
    const third = unique('yy')
    const fourth = unique('bb')
    await jobsInOrder(thingName, [third, fourth])
    // Start the later jobs first: the IN_PROGRESS list still follows creation, not start, order.
    await report(h, fourth, thingName, 'IN_PROGRESS')
    clock.advance(1000)
    await report(h, second, thingName, 'IN_PROGRESS')
    const { inProgress, queued } = await pending(thingName)
    assert.deepEqual(ids(inProgress), [second, fourth])
    assert.deepEqual(ids(queued), [first, third])
  })

  it(`caps the answer at ${PENDING_CAP} executions [open-question 38] fills IN_PROGRESS first, then QUEUED`, async () => {
    const thingName = await createThing(h)
    const jobIds = Array.from({ length: 12 }, () => unique('job'))
    await jobsInOrder(thingName, jobIds)
    // The three newest are started: they must all appear although they were created last.
    const late = jobIds.slice(9)
    for (const jobId of late) await report(h, jobId, thingName, 'IN_PROGRESS')
    const { inProgress, queued } = await pending(thingName)
    assert.deepEqual(ids(inProgress), late)
    assert.deepEqual(ids(queued), jobIds.slice(0, PENDING_CAP - late.length))
  })

  it('[open-question 38] with more than the cap IN_PROGRESS, no QUEUED execution is listed', async () => {
    const thingName = await createThing(h)
    const jobIds = Array.from({ length: PENDING_CAP + 2 }, () => unique('job'))
    await jobsInOrder(thingName, jobIds)
    const started = jobIds.slice(1)
    for (const jobId of started) await report(h, jobId, thingName, 'IN_PROGRESS')
    const { inProgress, queued } = await pending(thingName)
    assert.deepEqual(ids(inProgress), started.slice(0, PENDING_CAP))
    assert.deepEqual(queued, [])
  })
})

describe('GetPendingJobExecutions: namespaces [spec: jobs-device-api#1.1] [spec: jobs-control-plane#6-namespaces-namespaceid]', () => {
  it('[open-question 36] hides namespaced jobs unless namespaceId is asked for, and then shows only that namespace', async () => {
    const thingName = await createThing(h)
    const plain = await createJob(h, [thingName])
    const inNs1 = await createJob(h, [thingName], { namespaceId: 'ns1' })
    const inNs2 = await createJob(h, [thingName], { namespaceId: 'ns2' })
    await report(h, inNs2, thingName, 'IN_PROGRESS')

    const sdk = await pending(thingName)
    assert.deepEqual(ids(sdk.inProgress), [])
    assert.deepEqual(ids(sdk.queued), [plain])

    const ns1 = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs?namespaceId=ns1`)
    assert.equal(ns1.status, 200)
    assert.deepEqual(ns1.json['inProgressJobs'], [])
    assert.deepEqual(ids(ns1.json['queuedJobs'] as { jobId: string }[]), [inNs1])

    const ns2 = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs?namespaceId=ns2`)
    assert.equal(ns2.status, 200)
    assert.deepEqual(ids(ns2.json['inProgressJobs'] as { jobId: string }[]), [inNs2])
    assert.deepEqual(ns2.json['queuedJobs'], [])
  })
})

describe('GetPendingJobExecutions: jobs that are not pending [spec: jobs-device-api#1.1]', () => {
  it('leaves out executions of a SCHEDULED job [spec: jobs-control-plane#3.1]', async () => {
    const thingName = await createThing(h)
    const startTime = new Date(clock.nowMs() + 2 * 24 * 60 * MINUTE_MS).toISOString().slice(0, 16)
    const scheduled = await createJob(h, [thingName], { schedulingConfig: { startTime } })
    const running = await createJob(h, [thingName])
    const job = await h.iot.send(new DescribeJobCommand({ jobId: scheduled }))
    assert.equal(job.job?.status, 'SCHEDULED')
    const { inProgress, queued } = await pending(thingName)
    assert.deepEqual(inProgress, [])
    assert.deepEqual(ids(queued), [running])
  })
})

describe('GetPendingJobExecutions: errors and read-only [spec: jobs-device-api#1.2]', () => {
  it('[open-question 35] answers ResourceNotFoundException (404) for a thing that is not registered', async () => {
    await assert.rejects(
      h.data.send(new GetPendingJobExecutionsCommand({ thingName: unique('missing') })),
      isError(ResourceNotFoundException, 404),
    )
    const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${unique('missing')}/jobs`)
    assert.equal(r.status, 404)
    assert.equal(r.headers.get('x-amzn-ErrorType'), 'ResourceNotFoundException')
  })

  it('rejects a thing name outside the model pattern with 400 [spec: wire-protocol#2.1]', async () => {
    const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/bad%20name/jobs`)
    assert.equal(r.status, 400)
    assert.equal(r.headers.get('x-amzn-ErrorType'), 'InvalidRequestException')
  })

  it('is read-only: versionNumber, status and lastUpdatedAt do not change', async () => {
    const thingName = await createThing(h)
    const queued = await createJob(h, [thingName])
    const started = await createJob(h, [thingName])
    await h.data.send(
      new UpdateJobExecutionCommand({
        jobId: started,
        thingName,
        status: 'IN_PROGRESS',
        statusDetails: { step: 'download' },
      }),
    )
    const before = [await deviceView(h, queued, thingName), await deviceView(h, started, thingName)]
    clock.advance(5 * MINUTE_MS)
    const first = await pending(thingName)
    const second = await pending(thingName)
    assert.deepEqual(second, first)
    assert.deepEqual(first.inProgress[0]?.versionNumber, 2)
    assert.deepEqual(first.queued[0]?.versionNumber, 1)
    const afterwards = [await deviceView(h, queued, thingName), await deviceView(h, started, thingName)]
    assert.deepEqual(afterwards, before)
  })
})
