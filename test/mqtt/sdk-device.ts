/**
 * One device running the official AWS IoT Device SDK v2's request/response jobs client
 * (`iotjobs.IotJobsClientv2`) in a child process, driven by test/mqtt/device-sdk.test.ts over IPC.
 *
 * Why a child: aws-crt 1.33's streaming operations (`createJobExecutionsChangedStream`,
 * `createNextJobExecutionChangedStream`) never let go of node. Its binding overwrites its reference to
 * the JavaScript stream with the one to the stream's external (`aws_napi_mqtt_streaming_operation_new`,
 * source/mqtt_request_response.c), so the stream is never collected: after close() a process that
 * opened one stays up forever on an MQTT 5 client, and aborts in a finalizer at exit on an MQTT 3.1.1
 * connection. Here the parent ends the child with SIGKILL once the device has closed its clients.
 *
 *   parent → child  { id, op: 'connect', … ConnectOptions }      resolves once connected
 *   parent → child  { id, op: 'request', method, request }      a request/response operation
 *   parent → child  { id, op: 'stream', stream, thingName }     resolves once the stream is subscribed
 *   child → parent  { stream, message }                         every event of an open stream
 *   parent → child  { id, op: 'close' }                         closes the streams and the clients
 *   child → parent  { id, ok: true, value } | { id, ok: false, error: { message, modeledError } }
 */
import { io, iot, iotjobs, mqtt, mqtt5 } from 'aws-iot-device-sdk-v2'
import type { mqtt_request_response } from 'aws-iot-device-sdk-v2'
import { once } from 'node:events'

export interface ConnectOptions {
  /** The SDK's MQTT 5 client, or its MQTT 3.1.1 connection. */
  readonly protocol: 5 | 3.1
  readonly port: number
  readonly clientId: string
  readonly username: string
  readonly password: string
  readonly operationTimeoutSeconds: number
  /**
   * Mutual TLS as the SDK's samples connect to AWS IoT (its mtls config builders): the device's
   * certificate and key, the CA it trusts; username and password are then not sent.
   */
  readonly tls?: { readonly ca: string; readonly cert: string; readonly key: string } | undefined
}

/** The host name the devices connect to over TLS: the one the server certificate names. */
const TLS_HOST = 'localhost'

export type StreamName = 'jobExecutionsChanged' | 'nextJobExecutionChanged'

export type RequestMethod =
  'getPendingJobExecutions' | 'startNextPendingJobExecution' | 'describeJobExecution' | 'updateJobExecution'

export type DeviceCommand =
  | ({ readonly op: 'connect' } & ConnectOptions)
  | { readonly op: 'request'; readonly method: RequestMethod; readonly request: object }
  | { readonly op: 'stream'; readonly stream: StreamName; readonly thingName: string }
  | { readonly op: 'close' }

export type ToDevice = DeviceCommand & { readonly id: number }

export type FromDevice =
  | { readonly id: number; readonly ok: true; readonly value?: unknown }
  | {
      readonly id: number
      readonly ok: false
      readonly error: { readonly message: string; readonly modeledError?: unknown }
    }
  | { readonly stream: StreamName; readonly message: unknown }

/** aws-crt's SubscriptionStatusEventType.SubscriptionEstablished. */
const SUBSCRIPTION_ESTABLISHED = 0

interface Device {
  readonly jobs: iotjobs.IotJobsClientv2
  readonly close: () => Promise<void>
  readonly streams: { close(): void }[]
}

let device: Device | undefined

const reply = (message: FromDevice): void => {
  process.send?.(message)
}

async function connect(options: ConnectOptions): Promise<Device> {
  const rr = {
    maxRequestResponseSubscriptions: 6,
    maxStreamingSubscriptions: 2,
    operationTimeoutInSeconds: options.operationTimeoutSeconds,
  }
  if (options.protocol === 5) {
    const client = new mqtt5.Mqtt5Client(
      options.tls === undefined
        ? {
            hostName: '127.0.0.1',
            port: options.port,
            sessionBehavior: mqtt5.ClientSessionBehavior.Clean,
            connectProperties: {
              clientId: options.clientId,
              keepAliveIntervalSeconds: 30,
              username: options.username,
              password: Buffer.from(options.password),
            },
          }
        : iot.AwsIotMqtt5ClientConfigBuilder.newDirectMqttBuilderWithMtlsFromMemory(
            TLS_HOST,
            options.tls.cert,
            options.tls.key,
          )
            .withCertificateAuthority(options.tls.ca)
            .withPort(options.port)
            .withSessionBehavior(mqtt5.ClientSessionBehavior.Clean)
            .withConnectProperties({ clientId: options.clientId, keepAliveIntervalSeconds: 30 })
            .build(),
    )
    const connected = once(client, mqtt5.Mqtt5Client.CONNECTION_SUCCESS)
    client.start()
    await connected
    const jobs = iotjobs.IotJobsClientv2.newFromMqtt5(client, rr)
    return {
      jobs,
      streams: [],
      close: async () => {
        jobs.close()
        const stopped = once(client, mqtt5.Mqtt5Client.STOPPED)
        client.stop()
        await stopped
        client.close()
      },
    }
  }
  const connection = new mqtt.MqttClient().new_connection(
    options.tls === undefined
      ? {
          client_id: options.clientId,
          host_name: '127.0.0.1',
          port: options.port,
          use_websocket: false,
          clean_session: true,
          keep_alive: 30,
          socket_options: new io.SocketOptions(io.SocketType.STREAM, io.SocketDomain.IPV4),
          username: options.username,
          password: options.password,
        }
      : iot.AwsIotMqttConnectionConfigBuilder.new_mtls_builder(options.tls.cert, options.tls.key)
          .with_certificate_authority(options.tls.ca)
          .with_endpoint(TLS_HOST)
          .with_port(options.port)
          .with_client_id(options.clientId)
          .with_clean_session(true)
          .with_keep_alive_seconds(30)
          .build(),
  )
  await connection.connect()
  const jobs = iotjobs.IotJobsClientv2.newFromMqtt311(connection, rr)
  return {
    jobs,
    streams: [],
    close: async () => {
      jobs.close()
      await connection.disconnect()
    },
  }
}

async function openStream(current: Device, name: StreamName, thingName: string): Promise<void> {
  const stream: mqtt_request_response.StreamingOperation<unknown> =
    name === 'jobExecutionsChanged'
      ? current.jobs.createJobExecutionsChangedStream({ thingName })
      : current.jobs.createNextJobExecutionChangedStream({ thingName })
  current.streams.push(stream)
  stream.on('incomingPublish', (event) => reply({ stream: name, message: event.message }))
  const established = new Promise<void>((resolve, reject) => {
    stream.on('subscriptionStatus', (status) => {
      // A number: the enum is aws-crt's, which this project does not depend on directly.
      if (Number(status.type) === SUBSCRIPTION_ESTABLISHED) resolve()
      else reject(new Error(`the ${name} stream's subscription: ${JSON.stringify(status)}`))
    })
  })
  stream.open()
  await established
}

async function handle(message: ToDevice): Promise<unknown> {
  if (message.op === 'connect') {
    device = await connect(message)
    return undefined
  }
  if (device === undefined) throw new Error('not connected')
  switch (message.op) {
    case 'request':
      // Each method takes its own request type; the parent sends what the SDK's model describes.
      return (device.jobs[message.method] as (request: object) => Promise<unknown>).call(
        device.jobs,
        message.request,
      )
    case 'stream':
      return openStream(device, message.stream, message.thingName)
    case 'close': {
      for (const stream of device.streams) stream.close()
      await device.close()
      device = undefined
      return undefined
    }
  }
}

process.on('message', (message: ToDevice) => {
  handle(message).then(
    (value) => reply({ id: message.id, ok: true, ...(value === undefined ? {} : { value }) }),
    (error: unknown) =>
      reply({
        id: message.id,
        ok: false,
        error: {
          message: error instanceof Error ? error.message : String(error),
          // The SDK's rejection of a modeled error (ServiceError) carries the service's reply.
          modeledError: (error as { modeledError?: unknown }).modeledError,
        },
      }),
  )
})
