/**
 * Concurrent changes that lock the same rows from different sides, on PostgreSQL (run by
 * `npm run test:postgres`): devices updating their executions of a CONTINUOUS job while things leave its
 * group, are deleted, and the job is canceled. Every request either succeeds or gets a 4xx (never a 5xx
 * from a lock conflict), and afterwards the job's counters equal its records. The store locks in one
 * order — thing, executions, job (docs/decisions.md) — so these never wait on each other in a cycle.
 */
import {
  CancelJobCommand,
  CreateJobCommand,
  DeleteThingCommand,
  RemoveThingFromThingGroupCommand,
} from '@aws-sdk/client-iot'
import {
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import { DOCUMENT } from '../support/device.js'
import { assertCountersMatchRecords, createGroup, createThings, groupArnOf } from '../support/thing-groups.js'

/** A 4xx from the SDK (a rejected request), as opposed to a 5xx or a network failure. */
function clientError(error: unknown): boolean {
  const status = (error as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode
  return status !== undefined && status >= 400 && status < 500
}

describe('lock conflicts between devices, memberships, DeleteThing and CancelJob', () => {
  let h: Harness
  before(async () => {
    h = await startHarness()
  })
  after(async () => {
    await h.close()
  })

  it('never answer 5xx, and the counters equal the records [spec: state-machines#7] [spec: state-machines#9]', async () => {
    const group = await createGroup(h)
    const things = await createThings(h, 40, group.name)
    const jobId = unique('race-job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targets: [groupArnOf(group.name)],
        targetSelection: 'CONTINUOUS',
      }),
    )
    const device = async (thingName: string): Promise<void> => {
      const started = await h.data.send(new StartNextPendingJobExecutionCommand({ thingName }))
      const version = started.execution?.versionNumber
      if (started.execution?.jobId !== jobId || version === undefined) return
      await h.data.send(
        new UpdateJobExecutionCommand({ thingName, jobId, status: 'SUCCEEDED', expectedVersion: version }),
      )
    }
    const work: Promise<unknown>[] = things.map((thingName) => device(thingName))
    things.forEach((thingName, i) => {
      if (i % 3 === 0)
        work.push(h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName })))
      if (i % 7 === 0) work.push(h.iot.send(new DeleteThingCommand({ thingName })))
    })
    work.push(
      new Promise((resolve) => setTimeout(resolve, 30)).then(() =>
        h.iot.send(new CancelJobCommand({ jobId, force: true })),
      ),
    )
    const results = await Promise.allSettled(work)
    const failures = results
      .filter((r): r is PromiseRejectedResult => r.status === 'rejected')
      .filter((r) => !clientError(r.reason))
      .map((r) => String(r.reason))
    assert.deepEqual(failures, [])
    await assertCountersMatchRecords(h, jobId)
  })
})
