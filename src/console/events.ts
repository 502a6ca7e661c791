/**
 * Server-sent events for the console: "something changed, look again". Fed by the store's commit hook,
 * the same one that wakes the MQTT notification dispatcher, and coalesced so that a burst of commits
 * (10,000 device updates a second) costs each open page one small event per interval, not one per
 * commit. The page refetches only what it shows; nothing here reads the store.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'

/** At most one `changed` event per client in this interval (≈4 refreshes a second: smooth, cheap). */
export const COALESCE_MS = 250
/** A comment line this often keeps proxies and idle timers from closing a quiet stream. */
export const HEARTBEAT_MS = 15_000
/** The browser waits this long before it reconnects a dropped stream (the `retry:` field). */
const RECONNECT_MS = 2_000

export class ConsoleEvents {
  private readonly clients = new Set<ServerResponse>()
  private dirty = false
  private timer: NodeJS.Timeout | undefined
  private lastSentMs = Number.NEGATIVE_INFINITY
  private readonly heartbeat: NodeJS.Timeout
  private seq = 0
  private closed = false

  constructor(private readonly coalesceMs = COALESCE_MS) {
    this.heartbeat = setInterval(() => this.broadcast(': keep-alive\n\n'), HEARTBEAT_MS)
    this.heartbeat.unref()
  }

  /** How many pages are listening. */
  get size(): number {
    return this.clients.size
  }

  /** Call after every commit: cheap (a flag and at most one timer), whatever the commit rate. */
  changed(): void {
    if (this.closed || this.clients.size === 0) return
    this.dirty = true
    if (this.timer !== undefined) return
    const waitMs = Math.max(0, this.lastSentMs + this.coalesceMs - performance.now())
    this.timer = setTimeout(() => this.flush(), waitMs)
    this.timer.unref()
  }

  /** Takes a request for the stream: answers with the event-stream headers and keeps it open. */
  open(req: IncomingMessage, res: ServerResponse): void {
    if (this.closed) {
      res.writeHead(503, { 'content-type': 'text/plain' }).end('shutting down')
      return
    }
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      'x-accel-buffering': 'no',
    })
    // The first event tells the page it is connected (and to load what may have changed while it was not).
    res.write(`retry: ${RECONNECT_MS}\nevent: hello\ndata: ${this.seq}\n\n`)
    this.clients.add(res)
    const forget = () => this.clients.delete(res)
    res.once('close', forget)
    req.once('close', forget)
  }

  /** Ends every stream (before the listeners drain, so that a shutdown does not wait for them). */
  close(): void {
    this.closed = true
    clearInterval(this.heartbeat)
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    for (const res of this.clients) res.end()
    this.clients.clear()
  }

  private flush(): void {
    this.timer = undefined
    if (!this.dirty) return
    this.dirty = false
    this.lastSentMs = performance.now()
    this.seq += 1
    this.broadcast(`event: changed\ndata: ${this.seq}\n\n`)
  }

  private broadcast(text: string): void {
    for (const res of this.clients) {
      // A slow reader's buffer is not grown without bound: the next event says the same thing anyway.
      if (res.writableNeedDrain) continue
      res.write(text)
    }
  }
}
