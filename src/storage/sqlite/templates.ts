/** Job templates in SQLite: one row each, the template as JSON. */
import type Database from 'better-sqlite3'
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
      list: db.prepare(
        `SELECT * FROM job_templates WHERE (@first OR (created_at, template_id) > (@c, @id))
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
    const [c, id] = page.after === undefined ? [0, ''] : (JSON.parse(page.after) as [number, string])
    const rows = this.s.list.all({
      first: page.after === undefined ? 1 : 0,
      c,
      id,
      limit: page.limit + 1,
    }) as TemplateRow[]
    const items = rows.slice(0, page.limit).map((r) => JSON.parse(r.body) as JobTemplate)
    const last = items[page.limit - 1]
    return rows.length > page.limit && last !== undefined
      ? { items, after: JSON.stringify([last.createdAtMs, last.jobTemplateId]) }
      : { items }
  }
}
