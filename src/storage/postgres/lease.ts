/**
 * The lease on a node's background work. Work that must happen once across the nodes sharing a
 * database — dispatching the notification and event outboxes, purging deleted jobs, answering device
 * requests from an external broker — is done by the one node holding this lease: a session-level
 * advisory lock held on a connection of its own. When that node dies, PostgreSQL ends its session and
 * frees the lock; another node takes it at its next attempt (every `intervalMs`). A node that loses its
 * connection stops at once (it cannot know whether another node took over).
 *
 * The same connection LISTENs for other nodes' commits, so the holder publishes their notifications
 * at once; it also looks for work at every tick, in case a notification was missed.
 */
import pg from 'pg'
import { connectionConfig } from './db.js'

export interface LeaseOptions {
  readonly url: string
  readonly schema: string
  /** How often a node that does not hold the lease tries to take it, and the holder checks it. */
  readonly intervalMs?: number
}

export class Lease {
  private client: pg.Client | undefined
  private timer: NodeJS.Timeout | undefined
  private holding = false
  private stopped = false
  private busy = false
  private readonly changeListeners: ((held: boolean) => void)[] = []
  private readonly wakeListeners: (() => void)[] = []
  readonly channel: string

  constructor(private readonly options: LeaseOptions) {
    this.channel = `fleetjobs_${options.schema}`
  }

  get held(): boolean {
    return this.holding
  }

  /** Called with true when this node takes the lease, false when it loses it. */
  onChange(listener: (held: boolean) => void): void {
    this.changeListeners.push(listener)
  }

  /** Called when another node committed a change that background work may have to act on. */
  onWake(listener: () => void): void {
    this.wakeListeners.push(listener)
  }

  /** Tries once now, then keeps trying (and checking) in the background. */
  async start(): Promise<void> {
    await this.tick()
    this.timer = setInterval(() => void this.tick(), this.options.intervalMs ?? 1000)
    this.timer.unref()
  }

  private async tick(): Promise<void> {
    if (this.busy || this.stopped) return
    this.busy = true
    try {
      if (this.client === undefined) await this.connect()
      const client = this.client
      if (client === undefined) return
      if (this.holding) {
        await client.query('SELECT 1')
        // Work whose NOTIFY this connection missed (it reconnected in between) is found at the next tick.
        for (const listener of this.wakeListeners) listener()
      } else {
        const { rows } = await client.query<{ ok: boolean }>(
          'SELECT pg_try_advisory_lock(hashtext($1)) AS ok',
          [`fleetjobs-lease:${this.options.schema}`],
        )
        if (rows[0]?.ok === true) this.set(true)
      }
    } catch {
      this.drop()
    } finally {
      this.busy = false
    }
  }

  private async connect(): Promise<void> {
    const client = new pg.Client({
      ...connectionConfig(this.options.url),
      connectionTimeoutMillis: 5_000,
      query_timeout: 5_000,
      application_name: 'fleetjobs-lease',
    })
    client.on('error', () => this.drop())
    client.on('end', () => this.drop())
    client.on('notification', () => {
      for (const listener of this.wakeListeners) listener()
    })
    try {
      await client.connect()
      await client.query(`LISTEN ${this.channel}`)
      this.client = client
    } catch (error) {
      void client.end().catch(() => undefined)
      throw error
    }
  }

  /** The connection is gone, and with it the lock. */
  private drop(): void {
    const client = this.client
    this.client = undefined
    if (client !== undefined) void client.end().catch(() => undefined)
    this.set(false)
  }

  private set(held: boolean): void {
    if (this.holding === held) return
    this.holding = held
    for (const listener of this.changeListeners) listener(held)
  }

  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer !== undefined) clearInterval(this.timer)
    while (this.busy) await new Promise((r) => setTimeout(r, 10))
    const client = this.client
    this.client = undefined
    this.set(false)
    if (client !== undefined) await client.end().catch(() => undefined)
  }
}
