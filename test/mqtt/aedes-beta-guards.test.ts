/**
 * The embedded broker runs aedes 2.0.0-beta.1, which branched before aedes 1.2.0 and lacks its fixes.
 * These are 1.2.0's own cases (its test/prototype-keys.js for GHSA-52qw-whmv-87c5, the inbound QoS 2
 * window, a duplicate PUBREL, a clean session's QoS 2 state) run against fleetjobs, which puts the fixes
 * back from outside (src/mqtt/aedes-hardening.ts, src/mqtt/session-store.ts). On the bare beta the
 * first CONNECT below ends the process. Every case ends by checking that the server still answers a
 * device. [docs: decisions.md#mqtt-5-aedes-200-beta1]
 */
import { CreateThingCommand } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import type { IPublishPacket, ISubackPacket, IUnsubackPacket, Packet } from 'mqtt-packet'
import { after, before, describe, it } from 'node:test'
import { DeviceAuth } from '../../src/mqtt/device-auth.js'
import { MAX_INBOUND_QOS2 } from '../../src/mqtt/session-store.js'
import { createJob, createThing } from '../support/device.js'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import { connectDevice, jobsTopics, mqttUrlOf, waitUntil } from '../support/mqtt.js'
import { RawClient } from './raw-client.js'

/** The names 1.2.0's test/prototype-keys.js tries: every member a plain object inherits. */
const PROTOTYPE_NAMES = [
  '__proto__',
  'constructor',
  'toString',
  'valueOf',
  'hasOwnProperty',
  'isPrototypeOf',
  'toLocaleString',
  'propertyIsEnumerable',
  '__defineGetter__',
  '__defineSetter__',
  '__lookupGetter__',
  '__lookupSetter__',
] as const

const isSuback =
  (messageId: number) =>
  (p: Packet): p is ISubackPacket =>
    p.cmd === 'suback' && p.messageId === messageId
const isUnsuback =
  (messageId: number) =>
  (p: Packet): p is IUnsubackPacket =>
    p.cmd === 'unsuback' && p.messageId === messageId
const isPacket =
  (cmd: string, messageId?: number) =>
  (p: Packet): p is Packet =>
    p.cmd === cmd && (messageId === undefined || (p as { messageId?: number }).messageId === messageId)

/** A device's request is answered: the broker is alive and serving. */
async function stillServes(h: Harness, auth?: DeviceAuth): Promise<void> {
  const thingName = await createThing(h)
  const credentials = auth === undefined ? {} : { username: thingName, password: auth.tokenFor(thingName) }
  const device = await connectDevice(mqttUrlOf(h), { clientId: thingName, ...credentials })
  try {
    await device.accepted(jobsTopics(thingName).get)
  } finally {
    await device.close()
  }
}

/** A round trip on `client`: everything the broker sent before the PINGRESP has arrived. */
async function roundTrip(client: RawClient): Promise<void> {
  const from = client.received.length
  client.send({ cmd: 'pingreq' })
  await client.next(
    'PINGRESP',
    (p): p is Packet => p.cmd === 'pingresp' && client.received.indexOf(p) >= from,
  )
}

describe('prototype-named client ids and filters, without device authentication (GHSA-52qw-whmv-87c5)', () => {
  let h: Harness
  let url: string
  before(async () => {
    h = await startHarness({ mqtt: { port: 0 } })
    url = mqttUrlOf(h)
  })
  after(() => h?.close())

  it('a client id named after an Object.prototype member connects; a second connection with it takes over', async () => {
    for (const clientId of PROTOTYPE_NAMES) {
      const { client: first, connack } = await RawClient.connect(url, { clientId })
      assert.equal(connack.returnCode, 0, clientId)
      // A subscription makes the takeover's close asynchronous, the order 1.2.0's test needs.
      first.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'a/b', qos: 0 }] })
      await first.next('SUBACK', isSuback(1))
      const { client: second, connack: again } = await RawClient.connect(url, { clientId })
      assert.equal(again.returnCode, 0, clientId)
      await first.closedWithin()
      second.destroy()
    }
    await stillServes(h)
  })

  it('a filter named after an Object.prototype member: subscribe, receive once, subscribe again, unsubscribe', async () => {
    const { client } = await RawClient.connect(url, { clientId: unique('proto-sub') })
    try {
      let id = 0
      for (const topic of PROTOTYPE_NAMES.filter((n) => n !== '__proto__')) {
        client.send({ cmd: 'subscribe', messageId: ++id, subscriptions: [{ topic, qos: 0 }] })
        assert.deepEqual((await client.next('SUBACK', isSuback(id))).granted, [0], topic)
        // The same filter with another QoS replaces the subscription: one copy of each message.
        client.send({ cmd: 'subscribe', messageId: ++id, subscriptions: [{ topic, qos: 1 }] })
        assert.deepEqual((await client.next('SUBACK', isSuback(id))).granted, [1], topic)
        client.send({ cmd: 'publish', topic, payload: Buffer.from(topic), qos: 0, retain: false, dup: false })
        await client.next(
          `the message on ${topic}`,
          (p): p is IPublishPacket => p.cmd === 'publish' && p.topic === topic,
        )
        await roundTrip(client)
        assert.equal(client.received.filter((p) => p.cmd === 'publish' && p.topic === topic).length, 1, topic)
        client.send({ cmd: 'unsubscribe', messageId: ++id, unsubscriptions: [topic] })
        await client.next('UNSUBACK', isUnsuback(id))
      }
      // Unsubscribing from what was never subscribed is answered too (on the bare beta: an uncaught
      // AssertionError in the emitter).
      for (const topic of PROTOTYPE_NAMES) {
        client.send({ cmd: 'unsubscribe', messageId: ++id, unsubscriptions: [topic] })
        await client.next('UNSUBACK', isUnsuback(id))
      }
    } finally {
      client.destroy()
    }
    await stillServes(h)
  })

  it('__proto__ is refused in the SUBACK alone, and closes the connection among other filters', async () => {
    const { client } = await RawClient.connect(url, { clientId: unique('proto-alone') })
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: '__proto__', qos: 0 }] })
    assert.deepEqual((await client.next('SUBACK', isSuback(1))).granted, [128])
    client.send({ cmd: 'unsubscribe', messageId: 2, unsubscriptions: ['__proto__', 'plain'] })
    await client.next('UNSUBACK', isUnsuback(2))
    client.send({
      cmd: 'subscribe',
      messageId: 3,
      subscriptions: [
        { topic: 'plain', qos: 0 },
        { topic: '__proto__', qos: 0 },
      ],
    })
    await client.closedWithin()
    assert.equal(client.received.filter(isSuback(3)).length, 0)
    await stillServes(h)
  })
})

describe('prototype-named things, with device authentication (GHSA-52qw-whmv-87c5)', () => {
  let h: Harness
  let auth: DeviceAuth
  before(async () => {
    h = await startHarness({ mqtt: { port: 0, auth: 'on' } })
    auth = DeviceAuth.load(h.dataDir)
  })
  after(() => h?.close())

  it('a thing named constructor or toString connects with its token, is served, and may unsubscribe anything', async () => {
    for (const thingName of ['constructor', 'toString']) {
      await h.iot.send(new CreateThingCommand({ thingName }))
      const jobId = await createJob(h, [thingName])
      const credentials = { username: thingName, password: auth.tokenFor(thingName) }
      const device = await connectDevice(mqttUrlOf(h), { clientId: thingName, ...credentials })
      try {
        const pending = await device.accepted(jobsTopics(thingName).get)
        assert.deepEqual(
          (pending['queuedJobs'] as { jobId: string }[]).map((j) => j.jobId),
          [jobId],
        )
        // UNSUBSCRIBE is not authorised: on the bare beta any device could end the process this way.
        await device.client.unsubscribeAsync(['constructor', '__proto__', 'hasOwnProperty'])
        await device.accepted(jobsTopics(thingName).get)
      } finally {
        await device.close()
      }
    }
    await stillServes(h, auth)
  })
})

describe('inbound QoS 2 state (aedes 1.2.0: receive window, duplicate PUBREL, clean sessions)', () => {
  let h: Harness
  let url: string
  const stats = () => {
    const broker = h.server.mqttBroker
    if (broker === undefined) throw new Error('no embedded broker')
    return broker.stats()
  }
  before(async () => {
    h = await startHarness({ mqtt: { port: 0, limits: { connectsPerSecond: 0 } } })
    url = mqttUrlOf(h)
  })
  after(() => h?.close())

  const qos2 = (messageId: number): Packet => ({
    cmd: 'publish',
    topic: 'fleetjobs-test/qos2',
    payload: Buffer.from('x'),
    qos: 2,
    messageId,
    retain: false,
    dup: false,
  })

  it(`a client that withholds PUBREL is disconnected beyond ${MAX_INBOUND_QOS2} messages awaiting it`, async () => {
    const clientId = unique('withholds')
    // A persistent session keeps what was stored, so the bound is visible after the disconnect.
    const { client } = await RawClient.connect(url, { clientId, clean: false })
    for (let id = 1; id <= MAX_INBOUND_QOS2 + 1; id += 1) client.send(qos2(id))
    await client.closedWithin()
    assert.equal(stats().awaitingPubrelFor(clientId), MAX_INBOUND_QOS2)
    // Taking the client id with a clean session drops that state [MQTT-3.1.2-6].
    const { client: again } = await RawClient.connect(url, { clientId, clean: true })
    await waitUntil('the QoS 2 state dropped', () =>
      stats().awaitingPubrelFor(clientId) === 0 ? true : undefined,
    )
    again.destroy()
    await stillServes(h)
  })

  it('a DUP of a stored message takes no second place; every PUBREL, a repeated one too, gets its PUBCOMP', async () => {
    const clientId = unique('pubrel')
    const { client } = await RawClient.connect(url, { clientId })
    try {
      client.send(qos2(7))
      client.send({ ...qos2(7), dup: true } as Packet)
      await client.next('PUBREC', isPacket('pubrec', 7))
      assert.equal(stats().awaitingPubrelFor(clientId), 1)
      // Two PUBRELs in one write race each other through the store (1.2.0: "used to … kill the process").
      client.send({ cmd: 'pubrel', messageId: 7 })
      client.send({ cmd: 'pubrel', messageId: 7 })
      client.send({ cmd: 'pubrel', messageId: 8 })
      await waitUntil('three PUBCOMPs', () =>
        client.received.filter((p) => p.cmd === 'pubcomp').length === 3 ? true : undefined,
      )
      assert.equal(stats().awaitingPubrelFor(clientId), 0)
    } finally {
      client.destroy()
    }
    await stillServes(h)
  })

  it("a clean session's unreleased QoS 2 messages are dropped when its connection closes", async () => {
    const clientId = unique('clean')
    const { client } = await RawClient.connect(url, { clientId, clean: true })
    for (const id of [1, 2, 3]) client.send(qos2(id))
    await client.next('the third PUBREC', isPacket('pubrec', 3))
    assert.equal(stats().awaitingPubrelFor(clientId), 3)
    client.destroy()
    await waitUntil('the QoS 2 state dropped', () =>
      stats().awaitingPubrelFor(clientId) === 0 ? true : undefined,
    )
  })
})
