/**
 * The PostgreSQL adapter of the Store port: the same operations and rules as the SQLite store, for
 * several fleetjobs nodes sharing one database (docs/deployment.md). Every change is one transaction
 * (db.ts) that locks what it changes, in one order — thing row, execution rows, job row — so that
 * concurrent changes through different nodes serialize and a versionNumber has exactly one winner. The
 * job row comes last because every execution write moves its counters: locked first, it would make
 * all writes to a job's executions wait for each other's whole transaction. The common execution writes
 * (a progress report, StartNext, a forced delete) are decided on the node's copy of the rows and
 * written by one statement that checks the copy and locks in the same order (copy-writes.ts); a copy
 * that no longer holds is read again for one more try, and the other writes take the locking
 * transaction.
 * Background work (outbox dispatch, job purges) is done by the node holding the lease (lease.ts); the
 * other nodes' stores report nothing to do. Time-driven work (time-work.ts) is run by the lease holder
 * too (server.ts), but any node may run it safely — a device request that meets an overdue execution
 * does: each batch and each job's tick is one transaction that locks what it changes and checks again
 * that it is due, so every effect happens once.
 */
import type { ExecutionDecision } from '../../domain/state-machine.js'
import type { Execution, ExecutionWithJob, Job, Thing } from '../../domain/records.js'
import { zeroCounts } from '../../domain/records.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { GroupDecision, GroupFacts, ThingGroup } from '../../domain/thing-groups.js'
import type { JobDecision, JobFacts } from '../../domain/job-lifecycle.js'
import type { JobTemplate } from '../../domain/templates.js'
import type { Clock } from '../../ports/clock.js'
import { systemClock } from '../../ports/clock.js'
import { MissingTargets } from '../../ports/store.js'
import type { OfThing, PoolFigures, StoreFigures } from '../../ports/store.js'
import type { JobFiguresRow, OutboxFiguresRow } from '../figures.js'
import { EVENT_OUTBOX_FIGURES_SQL, JOB_FIGURES_SQL, OUTBOX_FIGURES_SQL, storeFigures } from '../figures.js'
import type {
  AssociateOutcome,
  CreateJobOutcome,
  EventRow,
  ExecutionDecideInput,
  ExecutionKey,
  GroupFilter,
  JobFilter,
  JobTargets,
  MembershipDecision,
  Memberships,
  MissingTargetNames,
  MutateOutcome,
  OutboxRow,
  Page,
  PageRequest,
  PendingScope,
  Store,
  ThingDecision,
  ThingFilter,
} from '../../ports/store.js'
import type { EventFamilies } from '../rows.js'
import type { ThingRow } from '../rows.js'
import { COUNT_COLUMN, storedTargets, thingFromRow } from '../rows.js'
import type { PgOptions, Sql } from './db.js'
import { PgDb } from './db.js'
import { PgEvents } from './events.js'
import { PgExecutions } from './executions.js'
import { PgGroups } from './groups.js'
import { PgJobLifecycle, fanOutSql, insertTargets, missingTargets } from './job-lifecycle.js'
import { PgJobSpecs } from './job-specs.js'
import { Lease } from './lease.js'
import { PgListings } from './listings.js'
import { PgOutbox } from './outbox.js'
import type { PgCounters, PgWriter } from './parts.js'
import { PgTemplates } from './templates.js'
import { PgTimeWork } from './time-work.js'
import { PgCertificates } from './certificates.js'
import { isPaced } from '../../domain/rollout.js'
import { RESET_TABLES } from '../rows.js'

export interface PgStoreOptions extends PgOptions {
  /** Keep the notification outbox (on when a notifier reads it). */
  readonly notifications?: boolean | undefined
  /** Record Jobs events of these families (on when a dispatcher publishes them); default none. */
  readonly events?: EventFamilies | undefined
  /** The time of events the store records on its own: a purge that finishes a DeleteJob. */
  readonly clock?: Clock | undefined
  /** How often a node tries to take the background-work lease (default 1 s). */
  readonly leaseIntervalMs?: number | undefined
}

export class PgStore implements Store {
  private readonly specs = new PgJobSpecs()
  private readonly outbox: PgOutbox
  private readonly events: PgEvents
  private readonly counters: PgCounters
  private readonly lifecycle: PgJobLifecycle
  private readonly groups: PgGroups
  private readonly listings: PgListings
  private readonly executions: PgExecutions
  private readonly time: PgTimeWork
  private readonly templates = new PgTemplates()
  private readonly clock: Clock
  private readonly commitListeners: (() => void)[] = []
  /** The lease on background work; exposed so the server can serve device requests only while held. */
  readonly lease: Lease
  private readonly certificates: PgCertificates
  /** How execution writes reach the database: a transaction, or one statement (copy-writes.ts). */
  private readonly writer: PgWriter

  private constructor(
    private readonly db: PgDb,
    options: PgStoreOptions,
  ) {
    this.outbox = new PgOutbox(options.notifications === true)
    this.certificates = new PgCertificates(db)
    this.events = new PgEvents(options.events ?? { job: false, jobExecution: false })
    this.clock = options.clock ?? systemClock
    this.counters = {
      adjust: (sql, jobId, status, delta) => adjustCount(sql, jobId, status, delta),
      completeIfDone: (sql, jobId, nowMs, known) => this.completeIfDone(sql, jobId, nowMs, known),
      afterEnded: (sql, job, ended, nowMs) => this.time.afterEnded(sql, job, ended, nowMs),
    }
    this.lifecycle = new PgJobLifecycle(this.counters, this.outbox, this.specs, this.events)
    this.time = new PgTimeWork(this.specs, this.counters, this.outbox, this.events, this.lifecycle)
    this.groups = new PgGroups(this.counters, this.outbox, this.events)
    this.listings = new PgListings(this.specs)
    this.executions = new PgExecutions(this.specs, this.outbox, this.events, this.counters, this.time)
    this.writer = {
      db,
      tx: (work) => this.write(work),
      statement: (text, values) => db.statement(text, values),
      committed: () => this.committed(),
      // As `write`: the lease holder hears its own commits through `committed`.
      notifyChannel: () => (this.lease.held ? undefined : this.lease.channel),
    }
    this.lease = new Lease({
      url: options.url,
      schema: db.schema,
      ...(options.leaseIntervalMs === undefined ? {} : { intervalMs: options.leaseIntervalMs }),
    })
    // Another node committed outbox rows, or this node just took over: wake the dispatchers.
    this.lease.onWake(() => this.committed())
    this.lease.onChange((held) => {
      if (held) this.committed()
    })
  }

  /** Connects, migrates the schema, and starts competing for the background-work lease. */
  static async open(options: PgStoreOptions): Promise<PgStore> {
    const db = new PgDb(options)
    try {
      await db.migrate()
    } catch (error) {
      await db.close()
      throw error
    }
    const store = new PgStore(db, options)
    await store.lease.start()
    return store
  }

  private committed(): void {
    for (const listener of this.commitListeners) listener()
  }

  /** One write transaction; other nodes hear of it when it may have left work for the dispatchers. */
  private async write<T>(work: (sql: Sql) => Promise<T>, always = false): Promise<T> {
    // The lease holder hears its own commits through `committed`; only the others notify it.
    const result = await this.db.tx(work, () =>
      !this.lease.held && (always || this.outbox.enabled || this.events.enabled) ? [this.lease.channel] : [],
    )
    this.committed()
    return result
  }

  // ---- outbox ----

  // ---- what operators watch ----

  async figures(): Promise<StoreFigures> {
    // One snapshot for the three reads: REPEATABLE READ, read-only.
    return this.db.withClient(async (client) => {
      await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
      try {
        const jobs = await client.query<JobFiguresRow>(JOB_FIGURES_SQL)
        const outbox = await client.query<OutboxFiguresRow>(OUTBOX_FIGURES_SQL)
        const events = await client.query<OutboxFiguresRow>(EVENT_OUTBOX_FIGURES_SQL)
        return storeFigures(jobs.rows, outbox.rows[0], events.rows[0])
      } finally {
        await client.query('COMMIT')
      }
    })
  }

  async ping(): Promise<void> {
    await this.db.query('SELECT 1')
  }

  onTransaction(listener: (seconds: number, writes: number) => void): void {
    this.db.observe(listener)
  }

  poolFigures(): PoolFigures {
    const pool = this.db.pool
    return { total: pool.totalCount, idle: pool.idleCount, waiting: pool.waitingCount }
  }

  onCommit(listener: () => void): void {
    this.commitListeners.push(listener)
  }

  async readOutbox(limit: number): Promise<readonly OutboxRow[]> {
    if (!this.lease.held) return []
    return this.outbox.read(this.db, limit)
  }

  notifyNextKey(thingName: string, namespaceId: string): Promise<string | undefined> {
    return this.outbox.nextKey(this.db, thingName, namespaceId)
  }

  async completeOutbox(
    seqs: readonly number[],
    announced: readonly { thingName: string; namespaceId: string; key: string }[],
  ): Promise<void> {
    // One row per thing and namespace (the last announcement wins), as ON CONFLICT needs.
    const last = new Map(announced.map((a) => [`${a.thingName}\u0000${a.namespaceId}`, a]))
    await this.db.tx(async (sql) => {
      await this.outbox.setNextKeys(sql, [...last.values()])
      await this.outbox.deleteRead(sql, seqs)
    })
  }

  async readEvents(limit: number): Promise<readonly EventRow[]> {
    if (!this.lease.held) return []
    return this.events.read(this.db, limit)
  }

  async deleteEvents(seqs: readonly number[]): Promise<void> {
    await this.db.tx((sql) => this.events.delete(sql, seqs))
  }

  // ---- things ----

  async getThing(thingName: string): Promise<Thing | undefined> {
    const row = (await this.db.query<ThingRow>('SELECT * FROM things WHERE thing_name = $1', [thingName]))
      .rows[0]
    return row === undefined ? undefined : thingFromRow(row)
  }

  async thingExists(thingName: string): Promise<boolean> {
    return (await this.db.query('SELECT 1 FROM things WHERE thing_name = $1', [thingName])).rowCount > 0
  }

  mutateThing<R>(thingName: string, decide: (current: Thing | undefined) => ThingDecision<R>): Promise<R> {
    return this.write(async (sql) => {
      const row = (
        await sql.query<ThingRow>('SELECT * FROM things WHERE thing_name = $1 FOR UPDATE', [thingName])
      ).rows[0]
      const decision = decide(row === undefined ? undefined : thingFromRow(row))
      switch (decision.kind) {
        case 'reject':
          throw decision.error
        case 'none':
          return decision.result
        case 'write': {
          const t = decision.next
          // A concurrent create of the same name loses on the key and runs again (db.ts), then sees the row.
          if (row === undefined)
            await sql.query(
              'INSERT INTO things (thing_name, thing_id, attributes, version, created_at) VALUES ($1, $2, $3, $4, $5)',
              [t.thingName, t.thingId, JSON.stringify(t.attributes), t.version, t.createdAtMs],
            )
          else
            await sql.query('UPDATE things SET attributes = $2, version = $3 WHERE thing_name = $1', [
              t.thingName,
              JSON.stringify(t.attributes),
              t.version,
            ])
          return decision.result
        }
        case 'delete':
          await this.certificates.refuseDeleteOfAttachedThing(sql, thingName)
          await sql.query('DELETE FROM things WHERE thing_name = $1', [thingName])
          await sql.query('DELETE FROM thing_group_members WHERE thing_name = $1', [thingName])
          await this.removeExecutionsOfThing(sql, thingName, decision.atMs)
          return decision.result
      }
    })
  }

  /** [spec: things#deletething] QUEUED and IN_PROGRESS executions become REMOVED [open-question 12]. */
  private async removeExecutionsOfThing(sql: Sql, thingName: string, nowMs: number): Promise<void> {
    const { rows: groups } = await sql.query<{ job_id: string; status: ExecutionStatus; n: number }>(
      `SELECT job_id, status, count(*)::bigint AS n FROM job_executions
       WHERE thing_name = $1 AND status IN ('QUEUED', 'IN_PROGRESS') GROUP BY job_id, status`,
      [thingName],
    )
    if (groups.length === 0) return
    const jobIds = [...new Set(groups.map((g) => g.job_id))].sort()
    await this.outbox.pendingOf(sql, thingName)
    await this.events.thingPendingRemoved(sql, thingName, nowMs)
    const { rows: removed } = await sql.query<{ job_id: string; status: ExecutionStatus; n: number }>(
      `WITH moved AS (
         SELECT seq, status FROM job_executions
         WHERE thing_name = $2 AND status IN ('QUEUED', 'IN_PROGRESS') FOR UPDATE
       ), upd AS (
         UPDATE job_executions e SET status = 'REMOVED', version_number = e.version_number + 1,
           last_updated_at = $1, in_progress_deadline = NULL, step_deadline = NULL, deadline = NULL
         FROM moved WHERE e.seq = moved.seq
         RETURNING e.job_id, moved.status
       )
       SELECT job_id, status, count(*)::bigint AS n FROM upd GROUP BY job_id, status`,
      [nowMs, thingName],
    )
    // Execution rows first, then the job rows in one order (as a device's update does).
    removed.sort((x, y) => (x.job_id < y.job_id ? -1 : x.job_id > y.job_id ? 1 : 0))
    for (const g of removed) {
      await adjustCount(sql, g.job_id, g.status, -g.n)
      await adjustCount(sql, g.job_id, 'REMOVED', g.n)
    }
    for (const jobId of jobIds) await this.completeIfDone(sql, jobId, nowMs)
  }

  listThings(filter: ThingFilter, page: PageRequest): Promise<Page<Thing>> {
    return this.listings.things(this.db, filter, page)
  }

  // ---- jobs ----

  getJob(jobId: string): Promise<Job | undefined> {
    return this.readJob(this.db, jobId)
  }

  private readJob(sql: Sql, jobId: string): Promise<Job | undefined> {
    return this.specs.read(sql, jobId)
  }

  createJob(job: Job, targets: JobTargets): Promise<CreateJobOutcome> {
    return this.write(async (sql): Promise<CreateJobOutcome> => {
      const missing = await missingTargets(sql, targets)
      if (missing !== undefined) return { kind: 'missing', missing }
      const existing = await this.readJob(sql, job.jobId)
      if (existing !== undefined) return { kind: 'exists', job: existing }
      const version = await this.specs.insert(sql, job)
      // A concurrent CreateJob of the same id loses on the key and runs again (db.ts): then it exists.
      await sql.query(
        `INSERT INTO jobs (job_id, status, target_selection, namespace_id, created_at, last_updated_at, spec_version,
           rollout_started)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
        [
          job.jobId,
          job.status,
          job.targetSelection,
          job.namespaceId ?? null,
          job.createdAtMs,
          job.lastUpdatedAtMs,
          version,
          job.rollout.started ? 1 : 0,
        ],
      )
      await insertTargets(sql, job.jobId, storedTargets(job))
      let created = 0
      if (job.rollout.started && isPaced(job)) {
        // [spec: state-machines#5] the things are resolved now; the first batch comes at once.
        const enlisted = await this.time.enlist(sql, job, targets.thingNames, targets.groupNames)
        created = (await this.time.startCreated(sql, enlisted, job.createdAtMs)).rollout.notified
      } else if (job.rollout.started) {
        created = (
          await sql.query<{ n: number }>(fanOutSql(this.outbox), [
            job.jobId,
            job.namespaceId ?? '',
            job.createdAtMs,
            [...new Set(targets.thingNames)],
            [...new Set(targets.groupNames)],
          ])
        ).rows[0]!.n
        await adjustCount(sql, job.jobId, 'QUEUED', created)
        // [open-question 58] a SNAPSHOT job with no things completes at once.
        const written = await this.time.write(
          sql,
          { ...job, counts: { ...job.counts, QUEUED: created } },
          job.createdAtMs,
        )
        await this.time.completeIfDone(sql, written, job.createdAtMs)
      } else {
        // SCHEDULED: its start (or first maintenance window) is its first due instant.
        await this.time.write(sql, job, job.createdAtMs)
      }
      const stored = await this.readJob(sql, job.jobId)
      if (stored === undefined) throw new Error(`job ${job.jobId} vanished inside its own transaction`)
      return { kind: 'created', job: stored, executions: created }
    })
  }

  findMissingTargets(targets: JobTargets): Promise<MissingTargetNames | undefined> {
    return missingTargets(this.db, targets)
  }

  mutateJob(jobId: string, decide: (facts: JobFacts) => JobDecision): Promise<Job | undefined> {
    // Always heard by the lease holder: a DeleteJob leaves it a purge to do.
    return this.write((sql) => this.lifecycle.mutate(sql, jobId, decide), true)
  }

  associateTargets(
    jobId: string,
    targets: JobTargets & { arns: readonly string[] },
    decide: (facts: JobFacts) => JobDecision,
  ): Promise<AssociateOutcome> {
    return this.write(async (sql): Promise<AssociateOutcome> => {
      const result = await this.lifecycle.associate(sql, jobId, targets, decide)
      if (result === undefined) return { kind: 'noJob' }
      // Thrown inside the transaction, so the job write of this operation rolls back.
      if (result.missing !== undefined) throw new MissingTargets(result.missing.kind, result.missing.names)
      if (result.paced === true) {
        // [open-question 29] the new things join the rollout list; the job's next due instant may move.
        // A batch the rate allows now comes now (the job row is already locked by this transaction).
        const nowMs = result.job.lastUpdatedAtMs
        const enlisted = await this.time.enlist(sql, result.job, targets.thingNames, targets.groupNames)
        await this.time.write(sql, enlisted, nowMs)
        await this.time.tick(sql, jobId, nowMs)
        return { kind: 'associated', job: (await this.specs.read(sql, jobId)) ?? result.job }
      }
      return { kind: 'associated', job: result.job }
    })
  }

  async jobsBeingDeleted(): Promise<readonly string[]> {
    if (!this.lease.held) return []
    return this.lifecycle.deletingJobs(this.db)
  }

  purgeJob(
    jobId: string,
    batch: number,
  ): Promise<{ deleted: readonly { thingName: string; status: ExecutionStatus }[]; gone: boolean }> {
    return this.write((sql) => this.lifecycle.purge(sql, jobId, batch, this.clock.nowMs()))
  }

  listJobs(filter: JobFilter, page: PageRequest): Promise<Page<Job>> {
    return this.listings.jobs(this.db, filter, page)
  }

  // ---- executions ----

  getExecution(key: ExecutionKey): Promise<ExecutionWithJob | undefined> {
    return this.executions.get(this.db, key)
  }

  mutateExecution(
    key: ExecutionKey,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome> {
    return this.executions.mutate(this.writer, key, decide)
  }

  mutateNextPending(
    scope: PendingScope,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome | undefined> {
    return this.executions.mutateNext(this.writer, scope, decide)
  }

  /** Applies the SNAPSHOT completion rule to the job as it now stands. [spec: state-machines#10] */
  private async completeIfDone(sql: Sql, jobId: string, nowMs: number, known?: Job): Promise<Job> {
    const job = known ?? (await this.readJob(sql, jobId))
    if (job === undefined) throw new Error(`job ${jobId} vanished inside its own transaction`)
    return this.time.completeIfDone(sql, job, nowMs)
  }

  listPending(scope: PendingScope, limit: number): Promise<readonly ExecutionWithJob[]> {
    return this.executions.listPending(this.db, scope, limit)
  }

  async getExecutionOfThing(key: ExecutionKey): Promise<OfThing<ExecutionWithJob | undefined>> {
    if (!(await this.thingExists(key.thingName))) return { thingExists: false }
    return { thingExists: true, value: await this.getExecution(key) }
  }

  async listPendingOfThing(
    scope: PendingScope,
    limit: number,
  ): Promise<OfThing<readonly ExecutionWithJob[]>> {
    if (!(await this.thingExists(scope.thingName))) return { thingExists: false }
    return { thingExists: true, value: await this.listPending(scope, limit) }
  }

  listExecutionsForJob(
    jobId: string,
    filter: { status?: ExecutionStatus | undefined },
    page: PageRequest,
  ): Promise<Page<Execution>> {
    return this.listings.executionsOfJob(this.db, jobId, filter, page)
  }

  listExecutionsForThing(
    thingName: string,
    filter: {
      status?: ExecutionStatus | undefined
      jobId?: string | undefined
      namespaceId?: string | undefined
    },
    page: PageRequest,
  ): Promise<Page<Execution>> {
    return this.listings.executionsOfThing(this.db, thingName, filter, page)
  }

  async hasExecutionsForThing(thingName: string): Promise<boolean> {
    return (
      (await this.db.query('SELECT 1 FROM job_executions WHERE thing_name = $1 LIMIT 1', [thingName]))
        .rowCount > 0
    )
  }

  // ---- job templates ----

  getJobTemplate(id: string): Promise<JobTemplate | undefined> {
    return this.templates.get(this.db, id)
  }

  createJobTemplate(template: JobTemplate): Promise<boolean> {
    return this.write((sql) => this.templates.insert(sql, template))
  }

  deleteJobTemplate(id: string): Promise<boolean> {
    return this.write((sql) => this.templates.delete(sql, id))
  }

  listJobTemplates(page: PageRequest): Promise<Page<JobTemplate>> {
    return this.templates.list(this.db, page)
  }

  // ---- thing groups ----

  getThingGroup(name: string): Promise<ThingGroup | undefined> {
    return this.groups.get(this.db, name)
  }

  getThingGroupById(thingGroupId: string): Promise<ThingGroup | undefined> {
    return this.groups.byId(this.db, thingGroupId)
  }

  groupAncestors(name: string): Promise<readonly ThingGroup[]> {
    return this.groups.ancestors(this.db, name)
  }

  mutateThingGroup<R>(
    name: string,
    parentName: string | undefined,
    decide: (self: GroupFacts, parent: GroupFacts | undefined) => GroupDecision<R>,
  ): Promise<R> {
    return this.write((sql) => this.groups.mutate(sql, name, parentName, decide))
  }

  listThingGroups(filter: GroupFilter, page: PageRequest): Promise<Page<ThingGroup>> {
    return this.groups.list(this.db, filter, page)
  }

  updateMemberships(
    thingName: string,
    names: { readonly add: readonly string[]; readonly remove: readonly string[] },
    decide: (
      current: Memberships,
      add: readonly { name: string; facts: GroupFacts }[],
      remove: readonly { name: string; facts: GroupFacts }[],
    ) => MembershipDecision,
    nowMs: number,
  ): Promise<boolean> {
    return this.write((sql) => this.groups.updateMemberships(sql, thingName, names, decide, nowMs))
  }

  listThingsInGroup(name: string, recursive: boolean, page: PageRequest): Promise<Page<string>> {
    return this.groups.thingsIn(this.db, name, recursive, page)
  }

  listGroupsForThing(thingName: string, page: PageRequest): Promise<Page<ThingGroup>> {
    return this.groups.groupsOf(this.db, thingName, page)
  }

  // ---- time-driven work [spec: test-clock#3] (see time-work.ts for the locks) ----

  nextDeadlineMs(): Promise<number | undefined> {
    return this.time.nextDeadlineMs(this.db)
  }

  /** One transaction: a node that dies mid-sweep loses the batch's whole effect, and the next pass redoes it. */
  timeOutDue(nowMs: number, batch: number): Promise<number> {
    return this.write((sql) => this.time.timeOutDue(sql, nowMs, batch))
  }

  nextJobDueMs(): Promise<number | undefined> {
    return this.time.nextJobDueMs(this.db)
  }

  /**
   * The due jobs are read outside a transaction, then ticked one after another, each in a transaction
   * of its own that locks and checks again (a job another node ticked meanwhile is not due any more).
   * One after another: a pass's notifications follow the jobs' time order.
   */
  async tickJobsDue(nowMs: number, batch: number): Promise<number> {
    const jobIds = await this.time.dueJobs(this.db, nowMs, batch)
    for (const jobId of jobIds) await this.write((sql) => this.time.tick(sql, jobId, nowMs))
    return jobIds.length
  }

  /**
   * Empties every table of user data in one statement (TRUNCATE waits for the transactions under way
   * on them). Sequences go on: an outbox or event sequence number is never reused, and a spec version
   * that other nodes cached never names another spec.
   */
  async reset(): Promise<void> {
    await this.write(async (sql) => {
      await sql.query(`TRUNCATE ${RESET_TABLES.join(', ')}`)
    })
    this.specs.forget()
    this.executions.forget()
  }

  // ---- the certificate registry: storage/postgres/certificates.ts ----
  getCertificate: Store['getCertificate'] = (...a) => this.certificates.getCertificate(...a)
  getCACertificate: Store['getCACertificate'] = (...a) => this.certificates.getCACertificate(...a)
  caCertificatesBySubject: Store['caCertificatesBySubject'] = (...a) =>
    this.certificates.caCertificatesBySubject(...a)
  createCertificate: Store['createCertificate'] = (...a) => this.certificates.createCertificate(...a)
  mutateCertificate: Store['mutateCertificate'] = (...a) => this.certificates.mutateCertificate(...a)
  listCertificates: Store['listCertificates'] = (...a) => this.certificates.listCertificates(...a)
  certificateIdsOfCA: Store['certificateIdsOfCA'] = (...a) => this.certificates.certificateIdsOfCA(...a)
  createCACertificate: Store['createCACertificate'] = (...a) => this.certificates.createCACertificate(...a)
  mutateCACertificate: Store['mutateCACertificate'] = (...a) => this.certificates.mutateCACertificate(...a)
  listCACertificates: Store['listCACertificates'] = (...a) => this.certificates.listCACertificates(...a)
  attachThingPrincipal: Store['attachThingPrincipal'] = (...a) => this.certificates.attachThingPrincipal(...a)
  detachThingPrincipal: Store['detachThingPrincipal'] = (...a) => this.certificates.detachThingPrincipal(...a)
  listThingPrincipals: Store['listThingPrincipals'] = (...a) => this.certificates.listThingPrincipals(...a)
  listPrincipalThings: Store['listPrincipalThings'] = (...a) => this.certificates.listPrincipalThings(...a)
  certificateIdentity: Store['certificateIdentity'] = (...a) => this.certificates.certificateIdentity(...a)
  certificateIdentities: Store['certificateIdentities'] = (...a) =>
    this.certificates.certificateIdentities(...a)

  async recountExecutions(jobId: string): Promise<Record<ExecutionStatus, number>> {
    const counts = zeroCounts()
    const { rows } = await this.db.query<{ status: ExecutionStatus; n: number }>(
      'SELECT status, count(*)::bigint AS n FROM job_executions WHERE job_id = $1 GROUP BY status',
      [jobId],
    )
    for (const r of rows) counts[r.status] = r.n
    return counts
  }

  async close(): Promise<void> {
    await this.lease.stop()
    await this.db.close()
  }
}

async function adjustCount(sql: Sql, jobId: string, status: ExecutionStatus, delta: number): Promise<void> {
  if (delta === 0) return
  const column = COUNT_COLUMN[status]
  await sql.query(`UPDATE jobs SET ${column} = ${column} + $1 WHERE job_id = $2`, [delta, jobId])
}
