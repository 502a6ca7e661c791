/**
 * Abort criteria (`abortConfig`, action CANCEL), through the real AWS SDK clients on the virtual clock:
 * when they are evaluated (an execution ends, by the device or the timer; UpdateJob changes them),
 * what *executed* and *failures* count, the threshold and the minimum, and what the abort does (the
 * job CANCELED as by CancelJob without force, ABORT_CRITERIA_MET, QUEUED → CANCELED, IN_PROGRESS
 * running on, the rollout stopped, the job events).
 * [spec: state-machines#6] [open-question 54]
 */
import {
  CancelJobCommand,
  CancelJobExecutionCommand,
  DeleteThingCommand,
  UpdateJobCommand,
} from '@aws-sdk/client-iot'
import type { AbortCriteria, CreateJobCommandInput } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { thingArnOf } from '../../support/harness.js'
import { createJob, describeJob, report } from '../../support/device.js'
import { executionFacts } from '../../support/lifecycle.js'
import type { DeviceClient } from '../../support/mqtt.js'
import { connectDevice, mqttUrlOf } from '../../support/mqtt.js'
import { assertCountersMatchRecords, executionStates } from '../../support/thing-groups.js'
import {
  CLOCK_START_MS,
  DAY_S,
  MINUTE_S,
  SECOND_MS,
  advance,
  createFleet,
  eventsSettled,
  recordCount,
  virtualHarness,
} from '../../support/clock.js'

const MINUTE_MS = 60 * SECOND_MS

const criterion = (
  failureType: AbortCriteria['failureType'],
  thresholdPercentage: number,
  minNumberOfExecutedThings: number,
): AbortCriteria => ({ failureType, action: 'CANCEL', thresholdPercentage, minNumberOfExecutedThings })

const aborting = (...criteriaList: AbortCriteria[]): Partial<CreateJobCommandInput> => ({
  abortConfig: { criteriaList },
})

/** Asserts the job is IN_PROGRESS: the criteria have not fired. */
async function notAborted(h: Harness, jobId: string, why: string): Promise<void> {
  const job = await describeJob(h, jobId)
  assert.equal(job.status, 'IN_PROGRESS', why)
  assert.equal(job.reasonCode, undefined, why)
}

/** Asserts the job was aborted at `atMs` by a criterion of `failureType`; returns its comment. */
async function abortedAt(h: Harness, jobId: string, atMs: number, failureType: string): Promise<string> {
  const job = await describeJob(h, jobId)
  assert.equal(job.status, 'CANCELED')
  assert.equal(job.forceCanceled, false)
  assert.equal(job.reasonCode, 'ABORT_CRITERIA_MET')
  assert.equal(job.lastUpdatedAt?.getTime(), atMs)
  assert.equal(job.completedAt, undefined)
  const comment = job.comment ?? ''
  assert.ok(comment.includes(failureType), `the comment names the criterion ${failureType}: ${comment}`)
  return comment
}

describe('When the criteria fire [spec: state-machines#6]', () => {
  it('fires when executed ≥ minNumberOfExecutedThings and 100 × failures / executed ≥ thresholdPercentage, at the instant of the update that meets them', async (t) => {
    const h = await virtualHarness(t)
    const [a, b, c, d, e] = (await createFleet(h, 5)) as [string, string, string, string, string]
    const jobId = await createJob(h, [a, b, c, d, e], aborting(criterion('FAILED', 60, 2)))
    await report(h, jobId, a, 'FAILED')
    await notAborted(h, jobId, '1 executed is below the minimum of 2')
    await report(h, jobId, b, 'IN_PROGRESS')
    await advance(h, MINUTE_S)
    await report(h, jobId, c, 'SUCCEEDED')
    await notAborted(h, jobId, '1 of 2 is 50 %, below 60 %')
    await advance(h, MINUTE_S)
    await report(h, jobId, d, 'FAILED')
    const comment = await abortedAt(h, jobId, CLOCK_START_MS + 2 * MINUTE_MS, 'FAILED')
    assert.ok(comment.includes('60'), `the comment names the threshold: ${comment}`)
    assert.deepEqual(await executionStates(h, jobId), [
      `${a}#1:FAILED`,
      `${b}#1:IN_PROGRESS`,
      `${c}#1:SUCCEEDED`,
      `${d}#1:FAILED`,
      `${e}#1:CANCELED`,
    ])
    assert.equal(
      await executionFacts(h, jobId, e),
      `CANCELED/v2/force=false/at=${CLOCK_START_MS + 2 * MINUTE_MS}`,
    )
  })

  it('the threshold is compared as 100 × failures / executed ≥ thresholdPercentage, to the hundredth', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 8)
    const [a, b, c, d] = things.slice(0, 4) as [string, string, string, string]
    const [e, f, g, x] = things.slice(4) as [string, string, string, string]
    const at = await createJob(h, [a, b, c, d], aborting(criterion('FAILED', 66.66, 3)))
    const above = await createJob(h, [e, f, g, x], aborting(criterion('FAILED', 66.67, 3)))
    for (const [jobId, [one, two, three]] of [
      [at, [a, b, c]],
      [above, [e, f, g]],
    ] as const) {
      await report(h, jobId, one, 'FAILED')
      await report(h, jobId, two, 'SUCCEEDED')
      await report(h, jobId, three, 'FAILED')
    }
    await abortedAt(h, at, CLOCK_START_MS, 'FAILED')
    await notAborted(h, above, '66.666… % is below 66.67 %')
  })

  it('minNumberOfExecutedThings holds the criteria back even at 100 % failures', async (t) => {
    const h = await virtualHarness(t)
    const [a, b, c, d] = (await createFleet(h, 4)) as [string, string, string, string]
    const jobId = await createJob(h, [a, b, c, d], aborting(criterion('FAILED', 1, 3)))
    await report(h, jobId, a, 'FAILED')
    await report(h, jobId, b, 'FAILED')
    await notAborted(h, jobId, '2 executed, minimum 3')
    await report(h, jobId, c, 'SUCCEEDED')
    await abortedAt(h, jobId, CLOCK_START_MS, 'FAILED')
  })

  it('[open-question 54] executed counts SUCCEEDED, FAILED, REJECTED and TIMED_OUT only: CANCELED and REMOVED executions do not count', async (t) => {
    const h = await virtualHarness(t)
    const [a, b, c, d, e] = (await createFleet(h, 5)) as [string, string, string, string, string]
    const jobId = await createJob(h, [a, b, c, d, e], aborting(criterion('FAILED', 50, 2)))
    await report(h, jobId, a, 'FAILED')
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: b }))
    await h.iot.send(new DeleteThingCommand({ thingName: c }))
    await notAborted(h, jobId, 'one executed: a CANCELED and a REMOVED execution are not executed')
    await report(h, jobId, d, 'SUCCEEDED')
    await abortedAt(h, jobId, CLOCK_START_MS, 'FAILED')
  })

  it('failureType REJECTED counts only REJECTED executions', async (t) => {
    const h = await virtualHarness(t)
    const [a, b, c] = (await createFleet(h, 3)) as [string, string, string]
    const jobId = await createJob(h, [a, b, c], aborting(criterion('REJECTED', 50, 1)))
    await report(h, jobId, a, 'FAILED')
    await notAborted(h, jobId, 'a FAILED execution is not a REJECTED one')
    await report(h, jobId, b, 'REJECTED')
    await abortedAt(h, jobId, CLOCK_START_MS, 'REJECTED')
  })

  it('failureType TIMED_OUT fires when the timer times executions out, at the deadline', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], {
      ...aborting(criterion('TIMED_OUT', 100, 1)),
      timeoutConfig: { inProgressTimeoutInMinutes: 5 },
    })
    await report(h, jobId, a, 'IN_PROGRESS')
    await advance(h, DAY_S)
    const deadline = CLOCK_START_MS + 5 * MINUTE_MS
    await abortedAt(h, jobId, deadline, 'TIMED_OUT')
    assert.equal(await executionFacts(h, jobId, a), `TIMED_OUT/v3/force=false/at=${deadline}`)
    assert.equal(await executionFacts(h, jobId, b), `CANCELED/v2/force=false/at=${deadline}`)
  })

  it('failureType ALL sums FAILED, REJECTED and TIMED_OUT', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 5)
    const [a, b, c, d, e] = things as [string, string, string, string, string]
    const jobId = await createJob(h, things, {
      ...aborting(criterion('ALL', 75, 4)),
      timeoutConfig: { inProgressTimeoutInMinutes: 1 },
    })
    await report(h, jobId, a, 'FAILED')
    await report(h, jobId, b, 'REJECTED')
    await report(h, jobId, c, 'SUCCEEDED')
    await report(h, jobId, d, 'IN_PROGRESS')
    await notAborted(h, jobId, '3 executed, minimum 4')
    await advance(h, MINUTE_S)
    await abortedAt(h, jobId, CLOCK_START_MS + MINUTE_MS, 'ALL')
    assert.equal(
      await executionFacts(h, jobId, e),
      `CANCELED/v2/force=false/at=${CLOCK_START_MS + MINUTE_MS}`,
    )
  })

  it('with several criteria, the comment names the one that fired', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(
      h,
      [a, b],
      aborting(criterion('REJECTED', 50, 1), criterion('FAILED', 50, 1)),
    )
    await report(h, jobId, a, 'FAILED')
    const comment = await abortedAt(h, jobId, CLOCK_START_MS, 'FAILED')
    assert.ok(!comment.includes('failureType REJECTED'), comment)
  })
})

describe('[spec: jobs-control-plane#updatejob] UpdateJob and the criteria [spec: state-machines#6]', () => {
  it('new criteria are evaluated at once: met → the job is aborted by the UpdateJob itself', async (t) => {
    const h = await virtualHarness(t)
    const [a, b, c] = (await createFleet(h, 3)) as [string, string, string]
    const jobId = await createJob(h, [a, b, c])
    await report(h, jobId, a, 'FAILED')
    await report(h, jobId, b, 'SUCCEEDED')
    await advance(h, MINUTE_S)
    await h.iot.send(
      new UpdateJobCommand({ jobId, abortConfig: { criteriaList: [criterion('FAILED', 60, 2)] } }),
    )
    await notAborted(h, jobId, '50 % is below 60 %')
    await advance(h, MINUTE_S)
    await h.iot.send(
      new UpdateJobCommand({ jobId, abortConfig: { criteriaList: [criterion('FAILED', 50, 2)] } }),
    )
    await abortedAt(h, jobId, CLOCK_START_MS + 2 * MINUTE_MS, 'FAILED')
    assert.equal(
      await executionFacts(h, jobId, c),
      `CANCELED/v2/force=false/at=${CLOCK_START_MS + 2 * MINUTE_MS}`,
    )
  })
})

describe('What an abort does [spec: state-machines#6] [spec: jobs-control-plane#canceljob]', () => {
  it('IN_PROGRESS executions keep running: the device may still finish them, the counters follow and the job stays CANCELED', async (t) => {
    const h = await virtualHarness(t)
    const [a, b, c] = (await createFleet(h, 3)) as [string, string, string]
    const jobId = await createJob(h, [a, b, c], aborting(criterion('FAILED', 100, 1)))
    await report(h, jobId, b, 'IN_PROGRESS')
    await report(h, jobId, a, 'FAILED')
    await abortedAt(h, jobId, CLOCK_START_MS, 'FAILED')
    await advance(h, MINUTE_S)
    await report(h, jobId, b, 'SUCCEEDED')
    assert.equal(
      await executionFacts(h, jobId, b),
      `SUCCEEDED/v3/force=false/at=${CLOCK_START_MS + MINUTE_MS}`,
    )
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.reasonCode, 'ABORT_CRITERIA_MET')
    const details = await assertCountersMatchRecords(h, jobId)
    assert.deepEqual(
      [details.numberOfFailedThings, details.numberOfSucceededThings, details.numberOfCanceledThings],
      [1, 1, 1],
    )
  })

  it('the rollout stops for good', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 10)
    const jobId = await createJob(h, things, {
      ...aborting(criterion('FAILED', 50, 2)),
      jobExecutionsRolloutConfig: { maximumPerMinute: 2 },
    })
    await report(h, jobId, things[0] ?? '', 'FAILED')
    await report(h, jobId, things[1] ?? '', 'SUCCEEDED')
    await advance(h, DAY_S)
    assert.equal(await recordCount(h, jobId), 2)
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.isConcurrent, false)
  })

  it('a job already CANCELED is not aborted: its reasonCode and comment stay those of CancelJob', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], aborting(criterion('FAILED', 1, 1)))
    await report(h, jobId, a, 'IN_PROGRESS')
    await h.iot.send(new CancelJobCommand({ jobId, reasonCode: 'OPERATOR_STOP', comment: 'stopped by hand' }))
    await advance(h, MINUTE_S)
    await report(h, jobId, a, 'FAILED')
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.reasonCode, 'OPERATOR_STOP')
    assert.equal(job.comment, 'stopped by hand')
    assert.equal(job.lastUpdatedAt?.getTime(), CLOCK_START_MS)
  })

  it('[spec: jobs-device-api#5.1] publishes cancellation_in_progress and canceled with the comment, and one execution canceled event per QUEUED execution', async (t) => {
    const h = await virtualHarness(t, { mqtt: { port: 0 }, events: { job: true, jobExecution: true } })
    const device: DeviceClient = await connectDevice(mqttUrlOf(h))
    t.after(() => device.close())
    const events = await device.collect('$aws/events/#')
    const [a, b, c] = (await createFleet(h, 3)) as [string, string, string]
    const jobId = await createJob(h, [a, b, c], aborting(criterion('FAILED', 100, 1)))
    await report(h, jobId, a, 'FAILED')
    await eventsSettled(h, device, events)
    const mine = events.messages.filter((m) => m.topic.split('/')[3] === jobId)
    const topics = mine.map((m) => m.topic).sort()
    assert.deepEqual(topics, [
      `$aws/events/job/${jobId}/canceled`,
      `$aws/events/job/${jobId}/cancellation_in_progress`,
      `$aws/events/jobExecution/${jobId}/canceled`,
      `$aws/events/jobExecution/${jobId}/canceled`,
      `$aws/events/jobExecution/${jobId}/failed`,
    ])
    const comment = (await describeJob(h, jobId)).comment
    for (const m of mine.filter((x) => x.topic.startsWith('$aws/events/job/'))) {
      assert.equal(m.json['comment'], comment, m.topic)
    }
    const canceled = mine.filter((m) => m.topic === `$aws/events/jobExecution/${jobId}/canceled`)
    assert.deepEqual(canceled.map((m) => m.json['thingArn']).sort(), [b, c].map(thingArnOf).sort())
  })
})
