/** Row types of the store schema (SQLite and PostgreSQL share the names) and their mapping to domain records. */
import type { Execution, ExecutionCounts, Job, Thing } from '../domain/records.js'
import type { ExecutionStatus, JobStatus, TargetSelection } from '../domain/statuses.js'
import type { ThingGroup } from '../domain/thing-groups.js'
import type {
  EventRow,
  ExecutionEventFacts,
  ExecutionEventOperation,
  JobEventFacts,
  JobEventOperation,
} from '../ports/store.js'

export interface ThingRow {
  thing_name: string
  thing_id: string
  attributes: string
  version: number
  created_at: number
}

export interface JobRow {
  seq: number
  job_id: string
  status: JobStatus
  target_selection: TargetSelection
  namespace_id: string | null
  created_at: number
  last_updated_at: number
  completed_at: number | null
  force_canceled: number
  reason_code: string | null
  comment: string | null
  spec_version: number
  n_queued: number
  n_in_progress: number
  n_succeeded: number
  n_failed: number
  n_timed_out: number
  n_rejected: number
  n_removed: number
  n_canceled: number
  rollout_started: number
  rollout_remaining: number
  rollout_notified: number
  rollout_last_batch_at: number | null
  rollout_ended: number
  next_due_at: number | null
}

export interface ExecutionRow {
  seq: number
  job_id: string
  thing_name: string
  execution_number: number
  status: ExecutionStatus
  namespace_id: string
  force_canceled: number
  status_details: string
  queued_at: number
  started_at: number | null
  last_updated_at: number
  version_number: number
  retry_attempt: number
  in_progress_deadline: number | null
  step_deadline: number | null
  deadline: number | null
  timed_out_retries: number
}

/** The counter column of each execution status. */
export const COUNT_COLUMN: Record<ExecutionStatus, keyof JobRow> = {
  QUEUED: 'n_queued',
  IN_PROGRESS: 'n_in_progress',
  SUCCEEDED: 'n_succeeded',
  FAILED: 'n_failed',
  TIMED_OUT: 'n_timed_out',
  REJECTED: 'n_rejected',
  REMOVED: 'n_removed',
  CANCELED: 'n_canceled',
}

export function thingFromRow(r: ThingRow): Thing {
  return {
    thingName: r.thing_name,
    thingId: r.thing_id,
    attributes: JSON.parse(r.attributes) as Record<string, string>,
    version: r.version,
    createdAtMs: r.created_at,
  }
}

/** Fields of a job kept in the `body` JSON column: read whole, never queried. */
export type JobBody = Omit<
  Job,
  | 'jobId'
  | 'status'
  | 'targetSelection'
  | 'namespaceId'
  | 'createdAtMs'
  | 'lastUpdatedAtMs'
  | 'completedAtMs'
  | 'forceCanceled'
  | 'reasonCode'
  | 'comment'
  | 'document'
  | 'counts'
  | 'rollout'
  | 'nextDueAtMs'
>

export function jobBody(job: Job): string {
  const {
    jobId: _jobId,
    status: _status,
    targetSelection: _ts,
    namespaceId: _ns,
    createdAtMs: _c,
    lastUpdatedAtMs: _l,
    completedAtMs: _d,
    forceCanceled: _f,
    reasonCode: _r,
    comment: _m,
    document: _doc,
    counts: _n,
    rollout: _ro,
    nextDueAtMs: _due,
    ...body
  } = job
  return JSON.stringify(body satisfies JobBody)
}

export function countsFromRow(r: JobRow): ExecutionCounts {
  return {
    QUEUED: r.n_queued,
    IN_PROGRESS: r.n_in_progress,
    SUCCEEDED: r.n_succeeded,
    FAILED: r.n_failed,
    TIMED_OUT: r.n_timed_out,
    REJECTED: r.n_rejected,
    REMOVED: r.n_removed,
    CANCELED: r.n_canceled,
  }
}

/** The job from its hot row and its spec (job-specs.ts). */
export function jobFromParts(r: JobRow, document: string, body: JobBody): Job {
  return {
    ...body,
    jobId: r.job_id,
    status: r.status,
    targetSelection: r.target_selection,
    ...(r.namespace_id === null ? {} : { namespaceId: r.namespace_id }),
    createdAtMs: r.created_at,
    lastUpdatedAtMs: r.last_updated_at,
    ...(r.completed_at === null ? {} : { completedAtMs: r.completed_at }),
    forceCanceled: r.force_canceled === 1,
    ...(r.reason_code === null ? {} : { reasonCode: r.reason_code }),
    ...(r.comment === null ? {} : { comment: r.comment }),
    document,
    counts: countsFromRow(r),
    rollout: {
      started: r.rollout_started === 1,
      remaining: r.rollout_remaining,
      notified: r.rollout_notified,
      ...(r.rollout_last_batch_at === null ? {} : { lastBatchAtMs: r.rollout_last_batch_at }),
      ended: r.rollout_ended === 1,
    },
    ...(r.next_due_at === null ? {} : { nextDueAtMs: r.next_due_at }),
  }
}

/** The job's time-driven columns, as the stores write them. */
export function rolloutColumns(job: Job): {
  rolloutStarted: number
  rolloutRemaining: number
  rolloutNotified: number
  rolloutLastBatchAt: number | null
  rolloutEnded: number
  nextDueAt: number | null
} {
  return {
    rolloutStarted: job.rollout.started ? 1 : 0,
    rolloutRemaining: job.rollout.remaining,
    rolloutNotified: job.rollout.notified,
    rolloutLastBatchAt: job.rollout.lastBatchAtMs ?? null,
    rolloutEnded: job.rollout.ended ? 1 : 0,
    nextDueAt: job.nextDueAtMs ?? null,
  }
}

export function executionFromRow(r: ExecutionRow): Execution {
  return {
    jobId: r.job_id,
    thingName: r.thing_name,
    executionNumber: r.execution_number,
    status: r.status,
    forceCanceled: r.force_canceled === 1,
    statusDetails: JSON.parse(r.status_details) as Record<string, string>,
    queuedAtMs: r.queued_at,
    ...(r.started_at === null ? {} : { startedAtMs: r.started_at }),
    lastUpdatedAtMs: r.last_updated_at,
    versionNumber: r.version_number,
    retryAttempt: r.retry_attempt,
    timedOutRetries: r.timed_out_retries,
    ...(r.in_progress_deadline === null ? {} : { inProgressDeadlineMs: r.in_progress_deadline }),
    ...(r.step_deadline === null ? {} : { stepDeadlineMs: r.step_deadline }),
  }
}

/** A row of the Jobs events outbox (both stores). */
export interface EventOutboxRow {
  seq: number
  event_id: string
  family: 'job' | 'jobExecution'
  operation: string
  at_ms: number
  facts: string
}

export function eventFromRow(r: EventOutboxRow): EventRow {
  const head = { seq: r.seq, eventId: r.event_id, atMs: r.at_ms }
  return r.family === 'job'
    ? {
        ...head,
        family: 'job',
        operation: r.operation as JobEventOperation,
        job: JSON.parse(r.facts) as JobEventFacts,
      }
    : {
        ...head,
        family: 'jobExecution',
        operation: r.operation as ExecutionEventOperation,
        execution: JSON.parse(r.facts) as ExecutionEventFacts,
      }
}

/** The kind (`thing`, `thinggroup`) and name a job target's ARN names: the job_targets columns. */
export function targetOf(arn: string): { kind: string; name: string } {
  const slash = arn.lastIndexOf('/')
  return { kind: arn.slice(arn.lastIndexOf(':', slash) + 1, slash), name: arn.slice(slash + 1) }
}

/**
 * The targets of a new job that job_targets keeps. The stores read them back for three things only:
 * the CONTINUOUS jobs that reach a thing (membership changes), a scheduled job's things at its start,
 * and ListJobs by thing group. So a SNAPSHOT job resolved at creation keeps only its group targets:
 * 10,000 thing rows in three B-trees were half the cost of its CreateJob (issue 14). DescribeJob
 * reads the targets from the job's spec.
 */
export function storedTargets(job: Pick<Job, 'targets' | 'targetSelection' | 'rollout'>): readonly string[] {
  if (job.targetSelection !== 'SNAPSHOT' || !job.rollout.started) return job.targets
  return job.targets.filter((arn) => targetOf(arn).kind !== 'thing')
}

export interface ThingGroupRow {
  group_name: string
  group_id: string
  parent_name: string | null
  depth: number
  properties: string
  tags: string | null
  version: number
  created_at: number
}

export function groupFromRow(r: ThingGroupRow): ThingGroup {
  return {
    thingGroupName: r.group_name,
    thingGroupId: r.group_id,
    ...(r.parent_name === null ? {} : { parentGroupName: r.parent_name }),
    depth: r.depth,
    properties: JSON.parse(r.properties) as Record<string, unknown>,
    ...(r.tags === null ? {} : { tags: JSON.parse(r.tags) as Record<string, unknown>[] }),
    version: r.version,
    createdAtMs: r.created_at,
  }
}

/** Which event families are recorded. [spec: jobs-device-api#5] both off by default */
export interface EventFamilies {
  readonly job: boolean
  readonly jobExecution: boolean
}

/** Every table of user data, in both stores (the virtual clock's reset empties them). [spec: test-clock#2] */
export const RESET_TABLES = [
  'things',
  'thing_groups',
  'thing_group_members',
  'jobs',
  'job_specs',
  'job_targets',
  'job_rollout_things',
  'job_executions',
  'job_templates',
  'outbox',
  'notify_next_state',
  'event_outbox',
  'certificates',
  'ca_certificates',
  'thing_principals',
] as const
