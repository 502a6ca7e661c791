/** A job's executions per status, as a bar: the segments, their widths and what the numbers say. */

export const STATUSES = [
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
  'TIMED_OUT',
  'CANCELED',
  'REMOVED',
  'IN_PROGRESS',
  'QUEUED',
] as const
export type ExecutionStatus = (typeof STATUSES)[number]
export type Counts = Record<ExecutionStatus, number>

/** Words for each status, as the issue names them. */
export const STATUS_LABELS: Record<ExecutionStatus, string> = {
  QUEUED: 'queued',
  IN_PROGRESS: 'in progress',
  SUCCEEDED: 'succeeded',
  FAILED: 'failed',
  REJECTED: 'rejected',
  TIMED_OUT: 'timed out',
  CANCELED: 'canceled',
  REMOVED: 'removed',
}

/** AWS's `jobProcessDetails` member of each status. */
const DETAIL_MEMBERS: Record<ExecutionStatus, string> = {
  QUEUED: 'numberOfQueuedThings',
  IN_PROGRESS: 'numberOfInProgressThings',
  SUCCEEDED: 'numberOfSucceededThings',
  FAILED: 'numberOfFailedThings',
  REJECTED: 'numberOfRejectedThings',
  TIMED_OUT: 'numberOfTimedOutThings',
  CANCELED: 'numberOfCanceledThings',
  REMOVED: 'numberOfRemovedThings',
}

/** DescribeJob's `jobProcessDetails` → counts (a missing member counts 0). */
export function countsOf(details: Readonly<Record<string, unknown>> | undefined): Counts {
  const counts = {} as Counts
  for (const s of STATUSES) {
    const v = details?.[DETAIL_MEMBERS[s]]
    counts[s] = typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : 0
  }
  return counts
}

export interface Segment {
  readonly status: ExecutionStatus
  readonly count: number
  /** Width in percent of the bar, 0–100; the widths of a non-empty bar add up to exactly 100. */
  readonly percent: number
}

export interface Bar {
  readonly total: number
  /** Executions in a terminal status. */
  readonly done: number
  /** done / total as a whole percent, rounded down (100 only when everything is done). */
  readonly donePercent: number
  /** Non-empty statuses in bar order. */
  readonly segments: readonly Segment[]
}

const TERMINAL: ReadonlySet<ExecutionStatus> = new Set([
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
  'TIMED_OUT',
  'CANCELED',
  'REMOVED',
])

/**
 * The bar of a job: one segment per non-empty status, widths by largest remainder so that they add up
 * to 100 (to 0.1 %) and a status with any execution gets at least a visible sliver.
 */
export function barOf(counts: Counts): Bar {
  const total = STATUSES.reduce((n, s) => n + counts[s], 0)
  const done = STATUSES.reduce((n, s) => n + (TERMINAL.has(s) ? counts[s] : 0), 0)
  if (total === 0) return { total: 0, done: 0, donePercent: 0, segments: [] }
  const present = STATUSES.filter((s) => counts[s] > 0)
  // In tenths of a percent: 1000 units to share.
  const UNITS = 1000
  const exact = present.map((s) => (counts[s] * UNITS) / total)
  const units = exact.map((x) => Math.max(1, Math.floor(x)))
  let left = UNITS - units.reduce((a, b) => a + b, 0)
  // The slivers took room (at most 8 units): from the widest segments.
  while (left < 0) {
    const widest = units.indexOf(Math.max(...units))
    units[widest] = (units[widest] ?? 0) - 1
    left += 1
  }
  const order = exact.map((x, i) => ({ i, r: x - Math.floor(x) })).sort((a, b) => b.r - a.r || a.i - b.i)
  for (const { i } of order) {
    if (left === 0) break
    units[i] = (units[i] ?? 0) + 1
    left -= 1
  }
  return {
    total,
    done,
    donePercent: done === total ? 100 : Math.min(99, Math.floor((done * 100) / total)),
    segments: present.map((status, i) => ({ status, count: counts[status], percent: (units[i] ?? 0) / 10 })),
  }
}
