/**
 * MQTT over TLS with certificate identity, end to end (issue 12 §2, §4; docs/tls.md): the real server
 * with its registry and local CA, certificates from CreateKeysAndCertificate through the AWS SDK, the
 * real `mqtt` client over mqtts with MQTT 3.1.1 and MQTT 5. What a refusal looks like at the broker
 * (reason codes, a fake registry) is test/mqtt/tls.test.ts; here the registry is the real one.
 */
import {
  DeleteCertificateCommand,
  DetachThingPrincipalCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot'
import mqtt from 'mqtt'
import type { IClientOptions, MqttClient } from 'mqtt'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness } from '../support/harness.js'
import { createJob, createThing } from '../support/device.js'
import type { DeviceCredentials } from '../support/certificates.js'
import { provisionDevice, unregisteredCredentials } from '../support/certificates.js'
import { WAIT_MS } from '../support/mqtt.js'

const PROTOCOLS = [4, 5] as const
type Protocol = (typeof PROTOCOLS)[number]

let h: Harness
let ca: string
let url: string
before(async () => {
  // Token authentication on for the TCP port too: the TLS port ignores it either way.
  h = await startHarness({ mqtt: { port: 0, auth: 'on' }, tls: { mqttPort: 0 } })
  assert.ok(h.server.mqttTlsUrl !== undefined && h.server.tlsCaPath !== undefined)
  ca = readFileSync(h.server.tlsCaPath, 'utf8')
  // The server certificate names localhost; the client checks it.
  url = h.server.mqttTlsUrl.replace('127.0.0.1', 'localhost')
})
after(async () => {
  await h.close()
})

/** Connects; resolves with the client, or rejects with the refusal (its CONNACK code). */
function connect(
  device: DeviceCredentials | undefined,
  clientId: string,
  protocolVersion: Protocol,
): Promise<MqttClient> {
  const options: IClientOptions = {
    clientId,
    ca,
    protocolVersion,
    reconnectPeriod: 0,
    connectTimeout: WAIT_MS,
    ...(device === undefined ? {} : { cert: device.cert, key: device.key }),
  }
  const client = mqtt.connect(url, options)
  return new Promise((resolve, reject) => {
    client.once('connect', () => resolve(client))
    client.once('error', (error) => {
      client.end(true)
      reject(error)
    })
    client.once('close', () => reject(new Error('closed before CONNACK')))
  })
}

const closed = (client: MqttClient): Promise<void> =>
  new Promise((resolve) => {
    if (client.disconnected || !client.connected) return resolve()
    client.once('close', () => resolve())
  })

/** Subscribes to `reply`, publishes `payload` to `topic`, resolves with the first message on `reply`. */
async function request(client: MqttClient, reply: string, topic: string, payload: object): Promise<unknown> {
  await client.subscribeAsync(reply, { qos: 1 })
  const answer = new Promise<unknown>((resolve) => {
    const take = (t: string, p: Buffer): void => {
      if (t !== reply) return
      client.off('message', take)
      resolve(JSON.parse(p.toString()))
    }
    client.on('message', take)
  })
  await client.publishAsync(topic, JSON.stringify(payload), { qos: 1 })
  return answer
}

for (const protocol of PROTOCOLS) {
  describe(`MQTT ${protocol === 4 ? '3.1.1' : '5'} over TLS with a certificate from CreateKeysAndCertificate [issue 12 §4]`, () => {
    it('runs a job round as the thing its client id names, the certificate attached to it', async () => {
      const thingName = await createThing(h)
      const device = await provisionDevice(h, thingName)
      const client = await connect(device, thingName, protocol)
      try {
        const notified = new Promise<{ execution?: { jobId?: string } }>((resolve) =>
          client.on('message', (topic, p: Buffer) => {
            if (topic.endsWith('/notify-next'))
              resolve(JSON.parse(p.toString()) as { execution?: { jobId?: string } })
          }),
        )
        await client.subscribeAsync(`$aws/things/${thingName}/jobs/notify-next`, { qos: 1 })
        const jobId = await createJob(h, [thingName])
        assert.equal((await notified).execution?.jobId, jobId)
        client.removeAllListeners('message')
        const started = (await request(
          client,
          `$aws/things/${thingName}/jobs/start-next/accepted`,
          `$aws/things/${thingName}/jobs/start-next`,
          { clientToken: 'start' },
        )) as { execution?: { status?: string } }
        assert.equal(started.execution?.status, 'IN_PROGRESS')
        const done = (await request(
          client,
          `$aws/things/${thingName}/jobs/${jobId}/update/accepted`,
          `$aws/things/${thingName}/jobs/${jobId}/update`,
          { status: 'SUCCEEDED', includeJobExecutionState: true },
        )) as { executionState?: { status?: string } }
        assert.equal(done.executionState?.status, 'SUCCEEDED')
      } finally {
        await client.endAsync()
      }
    })

    it("may not subscribe to or publish on another thing's topics", async () => {
      const mine = await createThing(h)
      const theirs = await createThing(h)
      const client = await connect(await provisionDevice(h, mine), mine, protocol)
      try {
        // The SUBACK refuses the filter (0x80; MQTT 5: 0x87 not authorized); mqtt.js rejects with it.
        await assert.rejects(
          client.subscribeAsync(`$aws/things/${theirs}/jobs/notify-next`, { qos: 1 }),
          /Subscribe error/,
        )
        assert.equal(client.connected, true, 'a refused filter leaves the connection')
        const gone = closed(client)
        // MQTT 3.1.1 cannot refuse a publish but by closing the connection; MQTT 5 may answer 0x87.
        client.publish(`$aws/things/${theirs}/jobs/start-next`, '{}', { qos: 1 }, () => undefined)
        if (protocol === 4) await gone
      } finally {
        client.end(true)
      }
    })
  })
}

describe('connections a certificate does not allow are refused [issue 12 §4]', () => {
  it('no certificate, an unknown one, an INACTIVE, a REVOKED one, a thing it is not attached to', async () => {
    const thingName = await createThing(h)
    const other = await createThing(h)
    await assert.rejects(connect(undefined, thingName, 5), /Not authorized|closed/i)
    // Another CA's certificate, never registered here.
    const stranger = await unregisteredCredentials()
    await assert.rejects(connect(stranger, thingName, 5), /Not authorized/)
    for (const newStatus of ['INACTIVE', 'REVOKED'] as const) {
      const device = await provisionDevice(h, thingName)
      await h.iot.send(new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus }))
      for (const protocol of PROTOCOLS)
        await assert.rejects(
          connect(device, thingName, protocol),
          /Not authorized/i,
          `${newStatus}, ${protocol}`,
        )
    }
    const attached = await provisionDevice(h, thingName)
    await assert.rejects(connect(attached, other, 5), /Not authorized/)
    await assert.rejects(connect(attached, 'never-registered', 4), /Not authorized/i)
  })
})

describe("losing rights closes the certificate's connections at once [issue 12 §4]", () => {
  it('UpdateCertificate INACTIVE and REVOKED, DeleteCertificate after it, DetachThingPrincipal for that thing only', async () => {
    for (const newStatus of ['INACTIVE', 'REVOKED'] as const) {
      const thingName = await createThing(h)
      const device = await provisionDevice(h, thingName)
      const client = await connect(device, thingName, 5)
      const gone = closed(client)
      await h.iot.send(new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus }))
      await gone
      client.end(true)
    }
    // One certificate on two things: detaching one closes only the connection acting as it.
    const a = await createThing(h)
    const b = await createThing(h)
    const shared = await provisionDevice(h, a, b)
    const asA = await connect(shared, a, 4)
    const asB = await connect(shared, b, 5)
    const aGone = closed(asA)
    await h.iot.send(new DetachThingPrincipalCommand({ thingName: a, principal: shared.certificateArn }))
    await aGone
    assert.equal(asB.connected, true, 'the connection as the other thing stays')
    // Deactivated, detached and deleted: the last connection goes at the deactivation.
    const bGone = closed(asB)
    await h.iot.send(
      new UpdateCertificateCommand({ certificateId: shared.certificateId, newStatus: 'INACTIVE' }),
    )
    await bGone
    await h.iot.send(new DetachThingPrincipalCommand({ thingName: b, principal: shared.certificateArn }))
    await h.iot.send(new DeleteCertificateCommand({ certificateId: shared.certificateId }))
    await assert.rejects(connect(shared, b, 5), /Not authorized/)
    asA.end(true)
    asB.end(true)
  })

  it('a change made through another node (straight in the store) closes the connection at the next re-check', async () => {
    const thingName = await createThing(h)
    const device = await provisionDevice(h, thingName)
    const client = await connect(device, thingName, 5)
    const recheck = h.server.workers.certificateRecheck
    assert.ok(recheck !== undefined)
    assert.equal(await recheck.runOnce(), 0, 'an allowed connection stays')
    const gone = closed(client)
    // What another node's DetachThingPrincipal commits: this node's listener is not told.
    await h.server.context.store.detachThingPrincipal(thingName, device.certificateId)
    assert.equal(client.connected, true)
    assert.equal(await recheck.runOnce(), 1)
    await gone
    client.end(true)
  })
})
