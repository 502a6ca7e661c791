/**
 * The servers of one bench run and the data seeded into them, started and seeded on first use and
 * shared by every scenario: the fleetjobs server under test and the two baseline servers.
 * Seeding goes through fleetjobs' own HTTP API; the SQL baseline gets the same rows directly.
 * With `--store postgres`: the run's PostgreSQL schemas, and fleetjobs nodes and the node:http + pg
 * baseline on them, started (and stopped) by the PostgreSQL family point by point.
 */
import type { RouteKey } from '../serve/baseline-routes.js'
import type { SeedArgs } from '../serve/node-http-sqlite.js'
import type { NodeHttpPgConfig } from '../serve/node-http-pg.js'
import type { FleetjobsConfig } from '../serve/fleetjobs.js'
import type { AedesEchoConfig } from '../serve/aedes-echo.js'
import type { HttpRequest } from './aws-requests.js'
import { ACCOUNT, REGION, controlPlane, dataPlane, sendOnce, thingArn } from './aws-requests.js'
import { ServerProcess } from './children.js'
import { cycle, runLoad } from './load.js'
import { BenchSchemas } from './pg.js'
import { profiledServers } from './profiled.js'
import type { BaselineName, BenchOptions } from './types.js'
import { BASELINES } from './types.js'

/** Things with one started execution each, spread so updates do not all hit one row. */
export const PROGRESS_THINGS = 1_000
/** The fleet a 10,000-target CreateJob fans out to (AWS's quota is 100 targets; ours is raised). */
export const FLEET_THINGS = 10_000
const SEED_CONNECTIONS = 32
/** The MQTT family's job reaches every simulated device (a group target: the quota does not bite). */
const MQTT_MAX_TARGETS = 100_000
const JOB_DOCUMENT = '{"operation":"bench","url":"https://example.com/firmware.bin"}'

export interface Deletable {
  readonly thingName: string
  readonly jobId: string
}

export class Session {
  private readonly servers = new Map<string, Promise<ServerProcess>>()
  private readonly things = new Set<string>()
  private progress: Promise<{ jobId: string; thingNames: readonly string[] }> | undefined
  private readonly deletable: Deletable[] = []
  private fanoutJobs = 0
  private schemas: BenchSchemas | undefined
  /** The fleetjobs server's process id, once started (its `--cpu-prof` file is named by it). */
  fleetjobsPid: number | undefined
  /** The PostgreSQL family's fleetjobs nodes, each profiled with `--cpu-prof` (label and pid). */
  readonly pgNodes: { readonly label: string; readonly pid: number }[] = []

  constructor(
    private readonly options: BenchOptions,
    private readonly log: (message: string) => void,
  ) {}

  fleetjobs(): Promise<ServerProcess> {
    const config: FleetjobsConfig = { region: REGION, accountId: ACCOUNT, maxTargetsPerJob: FLEET_THINGS }
    const server = this.server('fleetjobs', 'fleetjobs', config, this.cpuProfFlags())
    void server.then((s) => (this.fleetjobsPid = s.pid), startFailed)
    return server
  }

  private cpuProfFlags(): string[] {
    const dir = this.options.cpuProfDir
    return dir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${dir}`, '--cpu-prof-interval=100']
  }

  /**
   * A second fleetjobs server with a data directory of its own, for the fleet-scale figures: its
   * million executions must not slow the HTTP points, which run on `fleetjobs()`.
   */
  fleetjobsAtScale(): Promise<ServerProcess> {
    const config: FleetjobsConfig = { region: REGION, accountId: ACCOUNT, maxTargetsPerJob: FLEET_THINGS }
    return this.server('fleetjobs-scale', 'fleetjobs', config, [])
  }

  /**
   * A fleetjobs server with its embedded MQTT broker (free port, 127.0.0.1, no device authentication
   * on loopback) and a data directory of its own, for the MQTT family; with `tls`, also its MQTT-over-TLS
   * listener (client certificates checked against the registry). Started with `--expose-gc` so its
   * `rss` call collects garbage before it measures. Each round starts one under its own label and
   * stops it after.
   */
  fleetjobsMqtt(label: string, tls: boolean): Promise<ServerProcess> {
    const config: FleetjobsConfig = {
      region: REGION,
      accountId: ACCOUNT,
      maxTargetsPerJob: MQTT_MAX_TARGETS,
      mqtt: true,
      mqttTls: tls,
    }
    const server = this.server(label, 'fleetjobs', config, ['--expose-gc', ...this.cpuProfFlags()])
    // With --mqtt these are the only fleetjobs servers: --cpu-prof reports on each.
    void server.then((s) => {
      if (this.fleetjobsPid === undefined) this.fleetjobsPid = s.pid
      else profiledServers.push({ label, pid: s.pid })
    }, startFailed)
    return server
  }

  /**
   * The MQTT family's baseline: a bare aedes broker answering every request with canned JSON; with
   * `tls` (`aedes-echo-tls`) behind a node:tls listener asking for client certificates.
   */
  aedesEcho(tls: boolean): Promise<ServerProcess> {
    const config: AedesEchoConfig = { tls }
    return this.server(tls ? 'aedes-echo-tls' : 'aedes-echo', 'aedes-echo', config, ['--expose-gc'])
  }

  /**
   * The run's PostgreSQL schemas (`--store postgres`): fresh `bench_<pid>_<n>` ones, dropped by
   * `close` after every server closed.
   */
  pg(): BenchSchemas {
    if (this.options.store !== 'postgres') throw new Error('PostgreSQL needs --store postgres')
    this.schemas ??= new BenchSchemas(this.options.databaseUrl, this.log)
    return this.schemas
  }

  /**
   * A fleetjobs node on a PostgreSQL schema (`ServerConfig.database`) with a pool of `poolSize`
   * connections; several labels on one schema are several nodes. Stop it with `stop(label)`.
   */
  fleetjobsPg(label: string, schema: string, poolSize: number): Promise<ServerProcess> {
    const config: FleetjobsConfig = {
      region: REGION,
      accountId: ACCOUNT,
      maxTargetsPerJob: FLEET_THINGS,
      database: { url: this.options.databaseUrl, schema, poolSize },
    }
    const server = this.server(label, 'fleetjobs', config, this.cpuProfFlags())
    void server.then((s) => this.pgNodes.push({ label, pid: s.pid }), startFailed)
    return server
  }

  /** The PostgreSQL family's baseline: bare node:http + pg, one UPDATE per request. */
  nodeHttpPg(label: string, config: NodeHttpPgConfig): Promise<ServerProcess> {
    return this.server(label, 'node-http-pg', config, [])
  }

  /** Closes one server now (its connections and memory gone before the next measurement). */
  async stop(label: string): Promise<void> {
    const server = this.servers.get(label)
    if (server === undefined) return
    this.servers.delete(label)
    // A server that failed to start has nothing to close (its caller saw the failure).
    await (await server.catch(() => undefined))?.close()
  }

  baseline(name: BaselineName): Promise<ServerProcess> {
    return this.server(name, name, null, [])
  }

  private server(
    label: string,
    entry: string,
    config: unknown,
    flags: readonly string[],
  ): Promise<ServerProcess> {
    let server = this.servers.get(label)
    if (server === undefined) {
      server = ServerProcess.start(label, entry, config, flags)
      this.servers.set(label, server)
      void server.then((s) => this.log(`started ${label} (pid ${s.pid})`), startFailed)
    }
    return server
  }

  /** Gives both baselines fleetjobs' answer to a route, taken from one real request. */
  async captureAnswer(
    key: RouteKey,
    request: HttpRequest,
    plane: 'controlPlane' | 'dataPlane',
  ): Promise<void> {
    const fj = await this.fleetjobs()
    const res = await sendOnce(plane === 'controlPlane' ? fj.info.url : fj.info.dataPlaneUrl, request)
    if (res.status !== 200) throw new Error(`capturing ${key}: fleetjobs answered ${res.status} ${res.body}`)
    for (const name of BASELINES) {
      await (await this.baseline(name)).call('setAnswer', { key, body: res.body })
    }
  }

  /** Creates the things that do not exist yet, over HTTP, 32 requests at a time. */
  async ensureThings(names: readonly string[]): Promise<void> {
    const missing = names.filter((n) => !this.things.has(n))
    if (missing.length === 0) return
    const fj = await this.fleetjobs()
    const started = performance.now()
    const stats = await runLoad({
      url: fj.info.url,
      connections: Math.min(SEED_CONNECTIONS, missing.length),
      amount: missing.length,
      next: cycle(missing.map((n) => controlPlane.createThing(n))),
    })
    if (stats.ok !== missing.length) {
      throw new Error(`creating ${missing.length} things: ${stats.failed} failed, ${stats.errors} errors`)
    }
    for (const n of missing) this.things.add(n)
    this.log(`created ${missing.length} things in ${Math.round(performance.now() - started)} ms`)
  }

  /** One job over 1,000 things, every execution IN_PROGRESS (in fleetjobs and in the SQL baseline). */
  progressFleet(): Promise<{ jobId: string; thingNames: readonly string[] }> {
    this.progress ??= (async () => {
      const jobId = 'bench-progress'
      const thingNames = names('bench-u', PROGRESS_THINGS)
      await this.ensureThings(thingNames)
      const fj = await this.fleetjobs()
      const created = await sendOnce(
        fj.info.url,
        controlPlane.createJob(jobId, thingNames.map(thingArn), JOB_DOCUMENT),
      )
      if (created.status !== 200) throw new Error(`CreateJob ${jobId}: ${created.status} ${created.body}`)
      const started = await runLoad({
        url: fj.info.dataPlaneUrl,
        connections: SEED_CONNECTIONS,
        amount: thingNames.length,
        next: cycle(thingNames.map((t) => dataPlane.updateJobExecution(t, jobId))),
      })
      if (started.ok !== thingNames.length) throw new Error(`starting executions: ${started.failed} failed`)
      const seed: SeedArgs = { jobId, thingNames, status: 'IN_PROGRESS' }
      await (await this.baseline('node-http-sqlite')).call('seed', seed)
      return { jobId, thingNames }
    })()
    return this.progress
  }

  /** The names of the 10,000-thing fleet. */
  fleetThingNames(): readonly string[] {
    return names('bench-t', FLEET_THINGS)
  }

  /**
   * Times one CreateJob targeting the 10,000 fleet things by ARN (send to answer). Its QUEUED
   * executions join the pool DeleteJobExecution draws from; the SQL baseline gets the same rows.
   */
  async createFanoutJob(): Promise<{ jobId: string; ms: number }> {
    const thingNames = this.fleetThingNames()
    await this.ensureThings(thingNames)
    const fj = await this.fleetjobs()
    const jobId = `bench-fanout-${++this.fanoutJobs}`
    const request = controlPlane.createJob(jobId, thingNames.map(thingArn), JOB_DOCUMENT)
    // A first fetch pays for undici's set-up; keep it out of the timing.
    await sendOnce(fj.info.url, controlPlane.describeJobExecution(thingNames[0]!, 'bench-warm-up'))
    const res = await sendOnce(fj.info.url, request)
    if (res.status !== 200) throw new Error(`CreateJob ${jobId}: ${res.status} ${res.body.slice(0, 300)}`)
    const seed: SeedArgs = { jobId, thingNames, status: 'QUEUED' }
    await (await this.baseline('node-http-sqlite')).call('seed', seed)
    for (const thingName of thingNames) this.deletable.push({ thingName, jobId })
    return { jobId, ms: res.ms }
  }

  /** Executions nobody has deleted yet, the same in fleetjobs and in the SQL baseline. */
  async takeDeletable(count: number): Promise<readonly Deletable[]> {
    while (this.deletable.length < count) await this.createFanoutJob()
    return this.deletable.splice(0, count)
  }

  async close(): Promise<void> {
    const servers = await Promise.allSettled([...this.servers.values()])
    await Promise.all(servers.map((s) => (s.status === 'fulfilled' ? s.value.close() : Promise.resolve())))
    this.servers.clear()
    // After the servers: a schema in use by a node's open transaction could not be dropped.
    await this.schemas?.dropAll()
  }
}

/**
 * For the side notes taken when a server starts (its pid, a log line): the caller awaiting the start
 * sees a failure; these must not report it again as an unhandled rejection, which ends the run.
 */
const startFailed = (): undefined => undefined

/** `prefix-0 …`, zero-padded to the width of `count - 1`. */
export function names(prefix: string, count: number): string[] {
  const width = String(count - 1).length
  return Array.from({ length: count }, (_, i) => `${prefix}-${String(i).padStart(width, '0')}`)
}
