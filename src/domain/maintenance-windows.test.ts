import { Cron } from 'croner'
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ServiceError } from './errors.js'
import type { MaintenanceWindow } from './maintenance-windows.js'
import {
  MAX_MAINTENANCE_WINDOWS,
  MAX_OPEN_PERIOD_MS,
  checkMaintenanceWindows,
  nextWindowStarts,
  windowStateAt,
} from './maintenance-windows.js'

const TAG = '[spec: newer-in-latest-sdk#control-plane]'
const MINUTE = 60_000
const at = (iso: string): number => {
  const ms = Date.parse(iso)
  assert.ok(!Number.isNaN(ms), iso)
  return ms
}
const win = (startTime: string, durationInMinutes: number): MaintenanceWindow => ({
  startTime,
  durationInMinutes,
})
const DAILY_2AM = [win('cron(0 2 * * ? *)', 60)]

const rejects = (value: unknown, message: RegExp): void => {
  assert.throws(
    () => checkMaintenanceWindows(value),
    (e: unknown) => {
      assert.ok(e instanceof ServiceError, String(e))
      assert.equal(e.code, 'InvalidRequestException')
      assert.match(e.message, message)
      return true
    },
  )
}

describe(`checkMaintenanceWindows ${TAG}`, () => {
  const valid = [
    'cron(0 0 * * ? *)',
    'cron(0 2 * * ? *)',
    'cron(0 22 ? * MON-FRI *)',
    'cron(0/15 * * * ? *)',
    'cron(*/5 8-17 ? * 2-6 *)',
    'cron(0 0 L * ? *)',
    'cron(0 0 15W * ? *)',
    'cron(0 0 ? * 6#3 *)',
    'cron(0 0 ? * 6L *)',
    'cron(0 0 ? * L *)',
    'cron(30 1 1,15 JAN-MAR ? 2025-2030)',
    // Never fires in the future, or at all: accepted.
    'cron(0 0 1 1 ? 2020)',
    'cron(0 0 31 2 ? *)',
  ]
  for (const startTime of valid) {
    it(`accepts ${startTime} ${TAG}`, () => {
      checkMaintenanceWindows([win(startTime, 60)])
    })
  }

  it(`accepts durations 1 and 1430 and ${MAX_MAINTENANCE_WINDOWS} windows ${TAG}`, () => {
    checkMaintenanceWindows([win('cron(0 2 * * ? *)', 1), win('cron(0 3 * * ? *)', 1430)])
    checkMaintenanceWindows(
      Array.from({ length: MAX_MAINTENANCE_WINDOWS }, () => win('cron(0 2 * * ? *)', 60)),
    )
  })

  const invalidStartTimes: [string, RegExp][] = [
    ['0 2 * * ? *', /form cron\(/],
    ['rate(5 minutes)', /form cron\(/],
    ['cron(0 2 * * ?)', /5 fields/],
    ['cron(0 0 2 * * ? *)', /7 fields/],
    ['cron(60 2 * * ? *)', /minutes values are 0-59, not '60'/],
    ['cron(0 24 * * ? *)', /hours values are 0-23/],
    ['cron(0 2 32 * ? *)', /day-of-month values are 1-31, not '32'/],
    ['cron(0 2 0 * ? *)', /day-of-month values are 1-31/],
    ['cron(0 2 * 13 ? *)', /month values are 1-12, not '13'/],
    ['cron(0 2 * JAN-FOO ? *)', /illegal|month/i],
    ['cron(0 2 ? * 6#6 *)', /nth weekday/],
    ['cron(0 2 L-3 * ? *)', /L/],
    ['cron(0 2 * * * *)', /exactly one of the day-of-month and day-of-week/],
    ['cron(0 2 1 * MON *)', /exactly one of the day-of-month and day-of-week/],
    ['cron(0 2 ? * ? *)', /exactly one of the day-of-month and day-of-week/],
    ['cron(? 2 * * ? *)', /'\?' may only stand alone/],
    ['cron(0 2 ? * 0 *)', /day-of-week values are 1-7/],
    ['cron(0 2 ? * 8 *)', /day-of-week values are 1-7/],
    ['cron(0 2 ? * FUNDAY *)', /dayOfWeek|day-of-week|illegal/i],
    ['cron(0 2 ? * +MON *)', /characters AWS does not allow/],
    ['cron(0 2 * * ? 2200)', /year values are 1970-2199/],
    ['cron(0 2 * * ? 1969)', /year values are 1970-2199/],
    ['cron(a b c d e f)', /./],
  ]
  for (const [startTime, reason] of invalidStartTimes) {
    it(`rejects ${startTime}, naming the field ${TAG}`, () => {
      rejects(
        [win(startTime, 60)],
        /^schedulingConfig\.maintenanceWindows\[0\]\.startTime is not a valid cron expression: /,
      )
      rejects([win(startTime, 60)], reason)
    })
  }

  const invalidLists: [string, unknown, RegExp][] = [
    ['a string', 'cron(0 2 * * ? *)', /^schedulingConfig\.maintenanceWindows must be a list/],
    ['an object', { startTime: 'cron(0 2 * * ? *)', durationInMinutes: 60 }, /must be a list/],
    ['an empty list', [], /^schedulingConfig\.maintenanceWindows must hold at least one/],
    [
      'too many windows',
      Array.from({ length: MAX_MAINTENANCE_WINDOWS + 1 }, () => win('cron(0 2 * * ? *)', 60)),
      /may hold at most 10/,
    ],
    ['a null window', [null], /^schedulingConfig\.maintenanceWindows\[0\] must be an object/],
    ['no startTime', [{ durationInMinutes: 60 }], /\[0\]\.startTime is required/],
    ['no duration', [{ startTime: 'cron(0 2 * * ? *)' }], /\[0\]\.durationInMinutes is required/],
    ['an empty startTime', [win('', 60)], /\[0\]\.startTime must be a string of 1\.\.256/],
    ['a numeric startTime', [{ startTime: 7, durationInMinutes: 60 }], /\[0\]\.startTime must be a string/],
    ['a 257-character startTime', [win(`cron(0 2 * * ? *)${' '.repeat(240)}`, 60)], /1\.\.256/],
    ['duration 0', [win('cron(0 2 * * ? *)', 0)], /\[0\]\.durationInMinutes must be an integer 1\.\.1430/],
    ['duration 1431', [win('cron(0 2 * * ? *)', 1431)], /\[0\]\.durationInMinutes must be an integer/],
    ['duration 1.5', [win('cron(0 2 * * ? *)', 1.5)], /\[0\]\.durationInMinutes must be an integer/],
    [
      'duration "60"',
      [{ startTime: 'cron(0 2 * * ? *)', durationInMinutes: '60' }],
      /durationInMinutes must be an integer/,
    ],
    [
      'a bad second window',
      [win('cron(0 2 * * ? *)', 60), win('cron(0 2 * * * *)', 60)],
      /^schedulingConfig\.maintenanceWindows\[1\]\.startTime is not a valid cron expression/,
    ],
  ]
  for (const [name, value, message] of invalidLists) {
    it(`rejects ${name} ${TAG}`, () => rejects(value, message))
  }
})

describe(`windowStateAt ${TAG}`, () => {
  it(`daily cron(0 2 * * ? *) for 60 minutes: open from 02:00 inclusive to 03:00 exclusive ${TAG}`, () => {
    assert.deepEqual(windowStateAt(DAILY_2AM, at('2025-03-01T02:00:00.000Z')), {
      open: true,
      closesAtMs: at('2025-03-01T03:00:00.000Z'),
    })
    assert.equal(windowStateAt(DAILY_2AM, at('2025-03-01T02:59:59.999Z')).open, true)
    assert.deepEqual(windowStateAt(DAILY_2AM, at('2025-03-01T02:30:00.000Z')), {
      open: true,
      closesAtMs: at('2025-03-01T03:00:00.000Z'),
    })
    assert.deepEqual(windowStateAt(DAILY_2AM, at('2025-03-01T03:00:00.000Z')), {
      open: false,
      nextOpenAtMs: at('2025-03-02T02:00:00.000Z'),
    })
    assert.deepEqual(windowStateAt(DAILY_2AM, at('2025-03-01T01:59:59.999Z')), {
      open: false,
      nextOpenAtMs: at('2025-03-01T02:00:00.000Z'),
    })
  })

  it(`weekday names: cron(0 22 ? * MON-FRI *) opens Monday to Friday only ${TAG}`, () => {
    const weekdays = [win('cron(0 22 ? * MON-FRI *)', 60)]
    // 2025-03-07 is a Friday.
    assert.deepEqual(windowStateAt(weekdays, at('2025-03-07T22:30:00Z')), {
      open: true,
      closesAtMs: at('2025-03-07T23:00:00Z'),
    })
    assert.deepEqual(windowStateAt(weekdays, at('2025-03-08T22:30:00Z')), {
      open: false,
      nextOpenAtMs: at('2025-03-10T22:00:00Z'),
    })
    // Same window in AWS's numbers, 2-6 = MON-FRI.
    assert.deepEqual(
      windowStateAt([win('cron(0 22 ? * 2-6 *)', 60)], at('2025-03-08T22:30:00Z')),
      windowStateAt(weekdays, at('2025-03-08T22:30:00Z')),
    )
  })

  it(`an occurrence that began the previous day and has not ended is open ${TAG}`, () => {
    const long = [win('cron(0 2 * * ? *)', 1430)] // 02:00 to 01:50 the next day
    assert.deepEqual(windowStateAt(long, at('2025-03-02T01:30:00Z')), {
      open: true,
      closesAtMs: at('2025-03-02T01:50:00Z'),
    })
    assert.deepEqual(windowStateAt(long, at('2025-03-02T01:50:00Z')), {
      open: false,
      nextOpenAtMs: at('2025-03-02T02:00:00Z'),
    })
    // Friday 22:00 for three hours is still open early on Saturday.
    assert.deepEqual(windowStateAt([win('cron(0 22 ? * MON-FRI *)', 180)], at('2025-03-08T00:30:00Z')), {
      open: true,
      closesAtMs: at('2025-03-08T01:00:00Z'),
    })
  })

  it(`overlapping and touching windows merge into one open period ${TAG}`, () => {
    const overlapping = [win('cron(0 2 * * ? *)', 60), win('cron(30 2 * * ? *)', 60)]
    assert.deepEqual(windowStateAt(overlapping, at('2025-03-01T02:10:00Z')), {
      open: true,
      closesAtMs: at('2025-03-01T03:30:00Z'),
    })
    const touching = [win('cron(0 3 * * ? *)', 30), win('cron(0 2 * * ? *)', 60)]
    assert.deepEqual(windowStateAt(touching, at('2025-03-01T02:10:00Z')), {
      open: true,
      closesAtMs: at('2025-03-01T03:30:00Z'),
    })
    assert.equal(windowStateAt(touching, at('2025-03-01T03:00:00Z')).open, true)
    // A window one minute after another's end does not merge.
    const apart = [win('cron(0 2 * * ? *)', 60), win('cron(1 3 * * ? *)', 30)]
    assert.deepEqual(windowStateAt(apart, at('2025-03-01T02:10:00Z')), {
      open: true,
      closesAtMs: at('2025-03-01T03:00:00Z'),
    })
    assert.deepEqual(windowStateAt(apart, at('2025-03-01T03:00:00Z')), {
      open: false,
      nextOpenAtMs: at('2025-03-01T03:01:00Z'),
    })
  })

  it(`windows open around the clock stop the search at 7 days, quickly ${TAG}`, () => {
    const t = at('2025-03-01T12:00:30Z')
    const started = performance.now()
    assert.deepEqual(windowStateAt([win('cron(* * * * ? *)', 1430)], t), {
      open: true,
      closesAtMs: t + MAX_OPEN_PERIOD_MS,
    })
    // Short windows every minute: the step bound stops the search early; still open there.
    const everyMinute = Array.from({ length: 10 }, () => win('cron(* * * * ? *)', 1))
    const state = windowStateAt(everyMinute, t)
    assert.equal(state.open, true)
    assert.ok(state.closesAtMs !== undefined && state.closesAtMs > t + MINUTE)
    assert.equal(windowStateAt(everyMinute, state.closesAtMs).open, true)
    assert.ok(performance.now() - started < 2000, 'bounded search')
  })

  it(`a window that never fires again is closed with no next opening ${TAG}`, () => {
    const t = at('2025-03-01T12:00:00Z')
    for (const startTime of ['cron(0 0 * * ? 2020)', 'cron(0 0 31 2 ? *)']) {
      const state = windowStateAt([win(startTime, 60)], t)
      assert.deepEqual(state, { open: false })
      assert.equal('nextOpenAtMs' in state, false)
    }
    // Beside a window that does fire, the next opening is that one's.
    assert.deepEqual(windowStateAt([win('cron(0 0 * * ? 2020)', 60), ...DAILY_2AM], t), {
      open: false,
      nextOpenAtMs: at('2025-03-02T02:00:00Z'),
    })
  })

  it(`the last occurrence of a past year can still be open, then closes for good ${TAG}`, () => {
    const last = [win('cron(0 23 31 12 ? 2024)', 120)]
    assert.deepEqual(windowStateAt(last, at('2025-01-01T00:30:00Z')), {
      open: true,
      closesAtMs: at('2025-01-01T01:00:00Z'),
    })
    assert.deepEqual(windowStateAt(last, at('2025-01-01T01:00:00Z')), { open: false })
  })

  it(`no windows: closed, no next opening ${TAG}`, () => {
    assert.deepEqual(windowStateAt([], at('2025-03-01T12:00:00Z')), { open: false })
  })

  it(`a window the check refuses throws ${TAG}`, () => {
    assert.throws(() => windowStateAt([win('cron(0 2 * * * *)', 60)], 0), /exactly one of/)
  })

  it(`property: a daily window is open exactly inside [start, start + duration) ${TAG}`, () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 23 }),
        fc.integer({ min: 0, max: 59 }),
        fc.integer({ min: 1, max: 1430 }),
        fc.integer({ min: at('2020-01-01T00:00:00Z'), max: at('2040-01-01T00:00:00Z') }),
        (hour, minute, duration, t) => {
          const windows = [win(`cron(${minute} ${hour} * * ? *)`, duration)]
          const day = 24 * 60 * MINUTE
          const sinceStart = (((t - (hour * 60 + minute) * MINUTE) % day) + day) % day
          const open = sinceStart < duration * MINUTE
          const state = windowStateAt(windows, t)
          assert.equal(state.open, open)
          if (open) assert.equal(state.closesAtMs, t - sinceStart + duration * MINUTE)
          else assert.equal(state.nextOpenAtMs, t - sinceStart + day)
        },
      ),
      { numRuns: 200 },
    )
  })

  it(`property: agrees with listing every occurrence and merging by hand ${TAG}`, () => {
    // Each AWS expression beside the croner pattern it means, written out here; the oracle lists
    // occurrences one by one from 1431 minutes before t, and merges them without look-back tricks.
    // Nothing fires more often than every 6 hours, so a merged period grows by hours per step and only
    // the 7-day bound can stop the search (the step bound has its own test above).
    const expressions: Record<string, string> = {
      'cron(0 2 * * ? *)': '0 0 2 * * * *',
      'cron(30 2 * * ? *)': '0 30 2 * * * *',
      'cron(0 22 ? * MON-FRI *)': '0 0 22 * * 1-5 *',
      'cron(15 3 ? * SUN *)': '0 15 3 * * 0 *',
      'cron(0 0/6 * * ? *)': '0 0 */6 * * * *',
      'cron(0 0 L * ? *)': '0 0 0 L * * *',
      'cron(0 12 ? * 6#3 *)': '0 0 12 * * 5#3 *',
    }
    const horizonMs = 9 * 24 * 60 * MINUTE
    fc.assert(
      fc.property(
        fc.array(
          fc.record({
            startTime: fc.constantFrom(...Object.keys(expressions)),
            durationInMinutes: fc.integer({ min: 1, max: 1430 }),
          }),
          { minLength: 1, maxLength: 4 },
        ),
        fc.integer({ min: at('2024-01-01T00:00:00Z'), max: at('2030-01-01T00:00:00Z') }),
        (windows, t) => {
          const occurrences: { start: number; end: number }[] = []
          for (const w of windows) {
            const cron = new Cron(expressions[w.startTime] ?? '', { mode: '7-part', utcOffset: 0 })
            let d = cron.nextRun(new Date(t - 1431 * MINUTE))
            while (d !== null && d.getTime() <= t + horizonMs) {
              occurrences.push({ start: d.getTime(), end: d.getTime() + w.durationInMinutes * MINUTE })
              d = cron.nextRun(d)
            }
          }
          const reaching = (x: number) => occurrences.filter((o) => o.start <= x && x < o.end)
          const state = windowStateAt(windows, t)
          assert.equal(state.open, reaching(t).length > 0)
          if (state.open) {
            let end = t
            for (let r = reaching(end); r.length > 0; r = reaching(end))
              end = Math.max(...r.map((o) => o.end))
            assert.equal(state.closesAtMs, Math.min(end, t + MAX_OPEN_PERIOD_MS))
          } else {
            const next = Math.min(...occurrences.map((o) => o.start).filter((s) => s > t))
            if (next === Infinity)
              assert.ok(state.nextOpenAtMs !== undefined && state.nextOpenAtMs > t + horizonMs)
            else assert.equal(state.nextOpenAtMs, next)
          }
        },
      ),
      { numRuns: 150 },
    )
  })
})

describe(`nextWindowStarts ${TAG}`, () => {
  it(`gives the next seven starts, ascending, as YYYY-MM-DDTHH:MM in UTC ${TAG}`, () => {
    const starts = nextWindowStarts(DAILY_2AM, at('2025-03-01T02:00:00.000Z'))
    assert.deepEqual(starts, [
      '2025-03-01T02:00',
      '2025-03-02T02:00',
      '2025-03-03T02:00',
      '2025-03-04T02:00',
      '2025-03-05T02:00',
      '2025-03-06T02:00',
      '2025-03-07T02:00',
    ])
    for (const s of starts) assert.match(s, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}$/)
    // A start before fromMs, even by a millisecond, is not included.
    assert.equal(nextWindowStarts(DAILY_2AM, at('2025-03-01T02:00:00.001Z'), 1)[0], '2025-03-02T02:00')
  })

  it(`merges windows and drops repeated starts ${TAG}`, () => {
    const windows = [win('cron(0 2,14 * * ? *)', 30), ...DAILY_2AM, win('cron(0 22 ? * MON-FRI *)', 60)]
    // 2025-03-07 is a Friday.
    assert.deepEqual(nextWindowStarts(windows, at('2025-03-07T12:00:00Z')), [
      '2025-03-07T14:00',
      '2025-03-07T22:00',
      '2025-03-08T02:00',
      '2025-03-08T14:00',
      '2025-03-09T02:00',
      '2025-03-09T14:00',
      '2025-03-10T02:00',
    ])
    assert.deepEqual(nextWindowStarts(windows, at('2025-03-07T12:00:00Z'), 2), [
      '2025-03-07T14:00',
      '2025-03-07T22:00',
    ])
  })

  it(`stops at the last start and gives none for windows that never fire again ${TAG}`, () => {
    const t = at('2025-03-01T00:00:00Z')
    assert.deepEqual(nextWindowStarts([win('cron(0 0 1 * ? 2025)', 60)], at('2025-09-15T00:00:00Z')), [
      '2025-10-01T00:00',
      '2025-11-01T00:00',
      '2025-12-01T00:00',
    ])
    assert.deepEqual(nextWindowStarts([win('cron(0 0 * * ? 2020)', 60)], t), [])
    assert.deepEqual(nextWindowStarts([win('cron(0 0 31 2 ? *)', 60)], t), [])
    assert.deepEqual(nextWindowStarts(DAILY_2AM, t, 0), [])
  })
})
