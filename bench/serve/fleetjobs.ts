/**
 * The server under test: the real fleetjobs server on free ports with a temporary data directory;
 * with `mqtt`, also its embedded MQTT broker on a free port of 127.0.0.1 (device authentication is
 * off on loopback).
 */
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { startServer } from '../../src/server.js'
import { childConfig, cpuMs, residentBytes, serveChild } from './child-ipc.js'

export interface FleetjobsConfig {
  readonly region: string
  readonly accountId: string
  readonly maxTargetsPerJob: number
  /** Start the embedded broker (`mqtt: { port: 0 }`). */
  readonly mqtt?: boolean
}

await serveChild(async () => {
  const config = childConfig<FleetjobsConfig>()
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetjobs-bench-'))
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataPlanePort: 0,
    dataDir,
    region: config.region,
    accountId: config.accountId,
    responseStyle: 'aws',
    // Errors only, on stderr: a failed request must be seen, the table must stay readable.
    logger: pino({ level: 'error' }, pino.destination(2)),
    settings: { maxTargetsPerJob: config.maxTargetsPerJob },
    ...(config.mqtt === true ? { mqtt: { port: 0 } } : {}),
  })
  if (config.mqtt === true && server.mqttAuth === true) {
    await server.close()
    throw new Error('the embedded broker requires device authentication; the bench connects without')
  }
  // A second connection to the server's own database file (WAL allows it), for fleet-scale seeding
  // and the bulk-INSERT baseline: both are about the same file the server writes.
  const db = new Database(join(dataDir, 'fleetjobs.db'))
  db.pragma('synchronous = FULL')
  return {
    info: {
      url: server.url,
      dataPlaneUrl: server.dataPlaneUrl,
      ...(server.mqttUrl === undefined ? {} : { mqttUrl: server.mqttUrl }),
    },
    handlers: {
      rss: residentBytes,
      cpuMs,
      seedGroupMembers: (args) => seedGroupMembers(db, args as SeedGroupMembersArgs),
      bulkInsertExecutions: (args) => bulkInsertExecutions(db, args as BulkInsertArgs),
    },
    close: async () => {
      db.close()
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
})

export interface SeedGroupMembersArgs {
  /** An existing group (created over HTTP). */
  readonly groupName: string
  /** Things `${prefix}-000000` … created (when missing) and added to the group. */
  readonly prefix: string
  readonly count: number
}

/**
 * Registers `count` things and adds them to a group with two set-based statements: 100,000
 * CreateThing + AddThingToThingGroup requests would take the bench minutes and measure nothing it
 * reports. The rows are those the API writes (migration 1–2 of src/storage/sqlite/migrations.ts).
 */
function seedGroupMembers(db: Database.Database, args: SeedGroupMembersArgs): number {
  const started = performance.now()
  db.transaction(() => {
    const series = `WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i + 1 < @count)`
    const name = `printf('%s-%06d', @prefix, i)`
    db.prepare(
      `${series}
       INSERT OR IGNORE INTO things (thing_name, thing_id, attributes, version, created_at)
       SELECT ${name}, lower(hex(randomblob(16))), '{}', 1, @now FROM n`,
    ).run({ count: args.count, prefix: args.prefix, now: Date.now() })
    db.prepare(
      `${series}
       INSERT OR IGNORE INTO thing_group_members (group_name, thing_name) SELECT @group, ${name} FROM n`,
    ).run({ count: args.count, prefix: args.prefix, group: args.groupName })
  })()
  return performance.now() - started
}

export interface BulkInsertArgs {
  readonly jobId: string
  readonly prefix: string
  readonly count: number
}

/** Rows per INSERT statement: 4 parameters each stays under SQLite's 32,766-parameter limit. */
const ROWS_PER_STATEMENT = 1_000

/**
 * The baseline of the group fan-out: a plain multi-row INSERT of `count` QUEUED execution rows, one
 * transaction, into the same database file; timed, then deleted again (untimed). Milliseconds.
 */
function bulkInsertExecutions(db: Database.Database, args: BulkInsertArgs): number {
  const width = 6
  const names = Array.from(
    { length: args.count },
    (_, i) => `${args.prefix}-${String(i).padStart(width, '0')}`,
  )
  const values = Array.from({ length: ROWS_PER_STATEMENT }, () => `(?, ?, 1, 'QUEUED', '', ?, ?, 1)`)
  const full = db.prepare(
    `INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at,
       last_updated_at, version_number) VALUES ${values.join(', ')}`,
  )
  const now = Date.now()
  const started = performance.now()
  db.transaction(() => {
    for (let i = 0; i < names.length; i += ROWS_PER_STATEMENT) {
      const chunk = names.slice(i, i + ROWS_PER_STATEMENT)
      const statement =
        chunk.length === ROWS_PER_STATEMENT
          ? full
          : db.prepare(
              `INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at,
                 last_updated_at, version_number) VALUES ${values.slice(0, chunk.length).join(', ')}`,
            )
      statement.run(chunk.flatMap((thingName) => [args.jobId, thingName, now, now]))
    }
  })()
  const ms = performance.now() - started
  db.prepare('DELETE FROM job_executions WHERE job_id = ?').run(args.jobId)
  return ms
}
