/**
 * The data directory (`--data-dir`): checked before anything is written to it, and, for the SQLite
 * store, locked so that one server at a time uses it.
 *
 * Why the lock: SQLite serializes transactions, not servers. Two servers on one `fleetjobs.db` each
 * drained the shared notification outbox onto their own broker, and each numbered job-spec versions
 * from its own memory (sqlite/job-specs.ts), so a change through one silently restored its cached copy
 * over a change the other had acknowledged.
 *
 * How: `fleetjobs.lock` is an empty SQLite database on which the server holds an exclusive lock for its
 * whole life (`BEGIN EXCLUSIVE`, never committed). SQLite takes it with POSIX advisory record locks
 * (fcntl), which the kernel drops when the process ends, however it ends (kill -9 too): the lock never
 * outlives its server. A PID file alone would, and a PID reused by another process would look alive.
 * Between connections of one process SQLite keeps the same locks, so a second server in the same
 * process is refused too. `fleetjobs.pid` names the holder for the refusal message; it is not the lock.
 * The lock comes from better-sqlite3, which the store needs anyway: no second native module.
 *
 * PostgreSQL takes no lock here: several nodes share the database by design, and two of them on one
 * machine may share a folder (docs/deployment.md); the folder then holds only the MQTT device secret.
 *
 * Never open `fleetjobs.lock` with `node:fs` in the holding process: closing any descriptor of a file
 * drops every POSIX lock the process holds on it.
 */
import Database from 'better-sqlite3'
import { accessSync, constants, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { SqliteStore } from './sqlite/sqlite-store.js'
import type { SqliteStoreOptions } from './sqlite/sqlite-store.js'

/** The SQLite database of a data directory. */
export const DATABASE_FILE = 'fleetjobs.db'
/** The file whose lock says a server uses the data directory. */
export const LOCK_FILE = 'fleetjobs.lock'
/** The PID of the server holding the lock, for the message of a refused start. */
export const PID_FILE = 'fleetjobs.pid'

/** The data directory cannot be used; the message names the flag and the path (the CLI exits 2). */
export class DataDirError extends Error {
  constructor(message: string, options?: { cause: unknown }) {
    super(message, options)
  }
}

/** Another server holds the data directory. */
export class DataDirInUseError extends DataDirError {
  constructor(
    readonly dir: string,
    /** The holder's PID, when its PID file could be read. */
    readonly pid: number | undefined,
  ) {
    super(
      `--data-dir ${dir} is in use by another fleetjobs server (${pid === undefined ? 'PID unknown' : `PID ${pid}`}): one server per data directory. Stop that one, or give this one another --data-dir (several nodes share a PostgreSQL --database instead).`,
    )
  }
}

/** A data directory this process holds. */
export interface DataDirLock {
  /** Lets another server use the directory; call once, after the database is closed. */
  release(): void
}

/**
 * Checks that `dir` is a folder this process can write to, creating it (and its parents) when missing
 * and `create` is set; without `create` a missing folder is fine (it is made when first needed), and
 * only a path that is not a folder is refused. Throws DataDirError.
 */
export function checkDataDir(dir: string, options: { create: boolean }): void {
  let isFolder: boolean | undefined
  try {
    isFolder = statSync(dir).isDirectory()
  } catch (error) {
    if (codeOf(error) !== 'ENOENT')
      throw new DataDirError(`--data-dir ${dir}: ${reason(error)}`, { cause: error })
  }
  if (isFolder === false)
    throw new DataDirError(
      `--data-dir ${dir} is a file, not a folder: name a folder (it is created when missing)`,
    )
  if (isFolder === undefined) {
    if (!options.create) return
    try {
      mkdirSync(dir, { recursive: true })
    } catch (error) {
      throw new DataDirError(`--data-dir ${dir} cannot be created: ${reason(error)}`, { cause: error })
    }
  }
  if (!options.create) return
  try {
    accessSync(dir, constants.W_OK | constants.X_OK)
  } catch (error) {
    throw notWritable(dir, error)
  }
}

/**
 * Takes the data directory for this process (see the module comment), or throws DataDirInUseError
 * naming the holder's PID, or DataDirError when the folder cannot be written.
 */
export function lockDataDir(dir: string): DataDirLock {
  const pidFile = join(dir, PID_FILE)
  let db: Database.Database
  try {
    // No busy wait: a held directory is refused at once.
    db = new Database(join(dir, LOCK_FILE), { timeout: 0 })
  } catch (error) {
    throw notWritable(dir, error)
  }
  try {
    // No journal file beside it: nothing is ever written to the lock's database.
    db.pragma('journal_mode = MEMORY')
    db.exec('BEGIN EXCLUSIVE')
  } catch (error) {
    db.close()
    if (codeOf(error) === 'SQLITE_BUSY') throw new DataDirInUseError(dir, readPid(pidFile))
    throw notWritable(dir, error)
  }
  try {
    writeFileSync(pidFile, `${process.pid}\n`)
  } catch (error) {
    if (codeOf(error) === 'ENOSPC' || codeOf(error) === 'EDQUOT') {
      // A full disk must not stop the start (the store then refuses writes until space is freed); the
      // PID only names the holder in a refusal, which then says it is unknown rather than a stale one.
      rmSync(pidFile, { force: true })
    } else {
      db.close()
      throw notWritable(dir, error)
    }
  }
  let held = true
  return {
    release: () => {
      if (!held) return
      held = false
      try {
        // Removed while the lock is still held, so it never removes the file of the next holder.
        rmSync(pidFile, { force: true })
      } finally {
        db.close()
      }
    },
  }
}

function readPid(file: string): number | undefined {
  let text: string
  try {
    text = readFileSync(file, 'utf8').trim()
  } catch (error) {
    // The holder has not written it yet (or could not): the message says the PID is unknown.
    if (codeOf(error) === 'ENOENT') return undefined
    throw error
  }
  return /^\d+$/.test(text) ? Number(text) : undefined
}

function notWritable(dir: string, error: unknown): DataDirError {
  return new DataDirError(`--data-dir ${dir} is not writable: ${reason(error)}`, { cause: error })
}

function codeOf(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code
  return typeof code === 'string' ? code : undefined
}

/** The system's words for a file error, without the stack: `permission denied (EACCES)`. */
function reason(error: unknown): string {
  const code = codeOf(error)
  const message = error instanceof Error ? error.message : String(error)
  const words: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOTDIR: 'a part of the path is a file, not a folder',
    ENOSPC: 'no space left on the device',
    ELOOP: 'too many symbolic links',
    ENAMETOOLONG: 'the name is too long',
  }
  const known = code === undefined ? undefined : words[code]
  return known === undefined ? `${message}${code === undefined ? '' : ` (${code})`}` : `${known} (${code})`
}

/**
 * The SQLite store of a data directory: checks the folder, takes its lock and opens `fleetjobs.db`;
 * closing the store releases the lock. Throws DataDirError, also when the database cannot be opened.
 */
export function openSqliteStore(
  dir: string,
  options: Omit<SqliteStoreOptions, 'file' | 'onClosed'>,
): SqliteStore {
  checkDataDir(dir, { create: true })
  const lock = lockDataDir(dir)
  try {
    return new SqliteStore({ ...options, file: join(dir, DATABASE_FILE), onClosed: () => lock.release() })
  } catch (error) {
    lock.release()
    throw new DataDirError(`--data-dir ${dir}: cannot open the database ${DATABASE_FILE}: ${reason(error)}`, {
      cause: error,
    })
  }
}
