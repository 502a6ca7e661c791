/**
 * The Jobs events outbox in PostgreSQL: the same rows and facts as the SQLite store's
 * (storage/sqlite/events.ts), recorded set-based in the change's own transaction with
 * jsonb_build_object and gen_random_uuid(). [spec: jobs-device-api#5] [ARCHITECTURE: outbox]
 */
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { EventRow, JobEventOperation } from '../../ports/store.js'
import type { EventFamilies } from '../rows.js'
import type { Sql } from './db.js'
import type { EventOutboxRow } from '../rows.js'
import { eventFromRow } from '../rows.js'

/**
 * The event of each execution the statement's `FROM job_executions e` selects: `atMs`, `status` (the
 * status reported) and `operation` are SQL expressions.
 */
const executionEvent = (atMs: string, status: string, operation: string): string =>
  `INSERT INTO event_outbox (event_id, family, operation, at_ms, facts)
  SELECT gen_random_uuid()::text, 'jobExecution', ${operation}, ${atMs},
    jsonb_build_object('jobId', e.job_id, 'thingName', e.thing_name, 'status', ${status},
      'statusDetails', e.status_details::jsonb)::text
  FROM job_executions e`

/**
 * The event of each selected execution: $2 is the status it reaches (NULL: the one it has now), $3 the
 * event (NULL: the status in lower case). $1 is the time. Selection parameters start at $4.
 */
const EXECUTION_EVENT = executionEvent(
  '$1::bigint',
  'coalesce($2::text, e.status)',
  'coalesce($3::text, lower(coalesce($2::text, e.status)))',
)

export class PgEvents {
  constructor(private readonly families: EventFamilies) {}

  get enabled(): boolean {
    return this.families.job || this.families.jobExecution
  }

  /** Whether job execution events are recorded. */
  get recordsExecutions(): boolean {
    return this.families.jobExecution
  }

  /** A job event, from the job's rows as they stand now (call after writing them, before deleting them). */
  async job(sql: Sql, jobId: string, operation: JobEventOperation, atMs: number): Promise<void> {
    if (!this.families.job) return
    await sql.query(
      `INSERT INTO event_outbox (event_id, family, operation, at_ms, facts)
       SELECT gen_random_uuid()::text, 'job', $2::text, $4::bigint, jsonb_build_object(
         'jobId', j.job_id, 'status', $3::text, 'targetSelection', j.target_selection,
         'targets', (s.body::jsonb)->'targets', 'description', (s.body::jsonb)->'description',
         'createdAtMs', j.created_at,
         'lastUpdatedAtMs', CASE WHEN $2::text = 'deleted' THEN $4::bigint ELSE j.last_updated_at END,
         'completedAtMs', j.completed_at, 'comment', j.comment,
         'counts', jsonb_build_object('QUEUED', j.n_queued, 'IN_PROGRESS', j.n_in_progress,
           'SUCCEEDED', j.n_succeeded, 'FAILED', j.n_failed, 'TIMED_OUT', j.n_timed_out,
           'REJECTED', j.n_rejected, 'REMOVED', j.n_removed, 'CANCELED', j.n_canceled))::text
       FROM jobs j JOIN job_specs s ON s.job_id = j.job_id WHERE j.job_id = $1`,
      [jobId, operation, operation.toUpperCase(), atMs],
    )
  }

  /** The event of one execution that just reached a terminal status (call after writing it). */
  async reached(sql: Sql, seq: number, atMs: number): Promise<void> {
    if (this.families.jobExecution)
      await sql.query(`${EXECUTION_EVENT} WHERE e.seq = $4`, [atMs, null, null, seq])
  }

  /** The events of the executions `seqs` names, which just reached terminal statuses (call after writing them). */
  async reachedMany(sql: Sql, seqs: readonly number[], atMs: number): Promise<void> {
    if (this.families.jobExecution && seqs.length > 0)
      await sql.query(`${EXECUTION_EVENT} WHERE e.seq = ANY($4::bigint[]) ORDER BY e.seq`, [
        atMs,
        null,
        null,
        seqs,
      ])
  }

  /** The `deleted` event of one execution, with the status it has [open-question 49] (call before deleting). */
  async deleting(sql: Sql, seq: number, atMs: number): Promise<void> {
    if (this.families.jobExecution)
      await sql.query(`${EXECUTION_EVENT} WHERE e.seq = $4`, [atMs, null, 'deleted', seq])
  }

  /**
   * As `deleting`, as a data-modifying CTE (`, ev AS (…)`) of a statement that deletes the execution
   * `seq` (SQL) and names the rows it deleted in the CTE `deleted`: the event only if it was deleted. The
   * statement's snapshot still sees the row. For when `recordsExecutions`.
   */
  deletingCte(seq: string, atMs: string, deleted: string): string {
    return `, ev AS (${executionEvent(`${atMs}::bigint`, 'e.status', `'deleted'`)}
      WHERE e.seq = ${seq} AND EXISTS (SELECT 1 FROM ${deleted}))`
  }

  /** Every execution of the job in `from` is about to become `to` (call before the UPDATE). */
  async jobExecutionsMoving(
    sql: Sql,
    jobId: string,
    from: ExecutionStatus,
    to: ExecutionStatus,
    atMs: number,
  ): Promise<void> {
    if (this.families.jobExecution)
      await sql.query(`${EXECUTION_EVENT} WHERE e.job_id = $4 AND e.status = $5 ORDER BY e.seq`, [
        atMs,
        to,
        null,
        jobId,
        from,
      ])
  }

  /** Every QUEUED or IN_PROGRESS execution of the thing is about to become REMOVED (DeleteThing). */
  async thingPendingRemoved(sql: Sql, thingName: string, atMs: number): Promise<void> {
    if (this.families.jobExecution)
      await sql.query(
        `${EXECUTION_EVENT} WHERE e.thing_name = $4 AND e.status IN ('QUEUED', 'IN_PROGRESS') ORDER BY e.seq`,
        [atMs, 'REMOVED', null, thingName],
      )
  }

  /** The thing's QUEUED execution of the job is about to become REMOVED (it left a CONTINUOUS job's targets). */
  async queuedRemoved(sql: Sql, jobId: string, thingName: string, atMs: number): Promise<void> {
    if (this.families.jobExecution)
      await sql.query(
        `${EXECUTION_EVENT} WHERE e.job_id = $4 AND e.thing_name = $5 AND e.status = 'QUEUED' ORDER BY e.seq`,
        [atMs, 'REMOVED', null, jobId, thingName],
      )
  }

  /** The `deleted` events of executions about to be purged, by their sequence numbers. */
  async purging(sql: Sql, seqs: readonly number[], atMs: number): Promise<void> {
    if (this.families.jobExecution && seqs.length > 0)
      await sql.query(`${EXECUTION_EVENT} WHERE e.seq = ANY($4::bigint[]) ORDER BY e.seq`, [
        atMs,
        null,
        'deleted',
        seqs,
      ])
  }

  async read(sql: Sql, limit: number): Promise<EventRow[]> {
    const { rows } = await sql.query<EventOutboxRow>('SELECT * FROM event_outbox ORDER BY seq LIMIT $1', [
      limit,
    ])
    return rows.map(eventFromRow)
  }

  async delete(sql: Sql, seqs: readonly number[]): Promise<void> {
    if (seqs.length > 0) await sql.query('DELETE FROM event_outbox WHERE seq = ANY($1::bigint[])', [seqs])
  }
}
