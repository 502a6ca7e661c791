/** Job templates in SQLite: one row each, the template as JSON. */
import type Database from 'better-sqlite3'
import { pageOf } from '../listing.js'
import type { JobTemplate } from '../../domain/templates.js'
import type { Page, PageRequest } from '../../ports/store.js'

interface TemplateRow {
  seq: number
  template_id: string
  created_at: number
  body: string
}

export class TemplateTable {
  private readonly s

  constructor(db: Database.Database) {
    this.s = {
      get: db.prepare('SELECT * FROM job_templates WHERE template_id = ?'),
      insert: db.prepare('INSERT INTO job_templates (template_id, created_at, body) VALUES (?, ?, ?)'),
      delete: db.prepare('DELETE FROM job_templates WHERE template_id = ?'),
      // [open-question 3] by (createdAt, jobTemplateId)
      // The first page and the pages after a key are separate statements, so both walk the index.
      listFirst: db.prepare('SELECT * FROM job_templates ORDER BY created_at, template_id LIMIT @limit'),
      listAfter: db.prepare(
        `SELECT * FROM job_templates WHERE (created_at, template_id) > (@c, @id)
         ORDER BY created_at, template_id LIMIT @limit`,
      ),
    }
  }

  get(id: string): JobTemplate | undefined {
    const row = this.s.get.get(id) as TemplateRow | undefined
    return row === undefined ? undefined : (JSON.parse(row.body) as JobTemplate)
  }

  /** Runs inside a transaction; false when the id is taken. */
  insert(t: JobTemplate): boolean {
    if (this.s.get.get(t.jobTemplateId) !== undefined) return false
    this.s.insert.run(t.jobTemplateId, t.createdAtMs, JSON.stringify(t))
    return true
  }

  delete(id: string): boolean {
    return this.s.delete.run(id).changes === 1
  }

  list(page: PageRequest): Page<JobTemplate> {
    const rows =
      page.after === undefined
        ? this.s.listFirst.all({ limit: page.limit + 1 })
        : this.s.listAfter.all({ ...keyOf(page.after), limit: page.limit + 1 })
    return pageOf(
      (rows as TemplateRow[]).map((r) => JSON.parse(r.body) as JobTemplate),
      page.limit,
      (t) => JSON.stringify([t.createdAtMs, t.jobTemplateId]),
    )
  }
}

function keyOf(after: string): { c: number; id: string } {
  const [c, id] = JSON.parse(after) as [number, string]
  return { c, id }
}
