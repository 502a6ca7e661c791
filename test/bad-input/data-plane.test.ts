/**
 * Bad input to the device data plane (`iot-jobs-data`): GetPendingJobExecutions,
 * StartNextPendingJobExecution, DescribeJobExecution, UpdateJobExecution, on the data-plane listener
 * and under the `/iot-jobs-data` prefix of the main listener. The valid parts name real executions:
 * StartNext would start the seeded QUEUED execution and UpdateJobExecution would finish the seeded
 * IN_PROGRESS one, so a request that slipped through validation would change the database.
 */
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness } from '../support/harness.js'
import type { MemberCase, Seeded } from '../support/bad-input.js'
import {
  TOO_LARGE,
  JOB_ID,
  NAMED_ILLEGAL_NAMES,
  namedTooLongNames,
  THING_NAME,
  badBooleanQuery,
  badLongQuery,
  badName,
  badNameQuery,
  check,
  deeplyNested,
  expectDatabaseUnchanged,
  expectRejection,
  illegalName,
  malformedJson,
  member,
  nonObjectJson,
  query,
  seedState,
  segment,
  send,
  tooLongName,
  withValue,
} from '../support/bad-input.js'

const EXECUTION_STATUSES = [
  'QUEUED',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'REJECTED',
  'REMOVED',
  'CANCELED',
] as const
const NAMESPACE_ID = { ...JOB_ID, label: 'namespaceId' } as const
/** [spec: limits#2] statusDetails keys 1..128 `[a-zA-Z0-9:_-]+`, like thing names. */
const STATUS_DETAILS_KEY = { ...THING_NAME, label: 'statusDetails key' } as const

/**
 * An `Authorization` header whose credential scope names `iot-jobs-data`: the main listener routes
 * such requests to the data plane (signatures are not verified by default). [spec: wire-protocol#7]
 */
const SIGNED_FOR_DATA_PLANE =
  'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20250101/us-east-1/iot-jobs-data/aws4_request, SignedHeaders=host;x-amz-date, Signature=0000'

/** A way to reach the data plane. */
interface Via {
  readonly url: string
  readonly headers: Record<string, string>
}

interface Labels {
  readonly thingName: string
  readonly jobId: string
}

interface Operation {
  readonly name: string
  readonly method: string
  readonly path: (l: Labels) => string
  readonly body?: () => Record<string, unknown>
}

describe('Data plane rejects bad input and changes nothing [spec: jobs-device-api#1-http-data-plane] [spec: wire-protocol#2] [spec: limits]', () => {
  let h: Harness
  let s: Seeded
  /**
   * The three ways to reach the data plane: its own listener, the `/iot-jobs-data` prefix on the main
   * listener, and a request on the main listener signed for `iot-jobs-data`. [spec: wire-protocol#1]
   */
  let bases: [Via, Via, Via]
  before(async () => {
    h = await startHarness()
    bases = [
      { url: h.server.dataPlaneUrl, headers: {} },
      { url: `${h.server.url}/iot-jobs-data`, headers: {} },
      { url: h.server.url, headers: { authorization: SIGNED_FOR_DATA_PLANE } },
    ]
  })
  after(async () => {
    await h.close()
  })
  // Fresh targets for every test, so that one request that slipped through cannot spoil the next test.
  beforeEach(async () => {
    s = await seedState(h)
  })

  const startNextBody = () => ({ statusDetails: { progress: 'started' }, stepTimeoutInMinutes: 5 })
  const updateBody = () => ({
    status: 'SUCCEEDED',
    statusDetails: { progress: 'done' },
    stepTimeoutInMinutes: 5,
    expectedVersion: 2,
    includeJobExecutionState: true,
    includeJobDocument: true,
    executionNumber: 1,
  })
  const operations: readonly Operation[] = [
    { name: 'GetPendingJobExecutions', method: 'GET', path: (l) => `/things/${l.thingName}/jobs` },
    {
      name: 'StartNextPendingJobExecution',
      method: 'PUT',
      path: (l) => `/things/${l.thingName}/jobs/$next`,
      body: startNextBody,
    },
    { name: 'DescribeJobExecution', method: 'GET', path: (l) => `/things/${l.thingName}/jobs/${l.jobId}` },
    {
      name: 'UpdateJobExecution',
      method: 'POST',
      path: (l) => `/things/${l.thingName}/jobs/${l.jobId}`,
      body: updateBody,
    },
  ]
  const sendOp = (via: Via, op: Operation, labels: Labels, suffix = '') =>
    send(via.url, op.method, `${op.path(labels)}${suffix}`, {
      headers: via.headers,
      ...(op.body === undefined ? {} : { body: JSON.stringify(op.body()) }),
    })
  const byName = (name: string) => operations.find((op) => op.name === name)!
  const startNext = (via: Via, body: string) =>
    send(via.url, 'PUT', `/things/${s.queuedThing}/jobs/$next`, { body, headers: via.headers })
  const update = (via: Via, body: string) =>
    send(via.url, 'POST', `/things/${s.runningThing}/jobs/${s.runningJob}`, { body, headers: via.headers })

  for (const [what, names, named] of [
    ['illegal characters', illegalName(THING_NAME), NAMED_ILLEGAL_NAMES],
    ['more than 128 characters', tooLongName(THING_NAME), namedTooLongNames(THING_NAME)],
  ] as const) {
    it(`answers 400 naming thingName for a thing name with ${what}, in all four paths [spec: jobs-device-api#1.1] [spec: limits#2]`, async () => {
      await expectDatabaseUnchanged(h, () =>
        check(
          [fc.nat({ max: 2 }), fc.nat({ max: operations.length - 1 }), names],
          async (b, i, name) => {
            const reply = await sendOp(bases[b]!, operations[i]!, {
              thingName: segment(name),
              jobId: s.runningJob,
            })
            expectRejection(reply, { names: 'thingName' })
          },
          250,
          operations.flatMap((_, i) => named.map((name): [number, number, string] => [i % 3, i, name])),
        ),
      )
    })
  }

  it('answers 400 naming jobId for a job id with illegal characters (DescribeJobExecution, UpdateJobExecution) [spec: jobs-device-api#1.4] [spec: jobs-device-api#1.5]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [
          fc.nat({ max: 2 }),
          fc.constantFrom('DescribeJobExecution', 'UpdateJobExecution'),
          illegalName(JOB_ID),
        ],
        async (b, name, jobId) => {
          const reply = await sendOp(bases[b]!, byName(name), {
            thingName: s.runningThing,
            jobId: segment(jobId),
          })
          expectRejection(reply, { names: 'jobId' })
        },
        250,
        [0, 1, 2].flatMap((b) =>
          (['DescribeJobExecution', 'UpdateJobExecution'] as const).flatMap((name) =>
            NAMED_ILLEGAL_NAMES.map(
              (jobId): [number, 'DescribeJobExecution' | 'UpdateJobExecution', string] => [b, name, jobId],
            ),
          ),
        ),
      ),
    )
  })

  it('UpdateJobExecution: answers 400 naming jobId for a job id longer than 64 characters [spec: jobs-device-api#1.5] [spec: limits#2]', async () => {
    // DescribeJobExecution's jobId has no length limit in the data-plane model, so only Update here.
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.nat({ max: 2 }), tooLongName(JOB_ID)],
        async (b, jobId) => {
          const reply = await sendOp(bases[b]!, byName('UpdateJobExecution'), {
            thingName: s.runningThing,
            jobId: segment(jobId),
          })
          expectRejection(reply, { names: 'jobId' })
        },
        100,
        [0, 1, 2].map((b): [number, string] => [b, namedTooLongNames(JOB_ID)[0]!]),
      ),
    )
  })

  it('answers 400 naming the parameter for bad query values [spec: jobs-device-api#1.1] [spec: jobs-device-api#1.4] [spec: wire-protocol#2.2]', async () => {
    const cases = fc.oneof(
      fc.tuple(fc.nat({ max: operations.length - 1 }), badNameQuery(NAMESPACE_ID)).map(([i, v]) => ({
        op: operations[i]!,
        params: { namespaceId: v },
        names: 'namespaceId',
      })),
      badBooleanQuery.map((v) => ({
        op: byName('DescribeJobExecution'),
        params: { includeJobDocument: v },
        names: 'includeJobDocument',
      })),
      badLongQuery(0).map((v) => ({
        op: byName('DescribeJobExecution'),
        params: { executionNumber: v },
        names: 'executionNumber',
      })),
    )
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.nat({ max: 2 }), cases],
        async (b, c) => {
          const labels = {
            thingName: c.op.name === 'StartNextPendingJobExecution' ? s.queuedThing : s.runningThing,
            jobId: s.runningJob,
          }
          expectRejection(await sendOp(bases[b]!, c.op, labels, query(c.params)), { names: c.names })
        },
        400,
      ),
    )
  })

  it('StartNext and Update: answer 400 for a body that is not JSON, or JSON that is not an object [spec: wire-protocol#2.3]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [
          fc.nat({ max: 2 }),
          fc.boolean(),
          fc.oneof(malformedJson(JSON.stringify(updateBody())), nonObjectJson),
        ],
        async (b, isStart, body) => {
          expectRejection(isStart ? await startNext(bases[b]!, body) : await update(bases[b]!, body))
        },
        300,
      ),
    )
  })

  const statusDetailsCases: MemberCase[] = [
    member(['statusDetails'], 'object'),
    member(['statusDetails', 'progress'], 'string'),
    member(['stepTimeoutInMinutes'], 'integer'),
    {
      path: ['statusDetails'],
      wrong: badName(STATUS_DETAILS_KEY).map((k) => ({ [k]: 'v' })),
      names: 'statusDetails',
    },
    { path: ['statusDetails'], wrong: fc.constant({ '': 'v' }), names: 'statusDetails' },
    {
      // [spec: limits#2] values 1..1024 characters without control characters
      path: ['statusDetails', 'progress'],
      wrong: fc.oneof(
        fc.constantFrom('', 'a\u0000b', 'tab\there', 'new\nline', '\u200e'),
        fc.integer({ min: 1025, max: 3000 }).map((n) => 'v'.repeat(n)),
      ),
      names: 'statusDetails.progress',
    },
    {
      // [spec: jobs-device-api#1.1] at most 10 pairs
      path: ['statusDetails'],
      wrong: fc
        .integer({ min: 11, max: 30 })
        .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))),
      names: 'statusDetails',
    },
  ]

  it('StartNextPendingJobExecution: answers 400 naming the member for wrong types and out-of-limit values [spec: jobs-device-api#1.3] [spec: limits]', async () => {
    const cases: MemberCase[] = [
      ...statusDetailsCases,
      // [spec: jobs-device-api#1.1] 1..10080; -1 only on UpdateJobExecution
      {
        path: ['stepTimeoutInMinutes'],
        wrong: fc.constantFrom(0, -1, -2, 10081, 1e9),
        names: 'stepTimeoutInMinutes',
      },
    ]
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.nat({ max: 2 }), fc.constantFrom(...cases).chain((c) => c.wrong.map((value) => ({ c, value })))],
        async (b, { c, value }) => {
          const reply = await startNext(bases[b]!, JSON.stringify(withValue(startNextBody(), c.path, value)))
          expectRejection(reply, { names: c.names })
        },
        400,
      ),
    )
  })

  it('UpdateJobExecution: answers 400 naming the member for wrong types and out-of-limit values [spec: jobs-device-api#1.5] [spec: limits]', async () => {
    const cases: MemberCase[] = [
      ...statusDetailsCases,
      member(['status'], EXECUTION_STATUSES),
      member(['expectedVersion'], 'integer'),
      member(['includeJobExecutionState'], 'boolean'),
      member(['includeJobDocument'], 'boolean'),
      member(['executionNumber'], 'integer'),
      {
        path: ['stepTimeoutInMinutes'],
        wrong: fc.constantFrom(0, -2, 10081, 1e9),
        names: 'stepTimeoutInMinutes',
      },
      // [spec: limits#3] executionNumber is a long ≥ 0, < 2^53 here
      { path: ['executionNumber'], wrong: fc.constantFrom(-1, 2 ** 53, 1e300), names: 'executionNumber' },
    ]
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.nat({ max: 2 }), fc.constantFrom(...cases).chain((c) => c.wrong.map((value) => ({ c, value })))],
        async (b, { c, value }) => {
          const reply = await update(bases[b]!, JSON.stringify(withValue(updateBody(), c.path, value)))
          expectRejection(reply, { names: c.names })
        },
        600,
      ),
    )
  })

  it('UpdateJobExecution: status is required, and a device may only set IN_PROGRESS, SUCCEEDED, FAILED, REJECTED [spec: jobs-device-api#1.5]', async () => {
    await expectDatabaseUnchanged(h, async () => {
      for (const base of bases) {
        const { status: _status, ...withoutStatus } = updateBody()
        expectRejection(await update(base, JSON.stringify(withoutStatus)), { names: 'status' })
        for (const status of ['QUEUED', 'TIMED_OUT', 'REMOVED', 'CANCELED']) {
          expectRejection(await update(base, JSON.stringify({ ...updateBody(), status })), {
            names: 'status',
          })
        }
      }
    })
  })

  it('UpdateJobExecution: an expectedVersion outside the long range is 400, not a conflict [spec: jobs-device-api#1.5] [spec: limits#3]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.constantFrom('1e400', '-1e400', '1e20', '-1e20', '1.5e19')],
        async (n) => {
          expectRejection(await update(bases[0], `{"status":"SUCCEEDED","expectedVersion":${n}}`), {
            names: 'expectedVersion',
          })
        },
        10,
      ),
    )
  })

  it('StartNext and Update: answer 400 (never 5xx) for statusDetails nested thousands of levels deep [spec: wire-protocol#2.3] [spec: wire-protocol#5.5]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.boolean(), fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('array', 'object')],
        async (isStart, depth, shape: 'array' | 'object') => {
          const nested = deeplyNested(depth, shape)
          const reply = isStart
            ? await startNext(bases[0], `{"statusDetails":${nested}}`)
            : await update(bases[0], `{"status":"SUCCEEDED","statusDetails":${nested}}`)
          expectRejection(reply, { names: 'statusDetails' })
        },
        25,
      ),
    )
  })

  it('StartNext and Update: answer 413 for a body larger than 1 MiB, even when it is otherwise valid [spec: wire-protocol#2.3]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.nat({ max: 2 }), fc.boolean(), fc.integer({ min: 1024 * 1024 + 1, max: 3 * 1024 * 1024 })],
        async (b, isStart, size) => {
          const prefix = isStart ? '{"padding":"' : '{"status":"SUCCEEDED","padding":"'
          const body = `${prefix}${'x'.repeat(size - prefix.length - 2)}"}`
          expectRejection(
            isStart ? await startNext(bases[b]!, body) : await update(bases[b]!, body),
            TOO_LARGE,
          )
        },
        6,
      ),
    )
  })

  it('control: the unbroken requests these properties corrupt are accepted [spec: jobs-device-api#1]', async () => {
    // Each way in reaches the data plane (its answer has the data-plane shape), so the properties
    // above really tested the data plane three times.
    for (const via of bases) {
      const pending = await sendOp(via, byName('GetPendingJobExecutions'), {
        thingName: s.runningThing,
        jobId: '',
      })
      assert.equal(pending.status, 200, `${pending.text} for ${pending.request}`)
      assert.deepEqual(
        Object.keys(pending.json as object).sort(),
        ['inProgressJobs', 'queuedJobs'],
        pending.request,
      )
    }
    // Runs last: StartNext starts the QUEUED execution and Update finishes the IN_PROGRESS one.
    for (const op of operations) {
      const thingName = op.name === 'StartNextPendingJobExecution' ? s.queuedThing : s.runningThing
      const reply = await sendOp(bases[0], op, { thingName, jobId: s.runningJob })
      assert.equal(reply.status, 200, `${op.name}: ${reply.text} for ${reply.request}`)
    }
  })
})
