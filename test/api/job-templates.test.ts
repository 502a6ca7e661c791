/**
 * Job templates through the real AWS SDK: CreateJobTemplate (from a document or from a job),
 * DescribeJobTemplate, ListJobTemplates, DeleteJobTemplate, and CreateJob from a template with
 * `${aws:iot:parameter:NAME}` substitution.
 */
import {
  ConflictException,
  CreateJobCommand,
  CreateJobTemplateCommand,
  CreateThingCommand,
  DeleteJobTemplateCommand,
  DescribeJobCommand,
  DescribeJobTemplateCommand,
  GetJobDocumentCommand,
  InvalidRequestException,
  ListJobTemplatesCommand,
  ResourceNotFoundException,
  paginateListJobTemplates,
} from '@aws-sdk/client-iot'
import type { CreateJobCommandInput, CreateJobTemplateCommandInput } from '@aws-sdk/client-iot'
import { DescribeJobExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, raw, startHarness, thingArnOf, unique } from '../support/harness.js'
import { ManualClock, createThing, describeJob, isError } from '../support/device.js'

const ROLE_ARN = `arn:aws:iam::${ACCOUNT}:role/fleet-urls`
const templateArnOf = (id: string) => `arn:aws:iot:${REGION}:${ACCOUNT}:jobtemplate/${id}`
const jobArnOf = (id: string) => `arn:aws:iot:${REGION}:${ACCOUNT}:job/${id}`

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

/** Every configuration a template can carry. */
const CONFIGS: Required<
  Pick<
    CreateJobTemplateCommandInput,
    | 'presignedUrlConfig'
    | 'jobExecutionsRolloutConfig'
    | 'abortConfig'
    | 'timeoutConfig'
    | 'jobExecutionsRetryConfig'
  >
> = {
  presignedUrlConfig: { roleArn: ROLE_ARN, expiresInSec: 1200 },
  jobExecutionsRolloutConfig: { maximumPerMinute: 20 },
  abortConfig: {
    criteriaList: [
      { failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 40, minNumberOfExecutedThings: 3 },
    ],
  },
  timeoutConfig: { inProgressTimeoutInMinutes: 45 },
  jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 2 }] },
}
const CONFIG_KEYS = Object.keys(CONFIGS) as (keyof typeof CONFIGS)[]
const TEMPLATE_DOCUMENT = '{"operation":"reboot","delaySeconds":5}'

async function createTemplate(input: Partial<CreateJobTemplateCommandInput> = {}): Promise<string> {
  const jobTemplateId = input.jobTemplateId ?? unique('tpl')
  await h.iot.send(
    new CreateJobTemplateCommand({
      description: 'a template',
      document: TEMPLATE_DOCUMENT,
      ...structuredClone(CONFIGS),
      ...input,
      jobTemplateId,
    }),
  )
  return jobTemplateId
}

/** CreateJob on one fresh thing; returns the job id and the thing. */
async function jobFrom(input: Partial<CreateJobCommandInput>): Promise<{ jobId: string; thingName: string }> {
  const thingName = await createThing(h)
  const jobId = unique('job')
  await h.iot.send(new CreateJobCommand({ ...input, jobId, targets: [thingArnOf(thingName)] }))
  return { jobId, thingName }
}

const documentOf = async (jobId: string, beforeSubstitution?: boolean): Promise<string | undefined> =>
  (
    await h.iot.send(
      new GetJobDocumentCommand({
        jobId,
        ...(beforeSubstitution === undefined ? {} : { beforeSubstitution }),
      }),
    )
  ).document

/** Asserts an InvalidRequestException whose message names `names`. */
const invalidNaming =
  (names: string) =>
  (e: unknown): boolean => {
    isError(InvalidRequestException, 400)(e)
    assert.ok((e as Error).message.includes(names), `"${(e as Error).message}" names ${names}`)
    return true
  }

describe('CreateJobTemplate and DescribeJobTemplate [spec: jobs-control-plane#createjobtemplate] [spec: jobs-control-plane#describejobtemplate]', () => {
  it('stores a template from a document with every configuration; DescribeJobTemplate returns it exactly', async () => {
    const jobTemplateId = unique('tpl')
    clock.advance(1000)
    const out = await h.iot.send(
      new CreateJobTemplateCommand({
        jobTemplateId,
        description: 'reboot template',
        document: TEMPLATE_DOCUMENT,
        ...structuredClone(CONFIGS),
        tags: [{ Key: 'team', Value: 'fleet' }],
      }),
    )
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.equal(out.jobTemplateArn, templateArnOf(jobTemplateId))
    assert.equal(out.jobTemplateId, jobTemplateId)
    const { $metadata, ...described } = await h.iot.send(new DescribeJobTemplateCommand({ jobTemplateId }))
    assert.equal($metadata.httpStatusCode, 200)
    assert.deepEqual(described, {
      jobTemplateArn: templateArnOf(jobTemplateId),
      jobTemplateId,
      description: 'reboot template',
      document: TEMPLATE_DOCUMENT,
      createdAt: new Date(clock.nowMs()),
      ...CONFIGS,
    })
  })

  it('a template id already used is ConflictException (409) and the stored template is unchanged', async () => {
    const jobTemplateId = await createTemplate({ description: 'first' })
    const before = await h.iot.send(new DescribeJobTemplateCommand({ jobTemplateId }))
    clock.advance(1000)
    await assert.rejects(
      h.iot.send(
        new CreateJobTemplateCommand({ jobTemplateId, description: 'second', document: '{"other":true}' }),
      ),
      isError(ConflictException, 409),
    )
    const after = await h.iot.send(new DescribeJobTemplateCommand({ jobTemplateId }))
    assert.deepEqual({ ...after, $metadata: undefined }, { ...before, $metadata: undefined })
  })

  it('[open-question 32] from jobArn: copies the job document and configurations; given members override the copied ones', async () => {
    const { jobId } = await jobFrom({ document: '{"operation":"copied"}', ...structuredClone(CONFIGS) })
    const jobTemplateId = unique('tpl')
    await h.iot.send(
      new CreateJobTemplateCommand({
        jobTemplateId,
        jobArn: jobArnOf(jobId),
        description: 'copied from a job',
        timeoutConfig: { inProgressTimeoutInMinutes: 5 },
      }),
    )
    const t = await h.iot.send(new DescribeJobTemplateCommand({ jobTemplateId }))
    assert.equal(t.document, '{"operation":"copied"}')
    assert.equal(t.description, 'copied from a job')
    assert.deepEqual(t.timeoutConfig, { inProgressTimeoutInMinutes: 5 })
    for (const key of CONFIG_KEYS.filter((k) => k !== 'timeoutConfig'))
      assert.deepEqual(t[key], CONFIGS[key], key)
  })

  it('an unknown jobArn is ResourceNotFoundException and no template is created', async () => {
    const jobTemplateId = unique('tpl')
    await assert.rejects(
      h.iot.send(
        new CreateJobTemplateCommand({
          jobTemplateId,
          jobArn: jobArnOf(unique('missing')),
          description: 'x',
        }),
      ),
      isError(ResourceNotFoundException, 404),
    )
    await assert.rejects(
      h.iot.send(new DescribeJobTemplateCommand({ jobTemplateId })),
      isError(ResourceNotFoundException, 404),
    )
  })

  const sourceCases: [string, Partial<CreateJobTemplateCommandInput>, string][] = [
    ['[open-question 32] no document, documentSource or jobArn', {}, 'document'],
    ['[open-question 32] both document and jobArn', { document: '{}', jobArn: jobArnOf('x') }, 'document'],
    [
      'documentSource without a document fetcher',
      { documentSource: 'https://example.com/doc.json' },
      'documentSource',
    ],
    ['a document that is not JSON', { document: '{"a":' }, 'document'],
    ['a document that is not a JSON object', { document: '[1,2]' }, 'document'],
  ]
  for (const [what, source, names] of sourceCases) {
    it(`${what} is InvalidRequestException naming ${names}, and no template is created`, async () => {
      const jobTemplateId = unique('tpl')
      await assert.rejects(
        h.iot.send(new CreateJobTemplateCommand({ jobTemplateId, description: 'x', ...source })),
        invalidNaming(names),
      )
      await assert.rejects(
        h.iot.send(new DescribeJobTemplateCommand({ jobTemplateId })),
        isError(ResourceNotFoundException, 404),
      )
    })
  }

  it('DescribeJobTemplate of an unknown id is ResourceNotFoundException', async () => {
    await assert.rejects(
      h.iot.send(new DescribeJobTemplateCommand({ jobTemplateId: unique('missing') })),
      isError(ResourceNotFoundException, 404),
    )
  })
})

describe('ListJobTemplates [spec: jobs-control-plane#listjobtemplates] [spec: wire-protocol#6]', () => {
  it('lists summaries (arn, id, description, createdAt) in creation order, page by page', async () => {
    const ids: string[] = []
    const createdAt: number[] = []
    for (const n of [1, 2, 3]) {
      clock.advance(1000)
      ids.push(await createTemplate({ description: `listed ${n}` }))
      createdAt.push(clock.nowMs())
    }
    const seen: unknown[] = []
    let pages = 0
    for await (const page of paginateListJobTemplates({ client: h.iot, pageSize: 2 }, {})) {
      pages += 1
      assert.ok((page.jobTemplates?.length ?? 0) <= 2)
      for (const t of page.jobTemplates ?? []) if (ids.includes(t.jobTemplateId ?? '')) seen.push(t)
    }
    assert.ok(pages >= 2, 'maxResults=2 over at least three templates gives several pages')
    assert.deepEqual(
      seen,
      ids.map((id, i) => ({
        jobTemplateArn: templateArnOf(id),
        jobTemplateId: id,
        description: `listed ${i + 1}`,
        createdAt: new Date(createdAt[i]!),
      })),
    )
    const first = await h.iot.send(new ListJobTemplatesCommand({ maxResults: 1 }))
    assert.equal(first.jobTemplates?.length, 1)
    assert.equal(typeof first.nextToken, 'string')
  })
})

describe('DeleteJobTemplate [spec: jobs-control-plane#deletejobtemplate]', () => {
  it('removes the template (Describe 404, not listed, a second delete 404); jobs made from it keep their copy; the id can be used again', async () => {
    const jobTemplateId = await createTemplate()
    const { jobId } = await jobFrom({ jobTemplateArn: templateArnOf(jobTemplateId) })
    const out = await h.iot.send(new DeleteJobTemplateCommand({ jobTemplateId }))
    assert.equal(out.$metadata.httpStatusCode, 200)
    await assert.rejects(
      h.iot.send(new DescribeJobTemplateCommand({ jobTemplateId })),
      isError(ResourceNotFoundException, 404),
    )
    const listed: string[] = []
    for await (const page of paginateListJobTemplates({ client: h.iot, pageSize: 250 }, {})) {
      for (const t of page.jobTemplates ?? []) listed.push(t.jobTemplateId ?? '')
    }
    assert.ok(!listed.includes(jobTemplateId))
    await assert.rejects(
      h.iot.send(new DeleteJobTemplateCommand({ jobTemplateId })),
      isError(ResourceNotFoundException, 404),
    )
    const job = await describeJob(h, jobId)
    assert.equal(job.jobTemplateArn, templateArnOf(jobTemplateId))
    assert.deepEqual(job.timeoutConfig, CONFIGS.timeoutConfig)
    assert.equal(await documentOf(jobId), TEMPLATE_DOCUMENT)
    // A job can no longer be made from it.
    await assert.rejects(
      jobFrom({ jobTemplateArn: templateArnOf(jobTemplateId) }),
      isError(ResourceNotFoundException, 404),
    )
    await createTemplate({ jobTemplateId, description: 'reborn' })
    assert.equal((await h.iot.send(new DescribeJobTemplateCommand({ jobTemplateId }))).description, 'reborn')
  })
})

describe('CreateJob from a template [spec: jobs-control-plane#createjob] [spec: jobs-control-plane#5-templates-and-document-parameters]', () => {
  it('the job inherits the document, description and every configuration; DescribeJob echoes jobTemplateArn', async () => {
    const jobTemplateId = await createTemplate({ description: 'inherited description' })
    const { jobId, thingName } = await jobFrom({ jobTemplateArn: templateArnOf(jobTemplateId) })
    const job = await describeJob(h, jobId)
    assert.equal(job.jobTemplateArn, templateArnOf(jobTemplateId))
    // [open-question 21] the template's description when the request has none
    assert.equal(job.description, 'inherited description')
    for (const key of CONFIG_KEYS) assert.deepEqual(job[key], CONFIGS[key], key)
    assert.equal(job.documentParameters, undefined)
    assert.equal(await documentOf(jobId), TEMPLATE_DOCUMENT)
    assert.equal(await documentOf(jobId, true), TEMPLATE_DOCUMENT)
    const device = await h.data.send(new DescribeJobExecutionCommand({ jobId, thingName }))
    assert.equal(device.execution?.jobDocument, TEMPLATE_DOCUMENT)
  })

  it('values given in CreateJob replace the template values; the others are inherited', async () => {
    const jobTemplateId = await createTemplate()
    const override: Pick<CreateJobCommandInput, 'description' | 'timeoutConfig' | 'abortConfig'> = {
      description: 'own description',
      timeoutConfig: { inProgressTimeoutInMinutes: 7 },
      abortConfig: {
        criteriaList: [
          { failureType: 'ALL', action: 'CANCEL', thresholdPercentage: 90, minNumberOfExecutedThings: 1 },
        ],
      },
    }
    const { jobId } = await jobFrom({
      jobTemplateArn: templateArnOf(jobTemplateId),
      ...structuredClone(override),
    })
    const job = await describeJob(h, jobId)
    assert.equal(job.description, 'own description')
    assert.deepEqual(job.timeoutConfig, override.timeoutConfig)
    assert.deepEqual(job.abortConfig, override.abortConfig)
    for (const key of [
      'presignedUrlConfig',
      'jobExecutionsRolloutConfig',
      'jobExecutionsRetryConfig',
    ] as const) {
      assert.deepEqual(job[key], CONFIGS[key], key)
    }
  })

  it('a later change of the template does not reach the job (it holds a copy)', async () => {
    const jobTemplateId = await createTemplate()
    const { jobId } = await jobFrom({ jobTemplateArn: templateArnOf(jobTemplateId) })
    await h.iot.send(new DeleteJobTemplateCommand({ jobTemplateId }))
    await createTemplate({
      jobTemplateId,
      document: '{"operation":"changed"}',
      timeoutConfig: { inProgressTimeoutInMinutes: 1 },
    })
    assert.equal(await documentOf(jobId), TEMPLATE_DOCUMENT)
    assert.deepEqual((await describeJob(h, jobId)).timeoutConfig, CONFIGS.timeoutConfig)
  })

  for (const [what, extra] of [
    ['document', { document: '{"operation":"own"}' }],
    ['documentSource', { documentSource: 'https://example.com/doc.json' }],
  ] as const) {
    it(`[open-question 20] jobTemplateArn together with ${what} is InvalidRequestException; no job is created`, async () => {
      const jobTemplateId = await createTemplate()
      const jobId = unique('job')
      const thingName = await createThing(h)
      await assert.rejects(
        h.iot.send(
          new CreateJobCommand({
            jobId,
            targets: [thingArnOf(thingName)],
            jobTemplateArn: templateArnOf(jobTemplateId),
            ...extra,
          }),
        ),
        isError(InvalidRequestException, 400),
      )
      await assert.rejects(
        h.iot.send(new DescribeJobCommand({ jobId })),
        isError(ResourceNotFoundException, 404),
      )
    })
  }

  for (const [what, arn] of [
    ['an unknown custom template', templateArnOf('never-created')],
    ['an AWS managed template (no managed catalogue)', `arn:aws:iot:${REGION}::jobtemplate/AWS-Reboot:1.0`],
    ['a template of another account', `arn:aws:iot:${REGION}:999999999999:jobtemplate/x`],
  ] as const) {
    it(`${what} is ResourceNotFoundException; no job is created`, async () => {
      const jobId = unique('job')
      const thingName = await createThing(h)
      await assert.rejects(
        h.iot.send(new CreateJobCommand({ jobId, targets: [thingArnOf(thingName)], jobTemplateArn: arn })),
        isError(ResourceNotFoundException, 404),
      )
      await assert.rejects(
        h.iot.send(new DescribeJobCommand({ jobId })),
        isError(ResourceNotFoundException, 404),
      )
    })
  }
})

describe('documentParameters [spec: jobs-control-plane#5-templates-and-document-parameters] [open-question 34]', () => {
  const PARAMETERIZED =
    '{"url":"${aws:iot:parameter:downloadUrl}","args":["${aws:iot:parameter:mode}","--url=${aws:iot:parameter:downloadUrl}"]}'

  it('substitutes every placeholder with its JSON-escaped value; GetJobDocument gives the raw one with beforeSubstitution=true', async () => {
    const jobTemplateId = await createTemplate({ document: PARAMETERIZED })
    const parameters = { downloadUrl: 'https://example.com/fw "v2" \\ é.bin', mode: 'fast' }
    const { jobId, thingName } = await jobFrom({
      jobTemplateArn: templateArnOf(jobTemplateId),
      documentParameters: parameters,
    })
    const expected =
      '{"url":"https://example.com/fw \\"v2\\" \\\\ é.bin","args":["fast","--url=https://example.com/fw \\"v2\\" \\\\ é.bin"]}'
    assert.equal(await documentOf(jobId), expected)
    assert.deepEqual(JSON.parse(expected), {
      url: parameters.downloadUrl,
      args: ['fast', `--url=${parameters.downloadUrl}`],
    })
    assert.equal(await documentOf(jobId, false), expected)
    assert.equal(await documentOf(jobId, true), PARAMETERIZED)
    const job = await describeJob(h, jobId)
    assert.deepEqual(job.documentParameters, parameters)
    assert.equal(job.jobTemplateArn, templateArnOf(jobTemplateId))
    // DescribeJob accepts beforeSubstitution and answers the same.
    const before = await h.iot.send(new DescribeJobCommand({ jobId, beforeSubstitution: true }))
    assert.deepEqual(before.job, job)
    const device = await h.data.send(new DescribeJobExecutionCommand({ jobId, thingName }))
    assert.equal(device.execution?.jobDocument, expected)
  })

  it('substitutes once: a value that looks like a placeholder or a replacement pattern stays literal', async () => {
    const jobTemplateId = await createTemplate({ document: PARAMETERIZED })
    const mode = '${aws:iot:parameter:downloadUrl} $& $1 $$'
    const { jobId } = await jobFrom({
      jobTemplateArn: templateArnOf(jobTemplateId),
      documentParameters: { downloadUrl: 'u', mode },
    })
    assert.deepEqual(JSON.parse((await documentOf(jobId)) ?? ''), { url: 'u', args: [mode, '--url=u'] })
  })

  it('[spec: jobs-control-plane#getjobdocument] beforeSubstitution=true on a job made without a template returns its document', async () => {
    const { jobId } = await jobFrom({ document: '{"plain":"${aws:iot:parameter:x}"}' })
    assert.equal(await documentOf(jobId, true), '{"plain":"${aws:iot:parameter:x}"}')
    assert.equal(await documentOf(jobId), '{"plain":"${aws:iot:parameter:x}"}')
  })

  it('leaves other ${aws:iot:…} forms untouched', async () => {
    const document =
      '{"file":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}","pkg":"${aws:iot:package:p:v}","v":"${aws:iot:parameter:v}"}'
    const jobTemplateId = await createTemplate({ document })
    const { jobId } = await jobFrom({
      jobTemplateArn: templateArnOf(jobTemplateId),
      documentParameters: { v: '1' },
    })
    assert.equal(
      await documentOf(jobId),
      '{"file":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/b/k}","pkg":"${aws:iot:package:p:v}","v":"1"}',
    )
  })

  it('a value of exactly 512 characters is accepted', async () => {
    const jobTemplateId = await createTemplate({ document: PARAMETERIZED })
    const value = 'v'.repeat(512)
    const { jobId } = await jobFrom({
      jobTemplateArn: templateArnOf(jobTemplateId),
      documentParameters: { downloadUrl: value, mode: 'm' },
    })
    assert.deepEqual(JSON.parse((await documentOf(jobId)) ?? ''), {
      url: value,
      args: ['m', `--url=${value}`],
    })
  })

  /** CreateJob from the PARAMETERIZED template with these parameters must fail naming `names`. */
  const refusedCases: [string, Record<string, string>, string][] = [
    ['a missing parameter', { downloadUrl: 'https://example.com' }, 'mode'],
    [
      '[open-question 33] a parameter no placeholder uses',
      { downloadUrl: 'u', mode: 'm', extraParam: 'x' },
      'extraParam',
    ],
    [
      'a value longer than 512 characters',
      { downloadUrl: 'v'.repeat(513), mode: 'm' },
      'documentParameters.downloadUrl',
    ],
    ['an empty value', { downloadUrl: '', mode: 'm' }, 'documentParameters.downloadUrl'],
    [
      'a value with a control character',
      { downloadUrl: 'a\nb', mode: 'm' },
      'documentParameters.downloadUrl',
    ],
    ['a key outside [a-zA-Z0-9_-]', { downloadUrl: 'u', mode: 'm', 'bad.key': 'x' }, 'bad.key'],
  ]
  for (const [what, documentParameters, names] of refusedCases) {
    it(`${what} is InvalidRequestException naming ${names}; no job is created`, async () => {
      const jobTemplateId = await createTemplate({ document: PARAMETERIZED })
      const jobId = unique('job')
      const thingName = await createThing(h)
      await assert.rejects(
        h.iot.send(
          new CreateJobCommand({
            jobId,
            targets: [thingArnOf(thingName)],
            jobTemplateArn: templateArnOf(jobTemplateId),
            documentParameters,
          }),
        ),
        invalidNaming(names),
      )
      await assert.rejects(
        h.iot.send(new DescribeJobCommand({ jobId })),
        isError(ResourceNotFoundException, 404),
      )
    })
  }

  it('a document longer than 32768 characters after substitution is InvalidRequestException', async () => {
    const jobTemplateId = await createTemplate({
      document: `{"a":"${'${aws:iot:parameter:p}'.repeat(70)}"}`,
    })
    const jobId = unique('job')
    const thingName = await createThing(h)
    await assert.rejects(
      h.iot.send(
        new CreateJobCommand({
          jobId,
          targets: [thingArnOf(thingName)],
          jobTemplateArn: templateArnOf(jobTemplateId),
          documentParameters: { p: 'x'.repeat(500) },
        }),
      ),
      invalidNaming('document'),
    )
    await assert.rejects(
      h.iot.send(new DescribeJobCommand({ jobId })),
      isError(ResourceNotFoundException, 404),
    )
  })

  it('[spec: jobs-control-plane#createjob] documentParameters without jobTemplateArn is InvalidRequestException', async () => {
    const thingName = await createThing(h)
    await assert.rejects(
      h.iot.send(
        new CreateJobCommand({
          jobId: unique('job'),
          targets: [thingArnOf(thingName)],
          document: '{"a":"b"}',
          documentParameters: { a: 'b' },
        }),
      ),
      invalidNaming('documentParameters'),
    )
  })

  it('[open-question 34] with allowDocumentParametersWithCustomTemplates off, documentParameters on a custom template are refused as on AWS', async () => {
    const strict = await startHarness({
      clock,
      settings: { allowDocumentParametersWithCustomTemplates: false },
    })
    try {
      const jobTemplateId = unique('tpl')
      await strict.iot.send(
        new CreateJobTemplateCommand({
          jobTemplateId,
          description: 'p',
          document: '{"v":"${aws:iot:parameter:v}"}',
        }),
      )
      const thingName = unique('thing')
      await strict.iot.send(new CreateThingCommand({ thingName }))
      const jobId = unique('job')
      await assert.rejects(
        strict.iot.send(
          new CreateJobCommand({
            jobId,
            targets: [thingArnOf(thingName)],
            jobTemplateArn: templateArnOf(jobTemplateId),
            documentParameters: { v: '1' },
          }),
        ),
        invalidNaming('documentParameters'),
      )
      const reply = await raw(strict.server.url, 'GET', `/jobs/${jobId}`)
      assert.equal(reply.status, 404)
    } finally {
      await strict.close()
    }
  })
})
