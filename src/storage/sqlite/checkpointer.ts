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
    db.pragma('wal_checkpoint(PASSIVE)')
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

export class Checkpointer {
  private readonly worker: Worker
  private readonly exited: Promise<void>
  /** Why the worker stopped, when it failed. */
  error: unknown

  /** `onFailure` runs when the worker dies; the caller falls back to inline checkpoints. */
  constructor(file: string, intervalMs: number, onFailure: () => void) {
    const driver = createRequire(import.meta.url).resolve('better-sqlite3')
    this.worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { file, intervalMs, driver } })
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
