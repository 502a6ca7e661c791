/**
 * The touched table of the baselines, copied from migration 1 in src/storage/sqlite/migrations.ts
 * (job_executions with all its indexes), so the baseline SQL pays for the same index maintenance.
 */
export const JOB_EXECUTIONS_SCHEMA = `
  CREATE TABLE job_executions (
    seq                   INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id                TEXT NOT NULL,
    thing_name            TEXT NOT NULL,
    execution_number      INTEGER NOT NULL,
    status                TEXT NOT NULL,
    namespace_id          TEXT NOT NULL,
    force_canceled        INTEGER NOT NULL DEFAULT 0,
    status_details        TEXT NOT NULL DEFAULT '{}',
    queued_at             INTEGER NOT NULL,
    started_at            INTEGER,
    last_updated_at       INTEGER NOT NULL,
    version_number        INTEGER NOT NULL,
    retry_attempt         INTEGER NOT NULL DEFAULT 0,
    in_progress_deadline  INTEGER,
    step_deadline         INTEGER,
    UNIQUE (job_id, thing_name, execution_number)
  );
  CREATE INDEX executions_by_job ON job_executions (job_id, seq);
  CREATE INDEX executions_by_job_status ON job_executions (job_id, status, seq);
  CREATE INDEX executions_by_thing ON job_executions (thing_name, seq);
  CREATE INDEX executions_pending ON job_executions (thing_name, namespace_id, status, seq)
    WHERE status IN ('QUEUED', 'IN_PROGRESS');
`

/** The columns a new execution row gets, in the order the baselines insert them. */
export const EXECUTION_INSERT_COLUMNS =
  '(job_id, thing_name, execution_number, status, namespace_id, queued_at, last_updated_at, version_number)'

/**
 * The PostgreSQL baseline's table `t` (`node-http-pg.ts`) in `schema`, a schema of its own: one row
 * per thing of the point's request list, ids 1 … rows, as the bench process creates it.
 */
export function pgBaselineTable(schema: string, rows: number): string[] {
  return [
    `CREATE TABLE ${schema}.t (
       id          BIGINT PRIMARY KEY,
       status      TEXT NOT NULL,
       version     BIGINT NOT NULL,
       updated_at  BIGINT NOT NULL
     )`,
    `INSERT INTO ${schema}.t (id, status, version, updated_at)
     SELECT i, 'IN_PROGRESS', 2, ${Date.now()} FROM generate_series(1, ${rows}) AS i`,
    `ANALYZE ${schema}.t`,
  ]
}
