/**
 * Bad input to the job operations: CreateJob, DescribeJob, ListJobs, GetJobDocument. Every request is
 * malformed in exactly one way; CreateJob's base body is a valid, fully configured job on a real
 * thing, so a member that slipped through validation would create a job and change the database.
 */
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, startHarness, thingArnOf, unique } from '../support/harness.js'
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

/** [spec: limits#2] job document ≤ 32768 characters. */
const MAX_DOCUMENT_CHARS = 32768
const JOB_STATUSES = ['IN_PROGRESS', 'CANCELED', 'COMPLETED', 'DELETION_IN_PROGRESS', 'SCHEDULED'] as const
const TARGET_SELECTIONS = ['CONTINUOUS', 'SNAPSHOT'] as const
const THING_GROUP_ID = {
  label: 'thingGroupId',
  alphabet: 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-',
  max: 128,
} as const
const NAMESPACE_ID = { ...JOB_ID, label: 'namespaceId' } as const

/** A JSON object document of exactly `chars` characters (code points), some of them astral. */
function documentOf(chars: number): string {
  const frame = '{"p":""}'
  const fill = chars - frame.length
  const emoji = Math.min(50, Math.max(0, fill))
  return `{"p":"${'😀'.repeat(emoji)}${'x'.repeat(fill - emoji)}"}`
}

describe('Job operations reject bad input and change nothing [spec: jobs-control-plane#4-operations] [spec: wire-protocol#2] [spec: limits]', () => {
  let h: Harness
  let s: Seeded
  let cp: string
  before(async () => {
    h = await startHarness()
    cp = h.server.url
  })
  // Fresh targets for every test, so that one request that slipped through cannot spoil the next test.
  beforeEach(async () => {
    s = await seedState(h)
  })
  after(async () => {
    await h.close()
  })

  /** Valid on its own: creates a job with every configuration the model offers. */
  const jobBody = (): Record<string, unknown> => ({
    targets: [thingArnOf(s.queuedThing)],
    document: '{"operation":"bad-input"}',
    description: 'bad input base job',
    presignedUrlConfig: { roleArn: `arn:aws:iam::${ACCOUNT}:role/fleet-urls`, expiresInSec: 3600 },
    targetSelection: 'SNAPSHOT',
    jobExecutionsRolloutConfig: {
      maximumPerMinute: 100,
      exponentialRate: {
        baseRatePerMinute: 10,
        incrementFactor: 2,
        rateIncreaseCriteria: { numberOfNotifiedThings: 5 },
      },
    },
    abortConfig: {
      criteriaList: [
        { failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 50, minNumberOfExecutedThings: 1 },
      ],
    },
    timeoutConfig: { inProgressTimeoutInMinutes: 60 },
    tags: [{ Key: 'team', Value: 'fleet' }],
    namespaceId: 'bad-input-ns',
    jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 2 }] },
  })
  const createJob = (body: string, jobId = unique('never')) => send(cp, 'PUT', `/jobs/${jobId}`, { body })

  const pathOperations = (jobId: string) =>
    [
      { name: 'CreateJob', method: 'PUT', path: `/jobs/${jobId}`, body: JSON.stringify(jobBody()) },
      { name: 'DescribeJob', method: 'GET', path: `/jobs/${jobId}` },
      { name: 'GetJobDocument', method: 'GET', path: `/jobs/${jobId}/job-document` },
    ] as const

  for (const [what, names, named] of [
    [
      'illegal characters (., space, :, unicode, %2F, control characters)',
      illegalName(JOB_ID),
      [...NAMED_ILLEGAL_NAMES, 'a:b'],
    ],
    ['more than 64 characters', tooLongName(JOB_ID), namedTooLongNames(JOB_ID)],
  ] as const) {
    it(`answers 400 naming jobId for a job id with ${what}, in every path [spec: wire-protocol#2.1] [spec: limits#2]`, async () => {
      await expectDatabaseUnchanged(h, () =>
        check(
          [fc.integer({ min: 0, max: 2 }), names],
          async (i, name) => {
            const op = pathOperations(segment(name))[i]!
            const reply = await send(cp, op.method, op.path, 'body' in op ? { body: op.body } : {})
            expectRejection(reply, { names: 'jobId' })
          },
          300,
          [0, 1, 2].flatMap((i) => named.map((name): [number, string] => [i, name])),
        ),
      )
    })
  }

  it('CreateJob: answers 400 for a body that is not JSON, or JSON that is not an object [spec: wire-protocol#2.3]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.oneof(malformedJson(JSON.stringify(jobBody())), nonObjectJson)],
        async (body) => {
          expectRejection(await createJob(body))
        },
        300,
      ),
    )
  })

  const typeCases: MemberCase[] = [
    member(['targets'], 'list'),
    member(['targets', 0], 'string'),
    member(['document'], 'string'),
    member(['documentSource'], 'string'),
    member(['description'], 'string'),
    member(['presignedUrlConfig'], 'object'),
    member(['presignedUrlConfig', 'roleArn'], 'string'),
    member(['presignedUrlConfig', 'expiresInSec'], 'integer'),
    member(['targetSelection'], TARGET_SELECTIONS),
    member(['jobExecutionsRolloutConfig'], 'object'),
    member(['jobExecutionsRolloutConfig', 'maximumPerMinute'], 'integer'),
    member(['jobExecutionsRolloutConfig', 'exponentialRate'], 'object'),
    member(['jobExecutionsRolloutConfig', 'exponentialRate', 'baseRatePerMinute'], 'integer'),
    member(['jobExecutionsRolloutConfig', 'exponentialRate', 'incrementFactor'], 'double'),
    member(['jobExecutionsRolloutConfig', 'exponentialRate', 'rateIncreaseCriteria'], 'object'),
    member(
      ['jobExecutionsRolloutConfig', 'exponentialRate', 'rateIncreaseCriteria', 'numberOfNotifiedThings'],
      'integer',
    ),
    member(['abortConfig'], 'object'),
    member(['abortConfig', 'criteriaList'], 'list'),
    member(['abortConfig', 'criteriaList', 0], 'object'),
    member(['abortConfig', 'criteriaList', 0, 'failureType'], ['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL']),
    member(['abortConfig', 'criteriaList', 0, 'action'], ['CANCEL']),
    member(['abortConfig', 'criteriaList', 0, 'thresholdPercentage'], 'double'),
    member(['abortConfig', 'criteriaList', 0, 'minNumberOfExecutedThings'], 'integer'),
    member(['timeoutConfig'], 'object'),
    member(['timeoutConfig', 'inProgressTimeoutInMinutes'], 'integer'),
    member(['tags'], 'list'),
    member(['tags', 0], 'object'),
    member(['tags', 0, 'Key'], 'string'),
    member(['tags', 0, 'Value'], 'string'),
    member(['namespaceId'], 'string'),
    member(['jobTemplateArn'], 'string'),
    member(['jobExecutionsRetryConfig'], 'object'),
    member(['jobExecutionsRetryConfig', 'criteriaList'], 'list'),
    member(['jobExecutionsRetryConfig', 'criteriaList', 0, 'failureType'], ['FAILED', 'TIMED_OUT', 'ALL']),
    member(['jobExecutionsRetryConfig', 'criteriaList', 0, 'numberOfRetries'], 'integer'),
    member(['documentParameters'], 'object'),
    member(['documentParameters', 'p'], 'string'),
    member(['schedulingConfig'], 'object'),
    member(['schedulingConfig', 'startTime'], 'string'),
    member(['schedulingConfig', 'endTime'], 'string'),
    member(['schedulingConfig', 'endBehavior'], ['STOP_ROLLOUT', 'CANCEL', 'FORCE_CANCEL']),
    // [spec: newer-in-latest-sdk] accepted and stored, so typed like the rest
    member(['destinationPackageVersions'], 'list'),
    member(['destinationPackageVersions', 0], 'string'),
  ]

  it('CreateJob: answers 400 naming the member for each member of the wrong JSON type [spec: jobs-control-plane#createjob] [spec: wire-protocol#5.5]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.constantFrom(...typeCases).chain((c) => c.wrong.map((value) => ({ c, value })))],
        async ({ c, value }) => {
          expectRejection(await createJob(JSON.stringify(withValue(jobBody(), c.path, value))), {
            names: c.names,
          })
        },
        800,
      ),
    )
  })

  it('CreateJob: answers 400 without the required targets [spec: jobs-control-plane#createjob]', async () => {
    await expectDatabaseUnchanged(h, async () => {
      const { targets: _targets, ...body } = jobBody()
      expectRejection(await createJob(JSON.stringify(body)), { names: 'targets' })
    })
  })

  const at = (
    path: readonly (string | number)[],
    wrong: fc.Arbitrary<unknown>,
    names: string,
  ): MemberCase => ({
    path,
    wrong,
    names,
  })
  const arn = (resource: string) => `arn:aws:iot:${REGION}:${ACCOUNT}:${resource}`
  const limitCases: MemberCase[] = [
    // [spec: limits#2] document ≤ 32768 characters, JSON, an object
    at(['document'], fc.integer({ min: MAX_DOCUMENT_CHARS + 1, max: 40_000 }).map(documentOf), 'document'),
    at(
      ['document'],
      fc.constantFrom('', 'not json', '{"a":', '[1,2]', '"text"', '42', 'null', 'true'),
      'document',
    ),
    // [spec: jobs-control-plane#3] description 1..2028 without control characters
    at(
      ['description'],
      fc.constantFrom('', 'a\u0000b', 'line\nbreak', '\u200e', 'x'.repeat(2029)),
      'description',
    ),
    // [spec: jobs-control-plane#createjob] targets: 1..100 ARNs of this service
    at(['targets'], fc.constant([]), 'targets'),
    at(
      ['targets', 0],
      fc.constantFrom(
        'not-an-arn',
        arn('thing'),
        `arn:aws:iot:eu-west-1:${ACCOUNT}:thing/x`,
        `arn:aws:iot:${REGION}:999999999999:thing/x`,
        arn('job/x'),
        arn('thing/'),
        arn('thing/a.b'),
        arn(`thing/${'t'.repeat(129)}`),
        `${arn('thing/')}${'t'.repeat(2048)}`,
      ),
      'targets',
    ),
    at(
      ['targets'],
      fc
        .integer({ min: 101, max: 150 })
        .map((n) => Array.from({ length: n }, (_, i) => thingArnOf(`t-${i}`))),
      'targets',
    ),
    // [spec: jobs-control-plane#3] numeric ranges
    at(['presignedUrlConfig', 'expiresInSec'], fc.constantFrom(59, 3601, 0, -1), 'expiresInSec'),
    at(['presignedUrlConfig', 'roleArn'], fc.constantFrom('', 'arn:short', 'r'.repeat(2049)), 'roleArn'),
    at(['jobExecutionsRolloutConfig', 'maximumPerMinute'], fc.constantFrom(0, -5, 1001), 'maximumPerMinute'),
    at(
      ['jobExecutionsRolloutConfig', 'exponentialRate', 'baseRatePerMinute'],
      fc.constantFrom(0, 1001),
      'baseRatePerMinute',
    ),
    at(
      ['jobExecutionsRolloutConfig', 'exponentialRate', 'incrementFactor'],
      fc.constantFrom(1, 1.05, 5.1, 1.55, 0),
      'incrementFactor',
    ),
    at(['abortConfig', 'criteriaList'], fc.constant([]), 'criteriaList'),
    at(
      ['abortConfig', 'criteriaList', 0, 'thresholdPercentage'],
      fc.constantFrom(100.5, -1, 12.345),
      'thresholdPercentage',
    ),
    at(
      ['abortConfig', 'criteriaList', 0, 'minNumberOfExecutedThings'],
      fc.constantFrom(0, -1),
      'minNumberOfExecutedThings',
    ),
    at(
      ['timeoutConfig', 'inProgressTimeoutInMinutes'],
      fc.constantFrom(0, -1, 10081),
      'inProgressTimeoutInMinutes',
    ),
    at(
      ['jobExecutionsRetryConfig', 'criteriaList', 0, 'numberOfRetries'],
      fc.constantFrom(-1, 11),
      'numberOfRetries',
    ),
    at(['jobExecutionsRetryConfig', 'criteriaList'], fc.constant([]), 'criteriaList'),
    // [spec: limits#2] tags, namespaceId, jobTemplateArn
    at(['tags', 0, 'Key'], fc.constantFrom('', 'a$b', 'k#1', 'k'.repeat(129)), 'tags'),
    at(['tags', 0, 'Value'], fc.constant('v'.repeat(257)), 'tags'),
    at(
      ['tags'],
      fc.integer({ min: 51, max: 60 }).map((n) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}` }))),
      'tags',
    ),
    at(['namespaceId'], badNameQuery(NAMESPACE_ID), 'namespaceId'),
    at(
      ['jobTemplateArn'],
      fc.constantFrom('', 'template-1', 'arn: spaced', `arn:${'x'.repeat(1600)}`),
      'jobTemplateArn',
    ),
    // [spec: jobs-control-plane#createjob] document source rules
    at(['documentSource'], fc.constant('https://example.com/doc.json'), 'document'),
    at(['documentParameters'], fc.constant({ p: 'v' }), 'documentParameters'),
    at(
      ['schedulingConfig', 'startTime'],
      fc.constantFrom('', 'tomorrow', '2001-01-01T00:00', 'x'.repeat(65)),
      'startTime',
    ),
  ]

  it('CreateJob: answers 400 naming the member for values outside the limits [spec: jobs-control-plane#3-validation-rules-shared-by-createjob-updatejob-and-createjobtemplate] [spec: limits]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.constantFrom(...limitCases).chain((c) => c.wrong.map((value) => ({ c, value })))],
        async ({ c, value }) => {
          expectRejection(await createJob(JSON.stringify(withValue(jobBody(), c.path, value))), {
            names: c.names,
          })
        },
        500,
      ),
    )
  })

  it('CreateJob: answers 400 without a document, or with both document and documentSource [spec: jobs-control-plane#createjob]', async () => {
    await expectDatabaseUnchanged(h, async () => {
      const { document: _document, ...withoutDocument } = jobBody()
      expectRejection(await createJob(JSON.stringify(withoutDocument)), { names: 'document' })
    })
  })

  it('CreateJob: answers 400 (never 5xx) for a member nested thousands of levels deep [spec: wire-protocol#2.3] [spec: wire-protocol#5.5]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [
          fc.constantFrom('targets', 'abortConfig', 'documentParameters'),
          fc.integer({ min: 1, max: 20_000 }),
          fc.constantFrom('array', 'object'),
        ],
        async (name, depth, shape: 'array' | 'object') => {
          const base = JSON.stringify({ ...jobBody(), [name]: 0 })
          const body = base.replace(`"${name}":0`, `"${name}":${deeplyNested(depth, shape)}`)
          expectRejection(await createJob(body), { names: name })
        },
        25,
      ),
    )
  })

  it('CreateJob: answers 413 for a body larger than 1 MiB, even when it is otherwise valid [spec: wire-protocol#2.3]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.integer({ min: 1024 * 1024 + 1, max: 3 * 1024 * 1024 })],
        async (size) => {
          const prefix = JSON.stringify({ ...jobBody(), padding: '' }).slice(0, -2)
          const body = `${prefix}${'x'.repeat(size - prefix.length - 2)}"}`
          assert.equal(Buffer.byteLength(body), size)
          expectRejection(await createJob(body), TOO_LARGE)
        },
        5,
      ),
    )
  })

  it('DescribeJob and GetJobDocument: beforeSubstitution other than true/false is 400 [spec: jobs-control-plane#getjobdocument] [spec: wire-protocol#2.2]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.constantFrom('', '/job-document'), badBooleanQuery],
        async (suffix, v) => {
          expectRejection(
            await send(cp, 'GET', `/jobs/${s.queuedJob}${suffix}${query({ beforeSubstitution: v })}`),
            {
              names: 'beforeSubstitution',
            },
          )
        },
        100,
      ),
    )
  })

  it('ListJobs: answers 400 naming the parameter for bad query values [spec: jobs-control-plane#listjobs] [spec: wire-protocol#2.2] [spec: wire-protocol#6]', async () => {
    const cases = fc.oneof(
      badEnumQuery(JOB_STATUSES).map((v) => ({ params: { status: v }, names: 'status' })),
      badEnumQuery(TARGET_SELECTIONS).map((v) => ({
        params: { targetSelection: v },
        names: 'targetSelection',
      })),
      badIntegerQuery(1, 250).map((v) => ({ params: { maxResults: v }, names: 'maxResults' })),
      garbageToken([s.thingsToken]).map((v) => ({ params: { nextToken: v }, names: 'nextToken' })),
      badNameQuery(THING_NAME).map((v) => ({ params: { thingGroupName: v }, names: 'thingGroupName' })),
      badNameQuery(THING_GROUP_ID).map((v) => ({ params: { thingGroupId: v }, names: 'thingGroupId' })),
      badNameQuery(NAMESPACE_ID).map((v) => ({ params: { namespaceId: v }, names: 'namespaceId' })),
    )
    await expectDatabaseUnchanged(h, () =>
      check(
        [cases],
        async ({ params, names }) => {
          expectRejection(await send(cp, 'GET', `/jobs${query(params)}`), { names })
        },
        400,
      ),
    )
  })

  it('ListJobs: a token is refused with other filters than the ones that produced it [spec: wire-protocol#6]', async () => {
    const page = await send(cp, 'GET', '/jobs?maxResults=1')
    const token = (page.json as { nextToken?: string }).nextToken
    assert.ok(token !== undefined, page.text)
    await expectDatabaseUnchanged(h, async () => {
      expectRejection(await send(cp, 'GET', `/jobs${query({ nextToken: token, status: 'IN_PROGRESS' })}`), {
        names: 'nextToken',
      })
    })
  })

  it('control: the unbroken requests these properties corrupt are accepted [spec: jobs-control-plane#createjob] [spec: limits#2]', async () => {
    // Runs last: it changes the database. A document of exactly 32768 characters is within the limit.
    const jobId = unique('base')
    const created = await createJob(JSON.stringify(jobBody()), jobId)
    assert.equal(created.status, 200, `${created.text} for ${created.request}`)
    const full = await createJob(JSON.stringify({ ...jobBody(), document: documentOf(MAX_DOCUMENT_CHARS) }))
    assert.equal(full.status, 200, `${full.text} for ${full.request}`)
    for (const path of [
      `/jobs/${jobId}`,
      `/jobs/${jobId}/job-document?beforeSubstitution=true`,
      '/jobs?maxResults=250',
    ]) {
      const reply = await send(cp, 'GET', path)
      assert.equal(reply.status, 200, `${reply.text} for ${reply.request}`)
    }
  })
})
