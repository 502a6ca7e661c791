/** What the parts of the PostgreSQL store share inside one transaction. */
import type { Job } from '../../domain/records.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
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
