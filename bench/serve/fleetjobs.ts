/** The server under test: the real fleetjobs server on free ports with a temporary data directory. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { startServer } from '../../src/server.js'
import { childConfig, serveChild } from './child-ipc.js'

export interface FleetjobsConfig {
  readonly region: string
  readonly accountId: string
  readonly maxTargetsPerJob: number
}

await serveChild(async () => {
  const config = childConfig<FleetjobsConfig>()
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetjobs-bench-'))
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
  })
  return {
    info: { url: server.url, dataPlaneUrl: server.dataPlaneUrl },
    handlers: {},
    close: async () => {
      await server.close()
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
})
