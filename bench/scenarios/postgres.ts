/**
 * PostgreSQL (`--store postgres`, and then alone): fleetjobs with `ServerConfig.database` against bare
 * node-postgres doing only the SQL, in the same run and the same database, each in a fresh schema.
 *
 * - `pg.update.cN` (N from `--connections`, default 16 and 64): UpdateJobExecution as `http.update.cN`
 *   sends it (same requests, same counter walking 1,000 things with one started execution each).
 *   Baseline: bare node:http + pg (`serve/node-http-pg.ts`), one autocommit
 *   `UPDATE t SET version = version + 1, status = $1, updated_at = $2 WHERE id = $3` per request on a
 *   1,000-row table. Both sides pay HTTP and one durable commit per request, and both get a pool of N
 *   connections (one per concurrent request).
 * - `pg.nodes.2v1`: the same UpdateJobExecution load at 64 connections, on two fleetjobs processes
 *   sharing the schema (32 connections and a pool of 32 each, one request counter across both) against
 *   one process (64 and 64), measured one after the other: ratio two ÷ one.
 * - `pg.fanout.100k`: CreateJob with one thing-group target reaching 100,000 things (things and
 *   memberships seeded with INSERT … SELECT generate_series into the server's schema), send to answer.
 *   Baseline: one `INSERT INTO job_executions … SELECT` of the same 100,000 rows into the same table,
 *   autocommit, measured first into the empty table, which is then truncated so that CreateJob starts
 *   from the same state (and each side from a CHECKPOINT). Median of 3 repetitions (1 with `--quick`),
 *   each on a fresh schema and node. With `--quick` the group has 10,000 things.
 *
 * Each server runs only while its point is measured (baseline first, then fleetjobs), so the
 * database's connections go to one side at a time; data outlives the processes in the schema.
 */
import { readFileSync } from 'node:fs'
import type { HttpRequest } from '../lib/aws-requests.js'
import { controlPlane, dataPlane, sendOnce, thingArn, thingGroupArn } from '../lib/aws-requests.js'
import type { ServerProcess } from '../lib/children.js'
import { cycle, percentile, runLoad, runLoadSplit } from '../lib/load.js'
import { PROGRESS_THINGS, names } from '../lib/session.js'
import type { Figure, LoadStats, Scenario, ScenarioContext } from '../lib/types.js'
import { speedRatio } from '../lib/types.js'
import { pgBaselineTable } from '../serve/baseline-schema.js'
import type { BulkInsertArgs, SeedGroupMembersArgs } from '../serve/fleetjobs.js'

const updatePoint = (connections: number): string => `pg.update.c${connections}`
const NODES = 'pg.nodes.2v1'
const NODES_CONNECTIONS = 64
const FANOUT = 'pg.fanout.100k'
const JOB_ID = 'bench-progress'
const JOB_DOCUMENT = '{"operation":"bench","url":"https://example.com/firmware.bin"}'
const FANOUT_DOCUMENT = '{"operation":"bench-scale"}'
/** Connections and pool of the node that seeds the progress fleet over HTTP. */
const SEED_CONNECTIONS = 16
/** fleetjobs' default pool (`DatabaseConfig.poolSize`): the fan-out node sends one request. */
const DEFAULT_POOL = 10
/** Connections a node holds besides its pool: the lease session, and the bench's seeding one. */
const NODE_EXTRA_CONNECTIONS = 2
const CALL_LIMIT_MS = 300_000

export const postgres: Scenario = {
  family: 'postgres',
  flag: 'postgres',
  points: (o) => [...o.connections.map(updatePoint), NODES, FANOUT],
  async run(ctx) {
    const updates = ctx.options.connections.filter((c) => ctx.wants(updatePoint(c)))
    if (updates.length > 0 || ctx.wants(NODES)) await executionPoints(ctx, updates)
    if (ctx.wants(FANOUT)) await fanoutPoint(ctx)
  },
}

interface ProgressFleet {
  readonly thingNames: readonly string[]
  readonly requests: readonly HttpRequest[]
  /** fleetjobs' answer to an update, for the baseline to send. */
  readonly answer: string
}

async function executionPoints(ctx: ScenarioContext, updates: readonly number[]): Promise<void> {
  const pg = ctx.session.pg()
  const schema = await pg.create('fleetjobs: UpdateJobExecution points')
  const fleet = await seedProgressFleet(ctx, schema)
  const baseSchema = await pg.create('node:http + pg baseline table')
  for (const statement of pgBaselineTable(baseSchema, fleet.thingNames.length)) await pg.query(statement)

  for (const connections of updates) {
    const name = updatePoint(connections)
    const base = await measureOn(ctx, name, 'node-http-pg', 1, connections, fleet.requests, (label) =>
      ctx.session
        .nodeHttpPg(label, {
          url: ctx.options.databaseUrl,
          schema: baseSchema,
          poolSize: connections,
          thingNames: fleet.thingNames,
        })
        .then(async (server) => {
          await server.call('setAnswer', { key: 'update', body: fleet.answer })
          return server
        }),
    )
    const ours = await measureOn(ctx, name, 'fleetjobs', 1, connections, fleet.requests, (label) =>
      ctx.session.fleetjobsPg(label, schema, connections),
    )
    recordLoad(ctx, name, ours, base, 'node-http-pg')
  }

  if (!ctx.wants(NODES)) return
  const one = await measureOn(ctx, NODES, 'fleetjobs-1-node', 1, NODES_CONNECTIONS, fleet.requests, (label) =>
    ctx.session.fleetjobsPg(label, schema, NODES_CONNECTIONS),
  )
  const two = await measureOn(
    ctx,
    NODES,
    'fleetjobs-2-nodes',
    2,
    NODES_CONNECTIONS,
    fleet.requests,
    (label) => ctx.session.fleetjobsPg(label, schema, NODES_CONNECTIONS / 2),
  )
  recordLoad(ctx, NODES, two, one, 'fleetjobs-1-node')
}

/**
 * The progress fleet of `http.update.cN` on PostgreSQL: 1,000 things created over HTTP, one job
 * targeting them, every execution moved to IN_PROGRESS (by a node that is stopped afterwards).
 */
async function seedProgressFleet(ctx: ScenarioContext, schema: string): Promise<ProgressFleet> {
  const label = 'fleetjobs-pg-seed'
  await ctx.session.pg().waitForConnections(SEED_CONNECTIONS + NODE_EXTRA_CONNECTIONS)
  const node = await ctx.session.fleetjobsPg(label, schema, SEED_CONNECTIONS)
  try {
    const started = performance.now()
    const thingNames = names('bench-u', PROGRESS_THINGS)
    const created = await runLoad({
      url: node.info.url,
      connections: SEED_CONNECTIONS,
      amount: thingNames.length,
      next: cycle(thingNames.map((t) => controlPlane.createThing(t))),
    })
    if (created.ok !== thingNames.length) {
      throw new Error(`creating things on PostgreSQL: ${created.failed} failed, ${created.errors} errors`)
    }
    const job = await sendOnce(
      node.info.url,
      controlPlane.createJob(JOB_ID, thingNames.map(thingArn), JOB_DOCUMENT),
      CALL_LIMIT_MS,
    )
    if (job.status !== 200) throw new Error(`CreateJob ${JOB_ID}: ${job.status} ${job.body}`)
    const requests = thingNames.map((t) => dataPlane.updateJobExecution(t, JOB_ID))
    const moved = await runLoad({
      url: node.info.dataPlaneUrl,
      connections: SEED_CONNECTIONS,
      amount: requests.length,
      next: cycle(requests),
    })
    if (moved.ok !== requests.length) throw new Error(`starting executions: ${moved.failed} failed`)
    const sample = await sendOnce(node.info.dataPlaneUrl, requests[0]!, CALL_LIMIT_MS)
    if (sample.status !== 200) throw new Error(`capturing update: fleetjobs answered ${sample.status}`)
    ctx.log(
      `seeded ${thingNames.length} things and ${JOB_ID} (all IN_PROGRESS) on PostgreSQL in ` +
        `${Math.round(performance.now() - started)} ms`,
    )
    return { thingNames, requests, answer: sample.body }
  } finally {
    await ctx.session.stop(label)
  }
}

/**
 * Starts `processes` servers (`start(label)`), runs the warm-up and the measured load split evenly
 * over them (one request counter across all, as `http.update.cN`), logs the result with the CPU use
 * of the servers, this load generator and the whole machine, and stops the servers.
 */
async function measureOn(
  ctx: ScenarioContext,
  point: string,
  target: string,
  processes: number,
  connections: number,
  requests: readonly HttpRequest[],
  start: (label: string) => Promise<ServerProcess>,
): Promise<LoadStats> {
  if (connections % processes !== 0) throw new Error(`${point}: ${connections} connections over ${processes}`)
  const labels = Array.from({ length: processes }, (_, i) => `${target}-${point}-${i + 1}`)
  await ctx.session
    .pg()
    .waitForConnections(
      connections + processes * NODE_EXTRA_CONNECTIONS + (target === 'node-http-pg' ? 0 : 1),
    )
  try {
    const servers = await Promise.all(labels.map(start))
    const plans = (durationS: number) => {
      const next = cycle(requests)
      return servers.map((s) => ({
        url: s.info.dataPlaneUrl,
        connections: connections / processes,
        durationS,
        next,
      }))
    }
    const { warmupS, durationS } = ctx.options
    if (warmupS > 0) await runLoadSplit(plans(warmupS))
    const cpu = await CpuUse.start(servers)
    const stats = await runLoadSplit(plans(durationS))
    const use = await cpu.stop()
    const problems =
      stats.failed + stats.errors > 0 ? `  !! ${stats.failed} non-2xx, ${stats.errors} errors` : ''
    ctx.log(
      `${point.padEnd(16)} ${target.padEnd(18)} ${stats.rps.toFixed(0).padStart(6)} req/s  ` +
        `p50 ${stats.p50Ms.toFixed(2)} ms  p99 ${stats.p99Ms.toFixed(2)} ms  ${use}${problems}`,
    )
    if (stats.failed + stats.errors > 0) {
      ctx.recordFailure(`${point} ${target}: ${stats.failed} non-2xx answers, ${stats.errors} errors`)
    } else if (stats.ok === 0) {
      // Requests still waiting when the run ended are not counted (nor failed): none answered at all.
      ctx.recordFailure(`${point} ${target}: no request was answered within ${durationS} s`)
    }
    return stats
  } finally {
    for (const label of labels) await ctx.session.stop(label)
  }
}

function recordLoad(
  ctx: ScenarioContext,
  point: string,
  ours: LoadStats,
  base: LoadStats,
  baselineName: string,
): void {
  const figure = (name: string, unit: string, better: Figure['better'], value: number, baseline: number) =>
    ctx.recordFigure({
      name: `${point}.${name}`,
      value,
      unit,
      better,
      baseline,
      baselineName,
      ratio: speedRatio(value, baseline, better),
    })
  figure('rps', 'req/s', 'higher', ours.rps, base.rps)
  figure('p50', 'ms', 'lower', ours.p50Ms, base.p50Ms)
  figure('p99', 'ms', 'lower', ours.p99Ms, base.p99Ms)
}

/**
 * `pg.fanout.100k`: a group of `size` things seeded in a fresh schema, then CreateJob targeting it
 * (send to answer) and the INSERT … SELECT baseline of the same rows into the same table.
 */
async function fanoutPoint(ctx: ScenarioContext): Promise<void> {
  const size = ctx.options.quick ? 10_000 : 100_000
  const ours: number[] = []
  const baseline: number[] = []
  for (let rep = 1; rep <= ctx.options.createJobReps; rep++) {
    const { sqlMs, ms } = await fanoutOnce(ctx, size, rep)
    baseline.push(sqlMs)
    ours.push(ms)
  }
  const ms = median(ours)
  const sqlMs = median(baseline)
  const perS = (v: number): number => size / (v / 1000)
  const baselineName = 'pg-insert-select-same-db'
  const figure = (name: string, unit: string, better: Figure['better'], value: number, base: number) =>
    ctx.recordFigure({
      name: `${FANOUT}.${name}`,
      value,
      unit,
      better,
      baseline: base,
      baselineName,
      ratio: speedRatio(value, base, better),
    })
  figure('ms', 'ms', 'lower', ms, sqlMs)
  figure('executions-per-s', 'executions/s', 'higher', perS(ms), perS(sqlMs))
}

/**
 * One repetition of `pg.fanout.100k`, on a fresh schema and node: the group seeded, then the baseline
 * and CreateJob, each timed from a checkpoint (when the role may run one) into an empty table.
 */
async function fanoutOnce(
  ctx: ScenarioContext,
  size: number,
  rep: number,
): Promise<{ sqlMs: number; ms: number }> {
  const pg = ctx.session.pg()
  const schema = await pg.create(`fleetjobs: group fan-out, repetition ${rep}`)
  const label = `fleetjobs-pg-fanout-${rep}`
  await pg.waitForConnections(DEFAULT_POOL + NODE_EXTRA_CONNECTIONS)
  try {
    const node = await ctx.session.fleetjobsPg(label, schema, DEFAULT_POOL)
    const url = node.info.url
    const group = 'pg-fanout'
    const created = await sendOnce(url, controlPlane.createThingGroup(group), CALL_LIMIT_MS)
    if (created.status !== 200)
      throw new Error(`CreateThingGroup ${group}: ${created.status} ${created.body}`)
    const seed: SeedGroupMembersArgs = { groupName: group, prefix: 'scale', count: size }
    const seedMs = await node.call<number>('seedGroupMembers', seed, CALL_LIMIT_MS)
    ctx.log(`seeded ${size} things in group ${group} on PostgreSQL in ${seedMs.toFixed(0)} ms (then ANALYZE)`)
    // A first fetch pays for undici's set-up; keep it out of the timing.
    await sendOnce(url, controlPlane.describeJob('bench-warm-up'), CALL_LIMIT_MS)

    // The baseline first, into the empty table, which is then emptied again (TRUNCATE, untimed): both
    // sides insert into the same state. A second 100,000 rows interleave with the first in the
    // thing_name-led indexes and took ~1.5 times as long as the first, whichever side came second.
    // Each side starts from a checkpoint: the seeding's dirty pages and WAL are not its cost.
    await checkpoint(ctx)
    const args: BulkInsertArgs = {
      jobId: 'bench-bulk-insert',
      prefix: 'scale',
      count: size,
      emptyAfter: true,
    }
    const sqlMs = await node.call<number>('bulkInsertExecutions', args, CALL_LIMIT_MS)
    await checkpoint(ctx)
    const jobId = 'pg-fanout-1'
    const res = await sendOnce(
      url,
      controlPlane.createJob(jobId, [thingGroupArn(group)], FANOUT_DOCUMENT),
      CALL_LIMIT_MS,
    )
    if (res.status !== 200) throw new Error(`CreateJob ${jobId}: ${res.status} ${res.body.slice(0, 300)}`)
    await checkQueued(ctx, url, jobId, size)
    ctx.log(`${FANOUT} #${rep}: INSERT … SELECT ${sqlMs.toFixed(0)} ms, fleetjobs ${res.ms.toFixed(0)} ms`)
    return { sqlMs, ms: res.ms }
  } finally {
    await ctx.session.stop(label)
  }
}

let checkpointRefused = false

/** CHECKPOINT (superuser or pg_checkpoint); without the right, said once and skipped. */
async function checkpoint(ctx: ScenarioContext): Promise<void> {
  if (checkpointRefused) return
  try {
    await ctx.session.pg().query('CHECKPOINT')
  } catch (error) {
    checkpointRefused = true
    ctx.log(`no CHECKPOINT before the fan-out timings (${String(error)})`)
  }
}

function median(values: readonly number[]): number {
  return percentile(
    [...values].sort((a, b) => a - b),
    0.5,
  )
}

/** DescribeJob: the fan-out must have queued one execution per group member. */
async function checkQueued(ctx: ScenarioContext, url: string, jobId: string, size: number): Promise<void> {
  const res = await sendOnce(url, controlPlane.describeJob(jobId), CALL_LIMIT_MS)
  const queued = (JSON.parse(res.body) as { job?: { jobProcessDetails?: Record<string, number> } }).job
    ?.jobProcessDetails?.['numberOfQueuedThings']
  if (res.status !== 200 || queued !== size) {
    ctx.recordFailure(
      `${FANOUT}: DescribeJob ${jobId} gave ${res.status}, numberOfQueuedThings ${queued}, not ${size}`,
    )
  }
}

/**
 * CPU use over a measured run, as a share of its wall time (1 core = 100%): the servers' processes,
 * this load-generator process, and the whole machine (from /proc/stat, so PostgreSQL's backends are
 * in it). Says which side a figure was bound by on a small machine.
 */
class CpuUse {
  private constructor(
    private readonly servers: readonly ServerProcess[],
    private readonly startedAt: number,
    private readonly servers0: number,
    private readonly self0: NodeJS.CpuUsage,
    private readonly machine0: MachineTicks | undefined,
  ) {}

  static async start(servers: readonly ServerProcess[]): Promise<CpuUse> {
    const servers0 = await serversCpuMs(servers)
    return new CpuUse(servers, performance.now(), servers0, process.cpuUsage(), machineTicks())
  }

  async stop(): Promise<string> {
    const wall = performance.now() - this.startedAt
    const serverMs = (await serversCpuMs(this.servers)) - this.servers0
    const self = process.cpuUsage(this.self0)
    const pct = (ms: number): string => `${((100 * ms) / wall).toFixed(0)}%`
    const m1 = machineTicks()
    const machine =
      this.machine0 === undefined || m1 === undefined || m1.total === this.machine0.total
        ? ''
        : `, machine ${(((m1.busy - this.machine0.busy) / (m1.total - this.machine0.total)) * 100 * m1.cores).toFixed(0)}% of ${m1.cores * 100}%`
    return `CPU: server ${pct(serverMs)}, load ${pct((self.user + self.system) / 1000)}${machine}`
  }
}

async function serversCpuMs(servers: readonly ServerProcess[]): Promise<number> {
  const each = await Promise.all(servers.map((s) => s.call<number>('cpuMs', null, CALL_LIMIT_MS)))
  return each.reduce((a, b) => a + b, 0)
}

interface MachineTicks {
  readonly busy: number
  readonly total: number
  readonly cores: number
}

/** All cores' ticks from /proc/stat (Linux); undefined elsewhere. */
function machineTicks(): MachineTicks | undefined {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n')
    const fields = lines[0]!.trim().split(/\s+/).slice(1).map(Number)
    // user nice system idle iowait irq softirq steal …: idle and iowait are not busy.
    const total = fields.slice(0, 8).reduce((a, b) => a + b, 0)
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0)
    const cores = lines.filter((l) => /^cpu\d/.test(l)).length
    return { busy: total - idle, total, cores }
  } catch {
    return undefined
  }
}
