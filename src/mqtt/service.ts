/**
 * Serves the device Jobs API on a broker: parses each request topic, runs the use case, publishes the
 * reply with the request's QoS [open-question 5]. Requests of one thing are handled in arrival order.
 */
import type { AppContext } from '../app/context.js'
import type { LoadedModels } from '../aws-model/model.js'
import type { RateLimit } from '../app/throttle.js'
import { Throttle } from '../app/throttle.js'
import { DeviceApi } from './device-api.js'
import type { TopicOptions } from './topics.js'
import { parseTopic } from './topics.js'
import type { MqttTransport } from './transport.js'

export class DeviceMqttService {
  private readonly api: DeviceApi
  /** The tail of each thing's queue of requests, so one thing's requests never overtake each other. */
  private readonly tails = new Map<string, Promise<void>>()

  constructor(
    ctx: AppContext,
    models: LoadedModels,
    private readonly transport: MqttTransport,
    private readonly options: TopicOptions,
    private readonly onError: (error: unknown) => void,
    rateLimit?: RateLimit,
  ) {
    const throttle = rateLimit === undefined ? undefined : new Throttle(rateLimit, () => ctx.clock.nowMs())
    this.api = new DeviceApi(ctx, models, onError, throttle)
    transport.onMessage((topic, payload, qos) => this.receive(topic, payload, qos))
  }

  private receive(topic: string, payload: Buffer, qos: 0 | 1 | 2): void {
    const parsed = parseTopic(topic, this.options)
    if (parsed.kind === 'ignored') return
    const replyQos: 0 | 1 = qos === 0 ? 0 : 1
    const work = async (): Promise<void> => {
      const reply =
        parsed.kind === 'invalid'
          ? this.api.invalidTopic(topic, payload)
          : await this.api.handle(parsed, payload)
      await this.transport.publish(reply.topic, JSON.stringify(reply.payload), replyQos)
    }
    const key = parsed.thingName
    const previous = this.tails.get(key) ?? Promise.resolve()
    const next = previous.then(work).catch(this.onError)
    this.tails.set(key, next)
    void next.finally(() => {
      if (this.tails.get(key) === next) this.tails.delete(key)
    })
  }

  /** Waits for the requests under way. */
  async drain(): Promise<void> {
    await Promise.all(this.tails.values())
  }
}
