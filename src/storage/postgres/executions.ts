/**
 * Execution writes and reads in PostgreSQL: UpdateJobExecution, StartNext, CancelJobExecution and
 * DeleteJobExecution run through `mutate`/`mutateNext`: in one statement decided on the node's copy
 * when they can (copy-writes.ts), otherwise in the store's write transaction. There the execution row
 * is locked first (its job read in the same statement) and the job row only by the last statement,
 * which moves its counters; see docs/decisions.md (PostgreSQL and several nodes).
 */
import type { ExecutionDecision } from '../../domain/state-machine.js'
import { countChange } from '../../domain/state-machine.js'
import type { ExecutionWithJob, Job } from '../../domain/records.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import { isPending, isTerminal } from '../../domain/statuses.js'
import type { ExecutionDecideInput, ExecutionKey, MutateOutcome, PendingScope } from '../../ports/store.js'
import type { ExecutionRow, JobRow } from '../rows.js'
import { COUNT_COLUMN, executionFromRow } from '../rows.js'
import type { JobCopy, PgCopies } from './copies.js'
import { PgCopyWrites } from './copy-writes.js'
import type { Sql } from './db.js'
import type { PgEvents } from './events.js'
import { pendingSql, writeSet, writtenValues } from './execution-sql.js'
import type { PgJobSpecs } from './job-specs.js'
import type { PgOutbox } from './outbox.js'
import type { PgCounters, PgWriter } from './parts.js'
import type { PgTimeWork } from './time-work.js'

/**
 * A transaction's outcome, with what the node may remember of it once it committed: the execution's
 * row and namespace, the job row as read, and whether it is its thing's first pending execution.
 */
interface Locked {
  readonly outcome: MutateOutcome
  readonly seen?: {
    readonly seq: number
    readonly namespaceId: string
    /** The status the execution had when it was locked. */
    readonly status: ExecutionStatus
    readonly job: JobCopy
    readonly first: boolean
  }
}

export class PgExecutions {
  private readonly oneStatement: PgCopyWrites
  private readonly copies: PgCopies

  constructor(
    private readonly specs: PgJobSpecs,
    private readonly outbox: PgOutbox,
    private readonly events: PgEvents,
    private readonly counters: PgCounters,
    private readonly time: Pick<PgTimeWork, 'lockQueuedIfAborting'>,
  ) {
    this.oneStatement = new PgCopyWrites(outbox, events)
    this.copies = this.oneStatement.copies
  }

  /**
   * mutateExecution: in one statement on the node's copy when it can; a copy that no longer held is
   * read again (outside a transaction, no lock) for one more try; else in a locking transaction.
   */
  async mutate(
    w: PgWriter,
    key: ExecutionKey,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome> {
    let done = await this.oneStatement.mutate(w, key, decide)
    if (done === 'stale' && (await this.get(w.db, key)) !== undefined)
      done = await this.oneStatement.mutate(w, key, decide)
    if (done !== undefined && done !== 'stale') return done
    const locked = await w.tx((sql) => this.mutateLocked(sql, key, decide))
    if (locked.outcome.kind === 'noJob' || locked.outcome.kind === 'noExecution')
      this.copies.forget(key.jobId, key.thingName)
    this.learn(locked)
    return locked.outcome
  }

  /** mutateNextPending, as `mutate`. */
  async mutateNext(
    w: PgWriter,
    scope: PendingScope,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome | undefined> {
    let done = await this.oneStatement.mutateNext(w, scope, decide)
    if (done === 'stale' && (await this.listPending(w.db, scope, 1)).length > 0)
      done = await this.oneStatement.mutateNext(w, scope, decide)
    if (done !== undefined && done !== 'stale') return done
    const locked = await w.tx((sql) => this.mutateNextLocked(sql, scope, decide))
    if (locked === undefined) this.copies.rememberFirst(scope.thingName, scope.namespaceId ?? '', undefined)
    else this.learn(locked)
    return locked?.outcome
  }

  /** Forgets every copy (after the tables were emptied). */
  forget(): void {
    this.copies.clear()
  }

  /** After a transaction committed: what it read and wrote is the node's copy now. */
  private learn({ outcome, seen }: Locked): void {
    if (seen === undefined) return
    switch (outcome.kind) {
      case 'written':
      case 'unchanged': {
        const e = outcome.execution
        const copy = { seq: seen.seq, namespaceId: seen.namespaceId, execution: e }
        this.copies.remember(copy)
        this.copies.rememberJob(seen.job.row, seen.job.job)
        if (seen.first && isPending(e.status)) this.copies.rememberFirst(e.thingName, seen.namespaceId, copy)
        else if (e.status !== seen.status)
          this.copies.moved(e.thingName, seen.namespaceId, seen.seq, isPending(e.status))
        return
      }
      case 'deleted':
        this.copies.forget(outcome.execution.jobId, outcome.execution.thingName)
        this.copies.moved(outcome.execution.thingName, seen.namespaceId, seen.seq, false)
        return
      default:
        return
    }
  }

  /**
   * One execution and its job, read in one statement (so of the same commit). Outside a transaction
   * only: what it reads becomes the node's copy, which must have been committed (copies.ts).
   */
  async get(sql: Sql, key: ExecutionKey): Promise<ExecutionWithJob | undefined> {
    const { rows } = await sql.query<JobRow & { e: ExecutionRow | null }>(
      `SELECT j.*, (SELECT row_to_json(e) FROM job_executions e
                    WHERE e.job_id = j.job_id AND e.thing_name = $2 AND ($3::bigint IS NULL OR e.execution_number = $3)
                    ORDER BY e.execution_number DESC LIMIT 1) AS e
       FROM jobs j WHERE j.job_id = $1`,
      [key.jobId, key.thingName, key.executionNumber ?? null],
    )
    const row = rows[0]
    if (row === undefined || row.e === null) return undefined
    const { e, ...jobRow } = row
    const job = await this.specs.job(sql, jobRow)
    this.copies.rememberJob(jobRow, job)
    return { execution: this.copies.rememberRow(e).execution, job }
  }

  /**
   * Locks one execution row and reads its job in the same statement (the job row is not locked: a
   * device update takes it only at its end, to move the counters; see apply).
   */
  private async lockExecution(
    sql: Sql,
    where: string,
    values: readonly unknown[],
  ): Promise<{ row: ExecutionRow; job: Job; jobRow: JobRow } | undefined> {
    const { rows } = await sql.query<ExecutionRow & { j: JobRow }>(
      `SELECT e.*, row_to_json(j.*) AS j FROM job_executions e JOIN jobs j ON j.job_id = e.job_id
       WHERE ${where} FOR UPDATE OF e`,
      values,
    )
    const found = rows[0]
    if (found === undefined) return undefined
    const { j, ...row } = found
    return { row, job: await this.specs.job(sql, j), jobRow: j }
  }

  /** Inside a write transaction: one execution, or the latest of the job on the thing. */
  private async mutateLocked(
    sql: Sql,
    key: ExecutionKey,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<Locked> {
    {
      const locked = await (key.executionNumber === undefined
        ? this.lockExecution(
            sql,
            `e.job_id = $1 AND e.thing_name = $2
             AND e.execution_number = (SELECT max(execution_number) FROM job_executions
                                       WHERE job_id = $1 AND thing_name = $2)`,
            [key.jobId, key.thingName],
          )
        : this.lockExecution(sql, 'e.job_id = $1 AND e.thing_name = $2 AND e.execution_number = $3', [
            key.jobId,
            key.thingName,
            key.executionNumber,
          ]))
      if (locked !== undefined) return this.apply(sql, locked, decide, false)
      const job = await this.specs.read(sql, key.jobId)
      return { outcome: job === undefined ? { kind: 'noJob' } : { kind: 'noExecution', job } }
    }
  }

  /** Inside a write transaction: the thing's first pending execution, in pending order. */
  private async mutateNextLocked(
    sql: Sql,
    scope: PendingScope,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<Locked | undefined> {
    {
      for (;;) {
        const candidate = (await this.pendingRows(sql, scope, 1))[0]
        if (candidate === undefined) return undefined
        const locked = await this.lockExecution(sql, 'e.seq = $1', [candidate.seq])
        // Another node moved it while this one waited for the lock: look again.
        if (locked === undefined || locked.row.version_number !== candidate.version_number) continue
        return this.apply(sql, locked, decide, true)
      }
    }
  }

  private async pendingRows(sql: Sql, scope: PendingScope, limit: number): Promise<ExecutionRow[]> {
    return (
      await sql.query<ExecutionRow>(pendingSql('$1', '$2', '$3'), [
        scope.thingName,
        scope.namespaceId ?? '',
        limit,
      ])
    ).rows
  }

  /**
   * Runs one decision inside the current transaction, the execution row locked. The job row is locked
   * only by the last statement, which moves its counters (and returns them, fresh, for the completion
   * rule): writes to different executions of one job wait for each other only for that statement and
   * the commit, and a write that changes no status does not touch the job row at all. An execution
   * that ends then has the job's abort criteria, its retry and the completion rule applied under that
   * lock (time-work.ts), in the same transaction.
   */
  private async apply(
    sql: Sql,
    { row, job, jobRow }: { row: ExecutionRow; job: Job; jobRow: JobRow },
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
    first: boolean,
  ): Promise<Locked> {
    const execution = executionFromRow(row)
    const decision = decide({ execution, job })
    const ns = job.namespaceId ?? ''
    const seen = {
      seq: row.seq,
      namespaceId: row.namespace_id,
      status: row.status,
      job: { row: jobRow, job },
      first,
    }
    switch (decision.kind) {
      case 'reject':
        throw decision.error
      case 'unchanged':
        return { outcome: { kind: 'unchanged', execution, job }, seen }
      case 'write': {
        const n = decision.next
        const moved = n.status !== execution.status
        const pendingChanged = moved && (isPending(n.status) || isPending(execution.status))
        const values: unknown[] = [...writtenValues(n), row.seq, row.version_number]
        const update = `UPDATE job_executions SET ${writeSet(1)} WHERE seq = $10 AND version_number = $11 RETURNING seq`
        let nextJob = job
        if (!moved) {
          if ((await sql.query(update, values)).rowCount !== 1)
            throw new Error('execution changed under its lock')
        } else {
          const ends = isTerminal(n.status)
          // An end that will likely meet the abort criteria: the QUEUED executions the abort cancels
          // are locked now, before the job row (the store's order). [spec: state-machines#6]
          if (ends) await this.time.lockQueuedIfAborting(sql, [countChange(job, execution.status, n.status)])
          const outbox =
            this.outbox.enabled && pendingChanged
              ? `, o AS (INSERT INTO outbox (thing_name, namespace_id, set_changed) SELECT $13, $14, $15 FROM u)`
              : ''
          const from = COUNT_COLUMN[execution.status]
          const to = COUNT_COLUMN[n.status]
          const { rows } = await sql.query<JobRow>(
            `WITH u AS (${update})${outbox}
             UPDATE jobs SET ${from} = ${from} - 1, ${to} = ${to} + 1
             WHERE job_id = $12 AND EXISTS (SELECT 1 FROM u) RETURNING *`,
            [
              ...values,
              job.jobId,
              ...(outbox === ''
                ? []
                : [n.thingName, ns, isPending(n.status) !== isPending(execution.status) ? 1 : 0]),
            ],
          )
          const jobRow = rows[0]
          if (jobRow === undefined) throw new Error('execution changed under its lock')
          // [spec: jobs-device-api#5.2] an execution event for every terminal status reached
          if (ends) await this.events.reached(sql, row.seq, n.lastUpdatedAtMs)
          const counted = await this.specs.job(sql, jobRow)
          // [spec: state-machines#6, #8] an execution that ends: abort criteria, retry, completion.
          nextJob = ends
            ? await this.counters.afterEnded(sql, counted, [n], n.lastUpdatedAtMs)
            : await this.counters.completeIfDone(sql, job.jobId, n.lastUpdatedAtMs, counted)
        }
        return { outcome: { kind: 'written', execution: n, job: nextJob }, seen }
      }
      case 'delete': {
        // [spec: delete-job-execution#4] the event carries the status at deletion [open-question 49]
        await this.events.deleting(sql, row.seq, decision.atMs)
        // A terminal execution's deletion changes no pending list. [spec: delete-job-execution#4]
        const outbox =
          this.outbox.enabled && isPending(execution.status)
            ? `, o AS (INSERT INTO outbox (thing_name, namespace_id, set_changed) SELECT $4, $5, 1 FROM d)`
            : ''
        const column = COUNT_COLUMN[execution.status]
        const { rows } = await sql.query<JobRow>(
          `WITH d AS (DELETE FROM job_executions WHERE seq = $1 AND version_number = $2 RETURNING seq)${outbox}
           UPDATE jobs SET ${column} = ${column} - 1 WHERE job_id = $3 AND EXISTS (SELECT 1 FROM d) RETURNING *`,
          [row.seq, row.version_number, job.jobId, ...(outbox === '' ? [] : [execution.thingName, ns])],
        )
        const jobRow = rows[0]
        if (jobRow === undefined) throw new Error('execution changed under its lock')
        const nextJob = await this.counters.completeIfDone(
          sql,
          job.jobId,
          decision.atMs,
          await this.specs.job(sql, jobRow),
        )
        return { outcome: { kind: 'deleted', execution, job: nextJob }, seen }
      }
    }
  }

  /** Pending executions in pending order, at most `limit`, with their jobs. Outside a transaction only, as `get`. */
  async listPending(sql: Sql, scope: PendingScope, limit: number): Promise<ExecutionWithJob[]> {
    const rows = await this.pendingRows(sql, scope, limit)
    if (rows.length === 0) {
      this.copies.rememberFirst(scope.thingName, scope.namespaceId ?? '', undefined)
      return []
    }
    const jobIds = [...new Set(rows.map((r) => r.job_id))]
    const { rows: jobRows } = await sql.query<JobRow>('SELECT * FROM jobs WHERE job_id = ANY($1::text[])', [
      jobIds,
    ])
    const jobs = new Map((await this.specs.jobs(sql, jobRows)).map((j) => [j.jobId, j]))
    for (const jobRow of jobRows) {
      const job = jobs.get(jobRow.job_id)
      if (job !== undefined) this.copies.rememberJob(jobRow, job)
    }
    const out: ExecutionWithJob[] = []
    for (const [i, row] of rows.entries()) {
      const job = jobs.get(row.job_id)
      const copy = this.copies.rememberRow(row)
      if (i === 0) this.copies.rememberFirst(scope.thingName, scope.namespaceId ?? '', copy)
      if (job !== undefined) out.push({ execution: copy.execution, job })
    }
    return out
  }
}
