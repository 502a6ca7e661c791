/**
 * Helpers for the per-operation API tests of the registry and the jobs control plane: ARNs, exact
 * error checks (name, HTTP status, a message naming the field or resource), and a nextToken walk
 * that can change the store between pages. Everything goes through the real AWS SDK clients.
 * [spec: wire-protocol#5-errors] [spec: wire-protocol#6-pagination]
 */
import { CreateThingCommand } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import type { Harness } from './harness.js'
import { ACCOUNT, REGION, unique } from './harness.js'

export const jobArnOf = (jobId: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:job/${jobId}`
export const templateArnOf = (id: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:jobtemplate/${id}`

/** A control-plane timestamp as the JS SDK parses it: epoch milliseconds → Date. [spec: wire-protocol#4] */
export const cpDate = (ms: number): Date => new Date(ms)

/** An AWS SDK service exception as far as these tests look at it. */
export interface SdkError extends Error {
  readonly $metadata: { readonly httpStatusCode?: number }
  readonly resourceId?: string
  readonly resourceArn?: string
}

/**
 * Awaits a call that must fail with the AWS error `name` and HTTP `status`, whose message names each
 * of `mentions` (a field, a resource). Returns the error for further checks.
 */
export async function expectError(
  call: Promise<unknown>,
  name: string,
  status: number,
  mentions: readonly (string | RegExp)[] = [],
): Promise<SdkError> {
  let caught: unknown
  try {
    await call
  } catch (error) {
    caught = error
  }
  assert.ok(caught !== undefined, `expected ${name} (${status}), but the call succeeded`)
  assert.ok(caught instanceof Error, `expected an Error, got ${typeof caught}`)
  const e = caught as SdkError
  assert.equal(e.name, name, `error name (message: ${e.message})`)
  assert.equal(e.$metadata.httpStatusCode, status, `HTTP status of ${name}`)
  assert.ok(e.message.length > 0, 'the error carries a message')
  for (const m of mentions) {
    if (typeof m === 'string') assert.ok(e.message.includes(m), `message "${e.message}" names "${m}"`)
    else assert.match(e.message, m)
  }
  return e
}

/** Creates `count` things with the given attributes; returns their names in creation order. */
export async function makeThings(
  h: Harness,
  count: number,
  attributes?: Record<string, string>,
  prefix = 'thing',
): Promise<string[]> {
  const names: string[] = []
  for (let i = 0; i < count; i += 1) {
    const thingName = unique(prefix)
    await h.iot.send(
      new CreateThingCommand({
        thingName,
        ...(attributes === undefined ? {} : { attributePayload: { attributes } }),
      }),
    )
    names.push(thingName)
  }
  return names
}

export interface Walk<T> {
  /** Every item in the order the pages gave them. */
  readonly items: T[]
  /** Item count of each page. */
  readonly sizes: number[]
  /** Pages requested; every one but the last carried a nextToken. */
  readonly pages: number
}

/**
 * Follows nextToken until a page has none. `between(pageIndex)` runs after each page that has a
 * token, before the next request, so a test can change the store mid-walk. Fails after `maxPages`
 * pages (a server that repeats a token would otherwise loop forever). [spec: wire-protocol#6]
 */
export async function walk<T>(
  fetchPage: (
    nextToken: string | undefined,
  ) => Promise<{ items: readonly T[]; nextToken?: string | undefined }>,
  options: { between?: (pageIndex: number) => Promise<void>; maxPages?: number } = {},
): Promise<Walk<T>> {
  const items: T[] = []
  const sizes: number[] = []
  const seen = new Set<string>()
  let token: string | undefined
  for (let page = 0; ; page += 1) {
    assert.ok(page < (options.maxPages ?? 1000), 'the walk ends')
    const out = await fetchPage(token)
    items.push(...out.items)
    sizes.push(out.items.length)
    if (out.nextToken === undefined) return { items, sizes, pages: page + 1 }
    assert.notEqual(out.nextToken, '', 'a nextToken is omitted, never empty')
    assert.ok(!seen.has(out.nextToken), 'no nextToken is handed out twice in one walk')
    seen.add(out.nextToken)
    token = out.nextToken
    if (options.between !== undefined) await options.between(page)
  }
}

/** The items that occur more than once. */
export function duplicates<T>(items: readonly T[]): T[] {
  const seen = new Set<T>()
  const dup: T[] = []
  for (const item of items) {
    if (seen.has(item)) dup.push(item)
    seen.add(item)
  }
  return dup
}
