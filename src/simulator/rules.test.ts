/**
 * The simulator's pure rules: outcome draws, job plans, duration parsing, step splitting, thing names.
 * Table-driven, with fast-check properties.
 */
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import {
  checkRates,
  deviceRandom,
  drawOutcome,
  finalDetails,
  mulberry32,
  parseDuration,
  parseDurationRange,
  planJob,
  stepDelays,
  stepDetails,
  THING_NAME,
  thingNames,
} from './rules.js'
import type { OutcomeRates } from './rules.js'

const rates = (success: number, reject: number, crash: number): OutcomeRates => ({ success, reject, crash })

/** Three shares in [0, 1] that add up to at most 1. */
const arbitraryRates = fc
  .tuple(fc.double({ min: 0, max: 1, noNaN: true }), fc.double({ min: 0, max: 1, noNaN: true }))
  .chain(([a, b]) => {
    const success = a
    const reject = (1 - success) * b
    return fc
      .double({ min: 0, max: Math.max(0, 1 - success - reject), noNaN: true })
      .map((crash) => rates(success, reject, crash))
  })

describe('mulberry32 and deviceRandom', () => {
  it('draws in [0, 1), the same sequence for the same seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 32 - 1 }), (seed) => {
        const a = mulberry32(seed)
        const b = mulberry32(seed)
        for (let i = 0; i < 20; i += 1) {
          const x = a()
          assert.ok(x >= 0 && x < 1)
          assert.equal(x, b())
        }
      }),
    )
  })
  it('gives each thing a stream of its own, fixed by the seed and the name', () => {
    const first = (seed: number, name: string) => deviceRandom(seed, name)()
    assert.equal(first(7, 'sim-0001'), first(7, 'sim-0001'))
    assert.notEqual(first(7, 'sim-0001'), first(7, 'sim-0002'))
    assert.notEqual(first(7, 'sim-0001'), first(8, 'sim-0001'))
  })
  it('is roughly uniform: 10,000 draws fill ten buckets within 20 % of a tenth', () => {
    const random = mulberry32(42)
    const buckets = Array.from({ length: 10 }, () => 0)
    for (let i = 0; i < 10_000; i += 1) buckets[Math.floor(random() * 10)]! += 1
    for (const count of buckets) assert.ok(count > 800 && count < 1200, `bucket ${count}`)
  })
})

describe('drawOutcome', () => {
  const table: [number, OutcomeRates, string][] = [
    [0, rates(1, 0, 0), 'SUCCEEDED'],
    [0.999, rates(1, 0, 0), 'SUCCEEDED'],
    [0, rates(0, 1, 0), 'REJECTED'],
    [0.5, rates(0, 0, 1), 'CRASH'],
    [0.5, rates(0, 0, 0), 'FAILED'],
    [0.94, rates(0.95, 0.01, 0.01), 'SUCCEEDED'],
    [0.955, rates(0.95, 0.01, 0.01), 'REJECTED'],
    [0.965, rates(0.95, 0.01, 0.01), 'CRASH'],
    [0.975, rates(0.95, 0.01, 0.01), 'FAILED'],
  ]
  for (const [u, r, expected] of table) {
    it(`u=${u}, success ${r.success} reject ${r.reject} crash ${r.crash}: ${expected}`, () => {
      assert.equal(drawOutcome(u, r), expected)
    })
  }
  it('over many draws, each outcome comes about as often as its share', () => {
    fc.assert(
      fc.property(arbitraryRates, fc.integer(), (r, seed) => {
        const random = mulberry32(seed)
        const n = 4000
        const counts = { SUCCEEDED: 0, REJECTED: 0, CRASH: 0, FAILED: 0 }
        for (let i = 0; i < n; i += 1) counts[drawOutcome(random(), r)] += 1
        const failure = 1 - r.success - r.reject - r.crash
        // Five standard deviations of a binomial share of 4000 draws is at most 0.04.
        for (const [outcome, share] of [
          ['SUCCEEDED', r.success],
          ['REJECTED', r.reject],
          ['CRASH', r.crash],
          ['FAILED', failure],
        ] as const)
          assert.ok(Math.abs(counts[outcome] / n - share) < 0.04, `${outcome} ${counts[outcome]} of ${n}`)
      }),
      { numRuns: 30 },
    )
  })
  it('a share of 0 never comes up', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true }), (u) => {
        assert.equal(drawOutcome(u, rates(1, 0, 0)), 'SUCCEEDED')
        assert.notEqual(drawOutcome(u, rates(0.5, 0, 0.5)), 'REJECTED')
        assert.notEqual(drawOutcome(u, rates(0.5, 0.5, 0)), 'FAILED')
      }),
    )
  })
})

describe('checkRates', () => {
  const table: [OutcomeRates, RegExp | undefined][] = [
    [rates(1, 0, 0), undefined],
    [rates(0.7, 0.2, 0.1), undefined],
    [rates(0, 0, 0), undefined],
    [rates(1.5, 0, 0), /success rate must be 0\.\.1/],
    [rates(0.5, -0.1, 0), /reject rate must be 0\.\.1/],
    [rates(0.5, 0, Number.NaN), /crash rate must be 0\.\.1/],
    [rates(0.9, 0.2, 0), /add up to 1\.1, more than 1/],
  ]
  for (const [r, expected] of table) {
    it(`${JSON.stringify(r)}: ${expected === undefined ? 'usable' : String(expected)}`, () => {
      const problem = checkRates(r)
      if (expected === undefined) assert.equal(problem, undefined)
      else assert.match(problem ?? '', expected)
    })
  }
})

describe('stepDelays', () => {
  const table: [number, number, number[]][] = [
    [3000, 3, [750, 750, 750, 750]],
    [10, 3, [3, 3, 2, 2]],
    [5, 0, [5]],
    [0, 2, [0, 0, 0]],
  ]
  for (const [duration, steps, expected] of table) {
    it(`${duration} ms in ${steps} steps: ${expected.join(', ')}`, () => {
      assert.deepEqual(stepDelays(duration, steps), expected)
    })
  }
  it('steps + 1 whole waits, adding up to the duration, differing by at most 1 ms', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000_000 }), fc.integer({ min: 0, max: 100 }), (d, steps) => {
        const delays = stepDelays(d, steps)
        assert.equal(delays.length, steps + 1)
        assert.equal(
          delays.reduce((a, b) => a + b, 0),
          d,
        )
        for (const delay of delays) assert.ok(Number.isInteger(delay) && delay >= 0)
        assert.ok(Math.max(...delays) - Math.min(...delays) <= 1)
      }),
    )
  })
})

describe('planJob', () => {
  const options = (r: OutcomeRates, min = 100, max = 200, progressSteps = 3) => ({
    rates: r,
    durationMs: { min, max },
    progressSteps,
  })
  it('draws a duration in the range, split into steps + 1 waits; the crash point within the steps', () => {
    fc.assert(
      fc.property(
        arbitraryRates,
        fc.integer(),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 20 }),
        (r, seed, a, b, steps) => {
          const [min, max] = a <= b ? [a, b] : [b, a]
          const plan = planJob(mulberry32(seed), options(r, min, max, steps))
          assert.ok(plan.durationMs >= min && plan.durationMs <= max)
          assert.deepEqual(plan.delaysMs, stepDelays(plan.durationMs, steps))
          assert.ok(plan.crashAfterUpdates >= 0 && plan.crashAfterUpdates <= steps)
          if (plan.outcome !== 'CRASH') assert.equal(plan.crashAfterUpdates, 0)
        },
      ),
    )
  })
  it('always takes three draws, so the next job draws the same whatever this one was', () => {
    fc.assert(
      fc.property(arbitraryRates, arbitraryRates, fc.integer(), (r1, r2, seed) => {
        const a = mulberry32(seed)
        const b = mulberry32(seed)
        planJob(a, options(r1))
        planJob(b, options(r2))
        assert.equal(a(), b())
      }),
    )
  })
  it('a fixed duration (min = max) is that duration', () => {
    assert.equal(planJob(mulberry32(1), options(rates(1, 0, 0), 500, 500)).durationMs, 500)
  })
})

describe('statusDetails', () => {
  it('steps read "i/N"; no steps, no step key; the final update says the result', () => {
    assert.deepEqual(stepDetails(2, 3), { step: '2/3' })
    assert.deepEqual(stepDetails(0, 0), {})
    assert.deepEqual(finalDetails('SUCCEEDED', 3), { step: '3/3', result: 'simulated success' })
    assert.deepEqual(finalDetails('FAILED', 0), { result: 'simulated failure' })
    assert.deepEqual(finalDetails('REJECTED', 3), { result: 'simulated rejection' })
  })
  it('keys and values fit the model: key [a-zA-Z0-9:_-]+, value without control characters [spec: jobs-device-api#1.1]', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 1000 }), (i, n) => {
        for (const details of [
          stepDetails(Math.min(i, n), n),
          finalDetails('SUCCEEDED', n),
          finalDetails('FAILED', n),
        ])
          for (const [k, v] of Object.entries(details)) {
            assert.match(k, /^[a-zA-Z0-9:_-]{1,128}$/)
            assert.match(v, /^[^\p{C}]{1,1024}$/u)
          }
      }),
    )
  })
})

describe('parseDuration and parseDurationRange', () => {
  const table: [string, { min: number; max: number } | RegExp][] = [
    ['2s..20s', { min: 2000, max: 20_000 }],
    ['5s', { min: 5000, max: 5000 }],
    ['250ms', { min: 250, max: 250 }],
    ['1.5s..2m', { min: 1500, max: 120_000 }],
    ['0ms..10ms', { min: 0, max: 10 }],
    [' 3s ', { min: 3000, max: 3000 }],
    ['5', /is not a duration/],
    ['5h', /is not a duration/],
    ['-1s', /is not a duration/],
    ['', /is not a duration/],
    ['2s..', /is not a duration/],
    ['20s..2s', /the first duration is longer/],
    ['1s..2s..3s', /not a duration or a range/],
  ]
  for (const [text, expected] of table) {
    it(`${JSON.stringify(text)}`, () => {
      if (expected instanceof RegExp) assert.throws(() => parseDurationRange(text), expected)
      else assert.deepEqual(parseDurationRange(text), expected)
    })
  }
  it('reads back what it is given, in each unit', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1_000_000 }), (n) => {
        assert.equal(parseDuration(`${n}ms`), n)
        assert.equal(parseDuration(`${n}s`), n * 1000)
        assert.equal(parseDuration(`${n}m`), n * 60_000)
      }),
    )
  })
})

describe('thingNames', () => {
  it('numbers from 1 with at least four digits, as wide as the count', () => {
    assert.deepEqual(thingNames('sim-', 3), ['sim-0001', 'sim-0002', 'sim-0003'])
    assert.equal(thingNames('d', 12_345).at(-1), 'd12345')
    assert.equal(thingNames('d', 12_345)[0], 'd00001')
  })
  it('unique names that sort in creation order, valid thing names for a valid prefix', () => {
    fc.assert(
      fc.property(fc.stringMatching(/^[a-zA-Z0-9:_-]{0,20}$/), fc.integer({ min: 1, max: 2000 }), (p, n) => {
        const names = thingNames(p, n)
        assert.equal(new Set(names).size, n)
        assert.deepEqual([...names].sort(), names)
        for (const name of names) assert.match(name, THING_NAME)
      }),
      { numRuns: 50 },
    )
  })
})
