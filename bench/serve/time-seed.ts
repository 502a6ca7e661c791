/**
 * The statements the time family (`--time`) runs behind the server's back, on the server's own
 * database (a second SQLite connection to its file, WAL; or one PostgreSQL connection to its schema):
 * set-based seeding of things and memberships, moving a job's executions to IN_PROGRESS with
 * deadlines, the bare `UPDATE … TIMED_OUT` baseline, and the counts every point checks. Rows are those
 * the API writes (src/storage/sqlite/migrations.ts 1–8, src/storage/postgres/migrations.ts 1–2).
 */
import Database from 'better-sqlite3'
import pg from 'pg'
import { pgConfig } from '../lib/pg.js'

export interface SeedThingsArgs {
  /** Things `${prefix}-000000` … `${prefix}-<count - 1>` (created when missing). */
  readonly prefix: string
  readonly count: number
  /** An existing group every thing joins. */
  readonly group?: string
  /** Existing groups `${groupPrefix}-0000` …: thing i joins group ⌊i / groupSize⌋. */
  readonly groupPrefix?: string
  readonly groupSize?: number
}

export interface StartExecutionsArgs {
  readonly jobId: string
  /** started_at and last_updated_at of every execution. */
  readonly startedAtMs: number
  readonly inProgressDeadlineMs: number
  readonly stepDeadlineMs?: number
}

export interface ResetArgs {
  readonly jobId: string
  readonly startedAtMs: number
  readonly deadlineMs: number
  /**
   * Also the job: IN_PROGRESS again (not completed), its counters moved back from TIMED_OUT to
   * IN_PROGRESS, so that the server can sweep the rows once more. Without it only the rows change (for
   * the bare UPDATE, which looks at nothing else).
   */
  readonly restoreJob?: boolean
}

/** What the executions of one job look like now. */
export interface ExecutionStats {
  readonly total: number
  readonly things: number
  readonly queued: number
  readonly inProgress: number
  readonly timedOut: number
  /** Rows with an effective deadline (`deadline` not NULL): armed timers. */
  readonly withDeadline: number
  /** Rows with both an in-progress and a step deadline. */
  readonly bothTimers: number
}

/** Rows ever written to the two outboxes (their sequences), and rows still waiting. */
export interface OutboxState {
  readonly outboxWritten: number
  readonly eventsWritten: number
  readonly outboxRows: number
  readonly eventRows: number
}

/** Every execution, armed timer and due job of the whole database. */
export interface StoreTotals {
  readonly executions: number
  readonly withDeadline: number
  readonly jobsDue: number
}

export interface TimeSeeder {
  seedThings(args: SeedThingsArgs): Promise<number>
  /** Every QUEUED execution of the job → IN_PROGRESS (version 2) with deadlines; the job's counters follow. */
  startExecutions(args: StartExecutionsArgs): Promise<number>
  /** The job's TIMED_OUT executions back to IN_PROGRESS with `deadlineMs` (untimed). */
  resetTimedOut(args: ResetArgs): Promise<number>
  /** The baseline: one bare set-based UPDATE of every row due at `nowMs` to TIMED_OUT, autocommit. */
  bareTimeOut(args: { readonly nowMs: number }): Promise<{ ms: number; changes: number }>
  /** Deletes a job's executions (untimed), so the next timed fan-out starts from the same table. */
  dropExecutions(args: { readonly jobId: string }): Promise<number>
  executionStats(args: { readonly jobId: string }): Promise<ExecutionStats>
  outboxState(): Promise<OutboxState>
  totals(): Promise<StoreTotals>
  /** SQLite: wal_checkpoint(TRUNCATE). PostgreSQL: VACUUM ANALYZE job_executions, then CHECKPOINT. */
  settle(): Promise<string>
  close(): Promise<void>
}

const effective = (a: StartExecutionsArgs): number =>
  a.stepDeadlineMs === undefined ? a.inProgressDeadlineMs : Math.min(a.inProgressDeadlineMs, a.stepDeadlineMs)

/** A second connection to the server's database file. */
export function sqliteTimeSeeder(file: string): TimeSeeder {
  const db = new Database(file)
  db.pragma('synchronous = FULL')
  db.pragma('busy_timeout = 10000')
  const series = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @count)`
  const thing = `printf('%s-%06d', @prefix, i)`
  const bare = db.prepare(
    `UPDATE job_executions SET status = 'TIMED_OUT', version_number = version_number + 1,
       last_updated_at = @nowMs, in_progress_deadline = NULL, step_deadline = NULL, deadline = NULL
     WHERE deadline IS NOT NULL AND deadline <= @nowMs`,
  )
  const seq = db.prepare('SELECT seq FROM sqlite_sequence WHERE name = ?')
  const written = (table: string): number => (seq.get(table) as { seq: number } | undefined)?.seq ?? 0
  const rows = (table: string): number =>
    (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
  return {
    seedThings: (args) => {
      const started = performance.now()
      db.transaction(() => {
        const params = { count: args.count, prefix: args.prefix }
        db.prepare(
          `${series} INSERT OR IGNORE INTO things (thing_name, thing_id, attributes, version, created_at)
           SELECT ${thing}, lower(hex(randomblob(16))), '{}', 1, @now FROM n`,
        ).run({ ...params, now: Date.now() })
        if (args.group !== undefined) {
          db.prepare(
            `${series} INSERT OR IGNORE INTO thing_group_members (group_name, thing_name)
             SELECT @group, ${thing} FROM n`,
          ).run({ ...params, group: args.group })
        }
        if (args.groupPrefix !== undefined && args.groupSize !== undefined) {
          db.prepare(
            `${series} INSERT OR IGNORE INTO thing_group_members (group_name, thing_name)
             SELECT printf('%s-%04d', @groupPrefix, i / @groupSize), ${thing} FROM n`,
          ).run({ ...params, groupPrefix: args.groupPrefix, groupSize: args.groupSize })
        }
      })()
      return Promise.resolve(performance.now() - started)
    },
    startExecutions: (args) => {
      const moved = db.transaction(() => {
        const n = db
          .prepare(
            `UPDATE job_executions SET status = 'IN_PROGRESS', started_at = @startedAt, last_updated_at = @startedAt,
               version_number = 2, in_progress_deadline = @inProgress, step_deadline = @step, deadline = @deadline
             WHERE job_id = @jobId AND status = 'QUEUED'`,
          )
          .run({
            jobId: args.jobId,
            startedAt: args.startedAtMs,
            inProgress: args.inProgressDeadlineMs,
            step: args.stepDeadlineMs ?? null,
            deadline: effective(args),
          }).changes
        db.prepare(
          'UPDATE jobs SET n_queued = n_queued - @n, n_in_progress = n_in_progress + @n WHERE job_id = @jobId',
        ).run({ n, jobId: args.jobId })
        return n
      })()
      return Promise.resolve(moved)
    },
    resetTimedOut: (args) => {
      const reset = db.transaction(() => {
        const n = db
          .prepare(
            `UPDATE job_executions SET status = 'IN_PROGRESS', version_number = 2, started_at = @startedAt,
               last_updated_at = @startedAt, in_progress_deadline = @deadline, step_deadline = NULL,
               deadline = @deadline
             WHERE job_id = @jobId AND status = 'TIMED_OUT'`,
          )
          .run({ jobId: args.jobId, startedAt: args.startedAtMs, deadline: args.deadlineMs }).changes
        if (args.restoreJob === true) {
          db.prepare(
            `UPDATE jobs SET status = 'IN_PROGRESS', completed_at = NULL, last_updated_at = @startedAt,
               n_timed_out = n_timed_out - @n, n_in_progress = n_in_progress + @n
             WHERE job_id = @jobId`,
          ).run({ jobId: args.jobId, startedAt: args.startedAtMs, n })
        }
        return n
      })
      return Promise.resolve(reset())
    },
    bareTimeOut: (args) => {
      const started = performance.now()
      const changes = bare.run({ nowMs: args.nowMs }).changes
      return Promise.resolve({ ms: performance.now() - started, changes })
    },
    dropExecutions: (args) =>
      Promise.resolve(db.prepare('DELETE FROM job_executions WHERE job_id = ?').run(args.jobId).changes),
    executionStats: (args) =>
      Promise.resolve(
        db
          .prepare(
            `SELECT count(*) AS total, count(DISTINCT thing_name) AS things,
               coalesce(sum(status = 'QUEUED'), 0) AS queued,
               coalesce(sum(status = 'IN_PROGRESS'), 0) AS inProgress,
               coalesce(sum(status = 'TIMED_OUT'), 0) AS timedOut,
               coalesce(sum(deadline IS NOT NULL), 0) AS withDeadline,
               coalesce(sum(in_progress_deadline IS NOT NULL AND step_deadline IS NOT NULL), 0) AS bothTimers
             FROM job_executions WHERE job_id = ?`,
          )
          .get(args.jobId) as ExecutionStats,
      ),
    outboxState: () =>
      Promise.resolve({
        outboxWritten: written('outbox'),
        eventsWritten: written('event_outbox'),
        outboxRows: rows('outbox'),
        eventRows: rows('event_outbox'),
      }),
    totals: () =>
      Promise.resolve({
        executions: rows('job_executions'),
        withDeadline: (
          db.prepare('SELECT count(*) AS n FROM job_executions WHERE deadline IS NOT NULL').get() as {
            n: number
          }
        ).n,
        jobsDue: (
          db.prepare('SELECT count(*) AS n FROM jobs WHERE next_due_at IS NOT NULL').get() as { n: number }
        ).n,
      }),
    settle: () => {
      const [r] = db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number; log: number }[]
      return Promise.resolve(`wal_checkpoint(TRUNCATE): busy ${r?.busy ?? '?'}, ${r?.log ?? '?'} frames`)
    },
    close: () => {
      db.close()
      return Promise.resolve()
    },
  }
}

/** `prefix-000042` from a generate_series column `i`, as `printf('%s-%06d')` writes it on SQLite. */
const PG_THING = `$1::text || '-' || lpad(i::text, 6, '0')`

/** One connection of the bench's own to the server's PostgreSQL schema (opened on first use). */
export function pgTimeSeeder(url: string, schema: string): TimeSeeder {
  const pool = new pg.Pool({ ...pgConfig(url, schema), max: 1, idleTimeoutMillis: 0 })
  pool.on('error', () => undefined)
  const count = async (text: string, values: unknown[] = []): Promise<number> =>
    (await pool.query<{ n: number }>(text, values)).rows[0]?.n ?? 0
  const transaction = async <T>(work: (client: pg.PoolClient) => Promise<T>): Promise<T> => {
    const client = await pool.connect()
    try {
      await client.query('BEGIN')
      const result = await work(client)
      await client.query('COMMIT')
      return result
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined)
      throw error
    } finally {
      client.release()
    }
  }
  // A BIGSERIAL's values handed out so far (gaps of rolled-back transactions included).
  const written = (sequence: string): Promise<number> =>
    count(`SELECT (CASE WHEN is_called THEN last_value ELSE last_value - 1 END)::int AS n FROM ${sequence}`)
  let checkpointRefused = false
  return {
    seedThings: async (args) => {
      const started = performance.now()
      await transaction(async (client) => {
        await client.query(
          `INSERT INTO things (thing_name, thing_id, attributes, version, created_at)
           SELECT ${PG_THING}, md5($1::text || i::text || random()::text), '{}', 1, $3
           FROM generate_series(0, $2::int - 1) AS i ON CONFLICT (thing_name) DO NOTHING`,
          [args.prefix, args.count, Date.now()],
        )
        if (args.group !== undefined) {
          await client.query(
            `INSERT INTO thing_group_members (group_name, thing_name)
             SELECT $3, ${PG_THING} FROM generate_series(0, $2::int - 1) AS i ON CONFLICT DO NOTHING`,
            [args.prefix, args.count, args.group],
          )
        }
        if (args.groupPrefix !== undefined && args.groupSize !== undefined) {
          await client.query(
            `INSERT INTO thing_group_members (group_name, thing_name)
             SELECT $3::text || '-' || lpad((i / $4::int)::text, 4, '0'), ${PG_THING}
             FROM generate_series(0, $2::int - 1) AS i ON CONFLICT DO NOTHING`,
            [args.prefix, args.count, args.groupPrefix, args.groupSize],
          )
        }
      })
      // A fleet registered over the API would have been analyzed by autovacuum long before.
      await pool.query('ANALYZE things, thing_group_members')
      return performance.now() - started
    },
    startExecutions: async (args) => {
      const moved = await transaction(async (client) => {
        const res = await client.query(
          `UPDATE job_executions SET status = 'IN_PROGRESS', started_at = $2, last_updated_at = $2,
             version_number = 2, in_progress_deadline = $3, step_deadline = $4, deadline = $5
           WHERE job_id = $1 AND status = 'QUEUED'`,
          [
            args.jobId,
            args.startedAtMs,
            args.inProgressDeadlineMs,
            args.stepDeadlineMs ?? null,
            effective(args),
          ],
        )
        const n = res.rowCount ?? 0
        await client.query(
          'UPDATE jobs SET n_queued = n_queued - $2, n_in_progress = n_in_progress + $2 WHERE job_id = $1',
          [args.jobId, n],
        )
        return n
      })
      await pool.query('ANALYZE job_executions')
      return moved
    },
    resetTimedOut: (args) =>
      transaction(async (client) => {
        const res = await client.query(
          `UPDATE job_executions SET status = 'IN_PROGRESS', version_number = 2, started_at = $2,
             last_updated_at = $2, in_progress_deadline = $3, step_deadline = NULL, deadline = $3
           WHERE job_id = $1 AND status = 'TIMED_OUT'`,
          [args.jobId, args.startedAtMs, args.deadlineMs],
        )
        const n = res.rowCount ?? 0
        if (args.restoreJob === true) {
          await client.query(
            `UPDATE jobs SET status = 'IN_PROGRESS', completed_at = NULL, last_updated_at = $2,
               n_timed_out = n_timed_out - $3, n_in_progress = n_in_progress + $3
             WHERE job_id = $1`,
            [args.jobId, args.startedAtMs, n],
          )
        }
        return n
      }),
    bareTimeOut: async (args) => {
      const started = performance.now()
      const res = await pool.query(
        `UPDATE job_executions SET status = 'TIMED_OUT', version_number = version_number + 1,
           last_updated_at = $1, in_progress_deadline = NULL, step_deadline = NULL, deadline = NULL
         WHERE deadline IS NOT NULL AND deadline <= $1`,
        [args.nowMs],
      )
      return { ms: performance.now() - started, changes: res.rowCount ?? 0 }
    },
    dropExecutions: async (args) =>
      (await pool.query('DELETE FROM job_executions WHERE job_id = $1', [args.jobId])).rowCount ?? 0,
    executionStats: async (args) => {
      const { rows } = await pool.query<ExecutionStats>(
        `SELECT count(*)::int AS total, count(DISTINCT thing_name)::int AS things,
           count(*) FILTER (WHERE status = 'QUEUED')::int AS "queued",
           count(*) FILTER (WHERE status = 'IN_PROGRESS')::int AS "inProgress",
           count(*) FILTER (WHERE status = 'TIMED_OUT')::int AS "timedOut",
           count(*) FILTER (WHERE deadline IS NOT NULL)::int AS "withDeadline",
           count(*) FILTER (WHERE in_progress_deadline IS NOT NULL AND step_deadline IS NOT NULL)::int
             AS "bothTimers"
         FROM job_executions WHERE job_id = $1`,
        [args.jobId],
      )
      const stats = rows[0]
      if (stats === undefined) throw new Error('no statistics row')
      return stats
    },
    outboxState: async () => ({
      outboxWritten: await written('outbox_seq_seq'),
      eventsWritten: await written('event_outbox_seq_seq'),
      outboxRows: await count('SELECT count(*)::int AS n FROM outbox'),
      eventRows: await count('SELECT count(*)::int AS n FROM event_outbox'),
    }),
    totals: async () => ({
      executions: await count('SELECT count(*)::int AS n FROM job_executions'),
      withDeadline: await count('SELECT count(*)::int AS n FROM job_executions WHERE deadline IS NOT NULL'),
      jobsDue: await count('SELECT count(*)::int AS n FROM jobs WHERE next_due_at IS NOT NULL'),
    }),
    settle: async () => {
      await pool.query('VACUUM ANALYZE job_executions')
      if (checkpointRefused) return 'VACUUM ANALYZE job_executions (no CHECKPOINT: refused)'
      try {
        await pool.query('CHECKPOINT')
        return 'VACUUM ANALYZE job_executions, CHECKPOINT'
      } catch (error) {
        checkpointRefused = true
        return `VACUUM ANALYZE job_executions (CHECKPOINT refused: ${String(error)})`
      }
    },
    close: () => pool.end(),
  }
}
