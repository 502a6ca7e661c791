/**
 * DeleteJobExecution through the real AWS SDK (raw HTTP only for what the SDK cannot send): every row
 * of the deletion table (§3) and of the error catalogue (§5), the order of the algorithm's steps (§2),
 * the effects of a deletion (§4), the concurrency rules that a sequence of requests can show (§6), and
 * the acceptance tests of §7 that need no MQTT.
 * [spec: delete-job-execution]
 */
import {
  AddThingToThingGroupCommand,
  CancelJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteJobCommand,
  DeleteJobExecutionCommand,
  DeleteThingCommand,
  DescribeJobExecutionCommand,
  IoTClient,
  InvalidRequestException,
  InvalidStateTransitionException,
  RemoveThingFromThingGroupCommand,
  ResourceNotFoundException,
  ServiceUnavailableException,
  ThrottlingException,
} from '@aws-sdk/client-iot'
import type { DeleteJobExecutionCommandInput } from '@aws-sdk/client-iot'
import {
  DescribeJobExecutionCommand as DpDescribeJobExecutionCommand,
  InvalidStateTransitionException as DpInvalidStateTransitionException,
  ResourceNotFoundException as DpResourceNotFoundException,
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, raw, sdkCredentials, startHarness, unique } from '../support/harness.js'
import {
  DOCUMENT,
  ManualClock,
  createJob,
  createThing,
  describeJob,
  pendingOf,
  report,
} from '../support/device.js'
import { finishJobDeletions, holdJobDeletion } from '../support/lifecycle.js'
import type { AnyExecutionStatus } from '../support/executions.js'
import {
  ALL_EXECUTION_STATUSES,
  assertRawError,
  counts,
  countersOf,
  cpDescribe,
  executionIn,
  listedForJob,
  listedForThing,
  rejection,
  timeOutInDatabase,
} from '../support/executions.js'

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

type DeleteOptions = Omit<DeleteJobExecutionCommandInput, 'jobId' | 'thingName' | 'executionNumber'>

const del = (jobId: string, thingName: string, executionNumber: number, options: DeleteOptions = {}) =>
  h.iot.send(new DeleteJobExecutionCommand({ jobId, thingName, executionNumber, ...options }))

/** The raw request path of DeleteJobExecution. [spec: delete-job-execution#1] */
const deletePath = (thingName: string, jobId: string, executionNumber: number | string, query = '') =>
  `/things/${thingName}/jobs/${jobId}/executionNumber/${executionNumber}${query === '' ? '' : `?${query}`}`

/** Asserts that the numbered execution no longer exists for the control plane. */
async function assertGone(jobId: string, thingName: string, executionNumber: number): Promise<void> {
  await assert.rejects(
    cpDescribe(h, jobId, thingName, executionNumber),
    rejection(ResourceNotFoundException, 404, jobId, thingName, String(executionNumber)),
  )
}

/** A thing in a fresh group and a CONTINUOUS job targeting the group. [spec: state-machines#7] */
async function continuousJob(): Promise<{ jobId: string; thingName: string; thingGroupName: string }> {
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
  return { jobId, thingName, thingGroupName }
}

/** The thing leaves the group and joins it again: a re-execution when nothing is pending. */
async function leaveAndRejoin(thingGroupName: string, thingName: string): Promise<void> {
  await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName, thingName }))
  await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName, thingName }))
}

/** One row of the table in §3, written out from the spec. */
interface DeletionRow {
  readonly status: AnyExecutionStatus
  /** The row as the spec writes it. */
  readonly row: string
  readonly withoutForce: 'deleted' | 409
  readonly tag: string
}
const DELETION_TABLE: readonly DeletionRow[] = [
  { status: 'SUCCEEDED', row: 'SUCCEEDED | deleted | deleted', withoutForce: 'deleted', tag: '' },
  { status: 'FAILED', row: 'FAILED | deleted | deleted', withoutForce: 'deleted', tag: '' },
  { status: 'REJECTED', row: 'REJECTED | deleted | deleted', withoutForce: 'deleted', tag: '' },
  { status: 'REMOVED', row: 'REMOVED | deleted | deleted', withoutForce: 'deleted', tag: '' },
  { status: 'CANCELED', row: 'CANCELED | deleted | deleted', withoutForce: 'deleted', tag: '' },
  {
    status: 'TIMED_OUT',
    row: 'TIMED_OUT | deleted (see note 1) | deleted',
    withoutForce: 'deleted',
    tag: ' [open-question 59]',
  },
  {
    status: 'IN_PROGRESS',
    row: 'IN_PROGRESS | 409 InvalidStateTransitionException | deleted',
    withoutForce: 409,
    tag: '',
  },
  {
    status: 'QUEUED',
    row: 'QUEUED | 409 InvalidStateTransitionException (note 2) | deleted (note 3)',
    withoutForce: 409,
    tag: ' [open-question 60]',
  },
]

describe('DeleteJobExecution: which executions can be deleted [spec: delete-job-execution#3] [spec: delete-job-execution#7]', () => {
  it('the table has one row per execution status', () => {
    assert.deepEqual(DELETION_TABLE.map((r) => r.status).sort(), [...ALL_EXECUTION_STATUSES].sort())
  })

  for (const { status, row, withoutForce, tag } of DELETION_TABLE) {
    if (withoutForce === 'deleted') {
      it(`row "${row}": force absent, false or true, the execution is deleted and DescribeJobExecution answers 404${tag}`, async () => {
        for (const force of [undefined, false, true]) {
          const { jobId, thingName } = await executionIn(h, status, clock.nowMs())
          const e = await cpDescribe(h, jobId, thingName, 1)
          assert.equal(e.status, status)
          assert.deepEqual(await countersOf(h, jobId), counts({ [status]: 1 }))
          const out = await del(jobId, thingName, 1, force === undefined ? {} : { force })
          assert.equal(out.$metadata.httpStatusCode, 200, `force=${String(force)}`)
          await assertGone(jobId, thingName, 1)
          assert.deepEqual(await listedForJob(h, jobId), [])
          assert.deepEqual(await countersOf(h, jobId), counts({}), 'the counter of the status drops')
        }
      })
    } else {
      it(`row "${row}": force absent or false is InvalidStateTransitionException (409) and changes nothing; force=true deletes it${tag}`, async () => {
        const { jobId, thingName } = await executionIn(h, status, clock.nowMs())
        const before = await cpDescribe(h, jobId, thingName, 1)
        assert.equal(before.status, status)
        for (const force of [undefined, false]) {
          await assert.rejects(
            del(jobId, thingName, 1, force === undefined ? {} : { force }),
            rejection(InvalidStateTransitionException, 409, status),
          )
          assert.deepEqual(await cpDescribe(h, jobId, thingName, 1), before, `force=${String(force)}`)
        }
        assert.deepEqual(await countersOf(h, jobId), counts({ [status]: 1 }))
        const out = await del(jobId, thingName, 1, { force: true })
        assert.equal(out.$metadata.httpStatusCode, 200)
        await assertGone(jobId, thingName, 1)
        assert.deepEqual(await listedForJob(h, jobId), [])
      })
    }
  }
})

describe('DeleteJobExecution: error catalogue [spec: delete-job-execution#5]', () => {
  /** A QUEUED execution; every request below asks for force=true, so one that slipped through would delete it. */
  async function target(): Promise<{ jobId: string; thingName: string; before: unknown }> {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    return { jobId, thingName, before: await cpDescribe(h, jobId, thingName, 1) }
  }

  it('row "thingName empty, > 128 chars or outside [a-zA-Z0-9:_-]": 400 InvalidRequestException naming thingName', async () => {
    const { jobId, thingName, before } = await target()
    for (const bad of ['thing.1', 'a/b', 'thing 1', 'thing#1', 'x'.repeat(129)]) {
      await assert.rejects(
        del(jobId, bad, 1, { force: true }),
        rejection(InvalidRequestException, 400, 'thingName'),
        bad,
      )
    }
    // The SDK refuses to send an empty label; raw HTTP does.
    assertRawError(
      await raw(h.server.url, 'DELETE', deletePath('', jobId, 1, 'force=true')),
      400,
      'InvalidRequestException',
      'thingName',
    )
    assert.deepEqual(await cpDescribe(h, jobId, thingName, 1), before)
  })

  it('row "jobId empty, > 64 chars or outside [a-zA-Z0-9_-]": 400 InvalidRequestException naming jobId [spec: delete-job-execution#7]', async () => {
    const { jobId, thingName, before } = await target()
    for (const bad of ['a.b', 'job:1', 'a/b', 'x'.repeat(65)]) {
      await assert.rejects(
        del(bad, thingName, 1, { force: true }),
        rejection(InvalidRequestException, 400, 'jobId'),
        bad,
      )
    }
    assertRawError(
      await raw(h.server.url, 'DELETE', deletePath(thingName, '', 1, 'force=true')),
      400,
      'InvalidRequestException',
      'jobId',
    )
    assert.deepEqual(await cpDescribe(h, jobId, thingName, 1), before)
  })

  it('row "executionNumber not a non-negative integer": 400 InvalidRequestException naming executionNumber [spec: delete-job-execution#7]', async () => {
    const { jobId, thingName, before } = await target()
    for (const bad of ['abc', '1.5', '-1', '+1', '1e3', '0x1', '1%20', '9007199254740992', '']) {
      assertRawError(
        await raw(h.server.url, 'DELETE', deletePath(thingName, jobId, bad, 'force=true')),
        400,
        'InvalidRequestException',
        'executionNumber',
      )
    }
    await assert.rejects(
      del(jobId, thingName, -1, { force: true }),
      rejection(InvalidRequestException, 400, 'executionNumber'),
    )
    // The bounds themselves are valid numbers: 0 and 2^53 − 1 pass validation and are simply not found.
    for (const executionNumber of [0, Number.MAX_SAFE_INTEGER]) {
      await assert.rejects(
        del(jobId, thingName, executionNumber, { force: true }),
        rejection(ResourceNotFoundException, 404, String(executionNumber)),
      )
    }
    assert.deepEqual(await cpDescribe(h, jobId, thingName, 1), before)
  })

  it('row "force neither true nor false": 400 InvalidRequestException naming force [spec: delete-job-execution#7]', async () => {
    const { jobId, thingName, before } = await target()
    for (const bad of ['yes', 'TRUE', 'True', '1', '']) {
      assertRawError(
        await raw(h.server.url, 'DELETE', deletePath(thingName, jobId, 1, `force=${bad}`)),
        400,
        'InvalidRequestException',
        'force',
      )
    }
    assert.deepEqual(await cpDescribe(h, jobId, thingName, 1), before)
  })

  it('row "namespaceId invalid": 400 InvalidRequestException naming namespaceId', async () => {
    const { jobId, thingName, before } = await target()
    for (const bad of ['a.b', 'ns:1', 'n'.repeat(65)]) {
      await assert.rejects(
        del(jobId, thingName, 1, { force: true, namespaceId: bad }),
        rejection(InvalidRequestException, 400, 'namespaceId'),
        bad,
      )
    }
    assertRawError(
      await raw(h.server.url, 'DELETE', deletePath(thingName, jobId, 1, 'force=true&namespaceId=')),
      400,
      'InvalidRequestException',
      'namespaceId',
    )
    assert.deepEqual(await cpDescribe(h, jobId, thingName, 1), before)
  })

  it('row "Job does not exist": 404 ResourceNotFoundException naming the job, also once its deletion has completed [spec: delete-job-execution#7]', async () => {
    const thingName = await createThing(h)
    const missing = unique('missing')
    await assert.rejects(
      del(missing, thingName, 1, { force: true }),
      rejection(ResourceNotFoundException, 404, `Job ${missing}`),
    )
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'SUCCEEDED')
    await h.iot.send(new DeleteJobCommand({ jobId }))
    await finishJobDeletions(h)
    await assert.rejects(
      del(jobId, thingName, 1, { force: true }),
      rejection(ResourceNotFoundException, 404, `Job ${jobId}`),
    )
  })

  it('row "namespaceId does not match the job": 404 ResourceNotFoundException naming the job and the namespace [open-question 28] [spec: delete-job-execution#7]', async () => {
    const inNs1 = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    const plain = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    const namespaced = await createThing(h)
    const nsJob = await createJob(h, [namespaced], { namespaceId: 'ns1' })
    await report(h, nsJob, namespaced, 'SUCCEEDED')
    for (const [jobId, thingName, namespaceId] of [
      [nsJob, namespaced, 'ns2'],
      [plain.jobId, plain.thingName, 'ns1'],
    ] as const) {
      await assert.rejects(
        del(jobId, thingName, 1, { namespaceId }),
        rejection(ResourceNotFoundException, 404, jobId, namespaceId),
      )
      assert.equal((await cpDescribe(h, jobId, thingName, 1)).status, 'SUCCEEDED')
    }
    assert.equal((await cpDescribe(h, inNs1.jobId, inNs1.thingName, 1)).status, 'SUCCEEDED')
  })

  it('row "Job is DELETION_IN_PROGRESS": 409 InvalidStateTransitionException naming the job [open-question 61]', async () => {
    const { jobId, thingName } = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId }))
      assert.equal((await describeJob(h, jobId)).status, 'DELETION_IN_PROGRESS')
      for (const force of [undefined, true]) {
        await assert.rejects(
          del(jobId, thingName, 1, force === undefined ? {} : { force }),
          rejection(InvalidStateTransitionException, 409, jobId, 'being deleted'),
        )
      }
      assert.equal((await cpDescribe(h, jobId, thingName, 1)).status, 'SUCCEEDED')
    } finally {
      await hold.release()
    }
    // The job deletion removed the execution as well.
    await assert.rejects(cpDescribe(h, jobId, thingName, 1), rejection(ResourceNotFoundException, 404, jobId))
  })

  it('row "No execution with that number for that job on that thing (never existed, already deleted, other thing)": 404 ResourceNotFoundException naming number, job and thing [spec: delete-job-execution#7]', async () => {
    const { jobId, thingName } = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    const other = await createThing(h)
    const unregistered = unique('thing')
    // never existed
    for (const executionNumber of [2, 0]) {
      await assert.rejects(
        del(jobId, thingName, executionNumber, { force: true }),
        rejection(
          ResourceNotFoundException,
          404,
          `No execution ${executionNumber} of job ${jobId} on thing ${thingName}`,
        ),
      )
    }
    // other thing: registered without an execution of the job, or not registered at all
    for (const name of [other, unregistered]) {
      await assert.rejects(
        del(jobId, name, 1, { force: true }),
        rejection(ResourceNotFoundException, 404, `No execution 1 of job ${jobId} on thing ${name}`),
      )
    }
    assert.equal((await cpDescribe(h, jobId, thingName, 1)).status, 'SUCCEEDED')
    // already deleted [spec: delete-job-execution#6]: the second identical request gets 404
    await del(jobId, thingName, 1)
    await assert.rejects(
      del(jobId, thingName, 1),
      rejection(ResourceNotFoundException, 404, `No execution 1 of job ${jobId} on thing ${thingName}`),
    )
  })

  it('row "Execution IN_PROGRESS and force not true": 409 InvalidStateTransitionException saying force=true is needed', async () => {
    const { jobId, thingName } = await executionIn(h, 'IN_PROGRESS', clock.nowMs())
    for (const force of [undefined, false]) {
      await assert.rejects(
        del(jobId, thingName, 1, force === undefined ? {} : { force }),
        rejection(InvalidStateTransitionException, 409, 'IN_PROGRESS', 'force=true'),
      )
    }
    const e = await cpDescribe(h, jobId, thingName, 1)
    assert.equal(e.status, 'IN_PROGRESS')
    assert.equal(e.versionNumber, 2)
  })

  it('row "Execution QUEUED and force not true": 409 InvalidStateTransitionException saying only terminal executions can be deleted', async () => {
    const { jobId, thingName } = await executionIn(h, 'QUEUED', clock.nowMs())
    for (const force of [undefined, false]) {
      await assert.rejects(
        del(jobId, thingName, 1, force === undefined ? {} : { force }),
        rejection(InvalidStateTransitionException, 409, 'QUEUED', 'terminal'),
      )
    }
    const e = await cpDescribe(h, jobId, thingName, 1)
    assert.equal(e.status, 'QUEUED')
    assert.equal(e.versionNumber, 1)
  })

  it('row "Unexpected internal failure": 503 ServiceUnavailableException "Service unavailable" (the operation models no 500)', async () => {
    const { jobId, thingName } = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    const store = h.server.context.store
    // The store fails the way a broken disk would; the shadow on the instance is removed afterwards.
    Object.defineProperty(store, 'mutateExecution', {
      value: () => Promise.reject(new Error('disk I/O error')),
      configurable: true,
      writable: true,
    })
    try {
      await assert.rejects(
        del(jobId, thingName, 1),
        rejection(ServiceUnavailableException, 503, 'Service unavailable'),
      )
      const r = await raw(h.server.url, 'DELETE', deletePath(thingName, jobId, 1))
      assertRawError(r, 503, 'ServiceUnavailableException')
      assert.deepEqual(r.json, { message: 'Service unavailable' }, 'the internal error is not exposed')
    } finally {
      Reflect.deleteProperty(store, 'mutateExecution')
    }
    assert.equal((await cpDescribe(h, jobId, thingName, 1)).status, 'SUCCEEDED')
    await del(jobId, thingName, 1)
    await assertGone(jobId, thingName, 1)
  })
})

describe('DeleteJobExecution: order of the steps [spec: delete-job-execution#2]', () => {
  it('step 1 percent-decodes the labels: thing:1 sent as thing%3A1 is found and deleted [spec: delete-job-execution#1]', async () => {
    const thingName = `${unique('thing')}:1`
    await h.iot.send(new CreateThingCommand({ thingName }))
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'SUCCEEDED')
    const r = await raw(
      h.server.url,
      'DELETE',
      deletePath(encodeURIComponent(thingName), jobId, 1, 'force=false'),
    )
    assert.equal(r.status, 200, JSON.stringify(r.json))
    await assertGone(jobId, thingName, 1)
  })

  it('step 2 (validation) comes before step 4 (job): a bad executionNumber for an unknown job is 400', async () => {
    const r = await raw(h.server.url, 'DELETE', deletePath('t1', unique('missing'), 'abc'))
    assertRawError(r, 400, 'InvalidRequestException', 'executionNumber')
  })

  it('step 5 (namespace) comes before step 7 (execution): an unknown number in the wrong namespace names the namespace', async () => {
    const { jobId, thingName } = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    await assert.rejects(
      del(jobId, thingName, 9, { namespaceId: 'ns1' }),
      rejection(ResourceNotFoundException, 404, `Job ${jobId} not found in namespace ns1`),
    )
  })

  it('step 5 (namespace) comes before step 6 (job being deleted): 404, not 409 [open-question 28] [open-question 61]', async () => {
    const { jobId, thingName } = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId }))
      await assert.rejects(
        del(jobId, thingName, 1, { namespaceId: 'ns1' }),
        rejection(ResourceNotFoundException, 404, jobId, 'ns1'),
      )
    } finally {
      await hold.release()
    }
  })

  it('step 6 (job being deleted) comes before step 7 (execution): 409 even for a number that does not exist', async () => {
    const { jobId, thingName } = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId }))
      await assert.rejects(
        del(jobId, thingName, 7, { force: true }),
        rejection(InvalidStateTransitionException, 409, jobId, 'being deleted'),
      )
    } finally {
      await hold.release()
    }
  })

  it('step 7: the thing does not have to exist in the registry any more (DeleteThing left a REMOVED execution)', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'IN_PROGRESS')
    await h.iot.send(new DeleteThingCommand({ thingName }))
    assert.equal((await cpDescribe(h, jobId, thingName, 1)).status, 'REMOVED')
    const out = await del(jobId, thingName, 1)
    assert.equal(out.$metadata.httpStatusCode, 200)
    await assertGone(jobId, thingName, 1)
  })
})

describe('DeleteJobExecution: namespaceId matching or absent proceeds [spec: delete-job-execution#2] [spec: jobs-control-plane#6-namespaces-namespaceid] [spec: delete-job-execution#7]', () => {
  it('a namespaced job: the matching namespaceId deletes, and so does none', async () => {
    for (const namespaceId of ['ns1', undefined]) {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName], { namespaceId: 'ns1' })
      await report(h, jobId, thingName, 'FAILED')
      await del(jobId, thingName, 1, namespaceId === undefined ? {} : { namespaceId })
      await assertGone(jobId, thingName, 1)
    }
  })

  it('the request the newest SDK sends: force=true and namespaceId=ns1 on an IN_PROGRESS execution [spec: delete-job-execution#1]', async () => {
    const thingName = `${unique('thing')}:1`
    await h.iot.send(new CreateThingCommand({ thingName }))
    const jobId = await createJob(h, [thingName], { namespaceId: 'ns1' })
    await report(h, jobId, thingName, 'IN_PROGRESS')
    await del(jobId, thingName, 1, { force: true, namespaceId: 'ns1' })
    await assertGone(jobId, thingName, 1)
  })

  it('a job without a namespace: no namespaceId deletes', async () => {
    const { jobId, thingName } = await executionIn(h, 'REJECTED', clock.nowMs())
    await del(jobId, thingName, 1)
    await assertGone(jobId, thingName, 1)
  })
})

describe('DeleteJobExecution: effects [spec: delete-job-execution#4]', () => {
  it('the record is gone from DescribeJobExecution, ListJobExecutionsForJob and ListJobExecutionsForThing; other records stay', async () => {
    const first = await createThing(h)
    const second = await createThing(h)
    const jobId = await createJob(h, [first, second])
    const otherJob = await createJob(h, [first])
    await report(h, jobId, first, 'SUCCEEDED')
    await report(h, jobId, second, 'FAILED')
    const kept = await cpDescribe(h, jobId, second, 1)
    await del(jobId, first, 1)
    await assertGone(jobId, first, 1)
    await assert.rejects(cpDescribe(h, jobId, first), rejection(ResourceNotFoundException, 404, jobId, first))
    assert.deepEqual(await listedForJob(h, jobId), [`${second}#1:FAILED`])
    assert.deepEqual(await listedForThing(h, first), [`${otherJob}#1:QUEUED`])
    assert.deepEqual(await cpDescribe(h, jobId, second, 1), kept)
  })

  it('"latest" is now the highest remaining number: without executionNumber the device reaches the older terminal execution (409); with the deleted number it gets 404', async () => {
    const { jobId, thingName, thingGroupName } = await continuousJob()
    await report(h, jobId, thingName, 'SUCCEEDED', { statusDetails: { attempt: 'first' } })
    await leaveAndRejoin(thingGroupName, thingName)
    assert.equal((await cpDescribe(h, jobId, thingName)).executionNumber, 2)
    const olderBefore = await cpDescribe(h, jobId, thingName, 1)
    await del(jobId, thingName, 2, { force: true })
    assert.deepEqual(await cpDescribe(h, jobId, thingName), olderBefore, 'the latest is #1, unchanged')
    await assert.rejects(
      h.data.send(new UpdateJobExecutionCommand({ jobId, thingName, status: 'IN_PROGRESS' })),
      (e: unknown) => {
        assert.ok(e instanceof DpInvalidStateTransitionException, String(e))
        assert.equal(e.$metadata.httpStatusCode, 409)
        return true
      },
    )
    await assert.rejects(
      h.data.send(
        new UpdateJobExecutionCommand({ jobId, thingName, status: 'IN_PROGRESS', executionNumber: 2 }),
      ),
      (e: unknown) => {
        assert.ok(e instanceof DpResourceNotFoundException, String(e))
        assert.equal(e.$metadata.httpStatusCode, 404)
        return true
      },
    )
    assert.deepEqual(await cpDescribe(h, jobId, thingName, 1), olderBefore)
  })

  for (const status of ['QUEUED', 'IN_PROGRESS'] as const) {
    it(`a force-deleted ${status} execution leaves the device's pending set: GetPending, StartNext and $next no longer return it; describe and update by the device get 404`, async () => {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      const stays = await createJob(h, [thingName])
      if (status === 'IN_PROGRESS') await report(h, jobId, thingName, 'IN_PROGRESS')
      assert.deepEqual(
        (await pendingOf(h, thingName)).sort(),
        [`${jobId}:${status}`, `${stays}:QUEUED`].sort(),
      )
      await del(jobId, thingName, 1, { force: true })
      assert.deepEqual(await pendingOf(h, thingName), [`${stays}:QUEUED`])
      const next = await h.data.send(new DpDescribeJobExecutionCommand({ jobId: '$next', thingName }))
      assert.equal(next.execution?.jobId, stays)
      for (const send of [
        () => h.data.send(new DpDescribeJobExecutionCommand({ jobId, thingName })),
        () => h.data.send(new UpdateJobExecutionCommand({ jobId, thingName, status: 'SUCCEEDED' })),
      ]) {
        await assert.rejects(send(), (e: unknown) => {
          assert.ok(e instanceof DpResourceNotFoundException, String(e))
          assert.equal(e.$metadata.httpStatusCode, 404)
          return true
        })
      }
      await del(stays, thingName, 1, { force: true })
      assert.deepEqual(await pendingOf(h, thingName), [])
      const started = await h.data.send(new StartNextPendingJobExecutionCommand({ thingName }))
      assert.equal(started.execution, undefined)
      const none = await h.data.send(new DpDescribeJobExecutionCommand({ jobId: '$next', thingName }))
      assert.equal(none.execution, undefined)
    })
  }

  it('jobProcessDetails drops by one in the deleted status, for each of the eight statuses; the SNAPSHOT job completes when the last pending one goes [spec: delete-job-execution#7] [spec: state-machines#9]', async () => {
    const thingOf = {} as Record<AnyExecutionStatus, string>
    for (const status of ALL_EXECUTION_STATUSES) thingOf[status] = await createThing(h)
    const jobId = await createJob(
      h,
      ALL_EXECUTION_STATUSES.map((s) => thingOf[s]),
    )
    for (const status of ['IN_PROGRESS', 'SUCCEEDED', 'FAILED', 'REJECTED', 'TIMED_OUT'] as const) {
      await report(h, jobId, thingOf[status], status === 'TIMED_OUT' ? 'IN_PROGRESS' : status)
    }
    await timeOutInDatabase(h, jobId, thingOf.TIMED_OUT, clock.nowMs())
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: thingOf.CANCELED }))
    await h.iot.send(new DeleteThingCommand({ thingName: thingOf.REMOVED }))
    const expected = counts(Object.fromEntries(ALL_EXECUTION_STATUSES.map((s) => [s, 1])))
    assert.deepEqual(await countersOf(h, jobId), expected)
    // Terminal ones first, then IN_PROGRESS, QUEUED last: the job stays IN_PROGRESS until then.
    const order = [
      'SUCCEEDED',
      'FAILED',
      'TIMED_OUT',
      'REJECTED',
      'REMOVED',
      'CANCELED',
      'IN_PROGRESS',
      'QUEUED',
    ] as const
    for (const status of order) {
      assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS', `before deleting ${status}`)
      clock.advance(1000)
      await del(jobId, thingOf[status], 1, { force: true })
      expected[status] -= 1
      assert.deepEqual(await countersOf(h, jobId), expected, `after deleting ${status}`)
    }
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'COMPLETED')
    assert.equal(job.completedAt?.getTime(), clock.nowMs())
    assert.equal(job.lastUpdatedAt?.getTime(), clock.nowMs())
    assert.deepEqual(await listedForJob(h, jobId), [])
  })

  it('a SNAPSHOT job whose last IN_PROGRESS execution is force-deleted becomes COMPLETED at that moment [spec: state-machines#10-job-completion-snapshot] [spec: delete-job-execution#7]', async () => {
    const done = await createThing(h)
    const running = await createThing(h)
    const jobId = await createJob(h, [done, running])
    await report(h, jobId, done, 'SUCCEEDED')
    await report(h, jobId, running, 'IN_PROGRESS')
    let job = await describeJob(h, jobId)
    assert.equal(job.status, 'IN_PROGRESS')
    assert.equal(job.completedAt, undefined)
    clock.advance(5000)
    await del(jobId, running, 1, { force: true })
    job = await describeJob(h, jobId)
    assert.equal(job.status, 'COMPLETED')
    assert.equal(job.completedAt?.getTime(), clock.nowMs())
    assert.deepEqual(
      { ...(job.jobProcessDetails ?? {}) },
      {
        numberOfCanceledThings: 0,
        numberOfSucceededThings: 1,
        numberOfFailedThings: 0,
        numberOfRejectedThings: 0,
        numberOfQueuedThings: 0,
        numberOfInProgressThings: 0,
        numberOfRemovedThings: 0,
        numberOfTimedOutThings: 0,
      },
    )
  })

  it('[open-question 62] deleting a terminal execution leaves the job record alone: status, lastUpdatedAt and completedAt unchanged', async () => {
    const done = await createThing(h)
    const waiting = await createThing(h)
    const jobId = await createJob(h, [done, waiting])
    await report(h, jobId, done, 'SUCCEEDED')
    const before = await describeJob(h, jobId)
    clock.advance(60_000)
    await del(jobId, done, 1)
    const after = await describeJob(h, jobId)
    assert.equal(after.status, 'IN_PROGRESS')
    assert.equal(after.lastUpdatedAt?.getTime(), before.lastUpdatedAt?.getTime())
    assert.equal(after.completedAt, undefined)
    assert.deepEqual(await countersOf(h, jobId), counts({ QUEUED: 1 }))
  })

  it('a CANCELED job stays CANCELED when its last IN_PROGRESS execution is force-deleted (completion applies to IN_PROGRESS jobs only) [spec: state-machines#10-job-completion-snapshot]', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'IN_PROGRESS')
    await h.iot.send(new CancelJobCommand({ jobId }))
    await del(jobId, thingName, 1, { force: true })
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.completedAt, undefined)
    assert.deepEqual(await countersOf(h, jobId), counts({}))
  })

  it('[open-question 63] a CONTINUOUS job: deleting an execution creates no new one, and the job stays IN_PROGRESS', async () => {
    const { jobId, thingName } = await continuousJob()
    await del(jobId, thingName, 1, { force: true })
    assert.deepEqual(await listedForThing(h, thingName), [])
    assert.deepEqual(await pendingOf(h, thingName), [])
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'IN_PROGRESS')
    assert.deepEqual(await countersOf(h, jobId), counts({}))
  })

  it('executionNumber reuse: after deleting the highest-numbered execution, a re-execution gets the same number again, with a new queuedAt and versionNumber 1 [spec: state-machines#3.2] [spec: delete-job-execution#7]', async () => {
    const { jobId, thingName, thingGroupName } = await continuousJob()
    await report(h, jobId, thingName, 'SUCCEEDED')
    clock.advance(1000)
    await leaveAndRejoin(thingGroupName, thingName)
    const deleted = await cpDescribe(h, jobId, thingName, 2)
    assert.equal(deleted.queuedAt?.getTime(), clock.nowMs())
    await report(h, jobId, thingName, 'IN_PROGRESS')
    await del(jobId, thingName, 2, { force: true })
    clock.advance(1000)
    await leaveAndRejoin(thingGroupName, thingName)
    const reissued = await cpDescribe(h, jobId, thingName)
    assert.equal(reissued.executionNumber, 2, 'the deleted number is issued again')
    assert.equal(reissued.status, 'QUEUED')
    assert.equal(reissued.versionNumber, 1)
    assert.equal(reissued.queuedAt?.getTime(), clock.nowMs())
    assert.notEqual(reissued.queuedAt.getTime(), deleted.queuedAt.getTime(), 'queuedAt tells them apart')
    assert.deepEqual(await listedForJob(h, jobId), [`${thingName}#1:SUCCEEDED`, `${thingName}#2:QUEUED`])
  })

  it('deleting a lower-numbered execution frees no number: the next re-execution gets max(remaining) + 1 [spec: state-machines#3.2]', async () => {
    const { jobId, thingName, thingGroupName } = await continuousJob()
    await report(h, jobId, thingName, 'SUCCEEDED')
    await leaveAndRejoin(thingGroupName, thingName)
    await del(jobId, thingName, 1)
    await report(h, jobId, thingName, 'FAILED')
    await leaveAndRejoin(thingGroupName, thingName)
    assert.deepEqual(await listedForJob(h, jobId), [`${thingName}#2:FAILED`, `${thingName}#3:QUEUED`])
  })
})

describe('DeleteJobExecution: concurrency, as a sequence [spec: delete-job-execution#6]', () => {
  it('the device starts the execution first: a delete without force then gets 409', async () => {
    const { jobId, thingName } = await executionIn(h, 'QUEUED', clock.nowMs())
    await h.data.send(new StartNextPendingJobExecutionCommand({ thingName }))
    await assert.rejects(
      del(jobId, thingName, 1),
      rejection(InvalidStateTransitionException, 409, 'IN_PROGRESS'),
    )
    assert.equal((await cpDescribe(h, jobId, thingName, 1)).status, 'IN_PROGRESS')
  })

  it('the delete commits first: the device update then gets 404', async () => {
    const { jobId, thingName } = await executionIn(h, 'QUEUED', clock.nowMs())
    await del(jobId, thingName, 1, { force: true })
    await assert.rejects(
      h.data.send(
        new UpdateJobExecutionCommand({ jobId, thingName, status: 'IN_PROGRESS', executionNumber: 1 }),
      ),
      (e: unknown) => {
        assert.ok(e instanceof DpResourceNotFoundException, String(e))
        assert.equal(e.$metadata.httpStatusCode, 404)
        return true
      },
    )
  })
})

describe('DeleteJobExecution: wire form [spec: delete-job-execution#1] [spec: delete-job-execution#7] [spec: wire-protocol#3]', () => {
  it('success is 200 with body {}, application/json and x-amzn-RequestId; the SDK decodes it to an output with only $metadata', async () => {
    const a = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    const r = await raw(h.server.url, 'DELETE', deletePath(a.thingName, a.jobId, 1))
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, {})
    assert.equal(r.headers.get('content-type'), 'application/json')
    assert.match(r.headers.get('x-amzn-RequestId') ?? '', /^[0-9a-f-]{36}$/)
    assert.equal(r.headers.get('x-amzn-ErrorType'), null)
    const b = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    const out = await del(b.jobId, b.thingName, 1)
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.equal(typeof out.$metadata.requestId, 'string')
    assert.deepEqual(Object.keys(out), ['$metadata'])
  })

  it('errors carry x-amzn-ErrorType and {"message"} and the SDK decodes them into the named exception classes', async () => {
    const { jobId, thingName } = await executionIn(h, 'QUEUED', clock.nowMs())
    const cases: [string, number, abstract new (...args: never[]) => Error, number | string][] = [
      ['InvalidRequestException', 400, InvalidRequestException, 'abc'],
      ['ResourceNotFoundException', 404, ResourceNotFoundException, 5],
      ['InvalidStateTransitionException', 409, InvalidStateTransitionException, 1],
    ]
    for (const [name, status, type, executionNumber] of cases) {
      const r = await raw(h.server.url, 'DELETE', deletePath(thingName, jobId, executionNumber))
      assertRawError(r, status, name)
      assert.deepEqual(Object.keys(r.json), ['message'])
      assert.equal(r.headers.get('content-type'), 'application/json')
      if (typeof executionNumber === 'number') {
        await assert.rejects(del(jobId, thingName, executionNumber), (e: unknown) => {
          assert.ok(e instanceof type, `expected ${name}, got ${String(e)}`)
          assert.equal(e.name, name)
          assert.equal(e.message, r.json['message'])
          return true
        })
      }
    }
    assert.equal((await cpDescribe(h, jobId, thingName, 1)).status, 'QUEUED')
  })
})

describe('DeleteJobExecution: throttling [spec: delete-job-execution#5] [spec: delete-job-execution#2] [spec: delete-job-execution#7]', () => {
  let t: Harness
  // The buckets refill only when this clock moves, so the request that is throttled is known exactly.
  const tclock = new ManualClock()
  const BURST = 3
  before(async () => {
    t = await startHarness({
      clock: tclock,
      rateLimit: { controlPlane: { ratePerSecond: 1, burst: BURST } },
    })
  })
  after(async () => {
    await t.close()
  })
  /** Lets the control-plane bucket fill up again (BURST tokens at 1 per second). */
  const refill = () => tclock.advance(60_000)

  /** A SUCCEEDED execution on the throttled server, then a full bucket. */
  async function succeeded(): Promise<{ jobId: string; thingName: string }> {
    refill()
    const thingName = await createThing(t)
    const jobId = await createJob(t, [thingName])
    await report(t, jobId, thingName, 'SUCCEEDED')
    refill()
    return { jobId, thingName }
  }
  const spend = async (jobId: string, thingName: string, n: number) => {
    for (let i = 0; i < n; i += 1) {
      await t.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }))
    }
  }

  it('row "Rate limit exceeded": 400 (not 429) ThrottlingException "Rate exceeded", and nothing is deleted', async () => {
    const { jobId, thingName } = await succeeded()
    await spend(jobId, thingName, BURST)
    await assert.rejects(
      t.iot.send(new DeleteJobExecutionCommand({ jobId, thingName, executionNumber: 1 })),
      rejection(ThrottlingException, 400, 'Rate exceeded'),
    )
    const r = await raw(t.server.url, 'DELETE', deletePath(thingName, jobId, 1))
    assertRawError(r, 400, 'ThrottlingException', 'Rate exceeded')
    refill()
    const e = await t.iot.send(new DescribeJobExecutionCommand({ jobId, thingName, executionNumber: 1 }))
    assert.equal(e.execution?.status, 'SUCCEEDED')
  })

  it('step 2 (validation) comes before step 3 (rate limit): an invalid request is InvalidRequestException even when the bucket is empty', async () => {
    const { jobId, thingName } = await succeeded()
    await spend(jobId, thingName, BURST)
    const r = await raw(t.server.url, 'DELETE', deletePath(thingName, jobId, 'abc'))
    assertRawError(r, 400, 'InvalidRequestException', 'executionNumber')
  })

  it('the JS SDK retries a throttled DeleteJobExecution by itself, and the retry succeeds once the bucket refills', async () => {
    const { jobId, thingName } = await succeeded()
    const retrying = new IoTClient({
      region: REGION,
      endpoint: t.server.url,
      credentials: sdkCredentials,
      maxAttempts: 3,
    })
    const seen: string[] = []
    // Runs once per attempt (inside the retry middleware): records how the attempt ended, and moves
    // the server's clock before every retry so that the bucket has a token again.
    retrying.middlewareStack.add(
      (next) => async (args) => {
        if (seen.length > 0) tclock.advance(1000)
        try {
          const result = await next(args)
          seen.push('ok')
          return result
        } catch (error) {
          seen.push((error as Error).name)
          throw error
        }
      },
      { step: 'finalizeRequest', priority: 'low', name: 'countAttempts' },
    )
    try {
      await spend(jobId, thingName, BURST)
      const out = await retrying.send(new DeleteJobExecutionCommand({ jobId, thingName, executionNumber: 1 }))
      assert.deepEqual(seen, ['ThrottlingException', 'ok'])
      assert.equal(out.$metadata.httpStatusCode, 200)
      assert.equal(out.$metadata.attempts, 2)
    } finally {
      retrying.destroy()
    }
    tclock.advance(1000)
    await assert.rejects(
      t.iot.send(new DescribeJobExecutionCommand({ jobId, thingName, executionNumber: 1 })),
      rejection(ResourceNotFoundException, 404, jobId),
    )
  })
})
