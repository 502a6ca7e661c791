/**
 * The control-plane DescribeJobExecution (`GET /things/{thingName}/jobs/{jobId}` on the control-plane
 * listener) through `@aws-sdk/client-iot`: every member of `JobExecution` as the SDK decodes it,
 * the latest execution versus a numbered one, executions in every status, not-found and validation
 * cases, and the wire form (epoch-second numbers, no thingName, no document).
 * [spec: jobs-control-plane#describejobexecution-control-plane] [spec: jobs-control-plane#jobexecution]
 */
import {
  CancelJobExecutionCommand,
  CreateThingCommand,
  DeleteThingCommand,
  DescribeJobExecutionCommand,
  InvalidRequestException,
  ResourceNotFoundException,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { raw, startHarness, thingArnOf, unique } from '../support/harness.js'
import { ManualClock, createJob, createThing, report, twoExecutions } from '../support/device.js'
import {
  ALL_EXECUTION_STATUSES,
  assertRawError,
  cpDescribe,
  executionIn,
  rejection,
  timeOutInDatabase,
} from '../support/executions.js'

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

const describeExecution = (jobId: string, thingName: string, executionNumber?: number) =>
  h.iot.send(
    new DescribeJobExecutionCommand({
      jobId,
      thingName,
      ...(executionNumber === undefined ? {} : { executionNumber }),
    }),
  )

describe('DescribeJobExecution (control plane): members [spec: jobs-control-plane#describejobexecution-control-plane] [spec: jobs-control-plane#jobexecution]', () => {
  it('a QUEUED execution: jobId, status, statusDetails wrapped in detailsMap, thingArn, queuedAt and lastUpdatedAt as Dates, executionNumber, versionNumber; nothing else', async () => {
    const thingName = await createThing(h)
    clock.advance(1000)
    const queuedAtMs = clock.nowMs()
    const jobId = await createJob(h, [thingName])
    clock.advance(5000)
    const out = await describeExecution(jobId, thingName)
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.deepEqual(out.execution, {
      jobId,
      status: 'QUEUED',
      statusDetails: { detailsMap: {} },
      thingArn: thingArnOf(thingName),
      queuedAt: new Date(queuedAtMs),
      lastUpdatedAt: new Date(queuedAtMs),
      executionNumber: 1,
      versionNumber: 1,
    })
    assert.ok(out.execution.queuedAt instanceof Date)
    assert.equal(out.execution.queuedAt.getUTCMilliseconds(), queuedAtMs % 1000, 'milliseconds kept')
  })

  it('an IN_PROGRESS execution with a timeout: startedAt, lastUpdatedAt of the latest report, statusDetails, versionNumber and approximateSecondsBeforeTimedOut [spec: state-machines#4-timers-and-timed_out]', async () => {
    const thingName = await createThing(h)
    const queuedAtMs = clock.nowMs()
    const jobId = await createJob(h, [thingName], { timeoutConfig: { inProgressTimeoutInMinutes: 10 } })
    clock.advance(2000)
    const startedAtMs = clock.nowMs()
    await report(h, jobId, thingName, 'IN_PROGRESS', { statusDetails: { step: '1' } })
    clock.advance(30_000)
    const reportedAtMs = clock.nowMs()
    await report(h, jobId, thingName, 'IN_PROGRESS', { statusDetails: { step: '2', of: '3' } })
    clock.advance(31_500)
    const e = (await describeExecution(jobId, thingName)).execution
    assert.deepEqual(e, {
      jobId,
      status: 'IN_PROGRESS',
      statusDetails: { detailsMap: { step: '2', of: '3' } },
      thingArn: thingArnOf(thingName),
      queuedAt: new Date(queuedAtMs),
      startedAt: new Date(startedAtMs),
      lastUpdatedAt: new Date(reportedAtMs),
      executionNumber: 1,
      versionNumber: 3,
      // 600 s from the start, 61.5 s gone: 538.5 s left, rounded up.
      approximateSecondsBeforeTimedOut: 539,
    })
  })

  it('a force-canceled execution: status CANCELED, forceCanceled true, the cancel request statusDetails [spec: jobs-control-plane#canceljobexecution]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName], { timeoutConfig: { inProgressTimeoutInMinutes: 10 } })
    await report(h, jobId, thingName, 'IN_PROGRESS')
    clock.advance(1000)
    await h.iot.send(
      new CancelJobExecutionCommand({ jobId, thingName, force: true, statusDetails: { by: 'operator' } }),
    )
    const e = await cpDescribe(h, jobId, thingName)
    assert.equal(e.status, 'CANCELED')
    assert.equal(e.forceCanceled, true)
    assert.deepEqual(e.statusDetails, { detailsMap: { by: 'operator' } })
    assert.equal(e.versionNumber, 3)
    assert.equal(e.lastUpdatedAt?.getTime(), clock.nowMs())
    assert.equal(e.approximateSecondsBeforeTimedOut, undefined, 'no running timer once terminal')
  })

  it('has no forceCanceled true for an execution canceled without force', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName }))
    const e = await cpDescribe(h, jobId, thingName)
    assert.equal(e.status, 'CANCELED')
    assert.notEqual(e.forceCanceled, true)
  })

  it('on the wire: timestamps are epoch-second numbers with the fraction; no thingName member and no job document [spec: wire-protocol#4-timestamps]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    const r = await raw(h.server.url, 'GET', `/things/${thingName}/jobs/${jobId}`)
    assert.equal(r.status, 200)
    const execution = r.json['execution'] as Record<string, unknown>
    assert.deepEqual(Object.keys(execution).sort(), [
      'executionNumber',
      'jobId',
      'lastUpdatedAt',
      'queuedAt',
      'status',
      'statusDetails',
      'thingArn',
      'versionNumber',
    ])
    assert.equal(execution['queuedAt'], clock.nowMs() / 1000)
    assert.equal(typeof execution['lastUpdatedAt'], 'number')
  })

  it('describes executions in every status (the guide sentence limiting it to SUCCEEDED/FAILED is ignored)', async () => {
    for (const status of ALL_EXECUTION_STATUSES) {
      const { jobId, thingName } = await executionIn(h, status, clock.nowMs())
      const e = await cpDescribe(h, jobId, thingName)
      assert.equal(e.status, status)
      assert.equal(e.jobId, jobId)
      assert.equal(e.thingArn, thingArnOf(thingName))
      assert.equal(e.executionNumber, 1)
    }
  })

  it('a TIMED_OUT execution has no approximateSecondsBeforeTimedOut and the versionNumber of the timeout write', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName], { timeoutConfig: { inProgressTimeoutInMinutes: 1 } })
    await report(h, jobId, thingName, 'IN_PROGRESS')
    clock.advance(60_000)
    await timeOutInDatabase(h, jobId, thingName, clock.nowMs())
    const e = await cpDescribe(h, jobId, thingName)
    assert.equal(e.status, 'TIMED_OUT')
    assert.equal(e.versionNumber, 3)
    assert.equal(e.approximateSecondsBeforeTimedOut, undefined)
  })

  it('reading does not change versionNumber or lastUpdatedAt [spec: state-machines#3.1]', async () => {
    const { jobId, thingName } = await executionIn(h, 'IN_PROGRESS', clock.nowMs())
    const first = await cpDescribe(h, jobId, thingName)
    clock.advance(1000)
    await cpDescribe(h, jobId, thingName)
    assert.deepEqual(await cpDescribe(h, jobId, thingName), first)
  })
})

describe('DescribeJobExecution (control plane): with and without executionNumber [spec: jobs-control-plane#describejobexecution-control-plane] [spec: state-machines#3.2]', () => {
  it('without executionNumber describes the latest execution; with it, exactly that one', async () => {
    const { jobId, thingName } = await twoExecutions(h)
    const latest = await cpDescribe(h, jobId, thingName)
    assert.equal(latest.executionNumber, 2)
    assert.equal(latest.status, 'QUEUED')
    assert.deepEqual(latest.statusDetails, { detailsMap: {} })
    assert.deepEqual(await cpDescribe(h, jobId, thingName, 2), latest)
    const first = await cpDescribe(h, jobId, thingName, 1)
    assert.equal(first.executionNumber, 1)
    assert.equal(first.status, 'SUCCEEDED')
    assert.deepEqual(first.statusDetails, { detailsMap: { attempt: 'first' } })
    assert.equal(first.versionNumber, 2)
  })

  it('a number that does not exist is ResourceNotFoundException (404) naming the number, the job and the thing', async () => {
    const { jobId, thingName } = await twoExecutions(h)
    for (const executionNumber of [3, 0, Number.MAX_SAFE_INTEGER]) {
      await assert.rejects(
        describeExecution(jobId, thingName, executionNumber),
        rejection(
          ResourceNotFoundException,
          404,
          `No execution ${executionNumber} of job ${jobId} on thing ${thingName}`,
        ),
      )
    }
  })
})

describe('DescribeJobExecution (control plane): not found [spec: jobs-control-plane#describejobexecution-control-plane]', () => {
  it('an unknown job is ResourceNotFoundException (404) naming the job', async () => {
    const thingName = await createThing(h)
    const missing = unique('missing')
    for (const executionNumber of [undefined, 1]) {
      await assert.rejects(
        describeExecution(missing, thingName, executionNumber),
        rejection(ResourceNotFoundException, 404, `Job ${missing}`),
      )
    }
  })

  it('a thing without an execution of the job, registered or not, is ResourceNotFoundException (404) naming job and thing', async () => {
    const { jobId } = await executionIn(h, 'QUEUED', clock.nowMs())
    const other = await createThing(h)
    const unregistered = unique('thing')
    for (const thingName of [other, unregistered]) {
      await assert.rejects(
        describeExecution(jobId, thingName),
        rejection(ResourceNotFoundException, 404, jobId, thingName),
      )
    }
  })

  it('an execution whose thing was deleted from the registry is still described (REMOVED) [spec: things#deletething]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await h.iot.send(new DeleteThingCommand({ thingName }))
    const e = await cpDescribe(h, jobId, thingName)
    assert.equal(e.status, 'REMOVED')
    assert.equal(e.thingArn, thingArnOf(thingName))
  })

  it('an execution of a namespaced job is described (the operation has no namespaceId) [spec: jobs-control-plane#6-namespaces-namespaceid]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName], { namespaceId: 'ns1' })
    assert.equal((await cpDescribe(h, jobId, thingName)).status, 'QUEUED')
  })

  it('a thing name with a colon is percent-encoded by the SDK and found [spec: wire-protocol#2.1]', async () => {
    const thingName = `${unique('thing')}:1`
    await h.iot.send(new CreateThingCommand({ thingName }))
    const jobId = await createJob(h, [thingName])
    const e = await cpDescribe(h, jobId, thingName)
    assert.equal(e.thingArn, thingArnOf(thingName))
  })
})

describe('DescribeJobExecution (control plane): validation [spec: jobs-control-plane#describejobexecution-control-plane] [spec: wire-protocol#2]', () => {
  it('thingName or jobId outside its pattern or length is InvalidRequestException (400) naming the field', async () => {
    const { jobId, thingName } = await executionIn(h, 'QUEUED', clock.nowMs())
    for (const bad of ['a.b', 'a/b', 'x'.repeat(129)]) {
      await assert.rejects(
        describeExecution(jobId, bad),
        rejection(InvalidRequestException, 400, 'thingName'),
        bad,
      )
    }
    for (const bad of ['a.b', 'job:1', 'x'.repeat(65)]) {
      await assert.rejects(
        describeExecution(bad, thingName),
        rejection(InvalidRequestException, 400, 'jobId'),
        bad,
      )
    }
  })

  it('an executionNumber that is not a non-negative integer is InvalidRequestException (400) naming executionNumber', async () => {
    const { jobId, thingName } = await executionIn(h, 'QUEUED', clock.nowMs())
    await assert.rejects(
      describeExecution(jobId, thingName, -1),
      rejection(InvalidRequestException, 400, 'executionNumber'),
    )
    for (const bad of ['abc', '1.5', '-1', '', 'true', '9007199254740992']) {
      assertRawError(
        await raw(h.server.url, 'GET', `/things/${thingName}/jobs/${jobId}?executionNumber=${bad}`),
        400,
        'InvalidRequestException',
        'executionNumber',
      )
    }
  })
})
