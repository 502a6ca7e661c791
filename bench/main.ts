/**
 * `npm run bench [-- flags]`: fleetjobs over HTTP against two baselines measured in the same run
 * (a bare node:http server, and node:http + better-sqlite3 doing only the SQL), plus the 10,000-thing
 * CreateJob. Servers run in child processes; this process generates the load.
 *
 *   --quick            a very short smoke run of every figure (CI)
 *   --duration S       measured seconds per time-bounded point (default 5; 0.5 with --quick)
 *   --connections L    comma-separated connection counts (default 1,16,64)
 *   --only NAME        run only matching points (repeatable, or comma-separated); NAME matches whole
 *                      dot-separated parts of a point name, `*` any text within a part:
 *                      `update`, `http.update.c1`, `describe*`, `c64`
 *   --json FILE        also write every figure as {"results": [{name, value, unit, baseline, ratio}]}
 *   --cpu-prof DIR     profile the fleetjobs server (node --cpu-prof) and print its top self time
 *   --mqtt             run only the MQTT family (10,000 devices on the embedded broker against a bare
 *                      aedes request/reply loop; the same over mutual TLS and over MQTT 5 against the
 *                      TCP MQTT 3.1.1 round); without it the MQTT family does not run
 *   --mqtt-processes N load-generator processes the devices are spread over (default 1)
 *   --store S          `sqlite` (default: every family above) or `postgres`: only the PostgreSQL
 *                      family (`pg.*`: fleetjobs on PostgreSQL against bare node:http + pg, 100k group
 *                      fan-out against INSERT … SELECT, two nodes against one), in fresh schemas
 *                      `bench_<pid>_<n>` dropped at the end; connections default to 16,64
 *   --database-url URL the database of `--store postgres` (default: $FLEETJOBS_BENCH_DATABASE_URL,
 *                      else postgres://127.0.0.1:5432/test); host 127.0.0.1 only
 *   --time             run only the time-driven family (`time.*`: deadline sweep, updates with timers,
 *                      paced rollout, idle CPU with armed timers); with `--store postgres` on PostgreSQL
 *   --console          run only the web console family (`console.*`: UpdateJobExecution at 16
 *                      connections with a headless Chromium tab on a 100,000-execution job's page and
 *                      /metrics scraped every second, against the same without; first paint and a
 *                      usable jobs list with 10,000 jobs and 1,000,000 executions stored); needs
 *                      Debian's chromium
 *   --list             print the point names and exit
 */
import { mkdirSync, readdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { topSelfTime } from './lib/cpu-profile.js'
import { profiledServers } from './lib/profiled.js'
import { DEFAULT_DATABASE_URL, loopbackDatabaseUrl } from './lib/pg.js'
import { figuresOf, hasFailures, printTables, writeJson } from './lib/report.js'
import { Session } from './lib/session.js'
import type { BenchOptions, Figure, ScenarioContext, ThroughputPoint } from './lib/types.js'
import { SCENARIOS } from './scenarios/index.js'

function parseOptions(argv: readonly string[]): BenchOptions & { list: boolean } {
  const { values } = parseArgs({
    args: [...argv],
    options: {
      quick: { type: 'boolean', default: false },
      duration: { type: 'string' },
      connections: { type: 'string' },
      only: { type: 'string', multiple: true },
      json: { type: 'string' },
      'cpu-prof': { type: 'string' },
      mqtt: { type: 'boolean', default: false },
      'mqtt-processes': { type: 'string' },
      store: { type: 'string', default: 'sqlite' },
      'database-url': { type: 'string' },
      time: { type: 'boolean', default: false },
      console: { type: 'boolean', default: false },
      list: { type: 'boolean', default: false },
    },
    strict: true,
    allowPositionals: false,
  })
  const quick = values.quick === true
  const store = values.store
  if (store !== 'sqlite' && store !== 'postgres') throw new Error('--store takes sqlite or postgres')
  if (store === 'postgres' && values.mqtt === true) throw new Error('--mqtt runs on SQLite only')
  if (values.time === true && values.mqtt === true) throw new Error('--time and --mqtt run separately')
  if (values.console === true && (values.time === true || values.mqtt === true || store === 'postgres'))
    throw new Error('--console runs alone, on SQLite')
  if (store !== 'postgres' && values['database-url'] !== undefined) {
    throw new Error('--database-url needs --store postgres')
  }
  const databaseUrl = loopbackDatabaseUrl(
    values['database-url'] ?? process.env['FLEETJOBS_BENCH_DATABASE_URL'] ?? DEFAULT_DATABASE_URL,
  )
  const durationS = values.duration === undefined ? (quick ? 0.5 : 5) : Number(values.duration)
  if (!(durationS > 0 && durationS <= 120)) throw new Error('--duration takes seconds in (0, 120]')
  const defaultConnections = store === 'postgres' ? '16,64' : '1,16,64'
  const connections = (values.connections ?? defaultConnections).split(',').map(Number)
  if (connections.some((c) => !Number.isInteger(c) || c < 1 || c > 1024)) {
    throw new Error('--connections takes integers in 1..1024, comma-separated')
  }
  const mqttProcesses = Number(values['mqtt-processes'] ?? '1')
  if (!Number.isInteger(mqttProcesses) || mqttProcesses < 1 || mqttProcesses > 16) {
    throw new Error('--mqtt-processes takes an integer in 1..16')
  }
  return {
    quick,
    durationS,
    warmupS: quick ? 0.2 : Math.min(1, durationS / 2),
    connections,
    only: (values.only ?? []).flatMap((o) => o.split(',')).filter((o) => o !== ''),
    jsonFile: values.json,
    cpuProfDir: values['cpu-prof'] === undefined ? undefined : resolve(values['cpu-prof']),
    // Full: warm-up + measured = one 10,000-target job's executions per point.
    deleteAmount: quick ? 500 : 9_000,
    deleteWarmup: quick ? 100 : 1_000,
    createJobReps: quick ? 1 : 3,
    mqtt: values.mqtt === true,
    mqttDevices: quick ? 1_000 : 10_000,
    mqttProcesses,
    store,
    databaseUrl,
    time: values.time === true,
    console: values.console === true,
    list: values.list === true,
  }
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2))
  // A flagged family (`--mqtt`, `--store postgres`, `--time`) runs only with its flag, and then alone;
  // `--time` takes the store from `--store`.
  const flag = options.console
    ? 'console'
    : options.time
      ? 'time'
      : options.mqtt
        ? 'mqtt'
        : options.store === 'postgres'
          ? 'postgres'
          : undefined
  const scenarios = SCENARIOS.filter((s) => s.flag === flag)
  const names = scenarios.flatMap((s) => s.points(options))
  const patterns = options.only.map(onlyPattern)
  const wants = (point: string): boolean => patterns.length === 0 || patterns.some((p) => p.test(point))
  if (options.list) {
    console.log(names.filter(wants).join('\n'))
    return 0
  }
  if (!names.some(wants)) throw new Error(`--only ${options.only.join(',')} matches no point; see --list`)
  if (options.cpuProfDir !== undefined) mkdirSync(options.cpuProfDir, { recursive: true })

  const started = performance.now()
  const log = (message: string): void => {
    const s = ((performance.now() - started) / 1000).toFixed(1).padStart(6)
    console.error(`[${s}s] ${message}`)
  }
  const points: ThroughputPoint[] = []
  const figures: Figure[] = []
  const failures: string[] = []
  const session = new Session(options, log)
  const ctx: ScenarioContext = {
    options,
    session,
    wants,
    recordPoint: (p) => points.push(p),
    recordFigure: (f) => figures.push(f),
    recordFailure: (message) => {
      failures.push(message)
      log(`FAILED: ${message}`)
    },
    log,
  }
  try {
    for (const scenario of scenarios) await scenario.run(ctx)
  } finally {
    await session.close()
  }
  const all = [...figuresOf(points), ...figures]
  printTables(points, all)
  if (options.jsonFile !== undefined) {
    writeJson(options.jsonFile, options, all)
    log(`wrote ${all.length} figures to ${options.jsonFile}`)
  }
  if (options.cpuProfDir !== undefined && session.fleetjobsPid !== undefined) {
    printProfile(options.cpuProfDir, session.fleetjobsPid)
  }
  if (options.cpuProfDir !== undefined) {
    for (const node of session.pgNodes) printProfile(options.cpuProfDir, node.pid, node.label)
    for (const server of profiledServers) printProfile(options.cpuProfDir, server.pid, server.label)
  }
  log(`done in ${((performance.now() - started) / 1000).toFixed(1)} s`)
  const failed = points.filter(hasFailures)
  if (failed.length > 0) console.error(`requests failed at: ${failed.map((p) => p.name).join(', ')}`)
  for (const f of failures) console.error(`failed: ${f}`)
  return failed.length > 0 || failures.length > 0 ? 1 : 0
}

/** `--only` pattern → regular expression over whole dot-separated parts of a point name. */
function onlyPattern(pattern: string): RegExp {
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join('[^.]*')
  return new RegExp(`(^|\\.)${body}(\\.|$)`)
}

/** The main thread's profile (thread id 0) of the server process; workers write their own. */
function printProfile(dir: string, pid: number, label = 'fleetjobs server'): void {
  const file = readdirSync(dir)
    .filter((f) => f.endsWith('.cpuprofile') && f.includes(`.${pid}.0.`))
    .map((f) => join(dir, f))[0]
  if (file === undefined) {
    console.log(`no main-thread profile of pid ${pid} in ${dir}`)
    return
  }
  console.log(`\n${label} main thread, top self time (${file}):`)
  for (const t of topSelfTime(file, 25)) {
    console.log(`${(t.share * 100).toFixed(1).padStart(5)}%  ${t.ms.toFixed(0).padStart(6)} ms  ${t.fn}`)
  }
}

main().then(
  (code) => {
    process.exitCode = code
  },
  (error: unknown) => {
    console.error(error)
    process.exitCode = 1
  },
)
