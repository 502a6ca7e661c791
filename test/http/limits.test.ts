/**
 * The HTTP listeners' limits, each over-limit case a clean refusal (413, 431, 408, or a closed
 * connection) and never a crash, a hang or a body read to its end: raw TCP clients against the real
 * server on port 0. [docs/decisions.md#limits-and-shutdown]
 */
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { Socket, connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import { pino } from 'pino'
import { MAX_BODY_BYTES } from '../../src/http/server.js'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'

/** Every wait in this file ends by this bound; none is the thing under test. */
const BOUND_MS = 15_000

async function within<T>(work: Promise<T>, what: string, boundMs = BOUND_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`not within ${boundMs} ms: ${what}`)), boundMs)
  })
  try {
    return await Promise.race([work, late])
  } finally {
    clearTimeout(timer)
  }
}

interface RawResponse {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly body: string
}

/** A raw client connection that records what it received and when the server closed it. */
class RawConnection {
  received = Buffer.alloc(0)
  readonly closed: Promise<void>
  private isClosed = false
  private onData: (() => void) | undefined

  private constructor(readonly socket: Socket) {
    socket.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk])
      this.onData?.()
    })
    // EPIPE / ECONNRESET while we write: the server closed the connection, which the tests wait for.
    socket.on('error', () => undefined)
    this.closed = new Promise((resolve) =>
      socket.once('close', () => {
        this.isClosed = true
        this.onData?.()
        resolve()
      }),
    )
  }

  static async open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url)
    const socket = connect(Number(port), hostname)
    await within(once(socket, 'connect'), `connect to ${url}`)
    return new RawConnection(socket)
  }

  get open(): boolean {
    return !this.isClosed
  }

  write(data: string | Buffer): Promise<void> {
    return new Promise((resolve) => {
      if (this.socket.destroyed || this.socket.write(data) || this.socket.destroyed) return resolve()
      const done = () => {
        this.socket.off('drain', done)
        this.socket.off('close', done)
        resolve()
      }
      this.socket.once('drain', done)
      this.socket.once('close', done)
    })
  }

  /** Waits (bounded) until `text` has arrived. */
  waitForText(text: string): Promise<void> {
    return within(
      new Promise<void>((resolve, reject) => {
        const check = () => {
          if (this.received.includes(text)) return resolve()
          if (this.isClosed) reject(new Error(`closed before "${text}": ${this.received.toString()}`))
        }
        this.onData = check
        check()
      }),
      `"${text}" from the server`,
    )
  }

  /** The first complete response on the connection (waits for it, bounded). */
  response(): Promise<RawResponse> {
    return within(
      new Promise<RawResponse>((resolve, reject) => {
        const check = () => {
          const parsed = parseResponse(this.received)
          if (parsed !== undefined) return resolve(parsed)
          if (this.isClosed) reject(new Error(`closed without a response: ${this.received.toString()}`))
        }
        this.onData = check
        check()
      }),
      'a response',
    )
  }

  destroy(): void {
    this.socket.destroy()
  }
}

function parseResponse(data: Buffer): RawResponse | undefined {
  const end = data.indexOf('\r\n\r\n')
  if (end < 0) return undefined
  const [statusLine = '', ...lines] = data.subarray(0, end).toString('latin1').split('\r\n')
  const headers = Object.fromEntries(
    lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]),
  )
  const length = Number(headers['content-length'] ?? 0)
  if (data.length < end + 4 + length) return undefined
  return {
    status: Number(statusLine.split(' ')[1]),
    headers,
    body: data.subarray(end + 4, end + 4 + length).toString('utf8'),
  }
}

const request = (method: string, path: string, headers: Record<string, string | number> = {}): string =>
  `${method} ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\n${Object.entries(headers)
    .map(([k, v]) => `${k}: ${v}\r\n`)
    .join('')}\r\n`

const ABORTED = 'client closed the connection before the request was complete'

/** Log lines of a server, to wait for one and to check that none is an error. */
class LogSink {
  readonly lines: { level: number; msg: string }[] = []
  private waiters: (() => void)[] = []
  readonly logger = pino({ level: 'debug' }, { write: (line: string) => this.add(line) })

  private add(line: string): void {
    this.lines.push(JSON.parse(line) as { level: number; msg: string })
    for (const w of this.waiters) w()
  }

  /** Waits (bounded) for a line `msg` among those logged since line number `since`. */
  waitFor(msg: string, since: number): Promise<void> {
    return within(
      new Promise<void>((resolve) => {
        const check = () => {
          if (this.lines.slice(since).some((l) => l.msg === msg)) resolve()
        }
        this.waiters.push(check)
        check()
      }),
      `log "${msg}"`,
    )
  }

  /** pino's error (50) and fatal (60). */
  errors(): { level: number; msg: string }[] {
    return this.lines.filter((l) => l.level >= 50)
  }
}

/** Writes `total` bytes of body in 64 KiB pieces until done or the server closes the connection. */
async function pushBody(
  c: RawConnection,
  total: number,
  chunked: boolean,
): Promise<{ written: number; closedEarly: boolean }> {
  const piece = Buffer.alloc(64 * 1024, 'x')
  let written = 0
  while (written < total && c.open) {
    await c.write(
      chunked
        ? Buffer.concat([Buffer.from(`${piece.length.toString(16)}\r\n`), piece, Buffer.from('\r\n')])
        : piece,
    )
    written += piece.length
  }
  return { written, closedEarly: written < total }
}

describe('HTTP limits with the default settings', () => {
  let h: Harness
  before(async () => {
    h = await startHarness({ mqtt: undefined })
  })
  after(async () => {
    await h.close()
  })

  // A client may send 200 MiB; what it manages to write before the close is what the kernel buffers
  // (here at most ~4 MiB sent + 32 MiB received, net.ipv4.tcp_wmem/tcp_rmem), far from the whole body.
  const HUGE = 200 * 1024 * 1024
  const BUFFERED_AT_MOST = 64 * 1024 * 1024

  for (const chunked of [false, true]) {
    it(`a ${chunked ? 'chunked body that grows' : 'declared Content-Length'} over 1 MiB → 413 naming the limit, and the connection closes instead of reading the rest`, async () => {
      const c = await RawConnection.open(h.server.url)
      await c.write(
        request('POST', `/things/${unique('big')}`, {
          'content-type': 'application/json',
          ...(chunked ? { 'transfer-encoding': 'chunked' } : { 'content-length': HUGE }),
        }),
      )
      const pushed = pushBody(c, HUGE, chunked)
      const res = await c.response()
      assert.equal(res.status, 413)
      assert.equal(res.headers['x-amzn-errortype'], 'RequestEntityTooLargeException')
      assert.equal(res.headers['connection'], 'close')
      assert.match(
        String((JSON.parse(res.body) as { message: string }).message),
        new RegExp(`${MAX_BODY_BYTES} bytes`),
      )
      await within(c.closed, 'the server closes the connection')
      const { written, closedEarly } = await within(pushed, 'the writes stop')
      assert.ok(closedEarly && written < BUFFERED_AT_MOST, `the client wrote ${written} bytes`)
    })
  }

  it('a body of exactly 1 MiB is read and answered (unknown padding member dropped) on a connection kept alive', async () => {
    const thingName = unique('exact')
    const prefix = '{"attributePayload":{"attributes":{"k":"v"}},"padding":"'
    const body = `${prefix}${'x'.repeat(MAX_BODY_BYTES - prefix.length - 2)}"}`
    assert.equal(Buffer.byteLength(body), MAX_BODY_BYTES)
    const c = await RawConnection.open(h.server.url)
    await c.write(request('POST', `/things/${thingName}`, { 'content-length': MAX_BODY_BYTES }))
    await c.write(body)
    const res = await c.response()
    assert.equal(res.status, 200, res.body)
    assert.notEqual(res.headers['connection'], 'close')
    assert.ok(c.open)
    c.destroy()
  })

  it('headers over 16 KiB → 431 and the connection closes', async () => {
    const c = await RawConnection.open(h.server.url)
    await c.write(request('GET', '/things', { 'x-padding': 'p'.repeat(20 * 1024) }))
    const res = await c.response()
    assert.equal(res.status, 431)
    await within(c.closed, 'the server closes the connection')
  })

  it('responses announce the 65 s keep-alive timeout, longer than clients keep idle connections', async () => {
    const res = await fetch(`${h.server.url}/things`)
    assert.equal(res.status, 200)
    assert.equal(res.headers.get('keep-alive'), 'timeout=65')
    await res.body?.cancel()
  })

  it('turns Nagle off on every connection (noDelay)', async (t) => {
    // A spy: the real setNoDelay runs, each call is recorded with its socket.
    const spy = t.mock.method(Socket.prototype, 'setNoDelay')
    const c = await RawConnection.open(h.server.url)
    await c.write(request('GET', '/things'))
    assert.equal((await c.response()).status, 200)
    const serverSide = spy.mock.calls.find((call) => (call.this as Socket).remotePort === c.socket.localPort)
    assert.ok(serverSide !== undefined, 'setNoDelay was called on the server side of the connection')
    assert.notEqual(serverSide.arguments[0], false)
    c.destroy()
  })
})

describe('HTTP limits with short timeouts and few connections', () => {
  let h: Harness
  const logs = new LogSink()
  before(async () => {
    h = await startHarness({
      mqtt: undefined,
      logger: logs.logger,
      httpLimits: {
        headersTimeoutMs: 300,
        requestTimeoutMs: 600,
        keepAliveTimeoutMs: 200,
        timeoutCheckIntervalMs: 50,
        maxConnections: 3,
      },
    })
  })
  after(async () => {
    await h.close()
  })

  it('a chunked body that never ends → 408 at the request timeout, the connection closed, logged at debug only', async () => {
    const since = logs.lines.length
    const c = await RawConnection.open(h.server.url)
    await c.write(request('POST', `/things/${unique('slow')}`, { 'transfer-encoding': 'chunked' }))
    await c.write('2\r\n{}\r\n')
    const res = await c.response()
    assert.equal(res.status, 408)
    await within(c.closed, 'the server closes the connection')
    await logs.waitFor(ABORTED, since)
    assert.deepEqual(logs.errors(), [])
  })

  it('headers that never end → 408 at the headers timeout, the connection closed', async () => {
    const c = await RawConnection.open(h.server.url)
    await c.write('GET /things HTTP/1.1\r\nHost: 127.0.0.1\r\n')
    const res = await c.response()
    assert.equal(res.status, 408)
    await within(c.closed, 'the server closes the connection')
  })

  it('a connection that never sends a byte → 408 at the headers timeout, the connection closed', async () => {
    const c = await RawConnection.open(h.server.url)
    const res = await c.response()
    assert.equal(res.status, 408)
    await within(c.closed, 'the server closes the connection')
  })

  it('an idle keep-alive connection is closed at the keep-alive timeout', async () => {
    const c = await RawConnection.open(h.server.url)
    await c.write(request('GET', '/things'))
    assert.equal((await c.response()).status, 200)
    await within(c.closed, 'the server closes the idle connection')
  })

  it('a client that goes away mid-body is logged at debug, not as an error', async () => {
    const since = logs.lines.length
    const c = await RawConnection.open(h.server.url)
    // node answers `100 Continue` as it hands the request to the handler: then the body is awaited.
    await c.write(
      request('POST', `/things/${unique('gone')}`, { 'content-length': 1000, expect: '100-continue' }),
    )
    await c.waitForText('100 Continue')
    await c.write('{"attributePayload":')
    c.destroy()
    await logs.waitFor(ABORTED, since)
    assert.deepEqual(logs.errors(), [])
  })
})

describe('HTTP limits: maxConnections', () => {
  let h: Harness
  before(async () => {
    h = await startHarness({ mqtt: undefined, httpLimits: { maxConnections: 2 } })
  })
  after(async () => {
    await h.close()
  })

  it('connections over the limit are closed as they arrive, unanswered; those within it go on being served', async () => {
    // Each listener counts its own; these all go to the main one.
    const held = await Promise.all([1, 2].map(() => RawConnection.open(h.server.url)))
    const served = async (c: RawConnection) => {
      c.received = Buffer.alloc(0)
      await c.write(request('GET', '/things'))
      assert.equal((await c.response()).status, 200)
    }
    // Answered: the server has counted both.
    for (const c of held) await served(c)
    const extra = await RawConnection.open(h.server.url)
    await extra.write(request('GET', '/things'))
    await within(extra.closed, 'the server closes the connection over the limit')
    assert.equal(extra.received.length, 0)
    for (const c of held) await served(c)
    for (const c of held) c.destroy()
  })
})
