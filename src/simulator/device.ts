/**
 * One simulated device: an `mqtt` client (MQTT 3.1.1, client id = thing name, as the AWS device SDKs
 * connect) that runs the Jobs device API as a real device does:
 *
 *   subscribe  …/jobs/notify-next, …/jobs/start-next/+, …/jobs/+/update/+   (before any request)
 *   start-next → an execution, now IN_PROGRESS                               (or none: wait for notify-next)
 *   …/jobs/{jobId}/update IN_PROGRESS {"step": "i/N"}, N times, spread over the drawn duration
 *   …/jobs/{jobId}/update SUCCEEDED | FAILED | REJECTED, then start-next again for the next job
 *
 * Every update carries `expectedVersion` (the version the last accepted reply gave) and the execution
 * number. A crash closes the socket without DISCONNECT and the device stays down, so the service's
 * in-progress timeout and retries show. [spec: jobs-device-api#2] [spec: jobs-device-api#4.2]
 */
import mqtt from 'mqtt'
import type { IClientOptions, MqttClient } from 'mqtt'
import { notifyNextTopic } from '../mqtt/topics.js'
import type { DeviceCredentials } from './fleet.js'
import type { PlanOptions, Random } from './rules.js'
import { deviceRandom, finalDetails, planJob, stepDetails } from './rules.js'

/** What a device counts; the fleet adds them up. */
export interface DeviceCounters {
  /** Executions the device started (start-next answered with one). */
  readonly jobsReceived: number
  readonly succeeded: number
  readonly failed: number
  readonly rejected: number
  /** Jobs during which the device crashed (it stays down afterwards). */
  readonly crashed: number
  /**
   * Jobs the service ended under the device: canceled, timed out, removed or deleted while it worked,
   * so its next update was refused (InvalidStateTransition, ResourceNotFound, or VersionMismatch on a
   * terminal execution).
   */
  readonly canceledUnderIt: number
  /** Jobs given up after an unexpected answer or none (see `errors`). */
  readonly abandoned: number
  /** Jobs under way when the fleet was stopped (left IN_PROGRESS on the service). */
  readonly interrupted: number
  /** Unexpected events: a request refused for another reason, no reply in time, a client error. */
  readonly errors: number
  /** Connections lost after they were up (not crashes); the device reconnects. */
  readonly connectionsLost: number
  /** The first unexpected event, for the summary. */
  readonly firstError?: string
}

export interface DeviceSetup {
  readonly thingName: string
  readonly mqttUrl: string
  readonly credentials: DeviceCredentials
  readonly seed: number
  readonly plan: PlanOptions
  /** Called after every change of the counters or of the device's state. */
  readonly changed: () => void
}

/** mqtt.js's default connect timeout; a device that has no CONNACK by then failed to connect. */
const CONNECT_TIMEOUT_MS = 30_000
/** How long a request waits for its reply before the device gives up on it (an error). */
const REPLY_TIMEOUT_MS = 30_000
/** mqtt.js's default reconnect period, used once a device has been up. */
const RECONNECT_PERIOD_MS = 1_000
/** How long the stop waits for a clean DISCONNECT before it closes the socket. */
const STOP_TIMEOUT_MS = 5_000
/** RequestThrottled: retried this many times, waiting 200 ms, 400 ms, … in between. */
const THROTTLE_RETRIES = 5
const THROTTLE_BACKOFF_MS = 200

const PENDING = new Set(['QUEUED', 'IN_PROGRESS'])

type Reply =
  | { readonly outcome: 'accepted' | 'rejected'; readonly payload: Record<string, unknown> }
  | { readonly outcome: 'timeout' | 'stopped' }

/** The members of an MQTT `execution` the device uses. [spec: jobs-device-api#2.3] */
interface Execution {
  readonly jobId: string
  readonly versionNumber: number
  readonly executionNumber?: number
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] }

function asObject(value: unknown): Record<string, unknown> | undefined {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined
}

function asExecution(value: unknown): Execution | undefined {
  const e = asObject(value)
  if (e === undefined || typeof e['jobId'] !== 'string' || typeof e['versionNumber'] !== 'number')
    return undefined
  return {
    jobId: e['jobId'],
    versionNumber: e['versionNumber'],
    ...(typeof e['executionNumber'] === 'number' ? { executionNumber: e['executionNumber'] } : {}),
  }
}

type UpdateResult =
  { readonly kind: 'ok'; readonly version: number } | { readonly kind: 'ended' | 'abandoned' | 'stopped' }

export class SimulatedDevice {
  readonly thingName: string
  readonly counters: Mutable<Omit<DeviceCounters, 'firstError'>> = {
    jobsReceived: 0,
    succeeded: 0,
    failed: 0,
    rejected: 0,
    crashed: 0,
    canceledUnderIt: 0,
    abandoned: 0,
    interrupted: 0,
    errors: 0,
    connectionsLost: 0,
  }
  firstError: string | undefined
  /** Why the device never connected, if it did not. */
  connectError: string | undefined
  connected = false
  /** Working on a job (from start-next's answer to the final update, a crash or the stop). */
  working = false
  /** Asking for a job or working on one: the pick-up loop runs (one at a time). */
  busy = false

  private state: 'new' | 'up' | 'crashed' | 'stopped' = 'new'
  private client: MqttClient | undefined
  private readonly random: Random
  private readonly base: string
  private tokens = 0
  private readonly replies = new Map<string, (reply: Reply) => void>()
  /** Sleeps under way, woken early (with false) by a crash or the stop. */
  private readonly sleeps = new Set<() => void>()
  private recheck = false

  constructor(private readonly setup: DeviceSetup) {
    this.thingName = setup.thingName
    this.random = deviceRandom(setup.seed, setup.thingName)
    this.base = `$aws/things/${setup.thingName}/jobs`
  }

  /** Connects and subscribes; a failure is recorded in `connectError`, never thrown. */
  async start(): Promise<void> {
    if (this.state !== 'new') return
    const { username, password, key, cert, ca } = this.setup.credentials
    const options: IClientOptions = {
      clientId: this.thingName,
      protocolVersion: 4,
      clean: true,
      // No retries while connecting: a device that cannot connect is a finding, reported as such.
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
      ...(username === undefined ? {} : { username }),
      ...(password === undefined ? {} : { password }),
      ...(key === undefined ? {} : { key }),
      ...(cert === undefined ? {} : { cert }),
      ...(ca === undefined ? {} : { ca }),
    }
    let client: MqttClient
    try {
      client = mqtt.connect(this.setup.mqttUrl, options)
    } catch (error) {
      this.failConnect(error)
      return
    }
    this.client = client
    client.on('message', (topic, payload) => this.onMessage(topic, payload))
    // Always listened to (an 'error' without a listener would throw). While connecting, the wait below
    // reports it; after a crash or the stop, what the closing client says (a write after the end) is no
    // finding.
    client.on('error', (error) => {
      // Failed reconnect attempts are not counted one by one: `connectionsLost` and `connected` show them.
      if (this.alive && this.connected) this.error(`MQTT: ${error.message}`)
    })
    try {
      await new Promise<void>((resolve, reject) => {
        const done = (error?: Error): void => {
          clearTimeout(timer)
          client.off('connect', onConnect)
          client.off('error', onError)
          client.off('close', onClose)
          if (error === undefined) resolve()
          else reject(error)
        }
        const onConnect = (): void => done()
        const onError = (error: Error): void => done(error)
        const onClose = (): void => done(new Error('the connection closed before the CONNACK'))
        const timer = setTimeout(
          () => done(new Error(`no CONNACK within ${CONNECT_TIMEOUT_MS / 1000} s`)),
          CONNECT_TIMEOUT_MS,
        )
        client.on('connect', onConnect)
        client.on('error', onError)
        client.on('close', onClose)
      })
      // Subscribed before the first request, as the AWS device SDKs do: a self-hosted broker delivers
      // replies only to subscribers. [spec: jobs-device-api#2.1]
      const granted = await client.subscribeAsync(
        [notifyNextTopic(this.thingName, undefined), `${this.base}/start-next/+`, `${this.base}/+/update/+`],
        { qos: 1 },
      )
      // 0x80 and above: refused (MQTT 3.1.1 SUBACK failure).
      const refused = granted.find((g) => g.qos >= 128)
      if (refused !== undefined) throw new Error(`the broker refused the subscription to ${refused.topic}`)
    } catch (error) {
      client.end(true)
      this.failConnect(error)
      return
    }
    if (this.state !== 'new') {
      // Stopped while connecting.
      client.end(true)
      return
    }
    this.state = 'up'
    this.connected = true
    client.options.reconnectPeriod = RECONNECT_PERIOD_MS
    client.on('close', () => {
      if (!this.connected) return
      this.connected = false
      if (this.state === 'up') this.counters.connectionsLost += 1
      this.setup.changed()
    })
    // A reconnect: the session is clean, mqtt.js subscribes again; jobs may have come meanwhile.
    client.on('connect', () => {
      if (this.state !== 'up' || this.connected) return
      this.connected = true
      this.setup.changed()
      void this.pickUp()
    })
    this.setup.changed()
    void this.pickUp()
  }

  /** Disconnects cleanly (DISCONNECT) if up; a job under way stays as the service has it. */
  async stop(): Promise<void> {
    const client = this.client
    const wasUp = this.state === 'up'
    if (this.state !== 'crashed') this.state = 'stopped'
    this.wake()
    if (client === undefined || !wasUp) return
    this.connected = false
    // A DISCONNECT the broker never takes (a dead peer) does not hold the stop up: the socket goes.
    let timer: NodeJS.Timeout | undefined
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        client.stream.destroy()
        resolve()
      }, STOP_TIMEOUT_MS)
    })
    await Promise.race([client.endAsync(!client.connected), late])
    clearTimeout(timer)
  }

  private failConnect(error: unknown): void {
    this.connectError = error instanceof Error ? error.message : String(error)
    this.setup.changed()
  }

  private error(message: string): void {
    this.counters.errors += 1
    this.firstError ??= `${this.thingName}: ${message}`
    this.setup.changed()
  }

  private get alive(): boolean {
    return this.state === 'up'
  }

  /** Ends every sleep and every wait for a reply at once. */
  private wake(): void {
    for (const resolve of this.replies.values()) resolve({ outcome: 'stopped' })
    this.replies.clear()
    for (const wake of this.sleeps) wake()
    this.sleeps.clear()
  }

  /** Resolves true after `ms`, or false as soon as the device crashes or stops. */
  private sleep(ms: number): Promise<boolean> {
    if (!this.alive) return Promise.resolve(false)
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer)
        resolve(false)
      }
      const timer = setTimeout(() => {
        this.sleeps.delete(wake)
        resolve(this.alive)
      }, ms)
      this.sleeps.add(wake)
    })
  }

  private onMessage(topic: string, payload: Buffer): void {
    let body: Record<string, unknown> | undefined
    try {
      body = asObject(JSON.parse(payload.toString('utf8')))
    } catch {
      // Handled below as a message that is not a JSON object.
    }
    if (body === undefined) {
      this.error(`a message on ${topic} is not a JSON object`)
      return
    }
    if (topic === notifyNextTopic(this.thingName, undefined)) {
      // A new first pending execution: pick it up unless busy (then it is looked at after the job).
      if (asExecution(body['execution']) !== undefined) void this.pickUp()
      return
    }
    const outcome = topic.endsWith('/accepted')
      ? 'accepted'
      : topic.endsWith('/rejected')
        ? 'rejected'
        : undefined
    const token = body['clientToken']
    if (outcome === undefined || typeof token !== 'string') return
    const resolve = this.replies.get(token)
    this.replies.delete(token)
    resolve?.({ outcome, payload: body })
  }

  /** Publishes a request (QoS 1) with a clientToken of its own and waits for the reply that echoes it. */
  private request(topic: string, body: Record<string, unknown>): Promise<Reply> {
    const client = this.client
    if (client === undefined || !this.alive) return Promise.resolve({ outcome: 'stopped' })
    this.tokens += 1
    const clientToken = `sim-${this.tokens}`
    return new Promise<Reply>((resolve) => {
      const timer = setTimeout(() => {
        this.replies.delete(clientToken)
        resolve({ outcome: 'timeout' })
      }, REPLY_TIMEOUT_MS)
      this.replies.set(clientToken, (reply) => {
        clearTimeout(timer)
        resolve(reply)
      })
      // A failed publish leaves the wait to time out: the reply cannot come.
      client.publish(topic, JSON.stringify({ ...body, clientToken }), { qos: 1 }, (error) => {
        if (error !== undefined && error !== null && this.alive)
          this.error(`publish to ${topic}: ${error.message}`)
      })
    })
  }

  /** A request, retried with a growing wait while the service answers RequestThrottled. */
  private async requestRetrying(topic: string, body: Record<string, unknown>): Promise<Reply> {
    for (let attempt = 0; ; attempt += 1) {
      const reply = await this.request(topic, body)
      if (
        reply.outcome !== 'rejected' ||
        reply.payload['code'] !== 'RequestThrottled' ||
        attempt === THROTTLE_RETRIES
      )
        return reply
      if (!(await this.sleep(THROTTLE_BACKOFF_MS * 2 ** attempt))) return { outcome: 'stopped' }
    }
  }

  /**
   * Asks for the next job with start-next until there is none; one run at a time (a notify-next while
   * it runs makes it ask once more at the end, so a job queued meanwhile is not missed).
   */
  private async pickUp(): Promise<void> {
    if (this.busy) {
      this.recheck = true
      return
    }
    this.busy = true
    this.setup.changed()
    try {
      do {
        this.recheck = false
        if (!this.alive) return
        const steps = this.setup.plan.progressSteps
        const reply = await this.requestRetrying(`${this.base}/start-next`, {
          ...(steps === 0 ? {} : { statusDetails: stepDetails(0, steps) }),
        })
        if (reply.outcome === 'stopped') return
        if (reply.outcome !== 'accepted') {
          this.error(describeFailure('start-next', reply))
          continue
        }
        const execution = asExecution(reply.payload['execution'])
        if (execution === undefined) continue
        await this.work(execution)
        // The next job, if any: the notify-next that follows a final update may come before or after it.
        this.recheck = true
      } while (this.recheck)
    } finally {
      this.busy = false
      this.setup.changed()
    }
  }

  /** Runs one execution to its planned end. */
  private async work(execution: Execution): Promise<void> {
    this.working = true
    this.counters.jobsReceived += 1
    this.setup.changed()
    const plan = planJob(this.random, this.setup.plan)
    const steps = this.setup.plan.progressSteps
    let version = execution.versionNumber
    try {
      if (plan.outcome !== 'REJECTED') {
        for (let done = 0; done <= steps; done += 1) {
          const slept = await this.sleep(plan.delaysMs[done] ?? 0)
          if (!slept) {
            if (this.state === 'stopped') this.counters.interrupted += 1
            return
          }
          if (plan.outcome === 'CRASH' && done === plan.crashAfterUpdates) {
            this.crash()
            return
          }
          if (done === steps) break
          const result = await this.update(execution, version, 'IN_PROGRESS', stepDetails(done + 1, steps))
          if (result.kind !== 'ok') return
          version = result.version
        }
      }
      // (A crash has happened in the loop: its point is at most `steps`.)
      const outcome = plan.outcome
      if (outcome === 'CRASH') return
      const result = await this.update(execution, version, outcome, finalDetails(outcome, steps))
      if (result.kind !== 'ok') return
      if (outcome === 'SUCCEEDED') this.counters.succeeded += 1
      else if (outcome === 'FAILED') this.counters.failed += 1
      else this.counters.rejected += 1
    } finally {
      this.working = false
      this.setup.changed()
    }
  }

  /**
   * One UpdateJobExecution with `expectedVersion`; counts how a job ended under the device.
   * [spec: jobs-device-api#1.5] [spec: jobs-device-api#2.4]
   */
  private async update(
    execution: Execution,
    expectedVersion: number,
    status: 'IN_PROGRESS' | 'SUCCEEDED' | 'FAILED' | 'REJECTED',
    statusDetails: Record<string, string>,
  ): Promise<UpdateResult> {
    const topic = `${this.base}/${execution.jobId}/update`
    let version = expectedVersion
    // A VersionMismatch on an execution still pending is retried once with the service's version.
    for (let attempt = 0; attempt < 2; attempt += 1) {
      const reply = await this.requestRetrying(topic, {
        status,
        statusDetails,
        expectedVersion: version,
        ...(execution.executionNumber === undefined ? {} : { executionNumber: execution.executionNumber }),
        includeJobExecutionState: true,
      })
      if (reply.outcome === 'stopped') {
        if (this.state === 'stopped') this.counters.interrupted += 1
        return { kind: 'stopped' }
      }
      if (reply.outcome === 'accepted') {
        const state = asObject(reply.payload['executionState'])
        const next = state?.['versionNumber']
        return { kind: 'ok', version: typeof next === 'number' ? next : version + 1 }
      }
      if (reply.outcome === 'rejected') {
        const code = reply.payload['code']
        const state = asObject(reply.payload['executionState'])
        const current = state?.['status']
        const gone =
          code === 'InvalidStateTransition' ||
          code === 'ResourceNotFound' ||
          (code === 'VersionMismatch' && typeof current === 'string' && !PENDING.has(current))
        if (gone) {
          this.counters.canceledUnderIt += 1
          return { kind: 'ended' }
        }
        const serviceVersion = state?.['versionNumber']
        if (code === 'VersionMismatch' && typeof serviceVersion === 'number' && attempt === 0) {
          version = serviceVersion
          continue
        }
      }
      this.error(describeFailure(`update ${execution.jobId} to ${status}`, reply))
      break
    }
    this.counters.abandoned += 1
    return { kind: 'abandoned' }
  }

  /** The socket ends without DISCONNECT and the device stays down for the rest of the run. */
  private crash(): void {
    this.state = 'crashed'
    this.connected = false
    this.counters.crashed += 1
    this.wake()
    this.client?.end(true)
    this.setup.changed()
  }
}

function describeFailure(what: string, reply: Reply): string {
  if (reply.outcome === 'timeout') return `${what}: no reply within ${REPLY_TIMEOUT_MS / 1000} s`
  if (reply.outcome === 'rejected') {
    const { code, message } = reply.payload
    return `${what} rejected: ${typeof code === 'string' ? code : '(no code)'}${typeof message === 'string' ? ` ${message}` : ''}`
  }
  return `${what}: ${reply.outcome}`
}
