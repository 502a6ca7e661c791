/**
 * Timers and TIMED_OUT on the virtual clock, through the real AWS SDK clients: the in-progress timer
 * (fixed when the execution enters IN_PROGRESS), the step timer (set by StartNext or an IN_PROGRESS
 * update, replaced by a new value, cancelled by -1), the effective deadline (the earlier of the two),
 * the exact instant and effects of the timeout, QUEUED executions that never time out, device updates
 * after the deadline, and approximateSecondsBeforeTimedOut counting down with the clock.
 * [spec: state-machines#4] [spec: test-clock#3]
 */
import { CancelJobExecutionCommand, DeleteJobExecutionCommand, UpdateJobCommand } from '@aws-sdk/client-iot'
import {
  DescribeJobExecutionCommand as DeviceDescribeJobExecutionCommand,
  GetPendingJobExecutionsCommand,
  InvalidStateTransitionException,
  StartNextPendingJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { createJob, describeJob, isError, report } from '../../support/device.js'
import { cpExecution, executionFacts } from '../../support/lifecycle.js'
import { assertCountersMatchRecords, executionStates } from '../../support/thing-groups.js'
import type { DeviceClient, Received } from '../../support/mqtt.js'
import { connectDevice, jobsTopics, mqttUrlOf } from '../../support/mqtt.js'
import {
  CLOCK_START_MS,
  DAY_S,
  MINUTE_S,
  SECOND_MS,
  advance,
  clockNow,
  createFleet,
  eventsSettled,
  virtualHarness,
} from '../../support/clock.js'

const MINUTE_MS = 60 * SECOND_MS

/** A thing with one execution of a fresh job (`extra` for the job), moved IN_PROGRESS by the device. */
async function running(
  h: Harness,
  extra: Parameters<typeof createJob>[2] = {},
  step?: number,
): Promise<{ jobId: string; thingName: string }> {
  const [thingName] = (await createFleet(h, 1)) as [string]
  const jobId = await createJob(h, [thingName], extra)
  await report(h, jobId, thingName, 'IN_PROGRESS', step === undefined ? {} : { stepTimeoutInMinutes: step })
  return { jobId, thingName }
}

const timeout = (minutes: number) => ({ timeoutConfig: { inProgressTimeoutInMinutes: minutes } })

describe('The in-progress timer [spec: state-machines#4]', () => {
  it('an IN_PROGRESS execution times out at exactly now ≥ D: not one second before, and lastUpdatedAt = D even when the advance goes beyond', async (t) => {
    const h = await virtualHarness(t)
    await advance(h, MINUTE_S)
    const { jobId, thingName } = await running(h, timeout(10))
    const deadline = CLOCK_START_MS + 11 * MINUTE_MS
    await advance(h, 10 * MINUTE_S - 1)
    assert.equal(
      await executionFacts(h, jobId, thingName),
      `IN_PROGRESS/v2/force=false/at=${CLOCK_START_MS + MINUTE_MS}`,
    )
    await advance(h, 1)
    assert.equal(await executionFacts(h, jobId, thingName), `TIMED_OUT/v3/force=false/at=${deadline}`)

    const [other] = (await createFleet(h, 1)) as [string]
    const second = await createJob(h, [other], timeout(3))
    await report(h, second, other, 'IN_PROGRESS')
    await advance(h, 2 * DAY_S)
    assert.equal(
      await executionFacts(h, second, other),
      `TIMED_OUT/v3/force=false/at=${deadline + 3 * MINUTE_MS}`,
      'an advance far past the deadline still times the execution out at D',
    )
  })

  it('the timeout has the effects of every write: versionNumber + 1, counters, startedAt kept, no longer pending for the device', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], timeout(5))
    await report(h, jobId, a, 'IN_PROGRESS')
    await advance(h, 5 * MINUTE_S)
    const e = await cpExecution(h, jobId, a)
    assert.equal(e.status, 'TIMED_OUT')
    assert.equal(e.versionNumber, 3)
    assert.equal(e.startedAt?.getTime(), CLOCK_START_MS)
    assert.equal(e.lastUpdatedAt?.getTime(), CLOCK_START_MS + 5 * MINUTE_MS)
    assert.equal(e.approximateSecondsBeforeTimedOut, undefined)
    const details = await assertCountersMatchRecords(h, jobId)
    assert.equal(details.numberOfTimedOutThings, 1)
    assert.equal(details.numberOfInProgressThings, 0)
    assert.equal(details.numberOfQueuedThings, 1)
    const pending = await h.data.send(new GetPendingJobExecutionsCommand({ thingName: a }))
    assert.deepEqual([pending.inProgressJobs, pending.queuedJobs], [[], []])
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS', 'b is still QUEUED')
  })

  it('[spec: jobs-control-plane#updatejob] the timer is fixed when the execution enters IN_PROGRESS: a new timeoutConfig applies only to executions started afterwards', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], timeout(10))
    await report(h, jobId, a, 'IN_PROGRESS')
    await h.iot.send(new UpdateJobCommand({ jobId, timeoutConfig: { inProgressTimeoutInMinutes: 2 } }))
    await report(h, jobId, b, 'IN_PROGRESS')
    assert.equal((await cpExecution(h, jobId, a)).approximateSecondsBeforeTimedOut, 600)
    assert.equal((await cpExecution(h, jobId, b)).approximateSecondsBeforeTimedOut, 120)
    await advance(h, 5 * MINUTE_S)
    assert.deepEqual(await executionStates(h, jobId), [`${a}#1:IN_PROGRESS`, `${b}#1:TIMED_OUT`])
    await advance(h, 5 * MINUTE_S)
    assert.deepEqual(await executionStates(h, jobId), [`${a}#1:TIMED_OUT`, `${b}#1:TIMED_OUT`])
    assert.equal((await cpExecution(h, jobId, a)).lastUpdatedAt?.getTime(), CLOCK_START_MS + 10 * MINUTE_MS)
  })

  it('IN_PROGRESS progress reports do not restart the in-progress timer', async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h, timeout(4))
    for (let i = 0; i < 3; i += 1) {
      await advance(h, MINUTE_S)
      await report(h, jobId, thingName, 'IN_PROGRESS', { statusDetails: { step: String(i) } })
    }
    await advance(h, MINUTE_S)
    assert.equal(
      await executionFacts(h, jobId, thingName),
      `TIMED_OUT/v6/force=false/at=${CLOCK_START_MS + 4 * MINUTE_MS}`,
    )
  })
})

describe('The step timer and the effective deadline [spec: state-machines#4]', () => {
  it('StartNextPendingJobExecution with stepTimeoutInMinutes starts a step timer', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName])
    const out = await h.data.send(
      new StartNextPendingJobExecutionCommand({ thingName, stepTimeoutInMinutes: 3 }),
    )
    assert.equal(out.execution?.approximateSecondsBeforeTimedOut, 180)
    await advance(h, 3 * MINUTE_S - 1)
    assert.equal((await cpExecution(h, jobId, thingName)).status, 'IN_PROGRESS')
    await advance(h, 1)
    assert.equal(
      await executionFacts(h, jobId, thingName),
      `TIMED_OUT/v3/force=false/at=${CLOCK_START_MS + 3 * MINUTE_MS}`,
    )
  })

  it('a new stepTimeoutInMinutes on an IN_PROGRESS update replaces the step timer (it may move the deadline later)', async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h, {}, 5)
    await advance(h, 4 * MINUTE_S)
    await report(h, jobId, thingName, 'IN_PROGRESS', { stepTimeoutInMinutes: 5 })
    assert.equal((await cpExecution(h, jobId, thingName)).approximateSecondsBeforeTimedOut, 300)
    await advance(h, 2 * MINUTE_S)
    assert.equal(
      (await cpExecution(h, jobId, thingName)).status,
      'IN_PROGRESS',
      'the first step timer is gone',
    )
    await advance(h, 3 * MINUTE_S)
    assert.equal(
      await executionFacts(h, jobId, thingName),
      `TIMED_OUT/v4/force=false/at=${CLOCK_START_MS + 9 * MINUTE_MS}`,
    )
  })

  it('an IN_PROGRESS update without stepTimeoutInMinutes keeps the step timer', async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h, {}, 5)
    await advance(h, 4 * MINUTE_S)
    await report(h, jobId, thingName, 'IN_PROGRESS', { statusDetails: { progress: '80' } })
    await advance(h, MINUTE_S)
    assert.equal(
      await executionFacts(h, jobId, thingName),
      `TIMED_OUT/v4/force=false/at=${CLOCK_START_MS + 5 * MINUTE_MS}`,
    )
  })

  it('stepTimeoutInMinutes -1 cancels the step timer: without an in-progress timer the execution never times out', async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h, {}, 5)
    await advance(h, MINUTE_S)
    await report(h, jobId, thingName, 'IN_PROGRESS', { stepTimeoutInMinutes: -1 })
    assert.equal((await cpExecution(h, jobId, thingName)).approximateSecondsBeforeTimedOut, undefined)
    await advance(h, 8 * DAY_S)
    const e = await cpExecution(h, jobId, thingName)
    assert.equal(e.status, 'IN_PROGRESS')
    assert.equal(e.versionNumber, 3)
  })

  it('stepTimeoutInMinutes -1 cancels only the step timer: the in-progress timer still applies', async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h, timeout(30), 5)
    await report(h, jobId, thingName, 'IN_PROGRESS', { stepTimeoutInMinutes: -1 })
    await advance(h, 29 * MINUTE_S)
    assert.equal((await cpExecution(h, jobId, thingName)).status, 'IN_PROGRESS')
    await advance(h, MINUTE_S)
    assert.equal(
      await executionFacts(h, jobId, thingName),
      `TIMED_OUT/v4/force=false/at=${CLOCK_START_MS + 30 * MINUTE_MS}`,
    )
  })

  it("the guide's example: in-progress 20 minutes, a 9-minute step set at minute 13 still expires at minute 20", async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h, timeout(20))
    await advance(h, 13 * MINUTE_S)
    await report(h, jobId, thingName, 'IN_PROGRESS', { stepTimeoutInMinutes: 9 })
    assert.equal((await cpExecution(h, jobId, thingName)).approximateSecondsBeforeTimedOut, 7 * 60)
    await advance(h, 7 * MINUTE_S - 1)
    assert.equal((await cpExecution(h, jobId, thingName)).status, 'IN_PROGRESS')
    await advance(h, 1)
    assert.equal(
      await executionFacts(h, jobId, thingName),
      `TIMED_OUT/v4/force=false/at=${CLOCK_START_MS + 20 * MINUTE_MS}`,
    )
  })

  it('a step timer earlier than the in-progress timer wins', async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h, timeout(20), 5)
    await advance(h, 5 * MINUTE_S)
    assert.equal(
      await executionFacts(h, jobId, thingName),
      `TIMED_OUT/v3/force=false/at=${CLOCK_START_MS + 5 * MINUTE_MS}`,
    )
  })
})

describe('What does not time out, and what happens after [spec: state-machines#4]', () => {
  it('QUEUED executions never time out, whatever the job timeout', async (t) => {
    const h = await virtualHarness(t)
    const [thingName] = (await createFleet(h, 1)) as [string]
    const jobId = await createJob(h, [thingName], timeout(1))
    await advance(h, 8 * DAY_S)
    assert.equal(await executionFacts(h, jobId, thingName), `QUEUED/v1/force=false/at=${CLOCK_START_MS}`)
    assert.equal((await describeJob(h, jobId)).jobProcessDetails?.numberOfTimedOutThings, 0)
  })

  it('an IN_PROGRESS execution without any timer never times out', async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h)
    await advance(h, 8 * DAY_S)
    assert.equal(await executionFacts(h, jobId, thingName), `IN_PROGRESS/v2/force=false/at=${CLOCK_START_MS}`)
  })

  it('an execution that ends before its deadline is not touched at the deadline', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], timeout(5))
    await report(h, jobId, a, 'IN_PROGRESS')
    await report(h, jobId, b, 'IN_PROGRESS', { stepTimeoutInMinutes: 2 })
    await advance(h, MINUTE_S)
    await report(h, jobId, a, 'SUCCEEDED')
    await h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: b, force: true }))
    await advance(h, 10 * MINUTE_S)
    assert.equal(
      await executionFacts(h, jobId, a),
      `SUCCEEDED/v3/force=false/at=${CLOCK_START_MS + MINUTE_MS}`,
    )
    assert.equal(await executionFacts(h, jobId, b), `CANCELED/v3/force=true/at=${CLOCK_START_MS + MINUTE_MS}`)
  })

  it('a device update after the deadline is refused with InvalidStateTransitionException (409) and changes nothing', async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h, timeout(3))
    await advance(h, 3 * MINUTE_S)
    for (const status of ['SUCCEEDED', 'IN_PROGRESS', 'FAILED'] as const) {
      await assert.rejects(report(h, jobId, thingName, status), isError(InvalidStateTransitionException, 409))
    }
    assert.equal(
      await executionFacts(h, jobId, thingName),
      `TIMED_OUT/v3/force=false/at=${CLOCK_START_MS + 3 * MINUTE_MS}`,
    )
  })

  it('[spec: jobs-device-api#2.4] over MQTT, an update after the deadline is rejected InvalidStateTransition with the TIMED_OUT executionState', async (t) => {
    const h = await virtualHarness(t, { mqtt: { port: 0 } })
    const d: DeviceClient = await connectDevice(mqttUrlOf(h))
    t.after(() => d.close())
    const { jobId, thingName } = await running(h, timeout(3))
    await advance(h, 3 * MINUTE_S)
    const rejected = await d.rejected(jobsTopics(thingName).update(jobId), { status: 'SUCCEEDED' })
    assert.equal(rejected['code'], 'InvalidStateTransition')
    assert.deepEqual(rejected['executionState'], { status: 'TIMED_OUT', statusDetails: {}, versionNumber: 3 })
  })

  it('[spec: delete-job-execution] an IN_PROGRESS execution deleted (force) before its deadline leaves nothing to time out', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], timeout(3))
    await report(h, jobId, a, 'IN_PROGRESS')
    await report(h, jobId, b, 'IN_PROGRESS')
    await h.iot.send(new DeleteJobExecutionCommand({ jobId, thingName: a, executionNumber: 1, force: true }))
    await advance(h, DAY_S)
    assert.deepEqual(await executionStates(h, jobId), [`${b}#1:TIMED_OUT`])
    const details = await assertCountersMatchRecords(h, jobId)
    assert.equal(details.numberOfTimedOutThings, 1)
    assert.equal((await describeJob(h, jobId)).status, 'COMPLETED')
  })

  it('a device update one second before the deadline is accepted and disarms the timer', async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h, timeout(3))
    await advance(h, 3 * MINUTE_S - 1)
    await report(h, jobId, thingName, 'SUCCEEDED')
    await advance(h, DAY_S)
    assert.equal(
      await executionFacts(h, jobId, thingName),
      `SUCCEEDED/v3/force=false/at=${CLOCK_START_MS + 3 * MINUTE_MS - SECOND_MS}`,
    )
    assert.equal((await describeJob(h, jobId)).status, 'COMPLETED')
  })

  it('[spec: state-machines#10] the timeout of the last pending execution completes a SNAPSHOT job at D', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], timeout(10))
    await report(h, jobId, a, 'IN_PROGRESS', { stepTimeoutInMinutes: 3 })
    await report(h, jobId, b, 'IN_PROGRESS', { stepTimeoutInMinutes: 7 })
    await advance(h, 60 * MINUTE_S)
    assert.equal(
      await executionFacts(h, jobId, a),
      `TIMED_OUT/v3/force=false/at=${CLOCK_START_MS + 3 * MINUTE_MS}`,
    )
    assert.equal(
      await executionFacts(h, jobId, b),
      `TIMED_OUT/v3/force=false/at=${CLOCK_START_MS + 7 * MINUTE_MS}`,
    )
    const job = await describeJob(h, jobId)
    assert.equal(job.status, 'COMPLETED')
    assert.equal(job.completedAt?.getTime(), CLOCK_START_MS + 7 * MINUTE_MS)
    assert.equal((await assertCountersMatchRecords(h, jobId)).numberOfTimedOutThings, 2)
  })

  it('[spec: test-clock#3] many executions with different deadlines, in one advance, each times out at its own instant', async (t) => {
    const h = await virtualHarness(t)
    const things = await createFleet(h, 6)
    const jobId = await createJob(h, things, timeout(30))
    for (const [i, thingName] of things.entries()) {
      await report(h, jobId, thingName, 'IN_PROGRESS', { stepTimeoutInMinutes: 6 - i })
    }
    await advance(h, DAY_S)
    for (const [i, thingName] of things.entries()) {
      assert.equal(
        (await cpExecution(h, jobId, thingName)).lastUpdatedAt?.getTime(),
        CLOCK_START_MS + (6 - i) * MINUTE_MS,
        thingName,
      )
    }
    assert.equal((await describeJob(h, jobId)).completedAt?.getTime(), CLOCK_START_MS + 6 * MINUTE_MS)
  })
})

describe('approximateSecondsBeforeTimedOut [spec: state-machines#4] [spec: test-clock#1]', () => {
  it('counts down with the clock on both planes, rounded up, and is absent once the execution ended', async (t) => {
    const h = await virtualHarness(t)
    const { jobId, thingName } = await running(h, timeout(10))
    const both = async () => {
      const cp = await cpExecution(h, jobId, thingName)
      const dp = await h.data.send(new DeviceDescribeJobExecutionCommand({ jobId, thingName }))
      return [cp.approximateSecondsBeforeTimedOut, dp.execution?.approximateSecondsBeforeTimedOut]
    }
    assert.deepEqual(await both(), [600, 600])
    await advance(h, 90.5)
    assert.deepEqual(await both(), [510, 510], 'ceil(509.5)')
    await advance(h, 509)
    assert.deepEqual(await both(), [1, 1])
    await advance(h, 0.5)
    assert.deepEqual(await both(), [undefined, undefined])
    assert.equal((await cpExecution(h, jobId, thingName)).status, 'TIMED_OUT')
  })

  it('is absent for QUEUED executions and for IN_PROGRESS ones without a timer', async (t) => {
    const h = await virtualHarness(t)
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], timeout(10))
    const untimed = await createJob(h, [b])
    await report(h, untimed, b, 'IN_PROGRESS')
    await advance(h, MINUTE_S)
    assert.equal((await cpExecution(h, jobId, a)).approximateSecondsBeforeTimedOut, undefined)
    assert.equal((await cpExecution(h, untimed, b)).approximateSecondsBeforeTimedOut, undefined)
  })
})

describe('The timed_out event [spec: jobs-device-api#5.2] [spec: state-machines#4]', () => {
  it('$aws/events/jobExecution/{jobId}/timed_out is published once per timed-out execution, with its thingArn and status', async (t) => {
    const h = await virtualHarness(t, { mqtt: { port: 0 }, events: { job: true, jobExecution: true } })
    const d: DeviceClient = await connectDevice(mqttUrlOf(h))
    t.after(() => d.close())
    const events = await d.collect('$aws/events/#')
    const [a, b] = (await createFleet(h, 2)) as [string, string]
    const jobId = await createJob(h, [a, b], timeout(2))
    await report(h, jobId, a, 'IN_PROGRESS')
    await report(h, jobId, b, 'IN_PROGRESS')
    const deadline = CLOCK_START_MS + 2 * MINUTE_MS
    await advance(h, 5 * MINUTE_S)
    assert.equal(await clockNow(h), CLOCK_START_MS + 5 * MINUTE_MS)
    const isTimedOut = (m: Received) => m.topic === `$aws/events/jobExecution/${jobId}/timed_out`
    await events.waitFor('two timed_out events', () => events.messages.filter(isTimedOut).length >= 2)
    await events.waitFor('the completed event', (m) => m.topic === `$aws/events/job/${jobId}/completed`)
    const timedOut = events.messages.filter(isTimedOut)
    assert.equal(timedOut.length, 2)
    const arns = timedOut.map((m) => m.json['thingArn']).sort()
    assert.deepEqual(arns, [a, b].map((n) => `arn:aws:iot:us-east-1:123456789012:thing/${n}`).sort())
    for (const m of timedOut) {
      assert.equal(m.json['eventType'], 'JOB_EXECUTION')
      assert.equal(m.json['operation'], 'timed_out')
      assert.equal(m.json['status'], 'TIMED_OUT')
      assert.equal(m.json['jobId'], jobId)
      assert.equal(m.json['timestamp'], Math.floor(deadline / 1000), 'the event is stamped with D')
    }
    // Only one per execution, even after more advances.
    await advance(h, 5 * MINUTE_S)
    await eventsSettled(h, d, events)
    assert.equal(events.messages.filter(isTimedOut).length, 2)
  })
})
