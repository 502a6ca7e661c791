import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import type { Counts } from './progress.js'
import { STATUSES, barOf, countsOf } from './progress.js'

const zero = (): Counts => ({
  QUEUED: 0,
  IN_PROGRESS: 0,
  SUCCEEDED: 0,
  FAILED: 0,
  REJECTED: 0,
  TIMED_OUT: 0,
  CANCELED: 0,
  REMOVED: 0,
})

describe('progress bar math', () => {
  it('reads DescribeJob jobProcessDetails, missing or odd members as 0', () => {
    const counts = countsOf({
      numberOfSucceededThings: 3,
      numberOfFailedThings: 1,
      numberOfQueuedThings: 'x',
      numberOfInProgressThings: -2,
    })
    assert.deepEqual(counts, { ...zero(), SUCCEEDED: 3, FAILED: 1 })
    assert.deepEqual(countsOf(undefined), zero())
  })

  it('an empty job has no segments', () => {
    assert.deepEqual(barOf(zero()), { total: 0, done: 0, donePercent: 0, segments: [] })
  })

  it('splits 100% by status, terminal ones counting as done', () => {
    const bar = barOf({ ...zero(), SUCCEEDED: 50, FAILED: 25, QUEUED: 25 })
    assert.equal(bar.total, 100)
    assert.equal(bar.done, 75)
    assert.equal(bar.donePercent, 75)
    assert.deepEqual(
      bar.segments.map((s) => [s.status, s.percent]),
      [
        ['SUCCEEDED', 50],
        ['FAILED', 25],
        ['QUEUED', 25],
      ],
    )
  })

  it('shows 100% only when everything is done, and a sliver for one in 100,000', () => {
    const bar = barOf({ ...zero(), SUCCEEDED: 99_999, IN_PROGRESS: 1 })
    assert.equal(bar.donePercent, 99)
    assert.equal(bar.segments.find((s) => s.status === 'IN_PROGRESS')?.percent, 0.1)
    assert.equal(barOf({ ...zero(), SUCCEEDED: 1 }).donePercent, 100)
  })

  it('widths always add up to 100 and every non-empty status is visible', () => {
    const count = fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 1_000_000 }))
    fc.assert(
      fc.property(fc.tuple(...STATUSES.map(() => count)), (values) => {
        const counts = zero()
        STATUSES.forEach((s, i) => (counts[s] = values[i] ?? 0))
        const bar = barOf(counts)
        if (bar.total === 0) return bar.segments.length === 0
        const sum = bar.segments.reduce((n, s) => n + s.percent * 10, 0)
        return (
          Math.round(sum) === 1000 &&
          bar.segments.every((s) => s.percent >= 0.1 && s.count > 0) &&
          bar.segments.length === STATUSES.filter((s) => counts[s] > 0).length &&
          bar.donePercent >= 0 &&
          bar.donePercent <= 100
        )
      }),
    )
  })
})
