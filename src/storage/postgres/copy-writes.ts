/**
 * Execution writes in one round trip: UpdateJobExecution, StartNext and DeleteJobExecution decided on
 * the node's copy of the execution and its job (copies.ts), then written by ONE statement — its own
 * transaction — that checks the copy still holds and only then writes the execution, its outbox and
 * event rows and the job's counters. The rules stay in domain/: `decide` runs in TypeScript on the
 * copy, as it runs on the locked row in the transaction path (executions.ts).
 *
 * What the statement checks, so that a stale copy never produces a write:
 * - the execution row: its `seq` (never reused) and `version_number`, which every statement of this
 *   store that changes an execution row raises (a deleted row matches nothing);
 * - that it is still the execution the request addresses: the latest of the job on the thing has no
 *   later execution number (retries and CONTINUOUS memberships add executions); StartNext's is still
 *   the thing's first pending one (the transaction path's pending query, in the same statement);
 * - the job row: JOB_DECISION_COLUMNS (all but the counters) as the copy has them.
 * When a check fails the statement writes nothing; the caller reads the rows again (a fresh copy) and
 * tries once more, then leaves the request to the locking transaction (executions.ts).
 *
 * Which decisions take this path: those after which the transaction path writes nothing more —
 * - a write that keeps the status (progress reports): the execution row only;
 * - a move that leaves the execution pending (QUEUED → IN_PROGRESS): the execution row, its outbox row,
 *   the counters;
 * - a deletion: the execution row, its event and outbox rows, the counters;
 * each only when the completion rule cannot complete the job after it (`completionRuledOut`). A move
 * to a terminal status takes the transaction path (abort criteria, retry and completion are decided on
 * the job row under its lock [spec: state-machines#6, #8, #10]), and so do rejections and "unchanged"
 * answers: on a copy they could be a stale copy's.
 *
 * The job in the outcome is the copy's (its counters moved by the change, with countChange): its
 * decision columns are what the statement checked; its counters are those last seen, where the
 * transaction path reads them without a lock, so they are a snapshot either way (ports/store.ts).
 *
 * Locks: the execution row (the UPDATE or DELETE in the first CTE), then the job row (the counter
 * UPDATE, which waits for the first CTE's result): the order of the transaction path and of every
 * writer of this store (pg-store.ts). A write that keeps the status does not lock the job row.
 */
import type { ExecutionDecision } from '../../domain/state-machine.js'
import { countChange, decideJobCompletion } from '../../domain/state-machine.js'
import type { Execution, Job } from '../../domain/records.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import { isPending, isTerminal } from '../../domain/statuses.js'
import type { ExecutionDecideInput, MutateOutcome } from '../../ports/store.js'
import { COUNT_COLUMN } from '../rows.js'
import type { ExecutionCopy, JobCopy } from './copies.js'
import { PgCopies } from './copies.js'
import type { PgEvents } from './events.js'
import { pendingSql, writeSet, writtenValues } from './execution-sql.js'
import type { PgOutbox } from './outbox.js'
import type { PgWriter } from './parts.js'
import { JOB_DECISION_COLUMNS } from './parts.js'

/** Which execution a request addresses: a numbered one, the latest of the job on the thing, or StartNext's. */
export type Addressed = 'number' | 'latest' | 'next'

/** What one statement does once its checks hold. */
export type Shape =
  | { readonly kind: 'keep'; readonly next: Execution }
  | { readonly kind: 'move'; readonly next: Execution; readonly setChanged: boolean | undefined }
  | { readonly kind: 'delete'; readonly atMs: number; readonly outbox: boolean }

/**
 * Parameters every statement starts with: $1 seq, $2 version read, $3 job, $4 thing, $5 the execution
 * number ('next': the namespace), then the job's JOB_DECISION_COLUMNS.
 */
const KEY_PARAMETERS = 5
const FIRST_SHAPE_PARAMETER = KEY_PARAMETERS + JOB_DECISION_COLUMNS.length + 1

/** How each kind of address is checked in the write (`t` is the row written). */
const ADDRESS_CHECK: Record<Addressed, string> = {
  number: 'AND t.thing_name = $4 AND t.execution_number = $5',
  latest: `AND NOT EXISTS (SELECT 1 FROM job_executions x
    WHERE x.job_id = $3 AND x.thing_name = $4 AND x.execution_number > $5)`,
  next: `AND t.seq = (SELECT f.seq FROM (${pendingSql('$4', '$5', '1')}) f)`,
}

const CHECKS: Record<Addressed, string> = {
  number: checks('number'),
  latest: checks('latest'),
  next: checks('next'),
}

function checks(addressed: Addressed): string {
  const jobUnchanged = JOB_DECISION_COLUMNS.map(
    (column, i) => `g.${column} IS NOT DISTINCT FROM $${KEY_PARAMETERS + 1 + i}`,
  ).join(' AND ')
  return `t.seq = $1 AND t.version_number = $2 ${ADDRESS_CHECK[addressed]}
    AND EXISTS (SELECT 1 FROM jobs g WHERE g.job_id = $3 AND ${jobUnchanged})`
}

export class PgCopyWrites {
  readonly copies = new PgCopies()
  /** Statement texts by shape: built once, so each is also one prepared statement (db.ts). */
  private readonly texts = new Map<string, string>()

  constructor(
    private readonly outbox: PgOutbox,
    private readonly events: PgEvents,
  ) {}

  /**
   * mutateExecution on the copy of the addressed execution. Nothing was written when it answers
   * `stale` (the copy no longer held, and is forgotten) or undefined (no copy, or a decision that needs
   * the locking transaction).
   */
  mutate(
    w: PgWriter,
    key: {
      readonly jobId: string
      readonly thingName: string
      readonly executionNumber?: number | undefined
    },
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome | 'stale' | undefined> {
    const copy = this.copies.execution(key.jobId, key.thingName)
    if (copy === undefined) return Promise.resolve(undefined)
    if (key.executionNumber === undefined) return this.write(w, 'latest', copy, decide)
    if (copy.execution.executionNumber !== key.executionNumber) return Promise.resolve(undefined)
    return this.write(w, 'number', copy, decide)
  }

  /** mutateNextPending on the copy of the thing's first pending execution; answers as `mutate`. */
  mutateNext(
    w: PgWriter,
    scope: { readonly thingName: string; readonly namespaceId?: string | undefined },
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome | 'stale' | undefined> {
    const copy = this.copies.first(scope.thingName, scope.namespaceId ?? '')
    return copy === undefined ? Promise.resolve(undefined) : this.write(w, 'next', copy, decide)
  }

  private async write(
    w: PgWriter,
    addressed: Addressed,
    copy: ExecutionCopy,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome | 'stale' | undefined> {
    const job = this.copies.job(copy.execution.jobId)
    if (job === undefined) return undefined
    const shape = this.shape(copy.execution, job.job, decide)
    if (shape === undefined) return undefined
    const { text, values } = this.statement(addressed, shape, copy, job, w.notifyChannel())
    if ((await w.statement(text, values)).rowCount !== 1) {
      this.copies.forget(copy.execution.jobId, copy.execution.thingName)
      return 'stale'
    }
    w.committed()
    return this.written(shape, copy, job.job)
  }

  /** What the statement is to do, or undefined when the decision needs the locking transaction. */
  private shape(
    execution: Execution,
    job: Job,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Shape | undefined {
    let decision: ExecutionDecision
    try {
      decision = decide({ execution, job })
    } catch {
      // Thrown on a copy that may be stale: the locking transaction decides again on the locked row,
      // and throws what it throws there.
      return undefined
    }
    switch (decision.kind) {
      case 'write': {
        const n = decision.next
        if (n.status === execution.status) return { kind: 'keep', next: n }
        if (isTerminal(n.status) || !completionRuledOut(job, n.status, n.lastUpdatedAtMs)) return undefined
        const pendingChanged = isPending(n.status) || isPending(execution.status)
        return {
          kind: 'move',
          next: n,
          setChanged:
            this.outbox.enabled && pendingChanged
              ? isPending(n.status) !== isPending(execution.status)
              : undefined,
        }
      }
      case 'delete':
        if (!completionRuledOut(job, undefined, decision.atMs)) return undefined
        // A terminal execution's deletion changes no pending list. [spec: delete-job-execution#4]
        return {
          kind: 'delete',
          atMs: decision.atMs,
          outbox: this.outbox.enabled && isPending(execution.status),
        }
      default:
        return undefined
    }
  }

  /** The statement of `shape` on the execution `copy` addressed as `addressed`, with its values. */
  private statement(
    addressed: Addressed,
    shape: Shape,
    copy: ExecutionCopy,
    job: JobCopy,
    channel: string | undefined,
  ): { text: string; values: unknown[] } {
    const e = copy.execution
    const outbox =
      shape.kind === 'move' ? shape.setChanged !== undefined : shape.kind === 'delete' && shape.outbox
    const event = shape.kind === 'delete' && this.events.recordsExecutions
    const form: StatementForm = {
      addressed,
      kind: shape.kind,
      from: e.status,
      to: shape.kind === 'delete' ? e.status : shape.next.status,
      outbox,
      event,
      // NOTIFY at commit, for the lease holder to publish the rows (as the transaction path's COMMIT).
      notify: channel !== undefined && (outbox || event),
    }
    const values: unknown[] = [
      copy.seq,
      e.versionNumber,
      e.jobId,
      e.thingName,
      addressed === 'next' ? copy.namespaceId : e.executionNumber,
      ...JOB_DECISION_COLUMNS.map((column) => job.row[column]),
    ]
    // In the order of statementText's parameters.
    if (shape.kind !== 'delete') values.push(...writtenValues(shape.next))
    if (shape.kind === 'delete' && form.event) values.push(shape.atMs)
    if (form.outbox) values.push(copy.namespaceId)
    if (shape.kind === 'move' && shape.setChanged !== undefined) values.push(shape.setChanged ? 1 : 0)
    if (form.notify) values.push(channel)
    const key = Object.values(form).join(' ')
    let text = this.texts.get(key)
    if (text === undefined) {
      text = statementText(form, this.events)
      this.texts.set(key, text)
    }
    return { text, values }
  }

  /** Remembers what the statement wrote, and says it as the transaction path would. */
  private written(shape: Shape, copy: ExecutionCopy, job: Job): MutateOutcome {
    const e = copy.execution
    switch (shape.kind) {
      case 'keep':
        this.copies.remember({ ...copy, execution: shape.next })
        return { kind: 'written', execution: shape.next, job }
      case 'move':
        this.copies.remember({ ...copy, execution: shape.next })
        this.copies.moved(e.thingName, copy.namespaceId, copy.seq, isPending(shape.next.status))
        return { kind: 'written', execution: shape.next, job: countChange(job, e.status, shape.next.status) }
      case 'delete':
        this.copies.forget(e.jobId, e.thingName)
        this.copies.moved(e.thingName, copy.namespaceId, copy.seq, false)
        return { kind: 'deleted', execution: e, job: countChange(job, e.status, 'DELETED') }
    }
  }
}

/** What the text of a statement depends on (each form is one prepared statement). */
export interface StatementForm {
  readonly addressed: Addressed
  readonly kind: Shape['kind']
  /** The execution's status: the counter moved from. */
  readonly from: ExecutionStatus
  /** The status it reaches (a move): the counter moved to. */
  readonly to: ExecutionStatus
  /** An outbox row (a move within or out of the pending list, the deletion of a pending execution). */
  readonly outbox: boolean
  /** The execution's `deleted` event (a deletion). */
  readonly event: boolean
  /** NOTIFY the lease holder's channel at commit. */
  readonly notify: boolean
}

/**
 * The statement of a form. Parameters: the KEY_PARAMETERS and the job's JOB_DECISION_COLUMNS, then —
 * keep, move: the written columns (writeSet); delete with its event: the time; with an outbox row: the
 * namespace, and for a move its set_changed; with a NOTIFY: the channel.
 */
export function statementText(form: StatementForm, events: Pick<PgEvents, 'deletingCte'>): string {
  let n = FIRST_SHAPE_PARAMETER
  const p = (): string => `$${n++}`
  const where = CHECKS[form.addressed]
  if (form.kind === 'keep')
    // Changes no pending list: no outbox row (as in the transaction path), no job row.
    return `UPDATE job_executions t SET ${writeSet(FIRST_SHAPE_PARAMETER)} WHERE ${where}`
  let write: string
  let set: string
  const from = COUNT_COLUMN[form.from]
  if (form.kind === 'move') {
    write = `UPDATE job_executions t SET ${writeSet(FIRST_SHAPE_PARAMETER)} WHERE ${where} RETURNING t.seq`
    n += 9
    const to = COUNT_COLUMN[form.to]
    set = `${from} = ${from} - 1, ${to} = ${to} + 1`
  } else {
    write = `DELETE FROM job_executions t WHERE ${where} RETURNING t.seq`
    set = `${from} = ${from} - 1`
  }
  // [spec: delete-job-execution#4] the event carries the status at deletion [open-question 49]
  const event = form.event ? events.deletingCte('$1', p(), 'u') : ''
  const outbox = form.outbox
    ? `, o AS (INSERT INTO outbox (thing_name, namespace_id, set_changed)
        SELECT $4, ${p()}, ${form.kind === 'move' ? p() : '1'} FROM u)`
    : ''
  const notify = form.notify ? ` RETURNING pg_notify(${p()}, '')` : ''
  return `WITH u AS (${write})${event}${outbox}
    UPDATE jobs SET ${set} WHERE job_id = $3 AND EXISTS (SELECT 1 FROM u)${notify}`
}

/**
 * Whether the SNAPSHOT completion rule [spec: state-machines#10] declines the job after a change,
 * whatever the job's other executions do meanwhile: asked with the fewest pending executions the job
 * can then have (the changed execution, when it stays pending; none otherwise), as the rule completes a
 * job only when nothing is pending. The job's other columns that the rule reads are the statement's
 * checks. When it may complete the job, the transaction path applies the rule to the locked job row.
 */
export function completionRuledOut(job: Job, after: ExecutionStatus | undefined, nowMs: number): boolean {
  const counts = { ...job.counts, QUEUED: 0, IN_PROGRESS: 0 }
  if (after !== undefined && isPending(after)) counts[after] = 1
  return decideJobCompletion({ ...job, counts }, nowMs) === undefined
}
