/**
 * The listings of the SQLite store, each keyset-paginated over an index on its sort key: things by
 * name; jobs by (createdAt, jobId); a job's executions by (queuedAt, thingName, executionNumber); a
 * thing's by (queuedAt, jobId, executionNumber). [open-question 3] [spec: wire-protocol#6-pagination]
 * A page's `after` is the last item's key (a name, or the JSON array of the key members).
 */
import type Database from 'better-sqlite3'
import type { Execution, Job, Thing } from '../../domain/records.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { JobFilter, Page, PageRequest, ThingFilter } from '../../ports/store.js'
import type { JobSpecs } from './job-specs.js'
import type { ExecutionRow, JobRow, ThingRow } from '../rows.js'
import { executionFromRow, thingFromRow } from '../rows.js'
import type { Statements } from './statements.js'
import type { ExecutionsOfThingFilter } from '../listing.js'
import { pageOf } from '../listing.js'

export class Listings {
  constructor(
    private readonly db: Database.Database,
    private readonly s: Statements,
    private readonly specs: JobSpecs,
  ) {}

  things(filter: ThingFilter, page: PageRequest): Page<Thing> {
    const where: string[] = ['thing_name > ?']
    const params: unknown[] = [page.after ?? '']
    if (filter.attributeName !== undefined) {
      const path = `'$."' || ? || '"'`
      params.push(filter.attributeName)
      if (filter.attributeValue === undefined) {
        where.push(`json_type(attributes, ${path}) IS NOT NULL`)
      } else if (filter.usePrefixAttributeValue === true) {
        where.push(`substr(json_extract(attributes, ${path}), 1, length(?)) = ?`)
        params.push(filter.attributeValue, filter.attributeValue)
      } else {
        where.push(`json_extract(attributes, ${path}) = ?`)
        params.push(filter.attributeValue)
      }
    }
    params.push(page.limit + 1)
    const rows = this.db
      .prepare(`SELECT * FROM things WHERE ${where.join(' AND ')} ORDER BY thing_name LIMIT ?`)
      .all(...params) as ThingRow[]
    return pageOf(rows.map(thingFromRow), page.limit, (t) => t.thingName)
  }

  jobs(filter: JobFilter, page: PageRequest): Page<Job> {
    // [open-question 3] by (createdAt, jobId)
    const where: string[] = ['1']
    const params: unknown[] = []
    if (page.after !== undefined) {
      const [createdAt, jobId] = JSON.parse(page.after) as [number, string]
      where.push('(j.created_at, j.job_id) > (?, ?)')
      params.push(createdAt, jobId)
    }
    if (filter.status !== undefined) {
      where.push('j.status = ?')
      params.push(filter.status)
    }
    if (filter.targetSelection !== undefined) {
      where.push('j.target_selection = ?')
      params.push(filter.targetSelection)
    }
    if (filter.namespaceId !== undefined) {
      where.push('j.namespace_id = ?')
      params.push(filter.namespaceId)
    }
    if (filter.targetArn !== undefined) {
      where.push('j.job_id IN (SELECT job_id FROM job_targets WHERE target_arn = ?)')
      params.push(filter.targetArn)
    }
    params.push(page.limit + 1)
    const rows = this.db
      .prepare(`SELECT * FROM jobs j WHERE ${where.join(' AND ')} ORDER BY j.created_at, j.job_id LIMIT ?`)
      .all(...params) as JobRow[]
    return pageOf(
      rows.map((r) => this.specs.job(r)),
      page.limit,
      (j) => JSON.stringify([j.createdAtMs, j.jobId]),
    )
  }

  executionsOfJob(
    jobId: string,
    filter: { status?: ExecutionStatus | undefined },
    page: PageRequest,
  ): Page<Execution> {
    const first = page.after === undefined
    const [q, t, n] = first ? [0, '', 0] : (JSON.parse(page.after) as [number, string, number])
    const params = { jobId, q, t, n, limit: page.limit + 1 }
    const s = this.s
    const rows = (
      filter.status === undefined
        ? (first ? s.executionsOfJobFirst : s.executionsOfJobAfter).all(params)
        : (first ? s.executionsOfJobByStatusFirst : s.executionsOfJobByStatusAfter).all({
            ...params,
            status: filter.status,
          })
    ) as ExecutionRow[]
    return pageOf(rows.map(executionFromRow), page.limit, (e) =>
      JSON.stringify([e.queuedAtMs, e.thingName, e.executionNumber]),
    )
  }

  executionsOfThing(thingName: string, filter: ExecutionsOfThingFilter, page: PageRequest): Page<Execution> {
    // [open-question 3] a thing's executions by (queuedAt, jobId, executionNumber)
    const where = ['thing_name = ?']
    const params: unknown[] = [thingName]
    if (page.after !== undefined) {
      where.push('(queued_at, job_id, execution_number) > (?, ?, ?)')
      params.push(...(JSON.parse(page.after) as [number, string, number]))
    }
    if (filter.status !== undefined) {
      where.push('status = ?')
      params.push(filter.status)
    }
    if (filter.jobId !== undefined) {
      where.push('job_id = ?')
      params.push(filter.jobId)
    }
    if (filter.namespaceId !== undefined) {
      where.push('namespace_id = ?')
      params.push(filter.namespaceId)
    }
    params.push(page.limit + 1)
    const rows = this.db
      .prepare(
        `SELECT * FROM job_executions WHERE ${where.join(' AND ')}
         ORDER BY queued_at, job_id, execution_number LIMIT ?`,
      )
      .all(...params) as ExecutionRow[]
    return pageOf(rows.map(executionFromRow), page.limit, (e) =>
      JSON.stringify([e.queuedAtMs, e.jobId, e.executionNumber]),
    )
  }
}
