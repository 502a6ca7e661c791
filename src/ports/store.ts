/**
 * The storage port. It exposes operations, not transactions: each method that changes state runs
 * read → pure decide → write as one atomic unit, with a versionNumber compare-and-set, and keeps the
 * job counters and job completion in the same transaction. [ARCHITECTURE: decisions that matter]
 *
 * Callers must not hold results across awaits expecting them to stay current: every read is a
 * snapshot. Decide callbacks must be pure and synchronous (better-sqlite3 transactions cannot span
 * an await); they may be called more than once when a compare-and-set loses a race.
 */
import type { ServiceError } from '../domain/errors.js'
import type { Execution, ExecutionDecision, ExecutionWithJob, Job, Thing } from '../domain/index.js'
import type { ExecutionCounts, StatusDetails } from '../domain/records.js'
import type { ExecutionStatus, JobStatus, TargetSelection } from '../domain/statuses.js'
import type { GroupDecision, GroupFacts, ThingGroup } from '../domain/thing-groups.js'
import type { JobDecision, JobFacts } from '../domain/job-lifecycle.js'
import type { JobTemplate } from '../domain/templates.js'
import type { CACertificate, Certificate, CertificateIdentity } from '../domain/certificates.js'

export type ThingDecision<R> =
  | { readonly kind: 'write'; readonly next: Thing; readonly result: R }
  | { readonly kind: 'delete'; readonly atMs: number; readonly result: R }
  | { readonly kind: 'none'; readonly result: R }
  | { readonly kind: 'reject'; readonly error: ServiceError }

/** One page of a keyset-paginated listing; `after` is the cursor to continue after the last item. */
export interface Page<T> {
  readonly items: readonly T[]
  readonly after?: string
}

export interface PageRequest {
  readonly limit: number
  /** Opaque cursor from a previous page (already checked by the caller to belong to this listing). */
  readonly after?: string | undefined
}

export interface ThingFilter {
  readonly attributeName?: string | undefined
  readonly attributeValue?: string | undefined
  readonly usePrefixAttributeValue?: boolean | undefined
}

export interface JobFilter {
  readonly status?: JobStatus | undefined
  readonly targetSelection?: TargetSelection | undefined
  readonly namespaceId?: string | undefined
  /** A thing-group ARN: the jobs aimed at that group (no store keeps every job's thing targets). */
  readonly targetArn?: string | undefined
}

/** Which execution a mutation addresses: one number, or the latest of the job on the thing. */
export interface ExecutionKey {
  readonly jobId: string
  readonly thingName: string
  readonly executionNumber?: number | undefined
}

/**
 * Which pending executions a device sees: none of a namespaced job unless that namespace is asked
 * for. [spec: jobs-device-api#1.1]
 */
export interface PendingScope {
  readonly thingName: string
  readonly namespaceId?: string | undefined
}

export type CreateJobOutcome =
  | { readonly kind: 'created'; readonly job: Job; readonly executions: number }
  | { readonly kind: 'missing'; readonly missing: MissingTargetNames }
  | { readonly kind: 'exists'; readonly job: Job }

export type MutateOutcome =
  | { readonly kind: 'written'; readonly execution: Execution; readonly job: Job }
  | { readonly kind: 'deleted'; readonly execution: Execution; readonly job: Job }
  | { readonly kind: 'unchanged'; readonly execution: Execution; readonly job: Job }
  | { readonly kind: 'noJob' }
  | { readonly kind: 'noExecution'; readonly job: Job }

export interface JobTargets {
  readonly thingNames: readonly string[]
  readonly groupNames: readonly string[]
}

export type AssociateOutcome = { readonly kind: 'associated'; readonly job: Job } | { readonly kind: 'noJob' }

/** Thrown by associateTargets when a target does not exist; nothing was written. */
/** The first kind of job target that does not exist, and the missing names (in name order). */
export interface MissingTargetNames {
  readonly kind: 'thing' | 'group'
  readonly names: readonly string[]
}

export class MissingTargets extends Error implements MissingTargetNames {
  constructor(
    readonly kind: 'thing' | 'group',
    readonly names: readonly string[],
  ) {
    super(`missing ${kind}s: ${names.join(', ')}`)
  }
}

/** "The pending list of this thing in this namespace may have changed." */
export interface OutboxRow {
  readonly seq: number
  readonly thingName: string
  /** '' for jobs without a namespace. */
  readonly namespaceId: string
  /** An execution joined or left the pending set (→ `notify`); otherwise only `notify-next` may be due. */
  readonly setChanged: boolean
}

/** Job events: each names the job transition it reports. [spec: jobs-device-api#5.1] */
export type JobEventOperation =
  'completed' | 'cancellation_in_progress' | 'canceled' | 'deletion_in_progress' | 'deleted'

/** Job execution events: a terminal status reached, or the record deleted. [spec: jobs-device-api#5.2] */
export type ExecutionEventOperation =
  'succeeded' | 'failed' | 'rejected' | 'canceled' | 'timed_out' | 'removed' | 'deleted'

/** The job as it stood when the event was recorded (times in epoch milliseconds). */
export interface JobEventFacts {
  readonly jobId: string
  /** The status the event reports: a JobStatus, or CANCELLATION_IN_PROGRESS / DELETED. */
  readonly status: string
  readonly targetSelection: string
  readonly targets: readonly string[]
  readonly description?: string | null
  readonly createdAtMs: number
  readonly lastUpdatedAtMs: number
  readonly completedAtMs?: number | null
  readonly comment?: string | null
  readonly counts: ExecutionCounts
}

/** The execution as it stood when the event was recorded. */
export interface ExecutionEventFacts {
  readonly jobId: string
  readonly thingName: string
  /** The status reached; for `deleted`, the status the execution had [open-question 49]. */
  readonly status: ExecutionStatus
  readonly statusDetails: StatusDetails
}

/**
 * One Jobs event, recorded in the transaction of the change that caused it, waiting to be published.
 * `eventId` is fixed when the row is written, so a publish that is repeated carries the same id.
 */
export type EventRow = {
  readonly seq: number
  readonly eventId: string
  /** When the change happened (epoch milliseconds). */
  readonly atMs: number
} & (
  | { readonly family: 'job'; readonly operation: JobEventOperation; readonly job: JobEventFacts }
  | {
      readonly family: 'jobExecution'
      readonly operation: ExecutionEventOperation
      readonly execution: ExecutionEventFacts
    }
)

export interface GroupFilter {
  readonly parentGroup?: string | undefined
  readonly recursive?: boolean | undefined
  readonly namePrefixFilter?: string | undefined
}

/** The groups a thing is in, each with the root of its hierarchy. */
export type Memberships = readonly { readonly name: string; readonly rootName: string }[]

export type MembershipDecision =
  | { readonly kind: 'ok'; readonly add: readonly string[]; readonly remove: readonly string[] }
  | { readonly kind: 'reject'; readonly error: ServiceError }

export interface ExecutionDecideInput {
  readonly execution: Execution
  readonly job: Job
}

/** What mutateCertificate reads before it decides. */
export interface CertificateFacts {
  readonly certificate: Certificate | undefined
  /** The CA certificate the certificate names, if it names one that is registered. */
  readonly ca: CACertificate | undefined
  /** One thing the certificate is attached to (the first by name), if any. */
  readonly attachedThing: string | undefined
}

export type CertificateDecision<R> =
  | { readonly kind: 'write'; readonly next: Certificate; readonly result: R }
  | { readonly kind: 'delete'; readonly result: R }
  | { readonly kind: 'none'; readonly result: R }
  | { readonly kind: 'reject'; readonly error: ServiceError }

export type CACertificateDecision<R> =
  | { readonly kind: 'write'; readonly next: CACertificate; readonly result: R }
  | { readonly kind: 'delete'; readonly result: R }
  | { readonly kind: 'none'; readonly result: R }
  | { readonly kind: 'reject'; readonly error: ServiceError }

export type CreateCertificateOutcome =
  | { readonly kind: 'created' }
  | { readonly kind: 'exists'; readonly existing: Certificate }
  /** The named CA certificate is not registered (any more), or not ACTIVE. */
  | { readonly kind: 'caNotActive'; readonly ca: CACertificate | undefined }

export type CreateCACertificateOutcome =
  | { readonly kind: 'created' }
  | { readonly kind: 'exists'; readonly existing: CACertificate }
  | { readonly kind: 'limit'; readonly count: number }

export type AttachOutcome = 'attached' | 'already' | 'noThing' | 'noCertificate'
export type DetachOutcome = 'detached' | 'notAttached' | 'noThing'

/** A read about a thing: nothing when the thing does not exist. */
export type OfThing<T> = { readonly thingExists: false } | { readonly thingExists: true; readonly value: T }

export interface Store {
  /** Reads a thing; undefined when there is none. */
  getThing(thingName: string): Promise<Thing | undefined>
  /** Whether a thing exists. Cheaper than getThing on hot paths. */
  thingExists(thingName: string): Promise<boolean>
  /**
   * Reads the thing (or its absence), runs `decide`, and applies the decision atomically.
   * `delete` also marks every QUEUED or IN_PROGRESS execution of the thing REMOVED and drops
   * its group memberships [spec: things#deletething] [open-question 12]; it is refused with AWS's
   * InvalidRequestException while a certificate is attached to the thing (certificates section).
   */
  mutateThing<R>(thingName: string, decide: (current: Thing | undefined) => ThingDecision<R>): Promise<R>
  listThings(filter: ThingFilter, page: PageRequest): Promise<Page<Thing>>

  getJob(jobId: string): Promise<Job | undefined>
  /**
   * Creates the job and a QUEUED execution (executionNumber = max + 1, versionNumber 1) for every
   * distinct thing reached by the targets — the named things and every thing in the named groups and
   * their descendants — set-based, in one transaction. A job whose rollout has not started (SCHEDULED)
   * gets none yet; a paced job (`jobExecutionsRolloutConfig`) records the things and creates only its
   * first batch [spec: state-machines#5]; the job's `nextDueAtMs` is stored. Nothing is
   * written unless every target exists and the job id is free; the outcome says which check failed.
   */
  createJob(job: Job, targets: JobTargets): Promise<CreateJobOutcome>
  /** The targets that do not exist (the check createJob and associateTargets make when they write). */
  findMissingTargets(targets: JobTargets): Promise<MissingTargetNames | undefined>
  listJobs(filter: JobFilter, page: PageRequest): Promise<Page<Job>>
  /**
   * Reads the job (and how many jobs are being deleted), runs `decide`, writes the job; a decision to
   * cancel executions cancels the job's QUEUED (with force also IN_PROGRESS) executions set-based, with
   * counters, in the same transaction. Undefined when there is no such job.
   */
  mutateJob(jobId: string, decide: (facts: JobFacts) => JobDecision): Promise<Job | undefined>
  /**
   * AssociateTargetsWithJob: `decide` accepts or rejects the job change (the new targets and comment);
   * then every target must exist (else MissingTargets is thrown and nothing is written), the targets are
   * added, and every thing they reach that has no execution of the job gets a QUEUED one.
   */
  associateTargets(
    jobId: string,
    targets: JobTargets & { arns: readonly string[] },
    decide: (facts: JobFacts) => JobDecision,
  ): Promise<AssociateOutcome>
  /** Jobs in DELETION_IN_PROGRESS, oldest first. */
  jobsBeingDeleted(): Promise<readonly string[]>
  /**
   * Deletes up to `batch` executions of a job in DELETION_IN_PROGRESS, and the job itself once none is
   * left. Says what it deleted so that notifications can follow.
   */
  purgeJob(
    jobId: string,
    batch: number,
  ): Promise<{ deleted: readonly { thingName: string; status: ExecutionStatus }[]; gone: boolean }>

  /** One execution: the given number, or the latest (highest number) of the job on the thing. */
  getExecution(key: ExecutionKey): Promise<ExecutionWithJob | undefined>
  /**
   * Reads the job and the execution, runs `decide`, writes with a compare-and-set on
   * versionNumber, updates the job counters and applies job completion, all in one transaction. An
   * execution that reaches a terminal status also has the job's abort criteria evaluated and, when
   * it ended FAILED, a retry queued, in the same transaction. [spec: state-machines#6, #8]
   * A rejection from `decide` is thrown as the ServiceError it carries; nothing is written.
   */
  mutateExecution(
    key: ExecutionKey,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome>
  /**
   * Like mutateExecution, on the thing's first pending execution in pending order (IN_PROGRESS
   * first, then QUEUED, each by creation). Resolves undefined when nothing is pending.
   */
  mutateNextPending(
    scope: PendingScope,
    decide: (input: ExecutionDecideInput) => ExecutionDecision,
  ): Promise<MutateOutcome | undefined>
  /** Pending executions in pending order, at most `limit`. */
  listPending(scope: PendingScope, limit: number): Promise<readonly ExecutionWithJob[]>
  /**
   * The device API's reads, with the thing's existence (which they check first) in the same read:
   * getExecution, or listPending, of a thing that exists.
   */
  getExecutionOfThing(key: ExecutionKey): Promise<OfThing<ExecutionWithJob | undefined>>
  listPendingOfThing(scope: PendingScope, limit: number): Promise<OfThing<readonly ExecutionWithJob[]>>

  listExecutionsForJob(
    jobId: string,
    filter: { status?: ExecutionStatus | undefined },
    page: PageRequest,
  ): Promise<Page<Execution>>
  listExecutionsForThing(
    thingName: string,
    filter: {
      status?: ExecutionStatus | undefined
      jobId?: string | undefined
      namespaceId?: string | undefined
    },
    page: PageRequest,
  ): Promise<Page<Execution>>
  /** Whether any execution record names this thing (ListJobExecutionsForThing of a deleted thing). */
  hasExecutionsForThing(thingName: string): Promise<boolean>

  getJobTemplate(jobTemplateId: string): Promise<JobTemplate | undefined>
  /** Stores a new template; false (nothing written) when the id is taken. */
  createJobTemplate(template: JobTemplate): Promise<boolean>
  /** False when there was no such template. */
  deleteJobTemplate(jobTemplateId: string): Promise<boolean>
  /** Templates in creation order. */
  listJobTemplates(page: PageRequest): Promise<Page<JobTemplate>>

  getThingGroup(name: string): Promise<ThingGroup | undefined>
  getThingGroupById(thingGroupId: string): Promise<ThingGroup | undefined>
  /** The ancestors of a group, root first, direct parent last. */
  groupAncestors(name: string): Promise<readonly ThingGroup[]>
  /**
   * Reads the group and its parent's facts, runs `decide`, applies it. `delete` also drops the
   * group's memberships and applies the membership-removal rule to each former member.
   */
  mutateThingGroup<R>(
    name: string,
    parentName: string | undefined,
    decide: (self: GroupFacts, parent: GroupFacts | undefined) => GroupDecision<R>,
  ): Promise<R>
  listThingGroups(filter: GroupFilter, page: PageRequest): Promise<Page<ThingGroup>>
  /**
   * Changes the direct memberships of one thing atomically and applies their effects on CONTINUOUS
   * jobs in the same transaction: a thing that becomes reachable gets a QUEUED execution unless it has
   * a pending one; a QUEUED execution of a job that no longer reaches it becomes REMOVED.
   * [spec: state-machines#7] Resolves false when the thing does not exist.
   */
  updateMemberships(
    thingName: string,
    names: { readonly add: readonly string[]; readonly remove: readonly string[] },
    decide: (
      current: Memberships,
      add: readonly { name: string; facts: GroupFacts }[],
      remove: readonly { name: string; facts: GroupFacts }[],
    ) => MembershipDecision,
    nowMs: number,
  ): Promise<boolean>
  /** Names of the things directly in the group, or in it and its descendants, by name. */
  listThingsInGroup(name: string, recursive: boolean, page: PageRequest): Promise<Page<string>>
  listGroupsForThing(thingName: string, page: PageRequest): Promise<Page<ThingGroup>>

  /** Calls `listener` after every commit of a write (never inside a transaction). */
  onCommit(listener: () => void): void
  /** The oldest outbox rows, in commit order. */
  readOutbox(limit: number): Promise<readonly OutboxRow[]>
  /** What `notify-next` last announced for the thing and namespace (`''` = nothing pending). */
  notifyNextKey(thingName: string, namespaceId: string): Promise<string | undefined>
  /** After publishing: records the announced next executions and drops the rows read, atomically. */
  completeOutbox(
    seqs: readonly number[],
    announced: readonly { thingName: string; namespaceId: string; key: string }[],
  ): Promise<void>

  /**
   * The oldest Jobs events not yet published, in commit order. Events are recorded only for the
   * families the store was opened with. [spec: jobs-device-api#5]
   */
  readEvents(limit: number): Promise<readonly EventRow[]>
  /** Drops events once they are published (after the broker took them, never before). */
  deleteEvents(seqs: readonly number[]): Promise<void>

  // ---- time-driven work [ARCHITECTURE: time is injected] [spec: test-clock#3] ----

  /** The earliest effective deadline of an IN_PROGRESS execution, or undefined when none has one. */
  nextDeadlineMs(): Promise<number | undefined>
  /**
   * Times out up to `batch` IN_PROGRESS executions whose effective deadline is at or before `nowMs`,
   * earliest deadline first, in one transaction: each becomes TIMED_OUT (versionNumber + 1,
   * lastUpdatedAt = nowMs, timers cleared) with its counters, `notify`/`notify-next` outbox rows and
   * `timed_out` event; then, per job, the abort criteria are evaluated, retries are queued (unless the
   * job was aborted) and the completion rule is applied. Resolves how many executions timed out; a
   * result below `batch` means none is left due at `nowMs`. [spec: state-machines#4, #6, #8, #10]
   */
  timeOutDue(nowMs: number, batch: number): Promise<number>
  /** The earliest `nextDueAtMs` of any job, or undefined when no job has time-driven work. */
  nextJobDueMs(): Promise<number | undefined>
  /**
   * Ticks up to `batch` jobs whose `nextDueAtMs` is at or before `nowMs`, earliest first, each in a
   * transaction of its own: applies `decideJobTick` (a scheduled start resolving the targets, the
   * `endTime`'s `endBehavior`, a rollout batch in thing-name order, a maintenance window opening or
   * closing), the completion rule, and stores `nextJobDueMs` of the job as it then stands. Resolves
   * how many jobs it ticked; below `batch` means none is left due at `nowMs`.
   * [spec: state-machines#1, #5] [spec: jobs-control-plane#3.1]
   */
  tickJobsDue(nowMs: number, batch: number): Promise<number>
  /**
   * Removes every thing, group, job, execution, template, certificate, CA certificate and pending
   * notification or event, as in a new data directory (the virtual clock's reset). [spec: test-clock#2]
   */
  reset(): Promise<void>

  // ---- the certificate registry [aws: iot certificates] (storage/*/certificates.ts) ----

  getCertificate(certificateId: string): Promise<Certificate | undefined>
  getCACertificate(certificateId: string): Promise<CACertificate | undefined>
  /** The registered CA certificates whose subject is `subject`, oldest first. */
  caCertificatesBySubject(subject: string): Promise<readonly CACertificate[]>
  /**
   * Registers a certificate unless its id is taken. When it names a CA certificate, that CA must be
   * registered and ACTIVE when the write commits (it is locked against a concurrent change); else
   * nothing is written and the outcome says why.
   */
  createCertificate(certificate: Certificate): Promise<CreateCertificateOutcome>
  /**
   * Reads the certificate (or its absence), its CA certificate and one thing it is attached to, runs
   * `decide` and applies the decision atomically. The certificate row is locked first, so
   * `attachedThing` is current: an AttachThingPrincipal waits for the decision (decide must refuse to
   * delete an attached certificate; the store does not check it again). A rejection is thrown as its
   * ServiceError.
   */
  mutateCertificate<R>(
    certificateId: string,
    decide: (facts: CertificateFacts) => CertificateDecision<R>,
  ): Promise<R>
  /**
   * Certificates by creation date (then id), ascending or descending; with `caCertificateId` only those
   * it signed. `after` is the key of the last item of the previous page.
   */
  listCertificates(
    filter: { readonly caCertificateId?: string | undefined; readonly ascending: boolean },
    page: PageRequest,
  ): Promise<Page<Certificate>>
  /** Ids of every certificate registered under the CA certificate (its deactivation revokes their rights). */
  certificateIdsOfCA(caCertificateId: string): Promise<readonly string[]>
  /**
   * Registers a CA certificate unless its id is taken or `maxPerSubject` CA certificates already have its
   * subject; atomically (two registrations of one subject cannot both pass the count).
   */
  createCACertificate(ca: CACertificate, maxPerSubject: number): Promise<CreateCACertificateOutcome>
  /** Reads the CA certificate (or its absence), runs `decide`, applies the decision atomically. */
  mutateCACertificate<R>(
    certificateId: string,
    decide: (current: CACertificate | undefined) => CACertificateDecision<R>,
  ): Promise<R>
  listCACertificates(filter: { readonly ascending: boolean }, page: PageRequest): Promise<Page<CACertificate>>
  /**
   * AttachThingPrincipal: attaches the certificate to the thing unless either is missing (nothing is
   * written). Attaching again is `already`. Locks both rows against a concurrent DeleteThing and
   * DeleteCertificate.
   */
  attachThingPrincipal(thingName: string, certificateId: string, atMs: number): Promise<AttachOutcome>
  /** DetachThingPrincipal: `noThing` when the thing does not exist; `notAttached` changes nothing. */
  detachThingPrincipal(thingName: string, certificateId: string): Promise<DetachOutcome>
  /** Certificate ids attached to the thing, in id order. */
  listThingPrincipals(thingName: string, page: PageRequest): Promise<Page<string>>
  /** Names of the things the certificate is attached to, in name order. */
  listPrincipalThings(certificateId: string, page: PageRequest): Promise<Page<string>>
  /**
   * The device identity check the MQTT and HTTPS listeners make on every connection: one indexed query.
   * See domain/certificates.ts#certificateIdentity for the answers and their order.
   */
  certificateIdentity(certificateId: string, thingName: string): Promise<CertificateIdentity>
  /**
   * The `${certificateId}/${thingName}` keys of the pairs that are still `ok`, in one set-based query
   * (the listeners re-check their live connections with it, for changes made through other nodes).
   */
  certificateIdentities(
    pairs: readonly { readonly certificateId: string; readonly thingName: string }[],
  ): Promise<ReadonlySet<string>>

  // ---- what operators watch (/metrics, /readyz) ----

  /**
   * Jobs per status, executions per status (summed from the job counters, not counted row by row), and
   * the depth and age of the notification and event outboxes, as of one read. Cheap enough for a scrape
   * every second with 1,000,000 executions stored.
   */
  figures(): Promise<StoreFigures>
  /** Resolves when the database answers a trivial query; rejects with why not. */
  ping(): Promise<void>
  /** Calls `listener` after every transaction with its duration and how many writes it held. */
  onTransaction(listener: (seconds: number, writes: number) => void): void
  /** Connections of the pool (PostgreSQL); undefined for a store without one. */
  poolFigures(): PoolFigures | undefined

  /** Recounts a job's executions from the execution records (for tests and consistency checks). */
  recountExecutions(jobId: string): Promise<Record<ExecutionStatus, number>>

  close(): Promise<void>
}

export interface StoreFigures {
  readonly jobs: Readonly<Record<JobStatus, number>>
  readonly executions: Readonly<Record<ExecutionStatus, number>>
  /** Notifications committed and not yet published; the oldest one's commit time (machine clock). */
  readonly notificationOutbox: OutboxFigures
  /** Jobs events committed and not yet published. */
  readonly eventOutbox: OutboxFigures
}

export interface OutboxFigures {
  readonly rows: number
  /** Machine-clock milliseconds of the oldest row's commit; undefined when the outbox is empty. */
  readonly oldestAtMs?: number | undefined
}

export interface PoolFigures {
  readonly total: number
  readonly idle: number
  /** Callers waiting for a connection. */
  readonly waiting: number
}
