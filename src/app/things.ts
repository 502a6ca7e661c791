/**
 * Registry use cases: CreateThing, DescribeThing, ListThings, UpdateThing, DeleteThing.
 * [spec: things#2-operations]
 */
import { randomUUID } from 'node:crypto'
import { thingArn } from '../domain/arns.js'
import { ServiceError, invalidRequest, notFound } from '../domain/errors.js'
import type { Thing } from '../domain/records.js'
import type { AppContext } from './context.js'
import { nextToken, pageRequest } from './pagination.js'

export interface AttributePayload {
  readonly attributes?: Record<string, string> | undefined
  readonly merge?: boolean | undefined
}

/** Thing types and billing groups are out of scope: a named one cannot exist. [spec: things#1] */
function rejectUnsupportedReferences(input: {
  thingTypeName?: string | undefined
  billingGroupName?: string | undefined
}): void {
  if (input.thingTypeName !== undefined) throw notFound(`Thing type ${input.thingTypeName} not found`)
  if (input.billingGroupName !== undefined)
    throw notFound(`Billing group ${input.billingGroupName} not found`)
}

function checkAttributeCount(ctx: AppContext, attributes: Record<string, string>): void {
  const n = Object.keys(attributes).length
  if (n > ctx.settings.maxThingAttributes) {
    throw invalidRequest(
      `attributePayload.attributes has ${n} attributes; a thing without a thing type may have at most ${ctx.settings.maxThingAttributes}`,
    )
  }
}

function sameAttributes(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a)
  return ka.length === Object.keys(b).length && ka.every((k) => b[k] === a[k])
}

export interface CreateThingOutput {
  readonly thingName: string
  readonly thingArn: string
  readonly thingId: string
}

/**
 * Creates a thing; an identical repeat returns the existing identifiers, a different one is
 * ResourceAlreadyExistsException with the existing id and ARN. [spec: things#creatething]
 */
export async function createThing(
  ctx: AppContext,
  input: {
    thingName: string
    thingTypeName?: string | undefined
    attributePayload?: AttributePayload | undefined
    billingGroupName?: string | undefined
  },
): Promise<CreateThingOutput> {
  rejectUnsupportedReferences(input)
  const attributes = { ...(input.attributePayload?.attributes ?? {}) }
  checkAttributeCount(ctx, attributes)
  const nowMs = ctx.clock.nowMs()
  const arn = thingArn(ctx.scope, input.thingName)
  return ctx.store.mutateThing(input.thingName, (current) => {
    if (current === undefined) {
      const next: Thing = {
        thingName: input.thingName,
        thingId: randomUUID(),
        attributes,
        version: 1,
        createdAtMs: nowMs,
      }
      return {
        kind: 'write',
        next,
        result: { thingName: next.thingName, thingArn: arn, thingId: next.thingId },
      }
    }
    if (sameAttributes(current.attributes, attributes)) {
      return {
        kind: 'none',
        result: { thingName: current.thingName, thingArn: arn, thingId: current.thingId },
      }
    }
    return {
      kind: 'reject',
      error: new ServiceError(
        'ResourceAlreadyExistsException',
        `Thing ${input.thingName} already exists with a different configuration`,
        { resourceId: current.thingId, resourceArn: arn },
      ),
    }
  })
}

export async function describeThing(ctx: AppContext, input: { thingName: string }): Promise<Thing> {
  const thing = await ctx.store.getThing(input.thingName)
  if (thing === undefined) throw notFound(`Thing ${input.thingName} not found`)
  return thing
}

export async function listThings(
  ctx: AppContext,
  input: {
    attributeName?: string | undefined
    attributeValue?: string | undefined
    thingTypeName?: string | undefined
    usePrefixAttributeValue?: boolean | undefined
    maxResults?: number | undefined
    nextToken?: string | undefined
  },
): Promise<{ things: readonly Thing[]; nextToken?: string }> {
  if (input.attributeValue !== undefined && input.attributeName === undefined) {
    throw invalidRequest('attributeValue requires attributeName')
  }
  const filters = {
    attributeName: input.attributeName,
    attributeValue: input.attributeValue,
    usePrefixAttributeValue: input.usePrefixAttributeValue,
    thingTypeName: input.thingTypeName,
  }
  const page = pageRequest('ListThings', filters, input, ctx.settings.defaultPageSize, 'name')
  // No thing has a type, so a type filter matches nothing. [spec: things#listthings]
  if (input.thingTypeName !== undefined) return { things: [] }
  const result = await ctx.store.listThings(filters, page)
  const token = nextToken('ListThings', filters, result)
  return { things: result.items, ...(token === undefined ? {} : { nextToken: token }) }
}

/** [spec: things#updatething] */
export async function updateThing(
  ctx: AppContext,
  input: {
    thingName: string
    thingTypeName?: string | undefined
    attributePayload?: AttributePayload | undefined
    expectedVersion?: number | undefined
    removeThingType?: boolean | undefined
  },
): Promise<void> {
  if (input.removeThingType === true && input.thingTypeName !== undefined) {
    throw invalidRequest('removeThingType and thingTypeName cannot be given together')
  }
  await ctx.store.mutateThing(input.thingName, (current) => {
    if (current === undefined)
      return { kind: 'reject', error: notFound(`Thing ${input.thingName} not found`) }
    if (input.expectedVersion !== undefined && input.expectedVersion !== current.version) {
      return {
        kind: 'reject',
        error: new ServiceError(
          'VersionConflictException',
          `expectedVersion ${input.expectedVersion} does not match version ${current.version} of thing ${input.thingName}`,
        ),
      }
    }
    if (input.thingTypeName !== undefined) {
      return { kind: 'reject', error: notFound(`Thing type ${input.thingTypeName} not found`) }
    }
    let attributes = current.attributes
    const payload = input.attributePayload
    if (payload?.attributes !== undefined) {
      if (payload.merge === true) {
        const merged: Record<string, string> = { ...current.attributes }
        for (const [k, v] of Object.entries(payload.attributes)) {
          // An empty value removes the attribute when merging.
          if (v === '') delete merged[k]
          else merged[k] = v
        }
        attributes = merged
      } else {
        attributes = Object.fromEntries(Object.entries(payload.attributes).filter(([, v]) => v !== ''))
      }
    }
    try {
      checkAttributeCount(ctx, { ...attributes })
    } catch (error) {
      return { kind: 'reject', error: error as ServiceError }
    }
    return {
      kind: 'write',
      next: { ...current, attributes, version: current.version + 1 },
      result: undefined,
    }
  })
}

/**
 * Deletes a thing; a missing thing is a success. Its QUEUED and IN_PROGRESS executions become
 * REMOVED in the same transaction. [spec: things#deletething]
 */
export async function deleteThing(
  ctx: AppContext,
  input: { thingName: string; expectedVersion?: number | undefined },
): Promise<void> {
  const nowMs = ctx.clock.nowMs()
  await ctx.store.mutateThing(input.thingName, (current) => {
    if (current === undefined) return { kind: 'none', result: undefined }
    if (input.expectedVersion !== undefined && input.expectedVersion !== current.version) {
      return {
        kind: 'reject',
        error: new ServiceError(
          'VersionConflictException',
          `expectedVersion ${input.expectedVersion} does not match version ${current.version} of thing ${input.thingName}`,
        ),
      }
    }
    return { kind: 'delete', atMs: nowMs, result: undefined }
  })
}
