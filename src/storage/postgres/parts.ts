/** What the parts of the PostgreSQL store share inside one transaction. */
import type { Job } from '../../domain/records.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { Sql } from './db.js'

export interface PgCounters {
  /** Adds `delta` to the job's counter of `status` (inside the caller's transaction). */
  adjust(sql: Sql, jobId: string, status: ExecutionStatus, delta: number): Promise<void>
  /** Applies the SNAPSHOT completion rule to the job as it now stands. [spec: state-machines#10] */
  completeIfDone(sql: Sql, jobId: string, nowMs: number, known?: Job): Promise<Job>
}
