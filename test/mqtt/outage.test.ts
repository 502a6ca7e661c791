/**
 * The notification outbox survives what it was built for: (a) an outage of the external broker while
 * the server keeps changing executions, and (b) `kill -9` of the server while notifications are still
 * owed. Each test runs a broker of its own on a free port (never 1883, which belongs to the machine's
 * Mosquitto): an aedes instance in this process (its sessions survive a "stop", which only closes
 * the listener and drops connections), and, when the binary exists, a `mosquitto` child process with
 * persistence (its sessions survive a restart). Devices use persistent sessions (clean: false, QoS 1),
 * as a device that must not miss notifications while the broker restarts would.
 *
 * What "arrives" means here: the dispatcher publishes the current state of a thing's pending list when
 * it drains the outbox, so changes made during an outage reach the device as one notify (and one
 * notify-next) with the latest state, after the broker is back; the tests check that every thing that
 * changed hears about it, that the last message of each topic is the current state, and that nothing
 * older arrives after it. [spec: jobs-device-api#4] [ARCHITECTURE: outbox]
 */
import { CreateJobCommand, CreateThingCommand, IoTClient } from '@aws-sdk/client-iot'
import {
  GetPendingJobExecutionsCommand,
  IoTJobsDataPlaneClient,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import { Aedes } from 'aedes'
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import type { Server, Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { REGION, sdkCredentials, startHarness, thingArnOf, unique } from '../support/harness.js'
import { DOCUMENT, ManualClock } from '../support/device.js'
import type { Collector, DeviceClient } from '../support/mqtt.js'
import { WAIT_MS, connectDevice, jobsTopics, waitUntil } from '../support/mqtt.js'
import { dropSchemaFor, serveArgs } from '../support/store.js'
import { CLI } from '../support/cli.js'

/** The port the machine's Mosquitto owns; no broker of these tests may use it. */
const SHARED_MOSQUITTO_PORT = 1883
/** A server child process needs time to compile with tsx on a busy machine. */
const CHILD_START_MS = 60_000

const cleanups: (() => Promise<void> | void)[] = []
after(async () => {
  // A failed assertion must not leave a broker, a server or a directory behind.
  for (const cleanup of cleanups.reverse()) await cleanup()
})

function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

/** A port that was free a moment ago (and is not 1883). */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  await new Promise<void>((resolve) => server.close(() => resolve()))
  assert.ok(typeof address === 'object' && address !== null)
  assert.notEqual(address.port, SHARED_MOSQUITTO_PORT)
  return address.port
}

/** Whether something accepts TCP connections on the port. */
function accepting(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port })
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

/** A broker the test can take down and bring back on the same port. */
interface TestBroker {
  readonly kind: string
  readonly url: string
  start(): Promise<void>
  /** The outage: refuses connections and drops the open ones until `start`. */
  stop(): Promise<void>
}

/**
 * aedes in this process. By default one instance lives across stops, so sessions (and their queued
 * QoS 1 messages) survive like a broker with persistence; with `forgetSessions` every start is a new
 * instance, like a broker without persistence.
 */
class AedesTestBroker implements TestBroker {
  private server: Server | undefined
  private readonly sockets = new Set<Socket>()

  private constructor(
    private aedes: Aedes,
    private readonly port: number,
    private readonly forgetSessions: boolean,
  ) {}

  static async create(options: { forgetSessions?: boolean } = {}): Promise<AedesTestBroker> {
    const broker = new AedesTestBroker(
      await Aedes.createBroker(),
      await freePort(),
      options.forgetSessions === true,
    )
    cleanups.push(async () => {
      await broker.stop()
      await broker.closeAedes()
    })
    return broker
  }

  get kind(): string {
    return this.forgetSessions
      ? 'aedes in the test process, sessions lost on restart'
      : 'aedes in the test process'
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`
  }

  private closeAedes(): Promise<void> {
    return new Promise<void>((resolve) => this.aedes.close(() => resolve()))
  }

  async start(): Promise<void> {
    const server = createServer((socket) => {
      this.sockets.add(socket)
      socket.once('close', () => this.sockets.delete(socket))
      this.aedes.handle(socket)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => resolve())
    })
    this.server = server
  }

  async stop(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const socket of this.sockets) socket.destroy()
    await closed
    if (this.forgetSessions) {
      await this.closeAedes()
      this.aedes = await Aedes.createBroker()
    }
  }
}

/** A `mosquitto` child process with persistence in a temporary directory (kept across restarts). */
class MosquittoTestBroker implements TestBroker {
  readonly kind = 'a mosquitto child process'
  private child: ChildProcess | undefined
  private log = ''

  private constructor(
    private readonly config: string,
    private readonly port: number,
  ) {}

  static available(): boolean {
    try {
      execFileSync('which', ['mosquitto'], { stdio: 'ignore' })
      return true
    } catch {
      // `which` exits non-zero when the binary is missing: then only the aedes broker runs.
      return false
    }
  }

  static async create(): Promise<MosquittoTestBroker> {
    const dir = tempDir('fleetjobs-mosquitto-')
    const port = await freePort()
    const config = join(dir, 'mosquitto.conf')
    writeFileSync(
      config,
      [
        `listener ${port} 127.0.0.1`,
        'allow_anonymous true',
        'persistence true',
        `persistence_location ${dir}/`,
        'log_dest stderr',
        '',
      ].join('\n'),
    )
    const broker = new MosquittoTestBroker(config, port)
    cleanups.push(() => broker.stop())
    return broker
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`
  }

  async start(): Promise<void> {
    const child = spawn('mosquitto', ['-c', this.config], { stdio: ['ignore', 'ignore', 'pipe'] })
    child.stderr?.on('data', (chunk: Buffer) => (this.log += chunk.toString()))
    this.child = child
    await waitUntil(
      `mosquitto to listen on ${this.port} (log: ${this.log})`,
      async () => (child.exitCode === null && (await accepting(this.port)) ? true : undefined),
      WAIT_MS,
    )
  }

  async stop(): Promise<void> {
    const child = this.child
    this.child = undefined
    if (child === undefined || child.exitCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    // SIGTERM: mosquitto saves its persistence file (sessions and queued messages) and exits.
    child.kill('SIGTERM')
    await exited
  }
}

function brokers(): (() => Promise<TestBroker>)[] {
  return [
    () => AedesTestBroker.create(),
    ...(MosquittoTestBroker.available() ? [() => MosquittoTestBroker.create()] : []),
  ]
}

/** A device with a persistent session that rides out broker restarts. */
async function persistentDevice(url: string): Promise<DeviceClient> {
  const device = await connectDevice(url, { clientId: unique('device'), clean: false, reconnectPeriod: 100 })
  cleanups.push(() => device.close())
  return device
}

interface Watched {
  readonly thingName: string
  readonly notify: Collector
  readonly next: Collector
}

async function watch(device: DeviceClient, thingName: string): Promise<Watched> {
  const t = jobsTopics(thingName)
  return { thingName, notify: await device.collect(t.notify), next: await device.collect(t.notifyNext) }
}

/** The pending list as notify shows it (`jobId:STATUS`, IN_PROGRESS first) and the first job. */
async function pendingNow(
  data: IoTJobsDataPlaneClient,
  thingName: string,
): Promise<{ list: string[]; first?: string }> {
  const out = await data.send(new GetPendingJobExecutionsCommand({ thingName }))
  const list = [
    ...(out.inProgressJobs ?? []).map((s) => `${String(s.jobId)}:IN_PROGRESS`),
    ...(out.queuedJobs ?? []).map((s) => `${String(s.jobId)}:QUEUED`),
  ]
  const first = list[0]?.split(':')[0]
  return first === undefined ? { list } : { list, first }
}

const listOf = (payload: Record<string, unknown>): string[] =>
  Object.entries((payload['jobs'] ?? {}) as Record<string, { jobId: string }[]>)
    .sort(([a], [b]) => (a === 'IN_PROGRESS' ? -1 : b === 'IN_PROGRESS' ? 1 : 0))
    .flatMap(([status, list]) => list.map((s) => `${s.jobId}:${status}`))

const nextOf = (payload: Record<string, unknown>): string | undefined =>
  (payload['execution'] as { jobId?: string } | undefined)?.jobId

/**
 * Waits until the last notify and notify-next of the thing show its current pending list and first
 * execution, and checks that every message received from index `from` on shows a list that was true
 * at some point after the outage began (nothing older than `allowed`).
 */
async function assertCaughtUp(
  data: IoTJobsDataPlaneClient,
  w: Watched,
  from: { notify: number; next: number },
): Promise<void> {
  const now = await pendingNow(data, w.thingName)
  await w.notify.waitFor(
    `notify with ${JSON.stringify(now.list)} for ${w.thingName}`,
    (m) => JSON.stringify(listOf(m.json)) === JSON.stringify(now.list),
    { from: from.notify },
  )
  await w.next.waitFor(
    `notify-next with ${String(now.first)} for ${w.thingName}`,
    (m) => nextOf(m.json) === now.first,
    { from: from.next },
  )
  // In order: whatever came after the current state is the current state again (at least once).
  const notifies = w.notify.messages.slice(from.notify)
  const lastNotify = notifies[notifies.length - 1]
  assert.deepEqual(
    lastNotify === undefined ? undefined : listOf(lastNotify.json),
    now.list,
    w.notify.describe(),
  )
  const nexts = w.next.messages.slice(from.next)
  assert.equal(
    nexts.length > 0 ? nextOf(nexts[nexts.length - 1]!.json) : 'none',
    now.first,
    w.next.describe(),
  )
}

describe('The outbox across a broker outage [spec: jobs-device-api#4] [ARCHITECTURE: outbox]', () => {
  for (const create of brokers()) {
    it('changes made while the external broker is down are notified once it is back; requests are served again', async (t) => {
      const broker = await create()
      t.diagnostic(`broker: ${broker.kind} at ${broker.url}`)
      await broker.start()
      const clock = new ManualClock()
      const h: Harness = await startHarness({ clock, mqtt: { port: 0, url: broker.url } })
      cleanups.push(() => h.close())
      const device = await persistentDevice(broker.url)

      const [a, b, c] = [unique('thing'), unique('thing'), unique('thing')]
      for (const thingName of [a, b, c]) await h.iot.send(new CreateThingCommand({ thingName }))
      const wa = await watch(device, a)
      const wb = await watch(device, b)
      const wc = await watch(device, c)
      const job = async (things: string[]) => {
        const jobId = unique('job')
        await h.iot.send(new CreateJobCommand({ jobId, document: DOCUMENT, targets: things.map(thingArnOf) }))
        return jobId
      }
      const update = (thingName: string, jobId: string, status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED') =>
        h.data.send(new UpdateJobExecutionCommand({ thingName, jobId, status }))

      // Before the outage the path works.
      const j1 = await job([a, b])
      await wa.next.waitFor('notify-next before the outage', (m) => nextOf(m.json) === j1)
      await wb.next.waitFor('notify-next before the outage', (m) => nextOf(m.json) === j1)
      await h.server.workers.notifications?.idle()
      const from = (w: Watched) => ({ notify: w.notify.messages.length, next: w.next.messages.length })
      const marks = { a: from(wa), b: from(wb), c: from(wc) }

      await broker.stop()
      await waitUntil('the device to notice the outage', () => (device.client.connected ? undefined : true))
      // Several changes per thing while nothing can be published.
      const j2 = await job([a, b, c])
      await update(a, j1, 'IN_PROGRESS')
      await update(a, j1, 'SUCCEEDED')
      await update(b, j2, 'IN_PROGRESS')
      const j3 = await job([c])
      await update(c, j2, 'FAILED')
      await waitUntil('the outbox to hold the unpublished rows', async () =>
        (await h.server.context.store.readOutbox(1)).length > 0 ? true : undefined,
      )

      await broker.start()
      await assertCaughtUp(h.data, wa, marks.a)
      await assertCaughtUp(h.data, wb, marks.b)
      await assertCaughtUp(h.data, wc, marks.c)
      assert.deepEqual((await pendingNow(h.data, a)).list, [`${j2}:QUEUED`])
      assert.deepEqual((await pendingNow(h.data, b)).list, [`${j2}:IN_PROGRESS`, `${j1}:QUEUED`])
      assert.deepEqual((await pendingNow(h.data, c)).list, [`${j3}:QUEUED`])
      await waitUntil('the outbox to be empty', async () =>
        (await h.server.context.store.readOutbox(1)).length === 0 ? true : undefined,
      )
      // The server's request subscription came back with the broker.
      const reply = await device.accepted(jobsTopics(c).describe('$next'))
      assert.equal(nextOf(reply), j3)
    })
  }
})

describe('A broker that restarts without its sessions [spec: jobs-device-api#2.1]', () => {
  it('the server subscribes again: requests are answered and notifications published after the restart', async (t) => {
    const broker = await AedesTestBroker.create({ forgetSessions: true })
    t.diagnostic(`broker: ${broker.kind} at ${broker.url}`)
    await broker.start()
    const h: Harness = await startHarness({ clock: new ManualClock(), mqtt: { port: 0, url: broker.url } })
    cleanups.push(() => h.close())
    // A clean session: mqtt.js subscribes again by itself when the broker has no session.
    const device = await connectDevice(broker.url, { reconnectPeriod: 100 })
    cleanups.push(() => device.close())
    const thingName = unique('thing')
    await h.iot.send(new CreateThingCommand({ thingName }))
    const topics = jobsTopics(thingName)
    await device.accepted(topics.get)

    await broker.stop()
    await waitUntil('the device to notice the outage', () => (device.client.connected ? undefined : true))
    await broker.start()
    await waitUntil('the device to reconnect', () => (device.client.connected ? true : undefined))
    // Until the server has reconnected and subscribed again a request goes unheard; ask until answered.
    const reply = await waitUntil('the server to answer …/jobs/get again', async () => {
      try {
        return await device.accepted(topics.get, {}, { timeoutMs: 500 })
      } catch (error) {
        if (String(error).includes('timed out')) return undefined
        throw error
      }
    })
    assert.deepEqual(reply['queuedJobs'], [])
    const w = await watch(device, thingName)
    const jobId = unique('job')
    await h.iot.send(new CreateJobCommand({ jobId, document: DOCUMENT, targets: [thingArnOf(thingName)] }))
    await w.next.waitFor('notify-next after the restart', (m) => nextOf(m.json) === jobId)
  })
})

/** A `fleetjobs serve` child process with its URLs. */
interface ServeChild {
  readonly child: ChildProcess
  readonly iot: IoTClient
  readonly data: IoTJobsDataPlaneClient
  stderr(): string
}

async function serve(dataDir: string, mqttUrl: string): Promise<ServeChild> {
  // Registered before the process's kill, so it runs after it (cleanups run in reverse).
  cleanups.push(() => dropSchemaFor(dataDir))
  const child = spawn(
    process.execPath,
    [
      ...CLI,
      'serve',
      '--port',
      '0',
      '--data-plane-port',
      '0',
      '--mqtt-url',
      mqttUrl,
      '--data-dir',
      dataDir,
      ...serveArgs(dataDir),
    ],
    { env: { ...process.env, FLEETJOBS_LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  cleanups.push(() => {
    // Only the process this test started, by its PID.
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  const urls = await waitUntil(
    `fleetjobs serve (pid ${String(child.pid)}) to print its URLs; stdout: ${stdout} stderr: ${stderr}`,
    () => {
      if (child.exitCode !== null) throw new Error(`fleetjobs serve exited with ${child.exitCode}: ${stderr}`)
      const cp = /control plane \(iot\):\s+(http:\/\/\S+)/.exec(stdout)?.[1]
      const dp = /device data plane \(iot-jobs-data\):\s+(http:\/\/\S+)/.exec(stdout)?.[1]
      return cp !== undefined && dp !== undefined && stdout.includes('MQTT (external broker)')
        ? { cp, dp }
        : undefined
    },
    CHILD_START_MS,
  )
  const iot = new IoTClient({
    region: REGION,
    endpoint: urls.cp,
    credentials: sdkCredentials,
    maxAttempts: 1,
  })
  const data = new IoTJobsDataPlaneClient({
    region: REGION,
    endpoint: urls.dp,
    credentials: sdkCredentials,
    maxAttempts: 1,
  })
  cleanups.push(() => {
    iot.destroy()
    data.destroy()
  })
  return { child, iot, data, stderr: () => stderr }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  if (child.exitCode !== null || child.signalCode !== null)
    return Promise.resolve({ code: child.exitCode, signal: child.signalCode })
  return new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
}

describe('The outbox across kill -9 of the server [spec: jobs-device-api#4] [ARCHITECTURE: outbox]', () => {
  const all = brokers()
  // One real separate broker is enough here: mosquitto when it exists, else aedes.
  const create = all[all.length - 1]!
  it('notifications owed when the process was killed are published by the next process on the same data dir', async (t) => {
    const broker = await create()
    t.diagnostic(`broker: ${broker.kind} at ${broker.url}`)
    await broker.start()
    const dataDir = tempDir('fleetjobs-kill9-')
    const first = await serve(dataDir, broker.url)
    const device = await persistentDevice(broker.url)
    const thingName = unique('thing')
    await first.iot.send(new CreateThingCommand({ thingName }))
    const w = await watch(device, thingName)
    const j1 = unique('job')
    await first.iot.send(
      new CreateJobCommand({ jobId: j1, document: DOCUMENT, targets: [thingArnOf(thingName)] }),
    )
    await w.next.waitFor('notify-next from the first process', (m) => nextOf(m.json) === j1)
    await w.notify.waitFor('notify from the first process', () => true)
    const marks = { notify: w.notify.messages.length, next: w.next.messages.length }

    await broker.stop()
    await waitUntil('the device to notice the outage', () => (device.client.connected ? undefined : true))
    const j2 = unique('job')
    await first.iot.send(
      new CreateJobCommand({ jobId: j2, document: DOCUMENT, targets: [thingArnOf(thingName)] }),
    )
    await first.data.send(new UpdateJobExecutionCommand({ thingName, jobId: j1, status: 'SUCCEEDED' }))
    const killed = exitOf(first.child)
    assert.ok(first.child.pid !== undefined)
    process.kill(first.child.pid, 'SIGKILL')
    assert.deepEqual(await killed, { code: null, signal: 'SIGKILL' })

    await broker.start()
    await waitUntil('the device to reconnect', () => (device.client.connected ? true : undefined))
    assert.equal(w.notify.messages.length, marks.notify, 'nothing was published after the first notify')
    const second = await serve(dataDir, broker.url)
    const now = await pendingNow(second.data, thingName)
    assert.deepEqual(now, { list: [`${j2}:QUEUED`], first: j2 })
    await assertCaughtUp(second.data, w, marks).catch((error: unknown) => {
      throw new Error(`${String(error)}\nserver stderr:\n${second.stderr()}`)
    })
    const exited = exitOf(second.child)
    second.child.kill('SIGTERM')
    assert.equal((await exited).code, 0)
  })
})
