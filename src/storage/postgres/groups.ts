/**
 * Thing groups and memberships in PostgreSQL, and the effects of membership on CONTINUOUS jobs, applied
 * in the transaction of the change that causes them, as in the SQLite store (storage/sqlite/groups.ts).
 * [spec: things] [spec: state-machines#7]
 *
 * Locks: a group change locks its group row and its parent's (in name order); deleting a group then
 * locks its members' thing rows. A membership change locks the thing row, then (FOR KEY SHARE) the
 * groups it joins, so that a group being deleted cannot gain a member. Then the QUEUED executions it
 * removes, then the CONTINUOUS jobs whose executions change, in job-id order (thing → executions → job,
 * the store's order).
 * Names are compared and sorted byte-wise (COLLATE "C"), as SQLite does.
 */
import type { GroupDecision, GroupFacts, ThingGroup } from '../../domain/thing-groups.js'
import type { GroupFilter, MembershipDecision, Memberships, Page, PageRequest } from '../../ports/store.js'
import type { ThingGroupRow } from '../rows.js'
import { groupFromRow } from '../rows.js'
import { pageOf } from '../listing.js'
import type { Sql } from './db.js'
import type { PgEvents } from './events.js'
import type { PgOutbox } from './outbox.js'
import type { PgCounters } from './parts.js'

const NO_GROUP: GroupFacts = { group: undefined, rootName: undefined, childCount: 0 }

/** Each group with the root of its hierarchy (the farthest ancestor, itself for a root) and its child count. */
const FACTS = `WITH RECURSIVE up(name, cur, parent, d) AS (
    SELECT group_name, group_name, parent_name, 0 FROM thing_groups WHERE group_name = ANY($1::text[])
    UNION ALL SELECT up.name, g.group_name, g.parent_name, up.d + 1 FROM thing_groups g JOIN up ON g.group_name = up.parent
  ),
  roots AS (SELECT DISTINCT ON (name) name, cur AS root_name FROM up ORDER BY name, d DESC)
  SELECT g.*, r.root_name, (SELECT count(*) FROM thing_groups c WHERE c.parent_name = g.group_name) AS child_count
  FROM thing_groups g JOIN roots r ON r.name = g.group_name`

/**
 * The IN_PROGRESS CONTINUOUS jobs that reach each of the things $1 through a thing target or a group it
 * is in (or a descendant of). [spec: state-machines#7]
 */
const REACHING = `WITH RECURSIVE up(thing, name) AS (
    SELECT thing_name, group_name FROM thing_group_members WHERE thing_name = ANY($1::text[])
    UNION SELECT up.thing, g.parent_name FROM thing_groups g JOIN up ON g.group_name = up.name
      WHERE g.parent_name IS NOT NULL
  )
  SELECT t.target_name AS thing, j.job_id FROM job_targets t JOIN jobs j ON j.job_id = t.job_id
  WHERE t.target_kind = 'thing' AND t.target_name = ANY($1::text[])
    AND j.status = 'IN_PROGRESS' AND j.target_selection = 'CONTINUOUS'
  UNION
  SELECT up.thing, j.job_id FROM up
    JOIN job_targets t ON t.target_kind = 'thinggroup' AND t.target_name = up.name
    JOIN jobs j ON j.job_id = t.job_id
  WHERE j.status = 'IN_PROGRESS' AND j.target_selection = 'CONTINUOUS'`

const INSERT_GROUP = `INSERT INTO thing_groups
  (group_name, group_id, parent_name, depth, properties, tags, version, created_at)
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`

/** A (job, thing) pair whose execution the membership rule creates or removes. */
type Pair = { readonly jobId: string; readonly thing: string }

/** Locks the rows whose key is one of `keys`, in byte order of the key (no deadlock between lockers). */
async function lockAll(
  sql: Sql,
  table: string,
  key: string,
  keys: readonly string[],
  mode: string,
): Promise<void> {
  if (keys.length > 0)
    await sql.query(
      `SELECT 1 FROM ${table} WHERE ${key} = ANY($1::text[]) ORDER BY ${key} COLLATE "C" FOR ${mode}`,
      [keys],
    )
}

export class PgGroups {
  constructor(
    private readonly counters: PgCounters,
    private readonly outbox: PgOutbox,
    private readonly events: PgEvents,
  ) {}

  async get(sql: Sql, name: string): Promise<ThingGroup | undefined> {
    const { rows } = await sql.query<ThingGroupRow>('SELECT * FROM thing_groups WHERE group_name = $1', [
      name,
    ])
    return rows[0] === undefined ? undefined : groupFromRow(rows[0])
  }

  async byId(sql: Sql, id: string): Promise<ThingGroup | undefined> {
    const { rows } = await sql.query<ThingGroupRow>('SELECT * FROM thing_groups WHERE group_id = $1', [id])
    return rows[0] === undefined ? undefined : groupFromRow(rows[0])
  }

  /** The ancestors of a group, root first, direct parent last. */
  async ancestors(sql: Sql, name: string): Promise<ThingGroup[]> {
    const { rows } = await sql.query<ThingGroupRow>(
      `WITH RECURSIVE up(name, parent, d) AS (
         SELECT group_name, parent_name, 0 FROM thing_groups WHERE group_name = $1
         UNION ALL SELECT g.group_name, g.parent_name, up.d + 1 FROM thing_groups g JOIN up ON g.group_name = up.parent
       )
       SELECT g.* FROM up JOIN thing_groups g ON g.group_name = up.name WHERE up.d > 0 ORDER BY up.d DESC`,
      [name],
    )
    return rows.map(groupFromRow)
  }

  /** The facts of each named group, in one statement (a missing group has no group and no root). */
  private async facts(sql: Sql, names: readonly string[]): Promise<(name: string) => GroupFacts> {
    const { rows } = await sql.query<ThingGroupRow & { root_name: string; child_count: number }>(FACTS, [
      [...new Set(names)],
    ])
    const byName = new Map<string, GroupFacts>(
      rows.map((r) => [
        r.group_name,
        { group: groupFromRow(r), rootName: r.root_name, childCount: r.child_count },
      ]),
    )
    return (name) => byName.get(name) ?? NO_GROUP
  }

  /** Runs inside a transaction. */
  async mutate<R>(
    sql: Sql,
    name: string,
    parentName: string | undefined,
    decide: (self: GroupFacts, parent: GroupFacts | undefined) => GroupDecision<R>,
  ): Promise<R> {
    const names = parentName === undefined ? [name] : [name, parentName]
    await lockAll(sql, 'thing_groups', 'group_name', names, 'UPDATE')
    const facts = await this.facts(sql, names)
    const self = facts(name)
    const decision = decide(self, parentName === undefined ? undefined : facts(parentName))
    switch (decision.kind) {
      case 'reject':
        throw decision.error
      case 'none':
        return decision.result
      case 'write': {
        const g = decision.next
        // A group created concurrently by another transaction makes this plain INSERT fail with a
        // unique violation, and the transaction runs again (and decides with the group present).
        await sql.query(
          self.group === undefined
            ? INSERT_GROUP
            : `${INSERT_GROUP} ON CONFLICT (group_name) DO UPDATE SET properties = excluded.properties, version = excluded.version`,
          [
            g.thingGroupName,
            g.thingGroupId,
            g.parentGroupName ?? null,
            g.depth,
            JSON.stringify(g.properties),
            g.tags === undefined ? null : JSON.stringify(g.tags),
            g.version,
            g.createdAtMs,
          ],
        )
        return decision.result
      }
      case 'delete': {
        const { rows } = await sql.query<{ thing_name: string }>(
          'SELECT thing_name FROM thing_group_members WHERE group_name = $1',
          [name],
        )
        const members = rows.map((r) => r.thing_name)
        await lockAll(sql, 'things', 'thing_name', members, 'UPDATE')
        const before = await this.reaching(sql, members)
        await sql.query('DELETE FROM thing_group_members WHERE group_name = $1', [name])
        await sql.query('DELETE FROM thing_groups WHERE group_name = $1', [name])
        await this.applyMembershipEffects(sql, before, decision.atMs)
        return decision.result
      }
    }
  }

  /**
   * ListThingGroups in one statement, by name (byte order, COLLATE "C") after the cursor, as the SQLite
   * store lists them. [spec: things#listthinggroups] Only `recursive === false` narrows to one level
   * (AWS's default is true): the direct children of `parentGroup`, or the roots without it. Otherwise
   * `parentGroup` means all its descendants (a recursive CTE down `parent_name`) and no `parentGroup`
   * means every group.
   */
  async list(sql: Sql, filter: GroupFilter, page: PageRequest): Promise<Page<ThingGroup>> {
    const values: unknown[] = [page.after ?? '', page.limit + 1]
    const param = (value: unknown): string => `$${values.push(value)}`
    const where: string[] = ['g.group_name COLLATE "C" > $1']
    const oneLevel = filter.recursive === false
    let tree = ''
    if (filter.parentGroup !== undefined) {
      const parent = param(filter.parentGroup)
      if (oneLevel) {
        where.push(`g.parent_name = ${parent}`)
      } else {
        tree = `WITH RECURSIVE tree(name) AS (
          SELECT group_name FROM thing_groups WHERE parent_name = ${parent}
          UNION SELECT c.group_name FROM thing_groups c JOIN tree ON c.parent_name = tree.name) `
        where.push('g.group_name IN (SELECT name FROM tree)')
      }
    } else if (oneLevel) {
      where.push('g.parent_name IS NULL')
    }
    if (filter.namePrefixFilter !== undefined)
      where.push(`starts_with(g.group_name, ${param(filter.namePrefixFilter)})`)
    const { rows } = await sql.query<ThingGroupRow>(
      `${tree}SELECT g.* FROM thing_groups g WHERE ${where.join(' AND ')}
       ORDER BY g.group_name COLLATE "C" LIMIT $2`,
      values,
    )
    return pageOf(rows.map(groupFromRow), page.limit, (g) => g.thingGroupName)
  }

  /**
   * Runs inside a transaction. Resolves false (nothing written, `decide` not called) when the thing
   * does not exist.
   */
  async updateMemberships(
    sql: Sql,
    thingName: string,
    names: { readonly add: readonly string[]; readonly remove: readonly string[] },
    decide: (
      current: Memberships,
      add: readonly { name: string; facts: GroupFacts }[],
      remove: readonly { name: string; facts: GroupFacts }[],
    ) => MembershipDecision,
    nowMs: number,
  ): Promise<boolean> {
    const thing = await sql.query('SELECT 1 FROM things WHERE thing_name = $1 FOR UPDATE', [thingName])
    if (thing.rowCount === 0) return false
    const { rows } = await sql.query<{ group_name: string }>(
      'SELECT group_name FROM thing_group_members WHERE thing_name = $1 ORDER BY group_name COLLATE "C"',
      [thingName],
    )
    const current = rows.map((r) => r.group_name)
    // Only the memberships of a locked thing change under us; a joined group must not be deleted.
    const joining = names.add.filter((n) => !current.includes(n))
    await lockAll(sql, 'thing_groups', 'group_name', joining, 'KEY SHARE')
    const facts = await this.facts(sql, [...current, ...names.add, ...names.remove])
    const decision = decide(
      current.map((name) => ({ name, rootName: facts(name).rootName ?? name })),
      names.add.map((name) => ({ name, facts: facts(name) })),
      names.remove.map((name) => ({ name, facts: facts(name) })),
    )
    if (decision.kind === 'reject') throw decision.error
    if (decision.add.length === 0 && decision.remove.length === 0) return true
    const before = await this.reaching(sql, [thingName])
    if (decision.remove.length > 0)
      await sql.query(
        'DELETE FROM thing_group_members WHERE thing_name = $1 AND group_name = ANY($2::text[])',
        [thingName, decision.remove],
      )
    if (decision.add.length > 0)
      await sql.query(
        `INSERT INTO thing_group_members (group_name, thing_name) SELECT g, $1 FROM unnest($2::text[]) AS g
         ON CONFLICT DO NOTHING`,
        [thingName, decision.add],
      )
    await this.applyMembershipEffects(sql, before, nowMs)
    return true
  }

  /** For each thing, the IN_PROGRESS CONTINUOUS jobs whose targets reach it now. */
  private async reaching(sql: Sql, things: readonly string[]): Promise<Map<string, Set<string>>> {
    const out = new Map<string, Set<string>>(things.map((t) => [t, new Set<string>()]))
    if (things.length === 0) return out
    const { rows } = await sql.query<{ thing: string; job_id: string }>(REACHING, [things])
    for (const r of rows) out.get(r.thing)?.add(r.job_id)
    return out
  }

  /**
   * The CONTINUOUS rule for things whose memberships changed (`before`: the jobs that reached each).
   * A job that reaches a thing now and did not before: a new QUEUED execution (next executionNumber)
   * unless one is pending; a thing that was reachable all along is not new and gets nothing. A job that
   * reached it before and does not now: its QUEUED execution becomes REMOVED; an IN_PROGRESS one keeps
   * running [open-question 51]. [spec: state-machines#7]
   */
  private async applyMembershipEffects(
    sql: Sql,
    before: ReadonlyMap<string, ReadonlySet<string>>,
    nowMs: number,
  ): Promise<void> {
    const after = await this.reaching(sql, [...before.keys()])
    const queue: Pair[] = []
    const remove: Pair[] = []
    for (const [thing, was] of before) {
      const now = after.get(thing) ?? new Set<string>()
      for (const jobId of now) if (!was.has(jobId)) queue.push({ jobId, thing })
      for (const jobId of was) if (!now.has(jobId)) remove.push({ jobId, thing })
    }
    if (queue.length === 0 && remove.length === 0) return
    // Lock order of the store: the executions to remove, then the job rows (a device's update locks its
    // execution, then the job row to move the counters).
    if (remove.length > 0)
      await sql.query(
        `SELECT e.seq FROM job_executions e JOIN unnest($1::text[], $2::text[]) AS p(job_id, thing_name)
           ON e.job_id = p.job_id AND e.thing_name = p.thing_name
         WHERE e.status = 'QUEUED' ORDER BY e.seq FOR UPDATE OF e`,
        [remove.map((p) => p.jobId), remove.map((p) => p.thing)],
      )
    await lockAll(sql, 'jobs', 'job_id', [...new Set([...queue, ...remove].map((p) => p.jobId))], 'UPDATE')
    if (queue.length > 0) {
      // The job is read again under its lock: one canceled meanwhile gets nothing.
      const { rows } = await sql.query<{ job_id: string; n: number }>(
        `WITH ins AS (
           INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at,
             last_updated_at, version_number)
           SELECT j.job_id, p.thing_name,
             COALESCE((SELECT max(e.execution_number) FROM job_executions e
                       WHERE e.job_id = j.job_id AND e.thing_name = p.thing_name), 0) + 1,
             'QUEUED', COALESCE(j.namespace_id, ''), $3::bigint, $3::bigint, 1
           FROM unnest($1::text[], $2::text[]) AS p(job_id, thing_name) JOIN jobs j ON j.job_id = p.job_id
           WHERE j.status = 'IN_PROGRESS' AND NOT EXISTS (
             SELECT 1 FROM job_executions x WHERE x.job_id = j.job_id AND x.thing_name = p.thing_name
               AND x.status IN ('QUEUED', 'IN_PROGRESS'))
           ORDER BY p.thing_name COLLATE "C", p.job_id COLLATE "C"
           RETURNING job_id, thing_name, namespace_id
         )${this.outbox.createdCte()}
         SELECT job_id, count(*) AS n FROM ins GROUP BY job_id ORDER BY job_id COLLATE "C"`,
        [queue.map((p) => p.jobId), queue.map((p) => p.thing), nowMs],
      )
      for (const r of rows) await this.counters.adjust(sql, r.job_id, 'QUEUED', r.n)
    }
    if (remove.length > 0) {
      // A thing no longer targeted is not rolled out to later either (under the job rows' locks, as a
      // rollout batch takes things off the list). [spec: state-machines#5, #7]
      await sql.query(
        `WITH d AS (
           DELETE FROM job_rollout_things r USING unnest($1::text[], $2::text[]) AS p(job_id, thing_name)
           WHERE r.job_id = p.job_id AND r.thing_name = p.thing_name RETURNING r.job_id
         )
         UPDATE jobs j SET rollout_remaining = j.rollout_remaining - c.n
         FROM (SELECT job_id, count(*) AS n FROM d GROUP BY job_id) c WHERE j.job_id = c.job_id`,
        [remove.map((p) => p.jobId), remove.map((p) => p.thing)],
      )
      for (const p of remove) await this.events.queuedRemoved(sql, p.jobId, p.thing, nowMs)
      // `ins` names the changed executions for the outbox statement (a row per thing and namespace).
      const { rows } = await sql.query<{ job_id: string; n: number }>(
        `WITH ins AS (
           UPDATE job_executions e SET status = 'REMOVED', version_number = e.version_number + 1,
             last_updated_at = $3::bigint
           FROM unnest($1::text[], $2::text[]) AS p(job_id, thing_name)
           WHERE e.job_id = p.job_id AND e.thing_name = p.thing_name AND e.status = 'QUEUED'
           RETURNING e.job_id, e.thing_name, e.namespace_id
         )${this.outbox.createdCte()}
         SELECT job_id, count(*) AS n FROM ins GROUP BY job_id ORDER BY job_id COLLATE "C"`,
        [remove.map((p) => p.jobId), remove.map((p) => p.thing), nowMs],
      )
      for (const r of rows) {
        await this.counters.adjust(sql, r.job_id, 'QUEUED', -r.n)
        await this.counters.adjust(sql, r.job_id, 'REMOVED', r.n)
      }
    }
  }

  /** Names of the things directly in the group, or in it and its descendants, by name. */
  async thingsIn(sql: Sql, name: string, recursive: boolean, page: PageRequest): Promise<Page<string>> {
    const text = recursive
      ? `WITH RECURSIVE tree(name) AS (
           SELECT $1::text COLLATE "C" UNION SELECT c.group_name FROM thing_groups c JOIN tree ON c.parent_name = tree.name)
         SELECT DISTINCT thing_name COLLATE "C" AS thing_name FROM thing_group_members
         WHERE group_name IN (SELECT name FROM tree) AND thing_name COLLATE "C" > $2
         ORDER BY thing_name LIMIT $3`
      : `SELECT thing_name FROM thing_group_members WHERE group_name = $1 AND thing_name COLLATE "C" > $2
         ORDER BY thing_name COLLATE "C" LIMIT $3`
    const { rows } = await sql.query<{ thing_name: string }>(text, [name, page.after ?? '', page.limit + 1])
    return pageOf(
      rows.map((r) => r.thing_name),
      page.limit,
      (n) => n,
    )
  }

  async groupsOf(sql: Sql, thingName: string, page: PageRequest): Promise<Page<ThingGroup>> {
    const { rows } = await sql.query<ThingGroupRow>(
      `SELECT g.* FROM thing_group_members m JOIN thing_groups g ON g.group_name = m.group_name
       WHERE m.thing_name = $1 AND g.group_name COLLATE "C" > $2 ORDER BY g.group_name COLLATE "C" LIMIT $3`,
      [thingName, page.after ?? '', page.limit + 1],
    )
    return pageOf(rows.map(groupFromRow), page.limit, (g) => g.thingGroupName)
  }
}
