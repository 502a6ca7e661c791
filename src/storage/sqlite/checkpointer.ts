/**
 * Runs WAL checkpoints on a connection of its own, in a worker thread, so that copying the WAL back
 * into the database never happens on a request's path (the main connection has
 * `wal_autocheckpoint=0`). PASSIVE checkpoints never block writers or readers.
 *
 * The worker's code is a string evaluated as CommonJS, so it runs the same from TypeScript sources
 * and from the compiled package; it loads the same better-sqlite3 this module resolves.
 */
import { createRequire } from 'node:module'
import { Worker } from 'node:worker_threads'

const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
const Database = require(workerData.driver)
const db = new Database(workerData.file)
db.pragma('busy_timeout = 50')
let paused = false
const timer = setInterval(() => {
  if (paused) return
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)')
    if (r !== undefined && r.log >= workerData.restartFrames) parentPort.postMessage({ restart: r.log })
  } catch (error) {
    // A busy database skips this round; the next interval tries again. A full disk is the main
    // thread's to handle (disk-space.ts).
    parentPort.postMessage({ checkpointError: String(error), code: error && error.code })
  }
}, workerData.intervalMs)
parentPort.on('message', (message) => {
  if (message === 'pause' || message === 'resume') paused = message === 'pause'
  if (message !== 'stop') return
  clearInterval(timer)
  try {
    db.pragma('wal_checkpoint(TRUNCATE)')
  } finally {
    db.close()
    parentPort.close()
  }
})
`

/**
 * WAL frames (4 KiB pages) past which the writer is asked to finish a checkpoint itself.
 *
 * A writer starts the WAL over from its beginning only when it begins a transaction after a
 * checkpoint has copied every frame. Under steady writes the worker's checkpoint never ends in such a
 * gap (frames arrive while it copies), so the WAL would grow without end, each commit growing the
 * file. When it is past this size the worker asks the main thread (`onRestartDue`), which, between two
 * transactions, checkpoints the few frames committed since the worker's pass: the next commit then
 * restarts the WAL. The bulk of the copying stays on the worker.
 */
const RESTART_FRAMES = 1000

export class Checkpointer {
  private readonly worker: Worker
  private readonly exited: Promise<void>
  /** Why the worker stopped, when it failed. */
  error: unknown

  /**
   * `onRestartDue` runs on the main thread when the writer should checkpoint the tail itself (see
   * RESTART_FRAMES); `onFailure` when the worker dies (the caller falls back to inline checkpoints);
   * `onCheckpointFailed` with the error of a pass that failed (its `code` is SQLite's).
   */
  constructor(
    file: string,
    intervalMs: number,
    onRestartDue: () => void,
    onFailure: () => void,
    onCheckpointFailed: (error: { code?: string; message: string }) => void = () => undefined,
  ) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { file, intervalMs, driver, restartFrames: RESTART_FRAMES },
    })
    this.worker.on('message', (message: { restart?: number; checkpointError?: string; code?: unknown }) => {
      if (message.restart !== undefined) onRestartDue()
      if (message.checkpointError !== undefined)
        onCheckpointFailed({
          message: message.checkpointError,
          ...(typeof message.code === 'string' ? { code: message.code } : {}),
        })
    })
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()))
    this.worker.on('error', (error) => {
      this.error = error
      onFailure()
    })
    this.worker.unref()
  }

  /**
   * Stops the passes until `resume` (the main thread checkpoints itself while the disk is full, and
   * must not find the worker's pass in its way).
   */
  pause(): void {
    this.worker.postMessage('pause')
  }

  resume(): void {
    this.worker.postMessage('resume')
  }

  /** Runs a last TRUNCATE checkpoint and waits for the worker to end. */
  async stop(): Promise<void> {
    this.worker.ref()
    this.worker.postMessage('stop')
    await this.exited
  }
}
