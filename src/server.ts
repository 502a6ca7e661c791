/**
 * The composition root: reads the configuration, opens the store, starts the listeners, and stops
 * them in order (listeners stop taking requests, in-flight requests finish, then the store closes).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { performance } from 'node:perf_hooks'
import { createHash } from 'node:crypto'
import { resolve } from 'node:path'
import { pino } from 'pino'
import type { Logger } from 'pino'
import type { AppContext, AppSettings, CertificateRightsChange } from './app/context.js'
import { DEFAULT_SETTINGS } from './app/context.js'
import type { Clock } from './ports/clock.js'
import { systemClock } from './ports/clock.js'
import type { ResponseStyle } from './http/server.js'
import { DATA_PLANE_PREFIX, createRequestHandlers, loadServedModels } from './http/server.js'
import type { HttpLimits } from './http/listener.js'
import { DEFAULT_HTTP_LIMITS, HttpListener, beforeDeadline } from './http/listener.js'
import { DeviceAuth, deviceAuthEnabled, isLoopback } from './mqtt/device-auth.js'
import type { Credentials } from './http/sigv4.js'
import { SigV4Verifier } from './http/sigv4.js'
import { EmbeddedBroker, MQTT_WEBSOCKET_PATH } from './mqtt/embedded-broker.js'
import type { BrokerTls } from './mqtt/embedded-broker.js'
import { CertificateRecheck } from './schedulers/certificate-recheck.js'
import type { BrokerLimits } from './mqtt/broker-limits.js'
import { NotificationDispatcher } from './mqtt/notifications.js'
import { EventDispatcher } from './mqtt/events.js'
import { DeviceMqttService } from './mqtt/service.js'
import { ExternalBroker } from './mqtt/external-broker.js'
import type { MqttTransport } from './mqtt/transport.js'
import type { RateLimit } from './app/throttle.js'
import { JobDeletionWorker } from './schedulers/job-deletion.js'
import { TimeDrivenWork } from './schedulers/time-driven.js'
import { VirtualClock } from './schedulers/virtual-clock.js'
import { checkDataDir, openSqliteStore } from './storage/data-dir.js'
export { DataDirError } from './storage/data-dir.js'
import { PgStore } from './storage/postgres/pg-store.js'
import type { PgStoreOptions } from './storage/postgres/pg-store.js'
import type { Store } from './ports/store.js'
import { DataDirPki } from './pki/local-ca.js'
import { Metrics } from './observability/metrics.js'
import { probeRoutes } from './observability/probes.js'
import { PG_MIGRATIONS } from './storage/postgres/migrations.js'
import { MIGRATIONS as SQLITE_MIGRATIONS } from './storage/sqlite/migrations.js'
import { listen, listenOrFallBack, startBroker, urlOf, whenListenerClosed } from './server-listeners.js'
export { PortInUseError } from './server-listeners.js'
import type { TlsConfig } from './server-tls.js'
import type { WebConsole } from './console/console.js'
import { CONSOLE_PREFIX, createConsole } from './console/console.js'
import { OPERATOR_USERNAME } from './mqtt/device-auth.js'
import { serverIdentity, socketCertificateId } from './server-tls.js'
export { TlsConfigError } from './server-tls.js'
export type { TlsConfig } from './server-tls.js'

/** A handler for requests beside the AWS APIs on the main port: true when it took the request. */
export type SideRoute = (req: IncomingMessage, res: ServerResponse) => boolean

export interface ServerConfig {
  readonly host: string
  /** Control-plane port; 0 picks a free one. */
  readonly port: number
  /** Data-plane port; 0 picks a free one; undefined turns the second listener off. */
  readonly dataPlanePort?: number | undefined
  readonly dataDir: string
  readonly region: string
  readonly accountId: string
  readonly responseStyle: ResponseStyle
  readonly rateLimit?: { readonly controlPlane?: RateLimit; readonly dataPlane?: RateLimit } | undefined
  readonly settings?: Partial<AppSettings> | undefined
  readonly clock?: Clock | undefined
  /**
   * `virtual`: a clock that stands still and moves only through the test API (`--clock virtual`), from
   * `clockStartMs` (default: the real time at start-up). [spec: test-clock#1]
   */
  readonly clockMode?: 'system' | 'virtual' | undefined
  readonly clockStartMs?: number | undefined
  readonly logger?: Logger | undefined
  /**
   * HTTP request authentication (`--auth`): `sigv4` verifies every request's AWS Signature V4 against
   * `credentials`; `none` accepts any caller; `auto` (the default) is `none` when `host` is a loopback
   * address and `sigv4` otherwise. [spec: wire-protocol#7]
   */
  readonly auth?: { readonly mode?: HttpAuthMode | undefined; readonly credentials?: Credentials | undefined }
  /** The embedded MQTT broker; undefined turns MQTT off. */
  readonly mqtt?: MqttConfig | undefined
  /** Jobs events published to the broker, per family; both off by default. [spec: jobs-device-api#5] */
  readonly events?: EventsConfig | undefined
  /**
   * PostgreSQL instead of the SQLite file in `dataDir` (docs/deployment.md): several nodes may share it.
   */
  readonly database?: DatabaseConfig | undefined
  /** Timeouts and connection limits of the HTTP listeners (tests shorten them); default DEFAULT_HTTP_LIMITS. */
  readonly httpLimits?: Partial<HttpLimits> | undefined
  /** Devices over TLS with X.509 client certificates (docs/tls.md); undefined: no TLS listeners. */
  readonly tls?: TlsConfig | undefined
  /**
   * The bearer token `/readyz` and `/metrics` require when HTTP authentication is on (`--metrics-token`);
   * without it they answer 403 there. On loopback without authentication they answer anyone.
   */
  readonly metricsToken?: string | undefined
  /** The web console at `/console` on the main port (docs/console.md); default on (`--no-console`). */
  readonly console?: boolean | undefined
}

/** How long a shutdown waits for requests under way before it closes their connections (`--shutdown-grace`). */
export const DEFAULT_SHUTDOWN_GRACE_MS = 10_000

export interface CloseOptions {
  /**
   * Time for the requests under way to finish (default DEFAULT_SHUTDOWN_GRACE_MS); then their
   * connections are closed unanswered, and the rest of the shutdown (MQTT, outbox, store) goes on.
   */
  readonly graceMs?: number | undefined
}

export type HttpAuthMode = 'sigv4' | 'none' | 'auto'

/** SigV4 is required (or `auto` chose it) but no access key was given. */
export class MissingCredentialsError extends Error {
  constructor(host: string) {
    super(
      `HTTP authentication is sigv4 (listening on ${host}, not loopback) but no access keys were given: pass --credentials-file <file> (the AWS CLI's credentials format), or --auth none to accept any caller`,
    )
  }
}

/** Whether requests must be SigV4-signed: `auto` is off only on a loopback address. */
export function httpAuthEnabled(mode: HttpAuthMode | undefined, host: string): boolean {
  if (mode === 'sigv4') return true
  if (mode === 'none') return false
  return !isLoopback(host)
}

/** Executions timed out per transaction during a virtual advance (time.timeout-sweep-100k: 4 commits). */
const VIRTUAL_TIMEOUT_BATCH = 25_000

export interface DatabaseConfig {
  /** `postgres://user[:password]@host[:port]/database`. */
  readonly url: string
  /** The schema of fleetjobs' tables (created when missing); default `fleetjobs`. */
  readonly schema?: string | undefined
  /** Connections in this node's pool; default 10. */
  readonly poolSize?: number | undefined
}

/** Which Jobs event families are published (they need MQTT). */
export interface EventsConfig {
  readonly job: boolean
  readonly jobExecution: boolean
}

export interface MqttConfig {
  /** Port of the embedded broker; 0 picks a free one. Ignored with `url`. */
  readonly port: number
  /** An external broker to use instead of the embedded one (`mqtt://user:pass@host:port`). */
  readonly url?: string | undefined
  /** Shared-subscription group for several nodes on one external broker. */
  readonly sharedGroup?: string | undefined
  /**
   * When the port was not chosen by the user and is taken (1883 usually is, by another broker), listen on
   * a free port instead and say so, rather than refusing to start.
   */
  readonly fallbackToFreePort?: boolean
  /** Serve the namespaced get/start-next topics [open-question 47]. */
  readonly namespacedListTopics?: boolean
  /**
   * Device authentication on the embedded broker (docs/mqtt.md#device-authentication): `auto` (the
   * default) is off when `host` is a loopback address and on otherwise.
   */
  readonly auth?: 'on' | 'off' | 'auto' | undefined
  /** The secret device tokens derive from; default: generated in the data directory. */
  readonly authSecret?: string | undefined
  /** The embedded broker's bounds (docs/mqtt.md#limits); default DEFAULT_BROKER_LIMITS. */
  readonly limits?: Partial<BrokerLimits> | undefined
}

export const DEFAULT_CONFIG: ServerConfig = {
  host: '127.0.0.1',
  port: 8080,
  dataPlanePort: 8081,
  dataDir: './.fleetjobs',
  region: 'us-east-1',
  accountId: '123456789012',
  responseStyle: 'aws',
}

export interface RunningServer {
  /** Control-plane URL (also serves the data plane under `/iot-jobs-data`). */
  readonly url: string
  /** Data-plane URL on its own listener, or the prefixed URL when that listener is off. */
  readonly dataPlaneUrl: string
  /** The embedded broker's TCP URL, when MQTT is on. */
  readonly mqttUrl?: string
  /** MQTT over WebSocket on the main port, when MQTT is on. */
  readonly mqttWebSocketUrl?: string
  /** Whether the embedded broker requires device authentication. */
  readonly mqttAuth?: boolean
  /** The embedded broker, when MQTT is on and not external (tests read its stats). */
  readonly mqttBroker?: EmbeddedBroker
  /** MQTT over TLS on the embedded broker (client certificates), when on. */
  readonly mqttTlsUrl?: string
  /** The device data plane over HTTPS (client certificates), when on. */
  readonly dataPlaneTlsUrl?: string
  /** The certificate authority devices trust for the TLS listeners, when they use the local CA. */
  readonly tlsCaPath?: string
  /** The web console, when on: its URL and what its login takes (none: no login). */
  readonly console?: {
    readonly url: string
    readonly loginMethods: readonly ('access-key' | 'operator')[]
    /** False when dist/public/console is missing (`npm run build` makes it). */
    readonly built: boolean
  }
  /** How HTTP requests are authenticated, and with how many access keys. */
  readonly httpAuth: { readonly mode: 'sigv4' | 'none'; readonly keys: number }
  readonly context: AppContext
  /** Things the operator should know about the start (a default port that was taken, …). */
  readonly notices: readonly string[]
  /** Background workers, exposed so tests can wait for them. */
  readonly workers: {
    readonly jobDeletion: JobDeletionWorker
    readonly time: TimeDrivenWork
    readonly notifications?: NotificationDispatcher
    readonly events?: EventDispatcher
    /** The re-check of connected certificates, when MQTT over TLS is on. */
    readonly certificateRecheck?: CertificateRecheck
  }
  /**
   * Stops in order: the HTTP listeners take no more connections, answer the requests under way (with
   * `Connection: close`) and close idle keep-alive connections at once; time-driven work and deletions
   * stop; device requests under way finish and the outbox is published while devices are still
   * connected (within the grace); the broker disconnects its clients; the store closes. Every request
   * answered before is in the store. [docs/decisions.md#limits-and-shutdown]
   */
  close(options?: CloseOptions): Promise<void>
}

export async function startServer(config: ServerConfig): Promise<RunningServer> {
  const logger = config.logger ?? pino({ level: process.env['FLEETJOBS_LOG_LEVEL'] ?? 'info' })
  const sigv4 = httpAuthEnabled(config.auth?.mode, config.host)
  const credentials = config.auth?.credentials ?? new Map<string, string>()
  if (sigv4 && credentials.size === 0) throw new MissingCredentialsError(config.host)
  // Without MQTT nobody publishes events, so none is recorded.
  const eventFamilies = {
    job: config.mqtt !== undefined && config.events?.job === true,
    jobExecution: config.mqtt !== undefined && config.events?.jobExecution === true,
  }
  const virtualClock =
    config.clockMode === 'virtual' ? new VirtualClock(config.clockStartMs ?? Date.now()) : undefined
  const clock: Clock = virtualClock ?? config.clock ?? systemClock
  const storeOptions = {
    notifications: config.mqtt !== undefined,
    events: eventFamilies,
    clock,
  }
  // One server per SQLite data directory (openSqliteStore locks it); PostgreSQL nodes are many by
  // design and may share a folder, which holds only the MQTT device secret (storage/data-dir.ts).
  if (config.database !== undefined) checkDataDir(config.dataDir, { create: false })
  const store: Store =
    config.database === undefined
      ? openSqliteStore(config.dataDir, {
          ...storeOptions,
          onSpace: ({ full, freeBytes }) => {
            if (full)
              logger.error(
                { dataDir: config.dataDir, freeBytes },
                'the disk of the database is full: writes answer 503 until space is freed',
              )
            else logger.info({ dataDir: config.dataDir, freeBytes }, 'disk space is back: writes resume')
          },
        })
      : await openPostgres(config.database, storeOptions)
  const lease = store instanceof PgStore ? store.lease : undefined
  const jobDeletion = new JobDeletionWorker(store, (error) =>
    logger.error({ err: error }, 'job deletion failed'),
  )
  const timeWork = new TimeDrivenWork(
    store,
    clock,
    (error) => logger.error({ err: error }, 'time-driven work failed; will try again'),
    // An advance of the virtual clock has no device waiting on its instants: larger batches, fewer commits.
    virtualClock === undefined ? {} : { timeoutBatch: VIRTUAL_TIMEOUT_BATCH },
  )
  const pki = new DataDirPki(config.dataDir)
  const onRightsRevoked: ((change: CertificateRightsChange) => void)[] = []
  const context: AppContext = {
    pki,
    certificateRightsRevoked: (change) => {
      for (const close of onRightsRevoked) close(change)
    },
    store,
    clock,
    scope: { region: config.region, accountId: config.accountId },
    settings: { ...DEFAULT_SETTINGS, ...config.settings },
    wake: () => jobDeletion.wake(),
    time: {
      mode: virtualClock === undefined ? 'system' : 'virtual',
      settleDue: () => timeWork.settleNow(),
      advanceTo: (targetMs) =>
        virtualClock === undefined
          ? Promise.reject(new Error('the clock is not virtual'))
          : timeWork.advanceTo(virtualClock, targetMs),
    },
  }
  // The broker, once started: /metrics counts its clients, /readyz asks whether it can publish.
  let brokerForProbes: MqttTransport | undefined
  let embeddedForProbes: EmbeddedBroker | undefined
  const metrics = new Metrics({
    store,
    clock,
    mqttConnectedClients:
      config.mqtt === undefined || config.mqtt.url !== undefined
        ? undefined
        : () => embeddedForProbes?.stats().connectedClients ?? 0,
  })
  const models = loadServedModels()
  const verifier = sigv4 ? new SigV4Verifier(credentials, () => clock.nowMs()) : undefined
  const handlers = createRequestHandlers(
    context,
    {
      responseStyle: config.responseStyle,
      rateLimit: config.rateLimit,
      logger,
      auth: verifier,
      nowMs: () => clock.nowMs(),
      certificateIdentity: (certificateId, thingName) => store.certificateIdentity(certificateId, thingName),
      observe: metrics.observeRequest,
    },
    models,
  )
  const listeners: HttpListener[] = []
  const notices: string[] = []
  const httpLimits: HttpLimits = { ...DEFAULT_HTTP_LIMITS, ...config.httpLimits }
  try {
    // Pages and probes beside the AWS APIs on the main port (console, /metrics, /healthz, /readyz): each
    // answers the requests it owns and returns true; the rest go to the AWS routes.
    const sideRoutes: SideRoute[] = []
    // ---- web console (issue 13: src/console/, docs/console.md) ----
    // Its login takes what already protects the service: the SigV4 access keys, or the MQTT operator's
    // token when the embedded broker authenticates devices; with neither (loopback defaults), none.
    let webConsole: WebConsole | undefined
    if (config.console !== false) {
      const operatorAuth =
        config.mqtt !== undefined &&
        config.mqtt.url === undefined &&
        deviceAuthEnabled(config.mqtt.auth, config.host)
          ? DeviceAuth.load(config.dataDir, config.mqtt.authSecret)
          : undefined
      const created = createConsole({
        context,
        models,
        logger,
        logins: {
          accessKeys: sigv4 ? credentials : undefined,
          operator:
            operatorAuth === undefined
              ? undefined
              : { username: OPERATOR_USERNAME, token: operatorAuth.tokenFor(OPERATOR_USERNAME) },
        },
      })
      store.onCommit(() => created.changed())
      // On PostgreSQL, other nodes' commits that left work for the dispatchers wake the lease holder.
      lease?.onWake(() => created.changed())
      sideRoutes.push(created.route)
      webConsole = created
    }
    // ---- end of web console ----
    const mainListener = new HttpListener(
      (req, res) => {
        for (const route of sideRoutes) if (route(req, res)) return
        handlers.main(req, res)
      },
      httpLimits,
      logger,
    )
    listeners.push(mainListener)
    const main = await listen(mainListener, config.host, config.port, '--port')
    const dataListener =
      config.dataPlanePort === undefined
        ? undefined
        : new HttpListener(handlers.dataPlane, httpLimits, logger)
    if (dataListener !== undefined) listeners.push(dataListener)
    const data =
      dataListener === undefined
        ? undefined
        : await listen(dataListener, config.host, config.dataPlanePort ?? 0, '--data-plane-port')
    const tlsIdentity =
      config.tls === undefined ? undefined : await serverIdentity(config.tls, pki, config.host)
    let dataTls: HttpListener | undefined
    if (config.tls?.dataPlanePort !== undefined && tlsIdentity !== undefined) {
      const listener = new HttpListener(handlers.dataPlaneTls, httpLimits, logger, tlsIdentity.identity)
      listeners.push(listener)
      dataTls = await listenOrFallBack(
        listener,
        config.host,
        config.tls.dataPlanePort,
        '--data-plane-tls-port',
        config.tls.fallbackToFreePort === true,
        notices,
        'HTTPS data-plane',
      )
      // A certificate that lost its rights loses its keep-alive connections too (the next request is checked anyway).
      onRightsRevoked.push(({ certificateId }) => {
        listener.destroyConnections((socket) => socketCertificateId(socket) === certificateId)
      })
    }
    let mqtt:
      | {
          broker: MqttTransport
          service: DeviceMqttService
          notifications: NotificationDispatcher
          events?: EventDispatcher
        }
      | undefined
    let embedded: EmbeddedBroker | undefined
    let certificateRecheck: CertificateRecheck | undefined
    if (config.mqtt !== undefined) {
      let broker: MqttTransport
      if (config.mqtt.url === undefined) {
        const auth = deviceAuthEnabled(config.mqtt.auth, config.host)
          ? {
              auth: DeviceAuth.load(config.dataDir, config.mqtt.authSecret),
              thingExists: (name: string) => store.thingExists(name),
            }
          : undefined
        const brokerTls: BrokerTls | undefined =
          config.tls?.mqttPort === undefined || tlsIdentity === undefined
            ? undefined
            : {
                port: config.tls.mqttPort,
                host: config.host,
                key: tlsIdentity.identity.keyPem,
                cert: tlsIdentity.identity.certPem,
                certificateIdentity: (certificateId, clientId) =>
                  store.certificateIdentity(certificateId, clientId),
                logger,
              }
        embedded = await startBroker(
          config.host,
          config.mqtt,
          notices,
          auth,
          brokerTls,
          config.tls?.fallbackToFreePort === true,
        )
        if (brokerTls !== undefined) {
          const broker = embedded
          // A certificate that lost its rights on this node: its connections close now.
          onRightsRevoked.push(({ certificateId, thingName }) => {
            broker.disconnectCertificate(certificateId, thingName)
          })
          // Changes made on other nodes (PostgreSQL): the connected certificates are re-checked.
          certificateRecheck = new CertificateRecheck(store, broker, logger)
        }
        embedded.attachWebSocket(main.server, verifier)
        broker = embedded
      } else {
        // Several nodes on one database: only the lease holder takes device requests, so each request
        // is answered once (Mosquitto gives no $-topics to shared subscriptions; docs/deployment.md).
        const requestsByLease =
          lease !== undefined && config.mqtt.sharedGroup === undefined ? lease : undefined
        const external = await ExternalBroker.connect({
          url: config.mqtt.url,
          sharedGroup: config.mqtt.sharedGroup,
          clientId: `fleetjobs-${createHash('sha256')
            .update(resolve(config.dataDir))
            .update(config.database === undefined ? '' : `${config.host}:${config.port}`)
            .digest('hex')
            .slice(0, 16)}`,
          serveRequests: requestsByLease?.held ?? true,
        })
        requestsByLease?.onChange((held) => {
          external.serveRequests(held).catch((error: unknown) => {
            logger.warn({ err: error }, 'changing the device request subscription failed')
          })
        })
        broker = external
      }
      const service = new DeviceMqttService(
        context,
        models,
        broker,
        { namespacedListTopics: config.mqtt.namespacedListTopics ?? false },
        (error) => logger.error({ err: error }, 'MQTT request failed'),
        // The per-thing data-plane limit applies to MQTT requests too (its own buckets).
        config.rateLimit?.dataPlane,
        config.mqtt.limits?.maxQueuedRequestsPerThing,
      )
      const notifications = new NotificationDispatcher(context, broker, (error) =>
        logger.warn({ err: error }, 'publishing notifications failed; will try again'),
      )
      // Between the batches of a time-driven pass, publishing waits for the pass to end.
      store.onCommit(() => {
        if (!timeWork.busy) notifications.wake()
      })
      timeWork.onPassEnd(() => notifications.wake())
      if (lease !== undefined && config.mqtt.url === undefined)
        notices.push(
          'PostgreSQL with the embedded MQTT broker: devices must all connect to this node; several nodes need an external broker (--mqtt-url, docs/deployment.md).',
        )
      // Rows a stopped process committed but did not publish. [ARCHITECTURE: outbox]
      notifications.wake()
      mqtt = { broker, service, notifications }
      if (eventFamilies.job || eventFamilies.jobExecution) {
        const events = new EventDispatcher(context, broker, (error) =>
          logger.warn({ err: error }, 'publishing Jobs events failed; will try again'),
        )
        store.onCommit(() => {
          if (!timeWork.busy) events.wake()
        })
        timeWork.onPassEnd(() => events.wake())
        // Events a stopped process committed but did not publish. [ARCHITECTURE: outbox]
        events.wake()
        mqtt.events = events
      }
    }
    brokerForProbes = mqtt?.broker
    embeddedForProbes = embedded
    sideRoutes.push(
      probeRoutes({
        metrics,
        logger,
        protect: sigv4,
        token: config.metricsToken,
        readiness: {
          pingStore: () => store.ping(),
          migrations:
            store instanceof PgStore
              ? `PostgreSQL schema ${config.database?.schema ?? 'fleetjobs'} at version ${PG_MIGRATIONS.at(-1)?.version ?? 0}`
              : `SQLite at version ${SQLITE_MIGRATIONS.at(-1)?.version ?? 0}`,
          ...(config.mqtt === undefined
            ? {}
            : { brokerConnected: () => brokerForProbes?.connected() ?? false }),
        },
      }),
    )
    const url = urlOf(config.host, main)
    // Deletions a stopped process left unfinished. [spec: jobs-control-plane#deletejob]
    jobDeletion.wake()
    // Time-driven work: in system mode a timer for the earliest due instant (with several nodes, on the
    // lease holder only: each effect once); in virtual mode only what an advance asks, plus whatever a
    // restart finds already due. [spec: test-clock] [spec: state-machines#4]
    if (virtualClock !== undefined) {
      await timeWork.settleNow()
    } else if (lease === undefined) {
      timeWork.start()
    } else {
      if (lease.held) timeWork.start()
      lease.onChange((held) => {
        if (held) timeWork.start()
        else void timeWork.stop()
      })
    }
    // On PostgreSQL another node may start a deletion, or this node may take over the lease.
    if (lease !== undefined) {
      lease.onWake(() => jobDeletion.wake())
      lease.onChange((held) => {
        if (held) jobDeletion.wake()
      })
    }
    return {
      url,
      dataPlaneUrl: data === undefined ? `${url}${DATA_PLANE_PREFIX}` : urlOf(config.host, data),
      ...(dataTls === undefined ? {} : { dataPlaneTlsUrl: urlOf(config.host, dataTls, 'https') }),
      ...(tlsIdentity?.caPath === undefined ? {} : { tlsCaPath: tlsIdentity.caPath }),
      ...(embedded === undefined
        ? {}
        : {
            mqttUrl: `mqtt://${config.host.includes(':') ? `[${config.host}]` : config.host}:${embedded.port}`,
            mqttWebSocketUrl: `${url.replace(/^http/, 'ws')}${MQTT_WEBSOCKET_PATH}`,
            mqttAuth: embedded.authenticates,
            mqttBroker: embedded,
            ...(embedded.tlsPort === undefined
              ? {}
              : {
                  mqttTlsUrl: `mqtts://${config.host.includes(':') ? `[${config.host}]` : config.host}:${embedded.tlsPort}`,
                }),
          }),
      context,
      notices,
      ...(webConsole === undefined
        ? {}
        : {
            console: {
              url: `${url}${CONSOLE_PREFIX}/`,
              loginMethods: webConsole.login.methods,
              built: webConsole.built,
            },
          }),
      httpAuth: { mode: sigv4 ? 'sigv4' : 'none', keys: sigv4 ? credentials.size : 0 },
      workers: {
        jobDeletion,
        time: timeWork,
        ...(mqtt === undefined ? {} : { notifications: mqtt.notifications }),
        ...(mqtt?.events === undefined ? {} : { events: mqtt.events }),
        ...(certificateRecheck === undefined ? {} : { certificateRecheck }),
      },
      close: async (options = {}) => {
        const deadlineMs = performance.now() + (options.graceMs ?? DEFAULT_SHUTDOWN_GRACE_MS)
        // The console's event streams never end by themselves: end them before the listeners drain.
        webConsole?.close()
        const cut = await Promise.all(listeners.map((l) => l.shutdown(deadlineMs)))
        const destroyed = cut.reduce((sum, c) => sum + c.destroyed, 0)
        if (destroyed > 0)
          logger.warn(
            { connections: destroyed },
            'shutdown grace elapsed: requests under way left unanswered',
          )
        // No more writes of our own; whatever they leave is resumed at the next start.
        await certificateRecheck?.stop()
        await timeWork.stop()
        await jobDeletion.stop()
        if (mqtt !== undefined) {
          await mqtt.service.drain()
          // Committed notifications reach the devices still connected; what the grace leaves stays in
          // the outbox for the next start. [ARCHITECTURE: outbox]
          mqtt.notifications.wake()
          mqtt.events?.wake()
          await beforeDeadline(Promise.all([mqtt.notifications.idle(), mqtt.events?.idle()]), deadlineMs)
          await mqtt.notifications.stop()
          await mqtt.events?.stop()
          // Disconnects the devices, MQTT over WebSocket on the main port too.
          await mqtt.broker.close()
        }
        await Promise.all(listeners.map((l) => whenListenerClosed(l, deadlineMs)))
        await store.close()
      },
    }
  } catch (error) {
    const now = performance.now()
    await Promise.all(listeners.map((l) => l.shutdown(now)))
    await Promise.all(listeners.map((l) => whenListenerClosed(l, now)))
    await store.close()
    throw error
  }
}

async function openPostgres(
  database: DatabaseConfig,
  options: Omit<PgStoreOptions, 'url'>,
): Promise<PgStore> {
  try {
    return await PgStore.open({
      ...options,
      url: database.url,
      schema: database.schema,
      poolSize: database.poolSize,
    })
  } catch (error) {
    throw new DatabaseUnavailableError(database.url, error)
  }
}

/** PostgreSQL could not be reached or prepared at start-up; names the database without its password. */
export class DatabaseUnavailableError extends Error {
  constructor(url: string, cause: unknown) {
    const reason = (cause as { cause?: unknown }).cause ?? cause
    super(
      `cannot open the PostgreSQL database ${redactUrl(url)}: ${reason instanceof Error ? reason.message : String(reason)}`,
      { cause },
    )
  }
}

function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return '(an invalid URL)'
  }
}
