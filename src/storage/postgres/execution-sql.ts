/** SQL that the execution writes of the PostgreSQL store share (executions.ts, copy-writes.ts). */
import type { Execution } from '../../domain/records.js'
import { effectiveDeadlineMs } from '../../domain/records.js'
import { DEVICE_VISIBLE_JOB, PENDING_ORDER } from '../pending.js'

/** The SET list of an execution write, its values (`writtenValues`) from parameter `$first` on. */
export function writeSet(first: number): string {
  const p = (i: number): string => `$${first + i}`
  return `status = ${p(0)}, force_canceled = ${p(1)}, status_details = ${p(2)}, started_at = ${p(3)},
    last_updated_at = ${p(4)}, version_number = ${p(5)}, in_progress_deadline = ${p(6)},
    step_deadline = ${p(7)}, deadline = ${p(8)}`
}

/** The values of `writeSet` for the execution as written. */
export function writtenValues(n: Execution): unknown[] {
  return [
    n.status,
    n.forceCanceled ? 1 : 0,
    JSON.stringify(n.statusDetails),
    n.startedAtMs ?? null,
    n.lastUpdatedAtMs,
    n.versionNumber,
    n.inProgressDeadlineMs ?? null,
    n.stepDeadlineMs ?? null,
    // [spec: state-machines#4] the sweep's column: the effective deadline while IN_PROGRESS.
    n.status === 'IN_PROGRESS' ? (effectiveDeadlineMs(n) ?? null) : null,
  ]
}

/** A thing's pending executions in pending order (`e.*`); the arguments are SQL (parameters). */
export function pendingSql(thingName: string, namespaceId: string, limit: string): string {
  return `SELECT e.* FROM job_executions e JOIN jobs j ON j.job_id = e.job_id
    WHERE e.thing_name = ${thingName} AND e.namespace_id = ${namespaceId}
      AND e.status IN ('QUEUED', 'IN_PROGRESS') AND ${DEVICE_VISIBLE_JOB}
    ORDER BY ${PENDING_ORDER} LIMIT ${limit}`
}
