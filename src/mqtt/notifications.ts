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

export class NotificationDispatcher {
  private running: Promise<void> | undefined
  private again = false
  private stopped = false
  private retryTimer: NodeJS.Timeout | undefined

  constructor(
    private readonly ctx: AppContext,
    private readonly transport: MqttTransport,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Starts a pass now, or right after the pass under way. */
  wake(): void {
    if (this.stopped) return
    if (this.running !== undefined) {
      this.again = true
      return
    }
    this.running = this.drain()
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

  /** Publishes until the outbox is empty. */
  async drain(): Promise<void> {
    for (;;) {
      if (this.stopped) return
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
    for (const { thingName, namespaceId, setChanged } of byThing.values()) {
      const scope = { thingName, ...(namespaceId === '' ? {} : { namespaceId }) }
      const pending = await this.ctx.store.listPending(scope, this.ctx.settings.maxPendingExecutions)
      const nowMs = this.ctx.clock.nowMs()
      const timestamp = Math.floor(nowMs / 1000)
      if (setChanged) {
        // [spec: jobs-device-api#4.1] statuses with no execution are omitted
        const jobs: Record<string, unknown[]> = {}
        for (const p of pending) (jobs[p.execution.status] ??= []).push(summary(p.execution))
        await this.transport.publish(
          notifyTopic(thingName, namespaceId),
          JSON.stringify({ timestamp, jobs }),
          1,
        )
      }
      const first = pending[0]
      const key = first === undefined ? '' : `${first.execution.jobId}#${first.execution.executionNumber}`
      if (key !== ((await this.ctx.store.notifyNextKey(thingName, namespaceId)) ?? '')) {
        // [spec: jobs-device-api#4.2] only when the execution $next would return is another one
        const payload =
          first === undefined ? { timestamp } : { timestamp, execution: execution(first, nowMs, true) }
        await this.transport.publish(notifyNextTopic(thingName, namespaceId), JSON.stringify(payload), 1)
        announced.push({ thingName, namespaceId, key })
      }
    }
    const last = rows[rows.length - 1]
    if (last !== undefined) await this.ctx.store.completeOutbox(last.seq, announced)
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
