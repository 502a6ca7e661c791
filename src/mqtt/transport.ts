/**
 * What the MQTT side needs from a broker, embedded or external: receive device requests, publish
 * replies and notifications. Callback APIs are turned into promises here, at the edge.
 */
export interface MqttTransport {
  /** Receives every message published under `$aws/things/+/jobs/#` (including our own; callers filter). */
  onMessage(handler: MessageHandler): void
  /**
   * Publishes a message, not retained; resolves when the broker has it. `properties` reach MQTT 5
   * subscribers only (an MQTT 3.1.1 subscriber gets the message without them).
   */
  publish(topic: string, payload: string, qos: 0 | 1, properties?: MessageProperties): Promise<void>
  /** Whether publishing can reach devices now (the embedded broker listens; the external one is connected). */
  connected(): boolean
  close(): Promise<void>
}

/** The client that published a message, as far as the broker can tell (the embedded one can). */
export interface MessageOrigin {
  /** False once that client's connection has closed. */
  readonly connected: () => boolean
}

/**
 * The MQTT 5 properties of a PUBLISH that fleetjobs reads or sets (mqtt-packet's names) [MQTT-3.3.2.3].
 * A message from an MQTT 3.1.1 client has none.
 */
export interface MessageProperties {
  /** [MQTT-3.3.2.3.6] Chosen by a requester; a responder copies it into its response. */
  readonly correlationData?: Buffer | undefined
  /** [MQTT-3.3.2.3.5] Where the requester would like the response (fleetjobs does not publish there). */
  readonly responseTopic?: string | undefined
}

/**
 * Takes one message. A returned promise holds back the publishing client's next packets until it
 * settles (on the embedded broker: back-pressure on a client that floods), so it must settle soon and
 * must not reject. Without an `origin` the publisher is unknown (the server itself, an external broker).
 */
export type MessageHandler = (
  topic: string,
  payload: Buffer,
  qos: 0 | 1 | 2,
  origin?: MessageOrigin,
  properties?: MessageProperties,
) => void | Promise<void>
