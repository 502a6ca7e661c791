/**
 * Control-plane execution use cases: DescribeJobExecution, ListJobExecutionsForJob,
 * ListJobExecutionsForThing, CancelJobExecution, DeleteJobExecution.
 * [spec: jobs-control-plane#4-operations] [spec: delete-job-execution]
 */
import { invalidTransition, notFound } from '../domain/errors.js'
import { checkStatusDetails } from '../domain/job-config.js'
import type { ServiceError } from '../domain/errors.js'
import type { Execution, ExecutionWithJob, Job, StatusDetails } from '../domain/records.js'
import type { ExecutionDecision } from '../domain/state-machine.js'
import { decideCancelExecution, decideDeleteExecution } from '../domain/state-machine.js'
import type { ExecutionStatus } from '../domain/statuses.js'
import type { MutateOutcome } from '../ports/store.js'
import type { AppContext } from './context.js'
import { checkNamespace, requireJob } from './jobs.js'
import { EXECUTION_KEY, nextToken, pageRequest } from './pagination.js'

const describeKey = (thingName: string, jobId: string, executionNumber: number | undefined): string =>
  executionNumber === undefined
    ? `No execution of job ${jobId} on thing ${thingName}`
    : `No execution ${executionNumber} of job ${jobId} on thing ${thingName}`

/** Turns a store outcome into the result or the AWS error every execution use case shares. */
export function settled(
  outcome: MutateOutcome,
  key: { jobId: string; thingName: string; executionNumber?: number | undefined },
  gate: (job: Job) => ServiceError | undefined = () => undefined,
): ExecutionWithJob & { kind: 'written' | 'deleted' | 'unchanged' } {
  switch (outcome.kind) {
    case 'noJob':
      throw notFound(`Job ${key.jobId} not found`)
    case 'noExecution': {
      const error = gate(outcome.job)
      if (error !== undefined) throw error
      throw notFound(describeKey(key.thingName, key.jobId, key.executionNumber))
    }
    default:
      return outcome
  }
}

export async function describeJobExecution(
  ctx: AppContext,
  input: { jobId: string; thingName: string; executionNumber?: number | undefined },
): Promise<ExecutionWithJob> {
  const found = await ctx.store.getExecution(input)
  if (found === undefined) {
    await requireJob(ctx, input.jobId)
    throw notFound(describeKey(input.thingName, input.jobId, input.executionNumber))
  }
  return found
}

export async function listJobExecutionsForJob(
  ctx: AppContext,
  input: {
    jobId: string
    status?: ExecutionStatus | undefined
    maxResults?: number | undefined
    nextToken?: string | undefined
  },
): Promise<{ executions: readonly Execution[]; nextToken?: string }> {
  const filters = { jobId: input.jobId, status: input.status }
  const page = pageRequest(
    'ListJobExecutionsForJob',
    filters,
    input,
    ctx.settings.defaultPageSize,
    EXECUTION_KEY,
  )
  await requireJob(ctx, input.jobId)
  const result = await ctx.store.listExecutionsForJob(input.jobId, filters, page)
  const token = nextToken('ListJobExecutionsForJob', filters, result)
  return { executions: result.items, ...(token === undefined ? {} : { nextToken: token }) }
}

/**
 * Lists a thing's executions; a thing that no longer exists is listed while it still has
 * execution records. [open-question 31]
 */
export async function listJobExecutionsForThing(
  ctx: AppContext,
  input: {
    thingName: string
    status?: ExecutionStatus | undefined
    namespaceId?: string | undefined
    jobId?: string | undefined
    maxResults?: number | undefined
    nextToken?: string | undefined
  },
): Promise<{ executions: readonly Execution[]; nextToken?: string }> {
  const filters = {
    thingName: input.thingName,
    status: input.status,
    namespaceId: input.namespaceId,
    jobId: input.jobId,
  }
  const page = pageRequest(
    'ListJobExecutionsForThing',
    filters,
    input,
    ctx.settings.defaultPageSize,
    EXECUTION_KEY,
  )
  if (
    !(await ctx.store.thingExists(input.thingName)) &&
    !(await ctx.store.hasExecutionsForThing(input.thingName))
  ) {
    throw notFound(`Thing ${input.thingName} not found`)
  }
  const result = await ctx.store.listExecutionsForThing(input.thingName, filters, page)
  const token = nextToken('ListJobExecutionsForThing', filters, result)
  return { executions: result.items, ...(token === undefined ? {} : { nextToken: token }) }
}

/**
 * CancelJobExecution on the latest execution of the job on the thing.
 * Raises ResourceNotFoundException, VersionConflictException, InvalidStateTransitionException.
 */
export async function cancelJobExecution(
  ctx: AppContext,
  input: {
    jobId: string
    thingName: string
    force?: boolean | undefined
    expectedVersion?: number | undefined
    statusDetails?: StatusDetails | undefined
  },
): Promise<void> {
  checkStatusDetails(input.statusDetails)
  const nowMs = ctx.clock.nowMs()
  const outcome = await ctx.store.mutateExecution(
    { jobId: input.jobId, thingName: input.thingName },
    ({ execution, job }) =>
      decideCancelExecution(
        execution,
        job,
        {
          force: input.force === true,
          expectedVersion: input.expectedVersion,
          statusDetails: input.statusDetails,
        },
        nowMs,
      ),
  )
  settled(outcome, input, (job) =>
    job.status === 'DELETION_IN_PROGRESS'
      ? invalidTransition(`Job ${job.jobId} is being deleted`)
      : undefined,
  )
}

/**
 * DeleteJobExecution, steps 4–10 of the spec's algorithm: job, namespace, job being deleted,
 * execution, status rule, then an atomic delete with a versionNumber compare-and-set.
 * Raises ResourceNotFoundException and InvalidStateTransitionException. [spec: delete-job-execution#2]
 */
export async function deleteJobExecution(
  ctx: AppContext,
  input: {
    jobId: string
    thingName: string
    executionNumber: number
    force?: boolean | undefined
    namespaceId?: string | undefined
  },
): Promise<void> {
  const nowMs = ctx.clock.nowMs()
  const gate = (job: Job): ServiceError | undefined => {
    try {
      checkNamespace(job, input.namespaceId)
    } catch (error) {
      return error as ServiceError
    }
    return job.status === 'DELETION_IN_PROGRESS'
      ? invalidTransition(`Job ${job.jobId} is being deleted`)
      : undefined
  }
  const outcome = await ctx.store.mutateExecution(input, ({ execution, job }): ExecutionDecision => {
    const error = gate(job)
    if (error !== undefined) return { kind: 'reject', error }
    return decideDeleteExecution(execution, job, { force: input.force === true }, nowMs)
  })
  settled(outcome, input, gate)
}
