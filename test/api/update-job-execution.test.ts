import { CancelJobCommand, CancelJobExecutionCommand } from '@aws-sdk/client-iot'
import {
  InvalidRequestException,
  InvalidStateTransitionException,
  ResourceNotFoundException,
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import type { JobExecutionStatus, UpdateJobExecutionCommandInput } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { raw, startHarness, unique } from '../support/harness.js'
import {
  DOCUMENT,
  MINUTE_MS,
  ManualClock,
  REACHABLE_TERMINAL,
  createJob,
  createThing,
  describeJob,
  detailsOf,
  deviceView,
  isError,
  pendingOf,
  report,
  terminalExecution,
  twoExecutions,
} from '../support/device.js'

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

/** [spec: state-machines#2] the statuses a device may send. */
const DEVICE_STATUSES = [
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
] as const satisfies readonly JobExecutionStatus[]
/** [open-question 43] statuses only the service sets. */
const SERVICE_STATUSES = [
  'QUEUED',
  'TIMED_OUT',
  'REMOVED',
  'CANCELED',
] as const satisfies readonly JobExecutionStatus[]

type UpdateInput = Omit<UpdateJobExecutionCommandInput, 'jobId' | 'thingName'>

const update = (jobId: string, thingName: string, input: UpdateInput) =>
  h.data.send(new UpdateJobExecutionCommand({ jobId, thingName, ...input }))

/** A fresh thing with one QUEUED execution of a fresh job (or IN_PROGRESS, at versionNumber 2). */
async function execution(
  from: 'QUEUED' | 'IN_PROGRESS',
  extra: Parameters<typeof createJob>[2] = {},
): Promise<{ jobId: string; thingName: string }> {
  const thingName = await createThing(h)
  const jobId = await createJob(h, [thingName], extra)
  if (from === 'IN_PROGRESS') await report(h, jobId, thingName, 'IN_PROGRESS', { statusDetails: { s: '0' } })
  return { jobId, thingName }
}

/** Status, details and version as the device reads them back. */
async function stateOf(jobId: string, thingName: string, executionNumber?: number) {
  const e = await deviceView(h, jobId, thingName, executionNumber)
  return { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber }
}

describe('UpdateJobExecution: device transitions [spec: jobs-device-api#1.5] [spec: state-machines#2-job-execution-state-machine]', () => {
  for (const from of ['QUEUED', 'IN_PROGRESS'] as const) {
    for (const to of DEVICE_STATUSES) {
      const tag = from === 'QUEUED' && (to === 'SUCCEEDED' || to === 'FAILED') ? ' [open-question 45]' : ''
      it(`${from} → ${to} is accepted${tag}`, async () => {
        const { jobId, thingName } = await execution(from)
        const version = from === 'QUEUED' ? 1 : 2
        clock.advance(1000)
        const out = await update(jobId, thingName, {
          status: to,
          statusDetails: { reached: to },
          includeJobExecutionState: true,
        })
        assert.deepEqual(out.executionState, {
          status: to,
          statusDetails: { reached: to },
          versionNumber: version + 1,
        })
        const e = await deviceView(h, jobId, thingName)
        assert.equal(e.status, to)
        assert.equal(e.versionNumber, version + 1)
        assert.equal(e.lastUpdatedAt, clock.seconds())
        const pending = await pendingOf(h, thingName)
        assert.deepEqual(pending, to === 'IN_PROGRESS' ? [`${jobId}:IN_PROGRESS`] : [])
      })
    }
  }

  it('[open-question 45] QUEUED → SUCCEEDED directly sets no startedAt', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    await update(jobId, thingName, { status: 'SUCCEEDED' })
    const e = await deviceView(h, jobId, thingName)
    assert.equal(e.status, 'SUCCEEDED')
    assert.equal(e.startedAt, undefined)
  })

  it('sets startedAt on the first move to IN_PROGRESS and keeps it on progress reports', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    clock.advance(1000)
    const startedAt = clock.seconds()
    await update(jobId, thingName, { status: 'IN_PROGRESS' })
    clock.advance(5000)
    await update(jobId, thingName, { status: 'IN_PROGRESS' })
    const e = await deviceView(h, jobId, thingName)
    assert.equal(e.startedAt, startedAt)
    assert.equal(e.lastUpdatedAt, clock.seconds())
  })

  for (const status of REACHABLE_TERMINAL) {
    it(`${status} → anything is InvalidStateTransitionException (409) and changes nothing`, async () => {
      const { jobId, thingName } = await terminalExecution(h, status)
      const before = await stateOf(jobId, thingName)
      assert.equal(before.status, status)
      for (const to of DEVICE_STATUSES) {
        await assert.rejects(
          update(jobId, thingName, { status: to, statusDetails: { x: 'y' } }),
          isError(InvalidStateTransitionException, 409),
        )
      }
      assert.deepEqual(await stateOf(jobId, thingName), before)
    })
  }

  for (const from of ['QUEUED', 'IN_PROGRESS'] as const) {
    for (const status of SERVICE_STATUSES) {
      it(`[open-question 43] ${status} sent by a device on a ${from} execution is InvalidRequestException (400)`, async () => {
        const { jobId, thingName } = await execution(from)
        const before = await stateOf(jobId, thingName)
        await assert.rejects(update(jobId, thingName, { status }), isError(InvalidRequestException, 400))
        assert.deepEqual(await stateOf(jobId, thingName), before)
      })
    }
  }

  it('[open-question 43] a service status is InvalidRequestException even on a terminal execution (input is checked first)', async () => {
    const { jobId, thingName } = await terminalExecution(h, 'SUCCEEDED')
    await assert.rejects(
      update(jobId, thingName, { status: 'CANCELED' }),
      isError(InvalidRequestException, 400),
    )
  })

  it('rejects members of the wrong JSON type with InvalidRequestException (400) [spec: wire-protocol#5.5] [spec: jobs-device-api#2.2]', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS')
    const bodies = [
      { status: 'SUCCEEDED', expectedVersion: '2' },
      { status: 'SUCCEEDED', executionNumber: '1' },
      { status: 'IN_PROGRESS', stepTimeoutInMinutes: '5' },
      { status: 'IN_PROGRESS', stepTimeoutInMinutes: 1.5 },
      { status: 'SUCCEEDED', statusDetails: { k: 1 } },
      { status: 'SUCCEEDED', statusDetails: ['k'] },
      { status: 'SUCCEEDED', includeJobExecutionState: 'true' },
    ]
    for (const body of bodies) {
      const r = await raw(
        h.server.dataPlaneUrl,
        'POST',
        `/things/${thingName}/jobs/${jobId}`,
        JSON.stringify(body),
      )
      assert.equal(r.status, 400, JSON.stringify(body))
      assert.equal(r.headers.get('x-amzn-ErrorType'), 'InvalidRequestException', JSON.stringify(body))
    }
    assert.deepEqual(await stateOf(jobId, thingName), {
      status: 'IN_PROGRESS',
      statusDetails: { s: '0' },
      versionNumber: 2,
    })
  })

  it('ignores unknown body members and treats null as absent [spec: wire-protocol#2.3]', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS')
    const r = await raw(
      h.server.dataPlaneUrl,
      'POST',
      `/things/${thingName}/jobs/${jobId}`,
      JSON.stringify({
        status: 'IN_PROGRESS',
        statusDetails: null,
        expectedVersion: null,
        somethingNewer: { a: 1 },
        includeJobExecutionState: true,
      }),
    )
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, {
      executionState: { status: 'IN_PROGRESS', statusDetails: { s: '0' }, versionNumber: 3 },
    })
  })

  it('rejects a missing or unknown status with InvalidRequestException (400) [spec: wire-protocol#2.3]', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    for (const body of ['{}', '{"status":"DONE"}', '{"status":"in_progress"}', '{"status":1}']) {
      const r = await raw(h.server.dataPlaneUrl, 'POST', `/things/${thingName}/jobs/${jobId}`, body)
      assert.equal(r.status, 400, body)
      assert.equal(r.headers.get('x-amzn-ErrorType'), 'InvalidRequestException', body)
    }
    assert.deepEqual(await stateOf(jobId, thingName), {
      status: 'QUEUED',
      statusDetails: {},
      versionNumber: 1,
    })
  })
})

describe('UpdateJobExecution: versionNumber and expectedVersion [spec: state-machines#3.1]', () => {
  it('raises versionNumber by exactly one per accepted update, IN_PROGRESS → IN_PROGRESS included', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    const seen: number[] = []
    for (const status of ['IN_PROGRESS', 'IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED'] as const) {
      const out = await update(jobId, thingName, { status, includeJobExecutionState: true })
      seen.push(out.executionState?.versionNumber ?? -1)
    }
    assert.deepEqual(seen, [2, 3, 4, 5])
    assert.equal((await deviceView(h, jobId, thingName)).versionNumber, 5)
  })

  it('accepts an update whose expectedVersion matches', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS')
    const out = await update(jobId, thingName, {
      status: 'SUCCEEDED',
      expectedVersion: 2,
      includeJobExecutionState: true,
    })
    assert.equal(out.executionState?.status, 'SUCCEEDED')
    assert.equal(out.executionState.versionNumber, 3)
  })

  for (const expectedVersion of [1, 3, 0]) {
    it(`[open-question 44] expectedVersion ${expectedVersion} against versionNumber 2 is InvalidStateTransitionException (409) and changes nothing`, async () => {
      const { jobId, thingName } = await execution('IN_PROGRESS', {
        timeoutConfig: { inProgressTimeoutInMinutes: 60 },
      })
      const before = await deviceView(h, jobId, thingName)
      // A write would show in lastUpdatedAt one second later; the clock goes back before the read.
      clock.advance(1000)
      await assert.rejects(
        update(jobId, thingName, {
          status: 'SUCCEEDED',
          expectedVersion,
          statusDetails: { late: 'yes' },
          stepTimeoutInMinutes: 5,
        }),
        isError(InvalidStateTransitionException, 409),
      )
      clock.advance(-1000)
      assert.deepEqual(await deviceView(h, jobId, thingName), before)
      const job = await describeJob(h, jobId)
      assert.equal(job.jobProcessDetails?.numberOfInProgressThings, 1)
      assert.equal(job.jobProcessDetails.numberOfSucceededThings, 0)
    })
  }

  it('[open-question 44] checks expectedVersion before the transition rules', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    const r = await raw(
      h.server.dataPlaneUrl,
      'POST',
      `/things/${thingName}/jobs/${jobId}`,
      JSON.stringify({ status: 'IN_PROGRESS', expectedVersion: 9 }),
    )
    assert.equal(r.status, 409)
    assert.equal(r.headers.get('x-amzn-ErrorType'), 'InvalidStateTransitionException')
    assert.equal(typeof r.json['message'], 'string')
    assert.equal((await deviceView(h, jobId, thingName)).versionNumber, 1)
  })
})

describe('UpdateJobExecution: statusDetails [spec: jobs-device-api#1.5] [open-question 40]', () => {
  it('[open-question 40] replaces statusDetails when given, keeps them when absent', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    await update(jobId, thingName, { status: 'IN_PROGRESS', statusDetails: { a: '1', b: '2' } })
    assert.deepEqual((await deviceView(h, jobId, thingName)).statusDetails, { a: '1', b: '2' })
    await update(jobId, thingName, { status: 'IN_PROGRESS', statusDetails: { c: '3' } })
    assert.deepEqual(
      (await deviceView(h, jobId, thingName)).statusDetails,
      { c: '3' },
      'replaced, not merged',
    )
    await update(jobId, thingName, { status: 'IN_PROGRESS' })
    assert.deepEqual(
      (await deviceView(h, jobId, thingName)).statusDetails,
      { c: '3' },
      'unchanged when absent',
    )
    await update(jobId, thingName, { status: 'SUCCEEDED' })
    const e = await deviceView(h, jobId, thingName)
    assert.equal(e.status, 'SUCCEEDED')
    assert.deepEqual(e.statusDetails, { c: '3' })
    assert.equal(e.versionNumber, 5)
  })

  it('accepts 10 pairs; [open-question 37] rejects 11 pairs with InvalidRequestException (400)', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS')
    await assert.rejects(
      update(jobId, thingName, { status: 'IN_PROGRESS', statusDetails: detailsOf(11) }),
      isError(InvalidRequestException, 400),
    )
    assert.deepEqual(await stateOf(jobId, thingName), {
      status: 'IN_PROGRESS',
      statusDetails: { s: '0' },
      versionNumber: 2,
    })
    await update(jobId, thingName, { status: 'IN_PROGRESS', statusDetails: detailsOf(10) })
    assert.deepEqual((await deviceView(h, jobId, thingName)).statusDetails, detailsOf(10))
  })

  const bad: [string, Record<string, string>][] = [
    ['a key with a slash', { 'a/b': 'v' }],
    ['a key of 129 characters', { ['k'.repeat(129)]: 'v' }],
    ['an empty value', { k: '' }],
    ['a value of 1025 characters', { k: 'x'.repeat(1025) }],
    ['a value with a control character', { k: 'tab\there' }],
  ]
  for (const [what, statusDetails] of bad) {
    it(`rejects statusDetails with ${what} with InvalidRequestException (400)`, async () => {
      const { jobId, thingName } = await execution('IN_PROGRESS')
      await assert.rejects(
        update(jobId, thingName, { status: 'SUCCEEDED', statusDetails }),
        isError(InvalidRequestException, 400),
      )
      assert.deepEqual(await stateOf(jobId, thingName), {
        status: 'IN_PROGRESS',
        statusDetails: { s: '0' },
        versionNumber: 2,
      })
    })
  }
})

describe('UpdateJobExecution: response members [spec: jobs-device-api#1.5]', () => {
  it('answers {} by default', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    const out = await update(jobId, thingName, { status: 'IN_PROGRESS' })
    assert.equal(out.executionState, undefined)
    assert.equal(out.jobDocument, undefined)
    const r = await raw(
      h.server.dataPlaneUrl,
      'POST',
      `/things/${thingName}/jobs/${jobId}`,
      JSON.stringify({ status: 'IN_PROGRESS' }),
    )
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, {})
  })

  it('includes executionState only with includeJobExecutionState=true', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    const out = await update(jobId, thingName, {
      status: 'IN_PROGRESS',
      statusDetails: { step: 'a' },
      includeJobExecutionState: true,
      includeJobDocument: false,
    })
    assert.deepEqual(out.executionState, {
      status: 'IN_PROGRESS',
      statusDetails: { step: 'a' },
      versionNumber: 2,
    })
    assert.equal(out.jobDocument, undefined)
    const off = await update(jobId, thingName, { status: 'IN_PROGRESS', includeJobExecutionState: false })
    assert.equal(off.executionState, undefined)
  })

  it('includes jobDocument (a string) only with includeJobDocument=true', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    const out = await update(jobId, thingName, { status: 'IN_PROGRESS', includeJobDocument: true })
    assert.equal(out.jobDocument, DOCUMENT)
    assert.equal(out.executionState, undefined)
    const both = await update(jobId, thingName, {
      status: 'SUCCEEDED',
      includeJobDocument: true,
      includeJobExecutionState: true,
    })
    assert.equal(both.jobDocument, DOCUMENT)
    assert.deepEqual(both.executionState, { status: 'SUCCEEDED', statusDetails: {}, versionNumber: 3 })
  })
})

describe('UpdateJobExecution: addressing [spec: jobs-device-api#1.5] [spec: state-machines#3.2]', () => {
  it('updates the latest execution without executionNumber, and the named one with it', async () => {
    const { jobId, thingName } = await twoExecutions(h)
    const out = await update(jobId, thingName, { status: 'IN_PROGRESS', includeJobExecutionState: true })
    assert.equal(out.executionState?.versionNumber, 2)
    assert.equal((await deviceView(h, jobId, thingName, 2)).status, 'IN_PROGRESS')
    await update(jobId, thingName, { status: 'SUCCEEDED', executionNumber: 2 })
    assert.equal((await deviceView(h, jobId, thingName, 2)).status, 'SUCCEEDED')
  })

  it('executionNumber of a terminal execution is InvalidStateTransitionException while the latest is pending', async () => {
    const { jobId, thingName } = await twoExecutions(h)
    await assert.rejects(
      update(jobId, thingName, { status: 'IN_PROGRESS', executionNumber: 1 }),
      isError(InvalidStateTransitionException, 409),
    )
    assert.deepEqual(await stateOf(jobId, thingName, 1), {
      status: 'SUCCEEDED',
      statusDetails: { attempt: 'first' },
      versionNumber: 2,
    })
    assert.deepEqual(await stateOf(jobId, thingName, 2), {
      status: 'QUEUED',
      statusDetails: {},
      versionNumber: 1,
    })
  })

  it('answers ResourceNotFoundException (404) for an unknown executionNumber, job, or thing [open-question 35]', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    const other = await createThing(h)
    await assert.rejects(
      update(jobId, thingName, { status: 'IN_PROGRESS', executionNumber: 2 }),
      isError(ResourceNotFoundException, 404),
    )
    await assert.rejects(
      update(unique('missing'), thingName, { status: 'IN_PROGRESS' }),
      isError(ResourceNotFoundException, 404),
    )
    await assert.rejects(
      update(jobId, other, { status: 'IN_PROGRESS' }),
      isError(ResourceNotFoundException, 404),
    )
    await assert.rejects(
      update(jobId, unique('missing'), { status: 'IN_PROGRESS' }),
      isError(ResourceNotFoundException, 404),
    )
    assert.equal((await deviceView(h, jobId, thingName)).versionNumber, 1)
  })

  it('reaches a namespaced job by its id [spec: jobs-device-api#1.1]', async () => {
    const { jobId, thingName } = await execution('QUEUED', { namespaceId: 'ns1' })
    await update(jobId, thingName, { status: 'SUCCEEDED' })
    assert.equal((await deviceView(h, jobId, thingName)).status, 'SUCCEEDED')
  })

  it('[open-question 36] with namespaceId, only that namespace is visible: other jobs are 404 and unchanged', async () => {
    const { jobId: inNs1, thingName } = await execution('QUEUED', { namespaceId: 'ns1' })
    const plain = await createJob(h, [thingName])
    const post = (jobId: string, namespaceId: string) =>
      raw(
        h.server.dataPlaneUrl,
        'POST',
        `/things/${thingName}/jobs/${jobId}?namespaceId=${namespaceId}`,
        '{"status":"IN_PROGRESS"}',
      )
    for (const [jobId, namespaceId] of [
      [inNs1, 'ns2'],
      [plain, 'ns1'],
    ] as const) {
      const r = await post(jobId, namespaceId)
      assert.equal(r.status, 404, `${jobId} is not in namespace ${namespaceId}`)
      assert.equal(r.headers.get('x-amzn-ErrorType'), 'ResourceNotFoundException')
      assert.equal((await deviceView(h, jobId, thingName)).versionNumber, 1)
    }
    const ok = await post(inNs1, 'ns1')
    assert.equal(ok.status, 200)
    assert.equal((await deviceView(h, inNs1, thingName)).status, 'IN_PROGRESS')
  })
})

describe('UpdateJobExecution: timers [spec: state-machines#4-timers-and-timed_out] [spec: jobs-device-api#1.5]', () => {
  const secondsLeft = async (jobId: string, thingName: string) =>
    (await deviceView(h, jobId, thingName)).approximateSecondsBeforeTimedOut

  it('accepts stepTimeoutInMinutes -1 and rejects 0 and 10081 with InvalidRequestException (400) [spec: limits#3]', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS')
    await update(jobId, thingName, { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1 })
    for (const stepTimeoutInMinutes of [0, 10081, -2]) {
      await assert.rejects(
        update(jobId, thingName, { status: 'IN_PROGRESS', stepTimeoutInMinutes }),
        isError(InvalidRequestException, 400),
      )
    }
    assert.equal((await deviceView(h, jobId, thingName)).versionNumber, 3)
  })

  it('a step timer alone: set, replaced, cancelled by -1', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    assert.equal(await secondsLeft(jobId, thingName), undefined, 'a QUEUED execution has no deadline')
    await update(jobId, thingName, { status: 'IN_PROGRESS', stepTimeoutInMinutes: 5 })
    assert.equal(await secondsLeft(jobId, thingName), 300)
    clock.advance(30_500)
    assert.equal(await secondsLeft(jobId, thingName), 270, 'rounded up: 269.5 s left')
    await update(jobId, thingName, { status: 'IN_PROGRESS', stepTimeoutInMinutes: 2 })
    assert.equal(await secondsLeft(jobId, thingName), 120, 'a new value replaces the step timer')
    await update(jobId, thingName, { status: 'IN_PROGRESS' })
    assert.equal(await secondsLeft(jobId, thingName), 120, 'an update without a value keeps the timer')
    await update(jobId, thingName, { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1 })
    assert.equal(await secondsLeft(jobId, thingName), undefined, '-1 cancels the step timer')
  })

  it('the guide example: a 9-minute step at 12:13 of a 20-minute job still expires at 12:20', async () => {
    const { jobId, thingName } = await execution('QUEUED', {
      timeoutConfig: { inProgressTimeoutInMinutes: 20 },
    })
    await update(jobId, thingName, { status: 'IN_PROGRESS' })
    assert.equal(await secondsLeft(jobId, thingName), 20 * 60)
    clock.advance(13 * MINUTE_MS)
    await update(jobId, thingName, { status: 'IN_PROGRESS', stepTimeoutInMinutes: 9 })
    assert.equal(await secondsLeft(jobId, thingName), 7 * 60, 'capped by the in-progress timer')
    await update(jobId, thingName, { status: 'IN_PROGRESS', stepTimeoutInMinutes: 2 })
    assert.equal(await secondsLeft(jobId, thingName), 2 * 60, 'an earlier step deadline wins')
    await update(jobId, thingName, { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1 })
    assert.equal(
      await secondsLeft(jobId, thingName),
      7 * 60,
      'without a step timer the in-progress timer stays',
    )
  })

  it('the in-progress timer is fixed from the first move to IN_PROGRESS; progress reports do not restart it', async () => {
    const { jobId, thingName } = await execution('QUEUED', {
      timeoutConfig: { inProgressTimeoutInMinutes: 10 },
    })
    clock.advance(MINUTE_MS)
    await update(jobId, thingName, { status: 'IN_PROGRESS' })
    clock.advance(4 * MINUTE_MS)
    await update(jobId, thingName, { status: 'IN_PROGRESS' })
    assert.equal(await secondsLeft(jobId, thingName), 6 * 60)
  })

  it('a step timer given with a terminal status is ignored and the execution has no deadline', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS', {
      timeoutConfig: { inProgressTimeoutInMinutes: 10 },
    })
    await update(jobId, thingName, { status: 'SUCCEEDED', stepTimeoutInMinutes: 5 })
    const e = await deviceView(h, jobId, thingName)
    assert.equal(e.status, 'SUCCEEDED')
    assert.equal(e.approximateSecondsBeforeTimedOut, undefined)
  })

  it('a step timer set by StartNextPendingJobExecution is replaced by an update [spec: jobs-device-api#1.3]', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    await h.data.send(new StartNextPendingJobExecutionCommand({ thingName, stepTimeoutInMinutes: 5 }))
    await update(jobId, thingName, { status: 'IN_PROGRESS', stepTimeoutInMinutes: 1 })
    assert.equal(await secondsLeft(jobId, thingName), 60)
  })
})

describe('UpdateJobExecution: effects on the job [spec: state-machines#9] [spec: state-machines#10-job-completion-snapshot]', () => {
  it('the counters in DescribeJob follow every accepted update', async () => {
    const things = await Promise.all([1, 2, 3, 4, 5].map(() => createThing(h)))
    const jobId = await createJob(h, things)
    const counters = async () => {
      const p = (await describeJob(h, jobId)).jobProcessDetails
      assert.ok(p !== undefined)
      return [
        p.numberOfQueuedThings,
        p.numberOfInProgressThings,
        p.numberOfSucceededThings,
        p.numberOfFailedThings,
        p.numberOfRejectedThings,
        p.numberOfCanceledThings,
      ]
    }
    const [a, b, c, d, e] = things as [string, string, string, string, string]
    assert.deepEqual(await counters(), [5, 0, 0, 0, 0, 0])
    await report(h, jobId, a, 'IN_PROGRESS')
    await report(h, jobId, b, 'IN_PROGRESS')
    assert.deepEqual(await counters(), [3, 2, 0, 0, 0, 0])
    await report(h, jobId, a, 'IN_PROGRESS', { statusDetails: { p: '50' } })
    assert.deepEqual(await counters(), [3, 2, 0, 0, 0, 0], 'a progress report moves no counter')
    await report(h, jobId, a, 'SUCCEEDED')
    await report(h, jobId, c, 'FAILED')
    assert.deepEqual(await counters(), [2, 1, 1, 1, 0, 0])
    await report(h, jobId, d, 'REJECTED')
    await assert.rejects(report(h, jobId, d, 'SUCCEEDED'), isError(InvalidStateTransitionException, 409))
    assert.deepEqual(await counters(), [1, 1, 1, 1, 1, 0], 'a rejected update moves no counter')
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: e }))
    assert.deepEqual(await counters(), [0, 1, 1, 1, 1, 1])
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
  })

  it('a SNAPSHOT job becomes COMPLETED when its last execution ends, not before', async () => {
    const first = await createThing(h)
    const second = await createThing(h)
    const jobId = await createJob(h, [first, second])
    await report(h, jobId, first, 'IN_PROGRESS')
    await report(h, jobId, second, 'SUCCEEDED')
    let job = await describeJob(h, jobId)
    assert.equal(job.status, 'IN_PROGRESS')
    assert.equal(job.completedAt, undefined)
    clock.advance(2000)
    const endedAt = clock.nowMs()
    await report(h, jobId, first, 'FAILED')
    job = await describeJob(h, jobId)
    assert.equal(job.status, 'COMPLETED')
    assert.equal(job.completedAt?.getTime(), endedAt)
    assert.equal(job.jobProcessDetails?.numberOfSucceededThings, 1)
    assert.equal(job.jobProcessDetails.numberOfFailedThings, 1)
  })

  it('after CancelJob without force the device still finishes its IN_PROGRESS execution; the job stays CANCELED [spec: state-machines#1-job-state-machine]', async () => {
    const running = await createThing(h)
    const waiting = await createThing(h)
    const jobId = await createJob(h, [running, waiting])
    await report(h, jobId, running, 'IN_PROGRESS')
    await h.iot.send(new CancelJobCommand({ jobId }))
    assert.equal((await deviceView(h, jobId, waiting)).status, 'CANCELED')
    await assert.rejects(
      report(h, jobId, waiting, 'IN_PROGRESS'),
      isError(InvalidStateTransitionException, 409),
    )
    await report(h, jobId, running, 'SUCCEEDED')
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.jobProcessDetails?.numberOfSucceededThings, 1)
    assert.equal(job.jobProcessDetails.numberOfCanceledThings, 1)
    assert.equal(job.jobProcessDetails.numberOfInProgressThings, 0)
  })

  it('a CONTINUOUS job stays IN_PROGRESS after its executions end [spec: state-machines#1-job-state-machine]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName], { targetSelection: 'CONTINUOUS' })
    await report(h, jobId, thingName, 'SUCCEEDED')
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'IN_PROGRESS')
    assert.equal(job.completedAt, undefined)
  })
})
