/**
 * MQTT (issues 4 and 12), only with `--mqtt`: 10,000 simulated devices (1,000 with `--quick`), each a
 * real `mqtt` client with its own connection, all connected at once to fleetjobs' embedded broker; one
 * CreateJob (a thing-group target reaching every device) notifies them all, and each device runs
 * get → start-next → update(SUCCEEDED) over MQTT, waiting for each `/accepted` (`lib/mqtt-devices.ts`).
 * The same round runs three ways, each on a fleetjobs server of its own (fresh process and data
 * directory, so each RSS reading starts from the same state):
 *
 * - `mqtt.fleet-10k`: MQTT 3.1.1 over plain TCP, against the same simulation on a bare aedes broker
 *   answering every request with canned JSON (`serve/aedes-echo.ts`), whose `notifyAll` stands in for
 *   CreateJob;
 * - `mqtt.fleet-10k-tls`: MQTT 3.1.1 over mutual TLS (every device presents one certificate made by
 *   CreateKeysAndCertificate and attached to every thing), against `mqtt.fleet-10k`'s fleetjobs run;
 *   its connect time and RSS also against `aedes-echo-tls`, the bare broker behind a node:tls listener
 *   doing the same handshakes (client certificate requested, any accepted: no registry, no identity);
 * - `mqtt.fleet-10k-mqtt5`: MQTT 5 over plain TCP, against `mqtt.fleet-10k`'s fleetjobs run.
 *
 * Figures of each: `job-ms` (trigger sent → the last `update/accepted`), `round-trips-per-s`
 * (3 × devices ÷ that time), `last-notify-ms` (trigger sent → the last `notify-next`), `connect-ms`
 * (first CONNECT → last SUBACK of all devices), `rss-per-device` (the server process's RSS after
 * connecting minus before, per device). Baselines are measured first, in the same run.
 *
 * Correctness: every device saw its SUCCEEDED accepted, and DescribeJob says numberOfSucceededThings
 * equals the device count.
 */
import { readFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { controlPlane, sendOnce, thingArn, thingGroupArn } from '../lib/aws-requests.js'
import { ServerProcess } from '../lib/children.js'
import { percentile } from '../lib/load.js'
import type {
  ConnectArgs,
  ConnectResult,
  DeviceTls,
  FinishArgs,
  FinishResult,
  NotifyAllArgs,
  NotifyOneArgs,
} from '../lib/mqtt-devices.js'
import { MQTT_JOB_ID, epochMs } from '../lib/mqtt-devices.js'
import { NotifyProbe } from '../lib/notify-probe.js'
import type { Figure, Scenario, ScenarioContext } from '../lib/types.js'
import { speedRatio } from '../lib/types.js'
import type { AttachPrincipalArgs, SeedGroupMembersArgs } from '../serve/fleetjobs.js'

const POINT = 'mqtt.fleet-10k'
const TLS_POINT = 'mqtt.fleet-10k-tls'
const MQTT5_POINT = 'mqtt.fleet-10k-mqtt5'
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
/** The name every server certificate of the bench carries (fleetjobs' local CA: docs/tls.md). */
const TLS_SERVERNAME = 'localhost'
const BASELINE = 'aedes-echo'
const TLS_BASELINE = 'aedes-echo-tls'
/** The latency probe's thing (not in the fleet's group), and its samples (a tenth with `--quick`). */
const PROBE_THING = 'notify-probe'
const PROBE_SAMPLES = 300
const PROBE_WARM_UP = 20
/** `mqtt.fleet-10k`'s fleetjobs run: the baseline of the TLS and MQTT 5 rounds. */
const TCP_BASELINE = 'fleetjobs-mqtt311-tcp'

/** How the devices reach the broker. */
interface Link {
  readonly url: string
  readonly protocolVersion: 4 | 5
  readonly tls?: DeviceTls | undefined
}

interface FleetRun {
  readonly connectMs: number
  readonly rssPerDeviceBytes: number
  /** Trigger (CreateJob / notifyAll) → the last update accepted. */
  readonly jobMs: number
  readonly lastNotifyMs: number
  readonly succeeded: number
  /** Notification latencies (ms, sorted) of the probe alone and with every device connected. */
  readonly notifyLatency?: { readonly alone: readonly number[]; readonly fleet: readonly number[] }
}

/**
 * The notification-latency probe of a round (`lib/notify-probe.ts`): how to make the server notify
 * the probe's thing once about `jobId`, resolving the epoch ms the latency is timed from, and what to
 * do after each sample.
 */
interface Probing {
  readonly url: string
  readonly notify: (jobId: string) => Promise<number>
  readonly after?: (probe: NotifyProbe, jobId: string) => Promise<void>
}

export const mqttFleet: Scenario = {
  family: 'mqtt',
  flag: 'mqtt',
  points: () => [POINT, TLS_POINT, MQTT5_POINT],
  async run(ctx) {
    const wanted = { tcp: ctx.wants(POINT), tls: ctx.wants(TLS_POINT), mqtt5: ctx.wants(MQTT5_POINT) }
    if (!wanted.tcp && !wanted.tls && !wanted.mqtt5) return
    const devices = ctx.options.mqttDevices
    const processes = loadProcesses(ctx, devices)
    const fleet = { devices, processes }

    // Baselines first. A run that fails is recorded and its figures left out; the others go on.
    const echo = wanted.tcp ? await attempt(ctx, BASELINE, () => runEcho(ctx, BASELINE, fleet)) : undefined
    const echoTls = wanted.tls
      ? await attempt(ctx, TLS_BASELINE, () => runEcho(ctx, TLS_BASELINE, fleet))
      : undefined
    // Always: the TCP MQTT 3.1.1 round is the baseline of the other two.
    const tcp = await attempt(ctx, 'fleetjobs', () => runFleetjobs(ctx, 'fleetjobs', 'tcp', 4, fleet))
    const tls = wanted.tls
      ? await attempt(ctx, 'fleetjobs-tls', () => runFleetjobs(ctx, 'fleetjobs-tls', 'tls', 4, fleet))
      : undefined
    const mqtt5 = wanted.mqtt5
      ? await attempt(ctx, 'fleetjobs-mqtt5', () => runFleetjobs(ctx, 'fleetjobs-mqtt5', 'tcp', 5, fleet))
      : undefined

    if (wanted.tcp && tcp !== undefined && echo !== undefined) {
      roundFigures(ctx, POINT, tcp, echo, BASELINE)
    }
    if (tls !== undefined && tcp !== undefined) roundFigures(ctx, TLS_POINT, tls, tcp, TCP_BASELINE)
    if (tls !== undefined && echoTls !== undefined) {
      connectFigures(ctx, TLS_POINT, tls, echoTls, TLS_BASELINE, `.vs-${TLS_BASELINE}`)
      if (echo !== undefined) {
        ctx.log(
          `TLS handshakes on the bare broker: connect ${echoTls.connectMs.toFixed(0)} ms vs ` +
            `${echo.connectMs.toFixed(0)} ms on TCP (×${(echoTls.connectMs / echo.connectMs).toFixed(2)}); ` +
            `fleetjobs: ${tls.connectMs.toFixed(0)} ms vs ${tcp?.connectMs.toFixed(0) ?? '-'} ms`,
        )
      }
    }
    if (mqtt5 !== undefined && tcp !== undefined) roundFigures(ctx, MQTT5_POINT, mqtt5, tcp, TCP_BASELINE)
  },
}

/** Runs one round; a failure is recorded (exit code 1) and gives no figures. */
async function attempt(
  ctx: ScenarioContext,
  label: string,
  run: () => Promise<FleetRun>,
): Promise<FleetRun | undefined> {
  try {
    return await run()
  } catch (error) {
    ctx.recordFailure(`${label}: ${error instanceof Error ? error.message : String(error)}`)
    return undefined
  }
}

/**
 * The bare aedes baseline (`aedes-echo`, or `aedes-echo-tls` behind node:tls), MQTT 3.1.1; its
 * `notifyAll` stands in for CreateJob. Stopped after the round.
 */
async function runEcho(
  ctx: ScenarioContext,
  label: typeof BASELINE | typeof TLS_BASELINE,
  fleet: { devices: number; processes: number },
): Promise<FleetRun> {
  const tls = label === TLS_BASELINE
  const echo = await ctx.session.aedesEcho(tls)
  try {
    const url = tls ? echo.info.mqttTlsUrl : echo.info.mqttUrl
    if (url === undefined) throw new Error(`${label} has no MQTT listener`)
    const link: Link = {
      url,
      protocolVersion: 4,
      tls: tls ? await echo.call<DeviceTls>('deviceTls', null, CALL_LIMIT_MS) : undefined,
    }
    const probing: Probing | undefined = tls
      ? undefined
      : {
          url,
          notify: (jobId) => {
            const args: NotifyOneArgs = { thingName: PROBE_THING, jobId }
            return echo.call<number>('notifyOne', args, CALL_LIMIT_MS)
          },
        }
    return await runFleet(ctx, label, echo, link, fleet, probing, async () => {
      const args: NotifyAllArgs = { prefix: PREFIX, count: fleet.devices }
      await echo.call('notifyAll', args, FLOW_LIMIT_MS)
    })
  } finally {
    await ctx.session.stop(label)
  }
}

/**
 * One fleetjobs round on a server of its own: the group and its things seeded, with `tls` one
 * certificate created over the control plane (CreateKeysAndCertificate, ACTIVE) and attached to every
 * thing; then CreateJob, and DescribeJob checked. Stopped after the round.
 */
async function runFleetjobs(
  ctx: ScenarioContext,
  label: string,
  transport: 'tcp' | 'tls',
  protocolVersion: 4 | 5,
  fleet: { devices: number; processes: number },
): Promise<FleetRun> {
  const fj = await ctx.session.fleetjobsMqtt(label, transport === 'tls')
  try {
    const group = await sendOnce(fj.info.url, controlPlane.createThingGroup(GROUP), CALL_LIMIT_MS)
    if (group.status !== 200) throw new Error(`CreateThingGroup ${GROUP}: ${group.status} ${group.body}`)
    const seed: SeedGroupMembersArgs = { groupName: GROUP, prefix: PREFIX, count: fleet.devices }
    await fj.call('seedGroupMembers', seed, CONNECT_LIMIT_MS)
    let link: Link
    if (transport === 'tls') {
      const url = fj.info.mqttTlsUrl
      const caPath = fj.info.tlsCaPath
      if (url === undefined || caPath === undefined) throw new Error(`${label} has no MQTT TLS listener`)
      link = { url, protocolVersion, tls: await deviceCertificate(ctx, label, fj, caPath, fleet.devices) }
    } else {
      const url = fj.info.mqttUrl
      if (url === undefined) throw new Error(`${label} has no MQTT broker`)
      link = { url, protocolVersion }
    }
    // A first fetch pays for undici's set-up; keep it out of the timing.
    await sendOnce(fj.info.url, controlPlane.describeJob('bench-warm-up'), CALL_LIMIT_MS)
    // The latency probe on the plain-TCP MQTT 3.1.1 round only (the figures are that round's).
    const probing =
      transport === 'tcp' && protocolVersion === 4 ? await fleetjobsProbing(fj, link.url) : undefined
    const run = await runFleet(ctx, label, fj, link, fleet, probing, async () => {
      const res = await sendOnce(
        fj.info.url,
        controlPlane.createJob(JOB_ID, [thingGroupArn(GROUP)], DOCUMENT),
        CALL_LIMIT_MS,
      )
      if (res.status !== 200) throw new Error(`CreateJob ${JOB_ID}: ${res.status} ${res.body.slice(0, 300)}`)
      ctx.log(`${label}: CreateJob answered in ${res.ms.toFixed(0)} ms`)
    })
    await verifySucceeded(ctx, label, fj.info.url, fleet.devices)
    return run
  } finally {
    await ctx.session.stop(label)
  }
}

/**
 * The probe on fleetjobs: its thing created over the control plane; each sample a CreateJob of one
 * thing ARN, timed from the answer's arrival; after it the probe reports SUCCEEDED (`finish`).
 */
async function fleetjobsProbing(fj: ServerProcess, mqttUrl: string): Promise<Probing> {
  const created = await sendOnce(fj.info.url, controlPlane.createThing(PROBE_THING), CALL_LIMIT_MS)
  if (created.status !== 200) throw new Error(`CreateThing ${PROBE_THING}: ${created.status} ${created.body}`)
  return {
    url: mqttUrl,
    notify: async (jobId) => {
      const res = await sendOnce(
        fj.info.url,
        controlPlane.createJob(jobId, [thingArn(PROBE_THING)], DOCUMENT),
        CALL_LIMIT_MS,
      )
      const answeredAt = epochMs()
      if (res.status !== 200) throw new Error(`CreateJob ${jobId}: ${res.status} ${res.body.slice(0, 300)}`)
      return answeredAt
    },
    after: (probe, jobId) => probe.finish(jobId),
  }
}

/**
 * The probe's samples (after PROBE_WARM_UP unrecorded ones), sorted. Jobs are named
 * `probe-<phase>-<n>`, so the two phases of a round never reuse an id.
 */
async function sampleLatency(
  ctx: ScenarioContext,
  probe: NotifyProbe,
  probing: Probing,
  phase: string,
): Promise<number[]> {
  const samples = ctx.options.quick ? PROBE_SAMPLES / 10 : PROBE_SAMPLES
  const ms: number[] = []
  for (let i = 0; i < PROBE_WARM_UP + samples; i++) {
    const jobId = `probe-${phase}-${i}`
    const latency = await probe.sample(jobId, () => probing.notify(jobId))
    await probing.after?.(probe, jobId)
    if (i >= PROBE_WARM_UP) ms.push(latency)
  }
  return ms.sort((a, b) => a - b)
}

const latencyText = (ms: readonly number[]): string =>
  `p50 ${percentile(ms, 0.5).toFixed(2)} ms, p99 ${percentile(ms, 0.99).toFixed(2)} ms, ` +
  `max ${ms[ms.length - 1]?.toFixed(2) ?? '-'} ms (${ms.length} samples)`

/**
 * One certificate for every device: CreateKeysAndCertificate (setAsActive) over the control plane,
 * attached to each thing through the AttachThingPrincipal use case in the server process; the CA the
 * devices trust is the server's local CA.
 */
async function deviceCertificate(
  ctx: ScenarioContext,
  label: string,
  fj: ServerProcess,
  caPath: string,
  devices: number,
): Promise<DeviceTls> {
  const res = await sendOnce(fj.info.url, controlPlane.createKeysAndCertificate(true), CALL_LIMIT_MS)
  if (res.status !== 200) {
    throw new Error(`CreateKeysAndCertificate: ${res.status} ${res.body.slice(0, 300)}`)
  }
  const created = JSON.parse(res.body) as {
    certificateArn?: string
    certificatePem?: string
    keyPair?: { PrivateKey?: string }
  }
  const { certificateArn, certificatePem } = created
  const keyPem = created.keyPair?.PrivateKey
  if (certificateArn === undefined || certificatePem === undefined || keyPem === undefined) {
    throw new Error(
      `CreateKeysAndCertificate answered without a certificate and key: ${res.body.slice(0, 300)}`,
    )
  }
  const attach: AttachPrincipalArgs = { principal: certificateArn, prefix: PREFIX, count: devices }
  const ms = await fj.call<number>('attachPrincipal', attach, CONNECT_LIMIT_MS)
  ctx.log(`${label}: ${certificateArn} attached to ${devices} things in ${ms.toFixed(0)} ms`)
  return { caPem: readFileSync(caPath, 'utf8'), certPem: certificatePem, keyPem, servername: TLS_SERVERNAME }
}

const rtPerS = (r: FleetRun): number => (ROUND_TRIPS * r.succeeded) / (r.jobMs / 1000)

function record(
  ctx: ScenarioContext,
  name: string,
  unit: string,
  better: Figure['better'],
  value: number,
  baseline: number,
  baselineName: string,
): void {
  ctx.recordFigure({
    name,
    value,
    unit,
    better,
    baseline,
    baselineName,
    ratio: speedRatio(value, baseline, better),
  })
}

/** The five figures of a round (`<point>.job-ms`, …) against a baseline round. */
function roundFigures(
  ctx: ScenarioContext,
  point: string,
  ours: FleetRun,
  base: FleetRun,
  baselineName: string,
): void {
  record(ctx, `${point}.job-ms`, 'ms', 'lower', ours.jobMs, base.jobMs, baselineName)
  record(
    ctx,
    `${point}.round-trips-per-s`,
    'round trips/s',
    'higher',
    rtPerS(ours),
    rtPerS(base),
    baselineName,
  )
  record(ctx, `${point}.last-notify-ms`, 'ms', 'lower', ours.lastNotifyMs, base.lastNotifyMs, baselineName)
  connectFigures(ctx, point, ours, base, baselineName, '')
  if (ours.notifyLatency !== undefined && base.notifyLatency !== undefined) {
    for (const phase of ['alone', 'fleet'] as const) {
      for (const [name, p] of [
        ['p50', 0.5],
        ['p99', 0.99],
      ] as const) {
        const value = percentile(ours.notifyLatency[phase], p)
        const baseline = percentile(base.notifyLatency[phase], p)
        record(ctx, `${point}.notify-latency-${phase}.${name}`, 'ms', 'lower', value, baseline, baselineName)
      }
    }
  }
}

/** `<point>.connect-ms<suffix>` and `<point>.rss-per-device<suffix>` against a baseline round. */
function connectFigures(
  ctx: ScenarioContext,
  point: string,
  ours: FleetRun,
  base: FleetRun,
  baselineName: string,
  suffix: string,
): void {
  record(ctx, `${point}.connect-ms${suffix}`, 'ms', 'lower', ours.connectMs, base.connectMs, baselineName)
  record(
    ctx,
    `${point}.rss-per-device${suffix}`,
    'KiB/device',
    'lower',
    ours.rssPerDeviceBytes / 1024,
    base.rssPerDeviceBytes / 1024,
    baselineName,
  )
}

/**
 * Connects the devices (spread over `processes` load-generator children), measures the server's RSS
 * before and after, fires the trigger and waits for every device's flow. Every wait is bounded.
 */
async function runFleet(
  ctx: ScenarioContext,
  label: string,
  server: ServerProcess,
  link: Link,
  { devices, processes }: { devices: number; processes: number },
  probing: Probing | undefined,
  trigger: () => Promise<void>,
): Promise<FleetRun> {
  // Other processes on the machine take cores from both ends: say how busy it was.
  ctx.log(`${label}: machine load average ${loadavg()[0]!.toFixed(2)} on ${cpus().length} cores`)
  const probe = probing === undefined ? undefined : await NotifyProbe.connect(probing.url, PROBE_THING)
  try {
    const alone =
      probe === undefined || probing === undefined
        ? undefined
        : await sampleLatency(ctx, probe, probing, 'alone')
    if (alone !== undefined) ctx.log(`${label}: notification latency, the probe alone: ${latencyText(alone)}`)
    const run = await connectAndRun(ctx, label, server, link, { devices, processes }, trigger, async () => {
      if (probe === undefined || probing === undefined) return undefined
      const fleet = await sampleLatency(ctx, probe, probing, 'fleet')
      ctx.log(`${label}: notification latency, ${devices} devices connected: ${latencyText(fleet)}`)
      return fleet
    })
    return alone === undefined || run.fleetLatency === undefined
      ? run.result
      : { ...run.result, notifyLatency: { alone, fleet: run.fleetLatency } }
  } finally {
    await probe?.close()
  }
}

/**
 * Connects the devices, runs `whenConnected` (the probe's samples with the fleet connected), then fires
 * the trigger and waits for every device's flow.
 */
async function connectAndRun(
  ctx: ScenarioContext,
  label: string,
  server: ServerProcess,
  link: Link,
  { devices, processes }: { devices: number; processes: number },
  trigger: () => Promise<void>,
  whenConnected: () => Promise<number[] | undefined>,
): Promise<{ result: FleetRun; fleetLatency: number[] | undefined }> {
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
          url: link.url,
          protocolVersion: link.protocolVersion,
          tls: link.tls,
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
    const connectCpu = await cpu.lap(devices)
    const rssAfter = await server.call<number>('rss', null, CALL_LIMIT_MS)
    const loadRss = sum(connected.map((c) => c.rss))
    const resumed = sum(connected.map((c) => c.tlsResumed))
    const how =
      `MQTT ${link.protocolVersion === 5 ? '5' : '3.1.1'}` +
      (link.tls === undefined ? ' over TCP' : ` over TLS, ${resumed} session(s) resumed`)
    ctx.log(
      `${label}: ${devices} devices connected in ${connectMs.toFixed(0)} ms ` +
        `(${how}; ${(devices / (connectMs / 1000)).toFixed(0)}/s, ${processes} load process(es), ` +
        `${(loadRss / 2 ** 20).toFixed(0)} MiB RSS there); server RSS ` +
        `${(rssBefore / 2 ** 20).toFixed(0)} → ${(rssAfter / 2 ** 20).toFixed(0)} MiB; ${connectCpu}`,
    )

    const fleetLatency = await whenConnected()
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
    return {
      result: {
        connectMs,
        rssPerDeviceBytes: (rssAfter - rssBefore) / devices,
        jobMs,
        lastNotifyMs,
        succeeded,
      },
      fleetLatency,
    }
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

  /**
   * With `devices`, also CPU milliseconds per device: on a machine shared with other processes the
   * wall time of a phase moves with their load, its CPU time much less.
   */
  async lap(devices?: number): Promise<string> {
    const wall = performance.now() - this.startedAt
    const s = await this.sample()
    const cpu = (ms: number): string =>
      `${((100 * ms) / wall).toFixed(0)}%` +
      (devices === undefined ? '' : ` (${(ms / devices).toFixed(2)} ms/device)`)
    return `CPU: server ${cpu(s.server - this.server0)}, load ${cpu(s.loads - this.loads0)}`
  }
}

/** DescribeJob: jobProcessDetails.numberOfSucceededThings must be the device count. */
async function verifySucceeded(
  ctx: ScenarioContext,
  label: string,
  url: string,
  devices: number,
): Promise<void> {
  const res = await sendOnce(url, controlPlane.describeJob(JOB_ID), CALL_LIMIT_MS)
  if (res.status !== 200) {
    ctx.recordFailure(`${label}: DescribeJob ${JOB_ID}: ${res.status} ${res.body.slice(0, 300)}`)
    return
  }
  const job = (
    JSON.parse(res.body) as { job?: { status?: string; jobProcessDetails?: Record<string, number> } }
  ).job
  const succeeded = job?.jobProcessDetails?.['numberOfSucceededThings']
  ctx.log(`${label}: DescribeJob ${JOB_ID}: status ${job?.status}, numberOfSucceededThings ${succeeded}`)
  if (succeeded !== devices) {
    ctx.recordFailure(
      `${label}: DescribeJob ${JOB_ID}: numberOfSucceededThings ${succeeded}, expected ${devices}`,
    )
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
