/**
 * Time-driven work: deadlines that pass (TIMED_OUT), and jobs whose time has come (scheduled starts,
 * `endTime`, rollout batches, maintenance windows). Each kind answers through the store "what is due
 * at or before t?" (a batch, applied set-based) and "when is the next thing due?".
 *
 * In system mode one timer is armed for the earliest next-due instant, and the store is asked again
 * every `pollIntervalMs` (other nodes' writes, and this node's, may bring an earlier instant; asking
 * costs two index look-ups). In virtual mode nothing runs by itself: `advanceTo` steps the clock through
 * every due instant up to the target in order, applying what is due at each. Both modes run the same
 * `runDue`. [ARCHITECTURE: time is injected] [spec: test-clock#3] [spec: state-machines#4, #5]
 */
import type { Store } from '../ports/store.js'
import type { VirtualClock } from './virtual-clock.js'

export interface TimeDrivenOptions {
  /** Executions timed out per transaction. */
  readonly timeoutBatch?: number
  /** Jobs ticked per pass. */
  readonly jobBatch?: number
  /** System mode: how often the store is asked for the next due instant. */
  readonly pollIntervalMs?: number
}

/**
 * 10,000 executions per transaction: one sweep of 100,000 deadlines is 10 commits (the bench's
 * time.timeout-sweep-100k), and a device's write waits for at most one batch (about 0.1 s) behind it.
 */
const TIMEOUT_BATCH = 10_000
const JOB_BATCH = 100
/** System mode's look-ahead: an effect is at most this late when another node armed it. */
const POLL_INTERVAL_MS = 1000
/** Node's setTimeout takes at most a 32-bit signed number of milliseconds. */
const MAX_TIMER_MS = 2 ** 31 - 1

export class TimeDrivenWork {
  private readonly timeoutBatch: number
  private readonly jobBatch: number
  private readonly pollIntervalMs: number
  private running: Promise<void> | undefined
  private stopped = true
  private timer: NodeJS.Timeout | undefined
  private poller: NodeJS.Timeout | undefined
  private armedAtMs: number | undefined
  private readonly passListeners: (() => void)[] = []

  constructor(
    private readonly store: Store,
    private readonly clock: { nowMs(): number },
    private readonly onError: (error: unknown) => void,
    options: TimeDrivenOptions = {},
  ) {
    this.timeoutBatch = options.timeoutBatch ?? TIMEOUT_BATCH
    this.jobBatch = options.jobBatch ?? JOB_BATCH
    this.pollIntervalMs = options.pollIntervalMs ?? POLL_INTERVAL_MS
  }

  /** The earliest instant at which any time-driven work is due. */
  async nextDueMs(): Promise<number | undefined> {
    const [deadline, job] = await Promise.all([this.store.nextDeadlineMs(), this.store.nextJobDueMs()])
    if (deadline === undefined) return job
    if (job === undefined) return deadline
    return Math.min(deadline, job)
  }

  /**
   * Applies everything due at or before `nowMs`: deadlines first (an abort they cause stops a rollout
   * due at the same instant), then jobs, each kind in batches until none is left.
   */
  async runDue(nowMs: number): Promise<void> {
    // Each kind is asked first whether anything is due, so that an instant with nothing of a kind
    // costs an index look-up, not a transaction.
    if (((await this.store.nextDeadlineMs()) ?? Number.POSITIVE_INFINITY) <= nowMs) {
      while ((await this.store.timeOutDue(nowMs, this.timeoutBatch)) === this.timeoutBatch) {
        // a full batch: there may be more
      }
    }
    if (((await this.store.nextJobDueMs()) ?? Number.POSITIVE_INFINITY) <= nowMs) {
      while ((await this.store.tickJobsDue(nowMs, this.jobBatch)) === this.jobBatch) {
        // a full batch: there may be more
      }
    }
  }

  /**
   * Virtual mode: moves the clock to `targetMs` through every due instant in between, applying what
   * is due at each, in time order, before it resolves. Runs one at a time with the other passes.
   */
  advanceTo(clock: VirtualClock, targetMs: number): Promise<void> {
    return this.exclusive(async () => {
      for (;;) {
        const next = await this.nextDueMs()
        if (next === undefined || next > targetMs) break
        clock.set(next)
        await this.runDue(Math.max(next, clock.nowMs()))
      }
      clock.set(targetMs)
      await this.runDue(clock.nowMs())
    })
  }

  /** Applies what is due now (a request met an execution past its deadline before the sweep did). */
  settleNow(): Promise<void> {
    return this.exclusive(() => this.runDue(this.clock.nowMs()))
  }

  /** System mode: arms the timer and the poll; work due already (a restart) runs at once. */
  start(): void {
    if (!this.stopped) return
    this.stopped = false
    this.poll()
  }

  /** Stops arming; waits for the pass under way. */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    clearTimeout(this.poller)
    await this.running
  }

  /** Whether a pass is applying time-driven work right now. */
  get busy(): boolean {
    return this.running !== undefined
  }

  /**
   * Calls `listener` when a pass ends. The outbox dispatchers wait for it rather than publishing
   * between the batches of a pass: their reads would slow every batch down, and the spec asks only
   * that what a pass causes is written before it ends and published right after. [spec: test-clock#3]
   */
  onPassEnd(listener: () => void): void {
    this.passListeners.push(listener)
  }

  /** Resolves when no pass is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running
  }

  private poll(): void {
    if (this.stopped) return
    this.nextDueMs()
      .then((next) => this.arm(next))
      .catch(this.onError)
      .finally(() => {
        if (this.stopped) return
        this.poller = setTimeout(() => this.poll(), this.pollIntervalMs)
        this.poller.unref()
      })
  }

  /** One timer, for the earliest instant known. */
  private arm(next: number | undefined): void {
    if (this.stopped || next === undefined) return
    if (this.armedAtMs !== undefined && this.armedAtMs <= next) return
    clearTimeout(this.timer)
    this.armedAtMs = next
    const delay = Math.min(MAX_TIMER_MS, Math.max(0, next - this.clock.nowMs()))
    this.timer = setTimeout(() => {
      this.armedAtMs = undefined
      this.exclusive(() => this.runDue(this.clock.nowMs()))
        .then(() => this.nextDueMs())
        .then((again) => this.arm(again))
        .catch(this.onError)
    }, delay)
    this.timer.unref()
  }

  /** Runs `work` after the pass under way, never two passes at once. */
  private exclusive(work: () => Promise<void>): Promise<void> {
    const previous = this.running ?? Promise.resolve()
    const mine: Promise<void> = previous
      .catch(() => undefined)
      .then(work)
      .finally(() => {
        if (this.running !== mine) return
        this.running = undefined
        for (const listener of this.passListeners) listener()
      })
    this.running = mine
    return mine
  }
}
