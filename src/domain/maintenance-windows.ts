/**
 * Maintenance windows of a job (`schedulingConfig.maintenanceWindows`): their validation, whether
 * one is open at an instant, and the next window starts (DescribeJob's `scheduledJobRollouts`).
 * [spec: newer-in-latest-sdk#control-plane]
 *
 * A window starts at every occurrence of its AWS cron expression, `cron(minutes hours day-of-month
 * month day-of-week year)`, in UTC, and stays open for `durationInMinutes`: an occurrence covers
 * [start, start + duration). The expressions are evaluated by croner, given AWS's six fields behind a
 * fixed seconds field of 0, with Quartz weekday numbers (1-7 = SUN-SAT, as AWS numbers them). The few
 * AWS rules croner does not know are checked here first (see `toCronerPattern`).
 *
 * Every function takes the instant it reasons about; none reads the clock.
 */
import { Cron } from 'croner'
import { invalidRequest } from './errors.js'

export interface MaintenanceWindow {
  readonly startTime: string
  readonly durationInMinutes: number
}

/** What `windowStateAt` sees at one instant. */
export interface WindowState {
  readonly open: boolean
  /** When open: the end of the open period that contains the instant (see `windowStateAt`). */
  readonly closesAtMs?: number
  /** When closed: the next occurrence start, absent when no window fires again. */
  readonly nextOpenAtMs?: number
}

/** [spec: newer-in-latest-sdk#control-plane] `durationInMinutes` 1..1430. */
export const MAX_WINDOW_DURATION_MINUTES = 1430
/** [spec: newer-in-latest-sdk#control-plane] `startTime` 1..256 characters. */
export const MAX_START_TIME_CHARS = 256
/**
 * AWS documents no limit on the number of windows. This bound is a choice of this project, a sanity
 * limit that keeps `windowStateAt` cheap; it is not AWS's.
 */
export const MAX_MAINTENANCE_WINDOWS = 10
/** [spec: newer-in-latest-sdk#control-plane] `scheduledJobRollouts` holds the next seven starts. */
export const SCHEDULED_JOB_ROLLOUTS = 7
/**
 * How far past the instant `windowStateAt` follows windows that overlap or touch, so that windows
 * open around the clock cannot make it search forever. 7 days is a choice of this project: a whole
 * weekly schedule, and far beyond any single window (1430 minutes).
 */
export const MAX_OPEN_PERIOD_MS = 7 * 24 * 60 * 60_000
/**
 * How many merge steps `windowStateAt` takes at most, a choice of this project. Each step takes, per
 * window, the occurrence that reaches furthest past the end found so far, so daily or weekly windows
 * need a few steps; only windows firing every minute or so with short durations meet this bound. It
 * keeps the worst call (10 such windows) to 10 × 200 croner look-ups, some 50 ms.
 */
export const MAX_MERGE_STEPS = 200

const MEMBER = 'schedulingConfig.maintenanceWindows'
const MINUTE_MS = 60_000
/**
 * AWS's six fields and the values each takes (EventBridge cron reference; day-of-week 1-7 = SUN-SAT).
 * croner checks the ranges too, but its messages count days and months from 0.
 */
const FIELDS = [
  { name: 'minutes', min: 0, max: 59 },
  { name: 'hours', min: 0, max: 23 },
  { name: 'day-of-month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12 },
  { name: 'day-of-week', min: 1, max: 7 },
  { name: 'year', min: 1970, max: 2199 },
] as const
const DAY_OF_MONTH = 2
const DAY_OF_WEEK = 4
const YEAR = 5
/** The first instant of AWS's first year. */
const FIRST_INSTANT_MS = Date.UTC(FIELDS[YEAR].min, 0, 1)
/** The characters of AWS cron fields: values, names, and the wildcards `, - * / ? L W #`. */
const FIELD_CHARS = /^[0-9A-Za-z*?,/#-]+$/
const CRONER_OPTIONS = {
  mode: '7-part',
  alternativeWeekdays: true,
  // AWS accepts `0/15` (from 0, every 15); croner takes that form only with this flag.
  sloppyRanges: true,
  // Times are UTC [spec: newer-in-latest-sdk#control-plane]; a fixed offset keeps the host's zone out.
  utcOffset: 0,
} as const

/**
 * Translates an AWS cron expression to croner's seven-field pattern, or throws an Error saying why it
 * is not one. Checked here because croner accepts them: `?` outside the day fields (croner reads it
 * as `*`), both or neither day field being `?` (AWS: "If you specify a value or a * in one of the
 * fields, you must use a ? in the other"), weekday 8 (croner reads it as Sunday), years outside
 * AWS's 1970-2199, and croner's own extensions (`+`, `@daily`). Value ranges are checked here for
 * every field so that messages name AWS's fields. Rewritten: a day-of-week of `L` alone, AWS's "last
 * day of the week", is Saturday (7), which croner cannot read.
 */
function toCronerPattern(expression: string): string {
  const m = /^cron\((.*)\)$/s.exec(expression)
  if (m === null) throw new Error(`it must have the form cron(${FIELDS.map((f) => f.name).join(' ')})`)
  const fields = (m[1] ?? '').trim().split(/\s+/)
  if (fields.length !== FIELDS.length) {
    throw new Error(`it has ${fields.length} fields where AWS cron expressions have six`)
  }
  FIELDS.forEach(({ name, min, max }, i) => {
    const f = fields[i] ?? ''
    if (!FIELD_CHARS.test(f)) throw new Error(`the ${name} field '${f}' holds characters AWS does not allow`)
    if (f.includes('?') && (f !== '?' || (i !== DAY_OF_MONTH && i !== DAY_OF_WEEK))) {
      throw new Error(`'?' may only stand alone in the day-of-month or day-of-week field, not in '${f}'`)
    }
    // The values, leaving out the n of `#n` (nth weekday of the month) and of `/n` (a step).
    const values = f.replace(/[#/]\d+/g, '').match(/\d+/g) ?? []
    if (values.some((v) => Number(v) < min || Number(v) > max)) {
      throw new Error(`${name} values are ${min}-${max}, not '${f}'`)
    }
  })
  if ((fields[DAY_OF_MONTH] === '?') === (fields[DAY_OF_WEEK] === '?')) {
    throw new Error('exactly one of the day-of-month and day-of-week fields must be ?')
  }
  if (fields[DAY_OF_WEEK]?.toUpperCase() === 'L') fields[DAY_OF_WEEK] = '7'
  return `0 ${fields.join(' ')}`
}

interface Compiled {
  readonly cron: Cron
  /** Whether the expression fires at all; found on first use, since an expression that never
   * fires (`cron(0 0 31 2 ? *)`) makes croner search to year 9999, some tens of milliseconds. */
  firesEver?: boolean
}

/** Parsed expressions by their text; bounded, since the texts come from requests. */
const compiled = new Map<string, Compiled>()
const COMPILED_LIMIT = 500

function compile(expression: string): Compiled {
  const hit = compiled.get(expression)
  if (hit !== undefined) return hit
  let cron: Cron
  try {
    cron = new Cron(toCronerPattern(expression), CRONER_OPTIONS)
  } catch (e) {
    // croner and toCronerPattern throw plain Errors; their text becomes the reason in the message.
    throw new Error(String(e instanceof Error ? e.message : e).replace(/^CronPattern: /, ''), { cause: e })
  }
  if (compiled.size >= COMPILED_LIMIT) {
    const oldest = compiled.keys().next()
    if (oldest.done !== true) compiled.delete(oldest.value)
  }
  const made: Compiled = { cron }
  compiled.set(expression, made)
  return made
}

const obj = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined

/**
 * Checks `schedulingConfig.maintenanceWindows` as given in a request; throws InvalidRequestException
 * naming the first offending field. An expression that never fires again (a past year) is accepted.
 * [spec: newer-in-latest-sdk#control-plane]
 */
export function checkMaintenanceWindows(value: unknown): void {
  if (!Array.isArray(value)) throw invalidRequest(`${MEMBER} must be a list of maintenance windows`)
  // A given list must hold a window: AWS is understood to require at least one item when the member is
  // given (unconfirmed: the SDK types carry no length), and a job whose list is empty would never be
  // in a window, so it could never roll out.
  if (value.length === 0) throw invalidRequest(`${MEMBER} must hold at least one maintenance window`)
  if (value.length > MAX_MAINTENANCE_WINDOWS) {
    throw invalidRequest(`${MEMBER} may hold at most ${MAX_MAINTENANCE_WINDOWS} maintenance windows`)
  }
  value.forEach((entry: unknown, i) => {
    const at = `${MEMBER}[${i}]`
    const w = obj(entry)
    if (w === undefined) throw invalidRequest(`${at} must be an object with startTime and durationInMinutes`)
    const start = w['startTime']
    if (start === undefined) throw invalidRequest(`${at}.startTime is required`)
    if (typeof start !== 'string' || start.length < 1 || start.length > MAX_START_TIME_CHARS) {
      throw invalidRequest(`${at}.startTime must be a string of 1..${MAX_START_TIME_CHARS} characters`)
    }
    try {
      compile(start)
    } catch (e) {
      // compile's Error says why the expression is invalid; it becomes the end of the message.
      throw invalidRequest(
        `${at}.startTime is not a valid cron expression: ${e instanceof Error ? e.message : String(e)}`,
      )
    }
    const minutes = w['durationInMinutes']
    if (minutes === undefined) throw invalidRequest(`${at}.durationInMinutes is required`)
    if (
      typeof minutes !== 'number' ||
      !Number.isInteger(minutes) ||
      minutes < 1 ||
      minutes > MAX_WINDOW_DURATION_MINUTES
    ) {
      throw invalidRequest(`${at}.durationInMinutes must be an integer 1..${MAX_WINDOW_DURATION_MINUTES}`)
    }
  })
}

interface Live {
  readonly cron: Cron
  readonly durationMs: number
}

/** The windows that fire at all, compiled. Throws on an expression checkMaintenanceWindows refuses. */
function live(windows: readonly MaintenanceWindow[]): Live[] {
  return windows.flatMap((w) => {
    const c = compile(w.startTime)
    c.firesEver ??= c.cron.nextRun(new Date(FIRST_INSTANT_MS - 1)) !== null
    return c.firesEver ? [{ cron: c.cron, durationMs: w.durationInMinutes * MINUTE_MS }] : []
  })
}

/** The latest occurrence start at or before `tMs`. croner's previous runs are strictly before its
 * reference, but include one earlier in the same second, so `tMs + 1` includes a start at `tMs`. */
const latestStartAtOrBefore = (w: Live, tMs: number): number | undefined =>
  w.cron.previousRuns(1, new Date(tMs + 1))[0]?.getTime()

/** The earliest occurrence start strictly after `tMs` (croner's next run is strictly after). */
const earliestStartAfter = (w: Live, tMs: number): number | undefined =>
  w.cron.nextRun(new Date(tMs))?.getTime()

/**
 * Whether any window is open at `tMs`. Occurrences are [start, start + duration): open at the start
 * instant, closed at the end instant; one that began before `tMs` (even the day before) and has not
 * ended counts.
 *
 * When open, `closesAtMs` is the end of the union of the occurrences, of all windows, that contain
 * `tMs` or overlap or touch that period, so windows that overlap make one longer period. The union is
 * followed at most `MAX_OPEN_PERIOD_MS` (7 days) past `tMs` and for `MAX_MERGE_STEPS` steps; where a
 * bound stops it, `closesAtMs` is where it stopped and the windows may still be open then, so a caller
 * asks again at that time and decides by `open`, never by `closesAtMs` alone.
 *
 * When closed, `nextOpenAtMs` is the earliest occurrence start after `tMs`, absent when no window
 * fires again (an expression for a past year, or one that never fires).
 *
 * The windows must have passed `checkMaintenanceWindows`; an expression it refuses throws.
 * [spec: newer-in-latest-sdk#control-plane]
 */
export function windowStateAt(windows: readonly MaintenanceWindow[], tMs: number): WindowState {
  const ws = live(windows)
  // Each window's latest start at or before tMs has the latest end of its occurrences that contain tMs.
  const coverEnd = (atMs: number): number | undefined => {
    let end: number | undefined
    for (const w of ws) {
      const start = latestStartAtOrBefore(w, atMs)
      if (start !== undefined && start + w.durationMs > atMs)
        end = Math.max(end ?? atMs, start + w.durationMs)
    }
    return end
  }
  let end = coverEnd(tMs)
  if (end === undefined) {
    const starts = ws.map((w) => earliestStartAfter(w, tMs)).filter((s) => s !== undefined)
    return starts.length === 0 ? { open: false } : { open: false, nextOpenAtMs: Math.min(...starts) }
  }
  const limit = tMs + MAX_OPEN_PERIOD_MS
  // A start exactly at `end` counts (latestStartAtOrBefore includes it): touching windows merge.
  for (let step = 0; step < MAX_MERGE_STEPS && end < limit; step++) {
    const further = coverEnd(end)
    if (further === undefined) break
    end = further
  }
  return { open: true, closesAtMs: Math.min(end, limit) }
}

/**
 * The next `count` window starts at or after `fromMs`, across all windows, ascending and without
 * repeats: DescribeJob's `scheduledJobRollouts[].startTime` (`count` 7 there).
 *
 * Each start is formatted `YYYY-MM-DDTHH:MM` in UTC (e.g. `2030-01-31T02:00`): AWS types the member as
 * a plain string and documents no format for it, and this is the grammar AWS documents for
 * `schedulingConfig.startTime` ("YYYY-MM-DD for the date and HH:MM for the time"). Cron starts are
 * whole minutes, so nothing is lost.
 * [spec: newer-in-latest-sdk#control-plane]
 */
export function nextWindowStarts(
  windows: readonly MaintenanceWindow[],
  fromMs: number,
  count = SCHEDULED_JOB_ROLLOUTS,
): string[] {
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`count must be a whole number, not ${count}`)
  const starts = new Set<number>()
  for (const w of live(windows)) {
    // croner's next runs are strictly after their reference; a millisecond earlier includes `fromMs`.
    for (const d of w.cron.nextRuns(count, new Date(fromMs - 1))) starts.add(d.getTime())
  }
  return [...starts]
    .sort((a, b) => a - b)
    .slice(0, count)
    .map((ms) => new Date(ms).toISOString().slice(0, 16))
}
