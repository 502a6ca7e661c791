/**
 * What the SQLite store does when its disk fills, so that it can always come back.
 *
 * In WAL mode a commit appends to the WAL, and a checkpoint copies the WAL's pages into the database
 * file, which grows by the pages that are new; only a checkpoint that copied everything lets the WAL
 * start over or be truncated. On a full disk the WAL holds the space the checkpoint needs to grow the
 * database: freeing a few MB let a checkpoint grow the database into them, fail again, and leave the
 * WAL as large as before, so writes never came back, not even after a restart.
 *
 * So the store keeps a reserve file of `reserveBytes` in the data directory. When a write or a
 * checkpoint meets a full disk (`SQLITE_FULL`, or an `SQLITE_IOERR` while the disk is nearly full), the
 * reserve is deleted, a TRUNCATE checkpoint copies the WAL into the database with that room and
 * truncates the WAL to nothing, and the store refuses writes (ServiceUnavailableException, 503) until
 * there is room to make the reserve again plus `HEADROOM_BYTES` to write in. A refused write touches
 * nothing, so the WAL cannot grow while the disk is full, and the reserve is whole again before writes
 * resume. Reads go on: they need no space.
 *
 * The reserve must cover the pages a checkpoint adds to the database, at most the WAL's frames since the
 * last complete checkpoint; the background checkpointer keeps that near its restart threshold
 * (checkpointer.ts: 1000 frames of 4 KiB), whence the default of twice that. When the WAL grew past
 * it (a long reader held it: a backup, a shell), the TRUNCATE is tried again whenever more space is
 * free than at its last failure, so freeing space always gets the store going again.
 */
import type Database from 'better-sqlite3'
import { closeSync, fstatSync, ftruncateSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs'
import { dirname } from 'node:path'
import { ServiceError } from '../../domain/errors.js'
import type { CommitGuard } from './group-commit.js'

/** Default size of the reserve: twice the WAL size at which the checkpointer restarts it (see above). */
export const DEFAULT_RESERVE_BYTES = 8 * 1024 * 1024
/** Free space, beyond the reserve, that writes need before they resume after a full disk. */
export const HEADROOM_BYTES = 2 * 1024 * 1024
/** Bytes written at once while making the reserve. */
const CHUNK_BYTES = 1024 * 1024
/**
 * How long the first TRUNCATE checkpoint after the disk filled waits for the locks: the checkpointer's
 * pass under way ends within it (it is paused meanwhile). A reader that still holds them after that is
 * someone else's (a backup, a shell): later tries do not wait, so that a refused write never stalls.
 */
const CHECKPOINT_WAIT_MS = 1000

type CheckpointOutcome = 'done' | 'busy' | 'full'

/** What callers get while the disk is full. */
export function storeFullError(cause?: unknown): ServiceError {
  const error = new ServiceError(
    'ServiceUnavailableException',
    'The disk of the database is full; writes resume once space is freed.',
  )
  // The driver's error stays as the cause (for logs), out of the client's answer.
  return cause === undefined ? error : Object.assign(error, { cause })
}

/** Told when writes stop for a full disk (`full`) and when they resume, with the free bytes then. */
export type SpaceListener = (event: { readonly full: boolean; readonly freeBytes: number }) => void

export class DiskSpace implements CommitGuard {
  private readonly dir: string
  /** Writes are refused until the reserve is whole again. */
  private full = false
  /** The WAL still needs a TRUNCATE checkpoint since the disk filled. */
  private walOwed = false
  /** Free bytes after the last TRUNCATE that failed for lack of space: retried only once more is free. */
  private freeAtFailedCheckpoint = -1
  /** The last TRUNCATE found a reader in the way: the next does not wait. */
  private checkpointWasBusy = false
  /** A write of the current group met a full disk. */
  private fullInGroup = false

  constructor(
    private readonly db: Database.Database,
    /** The database file; the reserve lies beside it. */
    file: string,
    private readonly reserveFile: string,
    private readonly reserveBytes: number,
    private readonly onChange: SpaceListener = () => undefined,
  ) {
    this.dir = dirname(file)
  }

  /** Whether writes are refused for lack of space. */
  get isFull(): boolean {
    return this.full
  }

  /**
   * At start-up: empties a WAL an earlier run left (it may have died with the disk full) and makes the
   * reserve; without room for both, the store starts refusing writes.
   */
  open(): void {
    if (this.reserveBytes === 0) return
    // Busy: a reader outside the server; the checkpointer empties the WAL later.
    if (this.truncateWal(CHECKPOINT_WAIT_MS) === 'full') {
      this.diskFilled()
      return
    }
    if (!this.makeReserve()) this.setFull(true)
  }

  // ---- CommitGuard ----

  refuse(): Error | undefined {
    if (!this.full || this.tryResume()) return undefined
    return storeFullError()
  }

  failed(error: unknown): unknown {
    if (!this.isDiskFull(error)) return error
    this.fullInGroup = true
    return storeFullError(error)
  }

  settle(): void {
    if (!this.fullInGroup) return
    this.fullInGroup = false
    this.diskFilled()
  }

  // ----

  /** A checkpoint failed: when for lack of space, the store stops writing as for a failed write. */
  checkpointFailed(error: unknown): boolean {
    if (!this.isDiskFull(error)) return false
    if (this.full) this.tryResume()
    else this.diskFilled()
    return true
  }

  /** Whether `error` says the disk is full: SQLITE_FULL, or an I/O error with hardly any space left. */
  isDiskFull(error: unknown): boolean {
    const code = (error as { code?: unknown } | null)?.code
    if (code === 'SQLITE_FULL') return true
    return typeof code === 'string' && code.startsWith('SQLITE_IOERR') && this.freeBytes() < HEADROOM_BYTES
  }

  /** Gives the reserve's space back, before an open that failed for lack of it is tried again. */
  static releaseReserve(reserveFile: string): void {
    rmSync(reserveFile, { force: true })
  }

  /** Between transactions, after a write or a checkpoint met a full disk. */
  private diskFilled(): void {
    if (this.reserveBytes === 0) return
    DiskSpace.releaseReserve(this.reserveFile)
    this.walOwed = true
    this.freeAtFailedCheckpoint = -1
    this.checkpointWasBusy = false
    this.setFull(true)
    this.tryResume()
  }

  /** Empties the WAL and makes the reserve when there is room; true when writes may resume. */
  private tryResume(): boolean {
    if (this.walOwed) {
      if (this.freeBytes() <= this.freeAtFailedCheckpoint) return false
      const outcome = this.truncateWal(this.checkpointWasBusy ? 0 : CHECKPOINT_WAIT_MS)
      this.checkpointWasBusy = outcome === 'busy'
      if (outcome === 'full') this.freeAtFailedCheckpoint = this.freeBytes()
      if (outcome !== 'done') return false
      this.walOwed = false
    }
    if (!this.makeReserve()) return false
    this.setFull(false)
    return true
  }

  /**
   * Copies the whole WAL into the database and truncates it, waiting at most `waitMs` for readers;
   * `full` when the disk has no room for the pages it adds. Runs between transactions on the store's
   * connection.
   */
  private truncateWal(waitMs: number): CheckpointOutcome {
    const busyTimeoutMs = this.db.pragma('busy_timeout', { simple: true }) as number
    this.db.pragma(`busy_timeout = ${waitMs}`)
    try {
      const [result] = this.db.pragma('wal_checkpoint(TRUNCATE)') as { busy: number }[]
      return result?.busy === 0 ? 'done' : 'busy'
    } catch (error) {
      if (this.isDiskFull(error)) return 'full'
      if ((error as { code?: unknown }).code === 'SQLITE_BUSY') return 'busy'
      throw error
    } finally {
      this.db.pragma(`busy_timeout = ${busyTimeoutMs}`)
    }
  }

  /** Makes the reserve whole; false, leaving none, when the disk has no room for it and the headroom. */
  private makeReserve(): boolean {
    let fd: number
    try {
      fd = openSync(this.reserveFile, 'a+')
    } catch (error) {
      if (isNoSpace(error)) return false
      throw error
    }
    try {
      let size = fstatSync(fd).size
      if (size >= this.reserveBytes) return true
      if (this.freeBytes() < this.reserveBytes - size + HEADROOM_BYTES) {
        ftruncateSync(fd, 0)
        return false
      }
      // Written, not only sized: a sparse file reserves nothing.
      const chunk = Buffer.alloc(CHUNK_BYTES)
      while (size < this.reserveBytes)
        size += writeSync(fd, chunk, 0, Math.min(CHUNK_BYTES, this.reserveBytes - size))
      return true
    } catch (error) {
      if (!isNoSpace(error)) throw error
      ftruncateSync(fd, 0)
      return false
    } finally {
      closeSync(fd)
    }
  }

  private freeBytes(): number {
    const s = statfsSync(this.dir)
    return s.bavail * s.bsize
  }

  private setFull(full: boolean): void {
    if (this.full === full) return
    this.full = full
    this.onChange({ full, freeBytes: this.freeBytes() })
  }
}

function isNoSpace(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  return code === 'ENOSPC' || code === 'EDQUOT'
}
