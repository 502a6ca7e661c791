/**
 * The embedded MQTT broker (aedes) on its own TCP port and over WebSocket on a path of the HTTP port,
 * so `fleetjobs serve` gives devices everything with nothing else installed.
 */
import { Aedes } from 'aedes'
import type { AedesPublishPacket, AuthenticateError, Client } from 'aedes'
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import type { Duplex } from 'node:stream'
import { WebSocketServer, createWebSocketStream } from 'ws'
import type { DeviceAuth, MqttIdentity } from './device-auth.js'
import { mayPublish, maySubscribe } from './device-auth.js'
import { REQUEST_FILTER } from './topics.js'
import { ServiceError } from '../domain/errors.js'
import type { MqttTransport } from './transport.js'

/** The path of the HTTP port that carries MQTT over WebSocket. */
export const MQTT_WEBSOCKET_PATH = '/mqtt'

/** Device authentication on the embedded broker; without it any client may use any topic. */
export interface BrokerAuth {
  readonly auth: DeviceAuth
  /** A device's thing must be registered (and still be) when it connects. */
  readonly thingExists: (thingName: string) => Promise<boolean>
}

/** CONNACK return codes of MQTT 3.1.1. */
const BAD_CREDENTIALS = 4
const NOT_AUTHORIZED = 5

/** Verifies a SigV4-presigned upgrade request (http/sigv4.ts); throws a ServiceError when it is not. */
export interface UpgradeVerifier {
  verify(
    req: { method: string; url: string; headers: IncomingMessage['headers']; body: Buffer },
    services: readonly string[],
  ): Promise<unknown>
}

/** AWS IoT's signing name for MQTT over WebSocket, and the control plane's. */
const WEBSOCKET_SIGNING_NAMES = ['iotdevicegateway', 'iot'] as const

export class EmbeddedBroker implements MqttTransport {
  private handlers: ((topic: string, payload: Buffer, qos: 0 | 1 | 2) => void)[] = []
  private readonly ws = new WebSocketServer({ noServer: true })

  private constructor(
    readonly aedes: Aedes,
    private readonly tcp: Server,
    /** Whether devices must authenticate (docs/mqtt.md#device-authentication). */
    readonly authenticates: boolean,
  ) {
    this.ws.on('connection', (socket) => {
      aedes.handle(createWebSocketStream(socket))
    })
  }

  /** Starts the broker on host:port (0 picks a free port) and subscribes to the device requests. */
  static async start(host: string, port: number, auth?: BrokerAuth): Promise<EmbeddedBroker> {
    const aedes = await Aedes.createBroker({ drainTimeout: 30_000 })
    if (auth !== undefined) guard(aedes, auth)
    const tcp = createServer((socket) => aedes.handle(socket))
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(port, host, () => resolve())
    })
    const broker = new EmbeddedBroker(aedes, tcp, auth !== undefined)
    await new Promise<void>((resolve) => {
      aedes.subscribe(
        REQUEST_FILTER,
        (packet: AedesPublishPacket, done: () => void) => {
          const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
          for (const handler of broker.handlers) handler(packet.topic, payload, packet.qos)
          // Deferred: a synchronous done() lets aedes drain its queue recursively under a burst until
          // the stack overflows (aedes#193, mqemitter#204).
          setImmediate(done)
        },
        () => resolve(),
      )
    })
    return broker
  }

  get port(): number {
    const address = this.tcp.address()
    return typeof address === 'object' && address !== null ? address.port : 0
  }

  /** Serves MQTT over WebSocket on `MQTT_WEBSOCKET_PATH` of an HTTP server. */
  /**
   * MQTT over WebSocket on `server` at MQTT_WEBSOCKET_PATH. With `auth`, the upgrade request must be a
   * SigV4-presigned URL (as AWS IoT's `wss://…/mqtt?X-Amz-…`, signing name `iotdevicegateway`, or
   * `iot`); anything else is refused with 403 before the WebSocket opens.
   */
  attachWebSocket(server: HttpServer, auth?: UpgradeVerifier): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if ((req.url ?? '').split('?')[0] !== MQTT_WEBSOCKET_PATH) {
        socket.destroy()
        return
      }
      const accept = () =>
        this.ws.handleUpgrade(req, socket, head, (ws) => this.ws.emit('connection', ws, req))
      if (auth === undefined) return accept()
      auth
        .verify(
          { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body: Buffer.alloc(0) },
          WEBSOCKET_SIGNING_NAMES,
        )
        .then(accept, (error: unknown) => {
          const code = error instanceof ServiceError ? error.code : 'InvalidSignatureException'
          socket.end(
            `HTTP/1.1 403 Forbidden\r\nx-amzn-ErrorType: ${code}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`,
          )
        })
    })
  }

  onMessage(handler: (topic: string, payload: Buffer, qos: 0 | 1 | 2) => void): void {
    this.handlers.push(handler)
  }

  publish(topic: string, payload: string, qos: 0 | 1): Promise<void> {
    return new Promise((resolve, reject) => {
      this.aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false },
        (error?: Error | null) => (error ? reject(error) : resolve()),
      )
    })
  }

  async close(): Promise<void> {
    this.handlers = []
    for (const client of this.ws.clients) client.terminate()
    await new Promise<void>((resolve) => this.ws.close(() => resolve()))
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()))
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()))
  }
}

/** Installs authentication and topic authorisation (docs/mqtt.md#device-authentication). */
function guard(aedes: Aedes, { auth, thingExists }: BrokerAuth): void {
  const identities = new WeakMap<Client, MqttIdentity>()
  const refuse = (message: string, returnCode: number): AuthenticateError =>
    // AuthErrorCode is a const enum (not importable under isolatedModules); its values are MQTT's.
    Object.assign<Error, { returnCode: AuthenticateError['returnCode'] }>(new Error(message), {
      returnCode: returnCode,
    })
  aedes.authenticate = (client, username, password, callback) => {
    const identity = auth.verify(username, password)
    if (identity === undefined) {
      callback(refuse('bad username or password', BAD_CREDENTIALS), false)
      return
    }
    if (identity.kind === 'operator') {
      identities.set(client, identity)
      callback(null, true)
      return
    }
    thingExists(identity.thingName).then(
      (exists) => {
        if (!exists) {
          callback(refuse(`thing ${identity.thingName} is not registered`, NOT_AUTHORIZED), false)
          return
        }
        identities.set(client, identity)
        callback(null, true)
      },
      () => callback(refuse('cannot check the thing now', NOT_AUTHORIZED), false),
    )
  }
  aedes.authorizePublish = (client, packet, callback) => {
    // client is null for the server's own publishes (replies, notifications).
    if (client === null) return callback(null)
    const identity = identities.get(client)
    if (identity === undefined || !mayPublish(identity, packet.topic)) {
      return callback(new Error(`publishing to ${packet.topic} is not allowed`))
    }
    callback(null)
  }
  aedes.authorizeSubscribe = (client, sub, callback) => {
    const identity = identities.get(client)
    // A refused filter is a failure (0x80) in the SUBACK; the connection stays.
    callback(null, identity !== undefined && maySubscribe(identity, sub.topic) ? sub : null)
  }
}
