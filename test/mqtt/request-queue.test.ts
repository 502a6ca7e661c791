/**
 * A thing's queue of device requests (src/mqtt/service.ts) step by step, on a transport the test drives:
 * beyond the bound a request is answered RequestThrottled at once (its publisher held until that answer
 * is out), the requests of a client that has gone are dropped when their turn comes, and a burst over
 * many things waits its turn here rather than in the store's connection pool. The report:
 * "10,000 messages/s for 20 s: +230 MB, 16 s of backlog worked off after the client left".
 * [spec: jobs-device-api#6] [spec: jobs-device-api#2.4]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { loadServedModels } from '../../src/http/server.js'
import { DeviceMqttService, RUNNING_REQUESTS } from '../../src/mqtt/service.js'
import type { MessageHandler, MessageOrigin, MqttTransport } from '../../src/mqtt/transport.js'
import { createThing } from '../support/device.js'
import type { Harness } from '../support/harness.js'
import { startHarness } from '../support/harness.js'
import { jobsTopics } from '../support/mqtt.js'

/** A broker stand-in: the test delivers messages; replies to `…/accepted` wait while `gate` is closed. */
class DrivenTransport implements MqttTransport {
  handler: MessageHandler = () => undefined
  readonly published: { topic: string; code?: string; clientToken?: string }[] = []
  private open: () => void = () => undefined
  private gate: Promise<void> | undefined

  onMessage(handler: MessageHandler): void {
    this.handler = handler
  }

  async publish(topic: string, payload: string): Promise<void> {
    if (topic.endsWith('/accepted')) await this.gate
    const { code, clientToken } = JSON.parse(payload) as { code?: string; clientToken?: string }
    this.published.push({
      topic,
      ...(code === undefined ? {} : { code }),
      ...(clientToken === undefined ? {} : { clientToken }),
    })
  }

  connected(): boolean {
    return true
  }

  close(): Promise<void> {
    return Promise.resolve()
  }

  closeGate(): void {
    this.gate = new Promise((resolve) => (this.open = resolve))
  }

  openGate(): void {
    this.open()
    this.gate = undefined
  }

  /** Delivers a request as the broker would: topic, payload, QoS, who sent it. */
  deliver(topic: string, clientToken: string, origin: MessageOrigin): void | Promise<void> {
    return this.handler(topic, Buffer.from(JSON.stringify({ clientToken })), 1, origin)
  }
}

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

let h: Harness
before(async () => {
  h = await startHarness()
})
after(() => h?.close())

describe("a thing's queue of MQTT requests", () => {
  it('beyond the bound: RequestThrottled at once, the publisher held until it is out; a gone client’s requests are dropped', async () => {
    const transport = new DrivenTransport()
    const service = new DeviceMqttService(
      h.server.context,
      loadServedModels(),
      transport,
      { namespacedListTopics: false },
      (error) => assert.fail(String(error)),
      undefined,
      3,
    )
    const t = jobsTopics(await createThing(h))
    let aConnected = true
    const a: MessageOrigin = { connected: () => aConnected }
    const b: MessageOrigin = { connected: () => true }

    transport.closeGate()
    // a1 starts at once and waits at its reply; a2 and a3 wait behind it: the queue holds 3.
    assert.equal(transport.deliver(t.get, 'a1', a), undefined)
    await turn()
    assert.equal(transport.deliver(t.get, 'a2', a), undefined)
    assert.equal(transport.deliver(t.get, 'a3', a), undefined)
    // a4 and a5 are over the bound: answered RequestThrottled without waiting for the queue.
    const held = [transport.deliver(t.get, 'a4', a), transport.deliver(t.get, 'a5', a)]
    assert.ok(
      held.every((p) => p instanceof Promise),
      'the publisher is held until the answer is out',
    )
    await Promise.all(held)
    assert.deepEqual(transport.published, [
      { topic: `${t.get}/rejected`, code: 'RequestThrottled', clientToken: 'a4' },
      { topic: `${t.get}/rejected`, code: 'RequestThrottled', clientToken: 'a5' },
    ])

    // A leaves. Its waiting requests no longer count against B, and are dropped when their turn comes.
    aConnected = false
    assert.equal(transport.deliver(t.get, 'b1', b), undefined)
    transport.openGate()
    await service.drain()
    assert.deepEqual(
      transport.published.filter((p) => p.topic.endsWith('/accepted')).map((p) => p.clientToken),
      ['a1', 'b1'],
    )
    assert.equal(service.queued, 0)
  })
})

describe('a burst of requests over many things', () => {
  it(`runs at most ${RUNNING_REQUESTS} against the store at once; the rest wait their turn, and all are answered`, async () => {
    // The store, counting its calls under way. (On PostgreSQL, 10,000 devices asking at once had most
    // requests wait in the connection pool past its 5 s limit: "The database is unavailable".)
    let running = 0
    let most = 0
    const store = h.server.context.store
    const counted = new Proxy(store, {
      get(target, property, receiver) {
        const value: unknown = Reflect.get(target, property, receiver)
        if (typeof value !== 'function') return value
        return (...args: unknown[]): unknown => {
          const result: unknown = (value as (...a: unknown[]) => unknown).apply(target, args)
          if (!(result instanceof Promise)) return result
          running += 1
          most = Math.max(most, running)
          return result.finally(() => (running -= 1))
        }
      },
    })
    const transport = new DrivenTransport()
    const service = new DeviceMqttService(
      { ...h.server.context, store: counted },
      loadServedModels(),
      transport,
      { namespacedListTopics: false },
      (error) => assert.fail(String(error)),
    )
    const device: MessageOrigin = { connected: () => true }
    const THINGS = RUNNING_REQUESTS * 4
    for (let i = 0; i < THINGS; i += 1) void transport.deliver(jobsTopics(`burst-${i}`).get, `r${i}`, device)
    await service.drain()
    assert.ok(most <= RUNNING_REQUESTS, `${most} store calls at once`)
    // Each an answer (these things do not exist: ResourceNotFound, from the store).
    assert.equal(transport.published.length, THINGS)
    assert.ok(
      transport.published.every((p) => p.code === 'ResourceNotFound'),
      JSON.stringify(transport.published[0]),
    )
  })
})
