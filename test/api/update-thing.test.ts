import {
  CreateThingCommand,
  DescribeThingCommand,
  ListThingsCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot'
import type { UpdateThingCommandInput } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import { expectError } from '../support/registry.js'

let h: Harness
before(async () => {
  h = await startHarness()
})
after(async () => {
  await h.close()
})

async function thingWith(
  attributes: Record<string, string>,
): Promise<{ thingName: string; thingId: string }> {
  const thingName = unique('thing')
  const out = await h.iot.send(new CreateThingCommand({ thingName, attributePayload: { attributes } }))
  return { thingName, thingId: out.thingId! }
}

const stateOf = async (thingName: string) => {
  const out = await h.iot.send(new DescribeThingCommand({ thingName }))
  return { attributes: out.attributes, version: out.version, thingTypeName: out.thingTypeName }
}

const update = (thingName: string, input: Omit<UpdateThingCommandInput, 'thingName'>) =>
  h.iot.send(new UpdateThingCommand({ thingName, ...input }))

describe('UpdateThing: attributes [spec: things#updatething]', () => {
  it('without merge the given map replaces all attributes; version 1 → 2; the response has no members', async () => {
    const { thingName, thingId } = await thingWith({ color: 'red', size: 'L' })
    const out = await update(thingName, { attributePayload: { attributes: { weight: '3', color: 'blue' } } })
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.deepEqual(
      Object.keys(out).filter((k) => k !== '$metadata'),
      [],
    )
    assert.deepEqual(await stateOf(thingName), {
      attributes: { weight: '3', color: 'blue' },
      version: 2,
      thingTypeName: undefined,
    })
    const d = await h.iot.send(new DescribeThingCommand({ thingName }))
    assert.equal(d.thingId, thingId, 'the thingId never changes')
  })

  it('merge=false replaces, like an absent merge', async () => {
    const { thingName } = await thingWith({ color: 'red', size: 'L' })
    await update(thingName, { attributePayload: { attributes: { shape: 'round' }, merge: false } })
    assert.deepEqual((await stateOf(thingName)).attributes, { shape: 'round' })
  })

  it('merge=false with an empty map removes every attribute', async () => {
    const { thingName } = await thingWith({ color: 'red' })
    await update(thingName, { attributePayload: { attributes: {}, merge: false } })
    assert.deepEqual(await stateOf(thingName), { attributes: {}, version: 2, thingTypeName: undefined })
  })

  it('merge=true upserts the given names and keeps the others', async () => {
    const { thingName } = await thingWith({ color: 'red', size: 'L' })
    await update(thingName, {
      attributePayload: { attributes: { color: 'blue', shape: 'round' }, merge: true },
    })
    assert.deepEqual(await stateOf(thingName), {
      attributes: { color: 'blue', size: 'L', shape: 'round' },
      version: 2,
      thingTypeName: undefined,
    })
  })

  it('merge=true with an empty value removes that attribute; an empty value for a missing name is a no-op', async () => {
    const { thingName } = await thingWith({ color: 'red', size: 'L', shape: 'round' })
    await update(thingName, { attributePayload: { attributes: { size: '', absent: '' }, merge: true } })
    assert.deepEqual(await stateOf(thingName), {
      attributes: { color: 'red', shape: 'round' },
      version: 2,
      thingTypeName: undefined,
    })
  })

  it('without attributePayload the attributes stay and the version still rises by 1', async () => {
    const { thingName } = await thingWith({ color: 'red' })
    await update(thingName, {})
    assert.deepEqual(await stateOf(thingName), {
      attributes: { color: 'red' },
      version: 2,
      thingTypeName: undefined,
    })
  })

  it('attributePayload with merge but no attributes leaves the attributes unchanged', async () => {
    const { thingName } = await thingWith({ color: 'red' })
    await update(thingName, { attributePayload: { merge: true } })
    assert.deepEqual((await stateOf(thingName)).attributes, { color: 'red' })
  })

  it('every successful update raises version by exactly 1 [spec: things#1-data-model]', async () => {
    const { thingName } = await thingWith({})
    for (let i = 1; i <= 5; i += 1) {
      await update(thingName, { attributePayload: { attributes: { n: String(i) }, merge: true } })
      assert.equal((await stateOf(thingName)).version, i + 1)
    }
    const listed = await h.iot.send(new ListThingsCommand({ attributeName: 'n', attributeValue: '5' }))
    assert.deepEqual(
      listed.things?.filter((t) => t.thingName === thingName).map((t) => [t.version, t.attributes]),
      [[6, { n: '5' }]],
    )
  })

  it('a merge that would leave 4 attributes is InvalidRequestException (400) naming attributePayload.attributes; nothing changes [spec: limits#4]', async () => {
    const { thingName } = await thingWith({ a: '1', b: '2', c: '3' })
    await expectError(
      update(thingName, { attributePayload: { attributes: { d: '4' }, merge: true } }),
      'InvalidRequestException',
      400,
      ['attributePayload.attributes', '3'],
    )
    assert.deepEqual(await stateOf(thingName), {
      attributes: { a: '1', b: '2', c: '3' },
      version: 1,
      thingTypeName: undefined,
    })
  })

  it('a merge that removes one and adds one stays at 3 attributes and is accepted [spec: limits#4]', async () => {
    const { thingName } = await thingWith({ a: '1', b: '2', c: '3' })
    await update(thingName, { attributePayload: { attributes: { a: '', d: '4' }, merge: true } })
    assert.deepEqual((await stateOf(thingName)).attributes, { b: '2', c: '3', d: '4' })
  })

  it('a replacement with 4 attributes is InvalidRequestException (400); nothing changes [spec: limits#4]', async () => {
    const { thingName } = await thingWith({ a: '1' })
    await expectError(
      update(thingName, { attributePayload: { attributes: { a: '1', b: '2', c: '3', d: '4' } } }),
      'InvalidRequestException',
      400,
      ['attributePayload.attributes'],
    )
    assert.deepEqual(await stateOf(thingName), {
      attributes: { a: '1' },
      version: 1,
      thingTypeName: undefined,
    })
  })

  it('an attribute value outside the pattern is InvalidRequestException (400) naming attributePayload.attributes [spec: limits#2]', async () => {
    const { thingName } = await thingWith({ a: '1' })
    await expectError(
      update(thingName, { attributePayload: { attributes: { a: 'with space' }, merge: true } }),
      'InvalidRequestException',
      400,
      ['attributePayload.attributes'],
    )
    assert.deepEqual(await stateOf(thingName), {
      attributes: { a: '1' },
      version: 1,
      thingTypeName: undefined,
    })
  })
})

describe('UpdateThing: expectedVersion [spec: things#updatething]', () => {
  it('the current version is accepted', async () => {
    const { thingName } = await thingWith({ a: '1' })
    await update(thingName, { expectedVersion: 1, attributePayload: { attributes: { a: '2' } } })
    await update(thingName, { expectedVersion: 2, attributePayload: { attributes: { a: '3' } } })
    assert.deepEqual(await stateOf(thingName), {
      attributes: { a: '3' },
      version: 3,
      thingTypeName: undefined,
    })
  })

  for (const expectedVersion of [0, 1, 3]) {
    it(`expectedVersion ${expectedVersion} on a version-2 thing is VersionConflictException (409) naming both versions; nothing changes`, async () => {
      const { thingName } = await thingWith({ a: '1' })
      await update(thingName, { attributePayload: { attributes: { a: '2' } } })
      await expectError(
        update(thingName, { expectedVersion, attributePayload: { attributes: { a: 'conflict' } } }),
        'VersionConflictException',
        409,
        [String(expectedVersion), 'version 2', thingName],
      )
      assert.deepEqual(await stateOf(thingName), {
        attributes: { a: '2' },
        version: 2,
        thingTypeName: undefined,
      })
    })
  }
})

describe('UpdateThing: thing types and errors [spec: things#updatething] [spec: things#1-data-model]', () => {
  it('removeThingType=true on a thing without a type succeeds and raises the version', async () => {
    const { thingName } = await thingWith({ a: '1' })
    await update(thingName, { removeThingType: true })
    assert.deepEqual(await stateOf(thingName), {
      attributes: { a: '1' },
      version: 2,
      thingTypeName: undefined,
    })
  })

  it('removeThingType=true together with thingTypeName is InvalidRequestException (400) naming both; nothing changes', async () => {
    const { thingName } = await thingWith({ a: '1' })
    await expectError(
      update(thingName, { removeThingType: true, thingTypeName: 'Sensor' }),
      'InvalidRequestException',
      400,
      ['removeThingType', 'thingTypeName'],
    )
    assert.deepEqual(await stateOf(thingName), {
      attributes: { a: '1' },
      version: 1,
      thingTypeName: undefined,
    })
  })

  it('a thingTypeName is ResourceNotFoundException (404) naming the type: thing types do not exist; nothing changes', async () => {
    const { thingName } = await thingWith({ a: '1' })
    await expectError(
      update(thingName, { thingTypeName: 'Sensor', attributePayload: { attributes: { a: '2' } } }),
      'ResourceNotFoundException',
      404,
      ['Thing type', 'Sensor'],
    )
    assert.deepEqual(await stateOf(thingName), {
      attributes: { a: '1' },
      version: 1,
      thingTypeName: undefined,
    })
  })

  it('an unknown thing is ResourceNotFoundException (404) naming the thing, with or without expectedVersion', async () => {
    const thingName = unique('missing')
    await expectError(
      update(thingName, { attributePayload: { attributes: { a: '1' } } }),
      'ResourceNotFoundException',
      404,
      [thingName],
    )
    await expectError(update(thingName, { expectedVersion: 1 }), 'ResourceNotFoundException', 404, [
      thingName,
    ])
    await expectError(h.iot.send(new DescribeThingCommand({ thingName })), 'ResourceNotFoundException', 404)
  })

  it('a bad thing name is InvalidRequestException (400) naming thingName [spec: limits#2]', async () => {
    await expectError(update('bad.name', {}), 'InvalidRequestException', 400, ['thingName'])
  })
})
