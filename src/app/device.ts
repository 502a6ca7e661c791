/**
 * Device use cases, shared by the HTTP data plane and (later) MQTT: GetPendingJobExecutions,
 * StartNextPendingJobExecution, DescribeJobExecution, UpdateJobExecution. [spec: jobs-device-api#1]
 */
import { ServiceError, notFound } from '../domain/errors.js'
import { checkStatusDetails, checkStepTimeout } from '../domain/job-config.js'
import type { ExecutionWithJob, StatusDetails } from '../domain/records.js'
import { OverdueExecution, decideDeviceUpdate, decideStartNext } from '../domain/state-machine.js'
import type { ExecutionStatus } from '../domain/statuses.js'
import { isPending, isTerminal } from '../domain/statuses.js'
import type { OfThing } from '../ports/store.js'
import type { AppContext } from './context.js'
import { settled } from './executions.js'
import { inNamespace } from './jobs.js'

/** The literal job id that means "the next pending execution". */
export const NEXT = '$next'

const thingNotFound = (thingName: string): ServiceError => notFound(`Thing ${thingName} not found`)

/** [open-question 35] a device must name a registered thing. */
async function requireThing(ctx: AppContext, thingName: string): Promise<void> {
  if (!(await ctx.store.thingExists(thingName))) throw thingNotFound(thingName)
}

/** What the store read of a thing, which must exist. */
function ofThing<T>(thingName: string, read: OfThing<T>): T {
  if (!read.thingExists) throw thingNotFound(thingName)
  return read.value
}

export async function getPendingJobExecutions(
  ctx: AppContext,
  input: { thingName: string; namespaceId?: string | undefined },
): Promise<{ inProgress: readonly ExecutionWithJob[]; queued: readonly ExecutionWithJob[] }> {
  const pending = ofThing(
    input.thingName,
    await ctx.store.listPendingOfThing(input, ctx.settings.maxPendingExecutions),
  )
  return {
    inProgress: pending.filter((p) => p.execution.status === 'IN_PROGRESS'),
    queued: pending.filter((p) => p.execution.status === 'QUEUED'),
  }
}

/** Starts the first pending execution; undefined when nothing is pending. [spec: jobs-device-api#1.3] */
export async function startNextPendingJobExecution(
  ctx: AppContext,
  input: {
    thingName: string
    statusDetails?: StatusDetails | undefined
    stepTimeoutInMinutes?: number | undefined
    namespaceId?: string | undefined
  },
): Promise<ExecutionWithJob | undefined> {
  checkStatusDetails(input.statusDetails)
  checkStepTimeout(input.stepTimeoutInMinutes, false)
  await requireThing(ctx, input.thingName)
  const nowMs = ctx.clock.nowMs()
  const outcome = await ctx.store.mutateNextPending(input, ({ execution, job }) =>
    decideStartNext(execution, job, input, nowMs),
  )
  return outcome === undefined ? undefined : settled(outcome, { jobId: '', thingName: input.thingName })
}

/** [spec: jobs-device-api#1.4]; `$next` returns the first pending execution without changing it. */
export async function describeJobExecutionForDevice(
  ctx: AppContext,
  input: {
    thingName: string
    jobId: string
    executionNumber?: number | undefined
    namespaceId?: string | undefined
  },
): Promise<ExecutionWithJob | undefined> {
  if (input.jobId === NEXT) {
    // [open-question 41] executionNumber is ignored with $next.
    const [first] = ofThing(input.thingName, await ctx.store.listPendingOfThing(input, 1))
    return first
  }
  const found = ofThing(input.thingName, await ctx.store.getExecutionOfThing(input))
  if (found === undefined || !inNamespace(found.job, input.namespaceId) || beingDeleted(found.job)) {
    throw notFound(
      input.executionNumber === undefined
        ? `No execution of job ${input.jobId} on thing ${input.thingName}`
        : `No execution ${input.executionNumber} of job ${input.jobId} on thing ${input.thingName}`,
    )
  }
  if (ctx.settings.terminalStateOnDescribe && isTerminal(found.execution.status)) {
    throw new ServiceError(
      'TerminalStateException',
      `Execution of job ${input.jobId} is ${found.execution.status}`,
    )
  }
  return found
}

export interface UpdateJobExecutionInput {
  readonly thingName: string
  readonly jobId: string
  readonly status: ExecutionStatus
  readonly statusDetails?: StatusDetails | undefined
  readonly stepTimeoutInMinutes?: number | undefined
  readonly expectedVersion?: number | undefined
  readonly executionNumber?: number | undefined
  readonly namespaceId?: string | undefined
}

/**
 * A device's status report. Raises InvalidRequestException, ResourceNotFoundException and
 * InvalidStateTransitionException (a VersionMismatchError for expectedVersion). [spec: jobs-device-api#1.5]
 */
export async function updateJobExecution(
  ctx: AppContext,
  input: UpdateJobExecutionInput,
): Promise<ExecutionWithJob> {
  checkStatusDetails(input.statusDetails)
  checkStepTimeout(input.stepTimeoutInMinutes, true)
  let nowMs = ctx.clock.nowMs()
  // [open-question 35] The thing check costs a read before every update, but a pending execution's
  // thing exists (DeleteThing removes them in its own transaction): only the other cases check first.
  let thingChecked = false
  const update = () =>
    ctx.store.mutateExecution(input, ({ execution, job }) => {
      if (!thingChecked && !isPending(execution.status)) throw new CheckThingFirst()
      if (!inNamespace(job, input.namespaceId) || beingDeleted(job)) {
        throw notFound(`No execution of job ${input.jobId} on thing ${input.thingName}`)
      }
      return decideDeviceUpdate(execution, job, input, nowMs)
    })
  let outcome: Awaited<ReturnType<typeof update>> | undefined
  // At most: the thing check, then the sweep of a deadline that passed, then the update itself.
  for (let attempt = 0; outcome === undefined; attempt += 1) {
    try {
      outcome = await update()
    } catch (error) {
      if (error instanceof CheckThingFirst && !thingChecked) {
        await requireThing(ctx, input.thingName)
        thingChecked = true
      } else if (error instanceof OverdueExecution && attempt < 3) {
        // [spec: state-machines#4] the deadline passed before the sweep got there (system mode):
        // apply it now, so the device is answered about a TIMED_OUT execution.
        await ctx.time.settleDue()
        nowMs = ctx.clock.nowMs()
      } else {
        throw error
      }
    }
  }
  if (!thingChecked && (outcome.kind === 'noJob' || outcome.kind === 'noExecution'))
    await requireThing(ctx, input.thingName)
  return settled(outcome, input)
}

/** Thrown by a decision that needs the thing check made before it (nothing is written). */
class CheckThingFirst extends Error {}

/**
 * A forced DeleteJob takes the job's executions from its devices at once (jobs-control-plane: "devices
 * lose access to their executions"): they answer as they will once the deletion is done, 404.
 */
function beingDeleted(job: { readonly status: string }): boolean {
  return job.status === 'DELETION_IN_PROGRESS'
}
