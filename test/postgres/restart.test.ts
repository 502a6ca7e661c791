/**
 * fleetjobs on PostgreSQL while the database goes away and comes back, with the real server and the
 * real AWS SDK clients: on a private PostgreSQL cluster (initdb into a temporary directory, a free port,
 * never the machine's shared server on 5432) the test (a) stops the database — calls answer
 * ServiceUnavailableException (503) and settle promptly, the server keeps running; (b) starts it again —
 * the same calls succeed without restarting fleetjobs and what was written before is intact; (c)
 * terminates fleetjobs' connections on the server — the next calls succeed or at worst answer 503,
 * never 500. Skipped only when the PostgreSQL server binaries (initdb) are not installed.
 */
import {
  CreateJobCommand,
  CreateThingCommand,
  DescribeJobCommand,
  DescribeJobExecutionCommand,
  DescribeThingCommand,
} from '@aws-sdk/client-iot'
import { DescribeJobExecutionCommand as DeviceDescribeJobExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import { UpdateJobExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import pg from 'pg'
import type { Harness } from '../support/harness.js'
import { startHarness, thingArnOf, unique } from '../support/harness.js'

/** The port of the machine's shared PostgreSQL: the private cluster never uses it. */
const SHARED_POSTGRES_PORT = 5432
/** A call that has not settled by then counts as a hang. */
const SETTLE_MS = 20_000
/** How long the server may take to find the database again after it is back. */
const RECOVERY_MS = 30_000
const SCHEMA = 'fleetjobs_restart'

/** The PostgreSQL server binaries' folder (initdb, pg_ctl), or undefined when they are not installed. */
function serverBinaries(): string | undefined {
  const candidates = ['/usr/local/bin/initdb']
  for (const root of ['/usr/lib/postgresql']) {
    if (!existsSync(root)) continue
    const versions = readdirSync(root).sort((a, b) => Number(b) - Number(a))
    candidates.push(...versions.map((v) => join(root, v, 'bin', 'initdb')))
  }
  for (const dir of (process.env['PATH'] ?? '').split(':'))
    if (dir !== '') candidates.push(join(dir, 'initdb'))
  for (const candidate of candidates) {
    if (!existsSync(candidate)) continue
    // /usr/local/bin/initdb is a link into the version's folder, where pg_ctl and postgres live too.
    const bin = dirname(realpathSync(candidate))
    if (existsSync(join(bin, 'pg_ctl'))) return bin
  }
  return undefined
}

const BIN = serverBinaries()

/** A port that was free a moment ago (and is not the shared server's). */
async function freePort(): Promise<number> {
  for (;;) {
    const server = createServer()
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const address = server.address()
    await new Promise<void>((resolve) => server.close(() => resolve()))
    assert.ok(typeof address === 'object' && address !== null)
    if (address.port !== SHARED_POSTGRES_PORT) return address.port
  }
}

/**
 * A PostgreSQL cluster of the test's own. initdb refuses to run as root, so as root every server
 * command runs as the `postgres` user (`runuser`) in a directory that user owns.
 */
class PrivateCluster {
  private constructor(
    readonly dir: string,
    readonly port: number,
  ) {}

  get dataDir(): string {
    return join(this.dir, 'data')
  }

  get url(): string {
    return `postgres://postgres@127.0.0.1:${this.port}/postgres`
  }

  private get log(): string {
    return join(this.dir, 'postgres.log')
  }

  static async create(): Promise<PrivateCluster> {
    const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-pg-'))
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim())
      const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim())
      chownSync(dir, uid, gid)
    }
    const cluster = new PrivateCluster(dir, await freePort())
    // No fsync: the cluster lives for one test; stopping it still writes everything out.
    cluster.run('initdb', ['-D', cluster.dataDir, '-A', 'trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync'])
    return cluster
  }

  private run(tool: string, args: string[]): string {
    const command = join(BIN!, tool)
    const [file, argv] =
      process.getuid?.() === 0 ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]
    try {
      // Output goes to a pipe; pg_ctl start hands the server's output to the log file, so the pipe closes.
      return execFileSync(file, argv, {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      })
    } catch (error) {
      const log = existsSync(this.log) ? readFileSync(this.log, 'utf8').slice(-4_000) : '(no log)'
      throw new Error(`${tool} ${args.join(' ')} failed: ${String(error)}\nserver log:\n${log}`)
    }
  }

  start(): void {
    this.run('pg_ctl', [
      '-D',
      this.dataDir,
      '-l',
      this.log,
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c fsync=off`,
      '-w',
      'start',
    ])
  }

  /** `pg_ctl stop -m fast`: open sessions are terminated, the port closes. */
  stop(mode: 'fast' | 'immediate' = 'fast'): void {
    this.run('pg_ctl', ['-D', this.dataDir, '-m', mode, '-w', 'stop'])
  }

  get running(): boolean {
    return existsSync(join(this.dataDir, 'postmaster.pid'))
  }

  /** Runs one statement on a connection of the test's own. */
  async query<R extends pg.QueryResultRow>(sql: string): Promise<R[]> {
    const client = new pg.Client({ connectionString: this.url, application_name: 'fleetjobs-test' })
    await client.connect()
    try {
      return (await client.query<R>(sql)).rows
    } finally {
      await client.end()
    }
  }

  remove(): void {
    if (this.running) this.stop('immediate')
    rmSync(this.dir, { recursive: true, force: true })
  }
}

interface CallError {
  readonly name: string
  readonly $metadata?: { readonly httpStatusCode?: number }
}

/** What a call ended with: its output, or the error's name and HTTP status. A hang fails the test. */
async function settle<T>(
  what: string,
  call: (abortSignal: AbortSignal) => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; name: string; status: number | undefined; error: unknown }> {
  const signal = AbortSignal.timeout(SETTLE_MS)
  try {
    return { ok: true, value: await call(signal) }
  } catch (error) {
    if (signal.aborted) assert.fail(`${what} did not settle within ${SETTLE_MS} ms`)
    const e = error as CallError
    return { ok: false, name: e.name, status: e.$metadata?.httpStatusCode, error }
  }
}

/** Asserts that the call failed with ServiceUnavailableException (503). */
async function expectUnavailable(what: string, call: (abortSignal: AbortSignal) => Promise<unknown>) {
  const outcome = await settle(what, call)
  assert.ok(!outcome.ok, `${what} succeeded while the database was stopped`)
  assert.deepEqual(
    { name: outcome.name, status: outcome.status },
    { name: 'ServiceUnavailableException', status: 503 },
    `${what}: ${String(outcome.error)}`,
  )
}

/**
 * Calls until the call succeeds, for up to RECOVERY_MS; every failure on the way must be
 * ServiceUnavailableException (503) — a 500 or any other error fails at once.
 */
async function untilSucceeds<T>(what: string, call: (abortSignal: AbortSignal) => Promise<T>): Promise<T> {
  const deadline = Date.now() + RECOVERY_MS
  for (;;) {
    const outcome = await settle(what, call)
    if (outcome.ok) return outcome.value
    assert.deepEqual(
      { name: outcome.name, status: outcome.status },
      { name: 'ServiceUnavailableException', status: 503 },
      `${what}: ${String(outcome.error)}`,
    )
    if (Date.now() > deadline) assert.fail(`${what} still answers 503 after ${RECOVERY_MS} ms`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

describe(
  'fleetjobs on PostgreSQL across a database restart',
  BIN === undefined
    ? {
        skip: 'the PostgreSQL server binaries are not installed (no initdb in /usr/local/bin, /usr/lib/postgresql/*/bin or PATH)',
      }
    : {},
  () => {
    let cluster: PrivateCluster | undefined
    let h: Harness
    const thingName = unique('thing')
    const jobId = unique('job')
    const document = '{"operation":"install","version":"1.2.3"}'

    before(async () => {
      cluster = await PrivateCluster.create()
      cluster.start()
      h = await startHarness({ database: { url: cluster.url, schema: SCHEMA, poolSize: 4 } })
      await h.iot.send(
        new CreateThingCommand({ thingName, attributePayload: { attributes: { site: 'north' } } }),
      )
      await h.iot.send(new CreateJobCommand({ jobId, document, targets: [thingArnOf(thingName)] }))
    })

    after(async () => {
      // The server first (its pool), then the cluster; only what this test started.
      await h?.close()
      cluster?.remove()
    })

    const describeJob = (abortSignal: AbortSignal) =>
      h.iot.send(new DescribeJobCommand({ jobId }), { abortSignal })
    const createThing = (name: string) => (abortSignal: AbortSignal) =>
      h.iot.send(new CreateThingCommand({ thingName: name }), { abortSignal })
    const describeThing = (name: string) => (abortSignal: AbortSignal) =>
      h.iot.send(new DescribeThingCommand({ thingName: name }), { abortSignal })
    const deviceUpdate =
      (status: 'IN_PROGRESS' | 'SUCCEEDED', expectedVersion: number) => (abortSignal: AbortSignal) =>
        h.data.send(
          new UpdateJobExecutionCommand({
            thingName,
            jobId,
            status,
            expectedVersion,
            includeJobExecutionState: true,
          }),
          {
            abortSignal,
          },
        )
    const deviceDescribe = (abortSignal: AbortSignal) =>
      h.data.send(new DeviceDescribeJobExecutionCommand({ thingName, jobId, includeJobDocument: true }), {
        abortSignal,
      })

    const outageThing = unique('outage-thing')

    it('(a) with the database stopped, calls answer ServiceUnavailableException (503) promptly and the server keeps running', async () => {
      cluster!.stop('fast')
      await expectUnavailable('DescribeJob', describeJob)
      await expectUnavailable('UpdateJobExecution (data plane)', deviceUpdate('IN_PROGRESS', 1))
      await expectUnavailable('CreateThing', createThing(outageThing))
      // Still unavailable, still answering: the server did not give up or crash after the first errors.
      await expectUnavailable('DescribeJob, again', describeJob)
      await expectUnavailable('DescribeJobExecution (data plane)', deviceDescribe)
      // The probes: the process is up (/healthz), but not ready (/readyz names the store).
      assert.equal((await fetch(`${h.server.url}/healthz`)).status, 200)
      const readyz = await fetch(`${h.server.url}/readyz`, { signal: AbortSignal.timeout(SETTLE_MS) })
      assert.equal(readyz.status, 503)
      const body = (await readyz.json()) as { status: string; checks: Record<string, { ok: boolean }> }
      assert.equal(body.status, 'unready')
      assert.equal(body.checks['store']?.ok, false, JSON.stringify(body))
      assert.equal(body.checks['migrations']?.ok, true)
    })

    it('(b) once the database is back, the same calls succeed without restarting fleetjobs, and the earlier state is intact', async () => {
      cluster!.start()
      // /readyz turns ready again by itself.
      const deadline = Date.now() + RECOVERY_MS
      let readyz = await fetch(`${h.server.url}/readyz`)
      while (readyz.status !== 200 && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 200))
        readyz = await fetch(`${h.server.url}/readyz`)
      }
      const ready = await readyz.text()
      assert.equal(readyz.status, 200, ready)
      assert.equal((JSON.parse(ready) as { status: string }).status, 'ready')
      const job = await untilSucceeds('DescribeJob', describeJob)
      assert.equal(job.job?.jobId, jobId)
      assert.equal(job.job?.status, 'IN_PROGRESS')
      assert.deepEqual(job.job?.targets, [thingArnOf(thingName)])
      assert.equal(job.job?.jobProcessDetails?.numberOfQueuedThings, 1)

      const thing = await untilSucceeds('DescribeThing', describeThing(thingName))
      assert.deepEqual(thing.attributes, { site: 'north' })
      const missing = await settle(
        'DescribeThing of the thing created during the outage',
        describeThing(outageThing),
      )
      assert.ok(!missing.ok && missing.name === 'ResourceNotFoundException', `${outageThing} was not created`)

      // The execution is as the outage found it: the update that failed then was not applied.
      const before = await untilSucceeds('DescribeJobExecution (data plane)', deviceDescribe)
      assert.equal(before.execution?.status, 'QUEUED')
      assert.equal(before.execution?.versionNumber, 1)
      assert.equal(before.execution?.jobDocument, document)

      const updated = await untilSucceeds('UpdateJobExecution (data plane)', deviceUpdate('IN_PROGRESS', 1))
      assert.equal(updated.executionState?.status, 'IN_PROGRESS')
      assert.equal(updated.executionState?.versionNumber, 2)

      const name = unique('after-thing')
      await untilSucceeds('CreateThing', createThing(name))
      assert.equal((await untilSucceeds('DescribeThing', describeThing(name))).thingName, name)
    })

    it("(c) after pg_terminate_backend of fleetjobs' connections, calls succeed (or at worst answer 503, never 500)", async () => {
      // Connections in the pool now, idle, as after any busy moment.
      await untilSucceeds('DescribeJob', describeJob)
      // In the select list, so that it runs only for the rows the WHERE kept (never on the test's own).
      const terminated = await cluster!.query<{ pid: number; terminated: boolean }>(
        `SELECT pid, pg_terminate_backend(pid) AS terminated FROM pg_stat_activity
          WHERE application_name = 'fleetjobs'`,
      )
      assert.ok(
        terminated.some((row) => row.terminated),
        "no connection of fleetjobs' pool to terminate",
      )

      // The first call after the loss, each kind: success or 503, nothing else; then success.
      for (const [what, call] of [
        ['DescribeJob', describeJob],
        ['DescribeJobExecution (data plane)', deviceDescribe],
        ['CreateThing', createThing(unique('terminated-thing'))],
      ] as const) {
        const first = await settle(what, call)
        if (!first.ok) {
          assert.deepEqual(
            { name: first.name, status: first.status },
            { name: 'ServiceUnavailableException', status: 503 },
            `${what} right after the connections were terminated: ${String(first.error)}`,
          )
        }
        await untilSucceeds(what, call)
      }
      const done = await untilSucceeds('UpdateJobExecution (data plane)', deviceUpdate('SUCCEEDED', 2))
      assert.equal(done.executionState?.status, 'SUCCEEDED')
      const execution = await untilSucceeds('DescribeJobExecution', (abortSignal) =>
        h.iot.send(new DescribeJobExecutionCommand({ jobId, thingName }), { abortSignal }),
      )
      assert.equal(execution.execution?.status, 'SUCCEEDED')
      assert.equal(execution.execution?.versionNumber, 3)
    })
  },
)
