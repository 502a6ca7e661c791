/**
 * A job's cold part — its document and its JSON body (targets, configurations) — lives in
 * `job_specs`, apart from the hot `jobs` row (status, counters, timestamps) that every execution
 * change rewrites. A 10,000-target job's body is half a megabyte: kept in `jobs`, each counter update
 * rewrote it into the WAL, and each read parsed it again.
 *
 * Parsed specs are cached by (job id, spec version). A version is never reused, not even after a
 * rollback (the counter only goes up), so a cached entry can never describe data that was rolled
 * back: a reader that finds another version in the hot row reloads.
 */
import type Database from 'better-sqlite3'
import type { Job } from '../../domain/records.js'
import type { JobRow } from '../rows.js'
import { jobBody, jobFromParts } from '../rows.js'
import type { Spec } from '../spec-cache.js'
import { SpecCache } from '../spec-cache.js'

export class JobSpecs {
  private readonly cache = new SpecCache()
  /** By spec (a cache entry): dropped with it. */
  private readonly lastJobs = new WeakMap<Spec, { readonly row: JobRow; readonly job: Job }>()
  private lastVersion: number
  private readonly s

  constructor(db: Database.Database) {
    this.s = {
      get: db.prepare('SELECT document, body FROM job_specs WHERE job_id = ?'),
      insert: db.prepare('INSERT INTO job_specs (job_id, document, body) VALUES (?, ?, ?)'),
      update: db.prepare('UPDATE job_specs SET body = ? WHERE job_id = ?'),
      setVersion: db.prepare('UPDATE jobs SET spec_version = ? WHERE job_id = ?'),
      delete: db.prepare('DELETE FROM job_specs WHERE job_id = ?'),
    }
    const max = db.prepare('SELECT max(spec_version) AS v FROM jobs').get() as { v: number | null }
    this.lastVersion = max.v ?? 0
  }

  /** The version to store with a newly inserted job row; call `insert` in the same transaction. */
  nextVersion(): number {
    this.lastVersion += 1
    return this.lastVersion
  }

  insert(job: Job): void {
    this.s.insert.run(job.jobId, job.document, jobBody(job))
  }

  /** Writes the body of `next` when it differs from the stored one (inside a transaction). */
  update(row: JobRow, next: Job): void {
    const json = jobBody(next)
    if (json === this.load(row).json) return
    this.s.update.run(json, row.job_id)
    this.s.setVersion.run(this.nextVersion(), row.job_id)
    this.cache.delete(row.job_id)
  }

  /** Drops every cached spec (after the tables were emptied). */
  forget(): void {
    this.cache.clear()
  }

  delete(jobId: string): void {
    this.s.delete.run(jobId)
    this.cache.delete(jobId)
  }

  /**
   * The whole job from its hot row. The job last made from a spec is kept with the row it was made
   * from: reads of a job nobody changed in between (every DescribeJobExecution of a job its devices
   * only report on) compare the row's columns instead of making the job again. Jobs are immutable.
   */
  job(row: JobRow): Job {
    const spec = this.load(row)
    const last = this.lastJobs.get(spec)
    if (last !== undefined && sameColumns(last.row, row)) return last.job
    const job = jobFromParts(row, spec.document, spec.body)
    this.lastJobs.set(spec, { row, job })
    return job
  }

  private load(row: JobRow): Spec {
    const cached = this.cache.get(row.job_id, row.spec_version)
    if (cached !== undefined) return cached
    const stored = this.s.get.get(row.job_id) as { document: string; body: string } | undefined
    if (stored === undefined) throw new Error(`job ${row.job_id} has no spec row`)
    return this.cache.put(row.job_id, row.spec_version, stored.document, stored.body)
  }
}

function sameColumns(a: JobRow, b: JobRow): boolean {
  for (const key in b) {
    if (a[key as keyof JobRow] !== b[key as keyof JobRow]) return false
  }
  return true
}
