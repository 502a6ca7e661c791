import {
  AddThingToThingGroupCommand,
  CreateThingGroupCommand,
  DeleteThingGroupCommand,
  DescribeThingGroupCommand,
  InvalidRequestException,
  ListThingGroupsForThingCommand,
  ListThingsInThingGroupCommand,
  ResourceAlreadyExistsException,
  ResourceNotFoundException,
  UpdateThingGroupCommand,
  VersionConflictException,
  paginateListThingGroups,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { raw, startHarness, unique } from '../../support/harness.js'
import { createGroup, createThings, groupArnOf } from '../../support/thing-groups.js'

// Lowered hierarchy limits so depth and child-count rules are reachable in a few calls; every other
// test in this file stays within them (depth ≤ 3, ≤ 2 children per group).
const LIMITS = { maxDepth: 3, maxChildren: 2, maxGroupsPerThing: 10, oneGroupPerHierarchy: true }

let h: Harness
before(async () => {
  h = await startHarness({ settings: { groups: LIMITS } })
})
after(async () => {
  await h.close()
})

/** Names of the groups ListThingGroups returns for these filters (all pages). */
async function listGroupNames(input: {
  parentGroup?: string
  namePrefixFilter?: string
  recursive?: boolean
}): Promise<string[]> {
  const names: string[] = []
  for await (const page of paginateListThingGroups({ client: h.iot, pageSize: 250 }, input)) {
    for (const g of page.thingGroups ?? []) {
      assert.equal(g.groupArn, groupArnOf(g.groupName ?? ''))
      names.push(g.groupName ?? '')
    }
  }
  return names
}

describe('CreateThingGroup [spec: things#createthinggroup]', () => {
  it('creates a root group and returns its name, ARN and a UUID id', async () => {
    const thingGroupName = unique('root')
    const out = await h.iot.send(new CreateThingGroupCommand({ thingGroupName }))
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.equal(out.thingGroupName, thingGroupName)
    assert.equal(out.thingGroupArn, `arn:aws:iot:us-east-1:123456789012:thinggroup/${thingGroupName}`)
    assert.match(
      out.thingGroupId ?? '',
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    )
    const described = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName }))
    assert.equal(described.thingGroupId, out.thingGroupId)
    assert.equal(described.thingGroupMetadata?.parentGroupName, undefined)
  })

  it('creates a group under a parent', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const described = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName: child.name }))
    assert.equal(described.thingGroupMetadata?.parentGroupName, root.name)
    assert.deepEqual(await listGroupNames({ parentGroup: root.name, recursive: false }), [child.name])
  })

  it('answers ResourceNotFoundException for an unknown parent and creates nothing', async () => {
    const thingGroupName = unique('orphan')
    await assert.rejects(
      h.iot.send(new CreateThingGroupCommand({ thingGroupName, parentGroupName: unique('missing') })),
      (e: unknown) => {
        assert.ok(e instanceof ResourceNotFoundException)
        assert.equal(e.$metadata.httpStatusCode, 404)
        return true
      },
    )
    await assert.rejects(
      h.iot.send(new DescribeThingGroupCommand({ thingGroupName })),
      ResourceNotFoundException,
    )
  })

  it('[open-question 8] an identical repeat succeeds with the existing ids', async () => {
    const root = await createGroup(h)
    const input = {
      thingGroupName: unique('same'),
      parentGroupName: root.name,
      thingGroupProperties: {
        thingGroupDescription: 'a group',
        attributePayload: { attributes: { k: 'v' } },
      },
    }
    const first = await h.iot.send(new CreateThingGroupCommand(input))
    const second = await h.iot.send(new CreateThingGroupCommand(input))
    assert.equal(second.$metadata.httpStatusCode, 200)
    assert.equal(second.thingGroupId, first.thingGroupId)
    assert.equal(second.thingGroupArn, first.thingGroupArn)
    assert.equal(second.thingGroupName, first.thingGroupName)
    const described = await h.iot.send(
      new DescribeThingGroupCommand({ thingGroupName: input.thingGroupName }),
    )
    assert.equal(described.version, 1)
  })

  it('answers ResourceAlreadyExistsException with resourceId and resourceArn when the properties differ', async () => {
    const thingGroupName = unique('taken')
    const first = await h.iot.send(
      new CreateThingGroupCommand({ thingGroupName, thingGroupProperties: { thingGroupDescription: 'one' } }),
    )
    await assert.rejects(
      h.iot.send(
        new CreateThingGroupCommand({
          thingGroupName,
          thingGroupProperties: { thingGroupDescription: 'two' },
        }),
      ),
      (e: unknown) => {
        assert.ok(e instanceof ResourceAlreadyExistsException)
        assert.equal(e.$metadata.httpStatusCode, 409)
        assert.equal(e.resourceId, first.thingGroupId)
        assert.equal(e.resourceArn, groupArnOf(thingGroupName))
        // AWS's words, as the AWS CLI prints them. [spec: things#createthinggroup]
        assert.equal(
          e.message,
          `Thing Group ${thingGroupName} already exists in current account with different properties`,
        )
        return true
      },
    )
    const described = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName }))
    assert.equal(described.thingGroupProperties?.thingGroupDescription, 'one')
  })

  it('answers ResourceAlreadyExistsException when the parent differs', async () => {
    const root = await createGroup(h)
    const thingGroupName = unique('reparent')
    const first = await h.iot.send(new CreateThingGroupCommand({ thingGroupName }))
    await assert.rejects(
      h.iot.send(new CreateThingGroupCommand({ thingGroupName, parentGroupName: root.name })),
      (e: unknown) => {
        assert.ok(e instanceof ResourceAlreadyExistsException)
        assert.equal(e.$metadata.httpStatusCode, 409)
        assert.equal(e.resourceId, first.thingGroupId)
        assert.equal(e.resourceArn, groupArnOf(thingGroupName))
        assert.equal(
          e.message,
          `Thing Group ${thingGroupName} already exists in current account with different properties`,
        )
        return true
      },
    )
    const described = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName }))
    assert.equal(described.thingGroupMetadata?.parentGroupName, undefined)
  })

  it('answers InvalidRequestException (400) beyond the depth limit (lowered to 3)', async () => {
    assert.equal(h.server.context.settings.groups.maxDepth, 3)
    const level1 = await createGroup(h)
    const level2 = await createGroup(h, { parent: level1.name })
    const level3 = await createGroup(h, { parent: level2.name })
    const thingGroupName = unique('level4')
    await assert.rejects(
      h.iot.send(new CreateThingGroupCommand({ thingGroupName, parentGroupName: level3.name })),
      (e: unknown) => {
        assert.ok(e instanceof InvalidRequestException)
        assert.equal(e.$metadata.httpStatusCode, 400)
        return true
      },
    )
    await assert.rejects(
      h.iot.send(new DescribeThingGroupCommand({ thingGroupName })),
      ResourceNotFoundException,
    )
  })

  it('answers InvalidRequestException (400) beyond the child limit (lowered to 2)', async () => {
    assert.equal(h.server.context.settings.groups.maxChildren, 2)
    const parent = await createGroup(h)
    const a = await createGroup(h, { parent: parent.name })
    const b = await createGroup(h, { parent: parent.name })
    const thingGroupName = unique('third')
    await assert.rejects(
      h.iot.send(new CreateThingGroupCommand({ thingGroupName, parentGroupName: parent.name })),
      (e: unknown) => {
        assert.ok(e instanceof InvalidRequestException)
        assert.equal(e.$metadata.httpStatusCode, 400)
        return true
      },
    )
    assert.deepEqual(
      await listGroupNames({ parentGroup: parent.name, recursive: false }),
      [a.name, b.name].sort(),
    )
    // The limit counts direct children only: a grandchild under a full parent's child is fine.
    await createGroup(h, { parent: a.name })
  })
})

describe('DescribeThingGroup [spec: things#describethinggroup]', () => {
  it('returns name, id, ARN, version 1, properties and a Date creationDate', async () => {
    const thingGroupName = unique('described')
    const before = Date.now()
    const created = await h.iot.send(
      new CreateThingGroupCommand({
        thingGroupName,
        thingGroupProperties: {
          thingGroupDescription: 'Floor 3 sensors',
          attributePayload: { attributes: { site: 'berlin', floor: '3' } },
        },
      }),
    )
    const after = Date.now()
    const out = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName }))
    assert.equal(out.thingGroupName, thingGroupName)
    assert.equal(out.thingGroupId, created.thingGroupId)
    assert.equal(out.thingGroupArn, groupArnOf(thingGroupName))
    assert.equal(out.version, 1)
    assert.equal(out.thingGroupProperties?.thingGroupDescription, 'Floor 3 sensors')
    assert.deepEqual(out.thingGroupProperties?.attributePayload?.attributes, { site: 'berlin', floor: '3' })
    const creationDate = out.thingGroupMetadata?.creationDate
    assert.ok(creationDate instanceof Date)
    // Epoch seconds on the wire (fractions allowed): the decoded date lies within the create call.
    assert.ok(
      creationDate.getTime() >= Math.floor(before / 1000) * 1000 && creationDate.getTime() <= after + 1,
    )
    assert.equal(out.thingGroupMetadata?.parentGroupName, undefined)
    assert.equal((out.thingGroupMetadata?.rootToParentThingGroups ?? []).length, 0)
    // Dynamic-group members are never returned.
    assert.equal(out.indexName, undefined)
    assert.equal(out.queryString, undefined)
    assert.equal(out.status, undefined)
  })

  it('[open-question 9] rootToParentThingGroups lists the ancestors root first, direct parent last', async () => {
    const root = await createGroup(h)
    const mid = await createGroup(h, { parent: root.name })
    const leaf = await createGroup(h, { parent: mid.name })
    const out = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName: leaf.name }))
    assert.equal(out.thingGroupMetadata?.parentGroupName, mid.name)
    assert.deepEqual(out.thingGroupMetadata?.rootToParentThingGroups, [
      { groupName: root.name, groupArn: root.arn },
      { groupName: mid.name, groupArn: mid.arn },
    ])
    const middle = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName: mid.name }))
    assert.deepEqual(middle.thingGroupMetadata?.rootToParentThingGroups, [
      { groupName: root.name, groupArn: root.arn },
    ])
  })

  it('answers ResourceNotFoundException for an unknown group', async () => {
    await assert.rejects(
      h.iot.send(new DescribeThingGroupCommand({ thingGroupName: unique('missing') })),
      (e: unknown) => {
        assert.ok(e instanceof ResourceNotFoundException)
        assert.equal(e.$metadata.httpStatusCode, 404)
        return true
      },
    )
  })
})

describe('UpdateThingGroup [spec: things#thing-group-static] (not in the spec; docs/compatibility.md)', () => {
  it('changes the description and returns version + 1', async () => {
    const thingGroupName = unique('upd')
    await h.iot.send(
      new CreateThingGroupCommand({ thingGroupName, thingGroupProperties: { thingGroupDescription: 'old' } }),
    )
    const out = await h.iot.send(
      new UpdateThingGroupCommand({ thingGroupName, thingGroupProperties: { thingGroupDescription: 'new' } }),
    )
    assert.equal(out.version, 2)
    const described = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName }))
    assert.equal(described.version, 2)
    assert.equal(described.thingGroupProperties?.thingGroupDescription, 'new')
  })

  it('replaces the attributes without merge and upserts them with merge', async () => {
    const thingGroupName = unique('attrs')
    await h.iot.send(
      new CreateThingGroupCommand({
        thingGroupName,
        thingGroupProperties: { attributePayload: { attributes: { a: '1', b: '2' } } },
      }),
    )
    const replaced = await h.iot.send(
      new UpdateThingGroupCommand({
        thingGroupName,
        thingGroupProperties: { attributePayload: { attributes: { c: '3' } } },
      }),
    )
    assert.equal(replaced.version, 2)
    let described = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName }))
    assert.deepEqual(described.thingGroupProperties?.attributePayload?.attributes, { c: '3' })

    const merged = await h.iot.send(
      new UpdateThingGroupCommand({
        thingGroupName,
        thingGroupProperties: { attributePayload: { attributes: { c: '30', d: '4' }, merge: true } },
      }),
    )
    assert.equal(merged.version, 3)
    described = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName }))
    assert.deepEqual(described.thingGroupProperties?.attributePayload?.attributes, { c: '30', d: '4' })
    assert.equal(described.version, 3)
  })

  it('accepts a matching expectedVersion and answers VersionConflictException (409) for another', async () => {
    const thingGroupName = unique('ver')
    await h.iot.send(
      new CreateThingGroupCommand({ thingGroupName, thingGroupProperties: { thingGroupDescription: 'v1' } }),
    )
    const ok = await h.iot.send(
      new UpdateThingGroupCommand({
        thingGroupName,
        expectedVersion: 1,
        thingGroupProperties: { thingGroupDescription: 'v2' },
      }),
    )
    assert.equal(ok.version, 2)
    await assert.rejects(
      h.iot.send(
        new UpdateThingGroupCommand({
          thingGroupName,
          expectedVersion: 1,
          thingGroupProperties: { thingGroupDescription: 'stale' },
        }),
      ),
      (e: unknown) => {
        assert.ok(e instanceof VersionConflictException)
        assert.equal(e.$metadata.httpStatusCode, 409)
        return true
      },
    )
    const described = await h.iot.send(new DescribeThingGroupCommand({ thingGroupName }))
    assert.equal(described.version, 2)
    assert.equal(described.thingGroupProperties?.thingGroupDescription, 'v2')
  })

  it('answers ResourceNotFoundException for an unknown group', async () => {
    await assert.rejects(
      h.iot.send(
        new UpdateThingGroupCommand({
          thingGroupName: unique('missing'),
          thingGroupProperties: { thingGroupDescription: 'x' },
        }),
      ),
      (e: unknown) => {
        assert.ok(e instanceof ResourceNotFoundException)
        assert.equal(e.$metadata.httpStatusCode, 404)
        return true
      },
    )
  })
})

// ListThingGroups: list-thing-groups.test.ts (default hierarchy limits, so that listings reach deeper).

describe('DeleteThingGroup [spec: things#deletethinggroup]', () => {
  it('refuses a group that has child groups with InvalidRequestException (400)', async () => {
    const parent = await createGroup(h)
    const child = await createGroup(h, { parent: parent.name })
    await assert.rejects(
      h.iot.send(new DeleteThingGroupCommand({ thingGroupName: parent.name })),
      (e: unknown) => {
        assert.ok(e instanceof InvalidRequestException)
        assert.equal(e.$metadata.httpStatusCode, 400)
        return true
      },
    )
    await h.iot.send(new DescribeThingGroupCommand({ thingGroupName: parent.name }))
    // Once the child is gone the parent can go.
    await h.iot.send(new DeleteThingGroupCommand({ thingGroupName: child.name }))
    const out = await h.iot.send(new DeleteThingGroupCommand({ thingGroupName: parent.name }))
    assert.equal(out.$metadata.httpStatusCode, 200)
    await assert.rejects(
      h.iot.send(new DescribeThingGroupCommand({ thingGroupName: parent.name })),
      ResourceNotFoundException,
    )
  })

  it('succeeds (200) for an unknown group', async () => {
    const out = await h.iot.send(new DeleteThingGroupCommand({ thingGroupName: unique('missing') }))
    assert.equal(out.$metadata.httpStatusCode, 200)
    const wire = await raw(h.server.url, 'DELETE', `/thing-groups/${unique('missing')}`)
    assert.equal(wire.status, 200)
  })

  it('answers VersionConflictException (409) for a mismatching expectedVersion and keeps the group', async () => {
    const group = await createGroup(h)
    await assert.rejects(
      h.iot.send(new DeleteThingGroupCommand({ thingGroupName: group.name, expectedVersion: 5 })),
      (e: unknown) => {
        assert.ok(e instanceof VersionConflictException)
        assert.equal(e.$metadata.httpStatusCode, 409)
        return true
      },
    )
    await h.iot.send(new DescribeThingGroupCommand({ thingGroupName: group.name }))
    await h.iot.send(new DeleteThingGroupCommand({ thingGroupName: group.name, expectedVersion: 1 }))
    await assert.rejects(
      h.iot.send(new DescribeThingGroupCommand({ thingGroupName: group.name })),
      ResourceNotFoundException,
    )
  })

  it('deletes a group that still has things; the members lose the membership', async () => {
    const group = await createGroup(h)
    const other = await createGroup(h)
    const [t1, t2] = await createThings(h, 2, group.name)
    assert.ok(t1 !== undefined && t2 !== undefined)
    await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: other.name, thingName: t1 }))
    await h.iot.send(new DeleteThingGroupCommand({ thingGroupName: group.name }))
    const groupsOfT1 = await h.iot.send(new ListThingGroupsForThingCommand({ thingName: t1 }))
    assert.deepEqual(groupsOfT1.thingGroups, [{ groupName: other.name, groupArn: other.arn }])
    const groupsOfT2 = await h.iot.send(new ListThingGroupsForThingCommand({ thingName: t2 }))
    assert.deepEqual(groupsOfT2.thingGroups ?? [], [])
    // A new group of the same name starts empty.
    await createGroup(h, { name: group.name })
    const members = await h.iot.send(new ListThingsInThingGroupCommand({ thingGroupName: group.name }))
    assert.deepEqual(members.things ?? [], [])
  })
})
