/** Every prepared statement of the SQLite store, prepared once at start-up. */
import type Database from 'better-sqlite3'
import { DEVICE_VISIBLE_JOB, PENDING_ORDER } from '../pending.js'
import type { ExecutionRow, JobRow } from '../rows.js'
import { RowReader, TablesReader } from './row-reader.js'

export type Statements = ReturnType<typeof prepare>

/**
 * `targets(name)`: the distinct things a job's targets reach — the named things (JSON list @things)
 * and every thing in the named groups (JSON list @groups) and their descendants.
 */
const FAN_OUT_TARGETS = `WITH RECURSIVE tree(name) AS (
    SELECT value FROM json_each(@groups)
    UNION SELECT c.group_name FROM thing_groups c JOIN tree ON c.parent_name = tree.name
  ),
  targets(name) AS (
    SELECT value FROM json_each(@things)
    UNION SELECT m.thing_name FROM thing_group_members m WHERE m.group_name IN (SELECT name FROM tree)
  )`

const INSERT_EXECUTIONS = `INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id,
    queued_at, last_updated_at, version_number)`

/** A row of `job_executions` joined with its job's (columns null when the join found none). */
export interface ExecutionAndJob {
  readonly job_executions: ExecutionRow
  readonly jobs: JobRow
}

export function prepare(db: Database.Database) {
  return {
    thing: db.prepare('SELECT * FROM things WHERE thing_name = ?'),
    thingExists: db.prepare('SELECT 1 FROM things WHERE thing_name = ?').raw(true),
    upsertThing: db.prepare(
      `INSERT INTO things (thing_name, thing_id, attributes, version, created_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (thing_name) DO UPDATE SET attributes = excluded.attributes, version = excluded.version`,
    ),
    deleteThing: db.prepare('DELETE FROM things WHERE thing_name = ?'),
    pendingOfThingByJob: db.prepare(
      `SELECT job_id, status, count(*) AS n FROM job_executions
       WHERE thing_name = ? AND status IN ('QUEUED', 'IN_PROGRESS') GROUP BY job_id, status`,
    ),
    removePendingOfThing: db.prepare(
      `UPDATE job_executions SET status = 'REMOVED', version_number = version_number + 1, last_updated_at = ?,
         in_progress_deadline = NULL, step_deadline = NULL, deadline = NULL
       WHERE thing_name = ? AND status IN ('QUEUED', 'IN_PROGRESS')`,
    ),
    job: new RowReader<JobRow>(db, 'SELECT * FROM jobs WHERE job_id = ?'),
    missingThings: db.prepare(
      'SELECT value FROM json_each(?) WHERE value NOT IN (SELECT thing_name FROM things) ORDER BY value',
    ),
    insertJob: db.prepare(
      `INSERT INTO jobs (job_id, status, target_selection, namespace_id, created_at, last_updated_at, spec_version,
         rollout_started)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    // One statement for every target of a job: @targets is a JSON list of [arn, kind, name].
    insertTargets: db.prepare(
      `INSERT OR IGNORE INTO job_targets (job_id, target_arn, target_kind, target_name)
       SELECT @jobId, value ->> 0, value ->> 1, value ->> 2 FROM json_each(@targets)`,
    ),
    // Set-based fan-out: one statement for every target thing without an execution of the job, in
    // thing-name order. [spec: state-machines#5]
    insertExecutions: db.prepare(
      `${FAN_OUT_TARGETS}
       ${INSERT_EXECUTIONS}
       SELECT @jobId, t.name, 1, 'QUEUED', @namespaceId, @nowMs, @nowMs, 1
       FROM targets t
       WHERE NOT EXISTS (SELECT 1 FROM job_executions x WHERE x.job_id = @jobId AND x.thing_name = t.name)
       ORDER BY t.name`,
    ),
    // The same for a job inserted in this transaction, with no execution to look for (a deleted job's
    // executions are purged before its row): no probe of the table per thing.
    insertFirstExecutions: db.prepare(
      `${FAN_OUT_TARGETS}
       ${INSERT_EXECUTIONS}
       SELECT @jobId, t.name, 1, 'QUEUED', @namespaceId, @nowMs, @nowMs, 1
       FROM targets t
       ORDER BY t.name`,
    ),
    missingGroups: db.prepare(
      'SELECT value FROM json_each(?) WHERE value NOT IN (SELECT group_name FROM thing_groups) ORDER BY value',
    ),
    completeJob: db.prepare(
      'UPDATE jobs SET status = ?, completed_at = ?, last_updated_at = ? WHERE job_id = ?',
    ),
    execution: new RowReader<ExecutionRow>(
      db,
      'SELECT * FROM job_executions WHERE job_id = ? AND thing_name = ? AND execution_number = ?',
    ),
    latestExecution: new RowReader<ExecutionRow>(
      db,
      'SELECT * FROM job_executions WHERE job_id = ? AND thing_name = ? ORDER BY execution_number DESC LIMIT 1',
    ),
    // The read of DescribeJobExecution: the execution and its job's hot row in one statement (one
    // snapshot); the device API's also says whether the thing exists (its execution columns are null
    // when there is none).
    executionWithJob: new TablesReader<ExecutionAndJob>(
      db,
      `SELECT e.*, j.* FROM job_executions e JOIN jobs j ON j.job_id = e.job_id
       WHERE e.job_id = @jobId AND e.thing_name = @thingName
         AND (@executionNumber IS NULL OR e.execution_number = @executionNumber)
       ORDER BY e.execution_number DESC LIMIT 1`,
    ),
    executionOfThing: new TablesReader<ExecutionAndJob & { readonly '': { readonly thing_exists: number } }>(
      db,
      `SELECT x.thing_exists, e.*, j.*
       FROM (SELECT EXISTS (SELECT 1 FROM things WHERE thing_name = @thingName) AS thing_exists) x
       LEFT JOIN (
         SELECT * FROM job_executions WHERE job_id = @jobId AND thing_name = @thingName
           AND (@executionNumber IS NULL OR execution_number = @executionNumber)
         ORDER BY execution_number DESC LIMIT 1
       ) e ON 1
       LEFT JOIN jobs j ON j.job_id = e.job_id`,
    ),
    updateExecution: db.prepare(
      `UPDATE job_executions SET status = ?, force_canceled = ?, status_details = ?, started_at = ?,
         last_updated_at = ?, version_number = ?, in_progress_deadline = ?, step_deadline = ?, deadline = ?
       WHERE seq = ? AND version_number = ?`,
    ),
    deleteExecution: db.prepare('DELETE FROM job_executions WHERE seq = ? AND version_number = ?'),
    pending: new TablesReader<ExecutionAndJob>(
      db,
      `SELECT e.*, j.* FROM job_executions e JOIN jobs j ON j.job_id = e.job_id
       WHERE e.thing_name = ? AND e.namespace_id = ? AND e.status IN ('QUEUED', 'IN_PROGRESS') AND ${DEVICE_VISIBLE_JOB}
       ORDER BY ${PENDING_ORDER} LIMIT ?`,
    ),
    // [open-question 3] a job's executions by (queuedAt, thingName, executionNumber), keyset-paginated:
    // the first page and the pages after a key are separate statements, so that both walk the index.
    executionsOfJobFirst: db.prepare(
      `SELECT * FROM job_executions WHERE job_id = @jobId
       ORDER BY queued_at, thing_name, execution_number LIMIT @limit`,
    ),
    executionsOfJobAfter: db.prepare(
      `SELECT * FROM job_executions WHERE job_id = @jobId
         AND (queued_at, thing_name, execution_number) > (@q, @t, @n)
       ORDER BY queued_at, thing_name, execution_number LIMIT @limit`,
    ),
    executionsOfJobByStatusFirst: db.prepare(
      `SELECT * FROM job_executions WHERE job_id = @jobId AND status = @status
       ORDER BY queued_at, thing_name, execution_number LIMIT @limit`,
    ),
    executionsOfJobByStatusAfter: db.prepare(
      `SELECT * FROM job_executions WHERE job_id = @jobId AND status = @status
         AND (queued_at, thing_name, execution_number) > (@q, @t, @n)
       ORDER BY queued_at, thing_name, execution_number LIMIT @limit`,
    ),
    anyExecutionOfThing: db.prepare('SELECT 1 FROM job_executions WHERE thing_name = ? LIMIT 1'),
    // ---- thing groups ----
    group: db.prepare('SELECT * FROM thing_groups WHERE group_name = ?'),
    groupById: db.prepare('SELECT * FROM thing_groups WHERE group_id = ?'),
    groupChildCount: db.prepare('SELECT count(*) AS n FROM thing_groups WHERE parent_name = ?'),
    groupAncestors: db.prepare(
      `WITH RECURSIVE up(name, parent, d) AS (
         SELECT group_name, parent_name, 0 FROM thing_groups WHERE group_name = ?
         UNION ALL SELECT g.group_name, g.parent_name, up.d + 1 FROM thing_groups g JOIN up ON g.group_name = up.parent
       )
       SELECT g.* FROM up JOIN thing_groups g ON g.group_name = up.name WHERE up.d > 0 ORDER BY up.d DESC`,
    ),
    upsertGroup: db.prepare(
      `INSERT INTO thing_groups (group_name, group_id, parent_name, depth, properties, tags, version, created_at)
       VALUES (@thingGroupName, @thingGroupId, @parentGroupName, @depth, @properties, @tags, @version, @createdAtMs)
       ON CONFLICT (group_name) DO UPDATE SET properties = excluded.properties, version = excluded.version`,
    ),
    deleteGroup: db.prepare('DELETE FROM thing_groups WHERE group_name = ?'),
    membersOfGroup: db.prepare('SELECT thing_name FROM thing_group_members WHERE group_name = ?'),
    deleteMembersOfGroup: db.prepare('DELETE FROM thing_group_members WHERE group_name = ?'),
    groupsOfThing: db.prepare(
      'SELECT group_name FROM thing_group_members WHERE thing_name = ? ORDER BY group_name',
    ),
    addMember: db.prepare('INSERT OR IGNORE INTO thing_group_members (group_name, thing_name) VALUES (?, ?)'),
    removeMember: db.prepare('DELETE FROM thing_group_members WHERE group_name = ? AND thing_name = ?'),
    deleteMembershipsOfThing: db.prepare('DELETE FROM thing_group_members WHERE thing_name = ?'),
    // CONTINUOUS jobs that reach a thing through a thing target or a group it is in (or a descendant of).
    // [spec: state-machines#7]
    reachingContinuousJobs: db.prepare(
      `WITH RECURSIVE up(name) AS (
         SELECT group_name FROM thing_group_members WHERE thing_name = @thing
         UNION SELECT g.parent_name FROM thing_groups g JOIN up ON g.group_name = up.name WHERE g.parent_name IS NOT NULL
       )
       SELECT DISTINCT j.job_id FROM job_targets t JOIN jobs j ON j.job_id = t.job_id
       WHERE j.status = 'IN_PROGRESS' AND j.target_selection = 'CONTINUOUS'
         AND ((t.target_kind = 'thing' AND t.target_name = @thing)
           OR (t.target_kind = 'thinggroup' AND t.target_name IN (SELECT name FROM up)))`,
    ),
    queueIfNotPending: db.prepare(
      `INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at,
         last_updated_at, version_number)
       SELECT j.job_id, @thing,
         COALESCE((SELECT max(e.execution_number) FROM job_executions e WHERE e.job_id = j.job_id AND e.thing_name = @thing), 0) + 1,
         'QUEUED', COALESCE(j.namespace_id, ''), @nowMs, @nowMs, 1
       FROM jobs j
       WHERE j.job_id = @jobId AND NOT EXISTS (
         SELECT 1 FROM job_executions p WHERE p.job_id = j.job_id AND p.thing_name = @thing
           AND p.status IN ('QUEUED', 'IN_PROGRESS'))`,
    ),
    removeQueued: db.prepare(
      `UPDATE job_executions SET status = 'REMOVED', version_number = version_number + 1, last_updated_at = ?
       WHERE job_id = ? AND thing_name = ? AND status = 'QUEUED'`,
    ),
    dropRolloutThing: db.prepare('DELETE FROM job_rollout_things WHERE job_id = ? AND thing_name = ?'),
    rolloutLeft: db.prepare('UPDATE jobs SET rollout_remaining = rollout_remaining - 1 WHERE job_id = ?'),
    recount: db.prepare('SELECT status, count(*) AS n FROM job_executions WHERE job_id = ? GROUP BY status'),
  }
}
