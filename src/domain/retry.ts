/**
 * Retries: an execution that ended FAILED or TIMED_OUT gets a new attempt while the job's retry
 * budget for that failure type lasts. [spec: state-machines#8]
 */
import type { Execution, Job, JsonObject } from './records.js'

/** What a new attempt carries over from the one that ended. */
export interface RetryAttempt {
  readonly retryAttempt: number
  readonly timedOutRetries: number
}

/**
 * The next attempt for an execution that just ended, or undefined. Budgets are per (job, thing)
 * attempt chain: `ALL` is one budget for both failure types, otherwise each type has its own.
 * REJECTED, CANCELED and REMOVED are never retried; nothing is retried unless the job is
 * IN_PROGRESS. A chain starts at retryAttempt 0 (creation, or a CONTINUOUS re-execution).
 */
export function decideRetry(
  job: Pick<Job, 'status' | 'jobExecutionsRetryConfig'>,
  ended: Pick<Execution, 'status' | 'retryAttempt' | 'timedOutRetries'>,
): RetryAttempt | undefined {
  if (job.status !== 'IN_PROGRESS') return undefined
  if (ended.status !== 'FAILED' && ended.status !== 'TIMED_OUT') return undefined
  const list = job.jobExecutionsRetryConfig?.['criteriaList']
  if (!Array.isArray(list)) return undefined
  const criteria = list as JsonObject[]
  const all = criteria.find((c) => c['failureType'] === 'ALL')
  const own = criteria.find((c) => c['failureType'] === ended.status)
  const failedRetries = ended.retryAttempt - ended.timedOutRetries
  const [budget, used] =
    all !== undefined
      ? [Number(all['numberOfRetries']), ended.retryAttempt]
      : own !== undefined
        ? [Number(own['numberOfRetries']), ended.status === 'FAILED' ? failedRetries : ended.timedOutRetries]
        : [0, 0]
  if (used >= budget) return undefined
  return {
    retryAttempt: ended.retryAttempt + 1,
    timedOutRetries: ended.timedOutRetries + (ended.status === 'TIMED_OUT' ? 1 : 0),
  }
}
