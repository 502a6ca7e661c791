/**
 * The Jobs events outbox: in the same transaction as every change that causes a Jobs event, a row
 * records the event (its id, its time and the facts its payload needs, as they stood then). A
 * dispatcher publishes the rows after commit, at least once, and deletes them only after the broker
 * took them. Changes that touch many executions in one statement record their events in one
 * statement too (INSERT … SELECT with json_object), never row by row from JavaScript.
 * Nothing is written for a family that is off. [spec: jobs-device-api#5] [ARCHITECTURE: outbox]
 */
import type Database from 'better-sqlite3'
import type { Statement } from 'better-sqlite3'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { EventRow, JobEventOperation } from '../../ports/store.js'
import type { EventOutboxRow } from '../rows.js'
import { eventFromRow } from '../rows.js'
import type { EventFamilies } from '../rows.js'

/**
 * A random (version 4) UUID computed by SQLite for each row, so that set-based inserts give every
 * event its own id without a call back into JavaScript. `random() & 3` picks the RFC 4122 variant
 * digit (8, 9, a or b); abs(random()) would overflow on the smallest 64-bit integer.
 */
const UUID_V4 = `lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2)
  || '-' || substr('89ab', 1 + (random() & 3), 1) || substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))`

/**
 * The event of each selected execution: `@status` is the status it reaches (NULL: the one it has
 * now), `@operation` the event (NULL: the status in lower case, `SUCCEEDED` → `succeeded`).
 */
const EXECUTION_EVENT = `INSERT INTO event_outbox (event_id, family, operation, at_ms, facts)
  SELECT ${UUID_V4}, 'jobExecution', coalesce(@operation, lower(coalesce(@status, e.status))), @atMs,
    json_object('jobId', e.job_id, 'thingName', e.thing_name, 'status', coalesce(@status, e.status),
      'statusDetails', json(e.status_details))
  FROM job_executions e`

export class EventOutbox {
  private readonly s: Record<
    | 'job'
    | 'executionBySeq'
    | 'executionsOfJobInStatus'
    | 'pendingOfThing'
    | 'queuedOfJobOnThing'
    | 'purgeBatch'
    | 'read'
    | 'delete',
    Statement
  >

  private readonly dueStatements = new Map<string, Statement>()

  constructor(
    private readonly db: Database.Database,
    private readonly families: EventFamilies,
  ) {
    this.s = {
      // The job's `lastUpdatedAt` is that of the transition reported; a job that is deleted has no row to
      // update, so `deleted` takes the time the deletion finished (docs/decisions.md#events).
      job: db.prepare(
        `INSERT INTO event_outbox (event_id, family, operation, at_ms, facts)
         SELECT ${UUID_V4}, 'job', @operation, @atMs, json_object(
           'jobId', j.job_id, 'status', @status, 'targetSelection', j.target_selection,
           'targets', json(json_extract(s.body, '$.targets')), 'description', json_extract(s.body, '$.description'),
           'createdAtMs', j.created_at,
           'lastUpdatedAtMs', CASE WHEN @operation = 'deleted' THEN @atMs ELSE j.last_updated_at END,
           'completedAtMs', j.completed_at, 'comment', j.comment,
           'counts', json_object('QUEUED', j.n_queued, 'IN_PROGRESS', j.n_in_progress, 'SUCCEEDED', j.n_succeeded,
             'FAILED', j.n_failed, 'TIMED_OUT', j.n_timed_out, 'REJECTED', j.n_rejected, 'REMOVED', j.n_removed,
             'CANCELED', j.n_canceled))
         FROM jobs j JOIN job_specs s ON s.job_id = j.job_id WHERE j.job_id = @jobId`,
      ),
      executionBySeq: db.prepare(`${EXECUTION_EVENT} WHERE e.seq = @seq`),
      executionsOfJobInStatus: db.prepare(
        `${EXECUTION_EVENT} WHERE e.job_id = @jobId AND e.status = @from ORDER BY e.seq`,
      ),
      pendingOfThing: db.prepare(
        `${EXECUTION_EVENT} WHERE e.thing_name = @thingName AND e.status IN ('QUEUED', 'IN_PROGRESS') ORDER BY e.seq`,
      ),
      queuedOfJobOnThing: db.prepare(
        `${EXECUTION_EVENT} WHERE e.job_id = @jobId AND e.thing_name = @thingName AND e.status = 'QUEUED' ORDER BY e.seq`,
      ),
      // Must select exactly the rows the purge then deletes (job-lifecycle.ts purgeExecutions).
      purgeBatch: db.prepare(
        `${EXECUTION_EVENT} WHERE e.seq IN (SELECT seq FROM job_executions WHERE job_id = @jobId ORDER BY seq LIMIT @batch)
         ORDER BY e.seq`,
      ),
      read: db.prepare('SELECT * FROM event_outbox ORDER BY seq LIMIT ?'),
      delete: db.prepare('DELETE FROM event_outbox WHERE seq IN (SELECT value FROM json_each(?))'),
    }
  }

  /** Whether any family is recorded (a dispatcher is needed). */
  get enabled(): boolean {
    return this.families.job || this.families.jobExecution
  }

  /** A job event, from the job's rows as they stand now (call after writing them, before deleting them). */
  job(jobId: string, operation: JobEventOperation, atMs: number): void {
    if (!this.families.job) return
    // [spec: jobs-device-api#5.1] the status of each event is its operation in upper case.
    this.s.job.run({ jobId, operation, status: operation.toUpperCase(), atMs })
  }

  /** The event of one execution that just reached a terminal status (call after writing it). */
  reached(seq: number, atMs: number): void {
    if (this.families.jobExecution) this.s.executionBySeq.run({ seq, atMs, status: null, operation: null })
  }

  /**
   * The `timed_out` events of the executions `dueSql` selects (its parameters `@nowMs`, `@batch`), which
   * are about to become TIMED_OUT at `nowMs` (call before the UPDATE, in its transaction).
   */
  dueTimingOut(dueSql: string, params: { nowMs: number; batch: number }): void {
    if (!this.families.jobExecution) return
    let statement = this.dueStatements.get(dueSql)
    if (statement === undefined) {
      statement = this.db.prepare(`${EXECUTION_EVENT} WHERE e.seq IN (${dueSql}) ORDER BY e.seq`)
      this.dueStatements.set(dueSql, statement)
    }
    statement.run({ ...params, status: 'TIMED_OUT', operation: null, atMs: params.nowMs })
  }

  /** The `deleted` event of one execution, with the status it has [open-question 49] (call before deleting). */
  deleting(seq: number, atMs: number): void {
    if (this.families.jobExecution)
      this.s.executionBySeq.run({ seq, atMs, status: null, operation: 'deleted' })
  }

  /** Every execution of the job in `from` is about to become `to` (call before the UPDATE). */
  jobExecutionsMoving(jobId: string, from: ExecutionStatus, to: ExecutionStatus, atMs: number): void {
    if (this.families.jobExecution)
      this.s.executionsOfJobInStatus.run({ jobId, from, status: to, operation: null, atMs })
  }

  /** Every QUEUED or IN_PROGRESS execution of the thing is about to become REMOVED (DeleteThing). */
  thingPendingRemoved(thingName: string, atMs: number): void {
    if (this.families.jobExecution)
      this.s.pendingOfThing.run({ thingName, status: 'REMOVED', operation: null, atMs })
  }

  /** The thing's QUEUED execution of the job is about to become REMOVED (it left a CONTINUOUS job's targets). */
  queuedRemoved(jobId: string, thingName: string, atMs: number): void {
    if (this.families.jobExecution)
      this.s.queuedOfJobOnThing.run({ jobId, thingName, status: 'REMOVED', operation: null, atMs })
  }

  /** The `deleted` events of the next purge batch of a job being deleted (call before deleting it). */
  purging(jobId: string, batch: number, atMs: number): void {
    if (this.families.jobExecution)
      this.s.purgeBatch.run({ jobId, batch, status: null, operation: 'deleted', atMs })
  }

  read(limit: number): EventRow[] {
    return (this.s.read.all(limit) as EventOutboxRow[]).map(eventFromRow)
  }

  delete(seqs: readonly number[]): void {
    if (seqs.length > 0) this.s.delete.run(JSON.stringify(seqs))
  }
}
