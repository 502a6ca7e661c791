/**
 * DescribeJobExecution over HTTP, both APIs: the control-plane GET `/things/{t}/jobs/{j}` on the main
 * listener and the device one on the data-plane listener, over 1,000 things' started executions.
 * SQL baseline: one SELECT of the latest execution by (job_id, thing_name).
 */
import type { HttpRequest } from '../lib/aws-requests.js'
import { controlPlane, dataPlane } from '../lib/aws-requests.js'
import { measurePoint } from '../lib/compare.js'
import { cycle } from '../lib/load.js'
import type { BenchOptions, Scenario } from '../lib/types.js'

/** Both planes' DescribeJobExecution (the wrk check runs the same). */
export const VARIANTS = [
  { key: 'describe-cp', plane: 'controlPlane', request: controlPlane.describeJobExecution },
  { key: 'describe-dp', plane: 'dataPlane', request: dataPlane.describeJobExecution },
] as const satisfies readonly {
  key: string
  plane: 'controlPlane' | 'dataPlane'
  request: (thingName: string, jobId: string) => HttpRequest
}[]

const pointsOf = (o: BenchOptions): string[] =>
  VARIANTS.flatMap((v) => o.connections.map((c) => `http.${v.key}.c${c}`))

export const httpDescribe: Scenario = {
  family: 'http-describe',
  points: pointsOf,
  async run(ctx) {
    if (!pointsOf(ctx.options).some((p) => ctx.wants(p))) return
    const { jobId, thingNames } = await ctx.session.progressFleet()
    const { durationS, warmupS } = ctx.options
    for (const variant of VARIANTS) {
      const names = ctx.options.connections.map((c) => `http.${variant.key}.c${c}`)
      if (!names.some((n) => ctx.wants(n))) continue
      const requests = thingNames.map((t) => variant.request(t, jobId))
      await ctx.session.captureAnswer(variant.key, requests[0]!, variant.plane)
      for (const connections of ctx.options.connections) {
        const name = `http.${variant.key}.c${connections}`
        if (!ctx.wants(name)) continue
        await measurePoint(ctx, {
          name,
          connections,
          plane: variant.plane,
          phases: () => ({
            ...(warmupS > 0 ? { warmup: { durationS: warmupS, next: cycle(requests) } } : {}),
            measure: { durationS, next: cycle(requests) },
          }),
        })
      }
    }
  },
}
