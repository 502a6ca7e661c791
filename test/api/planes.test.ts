import {
  DescribeJobExecutionCommand as CpDescribeJobExecutionCommand,
  IoTClient,
  IoTServiceException,
  ListJobExecutionsForThingCommand,
  ListJobsCommand,
} from '@aws-sdk/client-iot'
import {
  DescribeJobExecutionCommand,
  GetPendingJobExecutionsCommand,
  IoTJobsDataPlaneClient,
  IoTJobsDataPlaneServiceException,
  ResourceNotFoundException,
  StartCommandExecutionCommand,
  StartNextPendingJobExecutionCommand,
  ThrottlingException,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { REGION, raw, sdkCredentials, startHarness, thingArnOf, unique } from '../support/harness.js'
import {
  DOCUMENT,
  ManualClock,
  createJob,
  createThing,
  deviceView,
  isError,
  report,
} from '../support/device.js'

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

const dataClient = (endpoint: string) =>
  new IoTJobsDataPlaneClient({ region: REGION, endpoint, credentials: sdkCredentials, maxAttempts: 1 })
const iotClient = (endpoint: string) =>
  new IoTClient({ region: REGION, endpoint, credentials: sdkCredentials, maxAttempts: 1 })

/** A thing with one IN_PROGRESS (details `{step: "two"}`) and one QUEUED execution. */
async function thingWithTwoJobs(h: Harness): Promise<{ thingName: string; started: string; queued: string }> {
  const thingName = await createThing(h)
  const started = await createJob(h, [thingName])
  const queued = await createJob(h, [thingName])
  await report(h, started, thingName, 'IN_PROGRESS', { statusDetails: { step: 'two' } })
  return { thingName, started, queued }
}

/** The answer is the data plane's GetPendingJobExecutions. */
function assertPendingShape(json: Record<string, unknown>, started: string, queued: string): void {
  assert.deepEqual(Object.keys(json).sort(), ['inProgressJobs', 'queuedJobs'])
  assert.deepEqual(
    (json['inProgressJobs'] as { jobId: string }[]).map((s) => s.jobId),
    [started],
  )
  assert.deepEqual(
    (json['queuedJobs'] as { jobId: string }[]).map((s) => s.jobId),
    [queued],
  )
}

/** The answer is the control plane's ListJobExecutionsForThing. */
function assertListForThingShape(json: Record<string, unknown>, started: string, queued: string): void {
  assert.ok(!('inProgressJobs' in json) && !('queuedJobs' in json))
  const summaries = json['executionSummaries'] as { jobId: string; jobExecutionSummary: { status: string } }[]
  assert.deepEqual(
    summaries.map((s) => `${s.jobId}:${s.jobExecutionSummary.status}`).sort(),
    [`${started}:IN_PROGRESS`, `${queued}:QUEUED`].sort(),
  )
}

describe('Two planes told apart [spec: wire-protocol#1-two-http-apis-that-must-not-share-a-route-table]', () => {
  let h: Harness
  let prefixed: IoTJobsDataPlaneClient
  let dataOnMain: IoTJobsDataPlaneClient
  let iotOnDataListener: IoTClient
  before(async () => {
    h = await startHarness()
    prefixed = dataClient(`${h.server.url}/iot-jobs-data`)
    dataOnMain = dataClient(h.server.url)
    iotOnDataListener = iotClient(h.server.dataPlaneUrl)
  })
  after(async () => {
    prefixed.destroy()
    dataOnMain.destroy()
    iotOnDataListener.destroy()
    await h.close()
  })

  describe('the data plane on its own listener', () => {
    it('serves the four device operations', async () => {
      assert.notEqual(new URL(h.server.dataPlaneUrl).port, new URL(h.server.url).port)
      const { thingName, started, queued } = await thingWithTwoJobs(h)
      const pending = await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
      assert.deepEqual(
        pending.inProgressJobs?.map((s) => s.jobId),
        [started],
      )
      const next = await h.data.send(new StartNextPendingJobExecutionCommand({ thingName }))
      assert.equal(next.execution?.jobId, started)
      const described = await h.data.send(new DescribeJobExecutionCommand({ thingName, jobId: queued }))
      assert.equal(described.execution?.jobDocument, DOCUMENT)
      const updated = await h.data.send(
        new UpdateJobExecutionCommand({
          thingName,
          jobId: queued,
          status: 'REJECTED',
          includeJobExecutionState: true,
        }),
      )
      assert.equal(updated.executionState?.status, 'REJECTED')
    })

    it('answers its own paths unsigned and under the /iot-jobs-data prefix too', async () => {
      const { thingName, started, queued } = await thingWithTwoJobs(h)
      for (const path of [`/things/${thingName}/jobs`, `/iot-jobs-data/things/${thingName}/jobs`]) {
        const r = await raw(h.server.dataPlaneUrl, 'GET', path)
        assert.equal(r.status, 200, path)
        assertPendingShape(r.json, started, queued)
      }
    })

    it('does not serve the control plane: UnknownOperationException (404) [spec: wire-protocol#5.5]', async () => {
      await assert.rejects(iotOnDataListener.send(new ListJobsCommand({})), (e: unknown) => {
        assert.ok(e instanceof IoTServiceException, String(e))
        assert.equal(e.name, 'UnknownOperationException')
        assert.equal(e.$metadata.httpStatusCode, 404)
        return true
      })
      const r = await raw(h.server.dataPlaneUrl, 'GET', '/jobs')
      assert.equal(r.status, 404)
      assert.equal(r.headers.get('x-amzn-ErrorType'), 'UnknownOperationException')
    })
  })

  describe('the data plane under /iot-jobs-data on the main port', () => {
    it('serves the four device operations to a client whose endpoint ends in /iot-jobs-data', async () => {
      const { thingName, started, queued } = await thingWithTwoJobs(h)
      const pending = await prefixed.send(new GetPendingJobExecutionsCommand({ thingName }))
      assert.deepEqual(
        pending.queuedJobs?.map((s) => s.jobId),
        [queued],
      )
      const described = await prefixed.send(new DescribeJobExecutionCommand({ thingName, jobId: '$next' }))
      assert.equal(described.execution?.jobId, started)
      assert.deepEqual(described.execution.statusDetails, { step: 'two' })
      await prefixed.send(new UpdateJobExecutionCommand({ thingName, jobId: started, status: 'SUCCEEDED' }))
      const next = await prefixed.send(new StartNextPendingJobExecutionCommand({ thingName }))
      assert.equal(next.execution?.jobId, queued)
      assert.equal(next.execution.status, 'IN_PROGRESS')
      const r = await raw(h.server.url, 'GET', `/iot-jobs-data/things/${thingName}/jobs/${queued}`)
      assert.equal(r.status, 200)
      assert.equal((r.json['execution'] as Record<string, unknown>)['thingName'], thingName)
    })

    it('answers data-plane errors with data-plane statuses', async () => {
      await assert.rejects(
        prefixed.send(new GetPendingJobExecutionsCommand({ thingName: unique('missing') })),
        isError(ResourceNotFoundException, 404),
      )
    })
  })

  describe('one endpoint for both SDK clients: routing by the SigV4 signing name [spec: wire-protocol#1] [spec: wire-protocol#7-authentication]', () => {
    it('GET /things/{t}/jobs is GetPendingJobExecutions to the data-plane client and ListJobExecutionsForThing to IoTClient', async () => {
      const { thingName, started, queued } = await thingWithTwoJobs(h)
      const pending = await dataOnMain.send(new GetPendingJobExecutionsCommand({ thingName }))
      assert.deepEqual(
        pending.inProgressJobs?.map((s) => s.jobId),
        [started],
      )
      assert.deepEqual(
        pending.queuedJobs?.map((s) => s.jobId),
        [queued],
      )
      const listed = await h.iot.send(new ListJobExecutionsForThingCommand({ thingName }))
      assert.deepEqual(
        listed.executionSummaries?.map((s) => `${s.jobId}:${s.jobExecutionSummary?.status}`).sort(),
        [`${started}:IN_PROGRESS`, `${queued}:QUEUED`].sort(),
      )
      assert.ok(listed.executionSummaries?.every((s) => s.jobExecutionSummary?.queuedAt instanceof Date))
    })

    it('GET /things/{t}/jobs/{j} answers each client its own DescribeJobExecution shape', async () => {
      const { thingName, started } = await thingWithTwoJobs(h)
      const dp = await dataOnMain.send(new DescribeJobExecutionCommand({ thingName, jobId: started }))
      assert.equal(dp.execution?.thingName, thingName)
      assert.deepEqual(dp.execution.statusDetails, { step: 'two' })
      assert.equal(dp.execution.jobDocument, DOCUMENT)
      assert.equal(typeof dp.execution.queuedAt, 'number')
      assert.ok(Number.isInteger(dp.execution.queuedAt))

      const cp = await h.iot.send(new CpDescribeJobExecutionCommand({ thingName, jobId: started }))
      assert.equal(cp.execution?.thingArn, thingArnOf(thingName))
      assert.deepEqual(cp.execution.statusDetails, { detailsMap: { step: 'two' } })
      assert.ok(cp.execution.queuedAt instanceof Date)
      assert.equal(cp.execution.versionNumber, 2)
      assert.ok(!('jobDocument' in cp.execution))
    })

    it('serves StartNextPendingJobExecution and UpdateJobExecution (POST/PUT on the same paths) to the data-plane client', async () => {
      const { thingName, started, queued } = await thingWithTwoJobs(h)
      const next = await dataOnMain.send(new StartNextPendingJobExecutionCommand({ thingName }))
      assert.equal(next.execution?.jobId, started)
      const out = await dataOnMain.send(
        new UpdateJobExecutionCommand({
          thingName,
          jobId: queued,
          status: 'FAILED',
          includeJobDocument: true,
        }),
      )
      assert.equal(out.jobDocument, DOCUMENT)
      assert.equal((await deviceView(h, queued, thingName)).status, 'FAILED')
    })

    it('an unsigned request on the main port is the control plane', async () => {
      const { thingName, started, queued } = await thingWithTwoJobs(h)
      const list = await raw(h.server.url, 'GET', `/things/${thingName}/jobs`)
      assert.equal(list.status, 200)
      assertListForThingShape(list.json, started, queued)
      const one = await raw(h.server.url, 'GET', `/things/${thingName}/jobs/${started}`)
      assert.equal(one.status, 200)
      const e = one.json['execution'] as Record<string, unknown>
      assert.deepEqual(e['statusDetails'], { detailsMap: { step: 'two' } })
      assert.equal(e['thingArn'], thingArnOf(thingName))
      assert.ok(!('jobDocument' in e))
      // PUT .../$next and POST .../{jobId} are not control-plane operations.
      const next = await raw(h.server.url, 'PUT', `/things/${thingName}/jobs/$next`, '{}')
      assert.equal(next.status, 404)
      assert.equal(next.headers.get('x-amzn-ErrorType'), 'UnknownOperationException')
    })

    it('a request signed for iot (not iot-jobs-data) on the main port is the control plane', async () => {
      const { thingName, started, queued } = await thingWithTwoJobs(h)
      const authorization =
        'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20300101/us-east-1/iot/aws4_request, SignedHeaders=host, Signature=00'
      const r = await raw(h.server.url, 'GET', `/things/${thingName}/jobs`, undefined, { authorization })
      assert.equal(r.status, 200)
      assertListForThingShape(r.json, started, queued)
    })
  })

  describe('unknown operations [spec: wire-protocol#5.5]', () => {
    const unknown: [string, 'main' | 'data', string, string, string?][] = [
      ['GET /thing-types (out of scope) on the main port', 'main', 'GET', '/thing-types'],
      ['GET /billing-groups on the main port', 'main', 'GET', '/billing-groups'],
      ['POST /command-executions on the data-plane listener', 'data', 'POST', '/command-executions', '{}'],
      [
        'POST /command-executions under /iot-jobs-data',
        'main',
        'POST',
        '/iot-jobs-data/command-executions',
        '{}',
      ],
      ['DELETE /things/{t}/jobs on the data plane', 'data', 'DELETE', '/things/t1/jobs'],
    ]
    for (const [what, listener, method, path, body] of unknown) {
      it(`${what} → 404 UnknownOperationException`, async () => {
        const base = listener === 'main' ? h.server.url : h.server.dataPlaneUrl
        const r = await raw(base, method, path, body)
        assert.equal(r.status, 404)
        assert.equal(r.headers.get('x-amzn-ErrorType'), 'UnknownOperationException')
        assert.equal(typeof r.json['message'], 'string')
      })
    }

    it('StartCommandExecution from the newest data-plane SDK → 404 UnknownOperationException', async () => {
      await assert.rejects(
        h.data.send(
          new StartCommandExecutionCommand({
            targetArn: thingArnOf('t1'),
            commandArn: `arn:aws:iot:${REGION}:123456789012:command/reboot`,
          }),
        ),
        (e: unknown) => {
          assert.ok(e instanceof IoTJobsDataPlaneServiceException, String(e))
          assert.equal(e.name, 'UnknownOperationException')
          assert.equal(e.$metadata.httpStatusCode, 404)
          return true
        },
      )
    })
  })

  describe('x-amzn-RequestId [spec: wire-protocol#3-responses]', () => {
    it('is on every response: successes and errors, both listeners, both planes', async () => {
      const thingName = await createThing(h)
      const requests: [string, string, string][] = [
        [h.server.url, 'GET', `/things/${thingName}`],
        [h.server.url, 'GET', `/things/${unique('missing')}`],
        [h.server.url, 'GET', '/thing-types'],
        [h.server.url, 'GET', `/iot-jobs-data/things/${thingName}/jobs`],
        [h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs`],
        [h.server.dataPlaneUrl, 'GET', `/things/${unique('missing')}/jobs`],
        [h.server.dataPlaneUrl, 'GET', `/things/bad%20name/jobs`],
        [h.server.dataPlaneUrl, 'POST', '/command-executions'],
      ]
      const ids = new Set<string>()
      for (const [base, method, path] of requests) {
        const r = await raw(base, method, path)
        const id = r.headers.get('x-amzn-RequestId')
        assert.ok(
          id !== null && UUID.test(id),
          `${method} ${path} (${r.status}) has a request id: ${String(id)}`,
        )
        ids.add(id)
      }
      assert.equal(ids.size, requests.length, 'every request gets its own id')
    })

    it('reaches the SDKs as $metadata.requestId, on success and on error', async () => {
      const thingName = await createThing(h)
      const ok = await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
      assert.match(ok.$metadata.requestId ?? '', UUID)
      const listed = await h.iot.send(new ListJobExecutionsForThingCommand({ thingName }))
      assert.match(listed.$metadata.requestId ?? '', UUID)
      await assert.rejects(
        h.data.send(new GetPendingJobExecutionsCommand({ thingName: unique('missing') })),
        (e: unknown) => {
          assert.ok(e instanceof ResourceNotFoundException)
          assert.match(e.$metadata.requestId ?? '', UUID)
          return true
        },
      )
    })
  })
})

describe('Without the second listener the data plane lives under /iot-jobs-data [spec: wire-protocol#1]', () => {
  let h: Harness
  before(async () => {
    h = await startHarness({ dataPlanePort: undefined })
  })
  after(async () => {
    await h.close()
  })

  it('gives the prefixed URL as the data-plane URL and serves the device there', async () => {
    assert.equal(h.server.dataPlaneUrl, `${h.server.url}/iot-jobs-data`)
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    const next = await h.data.send(new StartNextPendingJobExecutionCommand({ thingName }))
    assert.equal(next.execution?.jobId, jobId)
    assert.equal(next.execution.status, 'IN_PROGRESS')
  })
})

describe('Data-plane throttling [spec: wire-protocol#5.4] [spec: wire-protocol#8-retries-and-idempotency] [spec: limits#4]', () => {
  let h: Harness
  // The clock does not move, so the buckets never refill: the third request of a thing is throttled.
  const clock = new ManualClock()
  before(async () => {
    h = await startHarness({ clock, rateLimit: { dataPlane: { ratePerSecond: 1, burst: 2 } } })
  })
  after(async () => {
    await h.close()
  })

  it('answers ThrottlingException with 429 once a thing is over its rate, and changes nothing', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
    await h.data.send(new DescribeJobExecutionCommand({ thingName, jobId }))
    await assert.rejects(
      h.data.send(new StartNextPendingJobExecutionCommand({ thingName })),
      isError(ThrottlingException, 429),
    )
    const r = await raw(h.server.dataPlaneUrl, 'GET', `/things/${thingName}/jobs`)
    assert.equal(r.status, 429)
    assert.equal(r.headers.get('x-amzn-ErrorType'), 'ThrottlingException')
    assert.equal(typeof r.json['message'], 'string')
    // The throttled StartNext did not start the execution; the control plane is not limited.
    const cp = await h.iot.send(new CpDescribeJobExecutionCommand({ thingName, jobId }))
    assert.equal(cp.execution?.status, 'QUEUED')
    assert.equal(cp.execution.versionNumber, 1)
  })

  it('limits each thing on its own', async () => {
    const busy = await createThing(h)
    const quiet = await createThing(h)
    for (let i = 0; i < 2; i += 1) await h.data.send(new GetPendingJobExecutionsCommand({ thingName: busy }))
    await assert.rejects(
      h.data.send(new GetPendingJobExecutionsCommand({ thingName: busy })),
      isError(ThrottlingException, 429),
    )
    const out = await h.data.send(new GetPendingJobExecutionsCommand({ thingName: quiet }))
    assert.deepEqual(out.queuedJobs, [])
  })

  it('refills at the configured rate as the clock moves', async () => {
    const thingName = await createThing(h)
    for (let i = 0; i < 2; i += 1) await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
    await assert.rejects(
      h.data.send(new GetPendingJobExecutionsCommand({ thingName })),
      isError(ThrottlingException, 429),
    )
    clock.advance(1000)
    await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
    await assert.rejects(
      h.data.send(new GetPendingJobExecutionsCommand({ thingName })),
      isError(ThrottlingException, 429),
    )
  })

  it('counts the prefixed data plane on the main port against the same limit', async () => {
    const thingName = await createThing(h)
    for (let i = 0; i < 2; i += 1) await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
    const r = await raw(h.server.url, 'GET', `/iot-jobs-data/things/${thingName}/jobs`)
    assert.equal(r.status, 429)
    assert.equal(r.headers.get('x-amzn-ErrorType'), 'ThrottlingException')
  })
})
