/**
 * Helpers for the control-plane execution tests (DeleteJobExecution, CancelJobExecution,
 * DescribeJobExecution): an execution in any of the eight statuses, exact reads through the control
 * plane, the job's counters, and error checks that also look at the message.
 * [spec: delete-job-execution] [spec: jobs-control-plane#canceljobexecution]
 * [spec: state-machines#2-job-execution-state-machine]
 */
import {
  DescribeJobExecutionCommand,
  ListJobExecutionsForJobCommand,
  ListJobExecutionsForThingCommand,
} from '@aws-sdk/client-iot'
import type { JobExecution, JobExecutionStatus } from '@aws-sdk/client-iot'
import Database from 'better-sqlite3'
import assert from 'node:assert/strict'
import type { Harness } from './harness.js'
import { createJob, createThing, describeJob, report, terminalExecution } from './device.js'
import type { ReachableTerminal } from './device.js'
import { onPostgres, sqliteFileOf, withSchema } from './store.js'

/** The eight execution statuses, in the order of the spec's tables. [spec: state-machines#2] */
export const ALL_EXECUTION_STATUSES = [
  'QUEUED',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'REJECTED',
  'REMOVED',
  'CANCELED',
] as const satisfies readonly JobExecutionStatus[]
export type AnyExecutionStatus = (typeof ALL_EXECUTION_STATUSES)[number]

/** The six terminal statuses. [spec: state-machines#2] */
export const TERMINAL_STATUSES = [
  'SUCCEEDED',
  'FAILED',
  'TIMED_OUT',
  'REJECTED',
  'REMOVED',
  'CANCELED',
] as const satisfies readonly AnyExecutionStatus[]

/** `jobs` counter column of each status (see src/storage/sqlite/migrations.ts and postgres/migrations.ts). */
const COUNT_COLUMN: Record<AnyExecutionStatus, string> = {
  QUEUED: 'n_queued',
  IN_PROGRESS: 'n_in_progress',
  SUCCEEDED: 'n_succeeded',
  FAILED: 'n_failed',
  TIMED_OUT: 'n_timed_out',
  REJECTED: 'n_rejected',
  REMOVED: 'n_removed',
  CANCELED: 'n_canceled',
}

/**
 * Moves the latest execution of the job on the thing from IN_PROGRESS to TIMED_OUT by writing the
 * database directly, as the timer would: status, versionNumber + 1, lastUpdatedAt, deadlines cleared,
 * and the job's two counters, in one transaction.
 * Why the database: the timer scheduler that fires TIMED_OUT is not built yet (docs/compatibility.md),
 * and no API lets a client set TIMED_OUT. The server's SQLite connection runs in WAL mode, so a second
 * connection may write while it runs (on PostgreSQL any connection may); the server keeps no execution
 * cache, so its next read sees this. Both stores have the same tables and columns.
 */
export async function timeOutInDatabase(
  h: Harness,
  jobId: string,
  thingName: string,
  nowMs: number,
): Promise<void> {
  const execution = `UPDATE job_executions
              SET status = 'TIMED_OUT', version_number = version_number + 1, last_updated_at = $1,
                  in_progress_deadline = NULL, step_deadline = NULL
            WHERE seq = (SELECT seq FROM job_executions WHERE job_id = $2 AND thing_name = $3
                          ORDER BY execution_number DESC LIMIT 1)
              AND status = 'IN_PROGRESS'`
  const counters = `UPDATE jobs SET ${COUNT_COLUMN.IN_PROGRESS} = ${COUNT_COLUMN.IN_PROGRESS} - 1,
                         ${COUNT_COLUMN.TIMED_OUT} = ${COUNT_COLUMN.TIMED_OUT} + 1
          WHERE job_id = $1`
  const expected = `an IN_PROGRESS execution of ${jobId} on ${thingName}`
  if (onPostgres) {
    await withSchema(h.dataDir, async (c) => {
      await c.query('BEGIN')
      try {
        const changed = await c.query(execution, [nowMs, jobId, thingName])
        assert.equal(changed.rowCount, 1, expected)
        await c.query(counters, [jobId])
        await c.query('COMMIT')
      } catch (error) {
        await c.query('ROLLBACK')
        throw error
      }
    })
    return
  }
  const db = new Database(sqliteFileOf(h.dataDir))
  try {
    db.pragma('busy_timeout = 5000')
    db.transaction(() => {
      // SQLite reads `$1` as the named parameter "1".
      const changed = db.prepare(execution).run({ 1: nowMs, 2: jobId, 3: thingName }).changes
      assert.equal(changed, 1, expected)
      db.prepare(counters).run({ 1: jobId })
    })()
  } finally {
    db.close()
  }
}

/**
 * A fresh thing with one execution of a fresh SNAPSHOT job in `status` (REMOVED: a CONTINUOUS job the
 * thing left; see `terminalExecution`). TIMED_OUT goes through `timeOutInDatabase`.
 */
export async function executionIn(
  h: Harness,
  status: AnyExecutionStatus,
  nowMs: number,
): Promise<{ jobId: string; thingName: string }> {
  if (status === 'QUEUED' || status === 'IN_PROGRESS' || status === 'TIMED_OUT') {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    if (status !== 'QUEUED') await report(h, jobId, thingName, 'IN_PROGRESS')
    if (status === 'TIMED_OUT') await timeOutInDatabase(h, jobId, thingName, nowMs)
    return { jobId, thingName }
  }
  return terminalExecution(h, status satisfies ReachableTerminal)
}

/** The execution as the control plane describes it (latest, or the numbered one). */
export async function cpDescribe(
  h: Harness,
  jobId: string,
  thingName: string,
  executionNumber?: number,
): Promise<JobExecution> {
  const out = await h.iot.send(
    new DescribeJobExecutionCommand({
      jobId,
      thingName,
      ...(executionNumber === undefined ? {} : { executionNumber }),
    }),
  )
  assert.ok(out.execution !== undefined, `execution of ${jobId} on ${thingName}`)
  return out.execution
}

/** The eight counters of DescribeJob's jobProcessDetails, keyed by execution status. */
export async function countersOf(h: Harness, jobId: string): Promise<Record<AnyExecutionStatus, number>> {
  const p = (await describeJob(h, jobId)).jobProcessDetails
  assert.ok(p !== undefined, `jobProcessDetails of ${jobId}`)
  return {
    QUEUED: p.numberOfQueuedThings ?? -1,
    IN_PROGRESS: p.numberOfInProgressThings ?? -1,
    SUCCEEDED: p.numberOfSucceededThings ?? -1,
    FAILED: p.numberOfFailedThings ?? -1,
    TIMED_OUT: p.numberOfTimedOutThings ?? -1,
    REJECTED: p.numberOfRejectedThings ?? -1,
    REMOVED: p.numberOfRemovedThings ?? -1,
    CANCELED: p.numberOfCanceledThings ?? -1,
  }
}

/** All counters zero except the given ones. */
export function counts(
  nonZero: Partial<Record<AnyExecutionStatus, number>>,
): Record<AnyExecutionStatus, number> {
  return {
    QUEUED: 0,
    IN_PROGRESS: 0,
    SUCCEEDED: 0,
    FAILED: 0,
    TIMED_OUT: 0,
    REJECTED: 0,
    REMOVED: 0,
    CANCELED: 0,
    ...nonZero,
  }
}

/** `thingName#executionNumber:STATUS` of every record ListJobExecutionsForJob lists, sorted. */
export async function listedForJob(h: Harness, jobId: string): Promise<string[]> {
  const out = await h.iot.send(new ListJobExecutionsForJobCommand({ jobId, maxResults: 250 }))
  assert.equal(out.nextToken, undefined)
  return (out.executionSummaries ?? [])
    .map((item) => {
      const thingName = String(item.thingArn).split(':thing/')[1]
      const s = item.jobExecutionSummary
      return `${String(thingName)}#${String(s?.executionNumber)}:${String(s?.status)}`
    })
    .sort()
}

/** `jobId#executionNumber:STATUS` of every record ListJobExecutionsForThing lists, sorted. */
export async function listedForThing(h: Harness, thingName: string): Promise<string[]> {
  const out = await h.iot.send(new ListJobExecutionsForThingCommand({ thingName, maxResults: 250 }))
  assert.equal(out.nextToken, undefined)
  return (out.executionSummaries ?? [])
    .map((item) => {
      const s = item.jobExecutionSummary
      return `${String(item.jobId)}#${String(s?.executionNumber)}:${String(s?.status)}`
    })
    .sort()
}

/**
 * Checks an SDK rejection completely: the exception class, its name, the HTTP status, and that the
 * message names each of `mentions` (the resource or the field). Use with `assert.rejects`.
 */
export function rejection(
  type: abstract new (...args: never[]) => Error & { $metadata: { httpStatusCode?: number } },
  status: number,
  ...mentions: readonly string[]
): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`)
    assert.equal(e.name, type.name)
    assert.equal(e.$metadata.httpStatusCode, status)
    assert.equal(typeof e.message, 'string')
    for (const m of mentions) assert.ok(e.message.includes(m), `"${e.message}" names ${m}`)
    return true
  }
}

/** What `raw` returned for an error: status, `x-amzn-ErrorType`, and a message naming each of `mentions`. */
export function assertRawError(
  r: { status: number; headers: Headers; json: Record<string, unknown> },
  status: number,
  type: string,
  ...mentions: readonly string[]
): void {
  const what = JSON.stringify(r.json)
  assert.equal(r.status, status, what)
  assert.equal(r.headers.get('x-amzn-ErrorType'), type, what)
  const message = r.json['message']
  assert.equal(typeof message, 'string', what)
  for (const m of mentions) assert.ok(String(message).includes(m), `"${String(message)}" names ${m}`)
}
