/**
 * Serves the device Jobs API on a broker: parses each request topic, runs the use case, publishes the
 * reply with the request's QoS [open-question 5]. Requests of one thing are handled in arrival order.
 *
 * What waits is bounded (docs/mqtt.md#limits): each thing's queue holds at most
 * `maxQueuedRequestsPerThing` requests, and one beyond that is answered `RequestThrottled` at once
 * [spec: jobs-device-api#6], its publisher held back until that answer is out; a request whose client
 * has disconnected by the time its turn comes is dropped unanswered (nobody is left to hear the answer,
 * and a device that comes back asks again).
 *
 * MQTT 5: the reply to a request that carries Correlation Data carries the same Correlation Data, on the
 * usual `…/accepted` or `…/rejected` topic; a request's Response Topic is not used (docs/mqtt.md#mqtt-5).
 */
import type { AppContext } from '../app/context.js'
import type { LoadedModels } from '../aws-model/model.js'
import type { RateLimit } from '../app/throttle.js'
import { Throttle } from '../app/throttle.js'
import { DEFAULT_BROKER_LIMITS } from './broker-limits.js'
import { DeviceApi } from './device-api.js'
import type { Reply } from './device-api.js'
import type { TopicOptions } from './topics.js'
import { parseTopic } from './topics.js'
import type { MessageOrigin, MessageProperties, MqttTransport } from './transport.js'

/**
 * Requests running against the store at once, all things together. The others wait their turn here,
 * without a time limit, rather than in the store's connection pool, whose wait has one (PostgreSQL: 5 s,
 * then "The database is unavailable"): 10,000 devices asking at once are served, later, not failed.
 * Enough to fill SQLite's group commits and a PostgreSQL pool several times over.
 */
export const RUNNING_REQUESTS = 64

/** A thing's requests: the tail of its chain, and who sent those in it (the one running included). */
interface ThingQueue {
  tail: Promise<void>
  readonly senders: Set<{ readonly origin: MessageOrigin | undefined }>
}

export class DeviceMqttService {
  private readonly api: DeviceApi
  /** Each thing's queue of requests, so that one thing's requests never overtake each other. */
  private readonly queues = new Map<string, ThingQueue>()
  /** Replies to throttled requests under way (drain waits for them too). */
  private readonly throttledReplies = new Set<Promise<void>>()
  private readonly running = new Slots(RUNNING_REQUESTS)

  constructor(
    ctx: AppContext,
    models: LoadedModels,
    private readonly transport: MqttTransport,
    private readonly options: TopicOptions,
    private readonly onError: (error: unknown) => void,
    rateLimit?: RateLimit,
    private readonly maxQueuedPerThing: number = DEFAULT_BROKER_LIMITS.maxQueuedRequestsPerThing,
  ) {
    const throttle = rateLimit === undefined ? undefined : new Throttle(rateLimit, () => ctx.clock.nowMs())
    this.api = new DeviceApi(ctx, models, onError, throttle)
    transport.onMessage((topic, payload, qos, origin, properties) =>
      this.receive(topic, payload, qos, origin, replyProperties(properties)),
    )
  }

  /** Requests waiting or running, over all things (tests, diagnostics). */
  get queued(): number {
    let n = 0
    for (const q of this.queues.values()) n += q.senders.size
    return n
  }

  private receive(
    topic: string,
    payload: Buffer,
    qos: 0 | 1 | 2,
    origin: MessageOrigin | undefined,
    /** The MQTT 5 properties the reply carries. */
    replyWith: MessageProperties | undefined,
  ): Promise<void> | undefined {
    const parsed = parseTopic(topic, this.options)
    if (parsed.kind === 'ignored') return undefined
    const replyQos: 0 | 1 = qos === 0 ? 0 : 1
    const key = parsed.thingName
    const queue = this.queues.get(key) ?? { tail: Promise.resolve(), senders: new Set() }
    if (queue.senders.size >= this.maxQueuedPerThing && live(queue) >= this.maxQueuedPerThing) {
      if (origin?.connected() === false) return undefined
      const reply =
        parsed.kind === 'invalid'
          ? this.api.invalidTopic(topic, payload)
          : this.api.throttled(parsed, payload)
      const sent = this.reply(reply, replyQos, replyWith)
      this.throttledReplies.add(sent)
      void sent.finally(() => this.throttledReplies.delete(sent))
      return sent
    }
    const work = async (): Promise<void> => {
      // The client that asked has gone: drop the request rather than work through a backlog for nobody.
      if (origin?.connected() === false) return
      let reply: Reply
      if (parsed.kind === 'invalid') {
        reply = this.api.invalidTopic(topic, payload)
      } else {
        await this.running.acquire()
        try {
          // It may have gone while waiting for its turn.
          if (origin?.connected() === false) return
          reply = await this.api.handle(parsed, payload)
        } finally {
          this.running.release()
        }
      }
      await this.reply(reply, replyQos, replyWith)
    }
    const sender = { origin }
    queue.senders.add(sender)
    const next = queue.tail
      .then(work)
      .catch(this.onError)
      .finally(() => {
        queue.senders.delete(sender)
        if (queue.senders.size === 0 && this.queues.get(key) === queue) this.queues.delete(key)
      })
    queue.tail = next
    this.queues.set(key, queue)
    return undefined
  }

  /** Publishes a reply; never rejects (a failure is reported). */
  private reply(reply: Reply, qos: 0 | 1, properties: MessageProperties | undefined): Promise<void> {
    return this.transport
      .publish(reply.topic, JSON.stringify(reply.payload), qos, properties)
      .catch(this.onError)
  }

  /** Waits for the requests under way. */
  async drain(): Promise<void> {
    await Promise.all([...[...this.queues.values()].map((q) => q.tail), ...this.throttledReplies])
  }
}

/**
 * The MQTT 5 properties of the reply to a request with `request` properties: its Correlation Data, as
 * the MQTT 5 request/response pattern asks of a responder [MQTT-4.10]. The Response Topic is not
 * followed: AWS IoT Jobs answers on `…/accepted` and `…/rejected` only, and publishing where a request
 * says would let a device have the server publish on topics the device may not use itself.
 */
function replyProperties(request: MessageProperties | undefined): MessageProperties | undefined {
  const correlationData = request?.correlationData
  return correlationData === undefined ? undefined : { correlationData }
}

/** Requests in a queue whose client is still there (those of a client that left will be skipped). */
function live(queue: ThingQueue): number {
  let n = 0
  for (const { origin } of queue.senders) if (origin?.connected() !== false) n += 1
  return n
}

/** A counting semaphore: at most `size` holders; the others wait in arrival order. */
class Slots {
  private free: number
  private readonly waiting: (() => void)[] = []

  constructor(size: number) {
    this.free = size
  }

  acquire(): Promise<void> {
    if (this.free > 0) {
      this.free -= 1
      return Promise.resolve()
    }
    return new Promise((resolve) => this.waiting.push(resolve))
  }

  release(): void {
    const next = this.waiting.shift()
    if (next !== undefined) next()
    else this.free += 1
  }
}
