/**
 * The MQTT family's baseline: a bare aedes broker (same version and defaults as fleetjobs' embedded
 * one) on a free port of 127.0.0.1, whose server-side subscription to `$aws/things/+/jobs/#` answers
 * each device request on `<topic>/accepted` with a small canned JSON shaped like fleetjobs' answer, at
 * the request's QoS — no parsing, no store, no per-thing ordering. `notifyAll` plays CreateJob: one
 * `notify-next` with a canned execution to every device, 50 publishes in flight at a time (fleetjobs'
 * notification dispatcher publishes one at a time).
 */
import { Aedes } from 'aedes'
import type { AedesPublishPacket } from 'aedes'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import type { NotifyAllArgs } from '../lib/mqtt-devices.js'
import { MQTT_JOB_ID, deviceName } from '../lib/mqtt-devices.js'
import { cpuMs, residentBytes, serveChild } from './child-ipc.js'

const T = 1767225600
/** notify-next publishes in flight at a time (aedes' emitter runs 100 messages at once). */
const NOTIFY_WINDOW = 50
const DOCUMENT = { operation: 'bench', url: 'https://example.com/firmware.bin' }
const SUMMARY = { jobId: MQTT_JOB_ID, queuedAt: T, lastUpdatedAt: T, versionNumber: 1, executionNumber: 1 }
const CANNED = {
  notifyNext: JSON.stringify({
    timestamp: T,
    execution: { ...SUMMARY, status: 'QUEUED', jobDocument: DOCUMENT },
  }),
  get: Buffer.from(
    JSON.stringify({ inProgressJobs: [], queuedJobs: [SUMMARY], timestamp: T, clientToken: 'bench' }),
  ),
  startNext: Buffer.from(
    JSON.stringify({
      execution: {
        jobId: MQTT_JOB_ID,
        thingName: deviceName('mqtt', 0),
        jobDocument: DOCUMENT,
        status: 'IN_PROGRESS',
        statusDetails: { step: 'bench' },
        queuedAt: T,
        startedAt: T,
        lastUpdatedAt: T,
        versionNumber: 2,
        executionNumber: 1,
      },
      timestamp: T,
      clientToken: 'bench',
    }),
  ),
  other: Buffer.from(JSON.stringify({ timestamp: T, clientToken: 'bench' })),
}

await serveChild(async () => {
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000 })
  const tcp = createServer((socket) => aedes.handle(socket))
  await new Promise<void>((resolve, reject) => {
    tcp.once('error', reject)
    tcp.listen(0, '127.0.0.1', () => resolve())
  })
  await new Promise<void>((resolve) => {
    aedes.subscribe(
      '$aws/things/+/jobs/#',
      (packet: AedesPublishPacket, done: () => void) => {
        // done() and the reply run after this delivery returns (as fleetjobs' service replies after its
        // use case). A synchronous done() lets aedes' emitter drain its queue recursively under a burst:
        // this process died of "Maximum call stack size exceeded" at 10,000 devices (aedes#193,
        // mqemitter#204).
        queueMicrotask(done)
        const topic = packet.topic
        // Our own replies and notifications come back through the subscription.
        if (topic.endsWith('/accepted') || topic.endsWith('/rejected') || topic.endsWith('/notify-next')) {
          return
        }
        const payload = topic.endsWith('/jobs/get')
          ? CANNED.get
          : topic.endsWith('/start-next')
            ? CANNED.startNext
            : CANNED.other
        const qos = packet.qos === 0 ? 0 : 1
        queueMicrotask(() =>
          aedes.publish(
            { cmd: 'publish', topic: `${topic}/accepted`, payload, qos, retain: false, dup: false },
            () => undefined,
          ),
        )
      },
      () => resolve(),
    )
  })
  const { port } = tcp.address() as AddressInfo
  return {
    info: { url: '', dataPlaneUrl: '', mqttUrl: `mqtt://127.0.0.1:${port}` },
    handlers: {
      rss: residentBytes,
      cpuMs,
      notifyAll: (args) => notifyAll(aedes, args as NotifyAllArgs),
    },
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      await new Promise<void>((resolve) => tcp.close(() => resolve()))
    },
  }
})

/**
 * Publishes every device's `notify-next` (QoS 1), NOTIFY_WINDOW at a time; resolves (milliseconds)
 * when the broker took them all. Unbounded, 10,000 publishes queue up in aedes' emitter, whose queue
 * drains recursively: the stack overflows.
 */
async function notifyAll(aedes: Aedes, { prefix, count }: NotifyAllArgs): Promise<number> {
  const started = performance.now()
  const payload = Buffer.from(CANNED.notifyNext)
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < count) {
      const topic = `$aws/things/${deviceName(prefix, next++)}/jobs/notify-next`
      await new Promise<void>((resolve, reject) =>
        aedes.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, (error) =>
          error ? reject(error) : resolve(),
        ),
      )
    }
  }
  await Promise.all(Array.from({ length: Math.min(NOTIFY_WINDOW, count) }, worker))
  return performance.now() - started
}
