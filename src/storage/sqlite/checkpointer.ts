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
const timer = setInterval(() => {
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)')
    if (r !== undefined && r.log >= workerData.restartFrames) parentPort.postMessage({ restart: r.log })
  } catch (error) {
    // A busy database skips this round; the next interval tries again.
    parentPort.postMessage({ checkpointError: String(error) })
  }
}, workerData.intervalMs)
parentPort.on('message', (message) => {
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
   * RESTART_FRAMES); `onFailure` when the worker dies (the caller falls back to inline checkpoints).
   */
  constructor(file: string, intervalMs: number, onRestartDue: () => void, onFailure: () => void) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    this.worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { file, intervalMs, driver, restartFrames: RESTART_FRAMES },
    })
    this.worker.on('message', (message: { restart?: number }) => {
      if (message.restart !== undefined) onRestartDue()
    })
    this.exited = new Promise((resolve) => this.worker.once('exit', () => resolve()))
    this.worker.on('error', (error) => {
      this.error = error
      onFailure()
    })
    this.worker.unref()
  }

  /** Runs a last TRUNCATE checkpoint and waits for the worker to end. */
  async stop(): Promise<void> {
    this.worker.ref()
    this.worker.postMessage('stop')
    await this.exited
  }
}
