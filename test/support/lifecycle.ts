/**
 * Helpers for the job-lifecycle tests (UpdateJob, CancelJob, DeleteJob, AssociateTargetsWithJob,
 * SNAPSHOT completion): control over the job-deletion worker without sleeping, a job whose executions
 * sit in every status a test can reach, and exact reads of executions through the control plane.
 * [spec: jobs-control-plane#deletejob] [spec: state-machines#2-job-execution-state-machine]
 */
import {
  CancelJobExecutionCommand,
  CreateJobCommand,
  DeleteThingCommand,
  DescribeJobExecutionCommand,
  paginateListJobExecutionsForThing,
} from '@aws-sdk/client-iot'
import type { CreateJobCommandInput, JobExecution, JobExecutionStatus } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import type { Harness } from './harness.js'
import { thingArnOf, unique } from './harness.js'
import { DOCUMENT, createThing, report } from './device.js'

/**
 * Stops the job-deletion worker from starting passes (DeleteJob then leaves the job in
 * DELETION_IN_PROGRESS), until `release` runs the deletions that piled up and restores the worker.
 * Works by shadowing the worker's `wake` method on the instance; `release` removes the shadow.
 */
export function holdJobDeletion(h: Harness): { release(): Promise<number> } {
  const worker = h.server.workers.jobDeletion
  Object.defineProperty(worker, 'wake', { value: () => undefined, configurable: true, writable: true })
  return {
    release: async () => {
      Reflect.deleteProperty(worker, 'wake')
      await worker.idle()
      return worker.runOnce()
    },
  }
}

/** Waits for the pass DeleteJob started, then runs one more: every accepted deletion is finished. */
export async function finishJobDeletions(h: Harness): Promise<void> {
  await h.server.workers.jobDeletion.idle()
  await h.server.workers.jobDeletion.runOnce()
}

/** The statuses `jobInEveryStatus` produces (TIMED_OUT needs the timer scheduler, not built yet). */
export const REACHABLE_STATUSES = [
  'QUEUED',
  'IN_PROGRESS',
  'SUCCEEDED',
  'FAILED',
  'REJECTED',
  'CANCELED',
  'REMOVED',
] as const satisfies readonly JobExecutionStatus[]
export type ReachableStatus = (typeof REACHABLE_STATUSES)[number]

/**
 * One job on seven fresh things, the execution of each in another status: QUEUED (untouched),
 * IN_PROGRESS / SUCCEEDED / FAILED / REJECTED (device updates), CANCELED (CancelJobExecution),
 * REMOVED (DeleteThing). The job stays IN_PROGRESS because QUEUED and IN_PROGRESS remain.
 */
export async function jobInEveryStatus(
  h: Harness,
  extra: Partial<CreateJobCommandInput> = {},
): Promise<{ jobId: string; thingOf: Record<ReachableStatus, string> }> {
  const thingOf = {} as Record<ReachableStatus, string>
  for (const status of REACHABLE_STATUSES) thingOf[status] = await createThing(h)
  const jobId = extra.jobId ?? unique('job')
  await h.iot.send(
    new CreateJobCommand({
      document: DOCUMENT,
      ...extra,
      jobId,
      targets: REACHABLE_STATUSES.map((s) => thingArnOf(thingOf[s])),
    }),
  )
  for (const status of ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED'] as const) {
    await report(h, jobId, thingOf[status], status)
  }
  await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: thingOf.CANCELED }))
  await h.iot.send(new DeleteThingCommand({ thingName: thingOf.REMOVED }))
  return { jobId, thingOf }
}

/** The latest execution of the job on the thing, as the control plane describes it. */
export async function cpExecution(h: Harness, jobId: string, thingName: string): Promise<JobExecution> {
  const out = await h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }))
  assert.ok(out.execution !== undefined, `execution of ${jobId} on ${thingName}`)
  return out.execution
}

/** `status/versionNumber/forceCanceled/lastUpdatedAt(ms)` of the latest execution, for exact comparisons. */
export async function executionFacts(h: Harness, jobId: string, thingName: string): Promise<string> {
  const e = await cpExecution(h, jobId, thingName)
  return `${String(e.status)}/v${String(e.versionNumber)}/force=${String(e.forceCanceled ?? false)}/at=${String(e.lastUpdatedAt?.getTime())}`
}

/** `jobId#executionNumber:STATUS` of every record ListJobExecutionsForThing lists, sorted. */
export async function executionsOfThing(h: Harness, thingName: string): Promise<string[]> {
  const out: string[] = []
  for await (const page of paginateListJobExecutionsForThing(
    { client: h.iot, pageSize: 250 },
    { thingName },
  )) {
    for (const item of page.executionSummaries ?? []) {
      const s = item.jobExecutionSummary
      out.push(`${String(item.jobId)}#${String(s?.executionNumber)}:${String(s?.status)}`)
    }
  }
  return out.sort()
}

/** An ISO-8601 `YYYY-MM-DDTHH:MM` string `ms` after `nowMs` (UTC), for schedulingConfig. */
export function isoMinute(nowMs: number, ms: number): string {
  return new Date(nowMs + ms).toISOString().slice(0, 16)
}
