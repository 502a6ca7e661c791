import {
  AddThingToThingGroupCommand,
  CreateThingCommand,
  DeleteThingCommand,
  InvalidRequestException,
  ListThingGroupsForThingCommand,
  ListThingsInThingGroupCommand,
  RemoveThingFromThingGroupCommand,
  ResourceNotFoundException,
  UpdateThingGroupsForThingCommand,
  paginateListThingGroupsForThing,
  paginateListThingsInThingGroup,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { startHarness, thingArnOf, unique } from '../../support/harness.js'
import { addToGroup, createGroup, createThings, groupArnOf } from '../../support/thing-groups.js'

// The groups-per-thing quota (AWS: 10) is lowered to 3 so the limit is reached in a few calls.
const LIMITS = { maxDepth: 7, maxChildren: 100, maxGroupsPerThing: 3, oneGroupPerHierarchy: true }

let h: Harness
before(async () => {
  h = await startHarness({ settings: { groups: LIMITS } })
})
after(async () => {
  await h.close()
})

/** The direct groups of a thing (all pages), by name. */
async function groupsOf(thingName: string): Promise<string[]> {
  const names: string[] = []
  for await (const page of paginateListThingGroupsForThing({ client: h.iot, pageSize: 250 }, { thingName })) {
    for (const g of page.thingGroups ?? []) {
      assert.equal(g.groupArn, groupArnOf(g.groupName ?? ''))
      names.push(g.groupName ?? '')
    }
  }
  return names
}

/** The things of a group (all pages). */
async function thingsIn(thingGroupName: string, recursive = false): Promise<string[]> {
  const names: string[] = []
  for await (const page of paginateListThingsInThingGroup(
    { client: h.iot, pageSize: 250 },
    { thingGroupName, recursive },
  )) {
    names.push(...(page.things ?? []))
  }
  return names
}

const isInvalidRequest = (e: unknown): boolean => {
  assert.ok(e instanceof InvalidRequestException, `InvalidRequestException, got ${String(e)}`)
  assert.equal(e.$metadata.httpStatusCode, 400)
  return true
}
const isNotFound = (e: unknown): boolean => {
  assert.ok(e instanceof ResourceNotFoundException, `ResourceNotFoundException, got ${String(e)}`)
  assert.equal(e.$metadata.httpStatusCode, 404)
  return true
}

describe('AddThingToThingGroup / RemoveThingFromThingGroup [spec: things#addthingtothinggroup] [spec: things#removethingfromthinggroup]', () => {
  it('adds and removes by name', async () => {
    const group = await createGroup(h)
    const [thingName] = await createThings(h, 1)
    assert.ok(thingName !== undefined)
    const added = await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: group.name, thingName }))
    assert.equal(added.$metadata.httpStatusCode, 200)
    assert.deepEqual(await groupsOf(thingName), [group.name])
    assert.deepEqual(await thingsIn(group.name), [thingName])
    const removed = await h.iot.send(
      new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName }),
    )
    assert.equal(removed.$metadata.httpStatusCode, 200)
    assert.deepEqual(await groupsOf(thingName), [])
    assert.deepEqual(await thingsIn(group.name), [])
  })

  it('adds and removes by ARN', async () => {
    const group = await createGroup(h)
    const [thingName] = await createThings(h, 1)
    assert.ok(thingName !== undefined)
    await h.iot.send(
      new AddThingToThingGroupCommand({ thingGroupArn: group.arn, thingArn: thingArnOf(thingName) }),
    )
    assert.deepEqual(await groupsOf(thingName), [group.name])
    await h.iot.send(
      new RemoveThingFromThingGroupCommand({ thingGroupArn: group.arn, thingArn: thingArnOf(thingName) }),
    )
    assert.deepEqual(await groupsOf(thingName), [])
    // Mixed: group by ARN, thing by name, and the other way round.
    await h.iot.send(new AddThingToThingGroupCommand({ thingGroupArn: group.arn, thingName }))
    assert.deepEqual(await groupsOf(thingName), [group.name])
    await h.iot.send(
      new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingArn: thingArnOf(thingName) }),
    )
    assert.deepEqual(await groupsOf(thingName), [])
  })

  it('answers InvalidRequestException for an ARN that is not a thing / thing-group ARN of this service', async () => {
    const group = await createGroup(h)
    const [thingName] = await createThings(h, 1)
    assert.ok(thingName !== undefined)
    const badGroupArns = [
      thingArnOf(group.name), // a thing ARN where a group ARN belongs
      `arn:aws:iot:eu-west-1:123456789012:thinggroup/${group.name}`, // another region
      `arn:aws:iot:us-east-1:999999999999:thinggroup/${group.name}`, // another account
      'not-an-arn',
    ]
    for (const thingGroupArn of badGroupArns) {
      await assert.rejects(
        h.iot.send(new AddThingToThingGroupCommand({ thingGroupArn, thingName })),
        isInvalidRequest,
        thingGroupArn,
      )
      await assert.rejects(
        h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupArn, thingName })),
        isInvalidRequest,
        thingGroupArn,
      )
    }
    const badThingArns = [group.arn, `arn:aws:iot:eu-west-1:123456789012:thing/${thingName}`]
    for (const thingArn of badThingArns) {
      await assert.rejects(
        h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: group.name, thingArn })),
        isInvalidRequest,
        thingArn,
      )
    }
    assert.deepEqual(await groupsOf(thingName), [])
  })

  it('answers InvalidRequestException when neither name nor ARN of the group or of the thing is given', async () => {
    const group = await createGroup(h)
    const [thingName] = await createThings(h, 1)
    assert.ok(thingName !== undefined)
    await assert.rejects(h.iot.send(new AddThingToThingGroupCommand({ thingName })), isInvalidRequest)
    await assert.rejects(
      h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: group.name })),
      isInvalidRequest,
    )
    await assert.rejects(h.iot.send(new RemoveThingFromThingGroupCommand({ thingName })), isInvalidRequest)
    await assert.rejects(
      h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: group.name })),
      isInvalidRequest,
    )
    assert.deepEqual(await thingsIn(group.name), [])
  })

  it('answers ResourceNotFoundException for an unknown thing or group', async () => {
    const group = await createGroup(h)
    const [thingName] = await createThings(h, 1)
    assert.ok(thingName !== undefined)
    await assert.rejects(
      h.iot.send(
        new AddThingToThingGroupCommand({ thingGroupName: group.name, thingName: unique('missing') }),
      ),
      isNotFound,
    )
    await assert.rejects(
      h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: unique('missing'), thingName })),
      isNotFound,
    )
    await assert.rejects(
      h.iot.send(
        new AddThingToThingGroupCommand({ thingGroupArn: groupArnOf(unique('missing')), thingName }),
      ),
      isNotFound,
    )
    await assert.rejects(
      h.iot.send(
        new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName: unique('missing') }),
      ),
      isNotFound,
    )
    await assert.rejects(
      h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: unique('missing'), thingName })),
      isNotFound,
    )
    assert.deepEqual(await thingsIn(group.name), [])
    assert.deepEqual(await groupsOf(thingName), [])
  })

  it('[open-question 10] adding an existing member succeeds with no change', async () => {
    const group = await createGroup(h)
    const [thingName] = await createThings(h, 1, group.name)
    assert.ok(thingName !== undefined)
    const again = await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: group.name, thingName }))
    assert.equal(again.$metadata.httpStatusCode, 200)
    assert.deepEqual(await groupsOf(thingName), [group.name])
    assert.deepEqual(await thingsIn(group.name), [thingName])
  })

  it('[open-question 10] removing a non-member succeeds with no change', async () => {
    const group = await createGroup(h)
    const other = await createGroup(h)
    const [thingName] = await createThings(h, 1, other.name)
    assert.ok(thingName !== undefined)
    const out = await h.iot.send(
      new RemoveThingFromThingGroupCommand({ thingGroupName: group.name, thingName }),
    )
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.deepEqual(await groupsOf(thingName), [other.name])
  })

  it('limits a thing to maxGroupsPerThing direct groups (lowered to 3; AWS 10) with InvalidRequestException', async () => {
    assert.equal(h.server.context.settings.groups.maxGroupsPerThing, 3)
    const groups = [await createGroup(h), await createGroup(h), await createGroup(h), await createGroup(h)]
    const [thingName] = await createThings(h, 1)
    assert.ok(thingName !== undefined)
    for (const g of groups.slice(0, 3)) await addToGroup(h, g.name, thingName)
    const fourth = groups[3]
    assert.ok(fourth !== undefined)
    await assert.rejects(
      h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: fourth.name, thingName })),
      isInvalidRequest,
    )
    assert.deepEqual(
      await groupsOf(thingName),
      groups
        .slice(0, 3)
        .map((g) => g.name)
        .sort(),
    )
    assert.deepEqual(await thingsIn(fourth.name), [])
    // Re-adding one it already has is no change, so it is not refused at the limit.
    await addToGroup(h, groups[0]?.name ?? '', thingName)
  })

  it('[open-question 6] refuses a second group of the same hierarchy with InvalidRequestException', async () => {
    assert.equal(h.server.context.settings.groups.oneGroupPerHierarchy, true)
    const root = await createGroup(h)
    const childA = await createGroup(h, { parent: root.name })
    const childB = await createGroup(h, { parent: root.name })
    const grandchild = await createGroup(h, { parent: childA.name })
    const otherRoot = await createGroup(h)
    const [thingName] = await createThings(h, 1, childA.name)
    assert.ok(thingName !== undefined)
    for (const g of [root, childB, grandchild]) {
      await assert.rejects(
        h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: g.name, thingName })),
        isInvalidRequest,
        g.name,
      )
    }
    // A group of another hierarchy is fine.
    await addToGroup(h, otherRoot.name, thingName)
    assert.deepEqual(await groupsOf(thingName), [childA.name, otherRoot.name].sort())
  })
})

describe('UpdateThingGroupsForThing [spec: things#hierarchy-rules] (not in the spec; docs/compatibility.md)', () => {
  it('adds and removes in one call', async () => {
    const keep = await createGroup(h)
    const drop = await createGroup(h)
    const add1 = await createGroup(h)
    const add2 = await createGroup(h)
    const [thingName] = await createThings(h, 1)
    assert.ok(thingName !== undefined)
    await addToGroup(h, keep.name, thingName)
    await addToGroup(h, drop.name, thingName)
    const out = await h.iot.send(
      new UpdateThingGroupsForThingCommand({
        thingName,
        thingGroupsToAdd: [add1.name, add2.name],
        thingGroupsToRemove: [drop.name],
      }),
    )
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.deepEqual(await groupsOf(thingName), [keep.name, add1.name, add2.name].sort())
    assert.deepEqual(await thingsIn(drop.name), [])
  })

  it('moves a thing within one hierarchy by removing and adding in the same call', async () => {
    const root = await createGroup(h)
    const from = await createGroup(h, { parent: root.name })
    const to = await createGroup(h, { parent: root.name })
    const [thingName] = await createThings(h, 1, from.name)
    assert.ok(thingName !== undefined)
    await h.iot.send(
      new UpdateThingGroupsForThingCommand({
        thingName,
        thingGroupsToAdd: [to.name],
        thingGroupsToRemove: [from.name],
      }),
    )
    assert.deepEqual(await groupsOf(thingName), [to.name])
  })

  it('changes nothing when one named group is unknown (ResourceNotFoundException)', async () => {
    const current = await createGroup(h)
    const known = await createGroup(h)
    const [thingName] = await createThings(h, 1, current.name)
    assert.ok(thingName !== undefined)
    await assert.rejects(
      h.iot.send(
        new UpdateThingGroupsForThingCommand({
          thingName,
          thingGroupsToAdd: [known.name, unique('missing')],
          thingGroupsToRemove: [current.name],
        }),
      ),
      isNotFound,
    )
    assert.deepEqual(await groupsOf(thingName), [current.name])
    assert.deepEqual(await thingsIn(known.name), [])
    await assert.rejects(
      h.iot.send(
        new UpdateThingGroupsForThingCommand({
          thingName,
          thingGroupsToAdd: [known.name],
          thingGroupsToRemove: [current.name, unique('missing')],
        }),
      ),
      isNotFound,
    )
    assert.deepEqual(await groupsOf(thingName), [current.name])
  })

  it('changes nothing when the result would break the groups-per-thing limit', async () => {
    const groups = [await createGroup(h), await createGroup(h), await createGroup(h), await createGroup(h)]
    const [thingName] = await createThings(h, 1)
    assert.ok(thingName !== undefined)
    await assert.rejects(
      h.iot.send(
        new UpdateThingGroupsForThingCommand({ thingName, thingGroupsToAdd: groups.map((g) => g.name) }),
      ),
      isInvalidRequest,
    )
    assert.deepEqual(await groupsOf(thingName), [])
  })

  it('answers ResourceNotFoundException for an unknown thing', async () => {
    const group = await createGroup(h)
    await assert.rejects(
      h.iot.send(
        new UpdateThingGroupsForThingCommand({
          thingName: unique('missing'),
          thingGroupsToAdd: [group.name],
        }),
      ),
      isNotFound,
    )
    assert.deepEqual(await thingsIn(group.name), [])
  })
})

describe('ListThingsInThingGroup [spec: things#listthingsinthinggroup]', () => {
  it('lists direct members by default and the members of all descendants with recursive=true', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const grandchild = await createGroup(h, { parent: child.name })
    const sibling = await createGroup(h, { parent: root.name })
    const inRoot = await createThings(h, 2, root.name)
    const inChild = await createThings(h, 1, child.name)
    const inGrandchild = await createThings(h, 2, grandchild.name)
    const inSibling = await createThings(h, 1, sibling.name)
    assert.deepEqual(await thingsIn(root.name), [...inRoot].sort())
    assert.deepEqual(
      await thingsIn(root.name, true),
      [...inRoot, ...inChild, ...inGrandchild, ...inSibling].sort(),
    )
    assert.deepEqual(await thingsIn(child.name, true), [...inChild, ...inGrandchild].sort())
    assert.deepEqual(await thingsIn(grandchild.name, true), [...inGrandchild].sort())
  })

  it('returns the things as names, ordered, in pages through the SDK paginator', async () => {
    const group = await createGroup(h)
    const things = await createThings(h, 5, group.name)
    const pages: string[][] = []
    for await (const page of paginateListThingsInThingGroup(
      { client: h.iot, pageSize: 2 },
      { thingGroupName: group.name },
    )) {
      pages.push(page.things ?? [])
    }
    assert.deepEqual(
      pages.map((p) => p.length),
      [2, 2, 1],
    )
    assert.deepEqual(pages.flat(), [...things].sort())
    const first = await h.iot.send(
      new ListThingsInThingGroupCommand({ thingGroupName: group.name, maxResults: 2 }),
    )
    assert.ok(typeof first.nextToken === 'string' && first.nextToken.length > 0)
  })

  it('answers ResourceNotFoundException for an unknown group', async () => {
    await assert.rejects(
      h.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: unique('missing') })),
      isNotFound,
    )
  })
})

describe('ListThingGroupsForThing [spec: things#listthinggroupsforthing]', () => {
  it('[open-question 11] lists the direct groups only, not their ancestors', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const other = await createGroup(h)
    const [thingName] = await createThings(h, 1, child.name)
    assert.ok(thingName !== undefined)
    await addToGroup(h, other.name, thingName)
    const out = await h.iot.send(new ListThingGroupsForThingCommand({ thingName }))
    assert.deepEqual(
      out.thingGroups,
      [
        { groupName: child.name, groupArn: child.arn },
        { groupName: other.name, groupArn: other.arn },
      ].sort((a, b) => (a.groupName < b.groupName ? -1 : 1)),
    )
  })

  it('pages through the SDK paginator', async () => {
    const groups = [await createGroup(h), await createGroup(h), await createGroup(h)]
    const [thingName] = await createThings(h, 1)
    assert.ok(thingName !== undefined)
    for (const g of groups) await addToGroup(h, g.name, thingName)
    const pages: string[][] = []
    for await (const page of paginateListThingGroupsForThing({ client: h.iot, pageSize: 2 }, { thingName })) {
      pages.push((page.thingGroups ?? []).map((g) => g.groupName ?? ''))
    }
    assert.deepEqual(
      pages.map((p) => p.length),
      [2, 1],
    )
    assert.deepEqual(pages.flat(), groups.map((g) => g.name).sort())
  })

  it('returns an empty list for a thing in no group', async () => {
    const [thingName] = await createThings(h, 1)
    assert.ok(thingName !== undefined)
    const out = await h.iot.send(new ListThingGroupsForThingCommand({ thingName }))
    assert.deepEqual(out.thingGroups ?? [], [])
  })

  it('answers ResourceNotFoundException for an unknown thing', async () => {
    await assert.rejects(
      h.iot.send(new ListThingGroupsForThingCommand({ thingName: unique('missing') })),
      isNotFound,
    )
  })
})

describe('DeleteThing and memberships [spec: things#deletething]', () => {
  it('drops the memberships of the deleted thing', async () => {
    const a = await createGroup(h)
    const b = await createGroup(h)
    const [gone, stays] = await createThings(h, 2, a.name)
    assert.ok(gone !== undefined && stays !== undefined)
    await addToGroup(h, b.name, gone)
    await h.iot.send(new DeleteThingCommand({ thingName: gone }))
    assert.deepEqual(await thingsIn(a.name), [stays])
    assert.deepEqual(await thingsIn(b.name), [])
    await assert.rejects(h.iot.send(new ListThingGroupsForThingCommand({ thingName: gone })), isNotFound)
    // A new thing of the same name starts with no groups.
    await h.iot.send(new CreateThingCommand({ thingName: gone }))
    assert.deepEqual(await groupsOf(gone), [])
  })
})
