import {
  CreateJobCommand,
  CreateJobTemplateCommand,
  CreateThingCommand,
  DeleteJobCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  GetJobDocumentCommand,
  ResourceAlreadyExistsException,
} from '@aws-sdk/client-iot'
import type { AbortConfig, CreateJobCommandInput, JobExecutionsRetryConfig } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, startHarness, thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT, MINUTE_MS, ManualClock, createThing, describeJob, pendingOf } from '../support/device.js'
import { cpDate, expectError, jobArnOf, makeThings, templateArnOf } from '../support/registry.js'
import { addToGroup, createGroup, executionStates } from '../support/thing-groups.js'

const DAY_MS = 24 * 60 * MINUTE_MS
/** [spec: limits#2] */
const MAX_DOCUMENT_CHARS = 32768

let h: Harness
const clock = new ManualClock()
/** A thing every validation case targets. */
let target: string
before(async () => {
  h = await startHarness({ clock })
  target = await createThing(h)
})
after(async () => {
  await h.close()
})

/** [open-question 18] `YYYY-MM-DDTHH:MM`, no zone (UTC), `ms` from now on the test clock. */
const inFuture = (ms: number): string => new Date(clock.nowMs() + ms).toISOString().slice(0, 16)

/** A JSON object document of exactly `chars` characters. */
const documentOf = (chars: number): string => `{"p":"${'x'.repeat(chars - 8)}"}`

type Input = Omit<CreateJobCommandInput, 'jobId'> & { jobId?: string }

const create = (input: Input) => {
  const jobId = input.jobId ?? unique('job')
  return h.iot.send(new CreateJobCommand({ ...input, jobId }))
}

const notCreated = async (jobId: string) => {
  await expectError(h.iot.send(new DescribeJobCommand({ jobId })), 'ResourceNotFoundException', 404, [jobId])
}

const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/fleet-presigner`
const ZERO_COUNTS = {
  numberOfCanceledThings: 0,
  numberOfSucceededThings: 0,
  numberOfFailedThings: 0,
  numberOfRejectedThings: 0,
  numberOfQueuedThings: 0,
  numberOfInProgressThings: 0,
  numberOfRemovedThings: 0,
  numberOfTimedOutThings: 0,
}

describe('CreateJob: success [spec: jobs-control-plane#createjob]', () => {
  it('returns jobArn and jobId (no description when none was given); DescribeJob shows the new job exactly', async () => {
    const things = await makeThings(h, 2)
    const jobId = unique('job')
    const out = await h.iot.send(
      new CreateJobCommand({ jobId, targets: things.map(thingArnOf), document: DOCUMENT }),
    )
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.deepEqual(
      { jobArn: out.jobArn, jobId: out.jobId, description: out.description },
      { jobArn: `arn:aws:iot:us-east-1:123456789012:job/${jobId}`, jobId, description: undefined },
    )
    const d = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(d.documentSource, undefined)
    assert.deepEqual(d.job, {
      jobArn: jobArnOf(jobId),
      jobId,
      targetSelection: 'SNAPSHOT',
      status: 'IN_PROGRESS',
      targets: things.map(thingArnOf),
      createdAt: cpDate(clock.nowMs()),
      lastUpdatedAt: cpDate(clock.nowMs()),
      jobProcessDetails: { ...ZERO_COUNTS, numberOfQueuedThings: 2 },
      isConcurrent: false,
    })
  })

  it('returns the description when one is given', async () => {
    const jobId = unique('job')
    const description = 'Firmware 2.0 for the north wing — ünïcödé ok'
    const out = await create({ jobId, targets: [thingArnOf(target)], document: DOCUMENT, description })
    assert.deepEqual([out.jobArn, out.jobId, out.description], [jobArnOf(jobId), jobId, description])
    assert.equal((await describeJob(h, jobId)).description, description)
  })

  it('read-after-write: every execution exists, QUEUED, executionNumber 1, versionNumber 1, when CreateJob returns', async () => {
    const things = await makeThings(h, 3)
    const jobId = unique('job')
    await create({ jobId, targets: things.map(thingArnOf), document: DOCUMENT })
    for (const thingName of things) {
      const { execution } = await h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }))
      assert.deepEqual(
        {
          status: execution?.status,
          executionNumber: execution?.executionNumber,
          versionNumber: execution?.versionNumber,
          queuedAt: execution?.queuedAt,
          startedAt: execution?.startedAt,
          thingArn: execution?.thingArn,
        },
        {
          status: 'QUEUED',
          executionNumber: 1,
          versionNumber: 1,
          queuedAt: cpDate(clock.nowMs()),
          startedAt: undefined,
          thingArn: thingArnOf(thingName),
        },
      )
      assert.deepEqual(await pendingOf(h, thingName), [`${jobId}:QUEUED`])
    }
  })

  it('a group target reaches the things of the group and its descendants; a thing reached twice gets one execution [spec: state-machines#7-target-selection-and-membership-changes] [spec: things#hierarchy-rules]', async () => {
    const parent = await createGroup(h)
    const child = await createGroup(h, { parent: parent.name })
    const [inParent, inChild, direct] = await makeThings(h, 3)
    await addToGroup(h, parent.name, inParent!)
    await addToGroup(h, child.name, inChild!)
    await addToGroup(h, child.name, direct!)
    const jobId = unique('job')
    await create({ jobId, targets: [parent.arn, thingArnOf(direct!)], document: DOCUMENT })
    assert.deepEqual(
      await executionStates(h, jobId),
      [inParent, inChild, direct].sort().map((t) => `${t}#1:QUEUED`),
    )
    const job = await describeJob(h, jobId)
    assert.deepEqual(job.targets, [parent.arn, thingArnOf(direct!)])
    assert.equal(job.jobProcessDetails?.numberOfQueuedThings, 3)
  })

  it('the same ARN given twice gives one execution [spec: jobs-control-plane#createjob]', async () => {
    const thingName = await createThing(h)
    const jobId = unique('job')
    await create({ jobId, targets: [thingArnOf(thingName), thingArnOf(thingName)], document: DOCUMENT })
    assert.deepEqual(await executionStates(h, jobId), [`${thingName}#1:QUEUED`])
  })

  it('targetSelection CONTINUOUS is stored; SNAPSHOT is the default [spec: limits#3]', async () => {
    const continuous = unique('job')
    await create({
      jobId: continuous,
      targets: [thingArnOf(target)],
      document: DOCUMENT,
      targetSelection: 'CONTINUOUS',
    })
    assert.equal((await describeJob(h, continuous)).targetSelection, 'CONTINUOUS')
    const snapshot = unique('job')
    await create({
      jobId: snapshot,
      targets: [thingArnOf(target)],
      document: DOCUMENT,
      targetSelection: 'SNAPSHOT',
    })
    assert.equal((await describeJob(h, snapshot)).targetSelection, 'SNAPSHOT')
  })

  it('every configuration is stored and returned exactly by DescribeJob [spec: jobs-control-plane#describejob]', async () => {
    const thingName = await createThing(h)
    const jobId = unique('job')
    const config: Omit<Input, 'targets'> = {
      description: 'all the knobs',
      presignedUrlConfig: { roleArn: ROLE_ARN, expiresInSec: 1800 },
      targetSelection: 'CONTINUOUS',
      jobExecutionsRolloutConfig: {
        maximumPerMinute: 500,
        exponentialRate: {
          baseRatePerMinute: 50,
          incrementFactor: 1.5,
          rateIncreaseCriteria: { numberOfNotifiedThings: 1000 },
        },
      },
      abortConfig: {
        criteriaList: [
          {
            failureType: 'FAILED',
            action: 'CANCEL',
            thresholdPercentage: 12.5,
            minNumberOfExecutedThings: 10,
          },
          {
            failureType: 'TIMED_OUT',
            action: 'CANCEL',
            thresholdPercentage: 100,
            minNumberOfExecutedThings: 1,
          },
        ],
      },
      timeoutConfig: { inProgressTimeoutInMinutes: 90 },
      jobExecutionsRetryConfig: {
        criteriaList: [
          { failureType: 'FAILED', numberOfRetries: 3 },
          { failureType: 'TIMED_OUT', numberOfRetries: 7 },
        ],
      },
      namespaceId: unique('ns'),
    }
    const out = await create({
      jobId,
      targets: [thingArnOf(thingName)],
      document: DOCUMENT,
      tags: [{ Key: 'team', Value: 'fleet' }],
      ...config,
    })
    assert.equal(out.description, config.description)
    const d = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.deepEqual(d.job, {
      jobArn: jobArnOf(jobId),
      jobId,
      status: 'IN_PROGRESS',
      targets: [thingArnOf(thingName)],
      createdAt: cpDate(clock.nowMs()),
      lastUpdatedAt: cpDate(clock.nowMs()),
      jobProcessDetails: { ...ZERO_COUNTS, numberOfQueuedThings: 1 },
      isConcurrent: false,
      ...config,
    })
  })

  for (const [what, rollout] of [
    ['maximumPerMinute alone', { maximumPerMinute: 1 }],
    [
      'exponentialRate by succeeded things, capped by maximumPerMinute',
      {
        maximumPerMinute: 1000,
        exponentialRate: {
          baseRatePerMinute: 1000,
          incrementFactor: 5,
          rateIncreaseCriteria: { numberOfSucceededThings: 1 },
        },
      },
    ],
    [
      'exponentialRate alone',
      {
        exponentialRate: {
          baseRatePerMinute: 1,
          incrementFactor: 1.1,
          rateIncreaseCriteria: { numberOfNotifiedThings: 5 },
        },
      },
    ],
  ] as const) {
    it(`jobExecutionsRolloutConfig with ${what} is stored and returned exactly [spec: jobs-control-plane#3-validation-rules-shared-by-createjob-updatejob-and-createjobtemplate]`, async () => {
      const jobId = unique('job')
      await create({
        jobId,
        targets: [thingArnOf(target)],
        document: DOCUMENT,
        jobExecutionsRolloutConfig: rollout,
      })
      assert.deepEqual((await describeJob(h, jobId)).jobExecutionsRolloutConfig, rollout)
    })
  }

  it('retry criteria ALL alone with 10 retries, and abort criteria ALL/REJECTED at 0 % and 99.99 %, are stored exactly [spec: limits#3]', async () => {
    const jobId = unique('job')
    const jobExecutionsRetryConfig: JobExecutionsRetryConfig = {
      criteriaList: [{ failureType: 'ALL', numberOfRetries: 10 }],
    }
    const abortConfig: AbortConfig = {
      criteriaList: [
        { failureType: 'ALL', action: 'CANCEL', thresholdPercentage: 0, minNumberOfExecutedThings: 1 },
        {
          failureType: 'REJECTED',
          action: 'CANCEL',
          thresholdPercentage: 99.99,
          minNumberOfExecutedThings: 3,
        },
      ],
    }
    await create({
      jobId,
      targets: [thingArnOf(target)],
      document: DOCUMENT,
      jobExecutionsRetryConfig,
      abortConfig,
    })
    const job = await describeJob(h, jobId)
    assert.deepEqual([job.jobExecutionsRetryConfig, job.abortConfig], [jobExecutionsRetryConfig, abortConfig])
  })

  it('values at the edges of every range are accepted and stored [spec: limits#2] [spec: limits#3]', async () => {
    const cases: Input[] = [
      { presignedUrlConfig: { roleArn: 'r'.repeat(20), expiresInSec: 60 } },
      { presignedUrlConfig: { roleArn: 'r'.repeat(2048), expiresInSec: 3600 } },
      { presignedUrlConfig: { roleArn: ROLE_ARN } },
      { timeoutConfig: { inProgressTimeoutInMinutes: 1 } },
      { timeoutConfig: { inProgressTimeoutInMinutes: 10080 } },
      { description: 'd'.repeat(2028) },
      { description: '\u{1F680}'.repeat(2028) },
      { namespaceId: 'n'.repeat(64) },
      { tags: Array.from({ length: 50 }, (_, i) => ({ Key: `k${i}`, Value: 'v'.repeat(256) })) },
      { document: documentOf(MAX_DOCUMENT_CHARS) },
      { jobId: 'j'.repeat(64 - String(process.pid).length) + String(process.pid) },
    ].map((c) => ({ targets: [thingArnOf(target)], document: DOCUMENT, ...c }))
    for (const input of cases) {
      const jobId = input.jobId ?? unique('job')
      await create({ ...input, jobId })
      const d = await h.iot.send(new DescribeJobCommand({ jobId }))
      for (const key of ['presignedUrlConfig', 'timeoutConfig', 'description', 'namespaceId'] as const) {
        if (input[key] !== undefined) assert.deepEqual(d.job?.[key], input[key], key)
      }
      const doc = await h.iot.send(new GetJobDocumentCommand({ jobId }))
      assert.equal(doc.document, input.document)
    }
  })

  it('100 thing targets are accepted [spec: jobs-control-plane#createjob] [spec: limits#4]', async () => {
    const things = await makeThings(h, 100)
    const jobId = unique('job')
    await create({ jobId, targets: things.map(thingArnOf), document: DOCUMENT })
    const job = await describeJob(h, jobId)
    assert.equal(job.targets?.length, 100)
    assert.equal(job.jobProcessDetails?.numberOfQueuedThings, 100)
  })

  it('a future schedulingConfig.startTime makes a SCHEDULED job without executions; the configuration is returned exactly [spec: jobs-control-plane#3.1] [spec: state-machines#1-job-state-machine]', async () => {
    const thingName = await createThing(h)
    const jobId = unique('job')
    const schedulingConfig = {
      startTime: inFuture(60 * MINUTE_MS),
      endTime: inFuture(3 * 60 * MINUTE_MS),
      endBehavior: 'CANCEL',
    } as const
    await create({ jobId, targets: [thingArnOf(thingName)], document: DOCUMENT, schedulingConfig })
    const job = await describeJob(h, jobId)
    assert.deepEqual(
      {
        status: job.status,
        schedulingConfig: job.schedulingConfig,
        jobProcessDetails: job.jobProcessDetails,
      },
      { status: 'SCHEDULED', schedulingConfig, jobProcessDetails: ZERO_COUNTS },
    )
    assert.deepEqual(await executionStates(h, jobId), [])
    assert.deepEqual(await pendingOf(h, thingName), [])
  })

  it('[open-question 18] schedule times with seconds and a zone offset, or at the far edges of the windows, are accepted', async () => {
    const now = clock.nowMs()
    const withZone = (ms: number) =>
      new Date(now + ms + 2 * 60 * MINUTE_MS).toISOString().slice(0, 19) + '+02:00'
    for (const schedulingConfig of [
      { startTime: withZone(40 * MINUTE_MS), endTime: withZone(80 * MINUTE_MS), endBehavior: 'STOP_ROLLOUT' },
      { startTime: inFuture(365 * DAY_MS), endTime: inFuture(2 * 365 * DAY_MS), endBehavior: 'FORCE_CANCEL' },
      { endTime: inFuture(31 * MINUTE_MS + 1000) },
      { startTime: inFuture(31 * MINUTE_MS + 1000) },
    ] as const) {
      const jobId = unique('job')
      await create({ jobId, targets: [thingArnOf(target)], document: DOCUMENT, schedulingConfig })
      const job = await describeJob(h, jobId)
      assert.deepEqual(job.schedulingConfig, schedulingConfig)
      assert.equal(job.status, 'startTime' in schedulingConfig ? 'SCHEDULED' : 'IN_PROGRESS')
    }
  })

  it('[open-question 58] a SNAPSHOT job whose targets reach no thing is COMPLETED at once; a CONTINUOUS one stays IN_PROGRESS [spec: state-machines#10-job-completion-snapshot]', async () => {
    const empty = await createGroup(h)
    clock.advance(1000)
    const snapshot = unique('job')
    await create({ jobId: snapshot, targets: [empty.arn], document: DOCUMENT })
    const s = await describeJob(h, snapshot)
    assert.deepEqual(
      { status: s.status, completedAt: s.completedAt, jobProcessDetails: s.jobProcessDetails },
      { status: 'COMPLETED', completedAt: cpDate(clock.nowMs()), jobProcessDetails: ZERO_COUNTS },
    )
    const continuous = unique('job')
    await create({
      jobId: continuous,
      targets: [empty.arn],
      document: DOCUMENT,
      targetSelection: 'CONTINUOUS',
    })
    const c = await describeJob(h, continuous)
    assert.deepEqual([c.status, c.completedAt], ['IN_PROGRESS', undefined])
  })

  it('destinationPackageVersions (newer member) is stored and returned [spec: newer-in-latest-sdk]', async () => {
    const jobId = unique('job')
    const destinationPackageVersions = [
      `arn:aws:iot:${REGION}:${ACCOUNT}:package/fw/version/1.0.0`,
      `arn:aws:iot:${REGION}:${ACCOUNT}:package/fw/version/1.1.0`,
    ]
    await create({ jobId, targets: [thingArnOf(target)], document: DOCUMENT, destinationPackageVersions })
    assert.deepEqual((await describeJob(h, jobId)).destinationPackageVersions, destinationPackageVersions)
  })
})

describe('CreateJob: from a template [spec: jobs-control-plane#createjob] [spec: jobs-control-plane#5-templates-and-document-parameters]', () => {
  const templateDocument = '{"url":"${aws:iot:parameter:url}","mode":"${aws:iot:parameter:mode}"}'

  async function template(): Promise<string> {
    const jobTemplateId = unique('tpl')
    await h.iot.send(
      new CreateJobTemplateCommand({
        jobTemplateId,
        description: 'template description',
        document: templateDocument,
        timeoutConfig: { inProgressTimeoutInMinutes: 30 },
        presignedUrlConfig: { roleArn: ROLE_ARN, expiresInSec: 600 },
      }),
    )
    return templateArnOf(jobTemplateId)
  }

  it('copies the substituted document and the configurations; the request overrides them; jobTemplateArn and documentParameters are echoed; [open-question 21] the template description applies', async () => {
    const jobTemplateArn = await template()
    const jobId = unique('job')
    const documentParameters = { url: 'https://example.invalid/"fw".bin', mode: 'fast\\safe' }
    const out = await create({
      jobId,
      targets: [thingArnOf(target)],
      jobTemplateArn,
      documentParameters,
      timeoutConfig: { inProgressTimeoutInMinutes: 45 },
    })
    assert.equal(out.description, 'template description')
    const job = await describeJob(h, jobId)
    assert.deepEqual(
      {
        description: job.description,
        jobTemplateArn: job.jobTemplateArn,
        documentParameters: job.documentParameters,
        timeoutConfig: job.timeoutConfig,
        presignedUrlConfig: job.presignedUrlConfig,
      },
      {
        description: 'template description',
        jobTemplateArn,
        documentParameters,
        timeoutConfig: { inProgressTimeoutInMinutes: 45 },
        presignedUrlConfig: { roleArn: ROLE_ARN, expiresInSec: 600 },
      },
    )
    const doc = await h.iot.send(new GetJobDocumentCommand({ jobId }))
    assert.deepEqual(JSON.parse(doc.document!), documentParameters)
  })

  it('a parameter without a value is InvalidRequestException (400) naming documentParameters and the parameter', async () => {
    const jobTemplateArn = await template()
    const jobId = unique('job')
    await expectError(
      create({ jobId, targets: [thingArnOf(target)], jobTemplateArn, documentParameters: { url: 'u' } }),
      'InvalidRequestException',
      400,
      ['documentParameters', 'mode'],
    )
    await notCreated(jobId)
  })

  it('[open-question 33] a parameter that matches no placeholder is InvalidRequestException (400) naming it', async () => {
    const jobTemplateArn = await template()
    const jobId = unique('job')
    await expectError(
      create({
        jobId,
        targets: [thingArnOf(target)],
        jobTemplateArn,
        documentParameters: { url: 'u', mode: 'm', extra: 'x' },
      }),
      'InvalidRequestException',
      400,
      ['documentParameters', 'extra'],
    )
    await notCreated(jobId)
  })

  it('[open-question 20] jobTemplateArn with document is InvalidRequestException (400) naming both', async () => {
    const jobTemplateArn = await template()
    const jobId = unique('job')
    await expectError(
      create({ jobId, targets: [thingArnOf(target)], jobTemplateArn, document: DOCUMENT }),
      'InvalidRequestException',
      400,
      ['document', 'jobTemplateArn'],
    )
    await notCreated(jobId)
  })

  for (const [what, arn] of [
    ['an unknown custom template', templateArnOf('no-such-template')],
    ['an AWS managed template', `arn:aws:iot:${REGION}::jobtemplate/AWS-Reboot:1.0`],
  ] as const) {
    it(`${what} is ResourceNotFoundException (404) naming the template ARN`, async () => {
      const jobId = unique('job')
      await expectError(
        create({ jobId, targets: [thingArnOf(target)], jobTemplateArn: arn }),
        'ResourceNotFoundException',
        404,
        [arn],
      )
      await notCreated(jobId)
    })
  }
})

describe('CreateJob: validation, each rule InvalidRequestException (400) naming the field; no job is created [spec: jobs-control-plane#3-validation-rules-shared-by-createjob-updatejob-and-createjobtemplate] [spec: limits]', () => {
  const rollout = (r: Record<string, unknown>) => ({ jobExecutionsRolloutConfig: r })
  const rate = (r: Record<string, unknown>) =>
    rollout({
      exponentialRate: {
        baseRatePerMinute: 10,
        incrementFactor: 2,
        rateIncreaseCriteria: { numberOfNotifiedThings: 10 },
        ...r,
      },
    })
  const abort = (c: Record<string, unknown>) => ({
    abortConfig: {
      criteriaList: [
        {
          failureType: 'FAILED',
          action: 'CANCEL',
          thresholdPercentage: 10,
          minNumberOfExecutedThings: 5,
          ...c,
        },
      ],
    },
  })
  const retry = (criteriaList: readonly Record<string, unknown>[]) => ({
    jobExecutionsRetryConfig: { criteriaList },
  })
  const ABORT = 'abortConfig.criteriaList[0]'
  const RATE = 'jobExecutionsRolloutConfig.exponentialRate'
  const otherThing = (name: string) => `arn:aws:iot:${REGION}:${ACCOUNT}:thing/${name}`

  /** [label, the change to a valid request, what the message must name] */
  const cases: readonly [string, () => Record<string, unknown>, readonly string[]][] = [
    ['an empty description', () => ({ description: '' }), ['description']],
    ['a description with a control character', () => ({ description: 'bell \u0007' }), ['description']],
    ['a description of 2029 characters', () => ({ description: 'd'.repeat(2029) }), ['description']],
    [
      'a roleArn of 19 characters',
      () => ({ presignedUrlConfig: { roleArn: 'r'.repeat(19) } }),
      ['presignedUrlConfig.roleArn'],
    ],
    [
      'a roleArn of 2049 characters',
      () => ({ presignedUrlConfig: { roleArn: 'r'.repeat(2049) } }),
      ['presignedUrlConfig.roleArn'],
    ],
    [
      'expiresInSec 59',
      () => ({ presignedUrlConfig: { roleArn: ROLE_ARN, expiresInSec: 59 } }),
      ['presignedUrlConfig.expiresInSec'],
    ],
    [
      'expiresInSec 3601',
      () => ({ presignedUrlConfig: { roleArn: ROLE_ARN, expiresInSec: 3601 } }),
      ['presignedUrlConfig.expiresInSec'],
    ],
    [
      'maximumPerMinute 0',
      () => rollout({ maximumPerMinute: 0 }),
      ['jobExecutionsRolloutConfig.maximumPerMinute'],
    ],
    [
      '[open-question 14] maximumPerMinute 1001',
      () => rollout({ maximumPerMinute: 1001 }),
      ['jobExecutionsRolloutConfig.maximumPerMinute'],
    ],
    ['baseRatePerMinute 0', () => rate({ baseRatePerMinute: 0 }), [`${RATE}.baseRatePerMinute`]],
    ['baseRatePerMinute 1001', () => rate({ baseRatePerMinute: 1001 }), [`${RATE}.baseRatePerMinute`]],
    ['incrementFactor 1.0', () => rate({ incrementFactor: 1.0 }), [`${RATE}.incrementFactor`]],
    ['incrementFactor 5.1', () => rate({ incrementFactor: 5.1 }), [`${RATE}.incrementFactor`]],
    [
      'incrementFactor 1.55 (two decimal digits)',
      () => rate({ incrementFactor: 1.55 }),
      [`${RATE}.incrementFactor`],
    ],
    [
      'an exponentialRate without incrementFactor',
      () =>
        rollout({
          exponentialRate: { baseRatePerMinute: 1, rateIncreaseCriteria: { numberOfNotifiedThings: 1 } },
        }),
      ['incrementFactor'],
    ],
    [
      'an exponentialRate without rateIncreaseCriteria',
      () => rollout({ exponentialRate: { baseRatePerMinute: 1, incrementFactor: 2 } }),
      ['rateIncreaseCriteria'],
    ],
    [
      'empty rateIncreaseCriteria',
      () => rate({ rateIncreaseCriteria: {} }),
      [`${RATE}.rateIncreaseCriteria`],
    ],
    [
      '[open-question 15] both rateIncreaseCriteria members',
      () => rate({ rateIncreaseCriteria: { numberOfNotifiedThings: 1, numberOfSucceededThings: 1 } }),
      [`${RATE}.rateIncreaseCriteria`],
    ],
    [
      'numberOfNotifiedThings 0',
      () => rate({ rateIncreaseCriteria: { numberOfNotifiedThings: 0 } }),
      [`${RATE}.rateIncreaseCriteria.numberOfNotifiedThings`],
    ],
    [
      'numberOfSucceededThings 0',
      () => rate({ rateIncreaseCriteria: { numberOfSucceededThings: 0 } }),
      [`${RATE}.rateIncreaseCriteria.numberOfSucceededThings`],
    ],
    [
      '[open-question 15] baseRatePerMinute above maximumPerMinute',
      () => ({
        jobExecutionsRolloutConfig: {
          maximumPerMinute: 50,
          exponentialRate: {
            baseRatePerMinute: 51,
            incrementFactor: 2,
            rateIncreaseCriteria: { numberOfNotifiedThings: 1 },
          },
        },
      }),
      [`${RATE}.baseRatePerMinute`, 'maximumPerMinute'],
    ],
    [
      'an empty abort criteriaList',
      () => ({ abortConfig: { criteriaList: [] } }),
      ['abortConfig.criteriaList'],
    ],
    ['abortConfig without criteriaList', () => ({ abortConfig: {} }), ['criteriaList']],
    [
      'an abort failureType outside the enum',
      () => abort({ failureType: 'TIMEOUT' }),
      [`${ABORT}.failureType`],
    ],
    ['an abort action other than CANCEL', () => abort({ action: 'STOP' }), [`${ABORT}.action`]],
    [
      'thresholdPercentage 100.01',
      () => abort({ thresholdPercentage: 100.01 }),
      [`${ABORT}.thresholdPercentage`],
    ],
    ['thresholdPercentage -1', () => abort({ thresholdPercentage: -1 }), [`${ABORT}.thresholdPercentage`]],
    [
      'thresholdPercentage 12.345 (three decimal digits)',
      () => abort({ thresholdPercentage: 12.345 }),
      [`${ABORT}.thresholdPercentage`],
    ],
    [
      'minNumberOfExecutedThings 0',
      () => abort({ minNumberOfExecutedThings: 0 }),
      [`${ABORT}.minNumberOfExecutedThings`],
    ],
    [
      'an abort criterion without minNumberOfExecutedThings',
      () => ({
        abortConfig: { criteriaList: [{ failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 1 }] },
      }),
      ['minNumberOfExecutedThings'],
    ],
    [
      '[open-question 16] the same abort failureType twice',
      () => ({
        abortConfig: {
          criteriaList: [0, 1].map(() => ({
            failureType: 'FAILED',
            action: 'CANCEL',
            thresholdPercentage: 10,
            minNumberOfExecutedThings: 1,
          })),
        },
      }),
      ['abortConfig.criteriaList[1].failureType'],
    ],
    [
      'inProgressTimeoutInMinutes 0',
      () => ({ timeoutConfig: { inProgressTimeoutInMinutes: 0 } }),
      ['timeoutConfig.inProgressTimeoutInMinutes'],
    ],
    [
      'inProgressTimeoutInMinutes 10081',
      () => ({ timeoutConfig: { inProgressTimeoutInMinutes: 10081 } }),
      ['timeoutConfig.inProgressTimeoutInMinutes'],
    ],
    ['an empty retry criteriaList', () => retry([]), ['jobExecutionsRetryConfig.criteriaList']],
    [
      'three retry criteria',
      () =>
        retry([
          { failureType: 'FAILED', numberOfRetries: 1 },
          { failureType: 'TIMED_OUT', numberOfRetries: 1 },
          { failureType: 'ALL', numberOfRetries: 1 },
        ]),
      ['jobExecutionsRetryConfig.criteriaList'],
    ],
    [
      'a retry failureType REJECTED',
      () => retry([{ failureType: 'REJECTED', numberOfRetries: 1 }]),
      ['jobExecutionsRetryConfig.criteriaList[0].failureType'],
    ],
    [
      'numberOfRetries 11',
      () => retry([{ failureType: 'FAILED', numberOfRetries: 11 }]),
      ['jobExecutionsRetryConfig.criteriaList[0].numberOfRetries'],
    ],
    [
      'numberOfRetries -1',
      () => retry([{ failureType: 'FAILED', numberOfRetries: -1 }]),
      ['jobExecutionsRetryConfig.criteriaList[0].numberOfRetries'],
    ],
    [
      '11 retries in total',
      () =>
        retry([
          { failureType: 'FAILED', numberOfRetries: 6 },
          { failureType: 'TIMED_OUT', numberOfRetries: 5 },
        ]),
      ['jobExecutionsRetryConfig', '10'],
    ],
    [
      '[open-question 16] the same retry failureType twice',
      () =>
        retry([
          { failureType: 'FAILED', numberOfRetries: 1 },
          { failureType: 'FAILED', numberOfRetries: 1 },
        ]),
      ['jobExecutionsRetryConfig.criteriaList', 'failureType'],
    ],
    [
      '[open-question 16] ALL together with FAILED',
      () =>
        retry([
          { failureType: 'ALL', numberOfRetries: 1 },
          { failureType: 'FAILED', numberOfRetries: 1 },
        ]),
      ['jobExecutionsRetryConfig.criteriaList', 'ALL'],
    ],
    [
      'a startTime 29 minutes ahead',
      () => ({ schedulingConfig: { startTime: inFuture(29 * MINUTE_MS) } }),
      ['schedulingConfig.startTime'],
    ],
    [
      'a startTime in the past',
      () => ({ schedulingConfig: { startTime: inFuture(-DAY_MS) } }),
      ['schedulingConfig.startTime'],
    ],
    [
      'a startTime more than a year ahead',
      () => ({ schedulingConfig: { startTime: inFuture(367 * DAY_MS) } }),
      ['schedulingConfig.startTime'],
    ],
    [
      'an endTime 29 minutes ahead',
      () => ({ schedulingConfig: { endTime: inFuture(29 * MINUTE_MS) } }),
      ['schedulingConfig.endTime'],
    ],
    [
      'an endTime more than two years ahead',
      () => ({ schedulingConfig: { endTime: inFuture(2 * 366 * DAY_MS + 2 * DAY_MS) } }),
      ['schedulingConfig.endTime'],
    ],
    [
      'an endTime 20 minutes after startTime',
      () => ({
        schedulingConfig: { startTime: inFuture(60 * MINUTE_MS), endTime: inFuture(80 * MINUTE_MS) },
      }),
      ['schedulingConfig.endTime', 'startTime'],
    ],
    [
      'an endTime before startTime',
      () => ({
        schedulingConfig: { startTime: inFuture(5 * 60 * MINUTE_MS), endTime: inFuture(60 * MINUTE_MS) },
      }),
      ['schedulingConfig.endTime'],
    ],
    [
      'a document nested deeper than 1,000 levels (MQTT replies carry it as an object)',
      () => ({ document: `{"a":${'['.repeat(1000)}${']'.repeat(1000)}}` }),
      ['document', '1000'],
    ],
    [
      'an endBehavior outside the enum',
      () => ({ schedulingConfig: { endTime: inFuture(60 * MINUTE_MS), endBehavior: 'PAUSE' } }),
      ['schedulingConfig.endBehavior'],
    ],
    [
      '[open-question 18] a startTime that is not a date and time',
      () => ({ schedulingConfig: { startTime: 'tomorrow at noon' } }),
      ['schedulingConfig.startTime'],
    ],
    [
      '[open-question 18] a startTime that is a date only',
      () => ({ schedulingConfig: { startTime: inFuture(2 * DAY_MS).slice(0, 10) } }),
      ['schedulingConfig.startTime'],
    ],
    ['an empty startTime', () => ({ schedulingConfig: { startTime: '' } }), ['schedulingConfig.startTime']],
    [
      'a maintenance window whose startTime is not a cron expression',
      () => ({
        schedulingConfig: {
          startTime: inFuture(60 * MINUTE_MS),
          maintenanceWindows: [{ startTime: 'every night', durationInMinutes: 60 }],
        },
      }),
      ['schedulingConfig.maintenanceWindows[0].startTime'],
    ],
    [
      'a maintenance window longer than 1430 minutes',
      () => ({
        schedulingConfig: {
          maintenanceWindows: [{ startTime: 'cron(0 0 * * ? *)', durationInMinutes: 1431 }],
        },
      }),
      ['schedulingConfig.maintenanceWindows[0].durationInMinutes'],
    ],
    [
      '[open-question 17] 51 tags',
      () => ({ tags: Array.from({ length: 51 }, (_, i) => ({ Key: `k${i}`, Value: 'v' })) }),
      ['tags', '50'],
    ],
    [
      'a tag key with a character outside the pattern',
      () => ({ tags: [{ Key: 'bad!key', Value: 'v' }] }),
      ['tags[0].Key'],
    ],
    ['an empty tag key', () => ({ tags: [{ Key: '', Value: 'v' }] }), ['tags[0].Key']],
    [
      'a tag value of 257 characters',
      () => ({ tags: [{ Key: 'k', Value: 'v'.repeat(257) }] }),
      ['tags[0].Value'],
    ],
    ['a document that is not JSON', () => ({ document: '{"a":' }), ['document', 'JSON']],
    ['a document that is a JSON array', () => ({ document: '[1,2]' }), ['document', 'object']],
    ['a document that is a JSON string', () => ({ document: '"text"' }), ['document', 'object']],
    ['an empty document', () => ({ document: '' }), ['document']],
    [
      'a document of 32769 characters',
      () => ({ document: documentOf(MAX_DOCUMENT_CHARS + 1) }),
      ['document', '32768'],
    ],
    [
      'both document and documentSource',
      () => ({ documentSource: 'https://example.invalid/doc.json' }),
      ['document', 'documentSource'],
    ],
    ['neither document nor documentSource', () => ({ document: undefined }), ['document', 'documentSource']],
    [
      'documentSource without a document fetcher',
      () => ({ document: undefined, documentSource: 'https://example.invalid/doc.json' }),
      ['documentSource'],
    ],
    [
      'a documentSource of 1351 characters',
      () => ({ document: undefined, documentSource: `https://example.invalid/${'p'.repeat(1327)}` }),
      ['documentSource'],
    ],
    ['an empty target list', () => ({ targets: [] }), ['targets']],
    [
      '101 distinct targets',
      () => ({ targets: Array.from({ length: 101 }, (_, i) => otherThing(`t${i}`)) }),
      ['targets', '100'],
    ],
    ['a target that is not an ARN', () => ({ targets: ['thing-1'] }), ['targets[0]']],
    [
      'a target ARN of another region',
      () => ({ targets: [`arn:aws:iot:eu-west-1:${ACCOUNT}:thing/${target}`] }),
      ['targets[0]'],
    ],
    [
      'a target ARN of another account',
      () => ({ targets: [`arn:aws:iot:${REGION}:210987654321:thing/${target}`] }),
      ['targets[0]'],
    ],
    [
      'a job ARN as a target',
      () => ({ targets: [thingArnOf(target), jobArnOf('some-job')] }),
      ['targets[1]'],
    ],
    [
      'a target thing name outside the pattern',
      () => ({ targets: [otherThing('bad.name')] }),
      ['targets[0]'],
    ],
    [
      'a target of 2049 characters',
      () => ({ targets: [otherThing('x'.repeat(2049 - otherThing('').length))] }),
      ['targets[0]'],
    ],
    ['a jobId of 65 characters', () => ({ jobId: 'j'.repeat(65) }), ['jobId']],
    ['a jobId with a dot', () => ({ jobId: `bad.${process.pid}` }), ['jobId']],
    ['a namespaceId with a space', () => ({ namespaceId: 'bad ns' }), ['namespaceId']],
    ['a namespaceId of 65 characters', () => ({ namespaceId: 'n'.repeat(65) }), ['namespaceId']],
    ['an empty namespaceId', () => ({ namespaceId: '' }), ['namespaceId']],
    [
      'documentParameters without jobTemplateArn',
      () => ({ documentParameters: { a: 'b' } }),
      ['documentParameters', 'jobTemplateArn'],
    ],
    [
      'a jobTemplateArn that is not an ARN',
      () => ({ document: undefined, jobTemplateArn: 'template-1' }),
      ['jobTemplateArn'],
    ],
    ['a targetSelection outside the enum', () => ({ targetSelection: 'ALWAYS' }), ['targetSelection']],
    [
      '26 destinationPackageVersions',
      () => ({
        destinationPackageVersions: Array.from(
          { length: 26 },
          (_, i) => `arn:aws:iot:${REGION}:${ACCOUNT}:package/p/version/${i}`,
        ),
      }),
      ['destinationPackageVersions', '25'],
    ],
  ]

  for (const [label, change, mentions] of cases) {
    it(`${label}`, async () => {
      const input: Record<string, unknown> = {
        jobId: unique('job'),
        targets: [thingArnOf(target)],
        document: DOCUMENT,
        ...change(),
      }
      for (const key of Object.keys(input)) if (input[key] === undefined) delete input[key]
      await expectError(create(input as Input), 'InvalidRequestException', 400, mentions)
      const jobId = String(input['jobId'])
      if (/^[a-zA-Z0-9_-]{1,64}$/.test(jobId)) await notCreated(jobId)
    })
  }
})

describe('CreateJob: targets that do not exist, and ids in use [spec: jobs-control-plane#createjob]', () => {
  it('[open-question 19] a well-formed ARN of a thing that does not exist is ResourceNotFoundException (404) naming the thing; nothing is created', async () => {
    const missing = unique('missing')
    const present = await createThing(h)
    const jobId = unique('job')
    await expectError(
      create({ jobId, targets: [thingArnOf(present), thingArnOf(missing)], document: DOCUMENT }),
      'ResourceNotFoundException',
      404,
      ['Thing', missing],
    )
    await notCreated(jobId)
    assert.deepEqual(await pendingOf(h, present), [], 'no execution was queued for the existing target')
  })

  it('[open-question 19] a well-formed ARN of a thing group that does not exist is ResourceNotFoundException (404) naming the group', async () => {
    const missing = unique('nogroup')
    const jobId = unique('job')
    await expectError(
      create({
        jobId,
        targets: [`arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/${missing}`],
        document: DOCUMENT,
      }),
      'ResourceNotFoundException',
      404,
      ['Thing group', missing],
    )
    await notCreated(jobId)
  })

  it('an existing jobId is ResourceAlreadyExistsException (409) with resourceId = jobId and resourceArn = job ARN; the job stays as it was', async () => {
    const [first, second] = await makeThings(h, 2)
    const jobId = unique('job')
    await create({ jobId, targets: [thingArnOf(first!)], document: DOCUMENT, description: 'original' })
    const e = await expectError(
      create({ jobId, targets: [thingArnOf(second!)], document: '{"other":true}', description: 'second' }),
      'ResourceAlreadyExistsException',
      409,
      [jobId],
    )
    assert.ok(e instanceof ResourceAlreadyExistsException)
    assert.equal(e.resourceId, jobId)
    assert.equal(e.resourceArn, jobArnOf(jobId))
    const job = await describeJob(h, jobId)
    assert.deepEqual([job.description, job.targets], ['original', [thingArnOf(first!)]])
    assert.deepEqual(await executionStates(h, jobId), [`${first}#1:QUEUED`])
    assert.equal((await h.iot.send(new GetJobDocumentCommand({ jobId }))).document, DOCUMENT)
  })

  it('validation runs in the spec order: member rules before targets, both before the id in use', async () => {
    const jobId = unique('job')
    await create({ jobId, targets: [thingArnOf(target)], document: DOCUMENT })
    const missing = unique('missing')
    // 1 before 7: a bad member of a request whose id is taken
    await expectError(
      create({
        jobId,
        targets: [thingArnOf(target)],
        document: DOCUMENT,
        timeoutConfig: { inProgressTimeoutInMinutes: 0 },
      }),
      'InvalidRequestException',
      400,
      ['timeoutConfig.inProgressTimeoutInMinutes'],
    )
    // 1 before 2: a bad member together with a target that does not exist
    await expectError(
      create({ targets: [thingArnOf(missing)], document: '[]' }),
      'InvalidRequestException',
      400,
      ['document'],
    )
    // 2 before 7: a target that does not exist, with an id that is taken
    await expectError(
      create({ jobId, targets: [thingArnOf(missing)], document: DOCUMENT }),
      'ResourceNotFoundException',
      404,
      [missing],
    )
  })

  it('validation step 2 (targets exist) comes before step 3 (document source): a missing target with both document and documentSource is ResourceNotFoundException', async () => {
    const missing = unique('missing')
    const jobId = unique('job')
    await expectError(
      create({
        jobId,
        targets: [thingArnOf(missing)],
        document: DOCUMENT,
        documentSource: 'https://example.invalid/d.json',
      }),
      'ResourceNotFoundException',
      404,
      [missing],
    )
    await notCreated(jobId)
  })

  it('an identical repeat of CreateJob is also 409 (a retried CreateJob surfaces as 409) [spec: wire-protocol#8]', async () => {
    const jobId = unique('job')
    const input = { jobId, targets: [thingArnOf(target)], document: DOCUMENT }
    await create(input)
    await expectError(create(input), 'ResourceAlreadyExistsException', 409, [jobId])
  })

  it('a jobId in DELETION_IN_PROGRESS is 409; once the deletion has completed the id can be used again', async () => {
    const own = await startHarness()
    try {
      const thingName = await createThing(own)
      const jobId = unique('job')
      const input = new CreateJobCommand({ jobId, targets: [thingArnOf(thingName)], document: DOCUMENT })
      // Hold the background purge so that the job stays in DELETION_IN_PROGRESS.
      await own.server.workers.jobDeletion.stop()
      await own.iot.send(input)
      await own.iot.send(new DeleteJobCommand({ jobId, force: true }))
      assert.equal((await describeJob(own, jobId)).status, 'DELETION_IN_PROGRESS')
      const e = await expectError(own.iot.send(input), 'ResourceAlreadyExistsException', 409, [jobId])
      assert.deepEqual([e.resourceId, e.resourceArn], [jobId, jobArnOf(jobId)])
    } finally {
      await own.close()
    }
    const again = await startHarness()
    try {
      const thingName = await createThing(again)
      const jobId = unique('job')
      await again.iot.send(
        new CreateJobCommand({ jobId, targets: [thingArnOf(thingName)], document: DOCUMENT }),
      )
      await again.iot.send(new DeleteJobCommand({ jobId, force: true }))
      await again.server.workers.jobDeletion.idle()
      await expectError(again.iot.send(new DescribeJobCommand({ jobId })), 'ResourceNotFoundException', 404)
      const out = await again.iot.send(
        new CreateJobCommand({ jobId, targets: [thingArnOf(thingName)], document: '{"second":true}' }),
      )
      assert.equal(out.jobId, jobId)
      assert.equal((await describeJob(again, jobId)).status, 'IN_PROGRESS')
      assert.deepEqual(await executionStates(again, jobId), [`${thingName}#1:QUEUED`])
    } finally {
      await again.close()
    }
  })
})

describe('CreateJob: thousands of targets, with maxTargetsPerJob raised [open-question 65] [spec: jobs-control-plane#createjob]', () => {
  const COUNT = 2_000
  let big: Harness
  let things: string[]
  before(async () => {
    big = await startHarness({ clock, settings: { maxTargetsPerJob: COUNT + 10 } })
    things = Array.from({ length: COUNT }, () => unique('many'))
    for (let i = 0; i < things.length; i += 50) {
      await Promise.all(
        things.slice(i, i + 50).map((thingName) => big.iot.send(new CreateThingCommand({ thingName }))),
      )
    }
  })
  after(async () => {
    await big.close()
  })

  it(`${COUNT} thing ARNs, one given twice: one QUEUED execution per thing, every one there when CreateJob returns`, async () => {
    const jobId = unique('job')
    const targets = [...things.map(thingArnOf).reverse(), thingArnOf(things[7]!)]
    await big.iot.send(new CreateJobCommand({ jobId, targets, document: DOCUMENT }))
    const job = await describeJob(big, jobId)
    assert.equal(job.jobProcessDetails?.numberOfQueuedThings, COUNT)
    assert.deepEqual(
      job.targets,
      things.map(thingArnOf).reverse(),
      'the targets, once each, in request order',
    )
    assert.deepEqual(
      await executionStates(big, jobId),
      [...things].sort().map((t) => `${t}#1:QUEUED`),
    )
  })

  it('[open-question 19] missing things among thousands are ResourceNotFoundException (404) naming each once, in name order; nothing is created', async () => {
    const gone = unique('gone')
    const missing = [`${gone}-c`, `${gone}-a`, `${gone}-b`]
    const jobId = unique('job')
    const targets = [...things.slice(0, 700), missing[0]!, ...things.slice(700), ...missing, ...missing]
    const pendingBefore = await pendingOf(big, things[0]!)
    const e = await expectError(
      big.iot.send(new CreateJobCommand({ jobId, targets: targets.map(thingArnOf), document: DOCUMENT })),
      'ResourceNotFoundException',
      404,
    )
    assert.equal(e.message, `Thing ${gone}-a, ${gone}-b, ${gone}-c not found`)
    await expectError(big.iot.send(new DescribeJobCommand({ jobId })), 'ResourceNotFoundException', 404)
    assert.deepEqual(await pendingOf(big, things[0]!), pendingBefore, 'no execution was queued for a target')
  })
})
