/**
 * What the MQTT side needs from a broker, embedded or external: receive device requests, publish
 * replies and notifications. Callback APIs are turned into promises here, at the edge.
 */
export interface MqttTransport {
  /** Receives every message published under `$aws/things/+/jobs/#` (including our own; callers filter). */
  onMessage(handler: (topic: string, payload: Buffer, qos: 0 | 1 | 2) => void): void
  /** Publishes a message, not retained; resolves when the broker has it. */
  publish(topic: string, payload: string, qos: 0 | 1): Promise<void>
  close(): Promise<void>
}
