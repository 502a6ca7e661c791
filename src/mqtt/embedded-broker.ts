/**
 * The embedded MQTT broker (aedes) on its own TCP port, over WebSocket on a path of the HTTP port, and
 * optionally over TLS with client certificates, so `fleetjobs serve` gives devices everything with
 * nothing else installed.
 */
import { Aedes } from 'aedes'
import type { AedesPublishPacket, Client } from 'aedes'
import type { IncomingMessage, Server as HttpServer } from 'node:http'
import { createServer } from 'node:net'
import type { Server } from 'node:net'
import type { Duplex } from 'node:stream'
import { createServer as createTlsServer } from 'node:tls'
import { WebSocketServer, createWebSocketStream } from 'ws'
import { hardenBroker, hardenClient } from './aedes-hardening.js'
import { BrokerEmitter } from './broker-emitter.js'
import type { BrokerAuth, Identities } from './broker-guard.js'
import { guard } from './broker-guard.js'
import type { BrokerTls, ConnectedCertificate } from './certificate-identity.js'
import { CertificateConnections } from './certificate-identity.js'
import type { BrokerLimits } from './broker-limits.js'
import { ConnectRateLimiter, PacketSizeGuard, brokerLimits } from './broker-limits.js'
import { SessionStore } from './session-store.js'
import { REQUEST_FILTER } from './topics.js'
import { ServiceError } from '../domain/errors.js'
import type { MessageHandler, MessageOrigin, MessageProperties, MqttTransport } from './transport.js'

export type { BrokerAuth } from './broker-guard.js'
export type { BrokerTls, CertificateIdentityCheck, ConnectedCertificate } from './certificate-identity.js'

/**
 * A listener that could not listen (its port taken: `code` 'EADDRINUSE'): node's error, saying which
 * listener it was, so that the caller can choose another port for that one.
 */
export type BrokerListenError = NodeJS.ErrnoException & { readonly listener: 'tcp' | 'tls' }

/** The path of the HTTP port that carries MQTT over WebSocket. */
export const MQTT_WEBSOCKET_PATH = '/mqtt'

/**
 * Topic aliases an MQTT 5 client may set up towards the broker: AWS IoT Core's Topic Alias Maximum.
 * Each is one topic string per connection.
 */
const TOPIC_ALIAS_MAXIMUM = 8

/** What the embedded broker holds now (tests, diagnostics). */
export interface BrokerStats {
  readonly connectedClients: number
  /** CONNECTs waiting for their turn under the connect rate. */
  readonly pendingConnects: number
  /** Messages queued for a persistent session. */
  readonly queuedFor: (clientId: string) => number
  /** Inbound QoS 2 messages of a session awaiting their PUBREL. */
  readonly awaitingPubrelFor: (clientId: string) => number
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
    private readonly identities: Identities,
    private readonly tls:
      { readonly server: Server; readonly certificates: CertificateConnections } | undefined,
  ) {
    // A WebSocket message is buffered whole before MQTT sees it: bound it as an MQTT packet is bounded.
    this.ws = new WebSocketServer({ noServer: true, maxPayload: limits.maxPacketBytes })
    this.ws.on('connection', (socket) => {
      accept(aedes, limitPacketSize(createWebSocketStream(socket), limits.maxPacketBytes))
    })
  }

  /**
   * Starts the broker on host:port (0 picks a free port) and subscribes to the device requests.
   * `limits` overrides DEFAULT_BROKER_LIMITS (docs/mqtt.md#limits). With `tls`, MQTT over TLS too, where
   * a device is identified by its client certificate (docs/mqtt.md#mqtt-over-tls). A port that is taken
   * rejects with a BrokerListenError (`code` 'EADDRINUSE', `listener` 'tcp' or 'tls'), and nothing is
   * left running.
   */
  static async start(
    host: string,
    port: number,
    auth?: BrokerAuth,
    limits: Partial<BrokerLimits> = {},
    tls?: BrokerTls,
  ): Promise<EmbeddedBroker> {
    const bounds = brokerLimits(limits)
    const sessions = new SessionStore(bounds.maxQueuedMessagesPerSession)
    const emitter = new BrokerEmitter()
    const aedes = await Aedes.createBroker({
      drainTimeout: 30_000,
      mq: emitter,
      persistence: sessions,
      // MQTT 5: advertised in the CONNACK. The packet size is enforced before aedes reads a packet
      // (limitPacketSize); receiveMaximum is advisory (a flood is held back per thing, service.ts).
      maximumPacketSize: bounds.maxPacketBytes,
      receiveMaximum: bounds.maxQueuedRequestsPerThing,
      sessionExpiryIntervalLimit: bounds.maxSessionExpirySeconds,
      topicAliasMaximum: TOPIC_ALIAS_MAXIMUM,
    })
    hardenBroker(aedes)
    const connects = new ConnectRateLimiter(bounds.connectsPerSecond, bounds.maxPendingConnects)
    const clients = trackClients(aedes)
    const certificates = tls === undefined ? undefined : new CertificateConnections()
    const identities = guard(
      aedes,
      bounds,
      connects,
      sessions,
      auth,
      tls === undefined || certificates === undefined
        ? undefined
        : { connections: certificates, check: tls.certificateIdentity, logger: tls.logger },
    )
    // Nagle's algorithm off on every broker socket (the WebSocket ones are the HTTP listener's, which
    // sets it too): a publish that follows an unacknowledged small write would otherwise wait for the
    // client's delayed ACK, some 40 ms on Linux.
    const tcp = createServer({ noDelay: true }, (socket) =>
      accept(aedes, limitPacketSize(socket, bounds.maxPacketBytes)),
    )
    const tlsServer =
      tls === undefined || certificates === undefined
        ? undefined
        : createTlsServer(
            {
              key: tls.key,
              cert: tls.cert,
              ...(tls.ca === undefined ? {} : { ca: tls.ca }),
              // Every client is asked for a certificate and any is taken: the registry decides at
              // CONNECT, not the chain (a certificate may be registered without its CA).
              requestCert: true,
              rejectUnauthorized: false,
              noDelay: true,
            },
            (socket) => {
              const client = accept(aedes, limitPacketSize(socket, bounds.maxPacketBytes))
              // Before the client's first byte is read (aedes reads on 'readable', later).
              certificates.accept(client, socket)
            },
          )
    try {
      await listen(tcp, port, host, 'tcp')
      if (tls !== undefined && tlsServer !== undefined) await listen(tlsServer, tls.port, tls.host, 'tls')
    } catch (error) {
      await Promise.all([closeServer(tcp), closeServer(tlsServer)])
      await new Promise<void>((resolve) => aedes.close(() => resolve()))
      throw error
    }
    const broker = new EmbeddedBroker(
      aedes,
      tcp,
      auth !== undefined,
      bounds,
      sessions,
      connects,
      identities,
      tlsServer === undefined || certificates === undefined ? undefined : { server: tlsServer, certificates },
    )
    await new Promise<void>((resolve) => {
      // On the emitter rather than through aedes.subscribe, to hold back the publisher (see below).
      emitter.on(
        REQUEST_FILTER,
        (message, done) => {
          // Everything aedes emits on a `$aws/…` topic is one of its publish packets.
          const packet = message as unknown as AedesPublishPacket
          const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload)
          const origin = clients.originOf(packet)
          const properties = (packet as { properties?: MessageProperties }).properties
          const held: Promise<void>[] = []
          for (const handler of broker.handlers) {
            const result = handler(packet.topic, payload, packet.qos, origin, properties)
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
    return portOf(this.tcp)
  }

  /** The MQTT over TLS port; undefined without the TLS listener. */
  get tlsPort(): number | undefined {
    return this.tls === undefined ? undefined : portOf(this.tls.server)
  }

  /**
   * Ends at once every connection on the TLS listener that uses the certificate `certificateId` (only
   * those acting as `thingName`, when given): its traffic stops now, an MQTT 5 client is told DISCONNECT
   * 0x87, and the socket closes; a CONNECT still being checked with it is refused. For a certificate
   * deactivated, revoked, deleted or detached, or whose CA was deactivated. Returns how many it ended.
   */
  disconnectCertificate(certificateId: string, thingName?: string): number {
    return (
      this.tls?.certificates.disconnect(certificateId, thingName, (client) =>
        this.identities.delete(client),
      ) ?? 0
    )
  }

  /**
   * The certificates the TLS listener's connections use, one entry per connection, so that the server
   * can check them against the registry from time to time (another node's changes) and disconnect those
   * that lost their rights.
   */
  connectedCertificates(): ConnectedCertificate[] {
    return this.tls?.certificates.inUse() ?? []
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
      awaitingPubrelFor: (clientId) => this.sessions.incomingFor(clientId),
    }
  }

  publish(topic: string, payload: string, qos: 0 | 1, properties?: MessageProperties): Promise<void> {
    const v5 =
      properties?.correlationData === undefined
        ? {}
        : { properties: { correlationData: properties.correlationData } }
    return new Promise((resolve, reject) => {
      this.aedes.publish(
        { cmd: 'publish', topic, payload: Buffer.from(payload), qos, retain: false, dup: false, ...v5 },
        (error?: Error | null) => (error ? reject(error) : resolve()),
      )
    })
  }

  connected(): boolean {
    return this.tcp.listening && !this.aedes.closed
  }

  async close(): Promise<void> {
    this.handlers = []
    this.connects.close()
    for (const client of this.ws.clients) client.terminate()
    await new Promise<void>((resolve) => this.ws.close(() => resolve()))
    await new Promise<void>((resolve) => this.aedes.close(() => resolve()))
    await Promise.all([closeServer(this.tcp), closeServer(this.tls?.server)])
  }
}

function portOf(server: Server): number {
  const address = server.address()
  return typeof address === 'object' && address !== null ? address.port : 0
}

/** Listens on host:port; a failure is a BrokerListenError naming `listener`. */
function listen(server: Server, port: number, host: string, listener: 'tcp' | 'tls'): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: NodeJS.ErrnoException): void => reject(Object.assign(error, { listener }))
    server.once('error', failed)
    server.listen(port, host, () => {
      server.off('error', failed)
      resolve()
    })
  })
}

/** Stops listening and resolves once every connection has closed (at once, when it never listened). */
function closeServer(server: Server | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (server === undefined || !server.listening) return resolve()
    server.close(() => resolve())
  })
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

/** Hands a connection to aedes, with the guards aedes 2.0.0-beta.1 needs (aedes-hardening.ts). */
function accept(aedes: Aedes, stream: Duplex): Client {
  const client = aedes.handle(stream)
  hardenClient(client)
  return client
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
