/**
 * CancelJobExecution through the real AWS SDK: every row of the status table, `expectedVersion`
 * (checked before the status rule), `statusDetails`, which execution it addresses, not-found cases,
 * and the effects on the execution, the device's pending list and the job.
 * [spec: jobs-control-plane#canceljobexecution] [spec: state-machines#11-force-at-a-glance]
 */
import {
  CancelJobExecutionCommand,
  DeleteJobCommand,
  InvalidRequestException,
  InvalidStateTransitionException,
  ResourceNotFoundException,
  VersionConflictException,
} from '@aws-sdk/client-iot'
import type { CancelJobExecutionCommandInput } from '@aws-sdk/client-iot'
import {
  InvalidStateTransitionException as DpInvalidStateTransitionException,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { raw, startHarness, unique } from '../support/harness.js'
import {
  ManualClock,
  createJob,
  createThing,
  describeJob,
  detailsOf,
  deviceView,
  pendingOf,
  report,
  twoExecutions,
} from '../support/device.js'
import { holdJobDeletion } from '../support/lifecycle.js'
import {
  TERMINAL_STATUSES,
  assertRawError,
  counts,
  countersOf,
  cpDescribe,
  executionIn,
  rejection,
} from '../support/executions.js'

let h: Harness
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock })
})
after(async () => {
  await h.close()
})

type CancelOptions = Omit<CancelJobExecutionCommandInput, 'jobId' | 'thingName'>

const cancel = (jobId: string, thingName: string, options: CancelOptions = {}) =>
  h.iot.send(new CancelJobExecutionCommand({ jobId, thingName, ...options }))

const forceOption = (force: boolean | undefined): CancelOptions => (force === undefined ? {} : { force })

/** A fresh QUEUED execution, or an IN_PROGRESS one at versionNumber 2 with statusDetails {s: 0}. */
async function execution(
  from: 'QUEUED' | 'IN_PROGRESS',
  extra: Parameters<typeof createJob>[2] = {},
): Promise<{ jobId: string; thingName: string }> {
  const thingName = await createThing(h)
  const jobId = await createJob(h, [thingName], extra)
  if (from === 'IN_PROGRESS') await report(h, jobId, thingName, 'IN_PROGRESS', { statusDetails: { s: '0' } })
  return { jobId, thingName }
}

/**
 * Runs `attempt`, which must fail, with the clock one second ahead (a write would show in
 * lastUpdatedAt), then checks that the execution reads exactly as before.
 */
async function assertUnchangedBy(
  jobId: string,
  thingName: string,
  attempt: () => Promise<void>,
): Promise<void> {
  const before = await cpDescribe(h, jobId, thingName)
  clock.advance(1000)
  await attempt()
  assert.deepEqual(await cpDescribe(h, jobId, thingName), before)
}

describe('CancelJobExecution: the status table [spec: jobs-control-plane#canceljobexecution] [spec: state-machines#2-job-execution-state-machine]', () => {
  it('row "QUEUED | any | → CANCELED": force absent, false or true cancels it; versionNumber + 1, lastUpdatedAt = now, no startedAt', async () => {
    for (const force of [undefined, false, true]) {
      const { jobId, thingName } = await execution('QUEUED')
      clock.advance(1000)
      const out = await cancel(jobId, thingName, forceOption(force))
      assert.equal(out.$metadata.httpStatusCode, 200)
      assert.deepEqual(Object.keys(out), ['$metadata'])
      const e = await cpDescribe(h, jobId, thingName)
      assert.equal(e.status, 'CANCELED', `force=${String(force)}`)
      assert.equal(e.versionNumber, 2)
      assert.equal(e.lastUpdatedAt?.getTime(), clock.nowMs())
      assert.equal(e.startedAt, undefined)
      // docs/decisions.md: forceCanceled says whether force was used, whatever the status was.
      assert.equal(e.forceCanceled === true, force === true, `forceCanceled with force=${String(force)}`)
    }
  })

  it('row "IN_PROGRESS | false | InvalidStateTransitionException 409": force absent or false is refused and changes nothing', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS')
    for (const force of [undefined, false]) {
      await assertUnchangedBy(jobId, thingName, () =>
        assert.rejects(
          cancel(jobId, thingName, { ...forceOption(force), statusDetails: { late: 'yes' } }),
          rejection(InvalidStateTransitionException, 409, 'IN_PROGRESS', 'force'),
        ),
      )
    }
    assert.deepEqual(await countersOf(h, jobId), counts({ IN_PROGRESS: 1 }))
  })

  it('row "IN_PROGRESS | true | → CANCELED, execution forceCanceled = true; the device can no longer update it"', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS')
    const startedAt = (await cpDescribe(h, jobId, thingName)).startedAt?.getTime()
    clock.advance(1000)
    await cancel(jobId, thingName, { force: true })
    const e = await cpDescribe(h, jobId, thingName)
    assert.equal(e.status, 'CANCELED')
    assert.equal(e.forceCanceled, true)
    assert.equal(e.versionNumber, 3)
    assert.equal(e.lastUpdatedAt?.getTime(), clock.nowMs())
    assert.equal(e.startedAt?.getTime(), startedAt, 'startedAt is kept')
    assert.deepEqual(e.statusDetails, { detailsMap: { s: '0' } }, 'statusDetails unchanged when absent')
    await assert.rejects(
      h.data.send(new UpdateJobExecutionCommand({ jobId, thingName, status: 'SUCCEEDED' })),
      (err: unknown) => {
        assert.ok(err instanceof DpInvalidStateTransitionException, String(err))
        assert.equal(err.$metadata.httpStatusCode, 409)
        return true
      },
    )
    assert.equal((await deviceView(h, jobId, thingName)).status, 'CANCELED')
  })

  for (const status of TERMINAL_STATUSES) {
    it(`row "terminal (SUCCEEDED, FAILED, TIMED_OUT, REJECTED, REMOVED, CANCELED) | any | InvalidStateTransitionException 409": ${status} with force absent, false or true changes nothing`, async () => {
      const { jobId, thingName } = await executionIn(h, status, clock.nowMs())
      assert.equal((await cpDescribe(h, jobId, thingName)).status, status)
      const before = await countersOf(h, jobId)
      for (const force of [undefined, false, true]) {
        await assertUnchangedBy(jobId, thingName, () =>
          assert.rejects(
            cancel(jobId, thingName, { ...forceOption(force), statusDetails: { late: 'yes' } }),
            rejection(InvalidStateTransitionException, 409, status),
          ),
        )
      }
      assert.deepEqual(await countersOf(h, jobId), before)
    })
  }
})

describe('CancelJobExecution: expectedVersion [spec: state-machines#3.1] [spec: jobs-control-plane#canceljobexecution]', () => {
  it('a matching expectedVersion cancels (QUEUED at 1; IN_PROGRESS at 2, since service writes count too)', async () => {
    const queued = await execution('QUEUED')
    await cancel(queued.jobId, queued.thingName, { expectedVersion: 1 })
    assert.equal((await cpDescribe(h, queued.jobId, queued.thingName)).status, 'CANCELED')
    const running = await execution('IN_PROGRESS')
    await cancel(running.jobId, running.thingName, { expectedVersion: 2, force: true })
    const e = await cpDescribe(h, running.jobId, running.thingName)
    assert.equal(e.status, 'CANCELED')
    assert.equal(e.versionNumber, 3)
  })

  for (const expectedVersion of [0, 2, 7]) {
    it(`expectedVersion ${expectedVersion} against versionNumber 1 is VersionConflictException (409) naming both versions, and changes nothing`, async () => {
      const { jobId, thingName } = await execution('QUEUED')
      await assertUnchangedBy(jobId, thingName, () =>
        assert.rejects(
          cancel(jobId, thingName, { expectedVersion, statusDetails: { late: 'yes' } }),
          rejection(VersionConflictException, 409, `expectedVersion ${expectedVersion}`, 'versionNumber 1'),
        ),
      )
      assert.deepEqual(await countersOf(h, jobId), counts({ QUEUED: 1 }))
    })
  }

  it('is checked before the status rule: IN_PROGRESS without force and a terminal execution both answer VersionConflictException', async () => {
    const running = await execution('IN_PROGRESS')
    await assert.rejects(
      cancel(running.jobId, running.thingName, { expectedVersion: 1 }),
      rejection(VersionConflictException, 409, 'expectedVersion 1'),
    )
    const done = await executionIn(h, 'SUCCEEDED', clock.nowMs())
    await assert.rejects(
      cancel(done.jobId, done.thingName, { expectedVersion: 9, force: true }),
      rejection(VersionConflictException, 409, 'expectedVersion 9'),
    )
    // With the right version the status rule decides.
    await assert.rejects(
      cancel(done.jobId, done.thingName, { expectedVersion: 2, force: true }),
      rejection(InvalidStateTransitionException, 409, 'SUCCEEDED'),
    )
  })
})

describe('CancelJobExecution: statusDetails [spec: jobs-control-plane#canceljobexecution] [spec: limits#2]', () => {
  it('are stored when given, replacing the map; kept when absent', async () => {
    const running = await execution('IN_PROGRESS')
    await cancel(running.jobId, running.thingName, { force: true, statusDetails: { reason: 'operator' } })
    assert.deepEqual((await cpDescribe(h, running.jobId, running.thingName)).statusDetails, {
      detailsMap: { reason: 'operator' },
    })
    assert.deepEqual((await deviceView(h, running.jobId, running.thingName)).statusDetails, {
      reason: 'operator',
    })
    const queued = await execution('QUEUED')
    await cancel(queued.jobId, queued.thingName)
    assert.deepEqual((await cpDescribe(h, queued.jobId, queued.thingName)).statusDetails, { detailsMap: {} })
  })

  it('accepts 10 pairs and rejects 11 with InvalidRequestException (400) naming statusDetails', async () => {
    const first = await execution('QUEUED')
    await assertUnchangedBy(first.jobId, first.thingName, () =>
      assert.rejects(
        cancel(first.jobId, first.thingName, { statusDetails: detailsOf(11) }),
        rejection(InvalidRequestException, 400, 'statusDetails'),
      ),
    )
    await cancel(first.jobId, first.thingName, { statusDetails: detailsOf(10) })
    const e = await cpDescribe(h, first.jobId, first.thingName)
    assert.equal(e.status, 'CANCELED')
    assert.deepEqual(e.statusDetails, { detailsMap: detailsOf(10) })
  })

  const bad: [string, Record<string, string>][] = [
    ['a key with a slash', { 'a/b': 'v' }],
    ['a key of 129 characters', { ['k'.repeat(129)]: 'v' }],
    ['an empty value', { k: '' }],
    ['a value with a control character', { k: 'tab\there' }],
  ]
  for (const [what, statusDetails] of bad) {
    it(`rejects statusDetails with ${what} with InvalidRequestException (400) naming statusDetails`, async () => {
      const { jobId, thingName } = await execution('QUEUED')
      await assertUnchangedBy(jobId, thingName, () =>
        assert.rejects(
          cancel(jobId, thingName, { statusDetails }),
          rejection(InvalidRequestException, 400, 'statusDetails'),
        ),
      )
    })
  }

  it('accepts a value longer than the data plane allows (this shape has no upper bound) and a key with a colon', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    const statusDetails = { 'ns:key': 'x'.repeat(2000) }
    await cancel(jobId, thingName, { statusDetails })
    assert.deepEqual((await cpDescribe(h, jobId, thingName)).statusDetails, { detailsMap: statusDetails })
  })
})

describe('CancelJobExecution: which execution, and not found [spec: jobs-control-plane#canceljobexecution]', () => {
  it('acts on the latest execution of the job on the thing; older ones are unchanged [spec: state-machines#3.2]', async () => {
    const { jobId, thingName } = await twoExecutions(h)
    const older = await cpDescribe(h, jobId, thingName, 1)
    await cancel(jobId, thingName)
    assert.equal((await cpDescribe(h, jobId, thingName, 2)).status, 'CANCELED')
    assert.deepEqual(await cpDescribe(h, jobId, thingName, 1), older)
    // The latest is now terminal: a second cancel is refused, even though #1 is terminal too.
    await assert.rejects(
      cancel(jobId, thingName),
      rejection(InvalidStateTransitionException, 409, 'CANCELED'),
    )
  })

  it('unknown job, unknown thing, or no execution of the job on the thing: ResourceNotFoundException (404) naming what is missing', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    const missingJob = unique('missing')
    await assert.rejects(cancel(missingJob, thingName), rejection(ResourceNotFoundException, 404, missingJob))
    const unregistered = unique('thing')
    const other = await createThing(h)
    for (const name of [unregistered, other]) {
      await assert.rejects(
        cancel(jobId, name, { force: true }),
        rejection(ResourceNotFoundException, 404, jobId, name),
      )
    }
    assert.equal((await cpDescribe(h, jobId, thingName)).status, 'QUEUED')
  })

  it('[open-question 30] a job in DELETION_IN_PROGRESS answers InvalidStateTransitionException (409) naming the job', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS')
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
      assert.equal((await describeJob(h, jobId)).status, 'DELETION_IN_PROGRESS')
      await assert.rejects(
        cancel(jobId, thingName, { force: true }),
        rejection(InvalidStateTransitionException, 409, jobId, 'being deleted'),
      )
      assert.equal((await cpDescribe(h, jobId, thingName)).status, 'IN_PROGRESS')
    } finally {
      await hold.release()
    }
  })

  it('reaches an execution of a namespaced job (the operation has no namespaceId) [spec: jobs-control-plane#6-namespaces-namespaceid]', async () => {
    const { jobId, thingName } = await execution('QUEUED', { namespaceId: 'ns1' })
    await cancel(jobId, thingName)
    assert.equal((await cpDescribe(h, jobId, thingName)).status, 'CANCELED')
  })

  it('a force value other than true or false is InvalidRequestException (400) naming force [spec: wire-protocol#2.2]', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS')
    await assertUnchangedBy(jobId, thingName, async () => {
      for (const bad of ['yes', 'TRUE', '1', '']) {
        const r = await raw(
          h.server.url,
          'PUT',
          `/things/${thingName}/jobs/${jobId}/cancel?force=${bad}`,
          '{}',
        )
        assertRawError(r, 400, 'InvalidRequestException', 'force')
      }
    })
  })

  it('answers 200 with body {} on the wire [spec: wire-protocol#3]', async () => {
    const { jobId, thingName } = await execution('QUEUED')
    const r = await raw(h.server.url, 'PUT', `/things/${thingName}/jobs/${jobId}/cancel?force=false`, '{}')
    assert.equal(r.status, 200)
    assert.deepEqual(r.json, {})
    assert.equal((await cpDescribe(h, jobId, thingName)).status, 'CANCELED')
  })
})

describe('CancelJobExecution: effects [spec: jobs-control-plane#canceljobexecution] [spec: state-machines#9] [spec: state-machines#10-job-completion-snapshot]', () => {
  it('moves the job counters: QUEUED → CANCELED, and IN_PROGRESS → CANCELED with force', async () => {
    const things = [await createThing(h), await createThing(h), await createThing(h)]
    const [a, b, c] = things as [string, string, string]
    const jobId = await createJob(h, things)
    await report(h, jobId, b, 'IN_PROGRESS')
    assert.deepEqual(await countersOf(h, jobId), counts({ QUEUED: 2, IN_PROGRESS: 1 }))
    await cancel(jobId, a)
    assert.deepEqual(await countersOf(h, jobId), counts({ QUEUED: 1, IN_PROGRESS: 1, CANCELED: 1 }))
    await cancel(jobId, b, { force: true })
    assert.deepEqual(await countersOf(h, jobId), counts({ QUEUED: 1, CANCELED: 2 }))
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS', 'c is still QUEUED')
    assert.deepEqual(await pendingOf(h, c), [`${jobId}:QUEUED`])
  })

  it('the canceled execution leaves the device pending list', async () => {
    const thingName = await createThing(h)
    const canceled = await createJob(h, [thingName])
    const kept = await createJob(h, [thingName])
    await report(h, canceled, thingName, 'IN_PROGRESS')
    await cancel(canceled, thingName, { force: true })
    assert.deepEqual(await pendingOf(h, thingName), [`${kept}:QUEUED`])
  })

  it('a SNAPSHOT job becomes COMPLETED when its last pending execution is canceled', async () => {
    const done = await createThing(h)
    const waiting = await createThing(h)
    const jobId = await createJob(h, [done, waiting])
    await report(h, jobId, done, 'SUCCEEDED')
    clock.advance(3000)
    await cancel(jobId, waiting)
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'COMPLETED')
    assert.equal(job.completedAt?.getTime(), clock.nowMs())
    assert.deepEqual(await countersOf(h, jobId), counts({ SUCCEEDED: 1, CANCELED: 1 }))
  })

  it('stops the timers: a force-canceled execution has no approximateSecondsBeforeTimedOut [spec: state-machines#4-timers-and-timed_out]', async () => {
    const { jobId, thingName } = await execution('IN_PROGRESS', {
      timeoutConfig: { inProgressTimeoutInMinutes: 10 },
    })
    assert.equal((await cpDescribe(h, jobId, thingName)).approximateSecondsBeforeTimedOut, 600)
    await cancel(jobId, thingName, { force: true })
    assert.equal((await cpDescribe(h, jobId, thingName)).approximateSecondsBeforeTimedOut, undefined)
  })
})
