/**
 * The data directory of `fleetjobs serve` (storage/data-dir.ts): one server per SQLite data directory,
 * held by a lock that dies with its process (kill -9 too), and one-line errors (exit 2, naming the flag
 * and the path) for a path that is a file or a folder that cannot be written.
 */
import { spawn } from 'node:child_process'
import type { ChildProcess, SpawnOptions } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { startHarness } from '../support/harness.js'
import { dropSchemaFor, onPostgres, serveArgs } from '../support/store.js'
import { DataDirInUseError, PID_FILE } from '../../src/storage/data-dir.js'
import { CLI, CLI_ENTRY } from '../support/cli.js'

const dirs: string[] = []
const children: ChildProcess[] = []

function tempDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-data-dir-'))
  dirs.push(dir)
  return dir
}

/** `fleetjobs serve` on `dataDir`, SQLite unless `args` name a database; `options` may set a uid. */
function serve(dataDir: string, args: string[] = [], options: SpawnOptions = {}): ChildProcess {
  const child = spawn(
    process.execPath,
    [...CLI, 'serve', '--data-dir', dataDir, '--port', '0', '--data-plane-port', '0', '--no-mqtt', ...args],
    {
      env: { ...process.env, FLEETJOBS_LOG_LEVEL: 'silent' },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...options,
    },
  )
  children.push(child)
  return child
}

/** Resolves once the server printed its control-plane URL (it is serving). */
function started(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = ''
    child.stdout?.on('data', (chunk: Buffer) => {
      text += chunk.toString()
      const url = /control plane \(iot\):\s+(http:\/\/\S+)/.exec(text)?.[1]
      if (url !== undefined) resolve(url)
    })
    child.once('exit', (code) => reject(new Error(`exited with ${String(code)} before serving: ${text}`)))
  })
}

function exit(child: ChildProcess): Promise<{ code: number | null; signal: string | null; stderr: string }> {
  return new Promise((resolve) => {
    let stderr = ''
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.once('exit', (code, signal) => resolve({ code, signal, stderr }))
  })
}

/** A refusal is one line naming the flag and the path, with no stack trace. */
function assertOneLine(stderr: string, pattern: RegExp): void {
  const lines = stderr.split('\n').filter((l) => l !== '')
  assert.equal(lines.length, 1, stderr)
  assert.match(lines[0] ?? '', pattern)
  assert.doesNotMatch(stderr, /^\s+at /m)
}

const escape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

after(async () => {
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

describe('one server per data directory', () => {
  it('a second `serve` on the same --data-dir exits 2 naming the folder and the PID; after kill -9 of the first a new start serves', async () => {
    const dataDir = tempDir()
    const first = serve(dataDir)
    const firstExit = exit(first)
    await started(first)

    const second = await exit(serve(dataDir))
    assert.equal(second.code, 2)
    assertOneLine(
      second.stderr,
      new RegExp(
        `^fleetjobs: --data-dir ${escape(dataDir)} is in use by another fleetjobs server \\(PID ${first.pid}\\): one server per data directory`,
      ),
    )

    // The kernel drops the lock with the process: no stale lock, however the server ended.
    first.kill('SIGKILL')
    assert.equal((await firstExit).signal, 'SIGKILL')
    const third = serve(dataDir)
    const thirdExit = exit(third)
    const url = await started(third)
    assert.equal((await fetch(`${url}/things/after-kill`, { method: 'POST', body: '{}' })).status, 200)
    third.kill('SIGTERM')
    assert.equal((await thirdExit).code, 0)
    assert.equal(existsSync(join(dataDir, PID_FILE)), false, 'a clean stop removes the PID file')
  })

  it('a second server in the same process is refused too, and the folder is free again once the first closes', async (t) => {
    if (onPostgres) return t.skip('the lock is SQLite-only: PostgreSQL nodes may share a folder')
    const dataDir = tempDir()
    const first = await startHarness({ dataDir })
    try {
      await assert.rejects(startHarness({ dataDir }), (error: unknown) => {
        assert.ok(error instanceof DataDirInUseError, String(error))
        assert.equal(error.pid, process.pid)
        return true
      })
    } finally {
      await first.close()
    }
    const again = await startHarness({ dataDir })
    await again.close()
  })

  it('with --database (PostgreSQL) nodes are many by design: two on one --data-dir both serve', async (t) => {
    if (!onPostgres) return t.skip('needs PostgreSQL (npm run test:postgres)')
    const dataDir = tempDir()
    const a = serve(dataDir, serveArgs(dataDir))
    const b = serve(dataDir, serveArgs(dataDir))
    const done = [exit(a), exit(b)]
    await Promise.all([started(a), started(b)])
    a.kill('SIGTERM')
    b.kill('SIGTERM')
    for (const d of done) assert.equal((await d).code, 0)
  })
})

describe('--data-dir errors: one line, exit 2, naming the flag and the path', () => {
  it('a path that is a file', async () => {
    const file = join(tempDir(), 'not-a-folder')
    writeFileSync(file, 'x')
    const result = await exit(serve(file))
    assert.equal(result.code, 2)
    assertOneLine(result.stderr, new RegExp(`^fleetjobs: --data-dir ${escape(file)} is a file, not a folder`))
  })

  it('a path under a file', async () => {
    const file = join(tempDir(), 'not-a-folder')
    writeFileSync(file, 'x')
    const path = join(file, 'data')
    const result = await exit(serve(path))
    assert.equal(result.code, 2)
    assertOneLine(
      result.stderr,
      new RegExp(
        `^fleetjobs: --data-dir ${escape(path)}: a part of the path is a file, not a folder \\(ENOTDIR\\)`,
      ),
    )
  })

  it('a folder that is not writable, and one that cannot be created in it', async (t) => {
    const parent = tempDir()
    const folder = join(parent, 'read-only')
    mkdirSync(folder)
    chmodSync(parent, 0o755)
    chmodSync(folder, 0o555)
    // root writes anywhere: the server then runs as nobody, which may read the sources but not write here.
    const asNobody: SpawnOptions = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {}
    if (process.getuid?.() === 0 && !readableByOthers(CLI_ENTRY))
      return t.skip('runs as root, whom no folder refuses, and the sources are not readable by another user')
    const result = await exit(serve(folder, [], asNobody))
    assert.equal(result.code, 2, result.stderr)
    assertOneLine(
      result.stderr,
      new RegExp(`^fleetjobs: --data-dir ${escape(folder)} is not writable: permission denied \\(EACCES\\)`),
    )
    const nested = join(folder, 'data')
    const created = await exit(serve(nested, [], asNobody))
    assert.equal(created.code, 2)
    assertOneLine(
      created.stderr,
      new RegExp(
        `^fleetjobs: --data-dir ${escape(nested)} cannot be created: permission denied \\(EACCES\\)`,
      ),
    )
  })
})

/** Whether another user may read `file`: it is world-readable, and every folder above it world-searchable. */
function readableByOthers(file: string): boolean {
  if ((statSync(file).mode & 0o004) === 0) return false
  for (let dir = dirname(file); ; dir = dirname(dir)) {
    if ((statSync(dir).mode & 0o001) === 0) return false
    if (dirname(dir) === dir) return true
  }
}
