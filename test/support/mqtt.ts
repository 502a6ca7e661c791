/**
 * Helpers for the MQTT tests, with the real `mqtt` npm client: a device client that subscribes to the
 * reply topics before it publishes (as the AWS device SDKs do), request/reply matched by `clientToken`
 * with a timeout that names the request, message collectors with waits that fail with what they saw,
 * and a poll-until helper. No test measures time: every wait only bounds how long a failure takes.
 * [spec: jobs-device-api#2.1] [spec: jobs-device-api#4]
 */
import mqtt from 'mqtt'
import type { IClientOptions, IClientPublishOptions, IPublishPacket, MqttClient } from 'mqtt'
import { randomUUID } from 'node:crypto'
import type { Harness } from './harness.js'
import { unique } from './harness.js'

/** How long a wait lasts before it fails; generous, since the machine is shared. */
export const WAIT_MS = 10_000

export interface Received {
  readonly topic: string
  readonly payload: Buffer
  /** The payload parsed as JSON (undefined when it is not JSON). */
  readonly json: Record<string, unknown>
  readonly qos: number
  readonly retain: boolean
  /** The MQTT 5 properties (undefined on an MQTT 3.1.1 connection, or when it has none). */
  readonly properties?: IPublishPacket['properties']
}

/** Whether an MQTT topic filter (`+`, `#`) matches a topic. */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/')
  const t = topic.split('/')
  for (let i = 0; i < f.length; i += 1) {
    if (f[i] === '#') return true
    if (i >= t.length) return false
    if (f[i] !== '+' && f[i] !== t[i]) return false
  }
  return f.length === t.length
}

function parse(payload: Buffer): Record<string, unknown> {
  try {
    const value: unknown = JSON.parse(payload.toString('utf8'))
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : {}
  } catch {
    // Not JSON: tests that care look at `payload`.
    return {}
  }
}

/** Resolves when `check` returns a value other than undefined; fails after `timeoutMs` naming `what`. */
export async function waitUntil<T>(
  what: string,
  check: () => T | undefined | Promise<T | undefined>,
  timeoutMs = WAIT_MS,
): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

/** Every message a client receives on topics matching `filter`, in arrival order. */
export class Collector {
  readonly messages: Received[] = []
  private waiters: (() => void)[] = []

  constructor(readonly filter: string) {}

  /** Called by the client for every message. */
  offer(message: Received): void {
    if (!topicMatches(this.filter, message.topic)) return
    this.messages.push(message)
    const waiters = this.waiters
    this.waiters = []
    for (const w of waiters) w()
  }

  /** Messages on exactly this topic. */
  on(topic: string): Received[] {
    return this.messages.filter((m) => m.topic === topic)
  }

  /** Resolves with the first message (from index `from`) that satisfies `match`. */
  async waitFor(
    what: string,
    match: (m: Received) => boolean,
    options: { from?: number; timeoutMs?: number } = {},
  ): Promise<Received> {
    const timeoutMs = options.timeoutMs ?? WAIT_MS
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.messages.slice(options.from ?? 0).find(match)
      if (found !== undefined) return found
      const left = deadline - Date.now()
      if (left <= 0) {
        throw new Error(
          `timed out after ${timeoutMs} ms waiting for ${what} on ${this.filter}; received:\n${this.describe()}`,
        )
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Resolves once at least `count` messages have arrived on `topic` (or on any topic when omitted). */
  async waitForCount(count: number, topic?: string, timeoutMs = WAIT_MS): Promise<Received[]> {
    const pick = () => (topic === undefined ? this.messages : this.on(topic))
    await this.waitFor(
      `${count} message(s)${topic === undefined ? '' : ` on ${topic}`}`,
      () => pick().length >= count,
      { timeoutMs },
    )
    return pick()
  }

  /** The received messages, one per line, for failure messages. */
  describe(): string {
    return this.messages.length === 0
      ? '  (nothing)'
      : this.messages.map((m) => `  ${m.topic} ${m.payload.toString('utf8')}`).join('\n')
  }
}

export interface Reply {
  readonly outcome: 'accepted' | 'rejected'
  readonly topic: string
  readonly payload: Record<string, unknown>
  /** The reply's MQTT 5 properties (MQTT 5 connections only). */
  readonly properties?: IPublishPacket['properties']
}

export interface RequestOptions {
  /** The clientToken to send; `null` sends none (then the first reply on the topic is taken). */
  readonly clientToken?: string | null
  readonly qos?: 0 | 1
  readonly timeoutMs?: number
  /** MQTT 5 properties of the request (correlationData, responseTopic, …); MQTT 5 connections only. */
  readonly properties?: IClientPublishOptions['properties']
}

/** A device's MQTT client. */
export class DeviceClient {
  private readonly collectors = new Set<Collector>()
  private readonly subscribed = new Set<string>()

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      const message: Received = {
        topic,
        payload,
        json: parse(payload),
        qos: packet.qos,
        retain: packet.retain,
        ...(packet.properties === undefined ? {} : { properties: packet.properties }),
      }
      for (const c of this.collectors) c.offer(message)
    })
  }

  /** Subscribes once per filter (QoS 1). */
  async subscribe(...filters: string[]): Promise<void> {
    const fresh = filters.filter((f) => !this.subscribed.has(f))
    if (fresh.length === 0) return
    const granted = await this.client.subscribeAsync(fresh, { qos: 1 })
    for (const g of granted) {
      // 0x80 and above: a failure (MQTT 3.1.1: 0x80; MQTT 5: a reason code). mqtt.js rejects on them.
      if (g.qos >= 128) throw new Error(`the broker refused the subscription to ${g.topic}`)
      this.subscribed.add(g.topic)
    }
  }

  /** Starts collecting messages matching `filter` (subscribing to it first). */
  async collect(filter: string): Promise<Collector> {
    const collector = new Collector(filter)
    this.collectors.add(collector)
    await this.subscribe(filter)
    return collector
  }

  /** Publishes a raw payload (a string, a Buffer or an object to serialise). */
  async publish(
    topic: string,
    payload: string | Buffer | object,
    qos: 0 | 1 = 1,
    properties?: IClientPublishOptions['properties'],
  ): Promise<void> {
    const body = typeof payload === 'string' || Buffer.isBuffer(payload) ? payload : JSON.stringify(payload)
    await this.client.publishAsync(topic, body, { qos, ...(properties === undefined ? {} : { properties }) })
  }

  /**
   * Publishes a request and resolves with the reply on `topic/accepted` or `topic/rejected` that
   * carries the same clientToken. A clientToken is generated unless the payload has one or
   * `options.clientToken` says otherwise. `payload` may be a raw string/Buffer (then it is sent as
   * is and the token must be given in `options`).
   */
  async request(
    topic: string,
    payload: Record<string, unknown> | string | Buffer = {},
    options: RequestOptions = {},
  ): Promise<Reply> {
    const raw = typeof payload === 'string' || Buffer.isBuffer(payload)
    const token =
      options.clientToken === null
        ? undefined
        : (options.clientToken ??
          (!raw && typeof payload['clientToken'] === 'string' ? payload['clientToken'] : undefined) ??
          (raw ? undefined : randomUUID()))
    const body = raw
      ? payload
      : JSON.stringify({ ...payload, ...(token === undefined ? {} : { clientToken: token }) })
    const replies = new Collector(`${topic}/+`)
    this.collectors.add(replies)
    try {
      await this.subscribe(`${topic}/accepted`, `${topic}/rejected`)
      const from = replies.messages.length
      await this.client.publishAsync(topic, body, {
        qos: options.qos ?? 1,
        ...(options.properties === undefined ? {} : { properties: options.properties }),
      })
      const reply = await replies.waitFor(
        `a reply to ${topic} ${String(body)}`,
        (m) =>
          (m.topic === `${topic}/accepted` || m.topic === `${topic}/rejected`) &&
          (token === undefined || m.json['clientToken'] === token),
        { from, ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }) },
      )
      return {
        outcome: reply.topic.endsWith('/accepted') ? 'accepted' : 'rejected',
        topic: reply.topic,
        payload: reply.json,
        ...(reply.properties === undefined ? {} : { properties: reply.properties }),
      }
    } finally {
      this.collectors.delete(replies)
    }
  }

  /** A request that must be accepted; resolves with the accepted payload. */
  async accepted(
    topic: string,
    payload: Record<string, unknown> = {},
    options: RequestOptions = {},
  ): Promise<Record<string, unknown>> {
    const reply = await this.request(topic, payload, options)
    if (reply.outcome !== 'accepted')
      throw new Error(`${topic} was rejected: ${JSON.stringify(reply.payload)}`)
    return reply.payload
  }

  /** A request that must be rejected; resolves with the rejected payload. */
  async rejected(
    topic: string,
    payload: Record<string, unknown> | string | Buffer = {},
    options: RequestOptions = {},
  ): Promise<Record<string, unknown>> {
    const reply = await this.request(topic, payload, options)
    if (reply.outcome !== 'rejected')
      throw new Error(`${topic} was accepted: ${JSON.stringify(reply.payload)}`)
    return reply.payload
  }

  async close(): Promise<void> {
    this.collectors.clear()
    await this.client.endAsync(true)
  }
}

/**
 * Connects a device client (MQTT 3.1.1, as the AWS device SDKs use, unless `options.protocolVersion`
 * says 5), failing clearly if it cannot.
 */
export async function connectDevice(url: string, options: IClientOptions = {}): Promise<DeviceClient> {
  const clientId = options.clientId ?? unique('device')
  const client = mqtt.connect(url, {
    clientId,
    protocolVersion: 4,
    connectTimeout: WAIT_MS,
    reconnectPeriod: 0,
    ...options,
  })
  await new Promise<void>((resolve, reject) => {
    const done = (error?: Error) => {
      clearTimeout(timer)
      client.off('connect', onConnect)
      client.off('error', onError)
      if (error === undefined) {
        resolve()
        return
      }
      client.end(true)
      reject(error)
    }
    // Only the first connection is watched: later errors belong to reconnects, which mqtt.js retries.
    const onConnect = () => done()
    const onError = (error: Error) =>
      done(new Error(`could not connect to ${url} as ${clientId}: ${error.message}`))
    const timer = setTimeout(
      () => done(new Error(`could not connect to ${url} as ${clientId} within ${WAIT_MS} ms`)),
      WAIT_MS,
    )
    client.once('connect', onConnect)
    client.once('error', onError)
  })
  return new DeviceClient(client)
}

/** The topics of a thing's jobs tree, plain or in a namespace. [spec: jobs-device-api#2.1, #3] */
export function jobsTopics(thingName: string, namespaceId?: string) {
  const base = `$aws/things/${thingName}/jobs`
  const ns = namespaceId === undefined ? '' : `/namespace-${namespaceId}`
  return {
    base,
    get: `${base}/get`,
    startNext: `${base}/start-next`,
    describe: (jobId: string) => `${base}/${jobId}${ns}/get`,
    update: (jobId: string) => `${base}/${jobId}${ns}/update`,
    notify: `${base}/notify${namespaceId === undefined ? '' : `-namespace-${namespaceId}`}`,
    notifyNext: `${base}/notify-next${namespaceId === undefined ? '' : `-namespace-${namespaceId}`}`,
  }
}

/**
 * Waits until every notification the server owes has been handed to the broker (the outbox is
 * drained), then makes one request/reply round trip through `device` so that whatever the broker got
 * before is delivered to the device first. After this, a notification that did not arrive was not sent.
 * Only for the in-process harness.
 */
export async function settle(h: Harness, device: DeviceClient, thingName: string): Promise<void> {
  const dispatcher = h.server.workers.notifications
  if (dispatcher === undefined) throw new Error('the harness runs without MQTT')
  await dispatcher.idle()
  // Any reply will do (the thing may be gone): it travels behind whatever the broker already has.
  await device.request(jobsTopics(thingName).get)
  await dispatcher.idle()
}

/** The MQTT URL of a harness, failing clearly when MQTT is off or runs on an external broker. */
export function mqttUrlOf(h: Harness, external?: string): string {
  const url = external ?? h.server.mqttUrl
  if (url === undefined) throw new Error('the harness has no MQTT URL (mqtt off?)')
  return url
}
