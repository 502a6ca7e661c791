/**
 * The notification outbox in PostgreSQL: the same rows as the SQLite store's (storage/sqlite/outbox.ts),
 * written by statements of the change's own transaction. Several nodes write it; one node at a time
 * (the lease holder, see lease.ts) reads and completes it.
 */
import type { OutboxRow } from '../../ports/store.js'
import type { Sql } from './db.js'

export class PgOutbox {
  constructor(
    /** Without a notifier nobody reads the outbox, so nothing is written. */
    readonly enabled: boolean,
  ) {}

  /** One thing's pending list changed; `setChanged` when an execution joined or left it. */
  async thing(sql: Sql, thingName: string, namespaceId: string, setChanged: boolean): Promise<void> {
    if (!this.enabled) return
    await sql.query('INSERT INTO outbox (thing_name, namespace_id, set_changed) VALUES ($1, $2, $3)', [
      thingName,
      namespaceId,
      setChanged ? 1 : 0,
    ])
  }

  /** Every thing with an execution of the job in `status` (call before changing them). */
  async inStatus(sql: Sql, jobId: string, status: string): Promise<void> {
    if (!this.enabled) return
    await sql.query(
      `INSERT INTO outbox (thing_name, namespace_id, set_changed)
       SELECT DISTINCT thing_name, namespace_id, 1 FROM job_executions WHERE job_id = $1 AND status = $2`,
      [jobId, status],
    )
  }

  /** Every namespace in which the thing has pending executions (call before changing them). */
  async pendingOf(sql: Sql, thingName: string): Promise<void> {
    if (!this.enabled) return
    await sql.query(
      `INSERT INTO outbox (thing_name, namespace_id, set_changed)
       SELECT DISTINCT thing_name, namespace_id, 1 FROM job_executions
       WHERE thing_name = $1 AND status IN ('QUEUED', 'IN_PROGRESS')`,
      [thingName],
    )
  }

  /**
   * The SQL that, as a data-modifying CTE over `ins(thing_name, namespace_id)` — executions just
   * inserted — adds their outbox rows in the same statement (empty when the outbox is off).
   */
  createdCte(): string {
    return this.enabled
      ? `, ob AS (INSERT INTO outbox (thing_name, namespace_id, set_changed)
           SELECT DISTINCT thing_name, namespace_id, 1 FROM ins)`
      : ''
  }

  async read(sql: Sql, limit: number): Promise<OutboxRow[]> {
    const { rows } = await sql.query<{
      seq: number
      thing_name: string
      namespace_id: string
      set_changed: number
    }>('SELECT * FROM outbox ORDER BY seq LIMIT $1', [limit])
    return rows.map((r) => ({
      seq: r.seq,
      thingName: r.thing_name,
      namespaceId: r.namespace_id,
      setChanged: r.set_changed === 1,
    }))
  }

  /**
   * Deletes the rows read through `seq` — only those: sequence numbers are taken before commit, so a
   * row with a lower number may commit after a higher one was read, and it must not be lost.
   */
  async deleteRead(sql: Sql, seqs: readonly number[]): Promise<void> {
    if (seqs.length > 0) await sql.query('DELETE FROM outbox WHERE seq = ANY($1::bigint[])', [seqs])
  }

  async nextKey(sql: Sql, thingName: string, namespaceId: string): Promise<string | undefined> {
    const { rows } = await sql.query<{ next_key: string }>(
      'SELECT next_key FROM notify_next_state WHERE thing_name = $1 AND namespace_id = $2',
      [thingName, namespaceId],
    )
    return rows[0]?.next_key
  }

  async setNextKeys(
    sql: Sql,
    announced: readonly { thingName: string; namespaceId: string; key: string }[],
  ): Promise<void> {
    if (announced.length === 0) return
    await sql.query(
      `INSERT INTO notify_next_state (thing_name, namespace_id, next_key)
       SELECT * FROM unnest($1::text[], $2::text[], $3::text[])
       ON CONFLICT (thing_name, namespace_id) DO UPDATE SET next_key = excluded.next_key`,
      [announced.map((a) => a.thingName), announced.map((a) => a.namespaceId), announced.map((a) => a.key)],
    )
  }
}
