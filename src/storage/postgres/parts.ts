/** What the parts of the PostgreSQL store share inside one transaction. */
import type { QueryResultRow } from 'pg'
import type { Job } from '../../domain/records.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { JobRow } from '../rows.js'
import type { Sql } from './db.js'

/** An execution that just reached a terminal status, with what its retry needs. */
export interface EndedExecution {
  readonly thingName: string
  readonly status: ExecutionStatus
  readonly retryAttempt: number
  readonly timedOutRetries: number
}

export interface PgCounters {
  /** Adds `delta` to the job's counter of `status` (inside the caller's transaction). */
  adjust(sql: Sql, jobId: string, status: ExecutionStatus, delta: number): Promise<void>
  /** Applies the SNAPSHOT completion rule to the job as it now stands. [spec: state-machines#10] */
  completeIfDone(sql: Sql, jobId: string, nowMs: number, known?: Job): Promise<Job>
  /**
   * After executions of `job` reached terminal statuses (its counters already moved, its row locked):
   * the abort criteria, then retries, then the completion rule. [spec: state-machines#6, #8, #10]
   */
  afterEnded(sql: Sql, job: Job, ended: readonly EndedExecution[], nowMs: number): Promise<Job>
}

/**
 * The columns of a job row that a decision reads besides the counters (which execution writes move
 * without the job row's lock) and the columns no write changes (job id, target selection, namespace,
 * creation time). A decision made on a job row still holds while these are as it saw them: job-level
 * changes check them under the job row's lock (job-lifecycle.ts), and execution writes decided on a
 * node's copy check them in their one statement (copy-writes.ts).
 */
export const JOB_DECISION_COLUMNS = [
  'status',
  'spec_version',
  'last_updated_at',
  'completed_at',
  'force_canceled',
  'reason_code',
  'comment',
  'rollout_started',
  'rollout_remaining',
  'rollout_notified',
  'rollout_last_batch_at',
  'rollout_ended',
  'next_due_at',
] as const satisfies readonly (keyof JobRow)[]

/** How execution writes reach the database: PgStore's transactions and single statements. */
export interface PgWriter {
  /** Reads outside a transaction (they see the latest commit). */
  readonly db: Sql
  /** One transaction, run again from the start when it loses a race (PgStore's write). */
  tx<T>(work: (sql: Sql) => Promise<T>): Promise<T>
  /** One statement as a transaction of its own (autocommit), run again when it loses a race. */
  statement<R extends QueryResultRow>(
    text: string,
    values: readonly unknown[],
  ): Promise<{ rows: R[]; rowCount: number }>
  /** Tells the node that a single statement committed a change (its dispatchers may have work). */
  committed(): void
  /**
   * The channel a single statement that writes outbox or event rows NOTIFYs at its commit (another node
   * holds the lease and publishes them); undefined when there is no need.
   */
  notifyChannel(): string | undefined
}
