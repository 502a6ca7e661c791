/**
 * Static thing-group use cases. [spec: things#2-operations] Membership changes apply their effects on
 * CONTINUOUS jobs in the same transaction. [spec: state-machines#7]
 */
import { randomUUID } from 'node:crypto'
import type { ArnScope } from '../domain/arns.js'
import { thingGroupArn } from '../domain/arns.js'
import { ServiceError, invalidRequest, notFound } from '../domain/errors.js'
import type { JsonObject } from '../domain/records.js'
import type { ThingGroup } from '../domain/thing-groups.js'
import { decideCreateGroup, decideDeleteGroup, decideMembership } from '../domain/thing-groups.js'
import type { AppContext } from './context.js'
import { nextToken, pageRequest } from './pagination.js'

export interface ThingGroupProperties {
  readonly thingGroupDescription?: string | undefined
  readonly attributePayload?: { attributes?: Record<string, string>; merge?: boolean } | undefined
}

/** Stored properties: the description and the attributes (merge flags are request-only). */
function storedProperties(p: ThingGroupProperties | undefined, current?: JsonObject): JsonObject {
  const attributesNow =
    (current?.['attributePayload'] as { attributes?: Record<string, string> } | undefined)?.attributes ?? {}
  let attributes: Record<string, string> = attributesNow
  const payload = p?.attributePayload
  if (payload?.attributes !== undefined) {
    const base = payload.merge === true ? { ...attributesNow } : {}
    for (const [k, v] of Object.entries(payload.attributes)) {
      if (v === '') delete base[k]
      else base[k] = v
    }
    attributes = base
  }
  const description = p === undefined ? current?.['thingGroupDescription'] : p.thingGroupDescription
  return {
    ...(description === undefined ? {} : { thingGroupDescription: description }),
    ...(Object.keys(attributes).length === 0 && current === undefined && p?.attributePayload === undefined
      ? {}
      : { attributePayload: { attributes } }),
  }
}

export async function createThingGroup(
  ctx: AppContext,
  input: {
    thingGroupName: string
    parentGroupName?: string | undefined
    thingGroupProperties?: ThingGroupProperties | undefined
    tags?: readonly JsonObject[] | undefined
  },
): Promise<{ thingGroupName: string; thingGroupArn: string; thingGroupId: string }> {
  const arn = thingGroupArn(ctx.scope, input.thingGroupName)
  const proposed: ThingGroup = {
    thingGroupName: input.thingGroupName,
    thingGroupId: randomUUID(),
    ...(input.parentGroupName === undefined ? {} : { parentGroupName: input.parentGroupName }),
    depth: 1,
    properties: storedProperties(input.thingGroupProperties),
    ...(input.tags === undefined ? {} : { tags: input.tags }),
    version: 1,
    createdAtMs: ctx.clock.nowMs(),
  }
  const group = await ctx.store.mutateThingGroup(
    input.thingGroupName,
    input.parentGroupName,
    (self, parent) => decideCreateGroup(self, parent, proposed, ctx.settings.groups, arn),
  )
  return { thingGroupName: group.thingGroupName, thingGroupArn: arn, thingGroupId: group.thingGroupId }
}

export async function describeThingGroup(
  ctx: AppContext,
  input: { thingGroupName: string },
): Promise<{ group: ThingGroup; ancestors: readonly ThingGroup[] }> {
  const group = await ctx.store.getThingGroup(input.thingGroupName)
  if (group === undefined) throw notFound(`Thing group ${input.thingGroupName} not found`)
  return { group, ancestors: await ctx.store.groupAncestors(input.thingGroupName) }
}

/** [spec: things] UpdateThingGroup: properties replaced (attributes merged when asked), version + 1. */
export async function updateThingGroup(
  ctx: AppContext,
  input: {
    thingGroupName: string
    thingGroupProperties: ThingGroupProperties
    expectedVersion?: number | undefined
  },
): Promise<{ version: number }> {
  return ctx.store.mutateThingGroup(input.thingGroupName, undefined, (self) => {
    const g = self.group
    if (g === undefined)
      return { kind: 'reject', error: notFound(`Thing group ${input.thingGroupName} not found`) }
    if (input.expectedVersion !== undefined && input.expectedVersion !== g.version) {
      return {
        kind: 'reject',
        error: new ServiceError(
          'VersionConflictException',
          `expectedVersion ${input.expectedVersion} does not match version ${g.version} of thing group ${g.thingGroupName}`,
        ),
      }
    }
    const next = {
      ...g,
      properties: storedProperties(input.thingGroupProperties, g.properties),
      version: g.version + 1,
    }
    return { kind: 'write', next, result: { version: next.version } }
  })
}

export async function deleteThingGroup(
  ctx: AppContext,
  input: { thingGroupName: string; expectedVersion?: number | undefined },
): Promise<void> {
  const nowMs = ctx.clock.nowMs()
  await ctx.store.mutateThingGroup(input.thingGroupName, undefined, (self) =>
    decideDeleteGroup(self, input.expectedVersion, nowMs),
  )
}

/**
 * ListThingGroups, by name in byte order, keyset-paged. [spec: things#listthinggroups] `recursive`
 * defaults to true: `parentGroup` lists all its descendants, or only its direct children with
 * `recursive=false`; without `parentGroup`, every group, or only the root groups with
 * `recursive=false`. `namePrefixFilter` then keeps the names that start with it. A `nextToken` is
 * accepted only with the filters that produced it (an omitted `recursive` counts as true).
 * ResourceNotFoundException for an unknown `parentGroup`; InvalidRequestException for a foreign token.
 */
export async function listThingGroups(
  ctx: AppContext,
  input: {
    parentGroup?: string | undefined
    namePrefixFilter?: string | undefined
    recursive?: boolean | undefined
    maxResults?: number | undefined
    nextToken?: string | undefined
  },
): Promise<{ groups: readonly ThingGroup[]; nextToken?: string }> {
  const filters = {
    parentGroup: input.parentGroup,
    namePrefixFilter: input.namePrefixFilter,
    // [spec: things#listthinggroups] AWS lists grandchildren for `parentGroup` alone.
    recursive: input.recursive ?? true,
  }
  const page = pageRequest('ListThingGroups', filters, input, ctx.settings.defaultPageSize, 'name')
  if (input.parentGroup !== undefined && (await ctx.store.getThingGroup(input.parentGroup)) === undefined) {
    throw notFound(`Thing group ${input.parentGroup} not found`)
  }
  const result = await ctx.store.listThingGroups(filters, page)
  const token = nextToken('ListThingGroups', filters, result)
  return { groups: result.items, ...(token === undefined ? {} : { nextToken: token }) }
}

function nameFrom(
  scope: ArnScope,
  kind: 'thing' | 'thinggroup',
  name: string | undefined,
  arn: string | undefined,
  field: string,
): string {
  if (name !== undefined) return name
  if (arn === undefined) throw invalidRequest(`${field}Name or ${field}Arn is required`)
  const prefix = `arn:aws:iot:${scope.region}:${scope.accountId}:${kind}/`
  const rest = arn.startsWith(prefix) ? arn.slice(prefix.length) : ''
  if (!/^[a-zA-Z0-9:_-]{1,128}$/.test(rest))
    throw invalidRequest(`${field}Arn is not a ${kind} ARN of this service: ${arn}`)
  return rest
}

async function changeMemberships(
  ctx: AppContext,
  thingName: string,
  add: readonly string[],
  remove: readonly string[],
): Promise<void> {
  const exists = await ctx.store.updateMemberships(
    thingName,
    { add, remove },
    (current, toAdd, toRemove) => decideMembership(thingName, current, toAdd, toRemove, ctx.settings.groups),
    ctx.clock.nowMs(),
  )
  if (!exists) throw notFound(`Thing ${thingName} not found`)
}

export async function addThingToThingGroup(
  ctx: AppContext,
  input: { thingGroupName?: string; thingGroupArn?: string; thingName?: string; thingArn?: string },
): Promise<void> {
  const group = nameFrom(ctx.scope, 'thinggroup', input.thingGroupName, input.thingGroupArn, 'thingGroup')
  const thing = nameFrom(ctx.scope, 'thing', input.thingName, input.thingArn, 'thing')
  await changeMemberships(ctx, thing, [group], [])
}

export async function removeThingFromThingGroup(
  ctx: AppContext,
  input: { thingGroupName?: string; thingGroupArn?: string; thingName?: string; thingArn?: string },
): Promise<void> {
  const group = nameFrom(ctx.scope, 'thinggroup', input.thingGroupName, input.thingGroupArn, 'thingGroup')
  const thing = nameFrom(ctx.scope, 'thing', input.thingName, input.thingArn, 'thing')
  await changeMemberships(ctx, thing, [], [group])
}

export async function updateThingGroupsForThing(
  ctx: AppContext,
  input: { thingName?: string; thingGroupsToAdd?: string[]; thingGroupsToRemove?: string[] },
): Promise<void> {
  if (input.thingName === undefined) throw invalidRequest('thingName is required')
  await changeMemberships(ctx, input.thingName, input.thingGroupsToAdd ?? [], input.thingGroupsToRemove ?? [])
}

export async function listThingsInThingGroup(
  ctx: AppContext,
  input: {
    thingGroupName: string
    recursive?: boolean | undefined
    maxResults?: number | undefined
    nextToken?: string | undefined
  },
): Promise<{ things: readonly string[]; nextToken?: string }> {
  const filters = { thingGroupName: input.thingGroupName, recursive: input.recursive === true }
  const page = pageRequest('ListThingsInThingGroup', filters, input, ctx.settings.defaultPageSize, 'name')
  if ((await ctx.store.getThingGroup(input.thingGroupName)) === undefined) {
    throw notFound(`Thing group ${input.thingGroupName} not found`)
  }
  const result = await ctx.store.listThingsInGroup(input.thingGroupName, input.recursive === true, page)
  const token = nextToken('ListThingsInThingGroup', filters, result)
  return { things: result.items, ...(token === undefined ? {} : { nextToken: token }) }
}

export async function listThingGroupsForThing(
  ctx: AppContext,
  input: { thingName: string; maxResults?: number | undefined; nextToken?: string | undefined },
): Promise<{ groups: readonly ThingGroup[]; nextToken?: string }> {
  const filters = { thingName: input.thingName }
  const page = pageRequest('ListThingGroupsForThing', filters, input, ctx.settings.defaultPageSize, 'name')
  if (!(await ctx.store.thingExists(input.thingName))) throw notFound(`Thing ${input.thingName} not found`)
  const result = await ctx.store.listGroupsForThing(input.thingName, page)
  const token = nextToken('ListThingGroupsForThing', filters, result)
  return { groups: result.items, ...(token === undefined ? {} : { nextToken: token }) }
}
