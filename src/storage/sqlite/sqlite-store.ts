/**
 * The SQLite adapter of the Store port (better-sqlite3 12, WAL). Writes go through a group
 * committer; reads run directly on the same connection and see only committed state, because a
 * write's promise resolves after its group commits.
 */
import Database from 'better-sqlite3'
import type { Statement } from 'better-sqlite3'
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import type { ExecutionDecision } from '../../domain/state-machine.js'
import { countChange } from '../../domain/state-machine.js'
import type { Execution, Job, Thing } from '../../domain/records.js'
import { effectiveDeadlineMs, zeroCounts } from '../../domain/records.js'
import { isPending, isTerminal } from '../../domain/statuses.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { GroupDecision, GroupFacts, ThingGroup } from '../../domain/thing-groups.js'
import type { JobDecision, JobFacts } from '../../domain/job-lifecycle.js'
import type { JobTemplate } from '../../domain/templates.js'
import type { Clock } from '../../ports/clock.js'
import { systemClock } from '../../ports/clock.js'
import { MissingTargets } from '../../ports/store.js'
import type { OfThing, PoolFigures, StoreFigures } from '../../ports/store.js'
import { OperatorFigures } from './figures.js'
import type {
  AssociateOutcome,
  CreateJobOutcome,
  EventRow,
  GroupFilter,
  JobTargets,
  MissingTargetNames,
  MembershipDecision,
  Memberships,
  ExecutionDecideInput,
  ExecutionKey,
  JobFilter,
  MutateOutcome,
  OutboxRow,
  Page,
  PageRequest,
  PendingScope,
  Store,
  ThingDecision,
  ThingFilter,
} from '../../ports/store.js'
import { Checkpointer } from './checkpointer.js'
import { DEFAULT_RESERVE_BYTES, DiskSpace } from './disk-space.js'
import type { SpaceListener } from './disk-space.js'
import { Outbox } from './outbox.js'
import type { EventFamilies } from '../rows.js'
import { EventOutbox } from './events.js'
import { GroupCommitter } from './group-commit.js'
import { GroupTables } from './groups.js'
import { JobLifecycle, insertTargets, missingTargets, targetLists } from './job-lifecycle.js'
import { TemplateTable } from './templates.js'
import { openDatabase } from './open-database.js'
import type { Statements } from './statements.js'
import { prepare } from './statements.js'
import type { ExecutionRow, ThingRow } from '../rows.js'
import { COUNT_COLUMN, executionFromRow, storedTargets, thingFromRow } from '../rows.js'
import { JobSpecs } from './job-specs.js'
import type { ExecutionsOfThingFilter } from '../listing.js'
import { Listings } from './listings.js'
import { SqliteTimeWork } from './time-work.js'
import { SqliteCertificates } from './certificates.js'
import { isPaced } from '../../domain/rollout.js'
import { RESET_TABLES } from '../rows.js'

export interface SqliteStoreOptions {
  /** Database file; created with its folder when missing. */
  readonly file: string
  /** Interval of the background WAL checkpoint; 0 turns the worker off (SQLite then checkpoints inline). */
  readonly checkpointIntervalMs?: number
  /** Keep the notification outbox (on when a notifier reads it). */
  readonly notifications?: boolean
  /** Record Jobs events of these families (on when a dispatcher publishes them); default none. */
  readonly events?: EventFamilies
  /** The time of events the store records on its own: a purge that finishes a DeleteJob. */
  readonly clock?: Clock
  /**
   * Bytes of the file kept beside the database so that a full disk can be recovered from
   * (disk-space.ts; default 8 MiB); 0 keeps none.
   */
  readonly reserveBytes?: number
  /** Told when writes stop for a full disk and when they resume. */
  readonly onSpace?: SpaceListener
  /** Runs once the database is closed (the data directory's lock is released there). */
  readonly onClosed?: () => void
}

export class SqliteStore implements Store {
  private readonly db: Database.Database
  private readonly operatorFigures: OperatorFigures
  private readonly commits: GroupCommitter
  /** Background WAL checkpoints; exposed so tests can see that it runs. */
  readonly checkpointer: Checkpointer | undefined
  private readonly s: Statements
  private readonly specs: JobSpecs
  private readonly listings: Listings
  private readonly groups: GroupTables
  private readonly jobLifecycle: JobLifecycle
  private readonly templates: TemplateTable
  private readonly outbox: Outbox
  private readonly events: EventOutbox
  private readonly clock: Clock
  private readonly commitListeners: (() => void)[] = []
  private readonly countStatements = new Map<string, Statement>()
  private readonly time: SqliteTimeWork
  private readonly resetStatement: () => void
  /** Writes stop while the disk is full, and resume. */
  readonly space: DiskSpace
  private readonly onClosed: () => void
  private readonly certificates: SqliteCertificates

  constructor(options: SqliteStoreOptions) {
    mkdirSync(dirname(options.file), { recursive: true })
    const reserveFile = `${options.file}.reserve`
    const reserveBytes = options.reserveBytes ?? DEFAULT_RESERVE_BYTES
    this.db = openDatabase(options.file, reserveBytes > 0 ? reserveFile : undefined)
    this.onClosed = options.onClosed ?? (() => undefined)
    this.space = new DiskSpace(this.db, options.file, reserveFile, reserveBytes, (event) => {
      // While the disk is full the store checkpoints on its own (disk-space.ts).
      if (event.full) this.checkpointer?.pause()
      else this.checkpointer?.resume()
      options.onSpace?.(event)
    })
    this.space.open()
    const intervalMs = options.checkpointIntervalMs ?? 1000
    if (intervalMs > 0) {
      this.db.pragma('wal_autocheckpoint = 0')
      this.checkpointer = new Checkpointer(
        options.file,
        intervalMs,
        () => {
          // Between two transactions (no callback runs inside one): copies only the frames committed
          // since the worker's pass, so that the next commit starts the WAL over.
          if (!this.db.open || this.db.inTransaction) return
          try {
            this.db.pragma('wal_checkpoint(PASSIVE)')
          } catch (error) {
            if (!this.space.checkpointFailed(error)) throw error
          }
        },
        () => {
          if (this.db.open) this.db.pragma('wal_autocheckpoint = 1000')
        },
        (error) => {
          // The worker's pass could not grow the database: the store stops writing before the WAL does.
          if (this.db.open && !this.db.inTransaction) this.space.checkpointFailed(error)
        },
      )
      if (this.space.isFull) this.checkpointer.pause()
    }
    this.commits = new GroupCommitter(
      this.db,
      () => {
        for (const listener of this.commitListeners) listener()
      },
      this.space,
    )
    this.s = prepare(this.db)
    this.certificates = new SqliteCertificates(this.db, (work) => this.commits.run(work))
    this.specs = new JobSpecs(this.db)
    this.listings = new Listings(this.db, this.s, this.specs)
    // One read transaction instead of one per statement.
    this.outbox = new Outbox(this.db, options.notifications === true)
    this.operatorFigures = new OperatorFigures(this.db)
    this.events = new EventOutbox(this.db, options.events ?? { job: false, jobExecution: false })
    this.clock = options.clock ?? systemClock
    const counters = {
      adjust: (jobId: string, status: ExecutionStatus, delta: number) =>
        this.adjustCount(jobId, status, delta),
    }
    this.groups = new GroupTables(this.db, this.s, counters, this.outbox, this.events)
    this.jobLifecycle = new JobLifecycle(this.db, counters, this.s, this.outbox, this.specs, this.events)
    this.templates = new TemplateTable(this.db)
    this.time = new SqliteTimeWork(
      this.db,
      (jobId) => this.readJob(jobId),
      counters,
      this.outbox,
      this.events,
      this.jobLifecycle,
    )
    this.resetStatement = this.db.transaction(() => {
      for (const table of RESET_TABLES) this.db.prepare(`DELETE FROM ${table}`).run()
    })
  }

  // ---- time-driven work ----

  nextDeadlineMs(): Promise<number | undefined> {
    return Promise.resolve(this.time.nextDeadlineMs())
  }

  timeOutDue(nowMs: number, batch: number): Promise<number> {
    return this.commits.run(() => this.time.timeOutDue(nowMs, batch))
  }

  nextJobDueMs(): Promise<number | undefined> {
    return Promise.resolve(this.time.nextJobDueMs())
  }

  async tickJobsDue(nowMs: number, batch: number): Promise<number> {
    const jobIds = this.time.dueJobs(nowMs, batch)
    await Promise.all(jobIds.map((jobId) => this.commits.run(() => this.time.tick(jobId, nowMs))))
    return jobIds.length
  }

  reset(): Promise<void> {
    return this.commits.run(() => {
      this.resetStatement()
      this.specs.forget()
    })
  }

  // ---- what operators watch ----

  figures(): Promise<StoreFigures> {
    return Promise.resolve(this.operatorFigures.read())
  }

  ping(): Promise<void> {
    return this.db.open ? Promise.resolve() : Promise.reject(new Error('the SQLite database is closed'))
  }

  onTransaction(listener: (seconds: number, writes: number) => void): void {
    this.commits.observe(listener)
  }

  poolFigures(): PoolFigures | undefined {
    return undefined
  }

  // ---- outbox ----

  onCommit(listener: () => void): void {
    this.commitListeners.push(listener)
  }

  readOutbox(limit: number): Promise<readonly OutboxRow[]> {
    return Promise.resolve(this.outbox.read(limit))
  }

  notifyNextKey(thingName: string, namespaceId: string): Promise<string | undefined> {
    return Promise.resolve(this.outbox.nextKey(thingName, namespaceId))
  }

  completeOutbox(
    seqs: readonly number[],
    announced: readonly { thingName: string; namespaceId: string; key: string }[],
  ): Promise<void> {
    return this.commits.run(() => {
      for (const a of announced) this.outbox.setNextKey(a.thingName, a.namespaceId, a.key)
      // One writer: rows commit in sequence order, so every row through the last one read was read.
      if (seqs.length > 0) this.outbox.deleteThrough(Math.max(...seqs))
    })
  }

  readEvents(limit: number): Promise<readonly EventRow[]> {
    return Promise.resolve(this.events.read(limit))
  }

  deleteEvents(seqs: readonly number[]): Promise<void> {
    return this.commits.run(() => this.events.delete(seqs))
  }

  // ---- things ----

  getThing(thingName: string): Promise<ReturnType<typeof thingFromRow> | undefined> {
    const row = this.s.thing.get(thingName) as ThingRow | undefined
    return Promise.resolve(row === undefined ? undefined : thingFromRow(row))
  }

  thingExists(thingName: string): Promise<boolean> {
    return Promise.resolve(this.s.thingExists.get(thingName) !== undefined)
  }

  mutateThing<R>(
    thingName: string,
    decide: (current: ReturnType<typeof thingFromRow> | undefined) => ThingDecision<R>,
  ): Promise<R> {
    return this.commits.run(() => {
      const row = this.s.thing.get(thingName) as ThingRow | undefined
      const decision = decide(row === undefined ? undefined : thingFromRow(row))
      switch (decision.kind) {
        case 'reject':
          throw decision.error
        case 'none':
          return decision.result
        case 'write': {
          const t = decision.next
          this.s.upsertThing.run(
            t.thingName,
            t.thingId,
            JSON.stringify(t.attributes),
            t.version,
            t.createdAtMs,
          )
          return decision.result
        }
        case 'delete':
          this.certificates.refuseDeleteOfAttachedThing(thingName)
          this.s.deleteThing.run(thingName)
          this.s.deleteMembershipsOfThing.run(thingName)
          this.removeExecutionsOfThing(thingName, decision.atMs)
          return decision.result
      }
    })
  }

  /** [spec: things#deletething] QUEUED and IN_PROGRESS executions become REMOVED [open-question 12]. */
  private removeExecutionsOfThing(thingName: string, nowMs: number): void {
    const groups = this.s.pendingOfThingByJob.all(thingName) as {
      job_id: string
      status: ExecutionStatus
      n: number
    }[]
    if (groups.length === 0) return
    this.outbox.pendingOf(thingName)
    this.events.thingPendingRemoved(thingName, nowMs)
    this.s.removePendingOfThing.run(nowMs, thingName)
    for (const g of groups) {
      this.adjustCount(g.job_id, g.status, -g.n)
      this.adjustCount(g.job_id, 'REMOVED', g.n)
    }
    for (const jobId of new Set(groups.map((g) => g.job_id))) this.completeIfDone(jobId, nowMs)
  }

  listThings(filter: ThingFilter, page: PageRequest): Promise<Page<Thing>> {
    return Promise.resolve(this.listings.things(filter, page))
  }

  // ---- jobs ----

  getJob(jobId: string): Promise<Job | undefined> {
    return Promise.resolve(this.readJob(jobId))
  }

  private readJob(jobId: string): Job | undefined {
    const row = this.s.job.get(jobId)
    return row === undefined ? undefined : this.specs.job(row)
  }

  createJob(job: Job, targets: JobTargets): Promise<CreateJobOutcome> {
    const lists = targetLists(targets)
    return this.commits.run((): CreateJobOutcome => {
      const missing = missingTargets(this.s, lists)
      if (missing !== undefined) return { kind: 'missing', missing }
      const existing = this.readJob(job.jobId)
      if (existing !== undefined) return { kind: 'exists', job: existing }
      this.s.insertJob.run(
        job.jobId,
        job.status,
        job.targetSelection,
        job.namespaceId ?? null,
        job.createdAtMs,
        job.lastUpdatedAtMs,
        this.specs.nextVersion(),
        job.rollout.started ? 1 : 0,
      )
      this.specs.insert(job)
      insertTargets(this.s, job.jobId, storedTargets(job))
      let created = 0
      if (job.rollout.started && isPaced(job)) {
        // [spec: state-machines#5] the things are resolved now; the first batch comes at once.
        const enlisted = this.time.enlist(job, lists.things, lists.groups)
        created = this.time.startCreated(enlisted, job.createdAtMs).rollout.notified
      } else if (job.rollout.started) {
        const mark = this.outbox.mark()
        created = this.s.insertFirstExecutions.run({
          jobId: job.jobId,
          namespaceId: job.namespaceId ?? '',
          nowMs: job.createdAtMs,
          ...lists,
        }).changes
        this.adjustCount(job.jobId, 'QUEUED', created)
        this.outbox.createdSince(job.jobId, mark)
        // [open-question 58] a SNAPSHOT job with no things completes at once.
        const written = this.time.write(
          { ...job, counts: { ...job.counts, QUEUED: created } },
          job.createdAtMs,
        )
        this.time.completeIfDone(written, job.createdAtMs)
      } else {
        // SCHEDULED: its start (or first maintenance window) is its first due instant.
        this.time.write(job, job.createdAtMs)
      }
      const stored = this.readJob(job.jobId)
      if (stored === undefined) throw new Error(`job ${job.jobId} vanished inside its own transaction`)
      return { kind: 'created', job: stored, executions: created }
    })
  }

  findMissingTargets(targets: JobTargets): Promise<MissingTargetNames | undefined> {
    return Promise.resolve(missingTargets(this.s, targetLists(targets)))
  }

  mutateJob(jobId: string, decide: (facts: JobFacts) => JobDecision): Promise<Job | undefined> {
    return this.commits.run(() => this.jobLifecycle.mutate(jobId, decide))
  }

  associateTargets(
    jobId: string,
    targets: JobTargets & { arns: readonly string[] },
    decide: (facts: JobFacts) => JobDecision,
  ): Promise<AssociateOutcome> {
    return this.commits.run((): AssociateOutcome => {
      const result = this.jobLifecycle.associate(jobId, targets, decide)
      if (result === undefined) return { kind: 'noJob' }
      if (result.missing !== undefined) {
        // Roll back the job write of this operation: the savepoint of the group commit does it on throw.
        throw new MissingTargets(result.missing.kind, result.missing.names)
      }
      if (result.paced !== undefined) {
        // [open-question 29] the new things wait for the rollout; a batch the rate allows now comes now.
        const nowMs = result.job.lastUpdatedAtMs
        this.time.write(this.time.enlist(result.job, result.paced.things, result.paced.groups), nowMs)
        this.time.tick(jobId, nowMs)
        return { kind: 'associated', job: this.readJob(jobId) ?? result.job }
      }
      return { kind: 'associated', job: result.job }
    })
  }

  jobsBeingDeleted(): Promise<readonly string[]> {
    return Promise.resolve(this.jobLifecycle.deletingJobs())
  }

  purgeJob(
    jobId: string,
    batch: number,
  ): Promise<{ deleted: readonly { thingName: string; status: ExecutionStatus }[]; gone: boolean }> {
    return this.commits.run(() => this.jobLifecycle.purge(jobId, batch, this.clock.nowMs()))
  }

  listJobs(filter: JobFilter, page: PageRequest): Promise<Page<Job>> {
    return Promise.resolve(this.listings.jobs(filter, page))
  }

  // ---- executions ----

  getExecution(key: ExecutionKey): Promise<{ execution: Execution; job: Job } | undefined> {
    return Promise.resolve(this.readExecution(key))
  }

  /** The job and its execution as of the same commit: one statement, so one snapshot. */
  private readExecution(key: ExecutionKey): { execution: Execution; job: Job } | undefined {
    const found = this.s.executionWithJob.get({
      jobId: key.jobId,
      thingName: key.thingName,
      executionNumber: key.executionNumber ?? null,
    })
    return found === undefined
      ? undefined
      : { execution: executionFromRow(found.job_executions), job: this.specs.job(found.jobs) }
  }

  private readExecutionRow(key: ExecutionKey): ExecutionRow | undefined {
    return key.executionNumber === undefined
      ? this.s.latestExecution.get(key.jobId, key.thingName)
      : this.s.execution.get(key.jobId, key.thingName, key.executionNumber)
  }

  mutateExecution(
    key: ExecutionKey,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome> {
    return this.commits.run((): MutateOutcome => {
      const job = this.readJob(key.jobId)
      if (job === undefined) return { kind: 'noJob' }
      const row = this.readExecutionRow(key)
      if (row === undefined) return { kind: 'noExecution', job }
      return this.apply(row, job, decide)
    })
  }

  mutateNextPending(
    scope: PendingScope,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome | undefined> {
    return this.commits.run((): MutateOutcome | undefined => {
      const found = this.s.pending.get(scope.thingName, scope.namespaceId ?? '', 1)
      if (found === undefined) return undefined
      return this.apply(found.job_executions, this.specs.job(found.jobs), decide)
    })
  }

  /** Runs one decision inside the current transaction. */
  private apply(
    row: ExecutionRow,
    job: Job,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): MutateOutcome {
    const execution = executionFromRow(row)
    const decision = decide({ execution, job })
    switch (decision.kind) {
      case 'reject':
        throw decision.error
      case 'unchanged':
        return { kind: 'unchanged', execution, job }
      case 'write': {
        const n = decision.next
        const changed = this.s.updateExecution.run(
          n.status,
          n.forceCanceled ? 1 : 0,
          JSON.stringify(n.statusDetails),
          n.startedAtMs ?? null,
          n.lastUpdatedAtMs,
          n.versionNumber,
          n.inProgressDeadlineMs ?? null,
          n.stepDeadlineMs ?? null,
          n.status === 'IN_PROGRESS' ? (effectiveDeadlineMs(n) ?? null) : null,
          row.seq,
          row.version_number,
        ).changes
        if (changed !== 1) throw new Error('execution changed under its own transaction')
        // [spec: jobs-device-api#5.2] an execution event for every terminal status reached
        if (n.status !== execution.status && isTerminal(n.status))
          this.events.reached(row.seq, n.lastUpdatedAtMs)
        let nextJob = job
        if (n.status !== execution.status && (isPending(n.status) || isPending(execution.status))) {
          this.outbox.thing(
            n.thingName,
            job.namespaceId ?? '',
            isPending(n.status) !== isPending(execution.status),
          )
        }
        if (n.status !== execution.status) {
          this.adjustCount(job.jobId, execution.status, -1)
          this.adjustCount(job.jobId, n.status, 1)
          const counted = countChange(job, execution.status, n.status)
          // [spec: state-machines#6, #8] an execution that ends: abort criteria, retry, completion.
          nextJob = isTerminal(n.status)
            ? this.time.afterEnded(counted, [n], n.lastUpdatedAtMs)
            : this.time.completeIfDone(counted, n.lastUpdatedAtMs)
        }
        return { kind: 'written', execution: n, job: nextJob }
      }
      case 'delete': {
        // [spec: delete-job-execution#4] the event carries the status at deletion [open-question 49]
        this.events.deleting(row.seq, decision.atMs)
        const changed = this.s.deleteExecution.run(row.seq, row.version_number).changes
        if (changed !== 1) throw new Error('execution changed under its own transaction')
        // A terminal execution's deletion changes no pending list. [spec: delete-job-execution#4]
        if (isPending(execution.status)) this.outbox.thing(execution.thingName, job.namespaceId ?? '', true)
        this.adjustCount(job.jobId, execution.status, -1)
        const nextJob = this.completeIfDone(
          job.jobId,
          decision.atMs,
          countChange(job, execution.status, 'DELETED'),
        )
        return { kind: 'deleted', execution, job: nextJob }
      }
    }
  }

  private adjustCount(jobId: string, status: ExecutionStatus, delta: number): void {
    if (delta === 0) return
    const column = COUNT_COLUMN[status]
    let statement = this.countStatements.get(column)
    if (statement === undefined) {
      statement = this.db.prepare(`UPDATE jobs SET ${column} = ${column} + ? WHERE job_id = ?`)
      this.countStatements.set(column, statement)
    }
    statement.run(delta, jobId)
  }

  /** Applies the SNAPSHOT completion rule to the job as it now stands. [spec: state-machines#10] */
  private completeIfDone(jobId: string, nowMs: number, known?: Job): Job {
    const job = known ?? this.readJob(jobId)
    if (job === undefined) throw new Error(`job ${jobId} vanished inside its own transaction`)
    return this.time.completeIfDone(job, nowMs)
  }

  listPending(scope: PendingScope, limit: number): Promise<readonly { execution: Execution; job: Job }[]> {
    return Promise.resolve(this.readPending(scope, limit))
  }

  private readPending(scope: PendingScope, limit: number): { execution: Execution; job: Job }[] {
    return this.s.pending.all(scope.thingName, scope.namespaceId ?? '', limit).map((found) => ({
      execution: executionFromRow(found.job_executions),
      job: this.specs.job(found.jobs),
    }))
  }

  getExecutionOfThing(key: ExecutionKey): Promise<OfThing<{ execution: Execution; job: Job } | undefined>> {
    const found = this.s.executionOfThing.get({
      jobId: key.jobId,
      thingName: key.thingName,
      executionNumber: key.executionNumber ?? null,
    })
    if (found === undefined || found[''].thing_exists === 0) return Promise.resolve({ thingExists: false })
    // LEFT JOINs: no execution (or, briefly, no job) leaves their columns null.
    const value =
      found.job_executions.seq === null || found.jobs.seq === null
        ? undefined
        : { execution: executionFromRow(found.job_executions), job: this.specs.job(found.jobs) }
    return Promise.resolve({ thingExists: true, value })
  }

  listPendingOfThing(
    scope: PendingScope,
    limit: number,
  ): Promise<OfThing<{ execution: Execution; job: Job }[]>> {
    // Two statements in one turn of the event loop: nothing writes between them.
    if (this.s.thingExists.get(scope.thingName) === undefined) return Promise.resolve({ thingExists: false })
    return Promise.resolve({ thingExists: true, value: this.readPending(scope, limit) })
  }

  listExecutionsForJob(
    jobId: string,
    filter: { status?: ExecutionStatus | undefined },
    page: PageRequest,
  ): Promise<Page<Execution>> {
    return Promise.resolve(this.listings.executionsOfJob(jobId, filter, page))
  }

  listExecutionsForThing(
    thingName: string,
    filter: ExecutionsOfThingFilter,
    page: PageRequest,
  ): Promise<Page<Execution>> {
    return Promise.resolve(this.listings.executionsOfThing(thingName, filter, page))
  }

  hasExecutionsForThing(thingName: string): Promise<boolean> {
    return Promise.resolve(this.s.anyExecutionOfThing.get(thingName) !== undefined)
  }

  // ---- job templates ----

  getJobTemplate(id: string): Promise<JobTemplate | undefined> {
    return Promise.resolve(this.templates.get(id))
  }

  createJobTemplate(template: JobTemplate): Promise<boolean> {
    return this.commits.run(() => this.templates.insert(template))
  }

  deleteJobTemplate(id: string): Promise<boolean> {
    return this.commits.run(() => this.templates.delete(id))
  }

  listJobTemplates(page: PageRequest): Promise<Page<JobTemplate>> {
    return Promise.resolve(this.templates.list(page))
  }

  // ---- thing groups ----

  getThingGroup(name: string): Promise<ThingGroup | undefined> {
    return Promise.resolve(this.groups.get(name))
  }

  getThingGroupById(thingGroupId: string): Promise<ThingGroup | undefined> {
    return Promise.resolve(this.groups.byId(thingGroupId))
  }

  groupAncestors(name: string): Promise<readonly ThingGroup[]> {
    return Promise.resolve(this.groups.ancestors(name))
  }

  mutateThingGroup<R>(
    name: string,
    parentName: string | undefined,
    decide: (self: GroupFacts, parent: GroupFacts | undefined) => GroupDecision<R>,
  ): Promise<R> {
    return this.commits.run(() => this.groups.mutate(name, parentName, decide))
  }

  listThingGroups(filter: GroupFilter, page: PageRequest): Promise<Page<ThingGroup>> {
    return Promise.resolve(this.groups.list(filter, page))
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
    return this.commits.run(() => {
      if (this.s.thingExists.get(thingName) === undefined) return false
      this.groups.updateMemberships(thingName, names, decide, nowMs)
      return true
    })
  }

  listThingsInGroup(name: string, recursive: boolean, page: PageRequest): Promise<Page<string>> {
    return Promise.resolve(this.groups.thingsIn(name, recursive, page))
  }

  listGroupsForThing(thingName: string, page: PageRequest): Promise<Page<ThingGroup>> {
    return Promise.resolve(this.groups.groupsOf(thingName, page))
  }

  // ---- the certificate registry: storage/sqlite/certificates.ts ----
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

  recountExecutions(jobId: string): Promise<Record<ExecutionStatus, number>> {
    const counts = zeroCounts()
    const rows = this.s.recount.all(jobId) as { status: ExecutionStatus; n: number }[]
    for (const r of rows) counts[r.status] = r.n
    return Promise.resolve(counts)
  }

  async close(): Promise<void> {
    try {
      this.commits.flush()
      if (this.checkpointer !== undefined) {
        await this.checkpointer.stop()
      }
      this.db.close()
    } finally {
      this.onClosed()
    }
  }
}
