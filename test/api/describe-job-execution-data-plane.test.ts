import { DeleteJobExecutionCommand } from '@aws-sdk/client-iot'
import {
  DescribeJobExecutionCommand,
  InvalidRequestException,
  ResourceNotFoundException,
  TerminalStateException,
} from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { raw, startHarness, unique } from '../support/harness.js'
import {
  DOCUMENT,
  ManualClock,
  REACHABLE_TERMINAL,
  createJob,
  createThing,
  deviceView,
  isError,
  report,
  terminalExecution,
  twoExecutions,
} from '../support/device.js'

const NEXT = '$next'

describe('DescribeJobExecution (data plane) [spec: jobs-device-api#1.4]', () => {
  let h: Harness
  const clock = new ManualClock()
  before(async () => {
    h = await startHarness({ clock })
  })
  after(async () => {
    await h.close()
  })

  const describeExecution = (input: {
    thingName: string
    jobId: string
    executionNumber?: number
    includeJobDocument?: boolean
  }) => h.data.send(new DescribeJobExecutionCommand(input))

  describe('a specific job', () => {
    it('returns the latest execution with every JobExecution member and integer-second timestamps', async () => {
      const thingName = await createThing(h)
      const queuedAt = clock.seconds()
      const jobId = await createJob(h, [thingName], { timeoutConfig: { inProgressTimeoutInMinutes: 30 } })
      clock.advance(2500)
      const startedAt = clock.seconds()
      await report(h, jobId, thingName, 'IN_PROGRESS', { statusDetails: { step: 'download' } })
      clock.advance(10_000)
      const out = await describeExecution({ thingName, jobId })
      assert.equal(out.$metadata.httpStatusCode, 200)
      assert.deepEqual(out.execution, {
        jobId,
        thingName,
        status: 'IN_PROGRESS',
        statusDetails: { step: 'download' },
        queuedAt,
        startedAt,
        lastUpdatedAt: startedAt,
        approximateSecondsBeforeTimedOut: 30 * 60 - 10,
        versionNumber: 2,
        executionNumber: 1,
        jobDocument: DOCUMENT,
      })
      const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs/${jobId}`)
      assert.equal(r.status, 200)
      const e = r.json['execution'] as Record<string, unknown>
      for (const key of ['queuedAt', 'startedAt', 'lastUpdatedAt']) {
        assert.ok(Number.isInteger(e[key]), `${key} is an integer number of seconds`)
      }
    })

    it('with executionNumber returns that execution; without it the latest [spec: state-machines#3.2]', async () => {
      const { jobId, thingName } = await twoExecutions(h)
      const latest = await deviceView(h, jobId, thingName)
      assert.equal(latest.executionNumber, 2)
      assert.equal(latest.status, 'QUEUED')
      assert.equal(latest.versionNumber, 1)
      assert.deepEqual(latest.statusDetails, {})

      const first = await deviceView(h, jobId, thingName, 1)
      assert.equal(first.executionNumber, 1)
      assert.equal(first.status, 'SUCCEEDED')
      assert.equal(first.versionNumber, 2)
      assert.deepEqual(first.statusDetails, { attempt: 'first' })

      const second = await deviceView(h, jobId, thingName, 2)
      assert.deepEqual(second, latest)
    })

    it('includes jobDocument by default and with includeJobDocument=true, leaves it out with false', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      const byDefault = await describeExecution({ thingName, jobId })
      assert.equal(byDefault.execution?.jobDocument, DOCUMENT)
      const withDocument = await describeExecution({ thingName, jobId, includeJobDocument: true })
      assert.equal(withDocument.execution?.jobDocument, DOCUMENT)
      const without = await describeExecution({ thingName, jobId, includeJobDocument: false })
      assert.ok(without.execution !== undefined)
      assert.equal(without.execution.jobDocument, undefined)
      assert.equal(without.execution.jobId, jobId)
      const r = await raw(
        h.server.dataPlaneUrl,
        'GET',
        `/things/${thingName}/jobs/${jobId}?includeJobDocument=false`,
      )
      assert.equal(r.status, 200)
      assert.ok(!('jobDocument' in (r.json['execution'] as object)))
    })

    it('reaches a namespaced job by its id without namespaceId [spec: jobs-device-api#1.1]', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName], { namespaceId: 'ns1' })
      const e = await deviceView(h, jobId, thingName)
      assert.equal(e.jobId, jobId)
      assert.equal(e.status, 'QUEUED')
    })

    it('[open-question 36] with namespaceId, only that namespace is visible: the job in it is found, others are 404', async () => {
      const thingName = await createThing(h)
      const plain = await createJob(h, [thingName])
      const inNs1 = await createJob(h, [thingName], { namespaceId: 'ns1' })
      const found = await raw(
        h.server.dataPlaneUrl,
        'GET',
        `/things/${thingName}/jobs/${inNs1}?namespaceId=ns1`,
      )
      assert.equal(found.status, 200)
      assert.equal((found.json['execution'] as Record<string, unknown>)['jobId'], inNs1)
      for (const [jobId, namespaceId] of [
        [inNs1, 'ns2'],
        [plain, 'ns1'],
      ] as const) {
        const r = await raw(
          h.server.dataPlaneUrl,
          'GET',
          `/things/${thingName}/jobs/${jobId}?namespaceId=${namespaceId}`,
        )
        assert.equal(r.status, 404, `${jobId} is not in namespace ${namespaceId}`)
        assert.equal(r.headers.get('x-amzn-ErrorType'), 'ResourceNotFoundException')
      }
    })

    it('is read-only: versionNumber and lastUpdatedAt stay', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      const before = await deviceView(h, jobId, thingName)
      clock.advance(3000)
      await deviceView(h, jobId, thingName)
      assert.deepEqual(await deviceView(h, jobId, thingName), before)
      assert.equal(before.versionNumber, 1)
    })
  })

  describe('$next', () => {
    it('returns the first pending execution without changing it; the SDK sends it as %24next [spec: wire-protocol#2.1]', async () => {
      const thingName = await createThing(h)
      const queued = await createJob(h, [thingName])
      const started = await createJob(h, [thingName])
      await report(h, started, thingName, 'IN_PROGRESS', { statusDetails: { p: '1' } })
      const out = await describeExecution({ thingName, jobId: NEXT })
      assert.equal(out.execution?.jobId, started, 'IN_PROGRESS comes before an older QUEUED execution')
      assert.equal(out.execution.status, 'IN_PROGRESS')
      assert.equal(out.execution.versionNumber, 2)
      assert.deepEqual(out.execution.statusDetails, { p: '1' })
      assert.equal(out.execution.jobDocument, DOCUMENT)

      await report(h, started, thingName, 'SUCCEEDED')
      const next = await describeExecution({ thingName, jobId: NEXT })
      assert.equal(next.execution?.jobId, queued)
      assert.equal(next.execution.status, 'QUEUED', '$next does not start the execution')
      assert.equal(next.execution.versionNumber, 1)
      assert.equal((await deviceView(h, queued, thingName)).versionNumber, 1)
    })

    it('answers the literal $next and %24next on a raw request', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      for (const segment of ['$next', '%24next']) {
        const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs/${segment}`)
        assert.equal(r.status, 200, segment)
        const e = r.json['execution'] as Record<string, unknown>
        assert.equal(e['jobId'], jobId)
        assert.equal(e['status'], 'QUEUED')
        assert.equal(e['jobDocument'], DOCUMENT)
      }
      const noDocument = await raw(
        h.server.dataPlaneUrl,
        'GET',
        `/things/${thingName}/jobs/$next?includeJobDocument=false`,
      )
      assert.equal(noDocument.status, 200)
      assert.ok(!('jobDocument' in (noDocument.json['execution'] as object)))
    })

    it('answers 200 {} when nothing is pending', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      await report(h, jobId, thingName, 'REJECTED')
      const out = await describeExecution({ thingName, jobId: NEXT })
      assert.equal(out.$metadata.httpStatusCode, 200)
      assert.equal(out.execution, undefined)
      const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs/%24next`)
      assert.equal(r.status, 200)
      assert.deepEqual(r.json, {})
    })

    it('[open-question 41] ignores executionNumber with $next', async () => {
      const { jobId, thingName } = await twoExecutions(h)
      for (const executionNumber of [1, 7]) {
        const out = await describeExecution({ thingName, jobId: NEXT, executionNumber })
        assert.equal(out.execution?.jobId, jobId)
        assert.equal(out.execution.executionNumber, 2, `executionNumber ${executionNumber} ignored`)
        assert.equal(out.execution.status, 'QUEUED')
      }
    })

    it('does not see namespaced jobs [spec: jobs-device-api#1.1]; [open-question 36] sees them with namespaceId', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName], { namespaceId: 'ns1' })
      const out = await describeExecution({ thingName, jobId: NEXT })
      assert.equal(out.execution, undefined)
      const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs/%24next?namespaceId=ns1`)
      assert.equal(r.status, 200)
      const e = r.json['execution'] as Record<string, unknown>
      assert.equal(e['jobId'], jobId)
      assert.equal(e['status'], 'QUEUED')
    })
  })

  describe('terminal executions', () => {
    for (const status of REACHABLE_TERMINAL) {
      it(`[open-question 42] returns a ${status} execution with its status by default`, async () => {
        const { jobId, thingName } = await terminalExecution(h, status)
        const out = await describeExecution({ thingName, jobId })
        assert.equal(out.execution?.status, status)
        assert.equal(out.execution.versionNumber, 2)
        assert.equal(out.execution.approximateSecondsBeforeTimedOut, undefined)
      })
    }
  })

  describe('errors', () => {
    it('[open-question 35] answers ResourceNotFoundException (404) for a thing that is not registered', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      for (const id of [jobId, NEXT]) {
        await assert.rejects(
          describeExecution({ thingName: unique('missing'), jobId: id }),
          isError(ResourceNotFoundException, 404),
        )
      }
    })

    it('answers ResourceNotFoundException (404) for an unknown job, a job not on the thing, and an unknown executionNumber', async () => {
      const thingName = await createThing(h)
      const other = await createThing(h)
      const jobId = await createJob(h, [other])
      await createJob(h, [thingName])
      await assert.rejects(
        describeExecution({ thingName, jobId: unique('missing') }),
        isError(ResourceNotFoundException, 404),
      )
      await assert.rejects(describeExecution({ thingName, jobId }), isError(ResourceNotFoundException, 404))
      await assert.rejects(
        describeExecution({ thingName: other, jobId, executionNumber: 2 }),
        isError(ResourceNotFoundException, 404),
      )
    })

    it('answers ResourceNotFoundException (404) after the execution was deleted', async () => {
      const { jobId, thingName } = await terminalExecution(h, 'SUCCEEDED')
      await h.iot.send(new DeleteJobExecutionCommand({ jobId, thingName, executionNumber: 1 }))
      await assert.rejects(describeExecution({ thingName, jobId }), isError(ResourceNotFoundException, 404))
    })

    it('rejects jobId a.b with InvalidRequestException (400) [spec: jobs-device-api#1.4] [spec: limits#1]', async () => {
      const thingName = await createThing(h)
      await assert.rejects(
        describeExecution({ thingName, jobId: 'a.b' }),
        isError(InvalidRequestException, 400),
      )
      const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs/a.b`)
      assert.equal(r.status, 400)
      assert.equal(r.headers.get('x-amzn-ErrorType'), 'InvalidRequestException')
    })

    it('rejects includeJobDocument and executionNumber that are not a boolean / an integer [spec: wire-protocol#2.2]', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      for (const query of ['includeJobDocument=yes', 'includeJobDocument=TRUE', 'executionNumber=one']) {
        const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs/${jobId}?${query}`)
        assert.equal(r.status, 400, query)
        assert.equal(r.headers.get('x-amzn-ErrorType'), 'InvalidRequestException', query)
      }
    })
  })
})

describe('DescribeJobExecution (data plane) with terminalStateOnDescribe [open-question 42] [spec: jobs-device-api#1.4] [spec: wire-protocol#5.4]', () => {
  let h: Harness
  before(async () => {
    h = await startHarness({ settings: { terminalStateOnDescribe: true } })
  })
  after(async () => {
    await h.close()
  })

  for (const status of REACHABLE_TERMINAL) {
    it(`[open-question 42] answers TerminalStateException (410) for a ${status} execution`, async () => {
      const { jobId, thingName } = await terminalExecution(h, status)
      await assert.rejects(
        h.data.send(new DescribeJobExecutionCommand({ thingName, jobId })),
        isError(TerminalStateException, 410),
      )
      const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs/${jobId}`)
      assert.equal(r.status, 410)
      assert.equal(r.headers.get('x-amzn-ErrorType'), 'TerminalStateException')
      assert.equal(typeof r.json['message'], 'string')
    })
  }

  it('still describes QUEUED and IN_PROGRESS executions, by id and by $next', async () => {
    const thingName = await createThing(h)
    const queued = await createJob(h, [thingName])
    const started = await createJob(h, [thingName])
    await report(h, started, thingName, 'IN_PROGRESS')
    assert.equal((await deviceView(h, queued, thingName)).status, 'QUEUED')
    assert.equal((await deviceView(h, started, thingName)).status, 'IN_PROGRESS')
    const next = await h.data.send(new DescribeJobExecutionCommand({ thingName, jobId: NEXT }))
    assert.equal(next.execution?.jobId, started)
  })

  it('addresses the terminal execution by executionNumber while the latest is pending', async () => {
    const { jobId, thingName } = await twoExecutions(h)
    assert.equal((await deviceView(h, jobId, thingName)).executionNumber, 2)
    await assert.rejects(
      h.data.send(new DescribeJobExecutionCommand({ thingName, jobId, executionNumber: 1 })),
      isError(TerminalStateException, 410),
    )
  })
})
