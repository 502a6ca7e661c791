/**
 * Fleet scale (issue 3), on a fleetjobs server of its own:
 *
 * - `scale.create-job-group-100k`: CreateJob with one thing-group target reaching 100,000 things,
 *   timed from send to answer (every execution is committed by then); baseline: a plain multi-row
 *   INSERT of the same 100,000 execution rows into the same database file, one transaction.
 * - `scale.list-executions-for-job`: ListJobExecutionsForJob (100 per page, every page of a
 *   10,000-execution job, round-robin, one connection) p50/p99 with 10,000 executions stored and
 *   again with 1,000,000; the baseline of the 1M figure is the 10k figure, so the ratio says how
 *   much slower listing got (≈ 1.0: not at all).
 *
 * With `--quick` the sizes are a tenth: a 10,000-thing group and 100,000 executions.
 */
import type { HttpRequest } from '../lib/aws-requests.js'
import { controlPlane, sendOnce, thingGroupArn } from '../lib/aws-requests.js'
import type { ServerProcess } from '../lib/children.js'
import { cycle, runLoad } from '../lib/load.js'
import type { LoadStats, Scenario, ScenarioContext } from '../lib/types.js'
import { speedRatio } from '../lib/types.js'
import type { BulkInsertArgs, SeedGroupMembersArgs } from '../serve/fleetjobs.js'

const FANOUT = 'scale.create-job-group-100k'
const LIST = 'scale.list-executions-for-job'
const PAGE = 100
const DOCUMENT = '{"operation":"bench-scale"}'

export const fleetScale: Scenario = {
  family: 'scale',
  points: () => [FANOUT, LIST],
  async run(ctx) {
    if (!ctx.wants(FANOUT) && !ctx.wants(LIST)) return
    const quick = ctx.options.quick
    const sizes = { list: quick ? 1_000 : 10_000, group: quick ? 10_000 : 100_000 }
    const stored = quick ? 100_000 : 1_000_000
    const server = await ctx.session.fleetjobsAtScale()
    const url = server.info.url

    // Things scale-000000 … in two groups: the first `list` of them, and all `group` of them.
    await createGroup(server, 'scale-small', sizes.list)
    await createGroup(server, 'scale-large', sizes.group)
    ctx.log(`seeded ${sizes.group} things in groups scale-small (${sizes.list}) and scale-large`)

    await createJob(url, 'scale-list', 'scale-small')
    const pages = await listPages(url, 'scale-list', sizes.list)
    const small = ctx.wants(LIST) ? await listLoad(ctx, url, pages) : undefined
    if (small !== undefined) ctx.log(`${LIST} with ${sizes.list} stored: ${describe(small)}`)

    let total = sizes.list
    let fanout = 0
    while (total + sizes.group <= stored + sizes.list) {
      fanout += 1
      const ms = await createJob(url, `scale-fanout-${fanout}`, 'scale-large')
      total += sizes.group
      if (fanout === 1 && ctx.wants(FANOUT)) {
        const args: BulkInsertArgs = { jobId: 'bench-bulk-insert', prefix: 'scale', count: sizes.group }
        const sqlMs = await server.call<number>('bulkInsertExecutions', args)
        ctx.log(`${FANOUT}: fleetjobs ${ms.toFixed(0)} ms, multi-row INSERT ${sqlMs.toFixed(0)} ms`)
        recordFanout(ctx, sizes.group, ms, sqlMs)
      }
      if (!ctx.wants(LIST)) break
    }
    if (small === undefined) return
    ctx.log(`${total} executions stored`)
    const large = await listLoad(ctx, url, pages)
    ctx.log(`${LIST} with ${total} stored: ${describe(large)}`)
    for (const p of ['p50', 'p99'] as const) {
      const key = p === 'p50' ? 'p50Ms' : 'p99Ms'
      ctx.recordFigure({
        name: `${LIST}.${p}.stored-10k`,
        value: small[key],
        unit: 'ms',
        better: 'lower',
        baseline: null,
        baselineName: null,
        ratio: null,
      })
      ctx.recordFigure({
        name: `${LIST}.${p}.stored-1m`,
        value: large[key],
        unit: 'ms',
        better: 'lower',
        baseline: small[key],
        baselineName: `${LIST}.${p}.stored-10k`,
        ratio: speedRatio(large[key], small[key], 'lower'),
      })
    }
  },
}

async function createGroup(server: ServerProcess, groupName: string, count: number): Promise<void> {
  const res = await sendOnce(server.info.url, controlPlane.createThingGroup(groupName))
  if (res.status !== 200) throw new Error(`CreateThingGroup ${groupName}: ${res.status} ${res.body}`)
  const args: SeedGroupMembersArgs = { groupName, prefix: 'scale', count }
  await server.call('seedGroupMembers', args)
}

/** CreateJob targeting one group; milliseconds from send to answer. */
async function createJob(url: string, jobId: string, groupName: string): Promise<number> {
  const res = await sendOnce(url, controlPlane.createJob(jobId, [thingGroupArn(groupName)], DOCUMENT))
  if (res.status !== 200) throw new Error(`CreateJob ${jobId}: ${res.status} ${res.body.slice(0, 300)}`)
  return res.ms
}

/** Every page request of a job's executions, with the real nextTokens, walked once. */
async function listPages(url: string, jobId: string, expected: number): Promise<HttpRequest[]> {
  const pages: HttpRequest[] = []
  let token: string | undefined
  let seen = 0
  do {
    const request = controlPlane.listJobExecutionsForJob(jobId, PAGE, token)
    const res = await sendOnce(url, request)
    if (res.status !== 200) throw new Error(`ListJobExecutionsForJob: ${res.status} ${res.body}`)
    const body = JSON.parse(res.body) as { executionSummaries: unknown[]; nextToken?: string }
    seen += body.executionSummaries.length
    pages.push(request)
    token = body.nextToken
  } while (token !== undefined)
  if (seen !== expected) throw new Error(`listing ${jobId} gave ${seen} executions, not ${expected}`)
  return pages
}

async function listLoad(
  ctx: ScenarioContext,
  url: string,
  pages: readonly HttpRequest[],
): Promise<LoadStats> {
  const load = { url, connections: 1, next: cycle(pages) }
  await runLoad({ ...load, durationS: ctx.options.warmupS })
  const stats = await runLoad({ ...load, durationS: ctx.options.durationS })
  if (stats.failed + stats.errors > 0)
    throw new Error(`${LIST}: ${stats.failed + stats.errors} requests failed`)
  return stats
}

function recordFanout(ctx: ScenarioContext, count: number, ms: number, sqlMs: number): void {
  const perS = (v: number): number => count / (v / 1000)
  const baselineName = 'sqlite-multi-row-insert-same-db'
  ctx.recordFigure({
    name: `${FANOUT}.ms`,
    value: ms,
    unit: 'ms',
    better: 'lower',
    baseline: sqlMs,
    baselineName,
    ratio: speedRatio(ms, sqlMs, 'lower'),
  })
  ctx.recordFigure({
    name: `${FANOUT}.executions-per-s`,
    value: perS(ms),
    unit: 'executions/s',
    better: 'higher',
    baseline: perS(sqlMs),
    baselineName,
    ratio: speedRatio(perS(ms), perS(sqlMs), 'higher'),
  })
}

function describe(s: LoadStats): string {
  return `${s.rps.toFixed(0)} req/s, p50 ${s.p50Ms.toFixed(2)} ms, p99 ${s.p99Ms.toFixed(2)} ms`
}
