/**
 * The child side of the bench's server processes: each `bench/serve/*.ts` entry starts its server,
 * says `ready` with its URLs over the IPC channel, answers `call`s from the bench process and exits
 * after `close` (so `--cpu-prof` profiles are written) or when the bench process goes away.
 */

export interface ServerInfo {
  /** Control-plane base URL. */
  readonly url: string
  /** Data-plane base URL (its own listener). */
  readonly dataPlaneUrl: string
  /** The MQTT broker's URL, `mqtt://127.0.0.1:<port>`, for servers that have one. */
  readonly mqttUrl?: string
  /** MQTT over TLS with client certificates, `mqtts://127.0.0.1:<port>`, for servers that have it. */
  readonly mqttTlsUrl?: string
  /** The CA (PEM file) a TLS listener's certificate chains to, when the bench should read it there. */
  readonly tlsCaPath?: string
}

export type ChildMessage =
  | { readonly type: 'ready'; readonly info: ServerInfo }
  | { readonly type: 'result'; readonly id: number; readonly ok: true; readonly value: unknown }
  | { readonly type: 'result'; readonly id: number; readonly ok: false; readonly error: string }

export type ParentMessage = {
  readonly type: 'call'
  readonly id: number
  readonly method: string
  readonly args: unknown
}

export interface ChildServer {
  readonly info: ServerInfo
  /** Methods the bench process may call; `close` is handled here. */
  readonly handlers: Readonly<Record<string, (args: unknown) => unknown>>
  close(): Promise<void>
}

/** The JSON configuration the bench process passes as the first argument. */
export function childConfig<T>(): T {
  const raw = process.argv[2]
  if (raw === undefined) throw new Error('missing configuration argument')
  return JSON.parse(raw) as T
}

export async function serveChild(start: () => Promise<ChildServer>): Promise<void> {
  const send = (message: ChildMessage, then?: () => void): void => {
    if (process.send === undefined) throw new Error('bench servers run as forked children (IPC)')
    process.send(message, undefined, {}, () => then?.())
  }
  let server: ChildServer | undefined = undefined
  let closing: Promise<void> | undefined
  const close = (): Promise<void> => (closing ??= server?.close() ?? Promise.resolve())
  // The bench process went away without closing us: stop anyway (during the start too: a child whose
  // parent died while it started would otherwise never hear of it, and live on).
  process.on('disconnect', () => {
    void close().finally(() => process.exit(0))
  })
  const running = await start()
  server = running
  if (!process.connected) {
    await close()
    process.exit(0)
  }
  process.on('message', (message: ParentMessage) => {
    if (message.type !== 'call') return
    if (message.method === 'close') {
      close().then(
        () => send({ type: 'result', id: message.id, ok: true, value: null }, () => process.exit(0)),
        (error: unknown) =>
          send({ type: 'result', id: message.id, ok: false, error: String(error) }, () => process.exit(1)),
      )
      return
    }
    // Every child answers `cpuMs` (its own CPU time) and `settle` (nothing deferred to finish, unless
    // its handlers say otherwise).
    const handler = running.handlers[message.method] ?? GENERIC[message.method]
    Promise.resolve()
      .then(() => {
        if (handler === undefined) throw new Error(`no method ${message.method}`)
        return handler(message.args)
      })
      .then(
        (value) => send({ type: 'result', id: message.id, ok: true, value: value ?? null }),
        (error: unknown) =>
          send({
            type: 'result',
            id: message.id,
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error),
          }),
      )
  })
  send({ type: 'ready', info: running.info })
}

/**
 * This process's resident set size in bytes, after a full garbage collection when the child runs with
 * `--expose-gc` (so garbage left by seeding does not count as memory of what comes next).
 */
export function residentBytes(): number {
  const gc = (globalThis as { gc?: () => void }).gc
  gc?.()
  return process.memoryUsage().rss
}

/** CPU time (user + system) this process has used so far, in milliseconds. */
const GENERIC: Readonly<Record<string, (args: unknown) => unknown>> = {
  cpuMs: () => cpuMs(),
  settle: () => undefined,
}

export function cpuMs(): number {
  const { user, system } = process.cpuUsage()
  return (user + system) / 1000
}
