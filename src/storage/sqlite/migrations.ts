/**
 * Numbered schema migrations, applied in order at start-up inside one transaction each; the
 * database's `user_version` records the last one applied.
 */
export const MIGRATIONS: readonly {
  readonly version: number
  readonly name: string
  readonly sql: string
}[] = [
  {
    version: 1,
    name: 'things, jobs, executions',
    sql: `
      CREATE TABLE things (
        thing_name  TEXT PRIMARY KEY,
        thing_id    TEXT NOT NULL,
        attributes  TEXT NOT NULL,
        version     INTEGER NOT NULL,
        created_at  INTEGER NOT NULL
      ) WITHOUT ROWID;

      CREATE TABLE jobs (
        seq               INTEGER PRIMARY KEY AUTOINCREMENT,
        job_id            TEXT NOT NULL UNIQUE,
        status            TEXT NOT NULL,
        target_selection  TEXT NOT NULL,
        namespace_id      TEXT,
        created_at        INTEGER NOT NULL,
        last_updated_at   INTEGER NOT NULL,
        completed_at      INTEGER,
        force_canceled    INTEGER NOT NULL DEFAULT 0,
        reason_code       TEXT,
        comment           TEXT,
        document          TEXT NOT NULL,
        body              TEXT NOT NULL,
        n_queued          INTEGER NOT NULL DEFAULT 0,
        n_in_progress     INTEGER NOT NULL DEFAULT 0,
        n_succeeded       INTEGER NOT NULL DEFAULT 0,
        n_failed          INTEGER NOT NULL DEFAULT 0,
        n_timed_out       INTEGER NOT NULL DEFAULT 0,
        n_rejected        INTEGER NOT NULL DEFAULT 0,
        n_removed         INTEGER NOT NULL DEFAULT 0,
        n_canceled        INTEGER NOT NULL DEFAULT 0
      );
      CREATE INDEX jobs_by_status ON jobs (status, seq);

      CREATE TABLE job_targets (
        job_id      TEXT NOT NULL,
        target_arn  TEXT NOT NULL,
        PRIMARY KEY (job_id, target_arn)
      ) WITHOUT ROWID;
      CREATE INDEX job_targets_by_arn ON job_targets (target_arn, job_id);

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
    `,
  },
  {
    version: 2,
    name: 'static thing groups, memberships, typed job targets',
    sql: `
      CREATE TABLE thing_groups (
        group_name   TEXT PRIMARY KEY,
        group_id     TEXT NOT NULL,
        parent_name  TEXT,
        depth        INTEGER NOT NULL,
        properties   TEXT NOT NULL,
        tags         TEXT,
        version      INTEGER NOT NULL,
        created_at   INTEGER NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX thing_groups_by_parent ON thing_groups (parent_name, group_name);

      CREATE TABLE thing_group_members (
        group_name  TEXT NOT NULL,
        thing_name  TEXT NOT NULL,
        PRIMARY KEY (group_name, thing_name)
      ) WITHOUT ROWID;
      CREATE INDEX thing_group_members_by_thing ON thing_group_members (thing_name, group_name);

      ALTER TABLE job_targets ADD COLUMN target_kind TEXT NOT NULL DEFAULT 'thing';
      ALTER TABLE job_targets ADD COLUMN target_name TEXT NOT NULL DEFAULT '';
      UPDATE job_targets SET
        target_kind = CASE WHEN instr(target_arn, ':thinggroup/') > 0 THEN 'thinggroup' ELSE 'thing' END,
        target_name = substr(target_arn, instr(target_arn, '/') + 1);
      CREATE INDEX job_targets_by_name ON job_targets (target_kind, target_name, job_id);
    `,
  },
  {
    version: 3,
    name: 'job templates',
    sql: `
      CREATE TABLE job_templates (
        seq          INTEGER PRIMARY KEY AUTOINCREMENT,
        template_id  TEXT NOT NULL UNIQUE,
        created_at   INTEGER NOT NULL,
        body         TEXT NOT NULL
      );
    `,
  },
  {
    version: 4,
    name: 'notification outbox',
    sql: `
      CREATE TABLE outbox (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        thing_name    TEXT NOT NULL,
        namespace_id  TEXT NOT NULL,
        set_changed   INTEGER NOT NULL
      );
      CREATE TABLE notify_next_state (
        thing_name    TEXT NOT NULL,
        namespace_id  TEXT NOT NULL,
        next_key      TEXT NOT NULL,
        PRIMARY KEY (thing_name, namespace_id)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 5,
    name: 'job specs apart from the hot job row',
    // The document and body (targets, configurations) move to job_specs, so that a counter update
    // rewrites a small row instead of a half-megabyte one. See job-specs.ts.
    sql: `
      CREATE TABLE job_specs (
        job_id    TEXT PRIMARY KEY,
        document  TEXT NOT NULL,
        body      TEXT NOT NULL
      );
      INSERT INTO job_specs (job_id, document, body) SELECT job_id, document, body FROM jobs;
      ALTER TABLE jobs DROP COLUMN document;
      ALTER TABLE jobs DROP COLUMN body;
      ALTER TABLE jobs ADD COLUMN spec_version INTEGER NOT NULL DEFAULT 0;
    `,
  },
  {
    version: 6,
    name: 'list orders of the spec',
    // [open-question 3] jobs by (createdAt, jobId); a job's executions by (queuedAt, thingName,
    // executionNumber); a thing's by (queuedAt, jobId, executionNumber); templates by (createdAt, id).
    // Keyset pagination walks these indexes.
    sql: `
      CREATE INDEX jobs_by_created ON jobs (created_at, job_id);
      DROP INDEX executions_by_job_status;
      DROP INDEX executions_by_thing;
      CREATE INDEX executions_by_job_queued ON job_executions (job_id, queued_at, thing_name, execution_number);
      CREATE INDEX executions_by_job_status_queued
        ON job_executions (job_id, status, queued_at, thing_name, execution_number);
      CREATE INDEX executions_by_thing_queued ON job_executions (thing_name, queued_at, job_id, execution_number);
      CREATE INDEX job_templates_by_created ON job_templates (created_at, template_id);
    `,
  },
  {
    version: 7,
    name: 'Jobs events outbox',
    // [spec: jobs-device-api#5] one row per event, written in the transaction of its change, deleted once
    // published. `facts` is the JSON the payload is made of (events.ts).
    sql: `
      CREATE TABLE event_outbox (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id   TEXT NOT NULL,
        family     TEXT NOT NULL,
        operation  TEXT NOT NULL,
        at_ms      INTEGER NOT NULL,
        facts      TEXT NOT NULL
      );
    `,
  },
  {
    version: 8,
    name: 'time-driven work: deadlines, rollout, schedules',
    // [spec: state-machines#4] `deadline` is the effective deadline (the earlier timer) of an IN_PROGRESS
    // execution, NULL otherwise, so the sweep walks one partial index. `timed_out_retries` splits an
    // attempt chain's retries by failure type [spec: state-machines#8]. A job's rollout keeps the things
    // its targets resolved to that have no execution yet in job_rollout_things, in thing-name order
    // [spec: state-machines#5]; `next_due_at` is the next instant its time-driven work is due. Jobs
    // that may have work get next_due_at = 0, so the first pass computes their real instant.
    sql: `
      ALTER TABLE job_executions ADD COLUMN deadline INTEGER;
      ALTER TABLE job_executions ADD COLUMN timed_out_retries INTEGER NOT NULL DEFAULT 0;
      UPDATE job_executions SET deadline = CASE
          WHEN in_progress_deadline IS NULL THEN step_deadline
          WHEN step_deadline IS NULL THEN in_progress_deadline
          ELSE min(in_progress_deadline, step_deadline) END
        WHERE status = 'IN_PROGRESS';
      CREATE INDEX executions_by_deadline ON job_executions (deadline, seq) WHERE deadline IS NOT NULL;

      ALTER TABLE jobs ADD COLUMN rollout_started INTEGER NOT NULL DEFAULT 1;
      ALTER TABLE jobs ADD COLUMN rollout_remaining INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN rollout_notified INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN rollout_last_batch_at INTEGER;
      ALTER TABLE jobs ADD COLUMN rollout_ended INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE jobs ADD COLUMN next_due_at INTEGER;
      UPDATE jobs SET rollout_started = 0 WHERE status = 'SCHEDULED';
      UPDATE jobs SET next_due_at = 0 WHERE status IN ('SCHEDULED', 'IN_PROGRESS');
      CREATE INDEX jobs_by_next_due ON jobs (next_due_at, job_id) WHERE next_due_at IS NOT NULL;

      CREATE TABLE job_rollout_things (
        job_id      TEXT NOT NULL,
        thing_name  TEXT NOT NULL,
        PRIMARY KEY (job_id, thing_name)
      ) WITHOUT ROWID;
    `,
  },
  {
    version: 9,
    name: 'certificate registry',
    // [aws: iot certificates] Device certificates, CA certificates and thing ↔ certificate attachments
    // (storage/sqlite/certificates.ts). The lists walk (created_at, certificate_id) both ways; a device's
    // identity check is primary-key lookups in certificates, ca_certificates, things and thing_principals.
    sql: `
      CREATE TABLE certificates (
        certificate_id     TEXT PRIMARY KEY,
        ca_certificate_id  TEXT,
        status             TEXT NOT NULL,
        certificate_mode   TEXT NOT NULL,
        pem                TEXT NOT NULL,
        not_before         INTEGER NOT NULL,
        not_after          INTEGER NOT NULL,
        created_at         INTEGER NOT NULL,
        last_modified_at   INTEGER NOT NULL,
        customer_version   INTEGER NOT NULL,
        generation_id      TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX certificates_by_created ON certificates (created_at, certificate_id);
      CREATE INDEX certificates_by_ca ON certificates (ca_certificate_id, created_at, certificate_id)
        WHERE ca_certificate_id IS NOT NULL;

      CREATE TABLE ca_certificates (
        certificate_id        TEXT PRIMARY KEY,
        status                TEXT NOT NULL,
        certificate_mode      TEXT NOT NULL,
        pem                   TEXT NOT NULL,
        subject               TEXT NOT NULL,
        auto_registration     TEXT NOT NULL,
        registration_config   TEXT,
        not_before            INTEGER NOT NULL,
        not_after             INTEGER NOT NULL,
        created_at            INTEGER NOT NULL,
        last_modified_at      INTEGER NOT NULL,
        customer_version      INTEGER NOT NULL,
        generation_id         TEXT NOT NULL
      ) WITHOUT ROWID;
      CREATE INDEX ca_certificates_by_created ON ca_certificates (created_at, certificate_id);
      CREATE INDEX ca_certificates_by_subject ON ca_certificates (subject, created_at);

      CREATE TABLE thing_principals (
        thing_name      TEXT NOT NULL,
        certificate_id  TEXT NOT NULL,
        attached_at     INTEGER NOT NULL,
        PRIMARY KEY (thing_name, certificate_id)
      ) WITHOUT ROWID;
      CREATE INDEX thing_principals_by_certificate ON thing_principals (certificate_id, thing_name);
    `,
  },
  {
    version: 10,
    name: 'outbox commit times',
    // /metrics reports how long notifications and events wait to be published (the machine's clock, not
    // the virtual one: it measures this process). A column default, so no write path changes; SQLite adds
    // a column with a non-constant default only by rebuilding the table.
    sql: `
      CREATE TABLE outbox_new (
        seq           INTEGER PRIMARY KEY AUTOINCREMENT,
        thing_name    TEXT NOT NULL,
        namespace_id  TEXT NOT NULL,
        set_changed   INTEGER NOT NULL,
        created_at    INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
      );
      INSERT INTO outbox_new (seq, thing_name, namespace_id, set_changed)
        SELECT seq, thing_name, namespace_id, set_changed FROM outbox;
      -- The sequence goes on where it was, even over an empty outbox.
      DELETE FROM sqlite_sequence WHERE name = 'outbox_new';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'outbox_new', seq FROM sqlite_sequence WHERE name = 'outbox';
      DROP TABLE outbox;
      ALTER TABLE outbox_new RENAME TO outbox;

      CREATE TABLE event_outbox_new (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        event_id   TEXT NOT NULL,
        family     TEXT NOT NULL,
        operation  TEXT NOT NULL,
        at_ms      INTEGER NOT NULL,
        facts      TEXT NOT NULL,
        created_at INTEGER NOT NULL DEFAULT (CAST(unixepoch('subsec') * 1000 AS INTEGER))
      );
      INSERT INTO event_outbox_new (seq, event_id, family, operation, at_ms, facts)
        SELECT seq, event_id, family, operation, at_ms, facts FROM event_outbox;
      -- The sequence goes on where it was, even over an empty outbox.
      DELETE FROM sqlite_sequence WHERE name = 'event_outbox_new';
      INSERT INTO sqlite_sequence (name, seq) SELECT 'event_outbox_new', seq FROM sqlite_sequence WHERE name = 'event_outbox';
      DROP TABLE event_outbox;
      ALTER TABLE event_outbox_new RENAME TO event_outbox;
    `,
  },
  {
    version: 11,
    name: 'pending executions in pending order',
    sql: `
      -- A thing's pending executions come off this index in pending order (PENDING_ORDER: status,
      -- then queued_at, then seq), with no sort: the read of every notification and device request.
      CREATE INDEX executions_pending_order ON job_executions (thing_name, namespace_id, status, queued_at, seq)
        WHERE status IN ('QUEUED', 'IN_PROGRESS');
      DROP INDEX executions_pending;
    `,
  },
]
