/**
 * Opens the SQLite database of the store: WAL mode, durable commits, the schema migrated.
 */
import Database from 'better-sqlite3'
import { DiskSpace } from './disk-space.js'
import { MIGRATIONS } from './migrations.js'

/**
 * Opens the database in WAL mode and migrates it. An open that fails for lack of space (a WAL to
 * recover, a migration to write) is tried once more after the reserve is given back.
 */
export function openDatabase(file: string, reserveFile: string | undefined): Database.Database {
  for (let attempt = 1; ; attempt += 1) {
    const db = new Database(file)
    try {
      db.pragma('journal_mode = WAL')
      // Durable commits; group commit pays one fsync per group. [ARCHITECTURE: group commit]
      db.pragma('synchronous = FULL')
      db.pragma('busy_timeout = 5000')
      db.pragma('foreign_keys = OFF')
      // Reads of hot rows from memory: pages through a 256 MiB memory map instead of a read() call
      // each, and a 64 MiB page cache (SQLite's default is 2 MiB). DescribeJobExecution's CPU per
      // request fell by a fifth with them (issue 14).
      db.pragma('cache_size = -65536')
      db.pragma('mmap_size = 268435456')
      migrate(db)
      return db
    } catch (error) {
      db.close()
      const code = (error as { code?: unknown }).code
      const noSpace = code === 'SQLITE_FULL' || (typeof code === 'string' && code.startsWith('SQLITE_IOERR'))
      if (attempt > 1 || reserveFile === undefined || !noSpace) throw error
      DiskSpace.releaseReserve(reserveFile)
    }
  }
}

function migrate(db: Database.Database): void {
  const current = db.pragma('user_version', { simple: true }) as number
  for (const m of MIGRATIONS) {
    if (m.version <= current) continue
    db.transaction(() => {
      db.exec(m.sql)
      db.pragma(`user_version = ${m.version}`)
    })()
  }
}
