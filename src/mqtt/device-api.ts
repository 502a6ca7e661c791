/**
 * The device Jobs API over MQTT: one request message in, one reply out (`…/accepted` or
 * `…/rejected`). The same use cases as the HTTP data plane; only the encoding differs
 * (jobDocument as an object, `timestamp` and `clientToken` in every reply). [spec: jobs-device-api#2]
 */
import type { Throttle } from '../app/throttle.js'
import * as device from '../app/device.js'
import type { AppContext } from '../app/context.js'
import type { LoadedModels } from '../aws-model/model.js'
import { describeValidationError } from '../aws-model/model.js'
import { ServiceError, invalidRequest } from '../domain/errors.js'
import type { Execution, ExecutionWithJob } from '../domain/records.js'
import { approximateSecondsBeforeTimedOut } from '../domain/records.js'
import { VersionMismatchError } from '../domain/state-machine.js'
import type { DeviceRequestTopic } from './topics.js'

export interface Reply {
  readonly topic: string
  readonly payload: Record<string, unknown>
}

/** The nine rejection codes of the device SDKs. [spec: jobs-device-api#2.4] */
export type RejectCode =
  | 'InvalidTopic'
  | 'InvalidJson'
  | 'InvalidRequest'
  | 'InvalidStateTransition'
  | 'ResourceNotFound'
  | 'VersionMismatch'
  | 'RequestThrottled'
  | 'InternalError'
  | 'TerminalStateReached'

const seconds = (ms: number): number => Math.floor(ms / 1000)

/** Members sent as decimal strings by the embedded C jobs library. [spec: jobs-device-api#2.2] */
const LENIENT_NUMBERS = ['expectedVersion', 'executionNumber', 'stepTimeoutInMinutes'] as const

export class DeviceApi {
  constructor(
    private readonly ctx: AppContext,
    private readonly models: LoadedModels,
    private readonly onError: (error: unknown) => void,
    /** Per-thing back-pressure [spec: jobs-device-api#6]; none without a data-plane rate limit. */
    private readonly throttle?: Throttle,
  ) {}

  /** Handles one request; never throws. */
  async handle(request: DeviceRequestTopic, payload: Buffer): Promise<Reply> {
    let clientToken: string | undefined
    let body: Record<string, unknown> = {}
    try {
      body = parsePayload(payload)
      clientToken = typeof body['clientToken'] === 'string' ? body['clientToken'] : undefined
      if (this.throttle !== undefined && !this.throttle.take(request.thingName)) {
        throw new ServiceError('ThrottlingException', `Rate exceeded for thing ${request.thingName}`)
      }
      const accepted = await this.run(request, body)
      return {
        topic: `${request.topic}/accepted`,
        payload: { ...accepted, timestamp: this.now(), ...token(clientToken) },
      }
    } catch (error) {
      return this.rejected(request, error, clientToken, lenientNumber(body['executionNumber']))
    }
  }

  /** The rejection for a topic under the jobs tree that names no operation. [open-question 46] */
  invalidTopic(topic: string, payload: Buffer): Reply {
    return {
      topic: `${topic}/rejected`,
      payload: {
        code: 'InvalidTopic',
        message: `No Jobs operation matches topic ${topic}`,
        timestamp: this.now(),
        ...token(clientTokenOf(payload)),
      },
    }
  }

  /**
   * The rejection for a request beyond its thing's queue of requests waiting to be served; the store is
   * not touched. [spec: jobs-device-api#6] [spec: jobs-device-api#2.4]
   */
  throttled(request: DeviceRequestTopic, payload: Buffer): Reply {
    return {
      topic: `${request.topic}/rejected`,
      payload: {
        code: 'RequestThrottled',
        message: `Too many requests waiting for thing ${request.thingName}`,
        timestamp: this.now(),
        ...token(clientTokenOf(payload)),
      },
    }
  }

  private now(): number {
    return seconds(this.ctx.clock.nowMs())
  }

  private validated(operation: string, input: Record<string, unknown>): void {
    const spec = this.models.operations.find((o) => o.plane === 'dataPlane' && o.name === operation)
    if (spec === undefined) throw new Error(`no model for ${operation}`)
    if (!spec.validate(input)) {
      const [first] = spec.validate.errors ?? []
      throw invalidRequest(
        first === undefined
          ? 'request is invalid'
          : describeValidationError(first, this.models.patternSource),
      )
    }
  }

  private async run(
    request: DeviceRequestTopic,
    body: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    const nowMs = this.ctx.clock.nowMs()
    const base = {
      thingName: request.thingName,
      ...(request.namespaceId === undefined ? {} : { namespaceId: request.namespaceId }),
    }
    const input: Record<string, unknown> = { ...base }
    for (const key of [
      'statusDetails',
      'status',
      'includeJobDocument',
      'includeJobExecutionState',
      ...LENIENT_NUMBERS,
    ]) {
      const value = body[key]
      if (value === undefined || value === null) continue
      input[key] = (LENIENT_NUMBERS as readonly string[]).includes(key)
        ? (lenientNumber(value) ?? value)
        : value
    }
    switch (request.operation) {
      case 'GetPendingJobExecutions': {
        this.validated('GetPendingJobExecutions', base)
        const r = await device.getPendingJobExecutions(this.ctx, base)
        return {
          inProgressJobs: r.inProgress.map((p) => summary(p.execution)),
          queuedJobs: r.queued.map((p) => summary(p.execution)),
        }
      }
      case 'StartNextPendingJobExecution': {
        const req = pick(input, ['thingName', 'namespaceId', 'statusDetails', 'stepTimeoutInMinutes'])
        this.validated('StartNextPendingJobExecution', req)
        const r = await device.startNextPendingJobExecution(
          this.ctx,
          req as unknown as Parameters<typeof device.startNextPendingJobExecution>[1],
        )
        return r === undefined ? {} : { execution: execution(r, nowMs, true) }
      }
      case 'DescribeJobExecution': {
        const req = {
          ...pick(input, ['thingName', 'namespaceId', 'executionNumber', 'includeJobDocument']),
          jobId: request.jobId,
        }
        this.validated('DescribeJobExecution', req)
        const r = await device.describeJobExecutionForDevice(
          this.ctx,
          req as Parameters<typeof device.describeJobExecutionForDevice>[1],
        )
        // includeJobDocument defaults to true [spec: jobs-device-api#2.2]
        return r === undefined
          ? {}
          : { execution: execution(r, nowMs, input['includeJobDocument'] !== false) }
      }
      case 'UpdateJobExecution': {
        const req = {
          ...pick(input, [
            'thingName',
            // The namespace of the topic limits what the update may address. [spec: jobs-device-api#3]
            'namespaceId',
            'status',
            'statusDetails',
            'stepTimeoutInMinutes',
            'expectedVersion',
            'executionNumber',
          ]),
          jobId: request.jobId,
        }
        // The two flags are validated as the HTTP data plane validates them (booleans).
        this.validated('UpdateJobExecution', {
          ...req,
          ...pick(input, ['includeJobExecutionState', 'includeJobDocument']),
        })
        const r = await device.updateJobExecution(this.ctx, req as unknown as device.UpdateJobExecutionInput)
        return {
          ...(input['includeJobExecutionState'] === true ? { executionState: state(r.execution) } : {}),
          ...(input['includeJobDocument'] === true
            ? { jobDocument: JSON.parse(r.job.document) as unknown }
            : {}),
        }
      }
    }
  }

  private async rejected(
    request: DeviceRequestTopic,
    error: unknown,
    clientToken: string | undefined,
    executionNumber: number | undefined,
  ): Promise<Reply> {
    const code = rejectCode(error)
    if (code === 'InternalError') this.onError(error)
    const message =
      error instanceof ServiceError || error instanceof InvalidJsonError ? error.message : 'Internal error'
    let executionState: object | undefined
    // [spec: jobs-device-api#2.4] the current state comes with InvalidStateTransition and VersionMismatch.
    if (
      (code === 'InvalidStateTransition' || code === 'VersionMismatch') &&
      request.jobId !== undefined &&
      request.jobId !== '$next'
    ) {
      // The execution the request addressed: the numbered one when the device named it.
      const found = await this.ctx.store
        .getExecution({
          jobId: request.jobId,
          thingName: request.thingName,
          ...(executionNumber === undefined ? {} : { executionNumber }),
        })
        .catch(() => undefined)
      if (found !== undefined) executionState = state(found.execution)
    }
    return {
      topic: `${request.topic}/rejected`,
      payload: {
        code,
        message,
        timestamp: this.now(),
        ...token(clientToken),
        ...(executionState === undefined ? {} : { executionState }),
      },
    }
  }
}

class InvalidJsonError extends Error {}

/** The clientToken of a payload, when it is a JSON object that has one. */
function clientTokenOf(payload: Buffer): string | undefined {
  try {
    const body = parsePayload(payload)
    return typeof body['clientToken'] === 'string' ? body['clientToken'] : undefined
  } catch {
    // A payload that is not JSON has no token; the reply simply carries none.
    return undefined
  }
}

function parsePayload(payload: Buffer): Record<string, unknown> {
  if (payload.length === 0) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(payload.toString('utf8'))
  } catch {
    // Not JSON: the device hears InvalidJson.
    throw new InvalidJsonError('payload is not valid JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw new InvalidJsonError('payload must be a JSON object')
  return parsed as Record<string, unknown>
}

export function rejectCode(error: unknown): RejectCode {
  if (error instanceof InvalidJsonError) return 'InvalidJson'
  if (error instanceof VersionMismatchError) return 'VersionMismatch'
  if (!(error instanceof ServiceError)) return 'InternalError'
  switch (error.code) {
    case 'InvalidRequestException':
      return 'InvalidRequest'
    case 'InvalidStateTransitionException':
      return 'InvalidStateTransition'
    case 'ResourceNotFoundException':
      return 'ResourceNotFound'
    case 'ThrottlingException':
      return 'RequestThrottled'
    case 'TerminalStateException':
      return 'TerminalStateReached'
    default:
      return 'InternalError'
  }
}

/** A number, or a decimal string as the embedded C jobs library sends it; otherwise undefined. */
function lenientNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value
  return typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : undefined
}

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(keys.filter((k) => o[k] !== undefined).map((k) => [k, o[k]]))
}

const token = (clientToken: string | undefined) => (clientToken === undefined ? {} : { clientToken })

/** MQTT summary. [spec: jobs-device-api#2.3] */
export function summary(e: Execution): Record<string, unknown> {
  return {
    jobId: e.jobId,
    queuedAt: seconds(e.queuedAtMs),
    ...(e.startedAtMs === undefined ? {} : { startedAt: seconds(e.startedAtMs) }),
    lastUpdatedAt: seconds(e.lastUpdatedAtMs),
    versionNumber: e.versionNumber,
    executionNumber: e.executionNumber,
  }
}

/** MQTT execution: the document is a JSON object. [spec: jobs-device-api#2.3] */
export function execution(
  r: ExecutionWithJob,
  nowMs: number,
  withDocument: boolean,
): Record<string, unknown> {
  const e = r.execution
  const timeout = approximateSecondsBeforeTimedOut(e, nowMs)
  return {
    jobId: e.jobId,
    thingName: e.thingName,
    ...(withDocument ? { jobDocument: JSON.parse(r.job.document) as unknown } : {}),
    status: e.status,
    statusDetails: e.statusDetails,
    queuedAt: seconds(e.queuedAtMs),
    ...(e.startedAtMs === undefined ? {} : { startedAt: seconds(e.startedAtMs) }),
    lastUpdatedAt: seconds(e.lastUpdatedAtMs),
    versionNumber: e.versionNumber,
    executionNumber: e.executionNumber,
    ...(timeout === undefined ? {} : { approximateSecondsBeforeTimedOut: timeout }),
  }
}

function state(e: Execution): Record<string, unknown> {
  return { status: e.status, statusDetails: e.statusDetails, versionNumber: e.versionNumber }
}
