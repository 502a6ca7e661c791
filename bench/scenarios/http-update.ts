/**
 * UpdateJobExecution over HTTP: a device's IN_PROGRESS progress report (always a legal transition),
 * on the data-plane listener, spread over 1,000 things with one started execution each.
 * SQL baseline: one transaction of SELECT the row + version-checked UPDATE, one fsync per request.
 */
import { dataPlane } from '../lib/aws-requests.js'
import { measurePoint } from '../lib/compare.js'
import { cycle } from '../lib/load.js'
import type { BenchOptions, Scenario } from '../lib/types.js'

const pointsOf = (o: BenchOptions): string[] => o.connections.map((c) => `http.update.c${c}`)

export const httpUpdate: Scenario = {
  family: 'http-update',
  points: pointsOf,
  async run(ctx) {
    if (!pointsOf(ctx.options).some((p) => ctx.wants(p))) return
    const { jobId, thingNames } = await ctx.session.progressFleet()
    const requests = thingNames.map((t) => dataPlane.updateJobExecution(t, jobId))
    await ctx.session.captureAnswer('update', requests[0]!, 'dataPlane')
    const { durationS, warmupS } = ctx.options
    for (const connections of ctx.options.connections) {
      const name = `http.update.c${connections}`
      if (!ctx.wants(name)) continue
      await measurePoint(ctx, {
        name,
        connections,
        plane: 'dataPlane',
        phases: () => ({
          ...(warmupS > 0 ? { warmup: { durationS: warmupS, next: cycle(requests) } } : {}),
          measure: { durationS, next: cycle(requests) },
        }),
      })
    }
  },
}
