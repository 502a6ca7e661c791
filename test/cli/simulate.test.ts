/**
 * `fleetjobs simulate` (issue 13, part 3; docs/simulate.md): the simulator library run against the real
 * server with every outcome mix, its counters checked against the store (DescribeJob's
 * jobProcessDetails, ListJobExecutionsForJob, DescribeJobExecution's statusDetails); crashes shown as
 * timeouts and retries on the virtual clock; a job canceled under the devices; then the real CLI as a
 * child process: a run with token authentication and a thing group, one with certificates on the TLS
 * port, one against a port nobody listens on (exit 1), and bad flags (exit 2).
 * [spec: jobs-device-api#2] [spec: test-clock#3]
 */
import { CancelJobCommand, CreateJobCommand, CreateThingCommand } from '@aws-sdk/client-iot'
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { DeviceAuth } from '../../src/mqtt/device-auth.js'
import type { Fleet, FleetOptions, FleetStats } from '../../src/simulator/fleet.js'
import { startFleet } from '../../src/simulator/fleet.js'
import type { JobPlan, OutcomeRates } from '../../src/simulator/rules.js'
import { deviceRandom, finalDetails, planJob, stepDetails } from '../../src/simulator/rules.js'
import { advance, CLOCK_START_MS, MINUTE_S } from '../support/clock.js'
import { createJob } from '../support/device.js'
import { countersOf, counts, cpDescribe } from '../support/executions.js'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import { WAIT_MS, mqttUrlOf } from '../support/mqtt.js'
import { executionsOf, groupArnOf } from '../support/thing-groups.js'
import { CLI } from '../support/cli.js'

/** Short jobs: the tests wait for the fleet, never for a fixed time. */
const DURATION = { min: 20, max: 60 }
const STEPS = 2
/** How long a whole fleet run may take before a wait fails (a shared machine, 2 cores). */
const RUN_MS = 6 * WAIT_MS

let h: Harness
let auth: DeviceAuth
before(async () => {
  // Device authentication on, so every device proves itself with its token; a virtual clock, so the
  // in-progress timeout of crashed devices is reached by an advance.
  h = await startHarness({
    mqtt: { port: 0, auth: 'on' },
    clockMode: 'virtual',
    clockStartMs: CLOCK_START_MS,
  })
  auth = DeviceAuth.load(h.dataDir)
})
after(async () => {
  await h.close()
})

/** `count` registered things named `<unique prefix>-0001`…, as the simulator names them. */
async function things(count: number): Promise<string[]> {
  const prefix = unique('sim')
  const names = Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(4, '0')}`)
  for (const thingName of names) await h.iot.send(new CreateThingCommand({ thingName }))
  return names
}

function fleetOptions(names: readonly string[], outcomes: OutcomeRates, seed = 1): FleetOptions {
  return {
    mqttUrl: mqttUrlOf(h),
    thingNames: names,
    outcomes,
    durationMs: DURATION,
    progressSteps: STEPS,
    credentials: (thingName) => ({ username: thingName, password: auth.tokenFor(thingName) }),
    seed,
  }
}

/** Resolves with the stats once `done` holds for them; fails after RUN_MS showing the last stats. */
function waitForStats(fleet: Fleet, what: string, done: (s: FleetStats) => boolean): Promise<FleetStats> {
  return new Promise((resolve, reject) => {
    let settled = false
    const timer = setTimeout(() => {
      settled = true
      reject(
        new Error(
          `timed out after ${RUN_MS} ms waiting for ${what}; stats: ${JSON.stringify(fleet.stats())}`,
        ),
      )
    }, RUN_MS)
    const check = (): void => {
      if (settled) return
      const s = fleet.stats()
      if (!done(s)) return
      settled = true
      clearTimeout(timer)
      resolve(s)
    }
    fleet.onChange(check)
    check()
  })
}

/** Runs a fleet until it has finished `jobs` jobs, stops it, and returns the final stats. */
async function run(
  options: FleetOptions,
  jobs: number,
  beforeWait?: () => Promise<void>,
): Promise<FleetStats> {
  const fleet = await startFleet(options)
  try {
    // Not `connected`: a device may have crashed already while the last ones connected.
    assert.equal(fleet.stats().connectionFailures, 0, JSON.stringify(fleet.stats()))
    await beforeWait?.()
    await waitForStats(fleet, `${jobs} finished jobs`, (s) => s.jobsFinished >= jobs)
  } finally {
    await fleet.stop()
  }
  return fleet.stats()
}

/** What each device will do with its jobs, in order, from the same rules and seed the fleet uses. */
function expectedPlans(options: FleetOptions, jobs: number): Map<string, JobPlan[]> {
  const plans = new Map<string, JobPlan[]>()
  for (const thingName of options.thingNames) {
    const random = deviceRandom(options.seed ?? 0, thingName)
    const list: JobPlan[] = []
    for (let j = 0; j < jobs; j += 1) {
      const plan = planJob(random, {
        rates: options.outcomes,
        durationMs: options.durationMs,
        progressSteps: options.progressSteps,
      })
      list.push(plan)
      // A crashed device stays down: it never sees its later jobs.
      if (plan.outcome === 'CRASH') break
    }
    plans.set(thingName, list)
  }
  return plans
}

/** The latest execution of each thing as `thing:STATUS`, sorted. */
async function statuses(jobId: string): Promise<string[]> {
  return (await executionsOf(h, jobId)).map((r) => `${r.thingName}:${r.status}`).sort()
}

/** The counters a job should show for these per-thing outcomes (a crash leaves IN_PROGRESS). */
function storeStatus(plan: JobPlan | undefined): string {
  if (plan === undefined) return 'QUEUED'
  return plan.outcome === 'CRASH' ? 'IN_PROGRESS' : plan.outcome
}

describe('the simulator against the server, every outcome mix [issue 13 §3]', () => {
  it('all succeed: a job created while the devices wait reaches them by notify-next; the store agrees', async () => {
    const names = await things(8)
    const options = fleetOptions(names, { success: 1, reject: 0, crash: 0 })
    let jobId = ''
    const stats = await run(options, names.length, async () => {
      jobId = await createJob(h, names)
    })
    assert.deepEqual(
      {
        received: stats.jobsReceived,
        succeeded: stats.succeeded,
        others: stats.failed + stats.rejected + stats.crashed,
      },
      { received: 8, succeeded: 8, others: 0 },
    )
    assert.equal(stats.errors, 0, stats.firstError)
    assert.deepEqual(await countersOf(h, jobId), counts({ SUCCEEDED: 8 }))
    for (const thingName of names) {
      const execution = await cpDescribe(h, jobId, thingName)
      assert.equal(execution.status, 'SUCCEEDED')
      assert.deepEqual(execution.statusDetails?.detailsMap, finalDetails('SUCCEEDED', STEPS))
      // start-next (version 2), two progress updates, the final one: [spec: jobs-device-api#1.5]
      assert.equal(execution.versionNumber, 2 + STEPS + 1)
    }
  })

  it('all reject: REJECTED with the reason in statusDetails, no progress updates', async () => {
    const names = await things(6)
    const jobId = await createJob(h, names)
    const stats = await run(fleetOptions(names, { success: 0, reject: 1, crash: 0 }), names.length)
    assert.equal(stats.rejected, 6)
    assert.equal(stats.jobsReceived, 6)
    assert.deepEqual(await countersOf(h, jobId), counts({ REJECTED: 6 }))
    for (const thingName of names) {
      const execution = await cpDescribe(h, jobId, thingName)
      assert.deepEqual(execution.statusDetails?.detailsMap, finalDetails('REJECTED', STEPS))
      assert.equal(execution.versionNumber, 3)
    }
  })

  it('all fail: FAILED after every progress step', async () => {
    const names = await things(6)
    const jobId = await createJob(h, names)
    const stats = await run(fleetOptions(names, { success: 0, reject: 0, crash: 0 }), names.length)
    assert.equal(stats.failed, 6)
    assert.deepEqual(await countersOf(h, jobId), counts({ FAILED: 6 }))
    for (const thingName of names) {
      const execution = await cpDescribe(h, jobId, thingName)
      assert.deepEqual(execution.statusDetails?.detailsMap, finalDetails('FAILED', STEPS))
    }
  })

  it('crashes: the crashed devices go silent, their executions stay IN_PROGRESS at the step they reached, then time out and are retried', async () => {
    const names = await things(10)
    const options = fleetOptions(names, { success: 0.5, reject: 0, crash: 0.5 }, 7)
    const plans = expectedPlans(options, 1)
    const crashed = names.filter((n) => plans.get(n)?.[0]?.outcome === 'CRASH')
    assert.ok(crashed.length > 0 && crashed.length < names.length, `seed 7 gives ${crashed.length} crashes`)
    const jobId = await createJob(h, names, {
      timeoutConfig: { inProgressTimeoutInMinutes: 10 },
      jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'TIMED_OUT', numberOfRetries: 1 }] },
    })
    const stats = await run(options, names.length)
    assert.deepEqual(
      { crashed: stats.crashed, succeeded: stats.succeeded, connected: stats.connected },
      { crashed: crashed.length, succeeded: names.length - crashed.length, connected: 0 },
    )
    assert.deepEqual(
      await countersOf(h, jobId),
      counts({ IN_PROGRESS: crashed.length, SUCCEEDED: names.length - crashed.length }),
    )
    for (const thingName of crashed) {
      const execution = await cpDescribe(h, jobId, thingName)
      assert.equal(execution.status, 'IN_PROGRESS')
      // The last update the device sent before it went silent (start-next's "0/N" when it sent none).
      assert.deepEqual(
        execution.statusDetails?.detailsMap,
        stepDetails(plans.get(thingName)?.[0]?.crashAfterUpdates ?? -1, STEPS),
      )
    }
    await advance(h, 10 * MINUTE_S + 1)
    const records = await executionsOf(h, jobId)
    for (const thingName of crashed)
      assert.deepEqual(
        records.filter((r) => r.thingName === thingName).map((r) => `#${r.executionNumber}:${r.status}`),
        ['#1:TIMED_OUT', '#2:QUEUED'],
        `${thingName}: timed out, and the retry waits for a device that stays down`,
      )
    const after = await countersOf(h, jobId)
    assert.equal(after.SUCCEEDED, names.length - crashed.length)
    assert.equal(after.IN_PROGRESS, 0)
  })

  it('a mixed seeded run over two jobs: each device does what its seed says, job after job; the store agrees', async () => {
    const names = await things(16)
    const options = fleetOptions(names, { success: 0.5, reject: 0.2, crash: 0.1 }, 12345)
    const plans = expectedPlans(options, 2)
    const firstJob = await createJob(h, names)
    const secondJob = await createJob(h, names)
    const expected = { succeeded: 0, failed: 0, rejected: 0, crashed: 0, jobs: 0 }
    for (const list of plans.values())
      for (const plan of list) {
        expected.jobs += 1
        if (plan.outcome === 'SUCCEEDED') expected.succeeded += 1
        else if (plan.outcome === 'FAILED') expected.failed += 1
        else if (plan.outcome === 'REJECTED') expected.rejected += 1
        else expected.crashed += 1
      }
    assert.ok(
      expected.succeeded > 0 && expected.failed > 0 && expected.rejected > 0 && expected.crashed > 0,
      `seed 12345 gives every outcome: ${JSON.stringify(expected)}`,
    )
    const stats = await run(options, expected.jobs)
    assert.deepEqual(
      {
        succeeded: stats.succeeded,
        failed: stats.failed,
        rejected: stats.rejected,
        crashed: stats.crashed,
        jobs: stats.jobsReceived,
      },
      expected,
    )
    assert.equal(stats.errors, 0, stats.firstError)
    for (const [index, jobId] of [firstJob, secondJob].entries()) {
      const want = names.map((n) => `${n}:${storeStatus(plans.get(n)?.[index])}`).sort()
      assert.deepEqual(await statuses(jobId), want, `job ${index + 1}`)
      const tally = counts({})
      for (const n of names) {
        const status = storeStatus(plans.get(n)?.[index]) as keyof typeof tally
        tally[status] += 1
      }
      assert.deepEqual(await countersOf(h, jobId), tally, `jobProcessDetails of job ${index + 1}`)
    }
  })

  it('a job canceled (force) under working devices: their next update is refused and counted', async () => {
    const names = await things(4)
    const jobId = await createJob(h, names)
    // Long enough to be caught working: 40 progress updates over 4 s.
    const options = {
      ...fleetOptions(names, { success: 1, reject: 0, crash: 0 }),
      durationMs: { min: 4000, max: 4000 },
      progressSteps: 40,
    }
    const fleet = await startFleet(options)
    try {
      await waitForStats(fleet, 'every device working', (s) => s.inProgress === names.length)
      await h.iot.send(new CancelJobCommand({ jobId, force: true }))
      const stats = await waitForStats(fleet, 'every job ended', (s) => s.jobsFinished >= names.length)
      assert.equal(stats.canceledUnderIt, names.length)
      assert.equal(stats.succeeded, 0)
      assert.equal(stats.errors, 0, stats.firstError)
    } finally {
      await fleet.stop()
    }
    assert.deepEqual(await countersOf(h, jobId), counts({ CANCELED: names.length }))
  })

  it('stop() leaves a job under way as the service has it and counts it', async () => {
    const names = await things(2)
    const jobId = await createJob(h, names)
    const options = {
      ...fleetOptions(names, { success: 1, reject: 0, crash: 0 }),
      durationMs: { min: 60_000, max: 60_000 },
    }
    const fleet = await startFleet(options)
    await waitForStats(fleet, 'every device working', (s) => s.inProgress === names.length)
    const stats = await fleet.stop()
    assert.deepEqual(
      { interrupted: stats.interrupted, connected: stats.connected, finished: stats.jobsFinished },
      {
        interrupted: 2,
        connected: 0,
        finished: 0,
      },
    )
    assert.deepEqual(await countersOf(h, jobId), counts({ IN_PROGRESS: 2 }))
  })

  it('refuses rates that add up to more than 1', async () => {
    await assert.rejects(startFleet(fleetOptions([], { success: 0.9, reject: 0.2, crash: 0 })), /more than 1/)
  })
})

interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs `fleetjobs simulate …` as a child process; `onStderr` sees each stderr chunk as it comes (to act
 * when the fleet is up).
 */
function simulate(args: string[], onStderr?: (all: string) => void): Promise<CliResult> {
  // The flags' variables would choose the folder or the secret behind the test's back.
  const env = { ...process.env }
  delete env['FLEETJOBS_DATA_DIR']
  delete env['FLEETJOBS_MQTT_AUTH_SECRET']
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...CLI, 'simulate', ...args], { env })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString()
      onStderr?.(stderr)
    })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`fleetjobs simulate did not end within ${RUN_MS} ms; stderr:\n${stderr}`))
    }, RUN_MS)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/** The count on a summary row (`succeeded │ 5`). */
function row(stdout: string, label: string): number {
  const match = new RegExp(`^${label}\\s+│\\s+(\\d+)$`, 'm').exec(stdout)
  assert.ok(match !== null, `no "${label}" row in:\n${stdout}`)
  return Number(match[1])
}

/** A TCP port nobody listens on: one the system just gave and took back. */
async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const address = server.address()
  assert.ok(address !== null && typeof address === 'object')
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return address.port
}

describe('fleetjobs simulate, the CLI [issue 13 §3]', () => {
  it('token authentication and a thing group: makes the things, runs a group job, prints the summary, exit 0', async () => {
    const prefix = `${unique('cli')}-`
    const group = unique('sim-group')
    let jobCreated: Promise<string> | undefined
    const result = await simulate(
      [
        '--devices',
        '5',
        '--thing-prefix',
        prefix,
        '--create-things',
        '--thing-group',
        group,
        '--endpoint',
        h.server.url,
        '--mqtt-url',
        mqttUrlOf(h),
        '--data-dir',
        h.dataDir,
        '--duration',
        '10ms..30ms',
        '--progress-steps',
        '1',
        '--success-rate',
        '0.6',
        '--reject-rate',
        '0.4',
        '--idle-exit',
        '1s',
        '--seed',
        '3',
      ],
      (stderr) => {
        // The fleet is up and waiting: the job goes to the group the simulator made.
        if (jobCreated === undefined && /devices connected; waiting for jobs/.test(stderr))
          jobCreated = createJobOnGroup(group)
      },
    )
    assert.ok(jobCreated !== undefined, result.stderr)
    const jobId = await jobCreated
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /auth token/)
    assert.match(result.stdout, /fleetjobs simulate: summary/)
    assert.equal(row(result.stdout, 'devices'), 5)
    assert.equal(row(result.stdout, 'connection failures'), 0)
    assert.equal(row(result.stdout, 'jobs received'), 5)
    const counters = await countersOf(h, jobId)
    assert.equal(row(result.stdout, 'succeeded'), counters.SUCCEEDED)
    assert.equal(row(result.stdout, 'rejected'), counters.REJECTED)
    assert.equal(counters.SUCCEEDED + counters.REJECTED, 5)
    assert.match(result.stdout, /--seed 3/)
  })

  it('an MQTT URL nobody listens on: exit 1, saying how many devices could not connect and why', async () => {
    const port = await freePort()
    const result = await simulate([
      '--devices',
      '3',
      '--mqtt-url',
      `mqtt://127.0.0.1:${port}`,
      '--auth',
      'none',
    ])
    assert.equal(result.code, 1, result.stderr)
    assert.match(
      result.stderr,
      new RegExp(
        `3 of 3 devices could not connect to mqtt://127\\.0\\.0\\.1:${port} \\(first: sim-000\\d: .*ECONNREFUSED`,
      ),
    )
    assert.equal(row(result.stdout, 'connection failures'), 3)
  })

  it('a server that requires device authentication, and no credentials: exit 1 with the refusal and what to pass', async () => {
    const result = await simulate([
      '--devices',
      '2',
      '--thing-prefix',
      `${unique('noauth')}-`,
      '--mqtt-url',
      mqttUrlOf(h),
      '--auth',
      'none',
    ])
    assert.equal(result.code, 1, result.stderr)
    assert.match(
      result.stderr,
      /2 of 2 devices could not connect .*Bad username or password.*--auth token --data-dir/,
    )
    assert.equal(row(result.stdout, 'connected'), 0)
  })

  const badFlags: [string[], RegExp][] = [
    [['--success-rate', '1.5'], /--success-rate.*must be a number from 0 to 1/],
    [
      ['--success-rate', '0.9', '--crash-rate', '0.2'],
      /--success-rate 0\.9 \+ --reject-rate 0 \+ --crash-rate 0\.2 is more than 1/,
    ],
    [['--duration', '5'], /--duration.*is not a duration/],
    [['--duration', '20s..2s'], /--duration.*the first duration is longer/],
    [['--devices', '0'], /--devices.*whole number/],
    [['--thing-prefix', 'bad/'], /--thing-prefix "bad\/" makes "bad\/0001", not a thing name/],
    [
      ['--auth', 'certificate', '--mqtt-url', 'mqtt://127.0.0.1:1883'],
      /--auth certificate needs an mqtts:\/\/ URL/,
    ],
    [['--auth', 'token', '--data-dir', '/nonexistent-fleetjobs-dir'], /is not a fleetjobs data directory/],
    [['--no-such-flag'], /unknown option/],
  ]
  for (const [args, message] of badFlags) {
    it(`bad flags exit 2: ${args.join(' ')}`, async () => {
      const result = await simulate(args)
      assert.equal(result.code, 2, result.stderr)
      assert.match(result.stderr, message)
      assert.equal(result.stdout, '')
    })
  }
})

async function createJobOnGroup(group: string): Promise<string> {
  const jobId = unique('job')
  await h.iot.send(
    new CreateJobCommand({ jobId, targets: [groupArnOf(group)], document: '{"operation":"simulate"}' }),
  )
  return jobId
}

describe('fleetjobs simulate --auth certificate, on the TLS port [issue 13 §3] [docs/tls.md]', () => {
  let tls: Harness
  before(async () => {
    tls = await startHarness({ mqtt: { port: 0 }, tls: { mqttPort: 0, dataPlanePort: 0 } })
  })
  after(async () => {
    await tls.close()
  })

  it('makes and attaches a certificate per device over the control plane, connects on mqtts, runs the job', async () => {
    assert.ok(tls.server.mqttTlsUrl !== undefined && tls.server.tlsCaPath !== undefined)
    const prefix = `${unique('tls')}-`
    const names = [`${prefix}0001`, `${prefix}0002`, `${prefix}0003`]
    for (const thingName of names) await tls.iot.send(new CreateThingCommand({ thingName }))
    const jobId = await createJob(tls, names)
    const result = await simulate([
      '--devices',
      '3',
      '--thing-prefix',
      prefix,
      '--auth',
      'certificate',
      '--mqtt-url',
      tls.server.mqttTlsUrl,
      '--ca-file',
      tls.server.tlsCaPath,
      '--endpoint',
      tls.server.url,
      '--duration',
      '10ms',
      '--idle-exit',
      '1s',
    ])
    assert.equal(result.code, 0, result.stderr)
    assert.match(result.stderr, /3 certificates made and attached/)
    assert.equal(row(result.stdout, 'succeeded'), 3)
    assert.deepEqual(
      (await executionsOf(tls, jobId)).map((r) => r.status),
      ['SUCCEEDED', 'SUCCEEDED', 'SUCCEEDED'],
    )
  })
})
