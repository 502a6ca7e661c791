/**
 * A full disk under the SQLite store (storage/sqlite/disk-space.ts), on a 20 MB tmpfs of its own: every
 * write answers 503 ServiceUnavailableException (never 500, CreateThing included), reads go on, nothing
 * is corrupted, and once space is freed writes come back without a restart, also when the server was
 * restarted while the disk was full. Needs root (mount); skipped with the reason otherwise.
 */
import {
  AddThingToThingGroupCommand,
  CancelJobCommand,
  CreateJobCommand,
  CreateJobTemplateCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  DeleteThingCommand,
  DescribeJobCommand,
  DescribeThingCommand,
  ListThingsCommand,
  UpdateJobCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot'
import {
  GetPendingJobExecutionsCommand,
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import Database from 'better-sqlite3'
import { execFileSync } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, rmSync, statfsSync, writeSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, startHarness, unique } from '../support/harness.js'
import { onPostgres, sqliteFileOf } from '../support/store.js'

const DISK_MB = 20
const MB = 1024 * 1024
/** A thing's three attributes of 800 characters (the model's maximum value length): ~2.5 KB a write. */
const BIG = { a: 'a'.repeat(800), b: 'b'.repeat(800), c: 'c'.repeat(800) }
/** Bounds the loop that writes until the disk is full: 20 MB holds far fewer such things. */
const MAX_FILL_WRITES = 20_000

/** Mounts a tmpfs of DISK_MB, or says why not (the suite is then skipped with that reason). */
function mountSmallDisk(): { dir: string } | { skip: string } {
  if (onPostgres) return { skip: 'SQLite store only: the PostgreSQL run has no data file on this disk' }
  if (process.platform !== 'linux') return { skip: 'needs Linux tmpfs' }
  if (process.getuid?.() !== 0) return { skip: 'needs root to mount a small tmpfs' }
  const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-disk-full-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${DISK_MB}m`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    return { skip: `cannot mount a tmpfs here: ${(error as Error).message.split('\n')[0] ?? ''}` }
  }
  return { dir }
}

const disk = mountSmallDisk()
const mount = 'dir' in disk ? disk.dir : ''
const fillers: { file: string; bytes: number }[] = []
let fillerSeq = 0

/** Writes filler files of 1 MiB (then smaller) until the disk takes no more. */
function fillDisk(): void {
  for (let chunk = MB; chunk >= 4096; chunk /= 4) {
    const buffer = Buffer.alloc(chunk, 1)
    for (;;) {
      const file = join(mount, `filler-${fillerSeq++}`)
      const fd = openSync(file, 'w')
      let written = 0
      try {
        written = writeSync(fd, buffer)
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error
      } finally {
        closeSync(fd)
      }
      if (written < chunk) {
        rmSync(file)
        break
      }
      fillers.push({ file, bytes: chunk })
    }
  }
}

/** Deletes fillers, the largest first, until `mb` MiB are free of them (all fillers without `mb`). */
function freeSpace(mb = Infinity): void {
  fillers.sort((a, b) => b.bytes - a.bytes)
  let freed = 0
  while (freed < mb * MB && fillers.length > 0) {
    const filler = fillers.shift()!
    rmSync(filler.file)
    freed += filler.bytes
  }
}

const thingArn = (name: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:thing/${name}`

const freeBytes = (): number => {
  const s = statfsSync(mount)
  return s.bavail * s.bsize
}

/** Awaits a call that must answer 503 ServiceUnavailableException. */
async function unavailable(what: string, call: Promise<unknown>): Promise<void> {
  const error = await call.then(
    () => assert.fail(`${what} succeeded on a full disk`),
    (e: unknown) => e as Error & { $metadata?: { httpStatusCode?: number } },
  )
  assert.equal(error.name, 'ServiceUnavailableException', `${what}: ${error.name} ${error.message}`)
  assert.equal(error.$metadata?.httpStatusCode, 503, what)
}

function integrityOf(dataDir: string): string {
  const db = new Database(sqliteFileOf(dataDir), { readonly: true })
  try {
    return (db.pragma('integrity_check', { simple: true }) as string) ?? ''
  } finally {
    db.close()
  }
}

describe('a full disk under the SQLite store', 'skip' in disk ? { skip: disk.skip } : {}, () => {
  const dataDir = join(mount, 'data')
  let h: Harness | undefined
  const thingName = unique('full-thing')
  const jobId = unique('full-job')
  const groupName = unique('full-group')
  const doomedThing = unique('full-doomed')

  before(async () => {
    mkdirSync(dataDir)
    h = await startHarness({ dataDir })
    await h.iot.send(new CreateThingCommand({ thingName }))
    await h.iot.send(new CreateThingCommand({ thingName: doomedThing }))
    await h.iot.send(new CreateThingGroupCommand({ thingGroupName: groupName }))
    await h.iot.send(new CreateJobCommand({ jobId, targets: [thingArn(thingName)], document: '{}' }))
  })

  after(async () => {
    await h?.close()
    freeSpace()
    if (mount !== '') {
      execFileSync('umount', [mount])
      rmSync(mount, { recursive: true, force: true })
    }
  })

  it('every write answers 503 (CreateThing too), reads go on, the data stays whole; freeing 6 MB brings writes back', async () => {
    assert.ok(h !== undefined)
    fillDisk()
    // Writes until the disk refuses one, 20 at a time so that they share group commits (savepoints).
    const acknowledged: string[] = []
    let refused = 0
    for (let i = 0; refused === 0 && i < MAX_FILL_WRITES; i += 20) {
      const names = Array.from({ length: 20 }, (_, j) => `fill-${i + j}`)
      const results = await Promise.allSettled(
        names.map((name) =>
          h!.iot.send(new CreateThingCommand({ thingName: name, attributePayload: { attributes: BIG } })),
        ),
      )
      results.forEach((r, j) => {
        if (r.status === 'fulfilled') acknowledged.push(names[j]!)
        else {
          refused += 1
          const e = r.reason as Error & { $metadata?: { httpStatusCode?: number } }
          assert.equal(
            e.name,
            'ServiceUnavailableException',
            `CreateThing on a full disk: ${e.name} ${e.message}`,
          )
          assert.equal(e.$metadata?.httpStatusCode, 503)
        }
      })
    }
    assert.ok(refused > 0, `the disk never filled after ${acknowledged.length} things`)

    // Every write, on both planes.
    const iot = h.iot
    const data = h.data
    await unavailable('CreateThing', iot.send(new CreateThingCommand({ thingName: unique('late') })))
    await unavailable(
      'UpdateThing',
      iot.send(new UpdateThingCommand({ thingName, attributePayload: { attributes: { k: 'v' } } })),
    )
    await unavailable('DeleteThing', iot.send(new DeleteThingCommand({ thingName: doomedThing })))
    await unavailable(
      'CreateThingGroup',
      iot.send(new CreateThingGroupCommand({ thingGroupName: unique('g') })),
    )
    await unavailable(
      'AddThingToThingGroup',
      iot.send(new AddThingToThingGroupCommand({ thingName, thingGroupName: groupName })),
    )
    await unavailable(
      'CreateJob',
      iot.send(new CreateJobCommand({ jobId: unique('j'), targets: [thingArn(thingName)], document: '{}' })),
    )
    await unavailable('UpdateJob', iot.send(new UpdateJobCommand({ jobId, description: 'changed' })))
    await unavailable(
      'CreateJobTemplate',
      iot.send(
        new CreateJobTemplateCommand({ jobTemplateId: unique('t'), description: 'd', document: '{}' }),
      ),
    )
    await unavailable(
      'StartNextPendingJobExecution',
      data.send(new StartNextPendingJobExecutionCommand({ thingName })),
    )
    await unavailable(
      'UpdateJobExecution',
      data.send(new UpdateJobExecutionCommand({ jobId, thingName, status: 'IN_PROGRESS' })),
    )
    await unavailable('CancelJob', iot.send(new CancelJobCommand({ jobId })))

    // Reads go on, and every write that was acknowledged is there.
    assert.equal((await iot.send(new DescribeThingCommand({ thingName }))).thingName, thingName)
    assert.equal(
      (await iot.send(new DescribeThingCommand({ thingName: doomedThing }))).thingName,
      doomedThing,
    )
    for (const name of acknowledged) {
      assert.equal((await iot.send(new DescribeThingCommand({ thingName: name }))).thingName, name)
    }
    assert.ok(((await iot.send(new ListThingsCommand({ maxResults: 5 }))).things ?? []).length > 0)
    assert.equal((await iot.send(new DescribeJobCommand({ jobId }))).job?.status, 'IN_PROGRESS')
    const pending = await data.send(new GetPendingJobExecutionsCommand({ thingName }))
    assert.deepEqual(
      pending.queuedJobs?.map((j) => j.jobId),
      [jobId],
    )
    assert.equal(integrityOf(dataDir), 'ok')

    // The fault as reported: 6 MB freed on the 20 MB disk; writes come back without a restart.
    freeSpace(6)
    await iot.send(new CreateThingCommand({ thingName: unique('back') }))
    const started = await data.send(
      new UpdateJobExecutionCommand({
        jobId,
        thingName,
        status: 'IN_PROGRESS',
        includeJobExecutionState: true,
      }),
    )
    assert.equal(started.executionState?.status, 'IN_PROGRESS')
    assert.equal(integrityOf(dataDir), 'ok')
    assert.ok(freeBytes() > 0)
  })

  it('a server restarted on the full disk starts, refuses writes with 503, and writes again once space is freed', async () => {
    assert.ok(h !== undefined)
    fillDisk()
    // Until the disk refuses a write (bounded).
    let refused = false
    for (let i = 0; !refused && i < MAX_FILL_WRITES; i += 1) {
      refused = await h.iot
        .send(new CreateThingCommand({ thingName: `refill-${i}`, attributePayload: { attributes: BIG } }))
        .then(
          () => false,
          (e: Error) => {
            assert.equal(e.name, 'ServiceUnavailableException', e.message)
            return true
          },
        )
    }
    assert.ok(refused, 'the disk never filled')
    await h.close()
    h = undefined
    h = await startHarness({ dataDir })
    await unavailable(
      'CreateThing after the restart',
      h.iot.send(new CreateThingCommand({ thingName: unique('r') })),
    )
    assert.equal((await h.iot.send(new DescribeThingCommand({ thingName }))).thingName, thingName)
    assert.equal(integrityOf(dataDir), 'ok')
    freeSpace(6)
    await h.iot.send(new CreateThingCommand({ thingName: unique('after-restart') }))
    await h.iot.send(new UpdateThingCommand({ thingName, attributePayload: { attributes: { k: 'v' } } }))
    assert.equal(integrityOf(dataDir), 'ok')
  })

  it('a WAL grown large behind a long reader (a backup, a shell) is emptied once 6 MB are freed: writes come back', async () => {
    assert.ok(h !== undefined)
    freeSpace()
    fillDisk()
    freeSpace(8)
    // Checkpoints cannot pass a reader's snapshot: every write from now on stays in the WAL.
    const reader = new Database(sqliteFileOf(dataDir), { readonly: true })
    let refused = false
    try {
      reader.exec('BEGIN')
      reader.prepare('SELECT count(*) FROM things').get()
      for (let i = 0; !refused && i < MAX_FILL_WRITES; i += 20) {
        const results = await Promise.allSettled(
          Array.from({ length: 20 }, (_, j) =>
            h!.iot.send(
              new CreateThingCommand({ thingName: `behind-${i + j}`, attributePayload: { attributes: BIG } }),
            ),
          ),
        )
        for (const r of results) {
          if (r.status === 'fulfilled') continue
          refused = true
          assert.equal((r.reason as Error).name, 'ServiceUnavailableException', (r.reason as Error).message)
        }
      }
      assert.ok(refused, 'the disk never filled')
      // The reader still holds the WAL: no checkpoint can empty it, and writes stay refused.
      await unavailable('CreateThing', h.iot.send(new CreateThingCommand({ thingName: unique('behind') })))
    } finally {
      reader.close()
    }
    freeSpace(6)
    await h.iot.send(new CreateThingCommand({ thingName: unique('behind-back') }))
    assert.equal(integrityOf(dataDir), 'ok')
  })
})
