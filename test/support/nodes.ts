/**
 * `fleetjobs serve` child processes sharing one PostgreSQL schema — the deployment of
 * docs/deployment.md on one machine — with the real SDK clients pointed at each. Only processes
 * started here are ever killed, by their PID.
 */
import { IoTClient } from '@aws-sdk/client-iot'
import { IoTJobsDataPlaneClient } from '@aws-sdk/client-iot-jobs-data-plane'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import pg from 'pg'
import { REGION, sdkCredentials } from './harness.js'
import { waitUntil } from './mqtt.js'
import { TEST_DATABASE_URL } from './store.js'
import { CLI } from './cli.js'

/** A child needs time to compile with tsx on a busy machine. */
const START_MS = 60_000

export interface Node {
  readonly name: string
  readonly child: ChildProcess
  readonly url: string
  readonly iot: IoTClient
  readonly data: IoTJobsDataPlaneClient
  output(): string
  /** SIGKILL: the node dies mid-way, as a crashed machine would. */
  kill9(): Promise<void>
  stop(): Promise<void>
}

export interface NodeOptions {
  readonly schema: string
  /** An external broker all nodes share; undefined runs the nodes without MQTT. */
  readonly mqttUrl?: string | undefined
  readonly extraArgs?: readonly string[]
}

export async function startNode(name: string, options: NodeOptions): Promise<Node> {
  const dataDir = mkdtempSync(join(tmpdir(), `fleetjobs-node-${name}-`))
  const child = spawn(
    process.execPath,
    [
      ...CLI,
      'serve',
      '--port',
      '0',
      '--data-plane-port',
      '0',
      '--data-dir',
      dataDir,
      '--database',
      TEST_DATABASE_URL,
      '--database-schema',
      options.schema,
      '--database-pool',
      '4',
      ...(options.mqttUrl === undefined ? ['--no-mqtt'] : ['--mqtt-url', options.mqttUrl]),
      ...(options.extraArgs ?? []),
    ],
    { env: { ...process.env, FLEETJOBS_LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  const urls = await waitUntil(
    `node ${name} (pid ${String(child.pid)}) to print its URLs; output: ${out}`,
    () => {
      if (child.exitCode !== null) throw new Error(`node ${name} exited with ${child.exitCode}: ${out}`)
      const cp = /control plane \(iot\):\s+(http:\/\/\S+)/.exec(out)?.[1]
      const dp = /device data plane \(iot-jobs-data\):\s+(http:\/\/\S+)/.exec(out)?.[1]
      return cp !== undefined && dp !== undefined ? { cp, dp } : undefined
    },
    START_MS,
  )
  const iot = new IoTClient({
    region: REGION,
    endpoint: urls.cp,
    credentials: sdkCredentials,
    maxAttempts: 1,
  })
  const data = new IoTJobsDataPlaneClient({
    region: REGION,
    endpoint: urls.dp,
    credentials: sdkCredentials,
    maxAttempts: 1,
  })
  const cleanup = () => {
    iot.destroy()
    data.destroy()
    rmSync(dataDir, { recursive: true, force: true })
  }
  return {
    name,
    child,
    url: urls.cp,
    iot,
    data,
    output: () => out,
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      await exited
      cleanup()
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
      await exited
      cleanup()
    },
  }
}

/** A fresh schema name for one test's nodes. */
export function nodeSchema(): string {
  return `fj_nodes_${process.pid}_${Date.now().toString(36)}`
}

export async function dropSchema(schema: string): Promise<void> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL })
  await client.connect()
  try {
    await client.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  } finally {
    await client.end()
  }
}

/** Reads the schema behind the nodes' backs (recounts, versions). */
export async function querySchema<R extends pg.QueryResultRow>(
  schema: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` })
  await client.connect()
  try {
    return (await client.query<R>(text, values)).rows
  } finally {
    await client.end()
  }
}
