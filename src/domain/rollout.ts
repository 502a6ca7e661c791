/**
 * Rollout pacing: how many executions a job's rollout may create in its next batch.
 * [spec: state-machines#5] [spec: test-clock#3]
 */
import type { Job, JsonObject } from './records.js'

/** Batches come at most once per rolling minute: the first at t₀, the next at t₀ + 60 s. [spec: test-clock#3] */
export const ROLLOUT_INTERVAL_MS = 60_000

const obj = (v: unknown): JsonObject | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)

/** Whether the job paces its executions (else every execution is created at once). */
export function isPaced(job: Pick<Job, 'jobExecutionsRolloutConfig'>): boolean {
  const config = job.jobExecutionsRolloutConfig
  return num(config?.['maximumPerMinute']) !== undefined || obj(config?.['exponentialRate']) !== undefined
}

/**
 * Executions per minute the rollout may create now. `maximumPerMinute` alone is the rate. An
 * `exponentialRate` starts at `baseRatePerMinute` and is multiplied by `incrementFactor` (rounded
 * down, at least +1) each time the chosen count (executions created, or SUCCEEDED) reaches the next
 * multiple of its criterion, capped by `maximumPerMinute`. [spec: state-machines#5] [open-question 53]
 * Infinity for a job that is not paced.
 */
export function rolloutRate(job: Pick<Job, 'jobExecutionsRolloutConfig' | 'counts' | 'rollout'>): number {
  const config = job.jobExecutionsRolloutConfig
  const max = num(config?.['maximumPerMinute'])
  const exponential = obj(config?.['exponentialRate'])
  if (exponential === undefined) return max ?? Number.POSITIVE_INFINITY
  const base = num(exponential['baseRatePerMinute']) ?? 1
  const factor = num(exponential['incrementFactor']) ?? 1
  const criteria = obj(exponential['rateIncreaseCriteria']) ?? {}
  const notifiedStep = num(criteria['numberOfNotifiedThings'])
  const succeededStep = num(criteria['numberOfSucceededThings'])
  const [count, step] =
    notifiedStep !== undefined
      ? [job.rollout.notified, notifiedStep]
      : [job.counts.SUCCEEDED, succeededStep ?? Number.POSITIVE_INFINITY]
  const cap = max ?? Number.POSITIVE_INFINITY
  let rate = Math.min(base, cap)
  // Each multiple of the step reached raises the rate once; the cap ends the growth early.
  for (let reached = Math.floor(count / step); reached > 0 && rate < cap; reached -= 1) {
    rate = Math.min(cap, Math.max(rate + 1, Math.floor(rate * factor)))
  }
  return rate
}
