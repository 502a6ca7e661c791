/**
 * MQTT (issue 4), only with `--mqtt`: 10,000 simulated devices (1,000 with `--quick`), each a real
 * `mqtt` client with its own connection, all connected at once to fleetjobs' embedded broker; one
 * CreateJob (a thing-group target reaching every device) notifies them all, and each device runs
 * get → start-next → update(SUCCEEDED) over MQTT, waiting for each `/accepted` (`lib/mqtt-devices.ts`).
 *
 * The baseline is the same device simulation, same devices, same 3 round trips each, against a bare
 * aedes broker answering every request with canned JSON (`serve/aedes-echo.ts`), measured first in
 * the same run; its `notifyAll` call stands in for CreateJob.
 *
 * - `mqtt.fleet-10k.job-ms`: CreateJob sent → the last `update/accepted` received;
 * - `mqtt.fleet-10k.round-trips-per-s`: 3 × devices ÷ that time;
 * - `mqtt.fleet-10k.last-notify-ms`: CreateJob sent → the last device's `notify-next` received;
 * - `mqtt.fleet-10k.connect-ms`: first CONNECT → last SUBACK of all devices;
 * - `mqtt.fleet-10k.rss-per-device`: the server process's RSS after connecting minus before, per device.
 *
 * Correctness: every device saw its SUCCEEDED accepted, and DescribeJob says numberOfSucceededThings
 * equals the device count.
 */
import { readFileSync } from 'node:fs'
import { controlPlane, sendOnce, thingGroupArn } from '../lib/aws-requests.js'
import { ServerProcess } from '../lib/children.js'
import { percentile } from '../lib/load.js'
import type {
  ConnectArgs,
  ConnectResult,
  FinishArgs,
  FinishResult,
  NotifyAllArgs,
} from '../lib/mqtt-devices.js'
import { MQTT_JOB_ID, epochMs } from '../lib/mqtt-devices.js'
import type { Figure, Scenario, ScenarioContext } from '../lib/types.js'
import { speedRatio } from '../lib/types.js'
import type { SeedGroupMembersArgs } from '../serve/fleetjobs.js'

const POINT = 'mqtt.fleet-10k'
/** Thing names `mqtt-000000` …, as `seedGroupMembers` writes them. */
const PREFIX = 'mqtt'
const GROUP = 'mqtt-fleet'
const JOB_ID = MQTT_JOB_ID
const DOCUMENT = '{"operation":"bench","url":"https://example.com/firmware.bin"}'
/** QoS of every subscription, request, reply and notification (AWS's device SDKs use 1 for jobs). */
const QOS = 1
/** Connections being opened at a time, over all load-generator processes. */
const CONNECT_WINDOW = 200
/** Round trips per device: get, start-next, update. */
const ROUND_TRIPS = 3
/** Hard limits. */
const CONNECT_LIMIT_MS = 180_000
const FLOW_LIMIT_MS = 300_000
const CALL_LIMIT_MS = 60_000
/** File descriptors a process needs besides its sockets (listeners, SQLite, pipes, …). */
const FD_MARGIN = 256
const BASELINE = 'aedes-echo'

interface FleetRun {
  readonly connectMs: number
  readonly rssPerDeviceBytes: number
  /** Trigger (CreateJob / notifyAll) → the last update accepted. */
  readonly jobMs: number
  readonly lastNotifyMs: number
  readonly succeeded: number
}

export const mqttFleet: Scenario = {
  family: 'mqtt',
  flag: 'mqtt',
  points: () => [POINT],
  async run(ctx) {
    if (!ctx.wants(POINT)) return
    const devices = ctx.options.mqttDevices
    const processes = loadProcesses(ctx, devices)

    const echo = await ctx.session.aedesEcho()
    const base = await runFleet(ctx, BASELINE, echo, devices, processes, async () => {
      const args: NotifyAllArgs = { prefix: PREFIX, count: devices }
      await echo.call('notifyAll', args, FLOW_LIMIT_MS)
    })
    await ctx.session.stop('aedes-echo')

    const fj = await ctx.session.fleetjobsMqtt()
    const group = await sendOnce(fj.info.url, controlPlane.createThingGroup(GROUP), CALL_LIMIT_MS)
    if (group.status !== 200) throw new Error(`CreateThingGroup ${GROUP}: ${group.status} ${group.body}`)
    const seed: SeedGroupMembersArgs = { groupName: GROUP, prefix: PREFIX, count: devices }
    await fj.call('seedGroupMembers', seed, CONNECT_LIMIT_MS)
    // A first fetch pays for undici's set-up; keep it out of the timing.
    await sendOnce(fj.info.url, controlPlane.describeJob('bench-warm-up'), CALL_LIMIT_MS)
    const ours = await runFleet(ctx, 'fleetjobs', fj, devices, processes, async () => {
      const res = await sendOnce(
        fj.info.url,
        controlPlane.createJob(JOB_ID, [thingGroupArn(GROUP)], DOCUMENT),
        CALL_LIMIT_MS,
      )
      if (res.status !== 200) throw new Error(`CreateJob ${JOB_ID}: ${res.status} ${res.body.slice(0, 300)}`)
      ctx.log(`fleetjobs: CreateJob answered in ${res.ms.toFixed(0)} ms`)
    })
    await verifySucceeded(ctx, fj.info.url, devices)
    await ctx.session.stop('fleetjobs-mqtt')

    const rtPerS = (r: FleetRun): number => (ROUND_TRIPS * r.succeeded) / (r.jobMs / 1000)
    const figure = (name: string, unit: string, better: Figure['better'], value: number, baseline: number) =>
      ctx.recordFigure({
        name: `${POINT}.${name}`,
        value,
        unit,
        better,
        baseline,
        baselineName: BASELINE,
        ratio: speedRatio(value, baseline, better),
      })
    figure('job-ms', 'ms', 'lower', ours.jobMs, base.jobMs)
    figure('round-trips-per-s', 'round trips/s', 'higher', rtPerS(ours), rtPerS(base))
    figure('last-notify-ms', 'ms', 'lower', ours.lastNotifyMs, base.lastNotifyMs)
    figure('connect-ms', 'ms', 'lower', ours.connectMs, base.connectMs)
    figure(
      'rss-per-device',
      'KiB/device',
      'lower',
      ours.rssPerDeviceBytes / 1024,
      base.rssPerDeviceBytes / 1024,
    )
  },
}

/**
 * Connects the devices (spread over `processes` load-generator children), measures the server's RSS
 * before and after, fires the trigger and waits for every device's flow. Every wait is bounded.
 */
async function runFleet(
  ctx: ScenarioContext,
  label: string,
  server: ServerProcess,
  devices: number,
  processes: number,
  trigger: () => Promise<void>,
): Promise<FleetRun> {
  const url = server.info.mqttUrl
  if (url === undefined) throw new Error(`${label} has no MQTT broker`)
  const loads = await Promise.all(
    Array.from({ length: processes }, (_, i) =>
      ServerProcess.start(`mqtt-devices-${i + 1}`, 'mqtt-devices', null),
    ),
  )
  try {
    const rssBefore = await server.call<number>('rss', null, CALL_LIMIT_MS)
    const cpu = new CpuMeter(server, loads)
    await cpu.start()
    const slices = split(devices, processes)
    const connected = await Promise.all(
      loads.map((load, i) => {
        const args: ConnectArgs = {
          url,
          prefix: PREFIX,
          from: slices[i]!.from,
          count: slices[i]!.count,
          window: Math.max(1, Math.round(CONNECT_WINDOW / processes)),
          qos: QOS,
          timeoutMs: CONNECT_LIMIT_MS,
        }
        return load.call<ConnectResult>('connect', args, CONNECT_LIMIT_MS + CALL_LIMIT_MS)
      }),
    )
    const connectMs =
      Math.max(...connected.map((c) => c.doneAt)) - Math.min(...connected.map((c) => c.startedAt))
    const failedToConnect = sum(connected.map((c) => c.failed))
    if (failedToConnect > 0) {
      const first = connected.find((c) => c.firstError !== null)?.firstError ?? ''
      throw new Error(`${label}: ${failedToConnect} of ${devices} devices did not connect (${first})`)
    }
    const connectCpu = await cpu.lap()
    const rssAfter = await server.call<number>('rss', null, CALL_LIMIT_MS)
    const loadRss = sum(connected.map((c) => c.rss))
    ctx.log(
      `${label}: ${devices} devices connected in ${connectMs.toFixed(0)} ms ` +
        `(${(devices / (connectMs / 1000)).toFixed(0)}/s, ${processes} load process(es), ` +
        `${(loadRss / 2 ** 20).toFixed(0)} MiB RSS there); server RSS ` +
        `${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MiB; ${connectCpu}`,
    )

    const finishArgs: FinishArgs = { timeoutMs: FLOW_LIMIT_MS }
    await cpu.start()
    const t0 = epochMs()
    const [, results] = await Promise.all([
      trigger(),
      Promise.all(
        loads.map((load) =>
          load.call<FinishResult>('waitForFlows', finishArgs, FLOW_LIMIT_MS + CALL_LIMIT_MS),
        ),
      ),
    ])
    const flowCpu = await cpu.lap()
    const succeeded = sum(results.map((r) => r.succeeded))
    const failed = sum(results.map((r) => r.failed))
    const unfinished = sum(results.map((r) => r.unfinished))
    if (succeeded !== devices) {
      const first = results.find((r) => r.firstError !== null)?.firstError ?? 'none'
      ctx.recordFailure(
        `${label}: ${succeeded} of ${devices} devices reached SUCCEEDED (${failed} failed, ` +
          `${unfinished} unfinished after ${FLOW_LIMIT_MS} ms; first error: ${first})`,
      )
    }
    const jobMs = Math.max(...results.map((r) => r.lastDoneAt)) - t0
    const lastNotifyMs = Math.max(...results.map((r) => r.lastNotifiedAt)) - t0
    const firstNotifyMs = Math.min(...results.map((r) => r.firstNotifiedAt)) - t0
    const flowMs = results.flatMap((r) => r.flowMs).sort((a, b) => a - b)
    ctx.log(
      `${label}: ${succeeded} SUCCEEDED in ${jobMs.toFixed(0)} ms ` +
        `(${((ROUND_TRIPS * succeeded) / (jobMs / 1000)).toFixed(0)} round trips/s); notify-next ` +
        `first ${firstNotifyMs.toFixed(0)} ms, last ${lastNotifyMs.toFixed(0)} ms; per device ` +
        `notify → SUCCEEDED p50 ${percentile(flowMs, 0.5).toFixed(0)} ms, ` +
        `p99 ${percentile(flowMs, 0.99).toFixed(0)} ms; ${flowCpu}`,
    )
    return { connectMs, rssPerDeviceBytes: (rssAfter - rssBefore) / devices, jobMs, lastNotifyMs, succeeded }
  } finally {
    await Promise.all(loads.map((load) => load.close()))
  }
}

/**
 * CPU time of the server and of the load-generator processes over a phase, as a share of its wall
 * time (1 core = 100%): says which side a figure was bound by.
 */
class CpuMeter {
  private startedAt = 0
  private server0 = 0
  private loads0 = 0

  constructor(
    private readonly server: ServerProcess,
    private readonly loads: readonly ServerProcess[],
  ) {}

  private async sample(): Promise<{ server: number; loads: number }> {
    const [server, ...loads] = await Promise.all(
      [this.server, ...this.loads].map((p) => p.call<number>('cpuMs', null, CALL_LIMIT_MS)),
    )
    return { server: server ?? 0, loads: sum(loads) }
  }

  async start(): Promise<void> {
    const s = await this.sample()
    this.startedAt = performance.now()
    this.server0 = s.server
    this.loads0 = s.loads
  }

  async lap(): Promise<string> {
    const wall = performance.now() - this.startedAt
    const s = await this.sample()
    const pct = (ms: number): string => `${((100 * ms) / wall).toFixed(0)}%`
    return `CPU: server ${pct(s.server - this.server0)}, load ${pct(s.loads - this.loads0)}`
  }
}

/** DescribeJob: jobProcessDetails.numberOfSucceededThings must be the device count. */
async function verifySucceeded(ctx: ScenarioContext, url: string, devices: number): Promise<void> {
  const res = await sendOnce(url, controlPlane.describeJob(JOB_ID), CALL_LIMIT_MS)
  if (res.status !== 200) {
    ctx.recordFailure(`DescribeJob ${JOB_ID}: ${res.status} ${res.body.slice(0, 300)}`)
    return
  }
  const job = (
    JSON.parse(res.body) as { job?: { status?: string; jobProcessDetails?: Record<string, number> } }
  ).job
  const succeeded = job?.jobProcessDetails?.['numberOfSucceededThings']
  ctx.log(`fleetjobs: DescribeJob ${JOB_ID}: status ${job?.status}, numberOfSucceededThings ${succeeded}`)
  if (succeeded !== devices) {
    ctx.recordFailure(`DescribeJob ${JOB_ID}: numberOfSucceededThings ${succeeded}, expected ${devices}`)
  }
}

/**
 * How many load-generator processes (`--mqtt-processes`), after checking the open-file limit: the
 * server process holds one socket per device and cannot be split, so a limit below that fails here,
 * before anything starts (each load process holds at most as many).
 */
function loadProcesses(ctx: ScenarioContext, devices: number): number {
  const processes = ctx.options.mqttProcesses
  const limit = openFileLimit()
  if (limit !== undefined && devices + FD_MARGIN > limit) {
    throw new Error(
      `the open-file limit is ${limit}; the server process needs ${devices + FD_MARGIN} for ${devices} ` +
        `devices: raise it (ulimit -n; Node raises the soft limit to the hard one on its own)`,
    )
  }
  ctx.log(
    `open-file limit ${limit ?? 'unknown'} per process: the server holds ${devices} device sockets, ` +
      `${processes} load process(es) ≤ ${Math.ceil(devices / processes)} each`,
  )
  return processes
}

/** This process's soft RLIMIT_NOFILE (children inherit it), from /proc on Linux. */
function openFileLimit(): number | undefined {
  try {
    const line = readFileSync('/proc/self/limits', 'utf8')
      .split('\n')
      .find((l) => l.startsWith('Max open files'))
    const soft = line?.slice('Max open files'.length).trim().split(/\s+/)[0]
    return soft === undefined || soft === 'unlimited' ? undefined : Number(soft)
  } catch {
    return undefined
  }
}

function split(total: number, parts: number): { from: number; count: number }[] {
  const size = Math.ceil(total / parts)
  return Array.from({ length: parts }, (_, i) => ({
    from: i * size,
    count: Math.max(0, Math.min(size, total - i * size)),
  }))
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0)
}
