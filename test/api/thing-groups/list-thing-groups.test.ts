/**
 * ListThingGroups through the real AWS SDK client, with the default hierarchy limits (depth 7, 100
 * children) so that "all descendants" reaches past grandchildren. Each tree has a unique name prefix,
 * so the other trees of this file never show up in a listing filtered by it.
 * [spec: things#listthinggroups]
 */
import {
  InvalidRequestException,
  ListThingGroupsCommand,
  ResourceNotFoundException,
  paginateListThingGroups,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { startHarness, unique } from '../../support/harness.js'
import { createGroup, groupArnOf } from '../../support/thing-groups.js'

interface Filters {
  parentGroup?: string
  namePrefixFilter?: string
  recursive?: boolean
}

let h: Harness
before(async () => {
  h = await startHarness()
})
after(async () => {
  await h.close()
})

/** Names of the groups ListThingGroups returns for these filters, all pages of `pageSize`. */
async function listGroupNames(input: Filters, pageSize = 250): Promise<string[]> {
  const names: string[] = []
  // A copy: the paginator writes maxResults and nextToken into the input it is given.
  for await (const page of paginateListThingGroups({ client: h.iot, pageSize }, { ...input })) {
    assert.ok((page.thingGroups ?? []).length <= pageSize)
    for (const g of page.thingGroups ?? []) {
      assert.equal(g.groupArn, groupArnOf(g.groupName ?? ''))
      names.push(g.groupName ?? '')
    }
  }
  return names
}

/** Creates the groups in order; each entry is [name, parent]. */
async function createTree(groups: readonly (readonly [string, string?])[]): Promise<void> {
  for (const [name, parent] of groups)
    await createGroup(h, parent === undefined ? { name } : { name, parent })
}

/** Expects InvalidRequestException (400) naming nextToken. */
function invalidToken(e: unknown): boolean {
  assert.ok(e instanceof InvalidRequestException)
  assert.equal(e.$metadata.httpStatusCode, 400)
  assert.match(e.message, /nextToken/)
  return true
}

describe('ListThingGroups [spec: things#listthinggroups]', () => {
  // p (root) → p-a → p-a-x → p-a-x-1 → p-a-x-1-2; p-a → p-a-y; p → p-b; q (root) → q-c.
  let base: string
  let p: string
  let q: string
  let mine: string[]
  before(async () => {
    base = unique('lst')
    p = `${base}-p`
    q = `${base}-q`
    await createTree([
      [p],
      [`${p}-a`, p],
      [`${p}-b`, p],
      [`${p}-a-x`, `${p}-a`],
      [`${p}-a-y`, `${p}-a`],
      [`${p}-a-x-1`, `${p}-a-x`],
      [`${p}-a-x-1-2`, `${p}-a-x-1`],
      [q],
      [`${q}-c`, q],
    ])
    mine = [p, `${p}-a`, `${p}-a-x`, `${p}-a-x-1`, `${p}-a-x-1-2`, `${p}-a-y`, `${p}-b`, q, `${q}-c`]
  })

  it('lists all groups without a filter, ordered by name, as {groupName, groupArn}', async () => {
    const all = await listGroupNames({})
    assert.deepEqual(
      all.filter((n) => n.startsWith(base)),
      mine,
    )
    assert.deepEqual(all, [...all].sort())
  })

  it('parentGroup alone lists all descendants: children, grandchildren and deeper', async () => {
    assert.deepEqual(await listGroupNames({ parentGroup: p }), [
      `${p}-a`,
      `${p}-a-x`,
      `${p}-a-x-1`,
      `${p}-a-x-1-2`,
      `${p}-a-y`,
      `${p}-b`,
    ])
    assert.deepEqual(await listGroupNames({ parentGroup: `${p}-a` }), [
      `${p}-a-x`,
      `${p}-a-x-1`,
      `${p}-a-x-1-2`,
      `${p}-a-y`,
    ])
    assert.deepEqual(await listGroupNames({ parentGroup: q }), [`${q}-c`])
    assert.deepEqual(await listGroupNames({ parentGroup: `${p}-a-x-1-2` }), [])
  })

  it('parentGroup with recursive=true lists the same descendants', async () => {
    for (const parentGroup of [p, `${p}-a`, `${p}-a-x`, `${p}-b`]) {
      assert.deepEqual(
        await listGroupNames({ parentGroup, recursive: true }),
        await listGroupNames({ parentGroup }),
      )
    }
  })

  it('parentGroup with recursive=false lists the direct children only', async () => {
    assert.deepEqual(await listGroupNames({ parentGroup: p, recursive: false }), [`${p}-a`, `${p}-b`])
    assert.deepEqual(await listGroupNames({ parentGroup: `${p}-a`, recursive: false }), [
      `${p}-a-x`,
      `${p}-a-y`,
    ])
    assert.deepEqual(await listGroupNames({ parentGroup: `${p}-a-x`, recursive: false }), [`${p}-a-x-1`])
    assert.deepEqual(await listGroupNames({ parentGroup: `${p}-b`, recursive: false }), [])
  })

  it('recursive=false without parentGroup lists the root groups only', async () => {
    assert.deepEqual(await listGroupNames({ recursive: false, namePrefixFilter: base }), [p, q])
    const roots = await listGroupNames({ recursive: false })
    assert.ok(roots.includes(p) && roots.includes(q))
    for (const child of mine.filter((n) => n !== p && n !== q)) assert.ok(!roots.includes(child), child)
    assert.deepEqual(roots, [...roots].sort())
  })

  it('recursive=true without parentGroup lists all groups, as no filter does', async () => {
    assert.deepEqual(await listGroupNames({ recursive: true }), await listGroupNames({}))
    assert.deepEqual(await listGroupNames({ recursive: true, namePrefixFilter: base }), mine)
  })

  it('namePrefixFilter keeps the names that start with the prefix, after the parent filter', async () => {
    assert.deepEqual(await listGroupNames({ namePrefixFilter: `${p}-a` }), [
      `${p}-a`,
      `${p}-a-x`,
      `${p}-a-x-1`,
      `${p}-a-x-1-2`,
      `${p}-a-y`,
    ])
    // Descendants (the default), then the prefix: a grandchild matches although its parent does not.
    assert.deepEqual(await listGroupNames({ parentGroup: p, namePrefixFilter: `${p}-a-x` }), [
      `${p}-a-x`,
      `${p}-a-x-1`,
      `${p}-a-x-1-2`,
    ])
    assert.deepEqual(await listGroupNames({ parentGroup: `${p}-a`, namePrefixFilter: `${p}-a-x-1` }), [
      `${p}-a-x-1`,
      `${p}-a-x-1-2`,
    ])
    assert.deepEqual(await listGroupNames({ parentGroup: p, recursive: true, namePrefixFilter: `${p}-a-` }), [
      `${p}-a-x`,
      `${p}-a-x-1`,
      `${p}-a-x-1-2`,
      `${p}-a-y`,
    ])
    // Direct children, then the prefix.
    assert.deepEqual(
      await listGroupNames({ parentGroup: p, recursive: false, namePrefixFilter: `${p}-a-` }),
      [],
    )
    assert.deepEqual(await listGroupNames({ parentGroup: p, recursive: false, namePrefixFilter: `${p}-b` }), [
      `${p}-b`,
    ])
    // Roots, then the prefix.
    assert.deepEqual(await listGroupNames({ recursive: false, namePrefixFilter: p }), [p])
    assert.deepEqual(await listGroupNames({ recursive: false, namePrefixFilter: `${q}-` }), [])
  })

  it('answers ResourceNotFoundException for an unknown parentGroup, recursive or not', async () => {
    for (const recursive of [undefined, true, false]) {
      await assert.rejects(
        h.iot.send(
          new ListThingGroupsCommand({
            parentGroup: unique('missing'),
            ...(recursive === undefined ? {} : { recursive }),
          }),
        ),
        (e: unknown) => {
          assert.ok(e instanceof ResourceNotFoundException)
          assert.equal(e.$metadata.httpStatusCode, 404)
          return true
        },
      )
    }
  })

  it('pages every filter through the SDK paginator with maxResults 1 and 2, as one page lists it', async () => {
    const cases: Filters[] = [
      { namePrefixFilter: base },
      { parentGroup: p },
      { parentGroup: `${p}-a`, recursive: true },
      { parentGroup: p, recursive: false },
      { recursive: false, namePrefixFilter: base },
      { parentGroup: p, namePrefixFilter: `${p}-a-` },
    ]
    for (const filters of cases) {
      const whole = await listGroupNames(filters)
      assert.ok(whole.length >= 2, JSON.stringify(filters))
      for (const pageSize of [1, 2])
        assert.deepEqual(
          await listGroupNames(filters, pageSize),
          whole,
          JSON.stringify({ filters, pageSize }),
        )
    }
    const first = await h.iot.send(new ListThingGroupsCommand({ parentGroup: p, maxResults: 2 }))
    assert.deepEqual(
      first.thingGroups?.map((g) => g.groupName),
      [`${p}-a`, `${p}-a-x`],
    )
    assert.ok(typeof first.nextToken === 'string' && first.nextToken.length > 0)
  })

  it('refuses a nextToken with filters other than those that produced it [spec: wire-protocol#6-pagination]', async () => {
    const descendants = await h.iot.send(new ListThingGroupsCommand({ parentGroup: p, maxResults: 1 }))
    const token = descendants.nextToken
    assert.ok(token !== undefined)
    for (const other of [
      { parentGroup: p, recursive: false },
      { parentGroup: `${p}-a` },
      { parentGroup: p, namePrefixFilter: `${p}-a` },
      {},
      { recursive: false },
    ]) {
      await assert.rejects(
        h.iot.send(new ListThingGroupsCommand({ ...other, nextToken: token })),
        invalidToken,
      )
    }
    // An omitted recursive is recursive=true: the token serves both spellings of the same listing.
    const next = await h.iot.send(
      new ListThingGroupsCommand({ parentGroup: p, recursive: true, maxResults: 1, nextToken: token }),
    )
    assert.deepEqual(
      next.thingGroups?.map((g) => g.groupName),
      [`${p}-a-x`],
    )

    const roots = await h.iot.send(
      new ListThingGroupsCommand({ recursive: false, namePrefixFilter: base, maxResults: 1 }),
    )
    assert.ok(roots.nextToken !== undefined)
    for (const other of [{ namePrefixFilter: base }, { recursive: true, namePrefixFilter: base }]) {
      await assert.rejects(
        h.iot.send(new ListThingGroupsCommand({ ...other, nextToken: roots.nextToken })),
        invalidToken,
      )
    }
  })
})

describe('ListThingGroups order and paging [spec: things#listthinggroups] [spec: wire-protocol#6-pagination]', () => {
  it('orders by name byte-wise (case and punctuation count), on descendants and roots alike', async () => {
    const b = unique('ord')
    // Byte order: '-' 0x2D < ':' 0x3A < 'Z' 0x5A < '_' 0x5F < 'a' 0x61. A locale collation that ignores
    // punctuation or case would order these differently.
    await createTree([
      [b],
      [`${b}_m`, b],
      [`${b}-a`, b],
      [`${b}:k`, b],
      [`${b}-Z`, b],
      [`${b}-Z-0`, `${b}-Z`],
      [`${b}-a_Z`, `${b}-a`],
      [`${b}Z`],
      [`${b}_`],
    ])
    const descendants = [`${b}-Z`, `${b}-Z-0`, `${b}-a`, `${b}-a_Z`, `${b}:k`, `${b}_m`]
    assert.deepEqual(descendants, [...descendants].sort())
    assert.deepEqual(await listGroupNames({ parentGroup: b }), descendants)
    assert.deepEqual(await listGroupNames({ parentGroup: b }, 1), descendants)
    assert.deepEqual(await listGroupNames({ parentGroup: b, recursive: false }, 1), [
      `${b}-Z`,
      `${b}-a`,
      `${b}:k`,
      `${b}_m`,
    ])
    assert.deepEqual(await listGroupNames({ recursive: false, namePrefixFilter: b }, 1), [
      b,
      `${b}Z`,
      `${b}_`,
    ])
  })

  it('keeps keyset paging stable while groups are created between pages', async () => {
    const r = unique('stable')
    await createTree([[r], [`${r}-b`, r], [`${r}-d`, r], [`${r}-b-m`, `${r}-b`]])
    const first = await h.iot.send(new ListThingGroupsCommand({ parentGroup: r, maxResults: 2 }))
    assert.deepEqual(
      first.thingGroups?.map((g) => g.groupName),
      [`${r}-b`, `${r}-b-m`],
    )
    assert.ok(first.nextToken !== undefined)
    // One new descendant sorts before the cursor (not listed again), one after it (listed).
    await createTree([
      [`${r}-b-a`, `${r}-b`],
      [`${r}-d-z`, `${r}-d`],
    ])
    const rest: string[] = []
    for await (const page of paginateListThingGroups(
      { client: h.iot, pageSize: 1, startingToken: first.nextToken },
      { parentGroup: r },
    )) {
      rest.push(...(page.thingGroups ?? []).map((g) => g.groupName ?? ''))
    }
    assert.deepEqual(rest, [`${r}-d`, `${r}-d-z`])
    assert.deepEqual(await listGroupNames({ parentGroup: r }), [
      `${r}-b`,
      `${r}-b-a`,
      `${r}-b-m`,
      `${r}-d`,
      `${r}-d-z`,
    ])
  })
})
