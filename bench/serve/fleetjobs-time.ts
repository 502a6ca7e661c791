/**
 * The server under test of the time family (`--time`): the real fleetjobs server on free ports of
 * 127.0.0.1 with a temporary data directory (or, with `database`, a PostgreSQL schema), on the system
 * clock or a virtual one (`clockMode`, `clockStartMs`), optionally with its embedded MQTT broker and
 * Jobs events, so that timeouts write their outbox and events rows. Its handlers seed and inspect the
 * server's own database (`time-seed.ts`) and report the process's CPU time.
 */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { startServer } from '../../src/server.js'
import { childConfig, cpuMs, residentBytes, serveChild } from './child-ipc.js'
import type { ResetArgs, SeedThingsArgs, StartExecutionsArgs } from './time-seed.js'
import { pgTimeSeeder, sqliteTimeSeeder } from './time-seed.js'

export interface TimeServerConfig {
  readonly region: string
  readonly accountId: string
  readonly maxTargetsPerJob: number
  readonly clockMode: 'system' | 'virtual'
  /** The virtual clock's start (epoch milliseconds). */
  readonly clockStartMs?: number
  /** Start the embedded broker (`mqtt: { port: 0 }`). */
  readonly mqtt?: boolean
  /** Record Jobs events of both families (needs `mqtt`). */
  readonly events?: boolean
  /** `ServerConfig.database`: store everything in this PostgreSQL schema. */
  readonly database?: { readonly url: string; readonly schema: string; readonly poolSize?: number }
}

await serveChild(async () => {
  const config = childConfig<TimeServerConfig>()
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetjobs-bench-time-'))
  const server = await startServer({
    host: '127.0.0.1',
    port: 0,
    dataPlanePort: 0,
    dataDir,
    region: config.region,
    accountId: config.accountId,
    responseStyle: 'aws',
    // Errors only, on stderr: a failed request must be seen, the table must stay readable.
    logger: pino({ level: 'error' }, pino.destination(2)),
    settings: { maxTargetsPerJob: config.maxTargetsPerJob },
    clockMode: config.clockMode,
    ...(config.clockStartMs === undefined ? {} : { clockStartMs: config.clockStartMs }),
    ...(config.mqtt === true ? { mqtt: { port: 0 } } : {}),
    ...(config.events === true ? { events: { job: true, jobExecution: true } } : {}),
    ...(config.database === undefined ? {} : { database: config.database }),
  })
  const seeder =
    config.database === undefined
      ? sqliteTimeSeeder(join(dataDir, 'fleetjobs.db'))
      : pgTimeSeeder(config.database.url, config.database.schema)
  return {
    info: {
      url: server.url,
      dataPlaneUrl: server.dataPlaneUrl,
      ...(server.mqttUrl === undefined ? {} : { mqttUrl: server.mqttUrl }),
    },
    handlers: {
      rss: residentBytes,
      cpuMs,
      seedThings: (args) => seeder.seedThings(args as SeedThingsArgs),
      startExecutions: (args) => seeder.startExecutions(args as StartExecutionsArgs),
      resetTimedOut: (args) => seeder.resetTimedOut(args as ResetArgs),
      bareTimeOut: (args) => seeder.bareTimeOut(args as { nowMs: number }),
      dropExecutions: (args) => seeder.dropExecutions(args as { jobId: string }),
      executionStats: (args) => seeder.executionStats(args as { jobId: string }),
      outboxState: () => seeder.outboxState(),
      totals: () => seeder.totals(),
      settle: () => seeder.settle(),
    },
    close: async () => {
      await seeder.close()
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
})
