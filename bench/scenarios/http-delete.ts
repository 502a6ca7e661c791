/**
 * DeleteJobExecution over HTTP with `?force=true`: every request deletes a fresh QUEUED execution
 * (from the 10,000-target jobs), so each point is bounded by a request count, not by time.
 * SQL baseline: one transaction of SELECT the row + version-checked DELETE, one fsync per request.
 */
import { controlPlane } from '../lib/aws-requests.js'
import { measurePoint } from '../lib/compare.js'
import { cycle } from '../lib/load.js'
import type { BenchOptions, Scenario } from '../lib/types.js'

const pointsOf = (o: BenchOptions): string[] => o.connections.map((c) => `http.delete.c${c}`)

export const httpDelete: Scenario = {
  family: 'http-delete',
  points: pointsOf,
  async run(ctx) {
    if (!pointsOf(ctx.options).some((p) => ctx.wants(p))) return
    const [sample] = await ctx.session.takeDeletable(1)
    await ctx.session.captureAnswer(
      'delete',
      controlPlane.deleteJobExecution(sample!.thingName, sample!.jobId, 1),
      'controlPlane',
    )
    for (const connections of ctx.options.connections) {
      const name = `http.delete.c${connections}`
      if (!ctx.wants(name)) continue
      const warmup = Math.max(ctx.options.deleteWarmup, connections)
      const amount = Math.max(ctx.options.deleteAmount, connections)
      // The same executions exist in fleetjobs and in the SQL baseline; each server deletes them once.
      const pool = await ctx.session.takeDeletable(warmup + amount)
      const requests = pool.map((d) => controlPlane.deleteJobExecution(d.thingName, d.jobId, 1))
      await measurePoint(ctx, {
        name,
        connections,
        plane: 'controlPlane',
        phases: () => ({
          warmup: { amount: warmup, next: cycle(requests.slice(0, warmup)) },
          measure: { amount, next: cycle(requests.slice(warmup)) },
        }),
      })
    }
  },
}
