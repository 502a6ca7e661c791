/**
 * A bare MQTT 3.1.1 (or 5) connection for the tests that must send what mqtt.js will not (a packet header
 * announcing 100 MB, a flood without waiting) or must not read what they are sent: a TCP socket,
 * packets written with mqtt-packet, packets read back with its parser.
 */
import mqttPacket from 'mqtt-packet'
import type { IConnackPacket, Packet } from 'mqtt-packet'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { WAIT_MS } from '../support/mqtt.js'

export class RawClient {
  readonly received: Packet[] = []
  /** Resolves when the connection has closed (either side). */
  readonly closed: Promise<void>
  private waiters: (() => void)[] = []

  private constructor(
    readonly socket: Socket,
    /** MQTT 3.1.1 (4) or MQTT 5, for writing and parsing packets. */
    readonly protocolVersion: 4 | 5,
  ) {
    const parser = mqttPacket.parser({ protocolVersion })
    parser.on('packet', (packet: Packet) => {
      this.received.push(packet)
      const waiters = this.waiters
      this.waiters = []
      for (const w of waiters) w()
    })
    socket.on('data', (chunk: Buffer) => parser.parse(chunk))
    // The server closing the connection may reset it mid-write; that is the point of some tests.
    socket.on('error', () => undefined)
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
  }

  /** Opens a TCP connection to an `mqtt://host:port` URL (nothing sent yet). */
  static open(url: string, protocolVersion: 4 | 5 = 4): Promise<RawClient> {
    const { hostname, port } = new URL(url)
    return new Promise((resolve, reject) => {
      const socket = connect({ host: hostname, port: Number(port) })
      socket.once('error', reject)
      socket.once('connect', () => {
        socket.off('error', reject)
        resolve(new RawClient(socket, protocolVersion))
      })
    })
  }

  /** Opens a connection and sends CONNECT; resolves with the CONNACK. */
  static async connect(
    url: string,
    options: {
      clientId: string
      username?: string
      password?: string
      clean?: boolean
      protocolVersion?: 4 | 5
    },
  ): Promise<{ client: RawClient; connack: IConnackPacket }> {
    const client = await RawClient.open(url, options.protocolVersion)
    client.send({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: client.protocolVersion,
      clientId: options.clientId,
      clean: options.clean ?? true,
      keepalive: 0,
      ...(options.username === undefined ? {} : { username: options.username }),
      ...(options.password === undefined ? {} : { password: Buffer.from(options.password) }),
    })
    const connack = await client.next('CONNACK', (p): p is IConnackPacket => p.cmd === 'connack')
    return { client, connack }
  }

  /** Writes a packet; false when the socket's buffer is full (see Writable.write). */
  send(packet: Packet): boolean {
    return this.socket.write(mqttPacket.generate(packet, { protocolVersion: this.protocolVersion }))
  }

  /** Resolves with the first packet received (so far or later) that matches. */
  async next<T extends Packet>(what: string, match: (p: Packet) => p is T, timeoutMs = WAIT_MS): Promise<T> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const found = this.received.find(match)
      if (found !== undefined) return found
      const left = deadline - Date.now()
      if (left <= 0) throw new Error(`no ${what} within ${timeoutMs} ms`)
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left)
        this.waiters.push(() => {
          clearTimeout(timer)
          resolve()
        })
      })
    }
  }

  /** Resolves once the connection is closed; fails after `timeoutMs`. */
  async closedWithin(timeoutMs = WAIT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      this.closed,
      new Promise<never>((_, reject) => {
        timer = setTimeout(
          () => reject(new Error(`the connection is still open after ${timeoutMs} ms`)),
          timeoutMs,
        )
      }),
    ]).finally(() => clearTimeout(timer))
  }

  destroy(): void {
    this.socket.destroy()
  }
}
