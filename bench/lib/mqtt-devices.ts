/**
 * Simulated devices of the MQTT family, each a real `mqtt` npm client with a connection of its own,
 * run inside a load-generator child (`bench/serve/mqtt-devices.ts`). A device subscribes to its
 * `notify-next` and the reply topics it needs before anything else happens, then on the notification
 * of a job runs the AWS device flow, one request at a time, each waiting for its `/accepted`:
 *
 *   notify-next (with an execution) → jobs/get → jobs/start-next → jobs/{jobId}/update SUCCEEDED
 *
 * Any `/rejected` (or a reply without the execution it needs) fails the device. The devices speak
 * MQTT 3.1.1 or MQTT 5 (`protocolVersion`; replies come on the same topics either way), over TCP or
 * over mutual TLS (`tls`: one client certificate and key for all, one secure context). Times are epoch
 * milliseconds (`performance.timeOrigin + performance.now()`), comparable across the bench's processes.
 * [spec: jobs-device-api#2] [spec: jobs-device-api#4.2]
 */
import { createSecureContext } from 'node:tls'
import type { SecureContext, TLSSocket } from 'node:tls'
import mqtt from 'mqtt'
import type { IClientOptions, MqttClient } from 'mqtt'

/** Digits of the number in a device's thing name (`mqtt-000042`), as `seedGroupMembers` writes them. */
const NAME_WIDTH = 6
/** Seconds; long enough that no PINGREQ is due during a run (AWS allows 30–1200). */
const KEEPALIVE_S = 1200
/** How long closing all clients may take before the child exits anyway. */
const CLOSE_WAIT_MS = 10_000

/** The id of the job every device runs, at fleetjobs and in the aedes baseline's canned answers. */
export const MQTT_JOB_ID = 'bench-mqtt'

/** The aedes baseline's stand-in for CreateJob: `notify-next` to `prefix-000000` … `prefix-<count-1>`. */
export interface NotifyAllArgs {
  readonly prefix: string
  readonly count: number
}

/** The aedes baseline's stand-in for the latency probe's CreateJob: one `notify-next` naming `jobId`. */
export interface NotifyOneArgs {
  readonly thingName: string
  readonly jobId: string
}

export function deviceName(prefix: string, index: number): string {
  return `${prefix}-${String(index).padStart(NAME_WIDTH, '0')}`
}

export const epochMs = (): number => performance.timeOrigin + performance.now()

/** The topic filters a device subscribes to, in one SUBSCRIBE (reply wildcards as the v2 SDKs use). */
export function deviceFilters(thingName: string): string[] {
  const base = `$aws/things/${thingName}/jobs`
  return [`${base}/notify-next`, `${base}/get/+`, `${base}/start-next/+`, `${base}/+/update/+`]
}

/**
 * Mutual TLS for every device of a load process: the CA it trusts and the client certificate and key
 * it presents (PEM). All devices share one certificate (AWS allows one on many things).
 */
export interface DeviceTls {
  readonly caPem: string
  readonly certPem: string
  readonly keyPem: string
  /** The name the server certificate must carry (SNI and the host-name check). */
  readonly servername: string
}

export interface ConnectArgs {
  /** `mqtt://127.0.0.1:<port>`, or `mqtts://…` with `tls`. */
  readonly url: string
  /** MQTT 3.1.1 (4) or MQTT 5 (5). */
  readonly protocolVersion: 4 | 5
  /** With a `mqtts://` URL: the devices' certificate, key and trusted CA. */
  readonly tls?: DeviceTls | undefined
  readonly prefix: string
  /** This child's devices: `prefix-<from>` … `prefix-<from + count - 1>`. */
  readonly from: number
  readonly count: number
  /** Connections being opened (CONNECT … SUBACK) at a time by this child. */
  readonly window: number
  /** QoS of the subscriptions and of every request. */
  readonly qos: 0 | 1
  /** Hard limit for the whole connect phase, and for each connection. */
  readonly timeoutMs: number
}

export interface ConnectResult {
  /** When the first connection was opened / the last SUBACK arrived (epoch ms). */
  readonly startedAt: number
  readonly doneAt: number
  readonly connected: number
  readonly failed: number
  readonly firstError: string | null
  /** This child's resident set size with every device connected (bytes). */
  readonly rss: number
  /** TLS connections that resumed a session instead of a full handshake (0: each paid for one). */
  readonly tlsResumed: number
}

export interface FinishArgs {
  /** How long to wait for every device to finish (SUCCEEDED accepted, or failed). */
  readonly timeoutMs: number
}

export interface FinishResult {
  readonly succeeded: number
  readonly failed: number
  /** Devices that had not finished when the wait ended. */
  readonly unfinished: number
  readonly firstError: string | null
  /** First and last `notify-next` that started a device's flow (epoch ms; 0 when none). */
  readonly firstNotifiedAt: number
  readonly lastNotifiedAt: number
  /** The last `/update/accepted` (epoch ms; 0 when none). */
  readonly lastDoneAt: number
  /** Per succeeded device: milliseconds from its notification to its update's acceptance. */
  readonly flowMs: readonly number[]
}

type State = 'waiting' | 'get' | 'start-next' | 'update' | 'done' | 'failed'

class Device {
  state: State = 'waiting'
  notifiedAt = 0
  doneAt = 0
  readonly base: string
  readonly clientToken: string

  constructor(
    readonly thingName: string,
    readonly client: MqttClient,
  ) {
    this.base = `$aws/things/${thingName}/jobs`
    this.clientToken = `${thingName}-bench`
  }
}

export class DeviceFleet {
  private readonly devices: Device[] = []
  private qos: 0 | 1 = 1
  private protocolVersion: 4 | 5 = 4
  private tls: { readonly secureContext: SecureContext; readonly servername: string } | undefined
  private finished = 0
  private firstError: string | null = null
  private onFinished: (() => void) | undefined
  private closing = false

  async connect(args: ConnectArgs): Promise<ConnectResult> {
    this.qos = args.qos
    this.protocolVersion = args.protocolVersion
    // One context for all: a device parses its key and CA once, not on every connection.
    this.tls =
      args.tls === undefined
        ? undefined
        : {
            secureContext: createSecureContext({
              ca: args.tls.caPem,
              cert: args.tls.certPem,
              key: args.tls.keyPem,
            }),
            servername: args.tls.servername,
          }
    const startedAt = epochMs()
    const deadline = startedAt + args.timeoutMs
    let next = 0
    let failed = 0
    let firstError: string | null = null
    const worker = async (): Promise<void> => {
      while (next < args.count) {
        const name = deviceName(args.prefix, args.from + next++)
        const left = deadline - epochMs()
        try {
          if (left <= 0) throw new Error(`connect phase exceeded ${args.timeoutMs} ms`)
          this.devices.push(await this.connectOne(args.url, name, Math.min(left, args.timeoutMs)))
        } catch (error) {
          failed += 1
          firstError ??= `${name}: ${String(error)}`
        }
      }
    }
    await Promise.all(Array.from({ length: Math.max(1, Math.min(args.window, args.count)) }, worker))
    const doneAt = epochMs()
    const tlsResumed = this.devices.filter((d) =>
      (d.client.stream as Partial<TLSSocket>).isSessionReused?.(),
    ).length
    return {
      startedAt,
      doneAt,
      connected: this.devices.length,
      failed,
      firstError,
      rss: rssBytes(),
      tlsResumed,
    }
  }

  /** Opens one connection and subscribes; the device answers notifications from the SUBACK on. */
  private connectOne(url: string, thingName: string, timeoutMs: number): Promise<Device> {
    // `secureContext` goes through to tls.connect; mqtt's options type does not declare it.
    const options: IClientOptions & { secureContext?: SecureContext } = {
      clientId: thingName,
      protocolVersion: this.protocolVersion,
      clean: true,
      keepalive: KEEPALIVE_S,
      reconnectPeriod: 0,
      connectTimeout: timeoutMs,
      resubscribe: false,
      ...(this.tls === undefined
        ? {}
        : {
            secureContext: this.tls.secureContext,
            servername: this.tls.servername,
            rejectUnauthorized: true,
          }),
    }
    const client = mqtt.connect(url, options)
    const device = new Device(thingName, client)
    client.on('message', (topic, payload) => this.receive(device, topic, payload))
    return new Promise<Device>((resolve, reject) => {
      let settled = false
      const settle = (error: Error | undefined): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        if (error === undefined) {
          resolve(device)
        } else {
          client.end(true)
          reject(error)
        }
      }
      const timer = setTimeout(
        () => settle(new Error(`no CONNACK and SUBACK within ${timeoutMs} ms`)),
        timeoutMs,
      )
      client.on('error', (error) => {
        if (!settled) settle(error)
        else this.fail(device, `client error: ${error.message}`)
      })
      client.on('close', () => {
        if (!settled) settle(new Error('connection closed before SUBACK'))
        else if (!this.closing) this.fail(device, 'connection closed')
      })
      client.once('connect', () => {
        client.subscribe(deviceFilters(thingName), { qos: this.qos }, (error, granted) => {
          if (error !== null) return settle(error)
          // SUBACK: MQTT 3.1.1 refuses with 0x80, MQTT 5 with any reason code from 0x80 on (§3.9.3 of each).
          const refused = (granted ?? []).filter((g) => g.qos >= 0x80)
          if (refused.length > 0) return settle(new Error(`subscription refused: ${refused[0]?.topic}`))
          settle(undefined)
        })
      })
    })
  }

  private receive(device: Device, topic: string, payload: Buffer): void {
    if (!topic.startsWith(`${device.base}/`)) return
    const rest = topic.slice(device.base.length + 1)
    if (rest.endsWith('/rejected')) {
      if (device.state !== 'done') this.fail(device, `${rest}: ${payload.toString()}`)
      return
    }
    switch (device.state) {
      case 'waiting':
        if (rest !== 'notify-next') return
        // {"timestamp": …} alone says nothing is pending.
        if (parse(payload)?.['execution'] === undefined) return
        device.notifiedAt = epochMs()
        device.state = 'get'
        this.publish(device, `${device.base}/get`, { clientToken: device.clientToken })
        return
      case 'get':
        if (rest !== 'get/accepted') return
        if (parse(payload) === undefined) return this.fail(device, 'get/accepted is not JSON')
        device.state = 'start-next'
        this.publish(device, `${device.base}/start-next`, {
          statusDetails: { step: 'bench' },
          clientToken: device.clientToken,
        })
        return
      case 'start-next': {
        if (rest !== 'start-next/accepted') return
        const execution = parse(payload)?.['execution'] as Record<string, unknown> | undefined
        const jobId = execution?.['jobId']
        if (typeof jobId !== 'string') {
          return this.fail(device, `start-next/accepted without an execution: ${payload.toString()}`)
        }
        device.state = 'update'
        this.publish(device, `${device.base}/${jobId}/update`, {
          status: 'SUCCEEDED',
          statusDetails: { step: 'done' },
          expectedVersion: execution?.['versionNumber'],
          clientToken: device.clientToken,
        })
        return
      }
      case 'update':
        if (!rest.endsWith('/update/accepted')) return
        device.doneAt = epochMs()
        device.state = 'done'
        this.finish()
        return
      case 'done':
      case 'failed':
        return
    }
  }

  private publish(device: Device, topic: string, body: Record<string, unknown>): void {
    device.client.publish(topic, JSON.stringify(body), { qos: this.qos }, (error) => {
      if (error !== undefined && error !== null) this.fail(device, `publishing ${topic}: ${error.message}`)
    })
  }

  private fail(device: Device, message: string): void {
    if (device.state === 'done' || device.state === 'failed') return
    device.state = 'failed'
    this.firstError ??= `${device.thingName}: ${message}`
    this.finish()
  }

  private finish(): void {
    this.finished += 1
    if (this.finished >= this.devices.length) this.onFinished?.()
  }

  /** Waits until every connected device succeeded or failed, or `timeoutMs` passed. */
  async waitForFlows(args: FinishArgs): Promise<FinishResult> {
    if (this.finished < this.devices.length) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, args.timeoutMs)
        this.onFinished = () => {
          clearTimeout(timer)
          resolve()
        }
      })
      this.onFinished = undefined
    }
    let succeeded = 0
    let failed = 0
    let firstNotifiedAt = Infinity
    let lastNotifiedAt = 0
    let lastDoneAt = 0
    const flowMs: number[] = []
    for (const d of this.devices) {
      if (d.notifiedAt > 0) {
        firstNotifiedAt = Math.min(firstNotifiedAt, d.notifiedAt)
        lastNotifiedAt = Math.max(lastNotifiedAt, d.notifiedAt)
      }
      if (d.state === 'done') {
        succeeded += 1
        lastDoneAt = Math.max(lastDoneAt, d.doneAt)
        flowMs.push(Math.round((d.doneAt - d.notifiedAt) * 100) / 100)
      } else if (d.state === 'failed') {
        failed += 1
      }
    }
    return {
      succeeded,
      failed,
      unfinished: this.devices.length - succeeded - failed,
      firstError: this.firstError,
      firstNotifiedAt: firstNotifiedAt === Infinity ? 0 : firstNotifiedAt,
      lastNotifiedAt,
      lastDoneAt,
      flowMs,
    }
  }

  /** Disconnects every device (DISCONNECT, then the socket closes), bounded by CLOSE_WAIT_MS. */
  async close(): Promise<void> {
    this.closing = true
    const ended = Promise.all(
      this.devices.map((d) => new Promise<void>((resolve) => d.client.end(false, {}, () => resolve()))),
    )
    let timer: NodeJS.Timeout | undefined
    await Promise.race([ended, new Promise<void>((resolve) => (timer = setTimeout(resolve, CLOSE_WAIT_MS)))])
    clearTimeout(timer)
  }
}

function parse(payload: Buffer): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'))
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined
  } catch {
    return undefined
  }
}

function rssBytes(): number {
  return process.memoryUsage().rss
}
