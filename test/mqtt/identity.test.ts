/**
 * A device's client id is its thing name (`--mqtt-auth on`), so that no device can take over another's
 * session or push it off the broker, and a device receives only its own thing's messages, whatever its
 * session holds. The report: device A, authenticated as itself, connected with device B's persistent
 * client id and `clean: false`, got `sessionPresent` and B's queued notify-next, job document included,
 * and B was disconnected. [docs: mqtt.md#device-authentication] [MQTT-3.1.4-2]
 */
import assert from 'node:assert/strict'
import type { IClientOptions, MqttClient } from 'mqtt'
import mqtt from 'mqtt'
import { after, before, describe, it } from 'node:test'
import { DeviceAuth, OPERATOR_USERNAME } from '../../src/mqtt/device-auth.js'
import { createJob, createThing } from '../support/device.js'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import { DeviceClient, WAIT_MS, connectDevice, jobsTopics, mqttUrlOf, waitUntil } from '../support/mqtt.js'

let h: Harness
let auth: DeviceAuth
let url: string

before(async () => {
  h = await startHarness({ mqtt: { port: 0, auth: 'on' } })
  auth = DeviceAuth.load(h.dataDir)
  url = mqttUrlOf(h)
})
after(() => h?.close())

const credentials = (username: string): IClientOptions => ({ username, password: auth.tokenFor(username) })

/** A thing's device with its own credentials; the client id is the thing name unless given. */
function asDevice(thingName: string, options: IClientOptions = {}): Promise<DeviceClient> {
  return connectDevice(url, { clientId: thingName, ...credentials(thingName), ...options })
}

interface Message {
  readonly topic: string
  /** The execution's jobId in a notify-next (undefined in other messages). */
  readonly jobId: unknown
}

/**
 * Connects with mqtt.js and resolves with the CONNACK's sessionPresent and every message received from
 * the start (a persistent session's queue arrives right behind the CONNACK), or rejects with the refusal.
 */
function connectRaw(
  options: IClientOptions,
): Promise<{ client: MqttClient; sessionPresent: boolean; received: Message[] }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      connectTimeout: WAIT_MS,
      ...options,
    })
    const received: Message[] = []
    client.on('message', (topic, payload) => {
      const body = JSON.parse(payload.toString()) as { execution?: { jobId?: unknown } }
      received.push({ topic, jobId: body.execution?.jobId })
    })
    client.once('connect', (connack) => resolve({ client, sessionPresent: connack.sessionPresent, received }))
    client.once('error', (error) => {
      client.end(true)
      reject(error)
    })
  })
}

/** Counts the closes of a client's connection from now on. */
function watchCloses(client: MqttClient): { readonly count: number } {
  const seen = { count: 0 }
  client.on('close', () => (seen.count += 1))
  return seen
}

describe('client id = thing name [docs: mqtt.md#device-authentication]', () => {
  it('a device connecting with any other client id, or none, is refused with CONNACK 5', async () => {
    const thingName = await createThing(h)
    for (const clientId of [unique('device'), `${thingName}-2`, '']) {
      await assert.rejects(
        connectRaw({ ...credentials(thingName), clientId, clean: true }),
        /Not authorized/i,
        `client id "${clientId}"`,
      )
    }
    const device = await asDevice(thingName)
    await device.close()
  })

  it("device A cannot take B's persistent session: refused, B's queue stays B's, B is not pushed off", async () => {
    const a = await createThing(h)
    const b = await createThing(h)
    const tb = jobsTopics(b)
    const broker = h.server.mqttBroker
    assert.ok(broker !== undefined)
    // B leaves a persistent session subscribed to its notify-next; a job for B is queued in it.
    const left = await asDevice(b, { clean: false })
    await left.subscribe(tb.notifyNext)
    await left.close()
    const jobId = await createJob(h, [b])
    await h.server.workers.notifications?.idle()
    assert.equal(broker.stats().queuedFor(b), 1, "B's notify-next waits in B's session")

    // A, with its own valid token, asks for B's client id and session: refused, and B's queue is untouched.
    await assert.rejects(connectRaw({ ...credentials(a), clientId: b, clean: false }), /Not authorized/i)
    assert.equal(broker.stats().queuedFor(b), 1)

    // B comes back to its session and gets its notification, job document included.
    const back = await connectRaw({ ...credentials(b), clientId: b, clean: false })
    assert.equal(back.sessionPresent, true)
    await waitUntil("B's queued notify-next", () => (back.received.length > 0 ? true : undefined))
    assert.deepEqual(back.received, [{ topic: tb.notifyNext, jobId }])

    // A tries again while B is connected: refused, and B is not pushed off (still served, never closed).
    const closes = watchCloses(back.client)
    await assert.rejects(connectRaw({ ...credentials(a), clientId: b, clean: false }), /Not authorized/i)
    const device = new DeviceClient(back.client)
    const pending = await device.accepted(tb.get)
    assert.equal((pending['queuedJobs'] as unknown[]).length, 1)
    assert.equal(closes.count, 0, 'B was disconnected')
    await device.close()
  })

  it('the operator keeps any client id, and may not publish to $SYS to push a device off', async () => {
    const thingName = await createThing(h)
    const device = await asDevice(thingName)
    const closes = watchCloses(device.client)
    const { client: operator } = await connectRaw({
      ...credentials(OPERATOR_USERNAME),
      clientId: unique('dashboard'),
    })
    // aedes closes a client when another broker announces the same client id on $SYS/<broker>/new/clients.
    const gone = new Promise<void>((resolve) => operator.once('close', () => resolve()))
    operator.publish(`$SYS/${unique('broker')}/new/clients`, thingName, { qos: 1 })
    await gone
    operator.end(true)
    await device.accepted(jobsTopics(thingName).get)
    assert.equal(closes.count, 0, 'the device was disconnected')
    await device.close()
  })
})

describe('a device receives only its own topics, whatever its session holds', () => {
  it("a session left by the operator under a thing's name gives that thing's device none of another thing's messages", async () => {
    const x = await createThing(h)
    const y = await createThing(h)
    // The operator picks a client id that happens to be a thing name, subscribes across things, leaves.
    const { client: operator } = await connectRaw({
      ...credentials(OPERATOR_USERNAME),
      clientId: x,
      clean: false,
    })
    await operator.subscribeAsync('$aws/things/+/jobs/notify-next', { qos: 1 })
    await new Promise<void>((resolve) => operator.end(false, {}, () => resolve()))
    // Y's notification is queued in session x first, then X's.
    const yJob = await createJob(h, [y])
    await h.server.workers.notifications?.idle()
    const xJob = await createJob(h, [x])
    await h.server.workers.notifications?.idle()
    assert.equal(h.server.mqttBroker?.stats().queuedFor(x), 2)

    // X's device takes its session (its client id is its thing name): the queue is handed over, filtered.
    const { client, sessionPresent, received } = await connectRaw({
      ...credentials(x),
      clientId: x,
      clean: false,
    })
    // The session's only subscription was the operator's cross-thing filter, dropped: nothing to restore.
    assert.equal(sessionPresent, false)
    // The queue is delivered in order, Y's first: once X's has arrived, Y's would have too.
    await waitUntil("X's queued notify-next", () =>
      received.some((m) => m.jobId === xJob) ? true : undefined,
    )
    // A job for Y now: the session's cross-thing subscription was dropped when X connected.
    await createJob(h, [y])
    await h.server.workers.notifications?.idle()
    const device = new DeviceClient(client)
    await device.accepted(jobsTopics(x).get)
    assert.deepEqual(
      received.filter((m) => m.topic.endsWith('/notify-next')),
      [{ topic: jobsTopics(x).notifyNext, jobId: xJob }],
      `nothing of Y's (${yJob})`,
    )
    // Y's messages were dropped, not kept for X (what X was sent leaves the queue with X's PUBACK).
    await waitUntil('an empty queue for X', () =>
      h.server.mqttBroker?.stats().queuedFor(x) === 0 ? true : undefined,
    )
    await device.close()
  })
})
