/**
 * Time-driven work (`--time`, and then alone; with `--store postgres` on PostgreSQL, each point in a
 * fresh schema): deadlines swept into TIMED_OUT, paced rollouts, and what armed timers cost when
 * nothing is due. Every point runs on a fleetjobs server of its own (`serve/fleetjobs-time.ts`), started
 * for the point and closed after it, and checks its outcome by counting rows and DescribeJob counters.
 *
 * - `time.timeout-sweep-100k`: 100,000 IN_PROGRESS executions of one job whose deadline has passed,
 *   on a virtual-clock server with MQTT and both Jobs event families on: the wall time of
 *   `POST /_fleetjobs/clock/advance` (send to answer: every execution TIMED_OUT, counters, outbox and
 *   events rows committed). Baseline: one bare `UPDATE job_executions SET status = 'TIMED_OUT', … WHERE
 *   deadline <= ?` of the same rows in the same database (reset to IN_PROGRESS first, untimed). Median
 *   of 3 repetitions (1 with `--quick`): the swept rows and their job are re-armed (untimed) between.
 * - `time.update-with-timeout.c16`: UpdateJobExecution as `http.update` sends it, at 16 connections,
 *   on a job with `inProgressTimeoutInMinutes: 60` whose executions were started with
 *   `stepTimeoutInMinutes: 30`. Baseline: the same load on a job without timeouts, same server.
 * - `time.rollout-100k`: CreateJob of a 100,000-thing group with `maximumPerMinute: 1000`, then one
 *   advance of 6,000 s (100 virtual minutes) creating the rest. Baseline: the same CreateJob without
 *   rollout (every execution at once), same server. Also timed: the advance alone, and the same rollout
 *   driven by 100 advances of 60 s. Median of 3 repetitions (1 with `--quick`); each job's executions
 *   are deleted (untimed) before the next job, so that every one inserts into the same table.
 * - `time.idle-cpu`: the server process's CPU over 20 s of idle on the system clock with 1,000 jobs
 *   rolling out (100-thing groups, `maximumPerMinute: 1`) and 100,000 armed deadlines an hour ahead.
 *   Baseline: the same process before anything was created.
 *
 * With `--quick` the sizes are a tenth (the names keep theirs) and the idle window is 5 s.
 */
import { createHash } from 'node:crypto'
import type { HttpRequest } from '../lib/aws-requests.js'
import { ACCOUNT, REGION, controlPlane, dataPlane, sendOnce, thingGroupArn } from '../lib/aws-requests.js'
import { ServerProcess } from '../lib/children.js'
import { cycle, runLoad } from '../lib/load.js'
import { profiledServers } from '../lib/profiled.js'
import type { Figure, LoadStats, Scenario, ScenarioContext } from '../lib/types.js'
import { speedRatio } from '../lib/types.js'
import type { TimeServerConfig } from '../serve/fleetjobs-time.js'
import type {
  ExecutionStats,
  OutboxState,
  ResetArgs,
  SeedThingsArgs,
  StartExecutionsArgs,
  StoreTotals,
} from '../serve/time-seed.js'

const SWEEP = 'time.timeout-sweep-100k'
const UPDATE = 'time.update-with-timeout.c16'
const ROLLOUT = 'time.rollout-100k'
const IDLE = 'time.idle-cpu'

/** 2030-01-01T12:00:00Z: where every virtual clock of the family starts (a whole minute). */
const CLOCK_START_MS = Date.UTC(2030, 0, 1, 12, 0, 0)
const MINUTE_MS = 60_000
const DOCUMENT = '{"operation":"bench-time"}'
/** Bound of every single request or child call (an advance over 100,000 rows included). */
const CALL_LIMIT_MS = 290_000
/** How long the outboxes may take to drain before a baseline is measured. */
const DRAIN_LIMIT_MS = 300_000
const UPDATE_CONNECTIONS = 16
const UPDATE_THINGS = 1_000
const SEED_CONNECTIONS = 16
/** fleetjobs' default pool (`DatabaseConfig.poolSize`). */
const DEFAULT_POOL = 10
/** Connections a node holds besides its pool: the lease session, and the bench's seeding one. */
const NODE_EXTRA_CONNECTIONS = 2

export const timeDriven: Scenario = {
  family: 'time',
  flag: 'time',
  points: () => [SWEEP, UPDATE, ROLLOUT, IDLE],
  async run(ctx) {
    const points: [string, (ctx: ScenarioContext) => Promise<void>][] = [
      [SWEEP, sweepPoint],
      [UPDATE, updatePoint],
      [ROLLOUT, rolloutPoint],
      [IDLE, idlePoint],
    ]
    for (const [name, run] of points) {
      if (!ctx.wants(name)) continue
      try {
        await run(ctx)
      } catch (error) {
        // One broken point (a store method not ported yet) must not hide the others' figures.
        ctx.recordFailure(
          `${name}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        )
      }
    }
  },
}

// ---- servers ----

interface ServerOptions {
  readonly clock: 'system' | 'virtual'
  readonly mqtt?: boolean
  readonly events?: boolean
  /** PostgreSQL pool (default: fleetjobs' default, 10). */
  readonly poolSize?: number
}

/** Starts a fleetjobs server for one point (SQLite, or PostgreSQL in a fresh schema), runs `work`, closes it. */
async function withServer<T>(
  ctx: ScenarioContext,
  label: string,
  options: ServerOptions,
  work: (server: ServerProcess) => Promise<T>,
): Promise<T> {
  let database: TimeServerConfig['database']
  if (ctx.options.store === 'postgres') {
    const pg = ctx.session.pg()
    const schema = await pg.create(`fleetjobs: ${label}`)
    const poolSize = options.poolSize ?? DEFAULT_POOL
    await pg.waitForConnections(poolSize + NODE_EXTRA_CONNECTIONS)
    database = { url: ctx.options.databaseUrl, schema, poolSize }
  }
  const config: TimeServerConfig = {
    region: REGION,
    accountId: ACCOUNT,
    maxTargetsPerJob: 100,
    clockMode: options.clock,
    ...(options.clock === 'virtual' ? { clockStartMs: CLOCK_START_MS } : {}),
    ...(options.mqtt === true ? { mqtt: true } : {}),
    ...(options.events === true ? { events: true } : {}),
    ...(database === undefined ? {} : { database }),
  }
  const dir = ctx.options.cpuProfDir
  const flags = dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`]
  const server = await ServerProcess.start(label, 'fleetjobs-time', config, flags)
  profiledServers.push({ label, pid: server.pid })
  ctx.log(
    `started ${label} (pid ${server.pid}; ${options.clock} clock${options.mqtt === true ? ', MQTT' : ''}` +
      `${options.events === true ? ', events' : ''}${database === undefined ? '' : `, schema ${database.schema}`})`,
  )
  try {
    return await work(server)
  } finally {
    await server.close()
  }
}

const call = <T>(server: ServerProcess, method: string, args: unknown = null): Promise<T> =>
  server.call<T>(method, args, CALL_LIMIT_MS)

// ---- requests ----

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

/** The same request with another JSON body (its payload hash follows; the signature is not checked). */
function withBody(request: HttpRequest, body: string): HttpRequest {
  return { ...request, headers: { ...request.headers, 'x-amz-content-sha256': sha256(body) }, body }
}

/** CreateJob targeting one thing group, with extra fields (timeoutConfig, jobExecutionsRolloutConfig). */
function createGroupJob(jobId: string, group: string, extra: Record<string, unknown> = {}): HttpRequest {
  const targets = [thingGroupArn(group)]
  return withBody(
    controlPlane.createJob(jobId, targets, DOCUMENT),
    JSON.stringify({ targets, document: DOCUMENT, ...extra }),
  )
}

/** The virtual clock's test API: move forward by `seconds`; answers once every effect due is applied. */
function advanceRequest(seconds: number): HttpRequest {
  return {
    method: 'POST',
    path: '/_fleetjobs/clock/advance',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ seconds }),
  }
}

async function send(url: string, request: HttpRequest, what: string): Promise<number> {
  const res = await sendOnce(url, request, CALL_LIMIT_MS)
  if (res.status !== 200) throw new Error(`${what}: ${res.status} ${res.body.slice(0, 300)}`)
  return res.ms
}

interface JobView {
  readonly status: string
  readonly counts: Readonly<Record<string, number>>
}

async function describeJob(url: string, jobId: string): Promise<JobView> {
  const res = await sendOnce(url, controlPlane.describeJob(jobId), CALL_LIMIT_MS)
  if (res.status !== 200) throw new Error(`DescribeJob ${jobId}: ${res.status} ${res.body.slice(0, 300)}`)
  const job = (
    JSON.parse(res.body) as { job?: { status?: string; jobProcessDetails?: Record<string, number> } }
  ).job
  return { status: job?.status ?? '?', counts: job?.jobProcessDetails ?? {} }
}

/** Creates thing groups over HTTP (`names`), then `count` things and their memberships set-based. */
async function seedFleet(
  ctx: ScenarioContext,
  server: ServerProcess,
  groups: readonly string[],
  seed: SeedThingsArgs,
): Promise<void> {
  const started = performance.now()
  if (groups.length > 0) {
    const created = await runLoad({
      url: server.info.url,
      connections: Math.min(SEED_CONNECTIONS, groups.length),
      amount: groups.length,
      next: cycle(groups.map((g) => controlPlane.createThingGroup(g))),
    })
    if (created.ok !== groups.length) {
      throw new Error(
        `creating ${groups.length} thing groups: ${created.failed} failed, ${created.errors} errors`,
      )
    }
  }
  await call(server, 'seedThings', seed)
  ctx.log(
    `seeded ${groups.length} thing group(s) and ${seed.count} things (prefix ${seed.prefix}) in ` +
      `${Math.round(performance.now() - started)} ms`,
  )
  // A first fetch pays for undici's set-up; keep it out of any timing.
  await sendOnce(server.info.url, controlPlane.describeJob('bench-warm-up'), CALL_LIMIT_MS)
}

// ---- checks ----

class Checks {
  private readonly problems: string[] = []

  constructor(private readonly point: string) {}

  expect(what: string, actual: unknown, expected: unknown): void {
    if (actual !== expected) this.problems.push(`${what} is ${String(actual)}, not ${String(expected)}`)
  }

  atLeast(what: string, actual: number, expected: number): void {
    if (!(actual >= expected)) this.problems.push(`${what} is ${actual}, below ${expected}`)
  }

  /** Throws (the point fails, no figure) when anything was off. */
  done(): void {
    if (this.problems.length > 0) throw new Error(`${this.point}: ${this.problems.join('; ')}`)
  }
}

async function waitForDrain(server: ServerProcess): Promise<{ ms: number; state: OutboxState }> {
  const started = performance.now()
  for (;;) {
    const state = await call<OutboxState>(server, 'outboxState')
    if (state.outboxRows === 0 && state.eventRows === 0) return { ms: performance.now() - started, state }
    if (performance.now() - started > DRAIN_LIMIT_MS) {
      throw new Error(
        `the outboxes did not drain within ${DRAIN_LIMIT_MS} ms (${state.outboxRows} notification rows, ` +
          `${state.eventRows} event rows left)`,
      )
    }
    await sleep(100)
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

function figure(
  ctx: ScenarioContext,
  name: string,
  unit: string,
  better: Figure['better'],
  value: number,
  baseline: number,
  baselineName: string,
): void {
  ctx.recordFigure({
    name,
    value,
    unit,
    better,
    baseline,
    baselineName,
    ratio: speedRatio(value, baseline, better),
  })
}

// ---- time.timeout-sweep-100k ----

async function sweepPoint(ctx: ScenarioContext): Promise<void> {
  const n = ctx.options.quick ? 10_000 : 100_000
  // Median of 3 repetitions (1 with --quick), each side once per repetition, on the same rows.
  const reps = ctx.options.createJobReps
  const jobId = 'sweep'
  const group = 'sweep'
  const advanceS = 120
  await withServer(
    ctx,
    'fleetjobs-time-sweep',
    { clock: 'virtual', mqtt: true, events: true },
    async (server) => {
      const url = server.info.url
      await seedFleet(ctx, server, [group], { prefix: 'sweep', count: n, group })
      await send(
        url,
        createGroupJob(jobId, group, { timeoutConfig: { inProgressTimeoutInMinutes: 1 } }),
        `CreateJob ${jobId}`,
      )
      // The fan-out's notifications and events are published before anything is timed.
      const fanout = await waitForDrain(server)
      const start: StartExecutionsArgs = {
        jobId,
        startedAtMs: CLOCK_START_MS,
        inProgressDeadlineMs: CLOCK_START_MS + MINUTE_MS,
      }
      const moved = await call<number>(server, 'startExecutions', start)
      if (moved !== n) throw new Error(`${SWEEP}: ${moved} executions moved to IN_PROGRESS, not ${n}`)
      ctx.log(
        `${SWEEP}: ${n} executions IN_PROGRESS (fan-out outboxes drained in ${fanout.ms.toFixed(0)} ms)`,
      )

      const ours: number[] = []
      const bare: number[] = []
      for (let rep = 0; rep < reps; rep++) {
        // The virtual clock moves only by these advances: each repetition starts where the last ended.
        const startedAtMs = CLOCK_START_MS + rep * advanceS * 1000
        const deadlineMs = startedAtMs + MINUTE_MS
        if (rep > 0) {
          // The swept rows, and their job, back to IN_PROGRESS (untimed) for the server to sweep again.
          const reset: ResetArgs = { jobId, startedAtMs, deadlineMs, restoreJob: true }
          const back = await call<number>(server, 'resetTimedOut', reset)
          if (back !== n) throw new Error(`${SWEEP}: ${back} rows re-armed, not ${n}`)
        }
        const ms = await sweepOnce(ctx, server, jobId, n, advanceS, rep)
        const drained = await waitForDrain(server)

        // The baseline on the same rows: back to IN_PROGRESS (untimed), then the bare UPDATE.
        const reset: ResetArgs = { jobId, startedAtMs, deadlineMs }
        const back = await call<number>(server, 'resetTimedOut', reset)
        if (back !== n) throw new Error(`${SWEEP}: ${back} rows reset to IN_PROGRESS, not ${n}`)
        const settled = await call<string>(server, 'settle')
        const result = await call<{ ms: number; changes: number }>(server, 'bareTimeOut', {
          nowMs: startedAtMs + advanceS * 1000,
        })
        if (result.changes !== n) {
          throw new Error(`${SWEEP}: the bare UPDATE changed ${result.changes} rows, not ${n}`)
        }
        ctx.log(
          `${SWEEP} #${rep + 1}: fleetjobs ${ms.toFixed(0)} ms (its outboxes published ` +
            `${drained.ms.toFixed(0)} ms after the answer), bare UPDATE ${result.ms.toFixed(0)} ms (after ${settled})`,
        )
        ours.push(ms)
        bare.push(result.ms)
      }
      const ms = median(ours)
      const baseMs = median(bare)
      const baselineName =
        ctx.options.store === 'postgres' ? 'pg-bare-update-same-db' : 'sqlite-bare-update-same-db'
      const perS = (v: number): number => n / (v / 1000)
      figure(ctx, `${SWEEP}.ms`, 'ms', 'lower', ms, baseMs, baselineName)
      figure(ctx, `${SWEEP}.executions-per-s`, 'executions/s', 'higher', perS(ms), perS(baseMs), baselineName)
    },
  )
}

/**
 * One timed sweep: every one of the job's `n` executions IN_PROGRESS with its deadline inside the next
 * `advanceS` seconds; the store settled, then the advance, send to answer, and its outcome checked.
 */
async function sweepOnce(
  ctx: ScenarioContext,
  server: ServerProcess,
  jobId: string,
  n: number,
  advanceS: number,
  rep: number,
): Promise<number> {
  const url = server.info.url
  const before = await describeJob(url, jobId)
  const armed = await call<ExecutionStats>(server, 'executionStats', { jobId })
  const seeded = new Checks(SWEEP)
  seeded.expect('IN_PROGRESS executions before the advance', armed.inProgress, n)
  seeded.expect('armed deadlines before the advance', armed.withDeadline, n)
  seeded.expect('numberOfInProgressThings before the advance', before.counts['numberOfInProgressThings'], n)
  seeded.expect('job status before the advance', before.status, 'IN_PROGRESS')
  seeded.done()
  await call<string>(server, 'settle')

  const outbox0 = await call<OutboxState>(server, 'outboxState')
  const ms = await send(url, advanceRequest(advanceS), `advance ${advanceS} s`)
  const outbox1 = await call<OutboxState>(server, 'outboxState')
  const after = await describeJob(url, jobId)
  const stats = await call<ExecutionStats>(server, 'executionStats', { jobId })
  const checks = new Checks(`${SWEEP} #${rep + 1}`)
  checks.expect('TIMED_OUT executions', stats.timedOut, n)
  checks.expect('executions with a deadline left', stats.withDeadline, 0)
  checks.expect('numberOfTimedOutThings', after.counts['numberOfTimedOutThings'], n)
  checks.expect('numberOfInProgressThings', after.counts['numberOfInProgressThings'], 0)
  checks.expect('job status', after.status, 'COMPLETED')
  checks.atLeast('notification outbox rows written', outbox1.outboxWritten - outbox0.outboxWritten, n)
  // One jobExecution event per execution, and the job's `completed`.
  checks.atLeast('event rows written', outbox1.eventsWritten - outbox0.eventsWritten, n + 1)
  checks.done()
  ctx.log(
    `${SWEEP} #${rep + 1}: advance ${advanceS} s answered in ${ms.toFixed(0)} ms: ${n} TIMED_OUT, ` +
      `${outbox1.outboxWritten - outbox0.outboxWritten} notification and ` +
      `${outbox1.eventsWritten - outbox0.eventsWritten} event rows written`,
  )
  return ms
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

// ---- time.update-with-timeout.c16 ----

async function updatePoint(ctx: ScenarioContext): Promise<void> {
  const plainJob = 'time-plain'
  const timedJob = 'time-timed'
  await withServer(
    ctx,
    'fleetjobs-time-update',
    { clock: 'system', poolSize: UPDATE_CONNECTIONS },
    async (server) => {
      const url = server.info.url
      // Two fleets of 1,000 things, one job each: row for row the same layout.
      await seedFleet(ctx, server, ['time-plain', 'time-timed'], {
        prefix: 'tu-p',
        count: UPDATE_THINGS,
        group: 'time-plain',
      })
      const seedMs = await call<number>(server, 'seedThings', {
        prefix: 'tu-t',
        count: UPDATE_THINGS,
        group: 'time-timed',
      } satisfies SeedThingsArgs)
      ctx.log(`seeded ${UPDATE_THINGS} things (prefix tu-t) in ${seedMs.toFixed(0)} ms`)
      await send(url, createGroupJob(plainJob, 'time-plain'), `CreateJob ${plainJob}`)
      await send(
        url,
        createGroupJob(timedJob, 'time-timed', { timeoutConfig: { inProgressTimeoutInMinutes: 60 } }),
        `CreateJob ${timedJob}`,
      )
      const names = (prefix: string): string[] =>
        Array.from({ length: UPDATE_THINGS }, (_, i) => `${prefix}-${String(i).padStart(6, '0')}`)
      const plain = names('tu-p').map((t) => dataPlane.updateJobExecution(t, plainJob))
      const timed = names('tu-t').map((t) => dataPlane.updateJobExecution(t, timedJob))
      // Started by the device: the timed job's executions get both timers (step: 30 minutes).
      const startTimed = timed.map((r) =>
        withBody(r, JSON.stringify({ status: 'IN_PROGRESS', stepTimeoutInMinutes: 30 })),
      )
      for (const [what, requests] of [
        [plainJob, plain],
        [timedJob, startTimed],
      ] as const) {
        const started = await runLoad({
          url: server.info.dataPlaneUrl,
          connections: SEED_CONNECTIONS,
          amount: requests.length,
          next: cycle(requests),
        })
        if (started.ok !== requests.length) {
          throw new Error(`starting ${what}: ${started.failed} failed, ${started.errors} errors`)
        }
      }
      await checkUpdateJobs(server, plainJob, timedJob)

      // Interleaved, A B B A (one round with --quick), so drift of a noisy machine falls on both.
      const rounds = ctx.options.quick ? 1 : 2
      const results: Record<'plain' | 'timed', LoadStats[]> = { plain: [], timed: [] }
      for (let round = 0; round < rounds; round++) {
        const order = round % 2 === 0 ? (['plain', 'timed'] as const) : (['timed', 'plain'] as const)
        for (const side of order) {
          const stats = await updateLoad(ctx, server, side === 'plain' ? plain : timed)
          results[side].push(stats)
          ctx.log(
            `${UPDATE} ${(side === 'plain' ? 'no timeouts' : 'with timeouts').padEnd(13)} ` +
              `${stats.rps.toFixed(0).padStart(6)} req/s  p50 ${stats.p50Ms.toFixed(2)} ms  p99 ${stats.p99Ms.toFixed(2)} ms`,
          )
        }
      }
      await checkUpdateJobs(server, plainJob, timedJob)
      const mean = (all: LoadStats[], key: 'rps' | 'p50Ms' | 'p99Ms'): number =>
        all.reduce((a, s) => a + s[key], 0) / all.length
      const baselineName = 'same-load-job-without-timeouts'
      figure(
        ctx,
        `${UPDATE}.rps`,
        'req/s',
        'higher',
        mean(results.timed, 'rps'),
        mean(results.plain, 'rps'),
        baselineName,
      )
      figure(
        ctx,
        `${UPDATE}.p50`,
        'ms',
        'lower',
        mean(results.timed, 'p50Ms'),
        mean(results.plain, 'p50Ms'),
        baselineName,
      )
      figure(
        ctx,
        `${UPDATE}.p99`,
        'ms',
        'lower',
        mean(results.timed, 'p99Ms'),
        mean(results.plain, 'p99Ms'),
        baselineName,
      )
    },
  )
}

async function updateLoad(
  ctx: ScenarioContext,
  server: ServerProcess,
  requests: readonly HttpRequest[],
): Promise<LoadStats> {
  const { warmupS, durationS } = ctx.options
  const load = { url: server.info.dataPlaneUrl, connections: UPDATE_CONNECTIONS, next: cycle(requests) }
  if (warmupS > 0) await runLoad({ ...load, durationS: warmupS })
  const stats = await runLoad({ ...load, durationS })
  if (stats.failed + stats.errors > 0) {
    throw new Error(`${UPDATE}: ${stats.failed} non-2xx answers, ${stats.errors} errors`)
  }
  if (stats.ok === 0) throw new Error(`${UPDATE}: no request was answered within ${durationS} s`)
  return stats
}

/** Both jobs: every execution IN_PROGRESS; the timed job's with both timers armed, the plain one's with none. */
async function checkUpdateJobs(server: ServerProcess, plainJob: string, timedJob: string): Promise<void> {
  const plain = await call<ExecutionStats>(server, 'executionStats', { jobId: plainJob })
  const timed = await call<ExecutionStats>(server, 'executionStats', { jobId: timedJob })
  const checks = new Checks(UPDATE)
  checks.expect(`${plainJob} IN_PROGRESS executions`, plain.inProgress, UPDATE_THINGS)
  checks.expect(`${plainJob} executions with a deadline`, plain.withDeadline, 0)
  checks.expect(`${timedJob} IN_PROGRESS executions`, timed.inProgress, UPDATE_THINGS)
  checks.expect(`${timedJob} executions with both timers`, timed.bothTimers, UPDATE_THINGS)
  checks.done()
}

// ---- time.rollout-100k ----

async function rolloutPoint(ctx: ScenarioContext): Promise<void> {
  const n = ctx.options.quick ? 10_000 : 100_000
  const perMinute = n / 100
  const group = 'roll'
  const paced = { jobExecutionsRolloutConfig: { maximumPerMinute: perMinute } }
  // Median of 3 repetitions (1 with --quick) of the three jobs, in the same order each time.
  const reps = ctx.options.createJobReps
  await withServer(ctx, 'fleetjobs-time-rollout', { clock: 'virtual' }, async (server) => {
    const url = server.info.url
    await seedFleet(ctx, server, [group], { prefix: 'roll', count: n, group })

    // Each job starts from the same table: the one before is deleted (untimed) and the store settled.
    const fresh = async (jobId: string): Promise<void> => {
      const dropped = await call<number>(server, 'dropExecutions', { jobId })
      if (dropped !== n) throw new Error(`${ROLLOUT}: dropped ${dropped} executions of ${jobId}, not ${n}`)
      await call(server, 'settle')
    }
    await call(server, 'settle')
    const runs = {
      unpaced: [] as number[],
      total: [] as number[],
      advance: [] as number[],
      steps: [] as number[],
    }
    for (let rep = 1; rep <= reps; rep++) {
      const unpacedJob = `roll-unpaced-${rep}`
      const unpacedMs = await send(url, createGroupJob(unpacedJob, group), `CreateJob ${unpacedJob}`)
      await checkRollout(server, url, unpacedJob, n)
      await fresh(unpacedJob)

      // One advance of 100 virtual minutes.
      const pacedJob = `roll-paced-${rep}`
      const createMs = await send(url, createGroupJob(pacedJob, group, paced), `CreateJob ${pacedJob}`)
      await checkRollout(server, url, pacedJob, perMinute)
      const advanceMs = await send(url, advanceRequest(6_000), 'advance 6000 s')
      await checkRollout(server, url, pacedJob, n)
      await fresh(pacedJob)

      // The same rollout, 100 advances of 60 s (one batch each).
      const stepsJob = `roll-steps-${rep}`
      const stepsCreateMs = await send(url, createGroupJob(stepsJob, group, paced), `CreateJob ${stepsJob}`)
      await checkRollout(server, url, stepsJob, perMinute)
      const stepsStarted = performance.now()
      for (let step = 0; step < 100; step++) await send(url, advanceRequest(60), `advance 60 s #${step + 1}`)
      const stepsMs = performance.now() - stepsStarted
      await checkRollout(server, url, stepsJob, n)
      await fresh(stepsJob)

      ctx.log(
        `${ROLLOUT} #${rep}: ${n} executions: unpaced CreateJob ${unpacedMs.toFixed(0)} ms; paced CreateJob ` +
          `${createMs.toFixed(0)} ms (${perMinute} executions) + one advance of 6,000 s ${advanceMs.toFixed(0)} ms ` +
          `= ${(createMs + advanceMs).toFixed(0)} ms; paced CreateJob ${stepsCreateMs.toFixed(0)} ms + 100 ` +
          `advances of 60 s ${stepsMs.toFixed(0)} ms = ${(stepsCreateMs + stepsMs).toFixed(0)} ms`,
      )
      runs.unpaced.push(unpacedMs)
      runs.total.push(createMs + advanceMs)
      runs.advance.push(advanceMs)
      runs.steps.push(stepsCreateMs + stepsMs)
    }

    const unpacedMs = median(runs.unpaced)
    const baselineName = 'unpaced-create-job-same-server'
    figure(ctx, `${ROLLOUT}.ms`, 'ms', 'lower', median(runs.total), unpacedMs, baselineName)
    figure(ctx, `${ROLLOUT}.advance-ms`, 'ms', 'lower', median(runs.advance), unpacedMs, baselineName)
    figure(ctx, `${ROLLOUT}.steps-60s.ms`, 'ms', 'lower', median(runs.steps), unpacedMs, baselineName)
  })
}

/** The job has exactly `expected` executions, one per thing, all QUEUED, and is still IN_PROGRESS. */
async function checkRollout(
  server: ServerProcess,
  url: string,
  jobId: string,
  expected: number,
): Promise<void> {
  const stats = await call<ExecutionStats>(server, 'executionStats', { jobId })
  const job = await describeJob(url, jobId)
  const checks = new Checks(`${ROLLOUT} ${jobId}`)
  checks.expect('executions', stats.total, expected)
  checks.expect('distinct things with an execution', stats.things, expected)
  checks.expect('QUEUED executions', stats.queued, expected)
  checks.expect('numberOfQueuedThings', job.counts['numberOfQueuedThings'], expected)
  checks.expect('job status', job.status, 'IN_PROGRESS')
  checks.done()
}

// ---- time.idle-cpu ----

async function idlePoint(ctx: ScenarioContext): Promise<void> {
  const jobs = ctx.options.quick ? 100 : 1_000
  const groupSize = 100
  // The rollouts' things carry the timers too: 100,000 things, 100,000 armed deadlines.
  const timers = jobs * groupSize
  const idleS = ctx.options.quick ? 5 : 20
  // After start-up and after seeding the process settles first: V8 collects (and shrinks) its heap a few
  // seconds after a burst of work, once; that is not the idle cost of the timers.
  const settleMs = ctx.options.quick ? 3_000 : 10_000
  await withServer(ctx, 'fleetjobs-time-idle', { clock: 'system' }, async (server) => {
    const url = server.info.url
    await sleep(settleMs)
    const empty = await idleCpu(server, idleS)
    ctx.log(`${IDLE}: empty server ${empty.toFixed(2)}% of one core over ${idleS} s`)

    const groups = Array.from({ length: jobs }, (_, i) => `idle-g-${String(i).padStart(4, '0')}`)
    await seedFleet(ctx, server, [...groups, 'idle-all'], {
      prefix: 'idle',
      count: timers,
      group: 'idle-all',
      groupPrefix: 'idle-g',
      groupSize,
    })
    // 100,000 armed timers: one job's executions IN_PROGRESS with their deadline an hour ahead.
    await send(
      url,
      createGroupJob('idle-timers', 'idle-all', { timeoutConfig: { inProgressTimeoutInMinutes: 60 } }),
      'CreateJob idle-timers',
    )
    const now = Date.now()
    const moved = await call<number>(server, 'startExecutions', {
      jobId: 'idle-timers',
      startedAtMs: now,
      inProgressDeadlineMs: now + 60 * MINUTE_MS,
    } satisfies StartExecutionsArgs)
    if (moved !== timers) throw new Error(`${IDLE}: ${moved} executions started, not ${timers}`)
    // 1,000 rollouts that stay under way: one execution a minute out of 100 things each.
    const created = await runLoad({
      url,
      connections: Math.min(SEED_CONNECTIONS, jobs),
      amount: jobs,
      next: cycle(
        groups.map((g) =>
          createGroupJob(`idle-${g}`, g, { jobExecutionsRolloutConfig: { maximumPerMinute: 1 } }),
        ),
      ),
    })
    if (created.ok !== jobs) throw new Error(`${IDLE}: creating ${jobs} paced jobs: ${created.failed} failed`)
    const createdAt = performance.now()
    const before = await call<StoreTotals>(server, 'totals')
    const checks = new Checks(IDLE)
    checks.expect('armed deadlines', before.withDeadline, timers)
    checks.expect('jobs with time-driven work due', before.jobsDue, jobs)
    checks.expect('executions', before.executions, timers + jobs)
    checks.done()
    ctx.log(
      `${IDLE}: ${jobs} jobs rolling out, ${timers} armed deadlines; ${await call<string>(server, 'settle')}`,
    )

    await sleep(settleMs)
    const loaded = await idleCpu(server, idleS)
    const after = await call<StoreTotals>(server, 'totals')
    const still = new Checks(IDLE)
    still.expect('armed deadlines after the idle window', after.withDeadline, timers)
    still.expect('jobs still rolling out after the idle window', after.jobsDue, jobs)
    still.done()
    const batches = after.executions - before.executions
    ctx.log(
      `${IDLE}: ${jobs} rolling jobs + ${timers} timers: ${loaded.toFixed(2)}% of one core over ${idleS} s ` +
        `(${(loaded / Math.max(empty, 0.001)).toFixed(1)}× the empty server's ${empty.toFixed(2)}%); ` +
        `${batches} rollout executions created in the window, which ended ` +
        `${((performance.now() - createdAt) / 1000).toFixed(0)} s after the jobs were created`,
    )
    figure(ctx, `${IDLE}.pct`, '% of a core', 'lower', loaded, empty, 'same-server-before-any-job')
  })
}

/** The server process's CPU (all threads) over `seconds` of wall time, as % of one core. */
async function idleCpu(server: ServerProcess, seconds: number): Promise<number> {
  const cpu0 = await call<number>(server, 'cpuMs')
  const t0 = performance.now()
  await sleep(seconds * 1000)
  const cpu1 = await call<number>(server, 'cpuMs')
  const t1 = performance.now()
  return (100 * (cpu1 - cpu0)) / (t1 - t0)
}
