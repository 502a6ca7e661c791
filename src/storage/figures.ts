/**
 * The rows both stores read for /metrics, turned into StoreFigures: one GROUP BY over the jobs (their
 * counters hold the executions per status, so no execution row is read) and the two outboxes' depth
 * and oldest commit time.
 */
import { EXECUTION_STATUSES, JOB_STATUSES } from '../domain/statuses.js'
import type { ExecutionStatus, JobStatus } from '../domain/statuses.js'
import type { OutboxFigures, StoreFigures } from '../ports/store.js'

/** Per job status: how many jobs, and the sums of their execution counters. */
export const JOB_FIGURES_SQL = `
  SELECT status, count(*) AS jobs,
    sum(n_queued) AS queued, sum(n_in_progress) AS in_progress, sum(n_succeeded) AS succeeded,
    sum(n_failed) AS failed, sum(n_timed_out) AS timed_out, sum(n_rejected) AS rejected,
    sum(n_removed) AS removed, sum(n_canceled) AS canceled
  FROM jobs GROUP BY status`

export const OUTBOX_FIGURES_SQL = 'SELECT count(*) AS n, min(created_at) AS oldest FROM outbox'
export const EVENT_OUTBOX_FIGURES_SQL = 'SELECT count(*) AS n, min(created_at) AS oldest FROM event_outbox'

/** SQLite answers numbers; PostgreSQL answers bigint sums and counts as strings. */
type Num = number | string | null

export interface JobFiguresRow {
  readonly status: string
  readonly jobs: Num
  readonly queued: Num
  readonly in_progress: Num
  readonly succeeded: Num
  readonly failed: Num
  readonly timed_out: Num
  readonly rejected: Num
  readonly removed: Num
  readonly canceled: Num
}

export interface OutboxFiguresRow {
  readonly n: Num
  readonly oldest: Num
}

const COLUMN_OF: Record<ExecutionStatus, keyof JobFiguresRow> = {
  QUEUED: 'queued',
  IN_PROGRESS: 'in_progress',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  TIMED_OUT: 'timed_out',
  REJECTED: 'rejected',
  REMOVED: 'removed',
  CANCELED: 'canceled',
}

const num = (value: Num | undefined): number => (value === null || value === undefined ? 0 : Number(value))

export function storeFigures(
  jobRows: readonly JobFiguresRow[],
  outbox: OutboxFiguresRow | undefined,
  events: OutboxFiguresRow | undefined,
): StoreFigures {
  const jobs = Object.fromEntries(JOB_STATUSES.map((s) => [s, 0])) as Record<JobStatus, number>
  const executions = Object.fromEntries(EXECUTION_STATUSES.map((s) => [s, 0])) as Record<
    ExecutionStatus,
    number
  >
  for (const row of jobRows) {
    if (row.status in jobs) jobs[row.status as JobStatus] += num(row.jobs)
    for (const status of EXECUTION_STATUSES) executions[status] += num(row[COLUMN_OF[status]])
  }
  return { jobs, executions, notificationOutbox: outboxFigures(outbox), eventOutbox: outboxFigures(events) }
}

function outboxFigures(row: OutboxFiguresRow | undefined): OutboxFigures {
  const rows = num(row?.n)
  return rows === 0 || row?.oldest === null || row?.oldest === undefined
    ? { rows }
    : { rows, oldestAtMs: Number(row.oldest) }
}
