/**
 * The node:http listeners: the limits that keep a slow, idle, oversized or too numerous client from
 * holding the service (the body limit is in server.ts), and a graceful shutdown that ends busy
 * keep-alive connections instead of serving them forever. [docs/decisions.md#limits-and-shutdown]
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerOptions, ServerResponse } from 'node:http'
import { createServer as createHttpsServer } from 'node:https'
import type { Server as HttpsServer } from 'node:https'
import type { Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'

export interface HttpLimits {
  /** Time to receive a request's headers; later: 408 and the connection closes. */
  readonly headersTimeoutMs: number
  /** Time to receive a whole request, body included; later: 408 and the connection closes. */
  readonly requestTimeoutMs: number
  /** An idle keep-alive connection is closed after this long (responses say so: `Keep-Alive: timeout=…`). */
  readonly keepAliveTimeoutMs: number
  /** How often node looks for requests past their timeouts: a timeout fires up to this much late. */
  readonly timeoutCheckIntervalMs: number
  /** Open connections per listener; beyond it, new connections are closed as they arrive. */
  readonly maxConnections: number
  /** Largest request line plus headers; larger: 431 and the connection closes. */
  readonly maxHeaderBytes: number
}

export const DEFAULT_HTTP_LIMITS: HttpLimits = {
  // SDKs send their headers in one write; 10 s is ample for any client that is not stalling.
  headersTimeoutMs: 10_000,
  // 1 MiB at the slowest link we care about (~300 kbit/s) takes ~30 s; a body that never ends holds its
  // connection no longer than that (node's default is 5 minutes).
  requestTimeoutMs: 30_000,
  // Longer than clients keep idle connections (undici 4 s, load balancers 60 s, AWS's ALB advice: the
  // backend's longer than theirs), so that the client closes first: a server that closes first races
  // the client's next request, which then fails with ECONNRESET (seen with 5 s: the AWS SDK's node
  // Agent keeps idle sockets without a timeout). A shutdown does not wait for idle connections anyway.
  keepAliveTimeoutMs: 65_000,
  timeoutCheckIntervalMs: 1_000,
  // Far below a production file-descriptor limit (ulimit -n 65536), far above what one node serves.
  maxConnections: 10_000,
  // node's default (16 KiB), stated so that it does not change under us.
  maxHeaderBytes: 16 * 1024,
}

/** Dropped connections are logged at most this often, with their count, not once each. */
const DROP_LOG_INTERVAL_MS = 10_000

type Handler = (req: IncomingMessage, res: ServerResponse) => void

/**
 * HTTPS that asks every client for a certificate (the device data plane on TLS). The registry, not
 * the TLS chain, decides whether it is good: certificates may be registered without their CA, so the
 * handshake accepts any, and the request handler checks it (docs/tls.md).
 */
export interface ListenerTls {
  readonly keyPem: string
  readonly certPem: string
}

/** One node:http (or node:https) server with its limits, and the HTTP connections it holds open. */
export class HttpListener {
  readonly server: Server | HttpsServer
  /** Open HTTP connections (not those upgraded to a WebSocket) and their unfinished responses. */
  private readonly connections = new Map<Socket, Set<ServerResponse>>()
  /** Connections upgraded to a WebSocket, for `destroyAll`. */
  private readonly upgraded = new Set<Socket>()
  private draining = false
  private onDrained: (() => void) | undefined
  private readonly closed: Promise<void>
  private dropped = 0
  private lastDropLogMs = Number.NEGATIVE_INFINITY

  constructor(handler: Handler, limits: HttpLimits, logger: Logger, tls?: ListenerTls) {
    const options: ServerOptions = {
      // node refuses a headers timeout longer than the request timeout; the request one bounds both.
      headersTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
      requestTimeout: limits.requestTimeoutMs,
      connectionsCheckingInterval: limits.timeoutCheckIntervalMs,
      maxHeaderSize: limits.maxHeaderBytes,
      // Small responses (and MQTT-over-WebSocket frames on the main port) leave at once instead of
      // waiting for an ACK under Nagle's algorithm: node's default, stated so that it stays.
      noDelay: true,
    }
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
      this.track(req, res)
      handler(req, res)
    }
    this.server =
      tls === undefined
        ? createServer(options, onRequest)
        : createHttpsServer(
            {
              ...options,
              key: tls.keyPem,
              cert: tls.certPem,
              requestCert: true,
              rejectUnauthorized: false,
              handshakeTimeout: Math.min(limits.headersTimeoutMs, limits.requestTimeoutMs),
            },
            onRequest,
          )
    this.server.keepAliveTimeout = limits.keepAliveTimeoutMs
    this.server.maxConnections = limits.maxConnections
    this.closed = new Promise((resolve) => this.server.once('close', resolve))
    // Over TLS the requests' socket is the TLS one, which exists once the handshake is done.
    this.server.on(tls === undefined ? 'connection' : 'secureConnection', (socket: Socket) => {
      socket.setNoDelay(true)
      this.connections.set(socket, new Set())
      socket.once('close', () => this.forget(socket))
    })
    this.server.on('drop', () => {
      this.dropped += 1
      const now = performance.now()
      if (now - this.lastDropLogMs < DROP_LOG_INTERVAL_MS) return
      logger.warn(
        { dropped: this.dropped, maxConnections: limits.maxConnections },
        'too many open connections: new connections are closed as they arrive',
      )
      this.dropped = 0
      this.lastDropLogMs = now
    })
    // A connection upgraded to a WebSocket (MQTT on the main port) is no longer HTTP: its owner, the
    // broker, closes it. Watched only once someone takes upgrades: without an 'upgrade' listener node
    // answers them as plain requests, and must go on doing so.
    let watchingUpgrades = false
    this.server.on('newListener', (event) => {
      if (event !== 'upgrade' || watchingUpgrades) return
      watchingUpgrades = true
      this.server.prependListener('upgrade', (_req: IncomingMessage, socket: Socket) => {
        this.forget(socket)
        this.upgraded.add(socket)
        socket.once('close', () => this.upgraded.delete(socket))
      })
    })
  }

  /** Listens; rejects with node's error (`EADDRINUSE`, …). */
  listen(port: number, host: string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(port, host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
  }

  /**
   * Stops taking connections and ends the open HTTP ones: idle keep-alive connections at once, busy
   * ones after the response under way, which says `Connection: close` (as does every response from
   * now on). Resolves once every HTTP connection is closed, or at `deadlineMs` (`performance.now()`
   * time), when the rest are destroyed with their requests unanswered. WebSocket connections are left
   * to the broker; `whenClosed()` waits for them.
   */
  async shutdown(deadlineMs: number): Promise<{ readonly destroyed: number }> {
    if (!this.draining) {
      this.draining = true
      // Stops accepting, and closes every connection that has no request under way.
      this.server.close()
    }
    for (const responses of this.connections.values()) {
      for (const res of responses) if (!res.headersSent) res.setHeader('connection', 'close')
    }
    if (this.connections.size > 0) {
      const drained = new Promise<void>((resolve) => (this.onDrained = resolve))
      await beforeDeadline(drained, deadlineMs)
    }
    const destroyed = this.connections.size
    for (const socket of this.connections.keys()) socket.destroy()
    return { destroyed }
  }

  /** Resolves when the server has closed: every connection, WebSockets included, is gone. */
  whenClosed(): Promise<void> {
    return this.closed
  }

  /** Destroys every connection left, WebSockets included (after `shutdown`, when the deadline is past). */
  destroyAll(): void {
    this.server.closeAllConnections()
    for (const socket of this.upgraded) socket.destroy()
  }

  /** Closes at once the open connections `doomed` picks (a revoked client certificate's). */
  destroyConnections(doomed: (socket: Socket) => boolean): number {
    let n = 0
    for (const socket of this.connections.keys()) {
      if (!doomed(socket)) continue
      socket.destroy()
      n += 1
    }
    return n
  }

  private track(req: IncomingMessage, res: ServerResponse): void {
    const socket = req.socket
    const responses = this.connections.get(socket)
    if (responses === undefined) return
    responses.add(res)
    if (this.draining) res.setHeader('connection', 'close')
    res.once('close', () => {
      responses.delete(res)
      // A response whose headers left before the shutdown began kept its connection alive: end it.
      if (this.draining && responses.size === 0) socket.destroySoon()
    })
  }

  private forget(socket: Socket): void {
    this.connections.delete(socket)
    if (this.draining && this.connections.size === 0) this.onDrained?.()
  }
}

/** Whether `work` settled before `deadlineMs` (`performance.now()` time); never waits past it. */
export async function beforeDeadline(work: Promise<unknown>, deadlineMs: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), Math.max(0, deadlineMs - performance.now()))
  })
  try {
    return await Promise.race([work.then(() => true), late])
  } finally {
    clearTimeout(timer)
  }
}
