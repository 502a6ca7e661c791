/**
 * The records the storage tests start from (the storage contract, the certificate and read contracts,
 * the PostgreSQL store's own tests): one fixed instant, a thing, a job, and things written in turn.
 */
import type { Job, Thing } from '../domain/records.js'
import { ROLLOUT_DONE, zeroCounts } from '../domain/records.js'
import type { Store } from '../ports/store.js'

export const NOW = 1_735_689_600_000

export const thing = (thingName: string): Thing => ({
  thingName,
  thingId: `id-${thingName}`,
  attributes: {},
  version: 1,
  createdAtMs: NOW,
})

export const newJob = (jobId: string, overrides: Partial<Job> = {}): Job => ({
  jobId,
  status: 'IN_PROGRESS',
  targetSelection: 'SNAPSHOT',
  targets: [],
  document: '{}',
  forceCanceled: false,
  createdAtMs: NOW,
  lastUpdatedAtMs: NOW,
  counts: zeroCounts(),
  rollout: ROLLOUT_DONE,
  ...overrides,
})

export async function addThings(store: Store, names: readonly string[]): Promise<void> {
  for (const name of names) {
    await store.mutateThing(name, () => ({ kind: 'write', next: thing(name), result: undefined }))
  }
}
