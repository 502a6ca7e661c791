/**
 * Several nodes on one database (issue 5, docs/deployment.md): two real `fleetjobs serve` processes on
 * one PostgreSQL schema, driven concurrently with the real SDK clients and, for the device side, real
 * MQTT clients on the machine's Mosquitto (an external broker both nodes use).
 *
 * This file always runs on PostgreSQL (it is about PostgreSQL); it runs once, in the default pass.
 */
import {
  CancelJobCommand,
  CreateJobCommand,
  CreateThingCommand,
  DescribeJobCommand,
  DeleteJobCommand,
  DescribeThingCommand,
  ListJobExecutionsForJobCommand,
} from '@aws-sdk/client-iot'
import type { IoTClient } from '@aws-sdk/client-iot'
import {
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import type { IoTJobsDataPlaneClient } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT } from '../support/device.js'
import { connectDevice, jobsTopics, waitUntil } from '../support/mqtt.js'
import type { Node } from '../support/nodes.js'
import { dropSchema, nodeSchema, querySchema, startNode } from '../support/nodes.js'
import { onPostgres } from '../support/store.js'

/** The machine's Mosquitto: the external broker both nodes use (tests never run a broker on 1883). */
const MOSQUITTO = 'mqtt://127.0.0.1:1883'
const skip = onPostgres ? 'runs in the default pass (it always uses PostgreSQL)' : undefined

async function things(iot: IoTClient, n: number): Promise<string[]> {
  const names = Array.from({ length: n }, () => unique('node-thing'))
  await Promise.all(names.map((thingName) => iot.send(new CreateThingCommand({ thingName }))))
  return names
}

async function job(iot: IoTClient, names: readonly string[]): Promise<string> {
  const jobId = unique('node-job')
  await iot.send(new CreateJobCommand({ jobId, document: DOCUMENT, targets: names.map(thingArnOf) }))
  return jobId
}

/** Every execution of the job, walking all pages. */
async function executions(iot: IoTClient, jobId: string) {
  const all: { thingName: string; status: string; versionNumber: number }[] = []
  let nextToken: string | undefined
  do {
    const page = await iot.send(new ListJobExecutionsForJobCommand({ jobId, maxResults: 250, nextToken }))
    for (const s of page.executionSummaries ?? []) {
      all.push({
        thingName: s.thingArn?.split('/').pop() ?? '',
        status: s.jobExecutionSummary?.status ?? '',
        versionNumber: 0,
      })
    }
    nextToken = page.nextToken
  } while (nextToken !== undefined)
  return all
}

/** The job's counters (DescribeJob) against a recount of its execution rows. */
async function assertCountersEqualRecount(node: Node, schema: string, jobId: string): Promise<void> {
  const described = (await node.iot.send(new DescribeJobCommand({ jobId }))).job?.jobProcessDetails
  const recount = await querySchema<{ status: string; n: string }>(
    schema,
    'SELECT status, count(*) AS n FROM job_executions WHERE job_id = $1 GROUP BY status',
    [jobId],
  )
  const n = (status: string) => Number(recount.find((r) => r.status === status)?.n ?? 0)
  assert.deepEqual(
    {
      queued: described?.numberOfQueuedThings,
      inProgress: described?.numberOfInProgressThings,
      succeeded: described?.numberOfSucceededThings,
      canceled: described?.numberOfCanceledThings,
      failed: described?.numberOfFailedThings,
      removed: described?.numberOfRemovedThings,
    },
    {
      queued: n('QUEUED'),
      inProgress: n('IN_PROGRESS'),
      succeeded: n('SUCCEEDED'),
      canceled: n('CANCELED'),
      failed: n('FAILED'),
      removed: n('REMOVED'),
    },
  )
}

/** Start-next then SUCCEEDED, as a device would; tolerates a node that dies (the caller retries). */
async function runDevice(data: IoTJobsDataPlaneClient, thingName: string, jobId: string): Promise<void> {
  const started = await data.send(new StartNextPendingJobExecutionCommand({ thingName }))
  const version = started.execution?.versionNumber
  if (started.execution?.jobId !== jobId || version === undefined) return
  await data.send(
    new UpdateJobExecutionCommand({ thingName, jobId, status: 'SUCCEEDED', expectedVersion: version }),
  )
}

describe('two nodes on one PostgreSQL database', { skip }, () => {
  const schema = nodeSchema()
  let a: Node
  let b: Node

  before(async () => {
    // Node a first: it takes the lease of the background work, so that killing it tests the takeover.
    a = await startNode('a', { schema, mqttUrl: MOSQUITTO, extraArgs: ['--max-targets-per-job', '1000'] })
    b = await startNode('b', { schema, mqttUrl: MOSQUITTO, extraArgs: ['--max-targets-per-job', '1000'] })
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await dropSchema(schema)
  })

  it('a change made through one node is seen at once through the other', async () => {
    const thingName = unique('seen')
    await a.iot.send(new CreateThingCommand({ thingName, attributePayload: { attributes: { k: 'v' } } }))
    const thing = await b.iot.send(new DescribeThingCommand({ thingName }))
    assert.equal(thing.attributes?.['k'], 'v')
    const jobId = await job(b.iot, [thingName])
    const described = await a.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(described.job?.jobProcessDetails?.numberOfQueuedThings, 1)
  })

  it('conflicting updates through both nodes: exactly one winner per versionNumber', async () => {
    const [thingName] = await things(a.iot, 1)
    const jobId = await job(a.iot, [thingName!])
    const attempts = 40
    const results = await Promise.allSettled(
      Array.from({ length: attempts }, (_, i) =>
        (i % 2 === 0 ? a : b).data.send(
          new UpdateJobExecutionCommand({
            thingName,
            jobId,
            status: 'IN_PROGRESS',
            expectedVersion: 1,
            statusDetails: { attempt: String(i) },
          }),
        ),
      ),
    )
    const won = results.filter((r) => r.status === 'fulfilled')
    const lost = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected')
    assert.equal(won.length, 1, `winners: ${won.length}`)
    // A version mismatch is InvalidStateTransitionException over HTTP [open-question 44].
    for (const l of lost) {
      assert.equal((l.reason as Error).name, 'InvalidStateTransitionException')
      assert.match((l.reason as Error).message, /expectedVersion does not match/)
    }
    const rows = await querySchema<{ version_number: string }>(
      schema,
      'SELECT version_number FROM job_executions WHERE job_id = $1',
      [jobId],
    )
    assert.deepEqual(
      rows.map((r) => Number(r.version_number)),
      [2],
    )
  })

  it('CancelJob through one node while devices update through the other: counters equal a recount', async () => {
    const names = await things(a.iot, 60)
    const jobId = await job(a.iot, names)
    const devices = Promise.allSettled(names.map((thingName) => runDevice(b.data, thingName, jobId)))
    await new Promise((resolve) => setTimeout(resolve, 20))
    await a.iot.send(new CancelJobCommand({ jobId }))
    await devices
    const all = await executions(a.iot, jobId)
    assert.equal(all.length, names.length)
    // Without force only QUEUED executions are canceled; what a device started it may finish.
    for (const e of all) assert.ok(['CANCELED', 'SUCCEEDED', 'IN_PROGRESS'].includes(e.status), e.status)
    await assertCountersEqualRecount(b, schema, jobId)
    await assertCountersEqualRecount(a, schema, jobId)
  })

  it('devices on a shared broker: every request is answered by exactly one node', async () => {
    const names = await things(a.iot, 5)
    const jobId = await job(b.iot, names)
    const tokens = new Map<string, number>()
    await Promise.all(
      names.map(async (thingName) => {
        const device = await connectDevice(MOSQUITTO)
        try {
          const topics = jobsTopics(thingName)
          const replies = await device.collect(`${topics.base}/#`)
          for (let i = 0; i < 4; i += 1) {
            const token = `${thingName}-${i}`
            tokens.set(token, 0)
            await device.accepted(topics.get, { clientToken: token })
          }
          const described = await device.accepted(topics.describe(jobId), { clientToken: `${thingName}-d` })
          assert.equal((described['execution'] as { jobId?: string }).jobId, jobId)
          // Give a second answer, if one were coming, time to arrive before counting.
          await device.accepted(topics.get, { clientToken: `${thingName}-last` })
          // Replies only: the device's own requests come back to it through the `#` subscription too.
          for (const m of replies.messages.filter((r) => /\/(accepted|rejected)$/.test(r.topic))) {
            const token = m.json['clientToken']
            if (typeof token === 'string' && tokens.has(token))
              tokens.set(token, (tokens.get(token) ?? 0) + 1)
          }
        } finally {
          await device.close()
        }
      }),
    )
    for (const [token, count] of tokens) assert.equal(count, 1, `replies to ${token}: ${count}`)
  })

  it('every notification is published once', async () => {
    const [thingName] = await things(a.iot, 1)
    const device = await connectDevice(MOSQUITTO)
    try {
      const topics = jobsTopics(thingName!)
      const next = await device.collect(topics.notifyNext)
      const jobId = await job(b.iot, [thingName!])
      await next.waitFor('notify-next of the new job', (m) => {
        const execution = m.json['execution'] as { jobId?: string } | undefined
        return execution?.jobId === jobId
      })
      // A round trip through the broker after the notification: a duplicate would be here by now.
      await device.accepted(topics.get)
      await device.accepted(topics.get)
      const forJob = next.messages.filter((m) => (m.json['execution'] as { jobId?: string })?.jobId === jobId)
      assert.equal(forJob.length, 1, next.describe())
    } finally {
      await device.close()
    }
  })

  it('kill -9 of one node mid-way: nothing lost, nothing done twice, counters equal a recount', async () => {
    const names = await things(a.iot, 120)
    const jobId = await job(a.iot, names)
    let killed = false
    const done = new Set<string>()
    const work = names.map(async (thingName, i) => {
      // Half the devices talk to node a; once it is gone, they go on through node b.
      for (let attempt = 0; attempt < 20; attempt += 1) {
        const node = i % 2 === 0 && !killed ? a : b
        try {
          await runDevice(node.data, thingName, jobId)
          done.add(thingName)
          return
        } catch (error) {
          // A version mismatch means the attempt's write committed before the node died: the step is done.
          if (/expectedVersion does not match/.test((error as Error).message)) return
          await new Promise((resolve) => setTimeout(resolve, 50))
        }
      }
    })
    setTimeout(() => {
      killed = true
      void a.kill9()
    }, 150)
    await Promise.all(work)
    // The devices whose last request died with node a finish through b now.
    for (const thingName of names) {
      const rows = await querySchema<{ status: string }>(
        schema,
        'SELECT status FROM job_executions WHERE job_id = $1 AND thing_name = $2',
        [jobId, thingName],
      )
      if (rows[0]?.status === 'QUEUED' || rows[0]?.status === 'IN_PROGRESS') {
        if (rows[0].status === 'QUEUED') await runDevice(b.data, thingName, jobId)
        else {
          const version = await querySchema<{ v: string }>(
            schema,
            'SELECT version_number AS v FROM job_executions WHERE job_id = $1 AND thing_name = $2',
            [jobId, thingName],
          )
          await b.data.send(
            new UpdateJobExecutionCommand({
              thingName,
              jobId,
              status: 'SUCCEEDED',
              expectedVersion: Number(version[0]!.v),
            }),
          )
        }
      }
    }
    const rows = await querySchema<{ status: string; version_number: string; n: string }>(
      schema,
      `SELECT status, version_number, count(*) OVER (PARTITION BY thing_name) AS n
       FROM job_executions WHERE job_id = $1`,
      [jobId],
    )
    assert.equal(rows.length, names.length, 'one execution per thing')
    for (const r of rows) {
      assert.equal(r.status, 'SUCCEEDED')
      // QUEUED (1) → IN_PROGRESS (2) → SUCCEEDED (3): no step applied twice.
      assert.equal(Number(r.version_number), 3)
      assert.equal(Number(r.n), 1)
    }
    await assertCountersEqualRecount(b, schema, jobId)
    const described = await b.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(described.job?.status, 'COMPLETED')
    // Node b took over the background work and the device requests: it answers a device, publishes the
    // notification of a new job, and finishes a DeleteJob.
    const [thingName] = await things(b.iot, 1)
    const device = await connectDevice(MOSQUITTO)
    try {
      const next = await device.collect(jobsTopics(thingName!).notifyNext)
      const newJob = await job(b.iot, [thingName!])
      await next.waitFor(
        'notify-next published by node b',
        (m) => (m.json['execution'] as { jobId?: string } | undefined)?.jobId === newJob,
        { timeoutMs: 20_000 },
      )
      await b.iot.send(new DeleteJobCommand({ jobId, force: true }))
      await waitUntil(
        'node b to purge the deleted job',
        async () => {
          const left = await querySchema(schema, 'SELECT 1 FROM jobs WHERE job_id = $1', [jobId])
          return left.length === 0 ? true : undefined
        },
        20_000,
      )
      await waitUntil(
        'node b to answer device requests',
        async () => {
          const reply = await device
            .request(jobsTopics(thingName!).get, {}, { timeoutMs: 2000 })
            .catch(() => undefined)
          return reply?.outcome === 'accepted' ? reply : undefined
        },
        20_000,
      )
    } finally {
      await device.close()
    }
  })
})
