/**
 * Rules on job configurations that the AWS models cannot express (they only carry types, ranges
 * and patterns; those are checked by the wire layer from the models before these run).
 * [spec: jobs-control-plane#3-validation-rules-shared-by-createjob-updatejob-and-createjobtemplate]
 */
import { invalidRequest } from './errors.js'
import type { JsonObject } from './records.js'
import { checkMaintenanceWindows } from './maintenance-windows.js'

/** [spec: limits#2] job document ≤ 32768 characters. */
export const MAX_DOCUMENT_CHARS = 32768
/**
 * Deepest nesting of objects and arrays a document may have: AWS documents none; 1,000 is the default
 * limit of Jackson (StreamReadConstraints.maxNestingDepth), the JSON parser of AWS's Java services.
 */
export const MAX_DOCUMENT_NESTING = 1000
/** [open-question 14] */
export const MAX_MAXIMUM_PER_MINUTE = 1000
/** [spec: limits#3] 1 minute to 7 days. */
export const MAX_TIMEOUT_MINUTES = 10080
/** [open-question 17] */
export const MAX_TAGS = 50
/** [spec: limits#4] */
export const MAX_DESTINATION_PACKAGE_VERSIONS = 25
/** [spec: jobs-control-plane#3] "up to 10 retries for both failure types combined" */
export const MAX_TOTAL_RETRIES = 10

const obj = (v: unknown): JsonObject | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as JsonObject) : undefined
const num = (v: unknown): number | undefined => (typeof v === 'number' ? v : undefined)

function decimals(value: number): number {
  const s = String(value)
  if (s.includes('e')) return 99
  const dot = s.indexOf('.')
  return dot < 0 ? 0 : s.length - dot - 1
}

/** How deep `[` and `{` nest in a JSON text, counted outside strings (no parse, no recursion). */
function nestingDepth(text: string): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < text.length; i += 1) {
    const c = text.charCodeAt(i)
    if (inString) {
      if (c === 0x5c) i += 1
      else if (c === 0x22) inString = false
    } else if (c === 0x22) inString = true
    else if (c === 0x7b || c === 0x5b) deepest = Math.max(deepest, ++depth)
    else if (c === 0x7d || c === 0x5d) depth -= 1
  }
  return deepest
}

/** A document must parse as JSON and be an object; devices get it as an MQTT object. */
export function checkDocument(document: string, field = 'document'): void {
  if ([...document].length > MAX_DOCUMENT_CHARS) {
    throw invalidRequest(`${field} is longer than ${MAX_DOCUMENT_CHARS} characters`)
  }
  if (nestingDepth(document) > MAX_DOCUMENT_NESTING) {
    // Devices get the document as an object inside an MQTT reply: a depth the reply cannot be
    // serialized with (about 5,000 levels in Node) must not be stored.
    throw invalidRequest(`${field} nests objects and arrays deeper than ${MAX_DOCUMENT_NESTING} levels`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(document)
  } catch {
    // The document is user input; its parse error becomes the message below.
    throw invalidRequest(`${field} is not valid JSON`)
  }
  if (obj(parsed) === undefined) throw invalidRequest(`${field} must be a JSON object`)
}

export function checkRolloutConfig(config: JsonObject | undefined): void {
  if (config === undefined) return
  const max = num(config['maximumPerMinute'])
  if (max !== undefined && max > MAX_MAXIMUM_PER_MINUTE) {
    throw invalidRequest(
      `jobExecutionsRolloutConfig.maximumPerMinute must be at most ${MAX_MAXIMUM_PER_MINUTE}`,
    )
  }
  const rate = obj(config['exponentialRate'])
  if (rate === undefined) return
  const factor = num(rate['incrementFactor'])
  if (factor !== undefined && decimals(factor) > 1) {
    throw invalidRequest(
      'jobExecutionsRolloutConfig.exponentialRate.incrementFactor may have at most one decimal digit',
    )
  }
  const criteria = obj(rate['rateIncreaseCriteria']) ?? {}
  const given = ['numberOfNotifiedThings', 'numberOfSucceededThings'].filter((k) => criteria[k] !== undefined)
  if (given.length !== 1) {
    // [open-question 15]
    throw invalidRequest(
      'jobExecutionsRolloutConfig.exponentialRate.rateIncreaseCriteria needs exactly one of numberOfNotifiedThings and numberOfSucceededThings',
    )
  }
  const base = num(rate['baseRatePerMinute'])
  if (max !== undefined && base !== undefined && base > max) {
    // [open-question 15]
    throw invalidRequest(
      'jobExecutionsRolloutConfig.exponentialRate.baseRatePerMinute exceeds maximumPerMinute',
    )
  }
}

export function checkAbortConfig(config: JsonObject | undefined): void {
  if (config === undefined) return
  const list = Array.isArray(config['criteriaList']) ? (config['criteriaList'] as unknown[]) : []
  const seen = new Set<unknown>()
  list.forEach((entry, i) => {
    const c = obj(entry) ?? {}
    const threshold = num(c['thresholdPercentage'])
    if (threshold !== undefined && (threshold < 0 || decimals(threshold) > 2)) {
      throw invalidRequest(
        `abortConfig.criteriaList[${i}].thresholdPercentage must be 0..100 with at most two decimal digits`,
      )
    }
    if (seen.has(c['failureType'])) {
      // [open-question 16]
      throw invalidRequest(
        `abortConfig.criteriaList[${i}].failureType ${String(c['failureType'])} is given twice`,
      )
    }
    seen.add(c['failureType'])
  })
}

export function checkTimeoutConfig(config: JsonObject | undefined): void {
  const minutes = num(config?.['inProgressTimeoutInMinutes'])
  if (minutes !== undefined && (minutes < 1 || minutes > MAX_TIMEOUT_MINUTES)) {
    throw invalidRequest(`timeoutConfig.inProgressTimeoutInMinutes must be 1..${MAX_TIMEOUT_MINUTES}`)
  }
}

export function checkRetryConfig(config: JsonObject | undefined): void {
  if (config === undefined) return
  const list = Array.isArray(config['criteriaList']) ? (config['criteriaList'] as unknown[]) : []
  const types = list.map((e) => obj(e)?.['failureType'])
  if (new Set(types).size !== types.length || (types.includes('ALL') && types.length > 1)) {
    // [open-question 16]
    throw invalidRequest(
      'jobExecutionsRetryConfig.criteriaList may name each failureType once, and ALL only alone',
    )
  }
  const total = list.reduce<number>((sum, e) => sum + (num(obj(e)?.['numberOfRetries']) ?? 0), 0)
  if (total > MAX_TOTAL_RETRIES) {
    throw invalidRequest(`jobExecutionsRetryConfig allows at most ${MAX_TOTAL_RETRIES} retries in total`)
  }
}

const MINUTE_MS = 60_000
const DAY_MS = 24 * 60 * MINUTE_MS
/** [open-question 18] ISO-8601 `YYYY-MM-DDTHH:MM[:SS[.fff]][zone]`, UTC without a zone. */
const SCHEDULE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:\d{2})?$/

export function parseScheduleTime(value: string, field: string): number {
  const m = SCHEDULE_TIME.exec(value)
  const ms = m === null ? Number.NaN : Date.parse(m[7] === undefined ? `${value}Z` : value)
  if (Number.isNaN(ms))
    throw invalidRequest(`${field} must be an ISO-8601 date and time such as 2030-01-31T12:00`)
  return ms
}

/**
 * [spec: jobs-control-plane#3.1] windows from the member documentation. Returns the start time when
 * one is given. Maintenance windows are checked by their own rules (maintenance-windows.ts).
 */
export function checkSchedulingConfig(config: JsonObject | undefined, nowMs: number): number | undefined {
  if (config === undefined) return undefined
  if (config['maintenanceWindows'] !== undefined) checkMaintenanceWindows(config['maintenanceWindows'])
  const start =
    typeof config['startTime'] === 'string'
      ? parseScheduleTime(config['startTime'], 'schedulingConfig.startTime')
      : undefined
  const end =
    typeof config['endTime'] === 'string'
      ? parseScheduleTime(config['endTime'], 'schedulingConfig.endTime')
      : undefined
  if (start !== undefined && (start < nowMs + 30 * MINUTE_MS || start > nowMs + 366 * DAY_MS)) {
    throw invalidRequest('schedulingConfig.startTime must be between 30 minutes and one year from now')
  }
  if (end !== undefined && (end < nowMs + 30 * MINUTE_MS || end > nowMs + 2 * 366 * DAY_MS)) {
    throw invalidRequest('schedulingConfig.endTime must be between 30 minutes and two years from now')
  }
  if (
    start !== undefined &&
    end !== undefined &&
    (end - start < 30 * MINUTE_MS || end - start > 2 * 366 * DAY_MS)
  ) {
    throw invalidRequest('schedulingConfig.endTime must be between 30 minutes and two years after startTime')
  }
  // endBehavior without endTime is accepted, stored and has no effect (corrected spec: a peer's suite
  // written against AWS creates such jobs). [spec: jobs-control-plane#3.1]
  return start
}

export function checkTags(tags: readonly unknown[] | undefined): void {
  if (tags !== undefined && tags.length > MAX_TAGS)
    throw invalidRequest(`tags may hold at most ${MAX_TAGS} tags`)
}

export function checkStatusDetails(
  details: Record<string, string> | undefined,
  field = 'statusDetails',
): void {
  // [spec: limits#4] at most 10 pairs [open-question 37]
  if (details !== undefined && Object.keys(details).length > 10) {
    throw invalidRequest(`${field} may hold at most 10 entries`)
  }
}

/** [spec: limits#3] 1..10080; -1 (cancel the step timer) only where `allowCancel`. */
export function checkStepTimeout(minutes: number | undefined, allowCancel: boolean): void {
  if (minutes === undefined) return
  if (allowCancel && minutes === -1) return
  if (minutes < 1 || minutes > MAX_TIMEOUT_MINUTES) {
    throw invalidRequest(
      `stepTimeoutInMinutes must be 1..${MAX_TIMEOUT_MINUTES}${allowCancel ? ', or -1 to cancel the step timer' : ''}`,
    )
  }
}
