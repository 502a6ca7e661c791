/**
 * A client subscribed to a thing's whole jobs tree (`$aws/things/{thing}/jobs/#`) receives every
 * notify and notify-next that a client subscribed to the two topics by name receives, in the same
 * order, while the thing's device works through its jobs over MQTT (issue 12: the wildcard subscriber
 * got 6 of 12, missing exactly those published around a device's update sent over MQTT).
 *
 * Cause: aedes numbers each message when it is published (`brokerCounter`) and drops, per receiving
 * client, any message whose number is not above the last one it delivered to that client (its dedupe of
 * overlapping subscriptions). A QoS 0 message skips the offline-queue step a QoS 1 message takes, so a
 * reply published at QoS 0 just after a QoS 1 notification overtook it, and the notification was
 * then dropped for every client that also received the reply (aedes#994). The embedded broker now
 * emits messages in their numbering order (src/mqtt/broker-emitter.ts).
 * [spec: jobs-device-api#4] [spec: jobs-device-api#2.1]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness } from '../support/harness.js'
import { createJob, createThing } from '../support/device.js'
import type { Collector, DeviceClient } from '../support/mqtt.js'
import { connectDevice, jobsTopics, mqttUrlOf, settle } from '../support/mqtt.js'

let h: Harness
const clients: DeviceClient[] = []
before(async () => {
  h = await startHarness({ mqtt: { port: 0 } })
})
after(async () => {
  for (const c of clients) await c.close()
  await h?.close()
})

async function client(): Promise<DeviceClient> {
  const c = await connectDevice(mqttUrlOf(h))
  clients.push(c)
  return c
}

/** The notify and notify-next payloads a collector holds, in arrival order, as `topic payload`. */
function notifications(c: Collector, thingName: string): string[] {
  const t = jobsTopics(thingName)
  return c.messages
    .filter((m) => m.topic === t.notify || m.topic === t.notifyNext)
    .map((m) => `${m.topic.slice(t.base.length + 1)} ${m.payload.toString('utf8')}`)
}

for (const qos of [0, 1] as const) {
  describe(`the device sends its requests at QoS ${qos}`, () => {
    it('a jobs/# subscriber receives every notify and notify-next that a by-name subscriber receives', async () => {
      const thingName = await createThing(h)
      const t = jobsTopics(thingName)
      const wildcard = await (await client()).collect(`${t.base}/#`)
      const byName = await client()
      const named: string[] = []
      byName.client.on('message', (topic, payload) =>
        named.push(`${topic.slice(t.base.length + 1)} ${payload.toString('utf8')}`),
      )
      await byName.subscribe(t.notify, t.notifyNext)
      const device = await client()
      const JOBS = 3
      for (let i = 0; i < JOBS; i += 1) {
        const jobId = await createJob(h, [thingName])
        await settle(h, device, thingName)
        const started = await device.accepted(t.startNext, {}, { qos })
        const execution = started['execution'] as { jobId: string; versionNumber: number }
        assert.equal(execution.jobId, jobId)
        await device.accepted(
          t.update(jobId),
          { status: 'SUCCEEDED', expectedVersion: execution.versionNumber },
          { qos },
        )
        await settle(h, device, thingName)
      }
      // Every notification owed has reached both subscribers (settle), so the lists are complete.
      const expected = named
      // Each job: notify + notify-next when created, notify when it starts, notify + notify-next when it
      // succeeds (the next is then none). [spec: jobs-device-api#4.1, #4.2]
      assert.ok(
        expected.length >= JOBS * 4,
        `the by-name subscriber got ${expected.length}:\n${expected.join('\n')}`,
      )
      assert.deepEqual(notifications(wildcard, thingName), expected)
    })
  })
}
