/**
 * `fleetjobs simulate`: a fleet of simulated devices against a fleetjobs server (or any AWS IoT Jobs
 * MQTT endpoint that takes these credentials), over the device API a real device uses (src/simulator/,
 * docs/simulate.md). Exit 0 when every device connected, 1 when any did not (or the setup over the
 * control plane failed), 2 for bad flags.
 */
import cliProgress from 'cli-progress'
import { Command, InvalidArgumentError, Option } from 'commander'
import type { CommanderError } from 'commander'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { DEVICE_SECRET_FILE, DeviceAuth } from '../mqtt/device-auth.js'
import { DEFAULT_CONFIG } from '../server.js'
import type { DeviceCredentials, Fleet, FleetStats } from '../simulator/fleet.js'
import { DEFAULT_CONNECT_CONCURRENCY, startFleet } from '../simulator/fleet.js'
import { checkRates, parseDuration, parseDurationRange, THING_NAME, thingNames } from '../simulator/rules.js'
import { barLine, formatSummary, progressLine } from '../simulator/summary.js'
import { DATABASE_FILE } from '../storage/data-dir.js'

const EXIT_CONNECTION_FAILURES = 1
const EXIT_BAD_FLAGS = 2
/** Off a TTY, one progress line this often. */
const PLAIN_PROGRESS_INTERVAL_MS = 5_000
/** On a TTY, the bar's counters are refreshed this often (cli-progress redraws at most 10 times a second). */
const BAR_REFRESH_MS = 250
/** The end conditions are looked at this long after a change at most (and no more often). */
const CHECK_COALESCE_MS = 50
/** Requests to the control plane under way at once while things, groups and certificates are made. */
const SETUP_CONCURRENCY = 8
const DEFAULT_MQTT_URL = 'mqtt://127.0.0.1:1883'
/** The embedded broker's TLS port (`--mqtt-tls-port`'s default), for `--auth certificate`. */
const DEFAULT_MQTTS_URL = 'mqtts://127.0.0.1:8883'
const DEFAULT_ENDPOINT = `http://127.0.0.1:${DEFAULT_CONFIG.port}`

type AuthMode = 'auto' | 'none' | 'token' | 'certificate'

function positive(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1')
  return n
}

function wholeNumber(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isInteger(n) || n < 0)
    throw new InvalidArgumentError('must be a whole number ≥ 0')
  return n
}

function rate(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1)
    throw new InvalidArgumentError('must be a number from 0 to 1 (a share of the jobs)')
  return n
}

function seed(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n >= 2 ** 32)
    throw new InvalidArgumentError('must be a whole number 0..4294967295')
  return n
}

/** Wraps a rules parser's RangeError as commander's error for the flag. */
function parsed<T>(parse: (text: string) => T): (text: string) => T {
  return (text) => {
    try {
      return parse(text)
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message)
    }
  }
}

/**
 * Whether a folder is a fleetjobs data directory: a server made its SQLite database there, or its MQTT
 * device secret (as `fleetjobs device-token` checks).
 */
function isDataDir(dir: string): boolean {
  return existsSync(join(dir, DATABASE_FILE)) || existsSync(join(dir, DEVICE_SECRET_FILE))
}

/** A refusal of the setup: printed as one line, exit 1. */
class SetupError extends Error {}

/** Runs `task` for every item, `limit` at a time; the first failure stops handing out more. */
async function eachLimit<T>(
  items: readonly T[],
  limit: number,
  task: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (!failed && next < items.length) {
      const item = items[next++] as T
      try {
        await task(item)
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/**
 * An unsigned request to the control plane's REST API (the AWS `iot` wire format). A server that
 * requires SigV4 answers 403: said so in the error.
 */
async function controlPlane(
  endpoint: string,
  method: 'POST' | 'PUT',
  path: string,
  what: string,
  options: {
    body?: object
    headers?: Record<string, string>
    accept?: (status: number, type: string) => boolean
  } = {},
): Promise<Record<string, unknown>> {
  const url = `${endpoint.replace(/\/+$/, '')}${path}`
  let res: Response
  try {
    res = await fetch(url, {
      method,
      headers: { 'content-type': 'application/json', ...options.headers },
      body: JSON.stringify(options.body ?? {}),
    })
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause
    throw new SetupError(
      `${what}: cannot reach the control plane at ${endpoint} (${cause?.message ?? (error as Error).message}); start the server or pass --endpoint`,
    )
  }
  const text = await res.text()
  let body: Record<string, unknown> = {}
  try {
    body = text === '' ? {} : (JSON.parse(text) as Record<string, unknown>)
  } catch {
    // Not JSON: the status and the raw text say what happened.
    body = { message: text.slice(0, 200) }
  }
  if (res.ok) return body
  const type = res.headers.get('x-amzn-errortype')?.split(':')[0] ?? ''
  if (options.accept?.(res.status, type) === true) return body
  const message = typeof body['message'] === 'string' ? body['message'] : text.slice(0, 200)
  const unsigned =
    res.status === 403
      ? ' — fleetjobs simulate sends unsigned requests, so it cannot use a control plane that requires SigV4: create the things, group and certificates with the AWS CLI and run without --create-things/--thing-group/--auth certificate'
      : ''
  throw new SetupError(`${what}: ${method} ${path} answered ${res.status} ${type}: ${message}${unsigned}`)
}

interface SetupOptions {
  readonly endpoint: string
  readonly names: readonly string[]
  readonly createThings: boolean
  readonly thingGroup: string | undefined
}

/** Things and their group, over the control plane. [spec: things#2] */
async function registerThings(o: SetupOptions, log: (line: string) => void): Promise<void> {
  const path = (name: string) => encodeURIComponent(name)
  if (o.createThings) {
    // CreateThing is idempotent for the same (empty) configuration. [spec: things#creatething]
    await eachLimit(o.names, SETUP_CONCURRENCY, async (thingName) => {
      await controlPlane(o.endpoint, 'POST', `/things/${path(thingName)}`, `CreateThing ${thingName}`)
    })
    log(`${o.names.length} things ready (CreateThing)`)
  }
  if (o.thingGroup !== undefined) {
    const thingGroupName = o.thingGroup
    // An existing group (409 when its properties differ from none) is used as it is.
    await controlPlane(
      o.endpoint,
      'POST',
      `/thing-groups/${path(thingGroupName)}`,
      `CreateThingGroup ${thingGroupName}`,
      {
        accept: (status, type) => status === 409 && type === 'ResourceAlreadyExistsException',
      },
    )
    await eachLimit(o.names, SETUP_CONCURRENCY, async (thingName) => {
      await controlPlane(
        o.endpoint,
        'PUT',
        '/thing-groups/addThingToThingGroup',
        `AddThingToThingGroup ${thingName}`,
        {
          body: { thingGroupName, thingName },
        },
      )
    })
    log(`${o.names.length} things in thing group ${thingGroupName}`)
  }
}

/**
 * A certificate per device from CreateKeysAndCertificate (ACTIVE), attached to its thing with
 * AttachThingPrincipal, as an operator provisions a device (docs/tls.md).
 */
async function provisionCertificates(
  endpoint: string,
  names: readonly string[],
  ca: string,
  log: (line: string) => void,
): Promise<Map<string, DeviceCredentials>> {
  const credentials = new Map<string, DeviceCredentials>()
  await eachLimit(names, SETUP_CONCURRENCY, async (thingName) => {
    const out = await controlPlane(
      endpoint,
      'POST',
      '/keys-and-certificate?setAsActive=true',
      `CreateKeysAndCertificate for ${thingName}`,
    )
    const arn = out['certificateArn']
    const cert = out['certificatePem']
    const key = (out['keyPair'] as Record<string, unknown> | undefined)?.['PrivateKey']
    if (typeof arn !== 'string' || typeof cert !== 'string' || typeof key !== 'string')
      throw new SetupError(`CreateKeysAndCertificate for ${thingName}: the answer has no certificate and key`)
    await controlPlane(
      endpoint,
      'PUT',
      `/things/${encodeURIComponent(thingName)}/principals`,
      `AttachThingPrincipal ${thingName}`,
      { headers: { 'x-amzn-principal': arn } },
    )
    credentials.set(thingName, { cert, key, ca })
  })
  log(`${names.length} certificates made and attached (CreateKeysAndCertificate, AttachThingPrincipal)`)
  return credentials
}

/** Live progress on stderr: a bar on a TTY, a plain line every few seconds otherwise. */
function showProgress(fleet: Fleet): () => void {
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      {
        format: 'jobs {bar} {finished}/{received} | {line}',
        barsize: 20,
        hideCursor: true,
        stream: process.stderr,
      },
      cliProgress.Presets.shades_classic,
    )
    const payload = (s: FleetStats) => ({
      finished: s.jobsFinished,
      received: s.jobsReceived,
      line: barLine(s),
    })
    const first = fleet.stats()
    bar.start(Math.max(1, first.jobsReceived), first.jobsFinished, payload(first))
    const timer = setInterval(() => {
      const s = fleet.stats()
      bar.setTotal(Math.max(1, s.jobsReceived))
      bar.update(s.jobsFinished, payload(s))
    }, BAR_REFRESH_MS)
    return () => {
      clearInterval(timer)
      const s = fleet.stats()
      bar.setTotal(Math.max(1, s.jobsReceived))
      bar.update(s.jobsFinished, payload(s))
      bar.stop()
    }
  }
  const timer = setInterval(
    () => console.error(`fleetjobs simulate: ${progressLine(fleet.stats())}`),
    PLAIN_PROGRESS_INTERVAL_MS,
  )
  return () => clearInterval(timer)
}

/**
 * Resolves with why the run ends: `--for` elapsed, every device idle for `--idle-exit` (counted once the
 * fleet has had a job: a fleet waiting for its first job is not idle), every device gone, or a signal.
 */
function whenDone(fleet: Fleet, forMs: number | undefined, idleExitMs: number | undefined): Promise<string> {
  return new Promise((resolve) => {
    const timers: NodeJS.Timeout[] = []
    let idleTimer: NodeJS.Timeout | undefined
    let scheduled: NodeJS.Timeout | undefined
    let done = false
    const finish = (reason: string): void => {
      if (done) return
      done = true
      for (const t of timers) clearTimeout(t)
      if (idleTimer !== undefined) clearTimeout(idleTimer)
      if (scheduled !== undefined) clearTimeout(scheduled)
      process.off('SIGINT', onSigint)
      process.off('SIGTERM', onSigterm)
      resolve(reason)
    }
    const onSigint = (): void => finish('SIGINT')
    const onSigterm = (): void => finish('SIGTERM')
    process.on('SIGINT', onSigint)
    process.on('SIGTERM', onSigterm)
    if (forMs !== undefined) timers.push(setTimeout(() => finish(`--for ${forMs / 1000} s elapsed`), forMs))
    const check = (): void => {
      const s = fleet.stats()
      // Every device crashed (one crash ends a device) or never connected: nothing more can happen.
      if (s.crashed + s.connectionFailures >= s.devices) {
        finish('no device is left: every one crashed or could not connect')
        return
      }
      if (idleExitMs === undefined) return
      const idle = s.busy === 0 && s.jobsReceived > 0
      if (!idle && idleTimer !== undefined) {
        clearTimeout(idleTimer)
        idleTimer = undefined
      } else if (idle && idleTimer === undefined) {
        idleTimer = setTimeout(() => finish(`every device idle for ${idleExitMs / 1000} s`), idleExitMs)
      }
    }
    // Looked at once per CHECK_COALESCE_MS at most: a large fleet changes thousands of times a second.
    fleet.onChange(() => {
      scheduled ??= setTimeout(() => {
        scheduled = undefined
        if (!done) check()
      }, CHECK_COALESCE_MS)
    })
    check()
  })
}

export function registerSimulateCommand(program: Command): void {
  program
    .command('simulate')
    .description(
      'run simulated devices over MQTT (the device API a real device uses), each executing the jobs it is sent with drawn outcomes; a summary at the end (docs/simulate.md)',
    )
    .addOption(
      new Option('--devices <n>', 'simulated devices, things <prefix>0001…').default(10).argParser(positive),
    )
    .addOption(
      new Option(
        '--success-rate <rate>',
        'share of jobs that end SUCCEEDED (default: what --reject-rate and --crash-rate leave, so none fail); the rest not rejected or crashed end FAILED',
      ).argParser(rate),
    )
    .addOption(
      new Option('--reject-rate <rate>', 'share of jobs the device rejects (REJECTED)')
        .default(0)
        .argParser(rate),
    )
    .addOption(
      new Option(
        '--crash-rate <rate>',
        'share of jobs during which the device crashes and goes silent for good',
      )
        .default(0)
        .argParser(rate),
    )
    .addOption(
      new Option(
        '--duration <range>',
        'how long a job takes, MIN..MAX (uniform) or one value; units ms, s, m',
      )
        .default({ min: 1000, max: 5000 }, '1s..5s')
        .argParser(parsed(parseDurationRange)),
    )
    .addOption(
      new Option(
        '--progress-steps <n>',
        'IN_PROGRESS updates before the final one, statusDetails {"step":"i/N"}',
      )
        .default(3)
        .argParser(wholeNumber),
    )
    .addOption(new Option('--thing-prefix <prefix>', 'thing names: the prefix and a number').default('sim-'))
    .addOption(
      new Option(
        '--mqtt-url <url>',
        `the MQTT endpoint (default ${DEFAULT_MQTT_URL}; ${DEFAULT_MQTTS_URL} with --auth certificate)`,
      ),
    )
    .addOption(
      new Option(
        '--endpoint <url>',
        'control-plane URL for --create-things, --thing-group and --auth certificate (unsigned requests: a server that requires SigV4 refuses them)',
      ).default(DEFAULT_ENDPOINT),
    )
    .addOption(new Option('--create-things', 'create the things first (CreateThing)'))
    .addOption(new Option('--thing-group <name>', 'put the things in this thing group, created if missing'))
    .addOption(
      new Option(
        '--auth <mode>',
        'device authentication: none; token (password from the data directory, as `fleetjobs device-token`); certificate (one from CreateKeysAndCertificate per device, on mqtts); auto: certificate for an mqtts:// URL, token when --data-dir or --mqtt-auth-secret is given, else none',
      )
        .choices(['auto', 'none', 'token', 'certificate'])
        .default('auto'),
    )
    .addOption(
      new Option('--data-dir <dir>', "the server's data directory (device tokens, the local CA)")
        .env('FLEETJOBS_DATA_DIR')
        .default(DEFAULT_CONFIG.dataDir),
    )
    .addOption(
      new Option(
        '--mqtt-auth-secret <secret>',
        "the server's device secret, instead of the data directory's",
      ).env('FLEETJOBS_MQTT_AUTH_SECRET'),
    )
    .addOption(
      new Option(
        '--ca-file <file>',
        'with --auth certificate: the CA the server certificate comes from (default <data-dir>/tls/ca.pem)',
      ),
    )
    .addOption(
      new Option(
        '--seed <n>',
        'seed of the outcome draws (default: random, printed in the summary)',
      ).argParser(seed),
    )
    .addOption(
      new Option('--connect-concurrency <n>', 'devices connecting at once')
        .default(DEFAULT_CONNECT_CONCURRENCY)
        .argParser(positive),
    )
    .addOption(
      new Option('--for <duration>', 'stop after this long (e.g. 30s, 5m)').argParser(parsed(parseDuration)),
    )
    .addOption(
      new Option(
        '--idle-exit <duration>',
        'stop once no device has worked on a job for this long, counted from the first job (default: never)',
      ).argParser(parsed(parseDuration)),
    )
    // Bad flags exit 2, as `serve` and `device-token` refuse theirs; --help exits 0.
    .exitOverride((error: CommanderError) => process.exit(error.exitCode === 0 ? 0 : EXIT_BAD_FLAGS))
    .action(async (o: Record<string, unknown>, command: Command) => {
      process.exitCode = await simulate(o, command)
    })
}

async function simulate(o: Record<string, unknown>, command: Command): Promise<number> {
  const fail = (message: string, code = EXIT_BAD_FLAGS): number => {
    console.error(`fleetjobs simulate: ${message}`)
    return code
  }
  const log = (line: string): void => console.error(`fleetjobs simulate: ${line}`)
  const given = (name: string): boolean => {
    const source = command.getOptionValueSource(name)
    return source !== undefined && source !== 'default'
  }

  const reject = o['rejectRate'] as number
  const crash = o['crashRate'] as number
  const success = (o['successRate'] as number | undefined) ?? Math.max(0, 1 - reject - crash)
  if (checkRates({ success, reject, crash }) !== undefined)
    return fail(
      `--success-rate ${success} + --reject-rate ${reject} + --crash-rate ${crash} is more than 1: the rates are shares of the jobs (the rest fail)`,
    )

  const prefix = o['thingPrefix'] as string
  const names = thingNames(prefix, o['devices'] as number)
  const invalid = names.find((name) => !THING_NAME.test(name))
  if (invalid !== undefined)
    return fail(
      `--thing-prefix ${JSON.stringify(prefix)} makes ${JSON.stringify(invalid)}, not a thing name: 1 to 128 characters of a-z A-Z 0-9 : _ -`,
    )
  const thingGroup = o['thingGroup'] as string | undefined
  if (thingGroup !== undefined && !THING_NAME.test(thingGroup))
    return fail(
      `--thing-group ${JSON.stringify(thingGroup)} is not a thing group name: 1 to 128 characters of a-z A-Z 0-9 : _ -`,
    )

  const dataDir = o['dataDir'] as string
  const secret = o['mqttAuthSecret'] as string | undefined
  const urlGiven = o['mqttUrl'] as string | undefined
  let auth = o['auth'] as AuthMode
  if (auth === 'auto')
    auth =
      urlGiven?.startsWith('mqtts:') === true
        ? 'certificate'
        : given('dataDir') || given('mqttAuthSecret')
          ? 'token'
          : 'none'
  const mqttUrl = urlGiven ?? (auth === 'certificate' ? DEFAULT_MQTTS_URL : DEFAULT_MQTT_URL)
  if (!/^mqtts?:\/\//.test(mqttUrl)) return fail(`--mqtt-url ${mqttUrl}: must start with mqtt:// or mqtts://`)
  if (auth === 'certificate' && !mqttUrl.startsWith('mqtts:'))
    return fail(
      `--auth certificate needs an mqtts:// URL (the server's TLS port, default ${DEFAULT_MQTTS_URL}), not ${mqttUrl}`,
    )

  let credentials: ((thingName: string) => DeviceCredentials) | undefined
  let caPem: string | undefined
  if (auth === 'token') {
    // Without the secret, the tokens derive from the data directory's; a folder that is not a server's
    // would get a new secret of its own, and no token could work. (As `fleetjobs device-token`.)
    if ((secret === undefined || secret === '') && !isDataDir(dataDir))
      return fail(
        `--data-dir ${dataDir} is not a fleetjobs data directory (no ${DATABASE_FILE}, no ${DEVICE_SECRET_FILE}): name the folder the server uses (--data-dir or FLEETJOBS_DATA_DIR), or give its secret with --mqtt-auth-secret`,
      )
    let deviceAuth: DeviceAuth
    try {
      deviceAuth = DeviceAuth.load(dataDir, secret)
    } catch (error) {
      return fail(`--data-dir ${dataDir}: cannot read the device secret: ${(error as Error).message}`)
    }
    credentials = (thingName) => ({ username: thingName, password: deviceAuth.tokenFor(thingName) })
  }
  if (auth === 'certificate') {
    const caFile = (o['caFile'] as string | undefined) ?? join(dataDir, 'tls', 'ca.pem')
    try {
      caPem = readFileSync(caFile, 'utf8')
    } catch (error) {
      return fail(
        `--ca-file ${caFile}: cannot read the CA certificate (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}); name the server's CA with --ca-file or its data directory with --data-dir`,
      )
    }
  }

  const endpoint = o['endpoint'] as string
  try {
    await registerThings({ endpoint, names, createThings: o['createThings'] === true, thingGroup }, log)
    if (caPem !== undefined) {
      const certificates = await provisionCertificates(endpoint, names, caPem, log)
      credentials = (thingName) => certificates.get(thingName) ?? {}
    }
  } catch (error) {
    if (error instanceof SetupError) return fail(error.message, EXIT_CONNECTION_FAILURES)
    throw error
  }

  const duration = o['duration'] as { min: number; max: number }
  log(
    `connecting ${names.length} devices (${names[0]}…) to ${mqttUrl.replace(/\/\/[^@/]*@/, '//***@')}, auth ${auth}`,
  )
  const fleet = await startFleet({
    mqttUrl,
    thingNames: names,
    outcomes: { success, reject, crash },
    durationMs: duration,
    progressSteps: o['progressSteps'] as number,
    ...(credentials === undefined ? {} : { credentials }),
    ...(o['seed'] === undefined ? {} : { seed: o['seed'] as number }),
    connectConcurrency: o['connectConcurrency'] as number,
  })
  const connected = fleet.stats()
  log(
    `${connected.devices - connected.connectionFailures} of ${connected.devices} devices connected${connected.connectionFailures === connected.devices ? '' : '; waiting for jobs'}`,
  )
  const stopProgress = showProgress(fleet)
  const reason = await whenDone(fleet, o['for'] as number | undefined, o['idleExit'] as number | undefined)
  stopProgress()
  log(`stopping: ${reason}`)
  const stats = await fleet.stop()
  console.log('fleetjobs simulate: summary')
  console.log(formatSummary(stats))
  if (stats.connectionFailures > 0) {
    const hint =
      auth === 'none' && /not authorized|bad user ?name or password/i.test(stats.firstConnectionError ?? '')
        ? ' (the server requires device authentication: --auth token --data-dir <its data directory>, or --auth certificate)'
        : ''
    return fail(
      `${stats.connectionFailures} of ${stats.devices} devices could not connect to ${mqttUrl.replace(/\/\/[^@/]*@/, '//***@')} (first: ${stats.firstConnectionError ?? 'unknown'})${hint}`,
      EXIT_CONNECTION_FAILURES,
    )
  }
  return 0
}
