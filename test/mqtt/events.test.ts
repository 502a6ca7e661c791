/**
 * Jobs events as a subscriber to `$aws/events/#` receives them, with the real server, the real AWS SDK
 * clients and a real `mqtt` client: every topic of §5.1 and §5.2 with its exact payload (times from a
 * ManualClock), one event per execution for set-based changes (CancelJob, job purge, DeleteThing), the
 * families switched on and off, and no event lost while the broker is unreachable or the process
 * restarts. After each step the test waits until the events outbox is drained and a marker message has
 * travelled behind it (`settled`), then compares what arrived.
 * [spec: jobs-device-api#5] [spec: delete-job-execution#4]
 */
import {
  CancelJobCommand,
  CancelJobExecutionCommand,
  CreateJobCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteJobCommand,
  DeleteJobExecutionCommand,
  DeleteThingCommand,
  DescribeJobCommand,
  IoTClient,
} from '@aws-sdk/client-iot'
import { IoTJobsDataPlaneClient } from '@aws-sdk/client-iot-jobs-data-plane'
import { UpdateJobExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import { Aedes } from 'aedes'
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, sdkCredentials, startHarness, thingArnOf, unique } from '../support/harness.js'
import {
  DOCUMENT,
  ManualClock,
  createJob,
  createThing,
  report,
  terminalExecution,
} from '../support/device.js'
import { holdJobDeletion, jobInEveryStatus } from '../support/lifecycle.js'
import { waitUntil } from '../support/mqtt.js'
import { countRows, dropSchemaFor, serveArgs } from '../support/store.js'
import { CLI } from '../support/cli.js'

/** How long a wait lasts before it fails; generous, since the machine is shared. */
const WAIT_MS = 10_000
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/
const BOTH = { job: true, jobExecution: true } as const

interface Received {
  readonly topic: string
  readonly payload: Record<string, unknown>
}

/** A client subscribed to `$aws/events/#` that keeps everything it receives, in arrival order. */
class EventWatcher {
  readonly received: Received[] = []
  private wakers: (() => void)[] = []

  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload) => {
      this.received.push({ topic, payload: JSON.parse(payload.toString('utf8')) as Record<string, unknown> })
      const wakers = this.wakers
      this.wakers = []
      for (const w of wakers) w()
    })
  }

  static async connect(url: string): Promise<EventWatcher> {
    const client = await mqtt.connectAsync(url, {
      clientId: unique('events'),
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: WAIT_MS,
    })
    const watcher = new EventWatcher(client)
    const granted = await client.subscribeAsync('$aws/events/#', { qos: 1 })
    assert.notEqual(granted[0]?.qos, 128, 'the broker refused the subscription to $aws/events/#')
    return watcher
  }

  /** Events about one job (both families), in arrival order. */
  of(jobId: string): Received[] {
    return this.received.filter((m) => m.topic.split('/')[3] === jobId)
  }

  /** Resolves once `check` holds; fails after WAIT_MS saying what was awaited and what arrived. */
  async until(what: string, check: () => boolean): Promise<void> {
    const deadline = Date.now() + WAIT_MS
    while (!check()) {
      const left = deadline - Date.now()
      if (left <= 0) {
        const seen = this.received.map((m) => `  ${m.topic} ${JSON.stringify(m.payload)}`).join('\n')
        throw new Error(
          `timed out after ${WAIT_MS} ms waiting for ${what}; received:\n${seen || '  (nothing)'}`,
        )
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.wakers.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /**
   * Waits until the server's events outbox is drained, then sends a marker through the broker and
   * waits for it: whatever the broker had before is delivered by then. After this, an event that did
   * not arrive was not published.
   */
  async settled(h: Harness): Promise<void> {
    await h.server.workers.events?.idle()
    const marker = `$aws/events/marker/${unique('m')}`
    await this.client.publishAsync(marker, '{}', { qos: 1 })
    await this.until(`the marker ${marker}`, () => this.received.some((m) => m.topic === marker))
    await h.server.workers.events?.idle()
  }

  async close(): Promise<void> {
    await this.client.endAsync(true)
  }
}

/** The payload without its eventId, after checking that the id is a fresh v4 UUID. */
function withoutId(m: Received, seen: Set<string>): Record<string, unknown> {
  const { eventId, ...rest } = m.payload
  assert.equal(typeof eventId, 'string', `${m.topic}: eventId`)
  assert.match(eventId as string, UUID_V4, `${m.topic}: eventId is a v4 UUID`)
  assert.ok(!seen.has(eventId as string), `${m.topic}: eventId ${String(eventId)} is new`)
  seen.add(eventId as string)
  return rest
}

/** The only message on `topic` among `messages`. */
function one(messages: readonly Received[], topic: string): Received {
  const found = messages.filter((m) => m.topic === topic)
  assert.equal(found.length, 1, `one message on ${topic}; got ${found.length}`)
  return found[0]!
}

/** The topics of `messages`, sorted: the spec promises no order. */
const topicsOf = (messages: readonly Received[]): string[] => messages.map((m) => m.topic).sort()
const sorted = (...topics: string[]): string[] => topics.sort()

const jobTopic = (jobId: string, op: string) => `$aws/events/job/${jobId}/${op}`
const execTopic = (jobId: string, op: string) => `$aws/events/jobExecution/${jobId}/${op}`
const seconds = (ms: number) => Math.floor(ms / 1000)

/** What a JOB_EXECUTION event must carry (without eventId). [spec: jobs-device-api#5.2] */
function execEvent(
  jobId: string,
  thingName: string,
  operation: string,
  status: string,
  atMs: number,
  statusDetails: Record<string, string> = {},
): Record<string, unknown> {
  return {
    eventType: 'JOB_EXECUTION',
    timestamp: seconds(atMs),
    operation,
    jobId,
    thingArn: thingArnOf(thingName),
    status,
    statusDetails,
  }
}

/** Rows waiting in the events outbox of a server's database, read on a connection of the test's own. */
function outboxRows(dataDir: string): Promise<number> {
  return countRows(dataDir, 'event_outbox')
}

/** Resolves once the events outbox of the server's database is empty; fails after WAIT_MS. */
async function outboxEmptied(dataDir: string): Promise<void> {
  await waitUntil(
    'the outbox to empty',
    async () => ((await outboxRows(dataDir)) === 0 ? true : undefined),
    WAIT_MS,
  )
}

describe('Jobs events (both families on, embedded broker)', () => {
  let h: Harness
  let w: EventWatcher
  const clock = new ManualClock()
  before(async () => {
    h = await startHarness({ clock, mqtt: { port: 0 }, events: BOTH })
    assert.ok(h.server.mqttUrl !== undefined)
    w = await EventWatcher.connect(h.server.mqttUrl)
  })
  after(async () => {
    await w?.close()
    await h?.close()
  })

  it('SNAPSHOT job: succeeded, failed, rejected, canceled, removed, then completed with jobProcessDetails', async () => {
    const things: string[] = []
    for (let i = 0; i < 5; i += 1) things.push(await createThing(h))
    const [tS, tF, tR, tC, tX] = things as [string, string, string, string, string]
    const createdAt = clock.nowMs()
    const jobId = await createJob(h, things, { description: 'firmware 1.2' })
    clock.advance(1500)
    await report(h, jobId, tS, 'IN_PROGRESS', { statusDetails: { step: 'download' } })
    const at: Record<string, number> = {}
    const step = async (name: string, action: () => Promise<unknown>) => {
      clock.advance(1_000)
      at[name] = clock.nowMs()
      await action()
    }
    await step('succeeded', () => report(h, jobId, tS, 'SUCCEEDED', { statusDetails: { step: 'done' } }))
    await step('failed', () => report(h, jobId, tF, 'FAILED', { statusDetails: { reason: 'disk full' } }))
    await step('rejected', () => report(h, jobId, tR, 'REJECTED'))
    await step('canceled', () =>
      h.iot.send(new CancelJobExecutionCommand({ jobId, thingName: tC, statusDetails: { by: 'operator' } })),
    )
    // The last pending execution leaves: REMOVED, and the job completes in the same transaction.
    await step('removed', () => h.iot.send(new DeleteThingCommand({ thingName: tX })))
    await w.settled(h)

    const events = w.of(jobId)
    assert.deepEqual(
      events.map((m) => m.topic).sort(),
      [
        execTopic(jobId, 'succeeded'),
        execTopic(jobId, 'failed'),
        execTopic(jobId, 'rejected'),
        execTopic(jobId, 'canceled'),
        execTopic(jobId, 'removed'),
        jobTopic(jobId, 'completed'),
      ].sort(),
      'no event for QUEUED → IN_PROGRESS; one per terminal status; one completed',
    )
    const ids = new Set<string>()
    const expected: [string, string, string, Record<string, string>][] = [
      ['succeeded', tS, 'SUCCEEDED', { step: 'done' }],
      ['failed', tF, 'FAILED', { reason: 'disk full' }],
      ['rejected', tR, 'REJECTED', {}],
      ['canceled', tC, 'CANCELED', { by: 'operator' }],
      ['removed', tX, 'REMOVED', {}],
    ]
    for (const [op, thing, status, details] of expected) {
      assert.deepEqual(
        withoutId(one(events, execTopic(jobId, op)), ids),
        execEvent(jobId, thing, op, status, at[op]!, details),
      )
    }
    const completedAt = at['removed']!
    // [spec: jobs-device-api#5.1] [open-question 4] timestamp in seconds, the job's times in milliseconds
    assert.deepEqual(withoutId(one(events, jobTopic(jobId, 'completed')), ids), {
      eventType: 'JOB',
      timestamp: seconds(completedAt),
      operation: 'completed',
      jobId,
      status: 'COMPLETED',
      targetSelection: 'SNAPSHOT',
      targets: things.map(thingArnOf),
      description: 'firmware 1.2',
      createdAt,
      lastUpdatedAt: completedAt,
      completedAt,
      jobProcessDetails: {
        numberOfCanceledThings: 1,
        numberOfRejectedThings: 1,
        numberOfFailedThings: 1,
        numberOfRemovedThings: 1,
        numberOfSucceededThings: 1,
        numberOfTimedOutThings: 0,
      },
    })
    const described = (await h.iot.send(new DescribeJobCommand({ jobId }))).job
    assert.equal(described?.completedAt?.getTime(), completedAt, 'the event agrees with DescribeJob')
  })

  it('CancelJob with force on 40 executions: cancellation_in_progress, one canceled per execution, canceled', async () => {
    const things: string[] = []
    for (let i = 0; i < 40; i += 1) things.push(await createThing(h))
    const createdAt = clock.nowMs()
    const jobId = await createJob(h, things)
    clock.advance(500)
    const running = things.slice(0, 5)
    for (const thingName of running)
      await report(h, jobId, thingName, 'IN_PROGRESS', { statusDetails: { p: '50' } })
    clock.advance(2_000)
    const canceledAt = clock.nowMs()
    await h.iot.send(
      new CancelJobCommand({ jobId, force: true, reasonCode: 'BAD_BUILD', comment: 'stop it' }),
    )
    await w.settled(h)

    const events = w.of(jobId)
    const ids = new Set<string>()
    const job = (op: string, status: string) => ({
      eventType: 'JOB',
      timestamp: seconds(canceledAt),
      operation: op,
      jobId,
      status,
      targetSelection: 'SNAPSHOT',
      targets: things.map(thingArnOf),
      createdAt,
      lastUpdatedAt: canceledAt,
      comment: 'stop it',
    })
    // No description (the job has none), no completedAt and no jobProcessDetails [open-question 22].
    assert.deepEqual(
      withoutId(one(events, jobTopic(jobId, 'cancellation_in_progress')), ids),
      job('cancellation_in_progress', 'CANCELLATION_IN_PROGRESS'),
    )
    assert.deepEqual(withoutId(one(events, jobTopic(jobId, 'canceled')), ids), job('canceled', 'CANCELED'))
    const canceled = events.filter((m) => m.topic === execTopic(jobId, 'canceled'))
    assert.equal(canceled.length, 40, 'one canceled event per execution')
    const byArn = new Map(canceled.map((m) => [m.payload['thingArn'], m]))
    assert.equal(byArn.size, 40, 'each execution once')
    for (const thingName of things) {
      const m = byArn.get(thingArnOf(thingName))
      assert.ok(m !== undefined, `canceled event of ${thingName}`)
      const details = running.includes(thingName) ? { p: '50' } : {}
      assert.deepEqual(
        withoutId(m, ids),
        execEvent(jobId, thingName, 'canceled', 'CANCELED', canceledAt, details),
      )
    }
    assert.equal(events.length, 42, 'nothing else')
  })

  it('CancelJob without force cancels the QUEUED executions; a later force cancel reports only the IN_PROGRESS ones', async () => {
    const things = [await createThing(h), await createThing(h), await createThing(h)]
    const jobId = await createJob(h, things, { description: 'rollout' })
    await report(h, jobId, things[0]!, 'IN_PROGRESS')
    clock.advance(1_000)
    await h.iot.send(new CancelJobCommand({ jobId }))
    await w.settled(h)
    const first = w.of(jobId).map((m) => `${m.topic} ${(m.payload['thingArn'] as string | undefined) ?? ''}`)
    assert.deepEqual(
      first.sort(),
      [
        `${execTopic(jobId, 'canceled')} ${thingArnOf(things[1]!)}`,
        `${execTopic(jobId, 'canceled')} ${thingArnOf(things[2]!)}`,
        `${jobTopic(jobId, 'canceled')} `,
        `${jobTopic(jobId, 'cancellation_in_progress')} `,
      ].sort(),
    )
    // The job stays CANCELED: no job event, only the event of the execution force-canceled now.
    clock.advance(1_000)
    const forcedAt = clock.nowMs()
    await h.iot.send(new CancelJobCommand({ jobId, force: true }))
    await w.settled(h)
    const later = w.of(jobId).slice(first.length)
    assert.equal(later.length, 1, later.map((m) => m.topic).join(', '))
    assert.deepEqual(
      withoutId(later[0]!, new Set()),
      execEvent(jobId, things[0]!, 'canceled', 'CANCELED', forcedAt),
    )
  })

  it('DeleteJob: deletion_in_progress, then a deleted event per execution with the status it had, then deleted', async () => {
    const { jobId, thingOf } = await jobInEveryStatus(h, { description: 'to delete' })
    const createdAt = (await h.iot.send(new DescribeJobCommand({ jobId }))).job?.createdAt?.getTime()
    await w.settled(h)
    const before = w.of(jobId).length
    const targets = Object.values(thingOf).map(thingArnOf)
    const job = (op: string, status: string, atMs: number) => ({
      eventType: 'JOB',
      timestamp: seconds(atMs),
      operation: op,
      jobId,
      status,
      targetSelection: 'SNAPSHOT',
      targets,
      description: 'to delete',
      createdAt,
      lastUpdatedAt: atMs,
    })
    const hold = holdJobDeletion(h)
    clock.advance(3_000)
    const deletingAt = clock.nowMs()
    await h.iot.send(new DeleteJobCommand({ jobId, force: true }))
    await w.settled(h)
    const ids = new Set<string>()
    const accepted = w.of(jobId).slice(before)
    assert.equal(accepted.length, 1, accepted.map((m) => m.topic).join(', '))
    assert.deepEqual(
      withoutId(one(accepted, jobTopic(jobId, 'deletion_in_progress')), ids),
      job('deletion_in_progress', 'DELETION_IN_PROGRESS', deletingAt),
    )

    clock.advance(2_000)
    const purgedAt = clock.nowMs()
    assert.equal(await hold.release(), 1)
    await w.settled(h)
    const purged = w.of(jobId).slice(before + 1)
    const deleted = purged.filter((m) => m.topic === execTopic(jobId, 'deleted'))
    assert.equal(deleted.length, 7, 'one deleted event per execution')
    for (const [status, thingName] of Object.entries(thingOf)) {
      const m = deleted.find((d) => d.payload['thingArn'] === thingArnOf(thingName))
      assert.ok(m !== undefined, `deleted event of the ${status} execution`)
      // [open-question 49] the status the execution had when it was deleted
      assert.deepEqual(withoutId(m, ids), execEvent(jobId, thingName, 'deleted', status, purgedAt))
    }
    assert.deepEqual(
      withoutId(one(purged, jobTopic(jobId, 'deleted')), ids),
      job('deleted', 'DELETED', purgedAt),
    )
    assert.equal(purged.length, 8, 'nothing else')
  })

  it('[open-question 49] DeleteJobExecution: deleted carries the status at deletion; deleting the last pending one completes the job', async () => {
    const done = await createThing(h)
    const busy = await createThing(h)
    const jobId = await createJob(h, [done, busy])
    await report(h, jobId, done, 'SUCCEEDED', { statusDetails: { v: '2' } })
    await report(h, jobId, busy, 'IN_PROGRESS', { statusDetails: { p: '10' } })
    await w.settled(h)
    const before = w.of(jobId).length
    clock.advance(1_000)
    const t1 = clock.nowMs()
    await h.iot.send(new DeleteJobExecutionCommand({ jobId, thingName: done, executionNumber: 1 }))
    clock.advance(1_000)
    const t2 = clock.nowMs()
    await h.iot.send(
      new DeleteJobExecutionCommand({ jobId, thingName: busy, executionNumber: 1, force: true }),
    )
    await w.settled(h)
    const events = w.of(jobId).slice(before)
    const ids = new Set<string>()
    const deleted = events.filter((m) => m.topic === execTopic(jobId, 'deleted'))
    assert.equal(deleted.length, 2)
    assert.deepEqual(
      withoutId(
        deleted.find((m) => m.payload['thingArn'] === thingArnOf(done))!,
        ids,
      ),
      execEvent(jobId, done, 'deleted', 'SUCCEEDED', t1, { v: '2' }),
    )
    assert.deepEqual(
      withoutId(
        deleted.find((m) => m.payload['thingArn'] === thingArnOf(busy))!,
        ids,
      ),
      execEvent(jobId, busy, 'deleted', 'IN_PROGRESS', t2, { p: '10' }),
    )
    // [spec: delete-job-execution#4] job completion; the deleted executions are not counted
    const completed = withoutId(one(events, jobTopic(jobId, 'completed')), ids)
    assert.equal(completed['completedAt'], t2)
    assert.deepEqual(completed['jobProcessDetails'], {
      numberOfCanceledThings: 0,
      numberOfRejectedThings: 0,
      numberOfFailedThings: 0,
      numberOfRemovedThings: 0,
      numberOfSucceededThings: 0,
      numberOfTimedOutThings: 0,
    })
    assert.equal(events.length, 3)
  })

  it('a thing leaving a CONTINUOUS job’s target group: removed', async () => {
    const at = clock.nowMs()
    const { jobId, thingName } = await terminalExecution(h, 'REMOVED')
    await w.settled(h)
    const events = w.of(jobId)
    assert.deepEqual(
      events.map((m) => m.topic),
      [execTopic(jobId, 'removed')],
      'CONTINUOUS jobs never complete',
    )
    assert.deepEqual(withoutId(events[0]!, new Set()), execEvent(jobId, thingName, 'removed', 'REMOVED', at))
  })

  it('timed_out: any write that reaches TIMED_OUT records the event (the timer scheduler arrives later)', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    await report(h, jobId, thingName, 'IN_PROGRESS', { statusDetails: { p: '90' } })
    clock.advance(60_000)
    const at = clock.nowMs()
    // The service's move IN_PROGRESS → TIMED_OUT, as the timer scheduler will make it. [spec: state-machines#4]
    await h.server.context.store.mutateExecution({ jobId, thingName }, ({ execution }) => ({
      kind: 'write',
      next: {
        ...execution,
        status: 'TIMED_OUT',
        lastUpdatedAtMs: at,
        versionNumber: execution.versionNumber + 1,
      },
      events: [],
    }))
    await w.settled(h)
    const events = w.of(jobId)
    const ids = new Set<string>()
    assert.deepEqual(
      withoutId(one(events, execTopic(jobId, 'timed_out')), ids),
      execEvent(jobId, thingName, 'timed_out', 'TIMED_OUT', at, { p: '90' }),
    )
    const completed = withoutId(one(events, jobTopic(jobId, 'completed')), ids)
    assert.equal((completed['jobProcessDetails'] as Record<string, number>)['numberOfTimedOutThings'], 1)
    assert.equal(events.length, 2)
  })

  it('[open-question 58] a SNAPSHOT job whose targets reach no thing: completed at creation', async () => {
    const thingGroupName = unique('group')
    await h.iot.send(new CreateThingGroupCommand({ thingGroupName }))
    const at = clock.nowMs()
    const jobId = unique('job')
    const target = `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/${thingGroupName}`
    await h.iot.send(new CreateJobCommand({ jobId, document: DOCUMENT, targets: [target] }))
    await w.settled(h)
    const events = w.of(jobId)
    assert.deepEqual(withoutId(one(events, jobTopic(jobId, 'completed')), new Set()), {
      eventType: 'JOB',
      timestamp: seconds(at),
      operation: 'completed',
      jobId,
      status: 'COMPLETED',
      targetSelection: 'SNAPSHOT',
      targets: [target],
      createdAt: at,
      lastUpdatedAt: at,
      completedAt: at,
      jobProcessDetails: {
        numberOfCanceledThings: 0,
        numberOfRejectedThings: 0,
        numberOfFailedThings: 0,
        numberOfRemovedThings: 0,
        numberOfSucceededThings: 0,
        numberOfTimedOutThings: 0,
      },
    })
    assert.equal(events.length, 1)
  })

  it('the outbox is empty once everything is published', async () => {
    await w.settled(h)
    assert.equal(await outboxRows(h.dataDir), 0)
  })
})

describe('Jobs events switched by family', () => {
  /**
   * On a fresh server: a SNAPSHOT job whose execution SUCCEEDED, and a job canceled then deleted. Says
   * what a subscriber got, what is left in the events outbox and whether a dispatcher runs.
   */
  async function run(events?: { job: boolean; jobExecution: boolean }, withMqtt = true) {
    const h = await startHarness({
      ...(withMqtt ? { mqtt: { port: 0 } } : {}),
      ...(events === undefined ? {} : { events }),
    })
    const w = h.server.mqttUrl === undefined ? undefined : await EventWatcher.connect(h.server.mqttUrl)
    try {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      await report(h, jobId, thingName, 'SUCCEEDED')
      const other = await createThing(h)
      const canceledJob = await createJob(h, [other])
      await h.iot.send(new CancelJobCommand({ jobId: canceledJob }))
      await h.iot.send(new DeleteJobCommand({ jobId: canceledJob }))
      await h.server.workers.jobDeletion.idle()
      await w?.settled(h)
      return {
        // `$aws/events/{family}/{jobId}/{operation}` → `{family}/{operation}`
        topics: [...(w?.of(jobId) ?? []), ...(w?.of(canceledJob) ?? [])].map((m) =>
          m.topic.replace(/^\$aws\/events\/(\w+)\/[^/]+\/(\w+)$/, '$1/$2'),
        ),
        rows: await outboxRows(h.dataDir),
        dispatcher: h.server.workers.events !== undefined,
      }
    } finally {
      await w?.close()
      await h.close()
    }
  }

  it('off by default: nothing is published and nothing is written', async () => {
    const out = await run()
    assert.deepEqual(out, { topics: [], rows: 0, dispatcher: false })
  })

  it('on without MQTT: nothing is written (nobody would publish it)', async () => {
    const out = await run(BOTH, false)
    assert.deepEqual(out, { topics: [], rows: 0, dispatcher: false })
  })

  it('job only: job events, no execution events', async () => {
    const out = await run({ job: true, jobExecution: false })
    assert.deepEqual(out.topics.sort(), [
      'job/canceled',
      'job/cancellation_in_progress',
      'job/completed',
      'job/deleted',
      'job/deletion_in_progress',
    ])
    assert.equal(out.rows, 0)
  })

  it('jobExecution only: execution events, no job events', async () => {
    const out = await run({ job: false, jobExecution: true })
    assert.deepEqual(out.topics.sort(), [
      'jobExecution/canceled',
      'jobExecution/deleted',
      'jobExecution/succeeded',
    ])
    assert.equal(out.rows, 0)
  })
})

/**
 * A broker the test controls, standing in for an external one (`--mqtt-url`): it can be stopped and
 * started again on the same port, and can hold back fleetjobs' connection until the test is ready.
 */
class TestBroker {
  private constructor(
    private readonly aedes: Aedes,
    private readonly tcp: Server,
  ) {}

  /** Starts on `port` (0: any free one); fleetjobs' client (id `fleetjobs-…`) is admitted once `gate` resolves. */
  static async start(port = 0, gate: Promise<void> = Promise.resolve()): Promise<TestBroker> {
    const aedes = await Aedes.createBroker()
    aedes.authenticate = (client, _username, _password, callback) => {
      if (client.id.startsWith('fleetjobs-')) void gate.then(() => callback(null, true))
      else callback(null, true)
    }
    const tcp = createServer((socket) => aedes.handle(socket))
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(port, '127.0.0.1', () => resolve())
    })
    return new TestBroker(aedes, tcp)
  }

  get url(): string {
    return `mqtt://127.0.0.1:${(this.tcp.address() as AddressInfo).port}`
  }

  get port(): number {
    return (this.tcp.address() as AddressInfo).port
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()))
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()))
  }
}

describe('Jobs events are not lost', () => {
  it('an event written while the broker is unreachable is published once it is back', async () => {
    let broker = await TestBroker.start()
    const port = broker.port
    const h = await startHarness({ mqtt: { port: 0, url: broker.url }, events: BOTH })
    let w: EventWatcher | undefined
    try {
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      await broker.stop()
      await h.iot.send(new CancelJobCommand({ jobId }))
      // Committed with the change, kept while every publish fails.
      assert.equal(await outboxRows(h.dataDir), 3, 'cancellation_in_progress, canceled execution, canceled')

      let admit = () => undefined as void
      broker = await TestBroker.start(port, new Promise<void>((resolve) => (admit = resolve)))
      w = await EventWatcher.connect(broker.url)
      admit()
      const watcher = w
      await w.until('the three events of the cancellation', () => watcher.of(jobId).length >= 3)
      assert.deepEqual(
        topicsOf(w.of(jobId)),
        sorted(
          execTopic(jobId, 'canceled'),
          jobTopic(jobId, 'canceled'),
          jobTopic(jobId, 'cancellation_in_progress'),
        ),
      )
      await outboxEmptied(h.dataDir)
    } finally {
      await w?.close()
      await h.close()
      await broker.stop()
    }
  })

  it('events committed but not published before a stop are published by the next start', async () => {
    // The process stops between commit and publish: the dispatcher of the first run never runs a pass.
    const h1 = await startHarness({ mqtt: { port: 0 }, events: BOTH })
    const dispatcher = h1.server.workers.events
    assert.ok(dispatcher !== undefined)
    await dispatcher.idle()
    Object.defineProperty(dispatcher, 'wake', { value: () => undefined, configurable: true, writable: true })
    const thingName = await createThing(h1)
    const jobId = await createJob(h1, [thingName])
    await report(h1, jobId, thingName, 'SUCCEEDED')
    h1.iot.destroy()
    h1.data.destroy()
    await h1.server.close()
    assert.equal(await outboxRows(h1.dataDir), 2, 'succeeded and completed wait in the data file')

    const broker = await TestBroker.start()
    const w = await EventWatcher.connect(broker.url)
    const h2 = await startHarness({ dataDir: h1.dataDir, mqtt: { port: 0, url: broker.url }, events: BOTH })
    try {
      await w.until('the two events of the previous run', () => w.of(jobId).length >= 2)
      assert.deepEqual(
        topicsOf(w.of(jobId)),
        sorted(execTopic(jobId, 'succeeded'), jobTopic(jobId, 'completed')),
      )
      await outboxEmptied(h1.dataDir)
    } finally {
      await w.close()
      await h2.close()
      await broker.stop()
      // h2 removes only the folder the harness made for it (and drops the schema of h1's, which it
      // used); the data file lives in h1's.
      rmSync(h1.dataDir, { recursive: true, force: true })
    }
  })
})

describe('fleetjobs serve --events', () => {
  function serve(args: string[], env: Record<string, string> = {}) {
    const dataDir = mkdtempSync(join(tmpdir(), 'fleetjobs-events-cli-'))
    const child = spawn(
      process.execPath,
      [...CLI, 'serve', '--data-dir', dataDir, ...serveArgs(dataDir), ...args],
      {
        env: { ...process.env, FLEETJOBS_LOG_LEVEL: 'silent', ...env },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    )
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    /** Resolves with the first stdout line matching `pattern`; fails if the process exits first. */
    const line = (pattern: RegExp) =>
      new Promise<RegExpExecArray>((resolve, reject) => {
        const check = () => {
          const m = pattern.exec(stdout)
          if (m !== null) resolve(m)
        }
        child.stdout.on('data', check)
        check()
        void exited.then((code) => reject(new Error(`exited with ${String(code)}: ${stdout}${stderr}`)))
      })
    return {
      child,
      line,
      exited,
      stderr: () => stderr,
      cleanup: async () => {
        if (child.exitCode === null) child.kill('SIGKILL')
        await exited
        rmSync(dataDir, { recursive: true, force: true })
        await dropSchemaFor(dataDir)
      },
    }
  }

  it('FLEETJOBS_EVENTS=job,jobExecution publishes both families', async () => {
    const s = serve(['--port', '0', '--data-plane-port', '0', '--mqtt-port', '0'], {
      FLEETJOBS_EVENTS: 'job,jobExecution',
    })
    const iot = (url: string) =>
      new IoTClient({ region: REGION, endpoint: url, credentials: sdkCredentials, maxAttempts: 1 })
    try {
      const cp = (await s.line(/control plane \(iot\):\s+(http:\S+)/))[1]!
      const dp = (await s.line(/device data plane \(iot-jobs-data\):\s+(http:\S+)/))[1]!
      const mqttUrl = (await s.line(/MQTT \(embedded broker\):\s+(mqtt:\S+)/))[1]!
      const w = await EventWatcher.connect(mqttUrl)
      const control = iot(cp)
      const data = new IoTJobsDataPlaneClient({
        region: REGION,
        endpoint: dp,
        credentials: sdkCredentials,
        maxAttempts: 1,
      })
      try {
        await control.send(new CreateThingCommand({ thingName: 'cli-thing' }))
        await control.send(
          new CreateJobCommand({
            jobId: 'cli-job',
            document: DOCUMENT,
            targets: [`arn:aws:iot:${REGION}:${ACCOUNT}:thing/cli-thing`],
          }),
        )
        await data.send(
          new UpdateJobExecutionCommand({ jobId: 'cli-job', thingName: 'cli-thing', status: 'SUCCEEDED' }),
        )
        await w.until('succeeded and completed', () => w.of('cli-job').length >= 2)
        assert.deepEqual(
          topicsOf(w.of('cli-job')),
          sorted(execTopic('cli-job', 'succeeded'), jobTopic('cli-job', 'completed')),
        )
      } finally {
        control.destroy()
        data.destroy()
        await w.close()
      }
      s.child.kill('SIGTERM')
      assert.equal(await s.exited, 0)
    } finally {
      await s.cleanup()
    }
  })

  it('--events with an unknown family stops the start, naming the choices', async () => {
    const s = serve(['--port', '0', '--data-plane-port', '0', '--mqtt-port', '0', '--events', 'job,jobs'])
    try {
      assert.notEqual(await s.exited, 0)
      assert.match(
        s.stderr(),
        /--events <list>.*must list job and\/or jobExecution, comma-separated \(not jobs\)/,
      )
    } finally {
      await s.cleanup()
    }
  })
})
