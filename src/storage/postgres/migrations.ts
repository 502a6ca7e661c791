/**
 * Numbered schema migrations of the PostgreSQL store, applied in order at start-up, each in its own
 * transaction, under an advisory lock so that nodes starting together migrate once. `schema_version`
 * records the last one applied. Columns and their names follow the SQLite schema (storage/rows.ts maps
 * both); times are epoch milliseconds in BIGINT, JSON is kept as text (read whole, never queried).
 * Names and ids compare byte-wise (COLLATE "C"), as in SQLite, whatever the database's collation: the
 * list orders are the same on both stores, and the indexes serve them.
 */
export const PG_MIGRATIONS: readonly {
  readonly version: number
  readonly name: string
  readonly sql: string
}[] = [
  {
    version: 1,
    name: 'things, groups, jobs, executions, templates, outboxes',
    sql: `
      CREATE TABLE things (
        thing_name  TEXT COLLATE "C" PRIMARY KEY,
        thing_id    TEXT NOT NULL,
        attributes  TEXT NOT NULL,
        version     BIGINT NOT NULL,
        created_at  BIGINT NOT NULL
      );

      CREATE SEQUENCE job_spec_versions;
      CREATE TABLE jobs (
        seq               BIGSERIAL PRIMARY KEY,
        job_id            TEXT COLLATE "C" NOT NULL UNIQUE,
        status            TEXT COLLATE "C" NOT NULL,
        target_selection  TEXT NOT NULL,
        namespace_id      TEXT COLLATE "C",
        created_at        BIGINT NOT NULL,
        last_updated_at   BIGINT NOT NULL,
        completed_at      BIGINT,
        force_canceled    SMALLINT NOT NULL DEFAULT 0,
        reason_code       TEXT,
        comment           TEXT,
        spec_version      BIGINT NOT NULL,
        n_queued          BIGINT NOT NULL DEFAULT 0,
        n_in_progress     BIGINT NOT NULL DEFAULT 0,
        n_succeeded       BIGINT NOT NULL DEFAULT 0,
        n_failed          BIGINT NOT NULL DEFAULT 0,
        n_timed_out       BIGINT NOT NULL DEFAULT 0,
        n_rejected        BIGINT NOT NULL DEFAULT 0,
        n_removed         BIGINT NOT NULL DEFAULT 0,
        n_canceled        BIGINT NOT NULL DEFAULT 0
      );
      CREATE INDEX jobs_by_status ON jobs (status, seq);
      CREATE INDEX jobs_by_created ON jobs (created_at, job_id);

      -- The cold part of a job (document, targets, configurations), apart from the hot row that every
      -- execution change updates (see storage/sqlite/job-specs.ts).
      CREATE TABLE job_specs (
        job_id    TEXT COLLATE "C" PRIMARY KEY,
        document  TEXT NOT NULL,
        body      TEXT NOT NULL
      );

      CREATE TABLE job_targets (
        job_id       TEXT COLLATE "C" NOT NULL,
        target_arn   TEXT COLLATE "C" NOT NULL,
        target_kind  TEXT COLLATE "C" NOT NULL,
        target_name  TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (job_id, target_arn)
      );
      CREATE INDEX job_targets_by_arn ON job_targets (target_arn, job_id);
      CREATE INDEX job_targets_by_name ON job_targets (target_kind, target_name, job_id);

      CREATE TABLE job_executions (
        seq                   BIGSERIAL PRIMARY KEY,
        job_id                TEXT COLLATE "C" NOT NULL,
        thing_name            TEXT COLLATE "C" NOT NULL,
        execution_number      BIGINT NOT NULL,
        status                TEXT COLLATE "C" NOT NULL,
        namespace_id          TEXT COLLATE "C" NOT NULL,
        force_canceled        SMALLINT NOT NULL DEFAULT 0,
        status_details        TEXT NOT NULL DEFAULT '{}',
        queued_at             BIGINT NOT NULL,
        started_at            BIGINT,
        last_updated_at       BIGINT NOT NULL,
        version_number        BIGINT NOT NULL,
        retry_attempt         BIGINT NOT NULL DEFAULT 0,
        in_progress_deadline  BIGINT,
        step_deadline         BIGINT,
        UNIQUE (job_id, thing_name, execution_number)
      );
      CREATE INDEX executions_by_job ON job_executions (job_id, seq);
      CREATE INDEX executions_pending ON job_executions (thing_name, namespace_id, status, seq)
        WHERE status IN ('QUEUED', 'IN_PROGRESS');
      -- [open-question 3] the spec's list orders, walked by keyset pagination
      CREATE INDEX executions_by_job_queued ON job_executions (job_id, queued_at, thing_name, execution_number);
      CREATE INDEX executions_by_job_status_queued
        ON job_executions (job_id, status, queued_at, thing_name, execution_number);
      CREATE INDEX executions_by_thing_queued ON job_executions (thing_name, queued_at, job_id, execution_number);

      CREATE TABLE thing_groups (
        group_name   TEXT COLLATE "C" PRIMARY KEY,
        group_id     TEXT NOT NULL,
        parent_name  TEXT COLLATE "C",
        depth        BIGINT NOT NULL,
        properties   TEXT NOT NULL,
        tags         TEXT,
        version      BIGINT NOT NULL,
        created_at   BIGINT NOT NULL
      );
      CREATE INDEX thing_groups_by_parent ON thing_groups (parent_name, group_name);
      CREATE INDEX thing_groups_by_id ON thing_groups (group_id);

      CREATE TABLE thing_group_members (
        group_name  TEXT COLLATE "C" NOT NULL,
        thing_name  TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (group_name, thing_name)
      );
      CREATE INDEX thing_group_members_by_thing ON thing_group_members (thing_name, group_name);

      CREATE TABLE job_templates (
        seq          BIGSERIAL PRIMARY KEY,
        template_id  TEXT COLLATE "C" NOT NULL UNIQUE,
        created_at   BIGINT NOT NULL,
        body         TEXT NOT NULL
      );
      CREATE INDEX job_templates_by_created ON job_templates (created_at, template_id);

      CREATE TABLE outbox (
        seq           BIGSERIAL PRIMARY KEY,
        thing_name    TEXT COLLATE "C" NOT NULL,
        namespace_id  TEXT COLLATE "C" NOT NULL,
        set_changed   SMALLINT NOT NULL
      );
      CREATE TABLE notify_next_state (
        thing_name    TEXT COLLATE "C" NOT NULL,
        namespace_id  TEXT COLLATE "C" NOT NULL,
        next_key      TEXT NOT NULL,
        PRIMARY KEY (thing_name, namespace_id)
      );

      CREATE TABLE event_outbox (
        seq        BIGSERIAL PRIMARY KEY,
        event_id   TEXT NOT NULL,
        family     TEXT NOT NULL,
        operation  TEXT NOT NULL,
        at_ms      BIGINT NOT NULL,
        facts      TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'time-driven work: deadlines, rollout, schedules',
    // The SQLite store's migration 8, with the same meaning (storage/sqlite/migrations.ts).
    // [spec: state-machines#4] `deadline` is the effective deadline (the earlier timer) of an IN_PROGRESS
    // execution, NULL otherwise, so the sweep walks one partial index. `timed_out_retries` splits an
    // attempt chain's retries by failure type [spec: state-machines#8]. A job's rollout keeps the things
    // its targets resolved to that have no execution yet in job_rollout_things, in thing-name order
    // [spec: state-machines#5]; `next_due_at` is the next instant its time-driven work is due. Jobs that
    // may have work get next_due_at = 0, so the first pass computes their real instant. ADD COLUMN with
    // a constant default rewrites no table (PostgreSQL 11+).
    sql: `
      ALTER TABLE job_executions
        ADD COLUMN deadline BIGINT,
        ADD COLUMN timed_out_retries BIGINT NOT NULL DEFAULT 0;
      UPDATE job_executions SET deadline = LEAST(in_progress_deadline, step_deadline)
        WHERE status = 'IN_PROGRESS' AND (in_progress_deadline IS NOT NULL OR step_deadline IS NOT NULL);
      CREATE INDEX executions_by_deadline ON job_executions (deadline, seq) WHERE deadline IS NOT NULL;

      ALTER TABLE jobs
        ADD COLUMN rollout_started SMALLINT NOT NULL DEFAULT 1,
        ADD COLUMN rollout_remaining BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN rollout_notified BIGINT NOT NULL DEFAULT 0,
        ADD COLUMN rollout_last_batch_at BIGINT,
        ADD COLUMN rollout_ended SMALLINT NOT NULL DEFAULT 0,
        ADD COLUMN next_due_at BIGINT;
      UPDATE jobs SET rollout_started = 0 WHERE status = 'SCHEDULED';
      UPDATE jobs SET next_due_at = 0 WHERE status IN ('SCHEDULED', 'IN_PROGRESS');
      CREATE INDEX jobs_by_next_due ON jobs (next_due_at, job_id) WHERE next_due_at IS NOT NULL;

      CREATE TABLE job_rollout_things (
        job_id      TEXT COLLATE "C" NOT NULL,
        thing_name  TEXT COLLATE "C" NOT NULL,
        PRIMARY KEY (job_id, thing_name)
      );
    `,
  },
  {
    version: 3,
    name: 'certificate registry',
    // The SQLite store's migration 9, with the same meaning (storage/sqlite/migrations.ts).
    sql: `
      CREATE TABLE certificates (
        certificate_id     TEXT COLLATE "C" PRIMARY KEY,
        ca_certificate_id  TEXT COLLATE "C",
        status             TEXT NOT NULL,
        certificate_mode   TEXT NOT NULL,
        pem                TEXT NOT NULL,
        not_before         BIGINT NOT NULL,
        not_after          BIGINT NOT NULL,
        created_at         BIGINT NOT NULL,
        last_modified_at   BIGINT NOT NULL,
        customer_version   BIGINT NOT NULL,
        generation_id      TEXT NOT NULL
      );
      CREATE INDEX certificates_by_created ON certificates (created_at, certificate_id);
      CREATE INDEX certificates_by_ca ON certificates (ca_certificate_id, created_at, certificate_id)
        WHERE ca_certificate_id IS NOT NULL;

      CREATE TABLE ca_certificates (
        certificate_id        TEXT COLLATE "C" PRIMARY KEY,
        status                TEXT NOT NULL,
        certificate_mode      TEXT NOT NULL,
        pem                   TEXT NOT NULL,
        subject               TEXT COLLATE "C" NOT NULL,
        auto_registration     TEXT NOT NULL,
        registration_config   TEXT,
        not_before            BIGINT NOT NULL,
        not_after             BIGINT NOT NULL,
        created_at            BIGINT NOT NULL,
        last_modified_at      BIGINT NOT NULL,
        customer_version      BIGINT NOT NULL,
        generation_id         TEXT NOT NULL
      );
      CREATE INDEX ca_certificates_by_created ON ca_certificates (created_at, certificate_id);
      CREATE INDEX ca_certificates_by_subject ON ca_certificates (subject, created_at);

      CREATE TABLE thing_principals (
        thing_name      TEXT COLLATE "C" NOT NULL,
        certificate_id  TEXT COLLATE "C" NOT NULL,
        attached_at     BIGINT NOT NULL,
        PRIMARY KEY (thing_name, certificate_id)
      );
      CREATE INDEX thing_principals_by_certificate ON thing_principals (certificate_id, thing_name);
    `,
  },
  {
    version: 4,
    name: 'outbox commit times',
    // The SQLite store's migration 10: when each outbox row was committed, by the machine's clock, for
    // /metrics. A column default, so no write path changes.
    sql: `
      ALTER TABLE outbox
        ADD COLUMN created_at BIGINT NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
      ALTER TABLE event_outbox
        ADD COLUMN created_at BIGINT NOT NULL DEFAULT (extract(epoch FROM clock_timestamp()) * 1000)::bigint;
    `,
  },
]
