/**
 * The MQTT family's baseline: a bare aedes broker (same version and defaults as fleetjobs' embedded
 * one) on a free port of 127.0.0.1, whose server-side subscription to `$aws/things/+/jobs/#` answers
 * each device request on `<topic>/accepted` with a small canned JSON shaped like fleetjobs' answer, at
 * the request's QoS — no parsing, no store, no per-thing ordering. `notifyAll` plays CreateJob: one
 * `notify-next` with a canned execution to every device, 50 publishes in flight at a time (fleetjobs'
 * notification dispatcher publishes one at a time).
 *
 * With `tls` (`aedes-echo-tls`) the broker listens on a node:tls server instead, asking every client
 * for a certificate and accepting any (`requestCert: true, rejectUnauthorized: false`: no registry,
 * no identity check; `noDelay` as fleetjobs' TLS listener), with a server certificate made as fleetjobs' local CA makes its own (RSA-2048,
 * for localhost and the loopback addresses, sent with its CA) — the same handshakes as fleetjobs' TLS
 * listener. `deviceTls` gives the devices that CA and one client certificate from it.
 */
import { Aedes } from 'aedes'
import type { AedesPublishPacket } from 'aedes'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { createServer as createTlsServer } from 'node:tls'
import { LOOPBACK_NAMES } from '../../src/pki/local-ca.js'
import { createAuthority, exportKeys, generateKeys, issueLeaf, toPem } from '../../src/pki/x509.js'
import type { DeviceTls, NotifyAllArgs, NotifyOneArgs } from '../lib/mqtt-devices.js'
import { MQTT_JOB_ID, deviceName, epochMs } from '../lib/mqtt-devices.js'
import { childConfig, cpuMs, residentBytes, serveChild } from './child-ipc.js'

export interface AedesEchoConfig {
  /** Listen on TLS (client certificates requested, any accepted) instead of plain TCP. */
  readonly tls?: boolean
}

/** The certificates' validity: the run's, give or take a day. */
const DAY_MS = 86_400_000

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
  const config = childConfig<AedesEchoConfig | null>()
  const aedes = await Aedes.createBroker({ drainTimeout: 30_000 })
  const material = config?.tls === true ? await tlsMaterial() : undefined
  // A TLS server's connection listener runs after the handshake ('secureConnection').
  const listener: Server =
    material === undefined
      ? createServer({ noDelay: true }, (socket) => aedes.handle(socket))
      : createTlsServer(
          {
            cert: material.serverChainPem,
            key: material.serverKeyPem,
            requestCert: true,
            rejectUnauthorized: false,
            // As fleetjobs' TLS listener (src/mqtt/embedded-broker.ts): no Nagle delay on replies.
            noDelay: true,
          },
          (socket) => aedes.handle(socket),
        )
  await new Promise<void>((resolve, reject) => {
    listener.once('error', reject)
    listener.listen(0, '127.0.0.1', () => resolve())
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
  const { port } = listener.address() as AddressInfo
  return {
    info: {
      url: '',
      dataPlaneUrl: '',
      ...(material === undefined
        ? { mqttUrl: `mqtt://127.0.0.1:${port}` }
        : { mqttTlsUrl: `mqtts://127.0.0.1:${port}` }),
    },
    handlers: {
      rss: residentBytes,
      cpuMs,
      notifyAll: (args) => notifyAll(aedes, args as NotifyAllArgs),
      notifyOne: (args) => notifyOne(aedes, args as NotifyOneArgs),
      deviceTls: () => {
        if (material === undefined) throw new Error('this aedes-echo listens on plain TCP')
        return material.device
      },
    },
    close: async () => {
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      await new Promise<void>((resolve) => listener.close(() => resolve()))
    },
  }
})

/**
 * A CA, the listener's certificate (with the CA after it, as fleetjobs sends its chain) and one device
 * certificate, all RSA-2048 as src/pki/local-ca.ts issues them.
 */
async function tlsMaterial(): Promise<{
  serverChainPem: string
  serverKeyPem: string
  device: DeviceTls
}> {
  const now = Date.now()
  const notBefore = new Date(now - DAY_MS)
  const notAfter = new Date(now + DAY_MS)
  const caKeys = await generateKeys()
  const ca = await createAuthority('CN=aedes-echo bench CA', caKeys, notBefore, notAfter)
  const signer = { cert: ca, key: caKeys.privateKey }
  const leaf = async (usage: 'server' | 'client'): Promise<{ certPem: string; keyPem: string }> => {
    const keys = await generateKeys()
    const cert = await issueLeaf(signer, {
      subject: usage === 'server' ? 'CN=fleetjobs' : 'CN=AWS IoT Certificate',
      publicKey: keys.publicKey,
      notBefore,
      notAfter,
      usage,
      ...(usage === 'server' ? { names: [...LOOPBACK_NAMES] } : {}),
    })
    return { certPem: toPem(cert), keyPem: (await exportKeys(keys)).privateKeyPem }
  }
  const server = await leaf('server')
  const client = await leaf('client')
  const caPem = toPem(ca)
  return {
    serverChainPem: server.certPem + caPem,
    serverKeyPem: server.keyPem,
    device: { caPem, certPem: client.certPem, keyPem: client.keyPem, servername: 'localhost' },
  }
}

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

/**
 * The latency probe's stand-in for CreateJob: a `notify` and then a `notify-next` naming `jobId` to
 * `thingName` (QoS 1), as fleetjobs publishes both for a new job. Resolves the epoch ms just before
 * the first publish, which the probe's latency is timed from.
 */
function notifyOne(aedes: Aedes, { thingName, jobId }: NotifyOneArgs): number {
  const payload = Buffer.from(
    JSON.stringify({
      timestamp: T,
      execution: { ...SUMMARY, jobId, status: 'QUEUED', jobDocument: DOCUMENT },
    }),
  )
  const notify = Buffer.from(JSON.stringify({ timestamp: T, jobs: { QUEUED: [{ ...SUMMARY, jobId }] } }))
  const base = `$aws/things/${thingName}/jobs`
  const from = epochMs()
  aedes.publish(
    { cmd: 'publish', topic: `${base}/notify`, payload: notify, qos: 1, retain: false, dup: false },
    () =>
      aedes.publish(
        { cmd: 'publish', topic: `${base}/notify-next`, payload, qos: 1, retain: false, dup: false },
        () => undefined,
      ),
  )
  return from
}
