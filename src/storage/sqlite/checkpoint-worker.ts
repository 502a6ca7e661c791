/**
 * Runs WAL checkpoints on a connection of its own, in a worker thread, so that copying the WAL back
 * into the database never happens on a request's path. The main connection has
 * `wal_autocheckpoint=0`. PASSIVE checkpoints never block writers or readers.
 */
import Database from 'better-sqlite3'
import { parentPort, workerData } from 'node:worker_threads'

const { file, intervalMs } = workerData as { file: string; intervalMs: number }
const db = new Database(file)
db.pragma('busy_timeout = 50')

const timer = setInterval(() => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)')
  } catch (error) {
    // A busy database skips this round; the next interval tries again.
    parentPort?.postMessage({ checkpointError: String(error) })
  }
}, intervalMs)

parentPort?.on('message', (message: unknown) => {
  if (message === 'stop') {
    clearInterval(timer)
    try {
      db.pragma('wal_checkpoint(TRUNCATE)')
    } finally {
      db.close()
      parentPort?.postMessage('stopped')
    }
  }
})
