import {
  AddThingToThingGroupCommand,
  CreateJobCommand,
  ListThingGroupsForThingCommand,
  RemoveThingFromThingGroupCommand,
  paginateListThingsInThingGroup,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { startHarness, unique } from '../../support/harness.js'
import {
  addToGroup,
  assertCountersMatchRecords,
  assertDeviceSeesPending,
  createGroup,
  createThings,
  executionStates,
} from '../../support/thing-groups.js'

// The same-hierarchy rule switched off [open-question 6], so one thing can sit in a group and in one
// of its descendants: the only way to check that recursive listings and job targets count it once.
const LIMITS = { maxDepth: 7, maxChildren: 100, maxGroupsPerThing: 10, oneGroupPerHierarchy: false }

let h: Harness
before(async () => {
  h = await startHarness({ settings: { groups: LIMITS } })
})
after(async () => {
  await h.close()
})

async function thingsIn(thingGroupName: string, recursive: boolean): Promise<string[]> {
  const names: string[] = []
  for await (const page of paginateListThingsInThingGroup(
    { client: h.iot, pageSize: 1 },
    { thingGroupName, recursive },
  )) {
    names.push(...(page.things ?? []))
  }
  return names
}

describe('Overlapping memberships with the same-hierarchy rule off [spec: things#hierarchy-rules]', () => {
  it('[open-question 6] the rule is a setting: switched off, a thing may join a group and its descendant', async () => {
    assert.equal(h.server.context.settings.groups.oneGroupPerHierarchy, false)
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const [thingName] = await createThings(h, 1, root.name)
    assert.ok(thingName !== undefined)
    await h.iot.send(new AddThingToThingGroupCommand({ thingGroupName: child.name, thingName }))
    const out = await h.iot.send(new ListThingGroupsForThingCommand({ thingName }))
    assert.deepEqual(
      (out.thingGroups ?? []).map((g) => g.groupName),
      [root.name, child.name].sort(),
    )
  })

  it('ListThingsInThingGroup recursive=true lists each thing once [spec: things#listthingsinthinggroup]', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const grandchild = await createGroup(h, { parent: child.name })
    const [everywhere, onlyDeep] = await createThings(h, 2, grandchild.name)
    assert.ok(everywhere !== undefined && onlyDeep !== undefined)
    await addToGroup(h, root.name, everywhere)
    await addToGroup(h, child.name, everywhere)
    assert.deepEqual(await thingsIn(root.name, true), [everywhere, onlyDeep].sort())
    assert.deepEqual(await thingsIn(root.name, false), [everywhere])
  })

  it('a job aimed at a group and its descendant gives the thing one execution [spec: state-machines#7-target-selection-and-membership-changes]', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const [thingName] = await createThings(h, 1, child.name)
    assert.ok(thingName !== undefined)
    await addToGroup(h, root.name, thingName)
    const jobId = unique('job')
    await h.iot.send(
      new CreateJobCommand({ jobId, targets: [root.arn, child.arn], document: '{"operation":"x"}' }),
    )
    assert.deepEqual(await executionStates(h, jobId), [`${thingName}#1:QUEUED`])
    await assertCountersMatchRecords(h, jobId)
  })

  it('CONTINUOUS: leaving one of two groups that both reach the thing keeps its QUEUED execution; leaving the last one removes it [spec: state-machines#7-target-selection-and-membership-changes]', async () => {
    const root = await createGroup(h)
    const child = await createGroup(h, { parent: root.name })
    const [thingName] = await createThings(h, 1, child.name)
    assert.ok(thingName !== undefined)
    await addToGroup(h, root.name, thingName)
    const jobId = unique('cjob')
    await h.iot.send(
      new CreateJobCommand({
        jobId,
        targets: [root.arn],
        document: '{"operation":"x"}',
        targetSelection: 'CONTINUOUS',
      }),
    )
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: child.name, thingName }))
    assert.deepEqual(await executionStates(h, jobId), [`${thingName}#1:QUEUED`])
    await assertCountersMatchRecords(h, jobId)
    await assertDeviceSeesPending(h, jobId, [thingName])
    await h.iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: root.name, thingName }))
    assert.deepEqual(await executionStates(h, jobId), [`${thingName}#1:REMOVED`])
    await assertCountersMatchRecords(h, jobId)
    await assertDeviceSeesPending(h, jobId, [thingName])
  })
})
