/**
 * The group committer when SQLite ends a transaction by itself (as it may on SQLITE_FULL or
 * SQLITE_IOERR), and its guard (disk-space.ts): no caller is told that a write succeeded which is not
 * in the database, and a refused group touches nothing.
 */
import Database from 'better-sqlite3'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CommitGuard } from './group-commit.js'
import { GroupCommitter } from './group-commit.js'

function table(): Database.Database {
  const db = new Database(':memory:')
  db.exec('CREATE TABLE t (k TEXT PRIMARY KEY)')
  return db
}

const rows = (db: Database.Database): string[] =>
  (db.prepare('SELECT k FROM t ORDER BY k').all() as { k: string }[]).map((r) => r.k)

/** What SQLite does on some SQLITE_FULL errors: the whole transaction is rolled back, then the error. */
function transactionLost(db: Database.Database): never {
  db.exec('ROLLBACK')
  throw Object.assign(new Error('database or disk is full'), { code: 'SQLITE_FULL' })
}

describe('GroupCommitter', () => {
  it('a transaction SQLite rolled back mid-group fails every write of the group, those before it too', async () => {
    const db = table()
    const commits = new GroupCommitter(db)
    const insert = (k: string) => () => db.prepare('INSERT INTO t VALUES (?)').run(k)
    const outcomes = await Promise.allSettled([
      commits.run(insert('a')),
      commits.run(() => transactionLost(db)),
      commits.run(insert('c')),
    ])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['rejected', 'rejected', 'rejected'],
    )
    assert.deepEqual(rows(db), [], 'nothing was kept, so nobody was told it was')
    assert.equal(db.inTransaction, false)
    // The next group commits as usual.
    await commits.run(insert('d'))
    assert.deepEqual(rows(db), ['d'])
  })

  it('a failed write alone in a group, or beside others, leaves the others committed', async () => {
    const db = table()
    const commits = new GroupCommitter(db)
    const insert = (k: string) => () => db.prepare('INSERT INTO t VALUES (?)').run(k)
    const outcomes = await Promise.allSettled([
      commits.run(insert('a')),
      commits.run(insert('a')),
      commits.run(insert('b')),
    ])
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    )
    assert.deepEqual(rows(db), ['a', 'b'])
  })

  it('the guard refuses a group untouched, translates the errors writes meet, and settles after a failure', async () => {
    const db = table()
    let refusing = true
    let settled = 0
    const refusal = new Error('refused')
    const guard: CommitGuard = {
      refuse: () => (refusing ? refusal : undefined),
      failed: (error) => new Error(`translated: ${(error as Error).message}`),
      settle: () => (settled += 1),
    }
    const commits = new GroupCommitter(db, () => undefined, guard)
    let ran = false
    await assert.rejects(
      commits.run(() => (ran = true)),
      (error) => error === refusal,
    )
    assert.equal(ran, false)
    assert.equal(settled, 0)

    refusing = false
    const outcomes = await Promise.allSettled([
      commits.run(() => db.prepare('INSERT INTO t VALUES (?)').run('x')),
      commits.run(() => transactionLost(db)),
    ])
    assert.deepEqual(
      outcomes.map((o) => (o.status === 'rejected' ? (o.reason as Error).message : 'ok')),
      ['translated: database or disk is full', 'translated: database or disk is full'],
    )
    assert.equal(settled, 1)
    assert.deepEqual(rows(db), [])
  })
})
