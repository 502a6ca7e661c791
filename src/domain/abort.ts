/**
 * Abort criteria: when enough of a job's executions failed, the job is canceled as by CancelJob
 * without force. [spec: state-machines#6]
 */
import type { ExecutionCounts, Job, JsonObject } from './records.js'

/** [open-question 54] the reason code an abort sets on the job. */
export const ABORT_REASON_CODE = 'ABORT_CRITERIA_MET'

export interface AbortVerdict {
  readonly reasonCode: string
  readonly comment: string
}

const FAILURES: Record<string, readonly (keyof ExecutionCounts)[]> = {
  FAILED: ['FAILED'],
  REJECTED: ['REJECTED'],
  TIMED_OUT: ['TIMED_OUT'],
  ALL: ['FAILED', 'REJECTED', 'TIMED_OUT'],
}

/**
 * The first criterion the job's executions meet, or undefined. Only while the job is IN_PROGRESS or
 * SCHEDULED. *executed* counts executions that ended SUCCEEDED, FAILED, REJECTED or TIMED_OUT
 * [open-question 54]; a criterion fires when executed ≥ `minNumberOfExecutedThings` and
 * 100 × failures / executed ≥ `thresholdPercentage`.
 */
export function decideAbort(job: Pick<Job, 'status' | 'abortConfig' | 'counts'>): AbortVerdict | undefined {
  if (job.status !== 'IN_PROGRESS' && job.status !== 'SCHEDULED') return undefined
  const list = job.abortConfig?.['criteriaList']
  if (!Array.isArray(list)) return undefined
  const c = job.counts
  const executed = c.SUCCEEDED + c.FAILED + c.REJECTED + c.TIMED_OUT
  if (executed === 0) return undefined
  for (const entry of list as JsonObject[]) {
    const type = String(entry['failureType'])
    const min = Number(entry['minNumberOfExecutedThings'])
    const threshold = Number(entry['thresholdPercentage'])
    const failures = (FAILURES[type] ?? []).reduce((sum, s) => sum + c[s], 0)
    if (executed >= min && 100 * failures >= threshold * executed) {
      return {
        reasonCode: ABORT_REASON_CODE,
        // [open-question 54] the comment names the criterion that fired.
        comment: `Job aborted: ${failures} of ${executed} executed things ended ${type === 'ALL' ? 'FAILED, REJECTED or TIMED_OUT' : type} (criterion: failureType ${type}, thresholdPercentage ${threshold}, minNumberOfExecutedThings ${min})`,
      }
    }
  }
  return undefined
}
