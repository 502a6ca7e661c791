/**
 * PostgreSQL for `--store postgres`: the database URL (loopback only), the connection settings the
 * bench's own clients use, and the run's schemas — fresh ones named `bench_<pid>_<n>`, all dropped at
 * the end of the run (`BenchSchemas.dropAll`).
 */
import { userInfo } from 'node:os'
import pg from 'pg'
import type { ClientConfig } from 'pg'

export const DEFAULT_DATABASE_URL = 'postgres://127.0.0.1:5432/test'
/** The only host the bench connects to: it creates and drops schemas, so never a shared server. */
const LOOPBACK = '127.0.0.1'
/** How long a point waits for enough free connections (other clients of the database may be busy). */
const HEADROOM_WAIT_MS = 60_000

/** Checks that `url` is a `postgres://` URL on 127.0.0.1; returns it unchanged. */
export function loopbackDatabaseUrl(url: string): string {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new Error(`--database-url: not a URL: ${url}`)
  }
  if (parsed.protocol !== 'postgres:' && parsed.protocol !== 'postgresql:') {
    throw new Error(`--database-url must be a postgres:// URL, not ${parsed.protocol}`)
  }
  if (parsed.hostname !== LOOPBACK) {
    throw new Error(`--database-url must name host ${LOOPBACK} (the bench creates and drops schemas there)`)
  }
  return url
}

/**
 * A client configuration for `url` with `search_path` set to `schema`. Without a user in the URL or in
 * PGUSER the user is the operating system's, as with psql and fleetjobs (node-postgres would read
 * $USER, which a service or container often lacks).
 */
export function pgConfig(url: string, schema?: string): ClientConfig {
  const u = new URL(url)
  if (u.username === '' && process.env['PGUSER'] === undefined) {
    u.username = encodeURIComponent(userInfo().username)
  }
  return {
    connectionString: u.toString(),
    application_name: 'fleetjobs-bench',
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  }
}

/** The URL without its password, for logs and `--json`. */
export function redactedUrl(url: string): string {
  const u = new URL(url)
  if (u.password !== '') u.password = '***'
  return u.toString()
}

/** The schemas of one run, created on demand and dropped together at its end. */
export class BenchSchemas {
  private client: pg.Client | undefined
  private readonly created: string[] = []

  constructor(
    private readonly url: string,
    private readonly log: (message: string) => void,
  ) {}

  private async admin(): Promise<pg.Client> {
    if (this.client === undefined) {
      const client = new pg.Client(pgConfig(this.url))
      // A connection the server drops between points must not end the bench process.
      client.on('error', () => undefined)
      await client.connect()
      this.client = client
    }
    return this.client
  }

  /** Runs one statement on the bench's own connection (no schema set: qualify names). */
  async query(text: string, values?: readonly unknown[]): Promise<pg.QueryResult> {
    return (await this.admin()).query(text, values as unknown[])
  }

  /** A new empty schema `bench_<pid>_<n>`; `what` is for the log. */
  async create(what: string): Promise<string> {
    const name = `bench_${process.pid}_${this.created.length + 1}`
    await this.query(`CREATE SCHEMA ${name}`)
    this.created.push(name)
    this.log(`created schema ${name} (${what})`)
    return name
  }

  /**
   * Waits until the database has `needed` connections free (max_connections minus the superuser
   * reserve minus those open), at most a minute; says so and goes on when it never does.
   */
  async waitForConnections(needed: number): Promise<void> {
    const deadline = performance.now() + HEADROOM_WAIT_MS
    for (;;) {
      const { rows } = await this.query(
        `SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')::int
                - (SELECT count(*)::int FROM pg_stat_activity WHERE backend_type = 'client backend') AS free`,
      )
      const free = (rows[0] as { free: number }).free
      if (free >= needed) return
      if (performance.now() > deadline) {
        this.log(`warning: ${needed} PostgreSQL connections needed, ${free} free after a minute; going on`)
        return
      }
      await new Promise((resolve) => setTimeout(resolve, 1_000))
    }
  }

  /** Drops every schema this run created (after its servers closed), and the bench's connection. */
  async dropAll(): Promise<void> {
    try {
      for (const name of this.created.splice(0)) {
        await this.query(`DROP SCHEMA IF EXISTS ${name} CASCADE`)
        this.log(`dropped schema ${name}`)
      }
    } finally {
      await this.client?.end().catch(() => undefined)
      this.client = undefined
    }
  }
}
