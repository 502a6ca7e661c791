/**
 * Members the models do not define are dropped at every level of a known structure, as AWS drops them:
 * never stored, never echoed, and never deep enough to break anything however deep they nest.
 * [spec: wire-protocol#2.3]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { loadServedModels } from '../../src/http/server.js'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, raw, startHarness, thingArnOf, unique } from '../support/harness.js'

let h: Harness
let thingName: string
before(async () => {
  h = await startHarness({ mqtt: undefined })
  thingName = unique('thing')
  assert.equal((await raw(h.server.url, 'POST', `/things/${thingName}`, '{}')).status, 200)
})
after(async () => {
  await h.close()
})

/** Every structure-valued configuration of a job, each with a list of structures where it has one. */
const CONFIGS = {
  presignedUrlConfig: { roleArn: `arn:aws:iam::${ACCOUNT}:role/fleet-urls`, expiresInSec: 1200 },
  jobExecutionsRolloutConfig: {
    maximumPerMinute: 20,
    exponentialRate: {
      baseRatePerMinute: 5,
      incrementFactor: 2,
      rateIncreaseCriteria: { numberOfNotifiedThings: 10 },
    },
  },
  abortConfig: {
    criteriaList: [
      { failureType: 'FAILED', action: 'CANCEL', thresholdPercentage: 40, minNumberOfExecutedThings: 3 },
    ],
  },
  timeoutConfig: { inProgressTimeoutInMinutes: 45 },
  jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED', numberOfRetries: 2 }] },
} as const

/** The JSON text of `value` with `{"unknownMember": <unknown>}` added to every object, at every level. */
function withUnknownMembers(value: unknown, unknown: string): string {
  if (Array.isArray(value)) return `[${value.map((v) => withUnknownMembers(v, unknown)).join(',')}]`
  if (typeof value === 'object' && value !== null) {
    const members = Object.entries(value).map(
      ([k, v]) => `${JSON.stringify(k)}:${withUnknownMembers(v, unknown)}`,
    )
    return `{${[...members, `"unknownMember":${unknown}`].join(',')}}`
  }
  return JSON.stringify(value)
}

/** `{"a":{"a":…1…}}` or `[[…1…]]`, `depth` levels: far beyond JSON.stringify's stack (~4,200 levels). */
const deeplyNested = (depth: number, shape: 'object' | 'array'): string =>
  shape === 'object'
    ? `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`
    : `${'['.repeat(depth)}1${']'.repeat(depth)}`

const DEPTH = 100_000
/** Ten copies of one unknown member must fit in the 1 MiB body. */
const DEPTH_AT_EVERY_LEVEL = 10_000

async function createJobFrom(body: string): Promise<{ status: number; json: Record<string, unknown> }> {
  return raw(h.server.url, 'PUT', `/jobs/${unique('job')}`, body)
}

async function describedConfigs(jobId: string): Promise<Record<string, unknown>> {
  const described = await raw(h.server.url, 'GET', `/jobs/${jobId}`)
  assert.equal(described.status, 200, JSON.stringify(described.json))
  const job = described.json['job'] as Record<string, unknown>
  return Object.fromEntries(Object.keys(CONFIGS).map((k) => [k, job[k]]))
}

describe('Unknown members are dropped at every level of known structures [spec: wire-protocol#2.3]', () => {
  for (const [what, unknown] of [
    ['a scalar', '"surprise"'],
    ['an object', '{"nested":{"deeper":[1,2,{"x":null}]}}'],
    [
      `${DEPTH_AT_EVERY_LEVEL.toLocaleString('en')} nested objects`,
      deeplyNested(DEPTH_AT_EVERY_LEVEL, 'object'),
    ],
    [
      `${DEPTH_AT_EVERY_LEVEL.toLocaleString('en')} nested arrays`,
      deeplyNested(DEPTH_AT_EVERY_LEVEL, 'array'),
    ],
  ] as const) {
    it(`CreateJob: every configuration with ${what} as an unknown member at every level → 200, stored and echoed without it`, async () => {
      const jobId = unique('job')
      const body = withUnknownMembers(
        { targets: [thingArnOf(thingName)], document: '{"op":"x"}', ...CONFIGS },
        unknown,
      )
      assert.ok(body.length < 1024 * 1024)
      const created = await raw(h.server.url, 'PUT', `/jobs/${jobId}`, body)
      assert.equal(created.status, 200, JSON.stringify(created.json))
      assert.deepEqual(await describedConfigs(jobId), CONFIGS)
    })
  }

  it('UpdateJob: an unknown member deep inside jobExecutionsRolloutConfig is dropped, the known ones kept', async () => {
    const jobId = unique('job')
    const created = await raw(
      h.server.url,
      'PUT',
      `/jobs/${jobId}`,
      JSON.stringify({ targets: [thingArnOf(thingName)], document: '{"op":"x"}' }),
    )
    assert.equal(created.status, 200)
    const updated = await raw(
      h.server.url,
      'PATCH',
      `/jobs/${jobId}`,
      `{"jobExecutionsRolloutConfig":{"maximumPerMinute":7,"unknownMember":${deeplyNested(DEPTH, 'object')}}}`,
    )
    assert.equal(updated.status, 200, JSON.stringify(updated.json))
    assert.deepEqual((await describedConfigs(jobId))['jobExecutionsRolloutConfig'], { maximumPerMinute: 7 })
  })

  it('CreateJobTemplate: unknown members inside maintenanceWindows (a newer SDK member) are dropped, the window kept', async () => {
    const jobTemplateId = unique('template')
    const window = { startTime: 'cron(0 2 * * ? *)', durationInMinutes: 60 }
    const created = await raw(
      h.server.url,
      'PUT',
      `/job-templates/${jobTemplateId}`,
      `{"description":"t","document":"{}","maintenanceWindows":[${withUnknownMembers(window, deeplyNested(DEPTH, 'array'))}],"jobExecutionsRolloutConfig":${withUnknownMembers({ maximumPerMinute: 3 }, '{"a":1}')}}`,
    )
    assert.equal(created.status, 200, JSON.stringify(created.json))
    const described = await raw(h.server.url, 'GET', `/job-templates/${jobTemplateId}`)
    assert.equal(described.status, 200)
    assert.deepEqual(described.json['maintenanceWindows'], [window])
    assert.deepEqual(described.json['jobExecutionsRolloutConfig'], { maximumPerMinute: 3 })
  })

  for (const [field, value] of [
    ['jobExecutionsRolloutConfig.maximumPerMinute', deeplyNested(DEPTH, 'array')],
    ['abortConfig.criteriaList[0]', deeplyNested(DEPTH, 'array')],
    ['documentParameters.key', deeplyNested(DEPTH, 'object')],
    ['targets[0]', deeplyNested(DEPTH, 'object')],
  ] as const) {
    it(`CreateJob: ${DEPTH.toLocaleString('en')} levels where the model wants something else (${field}) → 400 naming the field`, async () => {
      const members: Record<string, string> = {
        'jobExecutionsRolloutConfig.maximumPerMinute': `"jobExecutionsRolloutConfig":{"maximumPerMinute":${value}}`,
        'abortConfig.criteriaList[0]': `"abortConfig":{"criteriaList":[${value}]}`,
        'documentParameters.key': `"documentParameters":{"key":${value}}`,
        'targets[0]': `"targets":[${value}]`,
      }
      const targets = field === 'targets[0]' ? '' : `"targets":[${JSON.stringify(thingArnOf(thingName))}],`
      const reply = await createJobFrom(`{${targets}"document":"{}",${members[field] ?? ''}}`)
      assert.equal(reply.status, 400, JSON.stringify(reply.json))
      assert.match(String(reply.json['message']), new RegExp(`^${field.replace(/[.[\]]/g, '\\$&')}`))
    })
  }
})

describe('OperationSpec.dropUnknownMembers (shared by HTTP and MQTT)', () => {
  const models = loadServedModels()
  const spec = (name: string) => {
    const found = models.operations.find((o) => o.name === name)
    assert.ok(found !== undefined, name)
    return found
  }

  it('keeps known members, drops unknown ones and nulls, keeps map entries, leaves wrongly typed values for validate', () => {
    const input = {
      jobId: 'j',
      unknownTop: 1,
      documentParameters: { anyKey: 'v', gone: null },
      abortConfig: { criteriaList: [{ action: 'CANCEL', extra: { deep: true } }, 'not an object'] },
      timeoutConfig: null,
      description: { not: 'a string' },
    }
    assert.deepEqual(spec('CreateJob').dropUnknownMembers(input), {
      jobId: 'j',
      documentParameters: { anyKey: 'v' },
      abortConfig: { criteriaList: [{ action: 'CANCEL' }, 'not an object'] },
      description: { not: 'a string' },
    })
  })

  it('keeps a "__proto__" map key an own entry (no prototype change)', () => {
    const input = JSON.parse('{"statusDetails":{"__proto__":"x","k":"v"}}') as Record<string, unknown>
    const out = spec('UpdateJobExecution').dropUnknownMembers(input)
    const details = out['statusDetails'] as Record<string, unknown>
    assert.equal(Object.getPrototypeOf(details), Object.prototype)
    assert.deepEqual(Object.keys(details).sort(), ['__proto__', 'k'])
  })
})
