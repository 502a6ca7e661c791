import {
  CreateThingCommand,
  DeleteThingCommand,
  ListJobsCommand,
  ListThingsCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot'
import type { ListThingsCommandInput, ThingAttribute } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'
import { duplicates, expectError, makeThings, walk } from '../support/registry.js'

let h: Harness
before(async () => {
  h = await startHarness()
})
after(async () => {
  await h.close()
})

/** A server of its own, for tests that look at the whole registry. */
async function withFreshServer(test: (fresh: Harness) => Promise<void>): Promise<void> {
  const fresh = await startHarness()
  try {
    await test(fresh)
  } finally {
    await fresh.close()
  }
}

const list = async (input: ListThingsCommandInput, on: Harness = h) => {
  const out = await on.iot.send(new ListThingsCommand(input))
  assert.ok(out.things !== undefined, 'things is always present')
  return { items: out.things, nextToken: out.nextToken }
}

const namesOf = (things: readonly ThingAttribute[]): string[] => things.map((t) => t.thingName ?? '')

/** Every page of a filtered listing, with `maxResults` per page. */
const walkNames = async (input: ListThingsCommandInput, on: Harness = h) =>
  namesOf(
    (await walk((nextToken) => list({ ...input, ...(nextToken === undefined ? {} : { nextToken }) }, on)))
      .items,
  )

describe('ListThings: items [spec: things#listthings]', () => {
  it('each item carries thingName, thingArn, attributes and version, and nothing else; ordered by thingName', async () => {
    const tag = unique('shape')
    const b = unique('b-thing')
    const a = unique('a-thing')
    await h.iot.send(
      new CreateThingCommand({ thingName: b, attributePayload: { attributes: { tag, n: '2' } } }),
    )
    await h.iot.send(new CreateThingCommand({ thingName: a, attributePayload: { attributes: { tag } } }))
    await h.iot.send(
      new UpdateThingCommand({ thingName: a, attributePayload: { attributes: { z: 'last' }, merge: true } }),
    )
    const out = await list({ attributeName: 'tag', attributeValue: tag })
    assert.deepEqual(out, {
      items: [
        { thingName: a, thingArn: thingArnOf(a), attributes: { tag, z: 'last' }, version: 2 },
        { thingName: b, thingArn: thingArnOf(b), attributes: { tag, n: '2' }, version: 1 },
      ],
      nextToken: undefined,
    })
  })

  it('a thing without attributes is listed with an empty attribute map [spec: things#describething]', async () => {
    await withFreshServer(async (fresh) => {
      const [thingName] = await makeThings(fresh, 1)
      assert.deepEqual((await list({}, fresh)).items, [
        { thingName, thingArn: thingArnOf(thingName!), attributes: {}, version: 1 },
      ])
    })
  })

  it('an empty registry lists no things and no nextToken', async () => {
    await withFreshServer(async (fresh) => {
      assert.deepEqual(await list({}, fresh), { items: [], nextToken: undefined })
    })
  })
})

describe('ListThings: filters [spec: things#listthings]', () => {
  it('attributeName + attributeValue keeps the things whose attribute equals the value exactly', async () => {
    const tag = unique('eq')
    const [red1, red2] = await makeThings(h, 2, { color: `${tag}-red` })
    await makeThings(h, 1, { color: `${tag}-reddish` })
    await makeThings(h, 1, { colour: `${tag}-red` })
    assert.deepEqual(
      await walkNames({ attributeName: 'color', attributeValue: `${tag}-red` }),
      [red1, red2].sort(),
    )
  })

  it('usePrefixAttributeValue=true keeps the things whose attribute starts with the value', async () => {
    const tag = unique('prefix')
    const [red] = await makeThings(h, 1, { color: `${tag}-red` })
    const [reddish] = await makeThings(h, 1, { color: `${tag}-reddish` })
    await makeThings(h, 1, { color: `x${tag}-red` })
    await makeThings(h, 1, { shade: `${tag}-red` })
    assert.deepEqual(
      await walkNames({
        attributeName: 'color',
        attributeValue: `${tag}-red`,
        usePrefixAttributeValue: true,
      }),
      [red, reddish].sort(),
    )
  })

  it('usePrefixAttributeValue=false is an exact match', async () => {
    const tag = unique('noprefix')
    const [red] = await makeThings(h, 1, { color: `${tag}-red` })
    await makeThings(h, 1, { color: `${tag}-reddish` })
    assert.deepEqual(
      await walkNames({
        attributeName: 'color',
        attributeValue: `${tag}-red`,
        usePrefixAttributeValue: false,
      }),
      [red],
    )
  })

  it('matches attribute names and values made of the allowed punctuation literally [spec: limits#2]', async () => {
    const name = unique('a.b,c@d/e:f#g')
    const [hit] = await makeThings(h, 1, { [name]: 'x.y/z' })
    await makeThings(h, 1, { [name]: 'x-y/z' })
    assert.deepEqual(await walkNames({ attributeName: name, attributeValue: 'x.y/z' }), [hit])
  })

  it('[open-question 7] attributeName alone keeps the things that have the attribute, whatever its value', async () => {
    const attributeName = unique('has')
    const withIt = [
      ...(await makeThings(h, 1, { [attributeName]: 'one' })),
      ...(await makeThings(h, 1, { [attributeName]: 'two' })),
    ]
    await makeThings(h, 1, { other: 'one' })
    assert.deepEqual(await walkNames({ attributeName }), withIt.sort())
  })

  it('an attribute value that changes through UpdateThing is matched on its new value', async () => {
    const tag = unique('moved')
    const [thing] = await makeThings(h, 1, { stage: `${tag}-old` })
    await h.iot.send(
      new UpdateThingCommand({
        thingName: thing!,
        attributePayload: { attributes: { stage: `${tag}-new` } },
      }),
    )
    assert.deepEqual(await walkNames({ attributeName: 'stage', attributeValue: `${tag}-old` }), [])
    assert.deepEqual(await walkNames({ attributeName: 'stage', attributeValue: `${tag}-new` }), [thing])
  })

  it('attributeValue without attributeName is InvalidRequestException (400) naming both', async () => {
    await expectError(
      h.iot.send(new ListThingsCommand({ attributeValue: 'red' })),
      'InvalidRequestException',
      400,
      ['attributeValue', 'attributeName'],
    )
  })

  it('thingTypeName lists nothing: thing types do not exist [spec: things#1-data-model]', async () => {
    await makeThings(h, 2)
    assert.deepEqual(await list({ thingTypeName: 'Sensor' }), { items: [], nextToken: undefined })
    assert.deepEqual(await list({ thingTypeName: 'Sensor', maxResults: 1 }), {
      items: [],
      nextToken: undefined,
    })
  })

  it('a bad attributeName or attributeValue is InvalidRequestException (400) naming it [spec: limits#2]', async () => {
    await expectError(
      h.iot.send(new ListThingsCommand({ attributeName: 'bad name' })),
      'InvalidRequestException',
      400,
      ['attributeName'],
    )
    await expectError(
      h.iot.send(new ListThingsCommand({ attributeName: 'color', attributeValue: 'dark red' })),
      'InvalidRequestException',
      400,
      ['attributeValue'],
    )
  })
})

describe('ListThings: pagination [spec: wire-protocol#6-pagination]', () => {
  for (const maxResults of [1, 2, 3, 7, 250]) {
    it(`maxResults=${maxResults}: the walk returns every thing exactly once in name order, pages of at most ${maxResults}, no token on the last page`, async () => {
      await withFreshServer(async (fresh) => {
        const names = (await makeThings(fresh, 7)).sort()
        const w = await walk((nextToken) =>
          list({ maxResults, ...(nextToken === undefined ? {} : { nextToken }) }, fresh),
        )
        assert.deepEqual(namesOf(w.items), names)
        assert.ok(
          w.sizes.every((n) => n <= maxResults),
          `page sizes ${w.sizes.join(',')}`,
        )
        assert.equal(w.pages, Math.max(1, Math.ceil(7 / maxResults)))
      })
    })
  }

  it('a filtered walk returns each matching thing once across pages', async () => {
    const tag = unique('paged')
    const matching = await makeThings(h, 5, { batch: tag })
    await makeThings(h, 3, { batch: `${tag}-other` })
    const w = await walk((nextToken) =>
      list({
        attributeName: 'batch',
        attributeValue: tag,
        maxResults: 2,
        ...(nextToken === undefined ? {} : { nextToken }),
      }),
    )
    assert.deepEqual(namesOf(w.items), matching.sort())
    assert.deepEqual(w.sizes, [2, 2, 1])
  })

  it('[open-question 2] without maxResults a page holds 50 things', async () => {
    await withFreshServer(async (fresh) => {
      const names = (await makeThings(fresh, 51)).sort()
      const first = await list({}, fresh)
      assert.equal(first.items.length, 50)
      assert.ok(first.nextToken !== undefined)
      const second = await list({ nextToken: first.nextToken }, fresh)
      assert.deepEqual(namesOf([...first.items, ...second.items]), names)
      assert.equal(second.nextToken, undefined)
    })
  })

  it('things created and deleted between pages: every thing that existed throughout appears exactly once; new names after the cursor appear, before it do not; deleted unlisted ones do not', async () => {
    await withFreshServer(async (fresh) => {
      const names = (await makeThings(fresh, 10, undefined, 'm')).sort()
      const listedSoFar: string[] = []
      const earlyNames: string[] = []
      const lateNames: string[] = []
      const deletedUnlisted: string[] = []
      const w = await walk(
        async (nextToken) => {
          const page = await list({ maxResults: 3, ...(nextToken === undefined ? {} : { nextToken }) }, fresh)
          listedSoFar.push(...namesOf(page.items))
          return page
        },
        {
          between: async () => {
            // A name before every cursor ('a…' < 'm…'), one after every cursor ('z…'), and the deletion
            // of a thing not listed yet.
            const early = unique('a')
            const late = unique('z')
            await fresh.iot.send(new CreateThingCommand({ thingName: early }))
            await fresh.iot.send(new CreateThingCommand({ thingName: late }))
            earlyNames.push(early)
            lateNames.push(late)
            const victim = names.findLast((n) => !listedSoFar.includes(n) && !deletedUnlisted.includes(n))
            if (victim === undefined) return
            await fresh.iot.send(new DeleteThingCommand({ thingName: victim }))
            deletedUnlisted.push(victim)
          },
        },
      )
      const listed = namesOf(w.items)
      assert.deepEqual(duplicates(listed), [])
      assert.deepEqual(listed, [...names.filter((n) => !deletedUnlisted.includes(n)), ...lateNames].sort())
      assert.equal(earlyNames.length, w.pages - 1)
      assert.ok(deletedUnlisted.length >= 2, 'the walk saw deletions ahead of its cursor')
    })
  })

  it('maxResults 0 and 251 are InvalidRequestException (400) naming maxResults; 250 is accepted [spec: limits#3]', async () => {
    for (const maxResults of [0, 251]) {
      await expectError(h.iot.send(new ListThingsCommand({ maxResults })), 'InvalidRequestException', 400, [
        'maxResults',
      ])
    }
    const ok = await h.iot.send(new ListThingsCommand({ maxResults: 250 }))
    assert.equal(ok.$metadata.httpStatusCode, 200)
  })

  it('a made-up nextToken is InvalidRequestException (400) naming nextToken', async () => {
    for (const nextToken of ['garbage', Buffer.from('{"v":1}').toString('base64url'), 'x'.repeat(5000)]) {
      await expectError(h.iot.send(new ListThingsCommand({ nextToken })), 'InvalidRequestException', 400, [
        'nextToken',
      ])
    }
  })

  it('a nextToken is refused with other filters or by another operation (400)', async () => {
    const tag = unique('token')
    await makeThings(h, 3, { batch: tag })
    const first = await list({ attributeName: 'batch', attributeValue: tag, maxResults: 1 })
    assert.ok(first.nextToken !== undefined)
    await expectError(
      h.iot.send(
        new ListThingsCommand({
          attributeName: 'batch',
          attributeValue: `${tag}-x`,
          maxResults: 1,
          nextToken: first.nextToken,
        }),
      ),
      'InvalidRequestException',
      400,
      ['nextToken'],
    )
    await expectError(
      h.iot.send(new ListThingsCommand({ nextToken: first.nextToken })),
      'InvalidRequestException',
      400,
      ['nextToken'],
    )
    await expectError(
      h.iot.send(new ListJobsCommand({ nextToken: first.nextToken })),
      'InvalidRequestException',
      400,
      ['nextToken'],
    )
    // The same filters with another page size are fine.
    const second = await list({
      attributeName: 'batch',
      attributeValue: tag,
      maxResults: 5,
      nextToken: first.nextToken,
    })
    assert.equal(second.items.length, 2)
    assert.equal(second.nextToken, undefined)
  })
})
