/**
 * Helpers for the device data-plane tests: a clock the test moves by hand (so timestamps, timers and
 * rate limits are exact without sleeping), things and jobs, executions in a chosen status, and reads
 * of an execution through both planes. Everything goes through the real AWS SDK clients of the harness.
 * [spec: jobs-device-api#1] [spec: state-machines#2-job-execution-state-machine]
 */
import {
  AddThingToThingGroupCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DescribeJobCommand,
  RemoveThingFromThingGroupCommand,
} from '@aws-sdk/client-iot'
import type { CreateJobCommandInput, Job } from '@aws-sdk/client-iot'
import {
  DescribeJobExecutionCommand,
  GetPendingJobExecutionsCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import type { JobExecution, JobExecutionStatus } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import type { Clock } from '../../src/ports/clock.js'
import type { Harness } from './harness.js'
import { ACCOUNT, REGION, thingArnOf, unique } from './harness.js'

/**
 * A clock that stands still until the test moves it. The start has a millisecond fraction so that
 * integer-second truncation of data-plane timestamps is visible: 2030-01-01T12:00:00.789Z.
 */
export class ManualClock implements Clock {
  static readonly START_MS = Date.UTC(2030, 0, 1, 12, 0, 0, 789)
  private ms = ManualClock.START_MS

  nowMs(): number {
    return this.ms
  }

  advance(ms: number): void {
    this.ms += ms
  }

  /** The current time as data-plane integer epoch seconds. [spec: wire-protocol#4-timestamps] */
  seconds(): number {
    return Math.floor(this.ms / 1000)
  }
}

export const MINUTE_MS = 60_000
export const DOCUMENT = '{"operation":"install","url":"https://example.invalid/fw.bin"}'

export async function createThing(h: Harness): Promise<string> {
  const thingName = unique('thing')
  await h.iot.send(new CreateThingCommand({ thingName }))
  return thingName
}

/** Creates a job (SNAPSHOT unless `extra` says otherwise) on the given things; returns its id. */
export async function createJob(
  h: Harness,
  thingNames: readonly string[],
  extra: Partial<CreateJobCommandInput> = {},
): Promise<string> {
  const jobId = extra.jobId ?? unique('job')
  await h.iot.send(
    new CreateJobCommand({ document: DOCUMENT, ...extra, jobId, targets: thingNames.map(thingArnOf) }),
  )
  return jobId
}

/** The device reports `status` for the latest execution of the job. */
export async function report(
  h: Harness,
  jobId: string,
  thingName: string,
  status: JobExecutionStatus,
  extra: { statusDetails?: Record<string, string>; stepTimeoutInMinutes?: number } = {},
): Promise<void> {
  await h.data.send(new UpdateJobExecutionCommand({ jobId, thingName, status, ...extra }))
}

/** The execution as the device sees it (DP DescribeJobExecution with the document). */
export async function deviceView(
  h: Harness,
  jobId: string,
  thingName: string,
  executionNumber?: number,
): Promise<JobExecution> {
  const out = await h.data.send(
    new DescribeJobExecutionCommand({
      jobId,
      thingName,
      ...(executionNumber === undefined ? {} : { executionNumber }),
    }),
  )
  assert.ok(out.execution !== undefined, `execution of ${jobId} on ${thingName}`)
  return out.execution
}

/** The device's pending list as `jobId:STATUS` strings, IN_PROGRESS first. */
export async function pendingOf(h: Harness, thingName: string): Promise<string[]> {
  const out = await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
  assert.ok(out.inProgressJobs !== undefined && out.queuedJobs !== undefined)
  return [
    ...out.inProgressJobs.map((s) => `${String(s.jobId)}:IN_PROGRESS`),
    ...out.queuedJobs.map((s) => `${String(s.jobId)}:QUEUED`),
  ]
}

export async function describeJob(h: Harness, jobId: string): Promise<Job> {
  const out = await h.iot.send(new DescribeJobCommand({ jobId }))
  assert.ok(out.job !== undefined)
  return out.job
}

/** Every terminal status and how a test puts an execution into it. [spec: state-machines#2] */
export type ReachableTerminal = 'SUCCEEDED' | 'FAILED' | 'REJECTED' | 'CANCELED' | 'REMOVED'
export const REACHABLE_TERMINAL: readonly ReachableTerminal[] = [
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
  'CANCELED',
  'REMOVED',
]

/**
 * A thing with one execution of a fresh job in the given terminal status:
 * device statuses by UpdateJobExecution, CANCELED by CancelJobExecution, REMOVED by taking the thing
 * out of the target group of a CONTINUOUS job. [spec: state-machines#7]
 */
export async function terminalExecution(
  h: Harness,
  status: ReachableTerminal,
): Promise<{ jobId: string; thingName: string }> {
  if (status === 'REMOVED') {
    const thingGroupName = unique('group')
    await h.iot.send(new CreateThingGroupCommand({ thingGroupName }))
    const thingName = await createThing(h)
    await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName, thingName }))
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [`arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/${thingGroupName}`],
      }),
    )
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName, thingName }))
    return { jobId, thingName }
  }
  const thingName = await createThing(h)
  const jobId = await createJob(h, [thingName])
  if (status === 'CANCELED') await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName }))
  else await report(h, jobId, thingName, status)
  return { jobId, thingName }
}

/**
 * A thing with two executions of one CONTINUOUS job: #1 SUCCEEDED, #2 QUEUED (the thing left the
 * target group and joined it again). [spec: state-machines#3.2] [spec: state-machines#7]
 */
export async function twoExecutions(h: Harness): Promise<{ jobId: string; thingName: string }> {
  const thingGroupName = unique('group')
  await h.iot.send(new CreateThingGroupCommand({ thingGroupName }))
  const thingName = await createThing(h)
  await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName, thingName }))
  const jobId = unique('job')
  await h.iot.send(
    new CreateJobCommand({
      jobId,
      document: DOCUMENT,
      targetSelection: 'CONTINUOUS',
      targets: [`arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/${thingGroupName}`],
    }),
  )
  await report(h, jobId, thingName, 'SUCCEEDED', { statusDetails: { attempt: 'first' } })
  await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName, thingName }))
  await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName, thingName }))
  return { jobId, thingName }
}

/** Checks an SDK rejection: the exception class and the HTTP status. Use with `assert.rejects`. */
export function isError(
  type: abstract new (...args: never[]) => Error & { $metadata: { httpStatusCode?: number } },
  status: number,
): (e: unknown) => boolean {
  return (e: unknown) => {
    assert.ok(e instanceof type, `expected ${type.name}, got ${String(e)}`)
    assert.equal(e.$metadata.httpStatusCode, status)
    assert.equal(typeof e.message, 'string')
    assert.ok(e.message.length > 0, 'the error carries a message')
    return true
  }
}

/** `count` statusDetails pairs `k1: v1` … */
export function detailsOf(count: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: count }, (_, i) => [`k${i + 1}`, `v${i + 1}`]))
}
