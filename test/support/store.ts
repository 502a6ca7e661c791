/**
 * Which store the API suite runs on: the SQLite file in the server's data directory (the default), or
 * PostgreSQL when `FLEETJOBS_TEST_STORE=postgres` (`npm run test:postgres`), at
 * `FLEETJOBS_TEST_DATABASE_URL` (default `postgres://127.0.0.1:5432/test`).
 *
 * On PostgreSQL every server gets a schema of its own, named after its data directory, so a test that
 * stops a server and starts another on the same data directory finds its data again, as on SQLite.
 * Whoever removes a data directory drops its schema too (`dropSchemaFor`). Everything in test/ that
 * starts a server (the harness, spawned `fleetjobs serve` processes) or reads the database behind the
 * API's back takes the store from here.
 */
import Database from 'better-sqlite3'
import { createHash } from 'node:crypto'
import { join, resolve } from 'node:path'
import pg from 'pg'
import type { DatabaseConfig } from '../../src/server.js'

export type TestStore = 'sqlite' | 'postgres'

function selectedStore(): TestStore {
  const value = process.env['FLEETJOBS_TEST_STORE'] ?? 'sqlite'
  if (value === 'sqlite' || value === 'postgres') return value
  throw new Error(`FLEETJOBS_TEST_STORE must be "sqlite" or "postgres", not "${value}"`)
}

export const TEST_STORE: TestStore = selectedStore()
export const onPostgres = TEST_STORE === 'postgres'
export const TEST_DATABASE_URL =
  process.env['FLEETJOBS_TEST_DATABASE_URL'] ?? 'postgres://127.0.0.1:5432/test'
/** Small: test files run two at a time, each may hold several servers, all on one shared database. */
export const TEST_POOL_SIZE = 4

/**
 * Options of a test that only makes sense on the SQLite file (it opens `fleetjobs.db`, checks WAL, …):
 * skipped on PostgreSQL with the reason. Use as `it(title, sqliteOnly('opens the .db file'), fn)`.
 */
export function sqliteOnly(why: string): { skip?: string } {
  return onPostgres ? { skip: `SQLite file specific: ${why}` } : {}
}

/** The SQLite file of a server's data directory (see src/server.ts). */
export const sqliteFileOf = (dataDir: string): string => join(dataDir, 'fleetjobs.db')

/** The PostgreSQL schema of a server's data directory: `fj_` and 20 hex digits of its path's SHA-256. */
export function schemaFor(dataDir: string): string {
  return `fj_${createHash('sha256').update(resolve(dataDir)).digest('hex').slice(0, 20)}`
}

/** `ServerConfig.database` for a server on `dataDir`: undefined on SQLite. */
export function databaseFor(dataDir: string): DatabaseConfig | undefined {
  return onPostgres
    ? { url: TEST_DATABASE_URL, schema: schemaFor(dataDir), poolSize: TEST_POOL_SIZE }
    : undefined
}

/** `fleetjobs serve` flags choosing the store for a server on `dataDir` (none on SQLite). */
export function serveArgs(dataDir: string): string[] {
  return onPostgres ? ['--database', TEST_DATABASE_URL, '--database-schema', schemaFor(dataDir)] : []
}

/** The same choice as environment variables of `fleetjobs serve`. */
export function serveEnv(dataDir: string): Record<string, string> {
  return onPostgres
    ? { FLEETJOBS_DATABASE: TEST_DATABASE_URL, FLEETJOBS_DATABASE_SCHEMA: schemaFor(dataDir) }
    : {}
}

/** Runs `work` on a connection of the test's own whose search_path is the schema of `dataDir`. */
export async function withSchema<T>(
  dataDir: string,
  work: (client: pg.Client) => Promise<T>,
  url = TEST_DATABASE_URL,
): Promise<T> {
  const client = new pg.Client({
    connectionString: url,
    application_name: 'fleetjobs-test',
    options: `-c search_path=${schemaFor(dataDir)}`,
  })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

/** Drops the schema of `dataDir` and everything in it (on PostgreSQL; nothing to do on SQLite). */
export async function dropSchemaFor(dataDir: string, url = TEST_DATABASE_URL): Promise<void> {
  if (!onPostgres) return
  await dropSchema(schemaFor(dataDir), url)
}

/** `DROP SCHEMA IF EXISTS … CASCADE` on a connection of its own. */
export async function dropSchema(schema: string, url = TEST_DATABASE_URL): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(schema)) throw new Error(`not a schema name: ${schema}`)
  const client = new pg.Client({ connectionString: url, application_name: 'fleetjobs-test' })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  } finally {
    await client.end()
  }
}

/** Rows of a table of the server on `dataDir`, read on a connection of the test's own. */
export async function countRows(dataDir: string, table: string): Promise<number> {
  if (!/^[a-z_]+$/.test(table)) throw new Error(`not a table name: ${table}`)
  if (onPostgres) {
    return withSchema(dataDir, async (c) => {
      const { rows } = await c.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)
      return Number(rows[0]?.n)
    })
  }
  // Not read-only: a stopped server leaves no WAL index, which a read-only connection cannot create.
  const db = new Database(sqliteFileOf(dataDir), { fileMustExist: true })
  try {
    return (db.prepare(`SELECT count(*) AS n FROM ${table}`).get() as { n: number }).n
  } finally {
    db.close()
  }
}
