/**
 * Bad input to the thing-group operations, the job lifecycle operations (UpdateJob, CancelJob,
 * DeleteJob, AssociateTargetsWithJob) and the job-template operations. Every request is malformed in
 * exactly one way, and each base request aims at a real resource that it would change (a group's
 * version, a membership, a job's status or targets, a new group or template), so a request that
 * slipped through validation would change the database.
 */
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import {
  AddThingToThingGroupCommand,
  CreateJobCommand,
  CreateJobTemplateCommand,
  CreateThingGroupCommand,
} from '@aws-sdk/client-iot'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, startHarness, thingArnOf, unique } from '../support/harness.js'
import type { MemberCase, NameRule, Seeded } from '../support/bad-input.js'
import {
  JOB_ID,
  NAMED_ILLEGAL_NAMES,
  THING_NAME,
  badBooleanQuery,
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
  namedTooLongNames,
  nonObjectJson,
  query,
  seedState,
  segment,
  send,
  tooLongName,
  withValue,
} from '../support/bad-input.js'

const THING_GROUP_NAME: NameRule = { ...THING_NAME, label: 'thingGroupName' }
const JOB_TEMPLATE_ID: NameRule = { ...JOB_ID, label: 'jobTemplateId' }
const NAMESPACE_ID: NameRule = { ...JOB_ID, label: 'namespaceId' }
const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/fleet-urls`
const groupArnOf = (name: string) => `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/${name}`
const NUM_RUNS = 25

/** The groups, jobs and templates the bad requests aim at, besides `seedState`'s. */
interface Targets {
  /** Root group with a child; the child holds `s.otherThing`. */
  readonly root: string
  readonly child: string
  /** A second root group, empty: the membership base requests add `s.queuedThing` to it. */
  readonly spare: string
  /** CONTINUOUS job on `root` (so `s.otherThing` has a QUEUED execution of it). */
  readonly continuousJob: string
  readonly template: string
  readonly groupsToken: string
  readonly templatesToken: string
}

async function seedTargets(h: Harness, s: Seeded): Promise<Targets> {
  const root = unique('bad-g')
  const child = unique('bad-c')
  const spare = unique('bad-s')
  await h.iot.send(new CreateThingGroupCommand({ thingGroupName: root }))
  await h.iot.send(new CreateThingGroupCommand({ thingGroupName: child, parentGroupName: root }))
  await h.iot.send(new CreateThingGroupCommand({ thingGroupName: spare }))
  await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: child, thingName: s.otherThing }))
  const continuousJob = unique('bad-jc')
  await h.iot.send(
    new CreateJobCommand({
      jobId: continuousJob,
      targetSelection: 'CONTINUOUS',
      targets: [groupArnOf(root)],
      document: '{"step":"continuous"}',
    }),
  )
  const template = unique('bad-t')
  for (const id of [template, unique('bad-t')]) {
    await h.iot.send(
      new CreateJobTemplateCommand({ jobTemplateId: id, description: 'bad input', document: '{"t":1}' }),
    )
  }
  const token = async (path: string): Promise<string> => {
    const page = await send(h.server.url, 'GET', path)
    const next = (page.json as { nextToken?: unknown }).nextToken
    assert.ok(typeof next === 'string' && next.length > 0, page.text)
    return next
  }
  return {
    root,
    child,
    spare,
    continuousJob,
    template,
    groupsToken: await token('/thing-groups?maxResults=1'),
    templatesToken: await token('/job-templates?maxResults=1'),
  }
}

/** A body operation: where it goes and a valid body that would change the database. */
interface BodyOperation {
  readonly name: string
  readonly method: string
  readonly path: () => string
  readonly body: () => Record<string, unknown>
}

/** A request whose fault is in its path label. */
interface PathOperation {
  readonly name: string
  readonly rule: NameRule
  readonly method: string
  readonly path: (label: string) => string
  readonly body?: () => Record<string, unknown>
}

describe('Thing-group, job-lifecycle and template operations reject bad input and change nothing [spec: things#2-operations] [spec: jobs-control-plane#4-operations] [spec: wire-protocol#2] [spec: limits]', () => {
  let h: Harness
  let s: Seeded
  let t: Targets
  let cp: string
  before(async () => {
    h = await startHarness()
    cp = h.server.url
  })
  // Fresh targets for every test, so that one request that slipped through cannot spoil the next test.
  beforeEach(async () => {
    s = await seedState(h)
    t = await seedTargets(h, s)
  })
  after(async () => {
    await h.close()
  })

  const configs = () => ({
    presignedUrlConfig: { roleArn: ROLE_ARN, expiresInSec: 600 },
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
    jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 2 }] },
  })

  const op = {
    CreateThingGroup: {
      name: 'CreateThingGroup',
      method: 'POST',
      path: () => `/thing-groups/${unique('never')}`,
      body: () => ({
        parentGroupName: t.root,
        thingGroupProperties: {
          thingGroupDescription: 'a new group',
          attributePayload: { attributes: { k: 'v' }, merge: false },
        },
        tags: [{ Key: 'team', Value: 'fleet' }],
      }),
    },
    UpdateThingGroup: {
      name: 'UpdateThingGroup',
      method: 'PATCH',
      path: () => `/thing-groups/${t.root}`,
      body: () => ({
        thingGroupProperties: {
          thingGroupDescription: 'changed',
          attributePayload: { attributes: { k: 'v' }, merge: true },
        },
        expectedVersion: 1,
      }),
    },
    AddThingToThingGroup: {
      name: 'AddThingToThingGroup',
      method: 'PUT',
      path: () => '/thing-groups/addThingToThingGroup',
      body: () => ({ thingGroupName: t.spare, thingName: s.queuedThing, overrideDynamicGroups: false }),
    },
    RemoveThingFromThingGroup: {
      name: 'RemoveThingFromThingGroup',
      method: 'PUT',
      path: () => '/thing-groups/removeThingFromThingGroup',
      body: () => ({ thingGroupName: t.child, thingName: s.otherThing }),
    },
    UpdateThingGroupsForThing: {
      name: 'UpdateThingGroupsForThing',
      method: 'PUT',
      path: () => '/thing-groups/updateThingGroupsForThing',
      body: () => ({
        thingName: s.queuedThing,
        thingGroupsToAdd: [t.spare],
        thingGroupsToRemove: [],
        overrideDynamicGroups: false,
      }),
    },
    UpdateJob: {
      name: 'UpdateJob',
      method: 'PATCH',
      path: () => `/jobs/${s.queuedJob}`,
      body: () => ({ description: 'updated', ...configs() }),
    },
    CancelJob: {
      name: 'CancelJob',
      method: 'PUT',
      path: () => `/jobs/${s.queuedJob}/cancel`,
      body: () => ({ reasonCode: 'BAD_INPUT_1', comment: 'would cancel' }),
    },
    AssociateTargetsWithJob: {
      name: 'AssociateTargetsWithJob',
      method: 'POST',
      path: () => `/jobs/${t.continuousJob}/targets`,
      body: () => ({ targets: [thingArnOf(s.queuedThing)], comment: 'would add' }),
    },
    CreateJobTemplate: {
      name: 'CreateJobTemplate',
      method: 'PUT',
      path: () => `/job-templates/${unique('never')}`,
      body: () => ({
        description: 'a new template',
        document: '{"operation":"template"}',
        ...configs(),
        tags: [{ Key: 'team', Value: 'fleet' }],
      }),
    },
  } as const satisfies Record<string, BodyOperation>
  const bodyOperations: readonly BodyOperation[] = Object.values(op)

  const pathOperations: readonly PathOperation[] = [
    { ...op.CreateThingGroup, rule: THING_GROUP_NAME, path: (l) => `/thing-groups/${l}` },
    { ...op.UpdateThingGroup, rule: THING_GROUP_NAME, path: (l) => `/thing-groups/${l}` },
    { name: 'DeleteThingGroup', rule: THING_GROUP_NAME, method: 'DELETE', path: (l) => `/thing-groups/${l}` },
    {
      name: 'ListThingsInThingGroup',
      rule: THING_GROUP_NAME,
      method: 'GET',
      path: (l) => `/thing-groups/${l}/things`,
    },
    {
      name: 'ListThingGroupsForThing',
      rule: THING_NAME,
      method: 'GET',
      path: (l) => `/things/${l}/thing-groups`,
    },
    { ...op.UpdateJob, rule: JOB_ID, path: (l) => `/jobs/${l}` },
    { ...op.CancelJob, rule: JOB_ID, path: (l) => `/jobs/${l}/cancel?force=true` },
    { name: 'DeleteJob', rule: JOB_ID, method: 'DELETE', path: (l) => `/jobs/${l}?force=true` },
    { ...op.AssociateTargetsWithJob, rule: JOB_ID, path: (l) => `/jobs/${l}/targets` },
    { ...op.CreateJobTemplate, rule: JOB_TEMPLATE_ID, path: (l) => `/job-templates/${l}` },
    { name: 'DescribeJobTemplate', rule: JOB_TEMPLATE_ID, method: 'GET', path: (l) => `/job-templates/${l}` },
    {
      name: 'DeleteJobTemplate',
      rule: JOB_TEMPLATE_ID,
      method: 'DELETE',
      path: (l) => `/job-templates/${l}`,
    },
  ]

  const sendPath = (o: PathOperation, name: string) =>
    send(cp, o.method, o.path(segment(name)), o.body === undefined ? {} : { body: JSON.stringify(o.body()) })
  const sendBody = (o: BodyOperation, body: string, suffix = '') =>
    send(cp, o.method, `${o.path()}${suffix}`, { body })

  for (const [what, names, named] of [
    [
      'illegal characters (., space, unicode, %2F, control characters)',
      (rule: NameRule) => illegalName(rule),
      (rule: NameRule) => [...NAMED_ILLEGAL_NAMES, ...(rule.alphabet.includes(':') ? [] : ['a:b'])],
    ],
    ['more than the maximum length', (rule: NameRule) => tooLongName(rule), namedTooLongNames],
  ] as const) {
    it(`answers 400 naming the label for a path name with ${what}, in every path [spec: wire-protocol#2.1] [spec: limits#2]`, async () => {
      await expectDatabaseUnchanged(h, () =>
        check(
          [fc.constantFrom(...pathOperations).chain((o) => names(o.rule).map((name) => ({ o, name })))],
          async ({ o, name }) => {
            expectRejection(await sendPath(o, name), { names: o.rule.label })
          },
          NUM_RUNS,
          pathOperations.flatMap((o) =>
            named(o.rule).map((name): [{ o: PathOperation; name: string }] => [{ o, name }]),
          ),
        ),
      )
    })
  }

  it('answers 400 for a body that is not JSON, or JSON that is not an object, for every operation with a body [spec: wire-protocol#2.3]', async () => {
    const examples = bodyOperations.flatMap((o): [BodyOperation, string][] => [
      [o, JSON.stringify(o.body()).slice(0, -1)],
      [o, '[]'],
      [o, 'null'],
      [o, '"text"'],
    ])
    await expectDatabaseUnchanged(h, () =>
      check(
        [
          fc
            .constantFrom(...bodyOperations)
            .chain((o) =>
              fc.oneof(malformedJson(JSON.stringify(o.body())), nonObjectJson).map((b) => [o, b] as const),
            ),
        ],
        async ([o, body]) => {
          expectRejection(await sendBody(o, body))
        },
        NUM_RUNS,
        examples.map((e): [readonly [BodyOperation, string]] => [e]),
      ),
    )
  })

  const configCases = (prefix: readonly string[] = []): MemberCase[] => [
    member([...prefix, 'presignedUrlConfig'], 'object'),
    member([...prefix, 'presignedUrlConfig', 'roleArn'], 'string'),
    member([...prefix, 'presignedUrlConfig', 'expiresInSec'], 'integer'),
    member([...prefix, 'jobExecutionsRolloutConfig'], 'object'),
    member([...prefix, 'jobExecutionsRolloutConfig', 'maximumPerMinute'], 'integer'),
    member([...prefix, 'jobExecutionsRolloutConfig', 'exponentialRate'], 'object'),
    member([...prefix, 'jobExecutionsRolloutConfig', 'exponentialRate', 'baseRatePerMinute'], 'integer'),
    member([...prefix, 'jobExecutionsRolloutConfig', 'exponentialRate', 'incrementFactor'], 'double'),
    member([...prefix, 'jobExecutionsRolloutConfig', 'exponentialRate', 'rateIncreaseCriteria'], 'object'),
    member(
      [
        ...prefix,
        'jobExecutionsRolloutConfig',
        'exponentialRate',
        'rateIncreaseCriteria',
        'numberOfNotifiedThings',
      ],
      'integer',
    ),
    member([...prefix, 'abortConfig'], 'object'),
    member([...prefix, 'abortConfig', 'criteriaList'], 'list'),
    member([...prefix, 'abortConfig', 'criteriaList', 0], 'object'),
    member(
      [...prefix, 'abortConfig', 'criteriaList', 0, 'failureType'],
      ['FAILED', 'REJECTED', 'TIMED_OUT', 'ALL'],
    ),
    member([...prefix, 'abortConfig', 'criteriaList', 0, 'action'], ['CANCEL']),
    member([...prefix, 'abortConfig', 'criteriaList', 0, 'thresholdPercentage'], 'double'),
    member([...prefix, 'abortConfig', 'criteriaList', 0, 'minNumberOfExecutedThings'], 'integer'),
    member([...prefix, 'timeoutConfig'], 'object'),
    member([...prefix, 'timeoutConfig', 'inProgressTimeoutInMinutes'], 'integer'),
    member([...prefix, 'jobExecutionsRetryConfig'], 'object'),
    member([...prefix, 'jobExecutionsRetryConfig', 'criteriaList'], 'list'),
    member(
      [...prefix, 'jobExecutionsRetryConfig', 'criteriaList', 0, 'failureType'],
      ['FAILED', 'TIMED_OUT', 'ALL'],
    ),
    member([...prefix, 'jobExecutionsRetryConfig', 'criteriaList', 0, 'numberOfRetries'], 'integer'),
  ]
  const groupPropertyCases: MemberCase[] = [
    member(['thingGroupProperties'], 'object'),
    member(['thingGroupProperties', 'thingGroupDescription'], 'string'),
    member(['thingGroupProperties', 'attributePayload'], 'object'),
    member(['thingGroupProperties', 'attributePayload', 'attributes'], 'object'),
    member(
      ['thingGroupProperties', 'attributePayload', 'attributes', 'k'],
      'string',
      'thingGroupProperties.attributePayload.attributes',
    ),
    member(['thingGroupProperties', 'attributePayload', 'merge'], 'boolean'),
  ]
  const tagCases: MemberCase[] = [
    member(['tags'], 'list'),
    member(['tags', 0], 'object'),
    member(['tags', 0, 'Key'], 'string'),
    member(['tags', 0, 'Value'], 'string'),
  ]
  const typeCases: [BodyOperation, MemberCase[]][] = [
    [op.CreateThingGroup, [member(['parentGroupName'], 'string'), ...groupPropertyCases, ...tagCases]],
    [op.UpdateThingGroup, [...groupPropertyCases, member(['expectedVersion'], 'integer')]],
    [
      op.AddThingToThingGroup,
      [
        member(['thingGroupName'], 'string'),
        member(['thingGroupArn'], 'string'),
        member(['thingName'], 'string'),
        member(['thingArn'], 'string'),
        member(['overrideDynamicGroups'], 'boolean'),
      ],
    ],
    [
      op.RemoveThingFromThingGroup,
      [
        member(['thingGroupName'], 'string'),
        member(['thingGroupArn'], 'string'),
        member(['thingName'], 'string'),
        member(['thingArn'], 'string'),
      ],
    ],
    [
      op.UpdateThingGroupsForThing,
      [
        member(['thingName'], 'string'),
        member(['thingGroupsToAdd'], 'list'),
        member(['thingGroupsToAdd', 0], 'string'),
        member(['thingGroupsToRemove'], 'list'),
        member(['thingGroupsToRemove', 0], 'string'),
        member(['overrideDynamicGroups'], 'boolean'),
      ],
    ],
    [op.UpdateJob, [member(['description'], 'string'), ...configCases()]],
    [op.CancelJob, [member(['reasonCode'], 'string'), member(['comment'], 'string')]],
    [
      op.AssociateTargetsWithJob,
      [member(['targets'], 'list'), member(['targets', 0], 'string'), member(['comment'], 'string')],
    ],
    [
      op.CreateJobTemplate,
      [
        member(['jobArn'], 'string'),
        member(['documentSource'], 'string'),
        member(['document'], 'string'),
        member(['description'], 'string'),
        ...configCases(),
        ...tagCases,
        // [spec: newer-in-latest-sdk] accepted and validated like the rest
        member(['destinationPackageVersions'], 'list'),
        member(['destinationPackageVersions', 0], 'string'),
        member(['maintenanceWindows'], 'list'),
      ],
    ],
  ]

  /** One deterministic value of a case, so that every case runs at least once. */
  const sampleOf = (c: MemberCase): [{ c: MemberCase; value: unknown }] => [
    { c, value: fc.sample(c.wrong, { numRuns: 1, seed: 7 })[0] },
  ]

  for (const [o, cases] of typeCases) {
    it(`${o.name}: answers 400 naming the member for each member of the wrong JSON type [spec: wire-protocol#5.5]`, async () => {
      await expectDatabaseUnchanged(h, () =>
        check(
          [fc.constantFrom(...cases).chain((c) => c.wrong.map((value) => ({ c, value })))],
          async ({ c, value }) => {
            const body = JSON.stringify(withValue(o.body(), c.path, value))
            expectRejection(await sendBody(o, body), { names: c.names })
          },
          NUM_RUNS,
          cases.map(sampleOf),
        ),
      )
    })
  }

  const at = (
    path: readonly (string | number)[],
    wrong: fc.Arbitrary<unknown>,
    names: string,
  ): MemberCase => ({
    path,
    wrong,
    names,
  })
  /** Malformed ARNs, or ARNs of another region, account or resource type; `name` is read per sample. */
  const foreignArns = (kind: 'thing' | 'thinggroup', name: () => string, otherType: string) =>
    fc
      .constantFrom(
        'not-an-arn',
        `arn:aws:iot:eu-west-1:${ACCOUNT}:${kind}/NAME`,
        `arn:aws:iot:${REGION}:999999999999:${kind}/NAME`,
        `arn:aws:iot:${REGION}:${ACCOUNT}:${otherType}/NAME`,
        `arn:aws:iot:${REGION}:${ACCOUNT}:${kind}/a.b`,
        `arn:aws:iot:${REGION}:${ACCOUNT}:${kind}/`,
      )
      .map((arn) => arn.replace('NAME', name()))
  const configLimitCases = (): MemberCase[] => [
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
      fc.constantFrom(1, 1.05, 5.1, 1.55),
      'incrementFactor',
    ),
    at(
      ['jobExecutionsRolloutConfig', 'exponentialRate', 'rateIncreaseCriteria'],
      fc.constantFrom(
        {},
        { numberOfNotifiedThings: 1, numberOfSucceededThings: 1 },
        { numberOfSucceededThings: 0 },
      ),
      'rateIncreaseCriteria',
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
  ]
  const textCases = (name: string, max: number): MemberCase =>
    at([name], fc.constantFrom('', 'a\u0000b', 'line\nbreak', '\u200e', 'x'.repeat(max + 1)), name)
  const limitCases: [BodyOperation, MemberCase[]][] = [
    [
      op.CreateThingGroup,
      [
        at(['parentGroupName'], badName(THING_GROUP_NAME), 'parentGroupName'),
        at(
          ['thingGroupProperties', 'thingGroupDescription'],
          fc.constantFrom('tab\there', 'bell\u0007', 'x'.repeat(2029)),
          'thingGroupDescription',
        ),
        at(
          ['thingGroupProperties', 'attributePayload', 'attributes'],
          fc.constantFrom({ 'a b': 'v' }, { k: 'v v' }),
          'attributes',
        ),
        at(['tags', 0, 'Key'], fc.constantFrom('', 'a$b', 'k'.repeat(129)), 'tags'),
        at(['tags', 0, 'Value'], fc.constant('v'.repeat(257)), 'tags'),
      ],
    ],
    [
      op.UpdateThingGroup,
      [
        at(
          ['thingGroupProperties', 'thingGroupDescription'],
          fc.constantFrom('tab\there', 'x'.repeat(2029)),
          'thingGroupDescription',
        ),
        at(['expectedVersion'], fc.constantFrom(2 ** 64, 1.5), 'expectedVersion'),
      ],
    ],
    ...(['AddThingToThingGroup', 'RemoveThingFromThingGroup'] as const).map(
      (name): [BodyOperation, MemberCase[]] => [
        op[name],
        [
          at(['thingGroupName'], badName(THING_GROUP_NAME), 'thingGroupName'),
          at(['thingName'], badName(THING_NAME), 'thingName'),
        ],
      ],
    ),
    [
      op.UpdateThingGroupsForThing,
      [
        at(['thingName'], badName(THING_NAME), 'thingName'),
        at(['thingGroupsToAdd', 0], badName(THING_GROUP_NAME), 'thingGroupsToAdd[0]'),
        at(['thingGroupsToRemove', 0], badName(THING_GROUP_NAME), 'thingGroupsToRemove[0]'),
      ],
    ],
    [op.UpdateJob, [textCases('description', 2028), ...configLimitCases()]],
    [
      op.CancelJob,
      [
        at(
          ['reasonCode'],
          fc.constantFrom('', 'lower', 'A-B', 'A B', 'Ä'.toLowerCase(), 'X'.repeat(129)),
          'reasonCode',
        ),
        textCases('comment', 2028),
      ],
    ],
    [
      op.AssociateTargetsWithJob,
      [
        at(['targets'], fc.constant([]), 'targets'),
        at(
          ['targets', 0],
          foreignArns('thing', () => s.queuedThing, 'job'),
          'targets',
        ),
        at(['targets', 0], fc.constant(`${thingArnOf('t')}${'t'.repeat(2048)}`), 'targets'),
        textCases('comment', 2028),
      ],
    ],
    [
      op.CreateJobTemplate,
      [
        textCases('description', 2028),
        at(['document'], fc.constantFrom('', 'not json', '{"a":', '[1,2]', '"text"', '42'), 'document'),
        at(['document'], fc.constant(`{"p":"${'x'.repeat(32768)}"}`), 'document'),
        at(['documentSource'], fc.constantFrom('', 'd'.repeat(1351)), 'documentSource'),
        at(['tags', 0, 'Key'], fc.constantFrom('', 'a$b', 'k'.repeat(129)), 'tags'),
        at(
          ['tags'],
          fc
            .integer({ min: 51, max: 60 })
            .map((n) => Array.from({ length: n }, (_, i) => ({ Key: `k${i}` }))),
          'tags',
        ),
        at(
          ['destinationPackageVersions'],
          fc
            .integer({ min: 26, max: 30 })
            .map((n) =>
              Array.from({ length: n }, (_, i) => `arn:aws:iot:${REGION}:${ACCOUNT}:package/p/version/${i}`),
            ),
          'destinationPackageVersions',
        ),
        at(
          ['maintenanceWindows'],
          fc.constantFrom(
            [{ startTime: 'cron(0 0 * * ? *)', durationInMinutes: 1431 }],
            [{ startTime: 'nightly', durationInMinutes: 30 }],
            [{ startTime: 'cron(0 0 32 * ? *)', durationInMinutes: 30 }],
          ),
          'maintenanceWindows',
        ),
        ...configLimitCases(),
      ],
    ],
  ]

  for (const [o, cases] of limitCases) {
    it(`${o.name}: answers 400 naming the member for values outside the patterns and limits [spec: limits#2] [spec: limits#3] [spec: jobs-control-plane#3-validation-rules-shared-by-createjob-updatejob-and-createjobtemplate]`, async () => {
      await expectDatabaseUnchanged(h, () =>
        check(
          [fc.constantFrom(...cases).chain((c) => c.wrong.map((value) => ({ c, value })))],
          async ({ c, value }) => {
            const body = JSON.stringify(withValue(o.body(), c.path, value))
            expectRejection(await sendBody(o, body), { names: c.names })
          },
          NUM_RUNS,
          cases.map(sampleOf),
        ),
      )
    })
  }

  it('answers 400 naming the member when a required member or a required choice is missing [spec: things#addthingtothinggroup] [spec: jobs-control-plane#createjobtemplate]', async () => {
    const without = (o: BodyOperation, ...keys: string[]) => {
      const body = o.body()
      for (const key of keys) delete body[key]
      return JSON.stringify(body)
    }
    const cases: [BodyOperation, string, string][] = [
      [op.UpdateThingGroup, without(op.UpdateThingGroup, 'thingGroupProperties'), 'thingGroupProperties'],
      [op.AddThingToThingGroup, without(op.AddThingToThingGroup, 'thingGroupName'), 'thingGroupArn'],
      [op.AddThingToThingGroup, without(op.AddThingToThingGroup, 'thingName'), 'thingArn'],
      [
        op.RemoveThingFromThingGroup,
        without(op.RemoveThingFromThingGroup, 'thingGroupName'),
        'thingGroupArn',
      ],
      [op.RemoveThingFromThingGroup, without(op.RemoveThingFromThingGroup, 'thingName'), 'thingArn'],
      [op.UpdateThingGroupsForThing, without(op.UpdateThingGroupsForThing, 'thingName'), 'thingName'],
      [op.AssociateTargetsWithJob, without(op.AssociateTargetsWithJob, 'targets'), 'targets'],
      [op.CreateJobTemplate, without(op.CreateJobTemplate, 'description'), 'description'],
      [op.CreateJobTemplate, without(op.CreateJobTemplate, 'document'), 'document'],
    ]
    await expectDatabaseUnchanged(h, async () => {
      for (const [o, body, names] of cases) expectRejection(await sendBody(o, body), { names })
    })
  })

  it('Add/RemoveThingFromThingGroup: ARNs that are not a thing or thing-group ARN of this service are 400 [spec: things#addthingtothinggroup]', async () => {
    const cases = fc.constantFrom(op.AddThingToThingGroup, op.RemoveThingFromThingGroup).chain((o) =>
      fc.oneof(
        foreignArns('thinggroup', () => t.spare, 'thing').map((arn) => ({
          o,
          body: { ...o.body(), thingGroupName: undefined, thingGroupArn: arn },
          names: 'thingGroupArn',
        })),
        foreignArns('thing', () => s.queuedThing, 'thinggroup').map((arn) => ({
          o,
          body: { ...o.body(), thingName: undefined, thingArn: arn },
          names: 'thingArn',
        })),
      ),
    )
    await expectDatabaseUnchanged(h, () =>
      check(
        [cases],
        async ({ o, body, names }) => {
          expectRejection(await sendBody(o, JSON.stringify(body)), { names })
        },
        NUM_RUNS,
      ),
    )
  })

  it('answers 400 naming the parameter for bad query values [spec: wire-protocol#2.2] [spec: wire-protocol#6] [spec: things#listthinggroups] [spec: jobs-control-plane#deletejob]', async () => {
    const tokens = [s.thingsToken, t.groupsToken, t.templatesToken]
    /** maxResults and nextToken of a list operation; `own` is the token that operation handed out. */
    const lists = (path: string, own?: string) => [
      badIntegerQuery(1, 250).map((v) => ({
        method: 'GET',
        path,
        params: { maxResults: v },
        names: 'maxResults',
      })),
      garbageToken(tokens.filter((x) => x !== own))
        .filter((v) => v !== own)
        .map((v) => ({ method: 'GET', path, params: { nextToken: v }, names: 'nextToken' })),
    ]
    const cases = fc.oneof(
      ...lists('/thing-groups', t.groupsToken),
      badNameQuery(THING_GROUP_NAME).map((v) => ({
        method: 'GET',
        path: '/thing-groups',
        params: { parentGroup: v },
        names: 'parentGroup',
      })),
      badNameQuery(THING_GROUP_NAME).map((v) => ({
        method: 'GET',
        path: '/thing-groups',
        params: { namePrefixFilter: v },
        names: 'namePrefixFilter',
      })),
      badBooleanQuery.map((v) => ({
        method: 'GET',
        path: '/thing-groups',
        params: { parentGroup: t.root, recursive: v },
        names: 'recursive',
      })),
      ...lists(`/thing-groups/${t.root}/things`),
      badBooleanQuery.map((v) => ({
        method: 'GET',
        path: `/thing-groups/${t.root}/things`,
        params: { recursive: v },
        names: 'recursive',
      })),
      ...lists(`/things/${s.otherThing}/thing-groups`),
      badLongQuery().map((v) => ({
        method: 'DELETE',
        path: `/thing-groups/${t.spare}`,
        params: { expectedVersion: v },
        names: 'expectedVersion',
      })),
      ...lists('/job-templates', t.templatesToken),
      badNameQuery(NAMESPACE_ID).map((v) => ({
        method: 'PATCH',
        path: `/jobs/${s.queuedJob}`,
        params: { namespaceId: v },
        names: 'namespaceId',
      })),
      badBooleanQuery.map((v) => ({
        method: 'PUT',
        path: `/jobs/${s.queuedJob}/cancel`,
        params: { force: v },
        names: 'force',
      })),
      badBooleanQuery.map((v) => ({
        method: 'DELETE',
        path: `/jobs/${s.queuedJob}`,
        params: { force: v },
        names: 'force',
      })),
      badNameQuery(NAMESPACE_ID).map((v) => ({
        method: 'DELETE',
        path: `/jobs/${s.queuedJob}`,
        params: { force: 'true', namespaceId: v },
        names: 'namespaceId',
      })),
      badNameQuery(NAMESPACE_ID).map((v) => ({
        method: 'POST',
        path: `/jobs/${t.continuousJob}/targets`,
        params: { namespaceId: v },
        names: 'namespaceId',
      })),
    )
    const bodyOf: Record<string, () => Record<string, unknown>> = {
      PATCH: op.UpdateJob.body,
      PUT: op.CancelJob.body,
      POST: op.AssociateTargetsWithJob.body,
    }
    await expectDatabaseUnchanged(h, () =>
      check(
        [cases],
        async (c) => {
          const body = bodyOf[c.method]
          const reply = await send(
            cp,
            c.method,
            `${c.path}${query(c.params)}`,
            body === undefined ? {} : { body: JSON.stringify(body()) },
          )
          expectRejection(reply, { names: c.names })
        },
        4 * NUM_RUNS,
      ),
    )
  })

  it('a nextToken is refused by another list operation, or with other filters than the ones that produced it [spec: wire-protocol#6]', async () => {
    await expectDatabaseUnchanged(h, async () => {
      for (const path of [
        `/thing-groups${query({ nextToken: t.templatesToken })}`,
        `/job-templates${query({ nextToken: t.groupsToken })}`,
        `/thing-groups${query({ nextToken: t.groupsToken, namePrefixFilter: 'bad' })}`,
        `/thing-groups/${t.root}/things${query({ nextToken: t.groupsToken })}`,
        `/things/${s.otherThing}/thing-groups${query({ nextToken: t.groupsToken })}`,
      ]) {
        expectRejection(await send(cp, 'GET', path), { names: 'nextToken' })
      }
    })
  })

  it('answers 400 (never 5xx) for members nested thousands of levels deep [spec: wire-protocol#2.3] [spec: wire-protocol#5.5]', async () => {
    const nested: [BodyOperation, string][] = [
      [op.CreateThingGroup, 'tags'],
      [op.UpdateThingGroupsForThing, 'thingGroupsToAdd'],
      [op.UpdateJob, 'abortConfig'],
      [op.AssociateTargetsWithJob, 'targets'],
      [op.CreateJobTemplate, 'jobExecutionsRetryConfig'],
    ]
    await expectDatabaseUnchanged(h, () =>
      check(
        // From 2 levels: one level of array is `[]`, a valid empty list for the list members here.
        [fc.constantFrom(...nested), fc.integer({ min: 2, max: 20_000 }), fc.constantFrom('array', 'object')],
        async ([o, name], depth, shape: 'array' | 'object') => {
          const base = JSON.stringify({ ...o.body(), [name]: 0 })
          const body = base.replace(`"${name}":0`, `"${name}":${deeplyNested(depth, shape)}`)
          expectRejection(await sendBody(o, body), { names: name })
        },
        NUM_RUNS,
      ),
    )
  })

  it('control: the unbroken requests these properties corrupt are accepted [spec: things#2-operations] [spec: jobs-control-plane#4-operations]', async () => {
    // Runs last: it changes the database. Names of exactly the maximum length are accepted too.
    for (const o of bodyOperations) {
      const reply = await sendBody(o, JSON.stringify(o.body()))
      assert.equal(reply.status, 200, `${o.name}: ${reply.text} for ${reply.request}`)
    }
    const longGroup = `g128-${'x'.repeat(123)}`
    const longTemplate = `t64-${'x'.repeat(60)}`
    for (const [method, path, body] of [
      ['POST', `/thing-groups/${longGroup}`, '{}'],
      [
        'GET',
        `/thing-groups/${longGroup}/things${query({ recursive: 'true', maxResults: '250' })}`,
        undefined,
      ],
      ['DELETE', `/thing-groups/${longGroup}${query({ expectedVersion: '1' })}`, undefined],
      [
        'GET',
        `/thing-groups${query({ parentGroup: t.root, recursive: 'false', namePrefixFilter: 'bad' })}`,
        undefined,
      ],
      ['GET', `/thing-groups${query({ nextToken: t.groupsToken })}`, undefined],
      ['GET', `/things/${s.otherThing}/thing-groups${query({ maxResults: '1' })}`, undefined],
      ['PUT', `/job-templates/${longTemplate}`, JSON.stringify({ description: 'd', document: '{}' })],
      ['GET', `/job-templates/${longTemplate}`, undefined],
      ['GET', `/job-templates${query({ nextToken: t.templatesToken, maxResults: '250' })}`, undefined],
      ['DELETE', `/job-templates/${longTemplate}`, undefined],
      ['DELETE', `/jobs/${s.runningJob}${query({ force: 'true' })}`, undefined],
    ] as const) {
      const reply = await send(cp, method, path, body === undefined ? {} : { body })
      assert.equal(reply.status, 200, `${reply.text} for ${reply.request}`)
    }
  })
})
