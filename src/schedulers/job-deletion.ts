/**
 * Finishes DeleteJob: for every job in DELETION_IN_PROGRESS, deletes its executions in batches (each
 * batch one transaction, so requests interleave) and then the job. Runs when woken after a DeleteJob
 * commits, and once at start-up for deletions a stopped process left unfinished.
 * [spec: jobs-control-plane#deletejob]
 */
import type { Store } from '../ports/store.js'

/** Executions deleted per transaction: large enough for throughput, small enough to keep p99 low. */
const BATCH = 1000

export class JobDeletionWorker {
  private running: Promise<void> | undefined
  private again = false
  private stopped = false

  constructor(
    private readonly store: Store,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** Deletes everything that is being deleted now; resolves with the number of jobs removed. */
  async runOnce(): Promise<number> {
    let removed = 0
    for (const jobId of await this.store.jobsBeingDeleted()) {
      for (;;) {
        if (this.stopped) return removed
        const { gone } = await this.store.purgeJob(jobId, BATCH)
        if (gone) break
      }
      removed += 1
    }
    return removed
  }

  /** Starts a pass (or queues one more after the pass under way). */
  wake(): void {
    if (this.stopped) return
    if (this.running !== undefined) {
      this.again = true
      return
    }
    this.running = this.runOnce()
      .then(() => undefined, this.onError)
      .finally(() => {
        this.running = undefined
        if (this.again) {
          this.again = false
          this.wake()
        }
      })
  }

  /** Waits for the pass under way; no new pass starts. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.running
  }

  /** Resolves when no pass is running (for tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running !== undefined) await this.running
  }
}
