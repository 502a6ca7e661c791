/**
 * fleetjobs as a privileged client of an existing broker (Mosquitto, EMQX, a cluster): it subscribes
 * to the device request topics and publishes replies and notifications there.
 *
 * Several fleetjobs nodes can share a broker without answering a request twice by subscribing through
 * a shared subscription (`$share/{group}/$aws/things/+/jobs/#`): the broker gives each request to one
 * member of the group. Measured here: Mosquitto 2.0.11 does not deliver `$`-topics to shared
 * subscriptions, so with Mosquitto leave the group unset and run one MQTT-serving node (docs/mqtt.md).
 */
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import { REQUEST_FILTER } from './topics.js'
import type { MessageHandler, MessageProperties, MqttTransport } from './transport.js'

export interface ExternalBrokerOptions {
  /** `mqtt://user:pass@host:port` (or mqtts://, ws://, wss://). */
  readonly url: string
  /** Shared-subscription group; undefined subscribes plainly (one node only). */
  readonly sharedGroup?: string | undefined
  /**
   * Stable per node (the server derives it from the data directory), so that a restarted node resumes
   * its session and gets the requests the broker kept for it.
   */
  readonly clientId?: string | undefined
  /** Subscribe to device requests now (default true); `serveRequests` changes it later. */
  readonly serveRequests?: boolean | undefined
}

/** How long the broker keeps a stopped node's session (MQTT 5 session expiry), in seconds. */
const SESSION_EXPIRY_S = 3600
/** A publish the broker has not acknowledged by then fails (the outbox tries it again). */
const PUBLISH_TIMEOUT_MS = 10_000
/** How long close waits for in-flight messages before it drops the connection. */
const CLOSE_TIMEOUT_MS = 5_000

export class ExternalBroker implements MqttTransport {
  private handlers: MessageHandler[] = []

  private serving = false

  private constructor(
    private readonly client: MqttClient,
    private readonly filter: string,
  ) {
    client.on('message', (topic, payload, packet) => {
      if (!this.serving) return
      // mqtt.js has no way to hold back one publisher; the handler's promise only says when it is done.
      for (const handler of this.handlers)
        void handler(topic, payload, packet.qos, undefined, packet.properties)
    })
  }

  /** MQTT 5 where the broker speaks it (its session expiry bounds kept sessions), else MQTT 3.1.1. */
  static async connect(options: ExternalBrokerOptions): Promise<ExternalBroker> {
    try {
      return await ExternalBroker.open(options, 5)
    } catch (error) {
      // CONNACK 1: "unacceptable protocol version" (aedes, older brokers).
      if ((error as { code?: unknown }).code !== 1) throw error
      return ExternalBroker.open(options, 4)
    }
  }

  private static async open(options: ExternalBrokerOptions, protocolVersion: 4 | 5): Promise<ExternalBroker> {
    const client = await mqtt.connectAsync(options.url, {
      clientId: options.clientId ?? `fleetjobs-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
      // A persistent session keeps QoS 1 requests that arrive while this node reconnects or restarts;
      // with MQTT 5 the session expiry bounds how long a broker keeps the session of a node that is gone.
      protocolVersion,
      clean: false,
      ...(protocolVersion === 5 ? { properties: { sessionExpiryInterval: SESSION_EXPIRY_S } } : {}),
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    })
    sendAtOnce(client)
    client.on('connect', () => sendAtOnce(client))
    const filter =
      options.sharedGroup === undefined ? REQUEST_FILTER : `$share/${options.sharedGroup}/${REQUEST_FILTER}`
    const broker = new ExternalBroker(client, filter)
    if (options.serveRequests ?? true) await broker.serveRequests(true)
    // A resumed session may still hold the subscription of a time this node served requests.
    else await client.unsubscribeAsync(filter)
    return broker
  }

  /**
   * Subscribes to the device request topics, or unsubscribes (another node serves them). Messages that
   * arrive while not serving are dropped, not answered.
   */
  async serveRequests(on: boolean): Promise<void> {
    if (on === this.serving) return
    this.serving = on
    if (on) await this.client.subscribeAsync(this.filter, { qos: 1 })
    else await this.client.unsubscribeAsync(this.filter)
  }

  onMessage(handler: MessageHandler): void {
    this.handlers.push(handler)
  }

  /**
   * Rejects while the broker is unreachable: the outbox keeps the notification and retries. The
   * properties go out only on an MQTT 5 connection (mqtt.js leaves them out on 3.1.1).
   */
  async publish(topic: string, payload: string, qos: 0 | 1, properties?: MessageProperties): Promise<void> {
    if (!this.client.connected) throw new Error('the MQTT broker is not connected')
    await withTimeout(
      this.client.publishAsync(topic, payload, {
        qos,
        retain: false,
        ...(properties?.correlationData === undefined
          ? {}
          : { properties: { correlationData: properties.correlationData } }),
      }),
      PUBLISH_TIMEOUT_MS,
      `the MQTT broker did not acknowledge a publish to ${topic}`,
    )
  }

  connected(): boolean {
    return this.client.connected
  }

  async close(): Promise<void> {
    this.handlers = []
    try {
      await withTimeout(this.client.endAsync(), CLOSE_TIMEOUT_MS, 'closing the MQTT connection')
    } catch {
      // The broker is gone: drop the connection without waiting for it (unsent messages stay in the outbox).
      await this.client.endAsync(true)
    }
  }
}

function withTimeout<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

/**
 * Nagle's algorithm off on the client's current socket (TCP or TLS; a reconnect makes a new one): a
 * notification written while an earlier small write is still unacknowledged would otherwise wait for
 * the broker's delayed ACK, some 40 ms on Linux.
 */
function sendAtOnce(client: MqttClient): void {
  const stream = client.stream as { setNoDelay?: (noDelay: boolean) => unknown }
  stream.setNoDelay?.(true)
}
