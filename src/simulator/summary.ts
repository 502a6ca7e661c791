/**
 * The end-of-run summary and the progress line of `fleetjobs simulate`, as text (pure).
 */
import type { FleetStats } from './fleet.js'

/** The summary's rows, in order: label and value. */
export function summaryRows(stats: FleetStats): [string, number][] {
  return [
    ['devices', stats.devices],
    // Devices that connected at the start (by the end the fleet has disconnected them all).
    ['connected', stats.devices - stats.connectionFailures],
    ['connection failures', stats.connectionFailures],
    ['connections lost', stats.connectionsLost],
    ['jobs received', stats.jobsReceived],
    ['succeeded', stats.succeeded],
    ['failed', stats.failed],
    ['rejected', stats.rejected],
    ['crashed', stats.crashed],
    ['canceled under it', stats.canceledUnderIt],
    ['abandoned on errors', stats.abandoned],
    ['in progress at stop', stats.interrupted + stats.inProgress],
    ['errors', stats.errors],
  ]
}

/** A two-column table: labels left-aligned, numbers right-aligned, then the seed and the first error. */
export function formatSummary(stats: FleetStats): string {
  const rows = summaryRows(stats)
  const labelWidth = Math.max(...rows.map(([label]) => label.length))
  const valueWidth = Math.max('count'.length, ...rows.map(([, value]) => String(value).length))
  const rule = `${'─'.repeat(labelWidth + 2)}┼${'─'.repeat(valueWidth + 1)}`
  const lines = [
    `${'outcome'.padEnd(labelWidth + 2)}│ ${'count'.padStart(valueWidth)}`,
    rule,
    ...rows.map(([label, value]) => `${label.padEnd(labelWidth + 2)}│ ${String(value).padStart(valueWidth)}`),
    '',
    `seed ${stats.seed} (--seed ${stats.seed} draws the same outcomes again)`,
  ]
  if (stats.firstConnectionError !== undefined)
    lines.push(`first connection failure: ${stats.firstConnectionError}`)
  if (stats.firstError !== undefined) lines.push(`first error: ${stats.firstError}`)
  return lines.join('\n')
}

/** One line of counters, for the plain progress lines off a TTY. */
export function progressLine(stats: FleetStats): string {
  return (
    `devices ${stats.connected}/${stats.devices} up, working ${stats.inProgress} | ` +
    `received ${stats.jobsReceived}: succeeded ${stats.succeeded}, failed ${stats.failed}, rejected ${stats.rejected}, ` +
    `crashed ${stats.crashed}, canceled under it ${stats.canceledUnderIt}` +
    (stats.errors === 0 ? '' : `, errors ${stats.errors}`)
  )
}

/** The counters beside the progress bar: short, to fit a terminal line with the bar. */
export function barLine(stats: FleetStats): string {
  return (
    `ok ${stats.succeeded} fail ${stats.failed} rej ${stats.rejected} crash ${stats.crashed}` +
    (stats.canceledUnderIt === 0 ? '' : ` canceled ${stats.canceledUnderIt}`) +
    (stats.errors === 0 ? '' : ` err ${stats.errors}`) +
    ` | up ${stats.connected}/${stats.devices} busy ${stats.inProgress}`
  )
}
