/**
 * The server under test: the real fleetjobs server on free ports with a temporary data directory;
 * with `mqtt`, also its embedded MQTT broker on a free port of 127.0.0.1 (device authentication is
 * off on loopback); with `mqttTls` as well, the broker's MQTT-over-TLS listener (client certificates,
 * checked against the registry whatever the host: docs/tls.md) with the local CA's server
 * certificate; with `database`, on that PostgreSQL schema instead of the SQLite file (several of
 * these processes may share one schema: nodes).
 */
import Database from 'better-sqlite3'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { pino } from 'pino'
import { attachThingPrincipal } from '../../src/app/certificates.js'
import { startServer } from '../../src/server.js'
import type { AppContext } from '../../src/app/context.js'
import { deviceName } from '../lib/mqtt-devices.js'
import { pgConfig } from '../lib/pg.js'
import { childConfig, cpuMs, residentBytes, serveChild } from './child-ipc.js'

export interface FleetjobsConfig {
  readonly region: string
  readonly accountId: string
  readonly maxTargetsPerJob: number
  /** Start the embedded broker (`mqtt: { port: 0 }`). */
  readonly mqtt?: boolean
  /** With `mqtt`: its MQTT-over-TLS listener too (`tls: { mqttPort: 0 }`). */
  readonly mqttTls?: boolean
  /** `ServerConfig.database`: store everything in this PostgreSQL schema. */
  readonly database?: { readonly url: string; readonly schema: string; readonly poolSize?: number }
}

/** The statements the bench runs behind the server's back, on SQLite or on PostgreSQL. */
interface Seeder {
  seedGroupMembers(args: SeedGroupMembersArgs): Promise<number>
  bulkInsertExecutions(args: BulkInsertArgs): Promise<number>
  /** Finishes the store's deferred work (SQLite: the WAL checkpoint) between points. */
  settle(): Promise<void>
  close(): Promise<void>
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
    ...(config.mqtt === true && config.mqttTls === true ? { tls: { mqttPort: 0 } } : {}),
    ...(config.database === undefined ? {} : { database: config.database }),
  })
  if (config.mqtt === true && server.mqttAuth === true) {
    await server.close()
    throw new Error('the embedded broker requires device authentication; the bench connects without')
  }
  if (config.mqttTls === true && (server.mqttTlsUrl === undefined || server.tlsCaPath === undefined)) {
    await server.close()
    throw new Error(
      'fleetjobs started without an MQTT-over-TLS listener on the local CA (mqttTlsUrl, tlsCaPath)',
    )
  }
  const seeder =
    config.database === undefined
      ? sqliteSeeder(join(dataDir, 'fleetjobs.db'))
      : pgSeeder(config.database.url, config.database.schema)
  return {
    info: {
      url: server.url,
      dataPlaneUrl: server.dataPlaneUrl,
      ...(server.mqttUrl === undefined ? {} : { mqttUrl: server.mqttUrl }),
      ...(server.mqttTlsUrl === undefined ? {} : { mqttTlsUrl: server.mqttTlsUrl }),
      ...(server.tlsCaPath === undefined ? {} : { tlsCaPath: server.tlsCaPath }),
    },
    handlers: {
      rss: residentBytes,
      cpuMs,
      seedGroupMembers: (args) => seeder.seedGroupMembers(args as SeedGroupMembersArgs),
      bulkInsertExecutions: (args) => seeder.bulkInsertExecutions(args as BulkInsertArgs),
      attachPrincipal: (args) => attachPrincipal(server.context, args as AttachPrincipalArgs),
      settle: () => seeder.settle(),
    },
    close: async () => {
      await seeder.close()
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
})

/**
 * A second connection to the server's own database file (WAL allows it), for fleet-scale seeding and
 * the bulk-INSERT baseline: both are about the same file the server writes.
 */
function sqliteSeeder(file: string): Seeder {
  const db = new Database(file)
  db.pragma('synchronous = FULL')
  return {
    seedGroupMembers: (args) => Promise.resolve(seedGroupMembers(db, args)),
    bulkInsertExecutions: (args) => Promise.resolve(bulkInsertExecutions(db, args)),
    // The WAL the previous point left is copied back now, not during the next point's measurement
    // (the server's checkpointer is a worker thread of the same process: its CPU counts there).
    settle: () => {
      db.pragma('wal_checkpoint(TRUNCATE)')
      return Promise.resolve()
    },
    close: () => {
      db.close()
      return Promise.resolve()
    },
  }
}

/**
 * One connection of the bench's own to the server's PostgreSQL schema (opened on first use), for
 * the same two jobs: seeding and the INSERT … SELECT baseline, in the same database the server writes.
 */
function pgSeeder(url: string, schema: string): Seeder {
  // One connection, kept open between calls (no idle timeout): nothing timed pays for connecting.
  const pool = new pg.Pool({ ...pgConfig(url, schema), max: 1, idleTimeoutMillis: 0 })
  pool.on('error', () => undefined)
  return {
    seedGroupMembers: (args) => pgSeedGroupMembers(pool, args),
    bulkInsertExecutions: (args) => pgBulkInsertExecutions(pool, args),
    settle: () => Promise.resolve(),
    close: () => pool.end(),
  }
}

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

export interface AttachPrincipalArgs {
  /** A registered certificate's ARN. */
  readonly principal: string
  /** Things `${prefix}-000000` … (seeded) it is attached to. */
  readonly prefix: string
  readonly count: number
}

/** AttachThingPrincipal calls in flight at a time (the store's group commit batches them). */
const ATTACH_CONCURRENCY = 64

/**
 * Attaches one certificate to `count` things through the use case AttachThingPrincipal runs (10,000
 * HTTP requests would measure nothing the bench reports). Milliseconds.
 */
async function attachPrincipal(ctx: AppContext, args: AttachPrincipalArgs): Promise<number> {
  const started = performance.now()
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < args.count) {
      await attachThingPrincipal(ctx, {
        thingName: deviceName(args.prefix, next++),
        principal: args.principal,
      })
    }
  }
  await Promise.all(Array.from({ length: Math.min(ATTACH_CONCURRENCY, args.count) }, worker))
  return performance.now() - started
}

export interface BulkInsertArgs {
  readonly jobId: string
  readonly prefix: string
  readonly count: number
  /**
   * PostgreSQL only: the table held nothing else, and is left empty again (TRUNCATE, untimed) rather
   * than with the deleted rows' dead tuples, so that what is timed next starts from the same state.
   */
  readonly emptyAfter?: boolean
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

/** `prefix-000042` from a generate_series column `i`, as `printf('%s-%06d')` writes it on SQLite. */
const PG_NAME = `$1::text || '-' || lpad(i::text, 6, '0')`

/**
 * PostgreSQL version of `seedGroupMembers`: two INSERT … SELECT generate_series into the server's
 * tables (migration 1 of src/storage/postgres/migrations.ts), one transaction, then ANALYZE of both
 * tables — a fleet registered over the API would have been analyzed by autovacuum long before.
 */
async function pgSeedGroupMembers(pool: pg.Pool, args: SeedGroupMembersArgs): Promise<number> {
  const started = performance.now()
  const client = await pool.connect()
  try {
    await client.query('BEGIN')
    await client.query(
      `INSERT INTO things (thing_name, thing_id, attributes, version, created_at)
       SELECT ${PG_NAME}, md5($1::text || i::text || random()::text), '{}', 1, $3
       FROM generate_series(0, $2::int - 1) AS i
       ON CONFLICT (thing_name) DO NOTHING`,
      [args.prefix, args.count, Date.now()],
    )
    await client.query(
      `INSERT INTO thing_group_members (group_name, thing_name)
       SELECT $3, ${PG_NAME} FROM generate_series(0, $2::int - 1) AS i
       ON CONFLICT DO NOTHING`,
      [args.prefix, args.count, args.groupName],
    )
    await client.query('COMMIT')
    await client.query('ANALYZE things, thing_group_members')
  } catch (error) {
    await client.query('ROLLBACK').catch(() => undefined)
    throw error
  } finally {
    client.release()
  }
  return performance.now() - started
}

/**
 * PostgreSQL version of `bulkInsertExecutions`: one `INSERT INTO job_executions … SELECT` of `count`
 * QUEUED rows from generate_series, autocommit (one transaction, one commit), into the server's own
 * table with all its indexes; timed, then deleted again, or with `emptyAfter` truncated (untimed).
 * Milliseconds.
 */
async function pgBulkInsertExecutions(pool: pg.Pool, args: BulkInsertArgs): Promise<number> {
  const now = Date.now()
  const started = performance.now()
  await pool.query(
    `INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at,
       last_updated_at, version_number)
     SELECT $3, ${PG_NAME}, 1, 'QUEUED', '', $4, $4, 1 FROM generate_series(0, $2::int - 1) AS i`,
    [args.prefix, args.count, args.jobId, now],
  )
  const ms = performance.now() - started
  if (args.emptyAfter !== true) {
    await pool.query('DELETE FROM job_executions WHERE job_id = $1', [args.jobId])
    return ms
  }
  const others = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM job_executions WHERE job_id <> $1',
    [args.jobId],
  )
  if (others.rows[0]?.n !== 0) throw new Error('job_executions holds other rows: not truncating it')
  await pool.query('TRUNCATE job_executions')
  return ms
}
