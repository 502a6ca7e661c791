#!/usr/bin/env node
/**
 * `fleetjobs serve`: every flag can also be set by FLEETJOBS_<NAME> (e.g. FLEETJOBS_DATA_PLANE_PORT).
 */
import { Command, InvalidArgumentError, Option } from 'commander'
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { constants as osConstants } from 'node:os'
import {
  DataDirError,
  DatabaseUnavailableError,
  MissingCredentialsError,
  PortInUseError,
  TlsConfigError,
  DEFAULT_CONFIG,
  DEFAULT_SHUTDOWN_GRACE_MS,
  startServer,
} from '../server.js'
import type { EventsConfig, HttpAuthMode } from '../server.js'
import { CredentialsFileError, loadCredentialsFile } from '../http/credentials.js'
import type { RateLimit } from '../app/throttle.js'
import { DEVICE_SECRET_FILE, DeviceAuth, OPERATOR_USERNAME, isLoopback } from '../mqtt/device-auth.js'
import { DATABASE_FILE } from '../storage/data-dir.js'
import { registerSimulateCommand } from './simulate.js'

/** The iot model's ThingName: length 1..128, pattern `[a-zA-Z0-9:_-]+` (test/cli/device-token.test.ts checks it). */
const THING_NAME = /^[a-zA-Z0-9:_-]{1,128}$/

/**
 * Whether a folder is a fleetjobs data directory: a server made its SQLite database there, or its MQTT
 * device secret (with PostgreSQL, the folder holds only the secret).
 */
function isDataDir(dir: string): boolean {
  return existsSync(join(dir, DATABASE_FILE)) || existsSync(join(dir, DEVICE_SECRET_FILE))
}

function port(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('must be a port number 0..65535')
  return n
}

function positive(value: string): number {
  const n = Number(value)
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number ≥ 1')
  return n
}

/** Seconds, fractions allowed: `--shutdown-grace 2.5`. */
function seconds(value: string): number {
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0)
    throw new InvalidArgumentError('must be a number of seconds ≥ 0')
  return n
}

/**
 * After the grace, what is left of the shutdown (closing the store, the broker) has this long before the
 * process exits anyway: enough for a store that answers, no wait on one that does not.
 */
const SHUTDOWN_EXIT_MARGIN_MS = 3_000

function rate(value: string): RateLimit {
  const [r, b] = value.split(':')
  const ratePerSecond = Number(r)
  const burst = b === undefined ? Math.max(1, Math.ceil(ratePerSecond)) : Number(b)
  if (!(ratePerSecond > 0) || !(burst >= 1))
    throw new InvalidArgumentError('must be RATE or RATE:BURST, e.g. 100:200')
  return { ratePerSecond, burst }
}

/** `job,jobExecution`: the Jobs event families to publish. [spec: jobs-device-api#5] */
function eventFamilies(value: string): EventsConfig {
  const names = value
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '')
  for (const name of names) {
    if (name !== 'job' && name !== 'jobExecution')
      throw new InvalidArgumentError(`must list job and/or jobExecution, comma-separated (not ${name})`)
  }
  return { job: names.includes('job'), jobExecution: names.includes('jobExecution') }
}

/** An ISO-8601 date and time (`2030-01-31T12:00:00Z`) as epoch milliseconds. [spec: test-clock#1] */
function isoTime(value: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}(T|$)/.test(value) ? Date.parse(value) : Number.NaN
  if (Number.isNaN(ms))
    throw new InvalidArgumentError('must be an ISO-8601 time such as 2030-01-31T12:00:00Z')
  return ms
}

const opt = (flags: string, description: string, env: string) =>
  new Option(flags, description).env(`FLEETJOBS_${env}`)

/** Options `serve` and `device-token` share: the tokens derive from the same secret. */
const dataDirOption = () =>
  opt('--data-dir <dir>', 'folder of the SQLite database', 'DATA_DIR').default(DEFAULT_CONFIG.dataDir)
const authSecretOption = () =>
  opt(
    '--mqtt-auth-secret <secret>',
    'secret the device tokens derive from (default: generated in the data directory)',
    'MQTT_AUTH_SECRET',
  )

/** package.json, found from src/cli/ (tsx) and dist/cli/ (built) alike. */
const PACKAGE = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
  readonly version: string
}

const program = new Command()
program
  .name('fleetjobs')
  .description('A self-hosted job service for device fleets that speaks the AWS IoT Jobs API')
  .version(PACKAGE.version, '-V, --version', 'print the version of fleetjobs')

program
  .command('serve')
  .description(
    'start the HTTP API (control plane and device data plane) and MQTT, on an embedded SQLite database or PostgreSQL',
  )
  .addOption(opt('--host <host>', 'address to listen on', 'HOST').default(DEFAULT_CONFIG.host))
  .addOption(
    opt('--port <port>', 'control-plane port (0: any free port)', 'PORT')
      .default(DEFAULT_CONFIG.port)
      .argParser(port),
  )
  .addOption(
    opt('--data-plane-port <port>', 'device data-plane port (0: any free port)', 'DATA_PLANE_PORT')
      .default(DEFAULT_CONFIG.dataPlanePort)
      .argParser(port),
  )
  .addOption(dataDirOption())
  .addOption(
    opt(
      '--database <url>',
      'PostgreSQL instead of SQLite (postgres://user@host:5432/db); several nodes may share it',
      'DATABASE',
    ),
  )
  .addOption(
    opt('--database-schema <name>', 'PostgreSQL schema of the tables', 'DATABASE_SCHEMA').default(
      'fleetjobs',
    ),
  )
  .addOption(
    opt('--database-pool <n>', 'PostgreSQL connections of this node', 'DATABASE_POOL')
      .default(10)
      .argParser(positive),
  )
  .addOption(opt('--region <region>', 'region used in ARNs', 'REGION').default(DEFAULT_CONFIG.region))
  .addOption(
    opt('--account-id <id>', 'account id used in ARNs', 'ACCOUNT_ID').default(DEFAULT_CONFIG.accountId),
  )
  .addOption(
    opt(
      '--response-style <style>',
      'aws: AWS wire format; envelope: the {"success": …} envelope (not for AWS clients)',
      'RESPONSE_STYLE',
    )
      .choices(['aws', 'envelope'])
      .default('aws'),
  )
  .addOption(
    opt(
      '--control-plane-rate <rate>',
      'control-plane rate limit RATE[:BURST] requests/s (default: none)',
      'CONTROL_PLANE_RATE',
    ).argParser(rate),
  )
  .addOption(
    opt(
      '--data-plane-rate <rate>',
      'data-plane rate limit per thing RATE[:BURST] requests/s (default: none)',
      'DATA_PLANE_RATE',
    ).argParser(rate),
  )
  .addOption(
    opt('--mqtt-port <port>', 'port of the embedded MQTT broker (0: any free port)', 'MQTT_PORT')
      .default(1883)
      .argParser(port),
  )
  .addOption(
    opt(
      '--mqtt-url <url>',
      'use this MQTT broker instead of the embedded one (mqtt://user:pass@host:port)',
      'MQTT_URL',
    ),
  )
  .addOption(
    opt(
      '--mqtt-shared-group <name>',
      'shared-subscription group when several nodes use one broker',
      'MQTT_SHARED_GROUP',
    ),
  )
  .addOption(opt('--no-mqtt', 'do not start the embedded MQTT broker', 'NO_MQTT'))
  .addOption(
    opt(
      '--mqtt-tls-port <port>',
      'MQTT over TLS on the embedded broker, devices authenticated by X.509 client certificate (0: any free port)',
      'MQTT_TLS_PORT',
    )
      .default(8883)
      .argParser(port),
  )
  .addOption(
    opt(
      '--data-plane-tls-port <port>',
      'the device data plane over HTTPS, devices authenticated by X.509 client certificate (0: any free port)',
      'DATA_PLANE_TLS_PORT',
    )
      .default(8443)
      .argParser(port),
  )
  .addOption(
    opt(
      '--tls-cert <file>',
      "the TLS listeners' certificate chain, PEM (default: issued by the local CA in <data-dir>/tls/)",
      'TLS_CERT',
    ),
  )
  .addOption(opt('--tls-key <file>', "the TLS listeners' private key, PEM (with --tls-cert)", 'TLS_KEY'))
  .addOption(opt('--no-tls', 'no TLS listeners for devices (MQTT on TLS, HTTPS data plane)', 'NO_TLS'))
  .addOption(opt('--no-console', 'no web console at /console on the control-plane port', 'NO_CONSOLE'))
  .addOption(
    opt(
      '--events <list>',
      'publish Jobs events to the broker: job, jobExecution or both, comma-separated (default: none)',
      'EVENTS',
    ).argParser(eventFamilies),
  )
  .addOption(
    opt(
      '--mqtt-auth <mode>',
      'device authentication on the embedded broker: on, off, or auto (off when --host is loopback, else on)',
      'MQTT_AUTH',
    )
      .choices(['on', 'off', 'auto'])
      .default('auto'),
  )
  .addOption(
    opt(
      '--mqtt-connect-rate <n>',
      'new MQTT connections accepted per second by the embedded broker; more wait or are refused (0: no limit; default 500)',
      'MQTT_CONNECT_RATE',
    ).argParser((value) => (value === '0' ? 0 : positive(value))),
  )
  .addOption(authSecretOption())
  .addOption(
    opt(
      '--auth <mode>',
      'HTTP request authentication: sigv4 (AWS Signature V4, keys from --credentials-file), none, or auto (none on loopback, else sigv4)',
      'AUTH',
    )
      .choices(['sigv4', 'none', 'auto'])
      .default('auto'),
  )
  .addOption(
    opt(
      '--credentials-file <file>',
      "access keys SigV4 accepts, in the AWS CLI's credentials format ([profile] aws_access_key_id / aws_secret_access_key)",
      'CREDENTIALS_FILE',
    ),
  )
  .addOption(
    opt(
      '--metrics-token <token>',
      'bearer token /readyz and /metrics require when HTTP authentication is on (Authorization: Bearer <token>)',
      'METRICS_TOKEN',
    ),
  )
  .addOption(
    opt(
      '--clock <mode>',
      'system: the machine clock; virtual: a clock that moves only through POST /_fleetjobs/clock/advance (tests)',
      'CLOCK',
    )
      .choices(['system', 'virtual'])
      .default('system'),
  )
  .addOption(
    opt(
      '--clock-start <time>',
      'with --clock virtual: the start time, ISO-8601 (default: the real time at start-up)',
      'CLOCK_START',
    ).argParser(isoTime),
  )
  .addOption(
    opt('--max-targets-per-job <n>', 'targets per job (AWS: 100)', 'MAX_TARGETS_PER_JOB')
      .default(100)
      .argParser(positive),
  )
  .addOption(
    opt(
      '--shutdown-grace <seconds>',
      'on SIGINT/SIGTERM, time for requests under way to finish before their connections are closed; a second signal exits at once',
      'SHUTDOWN_GRACE',
    )
      .default(DEFAULT_SHUTDOWN_GRACE_MS / 1000)
      .argParser(seconds),
  )
  .action(async (o: Record<string, unknown>, command: Command) => {
    const mqttPortChosen = command.getOptionValueSource('mqttPort') !== 'default'
    const tlsPortsChosen =
      command.getOptionValueSource('mqttTlsPort') !== 'default' ||
      command.getOptionValueSource('dataPlaneTlsPort') !== 'default'
    try {
      const credentialsFile = o['credentialsFile'] as string | undefined
      const credentials =
        credentialsFile === undefined ? undefined : await loadCredentialsFile(credentialsFile)
      const server = await startServer({
        auth: {
          mode: o['auth'] as HttpAuthMode,
          ...(credentials === undefined ? {} : { credentials }),
        },
        host: o['host'] as string,
        port: o['port'] as number,
        dataPlanePort: o['dataPlanePort'] as number,
        dataDir: o['dataDir'] as string,
        region: o['region'] as string,
        accountId: o['accountId'] as string,
        responseStyle: o['responseStyle'] as 'aws' | 'envelope',
        console: o['console'] !== false,
        rateLimit: {
          ...(o['controlPlaneRate'] === undefined
            ? {}
            : { controlPlane: o['controlPlaneRate'] as RateLimit }),
          ...(o['dataPlaneRate'] === undefined ? {} : { dataPlane: o['dataPlaneRate'] as RateLimit }),
        },
        settings: { maxTargetsPerJob: o['maxTargetsPerJob'] as number },
        metricsToken: o['metricsToken'] as string | undefined,
        clockMode: o['clock'] as 'system' | 'virtual',
        ...(o['clockStart'] === undefined ? {} : { clockStartMs: o['clockStart'] as number }),
        mqtt:
          o['mqtt'] === false
            ? undefined
            : {
                port: o['mqttPort'] as number,
                fallbackToFreePort: !mqttPortChosen,
                url: o['mqttUrl'] as string | undefined,
                sharedGroup: o['mqttSharedGroup'] as string | undefined,
                auth: o['mqttAuth'] as 'on' | 'off' | 'auto',
                authSecret: o['mqttAuthSecret'] as string | undefined,
                ...(o['mqttConnectRate'] === undefined
                  ? {}
                  : { limits: { connectsPerSecond: o['mqttConnectRate'] as number } }),
              },
        ...(o['tls'] === false
          ? {}
          : {
              tls: {
                ...(o['mqtt'] === false || o['mqttUrl'] !== undefined
                  ? {}
                  : { mqttPort: o['mqttTlsPort'] as number }),
                dataPlanePort: o['dataPlaneTlsPort'] as number,
                certFile: o['tlsCert'] as string | undefined,
                keyFile: o['tlsKey'] as string | undefined,
                fallbackToFreePort: !tlsPortsChosen,
              },
            }),
        ...(o['events'] === undefined ? {} : { events: o['events'] as EventsConfig }),
        ...(o['database'] === undefined
          ? {}
          : {
              database: {
                url: o['database'] as string,
                schema: o['databaseSchema'] as string,
                poolSize: o['databasePool'] as number,
              },
            }),
      })
      // Before the endpoint lines: whoever reads them may stop the server at once.
      const graceSeconds = o['shutdownGrace'] as number
      let stopping = false
      const stop = (signal: 'SIGINT' | 'SIGTERM') => {
        // 130 / 143: the shell's status for a process the signal ended.
        const signalStatus = 128 + osConstants.signals[signal]
        if (stopping) {
          console.error(`fleetjobs: ${signal} again, exiting at once`)
          process.exit(signalStatus)
        }
        stopping = true
        console.log(
          `fleetjobs: ${signal} received, finishing in-flight requests (at most ${graceSeconds} s; ${signal} again exits at once)`,
        )
        setTimeout(
          () => {
            console.error(
              `fleetjobs: shutdown not done ${graceSeconds} s + ${SHUTDOWN_EXIT_MARGIN_MS / 1000} s after ${signal}; exiting`,
            )
            process.exit(1)
          },
          graceSeconds * 1000 + SHUTDOWN_EXIT_MARGIN_MS,
        ).unref()
        server.close({ graceMs: graceSeconds * 1000 }).then(
          () => process.exit(0),
          (error: unknown) => {
            console.error('fleetjobs: shutdown failed:', error)
            process.exit(1)
          },
        )
      }
      process.on('SIGINT', () => stop('SIGINT'))
      process.on('SIGTERM', () => stop('SIGTERM'))
      for (const notice of server.notices) console.error(`fleetjobs: ${notice}`)
      console.log(`fleetjobs control plane (iot):            ${server.url}`)
      console.log(`fleetjobs device data plane (iot-jobs-data): ${server.dataPlaneUrl}`)
      console.log(`fleetjobs device data plane, same port:      ${server.url}/iot-jobs-data`)
      if (server.mqttUrl !== undefined)
        console.log(`fleetjobs MQTT (embedded broker):              ${server.mqttUrl}`)
      const externalUrl = o['mqttUrl'] as string | undefined
      // Credentials in the URL are not printed.
      if (externalUrl !== undefined)
        console.log(
          `fleetjobs MQTT (external broker):              ${externalUrl.replace(/\/\/[^@/]*@/, '//***@')}`,
        )
      if (server.mqttWebSocketUrl !== undefined)
        console.log(`fleetjobs MQTT over WebSocket:                ${server.mqttWebSocketUrl}`)
      if (server.mqttTlsUrl !== undefined)
        console.log(`fleetjobs MQTT over TLS (client certificates): ${server.mqttTlsUrl}`)
      if (server.dataPlaneTlsUrl !== undefined)
        console.log(`fleetjobs device data plane over HTTPS (client certificates): ${server.dataPlaneTlsUrl}`)
      if (server.tlsCaPath !== undefined)
        console.log(
          `fleetjobs TLS: devices trust the local CA ${server.tlsCaPath}; they authenticate with a certificate from CreateKeysAndCertificate (or registered), ACTIVE and attached to their thing, client id = thing name`,
        )
      else if (server.dataPlaneTlsUrl !== undefined || server.mqttTlsUrl !== undefined)
        console.log(
          `fleetjobs TLS: server certificate ${o['tlsCert'] as string}; devices authenticate with a registered ACTIVE certificate attached to their thing, client id = thing name`,
        )
      const host = o['host'] as string
      console.log(
        server.httpAuth.mode === 'sigv4'
          ? `fleetjobs HTTP authentication: sigv4 — every request must carry an AWS Signature V4 made with one of the ${server.httpAuth.keys} access key(s) of ${credentialsFile ?? 'the credentials file'}; others get 403`
          : isLoopback(host)
            ? 'fleetjobs HTTP authentication: none (any caller on this machine; listening on loopback only)'
            : `fleetjobs HTTP authentication: NONE — anyone who can reach ${host} can create, cancel and delete jobs and act as any device (--auth sigv4 --credentials-file <file> to require signatures)`,
      )
      if (server.console !== undefined) {
        const methods = server.console.loginMethods
        const login =
          methods.length === 0
            ? isLoopback(host)
              ? 'no login: HTTP and MQTT authentication are off, listening on loopback only'
              : `NO LOGIN: anyone who can reach ${host} can use it (--auth sigv4 or --mqtt-auth on to require one, --no-console to turn it off)`
            : `login required: ${methods
                .map((m) =>
                  m === 'access-key'
                    ? 'an access key id and its secret access key from the credentials file'
                    : `username ${OPERATOR_USERNAME} with the operator token (\`fleetjobs device-token --operator\`)`,
                )
                .join(', or ')}`
        console.log(
          `fleetjobs console: ${server.console.url} (${login})${server.console.built ? '' : ' — NOT BUILT: run npm run build'}`,
        )
      }
      console.log(
        server.httpAuth.mode === 'none'
          ? `fleetjobs probes: ${server.url}/healthz, /readyz and /metrics (Prometheus), open like the API`
          : o['metricsToken'] === undefined
            ? `fleetjobs probes: ${server.url}/healthz answers anyone; /readyz and /metrics answer 403 until --metrics-token is set`
            : `fleetjobs probes: ${server.url}/healthz answers anyone; /readyz and /metrics require Authorization: Bearer <--metrics-token>`,
      )
      if (server.context.time.mode === 'virtual')
        console.log(
          `fleetjobs clock: virtual, at ${new Date(server.context.clock.nowMs()).toISOString()} (moves only through POST ${server.url}/_fleetjobs/clock/advance; not for production)`,
        )
      if (server.mqttAuth !== undefined)
        console.log(
          server.mqttAuth
            ? 'fleetjobs MQTT device authentication: on (username = thing name, password = `fleetjobs device-token <thing>`)'
            : `fleetjobs MQTT device authentication: off on ${server.mqttUrl ?? 'the TCP port'} (any client, any topic; --mqtt-auth on to require it)${server.mqttTlsUrl === undefined ? '' : '; the TLS port always requires a certificate'}`,
        )
    } catch (error) {
      if (
        error instanceof PortInUseError ||
        error instanceof DataDirError ||
        error instanceof DatabaseUnavailableError ||
        error instanceof MissingCredentialsError ||
        error instanceof CredentialsFileError ||
        error instanceof TlsConfigError
      ) {
        console.error(`fleetjobs: ${error.message}`)
        process.exit(2)
      }
      throw error
    }
  })

program
  .command('device-token')
  .description("print the MQTT password of a thing's device (username: the thing name)")
  .argument('[thingName]', 'the thing')
  .option('--operator', `the operator's password instead (username: ${OPERATOR_USERNAME}; any topic)`)
  .addOption(dataDirOption())
  .addOption(authSecretOption())
  .action((thingName: string | undefined, o: Record<string, unknown>) => {
    const fail = (message: string): never => {
      console.error(`fleetjobs: ${message}`)
      process.exit(2)
    }
    const username = o['operator'] === true ? OPERATOR_USERNAME : thingName
    if (username === undefined || username === '') return fail('name a thing, or pass --operator')
    if (username !== OPERATOR_USERNAME && !THING_NAME.test(username))
      return fail(
        `${JSON.stringify(username)} is not a thing name: 1 to 128 characters of a-z A-Z 0-9 : _ - (no device could connect with it)`,
      )
    const dataDir = o['dataDir'] as string
    const secret = o['mqttAuthSecret'] as string | undefined
    // Without the secret given, the tokens derive from the data directory's; a folder that is not a
    // server's would get a new secret of its own, and the token could never work.
    if ((secret === undefined || secret === '') && !isDataDir(dataDir))
      return fail(
        `--data-dir ${dataDir} is not a fleetjobs data directory (no ${DATABASE_FILE}, no ${DEVICE_SECRET_FILE}): name the folder the server uses (--data-dir or FLEETJOBS_DATA_DIR), or give its secret with --mqtt-auth-secret`,
      )
    try {
      console.log(DeviceAuth.load(dataDir, secret).tokenFor(username))
    } catch (error) {
      fail(`--data-dir ${dataDir}: cannot read the device secret: ${(error as Error).message}`)
    }
  })

registerSimulateCommand(program)
await program.parseAsync(process.argv)
