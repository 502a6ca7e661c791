/**
 * A data file written by an earlier version opens and keeps its data. Version 5 moved the job
 * document and body out of the hot `jobs` row (job-specs.ts).
 */
import Database from 'better-sqlite3'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import { MIGRATIONS } from './migrations.js'
import { SqliteStore } from './sqlite-store.js'

const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-migrations-'))
after(() => rmSync(dir, { recursive: true, force: true }))

/** A database as a fleetjobs of schema `version` left it. */
function databaseAt(file: string, version: number): Database.Database {
  const db = new Database(file)
  for (const m of MIGRATIONS.filter((m) => m.version <= version)) db.exec(m.sql)
  db.pragma(`user_version = ${version}`)
  return db
}

describe('SQLite migrations', () => {
  it('v4 → v5: a job keeps its document, targets, configurations and counters', async () => {
    const file = join(dir, 'v4.db')
    const db = databaseAt(file, 4)
    const arn = 'arn:aws:iot:us-east-1:123456789012:thing/t1'
    const body = { targets: [arn], description: 'old', timeoutConfig: { inProgressTimeoutInMinutes: 5 } }
    db.prepare(
      `INSERT INTO jobs (job_id, status, target_selection, namespace_id, created_at, last_updated_at, document, body, n_queued)
       VALUES ('j1', 'IN_PROGRESS', 'SNAPSHOT', NULL, 1000, 2000, '{"op":"x"}', ?, 1)`,
    ).run(JSON.stringify(body))
    db.close()

    const store = new SqliteStore({ file, checkpointIntervalMs: 0 })
    try {
      const job = await store.getJob('j1')
      assert.ok(job !== undefined)
      assert.equal(job.document, '{"op":"x"}')
      assert.deepEqual(job.targets, [arn])
      assert.equal(job.description, 'old')
      assert.deepEqual(job.timeoutConfig, { inProgressTimeoutInMinutes: 5 })
      assert.equal(job.counts.QUEUED, 1)
      assert.equal(job.createdAtMs, 1000)
    } finally {
      await store.close()
    }
    const after5 = new Database(file, { readonly: true })
    const columns = (after5.prepare('PRAGMA table_info(jobs)').all() as { name: string }[]).map((c) => c.name)
    after5.close()
    assert.ok(!columns.includes('body') && !columns.includes('document'), columns.join(','))
  })
})
