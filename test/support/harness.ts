/**
 * Starts the real fleetjobs server on free ports with a temporary data directory — its SQLite file, or
 * with `FLEETJOBS_TEST_STORE=postgres` a PostgreSQL schema of its own (support/store.ts) — and gives the
 * real AWS SDK clients pointed at it. Every test names its resources uniquely with `unique()`.
 */
import { IoTClient } from '@aws-sdk/client-iot'
import { IoTJobsDataPlaneClient } from '@aws-sdk/client-iot-jobs-data-plane'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import type { RunningServer, ServerConfig } from '../../src/server.js'
import { startServer } from '../../src/server.js'
import { databaseFor, dropSchemaFor } from './store.js'

export const REGION = 'us-east-1'
export const ACCOUNT = '123456789012'
const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' }

export interface Harness {
  readonly server: RunningServer
  readonly iot: IoTClient
  readonly data: IoTJobsDataPlaneClient
  /** The server's data directory (the one given in the overrides, if any). */
  readonly dataDir: string
  /**
   * Stops the server, removes the data directory the harness made (not one given in the overrides) and,
   * on PostgreSQL, drops the schema of the server's data directory.
   */
  close(): Promise<void>
}

export async function startHarness(overrides: Partial<ServerConfig> = {}): Promise<Harness> {
  const dataDir = overrides.dataDir ?? mkdtempSync(join(tmpdir(), 'fleetjobs-test-'))
  const made = overrides.dataDir === undefined ? dataDir : undefined
  // The test database is the harness's to manage unless the test chose a database itself.
  const database = overrides.database === undefined ? databaseFor(dataDir) : undefined
  const cleanUp = async () => {
    if (database !== undefined) await dropSchemaFor(dataDir)
    if (made !== undefined) rmSync(made, { recursive: true, force: true })
  }
  // A schema left behind by an earlier run that died, whose temporary folder had the same name.
  if (made !== undefined && database !== undefined) await dropSchemaFor(dataDir)
  let server: RunningServer
  try {
    server = await startServer({
      host: '127.0.0.1',
      port: 0,
      dataPlanePort: 0,
      dataDir,
      region: REGION,
      accountId: ACCOUNT,
      responseStyle: 'aws',
      logger: pino({ level: process.env['TEST_LOG_LEVEL'] ?? 'silent' }),
      ...(database === undefined ? {} : { database }),
      ...overrides,
    })
  } catch (error) {
    if (made !== undefined) await cleanUp()
    throw error
  }
  const iot = new IoTClient({ region: REGION, endpoint: server.url, credentials, maxAttempts: 1 })
  const data = new IoTJobsDataPlaneClient({
    region: REGION,
    endpoint: server.dataPlaneUrl,
    credentials,
    maxAttempts: 1,
  })
  return {
    server,
    iot,
    data,
    dataDir,
    close: async () => {
      iot.destroy()
      data.destroy()
      await server.close()
      await cleanUp()
    },
  }
}

let counter = 0
/** A name no other test uses: prefix, process id and a counter. */
export function unique(prefix: string): string {
  counter += 1
  return `${prefix}-${process.pid}-${counter}`
}

export const thingArnOf = (thingName: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:thing/${thingName}`
export const sdkCredentials = credentials

/** Raw HTTP against the server, for what the SDKs cannot send (bad JSON, bad paths). */
export async function raw(
  baseUrl: string,
  method: string,
  path: string,
  body?: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Headers; json: Record<string, unknown> }> {
  const res = await fetch(`${baseUrl}${path}`, {
    method,
    headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
    ...(body === undefined ? {} : { body }),
  })
  const text = await res.text()
  return {
    status: res.status,
    headers: res.headers,
    json: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>),
  }
}

/** Creates the things (no attributes) and a job targeting them; returns the names used. */
export async function seedJob(
  h: Harness,
  options: { things?: number; jobId?: string; document?: string; extra?: Record<string, unknown> } = {},
): Promise<{ jobId: string; thingNames: string[] }> {
  const { CreateThingCommand, CreateJobCommand } = await import('@aws-sdk/client-iot')
  const jobId = options.jobId ?? unique('job')
  const thingNames = Array.from({ length: options.things ?? 1 }, () => unique('thing'))
  for (const thingName of thingNames) await h.iot.send(new CreateThingCommand({ thingName }))
  await h.iot.send(
    new CreateJobCommand({
      jobId,
      targets: thingNames.map(thingArnOf),
      document: options.document ?? '{"operation":"test"}',
      ...options.extra,
    }),
  )
  return { jobId, thingNames }
}
