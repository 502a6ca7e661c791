/**
 * The console family's server (`--console`): fleetjobs on SQLite with its web console on, seeded
 * for the console figures. `seed` stops the server, writes the rows straight into its database file
 * (set-based SQL, far faster than the API, untimed), and starts it again on the same data directory:
 *
 * - `bench-progress`: 1,000 things with one IN_PROGRESS execution each, made through the use cases
 *   (the `http.update` shape), for UpdateJobExecution load;
 * - `bench-big`: one job of 100,000 executions (the page the console tab shows during that load);
 * - `jobs` jobs in all (`bench-j-00000` …) with `executions` executions in all, counters as the rows
 *   say: the stored data of the time-to-first-paint figures.
 *
 * Rows are copies of rows the API wrote (a job created through CreateJob), so they hold whatever the
 * current migrations (src/storage/sqlite/migrations.ts) put in them.
 */
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { updateJobExecution } from '../../src/app/device.js'
import { createJob } from '../../src/app/jobs.js'
import { createThing } from '../../src/app/things.js'
import type { RunningServer } from '../../src/server.js'
import { startServer } from '../../src/server.js'
import { childConfig, cpuMs, residentBytes, serveChild } from './child-ipc.js'
import type { ServerInfo } from './child-ipc.js'

export interface ConsoleServerConfig {
  readonly region: string
  readonly accountId: string
}

export interface ConsoleSeedArgs {
  readonly progressThings: number
  readonly bigJobExecutions: number
  readonly jobs: number
  readonly executions: number
}

export interface ConsoleSeedResult {
  readonly info: ServerInfo
  readonly ms: number
  readonly jobs: number
  readonly executions: number
}

const CONCURRENCY = 32

await serveChild(async () => {
  const config = childConfig<ConsoleServerConfig>()
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetjobs-bench-console-'))
  const start = () =>
    startServer({
      host: '127.0.0.1',
      port: 0,
      dataPlanePort: 0,
      dataDir,
      region: config.region,
      accountId: config.accountId,
      responseStyle: 'aws',
      logger: pino({ level: 'error' }, pino.destination(2)),
      settings: { maxTargetsPerJob: 100_000 },
    })
  let server: RunningServer = await start()
  const infoOf = (s: RunningServer): ServerInfo => ({ url: s.url, dataPlaneUrl: s.dataPlaneUrl })
  return {
    info: infoOf(server),
    handlers: {
      rss: residentBytes,
      cpuMs,
      seed: async (raw): Promise<ConsoleSeedResult> => {
        const args = raw as ConsoleSeedArgs
        const started = performance.now()
        await seedThroughApi(server, args.progressThings)
        await server.close()
        const db = new Database(join(dataDir, 'fleetjobs.db'))
        let totals: { jobs: number; executions: number }
        try {
          totals = seedRows(db, args)
        } finally {
          db.close()
        }
        server = await start()
        return { info: infoOf(server), ms: performance.now() - started, ...totals }
      },
    },
    close: async () => {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
})

/** The progress fleet and the model job the SQL copies, through the use cases. */
async function seedThroughApi(server: RunningServer, things: number): Promise<void> {
  const ctx = server.context
  const names = Array.from({ length: things }, (_, i) => `bench-u-${String(i).padStart(4, '0')}`)
  const each = async (work: (name: string) => Promise<unknown>): Promise<void> => {
    let next = 0
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < names.length) await work(names[next++]!)
      }),
    )
  }
  await each((thingName) => createThing(ctx, { thingName }))
  const arn = (t: string) => `arn:aws:iot:${ctx.scope.region}:${ctx.scope.accountId}:thing/${t}`
  await createJob(ctx, {
    jobId: 'bench-progress',
    targets: names.map(arn),
    document: '{"operation":"bench"}',
  })
  await each((thingName) =>
    updateJobExecution(ctx, { jobId: 'bench-progress', thingName, status: 'IN_PROGRESS' }),
  )
  // The model of every seeded job: settings the console shows.
  await createJob(ctx, {
    jobId: 'bench-model',
    targets: [arn(names[0]!)],
    document: '{"operation":"bench-console","firmware":"2.4.1"}',
    jobExecutionsRolloutConfig: { maximumPerMinute: 1000 },
    timeoutConfig: { inProgressTimeoutInMinutes: 60 },
  })
}

/**
 * `bench-big` with `bigJobExecutions` executions, and `jobs - 1` more jobs sharing the rest of
 * `executions` evenly; statuses 80% SUCCEEDED, 10% FAILED, 10% QUEUED; counters set from the rows.
 */
function seedRows(db: Database.Database, args: ConsoleSeedArgs): { jobs: number; executions: number } {
  db.pragma('journal_mode = WAL')
  db.pragma('synchronous = OFF')
  const columns = (table: string): string[] =>
    (db.prepare(`PRAGMA table_info(${table})`).all() as { name: string }[]).map((c) => c.name)
  const copy = (table: string, replace: Record<string, string>): string => {
    const cols = columns(table).filter((c) => c !== 'seq')
    return `INSERT INTO ${table} (${cols.join(', ')}) SELECT ${cols.map((c) => replace[c] ?? c).join(', ')}`
  }
  const others = args.jobs - 1
  const perJob = Math.floor((args.executions - args.bigJobExecutions) / Math.max(1, others))
  const now = Date.now()
  const series = (name: string, count: number) =>
    `WITH RECURSIVE ${name}(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM ${name} WHERE i + 1 < ${count})`
  db.transaction(() => {
    // The jobs: bench-big and bench-j-NNNNN, copies of bench-model, created a millisecond apart.
    const jobIds = `SELECT 'bench-big' AS job_id, 0 AS k UNION ALL SELECT printf('bench-j-%05d', i), i + 1 FROM n`
    for (const table of ['jobs', 'job_specs', 'job_targets']) {
      const replace: Record<string, string> =
        table === 'jobs'
          ? { job_id: 'ids.job_id', created_at: `${now} + ids.k`, last_updated_at: `${now} + ids.k` }
          : { job_id: 'ids.job_id' }
      db.prepare(
        `${series('n', others)} ${copy(table, replace)} FROM ${table}, (${jobIds}) AS ids WHERE ${table}.job_id = 'bench-model'`,
      ).run()
    }
    const status = `CASE WHEN i % 10 < 8 THEN 'SUCCEEDED' WHEN i % 10 = 8 THEN 'FAILED' ELSE 'QUEUED' END`
    const insert = (jobId: string, count: number, offset: number) =>
      db
        .prepare(
          `${series('n', count)}
           INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, status_details,
             queued_at, started_at, last_updated_at, version_number)
           SELECT ?, printf('bench-s-%06d', i + ?), 1, ${status}, '', ${`CASE WHEN i % 10 = 8 THEN '{"result":"failed in the bench"}' ELSE '{}' END`},
             ?, CASE WHEN i % 10 < 9 THEN ? END, ?, CASE WHEN i % 10 < 9 THEN 3 ELSE 1 END FROM n`,
        )
        .run(jobId, offset, now, now, now)
    insert('bench-big', args.bigJobExecutions, 0)
    const many = db.prepare(
      `${series('n', perJob)}, j(k) AS (SELECT 0 UNION ALL SELECT k + 1 FROM j WHERE k + 1 < ${others})
       INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, status_details,
         queued_at, started_at, last_updated_at, version_number)
       SELECT printf('bench-j-%05d', k), printf('bench-s-%06d', i), 1,
         CASE WHEN i % 10 < 8 THEN 'SUCCEEDED' WHEN i % 10 = 8 THEN 'FAILED' ELSE 'QUEUED' END, '', '{}',
         ?, CASE WHEN i % 10 < 9 THEN ? END, ?, CASE WHEN i % 10 < 9 THEN 3 ELSE 1 END FROM j, n`,
    )
    many.run(now, now, now)
    // Counters as the rows say (the API keeps them in the same transaction as every change).
    db.prepare(
      `UPDATE jobs SET
         n_queued = (SELECT count(*) FROM job_executions e WHERE e.job_id = jobs.job_id AND e.status = 'QUEUED'),
         n_succeeded = (SELECT count(*) FROM job_executions e WHERE e.job_id = jobs.job_id AND e.status = 'SUCCEEDED'),
         n_failed = (SELECT count(*) FROM job_executions e WHERE e.job_id = jobs.job_id AND e.status = 'FAILED'),
         n_in_progress = 0
       WHERE job_id = 'bench-big' OR job_id LIKE 'bench-j-%'`,
    ).run()
  })()
  db.pragma('wal_checkpoint(TRUNCATE)')
  const count = (sql: string) => (db.prepare(sql).get() as { n: number }).n
  return {
    jobs: count('SELECT count(*) AS n FROM jobs'),
    executions: count('SELECT count(*) AS n FROM job_executions'),
  }
}
