/** Execution statuses as AWS spells them. [spec: state-machines#2-job-execution-state-machine] */
export const EXECUTION_STATUSES = [
  'QUEUED',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'REJECTED',
  'REMOVED',
  'CANCELED',
] as const
export type ExecutionStatus = (typeof EXECUTION_STATUSES)[number]

/** Job statuses. [spec: state-machines#1-job-state-machine] */
export const JOB_STATUSES = [
  'IN_PROGRESS',
  'CANCELED',
  'COMPLETED',
  'DELETION_IN_PROGRESS',
  'SCHEDULED',
] as const
export type JobStatus = (typeof JOB_STATUSES)[number]

export type TargetSelection = 'SNAPSHOT' | 'CONTINUOUS'

/**
 * The six terminal statuses. TIMED_OUT is terminal although the DeleteJobExecution reference
 * leaves it out of its list. [spec: delete-job-execution#3] [open-question 59]
 */
export const TERMINAL_EXECUTION_STATUSES: ReadonlySet<ExecutionStatus> = new Set([
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'REJECTED',
  'REMOVED',
  'CANCELED',
])

export const PENDING_EXECUTION_STATUSES: ReadonlySet<ExecutionStatus> = new Set(['QUEUED', 'IN_PROGRESS'])

export function isTerminal(status: ExecutionStatus): boolean {
  return TERMINAL_EXECUTION_STATUSES.has(status)
}

export function isPending(status: ExecutionStatus): boolean {
  return PENDING_EXECUTION_STATUSES.has(status)
}

/** The statuses a device may send. [spec: state-machines#2] [open-question 43] */
export const DEVICE_STATUSES: ReadonlySet<ExecutionStatus> = new Set([
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
])

/** Job statuses in which the job is finished for DeleteJob without force. */
export const TERMINAL_JOB_STATUSES: ReadonlySet<JobStatus> = new Set(['COMPLETED', 'CANCELED'])
