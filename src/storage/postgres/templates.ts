/**
 * Job templates in PostgreSQL: one row each, the template as JSON, as in the SQLite store
 * (storage/sqlite/templates.ts).
 */
import type { JobTemplate } from '../../domain/templates.js'
import type { Page, PageRequest } from '../../ports/store.js'
import { pageOf } from '../listing.js'
import type { Sql } from './db.js'

export class PgTemplates {
  async get(sql: Sql, id: string): Promise<JobTemplate | undefined> {
    const { rows } = await sql.query<{ body: string }>(
      'SELECT body FROM job_templates WHERE template_id = $1',
      [id],
    )
    return rows[0] === undefined ? undefined : (JSON.parse(rows[0].body) as JobTemplate)
  }

  /** False (nothing written) when the id is taken, also by a transaction committing meanwhile. */
  async insert(sql: Sql, t: JobTemplate): Promise<boolean> {
    const { rowCount } = await sql.query(
      `INSERT INTO job_templates (template_id, created_at, body) VALUES ($1, $2, $3)
       ON CONFLICT (template_id) DO NOTHING`,
      [t.jobTemplateId, t.createdAtMs, JSON.stringify(t)],
    )
    return rowCount === 1
  }

  /** False when there was no such template. */
  async delete(sql: Sql, id: string): Promise<boolean> {
    const { rowCount } = await sql.query('DELETE FROM job_templates WHERE template_id = $1', [id])
    return rowCount === 1
  }

  /** [open-question 3] by (createdAt, jobTemplateId); `after` is the JSON array of the last key. */
  async list(sql: Sql, page: PageRequest): Promise<Page<JobTemplate>> {
    const order = 'ORDER BY created_at, template_id COLLATE "C" LIMIT $1'
    const { rows } =
      page.after === undefined
        ? await sql.query<{ body: string }>(`SELECT body FROM job_templates ${order}`, [page.limit + 1])
        : await sql.query<{ body: string }>(
            `SELECT body FROM job_templates WHERE (created_at, template_id COLLATE "C") > ($2, $3) ${order}`,
            [page.limit + 1, ...(JSON.parse(page.after) as [number, string])],
          )
    return pageOf(
      rows.map((r) => JSON.parse(r.body) as JobTemplate),
      page.limit,
      (t) => JSON.stringify([t.createdAtMs, t.jobTemplateId]),
    )
  }
}
