/**
 * Publishes `notify` and `notify-next` from the outbox, after commit, at least once, in order per
 * thing. A row is deleted only after its messages reached the broker; a broker that is down leaves the
 * rows in place and the dispatcher tries again. [spec: jobs-device-api#4]
 */
import type { AppContext } from '../app/context.js'
import type { OutboxRow } from '../ports/store.js'
import { execution, summary } from './device-api.js'
import { notifyNextTopic, notifyTopic } from './topics.js'
import type { MqttTransport } from './transport.js'

/** Rows handled per pass. */
const BATCH = 500
/** How long to wait before trying again after a failed publish. */
const RETRY_MS = 1000
/** QoS 1 publishes awaiting their PUBACK at once. */
const IN_FLIGHT = 128

/** Publishes every message at QoS 1, at most IN_FLIGHT at a time; rejects when any publish fails. */
export async function publishAll(
  transport: MqttTransport,
  messages: readonly { readonly topic: string; readonly payload: string }[],
): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < messages.length) {
      const m = messages[next++]
      if (m !== undefined) await transport.publish(m.topic, m.payload, 1)
    }
  }
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, messages.length) }, worker))
}

/**
 * Runs an outbox dispatcher's passes: one at a time, a wake during a pass runs one more after it, and
 * a pass that fails (the broker is down) is reported and tried again after RETRY_MS, so the rows wait
 * out the outage. Shared by the notification and the event dispatchers.
 */
export class DrainLoop {
  private running: Promise<void> | undefined
  private again = false
  private stopped = false
  private retryTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly pass: () => Promise<void>,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** True once `stop` was called: a pass under way should end early. */
  get isStopped(): boolean {
    return this.stopped
  }

  /** Starts a pass now, or right after the pass under way. */
  wake(): void {
    if (this.stopped) return
    if (this.running !== undefined) {
      this.again = true
      return
    }
    this.running = this.pass()
      .catch((error: unknown) => {
        this.onError(error)
        this.retryTimer ??= setTimeout(() => {
          this.retryTimer = undefined
          this.wake()
        }, RETRY_MS)
      })
      .finally(() => {
        this.running = undefined
        if (this.again) {
          this.again = false
          this.wake()
        }
      })
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.retryTimer !== undefined) clearTimeout(this.retryTimer)
    await this.running
  }

  /** Resolves when no pass is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running
  }
}

export class NotificationDispatcher {
  private readonly loop: DrainLoop

  constructor(
    private readonly ctx: AppContext,
    private readonly transport: MqttTransport,
    onError: (error: unknown) => void,
  ) {
    this.loop = new DrainLoop(() => this.drain(), onError)
  }

  /** Starts a pass now, or right after the pass under way. */
  wake(): void {
    this.loop.wake()
  }

  /** Publishes until the outbox is empty. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.loop.isStopped) return
      const rows = await this.ctx.store.readOutbox(BATCH)
      if (rows.length === 0) return
      await this.publish(rows)
    }
  }

  private async publish(rows: readonly OutboxRow[]): Promise<void> {
    const byThing = new Map<string, { thingName: string; namespaceId: string; setChanged: boolean }>()
    for (const r of rows) {
      const key = `${r.thingName}\u0000${r.namespaceId}`
      const seen = byThing.get(key)
      byThing.set(key, {
        thingName: r.thingName,
        namespaceId: r.namespaceId,
        setChanged: (seen?.setChanged ?? false) || r.setChanged,
      })
    }
    const announced: { thingName: string; namespaceId: string; key: string }[] = []
    // Messages of this batch: each thing appears once in it, and the batch is complete before the next
    // one starts, so publishing them concurrently keeps the order per thing.
    const messages: { topic: string; payload: string }[] = []
    for (const { thingName, namespaceId, setChanged } of byThing.values()) {
      const scope = { thingName, ...(namespaceId === '' ? {} : { namespaceId }) }
      const pending = await this.ctx.store.listPending(scope, this.ctx.settings.maxPendingExecutions)
      const nowMs = this.ctx.clock.nowMs()
      const timestamp = Math.floor(nowMs / 1000)
      if (setChanged) {
        // [spec: jobs-device-api#4.1] statuses with no execution are omitted
        const jobs: Record<string, unknown[]> = {}
        for (const p of pending) (jobs[p.execution.status] ??= []).push(summary(p.execution))
        messages.push({
          topic: notifyTopic(thingName, namespaceId),
          payload: JSON.stringify({ timestamp, jobs }),
        })
      }
      const first = pending[0]
      const key = first === undefined ? '' : `${first.execution.jobId}#${first.execution.executionNumber}`
      if (key !== ((await this.ctx.store.notifyNextKey(thingName, namespaceId)) ?? '')) {
        // [spec: jobs-device-api#4.2] only when the execution $next would return is another one
        const payload =
          first === undefined ? { timestamp } : { timestamp, execution: execution(first, nowMs, true) }
        messages.push({ topic: notifyNextTopic(thingName, namespaceId), payload: JSON.stringify(payload) })
        announced.push({ thingName, namespaceId, key })
      }
    }
    await publishAll(this.transport, messages)
    await this.ctx.store.completeOutbox(
      rows.map((r) => r.seq),
      announced,
    )
  }

  stop(): Promise<void> {
    return this.loop.stop()
  }

  /** Resolves when no pass is running (tests, shutdown). */
  idle(): Promise<void> {
    return this.loop.idle()
  }
}
