/**
 * `fleetjobs serve` on SIGINT/SIGTERM: stops taking connections, answers what is under way with
 * `Connection: close`, closes idle keep-alive connections and MQTT clients at once, exits within
 * `--shutdown-grace`, and at once on a second signal; nothing it acknowledged is lost.
 * [docs/decisions.md#limits-and-shutdown]
 */
import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { mkdtempSync, rmSync } from 'node:fs'
import { Agent, request } from 'node:http'
import { connect } from 'node:net'
import type { Socket } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import mqtt from 'mqtt'
import { dropSchemaFor, serveArgs } from '../support/store.js'
import { CLI } from '../support/cli.js'

/** Every wait ends by this bound (a slow start under `tsx` on a shared machine included). */
const BOUND_MS = 30_000
/** What the CLI allows the store and broker after the grace (src/cli/main.ts), plus scheduling slack. */
const EXIT_MARGIN_MS = 3_000 + 5_000

const dirs: string[] = []
const children: ChildProcess[] = []

after(async () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
  }
  for (const dir of dirs) {
    rmSync(dir, { recursive: true, force: true })
    await dropSchemaFor(dir)
  }
})

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

interface Served {
  readonly child: ChildProcess
  readonly dataDir: string
  readonly url: string
  readonly mqttUrl: string | undefined
  readonly mqttWebSocketUrl: string | undefined
  readonly stdout: () => string
  readonly stderr: () => string
  /** Resolves with the exit status (or the signal that ended it). */
  readonly exited: Promise<number | NodeJS.Signals | null>
  /** Resolves once stdout has a line matching `pattern`. */
  readonly line: (pattern: RegExp) => Promise<string>
}

function freshDataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-shutdown-'))
  dirs.push(dir)
  return dir
}

/** `fleetjobs serve` on `dataDir`, on free ports, started: its endpoint lines have been printed. */
async function serve(dataDir: string, args: string[], env: Record<string, string> = {}): Promise<Served> {
  const child = spawn(
    process.execPath,
    [
      ...CLI,
      'serve',
      '--data-dir',
      dataDir,
      '--port',
      '0',
      '--data-plane-port',
      '0',
      ...serveArgs(dataDir),
      ...args,
    ],
    { env: { ...process.env, FLEETJOBS_LOG_LEVEL: 'silent', ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  )
  children.push(child)
  let out = ''
  let err = ''
  const watchers = new Set<() => void>()
  child.stdout?.on('data', (chunk: Buffer) => {
    out += chunk.toString()
    for (const w of watchers) w()
  })
  child.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()))
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => {
      for (const w of watchers) w()
      resolve(code ?? signal)
    }),
  )
  const line = (pattern: RegExp) =>
    within(
      new Promise<string>((resolve, reject) => {
        const check = () => {
          const found = out.split('\n').find((l) => pattern.test(l))
          if (found !== undefined) resolve(found)
          else if (child.exitCode !== null)
            reject(new Error(`exited before printing ${pattern}: ${out}${err}`))
        }
        watchers.add(check)
        check()
      }),
      `a line ${pattern} from fleetjobs serve`,
    )
  // The last start-up line, in every configuration these tests use.
  await line(/^fleetjobs HTTP authentication:/)
  const urlOn = (pattern: RegExp) =>
    /((?:http|mqtt|ws):\/\/\S+)/.exec(out.split('\n').find((l) => pattern.test(l)) ?? '')?.[1]
  const url = urlOn(/control plane/)
  assert.ok(url !== undefined, out)
  return {
    child,
    dataDir,
    url,
    mqttUrl: urlOn(/MQTT \(embedded broker\)/),
    mqttWebSocketUrl: urlOn(/MQTT over WebSocket/),
    stdout: () => out,
    stderr: () => err,
    exited,
    line,
  }
}

interface Reply {
  readonly status: number
  readonly body: string
}

/** One request on `agent`'s connection; `onSocket` sees each connection the agent uses. */
function send(
  agent: Agent,
  url: string,
  method: string,
  path: string,
  body?: string,
  onSocket?: (s: Socket) => void,
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}${path}`, { method, agent }, (res) => {
      let text = ''
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => (text += chunk))
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }))
      res.on('error', reject)
    })
    req.on('error', reject)
    if (onSocket !== undefined) req.on('socket', onSocket)
    req.end(body)
  })
}

/** A request whose body never finishes arriving: it is under way until the server gives up on it. */
async function requestUnderWay(url: string): Promise<Socket> {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  socket.on('error', () => undefined)
  await within(once(socket, 'connect'), 'connect')
  socket.write(
    `POST /things/stuck HTTP/1.1\r\nHost: ${hostname}\r\nContent-Length: 100\r\nExpect: 100-continue\r\n\r\n`,
  )
  // node answers `100 Continue` as it hands the request to fleetjobs: from then on it is under way.
  let received = ''
  await within(
    new Promise<void>((resolve) => {
      socket.on('data', (chunk: Buffer) => {
        received += chunk.toString()
        if (received.includes('100 Continue')) resolve()
      })
    }),
    'the request reaching fleetjobs',
  )
  socket.write('{"attributePayload":')
  return socket
}

describe('fleetjobs serve shuts down on SIGINT/SIGTERM', () => {
  it('SIGTERM with 8 busy keep-alive clients: each gets at most a few answers, sees its connection closed, the process exits in time, and every acknowledged CreateThing is there after a restart', async (t) => {
    const dataDir = freshDataDir()
    const graceSeconds = 5
    const first = await serve(dataDir, ['--no-mqtt', '--shutdown-grace', String(graceSeconds)])
    const CLIENTS = 8
    const acknowledged: string[] = []
    let signalled = false
    let answeredAfterSignal = 0
    const sockets = new Set<Socket>()
    const connectionsBeforeSignal: number[] = Array.from({ length: CLIENTS }, () => 0)
    let enough: () => void = () => undefined
    const warmedUp = new Promise<void>((resolve) => (enough = resolve))
    const clients = Array.from({ length: CLIENTS }, async (_, i) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 })
      const onSocket = (s: Socket) => {
        if (sockets.has(s)) return
        sockets.add(s)
        if (!signalled) connectionsBeforeSignal[i] = (connectionsBeforeSignal[i] ?? 0) + 1
      }
      try {
        for (let n = 0; ; n += 1) {
          const thingName = `busy-${i}-${n}`
          const reply = await send(agent, first.url, 'POST', `/things/${thingName}`, '{}', onSocket)
          if (signalled) answeredAfterSignal += 1
          assert.equal(reply.status, 200, reply.body)
          acknowledged.push(thingName)
          if (acknowledged.length >= 200) enough()
        }
      } catch (error) {
        // The loop ends when the server closes the connection and refuses a new one.
        if (error instanceof assert.AssertionError) throw error
        return (error as NodeJS.ErrnoException).code
      } finally {
        agent.destroy()
      }
    })
    await within(warmedUp, '200 acknowledged CreateThing requests')
    // Keep-alive at work: one connection per client so far.
    assert.deepEqual(
      connectionsBeforeSignal,
      Array.from({ length: CLIENTS }, () => 1),
    )
    signalled = true
    first.child.kill('SIGTERM')
    const status = await within(first.exited, 'exit after SIGTERM', graceSeconds * 1000 + EXIT_MARGIN_MS)
    assert.equal(status, 0, first.stderr())
    const endings = await within(Promise.all(clients), 'every client loop ending')
    // Every client saw the server close its connection and refuse a new one.
    for (const ending of endings) assert.match(String(ending), /^(ECONNREFUSED|ECONNRESET|EPIPE)$/)
    // Each client had one request under way when the signal came; a few more may race the signal.
    t.diagnostic(`${acknowledged.length} acknowledged, ${answeredAfterSignal} of them after SIGTERM`)
    assert.ok(answeredAfterSignal <= CLIENTS * 4, `${answeredAfterSignal} answers after SIGTERM`)

    const second = await serve(dataDir, ['--no-mqtt'])
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    try {
      for (const thingName of acknowledged) {
        const reply = await send(agent, second.url, 'GET', `/things/${thingName}`)
        assert.equal(reply.status, 200, `${thingName} was acknowledged before SIGTERM: ${reply.body}`)
      }
    } finally {
      agent.destroy()
    }
    second.child.kill('SIGTERM')
    assert.equal(await within(second.exited, 'exit after SIGTERM'), 0)
  })

  it('SIGTERM with idle keep-alive connections and MQTT clients (TCP and WebSocket): all closed at once, exit long before the grace', async () => {
    const served = await serve(freshDataDir(), ['--mqtt-port', '0', '--shutdown-grace', '120'])
    assert.ok(served.mqttUrl !== undefined && served.mqttWebSocketUrl !== undefined, served.stdout())
    const agents = Array.from({ length: 8 }, () => new Agent({ keepAlive: true, maxSockets: 1 }))
    const sockets: Socket[] = []
    for (const agent of agents) {
      const reply = await send(agent, served.url, 'GET', '/things', undefined, (s) => sockets.push(s))
      assert.equal(reply.status, 200)
    }
    const devices = await Promise.all(
      [served.mqttUrl, served.mqttWebSocketUrl].map(async (url) => {
        const client = mqtt.connect(url, {
          reconnectPeriod: 0,
          clientId: `shutdown-${url.slice(0, 2)}-${process.pid}`,
        })
        await within(new Promise((resolve) => client.once('connect', resolve)), `MQTT connect to ${url}`)
        return { client, closed: new Promise<void>((resolve) => client.once('close', () => resolve())) }
      }),
    )
    served.child.kill('SIGTERM')
    // A bound far below the 120 s grace: nothing waits for an idle or MQTT connection.
    const status = await within(served.exited, 'exit after SIGTERM with idle connections', 20_000)
    assert.equal(status, 0, served.stderr())
    await within(Promise.all(devices.map((d) => d.closed)), 'MQTT clients see the close')
    await within(
      Promise.all(sockets.map((s) => (s.destroyed ? Promise.resolve() : once(s, 'close')))),
      'idle HTTP connections closed',
    )
    for (const d of devices) d.client.end(true)
    for (const agent of agents) agent.destroy()
  })

  for (const [signal, status] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    it(`a second ${signal} exits at once with status ${status}, a request still under way`, async () => {
      const served = await serve(freshDataDir(), ['--no-mqtt', '--shutdown-grace', '120'])
      const stuck = await requestUnderWay(served.url)
      served.child.kill(signal)
      await served.line(
        new RegExp(
          `${signal} received, finishing in-flight requests \\(at most 120 s; ${signal} again exits at once\\)`,
        ),
      )
      served.child.kill(signal)
      assert.equal(await within(served.exited, `exit after the second ${signal}`, 20_000), status)
      stuck.destroy()
    })
  }

  it('a request still under way when the grace ends is cut off and the process exits (grace from FLEETJOBS_SHUTDOWN_GRACE)', async () => {
    const served = await serve(freshDataDir(), ['--no-mqtt'], { FLEETJOBS_SHUTDOWN_GRACE: '1' })
    const stuck = await requestUnderWay(served.url)
    const stuckClosed = once(stuck, 'close')
    served.child.kill('SIGTERM')
    await served.line(/SIGTERM received, finishing in-flight requests \(at most 1 s;/)
    assert.equal(
      await within(served.exited, 'exit after the grace', 1_000 + EXIT_MARGIN_MS),
      0,
      served.stderr(),
    )
    await within(stuckClosed, 'the cut-off client sees its connection closed')
  })

  it('--shutdown-grace must be a number of seconds ≥ 0', async () => {
    const child = spawn(process.execPath, [...CLI, 'serve', '--shutdown-grace', '-1'], {
      env: { ...process.env, FLEETJOBS_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
    })
    children.push(child)
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const [code] = (await within(once(child, 'exit'), 'exit')) as [number | null]
    assert.notEqual(code, 0)
    assert.match(stderr, /--shutdown-grace.*must be a number of seconds ≥ 0/)
  })
})
