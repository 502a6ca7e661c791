/**
 * What the embedded broker holds per client and per second, so that no client, and no crowd of clients,
 * can make fleetjobs buffer without bound (docs/mqtt.md#limits). Each limit refuses cleanly: a CONNACK
 * return code, a closed connection, or a `RequestThrottled` reply; never a crash.
 */

export interface BrokerLimits {
  /**
   * The largest MQTT packet a client may send, fixed header included. A larger one closes the
   * connection as soon as its header arrives; its body is never buffered.
   */
  readonly maxPacketBytes: number
  /**
   * Bytes written to a client that it has not read yet. A client further behind is disconnected (a slow
   * or stalled reader); its persistent session, if any, keeps its queue.
   */
  readonly maxOutboundBufferBytes: number
  /** QoS 1 messages kept for a persistent session (queued while away, or sent and not yet acknowledged). */
  readonly maxQueuedMessagesPerSession: number
  /**
   * Device requests of one thing waiting to be served; beyond it a request is answered `RequestThrottled`
   * at once.
   */
  readonly maxQueuedRequestsPerThing: number
  /** New connections accepted per second, all clients together; 0 turns the limit off. */
  readonly connectsPerSecond: number
  /**
   * CONNECTs that may wait for their turn (default: one second's worth, `connectsPerSecond`); beyond it a
   * CONNECT is refused (CONNACK 3, server unavailable).
   */
  readonly maxPendingConnects: number
  /**
   * The longest an MQTT 5 session may outlive its connection, in seconds: a larger Session Expiry
   * Interval is lowered to it (and the CONNACK says so). MQTT 3.1.1 persistent sessions (`clean: false`)
   * have no expiry in the protocol and are kept until a Clean Session connection takes the client id.
   */
  readonly maxSessionExpirySeconds: number
}

export const DEFAULT_BROKER_LIMITS: BrokerLimits = {
  // AWS IoT Core's message size limit is 128 KB; a job document is at most 32 KB.
  maxPacketBytes: 128 * 1024,
  // Eight messages of the largest size: a notify-next with a 32 KB document is under 40 KB.
  maxOutboundBufferBytes: 1024 * 1024,
  // AWS IoT Core keeps at most 100 unacknowledged outbound messages per client.
  maxQueuedMessagesPerSession: 100,
  // AWS IoT Core accepts at most 100 unacknowledged inbound messages per client.
  maxQueuedRequestsPerThing: 100,
  // AWS IoT Core's default is 500 CONNECTs per second per account; a fleet reconnecting after a restart
  // is paced to this, and the CONNECTs beyond it wait (up to a second's worth) or retry.
  connectsPerSecond: 500,
  maxPendingConnects: 500,
  // AWS IoT Core's default persistent session expiry period (1 hour; adjustable there up to 7 days).
  maxSessionExpirySeconds: 3600,
}

/** Fills in the defaults; rejects values that would disable a bound by accident. */
export function brokerLimits(overrides: Partial<BrokerLimits> = {}): BrokerLimits {
  const connectsPerSecond = overrides.connectsPerSecond ?? DEFAULT_BROKER_LIMITS.connectsPerSecond
  const limits = { ...DEFAULT_BROKER_LIMITS, maxPendingConnects: connectsPerSecond, ...overrides }
  for (const [name, value] of Object.entries(limits)) {
    const allowsZero = name === 'connectsPerSecond' || name === 'maxPendingConnects'
    if (!Number.isInteger(value) || value < (allowsZero ? 0 : 1))
      throw new RangeError(
        `MQTT limit ${name} must be a${allowsZero ? ' non-negative' : ' positive'} integer`,
      )
  }
  // [MQTT-2.2.3] the Remaining Length field holds at most 268,435,455
  if (limits.maxPacketBytes > 268_435_460)
    throw new RangeError('maxPacketBytes is beyond what MQTT can carry')
  // [MQTT-3.1.2.11.2] 0xFFFFFFFF means "never expires", not a duration
  if (limits.maxSessionExpirySeconds >= 0xffffffff)
    throw new RangeError('maxSessionExpirySeconds must be below 4294967295 (which means "never")')
  return limits
}

/**
 * Follows the packet boundaries of the bytes a client sends, reading only each fixed header (one type
 * byte, then the Remaining Length in 1–4 bytes of 7 bits [MQTT-2.2.3]) and skipping the bodies, so that
 * an oversized packet is noticed from its header, before its body is read. Pure: no I/O.
 */
export class PacketSizeGuard {
  /** Body bytes of the current packet still to come. */
  private remaining = 0
  /** Inside a Remaining Length field. */
  private inLength = false
  private lengthValue = 0
  private lengthBytes = 0

  constructor(private readonly maxPacketBytes: number) {}

  /** Takes the next bytes of the stream; false once a packet is too large or its length is malformed. */
  accept(chunk: Uint8Array): boolean {
    let i = 0
    while (i < chunk.length) {
      if (this.remaining > 0) {
        const skipped = Math.min(this.remaining, chunk.length - i)
        this.remaining -= skipped
        i += skipped
        continue
      }
      if (!this.inLength) {
        // The type byte of the next packet.
        this.inLength = true
        this.lengthValue = 0
        this.lengthBytes = 0
        i += 1
        continue
      }
      const byte = chunk[i] ?? 0
      i += 1
      this.lengthValue += (byte & 0x7f) * 128 ** this.lengthBytes
      this.lengthBytes += 1
      if ((byte & 0x80) !== 0) {
        // [MQTT-2.2.3] at most four length bytes
        if (this.lengthBytes === 4) return false
        continue
      }
      this.inLength = false
      if (1 + this.lengthBytes + this.lengthValue > this.maxPacketBytes) return false
      this.remaining = this.lengthValue
    }
    return true
  }
}

/**
 * Paces new connections: a token bucket of `ratePerSecond` tokens (holding at most one second's worth),
 * each CONNECT taking one. A CONNECT that finds the bucket empty waits in line, up to `maxPending` of
 * them, and goes ahead when its token is due; one beyond that is refused at once. Time is the real one
 * (`nowMs`): this guards the process, not the service's clock.
 */
export class ConnectRateLimiter {
  private tokens: number
  private lastMs: number
  private readonly waiting: ((admitted: boolean) => void)[] = []
  private timer: NodeJS.Timeout | undefined
  private closed = false

  constructor(
    private readonly ratePerSecond: number,
    private readonly maxPending: number,
    private readonly nowMs: () => number = () => performance.now(),
  ) {
    this.tokens = ratePerSecond
    this.lastMs = nowMs()
  }

  /** Calls `done(true)` when the connection may proceed, now or after waiting; `done(false)` if refused. */
  admit(done: (admitted: boolean) => void): void {
    if (this.ratePerSecond === 0) return done(true)
    if (this.closed) return done(false)
    this.refill()
    if (this.waiting.length === 0 && this.tokens >= 1) {
      this.tokens -= 1
      return done(true)
    }
    if (this.waiting.length >= this.maxPending) return done(false)
    this.waiting.push(done)
    this.arm()
  }

  /** Connections waiting for their turn. */
  get pending(): number {
    return this.waiting.length
  }

  /** Refuses whoever waits; later CONNECTs are refused too. */
  close(): void {
    this.closed = true
    if (this.timer !== undefined) clearTimeout(this.timer)
    for (const done of this.waiting.splice(0)) done(false)
  }

  private refill(): void {
    const now = this.nowMs()
    this.tokens = Math.min(
      this.ratePerSecond,
      this.tokens + ((now - this.lastMs) * this.ratePerSecond) / 1000,
    )
    this.lastMs = now
  }

  private arm(): void {
    if (this.timer !== undefined) return
    const waitMs = Math.max(1, Math.ceil(((1 - this.tokens) * 1000) / this.ratePerSecond))
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.refill()
      while (this.waiting.length > 0 && this.tokens >= 1) {
        this.tokens -= 1
        this.waiting.shift()?.(true)
      }
      if (this.waiting.length > 0) this.arm()
    }, waitMs)
  }
}
