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
import type { MqttTransport } from './transport.js'

export interface ExternalBrokerOptions {
  /** `mqtt://user:pass@host:port` (or mqtts://, ws://, wss://). */
  readonly url: string
  /** Shared-subscription group; undefined subscribes plainly (one node only). */
  readonly sharedGroup?: string | undefined
  readonly clientId?: string | undefined
}

export class ExternalBroker implements MqttTransport {
  private handlers: ((topic: string, payload: Buffer, qos: 0 | 1 | 2) => void)[] = []

  private constructor(private readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      for (const handler of this.handlers) handler(topic, payload, packet.qos)
    })
  }

  static async connect(options: ExternalBrokerOptions): Promise<ExternalBroker> {
    const client = await mqtt.connectAsync(options.url, {
      clientId: options.clientId ?? `fleetjobs-${process.pid}-${Math.random().toString(16).slice(2, 10)}`,
      // A persistent session keeps QoS 1 requests that arrive while this node reconnects.
      clean: false,
      reconnectPeriod: 1000,
      connectTimeout: 10_000,
    })
    const broker = new ExternalBroker(client)
    const filter =
      options.sharedGroup === undefined ? REQUEST_FILTER : `$share/${options.sharedGroup}/${REQUEST_FILTER}`
    await client.subscribeAsync(filter, { qos: 1 })
    return broker
  }

  onMessage(handler: (topic: string, payload: Buffer, qos: 0 | 1 | 2) => void): void {
    this.handlers.push(handler)
  }

  /** Rejects while the broker is unreachable: the outbox keeps the notification and retries. */
  async publish(topic: string, payload: string, qos: 0 | 1): Promise<void> {
    if (!this.client.connected) throw new Error('the MQTT broker is not connected')
    await this.client.publishAsync(topic, payload, { qos, retain: false })
  }

  async close(): Promise<void> {
    this.handlers = []
    await this.client.endAsync()
  }
}
