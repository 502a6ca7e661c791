/**
 * The virtual clock's test API (beyond AWS), with plain fetch: read the clock, move it, empty the
 * service. A harness for these starts with `startHarness({ clockMode: 'virtual', clockStartMs })`.
 * `advance` answers only after every effect due inside the advance is applied, in time order, so a
 * test reads the result right after it, without waiting. Also what the time suites (test/api/time/)
 * share: a harness of its own per test on a virtual clock, fleets whose names sort in creation order,
 * jobs on group ARNs, and a wait for the events outbox. [spec: test-clock#2] [spec: test-clock#3]
 */
import { CreateJobCommand, CreateThingCommand } from '@aws-sdk/client-iot'
import type { CreateJobCommandInput } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import type { TestContext } from 'node:test'
import type { ServerConfig } from '../../src/server.js'
import { DOCUMENT } from './device.js'
import type { Harness } from './harness.js'
import { startHarness, unique } from './harness.js'
import type { Collector, DeviceClient } from './mqtt.js'
import { executionsOf } from './thing-groups.js'

/** 2030-01-01T12:00:00.000Z: the start of every virtual clock in the time suites (whole minute). */
export const CLOCK_START_MS = Date.UTC(2030, 0, 1, 12, 0, 0)
export const SECOND_MS = 1000
export const MINUTE_S = 60
export const HOUR_S = 3600
export const DAY_S = 24 * HOUR_S

/** What GET /_fleetjobs/clock (and a successful advance) answers. */
export interface ClockView {
  readonly mode: 'system' | 'virtual'
  readonly now: string
  readonly epochMillis: number
}

/** One raw answer of the test API: status, AWS error type (header) and parsed body. */
export interface TestApiReply {
  readonly status: number
  readonly errorType: string | null
  readonly json: Record<string, unknown>
}

/** Sends one request to the test API on the control-plane URL; `body` is sent as given. */
export async function testApi(
  h: Harness,
  method: 'GET' | 'POST',
  path: string,
  body?: string,
): Promise<TestApiReply> {
  const res = await fetch(`${h.server.url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body }),
  })
  const text = await res.text()
  return {
    status: res.status,
    errorType: res.headers.get('x-amzn-errortype'),
    json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  }
}

function ok(reply: TestApiReply, what: string): Record<string, unknown> {
  assert.equal(reply.status, 200, `${what}: ${JSON.stringify(reply.json)}`)
  return reply.json
}

/** GET /_fleetjobs/clock. */
export async function clockView(h: Harness): Promise<ClockView> {
  return ok(await testApi(h, 'GET', '/_fleetjobs/clock'), 'GET /_fleetjobs/clock') as unknown as ClockView
}

/** The clock's now in epoch milliseconds. */
export async function clockNow(h: Harness): Promise<number> {
  return (await clockView(h)).epochMillis
}

/**
 * Moves the virtual clock forward by `seconds` and resolves with the new now (epoch milliseconds),
 * once every effect due on the way has been applied.
 */
export async function advance(h: Harness, seconds: number): Promise<number> {
  const reply = await testApi(h, 'POST', '/_fleetjobs/clock/advance', JSON.stringify({ seconds }))
  return (ok(reply, `advance ${seconds} s`) as unknown as ClockView).epochMillis
}

/** Moves the virtual clock forward to `targetMs` (which must be later than now). */
export async function advanceTo(h: Harness, targetMs: number): Promise<number> {
  const now = await clockNow(h)
  assert.ok(targetMs > now, `advanceTo ${new Date(targetMs).toISOString()} is not after now`)
  return advance(h, (targetMs - now) / 1000)
}

/** POST /_fleetjobs/reset: empties the service; the clock keeps its time. */
export async function reset(h: Harness): Promise<void> {
  ok(await testApi(h, 'POST', '/_fleetjobs/reset'), 'POST /_fleetjobs/reset')
}

/** An ISO-8601 `YYYY-MM-DDTHH:MM` (UTC) string for schedulingConfig, `seconds` after `fromMs`. */
export function isoAfter(fromMs: number, seconds: number): string {
  return new Date(fromMs + seconds * 1000).toISOString().slice(0, 16)
}

/** What `virtualHarness` takes besides the ServerConfig overrides. */
export interface VirtualHarnessOptions extends Partial<ServerConfig> {
  /** Default: CLOCK_START_MS. */
  readonly clockStartMs?: number
}

/**
 * A harness of its own for one test, on a virtual clock at `clockStartMs` (default CLOCK_START_MS),
 * closed when the test ends: every test starts from a known instant and sees no other test's jobs.
 */
export async function virtualHarness(
  t: TestContext,
  overrides: VirtualHarnessOptions = {},
): Promise<Harness> {
  const h = await startHarness({ clockMode: 'virtual', clockStartMs: CLOCK_START_MS, ...overrides })
  t.after(() => h.close())
  return h
}

/**
 * `count` things named `<unique prefix>-000`, `-001`, …, created in that order; returns the names, which
 * sort (by code unit, as every collation orders equal prefixes followed by digits) in creation order.
 */
export async function createFleet(h: Harness, count: number): Promise<string[]> {
  const prefix = unique('fleet')
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(3, '0')}`)
  for (const thingName of names) await h.iot.send(new CreateThingCommand({ thingName }))
  return names
}

/** The distinct thing names that have an execution record of the job, sorted. */
export async function thingsWithExecutions(h: Harness, jobId: string): Promise<string[]> {
  return [...new Set((await executionsOf(h, jobId)).map((r) => r.thingName))].sort()
}

/** The number of execution records of the job (ListJobExecutionsForJob, all pages). */
export async function recordCount(h: Harness, jobId: string): Promise<number> {
  return (await executionsOf(h, jobId)).length
}

/**
 * Waits until the server's events outbox is drained, then publishes a marker under `$aws/events/` and
 * waits for `events` (a collector on `$aws/events/#`) to receive it: whatever the broker had before is
 * delivered by then, so an event that did not arrive was not published.
 */
export async function eventsSettled(h: Harness, device: DeviceClient, events: Collector): Promise<void> {
  const dispatcher = h.server.workers.events
  if (dispatcher === undefined) throw new Error('the harness runs without events')
  await dispatcher.idle()
  const marker = `$aws/events/marker/${unique('m')}`
  await device.publish(marker, {})
  await events.waitFor(`the marker ${marker}`, (m) => m.topic === marker)
}

/** Creates a job (SNAPSHOT unless `extra` says otherwise) on target ARNs (things or groups); returns its id. */
export async function createJobOn(
  h: Harness,
  targets: readonly string[],
  extra: Partial<CreateJobCommandInput> = {},
): Promise<string> {
  const jobId = extra.jobId ?? unique('job')
  await h.iot.send(new CreateJobCommand({ document: DOCUMENT, ...extra, jobId, targets: [...targets] }))
  return jobId
}
