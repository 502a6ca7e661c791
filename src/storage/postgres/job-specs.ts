/**
 * A job's cold part (document, body) in `job_specs`, apart from the hot `jobs` row, as in the SQLite
 * store (storage/sqlite/job-specs.ts). Parsed specs are cached per node by (job id, spec version); the
 * version comes from a database sequence, so it is never reused by any node, not even after a
 * rollback: a node that finds another version in the hot row (another node changed the spec) reloads.
 */
import type { Job } from '../../domain/records.js'
import type { JobRow } from '../rows.js'
import { jobBody, jobFromParts } from '../rows.js'
import type { Spec } from '../spec-cache.js'
import { SpecCache } from '../spec-cache.js'
import type { Sql } from './db.js'

export class PgJobSpecs {
  private readonly cache = new SpecCache()

  /** Inserts the spec of a new job; resolves the version to store in its hot row. */
  async insert(sql: Sql, job: Job): Promise<number> {
    const { rows } = await sql.query<{ v: number }>(
      `WITH s AS (INSERT INTO job_specs (job_id, document, body) VALUES ($1, $2, $3))
       SELECT nextval('job_spec_versions') AS v`,
      [job.jobId, job.document, jobBody(job)],
    )
    return rows[0]!.v
  }

  /** Writes the body of `next` when it differs from the stored one (inside a transaction). */
  async update(sql: Sql, row: JobRow, next: Job): Promise<void> {
    const json = jobBody(next)
    if (json === (await this.load(sql, row)).json) return
    await sql.query(
      `WITH s AS (UPDATE job_specs SET body = $2 WHERE job_id = $1)
       UPDATE jobs SET spec_version = nextval('job_spec_versions') WHERE job_id = $1`,
      [row.job_id, json],
    )
    this.cache.delete(row.job_id)
  }

  /** Drops every cached spec (after the tables were emptied). */
  forget(): void {
    this.cache.clear()
  }

  async delete(sql: Sql, jobId: string): Promise<void> {
    await sql.query('DELETE FROM job_specs WHERE job_id = $1', [jobId])
    this.cache.delete(jobId)
  }

  /** The whole job; undefined when there is none. */
  async read(sql: Sql, jobId: string): Promise<Job | undefined> {
    const row = (await sql.query<JobRow>('SELECT * FROM jobs WHERE job_id = $1', [jobId])).rows[0]
    return row === undefined ? undefined : this.job(sql, row)
  }

  /** The whole job from its hot row. */
  async job(sql: Sql, row: JobRow): Promise<Job> {
    const spec = await this.load(sql, row)
    return jobFromParts(row, spec.document, spec.body)
  }

  /** Jobs of many hot rows (one query for the specs not cached). */
  async jobs(sql: Sql, rows: readonly JobRow[]): Promise<Job[]> {
    const missing = rows.filter((r) => this.cache.get(r.job_id, r.spec_version) === undefined)
    if (missing.length > 0) {
      const { rows: stored } = await sql.query<{ job_id: string; document: string; body: string }>(
        'SELECT job_id, document, body FROM job_specs WHERE job_id = ANY($1::text[])',
        [missing.map((r) => r.job_id)],
      )
      const byId = new Map(stored.map((s) => [s.job_id, s]))
      for (const r of missing) {
        const s = byId.get(r.job_id)
        if (s !== undefined) this.cache.put(r.job_id, r.spec_version, s.document, s.body)
      }
    }
    const out: Job[] = []
    for (const r of rows) {
      const spec = this.cache.get(r.job_id, r.spec_version)
      out.push(spec === undefined ? await this.job(sql, r) : jobFromParts(r, spec.document, spec.body))
    }
    return out
  }

  private async load(sql: Sql, row: JobRow): Promise<Spec> {
    const cached = this.cache.get(row.job_id, row.spec_version)
    if (cached !== undefined) return cached
    const { rows } = await sql.query<{ document: string; body: string }>(
      'SELECT document, body FROM job_specs WHERE job_id = $1',
      [row.job_id],
    )
    const stored = rows[0]
    if (stored === undefined) throw new Error(`job ${row.job_id} has no spec row`)
    return this.cache.put(row.job_id, row.spec_version, stored.document, stored.body)
  }
}
