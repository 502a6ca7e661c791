/** How the console writes numbers, times and a job's settings. */

/** 100000 → "100,000" (the same on every machine: no locale). */
export function formatCount(n: number): string {
  return Math.trunc(n)
    .toString()
    .replace(/\B(?=(\d{3})+(?!\d))/g, ',')
}

/** An AWS control-plane timestamp (epoch seconds, with a fraction) → `2026-12-02 12:34:56Z`; absent → `—`. */
export function formatTime(epochSeconds: unknown): string {
  if (typeof epochSeconds !== 'number' || !Number.isFinite(epochSeconds)) return '—'
  const iso = new Date(epochSeconds * 1000).toISOString()
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}Z`
}

/** Seconds → `45 s`, `12 min`, `3 h 5 min`, `2 d 4 h`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '—'
  if (seconds < 60) return `${Math.round(seconds)} s`
  const minutes = Math.floor(seconds / 60)
  if (minutes < 60) return `${minutes} min`
  const hours = Math.floor(minutes / 60)
  if (hours < 24) return minutes % 60 === 0 ? `${hours} h` : `${hours} h ${minutes % 60} min`
  const days = Math.floor(hours / 24)
  return hours % 24 === 0 ? `${days} d` : `${days} d ${hours % 24} h`
}

type Json = Readonly<Record<string, unknown>>

const obj = (v: unknown): Json | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)

/** A job's (or template's) settings in a line each: rollout, abort, timeout, retry, schedule. */
export function settingsOf(job: Json): { readonly label: string; readonly text: string }[] {
  const out: { label: string; text: string }[] = []
  const rollout = obj(job['jobExecutionsRolloutConfig'])
  if (rollout !== undefined) {
    const parts: string[] = []
    const perMinute = num(rollout['maximumPerMinute'])
    if (perMinute !== undefined) parts.push(`${formatCount(perMinute)}/min`)
    const exp = obj(rollout['exponentialRate'])
    if (exp !== undefined) {
      const base = num(exp['baseRatePerMinute'])
      const factor = num(exp['incrementFactor'])
      const criteria = obj(exp['rateIncreaseCriteria'])
      const after =
        num(criteria?.['numberOfSucceededThings']) !== undefined
          ? `${formatCount(num(criteria?.['numberOfSucceededThings']) ?? 0)} succeeded`
          : num(criteria?.['numberOfNotifiedThings']) !== undefined
            ? `${formatCount(num(criteria?.['numberOfNotifiedThings']) ?? 0)} notified`
            : undefined
      parts.push(
        `from ${formatCount(base ?? 0)}/min ×${factor ?? 1}${after === undefined ? '' : ` every ${after}`}`,
      )
    }
    if (parts.length > 0) out.push({ label: 'rollout', text: parts.join(', ') })
  }
  const abort = obj(job['abortConfig'])
  const criteria = Array.isArray(abort?.['criteriaList']) ? (abort['criteriaList'] as unknown[]) : []
  if (criteria.length > 0) {
    out.push({
      label: 'abort',
      text: criteria
        .map(obj)
        .filter((c): c is Json => c !== undefined)
        .map(
          (c) =>
            `${String(c['failureType']).toLowerCase().replace('_', ' ')} ≥ ${num(c['thresholdPercentage']) ?? '?'}% of ≥ ${formatCount(num(c['minNumberOfExecutedThings']) ?? 0)}`,
        )
        .join('; '),
    })
  }
  const timeout = obj(job['timeoutConfig'])
  const inProgressMinutes = num(timeout?.['inProgressTimeoutInMinutes'])
  if (inProgressMinutes !== undefined)
    out.push({ label: 'timeout', text: `${formatDuration(inProgressMinutes * 60)} in progress` })
  const retry = obj(job['jobExecutionsRetryConfig'])
  const retries = Array.isArray(retry?.['criteriaList']) ? (retry['criteriaList'] as unknown[]) : []
  if (retries.length > 0) {
    out.push({
      label: 'retry',
      text: retries
        .map(obj)
        .filter((c): c is Json => c !== undefined)
        .map(
          (c) =>
            `${String(c['failureType']).toLowerCase().replace('_', ' ')} ×${num(c['numberOfRetries']) ?? 0}`,
        )
        .join(', '),
    })
  }
  const schedule = obj(job['schedulingConfig'])
  if (schedule !== undefined) {
    const parts: string[] = []
    if (typeof schedule['startTime'] === 'string') parts.push(`from ${schedule['startTime']}`)
    if (typeof schedule['endTime'] === 'string') parts.push(`until ${schedule['endTime']}`)
    if (typeof schedule['endBehavior'] === 'string')
      parts.push(`then ${schedule['endBehavior'].toLowerCase().replace('_', ' ')}`)
    const windows = Array.isArray(schedule['maintenanceWindows']) ? schedule['maintenanceWindows'].length : 0
    if (windows > 0) parts.push(`${windows} maintenance window${windows === 1 ? '' : 's'}`)
    if (parts.length > 0) out.push({ label: 'schedule', text: parts.join(', ') })
  }
  return out
}

/** The name at the end of an ARN (`arn:…:thinggroup/fleet` → `fleet`). */
export function nameOfArn(arn: string): string {
  const slash = arn.lastIndexOf('/')
  return slash < 0 ? arn : arn.slice(slash + 1)
}
