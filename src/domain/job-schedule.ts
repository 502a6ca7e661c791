/**
 * The time-driven life of a job, as pure decisions: a scheduled start, the `endTime` and its
 * `endBehavior`, rollout batches, and maintenance windows that open and close the rollout. The store
 * asks `decideJobTick` when a job's `nextDueAtMs` has come, applies the answer in one transaction,
 * then stores `nextJobDueMs` of the job as it then stands.
 * [spec: state-machines#1] [spec: state-machines#5] [spec: jobs-control-plane#3.1]
 * [spec: newer-in-latest-sdk#control-plane] [spec: test-clock#3]
 */
import type { MaintenanceWindow } from './maintenance-windows.js'
import { windowStateAt } from './maintenance-windows.js'
import type { Job } from './records.js'
import { ROLLOUT_INTERVAL_MS, rolloutRate } from './rollout.js'
import { parseScheduleTime } from './job-config.js'

export type EndBehavior = 'STOP_ROLLOUT' | 'CANCEL' | 'FORCE_CANCEL'

/** A job's schedule, parsed from its `schedulingConfig`. */
export interface Schedule {
  readonly startMs?: number
  readonly endMs?: number
  /** With `endTime` and no `endBehavior`: STOP_ROLLOUT. [spec: jobs-control-plane#3.1] */
  readonly endBehavior: EndBehavior
  readonly windows?: readonly MaintenanceWindow[]
}

export function scheduleOf(job: Pick<Job, 'schedulingConfig'>): Schedule {
  const config = job.schedulingConfig ?? {}
  const start = config['startTime']
  const end = config['endTime']
  const windows = config['maintenanceWindows']
  return {
    ...(typeof start === 'string' ? { startMs: parseScheduleTime(start, 'schedulingConfig.startTime') } : {}),
    // endBehavior without endTime is stored and has no effect. [spec: jobs-control-plane#3.1]
    ...(typeof end === 'string' ? { endMs: parseScheduleTime(end, 'schedulingConfig.endTime') } : {}),
    endBehavior: (config['endBehavior'] as EndBehavior | undefined) ?? 'STOP_ROLLOUT',
    ...(Array.isArray(windows) && windows.length > 0 ? { windows: windows as MaintenanceWindow[] } : {}),
  }
}

/** What a job's tick does; the store applies it in one transaction. */
export interface JobTick {
  /** The job after the tick's own changes (status, rollout flags, reason); equal to the input when none. */
  readonly next: Job
  /** Resolve the targets now: a scheduled job's first start. */
  readonly resolveTargets: boolean
  /** Cancel executions as CancelJob does (endBehavior CANCEL, FORCE_CANCEL). */
  readonly cancelExecutions?: { readonly force: boolean }
  /** Drop the things still waiting for the rollout: it is over for good. */
  readonly stopRollout: boolean
  /** Executions to create now, in thing-name order (Infinity: every remaining thing). */
  readonly batch: number
}

const isLive = (job: Job): boolean => job.status === 'IN_PROGRESS' || job.status === 'SCHEDULED'

/**
 * What is due for the job at `nowMs`. Call it only when `nowMs` ≥ the job's `nextDueAtMs`; it is
 * harmless earlier (it then changes nothing).
 */
export function decideJobTick(job: Job, nowMs: number): JobTick {
  const none: JobTick = { next: job, resolveTargets: false, stopRollout: false, batch: 0 }
  if (!isLive(job)) return none
  const schedule = scheduleOf(job)
  const stamp = (changes: Partial<Job>): Job => ({ ...job, ...changes, lastUpdatedAtMs: nowMs })

  // endTime reached: its endBehavior, once. [spec: state-machines#1] [spec: state-machines#5]
  if (schedule.endMs !== undefined && nowMs >= schedule.endMs && !job.rollout.ended) {
    const rollout = { ...job.rollout, started: true, remaining: 0, ended: true }
    if (schedule.endBehavior === 'STOP_ROLLOUT') {
      // The job keeps its status; one paused by a closed window (or never started) becomes
      // IN_PROGRESS so that its executions run to their end and a SNAPSHOT job can complete.
      return {
        ...none,
        next: stamp({ status: 'IN_PROGRESS', rollout }),
        stopRollout: true,
      }
    }
    const force = schedule.endBehavior === 'FORCE_CANCEL'
    return {
      next: stamp({
        status: 'CANCELED',
        rollout,
        ...(force ? { forceCanceled: true } : {}),
        reasonCode: 'SCHEDULED_END_TIME_REACHED',
        comment: `schedulingConfig.endTime reached; endBehavior ${schedule.endBehavior}`,
      }),
      resolveTargets: false,
      cancelExecutions: { force },
      stopRollout: true,
      batch: 0,
    }
  }

  // The first start: startTime reached, inside a maintenance window if there are windows.
  if (!job.rollout.started) {
    if (schedule.startMs !== undefined && nowMs < schedule.startMs) return none
    if (schedule.windows !== undefined && !windowStateAt(schedule.windows, nowMs).open) return none
    const started = stamp({ status: 'IN_PROGRESS', rollout: { ...job.rollout, started: true } })
    return { ...none, next: started, resolveTargets: true, batch: rolloutRate(started) }
  }

  if (job.rollout.remaining === 0 || job.rollout.ended) return none

  // Rollout under way. Maintenance windows open and close it. [spec: state-machines#1]
  if (schedule.windows !== undefined) {
    const window = windowStateAt(schedule.windows, nowMs)
    if (!window.open) {
      return job.status === 'IN_PROGRESS' ? { ...none, next: stamp({ status: 'SCHEDULED' }) } : none
    }
    if (job.status === 'SCHEDULED') {
      // A window opened: the rollout resumes with a batch at once.
      const resumed = stamp({ status: 'IN_PROGRESS' })
      return { ...none, next: resumed, batch: rolloutRate(resumed) }
    }
  }
  const last = job.rollout.lastBatchAtMs
  if (last !== undefined && nowMs < last + ROLLOUT_INTERVAL_MS) return none
  return { ...none, batch: rolloutRate(job) }
}

/** The next instant at which the job has time-driven work, or undefined when it has none. */
export function nextJobDueMs(job: Job, nowMs: number): number | undefined {
  if (!isLive(job)) return undefined
  const schedule = scheduleOf(job)
  const due: number[] = []
  if (schedule.endMs !== undefined && !job.rollout.ended) due.push(schedule.endMs)
  const windowNext = (): number | undefined => {
    if (schedule.windows === undefined) return undefined
    const window = windowStateAt(schedule.windows, nowMs)
    return window.open ? window.closesAtMs : window.nextOpenAtMs
  }
  if (!job.rollout.started) {
    if (schedule.startMs !== undefined && nowMs < schedule.startMs) due.push(schedule.startMs)
    else {
      const opens = windowNext()
      if (opens !== undefined) due.push(opens)
    }
  } else if (job.rollout.remaining > 0 && !job.rollout.ended) {
    const boundary = windowNext()
    if (boundary !== undefined) due.push(boundary)
    const paused = schedule.windows !== undefined && job.status === 'SCHEDULED'
    if (!paused) due.push((job.rollout.lastBatchAtMs ?? nowMs) + ROLLOUT_INTERVAL_MS)
  }
  return due.length === 0 ? undefined : Math.max(nowMs, Math.min(...due))
}
