/**
 * Parsed job specs (document and body) by job id and spec version, for both stores' job-specs modules.
 * A spec version is never reused, so an entry whose version matches the hot row is current; any other
 * is reloaded. Bounded: the entry used longest ago goes first.
 */
import type { JobBody } from './rows.js'

/** Enough for every job a fleet works on at once. */
const CACHE_ENTRIES = 512

export interface Spec {
  readonly version: number
  readonly document: string
  readonly body: JobBody
  /** The stored JSON, to tell whether a write changes it. */
  readonly json: string
}

export class SpecCache {
  private readonly entries = new Map<string, Spec>()

  /** The cached spec of this version, if there is one. */
  get(jobId: string, version: number): Spec | undefined {
    const spec = this.entries.get(jobId)
    return spec?.version === version ? spec : undefined
  }

  /** Parses and keeps a spec read from the database. */
  put(jobId: string, version: number, document: string, json: string): Spec {
    const spec: Spec = { version, document, body: JSON.parse(json) as JobBody, json }
    this.entries.delete(jobId)
    this.entries.set(jobId, spec)
    if (this.entries.size > CACHE_ENTRIES) {
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    return spec
  }

  clear(): void {
    this.entries.clear()
  }

  delete(jobId: string): void {
    this.entries.delete(jobId)
  }
}
