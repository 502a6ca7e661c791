/**
 * Time-driven work in SQLite, run inside the store's write transactions: the deadline sweep, a job's
 * tick (scheduled start, endTime, rollout batch, maintenance window) and what follows executions that
 * end (abort, retries, completion). The rules are the domain's; this file holds the SQL that applies
 * them set-based. [spec: state-machines#4, #5, #6, #8, #10] [ARCHITECTURE: time is injected]
 */
import type Database from 'better-sqlite3'
import { decideAbort } from '../../domain/abort.js'
import { decideJobTick, nextJobDueMs } from '../../domain/job-schedule.js'
import { abortedJob } from '../../domain/job-lifecycle.js'
import type { Job } from '../../domain/records.js'
import { decideRetry } from '../../domain/retry.js'
import { isPaced, rolloutRate } from '../../domain/rollout.js'
import { decideJobCompletion } from '../../domain/state-machine.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { EventOutbox } from './events.js'
import type { CounterUpkeep } from './groups.js'
import type { JobLifecycle } from './job-lifecycle.js'
import type { Outbox } from './outbox.js'

/** An execution that just reached a terminal status, with what its retry needs. */
export interface EndedExecution {
  readonly thingName: string
  readonly status: ExecutionStatus
  readonly retryAttempt: number
  readonly timedOutRetries: number
}

interface DueRow {
  seq: number
  job_id: string
  thing_name: string
  retry_attempt: number
  timed_out_retries: number
}

/** Executions due at @nowMs, at most @batch, earliest deadline first. [spec: state-machines#4] */
const DUE = `SELECT seq FROM job_executions WHERE deadline IS NOT NULL AND deadline <= @nowMs
  ORDER BY deadline, seq LIMIT @batch`

export class SqliteTimeWork {
  private readonly s

  constructor(
    db: Database.Database,
    private readonly readJob: (jobId: string) => Job | undefined,
    private readonly counters: CounterUpkeep,
    private readonly outbox: Outbox,
    private readonly events: EventOutbox,
    private readonly lifecycle: JobLifecycle,
  ) {
    this.s = {
      nextDeadline: db.prepare('SELECT min(deadline) AS t FROM job_executions WHERE deadline IS NOT NULL'),
      // The due rows, earliest deadline first: the same subquery selects them for the events, the
      // outbox and the update of one batch (one writer, one transaction: they are the same rows).
      timeOut: db.prepare(
        `UPDATE job_executions SET status = 'TIMED_OUT', version_number = version_number + 1,
           last_updated_at = @nowMs, in_progress_deadline = NULL, step_deadline = NULL, deadline = NULL
         WHERE seq IN (${DUE})`,
      ),
      dueByJob: db.prepare(
        `SELECT job_id, count(*) AS n FROM job_executions WHERE seq IN (${DUE}) GROUP BY job_id ORDER BY job_id`,
      ),
      dueOfJob: db.prepare(
        `SELECT seq, job_id, thing_name, retry_attempt, timed_out_retries FROM job_executions
         WHERE seq IN (${DUE}) AND job_id = @jobId`,
      ),
      outboxOfDue: db.prepare(
        // No DISTINCT: a thing twice in a batch is merged by the dispatcher, and the sort would cost more.
        `INSERT INTO outbox (thing_name, namespace_id, set_changed)
         SELECT thing_name, namespace_id, 1 FROM job_executions WHERE seq IN (${DUE})`,
      ),
      // A new attempt per element of @list ({t: thing, a: retryAttempt, o: timedOutRetries}). [spec: state-machines#8]
      insertRetries: db.prepare(
        `INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at,
           last_updated_at, version_number, retry_attempt, timed_out_retries)
         SELECT @jobId, r.t,
           COALESCE((SELECT max(e.execution_number) FROM job_executions e WHERE e.job_id = @jobId AND e.thing_name = r.t), 0) + 1,
           'QUEUED', @namespaceId, @nowMs, @nowMs, 1, r.a, r.o
         FROM (SELECT json_extract(value, '$.t') AS t, json_extract(value, '$.a') AS a, json_extract(value, '$.o') AS o
               FROM json_each(@list)) r`,
      ),
      nextJobDue: db.prepare('SELECT min(next_due_at) AS t FROM jobs WHERE next_due_at IS NOT NULL'),
      dueJobs: db.prepare(
        'SELECT job_id FROM jobs WHERE next_due_at IS NOT NULL AND next_due_at <= ? ORDER BY next_due_at, job_id LIMIT ?',
      ),
      // The things a job's targets reach now, into its rollout list. [spec: state-machines#7]
      resolve: db.prepare(
        `WITH RECURSIVE tree(name) AS (
           SELECT target_name FROM job_targets WHERE job_id = @jobId AND target_kind = 'thinggroup'
           UNION SELECT c.group_name FROM thing_groups c JOIN tree ON c.parent_name = tree.name
         ),
         reached(name) AS (
           SELECT t.target_name FROM job_targets t JOIN things h ON h.thing_name = t.target_name
           WHERE t.job_id = @jobId AND t.target_kind = 'thing'
           UNION SELECT m.thing_name FROM thing_group_members m WHERE m.group_name IN (SELECT name FROM tree)
         )
         INSERT OR IGNORE INTO job_rollout_things (job_id, thing_name)
         SELECT @jobId, name FROM reached r
         WHERE NOT EXISTS (SELECT 1 FROM job_executions x WHERE x.job_id = @jobId AND x.thing_name = r.name)`,
      ),
      // Named things and groups (CreateJob, AssociateTargetsWithJob) into the rollout list.
      resolveNamed: db.prepare(
        `WITH RECURSIVE tree(name) AS (
           SELECT value FROM json_each(@groups)
           UNION SELECT c.group_name FROM thing_groups c JOIN tree ON c.parent_name = tree.name
         ),
         reached(name) AS (
           SELECT value FROM json_each(@things)
           UNION SELECT m.thing_name FROM thing_group_members m WHERE m.group_name IN (SELECT name FROM tree)
         )
         INSERT OR IGNORE INTO job_rollout_things (job_id, thing_name)
         SELECT @jobId, name FROM reached r
         WHERE NOT EXISTS (SELECT 1 FROM job_executions x WHERE x.job_id = @jobId AND x.thing_name = r.name)`,
      ),
      remaining: db.prepare('SELECT count(*) AS n FROM job_rollout_things WHERE job_id = ?'),
      nthThing: db.prepare(
        'SELECT thing_name FROM job_rollout_things WHERE job_id = ? ORDER BY thing_name LIMIT 1 OFFSET ?',
      ),
      lastThing: db.prepare(
        'SELECT thing_name FROM job_rollout_things WHERE job_id = ? ORDER BY thing_name DESC LIMIT 1',
      ),
      // A rollout batch: the listed things up to @last that still exist and have no execution of the job.
      queueThrough: db.prepare(
        `INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at,
           last_updated_at, version_number)
         SELECT @jobId, r.thing_name, 1, 'QUEUED', @namespaceId, @nowMs, @nowMs, 1
         FROM job_rollout_things r
         WHERE r.job_id = @jobId AND r.thing_name <= @last
           AND EXISTS (SELECT 1 FROM things t WHERE t.thing_name = r.thing_name)
           AND NOT EXISTS (SELECT 1 FROM job_executions x WHERE x.job_id = @jobId AND x.thing_name = r.thing_name)
         ORDER BY r.thing_name`,
      ),
      dropThrough: db.prepare('DELETE FROM job_rollout_things WHERE job_id = ? AND thing_name <= ?'),
      dropAllThings: db.prepare('DELETE FROM job_rollout_things WHERE job_id = ?'),
      writeRollout: db.prepare(
        `UPDATE jobs SET status = @status, last_updated_at = @lastUpdatedAt, force_canceled = @forceCanceled,
           reason_code = @reasonCode, comment = @comment, rollout_started = @rolloutStarted,
           rollout_remaining = @rolloutRemaining, rollout_notified = @rolloutNotified,
           rollout_last_batch_at = @rolloutLastBatchAt, rollout_ended = @rolloutEnded, next_due_at = @nextDueAt
         WHERE job_id = @jobId`,
      ),
      completeJob: db.prepare(
        'UPDATE jobs SET status = ?, completed_at = ?, last_updated_at = ?, next_due_at = NULL WHERE job_id = ?',
      ),
    }
  }

  nextDeadlineMs(): number | undefined {
    return (this.s.nextDeadline.get() as { t: number | null }).t ?? undefined
  }

  nextJobDueMs(): number | undefined {
    return (this.s.nextJobDue.get() as { t: number | null }).t ?? undefined
  }

  dueJobs(nowMs: number, batch: number): string[] {
    return (this.s.dueJobs.all(nowMs, batch) as { job_id: string }[]).map((r) => r.job_id)
  }

  /** Inside a transaction: one batch of the deadline sweep. [spec: state-machines#4] */
  timeOutDue(nowMs: number, batch: number): number {
    const params = { nowMs, batch }
    // Everything is read from the due rows before they change: how many per job, and, for a job that
    // may retry, who they are. (An UPDATE … RETURNING of the rows instead doubled the sweep's time.)
    const perJob = this.s.dueByJob.all(params) as { job_id: string; n: number }[]
    if (perJob.length === 0) return 0
    const jobs = perJob.map(({ job_id, n }) => {
      const job = this.readJob(job_id)
      const mayRetry =
        job !== undefined && job.status === 'IN_PROGRESS' && job.jobExecutionsRetryConfig !== undefined
      const ended = mayRetry ? (this.s.dueOfJob.all({ ...params, jobId: job_id }) as DueRow[]) : []
      return { jobId: job_id, n, ended }
    })
    // Events and notifications from the rows as they are about to change (the event names the status
    // reached), then the update itself.
    this.events.dueTimingOut(DUE, params)
    this.outbox.enabledRun(() => this.s.outboxOfDue.run(params))
    const changed = this.s.timeOut.run(params).changes
    for (const { jobId, n, ended } of jobs) {
      this.counters.adjust(jobId, 'IN_PROGRESS', -n)
      this.counters.adjust(jobId, 'TIMED_OUT', n)
      const job = this.readJob(jobId)
      if (job === undefined) continue
      this.afterEnded(
        job,
        ended.map((r) => ({
          thingName: r.thing_name,
          status: 'TIMED_OUT',
          retryAttempt: r.retry_attempt,
          timedOutRetries: r.timed_out_retries,
        })),
        nowMs,
      )
    }
    return changed
  }

  /**
   * Inside a transaction, after executions of `job` reached terminal statuses (its counters already
   * moved): the abort criteria, then retries (none once aborted), then the completion rule.
   * Returns the job as it then stands. [spec: state-machines#6, #8, #10]
   */
  afterEnded(job: Job, ended: readonly EndedExecution[], nowMs: number): Job {
    const verdict = decideAbort(job)
    if (verdict !== undefined) {
      const aborted = this.lifecycle.mutate(job.jobId, ({ job: current }) => ({
        kind: 'write',
        next: { ...abortedJob(current, verdict), lastUpdatedAtMs: nowMs },
        cancelExecutions: { force: false },
      }))
      return aborted ?? job
    }
    const retries = ended.flatMap((e) => {
      const attempt = decideRetry(job, e)
      return attempt === undefined
        ? []
        : [{ t: e.thingName, a: attempt.retryAttempt, o: attempt.timedOutRetries }]
    })
    let current = job
    if (retries.length > 0) {
      this.s.insertRetries.run({
        jobId: job.jobId,
        namespaceId: job.namespaceId ?? '',
        nowMs,
        list: JSON.stringify(retries),
      })
      this.counters.adjust(job.jobId, 'QUEUED', retries.length)
      for (const r of retries) this.outbox.thing(r.t, job.namespaceId ?? '', true)
      current = { ...job, counts: { ...job.counts, QUEUED: job.counts.QUEUED + retries.length } }
    }
    return this.completeIfDone(current, nowMs)
  }

  /** Applies the SNAPSHOT completion rule to the job as it stands. [spec: state-machines#10] */
  completeIfDone(job: Job, nowMs: number): Job {
    const completed = decideJobCompletion(job, nowMs)
    if (completed === undefined) return job
    this.s.completeJob.run(
      completed.status,
      completed.completedAtMs ?? null,
      completed.lastUpdatedAtMs,
      job.jobId,
    )
    // [spec: jobs-device-api#5.1] [spec: state-machines#10]
    this.events.job(job.jobId, 'completed', nowMs)
    const { nextDueAtMs: _due, ...rest } = completed
    return rest
  }

  /**
   * Inside a transaction, for a job just created IN_PROGRESS with a paced rollout, or given new
   * targets: records the things the named targets reach (that have no execution yet) in its rollout
   * list. Returns the job with its new `remaining`.
   */
  enlist(job: Job, things: string, groups: string): Job {
    this.s.resolveNamed.run({ jobId: job.jobId, things, groups })
    return { ...job, rollout: { ...job.rollout, remaining: this.remaining(job.jobId) } }
  }

  private remaining(jobId: string): number {
    return (this.s.remaining.get(jobId) as { n: number }).n
  }

  /**
   * Inside a transaction: creates up to `batch` executions from the job's rollout list, in thing-name
   * order, skipping things deleted since (or given an execution by a CONTINUOUS membership change).
   * Returns the job with its rollout moved on. [spec: state-machines#5]
   */
  createBatch(job: Job, batch: number, nowMs: number): Job {
    let created = 0
    let left = job.rollout.remaining
    const mark = this.outbox.mark()
    const params = { jobId: job.jobId, namespaceId: job.namespaceId ?? '', nowMs }
    // Straight from the list: the first `batch` names (up to `last`) become executions and leave it.
    while (created < batch && left > 0) {
      const wanted = batch - created
      // The name that ends the batch: the wanted-th on the list, or the last when fewer are left.
      const nth = Number.isFinite(wanted)
        ? (this.s.nthThing.get(job.jobId, wanted - 1) as { thing_name: string } | undefined)
        : undefined
      const bound =
        nth?.thing_name ?? (this.s.lastThing.get(job.jobId) as { thing_name: string } | undefined)?.thing_name
      if (bound === undefined) break
      created += this.s.queueThrough.run({ ...params, last: bound }).changes
      left -= this.s.dropThrough.run(job.jobId, bound).changes
    }
    this.counters.adjust(job.jobId, 'QUEUED', created)
    this.outbox.createdSince(job.jobId, mark)
    return {
      ...job,
      counts: { ...job.counts, QUEUED: job.counts.QUEUED + created },
      rollout: {
        ...job.rollout,
        remaining: Math.max(0, left),
        notified: job.rollout.notified + created,
        lastBatchAtMs: nowMs,
      },
    }
  }

  /** Inside a transaction: the rollout stops for good (cancel, abort, deletion, endTime). */
  stopRollout(jobId: string): void {
    this.s.dropAllThings.run(jobId)
  }

  /** Writes the job's status, reason and time-driven columns, with its next due instant computed. */
  write(job: Job, nowMs: number): Job {
    const next = nextJobDueMs(job, nowMs)
    const { nextDueAtMs: _old, ...rest } = job
    const stored: Job = next === undefined ? rest : { ...rest, nextDueAtMs: next }
    this.s.writeRollout.run({
      jobId: job.jobId,
      status: stored.status,
      lastUpdatedAt: stored.lastUpdatedAtMs,
      forceCanceled: stored.forceCanceled ? 1 : 0,
      reasonCode: stored.reasonCode ?? null,
      comment: stored.comment ?? null,
      rolloutStarted: stored.rollout.started ? 1 : 0,
      rolloutRemaining: stored.rollout.remaining,
      rolloutNotified: stored.rollout.notified,
      rolloutLastBatchAt: stored.rollout.lastBatchAtMs ?? null,
      rolloutEnded: stored.rollout.ended ? 1 : 0,
      nextDueAt: next ?? null,
    })
    return stored
  }

  /**
   * Inside a transaction: the first batch of a job created IN_PROGRESS with a paced rollout (its
   * things already enlisted), or nothing for an unpaced one; then its next due instant.
   */
  startCreated(job: Job, nowMs: number): Job {
    const started = isPaced(job) ? this.createBatch(job, rolloutRate(job), nowMs) : job
    return this.completeIfDone(this.write(started, nowMs), nowMs)
  }

  /** Inside a transaction: the job's tick, if it is due at `nowMs`. [spec: state-machines#1, #5] */
  tick(jobId: string, nowMs: number): void {
    // A tick that leaves the job due again at the same instant (a window boundary, a start that
    // resolves and then paces) runs again, a bounded number of times.
    for (let round = 0; round < 3; round += 1) {
      const job = this.readJob(jobId)
      if (job?.nextDueAtMs === undefined || job.nextDueAtMs > nowMs) return
      const tick = decideJobTick(job, nowMs)
      if (tick.cancelExecutions !== undefined) {
        // endBehavior CANCEL / FORCE_CANCEL: as CancelJob (events, executions, rollout stopped).
        this.lifecycle.mutate(jobId, () => ({
          kind: 'write',
          next: tick.next,
          cancelExecutions: tick.cancelExecutions ?? { force: false },
        }))
        return
      }
      let next = tick.next
      if (tick.stopRollout) {
        this.stopRollout(jobId)
        next = { ...next, rollout: { ...next.rollout, remaining: 0 } }
      }
      if (tick.resolveTargets) {
        this.s.resolve.run({ jobId })
        next = { ...next, rollout: { ...next.rollout, remaining: this.remaining(jobId) } }
      }
      if (tick.batch > 0 && next.rollout.remaining > 0) next = this.createBatch(next, tick.batch, nowMs)
      const written = this.write(next, nowMs)
      const done = this.completeIfDone(written, nowMs)
      if (done.nextDueAtMs === undefined || done.nextDueAtMs > nowMs) return
    }
  }
}
