import { spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { countRows, dropSchemaFor, onPostgres, serveArgs, serveEnv } from '../support/store.js'
import { CLI } from '../support/cli.js'

const dirs: string[] = []

const children: ChildProcess[] = []
const dataDirOf = new Map<ChildProcess, string>()

/** On PostgreSQL, that the server wrote the thing into the schema of its data directory (not a file). */
async function assertStoredInSchema(child: ChildProcess, thingName: string): Promise<void> {
  if (!onPostgres) return
  const dataDir = dataDirOf.get(child)
  assert.ok(dataDir !== undefined)
  assert.equal(await countRows(dataDir, 'things'), 1, `${thingName} in the schema of ${dataDir}`)
}

/**
 * `fleetjobs serve` on a fresh data directory, on the store the suite runs on (support/store.ts), chosen
 * by flags or, with `storeBy: 'env'`, by FLEETJOBS_* variables.
 */
function serve(
  args: string[],
  env: Record<string, string> = {},
  storeBy: 'flags' | 'env' = 'flags',
): ChildProcess {
  const dataDir = mkdtempSync(join(tmpdir(), 'fleetjobs-cli-'))
  dirs.push(dataDir)
  const store =
    storeBy === 'flags' ? { args: serveArgs(dataDir), env: {} } : { args: [], env: serveEnv(dataDir) }
  const child = spawn(process.execPath, [...CLI, 'serve', '--data-dir', dataDir, ...store.args, ...args], {
    env: { ...process.env, FLEETJOBS_LOG_LEVEL: 'silent', ...store.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  dataDirOf.set(child, dataDir)
  return child
}

/** Resolves with the process's stdout lines once `count` lines have arrived. */
function lines(child: ChildProcess, count: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      const got = text.split('\n').filter((l) => l !== '')
      if (got.length >= count) resolve(got)
    })
    child.once('exit', (code) =>
      reject(new Error(`exited with ${String(code)} before printing ${count} lines: ${text}`)),
    )
  })
}

/** Resolves with the process's stdout lines once one of them matches `pattern`. */
function linesUntil(child: ChildProcess, pattern: RegExp): Promise<string[]> {
  return new Promise((resolve, reject) => {
    let text = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      const got = text.split('\n').filter((l) => l !== '')
      if (got.some((l) => pattern.test(l))) resolve(got)
    })
    child.once('exit', (code) =>
      reject(new Error(`exited with ${String(code)} before printing ${String(pattern)}: ${text}`)),
    )
  })
}

function exit(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.once('exit', (code) => resolve({ code, stderr }))
  })
}

after(async () => {
  // A failed assertion must not leave a server running.
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
  for (const dir of dirs) {
    rmSync(dir, { recursive: true, force: true })
    await dropSchemaFor(dir)
  }
})

describe('fleetjobs serve', () => {
  it('prints one line per endpoint, serves, and exits 0 on SIGTERM after in-flight requests', async () => {
    const child = serve(['--port', '0', '--data-plane-port', '0'])
    const done = exit(child)
    const out = (await lines(child, 3)).slice(0, 3)
    const urls = out.map((l) => /(http:\/\/\S+)/.exec(l)?.[1])
    assert.ok(
      urls.every((u) => u !== undefined),
      out.join('\n'),
    )
    const [cp, dp] = urls
    const created = await fetch(`${cp}/things/cli-thing`, { method: 'POST', body: '{}' })
    assert.equal(created.status, 200)
    await assertStoredInSchema(child, 'cli-thing')
    const pending = await fetch(`${dp}/things/cli-thing/jobs`)
    assert.deepEqual(await pending.json(), { inProgressJobs: [], queuedJobs: [] })
    child.kill('SIGTERM')
    const { code } = await done
    assert.equal(code, 0)
  })

  it('takes its flags from FLEETJOBS_* variables', async () => {
    const child = serve(
      [],
      {
        FLEETJOBS_PORT: '0',
        FLEETJOBS_DATA_PLANE_PORT: '0',
        FLEETJOBS_REGION: 'eu-west-1',
      },
      'env',
    )
    const done = exit(child)
    const out = await lines(child, 3)
    const cp = /(http:\/\/\S+)/.exec(out[0] ?? '')?.[1]
    const created = await fetch(`${cp}/things/env-thing`, { method: 'POST', body: '{}' })
    const body = (await created.json()) as { thingArn: string }
    assert.equal(body.thingArn, 'arn:aws:iot:eu-west-1:123456789012:thing/env-thing')
    await assertStoredInSchema(child, 'env-thing')
    child.kill('SIGINT')
    assert.equal((await done).code, 0)
  })

  it('an explicit --mqtt-port that is taken stops the start, naming the port and the flag', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const { port } = blocker.address() as AddressInfo
    try {
      const { code, stderr } = await exit(
        serve(['--port', '0', '--data-plane-port', '0', '--mqtt-port', String(port)]),
      )
      assert.equal(code, 2)
      assert.match(stderr, new RegExp(`port ${port} is already in use; choose another with --mqtt-port`))
    } finally {
      blocker.close()
    }
  })

  it('the default MQTT port, when taken, is replaced by a free one and the operator is told', async () => {
    // 1883 is Mosquitto's on this machine and on CI; elsewhere it may be free, and then it is used.
    const child = serve(['--port', '0', '--data-plane-port', '0'])
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    const done = exit(child)
    const out = await lines(child, 5)
    const mqttLine = out.find((l) => l.includes('MQTT (embedded broker)')) ?? ''
    const mqttPort = Number(/:(\d+)$/.exec(mqttLine)?.[1])
    assert.ok(mqttPort > 0, out.join('\n'))
    if (mqttPort !== 1883)
      assert.match(stderr, /MQTT port 1883 is already in use .* listens on port \d+ instead/)
    child.kill('SIGTERM')
    assert.equal((await done).code, 0)
  })

  it('exits non-zero naming the port and the flag when the port is taken', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const { port } = blocker.address() as AddressInfo
    try {
      const { code, stderr } = await exit(serve(['--port', String(port), '--data-plane-port', '0']))
      assert.equal(code, 2)
      assert.match(stderr, new RegExp(`port ${port} is already in use; choose another with --port`))
      const second = await exit(serve(['--port', '0', '--data-plane-port', String(port)]))
      assert.equal(second.code, 2)
      assert.match(
        second.stderr,
        new RegExp(`port ${port} is already in use; choose another with --data-plane-port`),
      )
    } finally {
      blocker.close()
    }
  })
  it('an unreachable --database stops the start with status 2, naming the database (no password) and why', async () => {
    const blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    const { port } = blocker.address() as AddressInfo
    // Nothing there speaks PostgreSQL once the listener is closed: the connection is refused.
    await new Promise<void>((resolve) => blocker.close(() => resolve()))
    const url = `postgres://fleet:s3cret@127.0.0.1:${port}/fleet`
    const { code, stderr } = await exit(
      serve(['--database', url, '--port', '0', '--data-plane-port', '0', '--no-mqtt']),
    )
    assert.equal(code, 2)
    assert.match(
      stderr,
      new RegExp(
        `cannot open the PostgreSQL database postgres://fleet:\\*\\*\\*@127\\.0\\.0\\.1:${port}/fleet: connect ECONNREFUSED`,
      ),
    )
    assert.doesNotMatch(stderr, /s3cret/)
  })

  it('[spec: wire-protocol#7] off loopback, auto means sigv4: without --credentials-file it does not start (exit 2, naming the flag)', async () => {
    const { code, stderr } = await exit(
      serve(['--host', '0.0.0.0', '--port', '0', '--data-plane-port', '0', '--no-mqtt']),
    )
    assert.equal(code, 2)
    assert.match(stderr, /no access keys were given: pass --credentials-file/)
  })

  it('[spec: wire-protocol#7] a credentials file without a complete key pair stops the start (exit 2)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-creds-'))
    dirs.push(dir)
    const file = join(dir, 'credentials')
    writeFileSync(file, '[default]\naws_access_key_id = AKIDONLY\n')
    const { code, stderr } = await exit(
      serve([
        '--auth',
        'sigv4',
        '--credentials-file',
        file,
        '--port',
        '0',
        '--data-plane-port',
        '0',
        '--no-mqtt',
      ]),
    )
    assert.equal(code, 2)
    assert.match(stderr, /holds no profile with both aws_access_key_id and aws_secret_access_key/)
  })

  it('[spec: wire-protocol#7] --auth sigv4 with an AWS CLI credentials file: says so at start, refuses unsigned requests', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-creds-'))
    dirs.push(dir)
    const file = join(dir, 'credentials')
    writeFileSync(file, '[ops]\naws_access_key_id = AKIDCLI\naws_secret_access_key = s3cret-key\n')
    const child = serve([
      '--auth',
      'sigv4',
      '--credentials-file',
      file,
      '--port',
      '0',
      '--data-plane-port',
      '0',
      '--no-mqtt',
    ])
    const done = exit(child)
    // The authentication line follows the endpoint lines (how many depends on the listeners), in
    // however many chunks the output arrives: wait for it rather than for a count.
    const out = await linesUntil(child, /HTTP authentication:/)
    assert.ok(
      out.some((l) => /HTTP authentication: sigv4 .* 1 access key\(s\)/.test(l)),
      out.join('\n'),
    )
    const cp = /(http:\/\/\S+)/.exec(out[0] ?? '')?.[1] ?? ''
    const refused = await fetch(`${cp}/jobs`)
    assert.equal(refused.status, 403)
    assert.equal(refused.headers.get('x-amzn-errortype'), 'MissingAuthenticationTokenException')
    child.kill('SIGTERM')
    assert.equal((await done).code, 0)
  })
})
