/**
 * Job-level writes in PostgreSQL: UpdateJob, CancelJob (executions canceled set-based, counters kept),
 * AssociateTargetsWithJob and DeleteJob (DELETION_IN_PROGRESS, then executions purged in batches, then
 * the job) — the SQLite store's rules (storage/sqlite/job-lifecycle.ts), each inside the caller's
 * transaction. Executions are locked before the job row, as everywhere in this store. A job that stops
 * being IN_PROGRESS or SCHEDULED loses its rollout list and its next due instant; otherwise the instant
 * is computed again from the new settings (time-work.ts).
 */
import type { JobDecision, JobFacts } from '../../domain/job-lifecycle.js'
import { nextJobDueMs } from '../../domain/job-schedule.js'
import { isPaced } from '../../domain/rollout.js'
import type { Job } from '../../domain/records.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { MissingTargetNames } from '../../ports/store.js'
import type { JobRow } from '../rows.js'
import { targetOf } from '../rows.js'
import type { Sql } from './db.js'
import { LostRace } from './db.js'
import type { PgEvents } from './events.js'
import type { PgJobSpecs } from './job-specs.js'
import type { PgOutbox } from './outbox.js'
import type { PgCounters } from './parts.js'
import { JOB_DECISION_COLUMNS } from './parts.js'

/**
 * Set-based fan-out of QUEUED executions to the named things and every thing in the named groups and
 * their descendants, in thing-name order, skipping things that already have an execution of the job;
 * `ins` holds the rows inserted. $1 job, $2 namespace, $3 time, $4 thing names, $5 group names.
 * [spec: state-machines#5]
 */
export function fanOutSql(outbox: PgOutbox): string {
  return `WITH RECURSIVE tree(name) AS (
      SELECT unnest($5::text[]) COLLATE "C"
      UNION SELECT c.group_name FROM thing_groups c JOIN tree ON c.parent_name = tree.name
    ),
    targets(name) AS (
      SELECT unnest($4::text[]) COLLATE "C"
      UNION SELECT m.thing_name FROM thing_group_members m WHERE m.group_name IN (SELECT name FROM tree)
    ),
    ins AS (
      INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at,
        last_updated_at, version_number)
      SELECT $1, t.name, 1, 'QUEUED', $2, $3, $3, 1
      FROM targets t
      WHERE NOT EXISTS (SELECT 1 FROM job_executions x WHERE x.job_id = $1 AND x.thing_name = t.name)
      ORDER BY t.name COLLATE "C"
      RETURNING thing_name, namespace_id
    )${outbox.createdCte()}
    SELECT count(*)::bigint AS n FROM ins`
}

export class PgJobLifecycle {
  constructor(
    private readonly counters: PgCounters,
    private readonly outbox: PgOutbox,
    private readonly specs: PgJobSpecs,
    private readonly events: PgEvents,
  ) {}

  /** Runs inside a transaction. Undefined when the job does not exist. */
  async mutate(sql: Sql, jobId: string, decide: (facts: JobFacts) => JobDecision): Promise<Job | undefined> {
    const row = (await sql.query<JobRow>('SELECT * FROM jobs WHERE job_id = $1', [jobId])).rows[0]
    if (row === undefined) return undefined
    const job = await this.specs.job(sql, row)
    const deleting = (
      await sql.query<{ n: number }>(
        `SELECT count(*)::bigint AS n FROM jobs WHERE status = 'DELETION_IN_PROGRESS'`,
      )
    ).rows[0]!.n
    const decision = decide({ job, deleting })
    if (decision.kind === 'reject') throw decision.error
    // Lock order: the executions to cancel, then the job row (as a device's update does), then check
    // that the job is still what `decide` saw; if another change came first, decide again.
    if (decision.cancelExecutions !== undefined)
      await sql.query(
        'SELECT seq FROM job_executions WHERE job_id = $1 AND status = ANY($2::text[]) ORDER BY seq FOR UPDATE',
        [jobId, decision.cancelExecutions.force ? ['QUEUED', 'IN_PROGRESS'] : ['QUEUED']],
      )
    await lockUnchanged(sql, row)
    const n = decision.next
    // [spec: state-machines#5] rollout stops for good on cancel, abort and deletion; otherwise new
    // rollout or scheduling settings may move the job's next due instant.
    const live = n.status === 'IN_PROGRESS' || n.status === 'SCHEDULED'
    if (!live) await sql.query('DELETE FROM job_rollout_things WHERE job_id = $1', [jobId])
    const nextDue = live ? nextJobDueMs(n, n.lastUpdatedAtMs) : undefined
    await sql.query(
      `UPDATE jobs SET status = $2, force_canceled = $3, reason_code = $4, comment = $5, last_updated_at = $6,
         completed_at = $7, rollout_started = $8, rollout_remaining = $9, rollout_ended = $10, next_due_at = $11
       WHERE job_id = $1`,
      [
        jobId,
        n.status,
        n.forceCanceled ? 1 : 0,
        n.reasonCode ?? null,
        n.comment ?? null,
        n.lastUpdatedAtMs,
        n.completedAtMs ?? null,
        n.rollout.started ? 1 : 0,
        live ? n.rollout.remaining : 0,
        n.rollout.ended ? 1 : 0,
        nextDue ?? null,
      ],
    )
    await this.specs.update(sql, row, n)
    // [spec: jobs-device-api#5.1] see storage/sqlite/job-lifecycle.ts (docs/decisions.md#events)
    const canceling = n.status === 'CANCELED' && job.status !== 'CANCELED'
    if (canceling) await this.events.job(sql, jobId, 'cancellation_in_progress', n.lastUpdatedAtMs)
    if (n.status === 'DELETION_IN_PROGRESS' && job.status !== 'DELETION_IN_PROGRESS') {
      await this.events.job(sql, jobId, 'deletion_in_progress', n.lastUpdatedAtMs)
      // Devices lose the job's pending executions now. [spec: jobs-device-api#4.3]
      await this.outbox.inStatus(sql, jobId, 'QUEUED')
      await this.outbox.inStatus(sql, jobId, 'IN_PROGRESS')
    }
    if (decision.cancelExecutions !== undefined)
      await this.cancelExecutions(sql, jobId, decision.cancelExecutions.force, n.lastUpdatedAtMs)
    if (canceling) await this.events.job(sql, jobId, 'canceled', n.lastUpdatedAtMs)
    const after = (await sql.query<JobRow>('SELECT * FROM jobs WHERE job_id = $1', [jobId])).rows[0]!
    return this.specs.job(sql, after)
  }

  /** QUEUED (and with force IN_PROGRESS) executions → CANCELED, one statement per status. */
  private async cancelExecutions(sql: Sql, jobId: string, force: boolean, nowMs: number): Promise<void> {
    const statuses: ExecutionStatus[] = force ? ['QUEUED', 'IN_PROGRESS'] : ['QUEUED']
    for (const status of statuses) {
      await this.outbox.inStatus(sql, jobId, status)
      await this.events.jobExecutionsMoving(sql, jobId, status, 'CANCELED', nowMs)
      const changed = (
        await sql.query(
          `UPDATE job_executions SET status = 'CANCELED', version_number = version_number + 1,
             last_updated_at = $3, force_canceled = CASE WHEN $4 = 1 THEN 1 ELSE force_canceled END,
             in_progress_deadline = NULL, step_deadline = NULL, deadline = NULL
           WHERE job_id = $1 AND status = $2`,
          [jobId, status, nowMs, status === 'IN_PROGRESS' ? 1 : 0],
        )
      ).rowCount
      await this.counters.adjust(sql, jobId, status, -changed)
      await this.counters.adjust(sql, jobId, 'CANCELED', changed)
    }
  }

  /**
   * Runs inside a transaction: adds targets to a job after `decide` accepts, and queues an execution
   * for every thing they reach that has no execution of the job yet — unless the job paces its
   * rollout: then `paced` says so and the caller enlists the things (time-work.ts).
   * [spec: jobs-control-plane#associatetargetswithjob]
   */
  async associate(
    sql: Sql,
    jobId: string,
    targets: { thingNames: readonly string[]; groupNames: readonly string[]; arns: readonly string[] },
    decide: (facts: JobFacts) => JobDecision,
  ): Promise<{ job: Job; missing?: MissingTargetNames; paced?: true } | undefined> {
    const job = await this.mutate(sql, jobId, decide)
    if (job === undefined) return undefined
    const missing = await missingTargets(sql, targets)
    if (missing !== undefined) return { job, missing }
    await insertTargets(sql, jobId, targets.arns)
    // [open-question 29] a paced job's new things wait for its rollout.
    if (isPaced(job)) return { job, paced: true }
    const created = (
      await sql.query<{ n: number }>(fanOutSql(this.outbox), [
        jobId,
        job.namespaceId ?? '',
        job.lastUpdatedAtMs,
        [...new Set(targets.thingNames)],
        [...new Set(targets.groupNames)],
      ])
    ).rows[0]!.n
    await this.counters.adjust(sql, jobId, 'QUEUED', created)
    return { job }
  }

  async deletingJobs(sql: Sql): Promise<string[]> {
    const { rows } = await sql.query<{ job_id: string }>(
      `SELECT job_id FROM jobs WHERE status = 'DELETION_IN_PROGRESS' ORDER BY seq`,
    )
    return rows.map((r) => r.job_id)
  }

  /**
   * Runs inside a transaction: deletes up to `batch` executions of a job being deleted; when none are
   * left, deletes the job and its targets. [spec: jobs-control-plane#deletejob]
   */
  async purge(
    sql: Sql,
    jobId: string,
    batch: number,
    nowMs: number,
  ): Promise<{ deleted: { thingName: string; status: ExecutionStatus }[]; gone: boolean }> {
    const row = (await sql.query<JobRow>('SELECT * FROM jobs WHERE job_id = $1', [jobId])).rows[0]
    if (row === undefined || row.status !== 'DELETION_IN_PROGRESS')
      return { deleted: [], gone: row === undefined }
    // Lock order: execution rows, then the job row.
    const seqs = (
      await sql.query<{ seq: number }>(
        'SELECT seq FROM job_executions WHERE job_id = $1 ORDER BY seq LIMIT $2 FOR UPDATE',
        [jobId, batch],
      )
    ).rows.map((r) => r.seq)
    await lockUnchanged(sql, row)
    await this.events.purging(sql, seqs, nowMs)
    const deleted = (
      await sql.query<{ thing_name: string; status: ExecutionStatus }>(
        'DELETE FROM job_executions WHERE seq = ANY($1::bigint[]) RETURNING thing_name, status',
        [seqs],
      )
    ).rows.map((r) => ({ thingName: r.thing_name, status: r.status }))
    const byStatus = new Map<ExecutionStatus, number>()
    for (const d of deleted) {
      byStatus.set(d.status, (byStatus.get(d.status) ?? 0) + 1)
      if (d.status === 'QUEUED' || d.status === 'IN_PROGRESS')
        await this.outbox.thing(sql, d.thingName, row.namespace_id ?? '', true)
    }
    for (const [status, n] of byStatus) await this.counters.adjust(sql, jobId, status, -n)
    if (deleted.length < batch) {
      await this.events.job(sql, jobId, 'deleted', nowMs)
      await sql.query('DELETE FROM job_targets WHERE job_id = $1', [jobId])
      await sql.query('DELETE FROM job_rollout_things WHERE job_id = $1', [jobId])
      await sql.query('DELETE FROM jobs WHERE job_id = $1', [jobId])
      await this.specs.delete(sql, jobId)
      return { deleted, gone: true }
    }
    return { deleted, gone: false }
  }
}

/**
 * Locks the job row and checks that nothing `decide` read has changed since `seen` (the counters may
 * have: executions move them without this lock; JOB_DECISION_COLUMNS are the others); otherwise the
 * transaction runs again (LostRace). The time-driven columns count: a rollout batch moves them under
 * this lock, and a decision made before it would write them back stale.
 */
async function lockUnchanged(sql: Sql, seen: JobRow): Promise<void> {
  const now = (await sql.query<JobRow>('SELECT * FROM jobs WHERE job_id = $1 FOR UPDATE', [seen.job_id]))
    .rows[0]
  const same = now !== undefined && JOB_DECISION_COLUMNS.every((column) => now[column] === seen[column])
  if (!same) throw new LostRace(`job ${seen.job_id} changed while its change was decided`)
}

/** The first kind of target that does not exist, with the missing names in name order. */
export async function missingTargets(
  sql: Sql,
  targets: { readonly thingNames: readonly string[]; readonly groupNames: readonly string[] },
): Promise<MissingTargetNames | undefined> {
  const missing = async (table: string, column: string, values: readonly string[]): Promise<string[]> => {
    if (values.length === 0) return []
    const { rows } = await sql.query<{ name: string }>(
      `SELECT v.name FROM unnest($1::text[]) AS v(name)
       WHERE NOT EXISTS (SELECT 1 FROM ${table} t WHERE t.${column} = v.name)
       ORDER BY v.name COLLATE "C"`,
      [[...new Set(values)]],
    )
    return rows.map((r) => r.name)
  }
  const things = await missing('things', 'thing_name', targets.thingNames)
  if (things.length > 0) return { kind: 'thing', names: things }
  const groups = await missing('thing_groups', 'group_name', targets.groupNames)
  if (groups.length > 0) return { kind: 'group', names: groups }
  return undefined
}

/** job_targets rows, with the kind and name parsed from each ARN, set-based. */
export async function insertTargets(sql: Sql, jobId: string, arns: readonly string[]): Promise<void> {
  const unique = [...new Set(arns)]
  if (unique.length === 0) return
  const kinds: string[] = []
  const names: string[] = []
  for (const arn of unique) {
    const { kind, name } = targetOf(arn)
    kinds.push(kind)
    names.push(name)
  }
  await sql.query(
    `INSERT INTO job_targets (job_id, target_arn, target_kind, target_name)
     SELECT $1, * FROM unnest($2::text[], $3::text[], $4::text[])
     ON CONFLICT DO NOTHING`,
    [jobId, unique, kinds, names],
  )
}
