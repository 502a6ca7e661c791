/**
 * The broker contract on the embedded aedes broker (TCP on a free port), plus MQTT over WebSocket on
 * the HTTP port (`ws://…/mqtt`), which only the embedded broker serves. [spec: jobs-device-api#6]
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness } from '../support/harness.js'
import { ManualClock, createJob, createThing } from '../support/device.js'
import { connectDevice, jobsTopics } from '../support/mqtt.js'
import { describeBrokerContract } from './broker.contract.js'

describeBrokerContract('the embedded broker', { mqtt: { port: 0 } })

describe('MQTT over WebSocket on the HTTP port [spec: jobs-device-api#6]', () => {
  let h: Harness
  const clock = new ManualClock()
  before(async () => {
    h = await startHarness({ clock, mqtt: { port: 0 } })
  })
  after(async () => {
    await h.close()
  })

  it('serves …/jobs/get and notifications to a client connected over ws://…/mqtt', async () => {
    const url = h.server.mqttWebSocketUrl
    assert.ok(url !== undefined)
    assert.match(url, /^ws:\/\/127\.0\.0\.1:\d+\/mqtt$/)
    assert.equal(new URL(url).port, new URL(h.server.url).port, 'the WebSocket shares the control-plane port')
    const device = await connectDevice(url)
    try {
      const thingName = await createThing(h)
      const t = jobsTopics(thingName)
      const notify = await device.collect(t.notify)
      const jobId = await createJob(h, [thingName])
      const out = await device.request(t.get, { clientToken: 'ws-1' })
      assert.equal(out.outcome, 'accepted')
      assert.deepEqual(out.payload, {
        inProgressJobs: [],
        queuedJobs: [
          {
            jobId,
            queuedAt: clock.seconds(),
            lastUpdatedAt: clock.seconds(),
            versionNumber: 1,
            executionNumber: 1,
          },
        ],
        timestamp: clock.seconds(),
        clientToken: 'ws-1',
      })
      await notify.waitFor('notify over WebSocket', () => true)
    } finally {
      await device.close()
    }
  })

  it('refuses WebSocket upgrades on other paths', async () => {
    const url = h.server.mqttWebSocketUrl!.replace(/\/mqtt$/, '/not-mqtt')
    await assert.rejects(connectDevice(url), /could not connect/)
  })
})

describe('RequestThrottled [spec: jobs-device-api#6] [spec: jobs-device-api#2.4]', () => {
  let h: Harness
  before(async () => {
    // The per-thing data-plane limit, with a clock that stands still: the second request is over it.
    h = await startHarness({
      clock: new ManualClock(),
      rateLimit: { dataPlane: { ratePerSecond: 1, burst: 1 } },
      mqtt: { port: 0 },
    })
  })
  after(async () => {
    await h.close()
  })

  it('a device over the per-thing rate hears RequestThrottled', async () => {
    const device = await connectDevice(h.server.mqttUrl!)
    try {
      const t = jobsTopics(await createThing(h))
      const codes: unknown[] = []
      for (let i = 0; i < 3; i += 1) {
        const reply = await device.request(t.get)
        codes.push(reply.outcome === 'accepted' ? 'accepted' : reply.payload['code'])
      }
      assert.deepEqual(codes, ['accepted', 'RequestThrottled', 'RequestThrottled'])
    } finally {
      await device.close()
    }
  })
})
