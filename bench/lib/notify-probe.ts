/**
 * The notification-latency probe of the MQTT family (issue 14): one more device, in the bench's own
 * process, that listens to its thing's `notify` and `notify-next`. Each sample makes the server notify it once — fleetjobs: a CreateJob
 * targeting the probe's thing, timed from the answer's arrival; the aedes baseline: one `notify-next`
 * published in the broker's process, timed from just before `aedes.publish` — and takes the time from
 * there to the probe's `notify-next` for that job. Between fleetjobs samples the probe reports the
 * job SUCCEEDED and waits for the empty `notify-next`, so the next job is again the thing's next one.
 * Times are epoch milliseconds (`epochMs`), comparable across the bench's processes.
 * [spec: jobs-device-api#4.2]
 */
import mqtt from 'mqtt'
import type { MqttClient } from 'mqtt'
import { epochMs } from './mqtt-devices.js'

/** How long one notification may take before the sample fails. */
const SAMPLE_LIMIT_MS = 10_000

interface Waiter {
  readonly jobId: string | undefined
  readonly resolve: (receivedAt: number) => void
}

export class NotifyProbe {
  private readonly base: string
  private waiter: Waiter | undefined

  private constructor(
    private readonly client: MqttClient,
    readonly thingName: string,
  ) {
    this.base = `$aws/things/${thingName}/jobs`
    client.on('message', (topic, payload) => {
      const receivedAt = epochMs()
      if (topic !== `${this.base}/notify-next`) return
      const jobId = (JSON.parse(payload.toString()) as { execution?: { jobId?: string } }).execution?.jobId
      const waiter = this.waiter
      if (waiter !== undefined && waiter.jobId === jobId) {
        this.waiter = undefined
        waiter.resolve(receivedAt)
      }
    })
  }

  /**
   * Connects (MQTT 3.1.1, clean session) and subscribes to the thing's `notify`, `notify-next` and
   * update replies, QoS 0.
   */
  static async connect(url: string, thingName: string): Promise<NotifyProbe> {
    const client = await mqtt.connectAsync(url, {
      clientId: `${thingName}-probe`,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: SAMPLE_LIMIT_MS,
    })
    const base = `$aws/things/${thingName}/jobs`
    // Both notification topics, at QoS 0: each change then writes two publishes in a row to the
    // probe's socket that the probe does not answer (no PUBACK to carry a TCP ACK back at once), the
    // case where Nagle's algorithm on the broker's socket meets the client's delayed ACK.
    await client.subscribeAsync([`${base}/notify`, `${base}/notify-next`, `${base}/+/update/+`], { qos: 0 })
    return new NotifyProbe(client, thingName)
  }

  /**
   * Runs `trigger` (which resolves with the epoch ms the notification is timed from) and resolves the
   * milliseconds from then to the `notify-next` naming `jobId` (0 when it came first).
   */
  async sample(jobId: string, trigger: () => Promise<number>): Promise<number> {
    const received = this.next(jobId)
    const from = await trigger()
    return Math.max(0, (await received) - from)
  }

  /** Reports the job SUCCEEDED and waits for the `notify-next` that says nothing is pending. */
  async finish(jobId: string): Promise<void> {
    const empty = this.next(undefined)
    await this.client.publishAsync(`${this.base}/${jobId}/update`, '{"status":"SUCCEEDED"}', { qos: 1 })
    await empty
  }

  async close(): Promise<void> {
    await this.client.endAsync()
  }

  /** The arrival (epoch ms) of the next `notify-next` naming `jobId` (undefined: no execution). */
  private next(jobId: string | undefined): Promise<number> {
    if (this.waiter !== undefined) throw new Error('the probe waits for one notification at a time')
    return new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined
        reject(
          new Error(
            `${this.thingName}: no notify-next for ${jobId ?? 'nothing pending'} in ${SAMPLE_LIMIT_MS} ms`,
          ),
        )
      }, SAMPLE_LIMIT_MS)
      this.waiter = {
        jobId,
        resolve: (receivedAt) => {
          clearTimeout(timer)
          resolve(receivedAt)
        },
      }
    })
  }
}
