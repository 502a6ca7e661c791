/**
 * Device identity and isolation on the embedded broker, with the real `mqtt` client: a device proves
 * its thing with its token and may only use `$aws/things/{its thing}/…`. [issue 4 §7]
 * [docs: mqtt.md#device-authentication]
 */
import { DescribeJobExecutionCommand } from '@aws-sdk/client-iot'
import mqtt from 'mqtt'
import type { IClientOptions, MqttClient } from 'mqtt'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { after, before, describe, it } from 'node:test'
import { DeviceAuth, OPERATOR_USERNAME } from '../../src/mqtt/device-auth.js'
import type { Harness } from '../support/harness.js'
import { seedJob, startHarness } from '../support/harness.js'
import { CLI } from '../support/cli.js'

/** Bounds a wait that should end; not a timing assertion. */
const WAIT_MS = 10_000

let h: Harness
let auth: DeviceAuth
let url: string

before(async () => {
  h = await startHarness({ mqtt: { port: 0, auth: 'on' } })
  auth = DeviceAuth.load(h.dataDir)
  url = h.server.mqttUrl ?? ''
})
after(() => h.close())

/** Connects; resolves the client, or rejects with the broker's refusal. */
function connect(options: IClientOptions, target = url): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const client = mqtt.connect(target, { reconnectPeriod: 0, connectTimeout: WAIT_MS, ...options })
    client.once('connect', () => resolve(client))
    client.once('error', (error) => {
      client.end(true)
      reject(error)
    })
  })
}

/** A device connects with its thing name as client id (docs/mqtt.md#device-authentication). */
const asDevice = (thingName: string, target?: string): Promise<MqttClient> =>
  connect({ username: thingName, password: auth.tokenFor(thingName), clientId: thingName }, target)

function subscribe(client: MqttClient, filter: string): Promise<number> {
  return new Promise((resolve, reject) => {
    client.subscribe(filter, { qos: 1 }, (error, granted) => {
      // mqtt.js reports a SUBACK failure code (0x80) as this error.
      if (error?.name === 'ErrorWithSubackPacket') resolve(128)
      else if (error) reject(error)
      else resolve(granted?.[0]?.qos ?? -1)
    })
  })
}

function nextMessage(client: MqttClient, topic: string): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no message on ${topic} within ${WAIT_MS} ms`)), WAIT_MS)
    client.on('message', (t, payload) => {
      if (t !== topic) return
      clearTimeout(timer)
      resolve(JSON.parse(payload.toString('utf8')) as Record<string, unknown>)
    })
  })
}

/** Resolves when the broker closes the client's connection. */
function closed(client: MqttClient): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`connection still open after ${WAIT_MS} ms`)), WAIT_MS)
    client.once('close', () => {
      clearTimeout(timer)
      resolve()
    })
  })
}

describe('MQTT device authentication: who may connect', () => {
  it('a registered thing with its token connects and is served on its own topics', async () => {
    const { thingNames, jobId } = await seedJob(h)
    const thing = thingNames[0] ?? ''
    const device = await asDevice(thing)
    try {
      assert.equal(await subscribe(device, `$aws/things/${thing}/jobs/get/accepted`), 1)
      const reply = nextMessage(device, `$aws/things/${thing}/jobs/get/accepted`)
      device.publish(`$aws/things/${thing}/jobs/get`, JSON.stringify({ clientToken: 'c1' }), { qos: 1 })
      const body = await reply
      assert.equal(body['clientToken'], 'c1')
      assert.deepEqual(
        (body['queuedJobs'] as { jobId: string }[]).map((j) => j.jobId),
        [jobId],
      )
    } finally {
      device.end(true)
    }
  })

  it('no credentials, a wrong password or another thing’s token: refused with "bad username or password"', async () => {
    const { thingNames } = await seedJob(h, { things: 2 })
    const [t1 = '', t2 = ''] = thingNames
    for (const options of [
      {},
      { username: t1 },
      { username: t1, password: 'wrong' },
      { username: t1, password: auth.tokenFor(t2) },
    ]) {
      await assert.rejects(connect(options), /Bad username or password/i, JSON.stringify(options))
    }
  })

  it('a valid token of a thing that is not registered: refused with "not authorized"', async () => {
    await assert.rejects(asDevice('never-registered'), /Not authorized/i)
  })

  it('the WebSocket listener enforces the same rules', async () => {
    const { thingNames } = await seedJob(h)
    const thing = thingNames[0] ?? ''
    const ws = h.server.mqttWebSocketUrl ?? ''
    await assert.rejects(connect({}, ws), /Bad username or password/i)
    const device = await asDevice(thing, ws)
    assert.equal(await subscribe(device, `$aws/things/${thing}/jobs/notify`), 1)
    device.end(true)
  })
})

describe('MQTT device authentication: isolation between things', () => {
  it("subscribing to another thing's topics, or across things with a wildcard, is refused in the SUBACK", async () => {
    const { thingNames } = await seedJob(h, { things: 2 })
    const [t1 = '', t2 = ''] = thingNames
    const device = await asDevice(t1)
    try {
      for (const filter of [`$aws/things/${t2}/jobs/notify`, '$aws/things/+/jobs/#', '#', '$aws/events/#']) {
        assert.equal(await subscribe(device, filter), 128, filter)
      }
      assert.equal(await subscribe(device, `$aws/things/${t1}/jobs/#`), 1, 'its own topics stay open')
    } finally {
      device.end(true)
    }
  })

  it("publishing to another thing's topic closes the connection and changes nothing", async () => {
    const { thingNames, jobId } = await seedJob(h, { things: 2 })
    const [t1 = '', t2 = ''] = thingNames
    const device = await asDevice(t1)
    const gone = closed(device)
    device.publish(`$aws/things/${t2}/jobs/${jobId}/update`, JSON.stringify({ status: 'IN_PROGRESS' }), {
      qos: 1,
    })
    await gone
    device.end(true)
    // The request never reached the device API: t2's execution is still QUEUED, version 1.
    const { execution } = await h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName: t2 }))
    assert.equal(execution?.status, 'QUEUED')
    assert.equal(execution?.versionNumber, 1)
  })

  it('the operator (its own token) may subscribe across things and receives their notifications', async () => {
    const operator = await connect({
      username: OPERATOR_USERNAME,
      password: auth.tokenFor(OPERATOR_USERNAME),
    })
    try {
      assert.equal(await subscribe(operator, '$aws/things/+/jobs/notify'), 1)
      const topics = new Set<string>()
      operator.on('message', (topic) => topics.add(topic))
      const { thingNames } = await seedJob(h)
      const expected = `$aws/things/${thingNames[0] ?? ''}/jobs/notify`
      const deadline = Date.now() + WAIT_MS
      while (!topics.has(expected)) {
        if (Date.now() > deadline)
          throw new Error(`no ${expected} for the operator; saw ${[...topics].join(', ')}`)
        await new Promise((resolve) => setTimeout(resolve, 20))
      }
    } finally {
      operator.end(true)
    }
  })
})

describe('fleetjobs device-token', () => {
  it('prints the same token the server checks, for a thing and for the operator', () => {
    const run = (...args: string[]): string =>
      execFileSync(process.execPath, [...CLI, 'device-token', ...args], {
        encoding: 'utf8',
      }).trim()
    assert.equal(run('thing-1', '--data-dir', h.dataDir), auth.tokenFor('thing-1'))
    assert.equal(run('--operator', '--data-dir', h.dataDir), auth.tokenFor(OPERATOR_USERNAME))
  })
})
