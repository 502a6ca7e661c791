/**
 * UpdateJob, CancelJob, DeleteJob. [spec: jobs-control-plane#updatejob, #canceljob, #deletejob]
 */
import { jobArn } from '../domain/arns.js'
import { notFound } from '../domain/errors.js'
import {
  checkAbortConfig,
  checkRetryConfig,
  checkRolloutConfig,
  checkTimeoutConfig,
} from '../domain/job-config.js'
import {
  decideAssociateTargets,
  decideCancelJob,
  decideDeleteJob,
  decideUpdateJob,
} from '../domain/job-lifecycle.js'
import { MissingTargets } from '../ports/store.js'
import type { JsonObject } from '../domain/records.js'
import type { AppContext } from './context.js'
import { checkNamespace, missingTargetsError, parseTargets } from './jobs.js'

export async function updateJob(
  ctx: AppContext,
  input: {
    jobId: string
    namespaceId?: string | undefined
    description?: string | undefined
    presignedUrlConfig?: JsonObject | undefined
    jobExecutionsRolloutConfig?: JsonObject | undefined
    abortConfig?: JsonObject | undefined
    timeoutConfig?: JsonObject | undefined
    jobExecutionsRetryConfig?: JsonObject | undefined
  },
): Promise<void> {
  checkRolloutConfig(input.jobExecutionsRolloutConfig)
  checkAbortConfig(input.abortConfig)
  checkTimeoutConfig(input.timeoutConfig)
  checkRetryConfig(input.jobExecutionsRetryConfig)
  const nowMs = ctx.clock.nowMs()
  const { jobId: _id, namespaceId: _ns, ...changes } = input
  const job = await ctx.store.mutateJob(input.jobId, ({ job }) => {
    checkNamespace(job, input.namespaceId)
    return decideUpdateJob(job, changes, nowMs)
  })
  if (job === undefined) throw notFound(`Job ${input.jobId} not found`)
}

export async function cancelJob(
  ctx: AppContext,
  input: {
    jobId: string
    force?: boolean | undefined
    reasonCode?: string | undefined
    comment?: string | undefined
  },
): Promise<{ jobArn: string; jobId: string; description?: string }> {
  const nowMs = ctx.clock.nowMs()
  const job = await ctx.store.mutateJob(input.jobId, ({ job }) =>
    decideCancelJob(
      job,
      { force: input.force === true, reasonCode: input.reasonCode, comment: input.comment },
      nowMs,
    ),
  )
  if (job === undefined) throw notFound(`Job ${input.jobId} not found`)
  return {
    jobArn: jobArn(ctx.scope, job.jobId),
    jobId: job.jobId,
    ...(job.description === undefined ? {} : { description: job.description }),
  }
}

/**
 * Marks the job DELETION_IN_PROGRESS; the job-deletion worker then removes its executions and the
 * job. A LimitExceededException has no side effect (the SDKs retry it). [spec: wire-protocol#8]
 */
export async function deleteJob(
  ctx: AppContext,
  input: { jobId: string; force?: boolean | undefined; namespaceId?: string | undefined },
): Promise<void> {
  const nowMs = ctx.clock.nowMs()
  const job = await ctx.store.mutateJob(input.jobId, (facts) => {
    checkNamespace(facts.job, input.namespaceId)
    return decideDeleteJob(facts, { force: input.force === true }, ctx.settings.maxJobsBeingDeleted, nowMs)
  })
  if (job === undefined) throw notFound(`Job ${input.jobId} not found`)
  ctx.wake('jobDeletion')
}

/**
 * AssociateTargetsWithJob: adds thing or thing-group targets to an IN_PROGRESS CONTINUOUS job; the
 * things they reach that have no execution of the job get one at once.
 */
export async function associateTargetsWithJob(
  ctx: AppContext,
  input: {
    jobId: string
    targets: readonly string[]
    comment?: string | undefined
    namespaceId?: string | undefined
  },
): Promise<{ jobArn: string; jobId: string; description?: string }> {
  const parsed = parseTargets(ctx, input.targets)
  const nowMs = ctx.clock.nowMs()
  let outcome
  try {
    outcome = await ctx.store.associateTargets(
      input.jobId,
      { ...parsed, arns: [...new Set(input.targets)] },
      ({ job }) => {
        checkNamespace(job, input.namespaceId)
        return decideAssociateTargets(job, input, ctx.settings.maxTargetsPerJob, nowMs)
      },
    )
  } catch (error) {
    if (error instanceof MissingTargets) throw missingTargetsError(error)
    throw error
  }
  if (outcome.kind === 'noJob') throw notFound(`Job ${input.jobId} not found`)
  const job = outcome.job
  return {
    jobArn: jobArn(ctx.scope, job.jobId),
    jobId: job.jobId,
    ...(job.description === undefined ? {} : { description: job.description }),
  }
}
