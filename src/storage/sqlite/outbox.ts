/**
 * The notification outbox: in the same transaction as every change to a thing's pending executions,
 * a row says "the pending list of this thing (in this namespace) may have changed" and whether its set
 * changed. A dispatcher turns rows into `notify` / `notify-next` after commit, at least once, in order
 * per thing. [spec: jobs-device-api#4] [ARCHITECTURE: notifications go through an outbox]
 */
import type Database from 'better-sqlite3'
import type { OutboxRow } from '../../ports/store.js'

export class Outbox {
  private readonly s

  constructor(
    db: Database.Database,
    /** Without a notifier nobody reads the outbox, so nothing is written. */
    private readonly enabled: boolean,
  ) {
    this.s = {
      thing: db.prepare('INSERT INTO outbox (thing_name, namespace_id, set_changed) VALUES (?, ?, ?)'),
      executionsOfJobSince: db.prepare(
        `INSERT INTO outbox (thing_name, namespace_id, set_changed)
         SELECT DISTINCT thing_name, namespace_id, 1 FROM job_executions WHERE job_id = ? AND seq > ?`,
      ),
      executionsOfJobInStatus: db.prepare(
        `INSERT INTO outbox (thing_name, namespace_id, set_changed)
         SELECT DISTINCT thing_name, namespace_id, 1 FROM job_executions WHERE job_id = ? AND status = ?`,
      ),
      pendingOfThing: db.prepare(
        `INSERT INTO outbox (thing_name, namespace_id, set_changed)
         SELECT DISTINCT thing_name, namespace_id, 1 FROM job_executions
         WHERE thing_name = ? AND status IN ('QUEUED', 'IN_PROGRESS')`,
      ),
      maxExecutionSeq: db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM job_executions'),
      read: db.prepare('SELECT * FROM outbox ORDER BY seq LIMIT ?'),
      delete: db.prepare('DELETE FROM outbox WHERE seq <= ?'),
      getNext: db.prepare('SELECT next_key FROM notify_next_state WHERE thing_name = ? AND namespace_id = ?'),
      setNext: db.prepare(
        `INSERT INTO notify_next_state (thing_name, namespace_id, next_key) VALUES (?, ?, ?)
         ON CONFLICT (thing_name, namespace_id) DO UPDATE SET next_key = excluded.next_key`,
      ),
    }
  }

  /** One thing's pending list changed; `setChanged` when an execution joined or left it. */
  thing(thingName: string, namespaceId: string, setChanged: boolean): void {
    if (this.enabled) this.s.thing.run(thingName, namespaceId, setChanged ? 1 : 0)
  }

  /** The highest execution sequence now: executions created after it are new. */
  mark(): number {
    return this.enabled ? (this.s.maxExecutionSeq.get() as { seq: number }).seq : 0
  }

  /** Every thing that got an execution of the job after `mark`. */
  createdSince(jobId: string, mark: number): void {
    if (this.enabled) this.s.executionsOfJobSince.run(jobId, mark)
  }

  /** Runs a set-based outbox write of the caller's only when a notifier reads the outbox. */
  enabledRun(write: () => void): void {
    if (this.enabled) write()
  }

  /** Every thing with an execution of the job in `status` (call before changing them). */
  inStatus(jobId: string, status: string): void {
    if (this.enabled) this.s.executionsOfJobInStatus.run(jobId, status)
  }

  /** Every namespace in which the thing has pending executions (call before changing them). */
  pendingOf(thingName: string): void {
    if (this.enabled) this.s.pendingOfThing.run(thingName)
  }

  read(limit: number): OutboxRow[] {
    return (
      this.s.read.all(limit) as {
        seq: number
        thing_name: string
        namespace_id: string
        set_changed: number
      }[]
    ).map((r) => ({
      seq: r.seq,
      thingName: r.thing_name,
      namespaceId: r.namespace_id,
      setChanged: r.set_changed === 1,
    }))
  }

  deleteThrough(seq: number): void {
    this.s.delete.run(seq)
  }

  nextKey(thingName: string, namespaceId: string): string | undefined {
    return (this.s.getNext.get(thingName, namespaceId) as { next_key: string } | undefined)?.next_key
  }

  setNextKey(thingName: string, namespaceId: string, key: string): void {
    this.s.setNext.run(thingName, namespaceId, key)
  }
}
