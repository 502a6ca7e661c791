/**
 * UpdateJob, CancelJob and DeleteJob as pure decisions on the job record; the store applies the
 * execution side set-based in the same transaction. [spec: jobs-control-plane#updatejob, #canceljob, #deletejob]
 */
import { ServiceError, invalidRequest, invalidTransition } from './errors.js'
import type { Job, JobConfigurations } from './records.js'
import type { AbortVerdict } from './abort.js'
import { decideAbort } from './abort.js'

export type JobDecision =
  | {
      readonly kind: 'write'
      readonly next: Job
      /** Cancel the job's QUEUED executions, and IN_PROGRESS ones too when `force`. */
      readonly cancelExecutions?: { readonly force: boolean }
    }
  | { readonly kind: 'reject'; readonly error: ServiceError }

export interface JobFacts {
  readonly job: Job
  /** Jobs now in DELETION_IN_PROGRESS. */
  readonly deleting: number
}

/** [open-question 25] UpdateJob is allowed while IN_PROGRESS or SCHEDULED; each member replaces. */
export function decideUpdateJob(
  job: Job,
  changes: { readonly [K in keyof JobConfigurations]?: JobConfigurations[K] | undefined } & {
    readonly description?: string | undefined
  },
  nowMs: number,
): JobDecision {
  if (job.status !== 'IN_PROGRESS' && job.status !== 'SCHEDULED') {
    return {
      kind: 'reject',
      error: invalidRequest(
        `Job ${job.jobId} is ${job.status}; only IN_PROGRESS or SCHEDULED jobs can be updated`,
      ),
    }
  }
  const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined))
  const next: Job = { ...job, ...given, lastUpdatedAtMs: nowMs }
  // [spec: state-machines#6] new abort criteria are evaluated at once.
  const abort = changes.abortConfig === undefined ? undefined : decideAbort(next)
  if (abort === undefined) return { kind: 'write', next }
  return { kind: 'write', next: abortedJob(next, abort), cancelExecutions: { force: false } }
}

/**
 * The job canceled by its abort criteria, as CancelJob without force: QUEUED executions are canceled,
 * IN_PROGRESS ones keep running, the rollout stops. [spec: state-machines#6]
 */
export function abortedJob(job: Job, verdict: AbortVerdict): Job {
  return {
    ...job,
    status: 'CANCELED',
    forceCanceled: false,
    reasonCode: verdict.reasonCode,
    comment: verdict.comment,
  }
}

/** [spec: jobs-control-plane#canceljob] [open-question 26] */
export function decideCancelJob(
  job: Job,
  req: { force: boolean; reasonCode?: string | undefined; comment?: string | undefined },
  nowMs: number,
): JobDecision {
  const stamp = (next: Job): Job => ({
    ...next,
    ...(req.reasonCode === undefined ? {} : { reasonCode: req.reasonCode }),
    ...(req.comment === undefined ? {} : { comment: req.comment }),
    lastUpdatedAtMs: nowMs,
  })
  switch (job.status) {
    case 'IN_PROGRESS':
    case 'SCHEDULED':
      return {
        kind: 'write',
        next: stamp({ ...job, status: 'CANCELED', forceCanceled: req.force }),
        cancelExecutions: { force: req.force },
      }
    case 'CANCELED':
      if (req.force && !job.forceCanceled) {
        return {
          kind: 'write',
          next: stamp({ ...job, forceCanceled: true }),
          cancelExecutions: { force: true },
        }
      }
      return { kind: 'reject', error: invalidRequest(`Job ${job.jobId} is already canceled`) }
    case 'COMPLETED':
      return { kind: 'reject', error: invalidRequest(`Job ${job.jobId} is COMPLETED and cannot be canceled`) }
    case 'DELETION_IN_PROGRESS':
      return { kind: 'reject', error: invalidRequest(`Job ${job.jobId} is being deleted`) }
  }
}

/** [spec: jobs-control-plane#deletejob] [open-question 27] */
export function decideDeleteJob(
  facts: JobFacts,
  req: { force: boolean },
  maxDeleting: number,
  nowMs: number,
): JobDecision {
  const { job } = facts
  if (job.status === 'DELETION_IN_PROGRESS')
    return { kind: 'reject', error: invalidTransition(`Job ${job.jobId} is already being deleted`) }
  if ((job.status === 'IN_PROGRESS' || job.status === 'SCHEDULED') && !req.force) {
    return {
      kind: 'reject',
      error: invalidTransition(`Job ${job.jobId} is ${job.status}; set force=true to delete it`),
    }
  }
  if (facts.deleting >= maxDeleting) {
    return {
      kind: 'reject',
      error: new ServiceError(
        'LimitExceededException',
        `At most ${maxDeleting} jobs can be in DELETION_IN_PROGRESS at once`,
      ),
    }
  }
  return { kind: 'write', next: { ...job, status: 'DELETION_IN_PROGRESS', lastUpdatedAtMs: nowMs } }
}

/** [spec: jobs-control-plane#associatetargetswithjob] [open-question 29] */
export function decideAssociateTargets(
  job: Job,
  req: { targets: readonly string[]; comment?: string | undefined },
  maxTargets: number,
  nowMs: number,
): JobDecision {
  if (job.targetSelection !== 'CONTINUOUS' || job.status !== 'IN_PROGRESS') {
    return {
      kind: 'reject',
      error: invalidRequest(
        `Job ${job.jobId} is ${job.targetSelection} and ${job.status}; targets can be added only to IN_PROGRESS CONTINUOUS jobs`,
      ),
    }
  }
  const targets = [...new Set([...job.targets, ...req.targets])]
  if (targets.length > maxTargets) {
    return {
      kind: 'reject',
      error: new ServiceError(
        'LimitExceededException',
        `A job may have at most ${maxTargets} targets; this would make ${targets.length}`,
      ),
    }
  }
  return {
    kind: 'write',
    next: {
      ...job,
      targets,
      ...(req.comment === undefined ? {} : { comment: req.comment }),
      lastUpdatedAtMs: nowMs,
    },
  }
}
