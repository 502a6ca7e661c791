/**
 * A fleet of simulated devices: each one an `mqtt` client that speaks the Jobs device API over MQTT
 * exactly as a real device does (docs/simulate.md), and runs the jobs it is sent with a drawn outcome.
 * `fleetjobs simulate` is a thin CLI over this; tests and the console use it directly.
 * [spec: jobs-device-api#2] [spec: jobs-device-api#4.2]
 */
import { SimulatedDevice } from './device.js'
import type { DeviceCounters } from './device.js'
import type { OutcomeRates } from './rules.js'
import { checkRates } from './rules.js'

/**
 * How a device proves who it is: a token (username = thing name, password from `fleetjobs
 * device-token`), or a certificate and key on mqtts, with the CA that signed the server's certificate.
 */
export interface DeviceCredentials {
  readonly username?: string
  readonly password?: string
  readonly key?: string
  readonly cert?: string
  readonly ca?: string
}

export interface FleetOptions {
  /** `mqtt://host:port` or `mqtts://host:port`. */
  readonly mqttUrl: string
  /** One device per thing; its client id is the thing name. */
  readonly thingNames: readonly string[]
  /** Shares of the jobs each way; the rest end FAILED. */
  readonly outcomes: OutcomeRates
  /** How long a job takes, drawn uniformly per job (whole milliseconds). */
  readonly durationMs: { readonly min: number; readonly max: number }
  /** IN_PROGRESS updates before the final one, statusDetails `{"step": "2/3"}`. */
  readonly progressSteps: number
  readonly credentials?: (thingName: string) => DeviceCredentials
  /** Seeds every device's outcome draws (default: a random seed, reported in the stats). */
  readonly seed?: number
  /** Devices connecting at once (default DEFAULT_CONNECT_CONCURRENCY). */
  readonly connectConcurrency?: number
}

/**
 * Devices connecting at once by default: well under the embedded broker's default of 500 CONNECTs
 * waiting (docs/mqtt.md#limits), so a large fleet is paced rather than refused.
 */
export const DEFAULT_CONNECT_CONCURRENCY = 50

type CounterName = Exclude<keyof DeviceCounters, 'firstError'>

export interface FleetStats extends DeviceCounters {
  readonly devices: number
  /** Devices connected now. */
  readonly connected: number
  /** Devices that never connected. */
  readonly connectionFailures: number
  /** The first connection failure (`thing: reason`), for the message that reports them. */
  readonly firstConnectionError?: string
  /** Devices working on a job now. */
  readonly inProgress: number
  /** Devices asking for a job or working on one; 0 means the fleet is idle. */
  readonly busy: number
  /** Jobs that came to an end as the device or the service saw it (all outcomes together). */
  readonly jobsFinished: number
  /** The seed of the run: the same seed and things give the same draws. */
  readonly seed: number
}

export interface Fleet {
  /** The counters now. */
  stats(): FleetStats
  /** Called (synchronously) after every change of the counters. */
  onChange(listener: () => void): void
  /**
   * Disconnects every device that is still up (a clean DISCONNECT; a job under way is left as the
   * service has it) and resolves with the final counters.
   */
  stop(): Promise<FleetStats>
}

/**
 * Starts one device per thing and resolves once every device has connected (and subscribed) or failed
 * to; connected devices start asking for jobs at once. Throws a RangeError on unusable options.
 */
export async function startFleet(options: FleetOptions): Promise<Fleet> {
  const problem = checkRates(options.outcomes)
  if (problem !== undefined) throw new RangeError(problem)
  const { min, max } = options.durationMs
  if (!Number.isInteger(min) || !Number.isInteger(max) || min < 0 || min > max)
    throw new RangeError(`durationMs must be whole milliseconds with 0 ≤ min ≤ max, not ${min}..${max}`)
  if (!Number.isInteger(options.progressSteps) || options.progressSteps < 0)
    throw new RangeError(`progressSteps must be a whole number ≥ 0, not ${options.progressSteps}`)
  const concurrency = options.connectConcurrency ?? DEFAULT_CONNECT_CONCURRENCY
  if (!Number.isInteger(concurrency) || concurrency < 1)
    throw new RangeError(`connectConcurrency must be a whole number ≥ 1, not ${concurrency}`)
  const seed = options.seed ?? Math.floor(Math.random() * 2 ** 32)

  const listeners: (() => void)[] = []
  const changed = (): void => {
    for (const listener of listeners) listener()
  }
  const devices = options.thingNames.map(
    (thingName) =>
      new SimulatedDevice({
        thingName,
        mqttUrl: options.mqttUrl,
        credentials: options.credentials?.(thingName) ?? {},
        seed,
        plan: { rates: options.outcomes, durationMs: { min, max }, progressSteps: options.progressSteps },
        changed,
      }),
  )

  // A pool of `concurrency` connects under way; a device that fails is counted, not retried.
  let next = 0
  const connectNext = async (): Promise<void> => {
    for (let i = next++; i < devices.length; i = next++) await devices[i]?.start()
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, devices.length) }, connectNext))

  const stats = (): FleetStats => {
    const total: Record<CounterName, number> = {
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
    let connected = 0
    let connectionFailures = 0
    let inProgress = 0
    let busy = 0
    let firstConnectionError: string | undefined
    for (const device of devices) {
      for (const key of Object.keys(total) as CounterName[]) total[key] += device.counters[key]
      if (device.connected) connected += 1
      if (device.working) inProgress += 1
      if (device.busy) busy += 1
      if (device.connectError !== undefined) {
        connectionFailures += 1
        firstConnectionError ??= `${device.thingName}: ${device.connectError}`
      }
    }
    const firstError = devices.find((d) => d.firstError !== undefined)?.firstError
    return {
      devices: devices.length,
      connected,
      connectionFailures,
      ...(firstConnectionError === undefined ? {} : { firstConnectionError }),
      inProgress,
      busy,
      ...total,
      jobsFinished:
        total.succeeded +
        total.failed +
        total.rejected +
        total.crashed +
        total.canceledUnderIt +
        total.abandoned,
      ...(firstError === undefined ? {} : { firstError }),
      seed,
    }
  }

  let stopped: Promise<FleetStats> | undefined
  return {
    stats,
    onChange: (listener) => {
      listeners.push(listener)
    },
    stop: () => {
      stopped ??= Promise.all(devices.map((d) => d.stop())).then(() => {
        listeners.length = 0
        return stats()
      })
      return stopped
    },
  }
}
