/**
 * The seed's `{"success": …}` envelope, opt-in with `responseStyle: 'envelope'` (docs/envelope.md), and
 * its absence by default. AWS SDKs cannot read enveloped bodies (spec wire-protocol §5.2), so the
 * enveloped responses are read with plain fetch; setup goes through the SDKs, which only need the 200.
 * [spec: wire-protocol#5.2-how-clients-resolve-the-error-name-verified] [spec: README#decisions-every-implementer-must-know-summary]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, raw, startHarness, thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT, ManualClock, createJob, createThing, report } from '../support/device.js'

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/

type Reply = Awaited<ReturnType<typeof raw>>

/** `{"success": true, "data": …}` with status 200; returns `data`. */
function successData(r: Reply): Record<string, unknown> {
  assert.equal(r.status, 200, JSON.stringify(r.json))
  assert.deepEqual(Object.keys(r.json).sort(), ['data', 'success'])
  assert.equal(r.json['success'], true)
  const data = r.json['data']
  assert.ok(typeof data === 'object' && data !== null && !Array.isArray(data), 'data is an object')
  return data as Record<string, unknown>
}

/** `{"success": false, "error": {"code", "message"}}` with the AWS status; the AWS header stays. */
function assertEnvelopeError(r: Reply, status: number, code: string, awsErrorType: string): void {
  assert.equal(r.status, status, JSON.stringify(r.json))
  assert.deepEqual(Object.keys(r.json).sort(), ['error', 'success'])
  assert.equal(r.json['success'], false)
  const error = r.json['error'] as Record<string, unknown>
  assert.deepEqual(Object.keys(error).sort(), ['code', 'message'])
  assert.equal(error['code'], code)
  assert.equal(typeof error['message'], 'string')
  assert.ok((error['message'] as string).length > 0)
  assert.equal(r.headers.get('x-amzn-ErrorType'), awsErrorType)
  assert.ok(r.headers.get('x-amzn-RequestId'))
}

describe("responseStyle 'envelope' [spec: wire-protocol#5.2] [docs: envelope]", () => {
  let h: Harness
  let cp: string
  let dp: string
  const clock = new ManualClock()
  before(async () => {
    // Data-plane burst 3 and a clock that only moves when told: each thing may make three
    // data-plane requests; the THROTTLED case makes a fourth.
    h = await startHarness({
      responseStyle: 'envelope',
      clock,
      rateLimit: { dataPlane: { ratePerSecond: 1, burst: 3 } },
    })
    cp = h.server.url
    dp = h.server.dataPlaneUrl
  })
  after(async () => {
    await h.close()
  })

  describe('success', () => {
    it('wraps control-plane bodies: CreateThing, DescribeThing, DescribeJob', async () => {
      const thingName = unique('thing')
      const created = successData(await raw(cp, 'POST', `/things/${thingName}`, '{}'))
      assert.equal(created['thingName'], thingName)
      assert.equal(created['thingArn'], thingArnOf(thingName))
      assert.equal(typeof created['thingId'], 'string')

      const described = successData(await raw(cp, 'GET', `/things/${thingName}`))
      assert.equal(described['thingName'], thingName)
      assert.equal(described['thingId'], created['thingId'])
      assert.equal(described['version'], 1)

      const jobId = await createJob(h, [thingName])
      const job = successData(await raw(cp, 'GET', `/jobs/${jobId}`))['job'] as Record<string, unknown>
      assert.equal(job['jobId'], jobId)
      assert.equal(job['status'], 'IN_PROGRESS')
      assert.equal(job['createdAt'], clock.nowMs() / 1000, 'the AWS body inside is unchanged: epoch seconds')
    })

    it('wraps data-plane bodies: GetPendingJobExecutions, StartNextPendingJobExecution, DescribeJobExecution', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      const pending = successData(await raw(dp, 'GET', `/things/${thingName}/jobs`))
      assert.deepEqual(pending, {
        inProgressJobs: [],
        queuedJobs: [
          {
            jobId,
            queuedAt: clock.seconds(),
            lastUpdatedAt: clock.seconds(),
            versionNumber: 1,
            executionNumber: 1,
          },
        ],
      })
      const started = successData(await raw(dp, 'PUT', `/things/${thingName}/jobs/$next`, '{}'))
      const execution = started['execution'] as Record<string, unknown>
      assert.equal(execution['jobId'], jobId)
      assert.equal(execution['status'], 'IN_PROGRESS')
      assert.equal(execution['jobDocument'], DOCUMENT)
      const described = successData(await raw(dp, 'GET', `/things/${thingName}/jobs/${jobId}`))
      assert.deepEqual(described['execution'], execution)
    })

    it('keeps data {} for operations with output members whose answer is empty (StartNext with nothing pending, UpdateJobExecution)', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      const updated = await raw(dp, 'POST', `/things/${thingName}/jobs/${jobId}`, '{"status":"SUCCEEDED"}')
      assert.deepEqual(successData(updated), {})
      const none = await raw(dp, 'PUT', `/things/${thingName}/jobs/$next`, '{}')
      assert.deepEqual(successData(none), {})
    })
  })

  describe('operations whose AWS body is empty: data is {id, created_at}', () => {
    it('UpdateThing: id is the thing name, created_at the time of the operation', async () => {
      const thingName = await createThing(h)
      clock.advance(1234)
      const r = await raw(
        cp,
        'PATCH',
        `/things/${thingName}`,
        JSON.stringify({ attributePayload: { attributes: { color: 'blue' } } }),
      )
      const data = successData(r)
      assert.deepEqual(data, { id: thingName, created_at: new Date(clock.nowMs()).toISOString() })
      assert.match(data.created_at, ISO_8601)
      const described = successData(await raw(cp, 'GET', `/things/${thingName}`))
      assert.deepEqual(described['attributes'], { color: 'blue' })
      assert.equal(described['version'], 2)
    })

    it('DeleteThing: id is the thing name', async () => {
      const thingName = await createThing(h)
      clock.advance(2000)
      const data = successData(await raw(cp, 'DELETE', `/things/${thingName}`))
      assert.deepEqual(data, { id: thingName, created_at: new Date(clock.nowMs()).toISOString() })
      assertEnvelopeError(
        await raw(cp, 'GET', `/things/${thingName}`),
        404,
        'NOT_FOUND',
        'ResourceNotFoundException',
      )
    })

    it('CancelJobExecution: id is <jobId>/<thingName>/latest (the request names no execution number)', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      clock.advance(500)
      const r = await raw(cp, 'PUT', `/things/${thingName}/jobs/${jobId}/cancel`, '{}')
      assert.deepEqual(successData(r), {
        id: `${jobId}/${thingName}/latest`,
        created_at: new Date(clock.nowMs()).toISOString(),
      })
      const e = successData(await raw(cp, 'GET', `/things/${thingName}/jobs/${jobId}`))['execution']
      assert.equal((e as Record<string, unknown>)['status'], 'CANCELED')
    })

    it('DeleteJobExecution: id is <jobId>/<thingName>/<executionNumber>', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      await report(h, jobId, thingName, 'SUCCEEDED')
      clock.advance(750)
      const r = await raw(cp, 'DELETE', `/things/${thingName}/jobs/${jobId}/executionNumber/1`)
      assert.deepEqual(successData(r), {
        id: `${jobId}/${thingName}/1`,
        created_at: new Date(clock.nowMs()).toISOString(),
      })
      assertEnvelopeError(
        await raw(cp, 'GET', `/things/${thingName}/jobs/${jobId}`),
        404,
        'NOT_FOUND',
        'ResourceNotFoundException',
      )
    })
  })

  describe('errors keep the HTTP status and carry an UPPER_SNAKE code', () => {
    it('VALIDATION_ERROR for InvalidRequestException (400), on both planes', async () => {
      assertEnvelopeError(
        await raw(cp, 'GET', '/things/bad%20name'),
        400,
        'VALIDATION_ERROR',
        'InvalidRequestException',
      )
      assertEnvelopeError(
        await raw(cp, 'POST', `/things/${unique('thing')}`, '{not json'),
        400,
        'VALIDATION_ERROR',
        'InvalidRequestException',
      )
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      assertEnvelopeError(
        await raw(dp, 'POST', `/things/${thingName}/jobs/${jobId}`, '{"status":"QUEUED"}'),
        400,
        'VALIDATION_ERROR',
        'InvalidRequestException',
      )
    })

    it('NOT_FOUND for ResourceNotFoundException (404), on both planes', async () => {
      assertEnvelopeError(
        await raw(cp, 'GET', `/jobs/${unique('missing')}`),
        404,
        'NOT_FOUND',
        'ResourceNotFoundException',
      )
      assertEnvelopeError(
        await raw(dp, 'GET', `/things/${unique('missing')}/jobs`),
        404,
        'NOT_FOUND',
        'ResourceNotFoundException',
      )
    })

    it('INVALID_STATE_TRANSITION for InvalidStateTransitionException (409), on both planes', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      assertEnvelopeError(
        await raw(cp, 'DELETE', `/things/${thingName}/jobs/${jobId}/executionNumber/1`),
        409,
        'INVALID_STATE_TRANSITION',
        'InvalidStateTransitionException',
      )
      await report(h, jobId, thingName, 'FAILED')
      assertEnvelopeError(
        await raw(dp, 'POST', `/things/${thingName}/jobs/${jobId}`, '{"status":"IN_PROGRESS"}'),
        409,
        'INVALID_STATE_TRANSITION',
        'InvalidStateTransitionException',
      )
    })

    it('VERSION_CONFLICT for VersionConflictException (409)', async () => {
      const thingName = await createThing(h)
      assertEnvelopeError(
        await raw(cp, 'PATCH', `/things/${thingName}`, '{"expectedVersion":5}'),
        409,
        'VERSION_CONFLICT',
        'VersionConflictException',
      )
    })

    it('ALREADY_EXISTS for ResourceAlreadyExistsException (409)', async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      const body = JSON.stringify({ targets: [thingArnOf(thingName)], document: DOCUMENT })
      assertEnvelopeError(
        await raw(cp, 'PUT', `/jobs/${jobId}`, body),
        409,
        'ALREADY_EXISTS',
        'ResourceAlreadyExistsException',
      )
    })

    it('THROTTLED for the data-plane ThrottlingException (429)', async () => {
      const thingName = await createThing(h)
      for (let i = 0; i < 3; i += 1) successData(await raw(dp, 'GET', `/things/${thingName}/jobs`))
      assertEnvelopeError(
        await raw(dp, 'GET', `/things/${thingName}/jobs`),
        429,
        'THROTTLED',
        'ThrottlingException',
      )
    })

    it('UNKNOWN_OPERATION for a request that matches no operation (404)', async () => {
      assertEnvelopeError(
        await raw(cp, 'GET', '/thing-types'),
        404,
        'UNKNOWN_OPERATION',
        'UnknownOperationException',
      )
    })
  })
})

describe("the default responseStyle 'aws' never wraps [spec: README#decisions-every-implementer-must-know-summary] [spec: wire-protocol#3-responses] [spec: wire-protocol#5.1]", () => {
  let h: Harness
  let cp: string
  let dp: string
  before(async () => {
    h = await startHarness()
    cp = h.server.url
    dp = h.server.dataPlaneUrl
  })
  after(async () => {
    await h.close()
  })

  const assertUnwrapped = (r: Reply): void => {
    assert.ok(!('success' in r.json), `no success member: ${JSON.stringify(r.json)}`)
    assert.ok(!('data' in r.json), `no data member: ${JSON.stringify(r.json)}`)
    assert.ok(!('error' in r.json), `no error member: ${JSON.stringify(r.json)}`)
  }

  it('success bodies are the AWS bodies; empty-output operations answer {}', async () => {
    const thingName = unique('thing')
    const created = await raw(cp, 'POST', `/things/${thingName}`, '{}')
    assert.equal(created.status, 200)
    assertUnwrapped(created)
    assert.equal(created.json['thingName'], thingName)
    const jobId = await createJob(h, [thingName])

    const pending = await raw(dp, 'GET', `/things/${thingName}/jobs`)
    assert.equal(pending.status, 200)
    assert.deepEqual(Object.keys(pending.json).sort(), ['inProgressJobs', 'queuedJobs'])

    const emptyOutputs: [string, string, string?][] = [
      ['PATCH', `/things/${thingName}`, '{"attributePayload":{"attributes":{"a":"b"}}}'],
      ['PUT', `/things/${thingName}/jobs/${jobId}/cancel`, '{}'],
      ['DELETE', `/things/${thingName}/jobs/${jobId}/executionNumber/1`],
      ['DELETE', `/things/${thingName}`],
    ]
    for (const [method, path, body] of emptyOutputs) {
      const r = await raw(cp, method, path, body)
      assert.equal(r.status, 200, `${method} ${path}`)
      assert.deepEqual(r.json, {}, `${method} ${path}`)
    }
  })

  it('error bodies are {"message"} with x-amzn-ErrorType', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    const errors: [string, string, string, string | undefined, number, string][] = [
      [cp, 'GET', '/things/bad%20name', undefined, 400, 'InvalidRequestException'],
      [cp, 'GET', `/jobs/${unique('missing')}`, undefined, 404, 'ResourceNotFoundException'],
      [
        cp,
        'DELETE',
        `/things/${thingName}/jobs/${jobId}/executionNumber/1`,
        undefined,
        409,
        'InvalidStateTransitionException',
      ],
      [cp, 'PATCH', `/things/${thingName}`, '{"expectedVersion":5}', 409, 'VersionConflictException'],
      [cp, 'GET', '/thing-types', undefined, 404, 'UnknownOperationException'],
      [dp, 'GET', `/things/${unique('missing')}/jobs`, undefined, 404, 'ResourceNotFoundException'],
      [
        dp,
        'POST',
        `/things/${thingName}/jobs/${jobId}`,
        '{"status":"QUEUED"}',
        400,
        'InvalidRequestException',
      ],
    ]
    for (const [base, method, path, body, status, errorType] of errors) {
      const r = await raw(base, method, path, body)
      assert.equal(r.status, status, `${method} ${path}`)
      assert.equal(r.headers.get('x-amzn-ErrorType'), errorType, `${method} ${path}`)
      assertUnwrapped(r)
      assert.equal(typeof r.json['message'], 'string')
    }
  })

  it('ResourceAlreadyExistsException carries resourceId and resourceArn next to message [spec: wire-protocol#5.1]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    const body = JSON.stringify({ targets: [thingArnOf(thingName)], document: DOCUMENT })
    const r = await raw(cp, 'PUT', `/jobs/${jobId}`, body)
    assert.equal(r.status, 409)
    assert.equal(r.headers.get('x-amzn-ErrorType'), 'ResourceAlreadyExistsException')
    assertUnwrapped(r)
    assert.equal(r.json['resourceId'], jobId)
    assert.equal(r.json['resourceArn'], `arn:aws:iot:${REGION}:${ACCOUNT}:job/${jobId}`)
  })
})
