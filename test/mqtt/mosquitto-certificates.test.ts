/**
 * Mosquitto with the certificate identity of docs/mqtt.md ("External broker: certificate identity with
 * Mosquitto"), run from docs/examples/mosquitto-certificates/ as it stands: the test only puts its own
 * temporary directory in place of /etc/mosquitto/fleetjobs/ and free ports in place of 8883 and 1884. A
 * private `mosquitto` child process (never the machine's broker on 1883), fleetjobs connected to it as
 * user "fleetjobs", devices over TLS with certificates whose CN is their thing name, all issued here with
 * the project's X.509 helpers (no openssl). What the doc promises: the certificate is the identity, the
 * client id is forced to it, a device reaches and hears only its own `$aws/things/<thing>/` topics, and
 * no certificate of another CA, no missing certificate and no revoked one gets in.
 * [spec: jobs-device-api#6] [docs: mqtt.md#external-broker-certificate-identity-with-mosquitto]
 */
// @peculiar/x509 (the CRLs below) resolves its algorithms through tsyringe, which needs this first.
import 'reflect-metadata'
import { DescribeJobExecutionCommand } from '@aws-sdk/client-iot'
import { GetPendingJobExecutionsCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import * as x509 from '@peculiar/x509'
import mqtt from 'mqtt'
import type { IClientOptions } from 'mqtt'
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { pbkdf2Sync, randomBytes } from 'node:crypto'
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir, userInfo } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Signer } from '../../src/pki/x509.js'
import { RSA_2048, createAuthority, exportKeys, generateKeys, issueLeaf, toPem } from '../../src/pki/x509.js'
import { createJob, createThing } from '../support/device.js'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import type { Collector, DeviceClient } from '../support/mqtt.js'
import { WAIT_MS, connectDevice, jobsTopics, waitUntil } from '../support/mqtt.js'

const MOSQUITTO = '/usr/sbin/mosquitto'
const EXAMPLES = new URL('../../docs/examples/mosquitto-certificates/', import.meta.url).pathname
/** What the example files say, and the test replaces. */
const EXAMPLE_DIR = '/etc/mosquitto/fleetjobs/'
const EXAMPLE_DEVICE_LISTENER = 'listener 8883\n'
const EXAMPLE_SERVICE_LISTENER = 'listener 1884 127.0.0.1\n'
/** The port the machine's Mosquitto owns; the private broker never takes it. */
const SHARED_MOSQUITTO_PORT = 1883
const DAY_MS = 86_400_000

const cleanups: (() => Promise<void> | void)[] = []
after(async () => {
  // A failed assertion must not leave a broker, a server, a client or a directory behind: every cleanup
  // runs, and what failed is reported after the others ran.
  const failures: unknown[] = []
  for (const cleanup of cleanups.reverse()) {
    try {
      await cleanup()
    } catch (error) {
      failures.push(error)
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, 'cleaning up failed')
})

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

/** `text` with `from` replaced, failing when the example no longer says `from`. */
function substitute(text: string, from: string, to: string): string {
  assert.ok(text.includes(from), `the example no longer contains ${JSON.stringify(from)}`)
  return text.replaceAll(from, to)
}

/**
 * A line of Mosquitto 2's password file: `user:$7$<iterations>$<salt>$<hash>`, PBKDF2-HMAC-SHA512 with
 * salt and hash in base64 (what `mosquitto_passwd` writes). 12 salt bytes and 101 iterations are its
 * defaults (SALT_LEN and PW_DEFAULT_ITERATIONS in mosquitto 2.0's common/password_mosq.h); 64 bytes is
 * SHA-512's output.
 */
function passwordLine(user: string, password: string): string {
  const iterations = 101
  const salt = randomBytes(12)
  const hash = pbkdf2Sync(password, salt, iterations, 64, 'sha512')
  return `${user}:$7$${iterations}$${salt.toString('base64')}$${hash.toString('base64')}\n`
}

/** A key pair and its certificate, PEM. */
interface Identity {
  readonly cert: string
  readonly key: string
  /** Hexadecimal, as a CRL entry names it. */
  readonly serialNumber: string
}

const validity = () => ({ notBefore: new Date(Date.now() - DAY_MS), notAfter: new Date(Date.now() + DAY_MS) })

async function leaf(
  issuer: Signer,
  subject: string,
  usage: 'server' | 'client',
  names?: string[],
): Promise<Identity> {
  const keys = await generateKeys()
  const cert = await issueLeaf(issuer, {
    subject,
    publicKey: keys.publicKey,
    usage,
    ...validity(),
    ...(names === undefined ? {} : { names }),
  })
  return { cert: toPem(cert), key: (await exportKeys(keys)).privateKeyPem, serialNumber: cert.serialNumber }
}

async function authority(name: string): Promise<Signer> {
  const keys = await generateKeys()
  const { notBefore, notAfter } = validity()
  return { cert: await createAuthority(name, keys, notBefore, notAfter), key: keys.privateKey }
}

/**
 * The CA's CRL listing `revoked`, PEM. OpenSSL reads a CRL only under the label `X509 CRL` (@peculiar's
 * own PEM says `CRL`), and with a `crlfile` it refuses every device while it has no current CRL of the
 * device CA, so the broker starts with an empty one.
 */
async function crlPem(ca: Signer, revoked: readonly string[]): Promise<string> {
  const { notBefore, notAfter } = validity()
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.cert.subject,
    thisUpdate: notBefore,
    nextUpdate: notAfter,
    signingAlgorithm: RSA_2048,
    signingKey: ca.key,
    entries: revoked.map((serialNumber) => ({ serialNumber, revocationDate: notBefore })),
  })
  return `${x509.PemConverter.encode(crl.rawData, 'X509 CRL').replace(/\r\n/g, '\n')}\n`
}

/** The private `mosquitto` child process, and what it logs. */
class PrivateMosquitto {
  private log = ''

  /**
   * The runner ends a test file that overruns its timeout with SIGTERM, and no `after` hook runs then:
   * the broker goes first, then the process dies of the signal as the runner expects. (On a normal
   * exit `stop` has run already.)
   */
  private readonly onTerminate = () => {
    this.kill()
    process.kill(process.pid, 'SIGTERM')
  }

  private readonly onExit = () => this.kill()

  private constructor(private readonly child: ChildProcess) {
    child.stderr?.on('data', (chunk: Buffer) => (this.log += chunk.toString()))
    process.once('SIGTERM', this.onTerminate)
    process.once('exit', this.onExit)
  }

  private kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGTERM')
  }

  static async start(config: string, ports: readonly number[]): Promise<PrivateMosquitto> {
    const broker = new PrivateMosquitto(
      spawn(MOSQUITTO, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] }),
    )
    cleanups.push(() => broker.stop())
    await waitUntil(
      `mosquitto to listen on ${ports.join(' and ')}`,
      async () => {
        if (broker.child.exitCode !== null) throw new Error(`mosquitto exited:\n${broker.log}`)
        for (const port of ports) if (!(await accepting(port))) return undefined
        return true
      },
      WAIT_MS,
    )
    return broker
  }

  /**
   * SIGHUP: Mosquitto reloads its configuration and, for new connections, its certificates and CRL. It
   * logs "Reloading config." and reloads in the same turn of its single-threaded loop, before it takes
   * another connection: once the line is there, the next connection meets the new files.
   */
  async reload(): Promise<void> {
    const count = () => this.log.split('Reloading config.').length
    const before = count()
    this.child.kill('SIGHUP')
    await waitUntil('mosquitto to log "Reloading config."', () => (count() > before ? true : undefined))
  }

  async stop(): Promise<void> {
    process.off('SIGTERM', this.onTerminate)
    process.off('exit', this.onExit)
    const child = this.child
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
    child.kill('SIGTERM')
    await exited
  }
}

/**
 * Connects and resolves with why the broker refused: the error's code (a TLS alert's name, or the
 * CONNACK return code). Fails when the connection is accepted.
 */
function refusal(url: string, options: IClientOptions): Promise<string> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: WAIT_MS,
      clientId: unique('refused'),
      ...options,
    })
    const done = (outcome: () => void) => {
      client.removeAllListeners()
      client.on('error', () => undefined)
      client.end(true)
      outcome()
    }
    client.once('connect', () => done(() => reject(new Error(`${url} accepted the connection`))))
    client.once('error', (error) => {
      const code = (error as { code?: unknown }).code
      done(() => resolve(typeof code === 'string' || typeof code === 'number' ? String(code) : error.message))
    })
    client.once('close', () => done(() => resolve('closed without an error')))
  })
}

const skip = existsSync(MOSQUITTO)
  ? false
  : `${MOSQUITTO} is not installed (Debian package mosquitto); CI has it`

describe('Mosquitto with certificate identity (docs/examples/mosquitto-certificates)', { skip }, () => {
  let dir: string
  let ca: Signer
  let broker: PrivateMosquitto
  let h: Harness
  let deviceUrl: string
  let serviceUrl: string
  const passwords = { fleetjobs: randomBytes(16).toString('hex'), events: randomBytes(16).toString('hex') }
  /** Serial numbers on the device CA's CRL. */
  const revoked: string[] = []
  /** Everything that passes Mosquitto on the things' topics, seen with fleetjobs' rights. */
  let monitor: DeviceClient
  let monitored: Collector
  /** A consumer of Jobs events, as the example's user "jobs-events". */
  let events: Collector

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'fleetjobs-mosquitto-certs-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    ca = await authority('CN=fleetjobs test device CA')
    const server = await leaf(ca, 'CN=localhost', 'server', ['localhost', '127.0.0.1'])
    writeFileSync(join(dir, 'device-ca.pem'), toPem(ca.cert))
    writeFileSync(join(dir, 'server.pem'), server.cert)
    writeFileSync(join(dir, 'server.key'), server.key, { mode: 0o600 })
    writeFileSync(join(dir, 'device-ca.crl'), await crlPem(ca, revoked))
    writeFileSync(
      join(dir, 'passwd'),
      passwordLine('fleetjobs', passwords.fleetjobs) + passwordLine('jobs-events', passwords.events),
      { mode: 0o600 },
    )
    for (const acl of ['acl-devices', 'acl-services'])
      writeFileSync(join(dir, acl), readFileSync(join(EXAMPLES, acl), 'utf8'))

    const devicePort = await freePort()
    const servicePort = await freePort()
    let config = readFileSync(join(EXAMPLES, 'mosquitto.conf'), 'utf8')
    config = substitute(config, EXAMPLE_DIR, `${dir}/`)
    // Loopback here too: the test's broker is for this machine only.
    config = substitute(config, EXAMPLE_DEVICE_LISTENER, `listener ${devicePort} 127.0.0.1\n`)
    config = substitute(config, EXAMPLE_SERVICE_LISTENER, `listener ${servicePort} 127.0.0.1\n`)
    // Run as the test's user: started as root, Mosquitto 2 drops to user "mosquitto" before it reads
    // the certificates, and that user cannot read this private directory.
    config += `log_dest stderr\nuser ${userInfo().username}\n`
    writeFileSync(join(dir, 'mosquitto.conf'), config)
    broker = await PrivateMosquitto.start(join(dir, 'mosquitto.conf'), [devicePort, servicePort])

    deviceUrl = `mqtts://127.0.0.1:${devicePort}`
    serviceUrl = `mqtt://127.0.0.1:${servicePort}`
    h = await startHarness({
      mqtt: { port: 0, url: `mqtt://fleetjobs:${passwords.fleetjobs}@127.0.0.1:${servicePort}` },
      events: { job: true, jobExecution: true },
    })
    cleanups.push(() => h.close())

    // fleetjobs' own rights, under another client id: the test's view of what gets through.
    monitor = await connectDevice(serviceUrl, { username: 'fleetjobs', password: passwords.fleetjobs })
    cleanups.push(() => monitor.close())
    monitored = await monitor.collect('$aws/things/+/jobs/#')
    const consumer = await connectDevice(serviceUrl, { username: 'jobs-events', password: passwords.events })
    cleanups.push(() => consumer.close())
    events = await consumer.collect('$aws/events/#')
  })

  /** A device certificate of the test's CA with this CN. */
  const certificateFor = (cn: string): Promise<Identity> => leaf(ca, `CN=${cn}`, 'client')

  /** A device connected over TLS with `identity`; the client id is a fresh one unless given. */
  async function asDevice(identity: Identity, options: IClientOptions = {}): Promise<DeviceClient> {
    const device = await connectDevice(deviceUrl, {
      ca: toPem(ca.cert),
      cert: identity.cert,
      key: identity.key,
      ...options,
    })
    cleanups.push(() => device.close())
    return device
  }

  /**
   * Every message a device's client receives, on whichever subscription: it subscribes to `#` (which
   * matches no `$` topic [MQTT-4.7.2-1]), and the collector keeps all (its `#` matches any topic).
   */
  const everything = (device: DeviceClient): Promise<Collector> => device.collect('#')

  const executionOf = (json: Record<string, unknown>) =>
    json['execution'] as Record<string, unknown> | undefined

  it('a device with a certificate runs a whole job as its thing: notify-next, start-next, update SUCCEEDED, the event', async () => {
    const thingName = await createThing(h)
    const t = jobsTopics(thingName)
    const device = await asDevice(await certificateFor(thingName), { clientId: thingName })
    const next = await device.collect(t.notifyNext)
    const jobId = await createJob(h, [thingName])

    const notified = await next.waitFor(
      'notify-next of the new job',
      (m) => executionOf(m.json)?.['jobId'] === jobId,
    )
    assert.equal(executionOf(notified.json)?.['status'], 'QUEUED')
    const started = await device.accepted(t.startNext, { statusDetails: { step: 'download' } })
    assert.equal(executionOf(started)?.['jobId'], jobId)
    assert.equal(executionOf(started)?.['status'], 'IN_PROGRESS')
    const done = await device.accepted(t.update(jobId), {
      status: 'SUCCEEDED',
      includeJobExecutionState: true,
    })
    assert.deepEqual(done['executionState'], {
      status: 'SUCCEEDED',
      statusDetails: { step: 'download' },
      versionNumber: 3,
    })
    await next.waitFor(
      'notify-next without an execution',
      (m) => m.json['timestamp'] !== undefined && !('execution' in m.json),
    )

    const out = await h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }))
    assert.equal(out.execution?.status, 'SUCCEEDED')
    const event = await events.waitFor(
      'the succeeded event',
      (m) => m.topic === `$aws/events/jobExecution/${jobId}/succeeded`,
    )
    assert.equal(event.json['thingArn'], thingArnOf(thingName))
  })

  it('the client id is the certificate CN, whatever the device sends: posing as another thing takes nothing from it', async () => {
    const a = await createThing(h)
    const b = await createThing(h)
    const certA = await certificateFor(a)
    const deviceB = await asDevice(await certificateFor(b), { clientId: b })
    const nextOfB = await deviceB.collect(jobsTopics(b).notifyNext)
    const aPosingAsB = await asDevice(certA, { clientId: b })
    // A is served as A ...
    await aPosingAsB.accepted(jobsTopics(a).get)
    // ... and B keeps its connection (a client id taken over would have closed it [MQTT-3.1.4-2]):
    // its notification still reaches it. (A wait on a notification fails in time; a request on a
    // closed connection would wait for a reconnection that never comes.)
    const jobId = await createJob(h, [b])
    await nextOfB.waitFor("B's notify-next", (m) => executionOf(m.json)?.['jobId'] === jobId)
    assert.equal(deviceB.client.connected, true)
    // A second connection with A's certificate, under yet another client id, is A too: it takes the
    // first one's place.
    const again = await asDevice(certA, { clientId: unique('anything') })
    await waitUntil("the first connection with A's certificate to be closed", () =>
      aPosingAsB.client.connected ? undefined : true,
    )
    await again.accepted(jobsTopics(a).get)
    assert.equal(deviceB.client.connected, true)
  })

  it("[spec: jobs-device-api#6] a device reaches and hears only its own thing: a request on another thing's topic goes nowhere, its subscriptions deliver nothing of the other", async () => {
    const a = await createThing(h)
    const b = await createThing(h)
    const tb = jobsTopics(b)
    const deviceA = await asDevice(await certificateFor(a), { clientId: a })
    const deviceB = await asDevice(await certificateFor(b), { clientId: b })
    const heardByA = await everything(deviceA)
    // Mosquitto grants these (DeviceClient.subscribe fails on a refusal) and filters what it delivers.
    await deviceA.subscribe(
      tb.notifyNext,
      `${tb.startNext}/accepted`,
      '$aws/things/+/jobs/#',
      '$aws/events/#',
    )
    const nextOfB = await deviceB.collect(tb.notifyNext)
    const jobId = await createJob(h, [b])
    await nextOfB.waitFor("B's notify-next", (m) => executionOf(m.json)?.['jobId'] === jobId)

    // MQTT 3.1.1 has no refusal for a publish: Mosquitto acknowledges it and drops it.
    await deviceA.publish(tb.startNext, { clientToken: 'not-yours' })
    const own = jobsTopics(a).get
    await deviceA.accepted(own)
    // One publisher's messages reach a subscriber in order: A's own request came through, the one
    // before it did not.
    await monitored.waitFor(`A's ${own}`, (m) => m.topic === own)
    assert.deepEqual(
      monitored.messages.filter((m) => m.topic === tb.startNext),
      [],
      "a request on B's topic passed Mosquitto",
    )
    const pending = await h.data.send(new GetPendingJobExecutionsCommand({ thingName: b }))
    assert.deepEqual(
      pending.queuedJobs?.map((j) => j.jobId),
      [jobId],
    )

    // B runs its job; the replies, notifications and the event are B's alone.
    await deviceB.accepted(tb.startNext)
    await deviceB.accepted(tb.update(jobId), { status: 'SUCCEEDED' })
    await nextOfB.waitFor("B's notify-next without an execution", (m) => !('execution' in m.json))
    await events.waitFor(
      "B's succeeded event",
      (m) => m.topic === `$aws/events/jobExecution/${jobId}/succeeded`,
    )
    // fleetjobs published all of that before it answers this request of A's, on one connection.
    await deviceA.accepted(own)
    const foreign = heardByA.messages.filter((m) => !m.topic.startsWith(`$aws/things/${a}/`))
    assert.deepEqual(
      foreign.map((m) => m.topic),
      [],
      `A received messages that are not its thing's:\n${heardByA.describe()}`,
    )
  })

  it("over MQTT 5 a publish on another thing's topic is refused: PUBACK 0x87, not authorized", async () => {
    const a = await createThing(h)
    const b = await createThing(h)
    const deviceA = await asDevice(await certificateFor(a), { clientId: a, protocolVersion: 5 })
    await assert.rejects(deviceA.publish(jobsTopics(b).get, {}, 1), (error: { code?: unknown }) => {
      assert.equal(error.code, 0x87)
      return true
    })
    await deviceA.accepted(jobsTopics(a).get)
  })

  it('a client without a certificate is refused in the TLS handshake, with or without a password', async () => {
    const trusted = toPem(ca.cert)
    assert.equal(await refusal(deviceUrl, { ca: trusted }), 'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED')
    assert.equal(
      await refusal(deviceUrl, { ca: trusted, username: 'fleetjobs', password: passwords.fleetjobs }),
      'ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED',
    )
  })

  it('a certificate from another CA is refused, whatever its CN', async () => {
    const thingName = await createThing(h)
    const other = await authority('CN=another CA')
    const foreign = await leaf(other, `CN=${thingName}`, 'client')
    assert.equal(
      await refusal(deviceUrl, { ca: toPem(ca.cert), cert: foreign.cert, key: foreign.key }),
      'ERR_SSL_TLSV1_ALERT_UNKNOWN_CA',
    )
  })

  it('a certificate on the CRL is refused once Mosquitto reloads it (SIGHUP); its open connection stays until it ends', async () => {
    const thingName = await createThing(h)
    const identity = await certificateFor(thingName)
    const device = await asDevice(identity, { clientId: thingName })
    const next = await device.collect(jobsTopics(thingName).notifyNext)

    revoked.push(identity.serialNumber)
    writeFileSync(join(dir, 'device-ca.crl'), await crlPem(ca, revoked))
    await broker.reload()
    assert.equal(
      await refusal(deviceUrl, { ca: toPem(ca.cert), cert: identity.cert, key: identity.key }),
      'ERR_SSL_SSLV3_ALERT_CERTIFICATE_REVOKED',
    )
    // The connection made before still works: Mosquitto checks certificates in the handshake only.
    const jobId = await createJob(h, [thingName])
    await next.waitFor('notify-next on the open connection', (m) => executionOf(m.json)?.['jobId'] === jobId)
  })

  it('a device certificate with the CN "fleetjobs" has none of the fleetjobs user\'s rights', async () => {
    const thingName = await createThing(h)
    const impostor = await asDevice(await certificateFor('fleetjobs'))
    const foreign = jobsTopics(thingName).get
    const own = jobsTopics('fleetjobs').get
    await impostor.publish(foreign, { clientToken: 'not-yours' })
    await impostor.publish(own, { clientToken: 'own' })
    // In order, as above: its own publish came through, the one before it did not.
    await monitored.waitFor(`the impostor's ${own}`, (m) => m.topic === own)
    assert.deepEqual(monitored.on(foreign), [])
  })

  it("the services listener takes only the password file's users", async () => {
    assert.equal(await refusal(serviceUrl, {}), '5')
    assert.equal(await refusal(serviceUrl, { username: 'fleetjobs', password: 'wrong' }), '5')
  })

  it("a CN holding a slash reaches into another thing's tree (why the CA must issue only thing names)", async () => {
    const thingName = await createThing(h)
    // %u is put into the pattern as it is: `$aws/things/<thing>/jobs/#` is this certificate's own tree.
    const intruder = await asDevice(await certificateFor(`${thingName}/jobs`))
    await intruder.accepted(jobsTopics(thingName).get)
  })
})
