/**
 * Time-driven work in PostgreSQL: the deadline sweep, a job's tick (scheduled start, endTime, rollout
 * batch, maintenance window) and what follows executions that end (abort, retries, completion) — the
 * SQLite store's rules (storage/sqlite/time-work.ts), each inside the caller's transaction.
 * [spec: state-machines#4, #5, #6, #8, #10] [ARCHITECTURE: time is injected]
 *
 * Locks, in the store's order (thing → executions → job):
 * - The sweep locks the due executions with `FOR UPDATE SKIP LOCKED` (one a device is updating right
 *   now is left for the next pass, and two sweeps never wait for each other), then, for the jobs whose
 *   abort criteria the change will likely meet, their QUEUED executions, then the job rows in job-id
 *   order (the counter moves).
 * - A tick whose answer cancels executions (endBehavior CANCEL, FORCE_CANCEL) goes through the job
 *   lifecycle's `mutate`, which locks the executions, then the job row, as CancelJob does. Any other
 *   tick locks the job row first and then only inserts executions and writes rows no one else locks
 *   (job_rollout_things, the job row): a device's update (its execution, then the job row) or a
 *   CancelJob (the QUEUED executions, then the job row) waits for it and never holds anything it
 *   waits for. A CancelJob that waited then finds the job row changed and decides again, so it also
 *   cancels the batch the tick created.
 * - An abort found after the job row is locked (the counters moved first) locks the QUEUED executions
 *   after the job row; the likely cases lock them beforehand (`lockQueuedIfAborting`), and a deadlock
 *   in the rare others is detected by PostgreSQL and the transaction runs again (db.ts).
 */
import { decideAbort } from '../../domain/abort.js'
import { decideJobTick, nextJobDueMs } from '../../domain/job-schedule.js'
import { abortedJob } from '../../domain/job-lifecycle.js'
import type { Job } from '../../domain/records.js'
import { decideRetry } from '../../domain/retry.js'
import { isPaced, rolloutRate } from '../../domain/rollout.js'
import { decideJobCompletion } from '../../domain/state-machine.js'
import type { JobRow } from '../rows.js'
import { rolloutColumns } from '../rows.js'
import type { Sql } from './db.js'
import { LostRace } from './db.js'
import type { PgEvents } from './events.js'
import type { PgJobLifecycle } from './job-lifecycle.js'
import type { PgJobSpecs } from './job-specs.js'
import type { PgOutbox } from './outbox.js'
import type { EndedExecution, PgCounters } from './parts.js'

interface TimedOutRow {
  seq: number
  job_id: string
  thing_name: string
  retry_attempt: number
  timed_out_retries: number
}

/**
 * Inserts into a job's rollout list ($1) the things `reached(name)` yields that have no execution of
 * the job yet; resolves how many things the list then holds (the statement's snapshot does not see its
 * own inserts, so the count before plus the rows inserted).
 */
const ENLIST_TAIL = `, ins AS (
    INSERT INTO job_rollout_things (job_id, thing_name)
    SELECT $1, r.name FROM reached r
    WHERE NOT EXISTS (SELECT 1 FROM job_executions x WHERE x.job_id = $1 AND x.thing_name = r.name)
    ON CONFLICT DO NOTHING
    RETURNING thing_name
  )
  SELECT ((SELECT count(*) FROM job_rollout_things WHERE job_id = $1) + (SELECT count(*) FROM ins))::bigint AS n`

/** The named things ($2) and every thing in the named groups ($3) and their descendants. */
const ENLIST_NAMED = `WITH RECURSIVE tree(name) AS (
    SELECT unnest($3::text[]) COLLATE "C"
    UNION SELECT c.group_name FROM thing_groups c JOIN tree ON c.parent_name = tree.name
  ),
  reached(name) AS (
    SELECT unnest($2::text[]) COLLATE "C"
    UNION SELECT m.thing_name FROM thing_group_members m WHERE m.group_name IN (SELECT name FROM tree)
  )${ENLIST_TAIL}`

/** The things the job's stored targets reach now (existing things, and the groups' members). [spec: state-machines#7] */
const ENLIST_TARGETS = `WITH RECURSIVE tree(name) AS (
    SELECT target_name FROM job_targets WHERE job_id = $1 AND target_kind = 'thinggroup'
    UNION SELECT c.group_name FROM thing_groups c JOIN tree ON c.parent_name = tree.name
  ),
  reached(name) AS (
    SELECT t.target_name FROM job_targets t JOIN things h ON h.thing_name = t.target_name
    WHERE t.job_id = $1 AND t.target_kind = 'thing'
    UNION SELECT m.thing_name FROM thing_group_members m WHERE m.group_name IN (SELECT name FROM tree)
  )${ENLIST_TAIL}`

const isDue = (job: Job | undefined, nowMs: number): job is Job =>
  job?.nextDueAtMs !== undefined && job.nextDueAtMs <= nowMs

export class PgTimeWork {
  constructor(
    private readonly specs: PgJobSpecs,
    private readonly counters: Pick<PgCounters, 'adjust'>,
    private readonly outbox: PgOutbox,
    private readonly events: PgEvents,
    private readonly lifecycle: PgJobLifecycle,
  ) {}

  async nextDeadlineMs(sql: Sql): Promise<number | undefined> {
    const { rows } = await sql.query<{ t: number | null }>(
      'SELECT min(deadline) AS t FROM job_executions WHERE deadline IS NOT NULL',
    )
    return rows[0]?.t ?? undefined
  }

  async nextJobDueMs(sql: Sql): Promise<number | undefined> {
    const { rows } = await sql.query<{ t: number | null }>(
      'SELECT min(next_due_at) AS t FROM jobs WHERE next_due_at IS NOT NULL',
    )
    return rows[0]?.t ?? undefined
  }

  /** Up to `batch` jobs due at `nowMs`, earliest first (read without locks; each tick checks again). */
  async dueJobs(sql: Sql, nowMs: number, batch: number): Promise<string[]> {
    const { rows } = await sql.query<{ job_id: string }>(
      `SELECT job_id FROM jobs WHERE next_due_at IS NOT NULL AND next_due_at <= $1
       ORDER BY next_due_at, job_id LIMIT $2`,
      [nowMs, batch],
    )
    return rows.map((r) => r.job_id)
  }

  /**
   * Inside a transaction: one batch of the deadline sweep. The due executions are locked, re-checked
   * (IN_PROGRESS, still due) and moved to TIMED_OUT with their outbox rows in one statement: the
   * service's move, decideTimeout's write, set-based. [spec: state-machines#4]
   */
  async timeOutDue(sql: Sql, nowMs: number, batch: number): Promise<number> {
    const { rows: due } = await sql.query<TimedOutRow>(
      // The due rows as an array: the UPDATE then finds them by primary key (joined as a CTE, the
      // planner may hash the whole table).
      `WITH ins AS (
         UPDATE job_executions e SET status = 'TIMED_OUT', version_number = e.version_number + 1,
           last_updated_at = $1, in_progress_deadline = NULL, step_deadline = NULL, deadline = NULL
         WHERE e.seq = ANY(ARRAY(
           SELECT seq FROM job_executions
           WHERE deadline IS NOT NULL AND deadline <= $1 AND status = 'IN_PROGRESS'
           ORDER BY deadline, seq LIMIT $2
           FOR UPDATE SKIP LOCKED))
         RETURNING e.seq, e.job_id, e.thing_name, e.namespace_id, e.retry_attempt, e.timed_out_retries
       )${this.outbox.createdCte()}
       SELECT seq, job_id, thing_name, retry_attempt, timed_out_retries FROM ins ORDER BY seq`,
      [nowMs, batch],
    )
    if (due.length === 0) return 0
    await this.events.reachedMany(
      sql,
      due.map((r) => r.seq),
      nowMs,
    )
    const byJob = new Map<string, TimedOutRow[]>()
    for (const r of due) {
      const rows = byJob.get(r.job_id)
      if (rows === undefined) byJob.set(r.job_id, [r])
      else rows.push(r)
    }
    // Job rows in one order, as DeleteThing takes them.
    const jobIds = [...byJob.keys()].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
    await this.lockQueuedIfAborting(
      sql,
      await this.projected(sql, jobIds, (job) => {
        const n = byJob.get(job.jobId)?.length ?? 0
        return {
          ...job,
          counts: {
            ...job.counts,
            IN_PROGRESS: job.counts.IN_PROGRESS - n,
            TIMED_OUT: job.counts.TIMED_OUT + n,
          },
        }
      }),
    )
    for (const jobId of jobIds) {
      const rows = byJob.get(jobId) ?? []
      const { rows: jobRows } = await sql.query<JobRow>(
        `UPDATE jobs SET n_in_progress = n_in_progress - $2, n_timed_out = n_timed_out + $2
         WHERE job_id = $1 RETURNING *`,
        [jobId, rows.length],
      )
      const jobRow = jobRows[0]
      if (jobRow === undefined) continue
      await this.afterEnded(
        sql,
        await this.specs.job(sql, jobRow),
        rows.map((r) => ({
          thingName: r.thing_name,
          status: 'TIMED_OUT',
          retryAttempt: r.retry_attempt,
          timedOutRetries: r.timed_out_retries,
        })),
        nowMs,
      )
    }
    return due.length
  }

  /** The jobs `jobIds` as read now (no lock), each as `change` would leave it. */
  private async projected(sql: Sql, jobIds: readonly string[], change: (job: Job) => Job): Promise<Job[]> {
    const { rows } = await sql.query<JobRow>('SELECT * FROM jobs WHERE job_id = ANY($1::text[])', [jobIds])
    return (await this.specs.jobs(sql, rows)).map(change)
  }

  /**
   * Before the job rows are locked: the QUEUED executions of the jobs among `projected` (each as the
   * change under way will leave it, from counters read without a lock) whose abort criteria it meets,
   * in one order. The abort then finds them locked already, instead of locking them after the job row,
   * where it could deadlock with a device starting one of them. [spec: state-machines#6]
   */
  async lockQueuedIfAborting(sql: Sql, projected: readonly Job[]): Promise<void> {
    const aborting = projected.filter((job) => decideAbort(job) !== undefined).map((job) => job.jobId)
    if (aborting.length > 0)
      await sql.query(
        `SELECT seq FROM job_executions WHERE job_id = ANY($1::text[]) AND status = 'QUEUED'
         ORDER BY seq FOR UPDATE`,
        [aborting],
      )
  }

  /**
   * Inside a transaction, after executions of `job` reached terminal statuses (its counters already
   * moved, its row locked): the abort criteria, then retries (none once aborted), then the completion
   * rule. Returns the job as it then stands. [spec: state-machines#6, #8, #10]
   */
  async afterEnded(sql: Sql, job: Job, ended: readonly EndedExecution[], nowMs: number): Promise<Job> {
    const verdict = decideAbort(job)
    if (verdict !== undefined) {
      // As CancelJob without force, in this transaction. [spec: state-machines#6]
      const aborted = await this.lifecycle.mutate(sql, job.jobId, ({ job: current }) => ({
        kind: 'write',
        next: { ...abortedJob(current, verdict), lastUpdatedAtMs: nowMs },
        cancelExecutions: { force: false },
      }))
      return aborted ?? job
    }
    const retries = ended.flatMap((e) => {
      const attempt = decideRetry(job, e)
      return attempt === undefined ? [] : [{ thingName: e.thingName, ...attempt }]
    })
    let current = job
    if (retries.length > 0) {
      // A new attempt per thing: the next executionNumber, QUEUED. [spec: state-machines#8]
      const { rows } = await sql.query<{ n: number }>(
        `WITH ins AS (
           INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at,
             last_updated_at, version_number, retry_attempt, timed_out_retries)
           SELECT $1, r.t,
             COALESCE((SELECT max(e.execution_number) FROM job_executions e
                       WHERE e.job_id = $1 AND e.thing_name = r.t), 0) + 1,
             'QUEUED', $2, $3, $3, 1, r.a, r.o
           FROM unnest($4::text[], $5::bigint[], $6::bigint[]) AS r(t, a, o)
           ORDER BY r.t COLLATE "C"
           RETURNING thing_name, namespace_id
         )${this.outbox.createdCte()}
         SELECT count(*)::bigint AS n FROM ins`,
        [
          job.jobId,
          job.namespaceId ?? '',
          nowMs,
          retries.map((r) => r.thingName),
          retries.map((r) => r.retryAttempt),
          retries.map((r) => r.timedOutRetries),
        ],
      )
      const created = rows[0]?.n ?? 0
      await this.counters.adjust(sql, job.jobId, 'QUEUED', created)
      current = { ...job, counts: { ...job.counts, QUEUED: job.counts.QUEUED + created } }
    }
    return this.completeIfDone(sql, current, nowMs)
  }

  /** Applies the SNAPSHOT completion rule to the job as it stands (its row locked). [spec: state-machines#10] */
  async completeIfDone(sql: Sql, job: Job, nowMs: number): Promise<Job> {
    const completed = decideJobCompletion(job, nowMs)
    if (completed === undefined) return job
    await sql.query(
      'UPDATE jobs SET status = $1, completed_at = $2, last_updated_at = $3, next_due_at = NULL WHERE job_id = $4',
      [completed.status, completed.completedAtMs ?? null, completed.lastUpdatedAtMs, job.jobId],
    )
    // [spec: jobs-device-api#5.1] [spec: state-machines#10]
    await this.events.job(sql, job.jobId, 'completed', nowMs)
    const { nextDueAtMs: _due, ...rest } = completed
    return rest
  }

  /**
   * Inside a transaction, for a job just created IN_PROGRESS with a paced rollout, or given new
   * targets: records the things the named targets reach (that have no execution yet) in its rollout
   * list. Returns the job with its new `remaining`.
   */
  async enlist(
    sql: Sql,
    job: Job,
    thingNames: readonly string[],
    groupNames: readonly string[],
  ): Promise<Job> {
    const { rows } = await sql.query<{ n: number }>(ENLIST_NAMED, [
      job.jobId,
      [...new Set(thingNames)],
      [...new Set(groupNames)],
    ])
    return { ...job, rollout: { ...job.rollout, remaining: rows[0]?.n ?? 0 } }
  }

  /**
   * Inside a transaction, the job row locked: creates up to `batch` executions from the job's rollout
   * list, in thing-name order, skipping things deleted since (or given an execution by a CONTINUOUS
   * membership change). Each round takes the next names off the list and queues those that qualify,
   * with their outbox rows, in one statement. Returns the job with its rollout moved on.
   * [spec: state-machines#5]
   */
  async createBatch(sql: Sql, job: Job, batch: number, nowMs: number): Promise<Job> {
    let created = 0
    let left = job.rollout.remaining
    while (created < batch && left > 0) {
      const want = Number.isFinite(batch) ? batch - created : null
      const { rows } = await sql.query<{ picked: number; created: number }>(
        `WITH picked AS (
           DELETE FROM job_rollout_things p
           WHERE p.job_id = $1 AND p.thing_name = ANY(ARRAY(
             SELECT thing_name FROM job_rollout_things WHERE job_id = $1 ORDER BY thing_name LIMIT $4::bigint))
           RETURNING p.thing_name
         ), ins AS (
           INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at,
             last_updated_at, version_number)
           SELECT $1, p.thing_name, 1, 'QUEUED', $2, $3, $3, 1 FROM picked p
           WHERE EXISTS (SELECT 1 FROM things h WHERE h.thing_name = p.thing_name)
             AND NOT EXISTS (SELECT 1 FROM job_executions x WHERE x.job_id = $1 AND x.thing_name = p.thing_name)
           ORDER BY p.thing_name
           RETURNING thing_name, namespace_id
         )${this.outbox.createdCte()}
         SELECT (SELECT count(*) FROM picked)::bigint AS picked, (SELECT count(*) FROM ins)::bigint AS created`,
        [job.jobId, job.namespaceId ?? '', nowMs, want],
      )
      const r = rows[0] ?? { picked: 0, created: 0 }
      created += r.created
      if (r.picked === 0) break
      left -= r.picked
    }
    // No recount: the job row is locked, so nothing else takes names off its list meanwhile (a
    // membership change that drops one waits for that lock), and a count would scan the dead rows the
    // batches leave behind.
    left = Math.max(0, left)
    await this.counters.adjust(sql, job.jobId, 'QUEUED', created)
    return {
      ...job,
      counts: { ...job.counts, QUEUED: job.counts.QUEUED + created },
      rollout: {
        ...job.rollout,
        remaining: left,
        notified: job.rollout.notified + created,
        lastBatchAtMs: nowMs,
      },
    }
  }

  private async remaining(sql: Sql, jobId: string): Promise<number> {
    const { rows } = await sql.query<{ n: number }>(
      'SELECT count(*)::bigint AS n FROM job_rollout_things WHERE job_id = $1',
      [jobId],
    )
    return rows[0]?.n ?? 0
  }

  /** Inside a transaction: the rollout stops for good (cancel, abort, deletion, endTime). */
  async stopRollout(sql: Sql, jobId: string): Promise<void> {
    await sql.query('DELETE FROM job_rollout_things WHERE job_id = $1', [jobId])
  }

  /** Writes the job's status, reason and time-driven columns, with its next due instant computed. */
  async write(sql: Sql, job: Job, nowMs: number): Promise<Job> {
    const next = nextJobDueMs(job, nowMs)
    const { nextDueAtMs: _old, ...rest } = job
    const stored: Job = next === undefined ? rest : { ...rest, nextDueAtMs: next }
    const c = rolloutColumns(stored)
    await sql.query(
      `UPDATE jobs SET status = $2, last_updated_at = $3, force_canceled = $4, reason_code = $5, comment = $6,
         rollout_started = $7, rollout_remaining = $8, rollout_notified = $9, rollout_last_batch_at = $10,
         rollout_ended = $11, next_due_at = $12
       WHERE job_id = $1`,
      [
        stored.jobId,
        stored.status,
        stored.lastUpdatedAtMs,
        stored.forceCanceled ? 1 : 0,
        stored.reasonCode ?? null,
        stored.comment ?? null,
        c.rolloutStarted,
        c.rolloutRemaining,
        c.rolloutNotified,
        c.rolloutLastBatchAt,
        c.rolloutEnded,
        c.nextDueAt,
      ],
    )
    return stored
  }

  /**
   * Inside a transaction: the first batch of a job created IN_PROGRESS with a paced rollout (its
   * things already enlisted), or nothing for an unpaced one; then its next due instant and the
   * completion rule.
   */
  async startCreated(sql: Sql, job: Job, nowMs: number): Promise<Job> {
    const started = isPaced(job) ? await this.createBatch(sql, job, rolloutRate(job), nowMs) : job
    return this.completeIfDone(sql, await this.write(sql, started, nowMs), nowMs)
  }

  /**
   * Inside a transaction of its own: the job's tick, if it is due at `nowMs` (another node, or an
   * earlier pass, may have done it: then nothing). [spec: state-machines#1, #5]
   */
  async tick(sql: Sql, jobId: string, nowMs: number): Promise<void> {
    // A tick that leaves the job due again at the same instant (a window boundary, a start that
    // resolves and then paces) runs again, a bounded number of times.
    for (let round = 0; round < 3; round += 1) {
      const seen = await this.specs.read(sql, jobId)
      if (!isDue(seen, nowMs)) return
      if (decideJobTick(seen, nowMs).cancelExecutions !== undefined) {
        // endBehavior CANCEL / FORCE_CANCEL: as CancelJob (events, executions, rollout stopped), with
        // CancelJob's locks: the executions, then the job row. Decided again on the job `mutate` read.
        await this.lifecycle.mutate(sql, jobId, ({ job }) => {
          const tick = decideJobTick(job, nowMs)
          if (!isDue(job, nowMs) || tick.cancelExecutions === undefined)
            throw new LostRace(`job ${jobId} changed while its tick was decided`)
          return { kind: 'write', next: tick.next, cancelExecutions: tick.cancelExecutions }
        })
        return
      }
      const row = (await sql.query<JobRow>('SELECT * FROM jobs WHERE job_id = $1 FOR UPDATE', [jobId]))
        .rows[0]
      const job = row === undefined ? undefined : await this.specs.job(sql, row)
      if (!isDue(job, nowMs)) return
      const tick = decideJobTick(job, nowMs)
      // Changed between the read and the lock so that it now cancels: start again with CancelJob's locks.
      if (tick.cancelExecutions !== undefined)
        throw new LostRace(`job ${jobId} changed while its tick was decided`)
      let next = tick.next
      if (tick.stopRollout) {
        await this.stopRollout(sql, jobId)
        next = { ...next, rollout: { ...next.rollout, remaining: 0 } }
      }
      if (tick.resolveTargets) {
        const { rows } = await sql.query<{ n: number }>(ENLIST_TARGETS, [jobId])
        next = { ...next, rollout: { ...next.rollout, remaining: rows[0]?.n ?? 0 } }
      }
      if (tick.batch > 0 && next.rollout.remaining > 0)
        next = await this.createBatch(sql, next, tick.batch, nowMs)
      const written = await this.write(sql, next, nowMs)
      const done = await this.completeIfDone(sql, written, nowMs)
      if (!isDue(done, nowMs)) return
    }
  }
}
