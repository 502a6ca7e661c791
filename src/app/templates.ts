/**
 * Job templates: CreateJobTemplate, DescribeJobTemplate, ListJobTemplates, DeleteJobTemplate.
 * [spec: jobs-control-plane#createjobtemplate]
 */
import { checkMaintenanceWindows } from '../domain/maintenance-windows.js'
import { jobTemplateArn } from '../domain/arns.js'
import { ServiceError, invalidRequest, notFound } from '../domain/errors.js'
import {
  MAX_DESTINATION_PACKAGE_VERSIONS,
  checkAbortConfig,
  checkDocument,
  checkRetryConfig,
  checkRolloutConfig,
  checkTags,
  checkTimeoutConfig,
} from '../domain/job-config.js'
import type { JsonObject } from '../domain/records.js'
import type { JobTemplate } from '../domain/templates.js'
import type { AppContext } from './context.js'
import { TEMPLATE_KEY, nextToken, pageRequest } from './pagination.js'

export interface CreateJobTemplateInput {
  readonly jobTemplateId: string
  readonly jobArn?: string | undefined
  readonly documentSource?: string | undefined
  readonly document?: string | undefined
  readonly description: string
  readonly presignedUrlConfig?: JsonObject | undefined
  readonly jobExecutionsRolloutConfig?: JsonObject | undefined
  readonly abortConfig?: JsonObject | undefined
  readonly timeoutConfig?: JsonObject | undefined
  readonly tags?: readonly JsonObject[] | undefined
  readonly jobExecutionsRetryConfig?: JsonObject | undefined
  readonly maintenanceWindows?: readonly JsonObject[] | undefined
  readonly destinationPackageVersions?: readonly string[] | undefined
}

const CONFIG_KEYS = [
  'presignedUrlConfig',
  'jobExecutionsRolloutConfig',
  'abortConfig',
  'timeoutConfig',
  'jobExecutionsRetryConfig',
] as const

export async function createJobTemplate(
  ctx: AppContext,
  input: CreateJobTemplateInput,
): Promise<{ jobTemplateArn: string; jobTemplateId: string }> {
  checkRolloutConfig(input.jobExecutionsRolloutConfig)
  checkAbortConfig(input.abortConfig)
  checkTimeoutConfig(input.timeoutConfig)
  checkRetryConfig(input.jobExecutionsRetryConfig)
  checkTags(input.tags)
  if (input.maintenanceWindows !== undefined) checkMaintenanceWindows(input.maintenanceWindows)
  if ((input.destinationPackageVersions?.length ?? 0) > MAX_DESTINATION_PACKAGE_VERSIONS) {
    throw invalidRequest(
      `destinationPackageVersions may hold at most ${MAX_DESTINATION_PACKAGE_VERSIONS} ARNs`,
    )
  }
  // [open-question 32] exactly one source; with jobArn the given configurations override the copied ones.
  const sources = [input.jobArn, input.document, input.documentSource].filter((v) => v !== undefined)
  if (sources.length !== 1)
    throw invalidRequest('exactly one of jobArn, document and documentSource is required')
  if (input.documentSource !== undefined) {
    throw invalidRequest(
      'documentSource is not supported: no document fetcher is configured; pass document instead',
    )
  }
  let copied: Partial<Record<(typeof CONFIG_KEYS)[number], JsonObject>> = {}
  let document = input.document
  if (input.jobArn !== undefined) {
    const prefix = `arn:aws:iot:${ctx.scope.region}:${ctx.scope.accountId}:job/`
    const jobId = input.jobArn.startsWith(prefix) ? input.jobArn.slice(prefix.length) : undefined
    const job = jobId === undefined ? undefined : await ctx.store.getJob(jobId)
    if (job === undefined) throw notFound(`Job ${input.jobArn} not found`)
    document = job.document
    copied = Object.fromEntries(CONFIG_KEYS.filter((k) => job[k] !== undefined).map((k) => [k, job[k]]))
  }
  checkDocument(document ?? '')
  const given = Object.fromEntries(
    CONFIG_KEYS.filter((k) => input[k] !== undefined).map((k) => [k, input[k]]),
  )
  const template: JobTemplate = {
    ...copied,
    ...given,
    jobTemplateId: input.jobTemplateId,
    description: input.description,
    ...(document === undefined ? {} : { document }),
    ...(input.tags === undefined ? {} : { tags: input.tags }),
    ...(input.maintenanceWindows === undefined ? {} : { maintenanceWindows: input.maintenanceWindows }),
    ...(input.destinationPackageVersions === undefined
      ? {}
      : { destinationPackageVersions: input.destinationPackageVersions }),
    createdAtMs: ctx.clock.nowMs(),
  }
  if (!(await ctx.store.createJobTemplate(template))) {
    throw new ServiceError('ConflictException', `Job template ${input.jobTemplateId} already exists`, {
      resourceId: input.jobTemplateId,
    })
  }
  return {
    jobTemplateArn: jobTemplateArn(ctx.scope, input.jobTemplateId),
    jobTemplateId: input.jobTemplateId,
  }
}

export async function describeJobTemplate(
  ctx: AppContext,
  input: { jobTemplateId: string },
): Promise<JobTemplate> {
  const template = await ctx.store.getJobTemplate(input.jobTemplateId)
  if (template === undefined) throw notFound(`Job template ${input.jobTemplateId} not found`)
  return template
}

export async function listJobTemplates(
  ctx: AppContext,
  input: { maxResults?: number | undefined; nextToken?: string | undefined },
): Promise<{ templates: readonly JobTemplate[]; nextToken?: string }> {
  const page = pageRequest('ListJobTemplates', {}, input, ctx.settings.defaultPageSize, TEMPLATE_KEY)
  const result = await ctx.store.listJobTemplates(page)
  const token = nextToken('ListJobTemplates', {}, result)
  return { templates: result.items, ...(token === undefined ? {} : { nextToken: token }) }
}

/** Jobs made from the template keep their copies. */
export async function deleteJobTemplate(ctx: AppContext, input: { jobTemplateId: string }): Promise<void> {
  if (!(await ctx.store.deleteJobTemplate(input.jobTemplateId))) {
    throw notFound(`Job template ${input.jobTemplateId} not found`)
  }
}

/** The custom template an ARN names, or ResourceNotFoundException (managed templates do not exist here). */
export async function templateOf(ctx: AppContext, arn: string): Promise<JobTemplate> {
  const prefix = `arn:aws:iot:${ctx.scope.region}:${ctx.scope.accountId}:jobtemplate/`
  const id = arn.startsWith(prefix) ? arn.slice(prefix.length) : undefined
  const template = id === undefined ? undefined : await ctx.store.getJobTemplate(id)
  if (template === undefined) throw notFound(`Job template ${arn} not found`)
  return template
}
