/** Runs one HTTP point against fleetjobs and both baselines, in turn, under the same load. */
import type { LoadPlan } from './load.js'
import { runLoad } from './load.js'
import type { BaselineName, LoadStats, ScenarioContext } from './types.js'
import { BASELINES } from './types.js'

export type Target = 'fleetjobs' | BaselineName

const CPU_CALL_LIMIT_MS = 10_000
const SETTLE_LIMIT_MS = 60_000

export type Phase = Omit<LoadPlan, 'url' | 'connections'>

export interface PointSpec {
  readonly name: string
  readonly connections: number
  readonly plane: 'controlPlane' | 'dataPlane'
  /** The warm-up (optional) and measured load for one target; called once per target. */
  readonly phases: (target: Target) => { readonly warmup?: Phase; readonly measure: Phase }
}

export async function measurePoint(ctx: ScenarioContext, spec: PointSpec): Promise<void> {
  const results: Partial<Record<Target, LoadStats>> = {}
  // Baselines first, fleetjobs last: the same order at every point.
  for (const target of [...BASELINES, 'fleetjobs'] as const) {
    const server = await (target === 'fleetjobs' ? ctx.session.fleetjobs() : ctx.session.baseline(target))
    const url = spec.plane === 'controlPlane' ? server.info.url : server.info.dataPlaneUrl
    const { warmup, measure } = spec.phases(target)
    // Each target starts from a settled store: no checkpoint of an earlier point's writes runs now.
    await server.call('settle', null, SETTLE_LIMIT_MS)
    if (warmup !== undefined) await runLoad({ ...warmup, url, connections: spec.connections })
    const cpu0 = await server.call<number>('cpuMs', null, CPU_CALL_LIMIT_MS)
    const stats = await runLoad({ ...measure, url, connections: spec.connections })
    const cpuMs = (await server.call<number>('cpuMs', null, CPU_CALL_LIMIT_MS)) - cpu0
    results[target] = stats
    const problems =
      stats.failed + stats.errors > 0 ? `  !! ${stats.failed} non-2xx, ${stats.errors} errors` : ''
    // CPU time per answered request moves much less than req/s when other processes share the cores.
    const perRequest = stats.ok > 0 ? `  server CPU ${((1000 * cpuMs) / stats.ok).toFixed(1)} µs/req` : ''
    ctx.log(
      `${spec.name.padEnd(28)} ${target.padEnd(17)} ${stats.rps.toFixed(0).padStart(7)} req/s  p99 ${stats.p99Ms.toFixed(2)} ms${perRequest}${problems}`,
    )
  }
  const ours = results.fleetjobs
  if (ours === undefined) throw new Error(`${spec.name}: fleetjobs was not measured`)
  const baselines: Partial<Record<BaselineName, LoadStats>> = {}
  for (const b of BASELINES) {
    const stats = results[b]
    if (stats !== undefined) baselines[b] = stats
  }
  ctx.recordPoint({ name: spec.name, connections: spec.connections, ours, baselines })
}
