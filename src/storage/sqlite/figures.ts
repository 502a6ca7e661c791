/** What /metrics reads from the SQLite store, in one read transaction (storage/figures.ts). */
import type Database from 'better-sqlite3'
import type { StoreFigures } from '../../ports/store.js'
import type { JobFiguresRow, OutboxFiguresRow } from '../figures.js'
import { EVENT_OUTBOX_FIGURES_SQL, JOB_FIGURES_SQL, OUTBOX_FIGURES_SQL, storeFigures } from '../figures.js'

export class OperatorFigures {
  readonly read: () => StoreFigures

  constructor(db: Database.Database) {
    const jobs = db.prepare(JOB_FIGURES_SQL)
    const outbox = db.prepare(OUTBOX_FIGURES_SQL)
    const events = db.prepare(EVENT_OUTBOX_FIGURES_SQL)
    this.read = db.transaction(() =>
      storeFigures(
        jobs.all() as JobFiguresRow[],
        outbox.get() as OutboxFiguresRow | undefined,
        events.get() as OutboxFiguresRow | undefined,
      ),
    )
  }
}
