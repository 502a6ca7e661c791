/**
 * What the MQTT side needs from a broker, embedded or external: receive device requests, publish
 * replies and notifications. Callback APIs are turned into promises here, at the edge.
 */
export interface MqttTransport {
  /** Receives every message published under `$aws/things/+/jobs/#` (including our own; callers filter). */
  onMessage(handler: MessageHandler): void
  /** Publishes a message, not retained; resolves when the broker has it. */
  publish(topic: string, payload: string, qos: 0 | 1): Promise<void>
  close(): Promise<void>
}

/** The client that published a message, as far as the broker can tell (the embedded one can). */
export interface MessageOrigin {
  /** False once that client's connection has closed. */
  readonly connected: () => boolean
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
) => void | Promise<void>
