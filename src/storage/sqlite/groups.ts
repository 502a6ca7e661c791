/**
 * Thing groups and memberships in SQLite, and the effects of membership on CONTINUOUS jobs, applied
 * in the transaction of the change that causes them. [spec: things] [spec: state-machines#7]
 */
import type Database from 'better-sqlite3'
import type { GroupDecision, GroupFacts, ThingGroup } from '../../domain/thing-groups.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { GroupFilter, MembershipDecision, Memberships, Page, PageRequest } from '../../ports/store.js'
import type { EventOutbox } from './events.js'
import { pageOf } from '../listing.js'
import type { Outbox } from './outbox.js'
import type { Statements } from './statements.js'
import type { ThingGroupRow } from '../rows.js'
import { groupFromRow } from '../rows.js'

/** Counter and completion upkeep owned by the store, lent to the membership rules. */
export interface CounterUpkeep {
  adjust(jobId: string, status: ExecutionStatus, delta: number): void
}

export class GroupTables {
  constructor(
    private readonly db: Database.Database,
    private readonly s: Statements,
    private readonly counters: CounterUpkeep,
    private readonly outbox: Outbox,
    private readonly events: EventOutbox,
  ) {}

  get(name: string): ThingGroup | undefined {
    const row = this.s.group.get(name) as ThingGroupRow | undefined
    return row === undefined ? undefined : groupFromRow(row)
  }

  byId(id: string): ThingGroup | undefined {
    const row = this.s.groupById.get(id) as ThingGroupRow | undefined
    return row === undefined ? undefined : groupFromRow(row)
  }

  ancestors(name: string): ThingGroup[] {
    return (this.s.groupAncestors.all(name) as ThingGroupRow[]).map(groupFromRow)
  }

  facts(name: string): GroupFacts {
    const group = this.get(name)
    if (group === undefined) return { group, rootName: undefined, childCount: 0 }
    const [root] = this.ancestors(name)
    return {
      group,
      rootName: root?.thingGroupName ?? name,
      childCount: (this.s.groupChildCount.get(name) as { n: number }).n,
    }
  }

  /** Runs inside a transaction. */
  mutate<R>(
    name: string,
    parentName: string | undefined,
    decide: (self: GroupFacts, parent: GroupFacts | undefined) => GroupDecision<R>,
  ): R {
    const decision = decide(this.facts(name), parentName === undefined ? undefined : this.facts(parentName))
    switch (decision.kind) {
      case 'reject':
        throw decision.error
      case 'none':
        return decision.result
      case 'write': {
        const g = decision.next
        this.s.upsertGroup.run({
          thingGroupName: g.thingGroupName,
          thingGroupId: g.thingGroupId,
          parentGroupName: g.parentGroupName ?? null,
          depth: g.depth,
          properties: JSON.stringify(g.properties),
          tags: g.tags === undefined ? null : JSON.stringify(g.tags),
          version: g.version,
          createdAtMs: g.createdAtMs,
        })
        return decision.result
      }
      case 'delete': {
        const members = (this.s.membersOfGroup.all(name) as { thing_name: string }[]).map((r) => ({
          thing: r.thing_name,
          before: this.reaching(r.thing_name),
        }))
        this.s.deleteMembersOfGroup.run(name)
        this.s.deleteGroup.run(name)
        for (const m of members) this.applyMembershipEffects(m.thing, m.before, decision.atMs)
        return decision.result
      }
    }
  }

  /**
   * ListThingGroups in one statement, by name (byte order) after the cursor. [spec: things#listthinggroups]
   * Only `recursive === false` narrows to one level (AWS's default is true): the direct children of
   * `parentGroup`, or the roots without it. Otherwise `parentGroup` means all its descendants (a
   * recursive CTE down `parent_name`) and no `parentGroup` means every group.
   */
  list(filter: GroupFilter, page: PageRequest): Page<ThingGroup> {
    const where: string[] = ['g.group_name > @after']
    const params: Record<string, unknown> = { after: page.after ?? '', limit: page.limit + 1 }
    const oneLevel = filter.recursive === false
    let tree = ''
    if (filter.parentGroup !== undefined) {
      params['parent'] = filter.parentGroup
      if (oneLevel) {
        where.push('g.parent_name = @parent')
      } else {
        tree = `WITH RECURSIVE tree(name) AS (
          SELECT group_name FROM thing_groups WHERE parent_name = @parent
          UNION SELECT c.group_name FROM thing_groups c JOIN tree ON c.parent_name = tree.name) `
        where.push('g.group_name IN (SELECT name FROM tree)')
      }
    } else if (oneLevel) {
      where.push('g.parent_name IS NULL')
    }
    if (filter.namePrefixFilter !== undefined) {
      params['prefix'] = filter.namePrefixFilter
      where.push('substr(g.group_name, 1, length(@prefix)) = @prefix')
    }
    const rows = this.db
      .prepare(
        `${tree}SELECT g.* FROM thing_groups g WHERE ${where.join(' AND ')} ORDER BY g.group_name LIMIT @limit`,
      )
      .all(params) as ThingGroupRow[]
    return pageOf(rows.map(groupFromRow), page.limit, (g) => g.thingGroupName)
  }

  memberships(thingName: string): Memberships {
    return (this.s.groupsOfThing.all(thingName) as { group_name: string }[]).map((r) => ({
      name: r.group_name,
      rootName: this.facts(r.group_name).rootName ?? r.group_name,
    }))
  }

  /** Runs inside a transaction. */
  updateMemberships(
    thingName: string,
    names: { add: readonly string[]; remove: readonly string[] },
    decide: (
      current: Memberships,
      add: readonly { name: string; facts: GroupFacts }[],
      remove: readonly { name: string; facts: GroupFacts }[],
    ) => MembershipDecision,
    nowMs: number,
  ): void {
    const decision = decide(
      this.memberships(thingName),
      names.add.map((name) => ({ name, facts: this.facts(name) })),
      names.remove.map((name) => ({ name, facts: this.facts(name) })),
    )
    if (decision.kind === 'reject') throw decision.error
    if (decision.add.length === 0 && decision.remove.length === 0) return
    const before = this.reaching(thingName)
    for (const group of decision.remove) this.s.removeMember.run(group, thingName)
    for (const group of decision.add) this.s.addMember.run(group, thingName)
    this.applyMembershipEffects(thingName, before, nowMs)
  }

  /** The IN_PROGRESS CONTINUOUS jobs whose targets reach the thing now. */
  private reaching(thingName: string): Set<string> {
    return new Set(
      (this.s.reachingContinuousJobs.all({ thing: thingName }) as { job_id: string }[]).map((r) => r.job_id),
    )
  }

  /**
   * The CONTINUOUS rule for one thing, after its memberships changed. A job that reaches it now and
   * did not before: a new QUEUED execution (next executionNumber) unless one is pending; a thing that
   * was reachable all along is not new and gets nothing. A job that reached it before and does not
   * now: its QUEUED execution becomes REMOVED; an IN_PROGRESS one keeps running [open-question 51].
   * [spec: state-machines#7]
   */
  applyMembershipEffects(thingName: string, before: ReadonlySet<string>, nowMs: number): void {
    const after = this.reaching(thingName)
    for (const jobId of after) {
      if (before.has(jobId)) continue
      const mark = this.outbox.mark()
      const inserted = this.s.queueIfNotPending.run({ jobId, thing: thingName, nowMs }).changes
      this.counters.adjust(jobId, 'QUEUED', inserted)
      if (inserted > 0) this.outbox.createdSince(jobId, mark)
    }
    for (const jobId of before) {
      if (after.has(jobId)) continue
      const ns = (this.s.job.get(jobId) as { namespace_id: string | null } | undefined)?.namespace_id ?? ''
      this.events.queuedRemoved(jobId, thingName, nowMs)
      // A thing no longer targeted is not rolled out to later either. [spec: state-machines#5, #7]
      if (this.s.dropRolloutThing.run(jobId, thingName).changes > 0) this.s.rolloutLeft.run(jobId)
      const removed = this.s.removeQueued.run(nowMs, jobId, thingName).changes
      if (removed > 0) this.outbox.thing(thingName, ns, true)
      this.counters.adjust(jobId, 'QUEUED', -removed)
      this.counters.adjust(jobId, 'REMOVED', removed)
    }
  }

  thingsIn(name: string, recursive: boolean, page: PageRequest): Page<string> {
    const sql = recursive
      ? `WITH RECURSIVE tree(name) AS (SELECT @group UNION SELECT c.group_name FROM thing_groups c JOIN tree ON c.parent_name = tree.name)
         SELECT DISTINCT thing_name FROM thing_group_members WHERE group_name IN (SELECT name FROM tree) AND thing_name > @after
         ORDER BY thing_name LIMIT @limit`
      : `SELECT thing_name FROM thing_group_members WHERE group_name = @group AND thing_name > @after ORDER BY thing_name LIMIT @limit`
    const rows = this.db
      .prepare(sql)
      .all({ group: name, after: page.after ?? '', limit: page.limit + 1 }) as {
      thing_name: string
    }[]
    return pageOf(
      rows.map((r) => r.thing_name),
      page.limit,
      (n) => n,
    )
  }

  groupsOf(thingName: string, page: PageRequest): Page<ThingGroup> {
    const rows = this.db
      .prepare(
        `SELECT g.* FROM thing_group_members m JOIN thing_groups g ON g.group_name = m.group_name
         WHERE m.thing_name = ? AND g.group_name > ? ORDER BY g.group_name LIMIT ?`,
      )
      .all(thingName, page.after ?? '', page.limit + 1) as ThingGroupRow[]
    return pageOf(rows.map(groupFromRow), page.limit, (g) => g.thingGroupName)
  }
}
