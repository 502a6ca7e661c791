/**
 * Job use cases: CreateJob, DescribeJob, ListJobs, GetJobDocument.
 * [spec: jobs-control-plane#4-operations]
 */
import { jobArn, parseTargetArn, thingGroupArn } from '../domain/arns.js'
import { ServiceError, invalidRequest, notFound } from '../domain/errors.js'
import {
  MAX_DESTINATION_PACKAGE_VERSIONS,
  checkAbortConfig,
  checkDocument,
  checkRetryConfig,
  checkRolloutConfig,
  checkSchedulingConfig,
  checkTags,
  checkTimeoutConfig,
} from '../domain/job-config.js'
import type { Job, JsonObject } from '../domain/records.js'
import { ROLLOUT_DONE, ROLLOUT_NOT_STARTED, zeroCounts } from '../domain/records.js'
import { scheduleOf } from '../domain/job-schedule.js'
import { windowStateAt } from '../domain/maintenance-windows.js'
import type { JobStatus, TargetSelection } from '../domain/statuses.js'
import type { AppContext } from './context.js'
import { templateOf } from './templates.js'
import type { JobTemplate } from '../domain/templates.js'
import { substituteParameters } from '../domain/templates.js'
import { JOB_KEY, nextToken, pageRequest } from './pagination.js'
import type { JobTargets, MissingTargetNames } from '../ports/store.js'

export interface CreateJobInput {
  readonly jobId: string
  readonly targets: readonly string[]
  readonly documentSource?: string | undefined
  readonly document?: string | undefined
  readonly description?: string | undefined
  readonly presignedUrlConfig?: JsonObject | undefined
  readonly targetSelection?: TargetSelection | undefined
  readonly jobExecutionsRolloutConfig?: JsonObject | undefined
  readonly abortConfig?: JsonObject | undefined
  readonly timeoutConfig?: JsonObject | undefined
  readonly tags?: readonly JsonObject[] | undefined
  readonly namespaceId?: string | undefined
  readonly jobTemplateArn?: string | undefined
  readonly jobExecutionsRetryConfig?: JsonObject | undefined
  readonly documentParameters?: Record<string, string> | undefined
  readonly schedulingConfig?: JsonObject | undefined
  readonly destinationPackageVersions?: readonly string[] | undefined
}

function defined<T extends object>(o: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as {
    [K in keyof T]: Exclude<T[K], undefined>
  }
}

/**
 * Creates a job and, unless it is SCHEDULED, one QUEUED execution per distinct target thing before
 * it returns (read-after-write). Validation order follows the spec's CreateJob list.
 * Raises InvalidRequestException, ResourceNotFoundException, ResourceAlreadyExistsException.
 */
export async function createJob(
  ctx: AppContext,
  input: CreateJobInput,
): Promise<{ jobArn: string; jobId: string; description?: string }> {
  const nowMs = ctx.clock.nowMs()
  // 1. member rules beyond the model
  checkRolloutConfig(input.jobExecutionsRolloutConfig)
  checkAbortConfig(input.abortConfig)
  checkTimeoutConfig(input.timeoutConfig)
  checkRetryConfig(input.jobExecutionsRetryConfig)
  const startMs = checkSchedulingConfig(input.schedulingConfig, nowMs)
  checkTags(input.tags)
  if (input.document !== undefined) checkDocument(input.document)
  if ((input.destinationPackageVersions?.length ?? 0) > MAX_DESTINATION_PACKAGE_VERSIONS) {
    throw invalidRequest(
      `destinationPackageVersions may hold at most ${MAX_DESTINATION_PACKAGE_VERSIONS} ARNs`,
    )
  }
  // 2. targets
  const targets = [...new Set(input.targets)]
  if (targets.length > ctx.settings.maxTargetsPerJob) {
    // [open-question 65]
    throw invalidRequest(`targets may name at most ${ctx.settings.maxTargetsPerJob} things or thing groups`)
  }
  const { thingNames, groupNames } = parseTargets(ctx, targets)
  // 3.–6. document source, template, parameters
  let source: DocumentSource
  try {
    source = await documentSourceOf(ctx, input)
  } catch (error) {
    // Step 2 comes first: a missing target is the answer even when the document is wrong too. The
    // store checks the targets again when it writes; this read is only on the error path.
    await requireTargets(ctx, { thingNames, groupNames })
    throw error
  }
  const { template, document, rawDocument } = source

  // [spec: state-machines#1] SCHEDULED until startTime, and with maintenance windows until one is open.
  const scheduling = schedulingWithTemplateWindows(input.schedulingConfig, template)
  const windows = scheduleOf(scheduling === undefined ? {} : { schedulingConfig: scheduling }).windows
  const waits =
    (startMs !== undefined && startMs > nowMs) ||
    (windows !== undefined && !windowStateAt(windows, nowMs).open)
  const status: JobStatus = waits ? 'SCHEDULED' : 'IN_PROGRESS'
  const job: Job = {
    ...defined({
      namespaceId: input.namespaceId,
      // [open-question 21] the request's description, else the template's
      description: input.description ?? template?.description,
      // A template's configurations apply unless the request gives its own.
      presignedUrlConfig: input.presignedUrlConfig ?? template?.presignedUrlConfig,
      jobExecutionsRolloutConfig: input.jobExecutionsRolloutConfig ?? template?.jobExecutionsRolloutConfig,
      abortConfig: input.abortConfig ?? template?.abortConfig,
      timeoutConfig: input.timeoutConfig ?? template?.timeoutConfig,
      jobExecutionsRetryConfig: input.jobExecutionsRetryConfig ?? template?.jobExecutionsRetryConfig,
      jobTemplateArn: input.jobTemplateArn,
      documentParameters: input.documentParameters,
      rawDocument,
      schedulingConfig: scheduling,
      tags: input.tags,
      destinationPackageVersions: input.destinationPackageVersions,
    }),
    jobId: input.jobId,
    status,
    targetSelection: input.targetSelection ?? 'SNAPSHOT',
    targets,
    document,
    forceCanceled: false,
    createdAtMs: nowMs,
    lastUpdatedAtMs: nowMs,
    counts: zeroCounts(),
    rollout: waits ? ROLLOUT_NOT_STARTED : ROLLOUT_DONE,
  }
  const outcome = await ctx.store.createJob(job, { thingNames, groupNames })
  const arn = jobArn(ctx.scope, input.jobId)
  switch (outcome.kind) {
    case 'missing':
      throw missingTargetsError(outcome.missing)
    case 'exists':
      // 7. [spec: jobs-control-plane#createjob]
      throw new ServiceError('ResourceAlreadyExistsException', `Job ${input.jobId} already exists`, {
        resourceId: input.jobId,
        resourceArn: arn,
      })
    case 'created':
      return { jobArn: arn, jobId: input.jobId, ...defined({ description: outcome.job.description }) }
  }
}

/**
 * A template's maintenance windows apply to a job made from it unless the request's schedulingConfig
 * names its own (the same rule as the other configurations a template carries).
 */
function schedulingWithTemplateWindows(
  scheduling: JsonObject | undefined,
  template: JobTemplate | undefined,
): JsonObject | undefined {
  const windows = template?.maintenanceWindows
  if (windows === undefined || scheduling?.['maintenanceWindows'] !== undefined) return scheduling
  return { ...scheduling, maintenanceWindows: windows }
}

interface DocumentSource {
  readonly template: JobTemplate | undefined
  readonly document: string
  readonly rawDocument: string | undefined
}

/** Steps 3–6 of CreateJob's validation. [spec: jobs-control-plane#createjob] */
async function documentSourceOf(ctx: AppContext, input: CreateJobInput): Promise<DocumentSource> {
  if (input.jobTemplateArn !== undefined) {
    if (input.document !== undefined || input.documentSource !== undefined) {
      // [open-question 20]
      throw invalidRequest('document and documentSource cannot be given with jobTemplateArn')
    }
    const template = await templateOf(ctx, input.jobTemplateArn)
    if (template.document === undefined)
      throw invalidRequest(`Job template ${template.jobTemplateId} has no document`)
    if (input.documentParameters !== undefined && !ctx.settings.allowDocumentParametersWithCustomTemplates) {
      // [open-question 34] AWS accepts documentParameters only with its managed templates.
      throw invalidRequest('documentParameters can only be used with AWS managed templates')
    }
    return {
      template,
      rawDocument: template.document,
      document: substituteParameters(template.document, input.documentParameters ?? {}),
    }
  }
  if (input.documentParameters !== undefined) {
    throw invalidRequest('documentParameters can only be given with jobTemplateArn')
  }
  if ((input.document === undefined) === (input.documentSource === undefined)) {
    throw invalidRequest('exactly one of document and documentSource is required')
  }
  if (input.documentSource !== undefined) {
    throw invalidRequest(
      'documentSource is not supported: no document fetcher is configured; pass document instead',
    )
  }
  // The document's own rules were checked with the other members (step 1).
  return { template: undefined, document: input.document ?? '', rawDocument: undefined }
}

/** ResourceNotFoundException naming the targets that do not exist. [open-question 19] */
export function missingTargetsError(missing: MissingTargetNames): ServiceError {
  return notFound(
    `${missing.kind === 'thing' ? 'Thing' : 'Thing group'} ${missing.names.join(', ')} not found`,
  )
}

async function requireTargets(ctx: AppContext, targets: JobTargets): Promise<void> {
  const missing = await ctx.store.findMissingTargets(targets)
  if (missing !== undefined) throw missingTargetsError(missing)
}

/** Splits target ARNs into thing and group names; a malformed one is InvalidRequestException. */
export function parseTargets(
  ctx: AppContext,
  arns: readonly string[],
): { thingNames: string[]; groupNames: string[] } {
  const thingNames: string[] = []
  const groupNames: string[] = []
  for (const [i, arn] of arns.entries()) {
    const target = parseTargetArn(ctx.scope, arn)
    if (target === undefined) {
      throw invalidRequest(`targets[${i}] is not a thing or thing-group ARN of this service: ${arn}`)
    }
    if (target.kind === 'thinggroup') groupNames.push(target.thingGroupName)
    else thingNames.push(target.thingName)
  }
  return { thingNames, groupNames }
}

export async function requireJob(ctx: AppContext, jobId: string): Promise<Job> {
  const job = await ctx.store.getJob(jobId)
  if (job === undefined) throw notFound(`Job ${jobId} not found`)
  return job
}

export async function describeJob(ctx: AppContext, input: { jobId: string }): Promise<Job> {
  return requireJob(ctx, input.jobId)
}

export async function getJobDocument(
  ctx: AppContext,
  input: { jobId: string; beforeSubstitution?: boolean | undefined },
): Promise<{ document: string }> {
  const job = await requireJob(ctx, input.jobId)
  // [spec: jobs-control-plane#getjobdocument] the template's text before ${aws:iot:parameter:…} substitution
  return { document: input.beforeSubstitution === true ? (job.rawDocument ?? job.document) : job.document }
}

export async function listJobs(
  ctx: AppContext,
  input: {
    status?: JobStatus | undefined
    targetSelection?: TargetSelection | undefined
    maxResults?: number | undefined
    nextToken?: string | undefined
    thingGroupName?: string | undefined
    thingGroupId?: string | undefined
    namespaceId?: string | undefined
  },
): Promise<{ jobs: readonly JobWithGroup[]; nextToken?: string }> {
  // [spec: jobs-control-plane#listjobs] a group filter names a direct target of the job.
  const byName =
    input.thingGroupName === undefined ? undefined : await ctx.store.getThingGroup(input.thingGroupName)
  if (input.thingGroupName !== undefined && byName === undefined)
    throw notFound(`Thing group ${input.thingGroupName} not found`)
  const byId =
    input.thingGroupId === undefined ? undefined : await ctx.store.getThingGroupById(input.thingGroupId)
  if (input.thingGroupId !== undefined && byId === undefined)
    throw notFound(`Thing group with id ${input.thingGroupId} not found`)
  if (byName !== undefined && byId !== undefined && byName.thingGroupName !== byId.thingGroupName) {
    throw invalidRequest('thingGroupName and thingGroupId name different thing groups')
  }
  const group = byName ?? byId
  const filters = {
    status: input.status,
    targetSelection: input.targetSelection,
    namespaceId: input.namespaceId,
    targetArn: group === undefined ? undefined : thingGroupArn(ctx.scope, group.thingGroupName),
  }
  const page = pageRequest('ListJobs', filters, input, ctx.settings.defaultPageSize, JOB_KEY)
  const result = await ctx.store.listJobs(filters, page)
  const token = nextToken('ListJobs', filters, result)
  const jobs = await Promise.all(result.items.map((job) => withGroupId(ctx, job)))
  return { jobs, ...(token === undefined ? {} : { nextToken: token }) }
}

export interface JobWithGroup {
  readonly job: Job
  /** [open-question 24] the id of the first thing-group ARN in the job's targets, if that group exists. */
  readonly thingGroupId?: string
}

async function withGroupId(ctx: AppContext, job: Job): Promise<JobWithGroup> {
  const first = job.targets.map((arn) => parseTargetArn(ctx.scope, arn)).find((t) => t?.kind === 'thinggroup')
  if (first?.kind !== 'thinggroup') return { job }
  const group = await ctx.store.getThingGroup(first.thingGroupName)
  return group === undefined ? { job } : { job, thingGroupId: group.thingGroupId }
}

/** [spec: jobs-control-plane#6] a namespaceId given on a request must be the job's. [open-question 28] */
/**
 * Whether a request that names `namespaceId` (or none) may see the job: naming none sees every job,
 * naming one sees only that namespace's jobs. [open-question 36]
 */
export function inNamespace(job: Pick<Job, 'namespaceId'>, namespaceId: string | undefined): boolean {
  return namespaceId === undefined || job.namespaceId === namespaceId
}

export function checkNamespace(job: Job, namespaceId: string | undefined): void {
  if (!inNamespace(job, namespaceId)) {
    throw notFound(`Job ${job.jobId} not found in namespace ${namespaceId}`)
  }
}
