/**
 * Opaque `nextToken`s: base64url JSON of the operation, its filters and the keyset cursor. A token
 * is accepted only by the operation and filters that produced it. [spec: wire-protocol#6-pagination]
 */
import { invalidRequest } from '../domain/errors.js'
import type { Page, PageRequest } from '../ports/store.js'

const TOKEN_VERSION = 1
/** [spec: limits#2] nextToken ≤ 4096 characters in this project. */
const MAX_TOKEN_LENGTH = 4096

interface TokenBody {
  v: number
  op: string
  f: string
  a: string
}

/**
 * What a store cursor looks like: `seq` (a row sequence number, for lists in creation order) or
 * `name` (any string; lists in name order). A token whose cursor has the wrong shape was forged.
 */
export type CursorKind = 'seq' | 'name'
const SEQ_CURSOR = /^[0-9]{1,15}$/

export function pageRequest(
  op: string,
  filters: object,
  input: { maxResults?: number | undefined; nextToken?: string | undefined },
  defaultPageSize: number,
  cursor: CursorKind,
): PageRequest {
  const limit = input.maxResults ?? defaultPageSize
  if (input.nextToken === undefined) return { limit }
  const after = decodeToken(op, filters, input.nextToken)
  if (cursor === 'seq' && !SEQ_CURSOR.test(after)) throw badToken()
  return { limit, after }
}

const badToken = () => invalidRequest('nextToken is invalid or does not belong to this request')

export function nextToken(op: string, filters: object, page: Page<unknown>): string | undefined {
  if (page.after === undefined) return undefined
  const body: TokenBody = { v: TOKEN_VERSION, op, f: JSON.stringify(filters), a: page.after }
  return Buffer.from(JSON.stringify(body)).toString('base64url')
}

function decodeToken(op: string, filters: object, token: string): string {
  const bad = badToken
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw bad()
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
  } catch {
    // Not our JSON: the token was made up or damaged; the client hears InvalidRequestException.
    throw bad()
  }
  if (typeof body !== 'object' || body === null) throw bad()
  const t = body as Partial<TokenBody>
  if (t.v !== TOKEN_VERSION || t.op !== op || t.f !== JSON.stringify(filters) || typeof t.a !== 'string')
    throw bad()
  return t.a
}
