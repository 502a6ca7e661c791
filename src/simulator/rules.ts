/**
 * The simulator's rules, pure: a seeded random stream per device, what a device does with a job (its
 * outcome, how long it takes, when it reports progress, when it crashes), and the parsing of the CLI's
 * rates and durations. No I/O, no clock; the device code (device.ts) only carries these plans out.
 */

/** Shares of the jobs a device ends each way; what is left over ends FAILED. */
export interface OutcomeRates {
  readonly success: number
  readonly reject: number
  readonly crash: number
}

/** What a device does with one job. */
export type Outcome = 'SUCCEEDED' | 'FAILED' | 'REJECTED' | 'CRASH'

/** A uniform draw in [0, 1). */
export type Random = () => number

/**
 * mulberry32 (Tommy Ettinger's 32-bit generator, public domain): a tiny seeded PRNG, good enough for
 * outcome draws and reproducible on every platform.
 */
export function mulberry32(seed: number): Random {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** FNV-1a, 32 bits (its offset basis and prime): mixes a thing name into the run's seed. */
function fnv1a(text: string, basis = 0x811c9dc5): number {
  let h = basis >>> 0
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i)
    h = Math.imul(h, 0x01000193) >>> 0
  }
  return h
}

/**
 * A device's own random stream: the run's seed and the thing name decide it, so a device draws the same
 * outcomes in the same order whatever the other devices do and however the scheduler interleaves them.
 */
export function deviceRandom(seed: number, thingName: string): Random {
  return mulberry32(fnv1a(thingName, (0x811c9dc5 ^ seed) >>> 0))
}

/** The outcome a uniform draw `u` in [0, 1) picks: success, reject, crash, then failure, in that order. */
export function drawOutcome(u: number, rates: OutcomeRates): Outcome {
  if (u < rates.success) return 'SUCCEEDED'
  if (u < rates.success + rates.reject) return 'REJECTED'
  if (u < rates.success + rates.reject + rates.crash) return 'CRASH'
  return 'FAILED'
}

/** Why the rates cannot be used (each 0..1, together at most 1), or undefined when they can. */
export function checkRates(rates: OutcomeRates): string | undefined {
  for (const [name, value] of Object.entries(rates)) {
    if (!Number.isFinite(value) || value < 0 || value > 1) return `${name} rate must be 0..1, not ${value}`
  }
  const sum = rates.success + rates.reject + rates.crash
  // Shares like 0.7 + 0.2 + 0.1 add up to 1.0000000000000002 in binary floating point.
  if (sum > 1 + 1e-9) return `the rates add up to ${round(sum)}, more than 1`
  return undefined
}

const round = (n: number): number => Math.round(n * 1e9) / 1e9

/**
 * `durationMs` split into `steps + 1` waits (before each progress update, then before the final
 * update), as equal as whole milliseconds allow; they add up to `durationMs` exactly.
 */
export function stepDelays(durationMs: number, steps: number): number[] {
  const parts = steps + 1
  const base = Math.floor(durationMs / parts)
  const extra = durationMs - base * parts
  // The first `extra` waits are one millisecond longer.
  return Array.from({ length: parts }, (_, i) => base + (i < extra ? 1 : 0))
}

/** A job as a device will run it. */
export interface JobPlan {
  readonly outcome: Outcome
  /** From start to the final update (or the crash point's step), drawn uniformly in the range. */
  readonly durationMs: number
  /** `progressSteps + 1` waits: before each IN_PROGRESS update, and before the final update. */
  readonly delaysMs: readonly number[]
  /** For a crash: the progress updates sent before the device goes silent (0..progressSteps). */
  readonly crashAfterUpdates: number
}

export interface PlanOptions {
  readonly rates: OutcomeRates
  readonly durationMs: { readonly min: number; readonly max: number }
  readonly progressSteps: number
}

/**
 * Plans one job: always three draws (outcome, duration, crash point) in that order, so a device's later
 * jobs draw the same numbers whatever the outcome of an earlier one.
 */
export function planJob(random: Random, options: PlanOptions): JobPlan {
  const outcome = drawOutcome(random(), options.rates)
  const { min, max } = options.durationMs
  const durationMs = min + Math.floor(random() * (max - min + 1))
  const crashAfterUpdates = Math.floor(random() * (options.progressSteps + 1))
  return {
    outcome,
    durationMs,
    delaysMs: stepDelays(durationMs, options.progressSteps),
    crashAfterUpdates: outcome === 'CRASH' ? crashAfterUpdates : 0,
  }
}

/** `{"step": "2/3"}`: how far a job is, as statusDetails carry it (none when there are no steps). */
export function stepDetails(done: number, steps: number): Record<string, string> {
  return steps === 0 ? {} : { step: `${done}/${steps}` }
}

/** The statusDetails of a device's final update. */
export function finalDetails(outcome: Exclude<Outcome, 'CRASH'>, steps: number): Record<string, string> {
  if (outcome === 'REJECTED') return { result: 'simulated rejection' }
  return {
    ...stepDetails(steps, steps),
    result: outcome === 'SUCCEEDED' ? 'simulated success' : 'simulated failure',
  }
}

const UNIT_MS = { ms: 1, s: 1000, m: 60_000 } as const
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m)$/

/** `250ms`, `5s`, `1.5s`, `2m` in whole milliseconds; throws a RangeError saying what is expected. */
export function parseDuration(text: string): number {
  const match = DURATION.exec(text.trim())
  if (match === null)
    throw new RangeError(
      `${JSON.stringify(text)} is not a duration: a number with ms, s or m (250ms, 5s, 2m)`,
    )
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS])
}

/** `2s..20s` (a uniform range) or `5s` (always that long); throws a RangeError when min > max. */
export function parseDurationRange(text: string): { min: number; max: number } {
  const parts = text.split('..')
  if (parts.length > 2) throw new RangeError(`${JSON.stringify(text)} is not a duration or a range MIN..MAX`)
  const min = parseDuration(parts[0] ?? '')
  const max = parts[1] === undefined ? min : parseDuration(parts[1])
  if (min > max) throw new RangeError(`${JSON.stringify(text)}: the first duration is longer than the second`)
  return { min, max }
}

/** The iot model's ThingName: length 1..128, pattern `[a-zA-Z0-9:_-]+`. */
export const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/

/** `sim-0001` … `sim-0100`: numbered from 1, at least four digits, as wide as the largest number. */
export function thingNames(prefix: string, count: number): string[] {
  const width = Math.max(4, String(count).length)
  return Array.from({ length: count }, (_, i) => `${prefix}${String(i + 1).padStart(width, '0')}`)
}
