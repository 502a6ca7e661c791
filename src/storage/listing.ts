/** What the listings of both stores share: the filter of a thing's executions, and the page cut. */
import type { ExecutionStatus } from '../domain/statuses.js'
import type { Page } from '../ports/store.js'

export interface ExecutionsOfThingFilter {
  readonly status?: ExecutionStatus | undefined
  readonly jobId?: string | undefined
  readonly namespaceId?: string | undefined
}

/** The first `limit` rows, and the key of the last one when more follow (the store reads limit + 1). */
export function pageOf<T>(rows: readonly T[], limit: number, cursor: (item: T) => string): Page<T> {
  if (rows.length <= limit) return { items: rows }
  const items = rows.slice(0, limit)
  const last = items[items.length - 1]
  return last === undefined ? { items } : { items, after: cursor(last) }
}
