/**
 * The composition root's listeners: each on its port, a taken default port moved to a free one with a
 * notice (1883, 8883, 8443), a taken chosen one refused naming its flag; their URLs; and the wait for
 * their last connections at shutdown.
 */
import type { AddressInfo } from 'node:net'
import type { HttpListener } from './http/listener.js'
import { beforeDeadline } from './http/listener.js'
import { EmbeddedBroker } from './mqtt/embedded-broker.js'
import type { BrokerAuth, BrokerListenError, BrokerTls } from './mqtt/embedded-broker.js'
import type { MqttConfig } from './server.js'

/** A port that is taken, named with the flag that changes it. */
export class PortInUseError extends Error {
  constructor(
    readonly port: number,
    readonly flag: string,
  ) {
    super(`port ${port} is already in use; choose another with ${flag} (or 0 for any free port)`)
  }
}

export async function startBroker(
  host: string,
  config: MqttConfig,
  notices: string[],
  auth: BrokerAuth | undefined,
  tls: BrokerTls | undefined,
  tlsFallback: boolean,
): Promise<EmbeddedBroker> {
  let port = config.port
  let tlsOptions = tls
  const moved: { tcp?: number; tls?: number } = {}
  // At most one retry per listener: a taken default port moves to a free one, with a notice.
  for (let attempt = 0; ; attempt += 1) {
    try {
      const broker = await EmbeddedBroker.start(host, port, auth, config.limits, tlsOptions)
      if (moved.tcp !== undefined)
        notices.push(
          `MQTT port ${moved.tcp} is already in use (another MQTT broker?); the embedded broker listens on port ${broker.port} instead. Choose one with --mqtt-port.`,
        )
      if (moved.tls !== undefined)
        notices.push(
          `MQTT over TLS port ${moved.tls} is already in use; the embedded broker listens on port ${broker.tlsPort ?? 0} for it instead. Choose one with --mqtt-tls-port.`,
        )
      return broker
    } catch (error) {
      const failed = error as BrokerListenError
      if (failed.code !== 'EADDRINUSE' || attempt >= 2) throw error
      if (failed.listener === 'tls' && tlsOptions !== undefined) {
        if (!tlsFallback) throw new PortInUseError(tlsOptions.port, '--mqtt-tls-port')
        moved.tls = tlsOptions.port
        tlsOptions = { ...tlsOptions, port: 0 }
      } else {
        if (config.fallbackToFreePort !== true) throw new PortInUseError(port, '--mqtt-port')
        moved.tcp = port
        port = 0
      }
    }
  }
}

export async function listen(
  listener: HttpListener,
  host: string,
  port: number,
  flag: string,
): Promise<HttpListener> {
  try {
    await listener.listen(port, host)
    return listener
  } catch (error) {
    throw (error as NodeJS.ErrnoException).code === 'EADDRINUSE' ? new PortInUseError(port, flag) : error
  }
}

/**
 * After HttpListener.shutdown and the broker's close: waits for the listener's last connections (the
 * WebSockets the broker closes), destroying what is left at the deadline.
 */
export async function whenListenerClosed(listener: HttpListener, deadlineMs: number): Promise<void> {
  if (!(await beforeDeadline(listener.whenClosed(), deadlineMs))) listener.destroyAll()
  await listener.whenClosed()
}

export function urlOf(host: string, listener: HttpListener, scheme: 'http' | 'https' = 'http'): string {
  const { port } = listener.server.address() as AddressInfo
  const h = host.includes(':') ? `[${host}]` : host
  return `${scheme}://${h}:${port}`
}

/** Listens on `port`; when it is taken and `fallback` allows, on a free port, with a notice. */
export async function listenOrFallBack(
  listener: HttpListener,
  host: string,
  port: number,
  flag: string,
  fallback: boolean,
  notices: string[],
  what: string,
): Promise<HttpListener> {
  try {
    return await listen(listener, host, port, flag)
  } catch (error) {
    if (!(error instanceof PortInUseError) || !fallback) throw error
    await listener.listen(0, host)
    const { port: free } = listener.server.address() as AddressInfo
    notices.push(
      `${what} port ${port} is already in use; listening on port ${free} instead. Choose one with ${flag}.`,
    )
    return listener
  }
}
