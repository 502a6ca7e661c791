/**
 * What one node last read or wrote of executions and jobs: the copies that execution writes decide on
 * before they write in one statement (copy-writes.ts). A copy may be stale — another node, or a
 * job-level change or the deadline sweep on this one, may have changed the row since — so it is never
 * trusted: the statement checks it and writes nothing when it no longer holds.
 *
 * Only committed rows are remembered. An execution copy is identified by the row's `seq` (never reused)
 * and `version_number` (raised by every write, see copy-writes.ts); a write that rolled back may have
 * used a version number that a later write, with other content, takes again.
 *
 * Bounded: the entries written longest ago go first. A missing copy costs only the locking transaction.
 */
import type { Execution, Job } from '../../domain/records.js'
import type { ExecutionRow, JobRow } from '../rows.js'
import { executionFromRow } from '../rows.js'

/** One execution as this node last saw it committed. */
export interface ExecutionCopy {
  readonly seq: number
  readonly namespaceId: string
  readonly execution: Execution
}

/** One job as this node last saw it: its row, and the job built from the row and its spec. */
export interface JobCopy {
  readonly row: JobRow
  readonly job: Job
}

/**
 * Entries per map: the 10,000-device fleets of bench/README.md with room to spare (an execution copy
 * is well under a kilobyte, so a full map holds a few tens of megabytes at most).
 */
const DEFAULT_CAPACITY = 20_000

const pair = (a: string, b: string): string => `${a}\u0000${b}`

export class PgCopies {
  /** The execution of each (job, thing) last seen: the latest, or the one a request named. */
  private readonly executions = new Map<string, ExecutionCopy>()
  /** Each job's row as last seen, and the job built from it. */
  private readonly jobs = new Map<string, JobCopy>()
  /** The first pending execution of each (thing, namespace) in pending order, as last seen. */
  private readonly firsts = new Map<string, { readonly jobId: string; readonly seq: number }>()

  constructor(private readonly capacity = DEFAULT_CAPACITY) {}

  execution(jobId: string, thingName: string): ExecutionCopy | undefined {
    return this.executions.get(pair(jobId, thingName))
  }

  job(jobId: string): JobCopy | undefined {
    return this.jobs.get(jobId)
  }

  /** The copy of the thing's first pending execution in the namespace, if it is known. */
  first(thingName: string, namespaceId: string): ExecutionCopy | undefined {
    const first = this.firsts.get(pair(thingName, namespaceId))
    if (first === undefined) return undefined
    const copy = this.execution(first.jobId, thingName)
    return copy?.seq === first.seq ? copy : undefined
  }

  remember(copy: ExecutionCopy): void {
    put(this.executions, pair(copy.execution.jobId, copy.execution.thingName), copy, this.capacity)
  }

  rememberRow(row: ExecutionRow): ExecutionCopy {
    const copy = { seq: row.seq, namespaceId: row.namespace_id, execution: executionFromRow(row) }
    this.remember(copy)
    return copy
  }

  rememberJob(row: JobRow, job: Job): void {
    put(this.jobs, row.job_id, { row, job }, this.capacity)
  }

  /** `copy` is the first pending execution of its thing in its namespace; undefined: none is known. */
  rememberFirst(thingName: string, namespaceId: string, copy: ExecutionCopy | undefined): void {
    const key = pair(thingName, namespaceId)
    if (copy === undefined) this.firsts.delete(key)
    else put(this.firsts, key, { jobId: copy.execution.jobId, seq: copy.seq }, this.capacity)
  }

  /**
   * The execution `seq` of the thing moved between statuses (`pending`: it still is), or is gone: the
   * known first pending execution stays known while the order cannot have changed before it.
   */
  moved(thingName: string, namespaceId: string, seq: number, pending: boolean): void {
    const key = pair(thingName, namespaceId)
    const wasFirst = this.firsts.get(key)?.seq === seq
    // Still pending, it may now come first (an IN_PROGRESS one does); no longer pending, it was first.
    if (pending !== wasFirst) this.firsts.delete(key)
  }

  forget(jobId: string, thingName: string): void {
    this.executions.delete(pair(jobId, thingName))
  }

  /** After the tables were emptied. */
  clear(): void {
    this.executions.clear()
    this.jobs.clear()
    this.firsts.clear()
  }
}

/** Sets `key` as the newest entry; drops the oldest beyond `capacity`. */
function put<V>(map: Map<string, V>, key: string, value: V, capacity: number): void {
  map.delete(key)
  map.set(key, value)
  if (map.size > capacity) {
    const oldest = map.keys().next()
    if (oldest.done !== true) map.delete(oldest.value)
  }
}
