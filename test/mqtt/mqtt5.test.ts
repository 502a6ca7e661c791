/**
 * MQTT 5 devices on the embedded broker (aedes 2.0.0-beta.1), with the real `mqtt` client at
 * `protocolVersion: 5`: the whole broker contract over TCP and over WebSocket (the device API answers as
 * over 3.1.1, and every reply carries its request's Correlation Data), a job worked through from start
 * to end with notify-next, Jobs events, the CONNACK's properties and reason codes, SUBACK and PUBACK
 * reason codes under device authentication, and topic aliases. [docs: mqtt.md#mqtt-5]
 */
import { DescribeJobExecutionCommand } from '@aws-sdk/client-iot'
import mqtt from 'mqtt'
import type { IClientOptions, IConnackPacket, MqttClient } from 'mqtt'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DEFAULT_BROKER_LIMITS } from '../../src/mqtt/broker-limits.js'
import { DeviceAuth, OPERATOR_USERNAME } from '../../src/mqtt/device-auth.js'
import { DOCUMENT, ManualClock, createJob, createThing, report } from '../support/device.js'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import type { DeviceClient } from '../support/mqtt.js'
import { WAIT_MS, connectDevice, jobsTopics, mqttUrlOf, settle } from '../support/mqtt.js'
import { describeBrokerContract } from './broker.contract.js'

const V5 = { protocolVersion: 5 } as const
/** MQTT 5 reason codes [MQTT-2.4]. */
const BAD_USERNAME_OR_PASSWORD = 0x86
const NOT_AUTHORIZED = 0x87
const SERVER_UNAVAILABLE = 0x88
const SHARED_SUBSCRIPTIONS_NOT_SUPPORTED = 0x9e

const webSocketUrlOf = (h: Harness): string => {
  const url = h.server.mqttWebSocketUrl
  if (url === undefined) throw new Error('the harness has no MQTT over WebSocket')
  return url
}

describeBrokerContract('the embedded broker, devices on MQTT 5 over TCP', {
  mqtt: { port: 0 },
  deviceOptions: V5,
})

describeBrokerContract('the embedded broker, devices on MQTT 5 over WebSocket', {
  mqtt: { port: 0 },
  deviceUrl: webSocketUrlOf,
  deviceOptions: V5,
})

/** Connects with mqtt.js; resolves the client and its CONNACK, or rejects with the refusal (its `code`). */
function connectRaw(
  url: string,
  options: IClientOptions,
): Promise<{ client: MqttClient; connack: IConnackPacket }> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(url, { ...V5, reconnectPeriod: 0, connectTimeout: WAIT_MS, ...options })
    client.once('connect', (connack) => resolve({ client, connack }))
    client.once('error', (error) => {
      client.end(true)
      reject(error)
    })
  })
}

/** The reason code an MQTT 5 CONNECT is refused with. */
async function refusedWith(url: string, options: IClientOptions): Promise<number> {
  try {
    const { client } = await connectRaw(url, options)
    client.end(true)
  } catch (error) {
    return (error as { code?: number }).code ?? -1
  }
  throw new Error(`connected with ${JSON.stringify(options)}`)
}

for (const transport of ['TCP', 'WebSocket'] as const) {
  describe(`a job worked through over MQTT 5 (${transport}) [spec: jobs-device-api#1] [spec: jobs-device-api#4.2]`, () => {
    let h: Harness
    const clock = new ManualClock()
    before(async () => {
      h = await startHarness({ clock, mqtt: { port: 0 } })
    })
    after(() => h?.close())

    it('notify-next, get, start-next, update to SUCCEEDED, describe: as over MQTT 3.1.1', async () => {
      const thingName = await createThing(h)
      const t = jobsTopics(thingName)
      const url = transport === 'TCP' ? mqttUrlOf(h) : webSocketUrlOf(h)
      const device = await connectDevice(url, { ...V5, clientId: thingName })
      try {
        const next = await device.collect(t.notifyNext)
        const jobId = await createJob(h, [thingName])
        const announced = await next.waitFor('notify-next of the new job', () => true)
        assert.deepEqual(announced.json['execution'], {
          jobId,
          thingName,
          jobDocument: JSON.parse(DOCUMENT) as unknown,
          status: 'QUEUED',
          statusDetails: {},
          queuedAt: clock.seconds(),
          lastUpdatedAt: clock.seconds(),
          versionNumber: 1,
          executionNumber: 1,
        })
        const pending = await device.accepted(t.get)
        assert.deepEqual(
          (pending['queuedJobs'] as { jobId: string }[]).map((j) => j.jobId),
          [jobId],
        )
        const started = await device.request(
          t.startNext,
          { statusDetails: { step: 'download' } },
          { properties: { correlationData: Buffer.from('start-1') } },
        )
        assert.equal(started.outcome, 'accepted')
        assert.deepEqual(started.properties?.correlationData, Buffer.from('start-1'))
        const execution = started.payload['execution'] as Record<string, unknown>
        assert.equal(execution['status'], 'IN_PROGRESS')
        assert.equal(execution['versionNumber'], 2)
        clock.advance(60_000)
        const done = await device.accepted(t.update(jobId), {
          status: 'SUCCEEDED',
          expectedVersion: 2,
          includeJobExecutionState: true,
        })
        assert.deepEqual(done['executionState'], {
          status: 'SUCCEEDED',
          statusDetails: { step: 'download' },
          versionNumber: 3,
        })
        const described = await device.accepted(t.describe(jobId), { includeJobDocument: false })
        assert.equal((described['execution'] as Record<string, unknown>)['status'], 'SUCCEEDED')
        // The last job done: notify-next without an execution.
        const last = await next.waitFor(
          'notify-next with nothing left',
          (m) => m.json['execution'] === undefined,
          {
            from: 1,
          },
        )
        assert.deepEqual(last.json, { timestamp: clock.seconds() })
      } finally {
        await device.close()
      }
    })
  })
}

describe('MQTT 5 CONNACK, topic aliases and Jobs events on the embedded broker', () => {
  let h: Harness
  before(async () => {
    h = await startHarness({ mqtt: { port: 0 }, events: { job: true, jobExecution: true } })
  })
  after(() => h?.close())

  it('the CONNACK advertises the broker’s limits and lowers a longer Session Expiry Interval', async () => {
    const { client, connack } = await connectRaw(mqttUrlOf(h), {
      clientId: unique('v5'),
      clean: true,
      properties: { sessionExpiryInterval: 7 * 24 * 3600 },
    })
    try {
      assert.equal(connack.reasonCode, 0)
      assert.equal(connack.properties?.maximumPacketSize, DEFAULT_BROKER_LIMITS.maxPacketBytes)
      assert.equal(connack.properties?.receiveMaximum, DEFAULT_BROKER_LIMITS.maxQueuedRequestsPerThing)
      assert.equal(connack.properties?.topicAliasMaximum, 8)
      assert.equal(connack.properties?.sessionExpiryInterval, DEFAULT_BROKER_LIMITS.maxSessionExpirySeconds)
    } finally {
      client.end(true)
    }
  })

  it('a request sent through a topic alias is served', async () => {
    const thingName = await createThing(h)
    const t = jobsTopics(thingName)
    await createJob(h, [thingName])
    const device = await connectDevice(mqttUrlOf(h), { ...V5, autoAssignTopicAlias: true })
    try {
      // The first request sets the alias up, the second uses it (an empty topic on the wire).
      for (const clientToken of ['alias-1', 'alias-2']) {
        const reply = await device.request(t.get, { clientToken })
        assert.equal(reply.topic, `${t.get}/accepted`)
        assert.equal(reply.payload['clientToken'], clientToken)
      }
    } finally {
      await device.close()
    }
  })

  it('Jobs events reach an MQTT 5 subscriber [spec: jobs-device-api#5]', async () => {
    const operator = await connectDevice(mqttUrlOf(h), V5)
    try {
      const events = await operator.collect('$aws/events/#')
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      await report(h, jobId, thingName, 'SUCCEEDED')
      const succeeded = await events.waitFor(
        'the execution-succeeded event',
        (m) => m.topic === `$aws/events/jobExecution/${jobId}/succeeded`,
      )
      assert.equal(succeeded.json['eventType'], 'JOB_EXECUTION')
      assert.equal(succeeded.json['status'], 'SUCCEEDED')
      const completed = await events.waitFor(
        'the job-completed event',
        (m) => m.topic === `$aws/events/job/${jobId}/completed`,
      )
      assert.equal(completed.json['status'], 'COMPLETED')
    } finally {
      await operator.close()
    }
  })
})

describe('MQTT 5 under device authentication: reason codes [docs: mqtt.md#device-authentication]', () => {
  let h: Harness
  let auth: DeviceAuth
  let device: DeviceClient | undefined
  before(async () => {
    h = await startHarness({ mqtt: { port: 0, auth: 'on' } })
    auth = DeviceAuth.load(h.dataDir)
  })
  after(async () => {
    await device?.close()
    await h?.close()
  })

  const asThing = (thingName: string): IClientOptions => ({
    clientId: thingName,
    username: thingName,
    password: auth.tokenFor(thingName),
  })

  it('refused CONNECTs: 0x86 for bad credentials, 0x87 for an unregistered thing or another client id; TCP and WebSocket', async () => {
    const thingName = await createThing(h)
    const other = await createThing(h)
    for (const url of [mqttUrlOf(h), webSocketUrlOf(h)]) {
      assert.equal(await refusedWith(url, { clientId: thingName }), BAD_USERNAME_OR_PASSWORD, url)
      assert.equal(
        await refusedWith(url, { clientId: thingName, username: thingName, password: 'wrong' }),
        BAD_USERNAME_OR_PASSWORD,
      )
      assert.equal(
        await refusedWith(url, { ...asThing(thingName), password: auth.tokenFor(other) }),
        BAD_USERNAME_OR_PASSWORD,
      )
      assert.equal(await refusedWith(url, asThing('never-registered')), NOT_AUTHORIZED)
      assert.equal(await refusedWith(url, { ...asThing(thingName), clientId: other }), NOT_AUTHORIZED)
      const { client, connack } = await connectRaw(url, asThing(thingName))
      assert.equal(connack.reasonCode, 0)
      client.end(true)
    }
  })

  it('SUBACK: 0x87 for another thing’s topics or a wildcard across things, 0x9E for a shared subscription', async () => {
    const thingName = await createThing(h)
    const other = await createThing(h)
    const { client } = await connectRaw(mqttUrlOf(h), asThing(thingName))
    try {
      const codes = async (filter: string): Promise<number> => {
        try {
          const granted = await client.subscribeAsync(filter, { qos: 1 })
          return granted[0]?.qos ?? -1
        } catch (error) {
          // mqtt.js rejects on a failure reason code, with the SUBACK.
          return (error as { packet?: { granted?: number[] } }).packet?.granted?.[0] ?? -1
        }
      }
      assert.equal(await codes(`$aws/things/${other}/jobs/notify`), NOT_AUTHORIZED)
      assert.equal(await codes('$aws/things/+/jobs/#'), NOT_AUTHORIZED)
      assert.equal(await codes('#'), NOT_AUTHORIZED)
      assert.equal(
        await codes(`$share/g/$aws/things/${thingName}/jobs/#`),
        SHARED_SUBSCRIPTIONS_NOT_SUPPORTED,
      )
      assert.equal(await codes(`$aws/things/${thingName}/jobs/#`), 1, 'its own topics stay open')
    } finally {
      client.end(true)
    }
  })

  it('PUBLISH to another thing’s topic: PUBACK 0x87 at QoS 1, dropped at QoS 0; the connection stays, nothing changes', async () => {
    const thingName = await createThing(h)
    const other = await createThing(h)
    const jobId = await createJob(h, [other])
    device = await connectDevice(mqttUrlOf(h), { ...V5, ...asThing(thingName) })
    const update = `$aws/things/${other}/jobs/${jobId}/update`
    await assert.rejects(
      device.publish(update, { status: 'IN_PROGRESS' }, 1),
      (error: { code?: number }) => error.code === NOT_AUTHORIZED,
    )
    await device.publish(update, { status: 'IN_PROGRESS' }, 0)
    // Still connected and served: its own request round-trips behind the refused ones.
    await settle(h, device, thingName)
    assert.equal(device.client.connected, true)
    const { execution } = await h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: other }))
    assert.equal(execution?.status, 'QUEUED')
    assert.equal(execution?.versionNumber, 1)
    await device.close()
    device = undefined
  })

  it('the operator on MQTT 5 receives every thing’s notifications', async () => {
    const operator = await connectDevice(mqttUrlOf(h), {
      ...V5,
      username: OPERATOR_USERNAME,
      password: auth.tokenFor(OPERATOR_USERNAME),
    })
    try {
      const notify = await operator.collect('$aws/things/+/jobs/notify-next')
      const thingName = await createThing(h)
      const jobId = await createJob(h, [thingName])
      const got = await notify.waitFor('notify-next', (m) => m.topic === jobsTopics(thingName).notifyNext)
      assert.equal((got.json['execution'] as Record<string, unknown>)['jobId'], jobId)
    } finally {
      await operator.close()
    }
  })
})

describe('MQTT 5 past the connect rate: 0x88 server unavailable [docs: mqtt.md#limits]', () => {
  let h: Harness
  before(async () => {
    h = await startHarness({ mqtt: { port: 0, limits: { connectsPerSecond: 1, maxPendingConnects: 0 } } })
  })
  after(() => h?.close())

  it('the CONNECT beyond the rate, with no room to wait, is refused with 0x88', async () => {
    const codes = await Promise.all(
      Array.from({ length: 3 }, () =>
        connectRaw(mqttUrlOf(h), { clientId: unique('burst') }).then(
          ({ client }) => {
            client.end(true)
            return 0
          },
          (error: { code?: number }) => error.code ?? -1,
        ),
      ),
    )
    // One token in the bucket: one CONNECT in, the others refused at once.
    assert.deepEqual(
      [...codes].sort((a, b) => a - b),
      [0, SERVER_UNAVAILABLE, SERVER_UNAVAILABLE],
    )
  })
})
