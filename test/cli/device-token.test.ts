/**
 * `fleetjobs device-token`: prints a device's MQTT password from the data directory's secret, and
 * refuses (exit 2, one line) a folder that is not a fleetjobs data directory — where it used to make a
 * new secret and print a token no server would accept — and a name that is not a thing name.
 */
import { execFile } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { DEVICE_SECRET_FILE, DeviceAuth, OPERATOR_USERNAME } from '../../src/mqtt/device-auth.js'
import { DATABASE_FILE } from '../../src/storage/data-dir.js'
import { SqliteStore } from '../../src/storage/sqlite/sqlite-store.js'
import { CLI } from '../support/cli.js'

const IOT_MODEL = new URL('../../models/iot.json', import.meta.url)
const dirs: string[] = []

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-token-'))
  dirs.push(dir)
  return dir
}

after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

function deviceToken(
  args: string[],
  cwd?: string,
): Promise<{ code: number; stdout: string; stderr: string }> {
  // The flags' variables would choose the folder or the secret behind the test's back.
  const env = { ...process.env }
  delete env['FLEETJOBS_DATA_DIR']
  delete env['FLEETJOBS_MQTT_AUTH_SECRET']
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      // tsx by its path: the command may run from another folder.
      [...CLI, 'device-token', ...args],
      { env, ...(cwd === undefined ? {} : { cwd }) },
      (error, stdout, stderr) => {
        const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1
        resolve({ code, stdout, stderr })
      },
    )
  })
}

function assertRefused(result: { code: number; stdout: string; stderr: string }, pattern: RegExp): void {
  assert.equal(result.code, 2, result.stderr)
  assert.equal(result.stdout, '', 'no token is printed')
  const lines = result.stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, result.stderr)
  assert.match(lines[0] ?? '', pattern)
}

/** A data directory as a server leaves it: its database, and the device secret. */
async function serverDataDir(): Promise<string> {
  const dir = tempDir()
  await new SqliteStore({ file: join(dir, DATABASE_FILE), checkpointIntervalMs: 0, reserveBytes: 0 }).close()
  DeviceAuth.load(dir)
  return dir
}

describe('fleetjobs device-token', () => {
  it("prints the token the server's secret gives, for a thing and for --operator", async () => {
    const dir = await serverDataDir()
    const auth = DeviceAuth.load(dir)
    const thing = await deviceToken(['Thing:1_a-b', '--data-dir', dir])
    assert.equal(thing.code, 0, thing.stderr)
    assert.equal(thing.stdout.trim(), auth.tokenFor('Thing:1_a-b'))
    const operator = await deviceToken(['--operator', '--data-dir', dir])
    assert.equal(operator.stdout.trim(), auth.tokenFor(OPERATOR_USERNAME))
  })

  it('a data directory whose server has not made the secret yet gets it, and the server will use the same', async () => {
    const dir = tempDir()
    await new SqliteStore({
      file: join(dir, DATABASE_FILE),
      checkpointIntervalMs: 0,
      reserveBytes: 0,
    }).close()
    const result = await deviceToken(['t1', '--data-dir', dir])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout.trim(), DeviceAuth.load(dir).tokenFor('t1'))
  })

  it('refuses a folder that is not a data directory, and leaves no secret there', async () => {
    const dir = tempDir()
    assertRefused(
      await deviceToken(['t1', '--data-dir', dir]),
      /^fleetjobs: --data-dir .* is not a fleetjobs data directory \(no fleetjobs\.db, no mqtt-device-secret\)/,
    )
    assert.equal(existsSync(join(dir, DEVICE_SECRET_FILE)), false)
    const missing = join(dir, 'nowhere')
    assertRefused(await deviceToken(['t1', '--data-dir', missing]), /is not a fleetjobs data directory/)
    assert.equal(existsSync(missing), false, 'the folder is not created')
  })

  it('run from another folder with the default --data-dir, it is refused', async () => {
    const cwd = tempDir()
    assertRefused(
      await deviceToken(['t1'], cwd),
      /^fleetjobs: --data-dir \.\/\.fleetjobs is not a fleetjobs data directory/,
    )
    assert.equal(existsSync(join(cwd, '.fleetjobs')), false)
  })

  it('with --mqtt-auth-secret it needs no data directory, and writes nothing', async () => {
    const dir = tempDir()
    const result = await deviceToken(['t1', '--data-dir', dir, '--mqtt-auth-secret', 'shared-secret'])
    assert.equal(result.code, 0, result.stderr)
    assert.equal(result.stdout.trim(), DeviceAuth.load(dir, 'shared-secret').tokenFor('t1'))
    assert.equal(existsSync(join(dir, DEVICE_SECRET_FILE)), false)
  })

  it("refuses names that are not thing names (the iot model's ThingName) and accepts the longest that is", async () => {
    const shape = (
      JSON.parse(readFileSync(IOT_MODEL, 'utf8')) as {
        shapes: Record<string, { min?: number; max?: number; pattern?: string }>
      }
    ).shapes['ThingName']
    // What the command enforces, as the model says it.
    assert.deepEqual(
      { min: shape?.min, max: shape?.max, pattern: shape?.pattern },
      { min: 1, max: 128, pattern: '[a-zA-Z0-9:_-]+' },
    )
    const dir = await serverDataDir()
    for (const name of ['bad name', 'a/b', 'thing#1', 'é', 'x'.repeat(129)]) {
      assertRefused(
        await deviceToken([name, '--data-dir', dir]),
        /^fleetjobs: ".*" is not a thing name: 1 to 128 characters of a-z A-Z 0-9 : _ -/,
      )
    }
    const longest = 'x'.repeat(128)
    const ok = await deviceToken([longest, '--data-dir', dir])
    assert.equal(ok.code, 0, ok.stderr)
    assert.equal(ok.stdout.trim(), DeviceAuth.load(dir).tokenFor(longest))
  })

  it('a secret file the command cannot read is one line, exit 2', async () => {
    const dir = tempDir()
    // A folder where the secret file should be: reading it fails.
    writeFileSync(join(dir, DATABASE_FILE), '')
    mkdirSync(join(dir, DEVICE_SECRET_FILE))
    assertRefused(
      await deviceToken(['t1', '--data-dir', dir]),
      /^fleetjobs: --data-dir .*: cannot read the device secret: /,
    )
  })
})
