/**
 * The PostgreSQL connection pool of one node, its transactions, and what a lost database means to a
 * client. Every change is one transaction (READ COMMITTED with row locks taken in one order: thing row,
 * execution rows, job row; docs/decisions.md); a transaction that loses a deadlock or a unique-key race
 * to another node runs again from the start (decide callbacks may run more than once, see
 * ports/store.ts).
 *
 * A database that is restarting or unreachable gives `ServiceUnavailableException` (503) at once —
 * never a hang: connecting, acquiring a pooled connection and each statement have time limits — and the
 * pool reconnects by itself when the database is back.
 */
import { userInfo } from 'node:os'
import { performance } from 'node:perf_hooks'
import pg from 'pg'
import type { ClientConfig, PoolClient, QueryResultRow } from 'pg'
import { ServiceError } from '../../domain/errors.js'
import { PG_MIGRATIONS } from './migrations.js'

// BIGINT columns hold epoch milliseconds and counters, all well inside 2^53: read them as numbers.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value))

export interface PgOptions {
  /** `postgres://user@host:port/database`. */
  readonly url: string
  /** The schema holding fleetjobs' tables; created when missing. Default `fleetjobs`. */
  readonly schema?: string | undefined
  /** Connections in the pool. Default 10. */
  readonly poolSize?: number | undefined
}

/** Queries of one transaction (or of the pool, outside one). */
export interface Sql {
  query<R extends QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<{ rows: R[]; rowCount: number }>
}

const CONNECT_TIMEOUT_MS = 5_000
const STATEMENT_TIMEOUT_MS = 30_000
const RETRIES = 8

/** SQLSTATEs of a transaction that lost a race and may simply run again. */
const RETRYABLE = new Set(['40001', '40P01', '23505'])

export class PgDb {
  readonly pool: pg.Pool
  readonly schema: string
  private readonly observers: ((seconds: number, writes: number) => void)[] = []

  constructor(options: PgOptions) {
    this.schema = options.schema ?? 'fleetjobs'
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(this.schema))
      throw new Error(`database schema "${this.schema}" must be a lower-case SQL identifier`)
    this.pool = new pg.Pool({
      ...connectionConfig(options.url),
      max: options.poolSize ?? 10,
      // A statement is sent without waiting for the answers to those before it on its connection
      // (they are answered in order): a transaction's BEGIN costs no round trip of its own (`tx`).
      pipeline: true,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
      statement_timeout: STATEMENT_TIMEOUT_MS,
      query_timeout: STATEMENT_TIMEOUT_MS + 1_000,
      options: `-c search_path=${this.schema}`,
      application_name: 'fleetjobs',
    })
    // An idle connection that the server closed (restart, failover): the pool drops it and opens a new
    // one on the next request. Without a listener the error would end the process.
    this.pool.on('error', () => undefined)
  }

  /** Creates the schema and applies the migrations this database lacks. */
  async migrate(): Promise<void> {
    await this.withClient(async (c) => {
      // One node migrates at a time; the others wait here, then find nothing left to do.
      await c.query('SELECT pg_advisory_lock(hashtext($1))', [`fleetjobs-migrate:${this.schema}`])
      try {
        await c.query(`CREATE SCHEMA IF NOT EXISTS ${this.schema}`)
        await c.query(
          'CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)',
        )
        const { rows } = await c.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_version')
        const current = rows[0]?.v ?? 0
        for (const m of PG_MIGRATIONS) {
          if (m.version <= current) continue
          await c.query('BEGIN')
          try {
            await c.query(m.sql)
            await c.query('INSERT INTO schema_version (version, applied_at) VALUES ($1, now())', [m.version])
            await c.query('COMMIT')
          } catch (error) {
            await c.query('ROLLBACK')
            throw error
          }
        }
      } finally {
        await c.query('SELECT pg_advisory_unlock(hashtext($1))', [`fleetjobs-migrate:${this.schema}`])
      }
    })
  }

  /** A statement outside a transaction (reads see the latest commit). */
  async query<R extends QueryResultRow = Record<string, unknown>>(
    text: string,
    values?: readonly unknown[],
  ): Promise<{ rows: R[]; rowCount: number }> {
    try {
      const result = await this.pool.query<R>(prepared(text, values))
      return { rows: result.rows, rowCount: result.rowCount ?? 0 }
    } catch (error) {
      throw unavailableOr(error)
    }
  }

  /**
   * One statement as a transaction of its own (autocommit: one round trip); a lost race (deadlock,
   * serialization failure) runs it again, as `tx` does. Counted by the observers as a transaction.
   */
  async statement<R extends QueryResultRow = Record<string, unknown>>(
    text: string,
    values: readonly unknown[],
  ): Promise<{ rows: R[]; rowCount: number }> {
    const startedMs = performance.now()
    for (let attempt = 1; ; attempt++) {
      try {
        const result = await this.pool.query<R>(prepared(text, values))
        if (this.observers.length > 0) {
          const seconds = (performance.now() - startedMs) / 1000
          for (const observer of this.observers) observer(seconds, 1)
        }
        return { rows: result.rows, rowCount: result.rowCount ?? 0 }
      } catch (error) {
        const code = (error as { code?: unknown }).code
        if (typeof code === 'string' && RETRYABLE.has(code) && attempt < RETRIES) continue
        throw unavailableOr(error)
      }
    }
  }

  /**
   * Runs `work` in one transaction and commits; rolls back and rethrows what it throws. A lost race
   * (deadlock, serialization failure, unique key taken by a concurrent insert) runs it again.
   * `notify`: channels to NOTIFY at commit (other nodes wake their dispatchers).
   */
  async tx<T>(work: (sql: Sql) => Promise<T>, notify?: () => readonly string[]): Promise<T> {
    const startedMs = performance.now()
    const result = await this.runTx(work, notify)
    if (this.observers.length > 0) {
      const seconds = (performance.now() - startedMs) / 1000
      for (const observer of this.observers) observer(seconds, 1)
    }
    return result
  }

  /** Calls `listener` after every committed transaction with its duration (pool wait included). */
  observe(listener: (seconds: number, writes: number) => void): void {
    this.observers.push(listener)
  }

  private async runTx<T>(work: (sql: Sql) => Promise<T>, notify?: () => readonly string[]): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      let client: PoolClient
      try {
        client = await this.pool.connect()
      } catch (error) {
        throw unavailableOr(error)
      }
      let broken = false
      try {
        // Pipelined (the pool's `pipeline` mode): the transaction's first statement goes out behind
        // BEGIN without waiting for its answer, one round trip less. BEGIN fails only with its
        // connection, and then so does everything sent behind it; its error is met before COMMIT.
        const begun = client.query('BEGIN').then(
          () => undefined,
          (error: unknown) => ({ error }),
        )
        const sql: Sql = {
          query: async <R extends QueryResultRow>(text: string, values?: readonly unknown[]) => {
            const r = await client.query<R>(prepared(text, values))
            return { rows: r.rows, rowCount: r.rowCount ?? 0 }
          },
        }
        const result = await work(sql)
        const failed = await begun
        if (failed !== undefined) throw failed.error
        // NOTIFY in the COMMIT's round trip (one simple query; it is delivered at commit).
        const channels = notify?.() ?? []
        await client.query([...channels.map((channel) => `NOTIFY ${channel}`), 'COMMIT'].join('; '))
        return result
      } catch (error) {
        try {
          await client.query('ROLLBACK')
        } catch {
          broken = true
        }
        const code = (error as { code?: unknown }).code
        if (typeof code === 'string' && RETRYABLE.has(code) && attempt < RETRIES) continue
        throw unavailableOr(error)
      } finally {
        client.release(broken)
      }
    }
  }

  async withClient<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    let client: PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      throw unavailableOr(error)
    }
    let failed = false
    try {
      return await work(client)
    } catch (error) {
      failed = true
      throw unavailableOr(error)
    } finally {
      client.release(failed)
    }
  }

  async close(): Promise<void> {
    await this.pool.end()
  }
}

/**
 * Every statement of the store is a named prepared statement: each connection parses and plans it
 * once, then only binds and executes it (the statements are a fixed set, built from constants).
 */
const statementNames = new Map<string, string>()

function prepared(text: string, values: readonly unknown[] | undefined): pg.QueryConfig {
  let name = statementNames.get(text)
  if (name === undefined) {
    name = `fj${statementNames.size + 1}`
    statementNames.set(text, name)
  }
  return { name, text, values: (values ?? []) as unknown[] }
}

/**
 * Thrown inside a transaction that found, once it held its locks, that what it decided on has changed:
 * the transaction runs again from the start (as a serialization failure would).
 */
export class LostRace extends Error {
  readonly code = '40001'
}

/**
 * The URL as a client configuration. Without a user in the URL or in PGUSER, the user is the operating
 * system's, as with psql (node-postgres would otherwise read $USER, which services often lack).
 */
export function connectionConfig(url: string): ClientConfig {
  try {
    const u = new URL(url)
    if (u.username === '' && process.env['PGUSER'] === undefined) {
      u.username = encodeURIComponent(userInfo().username)
      return { connectionString: u.toString() }
    }
  } catch {
    // Not a URL (a libpq key/value string): node-postgres parses it as it is.
  }
  return { connectionString: url }
}

/**
 * A database that cannot be reached (connection refused or lost, server shutting down or starting,
 * too many connections, a time limit) is `ServiceUnavailableException`; anything else is rethrown.
 */
export function unavailableOr(error: unknown): unknown {
  if (error instanceof ServiceError) return error
  if (isConnectionError(error))
    // The driver's error stays as the cause (logs, the start-up message), out of the client's answer.
    return Object.assign(
      new ServiceError('ServiceUnavailableException', 'The database is unavailable; try again.'),
      { cause: error },
    )
  return error
}

export function isConnectionError(error: unknown): boolean {
  const e = error as { code?: unknown; message?: unknown }
  const code = typeof e.code === 'string' ? e.code : ''
  const message = typeof e.message === 'string' ? e.message : ''
  return (
    code.startsWith('08') || // connection exceptions
    code === '57P01' || // admin_shutdown
    code === '57P02' || // crash_shutdown
    code === '57P03' || // cannot_connect_now (starting up)
    code === '53300' || // too_many_connections
    code === '53100' || // disk_full: writes refused until there is room again (as SQLite's SQLITE_FULL)
    code === '57014' || // query_canceled (statement_timeout)
    code === 'ECONNREFUSED' ||
    code === 'ECONNRESET' ||
    code === 'ETIMEDOUT' ||
    code === 'EPIPE' ||
    code === 'ENOTFOUND' ||
    /Connection terminated|connection timeout|timeout exceeded when trying to connect|Query read timeout|Client has encountered a connection error|not queryable/i.test(
      message,
    )
  )
}
