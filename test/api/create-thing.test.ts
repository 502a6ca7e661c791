import {
  CreateThingCommand,
  DeleteThingCommand,
  DescribeThingCommand,
  ResourceAlreadyExistsException,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import { expectError } from '../support/registry.js'

/** [spec: things#1-data-model] this project's thingId is a UUID v4. */
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/

let h: Harness
before(async () => {
  h = await startHarness()
})
after(async () => {
  await h.close()
})

const describeThing = async (thingName: string) => {
  const out = await h.iot.send(new DescribeThingCommand({ thingName }))
  return {
    thingName: out.thingName,
    thingId: out.thingId,
    thingArn: out.thingArn,
    attributes: out.attributes,
    version: out.version,
    thingTypeName: out.thingTypeName,
    billingGroupName: out.billingGroupName,
  }
}

describe('CreateThing: success [spec: things#creatething]', () => {
  it('returns thingName, the thing ARN of us-east-1/123456789012 and a UUID v4 thingId', async () => {
    const thingName = unique('thing')
    const out = await h.iot.send(
      new CreateThingCommand({ thingName, attributePayload: { attributes: { color: 'red', size: 'L' } } }),
    )
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.equal(out.thingName, thingName)
    assert.equal(out.thingArn, `arn:aws:iot:us-east-1:123456789012:thing/${thingName}`)
    assert.match(out.thingId ?? '', UUID_V4)
    assert.deepEqual(await describeThing(thingName), {
      thingName,
      thingId: out.thingId,
      thingArn: thingArnOf(thingName),
      attributes: { color: 'red', size: 'L' },
      version: 1,
      thingTypeName: undefined,
      billingGroupName: undefined,
    })
  })

  it('creates a thing without attributes with an empty attribute map and version 1 [spec: things#describething]', async () => {
    const thingName = unique('thing')
    await h.iot.send(new CreateThingCommand({ thingName }))
    const d = await describeThing(thingName)
    assert.deepEqual(d.attributes, {})
    assert.equal(d.version, 1)
  })

  it('accepts a name of 128 characters using every allowed character class [spec: limits#2]', async () => {
    const base = unique('Az09:_-')
    const thingName = base + 'x'.repeat(128 - base.length)
    const out = await h.iot.send(new CreateThingCommand({ thingName }))
    assert.equal(out.thingName, thingName)
    assert.equal(out.thingArn, thingArnOf(thingName))
    assert.equal((await describeThing(thingName)).thingName, thingName)
  })

  it('accepts attribute names and values with every allowed punctuation, and an empty value [spec: limits#2]', async () => {
    const thingName = unique('thing')
    const attributes = { 'a_.,@/:#-Z9': 'v_.,@/:#-Z9', empty: '' }
    await h.iot.send(new CreateThingCommand({ thingName, attributePayload: { attributes } }))
    assert.deepEqual((await describeThing(thingName)).attributes, attributes)
  })

  it('ignores attributePayload.merge [spec: things#creatething]', async () => {
    const thingName = unique('thing')
    await h.iot.send(
      new CreateThingCommand({ thingName, attributePayload: { attributes: { a: '1' }, merge: true } }),
    )
    assert.deepEqual((await describeThing(thingName)).attributes, { a: '1' })
  })

  it('accepts exactly 3 attributes on a thing without a thing type [spec: limits#4]', async () => {
    const thingName = unique('thing')
    const attributes = { a: '1', b: '2', c: '3' }
    await h.iot.send(new CreateThingCommand({ thingName, attributePayload: { attributes } }))
    assert.deepEqual((await describeThing(thingName)).attributes, attributes)
  })

  it('gives a new thingId to a thing created again after deletion (ids are never reused) [spec: things#1-data-model]', async () => {
    const thingName = unique('thing')
    const first = await h.iot.send(new CreateThingCommand({ thingName }))
    await h.iot.send(new DeleteThingCommand({ thingName }))
    const second = await h.iot.send(new CreateThingCommand({ thingName }))
    assert.match(second.thingId ?? '', UUID_V4)
    assert.notEqual(second.thingId, first.thingId)
    assert.equal((await describeThing(thingName)).version, 1)
  })
})

describe('CreateThing: repeats [spec: things#creatething] [spec: wire-protocol#8]', () => {
  it('an identical repeat succeeds and returns the existing identifiers; nothing changes', async () => {
    const thingName = unique('thing')
    const attributes = { color: 'red' }
    const first = await h.iot.send(new CreateThingCommand({ thingName, attributePayload: { attributes } }))
    const again = await h.iot.send(
      new CreateThingCommand({ thingName, attributePayload: { attributes: { color: 'red' } } }),
    )
    assert.deepEqual(
      { thingName: again.thingName, thingArn: again.thingArn, thingId: again.thingId },
      { thingName, thingArn: thingArnOf(thingName), thingId: first.thingId },
    )
    const d = await describeThing(thingName)
    assert.equal(d.version, 1)
    assert.deepEqual(d.attributes, attributes)
  })

  it('an identical repeat of a thing without attributes succeeds', async () => {
    const thingName = unique('thing')
    const first = await h.iot.send(new CreateThingCommand({ thingName }))
    const again = await h.iot.send(
      new CreateThingCommand({ thingName, attributePayload: { attributes: {} } }),
    )
    assert.equal(again.thingId, first.thingId)
  })

  for (const [what, attributes] of [
    ['another value', { color: 'blue' }],
    ['an extra attribute', { color: 'red', size: 'L' }],
    ['a missing attribute', {}],
  ] as const) {
    it(`a repeat with ${what} is ResourceAlreadyExistsException (409) with the existing id and ARN; nothing changes`, async () => {
      const thingName = unique('thing')
      const first = await h.iot.send(
        new CreateThingCommand({ thingName, attributePayload: { attributes: { color: 'red' } } }),
      )
      const e = await expectError(
        h.iot.send(new CreateThingCommand({ thingName, attributePayload: { attributes } })),
        'ResourceAlreadyExistsException',
        409,
        [thingName],
      )
      assert.ok(e instanceof ResourceAlreadyExistsException)
      assert.equal(e.resourceId, first.thingId)
      assert.equal(e.resourceArn, thingArnOf(thingName))
      const d = await describeThing(thingName)
      assert.deepEqual(d.attributes, { color: 'red' })
      assert.equal(d.version, 1)
      assert.equal(d.thingId, first.thingId)
    })
  }
})

describe('CreateThing: errors [spec: things#creatething] [spec: limits]', () => {
  const notCreated = async (thingName: string) => {
    await expectError(h.iot.send(new DescribeThingCommand({ thingName })), 'ResourceNotFoundException', 404, [
      thingName,
    ])
  }

  it('a thingTypeName is ResourceNotFoundException (404) naming the type: thing types do not exist [spec: things#1-data-model]', async () => {
    const thingName = unique('thing')
    await expectError(
      h.iot.send(new CreateThingCommand({ thingName, thingTypeName: 'Sensor' })),
      'ResourceNotFoundException',
      404,
      ['Thing type', 'Sensor'],
    )
    await notCreated(thingName)
  })

  it('a billingGroupName is ResourceNotFoundException (404) naming the billing group [spec: things#1-data-model]', async () => {
    const thingName = unique('thing')
    await expectError(
      h.iot.send(new CreateThingCommand({ thingName, billingGroupName: 'Paying' })),
      'ResourceNotFoundException',
      404,
      ['Billing group', 'Paying'],
    )
    await notCreated(thingName)
  })

  it('4 attributes is InvalidRequestException (400) naming attributePayload.attributes [spec: limits#4]', async () => {
    const thingName = unique('thing')
    await expectError(
      h.iot.send(
        new CreateThingCommand({
          thingName,
          attributePayload: { attributes: { a: '1', b: '2', c: '3', d: '4' } },
        }),
      ),
      'InvalidRequestException',
      400,
      ['attributePayload.attributes', '3'],
    )
    await notCreated(thingName)
  })

  for (const [what, thingName] of [
    ['a dot', `bad.${process.pid}`],
    ['a space', `bad name ${process.pid}`],
    ['129 characters', 'n'.repeat(129)],
  ] as const) {
    it(`a thing name with ${what} is InvalidRequestException (400) naming thingName [spec: limits#2]`, async () => {
      await expectError(h.iot.send(new CreateThingCommand({ thingName })), 'InvalidRequestException', 400, [
        'thingName',
      ])
    })
  }

  for (const [what, attributes] of [
    ['a value with a space', { color: 'dark red' }],
    ['a value of 801 characters', { color: 'r'.repeat(801) }],
    ['a name with a space', { 'my color': 'red' }],
    ['a name of 129 characters', { ['n'.repeat(129)]: 'red' }],
  ] as const) {
    it(`an attribute with ${what} is InvalidRequestException (400) naming attributePayload.attributes [spec: limits#2]`, async () => {
      const thingName = unique('thing')
      await expectError(
        h.iot.send(new CreateThingCommand({ thingName, attributePayload: { attributes } })),
        'InvalidRequestException',
        400,
        ['attributePayload.attributes'],
      )
      await notCreated(thingName)
    })
  }
})
