/**
 * fleetjobs as a user installs it: the npm package (`npm pack` of what `npm install` built; the test
 * runner rebuilds dist/ first when it is older than its sources), run from a folder that is not the project's, and the Docker image's entry point with the Dockerfile's
 * own ENV, ENTRYPOINT and CMD lines. The package's dependencies are the project's own node_modules here
 * (`npm install -g` also downloads and compiles them: done by hand, docs/deployment.md#install); Docker
 * itself is not on CI's machines, so the image is not built here.
 */
import assert from 'node:assert/strict'
import { execFileSync, spawn } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'

const ROOT = new URL('../../', import.meta.url).pathname
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version
const work = mkdtempSync(join(tmpdir(), 'fleetjobs-package-'))
/** Where the package is unpacked, as `npm install -g` would put it. */
const installed = join(work, 'lib', 'node_modules', 'fleetjobs')
const children: ChildProcess[] = []
let packedFiles: string[] = []

/** An empty folder that is not the project's: the user's current directory. */
function elsewhere(): string {
  const dir = mkdtempSync(join(work, 'cwd-'))
  return dir
}

function run(
  args: readonly string[],
  options: { cwd: string; env?: Record<string, string> },
): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, args, {
    cwd: options.cwd,
    // Not the project's environment: no tsx loader, nothing of the test run's FLEETJOBS_* settings.
    env: {
      PATH: process.env['PATH'] ?? '',
      HOME: options.cwd,
      FLEETJOBS_LOG_LEVEL: 'silent',
      ...options.env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  let text = ''
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()))
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()))
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)))
  return { child, output: () => text, exited }
}

/** Resolves with the output once `pattern` appears in it; rejects if the process exits first. */
async function waitFor(started: ReturnType<typeof run>, pattern: RegExp): Promise<RegExpExecArray> {
  for (;;) {
    const found = pattern.exec(started.output())
    if (found !== null) return found
    const exited = await Promise.race([
      started.exited.then(() => true),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 50)),
    ])
    if (exited && pattern.exec(started.output()) === null)
      assert.fail(`exited before printing ${String(pattern)}:\n${started.output()}`)
  }
}

before(() => {
  // Packs dist/ as built (`prepare` would rebuild it under the other test files that read it) and lists
  // what it packed.
  const packed = JSON.parse(
    execFileSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', work], {
      cwd: ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  ) as { filename: string; files: { path: string }[] }[]
  const [pack] = packed
  assert.ok(pack !== undefined)
  packedFiles = pack.files.map((f) => f.path)
  mkdirSync(installed, { recursive: true })
  execFileSync('tar', ['-xzf', join(work, pack.filename), '-C', installed, '--strip-components=1'])
  symlinkSync(join(ROOT, 'node_modules'), join(installed, 'node_modules'), 'dir')
})

after(async () => {
  for (const child of children) {
    if (child.exitCode !== null || child.signalCode !== null) continue
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGKILL')
    await exited
  }
  rmSync(work, { recursive: true, force: true })
})

describe('the npm package', () => {
  it('holds the built server, the built console, the AWS models and the licence, and no sources or tests', () => {
    for (const path of [
      'package.json',
      'LICENSE',
      'README.md',
      'dist/cli/main.js',
      'dist/public/console/index.html',
      'models/iot.json',
      'models/iot-jobs-data.json',
    ])
      assert.ok(packedFiles.includes(path), `${path} is packed`)
    const strays = packedFiles.filter(
      (p) => /^(src|test|bench|console|scripts)\//.test(p) || p.endsWith('.test.js'),
    )
    assert.deepEqual(strays, [])
  })

  it('`fleetjobs --version` prints the version, from any folder', async () => {
    const started = run([join(installed, 'dist/cli/main.js'), '--version'], { cwd: elsewhere() })
    assert.equal(await started.exited, 0)
    assert.equal(started.output().trim(), VERSION)
  })

  it('`fleetjobs device-token` in a folder that is no data directory refuses, and creates nothing there', async () => {
    const cwd = elsewhere()
    const started = run([join(installed, 'dist/cli/main.js'), 'device-token', 'pump-1'], { cwd })
    assert.equal(await started.exited, 2)
    assert.match(started.output(), /is not a fleetjobs data directory/)
    assert.deepEqual(readdirSync(cwd), [])
  })

  it('`fleetjobs serve` from any folder serves the API, the console and the probes, keeping its data in ./.fleetjobs', async () => {
    const cwd = elsewhere()
    const started = run(
      [
        join(installed, 'dist/cli/main.js'),
        'serve',
        ...['--port', '0', '--data-plane-port', '0', '--mqtt-port', '0'],
        ...['--mqtt-tls-port', '0', '--data-plane-tls-port', '0'],
      ],
      { cwd },
    )
    const [, url] = await waitFor(started, /fleetjobs control plane \(iot\): +(http:\/\/\S+)/)
    await waitFor(started, /fleetjobs probes:/)
    assert.equal((await fetch(`${url}/healthz`)).status, 200)
    const consolePage = await fetch(`${url}/console/`)
    assert.equal(consolePage.status, 200)
    assert.match(await consolePage.text(), /<div id="app"|<!doctype html>/i)
    const things = await fetch(`${url}/things`)
    assert.equal(things.status, 200)
    assert.deepEqual(readdirSync(cwd).sort(), ['.fleetjobs'])
    started.child.kill('SIGTERM')
    assert.equal(await started.exited, 0)
  })
})

/** The last stage of the Dockerfile: its ENV values, and ENTRYPOINT + CMD as one argument list. */
function dockerRuntime(): { env: Record<string, string>; command: string[] } {
  const text = readFileSync(join(ROOT, 'Dockerfile'), 'utf8')
  const stages = text.split(/^FROM /m)
  const last = stages.at(-1) ?? ''
  const env: Record<string, string> = {}
  for (const [, name, value] of last.matchAll(/^ENV (\w+)=(\S+)$/gm)) env[name!] = value!
  const json = (instruction: string): string[] => {
    const line = new RegExp(`^${instruction} (\\[.*\\])$`, 'm').exec(last)
    assert.ok(line !== null, `the Dockerfile's last stage has an ${instruction} in JSON form`)
    return JSON.parse(line[1]!) as string[]
  }
  return { env, command: [...json('ENTRYPOINT'), ...json('CMD')] }
}

describe("the Docker image's entry point (its Dockerfile's ENV, ENTRYPOINT and CMD)", () => {
  const image = dockerRuntime()
  // The image's paths, mapped onto the unpacked package and a folder standing for the /data volume.
  const argsFor = (data: string) =>
    image.command.slice(1).map((arg) => arg.replace(/^\/app\//, `${installed}/`).replace(/^\/data$/, data))
  const envFor = (data: string, extra: Record<string, string> = {}) => ({
    ...Object.fromEntries(Object.entries(image.env).map(([k, v]) => [k, v === '/data' ? data : v])),
    // Free ports instead of the image's fixed ones (the test machine's 1883 is taken).
    FLEETJOBS_PORT: '0',
    FLEETJOBS_DATA_PLANE_PORT: '0',
    FLEETJOBS_MQTT_PORT: '0',
    FLEETJOBS_MQTT_TLS_PORT: '0',
    FLEETJOBS_DATA_PLANE_TLS_PORT: '0',
    ...extra,
  })

  it('runs `serve` on 0.0.0.0 with its data in the volume, and so refuses to start without access keys', async () => {
    assert.equal(image.command[0], 'node')
    assert.deepEqual(image.command.slice(-1), ['serve'])
    assert.equal(image.env['FLEETJOBS_HOST'], '0.0.0.0')
    assert.equal(image.env['FLEETJOBS_DATA_DIR'], '/data')
    const data = elsewhere()
    const started = run(argsFor(data), { cwd: elsewhere(), env: envFor(data) })
    assert.equal(await started.exited, 2)
    assert.match(started.output(), /no access keys were given: pass --credentials-file/)
  })

  it('with a credentials file it serves signed requests only; /healthz (its HEALTHCHECK) answers', async () => {
    const data = elsewhere()
    const credentials = join(elsewhere(), 'credentials')
    writeFileSync(
      credentials,
      '[fleet]\naws_access_key_id = AKIDIMAGE\naws_secret_access_key = image-secret\n',
    )
    const started = run(argsFor(data), {
      cwd: elsewhere(),
      env: envFor(data, { FLEETJOBS_CREDENTIALS_FILE: credentials }),
    })
    const [, url] = await waitFor(started, /fleetjobs control plane \(iot\): +(http:\/\/\S+)/)
    await waitFor(started, /fleetjobs probes:/)
    // Listening on every address: requests here go to loopback only.
    const local = url!.replace('0.0.0.0', '127.0.0.1')
    assert.equal((await fetch(`${local}/healthz`)).status, 200)
    assert.equal((await fetch(`${local}/things`)).status, 403)
    assert.equal((await fetch(`${local}/metrics`)).status, 403)
    assert.ok(readdirSync(data).includes('fleetjobs.db'), 'the database is in the volume')
    started.child.kill('SIGTERM')
    assert.equal(await started.exited, 0)
  })
})
