import {
  CancelJobCommand,
  CreateJobCommand,
  CreateJobTemplateCommand,
  DeleteJobTemplateCommand,
  GetJobDocumentCommand,
} from '@aws-sdk/client-iot'
import { DescribeJobExecutionCommand as DeviceDescribeJobExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import { createJob, createThing, report } from '../support/device.js'
import { expectError, templateArnOf } from '../support/registry.js'

let h: Harness
let thingName: string
before(async () => {
  h = await startHarness()
  thingName = await createThing(h)
})
after(async () => {
  await h.close()
})

const documentOf = async (jobId: string, beforeSubstitution?: boolean): Promise<string | undefined> => {
  const out = await h.iot.send(
    new GetJobDocumentCommand({ jobId, ...(beforeSubstitution === undefined ? {} : { beforeSubstitution }) }),
  )
  assert.equal(out.$metadata.httpStatusCode, 200)
  return out.document
}

/** A job created from a custom template whose document has two parameter placeholders. */
async function fromTemplate(
  templateDocument: string,
  documentParameters: Record<string, string>,
): Promise<{ jobId: string; jobTemplateId: string }> {
  const jobTemplateId = unique('tpl')
  await h.iot.send(
    new CreateJobTemplateCommand({ jobTemplateId, description: 'tpl', document: templateDocument }),
  )
  const jobId = unique('job')
  await h.iot.send(
    new CreateJobCommand({
      jobId,
      targets: [thingArnOf(thingName)],
      jobTemplateArn: templateArnOf(jobTemplateId),
      documentParameters,
    }),
  )
  return { jobId, jobTemplateId }
}

describe('GetJobDocument [spec: jobs-control-plane#getjobdocument]', () => {
  it('returns the document character for character, whitespace, escapes and non-ASCII included', async () => {
    const document =
      '{\n  "operation": "install",\n  "note": "caf\u00e9 \u2615 \\"quoted\\" \\\\ \ud83d\ude80",\n  "n": [1, 2.50, 3e2]\n}'
    const jobId = await createJob(h, [thingName], { document })
    assert.equal(await documentOf(jobId), document)
  })

  it('returns a document of the maximum length (32768 characters) unchanged [spec: limits#2]', async () => {
    const document = `{"p":"${'x'.repeat(32768 - 8)}"}`
    const jobId = await createJob(h, [thingName], { document })
    assert.equal(await documentOf(jobId), document)
  })

  it('beforeSubstitution true or false on a job without a template returns the same document', async () => {
    const document = '{"plain":true}'
    const jobId = await createJob(h, [thingName], { document })
    assert.equal(await documentOf(jobId, true), document)
    assert.equal(await documentOf(jobId, false), document)
  })

  it('returns the document of a finished or canceled job as well', async () => {
    const done = await createJob(h, [thingName], { document: '{"done":1}' })
    await report(h, done, thingName, 'SUCCEEDED')
    const canceled = await createJob(h, [thingName], { document: '{"canceled":1}' })
    await h.iot.send(new CancelJobCommand({ jobId: canceled }))
    assert.equal(await documentOf(done), '{"done":1}')
    assert.equal(await documentOf(canceled), '{"canceled":1}')
  })

  it('is the same document the device receives [spec: jobs-device-api#1.4]', async () => {
    const document = '{"operation":"reboot","delay":5}'
    const jobId = await createJob(h, [thingName], { document })
    const device = await h.data.send(
      new DeviceDescribeJobExecutionCommand({ jobId, thingName, includeJobDocument: true }),
    )
    assert.equal(device.execution?.jobDocument, await documentOf(jobId))
  })

  it('an unknown job is ResourceNotFoundException (404) naming the job', async () => {
    const jobId = unique('missing')
    await expectError(h.iot.send(new GetJobDocumentCommand({ jobId })), 'ResourceNotFoundException', 404, [
      jobId,
    ])
  })

  it('a bad jobId is InvalidRequestException (400) naming jobId [spec: limits#2]', async () => {
    for (const jobId of ['bad.id', 'j'.repeat(65)]) {
      await expectError(h.iot.send(new GetJobDocumentCommand({ jobId })), 'InvalidRequestException', 400, [
        'jobId',
      ])
    }
  })
})

describe('GetJobDocument: template documents [spec: jobs-control-plane#getjobdocument] [spec: jobs-control-plane#5-templates-and-document-parameters]', () => {
  const TEMPLATE =
    '{"url":"${aws:iot:parameter:url}","args":["${aws:iot:parameter:mode}","${aws:iot:parameter:url}"]}'

  it('returns the substituted document; beforeSubstitution=true returns the template text; false the substituted one', async () => {
    const { jobId } = await fromTemplate(TEMPLATE, { url: 'https://example.invalid/fw.bin', mode: 'fast' })
    const substituted =
      '{"url":"https://example.invalid/fw.bin","args":["fast","https://example.invalid/fw.bin"]}'
    assert.equal(await documentOf(jobId), substituted)
    assert.equal(await documentOf(jobId, false), substituted)
    assert.equal(await documentOf(jobId, true), TEMPLATE)
  })

  it('values are inserted as JSON string content: quotes and backslashes are escaped', async () => {
    const { jobId } = await fromTemplate(TEMPLATE, { url: 'say "hi"', mode: 'C:\\dir' })
    const document = (await documentOf(jobId))!
    assert.equal(document, '{"url":"say \\"hi\\"","args":["C:\\\\dir","say \\"hi\\""]}')
    assert.deepEqual(JSON.parse(document), { url: 'say "hi"', args: ['C:\\dir', 'say "hi"'] })
  })

  it('a ${aws:iot:s3-presigned-url:…} placeholder is returned as it is', async () => {
    const document = '{"url":"${aws:iot:s3-presigned-url:https://s3.amazonaws.com/bucket/fw.bin}"}'
    const jobId = await createJob(h, [thingName], { document })
    assert.equal(await documentOf(jobId), document)
    assert.equal(await documentOf(jobId, true), document)
  })

  it('the job keeps its document after its template is deleted [spec: jobs-control-plane#deletejobtemplate]', async () => {
    const { jobId, jobTemplateId } = await fromTemplate(TEMPLATE, { url: 'u', mode: 'm' })
    await h.iot.send(new DeleteJobTemplateCommand({ jobTemplateId }))
    assert.equal(await documentOf(jobId), '{"url":"u","args":["m","u"]}')
    assert.equal(await documentOf(jobId, true), TEMPLATE)
  })
})
