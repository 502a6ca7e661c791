/**
 * The embedded broker's bounds (docs/mqtt.md#limits): each over-limit case is a clean refusal or a
 * closed connection, never a crash and never memory that grows with what a client sends or fails to read.
 * Memory is the server's resident set: it runs in this process (the clients that push large volumes are
 * bare sockets writing one reused buffer, so they add nothing of their own).
 * [spec: jobs-device-api#6]
 */
import { CreateJobCommand } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import mqtt from 'mqtt'
import mqttPacket from 'mqtt-packet'
import type { IPublishPacket, Packet } from 'mqtt-packet'
import { after, before, describe, it } from 'node:test'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { DEFAULT_BROKER_LIMITS } from '../../src/mqtt/broker-limits.js'
import { DOCUMENT, createJob, createThing } from '../support/device.js'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import { connectDevice, jobsTopics, mqttUrlOf, waitUntil } from '../support/mqtt.js'
import { RawClient } from './raw-client.js'

const MiB = 1024 * 1024

/** Resident set size of this process (the server's), bytes. */
const rss = (): number => process.memoryUsage().rss

/**
 * What this process holds after a full garbage collection (heap and buffers), bytes: where a burst of
 * short-lived garbage would blur the RSS, this shows what is kept. (`--expose-gc` at run time, for the
 * test only.)
 */
function retained(): number {
  setFlagsFromString('--expose-gc')
  ;(runInNewContext('gc') as () => void)()
  const m = process.memoryUsage()
  return m.heapUsed + m.external
}

/** Writes `total` bytes of zeros after `header`, honouring back-pressure, until done or the socket closes. */
async function stream(client: RawClient, header: Buffer, total: number): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024)
  let closed = false
  void client.closed.then(() => (closed = true))
  let written = 0
  client.socket.write(header)
  while (!closed && written < total) {
    const n = Math.min(chunk.length, total - written)
    written += n
    if (!client.socket.write(n === chunk.length ? chunk : chunk.subarray(0, n))) {
      await Promise.race([new Promise((resolve) => client.socket.once('drain', resolve)), client.closed])
    }
  }
  return written
}

/** MQTT's Remaining Length encoding. [MQTT-2.2.3] */
function remainingLength(n: number): Buffer {
  const bytes: number[] = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    bytes.push(byte)
  } while (n > 0)
  return Buffer.from(bytes)
}

/** A QoS 0 PUBLISH of `topic` whose packet is exactly `size` bytes, payload `{"clientToken":…,"p":"xxx…"}`. */
function publishOfSize(topic: string, clientToken: string, size: number): Buffer {
  const prefix = `{"clientToken":"${clientToken}","p":"`
  const suffix = '"}'
  const fixed = 2 + Buffer.byteLength(topic) // topic length + topic
  for (let lengthBytes = 1; lengthBytes <= 4; lengthBytes += 1) {
    const payloadBytes = size - 1 - lengthBytes - fixed
    const body = fixed + payloadBytes
    if (remainingLength(body).length !== lengthBytes) continue
    const pad = 'x'.repeat(payloadBytes - prefix.length - suffix.length)
    const topicBytes = Buffer.from(topic)
    const header = Buffer.alloc(2)
    header.writeUInt16BE(topicBytes.length)
    const packet = Buffer.concat([
      Buffer.from([0x30]),
      remainingLength(body),
      header,
      topicBytes,
      Buffer.from(prefix + pad + suffix),
    ])
    assert.equal(packet.length, size)
    return packet
  }
  throw new Error(`no PUBLISH of ${size} bytes`)
}

const isPublish =
  (topic: string) =>
  (p: Packet): p is IPublishPacket =>
    p.cmd === 'publish' && p.topic === topic

describe('maximum packet size [docs: mqtt.md#limits]', () => {
  let h: Harness
  before(async () => {
    h = await startHarness({ mqtt: { port: 0 } })
  })
  after(() => h?.close())

  it('a 100 MB publish closes the connection from its header; nothing of it is buffered', async () => {
    const { client, connack } = await RawClient.connect(mqttUrlOf(h), { clientId: unique('big') })
    assert.equal(connack.returnCode, 0)
    const before = rss()
    const total = 100 * MiB
    // PUBLISH, QoS 0, Remaining Length = 100 MB: the server may close the connection before any of it.
    const written = await stream(client, Buffer.concat([Buffer.from([0x30]), remainingLength(total)]), total)
    await client.closedWithin()
    const grown = rss() - before
    assert.ok(written < total, `the server read all ${total} bytes`)
    assert.ok(grown < 32 * MiB, `the server's RSS grew by ${(grown / MiB).toFixed(1)} MiB`)
    // And it serves the next device.
    const thingName = await createThing(h)
    const device = await connectDevice(mqttUrlOf(h))
    await device.accepted(jobsTopics(thingName).get)
    await device.close()
  })

  it(`a request of exactly ${DEFAULT_BROKER_LIMITS.maxPacketBytes} bytes is served; one byte more closes the connection`, async () => {
    const thingName = await createThing(h)
    const t = jobsTopics(thingName)
    const { client } = await RawClient.connect(mqttUrlOf(h), { clientId: unique('edge') })
    client.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${t.get}/accepted`, qos: 0 }] })
    await client.next('SUBACK', (p) => p.cmd === 'suback')
    client.socket.write(publishOfSize(t.get, 'at-limit', DEFAULT_BROKER_LIMITS.maxPacketBytes))
    const reply = await client.next('the reply', isPublish(`${t.get}/accepted`))
    assert.equal((JSON.parse(reply.payload.toString()) as { clientToken: string }).clientToken, 'at-limit')
    client.socket.write(publishOfSize(t.get, 'over', DEFAULT_BROKER_LIMITS.maxPacketBytes + 1))
    await client.closedWithin()
    assert.equal(client.received.filter(isPublish(`${t.get}/accepted`)).length, 1)
  })

  it('over WebSocket too: a publish over the limit closes the connection', async () => {
    const url = h.server.mqttWebSocketUrl
    assert.ok(url !== undefined)
    const client = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: unique('ws'),
    })
    client.publish('$aws/things/x/jobs/get', Buffer.alloc(DEFAULT_BROKER_LIMITS.maxPacketBytes + 1), {
      qos: 0,
    })
    await waitUntil('the WebSocket connection to close', () => (client.connected ? undefined : true))
    client.end(true)
  })
})

describe('a client that stops reading [docs: mqtt.md#limits]', () => {
  const maxOutboundBufferBytes = 256 * 1024
  let h: Harness
  before(async () => {
    h = await startHarness({ mqtt: { port: 0, limits: { maxOutboundBufferBytes } } })
  })
  after(() => h?.close())

  it('is disconnected once it is that far behind; the server does not keep what it did not read', async () => {
    const url = mqttUrlOf(h)
    const broker = h.server.mqttBroker
    assert.ok(broker !== undefined)
    const topic = `bulk/${unique('t')}`
    const { client: stalled } = await RawClient.connect(url, { clientId: unique('stalled') })
    stalled.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: `${topic}/#`, qos: 0 }] })
    await stalled.next('SUBACK', (p) => p.cmd === 'suback')
    stalled.socket.pause()
    const { client: publisher } = await RawClient.connect(url, { clientId: unique('publisher') })
    const connected = broker.stats().connectedClients
    const before = rss()
    // 400 publishes of 100 KB to its topic: 40 MB, far beyond what the sockets' kernel buffers hold.
    const message = Buffer.from(
      mqttPacket.generate({
        cmd: 'publish',
        topic: `${topic}/x`,
        payload: Buffer.alloc(100 * 1024),
        qos: 0,
        retain: false,
        dup: false,
      }),
    )
    for (let i = 0; i < 400 && broker.stats().connectedClients >= connected; i += 1) {
      if (!publisher.socket.write(message))
        await new Promise((resolve) => publisher.socket.once('drain', resolve))
    }
    await waitUntil('the stalled client to be disconnected', () =>
      broker.stats().connectedClients < connected ? true : undefined,
    )
    const grown = rss() - before
    assert.ok(grown < 32 * MiB, `the server's RSS grew by ${(grown / MiB).toFixed(1)} MiB`)
    publisher.destroy()
    stalled.destroy()
    // Everyone else is still served.
    const thingName = await createThing(h)
    const device = await connectDevice(url)
    await device.accepted(jobsTopics(thingName).get)
    await device.close()
  })
})

describe('a persistent session away [docs: mqtt.md#limits]', () => {
  const maxQueuedMessagesPerSession = 5
  let h: Harness
  before(async () => {
    h = await startHarness({ mqtt: { port: 0, limits: { maxQueuedMessagesPerSession } } })
  })
  after(() => h?.close())

  it('keeps only its newest messages', async () => {
    const thingName = await createThing(h)
    const t = jobsTopics(thingName)
    const left = await connectDevice(mqttUrlOf(h), { clientId: thingName, clean: false })
    await left.subscribe(t.notify)
    await left.close()
    const JOBS = 8
    for (let i = 0; i < JOBS; i += 1) {
      await h.iot.send(
        new CreateJobCommand({ jobId: unique('job'), targets: [thingArnOf(thingName)], document: DOCUMENT }),
      )
      // One notify per job: the dispatcher sends one per thing for the rows it finds in a pass.
      await h.server.workers.notifications?.idle()
    }
    assert.equal(h.server.mqttBroker?.stats().queuedFor(thingName), maxQueuedMessagesPerSession)
    // Back: the newest five notify, the last one listing all eight jobs.
    const received: { QUEUED?: unknown[] }[] = []
    const client = mqtt.connect(mqttUrlOf(h), {
      clientId: thingName,
      clean: false,
      protocolVersion: 4,
      reconnectPeriod: 0,
    })
    client.on('message', (_topic, payload) =>
      received.push((JSON.parse(payload.toString()) as { jobs: { QUEUED?: unknown[] } }).jobs),
    )
    try {
      await waitUntil('the queued notify messages', () =>
        received.length >= maxQueuedMessagesPerSession ? true : undefined,
      )
      assert.deepEqual(
        received.map((jobs) => jobs.QUEUED?.length),
        [4, 5, 6, 7, 8],
      )
    } finally {
      await client.endAsync(true)
    }
  })
})

describe("a thing's queue of MQTT requests [spec: jobs-device-api#6]", () => {
  let h: Harness
  before(async () => {
    h = await startHarness({ mqtt: { port: 0 } })
  })
  after(() => h?.close())

  it('a flood is answered RequestThrottled beyond the bound, holds no backlog, and the next client is served', async () => {
    const url = mqttUrlOf(h)
    const thingName = await createThing(h)
    await createJob(h, [thingName])
    const t = jobsTopics(thingName)
    // An observer counts the answers (counting only, to keep this process's own memory flat).
    const observer = await mqtt.connectAsync(url, {
      protocolVersion: 4,
      reconnectPeriod: 0,
      clientId: unique('observer'),
    })
    const counts = { accepted: 0, throttled: 0, other: 0 }
    observer.on('message', (topic, payload) => {
      if (topic.endsWith('/accepted')) counts.accepted += 1
      else if (payload.includes('"RequestThrottled"')) counts.throttled += 1
      else counts.other += 1
    })
    await observer.subscribeAsync(`${t.get}/+`, { qos: 0 })
    const { client: flooder } = await RawClient.connect(url, { clientId: unique('flooder') })
    const before = retained()
    const FLOOD = 50_000
    for (let i = 0; i < FLOOD; i += 1) {
      const request = mqttPacket.generate({
        cmd: 'publish',
        topic: t.get,
        payload: JSON.stringify({ clientToken: `f${i}` }),
        qos: 0,
        retain: false,
        dup: false,
      })
      if (!flooder.socket.write(request))
        await new Promise((resolve) => flooder.socket.once('drain', resolve))
    }
    // Half of it answered: an unbounded queue would now hold the other half, read and waiting.
    await waitUntil('half of the flood to be answered', () =>
      counts.accepted + counts.throttled >= FLOOD / 2 ? true : undefined,
    )
    const held = retained() - before
    assert.ok(held < 16 * MiB, `the server holds ${(held / MiB).toFixed(1)} MiB more mid-flood`)
    assert.ok(counts.throttled > 0, `no RequestThrottled among ${JSON.stringify(counts)}`)
    // It leaves at once: what it left queued is dropped, not worked through for nobody. (The server still
    // reads what the flooder sent before it left, answering RequestThrottled while the thing's queue is
    // full; attempt after attempt, the next device is served within the wait.)
    flooder.destroy()
    const probe = await connectDevice(url)
    await waitUntil('a request of another client to be served', async () => {
      const reply = await probe.request(t.get)
      if (reply.outcome === 'accepted') return true
      assert.equal(reply.payload['code'], 'RequestThrottled', JSON.stringify(reply.payload))
      return undefined
    })
    await probe.close()
    observer.end(true)
    assert.equal(counts.other, 0, JSON.stringify(counts))
    assert.ok(counts.accepted <= DEFAULT_BROKER_LIMITS.maxQueuedRequestsPerThing * 2, JSON.stringify(counts))
  })
})

describe('new connections per second [docs: mqtt.md#limits]', () => {
  const connectsPerSecond = 5
  const maxPendingConnects = 5
  let h: Harness
  before(async () => {
    h = await startHarness({ mqtt: { port: 0, limits: { connectsPerSecond, maxPendingConnects } } })
  })
  after(() => h?.close())

  it('beyond the rate and the waiting line, a CONNECT is refused with CONNACK 3; the rest are let in', async () => {
    const url = mqttUrlOf(h)
    const ATTEMPTS = 40
    const started = performance.now()
    const results = await Promise.all(
      Array.from({ length: ATTEMPTS }, () => RawClient.connect(url, { clientId: unique('burst') })),
    )
    const elapsedS = (performance.now() - started) / 1000
    const codes = results.map((r) => r.connack.returnCode)
    const accepted = codes.filter((c) => c === 0).length
    const refused = codes.filter((c) => c === 3).length
    assert.equal(accepted + refused, ATTEMPTS, `CONNACK codes ${codes.join(',')}`)
    // The burst (one second's worth), those who waited, and what the rate allowed meanwhile.
    assert.ok(accepted >= connectsPerSecond, `only ${accepted} let in`)
    assert.ok(
      accepted <= connectsPerSecond + maxPendingConnects + Math.ceil(elapsedS * connectsPerSecond),
      `${accepted} let in within ${elapsedS.toFixed(1)} s`,
    )
    for (const { client } of results) client.destroy()
    // Served afterwards: the control plane at once, and MQTT once the rate allows again.
    const thingName = await createThing(h)
    const device = await waitUntil('a connection to be let in again', async () => {
      try {
        return await connectDevice(url)
      } catch {
        // Refused (CONNACK 3) while the bucket refills: try again.
        return undefined
      }
    })
    await device.accepted(jobsTopics(thingName).get)
    await device.close()
  })
})
