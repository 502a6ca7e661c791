/**
 * One load run with autocannon: raw HTTP/1.1 keep-alive connections, requests built in this process
 * from prepared data, bounded by time or by a request count, and always by a hard time limit.
 */
import autocannon from 'autocannon'
import type { HttpRequest } from './aws-requests.js'
import type { LoadStats } from './types.js'

/** A count-bounded run stops here even if the server stalls. */
const HARD_LIMIT_S = 180
/** A request that takes longer counts as an error. */
const REQUEST_TIMEOUT_S = 10
const SAMPLE_INTERVAL_MS = 25

export interface LoadPlan {
  /** Base URL of the listener, `http://127.0.0.1:<port>`. */
  readonly url: string
  readonly connections: number
  /** Seconds to send for; ignored when `amount` is set. */
  readonly durationS?: number
  /** Exactly this many requests, over all connections. */
  readonly amount?: number
  /** The next request to send; called once per request, shared by all connections. */
  readonly next: () => HttpRequest
}

export async function runLoad(plan: LoadPlan): Promise<LoadStats> {
  return summarize([await collect(plan)])
}

/**
 * Several load runs at once (one per server of a multi-node point), each with its own connections,
 * summed into one figure: 2xx answers of all of them from the first request to the last answer,
 * percentiles over all their latencies. Give them one shared `next` for one counter across all.
 */
export async function runLoadSplit(plans: readonly LoadPlan[]): Promise<LoadStats> {
  return summarize(await Promise.all(plans.map(collect)))
}

/** What one autocannon run saw, before it is summed up. */
interface RawLoad {
  readonly latencies: number[]
  readonly failed: number
  readonly errors: number
  readonly startedAt: number
  readonly lastAnswerAt: number
}

function summarize(runs: readonly RawLoad[]): LoadStats {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b)
  // From the first request to the last answer: the tick that ends the run is not counted.
  const elapsedS =
    (Math.max(...runs.map((r) => r.lastAnswerAt)) - Math.min(...runs.map((r) => r.startedAt))) / 1000
  return {
    ok: latencies.length,
    failed: runs.reduce((n, r) => n + r.failed, 0),
    errors: runs.reduce((n, r) => n + r.errors, 0),
    elapsedS,
    rps: latencies.length / elapsedS,
    p50Ms: percentile(latencies, 0.5),
    p99Ms: percentile(latencies, 0.99),
    maxMs: latencies[latencies.length - 1] ?? 0,
  }
}

function collect(plan: LoadPlan): Promise<RawLoad> {
  if (plan.amount !== undefined && plan.amount < plan.connections) {
    throw new Error(`amount ${plan.amount} is below the ${plan.connections} connections`)
  }
  const latencies: number[] = []
  let failed = 0
  let errors = 0
  let lastAnswerAt: number | undefined
  return new Promise<RawLoad>((resolve, reject) => {
    const started = performance.now()
    const instance = autocannon(
      {
        url: plan.url,
        connections: plan.connections,
        pipelining: 1,
        // autocannon notices the end of a run (time up, or every count-bounded client done) only at
        // its sampling tick; a short tick keeps short runs short.
        sampleInt: SAMPLE_INTERVAL_MS,
        timeout: REQUEST_TIMEOUT_S,
        ...(plan.amount === undefined ? { duration: plan.durationS ?? 1 } : { amount: plan.amount }),
        requests: [
          {
            // Called for every request, so one counter walks the prepared list across connections.
            setupRequest: (request) => {
              const next = plan.next()
              return {
                ...request,
                method: next.method,
                path: next.path,
                headers: next.headers,
                ...(next.body === undefined ? {} : { body: next.body }),
              }
            },
          },
        ],
      },
      (error: unknown, result) => {
        clearTimeout(limit)
        if (error !== null && error !== undefined) {
          reject(error instanceof Error ? error : new Error('autocannon failed', { cause: error }))
          return
        }
        resolve({
          latencies,
          failed,
          errors: errors + result.timeouts,
          startedAt: started,
          lastAnswerAt: lastAnswerAt ?? performance.now(),
        })
      },
    )
    instance.on('response', (_client, statusCode, _bytes, responseTimeMs) => {
      lastAnswerAt = performance.now()
      if (statusCode >= 200 && statusCode < 300) latencies.push(responseTimeMs)
      else failed += 1
    })
    instance.on('reqError', () => {
      errors += 1
    })
    const limit = setTimeout(() => instance.stop(), ((plan.durationS ?? 0) + HARD_LIMIT_S) * 1000)
  })
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))] ?? 0
}

/** A `next` that walks a prepared list round-robin. */
export function cycle(requests: readonly HttpRequest[]): () => HttpRequest {
  if (requests.length === 0) throw new Error('no requests to send')
  let i = 0
  return () => {
    const r = requests[i]!
    i = (i + 1) % requests.length
    return r
  }
}
