/**
 * Job-level writes in SQLite: UpdateJob, CancelJob (executions canceled set-based, counters kept) and
 * DeleteJob (DELETION_IN_PROGRESS, then executions purged in batches, then the job record).
 */
import type Database from 'better-sqlite3'
import type { Statement } from 'better-sqlite3'
import type { JobDecision, JobFacts } from '../../domain/job-lifecycle.js'
import { nextJobDueMs } from '../../domain/job-schedule.js'
import { isPaced } from '../../domain/rollout.js'
import type { Job } from '../../domain/records.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { JobTargets, MissingTargetNames } from '../../ports/store.js'
import type { EventOutbox } from './events.js'
import type { CounterUpkeep } from './groups.js'
import type { JobRow } from '../rows.js'
import { targetOf } from '../rows.js'
import type { Outbox } from './outbox.js'
import type { Statements } from './statements.js'
import type { JobSpecs } from './job-specs.js'

export class JobLifecycle {
  private readonly s: ReturnType<typeof prepareJobStatements>

  constructor(
    db: Database.Database,
    private readonly counters: CounterUpkeep,
    private readonly shared: Statements,
    private readonly outbox: Outbox,
    private readonly specs: JobSpecs,
    private readonly events: EventOutbox,
  ) {
    this.s = prepareJobStatements(db)
  }

  /** Runs inside a transaction. Undefined when the job does not exist. */
  mutate(jobId: string, decide: (facts: JobFacts) => JobDecision): Job | undefined {
    const row = this.s.job.get(jobId) as JobRow | undefined
    if (row === undefined) return undefined
    const job = this.specs.job(row)
    const deleting = (this.s.deletingCount.get() as { n: number }).n
    const decision = decide({ job, deleting })
    if (decision.kind === 'reject') throw decision.error
    const n = decision.next
    // [spec: state-machines#5] rollout stops for good on cancel, abort and deletion; otherwise new
    // rollout or scheduling settings may move the job's next due instant.
    const live = n.status === 'IN_PROGRESS' || n.status === 'SCHEDULED'
    if (!live) this.s.dropRollout.run(jobId)
    const nextDue = live ? nextJobDueMs(n, n.lastUpdatedAtMs) : undefined
    this.s.updateJob.run({
      jobId,
      status: n.status,
      forceCanceled: n.forceCanceled ? 1 : 0,
      reasonCode: n.reasonCode ?? null,
      comment: n.comment ?? null,
      lastUpdatedAt: n.lastUpdatedAtMs,
      completedAt: n.completedAtMs ?? null,
      rolloutStarted: n.rollout.started ? 1 : 0,
      rolloutRemaining: live ? n.rollout.remaining : 0,
      rolloutEnded: n.rollout.ended ? 1 : 0,
      nextDueAt: nextDue ?? null,
    })
    this.specs.update(row, n)
    // [spec: jobs-device-api#5.1] A cancellation runs to its end in this transaction, so it is reported
    // as begun and as finished at once, with the executions' events between. A canceled job canceled
    // again with force changes no job status: only its executions' events (docs/decisions.md#events).
    const canceling = n.status === 'CANCELED' && job.status !== 'CANCELED'
    if (canceling) this.events.job(jobId, 'cancellation_in_progress', n.lastUpdatedAtMs)
    if (n.status === 'DELETION_IN_PROGRESS' && job.status !== 'DELETION_IN_PROGRESS') {
      this.events.job(jobId, 'deletion_in_progress', n.lastUpdatedAtMs)
      // Devices lose the job's pending executions now, not when the purge reaches them.
      // [spec: jobs-device-api#4.3]
      this.outbox.inStatus(jobId, 'QUEUED')
      this.outbox.inStatus(jobId, 'IN_PROGRESS')
    }
    if (decision.cancelExecutions !== undefined)
      this.cancelExecutions(jobId, decision.cancelExecutions.force, n.lastUpdatedAtMs)
    if (canceling) this.events.job(jobId, 'canceled', n.lastUpdatedAtMs)
    return this.specs.job(this.s.job.get(jobId) as JobRow)
  }

  /** QUEUED (and with force IN_PROGRESS) executions → CANCELED, one statement per status. */
  private cancelExecutions(jobId: string, force: boolean, nowMs: number): void {
    const statuses: ExecutionStatus[] = force ? ['QUEUED', 'IN_PROGRESS'] : ['QUEUED']
    for (const status of statuses) {
      this.outbox.inStatus(jobId, status)
      this.events.jobExecutionsMoving(jobId, status, 'CANCELED', nowMs)
      const changed = this.s.cancelByStatus.run({
        jobId,
        status,
        nowMs,
        forced: status === 'IN_PROGRESS' ? 1 : 0,
      }).changes
      this.counters.adjust(jobId, status, -changed)
      this.counters.adjust(jobId, 'CANCELED', changed)
    }
  }

  /**
   * Runs inside a transaction: adds targets to a job after `decide` accepts, and queues an execution
   * for every thing they reach that has no execution of the job yet. [spec: jobs-control-plane#associatetargetswithjob]
   */
  associate(
    jobId: string,
    targets: JobTargets & { arns: readonly string[] },
    decide: (facts: JobFacts) => JobDecision,
  ): { job: Job; missing?: MissingTargetNames; paced?: TargetLists } | undefined {
    const lists = targetLists(targets)
    const job = this.mutate(jobId, decide)
    if (job === undefined) return undefined
    const missing = missingTargets(this.shared, lists)
    if (missing !== undefined) return { job, missing }
    insertTargets(this.shared, jobId, targets.arns)
    // [open-question 29] a paced job's new things wait for its rollout; the caller enlists them.
    if (isPaced(job)) return { job, paced: lists }
    const mark = this.outbox.mark()
    const created = this.shared.insertExecutions.run({
      jobId,
      namespaceId: job.namespaceId ?? '',
      nowMs: job.lastUpdatedAtMs,
      ...lists,
    }).changes
    this.counters.adjust(jobId, 'QUEUED', created)
    this.outbox.createdSince(jobId, mark)
    return { job }
  }

  deletingJobs(): string[] {
    return (this.s.deletingJobs.all() as { job_id: string }[]).map((r) => r.job_id)
  }

  /**
   * Runs inside a transaction: deletes up to `batch` executions of a job being deleted; when none
   * are left, deletes the job and its targets. Returns the executions deleted and whether the job is gone.
   * `nowMs` is the time of the `deleted` events. [spec: jobs-device-api#5]
   */
  purge(
    jobId: string,
    batch: number,
    nowMs: number,
  ): { deleted: { thingName: string; status: ExecutionStatus }[]; gone: boolean } {
    const row = this.s.job.get(jobId) as JobRow | undefined
    if (row === undefined || row.status !== 'DELETION_IN_PROGRESS')
      return { deleted: [], gone: row === undefined }
    this.events.purging(jobId, batch, nowMs)
    const deleted = (
      this.s.purgeExecutions.all(jobId, batch) as { thing_name: string; status: ExecutionStatus }[]
    ).map((r) => ({
      thingName: r.thing_name,
      status: r.status,
    }))
    for (const d of deleted) {
      this.counters.adjust(jobId, d.status, -1)
      if (d.status === 'QUEUED' || d.status === 'IN_PROGRESS')
        this.outbox.thing(d.thingName, row.namespace_id ?? '', true)
    }
    if (deleted.length < batch) {
      this.events.job(jobId, 'deleted', nowMs)
      this.s.deleteTargets.run(jobId)
      this.s.deleteRollout.run(jobId)
      this.s.deleteJob.run(jobId)
      this.specs.delete(jobId)
      return { deleted, gone: true }
    }
    return { deleted, gone: false }
  }
}

/** A job's target names as the JSON lists the statements take: distinct, in name order. */
export interface TargetLists {
  readonly things: string
  readonly groups: string
}

export function targetLists(targets: JobTargets): TargetLists {
  const list = (names: readonly string[]): string => JSON.stringify([...new Set(names)].sort())
  return { things: list(targets.thingNames), groups: list(targets.groupNames) }
}

/** The first kind of target that does not exist, with the missing names in name order. */
export function missingTargets(s: Statements, lists: TargetLists): MissingTargetNames | undefined {
  const names = (statement: Statement, list: string): string[] =>
    (statement.all(list) as { value: string }[]).map((r) => r.value)
  const things = names(s.missingThings, lists.things)
  if (things.length > 0) return { kind: 'thing', names: things }
  const groups = names(s.missingGroups, lists.groups)
  if (groups.length > 0) return { kind: 'group', names: groups }
  return undefined
}

/**
 * The job_targets rows of `arns`, with the kind and name parsed from each ARN, in one statement. In
 * ARN order, the order of the table's keys: the rows of one job then fill pages one after another.
 */
export function insertTargets(s: Statements, jobId: string, arns: readonly string[]): void {
  if (arns.length === 0) return
  const rows = [...new Set(arns)].sort().map((arn) => {
    const { kind, name } = targetOf(arn)
    return [arn, kind, name]
  })
  s.insertTargets.run({ jobId, targets: JSON.stringify(rows) })
}

function prepareJobStatements(db: Database.Database) {
  return {
    job: db.prepare('SELECT * FROM jobs WHERE job_id = ?'),
    deletingCount: db.prepare(`SELECT count(*) AS n FROM jobs WHERE status = 'DELETION_IN_PROGRESS'`),
    deletingJobs: db.prepare(`SELECT job_id FROM jobs WHERE status = 'DELETION_IN_PROGRESS' ORDER BY seq`),
    updateJob: db.prepare(
      `UPDATE jobs SET status = @status, force_canceled = @forceCanceled, reason_code = @reasonCode, comment = @comment,
         last_updated_at = @lastUpdatedAt, completed_at = @completedAt, rollout_started = @rolloutStarted,
         rollout_remaining = @rolloutRemaining, rollout_ended = @rolloutEnded, next_due_at = @nextDueAt
       WHERE job_id = @jobId`,
    ),
    dropRollout: db.prepare('DELETE FROM job_rollout_things WHERE job_id = ?'),
    cancelByStatus: db.prepare(
      `UPDATE job_executions SET status = 'CANCELED', version_number = version_number + 1, last_updated_at = @nowMs,
         force_canceled = CASE WHEN @forced = 1 THEN 1 ELSE force_canceled END,
         in_progress_deadline = NULL, step_deadline = NULL, deadline = NULL
       WHERE job_id = @jobId AND status = @status`,
    ),
    purgeExecutions: db.prepare(
      `DELETE FROM job_executions WHERE seq IN (SELECT seq FROM job_executions WHERE job_id = ? ORDER BY seq LIMIT ?)
       RETURNING thing_name, status`,
    ),
    deleteTargets: db.prepare('DELETE FROM job_targets WHERE job_id = ?'),
    deleteRollout: db.prepare('DELETE FROM job_rollout_things WHERE job_id = ?'),
    deleteJob: db.prepare('DELETE FROM jobs WHERE job_id = ?'),
  }
}
