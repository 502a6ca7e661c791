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
 * What a store cursor looks like: `name` (any string; lists in name order) or a sort key, the JSON
 * array of the last item's key members of these types (lists in key order). A token whose cursor has
 * another shape was forged.
 */
export type CursorKind = 'name' | readonly ('number' | 'string')[]

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
  if (cursor !== 'name' && !isKey(after, cursor)) throw badToken()
  return { limit, after }
}

function isKey(after: string, types: readonly ('number' | 'string')[]): boolean {
  let key: unknown
  try {
    key = JSON.parse(after)
  } catch {
    // Not JSON: not a key we made.
    return false
  }
  return (
    Array.isArray(key) &&
    key.length === types.length &&
    key.every((v, i) => (types[i] === 'number' ? Number.isSafeInteger(v) : typeof v === 'string'))
  )
}

/** [open-question 3] the sort keys of the lists in creation order. */
export const JOB_KEY = ['number', 'string'] as const // createdAt, jobId
export const EXECUTION_KEY = ['number', 'string', 'number'] as const // queuedAt, thing or job, executionNumber
export const TEMPLATE_KEY = ['number', 'string'] as const // createdAt, jobTemplateId

const badToken = () => invalidRequest('nextToken is invalid or does not belong to this request')

export function nextToken(op: string, filters: object, page: Page<unknown>): string | undefined {
  if (page.after === undefined) return undefined
  const body: TokenBody = { v: TOKEN_VERSION, op, f: JSON.stringify(filters), a: page.after }
  return Buffer.from(JSON.stringify(body)).toString('base64url')
}

function decodeToken(op: string, filters: object, token: string): string {
  if (token.length === 0 || token.length > MAX_TOKEN_LENGTH) throw badToken()
  let body: unknown
  try {
    body = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'))
  } catch {
    // Not our JSON: the token was made up or damaged; the client hears InvalidRequestException.
    throw badToken()
  }
  if (typeof body !== 'object' || body === null) throw badToken()
  const t = body as Partial<TokenBody>
  if (t.v !== TOKEN_VERSION || t.op !== op || t.f !== JSON.stringify(filters) || typeof t.a !== 'string')
    throw badToken()
  return t.a
}
