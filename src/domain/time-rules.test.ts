/**
 * The pure rules of time-driven work: rollout rates, abort criteria, retry budgets, timeouts and job
 * ticks. Table-driven, with fast-check properties.
 */
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ABORT_REASON_CODE, decideAbort } from './abort.js'
import { decideJobTick, nextJobDueMs } from './job-schedule.js'
import type { Execution, Job } from './records.js'
import { ROLLOUT_DONE, ROLLOUT_NOT_STARTED, zeroCounts } from './records.js'
import { decideRetry } from './retry.js'
import { ROLLOUT_INTERVAL_MS, rolloutRate } from './rollout.js'
import { decideJobCompletion, decideTimeout, isOverdue } from './state-machine.js'

const T0 = Date.UTC(2030, 0, 1, 12, 0, 0)
const MINUTE = 60_000

const job = (overrides: Partial<Job> = {}): Job => ({
  jobId: 'job-1',
  status: 'IN_PROGRESS',
  targetSelection: 'SNAPSHOT',
  targets: [],
  document: '{}',
  forceCanceled: false,
  createdAtMs: T0,
  lastUpdatedAtMs: T0,
  counts: zeroCounts(),
  rollout: ROLLOUT_DONE,
  ...overrides,
})

const running = (overrides: Partial<Execution> = {}): Execution => ({
  jobId: 'job-1',
  thingName: 'thing-1',
  executionNumber: 1,
  status: 'IN_PROGRESS',
  forceCanceled: false,
  statusDetails: {},
  queuedAtMs: T0,
  startedAtMs: T0,
  lastUpdatedAtMs: T0,
  versionNumber: 2,
  retryAttempt: 0,
  timedOutRetries: 0,
  ...overrides,
})

describe('rolloutRate [spec: state-machines#5] [open-question 53]', () => {
  const exponential = (criteria: object, max?: number) => ({
    jobExecutionsRolloutConfig: {
      ...(max === undefined ? {} : { maximumPerMinute: max }),
      exponentialRate: { baseRatePerMinute: 50, incrementFactor: 2, rateIncreaseCriteria: criteria },
    },
  })
  it('no config: every execution at once; maximumPerMinute alone: that rate', () => {
    assert.equal(rolloutRate(job()), Number.POSITIVE_INFINITY)
    assert.equal(rolloutRate(job({ jobExecutionsRolloutConfig: { maximumPerMinute: 7 } })), 7)
  })
  it("the guide's example: 50/min until 1000 notified, 100 until 2000, 200 until 3000, 400 until 4000", () => {
    const at = (notified: number) =>
      rolloutRate(
        job({ ...exponential({ numberOfNotifiedThings: 1000 }), rollout: { ...ROLLOUT_DONE, notified } }),
      )
    assert.deepEqual([0, 999, 1000, 1999, 2000, 3000, 4500].map(at), [50, 50, 100, 100, 200, 400, 800])
  })
  it('numberOfSucceededThings counts SUCCEEDED executions; maximumPerMinute caps the growth', () => {
    const succeeded = (n: number, max?: number) =>
      rolloutRate(
        job({
          ...exponential({ numberOfSucceededThings: 10 }, max),
          counts: { ...zeroCounts(), SUCCEEDED: n },
        }),
      )
    assert.deepEqual(
      [0, 10, 20].map((n) => succeeded(n)),
      [50, 100, 200],
    )
    assert.equal(succeeded(30, 150), 150)
  })
  it('a factor that would not raise a small rate raises it by at least one', () => {
    const config = {
      jobExecutionsRolloutConfig: {
        exponentialRate: {
          baseRatePerMinute: 1,
          incrementFactor: 1.1,
          rateIncreaseCriteria: { numberOfNotifiedThings: 1 },
        },
      },
    }
    assert.deepEqual(
      [0, 1, 2, 3].map((notified) => rolloutRate(job({ ...config, rollout: { ...ROLLOUT_DONE, notified } }))),
      [1, 2, 3, 4],
    )
  })
  it('property: the rate never decreases as the count grows and never exceeds maximumPerMinute', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 11, max: 50 }).map((f) => f / 10),
        fc.integer({ min: 1, max: 100 }),
        fc.integer({ min: 1, max: 1000 }),
        fc.integer({ min: 0, max: 5000 }),
        (base, factor, step, max, notified) => {
          const config = {
            jobExecutionsRolloutConfig: {
              maximumPerMinute: Math.max(max, base),
              exponentialRate: {
                baseRatePerMinute: base,
                incrementFactor: factor,
                rateIncreaseCriteria: { numberOfNotifiedThings: step },
              },
            },
          }
          const a = rolloutRate(job({ ...config, rollout: { ...ROLLOUT_DONE, notified } }))
          const b = rolloutRate(job({ ...config, rollout: { ...ROLLOUT_DONE, notified: notified + step } }))
          assert.ok(b >= a)
          assert.ok(b <= Math.max(max, base))
        },
      ),
    )
  })
})

describe('decideAbort [spec: state-machines#6] [open-question 54]', () => {
  const criteria = (failureType: string, threshold: number, min: number) => ({
    abortConfig: {
      criteriaList: [
        { failureType, action: 'CANCEL', thresholdPercentage: threshold, minNumberOfExecutedThings: min },
      ],
    },
  })
  const cases: [string, Partial<Job>, boolean][] = [
    [
      'below the minimum executed',
      { ...criteria('FAILED', 10, 3), counts: { ...zeroCounts(), FAILED: 2 } },
      false,
    ],
    [
      'at the minimum and the threshold',
      { ...criteria('FAILED', 50, 2), counts: { ...zeroCounts(), FAILED: 1, SUCCEEDED: 1 } },
      true,
    ],
    [
      'under the threshold',
      { ...criteria('FAILED', 50, 2), counts: { ...zeroCounts(), FAILED: 1, SUCCEEDED: 2 } },
      false,
    ],
    [
      'ALL counts FAILED, REJECTED and TIMED_OUT',
      { ...criteria('ALL', 100, 3), counts: { ...zeroCounts(), FAILED: 1, REJECTED: 1, TIMED_OUT: 1 } },
      true,
    ],
    [
      'TIMED_OUT alone',
      { ...criteria('TIMED_OUT', 50, 2), counts: { ...zeroCounts(), TIMED_OUT: 1, FAILED: 1 } },
      true,
    ],
    [
      'CANCELED and REMOVED are not executed',
      { ...criteria('FAILED', 50, 2), counts: { ...zeroCounts(), FAILED: 1, CANCELED: 5, REMOVED: 5 } },
      false,
    ],
    [
      'a job no longer running is not aborted',
      { ...criteria('FAILED', 1, 1), status: 'CANCELED', counts: { ...zeroCounts(), FAILED: 5 } },
      false,
    ],
  ]
  for (const [name, overrides, fires] of cases) {
    it(name, () => {
      const verdict = decideAbort(job(overrides))
      assert.equal(verdict !== undefined, fires)
      if (verdict !== undefined) {
        assert.equal(verdict.reasonCode, ABORT_REASON_CODE)
        assert.match(verdict.comment, /failureType/)
      }
    })
  }
})

describe('decideRetry [spec: state-machines#8] [open-question 56]', () => {
  const retry = (...list: [string, number][]) => ({
    jobExecutionsRetryConfig: {
      criteriaList: list.map(([failureType, numberOfRetries]) => ({ failureType, numberOfRetries })),
    },
  })
  it('per-type budgets: FAILED and TIMED_OUT each have their own', () => {
    const j = job(retry(['FAILED', 1], ['TIMED_OUT', 2]))
    assert.deepEqual(decideRetry(j, { status: 'FAILED', retryAttempt: 0, timedOutRetries: 0 }), {
      retryAttempt: 1,
      timedOutRetries: 0,
    })
    assert.equal(decideRetry(j, { status: 'FAILED', retryAttempt: 1, timedOutRetries: 0 }), undefined)
    assert.deepEqual(decideRetry(j, { status: 'TIMED_OUT', retryAttempt: 1, timedOutRetries: 0 }), {
      retryAttempt: 2,
      timedOutRetries: 1,
    })
    assert.deepEqual(decideRetry(j, { status: 'TIMED_OUT', retryAttempt: 2, timedOutRetries: 1 }), {
      retryAttempt: 3,
      timedOutRetries: 2,
    })
    assert.equal(decideRetry(j, { status: 'TIMED_OUT', retryAttempt: 3, timedOutRetries: 2 }), undefined)
  })
  it('ALL is one budget for both types', () => {
    const j = job(retry(['ALL', 2]))
    assert.ok(decideRetry(j, { status: 'FAILED', retryAttempt: 0, timedOutRetries: 0 }))
    assert.ok(decideRetry(j, { status: 'TIMED_OUT', retryAttempt: 1, timedOutRetries: 0 }))
    assert.equal(decideRetry(j, { status: 'FAILED', retryAttempt: 2, timedOutRetries: 1 }), undefined)
  })
  it('never for REJECTED, CANCELED, REMOVED, SUCCEEDED; never once the job is not IN_PROGRESS', () => {
    const j = job(retry(['ALL', 10]))
    for (const status of ['REJECTED', 'CANCELED', 'REMOVED', 'SUCCEEDED'] as const)
      assert.equal(decideRetry(j, { status, retryAttempt: 0, timedOutRetries: 0 }), undefined)
    assert.equal(
      decideRetry({ ...j, status: 'CANCELED' }, { status: 'FAILED', retryAttempt: 0, timedOutRetries: 0 }),
      undefined,
    )
  })
  it('a type without a criterion is not retried', () => {
    assert.equal(
      decideRetry(job(retry(['FAILED', 3])), { status: 'TIMED_OUT', retryAttempt: 0, timedOutRetries: 0 }),
      undefined,
    )
  })
  it('property: a chain of failures gets exactly its budget of retries', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 10 }),
        fc.array(fc.boolean(), { maxLength: 20 }),
        (budget, timedOut) => {
          const j = job(retry(['ALL', budget]))
          let ended = { retryAttempt: 0, timedOutRetries: 0 }
          let retries = 0
          for (const t of timedOut) {
            const next = decideRetry(j, { status: t ? 'TIMED_OUT' : 'FAILED', ...ended })
            if (next === undefined) break
            retries += 1
            ended = next
          }
          assert.equal(retries, Math.min(budget, timedOut.length))
        },
      ),
    )
  })
})

describe('timeouts [spec: state-machines#4]', () => {
  it('the effective deadline is the earlier timer; at it the execution is TIMED_OUT, not before', () => {
    const e = running({ inProgressDeadlineMs: T0 + 20 * MINUTE, stepDeadlineMs: T0 + 9 * MINUTE })
    assert.equal(decideTimeout(e, job(), T0 + 9 * MINUTE - 1).kind, 'unchanged')
    const at = decideTimeout(e, job(), T0 + 9 * MINUTE)
    assert.equal(at.kind, 'write')
    if (at.kind === 'write') {
      assert.equal(at.next.status, 'TIMED_OUT')
      assert.equal(at.next.versionNumber, 3)
      assert.equal(at.next.lastUpdatedAtMs, T0 + 9 * MINUTE)
      assert.equal(at.next.inProgressDeadlineMs, undefined)
    }
  })
  it('QUEUED never times out; an execution without a deadline never does', () => {
    assert.equal(
      decideTimeout(running({ status: 'QUEUED', stepDeadlineMs: T0 }), job(), T0 + MINUTE).kind,
      'unchanged',
    )
    assert.equal(decideTimeout(running(), job(), T0 + 10_000 * MINUTE).kind, 'unchanged')
    assert.equal(isOverdue(running({ stepDeadlineMs: T0 }), T0), true)
  })
})

describe('job completion waits for the rollout [spec: state-machines#10]', () => {
  it('a SNAPSHOT job with things still to roll out is not COMPLETED', () => {
    assert.equal(decideJobCompletion(job({ rollout: { ...ROLLOUT_DONE, remaining: 5 } }), T0), undefined)
    assert.equal(decideJobCompletion(job({ rollout: ROLLOUT_NOT_STARTED }), T0), undefined)
    assert.equal(decideJobCompletion(job(), T0)?.status, 'COMPLETED')
  })
})

describe('decideJobTick and nextJobDueMs [spec: state-machines#1] [spec: jobs-control-plane#3.1] [spec: test-clock#3]', () => {
  const startTime = '2030-01-01T13:00'
  const scheduled = job({
    status: 'SCHEDULED',
    rollout: ROLLOUT_NOT_STARTED,
    schedulingConfig: { startTime },
  })
  it('a SCHEDULED job waits for startTime, then starts and resolves its targets', () => {
    const start = Date.UTC(2030, 0, 1, 13)
    assert.equal(nextJobDueMs(scheduled, T0), start)
    assert.equal(decideJobTick(scheduled, start - 1).resolveTargets, false)
    const tick = decideJobTick(scheduled, start)
    assert.equal(tick.resolveTargets, true)
    assert.equal(tick.next.status, 'IN_PROGRESS')
    assert.equal(tick.batch, Number.POSITIVE_INFINITY)
  })
  it('a paced rollout has a batch at t₀ + 60 s, not before', () => {
    const pacing = job({
      jobExecutionsRolloutConfig: { maximumPerMinute: 5 },
      rollout: { started: true, remaining: 20, notified: 5, lastBatchAtMs: T0, ended: false },
    })
    assert.equal(nextJobDueMs(pacing, T0), T0 + ROLLOUT_INTERVAL_MS)
    assert.equal(decideJobTick(pacing, T0 + ROLLOUT_INTERVAL_MS - 1).batch, 0)
    assert.equal(decideJobTick(pacing, T0 + ROLLOUT_INTERVAL_MS).batch, 5)
  })
  it('endTime applies its endBehavior once: STOP_ROLLOUT (the default), CANCEL, FORCE_CANCEL', () => {
    const end = '2030-01-01T14:00'
    const endMs = Date.UTC(2030, 0, 1, 14)
    const rolling = (endBehavior?: string) =>
      job({
        jobExecutionsRolloutConfig: { maximumPerMinute: 1 },
        rollout: { started: true, remaining: 100, notified: 1, lastBatchAtMs: endMs - 1000, ended: false },
        schedulingConfig: { endTime: end, ...(endBehavior === undefined ? {} : { endBehavior }) },
      })
    const stop = decideJobTick(rolling(), endMs)
    assert.equal(stop.stopRollout, true)
    assert.equal(stop.next.status, 'IN_PROGRESS')
    assert.equal(stop.cancelExecutions, undefined)
    assert.equal(nextJobDueMs(stop.next, endMs), undefined)
    assert.deepEqual(decideJobTick(rolling('CANCEL'), endMs).cancelExecutions, { force: false })
    const force = decideJobTick(rolling('FORCE_CANCEL'), endMs)
    assert.deepEqual(force.cancelExecutions, { force: true })
    assert.equal(force.next.status, 'CANCELED')
    assert.equal(force.next.forceCanceled, true)
  })
  it('endBehavior without endTime has no effect [spec: jobs-control-plane#3.1]', () => {
    const j = job({ schedulingConfig: { endBehavior: 'CANCEL' } })
    assert.equal(nextJobDueMs(j, T0), undefined)
    assert.equal(decideJobTick(j, T0 + 1000 * MINUTE).cancelExecutions, undefined)
  })
  it('maintenance windows: rollout only inside; IN_PROGRESS → SCHEDULED when a window closes unfinished, and back', () => {
    const windows = [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes: 60 }]
    const rolling = job({
      jobExecutionsRolloutConfig: { maximumPerMinute: 10 },
      schedulingConfig: { maintenanceWindows: windows },
      rollout: {
        started: true,
        remaining: 1000,
        notified: 10,
        lastBatchAtMs: Date.UTC(2030, 0, 2, 2, 58),
        ended: false,
      },
    })
    const closes = Date.UTC(2030, 0, 2, 3)
    assert.equal(nextJobDueMs(rolling, Date.UTC(2030, 0, 2, 2, 58, 30)), Date.UTC(2030, 0, 2, 2, 59))
    const closed = decideJobTick(rolling, closes)
    assert.equal(closed.next.status, 'SCHEDULED')
    assert.equal(closed.batch, 0)
    assert.equal(nextJobDueMs(closed.next, closes), Date.UTC(2030, 0, 3, 2))
    const reopened = decideJobTick(closed.next, Date.UTC(2030, 0, 3, 2))
    assert.equal(reopened.next.status, 'IN_PROGRESS')
    assert.equal(reopened.batch, 10)
  })
  it('property: nextJobDueMs is never before now', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 100 }),
        fc.integer({ min: 0, max: 10 * MINUTE }),
        (remaining, elapsed) => {
          const j = job({
            jobExecutionsRolloutConfig: { maximumPerMinute: 3 },
            rollout: { started: true, remaining, notified: 0, lastBatchAtMs: T0, ended: false },
          })
          const next = nextJobDueMs(j, T0 + elapsed)
          if (remaining === 0) assert.equal(next, undefined)
          else assert.ok(next !== undefined && next >= T0 + elapsed)
        },
      ),
    )
  })
})
