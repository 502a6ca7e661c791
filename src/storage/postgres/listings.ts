/**
 * The listings of the PostgreSQL store, as in the SQLite store (storage/sqlite/listings.ts), each
 * keyset-paginated over an index on its sort key: things by name; jobs by (createdAt, jobId); a job's
 * executions by (queuedAt, thingName, executionNumber); a thing's by (queuedAt, jobId, executionNumber).
 * [open-question 3] [spec: wire-protocol#6-pagination] A page's `after` is the last item's key (a name,
 * or the JSON array of the key members), in the same format as SQLite's. Text keys are compared and
 * sorted byte-wise (COLLATE "C"), as SQLite does, whatever the database's collation.
 */
import type { Execution, Job, Thing } from '../../domain/records.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { JobFilter, Page, PageRequest, ThingFilter } from '../../ports/store.js'
import type { ExecutionRow, JobRow, ThingRow } from '../rows.js'
import { executionFromRow, thingFromRow } from '../rows.js'
import type { ExecutionsOfThingFilter } from '../listing.js'
import { pageOf } from '../listing.js'
import type { Sql } from './db.js'
import type { PgJobSpecs } from './job-specs.js'

/** Collects the values of a statement; `param(v)` returns the placeholder of `v`. */
function parameters(): { values: unknown[]; param: (value: unknown) => string } {
  const values: unknown[] = []
  return { values, param: (value) => `$${values.push(value)}` }
}

export class PgListings {
  constructor(private readonly specs: PgJobSpecs) {}

  async things(sql: Sql, filter: ThingFilter, page: PageRequest): Promise<Page<Thing>> {
    const { values, param } = parameters()
    const where: string[] = [`thing_name COLLATE "C" > ${param(page.after ?? '')}`]
    if (filter.attributeName !== undefined) {
      const name = param(filter.attributeName)
      if (filter.attributeValue === undefined) {
        where.push(`(attributes::jsonb) ? ${name}`)
      } else if (filter.usePrefixAttributeValue === true) {
        where.push(`starts_with((attributes::jsonb) ->> ${name}, ${param(filter.attributeValue)})`)
      } else {
        where.push(`(attributes::jsonb) ->> ${name} = ${param(filter.attributeValue)}`)
      }
    }
    const { rows } = await sql.query<ThingRow>(
      `SELECT * FROM things WHERE ${where.join(' AND ')}
       ORDER BY thing_name COLLATE "C" LIMIT ${param(page.limit + 1)}`,
      values,
    )
    return pageOf(rows.map(thingFromRow), page.limit, (t) => t.thingName)
  }

  async jobs(sql: Sql, filter: JobFilter, page: PageRequest): Promise<Page<Job>> {
    // [open-question 3] by (createdAt, jobId)
    const { values, param } = parameters()
    const where: string[] = ['TRUE']
    if (page.after !== undefined) {
      const [createdAt, jobId] = JSON.parse(page.after) as [number, string]
      where.push(`(j.created_at, j.job_id COLLATE "C") > (${param(createdAt)}, ${param(jobId)})`)
    }
    if (filter.status !== undefined) where.push(`j.status = ${param(filter.status)}`)
    if (filter.targetSelection !== undefined)
      where.push(`j.target_selection = ${param(filter.targetSelection)}`)
    if (filter.namespaceId !== undefined) where.push(`j.namespace_id = ${param(filter.namespaceId)}`)
    if (filter.targetArn !== undefined)
      where.push(`j.job_id IN (SELECT job_id FROM job_targets WHERE target_arn = ${param(filter.targetArn)})`)
    const { rows } = await sql.query<JobRow>(
      `SELECT * FROM jobs j WHERE ${where.join(' AND ')}
       ORDER BY j.created_at, j.job_id COLLATE "C" LIMIT ${param(page.limit + 1)}`,
      values,
    )
    return pageOf(await this.specs.jobs(sql, rows), page.limit, (j) =>
      JSON.stringify([j.createdAtMs, j.jobId]),
    )
  }

  async executionsOfJob(
    sql: Sql,
    jobId: string,
    filter: { status?: ExecutionStatus | undefined },
    page: PageRequest,
  ): Promise<Page<Execution>> {
    // [open-question 3] a job's executions by (queuedAt, thingName, executionNumber)
    const { values, param } = parameters()
    const where = [`job_id = ${param(jobId)}`]
    if (filter.status !== undefined) where.push(`status = ${param(filter.status)}`)
    if (page.after !== undefined) {
      const [q, t, n] = JSON.parse(page.after) as [number, string, number]
      where.push(
        `(queued_at, thing_name COLLATE "C", execution_number) > (${param(q)}, ${param(t)}, ${param(n)})`,
      )
    }
    const { rows } = await sql.query<ExecutionRow>(
      `SELECT * FROM job_executions WHERE ${where.join(' AND ')}
       ORDER BY queued_at, thing_name COLLATE "C", execution_number LIMIT ${param(page.limit + 1)}`,
      values,
    )
    return pageOf(rows.map(executionFromRow), page.limit, (e) =>
      JSON.stringify([e.queuedAtMs, e.thingName, e.executionNumber]),
    )
  }

  async executionsOfThing(
    sql: Sql,
    thingName: string,
    filter: ExecutionsOfThingFilter,
    page: PageRequest,
  ): Promise<Page<Execution>> {
    // [open-question 3] a thing's executions by (queuedAt, jobId, executionNumber)
    const { values, param } = parameters()
    const where = [`thing_name = ${param(thingName)}`]
    if (page.after !== undefined) {
      const [q, j, n] = JSON.parse(page.after) as [number, string, number]
      where.push(
        `(queued_at, job_id COLLATE "C", execution_number) > (${param(q)}, ${param(j)}, ${param(n)})`,
      )
    }
    if (filter.status !== undefined) where.push(`status = ${param(filter.status)}`)
    if (filter.jobId !== undefined) where.push(`job_id = ${param(filter.jobId)}`)
    if (filter.namespaceId !== undefined) where.push(`namespace_id = ${param(filter.namespaceId)}`)
    const { rows } = await sql.query<ExecutionRow>(
      `SELECT * FROM job_executions WHERE ${where.join(' AND ')}
       ORDER BY queued_at, job_id COLLATE "C", execution_number LIMIT ${param(page.limit + 1)}`,
      values,
    )
    return pageOf(rows.map(executionFromRow), page.limit, (e) =>
      JSON.stringify([e.queuedAtMs, e.jobId, e.executionNumber]),
    )
  }
}
