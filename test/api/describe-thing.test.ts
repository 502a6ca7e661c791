import { CreateThingCommand, DescribeThingCommand, ResourceNotFoundException } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'

describe('DescribeThing [spec: things#describething]', () => {
  let h: Harness
  before(async () => {
    h = await startHarness()
  })
  after(async () => {
    await h.close()
  })

  it('returns the thing with its ARN, id, attributes and version', async () => {
    const thingName = unique('thing')
    const created = await h.iot.send(
      new CreateThingCommand({ thingName, attributePayload: { attributes: { color: 'red' } } }),
    )
    const out = await h.iot.send(new DescribeThingCommand({ thingName }))
    assert.equal(out.thingName, thingName)
    assert.equal(out.thingArn, thingArnOf(thingName))
    assert.equal(out.thingId, created.thingId)
    assert.equal(out.defaultClientId, thingName)
    assert.deepEqual(out.attributes, { color: 'red' })
    assert.equal(out.version, 1)
    assert.equal(out.thingTypeName, undefined)
  })

  it('answers ResourceNotFoundException for an unknown thing', async () => {
    await assert.rejects(
      h.iot.send(new DescribeThingCommand({ thingName: unique('missing') })),
      ResourceNotFoundException,
    )
  })
})
