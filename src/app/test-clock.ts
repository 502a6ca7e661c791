/**
 * The test API of the virtual clock (beyond AWS): read the clock, move it, and empty the service.
 * [spec: test-clock#2]
 */
import { invalidRequest } from '../domain/errors.js'
import type { AppContext } from './context.js'

/** [spec: test-clock#2] at most two years in one advance. */
const MAX_ADVANCE_SECONDS = 2 * 366 * 24 * 3600

export interface ClockView {
  readonly mode: 'system' | 'virtual'
  readonly now: string
  readonly epochMillis: number
}

export function getClock(ctx: AppContext): ClockView {
  const ms = ctx.clock.nowMs()
  return { mode: ctx.time.mode, now: new Date(ms).toISOString(), epochMillis: ms }
}

function requireVirtual(ctx: AppContext, what: string): void {
  if (ctx.time.mode !== 'virtual') {
    throw invalidRequest(
      `${what} needs the virtual clock; this server runs on the system clock (start it with --clock virtual)`,
    )
  }
}

/**
 * Moves the virtual clock forward by `seconds` and answers once every effect due on the way has been
 * applied, in time order. [spec: test-clock#3]
 */
export async function advanceClock(ctx: AppContext, body: unknown): Promise<ClockView> {
  const seconds = (body as { seconds?: unknown } | undefined)?.seconds
  if (
    typeof seconds !== 'number' ||
    !Number.isFinite(seconds) ||
    seconds <= 0 ||
    seconds > MAX_ADVANCE_SECONDS
  ) {
    throw invalidRequest(
      `seconds must be a number greater than 0 and at most ${MAX_ADVANCE_SECONDS} (two years)`,
    )
  }
  requireVirtual(ctx, 'advancing the clock')
  await ctx.time.advanceTo(ctx.clock.nowMs() + Math.round(seconds * 1000))
  return getClock(ctx)
}

/** Empties the service, as a new data directory; the clock keeps its time. [spec: test-clock#2] */
export async function resetService(ctx: AppContext): Promise<Record<string, never>> {
  requireVirtual(ctx, 'reset')
  await ctx.store.reset()
  return {}
}
