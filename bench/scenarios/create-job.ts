/**
 * CreateJob targeting 10,000 things by ARN (a ~0.6 MB request): time from sending to the answer,
 * which comes after every execution is committed. Baseline: a plain multi-row INSERT of the same
 * 10,000 execution rows, in one transaction, in the bench process, into a SQLite file with the store's
 * schema (all its migrations, so every index of job_executions) and pragmas, holding what fleetjobs'
 * table holds by then: the rows of the earlier repetitions, which the new ones interleave with in the
 * thing-name-led indexes on both sides. (Into a fresh file with migration 1's indexes only, the
 * baseline before issue 14, the second and third repetitions cost about half as much.)
 */
import type Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase } from '../../src/storage/sqlite/open-database.js'
import { percentile } from '../lib/load.js'
import { FLEET_THINGS } from '../lib/session.js'
import type { Scenario } from '../lib/types.js'
import { speedRatio } from '../lib/types.js'
import { EXECUTION_INSERT_COLUMNS } from '../serve/baseline-schema.js'

const POINT = 'http.create-job-10k'
/** Rows per INSERT statement: 4 parameters each stays under SQLite's 32,766-parameter limit. */
const ROWS_PER_STATEMENT = 1_000

export const createJob: Scenario = {
  family: 'create-job',
  points: () => [POINT],
  async run(ctx) {
    if (!ctx.wants(POINT)) return
    const thingNames = ctx.session.fleetThingNames()
    await ctx.session.ensureThings(thingNames)
    const ours: number[] = []
    const baseline: number[] = []
    const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-bench-insert-'))
    const db = openDatabase(join(dir, 'insert.db'), undefined)
    // As in fleetjobs, no checkpoint runs inside a commit (timeMultiRowInsert checkpoints, untimed).
    db.pragma('wal_autocheckpoint = 0')
    try {
      for (let rep = 0; rep < ctx.options.createJobReps; rep++) {
        const { jobId, ms } = await ctx.session.createFanoutJob()
        const sqlMs = timeMultiRowInsert(db, jobId, thingNames)
        ours.push(ms)
        baseline.push(sqlMs)
        ctx.log(`${POINT} ${jobId}: fleetjobs ${ms.toFixed(1)} ms, multi-row INSERT ${sqlMs.toFixed(1)} ms`)
      }
    } finally {
      db.close()
      rmSync(dir, { recursive: true, force: true })
    }
    const ms = median(ours)
    const sqlMs = median(baseline)
    const perS = (v: number): number => FLEET_THINGS / (v / 1000)
    const baselineName = 'sqlite-multi-row-insert-same-rows'
    ctx.recordFigure({
      name: `${POINT}.ms`,
      value: ms,
      unit: 'ms',
      better: 'lower',
      baseline: sqlMs,
      baselineName,
      ratio: speedRatio(ms, sqlMs, 'lower'),
    })
    ctx.recordFigure({
      name: `${POINT}.executions-per-s`,
      value: perS(ms),
      unit: 'executions/s',
      better: 'higher',
      baseline: perS(sqlMs),
      baselineName,
      ratio: speedRatio(perS(ms), perS(sqlMs), 'higher'),
    })
  },
}

/**
 * Milliseconds for BEGIN … 10 × INSERT of 1,000 rows … COMMIT. The WAL is checkpointed first,
 * untimed: fleetjobs' checkpoints run in a worker, not inside its commits.
 */
function timeMultiRowInsert(db: Database.Database, jobId: string, thingNames: readonly string[]): number {
  db.pragma('wal_checkpoint(TRUNCATE)')
  const started = performance.now()
  const now = Date.now()
  const statements = new Map<number, Database.Statement>()
  db.transaction(() => {
    for (let i = 0; i < thingNames.length; i += ROWS_PER_STATEMENT) {
      const chunk = thingNames.slice(i, i + ROWS_PER_STATEMENT)
      let insert = statements.get(chunk.length)
      if (insert === undefined) {
        const values = Array.from({ length: chunk.length }, () => `(?, ?, 1, 'QUEUED', '', ?, ?, 1)`)
        insert = db.prepare(
          `INSERT INTO job_executions ${EXECUTION_INSERT_COLUMNS} VALUES ${values.join(', ')}`,
        )
        statements.set(chunk.length, insert)
      }
      insert.run(chunk.flatMap((thingName) => [jobId, thingName, now, now]))
    }
  })()
  return performance.now() - started
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  )
}
