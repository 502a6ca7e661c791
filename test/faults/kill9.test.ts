/**
 * kill -9 under write load: a spawned `fleetjobs serve` (on the store of the pass, support/store.ts) takes
 * 16 concurrent writers — CreateThing with fresh names, and UpdateJobExecution IN_PROGRESS → IN_PROGRESS →
 * SUCCEEDED on the executions of a job — and is SIGKILLed once KILL_AFTER writes have been answered 200,
 * requests still in flight. Restarted on the same data directory (the same schema on PostgreSQL), it must
 * hold every acknowledged write, and each job's counters must equal a recount of its executions. Five
 * kills on one data directory, each round with a job of its own.
 * [spec: jobs-control-plane] [spec: state-machines]
 */
import {
  CreateJobCommand,
  CreateThingCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  IoTClient,
  ListJobExecutionsForJobCommand,
  ListThingsCommand,
} from '@aws-sdk/client-iot'
import type { JobExecutionStatus, JobProcessDetails } from '@aws-sdk/client-iot'
import { IoTJobsDataPlaneClient, UpdateJobExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { REGION, sdkCredentials, thingArnOf, unique } from '../support/harness.js'
import { waitUntil } from '../support/mqtt.js'
import { dropSchemaFor, serveArgs } from '../support/store.js'
import { CLI } from '../support/cli.js'

/** A child compiles with tsx before it listens: generous on a loaded 2-core machine. */
const START_MS = 30_000
const ROUNDS = 5
const WRITERS = 16
/** Acknowledged writes per round before the kill: a short burst, with requests still in flight. */
const KILL_AFTER = 200
/** Targets of each round's job: the CLI's default --max-targets-per-job (AWS: 100). */
const TARGETS = 100
/** Updates each execution takes, in order; each raises versionNumber by one. [spec: state-machines] */
const STEPS = ['IN_PROGRESS', 'IN_PROGRESS', 'SUCCEEDED'] as const

interface Server {
  readonly child: ChildProcess
  readonly iot: IoTClient
  readonly data: IoTJobsDataPlaneClient
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  output(): string
}

const children: ChildProcess[] = []
const dataDir = mkdtempSync(join(tmpdir(), 'fleetjobs-kill9-'))

after(async () => {
  // A failed assertion must not leave a server running: only the children spawned here.
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
  rmSync(dataDir, { recursive: true, force: true })
  await dropSchemaFor(dataDir)
})

async function serve(): Promise<Server> {
  const child = spawn(
    process.execPath,
    [
      ...CLI,
      'serve',
      '--data-dir',
      dataDir,
      ...serveArgs(dataDir),
      '--port',
      '0',
      '--data-plane-port',
      '0',
      '--no-mqtt',
    ],
    { env: { ...process.env, FLEETJOBS_LOG_LEVEL: 'error' }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  children.push(child)
  let out = ''
  child.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (out += chunk.toString()))
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  )
  const urls = await waitUntil(
    `fleetjobs serve (pid ${String(child.pid)}) to print its URLs`,
    () => {
      if (child.exitCode !== null)
        throw new Error(`fleetjobs serve on ${dataDir} exited with ${child.exitCode}: ${out}`)
      const cp = /control plane \(iot\):\s+(http:\/\/\S+)/.exec(out)?.[1]
      const dp = /device data plane \(iot-jobs-data\):\s+(http:\/\/\S+)/.exec(out)?.[1]
      return cp !== undefined && dp !== undefined ? { cp, dp } : undefined
    },
    START_MS,
  )
  const options = { region: REGION, credentials: sdkCredentials, maxAttempts: 1 }
  return {
    child,
    iot: new IoTClient({ ...options, endpoint: urls.cp }),
    data: new IoTJobsDataPlaneClient({ ...options, endpoint: urls.dp }),
    exited,
    output: () => out,
  }
}

/** SIGKILL to the one child this server is, then its clients closed. */
async function kill9(server: Server): Promise<void> {
  server.child.kill('SIGKILL')
  const { signal } = await server.exited
  assert.equal(signal, 'SIGKILL', server.output())
  server.iot.destroy()
  server.data.destroy()
}

/** What the writers got answered 200: the things created, and the last acknowledged step per execution. */
interface Acknowledged {
  readonly things: string[]
  readonly steps: Map<string, { status: string; versionNumber: number }>
  count: number
  /** Requests sent and not yet answered when the kill was sent. */
  inFlightAtKill: number
}

/**
 * WRITERS concurrent loops until the server is killed: writer w owns the targets i ≡ w (mod WRITERS),
 * so each execution's updates are sequential, and alternates them with CreateThing. Once KILL_AFTER
 * writes are acknowledged, the child is killed while the others are in flight; a failure before the
 * kill fails the round.
 */
async function writeUntilKilled(server: Server, jobId: string, targets: string[]): Promise<Acknowledged> {
  const ack: Acknowledged = { things: [], steps: new Map(), count: 0, inFlightAtKill: 0 }
  let killing: Promise<void> | undefined
  let inFlight = 0
  const acknowledge = () => {
    ack.count += 1
    if (ack.count >= KILL_AFTER && killing === undefined) {
      ack.inFlightAtKill = inFlight - 1 // not the write just answered
      killing = kill9(server)
    }
  }
  const writer = async (w: number): Promise<void> => {
    const mine = targets.filter((_, i) => i % WRITERS === w)
    const queue = mine.flatMap((thingName) => STEPS.map((status) => ({ thingName, status })))
    for (let n = 0; killing === undefined; n += 1) {
      inFlight += 1
      try {
        const update = n % 2 === 1 ? queue.shift() : undefined
        if (update === undefined) {
          const thingName = unique(`k9-w${w}`)
          await server.iot.send(new CreateThingCommand({ thingName }))
          ack.things.push(thingName)
        } else {
          const reply = await server.data.send(
            new UpdateJobExecutionCommand({
              jobId,
              thingName: update.thingName,
              status: update.status,
              includeJobExecutionState: true,
            }),
          )
          const versionNumber = reply.executionState?.versionNumber
          assert.ok(versionNumber !== undefined, `no versionNumber for ${update.thingName}`)
          ack.steps.set(update.thingName, { status: update.status, versionNumber })
        }
        acknowledge()
      } catch (error) {
        if (killing !== undefined) return
        throw error
      } finally {
        inFlight -= 1
      }
    }
  }
  await Promise.all(Array.from({ length: WRITERS }, (_, w) => writer(w)))
  await killing
  return ack
}

async function allThings(iot: IoTClient): Promise<Set<string>> {
  const names = new Set<string>()
  let nextToken: string | undefined
  do {
    const page = await iot.send(new ListThingsCommand({ maxResults: 250, nextToken }))
    for (const t of page.things ?? []) if (t.thingName !== undefined) names.add(t.thingName)
    nextToken = page.nextToken
  } while (nextToken !== undefined)
  return names
}

const COUNTER_OF: Record<JobExecutionStatus, keyof JobProcessDetails> = {
  QUEUED: 'numberOfQueuedThings',
  IN_PROGRESS: 'numberOfInProgressThings',
  SUCCEEDED: 'numberOfSucceededThings',
  FAILED: 'numberOfFailedThings',
  REJECTED: 'numberOfRejectedThings',
  CANCELED: 'numberOfCanceledThings',
  REMOVED: 'numberOfRemovedThings',
  TIMED_OUT: 'numberOfTimedOutThings',
}

/** DescribeJob's jobProcessDetails against a recount of ListJobExecutionsForJob. [spec: jobs-control-plane] */
async function expectCountersEqualRecount(iot: IoTClient, jobId: string): Promise<void> {
  const recount: Record<string, number> = Object.fromEntries(
    Object.values(COUNTER_OF).map((counter) => [counter, 0]),
  )
  let nextToken: string | undefined
  do {
    const page = await iot.send(new ListJobExecutionsForJobCommand({ jobId, maxResults: 250, nextToken }))
    for (const e of page.executionSummaries ?? []) {
      const status = e.jobExecutionSummary?.status
      assert.ok(status !== undefined && status in COUNTER_OF, `execution of ${jobId}: ${String(status)}`)
      recount[COUNTER_OF[status]]! += 1
    }
    nextToken = page.nextToken
  } while (nextToken !== undefined)
  const details = (await iot.send(new DescribeJobCommand({ jobId }))).job?.jobProcessDetails ?? {}
  const counters = Object.fromEntries(
    Object.values(COUNTER_OF).map((counter) => [counter, details[counter] ?? 0]),
  )
  assert.deepEqual(counters, recount, `jobProcessDetails of ${jobId} against a recount`)
}

/** How far along STEPS a status is (SUCCEEDED is as far as an execution goes here). */
const progress = (status: string | undefined): number =>
  status === 'SUCCEEDED' ? 2 : status === 'IN_PROGRESS' ? 1 : 0

describe('kill -9 under write load [spec: jobs-control-plane]', () => {
  it(`×${ROUNDS}: every acknowledged write is there after the restart, counters equal a recount`, async () => {
    let server = await serve()
    const targets = Array.from({ length: TARGETS }, () => unique('k9-target'))
    for (let i = 0; i < TARGETS; i += WRITERS) {
      await Promise.all(
        targets
          .slice(i, i + WRITERS)
          .map((thingName) => server.iot.send(new CreateThingCommand({ thingName }))),
      )
    }
    const acknowledgedThings: string[] = []
    const jobs: string[] = []
    for (let round = 1; round <= ROUNDS; round += 1) {
      const jobId = unique(`k9-job-r${round}`)
      await server.iot.send(
        new CreateJobCommand({ jobId, targets: targets.map(thingArnOf), document: '{"op":"kill9"}' }),
      )
      jobs.push(jobId)
      const ack = await writeUntilKilled(server, jobId, targets)
      assert.ok(ack.count >= KILL_AFTER, `round ${round}: ${ack.count} writes acknowledged`)
      assert.ok(ack.inFlightAtKill > 0, `round ${round}: no write in flight at the kill`)
      acknowledgedThings.push(...ack.things)

      // The data-directory lock dies with the process: a restart on the same directory must start.
      server = await serve()
      const present = await allThings(server.iot)
      const lost = acknowledgedThings.filter((name) => !present.has(name))
      assert.deepEqual(lost, [], `round ${round}: acknowledged CreateThing lost after kill -9`)
      const restarted = server
      await Promise.all(
        [...ack.steps].map(async ([thingName, acked]) => {
          const { execution } = await restarted.iot.send(
            new DescribeJobExecutionCommand({ jobId, thingName }),
          )
          const seen = `round ${round}: ${thingName} acknowledged ${acked.status} v${acked.versionNumber}, found ${String(execution?.status)} v${String(execution?.versionNumber)}`
          assert.ok((execution?.versionNumber ?? 0) >= acked.versionNumber, seen)
          assert.ok(progress(execution?.status) >= progress(acked.status), seen)
        }),
      )
      await Promise.all(jobs.map((job) => expectCountersEqualRecount(restarted.iot, job)))
    }
    server.child.kill('SIGTERM')
    assert.equal((await server.exited).code, 0, server.output())
    server.iot.destroy()
    server.data.destroy()
  })
})
