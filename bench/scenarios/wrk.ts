/**
 * An independent check of the HTTP read and write figures with `wrk` (issue 14), only with `--wrk`:
 * the load generator is C, not Node, so a figure that holds here is not an artefact of autocannon
 * sharing the machine's two cores with the server in the way Node does.
 *
 * The requests are the same pre-built, SDK-shaped, signed requests as `http.describe-*` and
 * `http.update` (`lib/aws-requests.ts`), formatted once by wrk's Lua `init` and sent in turn, one
 * list walked by one wrk thread over all connections. Each point runs against node:http+SQL
 * (`node-http-sqlite`), node:http and fleetjobs, in that order, each after a warm-up of its own.
 * Figures: `wrk.<point>.rps` (against each baseline) and `wrk.<point>.p99` (wrk's latency
 * distribution, `--latency`). Any non-2xx answer or socket error fails the run.
 */
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import type { HttpRequest } from '../lib/aws-requests.js'
import { dataPlane } from '../lib/aws-requests.js'
import type { Target } from '../lib/compare.js'
import type { RouteKey } from '../serve/baseline-routes.js'
import type { Scenario, ScenarioContext } from '../lib/types.js'
import { VARIANTS as DESCRIBE_VARIANTS } from './http-describe.js'
import { BASELINES, speedRatio } from '../lib/types.js'

const run = promisify(execFile)

const CONNECTIONS = 16
const POINTS = [
  ...DESCRIBE_VARIANTS,
  { key: 'update', plane: 'dataPlane', request: dataPlane.updateJobExecution },
] as const satisfies readonly {
  key: RouteKey
  plane: 'controlPlane' | 'dataPlane'
  request: (thingName: string, jobId: string) => HttpRequest
}[]

interface WrkResult {
  readonly rps: number
  readonly p99Ms: number
  readonly requests: number
}

export const wrkCheck: Scenario = {
  family: 'wrk',
  flag: 'wrk',
  points: () => POINTS.map((p) => `wrk.${p.key}.c${CONNECTIONS}`),
  async run(ctx) {
    const wanted = POINTS.filter((p) => ctx.wants(`wrk.${p.key}.c${CONNECTIONS}`))
    if (wanted.length === 0) return
    await requireWrk()
    const { jobId, thingNames } = await ctx.session.progressFleet()
    const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-bench-wrk-'))
    try {
      for (const point of wanted) {
        const requests = thingNames.map((t) => point.request(t, jobId))
        await ctx.session.captureAnswer(point.key, requests[0]!, point.plane)
        const script = join(dir, `${point.key}.lua`)
        writeFileSync(script, luaScript(requests))
        await measure(ctx, `wrk.${point.key}.c${CONNECTIONS}`, point.plane, script)
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  },
}

async function measure(
  ctx: ScenarioContext,
  name: string,
  plane: 'controlPlane' | 'dataPlane',
  script: string,
): Promise<void> {
  const results: Partial<Record<Target, WrkResult>> = {}
  for (const target of [...BASELINES, 'fleetjobs'] as const) {
    const server = await (target === 'fleetjobs' ? ctx.session.fleetjobs() : ctx.session.baseline(target))
    const url = plane === 'controlPlane' ? server.info.url : server.info.dataPlaneUrl
    const { warmupS, durationS } = ctx.options
    if (warmupS > 0) await wrk(url, script, warmupS)
    const result = await wrk(url, script, durationS)
    results[target] = result
    ctx.log(
      `${name.padEnd(24)} ${target.padEnd(17)} ${result.rps.toFixed(0).padStart(7)} req/s  p99 ${result.p99Ms.toFixed(2)} ms (wrk)`,
    )
  }
  const ours = results.fleetjobs!
  for (const baseline of BASELINES) {
    const base = results[baseline]
    if (base === undefined) continue
    ctx.recordFigure({
      name: `${name}.rps.vs-${baseline}`,
      value: ours.rps,
      unit: 'req/s',
      better: 'higher',
      baseline: base.rps,
      baselineName: baseline,
      ratio: speedRatio(ours.rps, base.rps, 'higher'),
    })
    ctx.recordFigure({
      name: `${name}.p99.vs-${baseline}`,
      value: ours.p99Ms,
      unit: 'ms',
      better: 'lower',
      baseline: base.p99Ms,
      baselineName: baseline,
      ratio: speedRatio(ours.p99Ms, base.p99Ms, 'lower'),
    })
  }
}

/** One wrk run (one thread, CONNECTIONS connections); rejects on any non-2xx answer or socket error. */
async function wrk(url: string, script: string, durationS: number): Promise<WrkResult> {
  const args = [
    '-t1',
    `-c${CONNECTIONS}`,
    `-d${Math.max(1, Math.round(durationS))}s`,
    '--latency',
    '-s',
    script,
    url,
  ]
  const { stdout } = await run('wrk', args, { timeout: (durationS + 30) * 1000 })
  const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(stdout)?.[1])
  const requests = Number(/(\d+) requests in/.exec(stdout)?.[1])
  const p99 = /^\s+99%\s+([\d.]+)(us|ms|s)\s*$/m.exec(stdout)
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(stdout)
  const socketErrors = /Socket errors: (.*)/.exec(stdout)
  if (non2xx !== null || socketErrors !== null || !(rps > 0) || p99 === null) {
    throw new Error(`wrk ${args.join(' ')}: ${non2xx?.[0] ?? ''} ${socketErrors?.[0] ?? ''}\n${stdout}`)
  }
  const scale = p99[2] === 'us' ? 0.001 : p99[2] === 's' ? 1000 : 1
  return { rps, p99Ms: Number(p99[1]) * scale, requests }
}

async function requireWrk(): Promise<void> {
  try {
    await run('wrk', ['--version'])
  } catch (error) {
    // `wrk --version` prints its version and exits 1; only a missing binary has no output.
    const stdout = (error as { stdout?: string }).stdout ?? ''
    if (!stdout.includes('wrk'))
      throw new Error('--wrk needs the wrk binary on PATH (Debian: apt-get install wrk)')
  }
}

/** wrk's Lua: every request formatted once in `init`, then sent in turn. */
function luaScript(requests: readonly HttpRequest[]): string {
  // A JSON string of printable ASCII is a valid Lua string literal (its only escapes are \" and \\).
  const lua = (s: string): string => {
    if (!/^[\x20-\x7e]*$/.test(s)) throw new Error(`not printable ASCII, cannot go into wrk's Lua: ${s}`)
    return JSON.stringify(s)
  }
  const entries = requests.map((r) => {
    const headers = Object.entries(r.headers)
      .map(([k, v]) => `[${lua(k)}] = ${lua(v)}`)
      .join(', ')
    return `{ ${lua(r.method)}, ${lua(r.path)}, { ${headers} }, ${r.body === undefined ? 'nil' : lua(r.body)} }`
  })
  return `local specs = {
${entries.join(',\n')}
}
local formatted = {}
local n = 0
function init(args)
  for i, s in ipairs(specs) do formatted[i] = wrk.format(s[1], s[2], s[3], s[4]) end
end
function request()
  n = n % #formatted + 1
  return formatted[n]
end
`
}
