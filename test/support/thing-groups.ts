/**
 * Helpers for the thing-group tests: ARNs, groups with members, and the reads every CONTINUOUS step
 * checks (execution records, counters, the device's pending list). Everything goes through the real
 * AWS SDK clients of the harness.
 */
import {
  AddThingToThingGroupCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DescribeJobCommand,
  paginateListJobExecutionsForJob,
} from '@aws-sdk/client-iot'
import type { JobExecutionStatus, JobProcessDetails } from '@aws-sdk/client-iot'
import { GetPendingJobExecutionsCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import type { Harness } from './harness.js'
import { ACCOUNT, REGION, unique } from './harness.js'

export const groupArnOf = (groupName: string): string =>
  `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/${groupName}`

/** Creates a thing group (optionally under a parent) and returns its name and id. */
export async function createGroup(
  h: Harness,
  options: { name?: string; parent?: string } = {},
): Promise<{ name: string; id: string; arn: string }> {
  const name = options.name ?? unique('group')
  const out = await h.iot.send(
    new CreateThingGroupCommand({
      thingGroupName: name,
      ...(options.parent === undefined ? {} : { parentGroupName: options.parent }),
    }),
  )
  assert.equal(out.thingGroupName, name)
  assert.equal(out.thingGroupArn, groupArnOf(name))
  assert.ok(out.thingGroupId !== undefined)
  return { name, id: out.thingGroupId, arn: groupArnOf(name) }
}

/** Creates things (no attributes), each added to `group` when one is given; returns their names. */
export async function createThings(h: Harness, count: number, group?: string): Promise<string[]> {
  const names: string[] = []
  for (let i = 0; i < count; i += 1) {
    const thingName = unique('thing')
    await h.iot.send(new CreateThingCommand({ thingName }))
    if (group !== undefined) await addToGroup(h, group, thingName)
    names.push(thingName)
  }
  return names
}

export async function addToGroup(h: Harness, thingGroupName: string, thingName: string): Promise<void> {
  await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName, thingName }))
}

/** One execution record of a job as ListJobExecutionsForJob shows it. */
export interface ExecutionRecord {
  readonly thingName: string
  readonly executionNumber: number
  readonly status: JobExecutionStatus
  readonly retryAttempt: number | undefined
}

/** Every execution record of the job (all pages), ordered by thing name and execution number. */
export async function executionsOf(h: Harness, jobId: string): Promise<ExecutionRecord[]> {
  const records: ExecutionRecord[] = []
  for await (const page of paginateListJobExecutionsForJob({ client: h.iot, pageSize: 250 }, { jobId })) {
    for (const item of page.executionSummaries ?? []) {
      const summary = item.jobExecutionSummary
      assert.ok(item.thingArn !== undefined && summary?.status !== undefined)
      assert.ok(summary.executionNumber !== undefined)
      records.push({
        thingName: item.thingArn.slice(item.thingArn.lastIndexOf('/') + 1),
        executionNumber: summary.executionNumber,
        status: summary.status,
        retryAttempt: summary.retryAttempt,
      })
    }
  }
  return records.sort((a, b) =>
    a.thingName === b.thingName ? a.executionNumber - b.executionNumber : a.thingName < b.thingName ? -1 : 1,
  )
}

/** `thingName#executionNumber:STATUS` strings of the job's records, restricted to `things` when given. */
export async function executionStates(
  h: Harness,
  jobId: string,
  things?: readonly string[],
): Promise<string[]> {
  return (await executionsOf(h, jobId))
    .filter((r) => things === undefined || things.includes(r.thingName))
    .map((r) => `${r.thingName}#${r.executionNumber}:${r.status}`)
}

const COUNTER_OF: Record<JobExecutionStatus, keyof JobProcessDetails> = {
  QUEUED: 'numberOfQueuedThings',
  IN_PROGRESS: 'numberOfInProgressThings',
  SUCCEEDED: 'numberOfSucceededThings',
  FAILED: 'numberOfFailedThings',
  TIMED_OUT: 'numberOfTimedOutThings',
  REJECTED: 'numberOfRejectedThings',
  REMOVED: 'numberOfRemovedThings',
  CANCELED: 'numberOfCanceledThings',
}

/**
 * [spec: state-machines#9] DescribeJob's jobProcessDetails equals the number of records per status
 * that ListJobExecutionsForJob lists. Returns the counters.
 */
export async function assertCountersMatchRecords(h: Harness, jobId: string): Promise<JobProcessDetails> {
  const [described, records] = await Promise.all([
    h.iot.send(new DescribeJobCommand({ jobId })),
    executionsOf(h, jobId),
  ])
  const details = described.job?.jobProcessDetails
  assert.ok(details !== undefined, 'DescribeJob returns jobProcessDetails')
  for (const [status, counter] of Object.entries(COUNTER_OF) as [
    JobExecutionStatus,
    keyof JobProcessDetails,
  ][]) {
    const listed = records.filter((r) => r.status === status).length
    assert.equal(details[counter] ?? 0, listed, `${counter} equals the ${status} records listed`)
  }
  return details
}

/** The thing's pending executions as the device sees them: `jobId#executionNumber:STATUS`, sorted. */
export async function pendingOnDevice(h: Harness, thingName: string): Promise<string[]> {
  const out = await h.data.send(new GetPendingJobExecutionsCommand({ thingName }))
  return [
    ...(out.inProgressJobs ?? []).map((e) => `${e.jobId ?? ''}#${e.executionNumber ?? 0}:IN_PROGRESS`),
    ...(out.queuedJobs ?? []).map((e) => `${e.jobId ?? ''}#${e.executionNumber ?? 0}:QUEUED`),
  ].sort()
}

/**
 * [spec: jobs-device-api#12-getpendingjobexecutions] Each thing's device view lists exactly its
 * QUEUED and IN_PROGRESS records of the job (the things used here have no other jobs).
 */
export async function assertDeviceSeesPending(
  h: Harness,
  jobId: string,
  things: readonly string[],
): Promise<void> {
  const records = await executionsOf(h, jobId)
  for (const thingName of things) {
    const expected = records
      .filter((r) => r.thingName === thingName && (r.status === 'QUEUED' || r.status === 'IN_PROGRESS'))
      .map((r) => `${jobId}#${r.executionNumber}:${r.status}`)
      .sort()
    assert.deepEqual(await pendingOnDevice(h, thingName), expected, `pending executions of ${thingName}`)
  }
}
