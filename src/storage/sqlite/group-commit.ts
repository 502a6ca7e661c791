/**
 * Group commit for better-sqlite3: every write submitted during one turn of the event loop runs in
 * one transaction, each inside its own savepoint so one failure rolls back only its own writes.
 * With `synchronous=FULL` that is one fsync per group instead of one per request.
 * The work functions are synchronous; no transaction ever spans an await.
 */
import type { Database } from 'better-sqlite3'

interface Pending {
  readonly work: () => unknown
  readonly resolve: (value: unknown) => void
  readonly reject: (error: unknown) => void
}

/** Bounds the work done in one transaction so one group cannot starve the event loop. */
const MAX_GROUP = 256

export class GroupCommitter {
  private queue: Pending[] = []
  private scheduled = false

  constructor(
    private readonly db: Database,
    /** Runs after every successful commit (wakes the outbox dispatcher). */
    private readonly afterCommit: () => void = () => undefined,
  ) {}

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /** Runs what is queued now; used before close. */
  flush(): void {
    this.scheduled = false
    while (this.queue.length > 0) {
      const group = this.queue.splice(0, MAX_GROUP)
      this.commit(group)
    }
  }

  private commit(group: readonly Pending[]): void {
    const outcomes: { ok: boolean; value: unknown }[] = []
    try {
      this.db.exec('BEGIN IMMEDIATE')
    } catch (error) {
      for (const p of group) p.reject(error)
      return
    }
    for (const p of group) {
      this.db.exec('SAVEPOINT op')
      try {
        const value = p.work()
        this.db.exec('RELEASE op')
        outcomes.push({ ok: true, value })
      } catch (error) {
        this.db.exec('ROLLBACK TO op')
        this.db.exec('RELEASE op')
        outcomes.push({ ok: false, value: error })
      }
    }
    try {
      this.db.exec('COMMIT')
    } catch (error) {
      // The whole group is lost: every caller hears of it, none is told it succeeded.
      if (this.db.inTransaction) this.db.exec('ROLLBACK')
      for (const p of group) p.reject(error)
      return
    }
    group.forEach((p, i) => {
      const outcome = outcomes[i]
      if (outcome?.ok === true) p.resolve(outcome.value)
      else p.reject(outcome?.value)
    })
    this.afterCommit()
  }
}
