/**
 * A fleet of devices in a child process, each a bare TCP socket speaking MQTT 3.1.1 through
 * `mqtt-packet` (no mqtt.js client per device, so 10,000 of them fit in one light process). Started by
 * test/mqtt/storm.test.ts with `fork`; it talks to its parent over IPC:
 *
 *   parent → child  { kind: 'start', … FleetOptions }   connect every device and run its job round
 *   child → parent  { kind: 'progress', … FleetReport } every second while the rounds run
 *   child → parent  { kind: 'ready', … FleetReport }    every device finished (or failed) its round
 *   parent → child  { kind: 'disconnect' }              destroy every socket at once, in one loop
 *   child → parent  { kind: 'disconnected' }            then it exits
 *
 * (The parent may instead kill the process with SIGKILL: the kernel then closes every socket at once.)
 *
 * A device's round, as the AWS device SDK does it: CONNECT (client id = thing name), SUBSCRIBE to its
 * reply topics, `…/jobs/start-next`, then `…/jobs/{jobId}/update` to SUCCEEDED with the execution's
 * versionNumber, waiting for each `/accepted`. (No notify-next: the job exists before
 * the device connects, and the server's writes are what this machine runs short of.)
 * [spec: jobs-device-api#2.1]
 */
import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import { connect } from 'node:net'
import type { Socket } from 'node:net'

export interface FleetOptions {
  readonly host: string
  readonly port: number
  /** The things' names: `${prefix}-${i}` for i in [0, count). */
  readonly prefix: string
  readonly count: number
  readonly jobId: string
  /** Connections being opened at once. */
  readonly window: number
  /** QoS of the device's subscriptions and requests (the replies come back with it). */
  readonly qos: 0 | 1
  /** Each device's MQTT password (device authentication on); undefined connects without credentials. */
  readonly passwords?: Readonly<Record<string, string>>
}

export interface FleetReport {
  readonly connected: number
  readonly succeeded: number
  readonly failed: number
  readonly firstError: string | null
}

export type ToFleet = ({ kind: 'start' } & FleetOptions) | { kind: 'disconnect' }
export type FromFleet = ({ kind: 'progress' | 'ready' } & FleetReport) | { kind: 'disconnected' }

export const thingNameOf = (prefix: string, i: number): string => `${prefix}-${i}`

/** Message ids of the device's own packets: one of each in a round. */
const SUBSCRIBE_ID = 1
const START_NEXT_ID = 2
const UPDATE_ID = 3

class Device {
  readonly base: string
  state: 'connecting' | 'subscribing' | 'starting' | 'updating' | 'done' | 'failed' = 'connecting'

  constructor(
    readonly thingName: string,
    readonly socket: Socket,
  ) {
    this.base = `$aws/things/${thingName}/jobs`
  }

  send(packet: Packet): void {
    this.socket.write(mqttPacket.generate(packet))
  }
}

async function run(options: FleetOptions, send: (message: FromFleet) => void): Promise<Device[]> {
  const devices: Device[] = []
  let connected = 0
  let succeeded = 0
  let failed = 0
  let firstError: string | null = null
  let finished = 0
  let allFinished: () => void = () => undefined
  const finishedAll = new Promise<void>((resolve) => (allFinished = resolve))
  const finish = (device: Device, error?: string): void => {
    if (device.state === 'done' || device.state === 'failed') return
    device.state = error === undefined ? 'done' : 'failed'
    if (error === undefined) succeeded += 1
    else {
      failed += 1
      firstError ??= `${device.thingName}: ${error}`
    }
    finished += 1
    if (finished === options.count) allFinished()
  }

  const open = (i: number): Promise<void> =>
    new Promise((resolve) => {
      const thingName = thingNameOf(options.prefix, i)
      const socket = connect({ host: options.host, port: options.port })
      const device = new Device(thingName, socket)
      devices.push(device)
      const parser = mqttPacket.parser({ protocolVersion: 4 })
      socket.setNoDelay(true)
      socket.on('data', (chunk: Buffer) => parser.parse(chunk))
      socket.on('error', (error) => finish(device, `socket: ${error.message}`))
      socket.on('close', () => {
        finish(device, 'connection closed')
        resolve()
      })
      parser.on('error', (error) => finish(device, `parser: ${error.message}`))
      parser.on('packet', (packet: Packet) => {
        receive(device, packet)
        if (device.state !== 'connecting') resolve()
      })
      const password = options.passwords?.[thingName]
      socket.once('connect', () =>
        device.send({
          cmd: 'connect',
          protocolId: 'MQTT',
          protocolVersion: 4,
          clientId: thingName,
          clean: true,
          // No keep-alive: the test decides when the devices leave.
          keepalive: 0,
          ...(password === undefined ? {} : { username: thingName, password: Buffer.from(password) }),
        }),
      )
    })

  const receive = (device: Device, packet: Packet): void => {
    switch (packet.cmd) {
      case 'connack':
        if (packet.returnCode !== 0) return finish(device, `CONNACK ${packet.returnCode ?? '?'}`)
        connected += 1
        device.state = 'subscribing'
        device.send({
          cmd: 'subscribe',
          messageId: SUBSCRIBE_ID,
          subscriptions: [
            `${device.base}/start-next/accepted`,
            `${device.base}/start-next/rejected`,
            `${device.base}/${options.jobId}/update/accepted`,
            `${device.base}/${options.jobId}/update/rejected`,
          ].map((topic) => ({ topic, qos: options.qos })),
        })
        return
      case 'suback':
        if (packet.granted.some((g) => g === 128)) return finish(device, 'a subscription was refused')
        device.state = 'starting'
        device.send({
          cmd: 'publish',
          topic: `${device.base}/start-next`,
          payload: JSON.stringify({ clientToken: 'start' }),
          ...(options.qos === 0 ? { qos: 0 as const } : { qos: 1 as const, messageId: START_NEXT_ID }),
          retain: false,
          dup: false,
        })
        return
      case 'publish': {
        if (packet.qos > 0) device.send({ cmd: 'puback', messageId: packet.messageId ?? 0 })
        const topic = packet.topic
        if (topic.endsWith('/rejected')) return finish(device, `${topic}: ${packet.payload.toString()}`)
        if (topic === `${device.base}/start-next/accepted` && device.state === 'starting') {
          const body = JSON.parse(packet.payload.toString()) as {
            execution?: { jobId: string; versionNumber: number }
          }
          if (body.execution?.jobId !== options.jobId)
            return finish(device, `start-next gave ${packet.payload.toString()}`)
          device.state = 'updating'
          device.send({
            cmd: 'publish',
            topic: `${device.base}/${options.jobId}/update`,
            payload: JSON.stringify({
              status: 'SUCCEEDED',
              expectedVersion: body.execution.versionNumber,
              clientToken: 'update',
            }),
            ...(options.qos === 0 ? { qos: 0 as const } : { qos: 1 as const, messageId: UPDATE_ID }),
            retain: false,
            dup: false,
          })
        } else if (topic === `${device.base}/${options.jobId}/update/accepted`) {
          finish(device)
        }
        return
      }
      default:
        return
    }
  }

  const report = (): FleetReport => ({ connected, succeeded, failed, firstError })
  const progress = setInterval(() => send({ kind: 'progress', ...report() }), 1000)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < options.count) await open(next++)
  }
  await Promise.all(Array.from({ length: Math.min(options.window, options.count) }, worker))
  await finishedAll
  clearInterval(progress)
  send({ kind: 'ready', ...report() })
  return devices
}

// Runs only as a forked child (the test imports this file for its types and thingNameOf only).
if (process.send !== undefined && process.argv[1]?.endsWith('raw-fleet.ts') === true) {
  const send = (message: FromFleet): void => {
    process.send?.(message)
  }
  let devices: Device[] = []
  process.on('message', (message: ToFleet) => {
    if (message.kind === 'start') {
      run(message, send).then(
        (all) => {
          devices = all
        },
        (error: unknown) => {
          console.error(error)
          process.exit(1)
        },
      )
    } else {
      // All at once: one synchronous loop, as when a fleet's process dies.
      for (const device of devices) device.socket.destroy()
      send({ kind: 'disconnected' })
      process.disconnect()
    }
  })
}
