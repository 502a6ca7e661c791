/**
 * Baseline 2: bare node:http + better-sqlite3 doing only the SQL of each benchmarked operation, one
 * transaction per request (no group commit), with fleetjobs' pragmas (WAL, synchronous=FULL) and
 * SQLite's default inline WAL checkpoints. Answers with fleetjobs' own JSON, like baseline 1.
 *
 * - UpdateJobExecution: one transaction of SELECT the latest row + `UPDATE … WHERE seq=? AND version_number=?`
 * - DescribeJobExecution: one SELECT of the latest row by (job_id, thing_name)
 * - DeleteJobExecution: one transaction of SELECT the row + `DELETE … WHERE seq=? AND version_number=?`
 */
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { ServerResponse } from 'node:http'
import { EXECUTION_INSERT_COLUMNS, JOB_EXECUTIONS_SCHEMA } from './baseline-schema.js'
import { CannedAnswers, listenBoth, notFound, routeOf, send, withBody } from './baseline-routes.js'
import { serveChild } from './child-ipc.js'

interface Row {
  seq: number
  version_number: number
}

export interface SeedArgs {
  readonly jobId: string
  readonly thingNames: readonly string[]
  readonly status: 'QUEUED' | 'IN_PROGRESS'
}

await serveChild(async () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-bench-sqlite-'))
  const db = new Database(join(dir, 'baseline.db'))
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = FULL')
  db.exec(JOB_EXECUTIONS_SCHEMA)

  const latest = db.prepare(
    'SELECT * FROM job_executions WHERE job_id = ? AND thing_name = ? ORDER BY execution_number DESC LIMIT 1',
  )
  const byNumber = db.prepare(
    'SELECT * FROM job_executions WHERE job_id = ? AND thing_name = ? AND execution_number = ?',
  )
  const update = db.prepare(
    `UPDATE job_executions SET status = ?, status_details = ?, last_updated_at = ?, version_number = ?
     WHERE seq = ? AND version_number = ?`,
  )
  const remove = db.prepare('DELETE FROM job_executions WHERE seq = ? AND version_number = ?')
  const insert = db.prepare(
    `INSERT INTO job_executions ${EXECUTION_INSERT_COLUMNS} VALUES (?, ?, 1, ?, '', ?, ?, ?)`,
  )

  const updateTx = db.transaction((jobId: string, thingName: string, status: string, details: string) => {
    const row = latest.get(jobId, thingName) as Row | undefined
    if (row === undefined) return false
    const changed = update.run(
      status,
      details,
      Date.now(),
      row.version_number + 1,
      row.seq,
      row.version_number,
    )
    return changed.changes === 1
  })
  const deleteTx = db.transaction((jobId: string, thingName: string, executionNumber: number) => {
    const row = byNumber.get(jobId, thingName, executionNumber) as Row | undefined
    if (row === undefined) return false
    return remove.run(row.seq, row.version_number).changes === 1
  })
  const seedTx = db.transaction((args: SeedArgs) => {
    const now = Date.now()
    const version = args.status === 'QUEUED' ? 1 : 2
    for (const thingName of args.thingNames) insert.run(args.jobId, thingName, args.status, now, now, version)
  })

  const answers = new CannedAnswers()
  const answer = (res: ServerResponse, key: Parameters<CannedAnswers['get']>[0], found: boolean): void => {
    const body = answers.get(key)
    if (!found || body === undefined) notFound(res, `no execution or no canned answer for ${key}`)
    else send(res, 200, body)
  }

  const listeners = await listenBoth((plane, req, res) => {
    withBody(req, (body) => {
      const key = routeOf(plane, req.method)
      const url = req.url ?? '/'
      const q = url.indexOf('?')
      // /things/{thingName}/jobs/{jobId}[/executionNumber/{n}]
      const parts = (q < 0 ? url : url.slice(0, q)).split('/')
      const thingName = decodeURIComponent(parts[2] ?? '')
      const jobId = decodeURIComponent(parts[4] ?? '')
      switch (key) {
        case 'update': {
          const input = JSON.parse(body.toString('utf8')) as { status: string; statusDetails?: object }
          const ok = updateTx(jobId, thingName, input.status, JSON.stringify(input.statusDetails ?? {}))
          return answer(res, key, ok)
        }
        case 'describe-cp':
        case 'describe-dp':
          return answer(res, key, latest.get(jobId, thingName) !== undefined)
        case 'delete':
          return answer(res, key, deleteTx(jobId, thingName, Number(parts[6])))
        case undefined:
          return notFound(res, `no route for ${req.method ?? ''} ${url}`)
      }
    })
  })
  return {
    info: { url: listeners.url, dataPlaneUrl: listeners.dataPlaneUrl },
    handlers: {
      setAnswer: (args) => answers.set(args),
      seed: (args) => seedTx(args as SeedArgs),
      // As fleetjobs' settle: the WAL the previous point left is checkpointed before the next one.
      settle: () => {
        db.pragma('wal_checkpoint(TRUNCATE)')
      },
    },
    close: async () => {
      await listeners.close()
      db.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})
