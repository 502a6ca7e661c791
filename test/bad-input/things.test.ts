/**
 * Bad input to the thing registry operations: CreateThing, DescribeThing, ListThings, UpdateThing,
 * DeleteThing. Every request is malformed in exactly one way and aims at a real thing, so a request
 * that slipped through validation would change the database.
 */
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import type { MemberCase, NameRule, Seeded } from '../support/bad-input.js'
import {
  TOO_LARGE,
  THING_NAME,
  badBooleanQuery,
  check,
  badIntegerQuery,
  badLongQuery,
  NAMED_ILLEGAL_NAMES,
  badName,
  namedTooLongNames,
  illegalName,
  tooLongName,
  badNameQuery,
  deeplyNested,
  expectDatabaseUnchanged,
  expectRejection,
  garbageToken,
  malformedBytes,
  malformedJson,
  member,
  nonObjectJson,
  query,
  seedState,
  segment,
  send,
  withValue,
} from '../support/bad-input.js'

/** [spec: limits#2] attribute name ≤ 128 `[a-zA-Z0-9_.,@/:#-]+`, value ≤ 800 `[a-zA-Z0-9_.,@/:#-]*`. */
const ATTRIBUTE_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.,@/:#-'
const ATTRIBUTE_NAME: NameRule = { label: 'attributeName', alphabet: ATTRIBUTE_CHARS, max: 128 }
const ATTRIBUTE_VALUE: NameRule = { label: 'attributeValue', alphabet: ATTRIBUTE_CHARS, max: 800 }

describe('Thing registry rejects bad input and changes nothing [spec: things#2-operations] [spec: wire-protocol#2] [spec: limits#2]', () => {
  let h: Harness
  let s: Seeded
  let cp: string
  before(async () => {
    h = await startHarness()
    cp = h.server.url
  })
  // Fresh targets for every test, so that one request that slipped through cannot spoil the next test.
  beforeEach(async () => {
    s = await seedState(h)
  })
  after(async () => {
    await h.close()
  })

  const createBody = { attributePayload: { attributes: { color: 'blue', size: 'L' } } }
  const updateBody = () => ({
    attributePayload: { attributes: { color: 'green' }, merge: true },
    expectedVersion: 1,
    removeThingType: false,
  })

  const pathOperations = [
    { name: 'CreateThing', method: 'POST', body: JSON.stringify(createBody) },
    { name: 'DescribeThing', method: 'GET' },
    { name: 'UpdateThing', method: 'PATCH', body: JSON.stringify(updateBody()) },
    { name: 'DeleteThing', method: 'DELETE' },
  ] as const

  for (const [what, names, named] of [
    [
      'illegal characters (space, dot, unicode, %2F, control characters)',
      illegalName(THING_NAME),
      NAMED_ILLEGAL_NAMES,
    ],
    ['more than 128 characters', tooLongName(THING_NAME), namedTooLongNames(THING_NAME)],
  ] as const) {
    it(`answers 400 naming thingName for a thing name with ${what}, in every path [spec: wire-protocol#2.1] [spec: limits#2]`, async () => {
      await expectDatabaseUnchanged(h, () =>
        check(
          [fc.constantFrom(...pathOperations), names],
          async (op, name) => {
            const reply = await send(
              cp,
              op.method,
              `/things/${segment(name)}`,
              'body' in op ? { body: op.body } : {},
            )
            expectRejection(reply, { names: 'thingName' })
          },
          300,
          pathOperations.flatMap((op) => named.map((name): [typeof op, string] => [op, name])),
        ),
      )
    })
  }

  it('answers 400 for a body that is not JSON, or JSON that is not an object [spec: wire-protocol#2.3]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [
          fc.constantFrom('CreateThing', 'UpdateThing'),
          fc.oneof(malformedJson(JSON.stringify(createBody)), nonObjectJson, malformedBytes),
        ],
        async (op, body) => {
          const reply =
            op === 'CreateThing'
              ? await send(cp, 'POST', `/things/${unique('never')}`, { body })
              : await send(cp, 'PATCH', `/things/${s.queuedThing}`, { body })
          expectRejection(reply)
        },
        300,
      ),
    )
  })

  const attributeCases: MemberCase[] = [
    member(['thingTypeName'], 'string'),
    member(['billingGroupName'], 'string'),
    member(['attributePayload'], 'object'),
    member(['attributePayload', 'attributes'], 'object'),
    member(['attributePayload', 'attributes', 'color'], 'string', 'attributePayload.attributes'),
    member(['attributePayload', 'merge'], 'boolean'),
    {
      path: ['attributePayload', 'attributes'],
      wrong: badName(ATTRIBUTE_NAME).map((key) => ({ [key]: 'v' })),
      names: 'attributePayload.attributes',
    },
    {
      path: ['attributePayload', 'attributes', 'color'],
      wrong: badName(ATTRIBUTE_VALUE),
      names: 'attributePayload.attributes',
    },
    { path: ['thingTypeName'], wrong: badName(THING_NAME), names: 'thingTypeName' },
  ]

  it('CreateThing: answers 400 naming the member for each wrongly typed or out-of-pattern member [spec: things#creatething]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.constantFrom(...attributeCases).chain((c) => c.wrong.map((value) => ({ c, value })))],
        async ({ c, value }) => {
          const body = JSON.stringify(withValue(createBody, c.path, value))
          expectRejection(await send(cp, 'POST', `/things/${unique('never')}`, { body }), { names: c.names })
        },
        400,
      ),
    )
  })

  it('UpdateThing: answers 400 naming the member for each wrongly typed member, on a real thing [spec: things#updatething]', async () => {
    const cases: MemberCase[] = [
      ...attributeCases.filter((c) => c.path[0] !== 'billingGroupName'),
      member(['expectedVersion'], 'integer'),
      member(['removeThingType'], 'boolean'),
    ]
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.constantFrom(...cases).chain((c) => c.wrong.map((value) => ({ c, value })))],
        async ({ c, value }) => {
          const body = JSON.stringify(withValue(updateBody(), c.path, value))
          expectRejection(await send(cp, 'PATCH', `/things/${s.queuedThing}`, { body }), { names: c.names })
        },
        400,
      ),
    )
  })

  it('CreateThing: more than 3 attributes is InvalidRequestException [spec: limits#4]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.uniqueArray(fc.stringMatching(/^[a-z]{1,10}$/), { minLength: 4, maxLength: 20 })],
        async (names) => {
          const attributes = Object.fromEntries(names.map((n) => [n, 'v']))
          const body = JSON.stringify({ attributePayload: { attributes } })
          expectRejection(await send(cp, 'POST', `/things/${unique('never')}`, { body }), {
            names: 'attributes',
          })
        },
        30,
      ),
    )
  })

  it('ListThings: answers 400 naming the parameter for bad query values [spec: things#listthings] [spec: wire-protocol#2.2] [spec: wire-protocol#6]', async () => {
    const cases = fc.oneof(
      badIntegerQuery(1, 250).map((v) => ({ params: { maxResults: v }, names: 'maxResults' })),
      garbageToken([]).map((v) => ({ params: { nextToken: v }, names: 'nextToken' })),
      fc.oneof(badName(ATTRIBUTE_NAME), fc.constant('')).map((v) => ({
        params: { attributeName: v, attributeValue: 'red' },
        names: 'attributeName',
      })),
      badName(ATTRIBUTE_VALUE).map((v) => ({
        params: { attributeName: 'color', attributeValue: v },
        names: 'attributeValue',
      })),
      badNameQuery(THING_NAME).map((v) => ({ params: { thingTypeName: v }, names: 'thingTypeName' })),
      badBooleanQuery.map((v) => ({
        params: { attributeName: 'color', attributeValue: 're', usePrefixAttributeValue: v },
        names: 'usePrefixAttributeValue',
      })),
      // [spec: things#listthings] attributeValue without attributeName
      fc
        .stringMatching(/^[a-z]{0,8}$/)
        .map((v) => ({ params: { attributeValue: v }, names: 'attributeValue' })),
    )
    await expectDatabaseUnchanged(h, () =>
      check(
        [cases],
        async ({ params, names }) => {
          expectRejection(await send(cp, 'GET', `/things${query(params)}`), { names })
        },
        400,
      ),
    )
  })

  it('ListThings: a nextToken from ListThings with other filters, or another operation, is refused [spec: wire-protocol#6]', async () => {
    const jobsPage = await send(cp, 'GET', '/jobs?maxResults=1')
    const jobsToken = (jobsPage.json as { nextToken: string }).nextToken
    await expectDatabaseUnchanged(h, async () => {
      expectRejection(await send(cp, 'GET', `/things${query({ nextToken: jobsToken })}`), {
        names: 'nextToken',
      })
      expectRejection(
        await send(cp, 'GET', `/things${query({ nextToken: s.thingsToken, attributeName: 'color' })}`),
        { names: 'nextToken' },
      )
    })
  })

  it('DeleteThing: expectedVersion that is not a long is 400, and the thing stays [spec: things#deletething]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [badLongQuery()],
        async (v) => {
          expectRejection(
            await send(cp, 'DELETE', `/things/${s.queuedThing}${query({ expectedVersion: v })}`),
            {
              names: 'expectedVersion',
            },
          )
        },
        100,
      ),
    )
  })

  it('answers 400 (never 5xx) for a member nested thousands of levels deep [spec: wire-protocol#2.3] [spec: wire-protocol#5.5]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [
          fc.constantFrom('CreateThing', 'UpdateThing'),
          fc.integer({ min: 1, max: 20_000 }),
          fc.constantFrom('array', 'object'),
        ],
        async (op, depth, shape: 'array' | 'object') => {
          const body = `{"attributePayload":{"attributes":${deeplyNested(depth, shape)}}}`
          const reply =
            op === 'CreateThing'
              ? await send(cp, 'POST', `/things/${unique('never')}`, { body })
              : await send(cp, 'PATCH', `/things/${s.queuedThing}`, { body })
          expectRejection(reply, { names: 'attributePayload.attributes' })
        },
        25,
      ),
    )
  })

  it('answers 413 for a body larger than 1 MiB, even when it is otherwise valid [spec: wire-protocol#2.3]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [
          fc.constantFrom('CreateThing', 'UpdateThing'),
          fc.integer({ min: 1024 * 1024 + 1, max: 3 * 1024 * 1024 }),
        ],
        async (op, size) => {
          // Valid members plus an unknown one that pads the body to `size` bytes.
          const prefix = `{"attributePayload":{"attributes":{"color":"huge"}},"padding":"`
          const body = `${prefix}${'x'.repeat(size - prefix.length - 2)}"}`
          const reply =
            op === 'CreateThing'
              ? await send(cp, 'POST', `/things/${unique('never')}`, { body })
              : await send(cp, 'PATCH', `/things/${s.queuedThing}`, { body })
          expectRejection(reply, TOO_LARGE)
        },
        6,
      ),
    )
  })

  it('control: the unbroken requests these properties corrupt are accepted [spec: things#2-operations]', async () => {
    // Runs last: it changes the database.
    const fresh = unique('base')
    for (const [method, path, body] of [
      ['POST', `/things/${fresh}`, JSON.stringify(createBody)],
      ['PATCH', `/things/${s.queuedThing}`, JSON.stringify(updateBody())],
      [
        'GET',
        `/things${query({ attributeName: 'color', attributeValue: 'gr', usePrefixAttributeValue: 'true', maxResults: '250' })}`,
        undefined,
      ],
      ['GET', `/things${query({ nextToken: s.thingsToken })}`, undefined],
      ['DELETE', `/things/${s.queuedThing}${query({ expectedVersion: '2' })}`, undefined],
    ] as const) {
      const reply = await send(cp, method, path, body === undefined ? {} : { body })
      assert.equal(reply.status, 200, `${reply.text} for ${reply.request}`)
    }
  })

  it('control: a thing name of exactly 128 legal characters is accepted, in every path [spec: limits#2]', async () => {
    // The positive boundary for the over-long names above: the limit is 128, not 100.
    const thingName = `b128-${'x'.repeat(123)}`
    assert.equal(thingName.length, 128)
    for (const op of pathOperations) {
      const reply = await send(cp, op.method, `/things/${thingName}`, 'body' in op ? { body: op.body } : {})
      assert.equal(reply.status, 200, `${op.name}: ${reply.text} for ${reply.request}`)
    }
  })
})
