/**
 * `notify` and `notify-next` as a device subscribed to them receives them, on the embedded broker:
 * a device working through several jobs, every row of the trigger table that the server can produce
 * today, the payload shapes, the namespaced topics, and the absence of notify-next when the next
 * execution stays the same. After each step the test waits until the outbox is drained and one
 * request/reply has passed behind it (`settle`), then compares everything received so far exactly.
 * [spec: jobs-device-api#4] [spec: jobs-device-api#3]
 */
import {
  AssociateTargetsWithJobCommand,
  CancelJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  DeleteJobCommand,
  DeleteThingCommand,
  RemoveThingFromThingGroupCommand,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT, ManualClock, createJob, createThing, report } from '../support/device.js'
import { finishJobDeletions, holdJobDeletion } from '../support/lifecycle.js'
import { addToGroup, createGroup, groupArnOf } from '../support/thing-groups.js'
import type { Collector, DeviceClient } from '../support/mqtt.js'
import { connectDevice, jobsTopics, mqttUrlOf, settle } from '../support/mqtt.js'
import { CLOCK_START_MS, advance, clockNow, createFleet } from '../support/clock.js'

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

const DOC = JSON.parse(DOCUMENT) as unknown

/** What a thing's device has received on `notify` and `notify-next` (plain or in a namespace). */
interface Watch {
  readonly thingName: string
  readonly notify: Collector
  readonly next: Collector
  /** Waits until every notification owed has been delivered, then returns the payloads so far. */
  received(): Promise<{ notify: unknown[]; next: unknown[] }>
}

async function watch(thingName: string, namespaceId?: string): Promise<Watch> {
  const t = jobsTopics(thingName, namespaceId)
  const notify = await d.collect(t.notify)
  const next = await d.collect(t.notifyNext)
  return {
    thingName,
    notify,
    next,
    received: async () => {
      await settle(h, d, thingName)
      return { notify: notify.messages.map((m) => m.json), next: next.messages.map((m) => m.json) }
    },
  }
}

/** A thing and a watch on its plain topics, subscribed before anything happens to it. */
async function watchedThing(): Promise<Watch> {
  return watch(await createThing(h))
}

/** The summary of §4.1 for an execution the test knows. */
function summary(
  jobId: string,
  e: {
    queuedAt: number
    startedAt?: number
    lastUpdatedAt?: number
    versionNumber?: number
    executionNumber?: number
  },
) {
  return {
    jobId,
    queuedAt: e.queuedAt,
    ...(e.startedAt === undefined ? {} : { startedAt: e.startedAt }),
    lastUpdatedAt: e.lastUpdatedAt ?? e.queuedAt,
    versionNumber: e.versionNumber ?? 1,
    executionNumber: e.executionNumber ?? 1,
  }
}

/** The execution of §4.2 for a QUEUED execution that no one touched. */
function queuedExecution(jobId: string, thingName: string, queuedAt: number) {
  return {
    jobId,
    thingName,
    jobDocument: DOC,
    status: 'QUEUED',
    statusDetails: {},
    queuedAt,
    lastUpdatedAt: queuedAt,
    versionNumber: 1,
    executionNumber: 1,
  }
}

const nextJobId = (payload: unknown): unknown =>
  ((payload as Record<string, unknown>)['execution'] as Record<string, unknown> | undefined)?.['jobId']

describe('A device working through several jobs [spec: jobs-device-api#4.3]', () => {
  it('create → notify and notify-next; more jobs and starting → notify only on set changes; done → the next job; last done → empty', async () => {
    const w = await watchedThing()
    const thing = w.thingName
    const t = jobsTopics(thing)
    const t1 = clock.seconds()
    const j1 = await createJob(h, [thing])
    const n1 = { timestamp: t1, jobs: { QUEUED: [summary(j1, { queuedAt: t1 })] } }
    const x1 = { timestamp: t1, execution: queuedExecution(j1, thing, t1) }
    assert.deepEqual(await w.received(), { notify: [n1], next: [x1] })

    // A second job joins the set behind the first: notify, no notify-next.
    clock.advance(1000)
    const t2 = clock.seconds()
    const j2 = await createJob(h, [thing])
    const n2 = {
      timestamp: t2,
      jobs: { QUEUED: [summary(j1, { queuedAt: t1 }), summary(j2, { queuedAt: t2 })] },
    }
    assert.deepEqual(await w.received(), { notify: [n1, n2], next: [x1] })

    // The device starts the first job: the set and the first execution stay, so nothing is published.
    clock.advance(1000)
    const t3 = clock.seconds()
    await d.accepted(t.startNext, { statusDetails: { step: 'download' } })
    assert.deepEqual(await w.received(), { notify: [n1, n2], next: [x1] })

    // Progress reports publish nothing.
    clock.advance(1000)
    const t4 = clock.seconds()
    await d.accepted(t.update(j1), { status: 'IN_PROGRESS', statusDetails: { step: 'install' } })
    assert.deepEqual(await w.received(), { notify: [n1, n2], next: [x1] })

    // A third job: notify lists IN_PROGRESS first, with startedAt.
    clock.advance(1000)
    const t5 = clock.seconds()
    const j3 = await createJob(h, [thing])
    const running = summary(j1, { queuedAt: t1, startedAt: t3, lastUpdatedAt: t4, versionNumber: 3 })
    const n3 = {
      timestamp: t5,
      jobs: {
        IN_PROGRESS: [running],
        QUEUED: [summary(j2, { queuedAt: t2 }), summary(j3, { queuedAt: t5 })],
      },
    }
    assert.deepEqual(await w.received(), { notify: [n1, n2, n3], next: [x1] })

    // The first job succeeds: the set shrinks and notify-next moves to the second job.
    clock.advance(1000)
    const t6 = clock.seconds()
    await d.accepted(t.update(j1), { status: 'SUCCEEDED' })
    const n4 = {
      timestamp: t6,
      jobs: { QUEUED: [summary(j2, { queuedAt: t2 }), summary(j3, { queuedAt: t5 })] },
    }
    const x2 = { timestamp: t6, execution: queuedExecution(j2, thing, t2) }
    assert.deepEqual(await w.received(), { notify: [n1, n2, n3, n4], next: [x1, x2] })

    // The other two jobs, each started and finished.
    await d.accepted(t.update(j2), { status: 'IN_PROGRESS' })
    assert.deepEqual(await w.received(), { notify: [n1, n2, n3, n4], next: [x1, x2] })
    await d.accepted(t.update(j2), { status: 'FAILED' })
    const n5 = { timestamp: t6, jobs: { QUEUED: [summary(j3, { queuedAt: t5 })] } }
    const x3 = { timestamp: t6, execution: queuedExecution(j3, thing, t5) }
    assert.deepEqual(await w.received(), { notify: [n1, n2, n3, n4, n5], next: [x1, x2, x3] })
    await d.accepted(t.startNext)
    assert.deepEqual(await w.received(), { notify: [n1, n2, n3, n4, n5], next: [x1, x2, x3] })
    clock.advance(1000)
    await d.accepted(t.update(j3), { status: 'SUCCEEDED' })
    const n6 = { timestamp: clock.seconds(), jobs: {} }
    const x4 = { timestamp: clock.seconds() }
    assert.deepEqual(await w.received(), { notify: [n1, n2, n3, n4, n5, n6], next: [x1, x2, x3, x4] })
  })

  it('notify and notify-next are QoS 1 and not retained [open-question 5]', async () => {
    const w = await watchedThing()
    await createJob(h, [w.thingName])
    await w.received()
    for (const m of [...w.notify.messages, ...w.next.messages]) {
      assert.equal(m.qos, 1, m.topic)
      assert.equal(m.retain, false, m.topic)
    }
  })

  it('[spec: jobs-device-api#4.1] notify lists at most 10 executions (maxPendingExecutions) [open-question 38]', async () => {
    const w = await watchedThing()
    const jobIds: string[] = []
    for (let i = 0; i < 11; i += 1) jobIds.push(await createJob(h, [w.thingName]))
    const { notify } = await w.received()
    const last = notify[notify.length - 1] as { jobs: { QUEUED: { jobId: string }[] } }
    assert.deepEqual(
      last.jobs.QUEUED.map((s) => s.jobId),
      jobIds.slice(0, 10),
    )
  })

  it('a notify-next execution with a running step timer carries approximateSecondsBeforeTimedOut', async () => {
    const w = await watchedThing()
    const [j1, j2] = [await createJob(h, [w.thingName]), await createJob(h, [w.thingName])]
    await w.received()
    const t = jobsTopics(w.thingName)
    await d.accepted(t.update(j2), { status: 'IN_PROGRESS', stepTimeoutInMinutes: 3 })
    const { next } = await w.received()
    const e = (next[next.length - 1] as { execution: Record<string, unknown> }).execution
    assert.equal(e['jobId'], j2)
    assert.equal(e['status'], 'IN_PROGRESS')
    assert.equal(e['approximateSecondsBeforeTimedOut'], 180)
    assert.notEqual(j1, j2)
  })
})

describe('The trigger table, row by row [spec: jobs-device-api#4.3]', () => {
  it('execution created (CreateJob) on a thing whose first execution is IN_PROGRESS: notify, no notify-next', async () => {
    const w = await watchedThing()
    const j1 = await createJob(h, [w.thingName])
    await report(h, j1, w.thingName, 'IN_PROGRESS')
    const before = await w.received()
    await createJob(h, [w.thingName])
    const after = await w.received()
    assert.equal(after.notify.length, before.notify.length + 1)
    assert.deepEqual(after.next, before.next)
  })

  it('execution created by a CONTINUOUS job when the thing joins the group: notify, notify-next (it became first)', async () => {
    const group = (await createGroup(h)).name
    const w = await watchedThing()
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [groupArnOf(group)],
      }),
    )
    assert.deepEqual(await w.received(), { notify: [], next: [] })
    await addToGroup(h, group, w.thingName)
    const { notify, next } = await w.received()
    assert.equal(notify.length, 1)
    assert.deepEqual(Object.keys((notify[0] as { jobs: object }).jobs), ['QUEUED'])
    assert.deepEqual(next.map(nextJobId), [jobId])
  })

  it('execution created by AssociateTargetsWithJob: notify and notify-next', async () => {
    const w = await watchedThing()
    const other = await createThing(h)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [thingArnOf(other)],
      }),
    )
    assert.deepEqual(await w.received(), { notify: [], next: [] })
    await h.iot.send(new AssociateTargetsWithJobCommand({ jobId, targets: [thingArnOf(w.thingName)] }))
    const { notify, next } = await w.received()
    assert.equal(notify.length, 1)
    assert.deepEqual(next.map(nextJobId), [jobId])
  })

  it('QUEUED → IN_PROGRESS of a later job while an earlier one is QUEUED: notify-next changes, no notify', async () => {
    const w = await watchedThing()
    const j1 = await createJob(h, [w.thingName])
    const j2 = await createJob(h, [w.thingName])
    const before = await w.received()
    assert.deepEqual(before.next.map(nextJobId), [j1])
    await d.accepted(jobsTopics(w.thingName).update(j2), { status: 'IN_PROGRESS' })
    const after = await w.received()
    assert.deepEqual(after.notify, before.notify)
    assert.deepEqual(after.next.map(nextJobId), [j1, j2])
    const e = (after.next[1] as { execution: Record<string, unknown> }).execution
    assert.equal(e['status'], 'IN_PROGRESS')
    assert.equal(e['versionNumber'], 2)
  })

  it('QUEUED → IN_PROGRESS of the first job, over HTTP: nothing', async () => {
    const w = await watchedThing()
    const j1 = await createJob(h, [w.thingName])
    await createJob(h, [w.thingName])
    const before = await w.received()
    await report(h, j1, w.thingName, 'IN_PROGRESS')
    assert.deepEqual(await w.received(), before)
  })

  it('IN_PROGRESS → IN_PROGRESS (progress, new statusDetails, step timer): nothing', async () => {
    const w = await watchedThing()
    const j1 = await createJob(h, [w.thingName])
    await report(h, j1, w.thingName, 'IN_PROGRESS')
    const before = await w.received()
    for (let i = 0; i < 3; i += 1) {
      await d.accepted(jobsTopics(w.thingName).update(j1), {
        status: 'IN_PROGRESS',
        statusDetails: { percent: String(i * 10) },
        stepTimeoutInMinutes: 5,
      })
    }
    assert.deepEqual(await w.received(), before)
  })

  for (const status of ['SUCCEEDED', 'FAILED', 'REJECTED'] as const) {
    it(`→ ${status} by the device, first execution: notify and notify-next`, async () => {
      const w = await watchedThing()
      const j1 = await createJob(h, [w.thingName])
      const j2 = await createJob(h, [w.thingName])
      await w.received()
      await d.accepted(jobsTopics(w.thingName).update(j1), { status })
      const { notify, next } = await w.received()
      assert.deepEqual((notify[notify.length - 1] as { jobs: object }).jobs, {
        QUEUED: [summary(j2, { queuedAt: clock.seconds() })],
      })
      assert.deepEqual(next.map(nextJobId), [j1, j2])
    })
  }

  it('→ terminal of an execution that is not first: notify, no notify-next', async () => {
    const w = await watchedThing()
    const j1 = await createJob(h, [w.thingName])
    const j2 = await createJob(h, [w.thingName])
    const before = await w.received()
    await d.accepted(jobsTopics(w.thingName).update(j2), { status: 'REJECTED' })
    const after = await w.received()
    assert.equal(after.notify.length, before.notify.length + 1)
    assert.deepEqual((after.notify[after.notify.length - 1] as { jobs: object }).jobs, {
      QUEUED: [summary(j1, { queuedAt: clock.seconds() })],
    })
    assert.deepEqual(after.next, before.next)
  })

  it('→ CANCELED by CancelJobExecution (QUEUED, and IN_PROGRESS with force): notify and notify-next', async () => {
    const w = await watchedThing()
    const j1 = await createJob(h, [w.thingName])
    const j2 = await createJob(h, [w.thingName])
    await report(h, j2, w.thingName, 'IN_PROGRESS')
    const before = await w.received()
    assert.deepEqual(before.next.map(nextJobId), [j1, j2])
    await h.iot.send(new CancelJobExecutionCommand({ jobId: j2, thingName: w.thingName, force: true }))
    const afterForce = await w.received()
    assert.equal(afterForce.notify.length, before.notify.length + 1)
    assert.deepEqual(afterForce.next.map(nextJobId), [j1, j2, j1])
    await h.iot.send(new CancelJobExecutionCommand({ jobId: j1, thingName: w.thingName }))
    const { notify, next } = await w.received()
    assert.deepEqual(notify[notify.length - 1], { timestamp: clock.seconds(), jobs: {} })
    assert.deepEqual(next[next.length - 1], { timestamp: clock.seconds() })
  })

  it('→ CANCELED by CancelJob: every thing of the job hears notify and notify-next', async () => {
    const a = await watchedThing()
    const b = await watchedThing()
    const jobId = await createJob(h, [a.thingName, b.thingName])
    for (const w of [a, b]) assert.deepEqual((await w.received()).next.map(nextJobId), [jobId])
    await h.iot.send(new CancelJobCommand({ jobId }))
    for (const w of [a, b]) {
      const { notify, next } = await w.received()
      assert.deepEqual(notify[notify.length - 1], { timestamp: clock.seconds(), jobs: {} }, w.thingName)
      assert.deepEqual(next, [next[0], { timestamp: clock.seconds() }], w.thingName)
    }
  })

  it('→ REMOVED when the thing leaves the group of a CONTINUOUS job: notify and notify-next', async () => {
    const group = (await createGroup(h)).name
    const w = await watchedThing()
    await addToGroup(h, group, w.thingName)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        document: DOCUMENT,
        targetSelection: 'CONTINUOUS',
        targets: [groupArnOf(group)],
      }),
    )
    assert.deepEqual((await w.received()).next.map(nextJobId), [jobId])
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: group, thingName: w.thingName }))
    const { notify, next } = await w.received()
    assert.deepEqual(notify[notify.length - 1], { timestamp: clock.seconds(), jobs: {} })
    assert.deepEqual(next[next.length - 1], { timestamp: clock.seconds() })
  })

  it('→ REMOVED by DeleteThing [open-question 12]: notify {} and notify-next without execution', async () => {
    const w = await watchedThing()
    await createJob(h, [w.thingName])
    await w.received()
    await h.iot.send(new DeleteThingCommand({ thingName: w.thingName }))
    const { notify, next } = await w.received()
    assert.deepEqual(notify[notify.length - 1], { timestamp: clock.seconds(), jobs: {} })
    assert.deepEqual(next[next.length - 1], { timestamp: clock.seconds() })
  })

  it('pending execution deleted by DeleteJob with force: notify and notify-next', async () => {
    const w = await watchedThing()
    const j1 = await createJob(h, [w.thingName])
    const j2 = await createJob(h, [w.thingName])
    await report(h, j1, w.thingName, 'IN_PROGRESS')
    await w.received()
    await h.iot.send(new DeleteJobCommand({ jobId: j1, force: true }))
    await finishJobDeletions(h)
    const { notify, next } = await w.received()
    assert.deepEqual((notify[notify.length - 1] as { jobs: object }).jobs, {
      QUEUED: [summary(j2, { queuedAt: clock.seconds() })],
    })
    assert.deepEqual(next.map(nextJobId), [j1, j2])
  })

  it('terminal execution removed by DeleteJob: nothing', async () => {
    const w = await watchedThing()
    const j1 = await createJob(h, [w.thingName])
    await createJob(h, [w.thingName])
    await report(h, j1, w.thingName, 'SUCCEEDED')
    const before = await w.received()
    await h.iot.send(new DeleteJobCommand({ jobId: j1 }))
    await finishJobDeletions(h)
    assert.deepEqual(await w.received(), before)
  })

  it('a request that fails publishes nothing', async () => {
    const w = await watchedThing()
    const j1 = await createJob(h, [w.thingName])
    const before = await w.received()
    const t = jobsTopics(w.thingName)
    await d.rejected(t.update(j1), { status: 'SUCCEEDED', expectedVersion: 7 })
    await d.rejected(t.update(j1), { status: 'CANCELED' })
    assert.deepEqual(await w.received(), before)
  })

  it('[spec: jobs-device-api#4.3] each thing of a job hears only about its own executions', async () => {
    const a = await watchedThing()
    const b = await watchedThing()
    const jobId = await createJob(h, [a.thingName, b.thingName])
    await d.accepted(jobsTopics(a.thingName).update(jobId), { status: 'SUCCEEDED' })
    const ra = await a.received()
    const rb = await b.received()
    assert.deepEqual(ra.next.map(nextJobId), [jobId, undefined])
    assert.deepEqual(rb.next.map(nextJobId), [jobId])
    assert.deepEqual((rb.next[0] as { execution: { thingName: string } }).execution.thingName, b.thingName)
    assert.equal(rb.notify.length, 1)
  })

  it('pending execution hidden by DeleteJob (DELETION_IN_PROGRESS): notify when devices lose it, not only after the purge', async () => {
    const w = await watchedThing()
    const jobId = await createJob(h, [w.thingName])
    const before = await w.received()
    const hold = holdJobDeletion(h)
    try {
      await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
      // The device already sees nothing pending …
      const next = await d.accepted(jobsTopics(w.thingName).describe('$next'))
      assert.equal(next['execution'], undefined)
      // … so the set changed now, and notify is due now.
      const { notify } = await w.received()
      assert.equal(notify.length, before.notify.length + 1)
    } finally {
      await hold.release()
    }
  })
})

describe('The trigger table, rows driven by time (a server on the virtual clock) [spec: jobs-device-api#4.3] [spec: test-clock#3]', () => {
  let hv: Harness
  let dv: DeviceClient
  before(async () => {
    hv = await startHarness({ clockMode: 'virtual', clockStartMs: CLOCK_START_MS, mqtt: { port: 0 } })
    dv = await connectDevice(mqttUrlOf(hv))
  })
  after(async () => {
    await dv?.close()
    await hv?.close()
  })

  /** As `watch`, on the virtual-clock server. */
  async function watchOnVirtual(thingName: string): Promise<Watch> {
    const t = jobsTopics(thingName)
    const notify = await dv.collect(t.notify)
    const next = await dv.collect(t.notifyNext)
    return {
      thingName,
      notify,
      next,
      received: async () => {
        await settle(hv, dv, thingName)
        return { notify: notify.messages.map((m) => m.json), next: next.messages.map((m) => m.json) }
      },
    }
  }

  const lastJobs = (notify: unknown[]): unknown => (notify[notify.length - 1] as { jobs: unknown }).jobs
  const lastExecution = (next: unknown[]): Record<string, unknown> | undefined =>
    (next[next.length - 1] as { execution?: Record<string, unknown> }).execution
  const seconds = (ms: number): number => Math.floor(ms / 1000)

  it('execution created by a retry (jobExecutionsRetryConfig): notify, notify-next if first', async () => {
    const retry = {
      jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'FAILED' as const, numberOfRetries: 1 }] },
    }
    // First: the failed execution was the thing's first, so its retry becomes the first.
    const [thing] = (await createFleet(hv, 1)) as [string]
    const w = await watchOnVirtual(thing)
    const j1 = await createJob(hv, [thing], retry)
    const before = await w.received()
    assert.deepEqual(before.next.map(nextJobId), [j1])
    await advance(hv, 60)
    const failedAt = seconds(await clockNow(hv))
    await dv.accepted(jobsTopics(thing).update(j1), { status: 'FAILED' })
    const after = await w.received()
    assert.ok(after.notify.length > before.notify.length, 'notify after the retry was created')
    assert.deepEqual(lastJobs(after.notify), {
      QUEUED: [summary(j1, { queuedAt: failedAt, executionNumber: 2 })],
    })
    assert.ok(after.next.length > before.next.length, 'notify-next: the retry is the first execution')
    assert.deepEqual(lastExecution(after.next), {
      ...queuedExecution(j1, thing, failedAt),
      executionNumber: 2,
    })

    // Not first: an earlier job's execution stays first, so notify-next says nothing new.
    const [other] = (await createFleet(hv, 1)) as [string]
    const o = await watchOnVirtual(other)
    const k0 = await createJob(hv, [other])
    await advance(hv, 60)
    const k1 = await createJob(hv, [other], retry)
    const k1Queued = seconds(await clockNow(hv))
    const k0Queued = k1Queued - 60
    const quiet = await o.received()
    assert.deepEqual(quiet.next.map(nextJobId), [k0])
    await advance(hv, 60)
    const k1FailedAt = seconds(await clockNow(hv))
    await dv.accepted(jobsTopics(other).update(k1), { status: 'FAILED' })
    const later = await o.received()
    assert.ok(later.notify.length > quiet.notify.length)
    assert.deepEqual(lastJobs(later.notify), {
      QUEUED: [
        summary(k0, { queuedAt: k0Queued }),
        summary(k1, { queuedAt: k1FailedAt, executionNumber: 2 }),
      ],
    })
    assert.deepEqual(later.next, quiet.next)
    assert.notEqual(k1Queued, k1FailedAt)
  })

  it('execution created by rollout pacing: notify, notify-next if first', async () => {
    const [a, b, c] = (await createFleet(hv, 3)) as [string, string, string]
    const wb = await watchOnVirtual(b)
    const wc = await watchOnVirtual(c)
    // c already has an earlier job, which stays its first execution.
    const earlier = await createJob(hv, [c])
    const t0 = await clockNow(hv)
    const jobId = await createJob(hv, [a, b, c], { jobExecutionsRolloutConfig: { maximumPerMinute: 1 } })
    assert.deepEqual(await wb.received(), { notify: [], next: [] }, 'b waits for its batch')
    const cBefore = await wc.received()
    assert.equal(cBefore.notify.length, 1)

    await advance(hv, 60)
    const tb = seconds(t0 + 60_000)
    const rb = await wb.received()
    // [spec: test-clock#1] the notifications carry the virtual clock's time.
    assert.deepEqual(rb, {
      notify: [{ timestamp: tb, jobs: { QUEUED: [summary(jobId, { queuedAt: tb })] } }],
      next: [{ timestamp: tb, execution: queuedExecution(jobId, b, tb) }],
    })
    assert.deepEqual(await wc.received(), cBefore, 'c waits for its batch')

    await advance(hv, 60)
    const tc = seconds(t0 + 120_000)
    const rc = await wc.received()
    assert.equal(rc.notify.length, 2)
    assert.deepEqual(lastJobs(rc.notify), {
      QUEUED: [summary(earlier, { queuedAt: seconds(t0) }), summary(jobId, { queuedAt: tc })],
    })
    assert.deepEqual(rc.next, cBefore.next, 'the earlier job stays first: no notify-next')
  })

  it('→ TIMED_OUT by the in-progress or step timer: notify, notify-next if first', async () => {
    // First: the execution that times out is the IN_PROGRESS one devices see first.
    const [thing, other] = (await createFleet(hv, 2)) as [string, string]
    const w = await watchOnVirtual(thing)
    const j1 = await createJob(hv, [thing], { timeoutConfig: { inProgressTimeoutInMinutes: 1 } })
    const j2 = await createJob(hv, [thing])
    const queued = seconds(await clockNow(hv))
    await dv.accepted(jobsTopics(thing).startNext)
    const before = await w.received()
    await advance(hv, 60)
    const after = await w.received()
    assert.equal(after.notify.length, before.notify.length + 1)
    assert.deepEqual(lastJobs(after.notify), { QUEUED: [summary(j2, { queuedAt: queued })] })
    assert.deepEqual(after.next.map(nextJobId), [...before.next.map(nextJobId), j2])
    assert.notEqual(j1, j2)

    // Not first: a step timer on a later IN_PROGRESS execution; the earlier one stays first.
    const o = await watchOnVirtual(other)
    const k1 = await createJob(hv, [other])
    const k2 = await createJob(hv, [other])
    await dv.accepted(jobsTopics(other).update(k1), { status: 'IN_PROGRESS' })
    await dv.accepted(jobsTopics(other).update(k2), { status: 'IN_PROGRESS', stepTimeoutInMinutes: 2 })
    const quiet = await o.received()
    assert.deepEqual(quiet.next.map(nextJobId).slice(-1), [k1])
    await advance(hv, 120)
    const later = await o.received()
    assert.equal(later.notify.length, quiet.notify.length + 1)
    const jobs = lastJobs(later.notify) as { IN_PROGRESS?: { jobId: string }[]; QUEUED?: unknown[] }
    assert.deepEqual(
      jobs.IN_PROGRESS?.map((s) => s.jobId),
      [k1],
    )
    assert.equal(jobs.QUEUED, undefined)
    assert.deepEqual(later.next, quiet.next)
  })
})

describe('Namespaced notification topics [spec: jobs-device-api#3] [spec: jobs-device-api#4]', () => {
  it('a namespaced job notifies on notify-namespace-NS and notify-next-namespace-NS only; a plain job only on the plain topics', async () => {
    const thingName = await createThing(h)
    const plain = await watch(thingName)
    const ns = await watch(thingName, 'ns1')
    const other = await watch(thingName, 'ns2')
    const t0 = clock.seconds()
    const nsJob = await createJob(h, [thingName], { namespaceId: 'ns1' })
    assert.deepEqual(await ns.received(), {
      notify: [{ timestamp: t0, jobs: { QUEUED: [summary(nsJob, { queuedAt: t0 })] } }],
      next: [{ timestamp: t0, execution: queuedExecution(nsJob, thingName, t0) }],
    })
    assert.deepEqual(await plain.received(), { notify: [], next: [] })

    clock.advance(1000)
    const plainJob = await createJob(h, [thingName])
    assert.deepEqual((await plain.received()).next.map(nextJobId), [plainJob])
    assert.equal((await ns.received()).notify.length, 1, 'the plain job does not touch the namespace')

    await d.accepted(jobsTopics(thingName, 'ns1').update(nsJob), { status: 'SUCCEEDED' })
    const { notify, next } = await ns.received()
    assert.deepEqual(notify[1], { timestamp: clock.seconds(), jobs: {} })
    assert.deepEqual(next[1], { timestamp: clock.seconds() })
    assert.equal((await plain.received()).notify.length, 1)
    assert.deepEqual(await other.received(), { notify: [], next: [] })
  })

  it('[open-question 48] publishes nothing on the API-reference form …/jobs/{jobId}/notify-namespace-NS/', async () => {
    const thingName = await createThing(h)
    const all = await d.collect(`$aws/things/${thingName}/jobs/#`)
    const jobId = await createJob(h, [thingName], { namespaceId: 'ns1' })
    await settle(h, d, thingName)
    const notifications = all.messages.map((m) => m.topic).filter((topic) => topic.includes('notify'))
    assert.deepEqual(notifications.sort(), [
      `$aws/things/${thingName}/jobs/notify-namespace-ns1`,
      `$aws/things/${thingName}/jobs/notify-next-namespace-ns1`,
    ])
    assert.ok(!all.messages.some((m) => m.topic.includes(`${jobId}/notify`)))
  })
})
