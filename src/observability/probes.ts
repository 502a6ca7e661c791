/**
 * `/healthz`, `/readyz` and `/metrics` on the control-plane port, beside the AWS APIs.
 *
 * - `/healthz`: the process is up and its event loop turns. Answers anyone: it tells nothing an open
 *   port does not.
 * - `/readyz`: the store answers, the migrations are done, the MQTT broker can publish. 200 or 503,
 *   with each check in a JSON body.
 * - `/metrics`: Prometheus' text format (observability/metrics.ts).
 *
 * Off loopback (when HTTP requests must be signed), `/readyz` and `/metrics` require
 * `Authorization: Bearer <--metrics-token>`, which Prometheus (`authorization.credentials`) and
 * Kubernetes probes (`httpHeaders`) can send; without a token configured they answer 403 saying so.
 */
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { Metrics } from './metrics.js'

/** Longest a readiness check waits for the store: a probe must answer even when the database does not. */
export const READY_TIMEOUT_MS = 2_000

export interface ReadinessSources {
  /** Resolves when the store answers a trivial query. */
  readonly pingStore: () => Promise<void>
  /** Whether the MQTT broker can publish; undefined when MQTT is off. */
  readonly brokerConnected?: (() => boolean) | undefined
  /** The schema version the store migrated to (the store opens only once migrations are done). */
  readonly migrations: string
}

export interface ProbeOptions {
  readonly metrics: Metrics
  readonly readiness: ReadinessSources
  readonly logger: Logger
  /** Whether `/readyz` and `/metrics` require the bearer token (HTTP authentication is on). */
  readonly protect: boolean
  /** The bearer token of `/readyz` and `/metrics` (`--metrics-token`). */
  readonly token?: string | undefined
}

export const PROBE_PATHS = ['/healthz', '/readyz', '/metrics'] as const

/** The side route of the probes: true when the request was one of theirs. */
export function probeRoutes(options: ProbeOptions): (req: IncomingMessage, res: ServerResponse) => boolean {
  const token = options.token === undefined ? undefined : Buffer.from(`Bearer ${options.token}`)
  return (req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path !== '/healthz' && path !== '/readyz' && path !== '/metrics') return false
    req.resume()
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      answer(res, 405, 'text/plain', `${path} answers GET\n`, { allow: 'GET, HEAD' })
      return true
    }
    if (path === '/healthz') {
      answer(res, 200, 'text/plain', 'ok\n')
      return true
    }
    if (options.protect) {
      if (token === undefined) {
        answer(
          res,
          403,
          'text/plain',
          `${path} is protected off loopback: start fleetjobs with --metrics-token <token> and send Authorization: Bearer <token>\n`,
        )
        return true
      }
      const given = Buffer.from(req.headers.authorization ?? '')
      if (given.length !== token.length || !timingSafeEqual(given, token)) {
        answer(res, 401, 'text/plain', `${path} needs Authorization: Bearer <the --metrics-token>\n`, {
          'www-authenticate': 'Bearer',
        })
        return true
      }
    }
    const work = path === '/readyz' ? ready(options.readiness, res) : metrics(options.metrics, res)
    work.catch((error: unknown) => {
      options.logger.error({ err: error, path }, 'probe failed')
      answer(res, 500, 'text/plain', 'probe failed\n')
    })
    return true
  }
}

async function metrics(m: Metrics, res: ServerResponse): Promise<void> {
  answer(res, 200, m.contentType, await m.text())
}

type Check = { readonly ok: boolean; readonly detail: string }

async function ready(sources: ReadinessSources, res: ServerResponse): Promise<void> {
  const store = await storeCheck(sources.pingStore)
  const checks: Record<string, Check> = {
    store,
    migrations: { ok: true, detail: sources.migrations },
  }
  if (sources.brokerConnected !== undefined) {
    const connected = sources.brokerConnected()
    checks['mqtt'] = { ok: connected, detail: connected ? 'connected' : 'not connected' }
  }
  const isReady = Object.values(checks).every((c) => c.ok)
  answer(
    res,
    isReady ? 200 : 503,
    'application/json',
    `${JSON.stringify({ status: isReady ? 'ready' : 'unready', checks })}\n`,
  )
}

async function storeCheck(ping: () => Promise<void>): Promise<Check> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${READY_TIMEOUT_MS} ms`)), READY_TIMEOUT_MS)
  })
  try {
    await Promise.race([ping(), timeout])
    return { ok: true, detail: 'answers' }
  } catch (error) {
    return { ok: false, detail: error instanceof Error ? error.message : String(error) }
  } finally {
    clearTimeout(timer)
  }
}

function answer(
  res: ServerResponse,
  status: number,
  contentType: string,
  body: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) return
  res.writeHead(status, {
    'content-type': contentType,
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    ...headers,
  })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}
