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
import { BrokerEmitter } from './broker-emitter.js'
import type { BrokerLimits } from './broker-limits.js'
import { ConnectRateLimiter, PacketSizeGuard, brokerLimits } from './broker-limits.js'
import type { DeviceAuth, MqttIdentity } from './device-auth.js'
import { mayPublish, mayReceive, maySubscribe, mayUseClientId } from './device-auth.js'
import { SessionStore } from './session-store.js'
import { REQUEST_FILTER } from './topics.js'
import { ServiceError } from '../domain/errors.js'
import type { MessageHandler, MessageOrigin, MqttTransport } from './transport.js'

/** The path of the HTTP port that carries MQTT over WebSocket. */
export const MQTT_WEBSOCKET_PATH = '/mqtt'

/** Device authentication on the embedded broker; without it any client may use any topic. */
export interface BrokerAuth {
  readonly auth: DeviceAuth
  /** A device's thing must be registered (and still be) when it connects. */
  readonly thingExists: (thingName: string) => Promise<boolean>
}

/** CONNACK return codes of MQTT 3.1.1. [MQTT-3.2.2.3] */
const SERVER_UNAVAILABLE = 3
const BAD_CREDENTIALS = 4
const NOT_AUTHORIZED = 5

/** aedes' own topics ($SYS/<broker id>/…); no client may publish there (aedes' default rule). */
const SYS_PREFIX = '$SYS/'

/** What the embedded broker holds now (tests, diagnostics). */
export interface BrokerStats {
  readonly connectedClients: number
  /** CONNECTs waiting for their turn under the connect rate. */
  readonly pendingConnects: number
  /** Messages queued for a persistent session. */
  readonly queuedFor: (clientId: string) => number
}

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
  private handlers: MessageHandler[] = []
  private readonly ws: WebSocketServer

  private constructor(
    readonly aedes: Aedes,
    private readonly tcp: Server,
    /** Whether devices must authenticate (docs/mqtt.md#device-authentication). */
    readonly authenticates: boolean,
    readonly limits: BrokerLimits,
    private readonly sessions: SessionStore,
    private readonly connects: ConnectRateLimiter,
  ) {
    // A WebSocket message is buffered whole before MQTT sees it: bound it as an MQTT packet is bounded.
    this.ws = new WebSocketServer({ noServer: true, maxPayload: limits.maxPacketBytes })
    this.ws.on('connection', (socket) => {
      aedes.handle(limitPacketSize(createWebSocketStream(socket), limits.maxPacketBytes))
    })
  }

  /**
   * Starts the broker on host:port (0 picks a free port) and subscribes to the device requests.
   * `limits` overrides DEFAULT_BROKER_LIMITS (docs/mqtt.md#limits).
   */
  static async start(
    host: string,
    port: number,
    auth?: BrokerAuth,
    limits: Partial<BrokerLimits> = {},
  ): Promise<EmbeddedBroker> {
    const bounds = brokerLimits(limits)
    const sessions = new SessionStore(bounds.maxQueuedMessagesPerSession)
    const emitter = new BrokerEmitter()
    const aedes = await Aedes.createBroker({ drainTimeout: 30_000, mq: emitter, persistence: sessions })
    const connects = new ConnectRateLimiter(bounds.connectsPerSecond, bounds.maxPendingConnects)
    const clients = trackClients(aedes)
    guard(aedes, bounds, connects, sessions, auth)
    const tcp = createServer((socket) => aedes.handle(limitPacketSize(socket, bounds.maxPacketBytes)))
    await new Promise<void>((resolve, reject) => {
      tcp.once('error', reject)
      tcp.listen(port, host, () => resolve())
    })
    const broker = new EmbeddedBroker(aedes, tcp, auth !== undefined, bounds, sessions, connects)
    await new Promise<void>((resolve) => {
      // On the emitter rather than through aedes.subscribe, to hold back the publisher (see below).
      emitter.on(
        REQUEST_FILTER,
        (message, done) => {
          // Everything aedes emits on a `$aws/…` topic is one of its publish packets.
          const packet = message as unknown as AedesPublishPacket
          const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
          const origin = clients.originOf(packet)
          const held: Promise<void>[] = []
          for (const handler of broker.handlers) {
            const result = handler(packet.topic, payload, packet.qos, origin)
            if (result !== undefined) held.push(result)
          }
          // The publisher's next packets wait for what a handler holds back (a throttled request's reply).
          if (held.length === 0) done()
          else void Promise.all(held).finally(done)
        },
        () => resolve(),
        { holdsPublisher: true },
      )
    })
    return broker
  }

  get port(): number {
    const address = this.tcp.address()
    return typeof address === 'object' && address !== null ? address.port : 0
  }

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

  onMessage(handler: MessageHandler): void {
    this.handlers.push(handler)
  }

  stats(): BrokerStats {
    return {
      connectedClients: this.aedes.connectedClients,
      pendingConnects: this.connects.pending,
      queuedFor: (clientId) => this.sessions.queued(clientId),
    }
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
    this.connects.close()
    for (const client of this.ws.clients) client.terminate()
    await new Promise<void>((resolve) => this.ws.close(() => resolve()))
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()))
    await new Promise<void>((resolve) => this.tcp.close(() => resolve()))
  }
}

/** The connected clients by id, to tell whether the publisher of a request is still there. */
function trackClients(aedes: Aedes): { originOf(packet: AedesPublishPacket): MessageOrigin | undefined } {
  const byId = new Map<string, Client>()
  aedes.on('client', (client) => byId.set(client.id, client))
  aedes.on('clientDisconnect', (client) => {
    if (byId.get(client.id) === client) byId.delete(client.id)
  })
  const gone: MessageOrigin = { connected: () => false }
  return {
    originOf(packet) {
      // aedes stamps a client's publishes with its id; the server's own publishes have none.
      const clientId = (packet as { clientId?: unknown }).clientId
      if (typeof clientId !== 'string') return undefined
      const client = byId.get(clientId)
      return client === undefined ? gone : { connected: () => !client.closed }
    },
  }
}

/**
 * Reads the client's bytes through a PacketSizeGuard: a packet whose header announces more than
 * `maxPacketBytes` closes the connection before its body is read (aedes' parser would buffer all of it).
 */
function limitPacketSize<T extends Duplex>(stream: T, maxPacketBytes: number): T {
  const guard = new PacketSizeGuard(maxPacketBytes)
  const read = stream.read.bind(stream)
  // aedes reads the stream with read() on 'readable'; every byte it gets passes the guard first.
  stream.read = (size?: number): unknown => {
    const chunk: unknown = read(size)
    if (chunk instanceof Uint8Array && !guard.accept(chunk)) {
      stream.destroy(new Error(`an MQTT packet larger than ${maxPacketBytes} bytes`))
      return null
    }
    return chunk
  }
  return stream
}

/** An error aedes turns into the CONNACK return code it carries. */
function refusal(message: string, returnCode: number): AuthenticateError {
  // AuthErrorCode is a const enum (not importable under isolatedModules); its values are MQTT's.
  return Object.assign<Error, { returnCode: AuthenticateError['returnCode'] }>(new Error(message), {
    returnCode: returnCode,
  })
}

/**
 * Installs the connect rate, device authentication and topic authorisation (docs/mqtt.md), and the
 * bound on what a client has not read yet.
 */
function guard(
  aedes: Aedes,
  limits: BrokerLimits,
  connects: ConnectRateLimiter,
  sessions: SessionStore,
  device?: BrokerAuth,
): void {
  const identities = new WeakMap<Client, MqttIdentity>()
  aedes.authenticate = (client, username, password, callback) => {
    connects.admit((admitted) => {
      if (!admitted)
        return callback(refusal('too many connections at once; try again', SERVER_UNAVAILABLE), false)
      if (device === undefined) return callback(null, true)
      authenticate(device, identities, sessions, client, username, password, callback)
    })
  }
  aedes.authorizePublish = (client, packet, callback) => {
    // client is null for the server's own publishes (replies, notifications).
    if (client === null) return callback(null)
    if (packet.topic.startsWith(SYS_PREFIX)) return callback(new Error(`${SYS_PREFIX} topics are reserved`))
    if (device === undefined) return callback(null)
    const identity = identities.get(client)
    if (identity === undefined || !mayPublish(identity, packet.topic)) {
      return callback(new Error(`publishing to ${packet.topic} is not allowed`))
    }
    callback(null)
  }
  if (device !== undefined) {
    aedes.authorizeSubscribe = (client, sub, callback) => {
      const identity = identities.get(client)
      // A refused filter is a failure (0x80) in the SUBACK; the connection stays.
      callback(null, identity !== undefined && maySubscribe(identity, sub.topic) ? sub : null)
    }
  }
  // Every message on its way to a client, its offline queue included, passes here.
  aedes.authorizeForward = (client, packet) => {
    if (client.conn.writableLength > limits.maxOutboundBufferBytes) {
      // A reader this far behind is stalled or too slow: it goes, rather than its backlog growing.
      client.conn.destroy(new Error(`more than ${limits.maxOutboundBufferBytes} bytes unread`))
      return null
    }
    if (device === undefined) return packet
    const identity = identities.get(client)
    return identity !== undefined && mayReceive(identity, packet.topic) ? packet : null
  }
}

/** Who the CONNECT proves, if anyone; a device only with its thing name as client id. */
function authenticate(
  { auth, thingExists }: BrokerAuth,
  identities: WeakMap<Client, MqttIdentity>,
  sessions: SessionStore,
  client: Client,
  username: string | undefined,
  password: Buffer | undefined,
  callback: (error: AuthenticateError | null, success: boolean | null) => void,
): void {
  const identity = auth.verify(username, password)
  if (identity === undefined) return callback(refusal('bad username or password', BAD_CREDENTIALS), false)
  if (!mayUseClientId(identity, client.id)) {
    return callback(
      refusal(`client id ${client.id} is not the thing name ${username ?? ''}`, NOT_AUTHORIZED),
      false,
    )
  }
  if (identity.kind === 'operator') {
    identities.set(client, identity)
    return callback(null, true)
  }
  const accept = (): void => {
    identities.set(client, identity)
    callback(null, true)
  }
  thingExists(identity.thingName).then(
    (exists) => {
      if (!exists)
        return callback(refusal(`thing ${identity.thingName} is not registered`, NOT_AUTHORIZED), false)
      if (client.clean) return accept()
      // A persistent session kept under this client id keeps only what this device may subscribe to.
      sessions
        .dropSubscriptions(client.id, (filter) => maySubscribe(identity, filter))
        .then(accept, () => callback(refusal('cannot check the session now', SERVER_UNAVAILABLE), false))
    },
    () => callback(refusal('cannot check the thing now', NOT_AUTHORIZED), false),
  )
}
