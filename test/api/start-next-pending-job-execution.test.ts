import { DescribeJobExecutionCommand as CpDescribeJobExecutionCommand } from '@aws-sdk/client-iot'
import {
  InvalidRequestException,
  ResourceNotFoundException,
  StartNextPendingJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import type { JobExecution } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { raw, startHarness, unique } from '../support/harness.js'
import {
  DOCUMENT,
  MINUTE_MS,
  ManualClock,
  createJob,
  createThing,
  detailsOf,
  deviceView,
  isError,
  pendingOf,
  report,
} from '../support/device.js'

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

async function startNext(
  thingName: string,
  input: { statusDetails?: Record<string, string>; stepTimeoutInMinutes?: number } = {},
): Promise<JobExecution | undefined> {
  const out = await h.data.send(new StartNextPendingJobExecutionCommand({ thingName, ...input }))
  return out.execution
}

/** The execution is still QUEUED at versionNumber 1 with no details: a rejected request changed nothing. */
async function assertUntouched(jobId: string, thingName: string): Promise<void> {
  const e = await deviceView(h, jobId, thingName)
  assert.equal(e.status, 'QUEUED')
  assert.equal(e.versionNumber, 1)
  assert.deepEqual(e.statusDetails, {})
  assert.equal(e.startedAt, undefined)
}

describe('StartNextPendingJobExecution: QUEUED → IN_PROGRESS [spec: jobs-device-api#1.3] [spec: state-machines#2]', () => {
  it('starts the first QUEUED execution: startedAt, versionNumber 2, statusDetails, jobDocument string', async () => {
    const thingName = await createThing(h)
    const queuedAt = clock.seconds()
    const jobId = await createJob(h, [thingName])
    const later = await createJob(h, [thingName])
    clock.advance(90_250)
    const now = clock.seconds()
    const e = await startNext(thingName, { statusDetails: { step: 'download' }, stepTimeoutInMinutes: 5 })
    assert.deepEqual(e, {
      jobId,
      thingName,
      status: 'IN_PROGRESS',
      statusDetails: { step: 'download' },
      queuedAt,
      startedAt: now,
      lastUpdatedAt: now,
      approximateSecondsBeforeTimedOut: 5 * 60,
      versionNumber: 2,
      executionNumber: 1,
      jobDocument: DOCUMENT,
    })
    assert.equal(typeof e.jobDocument, 'string')

    // Read back through both planes; the other job is untouched.
    const view = await deviceView(h, jobId, thingName)
    assert.equal(view.status, 'IN_PROGRESS')
    assert.equal(view.versionNumber, 2)
    assert.deepEqual(view.statusDetails, { step: 'download' })
    const cp = await h.iot.send(new CpDescribeJobExecutionCommand({ jobId, thingName }))
    assert.equal(cp.execution?.status, 'IN_PROGRESS')
    assert.deepEqual(cp.execution?.statusDetails?.detailsMap, { step: 'download' })
    await assertUntouched(later, thingName)
    assert.deepEqual(await pendingOf(h, thingName), [`${jobId}:IN_PROGRESS`, `${later}:QUEUED`])
  })

  it('[open-question 40] sets statusDetails to exactly the request map; without one the details stay empty', async () => {
    const thingName = await createThing(h)
    const first = await createJob(h, [thingName])
    const second = await createJob(h, [thingName])
    await report(h, first, thingName, 'SUCCEEDED')
    const withDetails = await startNext(thingName, { statusDetails: { a: '1', b: '2' } })
    assert.equal(withDetails?.jobId, second)
    assert.deepEqual(withDetails?.statusDetails, { a: '1', b: '2' })

    const other = await createThing(h)
    await createJob(h, [other])
    const without = await startNext(other)
    assert.equal(without?.status, 'IN_PROGRESS')
    assert.deepEqual(without?.statusDetails, {})
    assert.equal(without?.approximateSecondsBeforeTimedOut, undefined, 'no timer without a timeout')
  })

  it('starts the job in-progress timer; a step timer cannot push the deadline past it [spec: state-machines#4-timers-and-timed_out]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName], { timeoutConfig: { inProgressTimeoutInMinutes: 3 } })
    await createJob(h, [thingName], { timeoutConfig: { inProgressTimeoutInMinutes: 3 } })
    const e = await startNext(thingName)
    assert.equal(e?.jobId, jobId)
    assert.equal(e?.approximateSecondsBeforeTimedOut, 3 * 60)
    const capped = await startNext(await thingWithJob({ inProgressTimeoutInMinutes: 3 }), {
      stepTimeoutInMinutes: 10,
    })
    assert.equal(capped?.approximateSecondsBeforeTimedOut, 3 * 60)
    const shorter = await startNext(await thingWithJob({ inProgressTimeoutInMinutes: 3 }), {
      stepTimeoutInMinutes: 2,
    })
    assert.equal(shorter?.approximateSecondsBeforeTimedOut, 2 * 60)
  })

  it('accepts stepTimeoutInMinutes 1 and 10080 and 10 statusDetails pairs [spec: limits#3] [open-question 37]', async () => {
    const one = await startNext(await thingWithJob(), { stepTimeoutInMinutes: 1 })
    assert.equal(one?.approximateSecondsBeforeTimedOut, 60)
    const week = await startNext(await thingWithJob(), { stepTimeoutInMinutes: 10080 })
    assert.equal(week?.approximateSecondsBeforeTimedOut, 10080 * 60)
    const ten = await startNext(await thingWithJob(), { statusDetails: detailsOf(10) })
    assert.deepEqual(ten?.statusDetails, detailsOf(10))
  })
})

async function thingWithJob(timeoutConfig?: { inProgressTimeoutInMinutes: number }): Promise<string> {
  const thingName = await createThing(h)
  await createJob(h, [thingName], timeoutConfig === undefined ? {} : { timeoutConfig })
  return thingName
}

describe('StartNextPendingJobExecution: an IN_PROGRESS pick [spec: jobs-device-api#1.3] [spec: state-machines#3.1]', () => {
  it('[open-question 39] returns an IN_PROGRESS execution unchanged and ignores stepTimeoutInMinutes and statusDetails', async () => {
    const thingName = await createThing(h)
    const first = await createJob(h, [thingName])
    const second = await createJob(h, [thingName])
    const started = await startNext(thingName, { statusDetails: { step: 'one' }, stepTimeoutInMinutes: 5 })
    assert.equal(started?.jobId, first)
    assert.equal(started.approximateSecondsBeforeTimedOut, 300)

    clock.advance(MINUTE_MS)
    const again = await startNext(thingName, { statusDetails: { step: 'two' }, stepTimeoutInMinutes: 10 })
    assert.deepEqual(again, { ...started, approximateSecondsBeforeTimedOut: 240 })
    assert.equal(again?.versionNumber, 2)
    assert.deepEqual(again?.statusDetails, { step: 'one' })

    await assertUntouched(second, thingName)
    assert.deepEqual(await pendingOf(h, thingName), [`${first}:IN_PROGRESS`, `${second}:QUEUED`])
  })

  it('picks an IN_PROGRESS execution before an older QUEUED one', async () => {
    const thingName = await createThing(h)
    const older = await createJob(h, [thingName])
    const newer = await createJob(h, [thingName])
    await report(h, newer, thingName, 'IN_PROGRESS')
    const e = await startNext(thingName)
    assert.equal(e?.jobId, newer)
    assert.equal(e.versionNumber, 2)
    await assertUntouched(older, thingName)
  })
})

describe('StartNextPendingJobExecution: nothing pending [spec: jobs-device-api#1.3]', () => {
  it('answers 200 {} with no execution member for a thing without jobs', async () => {
    const thingName = await createThing(h)
    const out = await h.data.send(new StartNextPendingJobExecutionCommand({ thingName }))
    assert.equal(out.execution, undefined)
    assert.equal(out.$metadata.httpStatusCode, 200)
    const r = await raw(h.server.dataPlaneUrl, 'PUT', `/things/${thingName}/jobs/$next`, '{}')
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, {})
  })

  it('answers {} when every execution of the thing is terminal', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'SUCCEEDED')
    assert.equal(await startNext(thingName), undefined)
    const e = await deviceView(h, jobId, thingName)
    assert.equal(e.status, 'SUCCEEDED')
    assert.equal(e.versionNumber, 2)
  })

  it('[spec: jobs-device-api#1.1] does not start a namespaced job unless namespaceId is asked for [open-question 36]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName], { namespaceId: 'ns1' })
    assert.equal(await startNext(thingName), undefined)
    await assertUntouched(jobId, thingName)
    const r = await raw(h.server.dataPlaneUrl, 'PUT', `/things/${thingName}/jobs/$next?namespaceId=ns1`, '{}')
    assert.equal(r.status, 200)
    const e = r.json['execution'] as Record<string, unknown>
    assert.equal(e['jobId'], jobId)
    assert.equal(e['status'], 'IN_PROGRESS')
    assert.equal(e['versionNumber'], 2)
  })
})

describe('StartNextPendingJobExecution: validation [spec: jobs-device-api#1.1] [spec: limits#3]', () => {
  for (const stepTimeoutInMinutes of [0, 10081, -1]) {
    it(`rejects stepTimeoutInMinutes ${stepTimeoutInMinutes} with InvalidRequestException (400)`, async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      await assert.rejects(
        h.data.send(new StartNextPendingJobExecutionCommand({ thingName, stepTimeoutInMinutes })),
        isError(InvalidRequestException, 400),
      )
      await assertUntouched(jobId, thingName)
    })
  }

  it('[open-question 37] rejects statusDetails with 11 pairs with InvalidRequestException (400)', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await assert.rejects(
      h.data.send(new StartNextPendingJobExecutionCommand({ thingName, statusDetails: detailsOf(11) })),
      isError(InvalidRequestException, 400),
    )
    await assertUntouched(jobId, thingName)
  })

  const badDetails: [string, Record<string, string>][] = [
    ['a key with a space', { 'bad key': 'v' }],
    ['a key with a dot', { 'a.b': 'v' }],
    ['an empty key', { '': 'v' }],
    ['a key of 129 characters', { ['k'.repeat(129)]: 'v' }],
    ['an empty value', { k: '' }],
    ['a value of 1025 characters', { k: 'v'.repeat(1025) }],
    ['a value with a control character', { k: 'line\nbreak' }],
  ]
  for (const [what, statusDetails] of badDetails) {
    it(`rejects statusDetails with ${what} with InvalidRequestException (400)`, async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      await assert.rejects(
        h.data.send(new StartNextPendingJobExecutionCommand({ thingName, statusDetails })),
        isError(InvalidRequestException, 400),
      )
      await assertUntouched(jobId, thingName)
    })
  }

  it('accepts a key of 128 characters and a value of 1024 characters', async () => {
    const statusDetails = { ['k'.repeat(128)]: 'v'.repeat(1024) }
    const e = await startNext(await thingWithJob(), { statusDetails })
    assert.deepEqual(e?.statusDetails, statusDetails)
  })

  it('[open-question 35] answers ResourceNotFoundException (404) for a thing that is not registered', async () => {
    await assert.rejects(
      h.data.send(new StartNextPendingJobExecutionCommand({ thingName: unique('missing') })),
      isError(ResourceNotFoundException, 404),
    )
  })
})

describe('StartNextPendingJobExecution: the $next path segment [spec: wire-protocol#2.1] [spec: wire-protocol#2.3]', () => {
  it('serves the literal $next the SDK sends and the encoded %24next', async () => {
    const thingName = await createThing(h)
    const first = await createJob(h, [thingName])
    const second = await createJob(h, [thingName])
    const third = await createJob(h, [thingName])
    // The SDK sends `PUT /things/{thingName}/jobs/$next` unencoded.
    const viaSdk = await startNext(thingName)
    assert.equal(viaSdk?.jobId, first)
    await report(h, first, thingName, 'SUCCEEDED')

    const literal = await raw(h.server.dataPlaneUrl, 'PUT', `/things/${thingName}/jobs/$next`, '{}')
    assert.equal(literal.status, 200)
    assert.equal((literal.json['execution'] as Record<string, unknown>)['jobId'], second)
    await report(h, second, thingName, 'SUCCEEDED')

    const encoded = await raw(
      h.server.dataPlaneUrl,
      'PUT',
      `/things/${thingName}/jobs/%24next`,
      JSON.stringify({ statusDetails: { via: 'encoded' }, stepTimeoutInMinutes: 7 }),
    )
    assert.equal(encoded.status, 200)
    const e = encoded.json['execution'] as Record<string, unknown>
    assert.equal(e['jobId'], third)
    assert.equal(e['status'], 'IN_PROGRESS')
    assert.deepEqual(e['statusDetails'], { via: 'encoded' })
    assert.equal(e['approximateSecondsBeforeTimedOut'], 7 * 60)
    assert.equal(e['jobDocument'], DOCUMENT)
  })

  it('accepts an empty body, since every body member is optional', async () => {
    const thingName = await thingWithJob()
    const r = await raw(h.server.dataPlaneUrl, 'PUT', `/things/${thingName}/jobs/$next`)
    assert.equal(r.status, 200)
    assert.equal((r.json['execution'] as Record<string, unknown>)['status'], 'IN_PROGRESS')
  })
})
