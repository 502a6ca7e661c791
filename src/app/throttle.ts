/**
 * Token-bucket rate limiting. The control plane answers ThrottlingException 400, the data plane
 * 429 (statuses from the models). [spec: limits#4] [spec: delete-job-execution#5]
 */
export interface RateLimit {
  /** Requests per second allowed on average. */
  readonly ratePerSecond: number
  /** Requests allowed at once after a quiet period. */
  readonly burst: number
}

interface Bucket {
  tokens: number
  atMs: number
}

/** Bounds memory when many distinct keys (things) are throttled. */
const MAX_BUCKETS = 100_000

export class Throttle {
  private readonly buckets = new Map<string, Bucket>()

  constructor(
    private readonly limit: RateLimit,
    private readonly nowMs: () => number,
  ) {}

  /** Takes one token for `key`; false when the caller is over its rate. */
  take(key: string): boolean {
    const now = this.nowMs()
    let b = this.buckets.get(key)
    if (b === undefined) {
      if (this.buckets.size >= MAX_BUCKETS) this.buckets.clear()
      b = { tokens: this.limit.burst, atMs: now }
      this.buckets.set(key, b)
    }
    b.tokens = Math.min(this.limit.burst, b.tokens + ((now - b.atMs) / 1000) * this.limit.ratePerSecond)
    b.atMs = now
    if (b.tokens < 1) return false
    b.tokens -= 1
    return true
  }
}
