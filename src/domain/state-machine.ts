/**
 * The job and execution state machines, as tables, and the pure decisions built on them.
 * Every path that changes an execution (HTTP control plane, HTTP data plane, MQTT, schedulers)
 * asks these functions; none of them changes a status by itself. [spec: state-machines]
 */
import { ServiceError, invalidRequest, invalidTransition } from './errors.js'
import type { Execution, Job, StatusDetails } from './records.js'
import { effectiveDeadlineMs, rolloutFinished } from './records.js'
import type { ExecutionStatus, JobStatus } from './statuses.js'
import { DEVICE_STATUSES, isPending, isTerminal } from './statuses.js'

/**
 * Who moves an execution: the device (data plane, MQTT), the control plane (CancelJobExecution,
 * CancelJob), the control plane with `force=true`, or the service itself (timers, registry effects).
 */
export type Actor = 'device' | 'controlPlane' | 'controlPlaneForce' | 'service'
export const ACTORS: readonly Actor[] = ['device', 'controlPlane', 'controlPlaneForce', 'service']

const DEVICE_MOVES = ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED'] as const
const NONE = [] as const

/** Who may move an execution from each status, and to which statuses. [spec: state-machines#2] */
export const EXECUTION_TRANSITIONS = {
  QUEUED: {
    device: DEVICE_MOVES,
    controlPlane: ['CANCELED'],
    controlPlaneForce: ['CANCELED'],
    service: ['CANCELED', 'REMOVED'],
  },
  IN_PROGRESS: {
    device: DEVICE_MOVES,
    controlPlane: NONE,
    controlPlaneForce: ['CANCELED'],
    service: ['TIMED_OUT', 'CANCELED', 'REMOVED'],
  },
  SUCCEEDED: { device: NONE, controlPlane: NONE, controlPlaneForce: NONE, service: NONE },
  FAILED: { device: NONE, controlPlane: NONE, controlPlaneForce: NONE, service: NONE },
  TIMED_OUT: { device: NONE, controlPlane: NONE, controlPlaneForce: NONE, service: NONE },
  REJECTED: { device: NONE, controlPlane: NONE, controlPlaneForce: NONE, service: NONE },
  REMOVED: { device: NONE, controlPlane: NONE, controlPlaneForce: NONE, service: NONE },
  CANCELED: { device: NONE, controlPlane: NONE, controlPlaneForce: NONE, service: NONE },
} as const satisfies Record<ExecutionStatus, Record<Actor, readonly ExecutionStatus[]>>

/**
 * Which executions DeleteJobExecution may remove, without and with `force`.
 * [spec: delete-job-execution#3] [open-question 59: TIMED_OUT] [open-question 60: QUEUED with force]
 */
export const EXECUTION_DELETION = {
  QUEUED: { withoutForce: false, withForce: true },
  IN_PROGRESS: { withoutForce: false, withForce: true },
  SUCCEEDED: { withoutForce: true, withForce: true },
  FAILED: { withoutForce: true, withForce: true },
  TIMED_OUT: { withoutForce: true, withForce: true },
  REJECTED: { withoutForce: true, withForce: true },
  REMOVED: { withoutForce: true, withForce: true },
  CANCELED: { withoutForce: true, withForce: true },
} as const satisfies Record<ExecutionStatus, { withoutForce: boolean; withForce: boolean }>

/** Job transitions and their causes. [spec: state-machines#1-job-state-machine] */
export const JOB_TRANSITIONS = {
  SCHEDULED: { controlPlane: ['CANCELED', 'DELETION_IN_PROGRESS'], service: ['IN_PROGRESS', 'CANCELED'] },
  IN_PROGRESS: {
    controlPlane: ['CANCELED', 'DELETION_IN_PROGRESS'],
    service: ['COMPLETED', 'CANCELED', 'SCHEDULED'],
  },
  COMPLETED: { controlPlane: ['DELETION_IN_PROGRESS'], service: [] },
  CANCELED: { controlPlane: ['DELETION_IN_PROGRESS'], service: [] },
  DELETION_IN_PROGRESS: { controlPlane: [], service: [] },
} as const satisfies Record<JobStatus, Record<'controlPlane' | 'service', readonly JobStatus[]>>

export function mayMove(from: ExecutionStatus, to: ExecutionStatus, actor: Actor): boolean {
  return (EXECUTION_TRANSITIONS[from][actor] as readonly ExecutionStatus[]).includes(to)
}

/** What a change to one execution means for the pending list; the notifier derives topics from it. */
export interface ExecutionEvent {
  readonly jobId: string
  readonly thingName: string
  readonly executionNumber: number
  readonly from: ExecutionStatus
  readonly to: ExecutionStatus | 'DELETED'
}

export type ExecutionDecision =
  | { readonly kind: 'write'; readonly next: Execution; readonly events: readonly ExecutionEvent[] }
  | { readonly kind: 'delete'; readonly atMs: number; readonly events: readonly ExecutionEvent[] }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'reject'; readonly error: ServiceError }

const reject = (error: ServiceError): ExecutionDecision => ({ kind: 'reject', error })

function written(prev: Execution, next: Execution): ExecutionDecision {
  const events: ExecutionEvent[] =
    prev.status === next.status
      ? []
      : [
          {
            jobId: prev.jobId,
            thingName: prev.thingName,
            executionNumber: prev.executionNumber,
            from: prev.status,
            to: next.status,
          },
        ]
  return { kind: 'write', next, events }
}

const MINUTE_MS = 60_000

/** Applies a status change with the effects every accepted write carries. [spec: state-machines#2, #3.1] */
function moved(
  prev: Execution,
  job: Job,
  to: ExecutionStatus,
  nowMs: number,
  changes: {
    statusDetails?: StatusDetails | undefined
    stepTimeoutInMinutes?: number | undefined
    forceCanceled?: boolean
  },
): Execution {
  const entersInProgress = to === 'IN_PROGRESS' && prev.status !== 'IN_PROGRESS'
  let inProgressDeadlineMs = prev.inProgressDeadlineMs
  let stepDeadlineMs = prev.stepDeadlineMs
  if (entersInProgress) {
    const minutes = inProgressTimeoutInMinutes(job)
    inProgressDeadlineMs = minutes === undefined ? undefined : nowMs + minutes * MINUTE_MS
  }
  if (to === 'IN_PROGRESS' && changes.stepTimeoutInMinutes !== undefined) {
    // [spec: state-machines#4] a new value replaces the step timer; -1 cancels it.
    stepDeadlineMs =
      changes.stepTimeoutInMinutes === -1 ? undefined : nowMs + changes.stepTimeoutInMinutes * MINUTE_MS
  }
  if (isTerminal(to)) {
    inProgressDeadlineMs = undefined
    stepDeadlineMs = undefined
  }
  const next: Execution = {
    ...prev,
    status: to,
    statusDetails: changes.statusDetails ?? prev.statusDetails,
    lastUpdatedAtMs: nowMs,
    versionNumber: prev.versionNumber + 1,
    forceCanceled: changes.forceCanceled ?? prev.forceCanceled,
  }
  const withStart =
    entersInProgress && prev.startedAtMs === undefined ? { ...next, startedAtMs: nowMs } : next
  return withTimers(withStart, inProgressDeadlineMs, stepDeadlineMs)
}

function withTimers(
  e: Execution,
  inProgressDeadlineMs: number | undefined,
  stepDeadlineMs: number | undefined,
): Execution {
  const { inProgressDeadlineMs: _a, stepDeadlineMs: _b, ...rest } = e
  return {
    ...rest,
    ...(inProgressDeadlineMs === undefined ? {} : { inProgressDeadlineMs }),
    ...(stepDeadlineMs === undefined ? {} : { stepDeadlineMs }),
  }
}

function inProgressTimeoutInMinutes(job: Job): number | undefined {
  const value = job.timeoutConfig?.['inProgressTimeoutInMinutes']
  return typeof value === 'number' ? value : undefined
}

export interface DeviceUpdate {
  readonly status: ExecutionStatus
  readonly statusDetails?: StatusDetails | undefined
  readonly expectedVersion?: number | undefined
  readonly stepTimeoutInMinutes?: number | undefined
}

/**
 * UpdateJobExecution from a device (HTTP data plane or MQTT).
 * Order: device status check, expectedVersion, transition table. [spec: jobs-device-api#1.5]
 * A version mismatch is InvalidStateTransitionException on HTTP [open-question 44]; the MQTT layer
 * maps it to VersionMismatch by the `versionMismatch` flag.
 */
export function decideDeviceUpdate(
  e: Execution,
  job: Job,
  req: DeviceUpdate,
  nowMs: number,
): ExecutionDecision {
  if (!DEVICE_STATUSES.has(req.status)) {
    return reject(
      invalidRequest(
        `status ${req.status} cannot be set by a device; use IN_PROGRESS, SUCCEEDED, FAILED or REJECTED`,
      ),
    )
  }
  // [spec: state-machines#4] a deadline that has passed wins over the device's update.
  if (isOverdue(e, nowMs)) return reject(new OverdueExecution(e))
  if (req.expectedVersion !== undefined && req.expectedVersion !== e.versionNumber) {
    return reject(versionMismatch(e))
  }
  if (!mayMove(e.status, req.status, 'device')) {
    return reject(
      invalidTransition(
        `Execution ${e.executionNumber} of job ${e.jobId} on thing ${e.thingName} is ${e.status} and cannot change to ${req.status}`,
      ),
    )
  }
  return written(
    e,
    moved(e, job, req.status, nowMs, {
      statusDetails: req.statusDetails,
      stepTimeoutInMinutes: req.stepTimeoutInMinutes,
    }),
  )
}

export class VersionMismatchError extends ServiceError {
  readonly versionMismatch = true
}

function versionMismatch(e: Execution): ServiceError {
  return new VersionMismatchError(
    'InvalidStateTransitionException',
    `expectedVersion does not match: execution ${e.executionNumber} of job ${e.jobId} is at versionNumber ${e.versionNumber}`,
  )
}

/**
 * StartNextPendingJobExecution on the first pending execution: an IN_PROGRESS one is returned
 * unchanged [open-question 39]; a QUEUED one becomes IN_PROGRESS. [spec: jobs-device-api#1.3]
 */
export function decideStartNext(
  e: Execution,
  job: Job,
  req: { statusDetails?: StatusDetails | undefined; stepTimeoutInMinutes?: number | undefined },
  nowMs: number,
): ExecutionDecision {
  if (e.status === 'IN_PROGRESS') return { kind: 'unchanged' }
  if (e.status !== 'QUEUED') return reject(invalidTransition(`Execution is ${e.status}`))
  return written(e, moved(e, job, 'IN_PROGRESS', nowMs, req))
}

/**
 * CancelJobExecution. expectedVersion is checked before the status rule.
 * [spec: jobs-control-plane#canceljobexecution]
 */
export function decideCancelExecution(
  e: Execution,
  job: Job,
  req: { force: boolean; expectedVersion?: number | undefined; statusDetails?: StatusDetails | undefined },
  nowMs: number,
): ExecutionDecision {
  if (job.status === 'DELETION_IN_PROGRESS') {
    // [open-question 30]
    return reject(invalidTransition(`Job ${job.jobId} is being deleted`))
  }
  if (req.expectedVersion !== undefined && req.expectedVersion !== e.versionNumber) {
    return reject(
      new ServiceError(
        'VersionConflictException',
        `expectedVersion ${req.expectedVersion} does not match versionNumber ${e.versionNumber} of execution ${e.executionNumber} of job ${e.jobId} on thing ${e.thingName}`,
      ),
    )
  }
  const actor: Actor = req.force ? 'controlPlaneForce' : 'controlPlane'
  if (!mayMove(e.status, 'CANCELED', actor)) {
    const hint = e.status === 'IN_PROGRESS' ? '; set force=true to cancel it' : ''
    return reject(
      invalidTransition(
        `Execution ${e.executionNumber} of job ${e.jobId} on thing ${e.thingName} is ${e.status}${hint}`,
      ),
    )
  }
  return written(
    e,
    moved(e, job, 'CANCELED', nowMs, {
      statusDetails: req.statusDetails,
      // AWS: forceCanceled is "true if the job execution was canceled with the optional force
      // parameter set to true" — a QUEUED one included (state-machines §11). See docs/decisions.md.
      ...(req.force ? { forceCanceled: true } : {}),
    }),
  )
}

/**
 * DeleteJobExecution, steps 6 and 8 of the algorithm. [spec: delete-job-execution#2, #3]
 * [open-question 61: a job being deleted answers 409]
 */
export function decideDeleteExecution(
  e: Execution,
  job: Job,
  req: { force: boolean },
  nowMs: number,
): ExecutionDecision {
  if (job.status === 'DELETION_IN_PROGRESS')
    return reject(invalidTransition(`Job ${job.jobId} is being deleted`))
  const rule = EXECUTION_DELETION[e.status]
  if (!(req.force ? rule.withForce : rule.withoutForce)) {
    // [spec: delete-job-execution#5] messages of the two 409 rows
    return reject(
      invalidTransition(
        e.status === 'IN_PROGRESS'
          ? 'Execution is IN_PROGRESS; set force=true to delete it'
          : `Execution is ${e.status}; only terminal executions can be deleted without force`,
      ),
    )
  }
  return {
    kind: 'delete',
    atMs: nowMs,
    events: [
      {
        jobId: e.jobId,
        thingName: e.thingName,
        executionNumber: e.executionNumber,
        from: e.status,
        to: 'DELETED',
      },
    ],
  }
}

/**
 * The SNAPSHOT completion rule, asked after every execution change, deletion and rollout step: an
 * IN_PROGRESS SNAPSHOT job whose rollout is finished, with nothing QUEUED or IN_PROGRESS (a pending
 * retry is a QUEUED execution), is COMPLETED. [spec: state-machines#10]
 */
export function decideJobCompletion(job: Job, nowMs: number): Job | undefined {
  if (job.status !== 'IN_PROGRESS' || job.targetSelection !== 'SNAPSHOT') return undefined
  if (!rolloutFinished(job)) return undefined
  if (job.counts.QUEUED + job.counts.IN_PROGRESS > 0) return undefined
  return { ...job, status: 'COMPLETED', completedAtMs: nowMs, lastUpdatedAtMs: nowMs }
}

/**
 * An IN_PROGRESS execution whose effective deadline has come is TIMED_OUT: the service's move, with
 * the effects of every accepted write. [spec: state-machines#4]
 */
export function decideTimeout(e: Execution, job: Job, nowMs: number): ExecutionDecision {
  const deadline = effectiveDeadlineMs(e)
  if (e.status !== 'IN_PROGRESS' || deadline === undefined || deadline > nowMs) return { kind: 'unchanged' }
  return written(e, moved(e, job, 'TIMED_OUT', nowMs, {}))
}

/** An IN_PROGRESS execution past its deadline that the sweep has not reached yet (system mode). */
export function isOverdue(e: Execution, nowMs: number): boolean {
  const deadline = effectiveDeadlineMs(e)
  return e.status === 'IN_PROGRESS' && deadline !== undefined && deadline <= nowMs
}

/**
 * Raised when a request meets an execution whose deadline passed before the sweep reached it: the
 * caller applies the work due now and asks again, so the request sees the execution TIMED_OUT.
 */
export class OverdueExecution extends ServiceError {
  constructor(e: Execution) {
    super(
      'InvalidStateTransitionException',
      `Execution ${e.executionNumber} of job ${e.jobId} on thing ${e.thingName} has timed out`,
    )
  }
}

/** Applies one status change (or removal) to a job's counters. [spec: state-machines#9] */
export function countChange(
  job: Job,
  from: ExecutionStatus | undefined,
  to: ExecutionStatus | 'DELETED',
): Job {
  const counts = { ...job.counts }
  if (from !== undefined) counts[from] -= 1
  if (to !== 'DELETED') counts[to] += 1
  return { ...job, counts }
}

/**
 * Executions a device sees as pending. A job paused by a closed maintenance window (SCHEDULED) keeps
 * its executions visible: devices were notified of them. [spec: jobs-device-api#1.1]
 */
export function isPendingForDevice(e: Execution, job: Job): boolean {
  return isPending(e.status) && job.status !== 'DELETION_IN_PROGRESS'
}
