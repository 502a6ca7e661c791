/**
 * Group commit for better-sqlite3: every write submitted during one turn of the event loop runs in
 * one transaction, each inside its own savepoint so one failure rolls back only its own writes.
 * With `synchronous=FULL` that is one fsync per group instead of one per request.
 * The work functions are synchronous; no transaction ever spans an await.
 */
import type { Database } from 'better-sqlite3'
import { performance } from 'node:perf_hooks'

/** Lets the store refuse writes before they start, and translate the errors they meet (disk-space.ts). */
export interface CommitGuard {
  /** Asked before each group: an error refuses every write of the group without touching the database. */
  refuse(): Error | undefined
  /** The error a caller gets for the one its write met. */
  failed(error: unknown): unknown
  /** Runs after every group in which a write failed, outside any transaction. */
  settle(): void
}

const PASS_THROUGH: CommitGuard = {
  refuse: () => undefined,
  failed: (error) => error,
  settle: () => undefined,
}

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
  /** Prepared once: `db.exec` would parse each of them again for every request. */
  private readonly sql
  private readonly observers: ((seconds: number, writes: number) => void)[] = []

  constructor(
    private readonly db: Database,
    /** Runs after every successful commit (wakes the outbox dispatcher). */
    private readonly afterCommit: () => void = () => undefined,
    private readonly guard: CommitGuard = PASS_THROUGH,
  ) {
    this.sql = {
      begin: db.prepare('BEGIN IMMEDIATE'),
      commit: db.prepare('COMMIT'),
      rollback: db.prepare('ROLLBACK'),
      savepoint: db.prepare('SAVEPOINT op'),
      release: db.prepare('RELEASE op'),
      rollbackTo: db.prepare('ROLLBACK TO op'),
    }
  }

  run<T>(work: () => T): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, resolve: resolve as (value: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /** Calls `listener` after every group that committed, with its duration (BEGIN to COMMIT) and size. */
  observe(listener: (seconds: number, writes: number) => void): void {
    this.observers.push(listener)
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
    const refused = this.guard.refuse()
    if (refused !== undefined) {
      for (const p of group) p.reject(refused)
      return
    }
    const sql = this.sql
    const outcomes: { ok: boolean; value: unknown }[] = []
    // Set when the transaction as a whole failed: no write of the group was kept.
    let lost: { error: unknown } | undefined
    // A group of one needs no savepoint: its failure rolls back the transaction, which is its own.
    const alone = group.length === 1
    const startedMs = this.observers.length === 0 ? 0 : performance.now()
    try {
      sql.begin.run()
      for (const p of group) {
        if (!alone) sql.savepoint.run()
        try {
          const value = p.work()
          if (!alone) sql.release.run()
          outcomes.push({ ok: true, value })
        } catch (error) {
          // SQLite may end the whole transaction by itself (SQLITE_FULL, SQLITE_IOERR): then the writes
          // that succeeded before are gone too, and a SAVEPOINT now would open a transaction of its own.
          if (alone || !this.db.inTransaction) throw error
          sql.rollbackTo.run()
          sql.release.run()
          outcomes.push({ ok: false, value: error })
        }
      }
      sql.commit.run()
    } catch (error) {
      // The whole group is lost: every caller hears of it, none is told it succeeded.
      if (this.db.inTransaction) sql.rollback.run()
      lost = { error }
    }
    if (lost !== undefined) {
      const error = this.guard.failed(lost.error)
      for (const p of group) p.reject(error)
    } else {
      group.forEach((p, i) => {
        const outcome = outcomes[i]
        if (outcome?.ok === true) p.resolve(outcome.value)
        else p.reject(this.guard.failed(outcome?.value))
      })
      if (this.observers.length > 0) {
        const seconds = (performance.now() - startedMs) / 1000
        for (const observer of this.observers) observer(seconds, group.length)
      }
      this.afterCommit()
    }
    if (lost !== undefined || outcomes.some((o) => !o.ok)) this.guard.settle()
  }
}
