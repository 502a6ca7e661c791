/**
 * `/metrics` in Prometheus' text format, through prom-client: requests by operation and status with
 * latency histograms, jobs and executions by status, the outboxes' depth and age, connected MQTT
 * devices, how late time-driven work runs, and the store's transactions and pool. Store figures are read
 * once per scrape (Store.figures: one GROUP BY over the jobs and two outbox aggregates), never per request.
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { Clock } from '../ports/clock.js'
import type { Store } from '../ports/store.js'
import type { RequestRecord } from '../http/server.js'
import { EXECUTION_STATUSES, JOB_STATUSES } from '../domain/statuses.js'

/** Request latency buckets, in seconds: sub-millisecond reads up to a slow PostgreSQL write. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
/** Transaction buckets: a SQLite group commit (one fsync) is around a millisecond. */
const TRANSACTION_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1]

export interface MetricsSources {
  readonly store: Store
  /** The service clock (time-driven work is due by it). */
  readonly clock: Clock
  /** Devices connected to the embedded broker; undefined without one (an external broker counts its own). */
  readonly mqttConnectedClients?: (() => number) | undefined
  /** The machine clock, for the outbox age (rows carry the machine time they were committed at). */
  readonly machineNowMs?: () => number
}

export class Metrics {
  readonly registry = new Registry()
  readonly contentType = this.registry.contentType
  private readonly requests: Counter<'plane' | 'operation' | 'status'>
  private readonly latency: Histogram<'plane' | 'operation'>
  /** Labelled children by key: prom-client hashes the labels on every call otherwise. */
  private readonly requestChildren = new Map<
    string,
    {
      count: Counter.Internal
      latency: Histogram.Internal<'plane' | 'operation'>
    }
  >()
  private readonly jobs: Gauge<'status'>
  private readonly executions: Gauge<'status'>
  private readonly outboxRows: Gauge<'outbox'>
  private readonly outboxAge: Gauge<'outbox'>
  private readonly mqttClients: Gauge
  private readonly timeLag: Gauge
  private readonly pool: Gauge<'state'>
  private readonly scrapeErrors: Counter

  constructor(private readonly sources: MetricsSources) {
    const registers = [this.registry]
    collectDefaultMetrics({ register: this.registry })
    this.requests = new Counter({
      name: 'fleetjobs_http_requests_total',
      help: 'HTTP requests answered, by plane (controlPlane, dataPlane), AWS operation and HTTP status',
      labelNames: ['plane', 'operation', 'status'],
      registers,
    })
    this.latency = new Histogram({
      name: 'fleetjobs_http_request_duration_seconds',
      help: 'Time from a request arriving to its answer being written, by plane and AWS operation',
      labelNames: ['plane', 'operation'],
      buckets: REQUEST_BUCKETS,
      registers,
    })
    this.jobs = new Gauge({
      name: 'fleetjobs_jobs',
      help: 'Jobs stored, by status',
      labelNames: ['status'],
      registers,
    })
    this.executions = new Gauge({
      name: 'fleetjobs_job_executions',
      help: 'Job executions stored, by status (the jobs’ counters: what DescribeJob’s jobProcessDetails add up to)',
      labelNames: ['status'],
      registers,
    })
    this.outboxRows = new Gauge({
      name: 'fleetjobs_outbox_rows',
      help: 'Committed notifications (outbox="notifications") and Jobs events (outbox="events") not yet published',
      labelNames: ['outbox'],
      registers,
    })
    this.outboxAge = new Gauge({
      name: 'fleetjobs_outbox_oldest_age_seconds',
      help: 'How long the oldest unpublished row of each outbox has waited (0 when empty)',
      labelNames: ['outbox'],
      registers,
    })
    this.mqttClients = new Gauge({
      name: 'fleetjobs_mqtt_connected_clients',
      help: 'MQTT clients connected to the embedded broker (devices and the operator)',
      registers,
    })
    this.timeLag = new Gauge({
      name: 'fleetjobs_time_driven_lag_seconds',
      help: 'How far the earliest due time-driven work (a timeout, a rollout batch, a schedule) is behind the service clock (0 when nothing is overdue)',
      registers,
    })
    this.pool = new Gauge({
      name: 'fleetjobs_store_pool_connections',
      help: 'PostgreSQL pool connections of this node: total, idle, and callers waiting for one',
      labelNames: ['state'],
      registers,
    })
    this.scrapeErrors = new Counter({
      name: 'fleetjobs_metrics_store_errors_total',
      help: 'Scrapes whose store figures could not be read (the store gauges keep their last values)',
      registers,
    })
    const transactions = new Histogram({
      name: 'fleetjobs_store_transaction_duration_seconds',
      help: 'Duration of each committed store transaction (SQLite: one group commit, from BEGIN to COMMIT; PostgreSQL: pool wait included)',
      buckets: TRANSACTION_BUCKETS,
      registers,
    })
    const writes = new Counter({
      name: 'fleetjobs_store_writes_total',
      help: 'Writes committed (SQLite groups many writes into one transaction)',
      registers,
    })
    sources.store.onTransaction((seconds, count) => {
      transactions.observe(seconds)
      writes.inc(count)
    })
  }

  /** One answered HTTP request (the HTTP layer's observe hook). */
  readonly observeRequest = (record: RequestRecord): void => {
    const key = `${record.plane} ${record.operation} ${record.status}`
    let child = this.requestChildren.get(key)
    if (child === undefined) {
      child = {
        count: this.requests.labels(record.plane, record.operation, String(record.status)),
        latency: this.latency.labels(record.plane, record.operation),
      }
      this.requestChildren.set(key, child)
    }
    child.count.inc()
    child.latency.observe(record.seconds)
  }

  /** The exposition text, with the store's figures read now. */
  async text(): Promise<string> {
    await this.refresh()
    return this.registry.metrics()
  }

  private async refresh(): Promise<void> {
    const { store, clock } = this.sources
    const machineNowMs = this.sources.machineNowMs ?? Date.now
    try {
      const [figures, deadline, jobDue] = await Promise.all([
        store.figures(),
        store.nextDeadlineMs(),
        store.nextJobDueMs(),
      ])
      for (const status of JOB_STATUSES) this.jobs.set({ status }, figures.jobs[status])
      for (const status of EXECUTION_STATUSES) this.executions.set({ status }, figures.executions[status])
      const now = machineNowMs()
      for (const [outbox, f] of [
        ['notifications', figures.notificationOutbox],
        ['events', figures.eventOutbox],
      ] as const) {
        this.outboxRows.set({ outbox }, f.rows)
        this.outboxAge.set(
          { outbox },
          f.oldestAtMs === undefined ? 0 : Math.max(0, now - f.oldestAtMs) / 1000,
        )
      }
      const due = [deadline, jobDue].filter((t): t is number => t !== undefined)
      this.timeLag.set(due.length === 0 ? 0 : Math.max(0, clock.nowMs() - Math.min(...due)) / 1000)
    } catch {
      // The store is down: /readyz says so; the scrape still answers with what the process knows.
      this.scrapeErrors.inc()
    }
    const clients = this.sources.mqttConnectedClients
    if (clients !== undefined) this.mqttClients.set(clients())
    const pool = store.poolFigures()
    if (pool !== undefined) {
      this.pool.set({ state: 'total' }, pool.total)
      this.pool.set({ state: 'idle' }, pool.idle)
      this.pool.set({ state: 'waiting' }, pool.waiting)
    }
  }
}
