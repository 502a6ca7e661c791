/**
 * DeleteJobExecution as a device on MQTT sees it: acceptance tests #7 and #8, the notification rows of
 * §4 (notify when a pending execution goes, notify-next when it was first, nothing for terminal ones),
 * and the device view after a deletion (describe, $next, update with and without executionNumber).
 * [spec: delete-job-execution#4] [spec: delete-job-execution#7] [spec: jobs-device-api#4.3]
 */
import {
  DeleteJobExecutionCommand,
  InvalidStateTransitionException,
  ResourceNotFoundException,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness } from '../support/harness.js'
import { ManualClock, createJob, createThing, report, twoExecutions } from '../support/device.js'
import { TERMINAL_STATUSES, executionIn } from '../support/executions.js'
import type { Collector, DeviceClient } from '../support/mqtt.js'
import { connectDevice, jobsTopics, mqttUrlOf, settle } from '../support/mqtt.js'

let h: Harness
let d: DeviceClient
const clock = new ManualClock()
before(async () => {
  h = await startHarness({ clock, mqtt: { port: 0 } })
  d = await connectDevice(mqttUrlOf(h))
})
after(async () => {
  await d?.close()
  await h?.close()
})

const del = (jobId: string, thingName: string, executionNumber: number, force?: boolean) =>
  h.iot.send(
    new DeleteJobExecutionCommand({
      jobId,
      thingName,
      executionNumber,
      ...(force === undefined ? {} : { force }),
    }),
  )

/** Everything on the thing's jobs tree that is a notification, plain or namespaced. */
interface Notifications {
  readonly all: Collector
  /** Waits for the outbox and the broker, then returns `[topic, payload]` of every notification so far. */
  received(): Promise<[string, unknown][]>
}

async function notificationsOf(thingName: string): Promise<Notifications> {
  const all = await d.collect(`$aws/things/${thingName}/jobs/+`)
  return {
    all,
    received: async () => {
      await settle(h, d, thingName)
      return all.messages.filter((m) => m.topic.includes('/notify')).map((m) => [m.topic, m.json])
    },
  }
}

const nextJobId = (payload: unknown): unknown =>
  ((payload as Record<string, unknown>)['execution'] as Record<string, unknown> | undefined)?.['jobId']

describe('DeleteJobExecution §7 #7: force-deleting the only pending execution [spec: delete-job-execution#7]', () => {
  for (const status of ['QUEUED', 'IN_PROGRESS'] as const) {
    it(`${status}: notify {"timestamp","jobs":{}} and notify-next {"timestamp"} on the plain topics`, async () => {
      const thingName = await createThing(h)
      const n = await notificationsOf(thingName)
      const jobId = await createJob(h, [thingName])
      if (status === 'IN_PROGRESS') await report(h, jobId, thingName, 'IN_PROGRESS')
      const before = await n.received()
      assert.equal(before.length, 2, 'the creation published notify and notify-next')
      clock.advance(2000)
      await del(jobId, thingName, 1, true)
      const t = jobsTopics(thingName)
      assert.deepEqual((await n.received()).slice(before.length), [
        [t.notify, { timestamp: clock.seconds(), jobs: {} }],
        [t.notifyNext, { timestamp: clock.seconds() }],
      ])
    })
  }

  it('a namespaced job: on notify-namespace-NS and notify-next-namespace-NS, nothing on the plain topics [spec: jobs-device-api#3]', async () => {
    const thingName = await createThing(h)
    const n = await notificationsOf(thingName)
    const jobId = await createJob(h, [thingName], { namespaceId: 'ns1' })
    await report(h, jobId, thingName, 'IN_PROGRESS')
    const before = await n.received()
    clock.advance(1000)
    await h.iot.send(
      new DeleteJobExecutionCommand({
        jobId,
        thingName,
        executionNumber: 1,
        force: true,
        namespaceId: 'ns1',
      }),
    )
    const ns = jobsTopics(thingName, 'ns1')
    assert.deepEqual((await n.received()).slice(before.length), [
      [ns.notify, { timestamp: clock.seconds(), jobs: {} }],
      [ns.notifyNext, { timestamp: clock.seconds() }],
    ])
    assert.ok(
      n.all.messages.every((m) => !m.topic.endsWith('/notify') && !m.topic.endsWith('/notify-next')),
      n.all.describe(),
    )
  })
})

describe('DeleteJobExecution §7 #8: deleting a terminal execution publishes nothing [spec: delete-job-execution#7]', () => {
  for (const status of TERMINAL_STATUSES) {
    it(`${status}${status === 'TIMED_OUT' ? ' [open-question 59]' : ''}`, async () => {
      const { jobId, thingName } = await executionIn(h, status, clock.nowMs())
      // A second job keeps something pending, so a wrong notify would have content to show.
      await createJob(h, [thingName])
      const n = await notificationsOf(thingName)
      const before = await n.received()
      await del(jobId, thingName, 1)
      assert.deepEqual(await n.received(), before)
    })
  }

  it('an older terminal execution while a newer one of the same job is pending: nothing', async () => {
    const { jobId, thingName } = await twoExecutions(h)
    const n = await notificationsOf(thingName)
    const before = await n.received()
    await del(jobId, thingName, 1)
    assert.deepEqual(await n.received(), before)
    const next = await d.accepted(jobsTopics(thingName).describe('$next'))
    assert.equal((next['execution'] as Record<string, unknown>)['executionNumber'], 2)
  })

  it('a refused deletion (QUEUED or IN_PROGRESS without force) publishes nothing', async () => {
    const thingName = await createThing(h)
    const j1 = await createJob(h, [thingName])
    const j2 = await createJob(h, [thingName])
    await report(h, j2, thingName, 'IN_PROGRESS')
    const n = await notificationsOf(thingName)
    const before = await n.received()
    for (const jobId of [j1, j2]) {
      await assert.rejects(del(jobId, thingName, 1), InvalidStateTransitionException)
      await assert.rejects(del(jobId, thingName, 1, false), InvalidStateTransitionException)
    }
    assert.deepEqual(await n.received(), before)
  })
})

describe('DeleteJobExecution §4: notification rows and the device view [spec: delete-job-execution#4]', () => {
  it('deleting the first of several pending executions: notify with the rest, notify-next with the new first', async () => {
    const thingName = await createThing(h)
    const n = await notificationsOf(thingName)
    const queuedAt = clock.seconds()
    const j1 = await createJob(h, [thingName])
    const j2 = await createJob(h, [thingName])
    const before = await n.received()
    await del(j1, thingName, 1, true)
    const t = jobsTopics(thingName)
    const added = (await n.received()).slice(before.length)
    assert.deepEqual(added[0], [
      t.notify,
      {
        timestamp: clock.seconds(),
        jobs: {
          QUEUED: [{ jobId: j2, queuedAt, lastUpdatedAt: queuedAt, versionNumber: 1, executionNumber: 1 }],
        },
      },
    ])
    assert.equal(added[1]?.[0], t.notifyNext)
    assert.equal(nextJobId(added[1]?.[1]), j2)
    assert.equal(added.length, 2)
  })

  it('deleting a pending execution that is not first: notify only', async () => {
    const thingName = await createThing(h)
    const n = await notificationsOf(thingName)
    const j1 = await createJob(h, [thingName])
    const j2 = await createJob(h, [thingName])
    const before = await n.received()
    await del(j2, thingName, 1, true)
    const added = (await n.received()).slice(before.length)
    assert.deepEqual(
      added.map(([topic]) => topic),
      [jobsTopics(thingName).notify],
    )
    assert.deepEqual(
      ((added[0]?.[1] as { jobs: { QUEUED: { jobId: string }[] } }).jobs.QUEUED ?? []).map((s) => s.jobId),
      [j1],
    )
  })

  it('deleting an IN_PROGRESS first execution moves notify-next to the QUEUED one', async () => {
    const thingName = await createThing(h)
    const n = await notificationsOf(thingName)
    const j1 = await createJob(h, [thingName])
    const j2 = await createJob(h, [thingName])
    await d.accepted(jobsTopics(thingName).update(j2), { status: 'IN_PROGRESS' })
    const before = await n.received()
    assert.equal(nextJobId(before[before.length - 1]?.[1]), j2)
    await del(j2, thingName, 1, true)
    const added = (await n.received()).slice(before.length)
    assert.equal(added.length, 2, JSON.stringify(added))
    assert.equal(nextJobId(added[1]?.[1]), j1)
  })

  it('the device loses the execution: $next, get and start-next skip it; describe and update by number are ResourceNotFound', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    const t = jobsTopics(thingName)
    await d.accepted(t.startNext)
    await del(jobId, thingName, 1, true)
    assert.deepEqual(Object.keys(await d.accepted(t.describe('$next'))).sort(), ['clientToken', 'timestamp'])
    const pending = await d.accepted(t.get)
    assert.deepEqual([pending['inProgressJobs'], pending['queuedJobs']], [[], []])
    assert.equal((await d.accepted(t.startNext))['execution'], undefined)
    assert.equal((await d.rejected(t.describe(jobId)))['code'], 'ResourceNotFound')
    assert.equal(
      (await d.rejected(t.update(jobId), { status: 'SUCCEEDED', executionNumber: 1 }))['code'],
      'ResourceNotFound',
    )
    assert.equal((await d.rejected(t.update(jobId), { status: 'SUCCEEDED' }))['code'], 'ResourceNotFound')
  })

  it('without executionNumber an update then addresses the older execution: InvalidStateTransition with its state', async () => {
    const { jobId, thingName } = await twoExecutions(h)
    const t = jobsTopics(thingName)
    await del(jobId, thingName, 2, true)
    const out = await d.rejected(t.update(jobId), { status: 'IN_PROGRESS' })
    assert.equal(out['code'], 'InvalidStateTransition')
    assert.deepEqual(out['executionState'], {
      status: 'SUCCEEDED',
      statusDetails: { attempt: 'first' },
      versionNumber: 2,
    })
    const byNumber = await d.rejected(t.update(jobId), { status: 'IN_PROGRESS', executionNumber: 2 })
    assert.equal(byNumber['code'], 'ResourceNotFound')
    await assert.rejects(del(jobId, thingName, 2, true), ResourceNotFoundException)
  })
})
