/**
 * The records fleetjobs keeps, with AWS's field names. Times are epoch milliseconds inside the
 * service (`…Ms`); the wire layers turn them into AWS's units.
 */
import type { ExecutionStatus, JobStatus, TargetSelection } from './statuses.js'

export type JsonObject = { [key: string]: unknown }
export type StatusDetails = Record<string, string>

export interface Thing {
  readonly thingName: string
  readonly thingId: string
  readonly attributes: Readonly<Record<string, string>>
  readonly version: number
  readonly createdAtMs: number
}

export type ExecutionCounts = Record<ExecutionStatus, number>

export const zeroCounts = (): ExecutionCounts => ({
  QUEUED: 0,
  IN_PROGRESS: 0,
  SUCCEEDED: 0,
  FAILED: 0,
  TIMED_OUT: 0,
  REJECTED: 0,
  REMOVED: 0,
  CANCELED: 0,
})

/** Configurations that CreateJob stores and DescribeJob returns exactly as given. */
export interface JobConfigurations {
  readonly presignedUrlConfig?: JsonObject
  readonly jobExecutionsRolloutConfig?: JsonObject
  readonly abortConfig?: JsonObject
  readonly timeoutConfig?: JsonObject
  readonly jobExecutionsRetryConfig?: JsonObject
  readonly schedulingConfig?: JsonObject
}

export interface Job extends JobConfigurations {
  readonly jobId: string
  readonly status: JobStatus
  readonly targetSelection: TargetSelection
  readonly targets: readonly string[]
  readonly namespaceId?: string
  readonly description?: string
  /** The document devices get (after template substitution). */
  readonly document: string
  readonly documentSource?: string
  /** The template's document before parameter substitution (GetJobDocument beforeSubstitution). */
  readonly rawDocument?: string
  readonly jobTemplateArn?: string
  readonly documentParameters?: Readonly<Record<string, string>>
  readonly tags?: readonly JsonObject[]
  readonly destinationPackageVersions?: readonly string[]
  readonly forceCanceled: boolean
  readonly reasonCode?: string
  readonly comment?: string
  readonly createdAtMs: number
  readonly lastUpdatedAtMs: number
  readonly completedAtMs?: number
  /** Executions of this job per status, kept in the same transaction as every execution change. */
  readonly counts: ExecutionCounts
  /** Where the job's time-driven work stands (fleetjobs' own state, not an AWS member). */
  readonly rollout: RolloutState
  /** The next instant at which time-driven work of this job is due (start, end, rollout batch, window). */
  readonly nextDueAtMs?: number
}

/**
 * A job's rollout: the things its targets resolved to that have no execution yet wait in a list
 * kept by the store (in thing-name order), and are given executions batch by batch.
 * [spec: state-machines#5]
 */
export interface RolloutState {
  /** The targets were resolved (false while a SCHEDULED job waits for its start). */
  readonly started: boolean
  /** Things resolved that have no execution yet. */
  readonly remaining: number
  /** Executions the rollout created (the `numberOfNotifiedThings` count). */
  readonly notified: number
  /** When the last batch was created. */
  readonly lastBatchAtMs?: number
  /** The schedule's `endTime` was reached and its `endBehavior` applied. */
  readonly ended: boolean
}

/** A job created with every execution at once, or not started yet. */
export const ROLLOUT_DONE: RolloutState = { started: true, remaining: 0, notified: 0, ended: false }
export const ROLLOUT_NOT_STARTED: RolloutState = { started: false, remaining: 0, notified: 0, ended: false }

/** The rollout has nothing left to create: the targets were resolved and every thing has its execution. */
export function rolloutFinished(job: Pick<Job, 'rollout'>): boolean {
  return job.rollout.started && job.rollout.remaining === 0
}

export interface Execution {
  readonly jobId: string
  readonly thingName: string
  readonly executionNumber: number
  readonly status: ExecutionStatus
  readonly forceCanceled: boolean
  readonly statusDetails: StatusDetails
  readonly queuedAtMs: number
  readonly startedAtMs?: number
  readonly lastUpdatedAtMs: number
  readonly versionNumber: number
  readonly retryAttempt: number
  /** How many of `retryAttempt` retries followed a TIMED_OUT attempt (the rest followed FAILED). */
  readonly timedOutRetries: number
  /** Deadline of the job's in-progress timer, fixed when the execution entered IN_PROGRESS. */
  readonly inProgressDeadlineMs?: number
  /** Deadline of the current step timer. */
  readonly stepDeadlineMs?: number
}

/** An execution together with the job-level facts devices need. */
export interface ExecutionWithJob {
  readonly execution: Execution
  readonly job: Job
}

/** The effective deadline: the earlier of the two timers. [spec: state-machines#4] */
export function effectiveDeadlineMs(e: Execution): number | undefined {
  const { inProgressDeadlineMs: a, stepDeadlineMs: b } = e
  if (a === undefined) return b
  if (b === undefined) return a
  return Math.min(a, b)
}

/** `approximateSecondsBeforeTimedOut`, only for IN_PROGRESS executions with a deadline. */
export function approximateSecondsBeforeTimedOut(e: Execution, nowMs: number): number | undefined {
  if (e.status !== 'IN_PROGRESS') return undefined
  const deadline = effectiveDeadlineMs(e)
  if (deadline === undefined) return undefined
  return Math.max(0, Math.ceil((deadline - nowMs) / 1000))
}
