/**
 * 10,000 devices finish a job, then leave at once — their connections closed in one loop, or their
 * process killed with SIGKILL — and the server is still there and answering afterwards. (About 25 s per
 * storm on an idle 2-core machine; the two run one after the other.)
 *
 * The field report: the server exited in 5 of 6 runs with `RangeError: Maximum call stack size exceeded`
 * in mqemitter (MQEmitter._do / released / fastparallel, aedes 1.2). Every one of aedes' 100 concurrency
 * slots was busy, its queue held ~18,000 messages (a `$SYS/<id>/disconnect/clients` and a
 * `$SYS/<id>/new/unsubscribes` per device, plus notifications), and the queue drained by recursion, one
 * stack level per message that nobody listens to. Here the slots are kept busy the way they were in the
 * field: by a client subscribed to every thing's notifications that stops reading (an operator's
 * dashboard, a stalled consumer); it leaves once the server has seen every device leave. Before the fix
 * (src/mqtt/broker-emitter.ts) the server process crashed at that moment with the same stack.
 *
 * The devices live in a child process (test/mqtt/raw-fleet.ts): bare sockets and mqtt-packet, each
 * device a real MQTT 3.1.1 session doing start-next and an update to SUCCEEDED.
 * [spec: jobs-device-api#2.1] [spec: jobs-device-api#4]
 */
import { DescribeJobCommand } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import { createJob } from '../../src/app/jobs.js'
import { createThing } from '../../src/app/things.js'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import type { DeviceClient } from '../support/mqtt.js'
import { connectDevice, jobsTopics, mqttUrlOf, waitUntil } from '../support/mqtt.js'
import type { FleetReport, FromFleet, ToFleet } from './raw-fleet.js'
import { thingNameOf } from './raw-fleet.js'

const DEVICES = 10_000
/** Bounds a fleet's job round; a failure says how far the devices got. */
const ROUND_MS = 100_000
/** Bounds the server's noticing that every device left. */
const LEAVE_MS = 30_000
const FLEET = fileURLToPath(new URL('./raw-fleet.ts', import.meta.url))

describeStorm('disconnect')
describeStorm('SIGKILL')

/**
 * One storm: a server with 10,000 registered things, a job for all of them, the fleet's round, then the
 * devices leave as `ending` says.
 */
function describeStorm(ending: 'disconnect' | 'SIGKILL'): void {
  const title = ending === 'disconnect' ? 'disconnect at once' : 'their process is killed (SIGKILL)'
  describe(`10,000 devices finish a job, then ${title}`, () => {
    let h: Harness
    let dataDir: string
    const prefix = unique('storm')

    before(async () => {
      // The store's commits are not what this test is about: on tmpfs they cost no disk flush.
      dataDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'fleetjobs-storm-'))
      h = await startHarness({
        dataDir,
        // SQLite on either test run: the broker is under test here, the store only makes the load. On
        // PostgreSQL each of a storm's 20,000 device transactions updates the job's counters, so they
        // queue on its row (60–90 s per storm on a 2-core machine) and two storms outgrow the runner's
        // 120 s per file. What a burst of requests does to the PostgreSQL pool: request-queue.test.ts.
        database: undefined,
        // The connect rate is limits.test.ts's subject; here the fleet connects as fast as it can.
        mqtt: { port: 0, limits: { connectsPerSecond: 0 } },
        settings: { maxTargetsPerJob: DEVICES },
      })
      let next = 0
      const worker = async (): Promise<void> => {
        while (next < DEVICES) await createThing(h.server.context, { thingName: thingNameOf(prefix, next++) })
      }
      await Promise.all(Array.from({ length: 16 }, worker))
    })

    after(async () => {
      await h?.close()
      rmSync(dataDir, { recursive: true, force: true })
    })

    it('the server stays up and answers over HTTP and MQTT', async () => {
      await storm(h, prefix, ending)
    })
  })
}

/** A fleet child: its messages, and a promise for the next one of a kind. */
class Fleet {
  readonly child: ChildProcess
  last: FleetReport | undefined

  constructor() {
    this.child = fork(FLEET, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    this.child.on('message', (message: FromFleet) => {
      if (message.kind !== 'disconnected') this.last = message
    })
  }

  send(message: ToFleet): void {
    this.child.send(message)
  }

  next(kind: FromFleet['kind'], timeoutMs: number): Promise<FromFleet> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.child.off('message', onMessage)
        reject(
          new Error(
            `no ${kind} from the fleet within ${timeoutMs} ms; last report ${JSON.stringify(this.last)}`,
          ),
        )
      }, timeoutMs)
      const onMessage = (message: FromFleet): void => {
        if (message.kind !== kind) return
        clearTimeout(timer)
        this.child.off('message', onMessage)
        resolve(message)
      }
      this.child.on('message', onMessage)
      this.child.once('exit', (code, signal) => {
        if (kind === 'disconnected') return
        clearTimeout(timer)
        reject(new Error(`the fleet exited (${code ?? signal}) before ${kind}`))
      })
    })
  }

  exited(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return Promise.resolve()
    return new Promise((resolve) => this.child.once('exit', () => resolve()))
  }
}

/**
 * A client subscribed to every thing's notify and notify-next that stops reading: what it is sent piles
 * up in the server (until the server cuts it off: docs/mqtt.md#limits).
 */
async function stalledReader(h: Harness): Promise<DeviceClient> {
  const client = await connectDevice(mqttUrlOf(h), { keepalive: 0 })
  await client.subscribe('$aws/things/+/jobs/notify', '$aws/things/+/jobs/notify-next')
  client.client.stream.pause()
  return client
}

/** The round and the leaving, on a server whose things are `${prefix}-0` … `${prefix}-9999`. */
async function storm(h: Harness, prefix: string, ending: 'disconnect' | 'SIGKILL'): Promise<void> {
  const { jobId } = await createJob(h.server.context, {
    jobId: unique('storm-job'),
    targets: Array.from({ length: DEVICES }, (_, i) => thingArnOf(thingNameOf(prefix, i))),
    document: '{"operation":"storm"}',
  })
  const broker = h.server.mqttBroker
  assert.ok(broker !== undefined, 'the embedded broker')
  const reader = await stalledReader(h)
  const fleet = new Fleet()
  try {
    const url = new URL(mqttUrlOf(h))
    fleet.send({
      kind: 'start',
      host: url.hostname,
      port: Number(url.port),
      prefix,
      count: DEVICES,
      jobId,
      window: 500,
      qos: 1,
    })
    const ready = await fleet.next('ready', ROUND_MS)
    assert.ok(ready.kind === 'ready')
    assert.deepEqual(
      { connected: ready.connected, succeeded: ready.succeeded, failed: ready.failed },
      { connected: DEVICES, succeeded: DEVICES, failed: 0 },
      `first error: ${ready.firstError ?? 'none'}`,
    )
    // All at once.
    if (ending === 'disconnect') fleet.send({ kind: 'disconnect' })
    else fleet.child.kill('SIGKILL')
    await fleet.exited()
    // Every device's leaving has been handled (the stalled reader may be gone too: it was cut off).
    await waitUntil(
      'the server to see every device leave',
      () => (broker.stats().connectedClients <= 1 ? true : undefined),
      LEAVE_MS,
    )
    // The stall ends (the reader leaves too): what it held back is released all at once.
    await reader.close()

    // Still serving: the control plane, and a device's request over MQTT.
    const { job } = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(job?.jobProcessDetails?.numberOfSucceededThings, DEVICES)
    const thingName = thingNameOf(prefix, 0)
    const device = await connectDevice(mqttUrlOf(h), { clientId: thingName })
    try {
      const pending = await device.accepted(jobsTopics(thingName).get)
      assert.deepEqual([pending['inProgressJobs'], pending['queuedJobs']], [[], []])
    } finally {
      await device.close()
    }
  } finally {
    if (fleet.child.exitCode === null && fleet.child.signalCode === null) fleet.child.kill('SIGKILL')
    await fleet.exited()
    await reader.close()
  }
}
