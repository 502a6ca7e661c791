/**
 * Bad input to the control-plane execution operations: CancelJobExecution, DescribeJobExecution,
 * ListJobExecutionsForJob, ListJobExecutionsForThing, DeleteJobExecution. The valid parts of each
 * request name the seeded QUEUED execution, and the base requests would cancel or (with force)
 * delete it, so a request that slipped through validation would change the database.
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
  badEnumQuery,
  badIntegerQuery,
  badLongQuery,
  badName,
  badNameQuery,
  check,
  deeplyNested,
  expectDatabaseUnchanged,
  expectRejection,
  garbageToken,
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

interface Labels {
  readonly thingName: string
  readonly jobId: string
  readonly executionNumber: string
}

interface Operation {
  readonly name: string
  readonly method: string
  readonly path: (l: Labels) => string
  readonly body?: string
  readonly labels: readonly (keyof Labels)[]
}

describe('Execution operations reject bad input and change nothing [spec: jobs-control-plane#4-operations] [spec: delete-job-execution] [spec: wire-protocol#2]', () => {
  let h: Harness
  let s: Seeded
  let cp: string
  let valid: Labels
  before(async () => {
    h = await startHarness()
    cp = h.server.url
  })
  // Fresh targets for every test, so that one request that slipped through cannot spoil the next test.
  beforeEach(async () => {
    s = await seedState(h)
    valid = { thingName: s.queuedThing, jobId: s.queuedJob, executionNumber: '1' }
  })
  after(async () => {
    await h.close()
  })

  const cancelBody = { expectedVersion: 1, statusDetails: { reason: 'bad-input' } }
  const operations: readonly Operation[] = [
    {
      name: 'CancelJobExecution',
      method: 'PUT',
      path: (l) => `/things/${l.thingName}/jobs/${l.jobId}/cancel`,
      body: JSON.stringify(cancelBody),
      labels: ['thingName', 'jobId'],
    },
    {
      name: 'DescribeJobExecution',
      method: 'GET',
      path: (l) => `/things/${l.thingName}/jobs/${l.jobId}`,
      labels: ['thingName', 'jobId'],
    },
    {
      name: 'ListJobExecutionsForJob',
      method: 'GET',
      path: (l) => `/jobs/${l.jobId}/things`,
      labels: ['jobId'],
    },
    {
      name: 'ListJobExecutionsForThing',
      method: 'GET',
      path: (l) => `/things/${l.thingName}/jobs`,
      labels: ['thingName'],
    },
    {
      name: 'DeleteJobExecution',
      method: 'DELETE',
      path: (l) => `/things/${l.thingName}/jobs/${l.jobId}/executionNumber/${l.executionNumber}?force=true`,
      labels: ['thingName', 'jobId', 'executionNumber'],
    },
  ]
  const sendOp = (op: Operation, labels: Labels) =>
    send(cp, op.method, op.path(labels), op.body === undefined ? {} : { body: op.body })

  for (const [label, rule] of [
    ['thingName', THING_NAME],
    ['jobId', JOB_ID],
  ] as const) {
    const carriers = () => operations.filter((op) => op.labels.includes(label))
    for (const [what, names, named] of [
      ['illegal characters', illegalName(rule), NAMED_ILLEGAL_NAMES],
      [`more than ${rule.max} characters`, tooLongName(rule), namedTooLongNames(rule)],
    ] as const) {
      it(`answers 400 naming ${label} for a ${label} with ${what}, in every path that carries one [spec: wire-protocol#2.1] [spec: limits#2]`, async () => {
        await expectDatabaseUnchanged(h, () =>
          check(
            [fc.nat({ max: carriers().length - 1 }), names],
            async (i, name) => {
              const reply = await sendOp(carriers()[i]!, { ...valid, [label]: segment(name) })
              expectRejection(reply, { names: label })
            },
            250,
            carriers().flatMap((_, i) => named.map((name): [number, string] => [i, name])),
          ),
        )
      })
    }
  }

  it('DeleteJobExecution: an executionNumber in the path that is not a decimal long ≥ 0 is 400 [spec: wire-protocol#2.1] [spec: delete-job-execution]', async () => {
    const deleteOp = operations.find((op) => op.name === 'DeleteJobExecution')!
    await expectDatabaseUnchanged(h, () =>
      check(
        [
          // An empty segment or one of dots would be a different path, not a bad number.
          badLongQuery(0).filter((v) => v !== '' && !/^\.+$/.test(v)),
        ],
        async (v) => {
          expectRejection(await sendOp(deleteOp, { ...valid, executionNumber: segment(v) }), {
            names: 'executionNumber',
          })
        },
        150,
      ),
    )
  })

  it('answers 400 naming the parameter for bad query values [spec: wire-protocol#2.2] [spec: wire-protocol#6] [spec: jobs-control-plane#listjobexecutionsforjob] [spec: jobs-control-plane#listjobexecutionsforthing]', async () => {
    const forJobPage = await send(cp, 'GET', `/jobs/${s.queuedJob}/things?maxResults=1`)
    const forJobToken = (forJobPage.json as { nextToken?: string }).nextToken
    assert.ok(forJobToken !== undefined, forJobPage.text)
    const execution = `/things/${s.queuedThing}/jobs/${s.queuedJob}`
    const forJob = `/jobs/${s.queuedJob}/things`
    const forThing = `/things/${s.queuedThing}/jobs`
    const deletion = `${execution}/executionNumber/1`
    const cases = fc.oneof(
      badBooleanQuery.map((v) => ({
        method: 'PUT',
        path: `${execution}/cancel`,
        params: { force: v },
        names: 'force',
      })),
      badLongQuery(0).map((v) => ({
        method: 'GET',
        path: execution,
        params: { executionNumber: v },
        names: 'executionNumber',
      })),
      badEnumQuery(EXECUTION_STATUSES).map((v) => ({
        method: 'GET',
        path: forJob,
        params: { status: v },
        names: 'status',
      })),
      badIntegerQuery(1, 250).map((v) => ({
        method: 'GET',
        path: forJob,
        params: { maxResults: v },
        names: 'maxResults',
      })),
      garbageToken([s.thingsToken]).map((v) => ({
        method: 'GET',
        path: forJob,
        params: { nextToken: v },
        names: 'nextToken',
      })),
      badEnumQuery(EXECUTION_STATUSES).map((v) => ({
        method: 'GET',
        path: forThing,
        params: { status: v },
        names: 'status',
      })),
      badNameQuery(NAMESPACE_ID).map((v) => ({
        method: 'GET',
        path: forThing,
        params: { namespaceId: v },
        names: 'namespaceId',
      })),
      badIntegerQuery(1, 250).map((v) => ({
        method: 'GET',
        path: forThing,
        params: { maxResults: v },
        names: 'maxResults',
      })),
      garbageToken([s.thingsToken, forJobToken]).map((v) => ({
        method: 'GET',
        path: forThing,
        params: { nextToken: v },
        names: 'nextToken',
      })),
      badNameQuery(JOB_ID).map((v) => ({
        method: 'GET',
        path: forThing,
        params: { jobId: v },
        names: 'jobId',
      })),
      badBooleanQuery.map((v) => ({
        method: 'DELETE',
        path: deletion,
        params: { force: v },
        names: 'force',
      })),
      badNameQuery(NAMESPACE_ID).map((v) => ({
        method: 'DELETE',
        path: deletion,
        params: { force: 'true', namespaceId: v },
        names: 'namespaceId',
      })),
    )
    await expectDatabaseUnchanged(h, () =>
      check(
        [cases],
        async (c) => {
          const reply = await send(
            cp,
            c.method,
            `${c.path}${query(c.params)}`,
            c.method === 'PUT' ? { body: JSON.stringify(cancelBody) } : {},
          )
          expectRejection(reply, { names: c.names })
        },
        500,
      ),
    )
  })

  it('ListJobExecutionsForJob: a token is refused with another status filter than the one that produced it [spec: wire-protocol#6]', async () => {
    const page = await send(cp, 'GET', `/jobs/${s.queuedJob}/things?maxResults=1`)
    const token = (page.json as { nextToken?: string }).nextToken
    assert.ok(token !== undefined, page.text)
    await expectDatabaseUnchanged(h, async () => {
      const reply = await send(
        cp,
        'GET',
        `/jobs/${s.queuedJob}/things${query({ nextToken: token, status: 'QUEUED' })}`,
      )
      expectRejection(reply, { names: 'nextToken' })
    })
  })

  const cancel = (body: string) =>
    send(cp, 'PUT', `/things/${s.queuedThing}/jobs/${s.queuedJob}/cancel`, { body })

  it('CancelJobExecution: answers 400 for a body that is not JSON, or JSON that is not an object [spec: wire-protocol#2.3]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.oneof(malformedJson(JSON.stringify(cancelBody)), nonObjectJson)],
        async (body) => {
          expectRejection(await cancel(body))
        },
        300,
      ),
    )
  })

  it('CancelJobExecution: answers 400 naming the member for wrong types and out-of-limit statusDetails [spec: jobs-control-plane#canceljobexecution] [spec: limits#2]', async () => {
    const cases: MemberCase[] = [
      member(['expectedVersion'], 'integer'),
      member(['statusDetails'], 'object'),
      member(['statusDetails', 'reason'], 'string'),
      {
        path: ['statusDetails'],
        wrong: badName(STATUS_DETAILS_KEY).map((k) => ({ [k]: 'v' })),
        names: 'statusDetails',
      },
      { path: ['statusDetails'], wrong: fc.constant({ '': 'v' }), names: 'statusDetails' },
      {
        path: ['statusDetails', 'reason'],
        wrong: fc.constantFrom('', 'a\u0000b', 'tab\there', 'new\nline', '\u200e'),
        names: 'statusDetails.reason',
      },
      {
        // [spec: limits#4] at most 10 pairs
        path: ['statusDetails'],
        wrong: fc
          .integer({ min: 11, max: 30 })
          .map((n) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`k${i}`, 'v']))),
        names: 'statusDetails',
      },
    ]
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.constantFrom(...cases).chain((c) => c.wrong.map((value) => ({ c, value })))],
        async ({ c, value }) => {
          expectRejection(await cancel(JSON.stringify(withValue(cancelBody, c.path, value))), {
            names: c.names,
          })
        },
        400,
      ),
    )
  })

  it('CancelJobExecution: an expectedVersion outside the long range is 400, not a version conflict [spec: jobs-control-plane#canceljobexecution] [spec: limits#3]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.constantFrom('1e400', '-1e400', '1e20', '-1e20', '1.5e19')],
        async (n) => {
          expectRejection(await cancel(`{"expectedVersion":${n}}`), { names: 'expectedVersion' })
        },
        10,
      ),
    )
  })

  it('CancelJobExecution: answers 400 (never 5xx) for statusDetails nested thousands of levels deep [spec: wire-protocol#2.3] [spec: wire-protocol#5.5]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.integer({ min: 1, max: 20_000 }), fc.constantFrom('array', 'object')],
        async (depth, shape: 'array' | 'object') => {
          expectRejection(
            await cancel(`{"expectedVersion":1,"statusDetails":${deeplyNested(depth, shape)}}`),
            {
              names: 'statusDetails',
            },
          )
        },
        25,
      ),
    )
  })

  it('CancelJobExecution: answers 413 for a body larger than 1 MiB, even when it is otherwise valid [spec: wire-protocol#2.3]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.integer({ min: 1024 * 1024 + 1, max: 3 * 1024 * 1024 })],
        async (size) => {
          const prefix = '{"expectedVersion":1,"padding":"'
          expectRejection(await cancel(`${prefix}${'x'.repeat(size - prefix.length - 2)}"}`), TOO_LARGE)
        },
        5,
      ),
    )
  })

  it('control: the unbroken requests these properties corrupt are accepted [spec: jobs-control-plane#canceljobexecution] [spec: delete-job-execution]', async () => {
    // Runs last: it cancels, then deletes, the seeded QUEUED execution.
    for (const op of operations) {
      const reply = await sendOp(op, valid)
      assert.equal(reply.status, 200, `${op.name}: ${reply.text} for ${reply.request}`)
    }
  })
})
