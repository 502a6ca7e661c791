/**
 * The official AWS IoT Device SDK v2 for JavaScript (`aws-iot-device-sdk-v2`, its native aws-crt MQTT
 * clients) as the device, over plain TCP to the embedded broker with device authentication on: the
 * classic `IotJobsClient` on an MQTT 3.1.1 connection, and the request/response `IotJobsClientv2` on an
 * MQTT 5 client and on an MQTT 3.1.1 connection, with its notification streams and its modeled errors.
 * Each works a job through from start to end as the SDK's own samples do. Every native client is
 * stopped and closed, or node would not exit; the request/response client runs in a child process
 * (test/mqtt/sdk-device.ts says why). Each also over mutual TLS with a certificate from CreateKeysAndCertificate
 * attached to the thing, as a fleet provisions its devices for AWS IoT. [spec: jobs-device-api#2] [spec: jobs-device-api#4]
 * [docs: mqtt.md#mqtt-5]
 */
import { UpdateCertificateCommand } from '@aws-sdk/client-iot'
import { io, iot, iotjobs, mqtt, mqtt5 } from 'aws-iot-device-sdk-v2'
import assert from 'node:assert/strict'
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { after, before, describe, it } from 'node:test'
import v8 from 'node:v8'
import vm from 'node:vm'
import { DeviceAuth } from '../../src/mqtt/device-auth.js'
import { provisionDevice, unregisteredCredentials } from '../support/certificates.js'
import { DOCUMENT, ManualClock, createJob, createThing } from '../support/device.js'
import type { Harness } from '../support/harness.js'
import { startHarness } from '../support/harness.js'
import { WAIT_MS, mqttUrlOf } from '../support/mqtt.js'
import type { DeviceCommand, FromDevice, RequestMethod, StreamName, ToDevice } from './sdk-device.js'

const { JobStatus, RejectedErrorCode } = iotjobs.model
/** MQTT 5 CONNACK reason codes [MQTT-3.2.2.2]. */
const BAD_USERNAME_OR_PASSWORD = 0x86
const NOT_AUTHORIZED = 0x87
const SDK_DEVICE = fileURLToPath(new URL('./sdk-device.ts', import.meta.url))

let h: Harness
let auth: DeviceAuth
let port: number
let tlsPort: number
let ca: string
const clock = new ManualClock()

/** A device's credentials for mutual TLS: a certificate and key, and the CA it trusts. */
type MtlsCredentials = { readonly ca: string; readonly cert: string; readonly key: string }
/** How a device connects: over TCP with its device token, or over TLS with its certificate. */
type Transport = 'TCP with a device token' | 'mutual TLS'
const TRANSPORTS: readonly Transport[] = ['TCP with a device token', 'mutual TLS']

/** Provisions a device as an operator would (support/certificates.ts), with the CA it trusts. */
async function provision(thingName?: string): Promise<MtlsCredentials & { certificateId: string }> {
  const device = await provisionDevice(h, ...(thingName === undefined ? [] : [thingName]))
  return { ca, ...device }
}

/** The host name a TLS device connects to: the one the server certificate names. */
const TLS_HOST = 'localhost'

before(async () => {
  h = await startHarness({ clock, mqtt: { port: 0, auth: 'on' }, tls: { mqttPort: 0 } })
  auth = DeviceAuth.load(h.dataDir)
  port = Number(new URL(mqttUrlOf(h)).port)
  tlsPort = Number(new URL(h.server.mqttTlsUrl ?? '').port)
  ca = readFileSync(h.server.tlsCaPath ?? '', 'utf8')
})
after(async () => {
  await h?.close()
  collectGarbage()
})

/**
 * aws-crt's native clients hold node's event loop through N-API thread-safe functions that are released
 * only when their JavaScript objects are garbage-collected, even after stop() and close()
 * (awslabs/aws-crt-nodejs#600): without a collection, node stayed up 8 s to several minutes after the
 * last test here. Every client is closed and unreachable by now; one collection releases them.
 */
function collectGarbage(): void {
  v8.setFlagsFromString('--expose-gc')
  const gc = vm.runInNewContext('gc') as () => void
  gc()
}

/** Rejects after WAIT_MS naming `what`: bounds a wait that should end. */
function within<T>(what: string, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  return Promise.race([
    work,
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no ${what} within ${WAIT_MS} ms`)), WAIT_MS)
    }),
  ]).finally(() => clearTimeout(timer))
}

/**
 * An MQTT 3.1.1 connection as the SDK's samples open it, without TLS: client id and username are the
 * thing name (the SDK appends its metrics to the username), the password its device token.
 */
async function connect311(thingName: string, tls?: MtlsCredentials): Promise<mqtt.MqttClientConnection> {
  const connection = new mqtt.MqttClient().new_connection(
    tls === undefined
      ? {
          client_id: thingName,
          host_name: '127.0.0.1',
          port,
          use_websocket: false,
          clean_session: true,
          keep_alive: 30,
          socket_options: new io.SocketOptions(io.SocketType.STREAM, io.SocketDomain.IPV4, WAIT_MS),
          username: thingName,
          password: auth.tokenFor(thingName),
        }
      : // As the SDK's samples connect to AWS IoT with a certificate.
        iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(tls.cert, tls.key)
          .with_certificate_authority(tls.ca)
          .with_endpoint(TLS_HOST)
          .with_port(tlsPort)
          .with_client_id(thingName)
          .with_clean_session(true)
          .build(),
  )
  await within('CONNACK', connection.connect())
  return connection
}

/** An MQTT 5 client, started; resolves once connected, or rejects with the CONNACK reason code. */
async function start5(
  thingName: string,
  password = auth.tokenFor(thingName),
  tls?: MtlsCredentials,
): Promise<mqtt5.Mqtt5Client> {
  const client = new mqtt5.Mqtt5Client(
    tls === undefined
      ? {
          hostName: '127.0.0.1',
          port,
          sessionBehavior: mqtt5.ClientSessionBehavior.Clean,
          connectProperties: {
            clientId: thingName,
            keepAliveIntervalSeconds: 30,
            username: thingName,
            password: Buffer.from(password),
          },
        }
      : iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(TLS_HOST, tls.cert, tls.key)
          .withCertificateAuthority(tls.ca)
          .withPort(tlsPort)
          .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
          .withConnectProperties({ clientId: thingName, keepAliveIntervalSeconds: 30 })
          .build(),
  )
  const connected = once(client, mqtt5.Mqtt5Client.CONNECTION_SUCCESS)
  const failed = once(client, mqtt5.Mqtt5Client.CONNECTION_FAILURE)
  client.start()
  const outcome = await within(
    'CONNACK',
    Promise.race([
      connected.then(() => undefined),
      failed.then(([event]) => (event as mqtt5.ConnectionFailureEvent).connack?.reasonCode ?? -1),
    ]),
  )
  if (outcome !== undefined) {
    await stop5(client)
    throw Object.assign(new Error(`CONNACK reason code ${outcome}`), { reasonCode: outcome })
  }
  return client
}

/** Stops an MQTT 5 client and frees its native resources. */
async function stop5(client: mqtt5.Mqtt5Client): Promise<void> {
  const stopped = once(client, mqtt5.Mqtt5Client.STOPPED)
  client.stop()
  await stopped
  client.close()
}

/**
 * A device running the SDK's `IotJobsClientv2` in a child process (test/mqtt/sdk-device.ts): requests
 * resolve with the SDK's responses, or reject with an error carrying the SDK's `modeledError`; stream
 * events are kept in arrival order.
 */
class SdkDevice {
  private nextId = 0
  private readonly pending = new Map<number, (message: FromDevice) => void>()
  private readonly events: Record<StreamName, unknown[]> = {
    jobExecutionsChanged: [],
    nextJobExecutionChanged: [],
  }
  private waiters: (() => void)[] = []

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (message: FromDevice) => {
      if ('stream' in message) {
        this.events[message.stream].push(message.message)
        for (const w of this.waiters.splice(0)) w()
        return
      }
      this.pending.get(message.id)?.(message)
      this.pending.delete(message.id)
    })
  }

  /** Starts the child and connects its SDK client (MQTT 5, or a 3.1.1 connection) as `thingName`. */
  static async connect(protocol: 5 | 3.1, thingName: string, tls?: MtlsCredentials): Promise<SdkDevice> {
    const child = fork(SDK_DEVICE, [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      // Responses carry Dates (the SDK deserializes timestamps).
      serialization: 'advanced',
    })
    const device = new SdkDevice(child)
    try {
      await device.send({
        op: 'connect',
        protocol,
        port: tls === undefined ? port : tlsPort,
        clientId: thingName,
        username: thingName,
        password: auth.tokenFor(thingName),
        operationTimeoutSeconds: WAIT_MS / 1000,
        tls,
      })
    } catch (error) {
      await device.kill()
      throw error
    }
    return device
  }

  /** A request/response operation of IotJobsClientv2. */
  async request<T>(method: RequestMethod, request: object): Promise<T> {
    return (await this.send({ op: 'request', method, request })) as T
  }

  /** The modeled error (the service's rejected reply) a request is refused with. */
  async rejection(method: RequestMethod, request: object): Promise<iotjobs.model.V2ErrorResponse> {
    const error = await this.request(method, request).then(
      () => assert.fail(`${method} ${JSON.stringify(request)} was accepted`),
      (e: { modeledError?: iotjobs.model.V2ErrorResponse }) => e,
    )
    assert.ok(error.modeledError !== undefined, `${method}: a modeled error`)
    return error.modeledError
  }

  /** Opens a streaming operation; resolves once its subscription is in place. */
  async stream(stream: StreamName, thingName: string): Promise<void> {
    await this.send({ op: 'stream', stream, thingName })
  }

  /** The next event of a stream not taken yet. */
  nextEvent<T>(stream: StreamName, what: string): Promise<T> {
    return within(
      what,
      new Promise<T>((resolve) => {
        const take = (): void => {
          const [first] = this.events[stream].splice(0, 1)
          if (first === undefined) this.waiters.push(take)
          else resolve(first as T)
        }
        take()
      }),
    )
  }

  /** Closes the SDK's streams and clients, then ends the process (see sdk-device.ts for why SIGKILL). */
  async close(): Promise<void> {
    try {
      await this.send({ op: 'close' })
    } finally {
      await this.kill()
    }
  }

  private async kill(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return
    const exited = once(this.child, 'exit')
    this.child.kill('SIGKILL')
    await exited
  }

  private send(message: DeviceCommand): Promise<unknown> {
    const id = (this.nextId += 1)
    return within(
      `the device's answer to ${message.op}`,
      new Promise((resolve, reject) => {
        this.pending.set(id, (answer) => {
          if ('stream' in answer) return
          if (answer.ok) resolve(answer.value)
          else
            reject(
              Object.assign(new Error(answer.error.message), { modeledError: answer.error.modeledError }),
            )
        })
        this.child.send({ ...message, id } satisfies ToDevice)
      }),
    )
  }
}

for (const transport of TRANSPORTS)
  describe(`IotJobsClient (classic) on an MQTT 3.1.1 connection, ${transport}`, () => {
    it('notify-next, get pending, start-next, update to SUCCEEDED, describe; a stale expectedVersion is VersionMismatch', async () => {
      const thingName = await createThing(h)
      const connection = await connect311(
        thingName,
        transport === 'mutual TLS' ? await provision(thingName) : undefined,
      )
      try {
        const jobs = new iotjobs.IotJobsClient(connection)
        const QOS = mqtt.QoS.AtLeastOnce
        /** Subscribes to an operation's two reply topics, then publishes it; settles with the reply. */
        const call = async <A, R>(
          subscribe: (
            onAccepted: (error?: iotjobs.IotJobsError, response?: A) => void,
            onRejected: (error?: iotjobs.IotJobsError, response?: R) => void,
          ) => Promise<unknown>[],
          publish: () => Promise<unknown>,
        ): Promise<{ accepted?: A; rejected?: R }> => {
          let settle!: (outcome: { accepted?: A; rejected?: R }) => void
          const outcome = new Promise<{ accepted?: A; rejected?: R }>((resolve) => (settle = resolve))
          await Promise.all(
            subscribe(
              (error, accepted) =>
                settle(error === undefined ? { accepted: accepted as A } : { rejected: error as R }),
              (error, rejected) =>
                settle(error === undefined ? { rejected: rejected as R } : { rejected: error as R }),
            ),
          )
          await publish()
          return within('the reply', outcome)
        }

        const next: iotjobs.model.NextJobExecutionChangedEvent[] = []
        await jobs.subscribeToNextJobExecutionChangedEvents({ thingName }, QOS, (error, event) => {
          if (error === undefined && event !== undefined) next.push(event)
        })
        const jobId = await createJob(h, [thingName])
        await within(
          'notify-next',
          (async () => {
            while (next.length === 0) await new Promise((r) => setTimeout(r, 20))
          })(),
        )
        assert.equal(next[0]?.execution?.jobId, jobId)
        assert.deepEqual(next[0]?.execution?.jobDocument, JSON.parse(DOCUMENT))

        const pending = await call<
          iotjobs.model.GetPendingJobExecutionsResponse,
          iotjobs.model.RejectedErrorResponse
        >(
          (ok, no) => [
            jobs.subscribeToGetPendingJobExecutionsAccepted({ thingName }, QOS, ok),
            jobs.subscribeToGetPendingJobExecutionsRejected({ thingName }, QOS, no),
          ],
          () => jobs.publishGetPendingJobExecutions({ thingName, clientToken: 'get-1' }, QOS),
        )
        assert.deepEqual(
          pending.accepted?.queuedJobs?.map((j) => j.jobId),
          [jobId],
        )
        assert.equal(pending.accepted?.clientToken, 'get-1')

        const started = await call<
          iotjobs.model.StartNextJobExecutionResponse,
          iotjobs.model.RejectedErrorResponse
        >(
          (ok, no) => [
            jobs.subscribeToStartNextPendingJobExecutionAccepted({ thingName }, QOS, ok),
            jobs.subscribeToStartNextPendingJobExecutionRejected({ thingName }, QOS, no),
          ],
          () =>
            jobs.publishStartNextPendingJobExecution(
              { thingName, clientToken: 'start-1', statusDetails: { step: 'download' } },
              QOS,
            ),
        )
        assert.equal(started.accepted?.execution?.jobId, jobId)
        assert.equal(started.accepted?.execution?.status, JobStatus.IN_PROGRESS)
        assert.equal(started.accepted?.execution?.versionNumber, 2)

        const updates = (
          ok: (e?: iotjobs.IotJobsError, r?: iotjobs.model.UpdateJobExecutionResponse) => void,
          no: (e?: iotjobs.IotJobsError, r?: iotjobs.model.RejectedErrorResponse) => void,
        ) => [
          jobs.subscribeToUpdateJobExecutionAccepted({ thingName, jobId }, QOS, ok),
          jobs.subscribeToUpdateJobExecutionRejected({ thingName, jobId }, QOS, no),
        ]
        const stale = await call(updates, () =>
          jobs.publishUpdateJobExecution(
            { thingName, jobId, status: JobStatus.SUCCEEDED, expectedVersion: 1, clientToken: 'stale' },
            QOS,
          ),
        )
        assert.equal(stale.rejected?.code, RejectedErrorCode.VERSION_MISMATCH)
        assert.equal(stale.rejected?.executionState?.versionNumber, 2)

        const done = await call(updates, () =>
          jobs.publishUpdateJobExecution(
            {
              thingName,
              jobId,
              status: JobStatus.SUCCEEDED,
              expectedVersion: 2,
              includeJobExecutionState: true,
              clientToken: 'done',
            },
            QOS,
          ),
        )
        assert.equal(done.accepted?.executionState?.status, JobStatus.SUCCEEDED)
        assert.equal(done.accepted?.executionState?.versionNumber, 3)

        const described = await call<
          iotjobs.model.DescribeJobExecutionResponse,
          iotjobs.model.RejectedErrorResponse
        >(
          (ok, no) => [
            jobs.subscribeToDescribeJobExecutionAccepted({ thingName, jobId }, QOS, ok),
            jobs.subscribeToDescribeJobExecutionRejected({ thingName, jobId }, QOS, no),
          ],
          () => jobs.publishDescribeJobExecution({ thingName, jobId, clientToken: 'describe' }, QOS),
        )
        assert.equal(described.accepted?.execution?.status, JobStatus.SUCCEEDED)
        assert.deepEqual(described.accepted?.execution?.jobDocument, JSON.parse(DOCUMENT))
      } finally {
        await connection.disconnect()
      }
    })
  })

/** The request/response client's job round, on the transport it was connected with. */
async function v2Round(device: SdkDevice, thingName: string): Promise<void> {
  await device.stream('jobExecutionsChanged', thingName)
  await device.stream('nextJobExecutionChanged', thingName)
  const nothing = await device.request<iotjobs.model.GetPendingJobExecutionsResponse>(
    'getPendingJobExecutions',
    { thingName },
  )
  assert.deepEqual([nothing.inProgressJobs, nothing.queuedJobs], [[], []])

  const jobId = await createJob(h, [thingName])
  const queued = await device.nextEvent<iotjobs.model.JobExecutionsChangedEvent>(
    'jobExecutionsChanged',
    'notify of the new job',
  )
  assert.deepEqual(
    queued.jobs?.['QUEUED']?.map((j) => j.jobId),
    [jobId],
  )
  const announced = await device.nextEvent<iotjobs.model.NextJobExecutionChangedEvent>(
    'nextJobExecutionChanged',
    'notify-next of the new job',
  )
  assert.equal(announced.execution?.jobId, jobId)
  assert.equal(announced.execution?.status, JobStatus.QUEUED)
  assert.deepEqual(announced.execution?.jobDocument, JSON.parse(DOCUMENT))

  const started = await device.request<iotjobs.model.StartNextJobExecutionResponse>(
    'startNextPendingJobExecution',
    { thingName, statusDetails: { step: 'one' } },
  )
  assert.equal(started.execution?.jobId, jobId)
  assert.equal(started.execution?.status, JobStatus.IN_PROGRESS)
  assert.deepEqual(started.execution?.jobDocument, JSON.parse(DOCUMENT))

  // A modeled error: the SDK rejects with the service's rejected reply.
  const stale = await device.rejection('updateJobExecution', {
    thingName,
    jobId,
    status: JobStatus.SUCCEEDED,
    expectedVersion: 1,
  })
  assert.equal(stale.code, RejectedErrorCode.VERSION_MISMATCH)
  assert.equal(stale.executionState?.status, JobStatus.IN_PROGRESS)
  assert.equal(stale.executionState?.versionNumber, 2)

  clock.advance(60_000)
  const done = await device.request<iotjobs.model.UpdateJobExecutionResponse>('updateJobExecution', {
    thingName,
    jobId,
    status: JobStatus.SUCCEEDED,
    expectedVersion: 2,
    includeJobExecutionState: true,
  })
  assert.equal(done.executionState?.status, JobStatus.SUCCEEDED)
  assert.equal(done.executionState?.versionNumber, 3)
  const empty = await device.nextEvent<iotjobs.model.JobExecutionsChangedEvent>(
    'jobExecutionsChanged',
    'notify after SUCCEEDED',
  )
  assert.deepEqual(empty.jobs, {})
  const none = await device.nextEvent<iotjobs.model.NextJobExecutionChangedEvent>(
    'nextJobExecutionChanged',
    'notify-next after SUCCEEDED',
  )
  assert.equal(none.execution, undefined)

  const again = await device.rejection('updateJobExecution', {
    thingName,
    jobId,
    status: JobStatus.IN_PROGRESS,
  })
  assert.equal(again.code, RejectedErrorCode.INVALID_STATE_TRANSITION)
  assert.equal(again.executionState?.status, JobStatus.SUCCEEDED)

  const described = await device.request<iotjobs.model.DescribeJobExecutionResponse>('describeJobExecution', {
    thingName,
    jobId,
    includeJobDocument: true,
  })
  assert.equal(described.execution?.status, JobStatus.SUCCEEDED)
  assert.deepEqual(described.execution?.statusDetails, { step: 'one' })
  const missing = await device.rejection('describeJobExecution', { thingName, jobId: 'no-such-job' })
  assert.equal(missing.code, RejectedErrorCode.RESOURCE_NOT_FOUND)
}

describe('IotJobsClientv2 (request/response)', () => {
  for (const [protocol, client] of [
    [5, 'an MQTT 5 client'],
    [3.1, 'an MQTT 3.1.1 connection'],
  ] as const)
    for (const transport of TRANSPORTS)
      it(`on ${client}, ${transport}: streams, a job round, VersionMismatch, InvalidStateTransition, ResourceNotFound`, async () => {
        const thingName = await createThing(h)
        const device = await SdkDevice.connect(
          protocol,
          thingName,
          transport === 'mutual TLS' ? await provision(thingName) : undefined,
        )
        try {
          await v2Round(device, thingName)
        } finally {
          await device.close()
        }
      })
})

describe('The SDK’s MQTT 5 client over mutual TLS refused, and disconnected [docs/tls.md]', () => {
  it('a certificate not registered, INACTIVE, REVOKED, or not attached to the thing: CONNACK 0x87', async () => {
    const thingName = await createThing(h)
    const other = await createThing(h)
    const attached = await provision(thingName)
    await assert.rejects(start5(other, '', attached), { reasonCode: NOT_AUTHORIZED })
    for (const newStatus of ['INACTIVE', 'REVOKED'] as const) {
      const device = await provision(thingName)
      await h.iot.send(new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus }))
      await assert.rejects(start5(thingName, '', device), { reasonCode: NOT_AUTHORIZED })
    }
    // Another CA's certificate, never registered here.
    await assert.rejects(start5(thingName, '', { ca, ...(await unregisteredCredentials()) }), {
      reasonCode: NOT_AUTHORIZED,
    })
  })

  it('a connected device is told DISCONNECT 0x87 when its certificate is revoked', async () => {
    const thingName = await createThing(h)
    const device = await provision(thingName)
    const client = await start5(thingName, '', device)
    try {
      const disconnected = once(client, mqtt5.Mqtt5Client.DISCONNECTION)
      await h.iot.send(
        new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus: 'REVOKED' }),
      )
      const [event] = (await within('the DISCONNECT', disconnected)) as [mqtt5.DisconnectionEvent]
      assert.equal(event.disconnect?.reasonCode, NOT_AUTHORIZED)
    } finally {
      await stop5(client)
    }
  })
})

describe('The SDK’s MQTT 5 client refused', () => {
  it('a wrong token: CONNACK 0x86; a thing that is not registered: 0x87', async () => {
    const thingName = await createThing(h)
    await assert.rejects(start5(thingName, 'not-the-token'), { reasonCode: BAD_USERNAME_OR_PASSWORD })
    await assert.rejects(start5('never-registered'), { reasonCode: NOT_AUTHORIZED })
  })
})
