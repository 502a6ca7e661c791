/**
 * Jobs events: the topics and payloads of spec §5, and the dispatcher that publishes them from the
 * events outbox after commit, at least once. A row is deleted only after the broker took its message;
 * a broker that is down leaves the rows in place and the dispatcher tries again (DrainLoop).
 * [spec: jobs-device-api#5]
 */
import type { AppContext } from '../app/context.js'
import type { ArnScope } from '../domain/arns.js'
import { thingArn } from '../domain/arns.js'
import type { EventRow } from '../ports/store.js'
import { DrainLoop } from './notifications.js'
import type { MqttTransport } from './transport.js'

/** Rows read per pass; their messages are handed to the broker together. */
const BATCH = 500

/** Where an event is published: `$aws/events/job/{jobId}/{operation}` or `$aws/events/jobExecution/…`. */
export function eventTopic(row: EventRow): string {
  const jobId = row.family === 'job' ? row.job.jobId : row.execution.jobId
  return `$aws/events/${row.family}/${jobId}/${row.operation}`
}

/**
 * The payload, with exactly the members the spec lists. `timestamp` is in epoch seconds and the job's
 * `createdAt`/`lastUpdatedAt`/`completedAt` in epoch milliseconds, as in the guide's examples
 * [open-question 4]. Members the job does not have (`description`, `comment`) are left out.
 */
export function eventPayload(row: EventRow, scope: ArnScope): Record<string, unknown> {
  const head = { eventId: row.eventId, timestamp: Math.floor(row.atMs / 1000), operation: row.operation }
  if (row.family === 'jobExecution') {
    const e = row.execution
    // [spec: jobs-device-api#5.2] a standard thing ARN (the guide's example has a malformed one)
    return {
      eventType: 'JOB_EXECUTION',
      ...head,
      jobId: e.jobId,
      thingArn: thingArn(scope, e.thingName),
      status: e.status,
      statusDetails: e.statusDetails,
    }
  }
  const j = row.job
  const payload: Record<string, unknown> = {
    eventType: 'JOB',
    ...head,
    jobId: j.jobId,
    status: j.status,
    targetSelection: j.targetSelection,
    targets: j.targets,
    ...(j.description == null ? {} : { description: j.description }),
    createdAt: j.createdAtMs,
    lastUpdatedAt: j.lastUpdatedAtMs,
  }
  if (row.operation === 'completed') {
    // [spec: jobs-device-api#5.1] numberOfTimedOutThings is this project's addition
    return {
      ...payload,
      ...(j.completedAtMs == null ? {} : { completedAt: j.completedAtMs }),
      jobProcessDetails: {
        numberOfCanceledThings: j.counts.CANCELED,
        numberOfRejectedThings: j.counts.REJECTED,
        numberOfFailedThings: j.counts.FAILED,
        numberOfRemovedThings: j.counts.REMOVED,
        numberOfSucceededThings: j.counts.SUCCEEDED,
        numberOfTimedOutThings: j.counts.TIMED_OUT,
      },
    }
  }
  return j.comment == null ? payload : { ...payload, comment: j.comment }
}

export class EventDispatcher {
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

  /**
   * Publishes until the outbox is empty. The messages of a batch go to the broker together (the spec
   * promises no order); the rows the broker took are deleted even when others failed, and a failure
   * then fails the pass, so the rest is tried again.
   */
  async drain(): Promise<void> {
    for (;;) {
      if (this.loop.isStopped) return
      const rows = await this.ctx.store.readEvents(BATCH)
      if (rows.length === 0) return
      const outcomes = await Promise.allSettled(
        rows.map((row) =>
          // QoS 1 like the notifications [open-question 5]; not retained.
          this.transport.publish(eventTopic(row), JSON.stringify(eventPayload(row, this.ctx.scope)), 1),
        ),
      )
      const published = rows.filter((_, i) => outcomes[i]?.status === 'fulfilled').map((r) => r.seq)
      if (published.length > 0) await this.ctx.store.deleteEvents(published)
      const failure = outcomes.find((o) => o.status === 'rejected')
      if (failure !== undefined) throw failure.reason
    }
  }

  stop(): Promise<void> {
    return this.loop.stop()
  }

  /** Resolves when no pass is running (tests, shutdown). */
  idle(): Promise<void> {
    return this.loop.idle()
  }
}
