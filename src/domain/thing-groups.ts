/**
 * Static thing groups: the hierarchy and membership rules, as pure decisions over facts the store
 * reads in the same transaction. [spec: things#hierarchy-rules]
 */
import { ServiceError, invalidRequest, notFound } from './errors.js'
import type { JsonObject } from './records.js'

export interface ThingGroup {
  readonly thingGroupName: string
  readonly thingGroupId: string
  readonly parentGroupName?: string
  /** 1 for a root group. */
  readonly depth: number
  readonly properties: JsonObject
  readonly tags?: readonly JsonObject[]
  readonly version: number
  readonly createdAtMs: number
}

export interface GroupLimits {
  /** [spec: limits#4] hierarchy depth 7 */
  readonly maxDepth: number
  /** [spec: limits#4] direct children 100 */
  readonly maxChildren: number
  /** [spec: limits#4] static groups per thing 10 */
  readonly maxGroupsPerThing: number
  /** [open-question 6] a thing may not be in two groups of one hierarchy */
  readonly oneGroupPerHierarchy: boolean
}

export const DEFAULT_GROUP_LIMITS: GroupLimits = {
  maxDepth: 7,
  maxChildren: 100,
  maxGroupsPerThing: 10,
  oneGroupPerHierarchy: true,
}

/** What the store knows about a group a decision names. */
export interface GroupFacts {
  readonly group: ThingGroup | undefined
  /** Name of the root of its hierarchy (itself for a root). */
  readonly rootName: string | undefined
  readonly childCount: number
}

export type GroupDecision<R> =
  | { readonly kind: 'write'; readonly next: ThingGroup; readonly result: R }
  | { readonly kind: 'delete'; readonly atMs: number; readonly result: R }
  | { readonly kind: 'none'; readonly result: R }
  | { readonly kind: 'reject'; readonly error: ServiceError }

const sameJson = (a: unknown, b: unknown): boolean => JSON.stringify(a) === JSON.stringify(b)

/**
 * CreateThingGroup. An identical repeat returns the existing group [open-question 8]; a different
 * one (parent or properties) is ResourceAlreadyExistsException with the existing group's id and ARN,
 * worded as AWS words it. [spec: things#createthinggroup]
 */
export function decideCreateGroup(
  self: GroupFacts,
  parent: GroupFacts | undefined,
  proposed: ThingGroup,
  limits: GroupLimits,
  arn: string,
): GroupDecision<ThingGroup> {
  const existing = self.group
  if (existing !== undefined) {
    if (
      existing.parentGroupName === proposed.parentGroupName &&
      sameJson(existing.properties, proposed.properties)
    ) {
      return { kind: 'none', result: existing }
    }
    return {
      kind: 'reject',
      error: new ServiceError(
        'ResourceAlreadyExistsException',
        `Thing Group ${proposed.thingGroupName} already exists in current account with different properties`,
        { resourceId: existing.thingGroupId, resourceArn: arn },
      ),
    }
  }
  if (proposed.parentGroupName === undefined)
    return { kind: 'write', next: { ...proposed, depth: 1 }, result: proposed }
  if (parent?.group === undefined) {
    return { kind: 'reject', error: notFound(`Thing group ${proposed.parentGroupName} not found`) }
  }
  const depth = parent.group.depth + 1
  if (depth > limits.maxDepth) {
    return {
      kind: 'reject',
      error: invalidRequest(
        `parentGroupName: a group hierarchy may be at most ${limits.maxDepth} levels deep`,
      ),
    }
  }
  if (parent.childCount >= limits.maxChildren) {
    return {
      kind: 'reject',
      error: invalidRequest(
        `parentGroupName: thing group ${proposed.parentGroupName} already has ${limits.maxChildren} child groups`,
      ),
    }
  }
  const next = { ...proposed, depth }
  return { kind: 'write', next, result: next }
}

/** DeleteThingGroup: a missing group is a success; a group with children cannot go. [spec: things#deletethinggroup] */
export function decideDeleteGroup(
  self: GroupFacts,
  expectedVersion: number | undefined,
  nowMs: number,
): GroupDecision<void> {
  const g = self.group
  if (g === undefined) return { kind: 'none', result: undefined }
  if (expectedVersion !== undefined && expectedVersion !== g.version) {
    return {
      kind: 'reject',
      error: new ServiceError(
        'VersionConflictException',
        `expectedVersion ${expectedVersion} does not match version ${g.version} of thing group ${g.thingGroupName}`,
      ),
    }
  }
  if (self.childCount > 0) {
    return {
      kind: 'reject',
      error: invalidRequest(`Thing group ${g.thingGroupName} has child groups; delete them first`),
    }
  }
  return { kind: 'delete', atMs: nowMs, result: undefined }
}

/**
 * Membership change of one thing: the groups it is in now, the groups to add and to remove (each with
 * its facts). Adding a member twice or removing a non-member is a success with no change
 * [open-question 10]. Returns the final list of groups or the error.
 */
export function decideMembership(
  thingName: string,
  current: readonly { name: string; rootName: string }[],
  add: readonly { name: string; facts: GroupFacts }[],
  remove: readonly { name: string; facts: GroupFacts }[],
  limits: GroupLimits,
): { kind: 'ok'; add: string[]; remove: string[] } | { kind: 'reject'; error: ServiceError } {
  for (const g of [...add, ...remove]) {
    if (g.facts.group === undefined)
      return { kind: 'reject', error: notFound(`Thing group ${g.name} not found`) }
  }
  const removing = new Set(remove.map((g) => g.name))
  const kept = current.filter((g) => !removing.has(g.name))
  const final = [...kept]
  const toAdd: string[] = []
  for (const g of add) {
    if (final.some((f) => f.name === g.name)) continue
    const rootName = g.facts.rootName ?? g.name
    if (limits.oneGroupPerHierarchy && final.some((f) => f.rootName === rootName)) {
      const other = final.find((f) => f.rootName === rootName)?.name ?? ''
      return {
        kind: 'reject',
        error: invalidRequest(
          `Thing ${thingName} is already in thing group ${other} of the same hierarchy (root ${rootName}) as ${g.name}`,
        ),
      }
    }
    final.push({ name: g.name, rootName })
    toAdd.push(g.name)
  }
  if (final.length > limits.maxGroupsPerThing) {
    return {
      kind: 'reject',
      error: invalidRequest(`Thing ${thingName} may be in at most ${limits.maxGroupsPerThing} thing groups`),
    }
  }
  const toRemove = current.filter((g) => removing.has(g.name)).map((g) => g.name)
  return { kind: 'ok', add: toAdd, remove: toRemove }
}
