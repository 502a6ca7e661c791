/**
 * Execution writes decided on a node's copy and written in one statement (copy-writes.ts), beyond the
 * storage contract: which requests take one statement and no transaction, and that a stale copy never
 * produces a wrong write — another node changed the execution, the job's spec, the thing's pending
 * order, or added an execution — with two stores (two nodes) on one schema. Each store on a fresh schema
 * of the test database (FLEETJOBS_TEST_DATABASE_URL), dropped after the suite.
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import pg from 'pg'
import { ServiceError } from '../../domain/errors.js'
import { decideCancelJob } from '../../domain/job-lifecycle.js'
import type { Job } from '../../domain/records.js'
import {
  decideCancelExecution,
  decideDeleteExecution,
  decideDeviceUpdate,
  decideStartNext,
} from '../../domain/state-machine.js'
import type { ExecutionStatus } from '../../domain/statuses.js'
import type { Addressed, StatementForm } from './copy-writes.js'
import { statementText } from './copy-writes.js'
import type { PgDb } from './db.js'
import { PgEvents } from './events.js'
import { PgStore } from './pg-store.js'
import { newJob, NOW, thing } from '../store-fixtures.js'

const URL = process.env['FLEETJOBS_TEST_DATABASE_URL'] ?? 'postgres://127.0.0.1:5432/test'
const MINUTE = 60_000

const schemas: string[] = []
const stores: PgStore[] = []

async function onDatabase<T>(work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: URL, application_name: 'fleetjobs-test' })
  await client.connect()
  try {
    return await work(client)
  } finally {
    await client.end()
  }
}

async function freshSchema(): Promise<string> {
  const schema = `fj_copies_${process.pid}_${schemas.length + 1}`
  schemas.push(schema)
  await onDatabase((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  return schema
}

/** A store with the notification outbox and both event families on, unless `quiet` (no notifier). */
async function open(schema: string, quiet = false): Promise<PgStore> {
  const store = await PgStore.open({
    url: URL,
    schema,
    poolSize: 4,
    ...(quiet ? {} : { notifications: true, events: { job: true, jobExecution: true } }),
  })
  stores.push(store)
  return store
}

after(async () => {
  for (const store of stores) await store.close().catch(() => undefined)
  for (const schema of schemas) await onDatabase((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
})

async function setUp(store: PgStore, things: readonly string[], jobs: readonly Job[]): Promise<void> {
  for (const name of things)
    await store.mutateThing(name, () => ({ kind: 'write', next: thing(name), result: undefined }))
  for (const job of jobs) await store.createJob(job, { thingNames: things, groupNames: [] })
}

const update = (
  store: PgStore,
  jobId: string,
  thingName: string,
  status: ExecutionStatus,
  req: { statusDetails?: Record<string, string>; expectedVersion?: number; executionNumber?: number } = {},
  atMs = NOW,
) =>
  store.mutateExecution({ jobId, thingName, executionNumber: req.executionNumber }, ({ execution, job }) =>
    decideDeviceUpdate(execution, job, { status, ...req }, atMs),
  )

const startNext = (store: PgStore, thingName: string, atMs = NOW) =>
  store.mutateNextPending({ thingName }, ({ execution, job }) => decideStartNext(execution, job, {}, atMs))

const forceDelete = (store: PgStore, jobId: string, thingName: string, executionNumber: number) =>
  store.mutateExecution({ jobId, thingName, executionNumber }, ({ execution, job }) =>
    decideDeleteExecution(execution, job, { force: true }, NOW),
  )

async function assertCountsTrue(store: PgStore, jobId: string): Promise<Job> {
  const job = await store.getJob(jobId)
  assert.ok(job)
  assert.deepEqual(job.counts, await store.recountExecutions(jobId), 'the counters equal a recount')
  return job
}

/**
 * The statements the store sends while `work` runs (every pooled connection's queries). Reaches into the
 * store for its pool: round trips are what this suite is about.
 */
async function statementsOf(store: PgStore, work: () => Promise<unknown>): Promise<string[]> {
  const pool = (store as unknown as { db: PgDb }).db.pool
  const seen: string[] = []
  const patched = new WeakSet<object>()
  const watch = (client: pg.PoolClient): void => {
    if (patched.has(client)) return
    patched.add(client)
    const query = client.query.bind(client) as (...args: unknown[]) => unknown
    ;(client as unknown as { query: (...args: unknown[]) => unknown }).query = (...args: unknown[]) => {
      if (watching) {
        const first = args[0]
        seen.push(typeof first === 'string' ? first : String((first as { text?: unknown }).text))
      }
      return query(...args)
    }
  }
  let watching = true
  pool.on('acquire', watch)
  try {
    await work()
  } finally {
    watching = false
    pool.off('acquire', watch)
  }
  return seen
}

const transactions = (statements: readonly string[]): number => statements.filter((s) => s === 'BEGIN').length

describe('PostgreSQL execution writes on a copy, in one statement', () => {
  it('every form of the statement is valid SQL with the parameters its values give', async () => {
    const schema = await freshSchema()
    await open(schema)
    const forms: StatementForm[] = []
    for (const addressed of ['number', 'latest', 'next'] as const satisfies readonly Addressed[]) {
      const form = { addressed, from: 'QUEUED', to: 'IN_PROGRESS', event: false } as const
      forms.push({ ...form, kind: 'keep', from: 'IN_PROGRESS', outbox: false, notify: false })
      for (const [outbox, notify] of [
        [false, false],
        [true, false],
        [true, true],
      ] as const)
        forms.push({ ...form, kind: 'move', outbox, notify })
      for (const event of [false, true])
        for (const outbox of [false, true])
          for (const notify of event || outbox ? [false, true] : [false])
            forms.push({ ...form, kind: 'delete', to: 'QUEUED', event, outbox, notify })
    }
    const events = new PgEvents({ job: true, jobExecution: true })
    await onDatabase(async (c) => {
      await c.query(`SET search_path = ${schema}`)
      for (const [i, form] of forms.entries()) {
        await c.query(`PREPARE form${i} AS ${statementText(form, events)}`)
        const { rows } = await c.query<{ n: number }>(
          `SELECT cardinality(parameter_types) AS n FROM pg_prepared_statements WHERE name = $1`,
          [`form${i}`],
        )
        // The values the store sends: the key and the job's decision columns, then the form's own.
        const own =
          (form.kind === 'delete' ? 0 : 9) +
          (form.event ? 1 : 0) +
          (form.outbox ? (form.kind === 'move' ? 2 : 1) : 0) +
          (form.notify ? 1 : 0)
        assert.equal(rows[0]?.n, 5 + 13 + own, JSON.stringify(form))
      }
    })
  })

  it('a progress report, StartNext and a forced delete on a known copy are one statement each; the others a transaction', async () => {
    const store = await open(await freshSchema())
    await setUp(store, ['t1', 't2'], [newJob('j', { targetSelection: 'CONTINUOUS' })])

    // No copy yet: the locking transaction, which leaves one.
    assert.equal(transactions(await statementsOf(store, () => startNext(store, 't1'))), 1)
    for (let i = 0; i < 3; i += 1) {
      const statements = await statementsOf(store, () =>
        update(store, 'j', 't1', 'IN_PROGRESS', { statusDetails: { step: String(i) } }),
      )
      assert.equal(statements.length, 1, 'UpdateJobExecution IN_PROGRESS → IN_PROGRESS: one statement')
    }
    const reported = await store.getExecution({ jobId: 'j', thingName: 't1' })
    assert.equal(reported?.execution.versionNumber, 5)
    assert.deepEqual(reported?.execution.statusDetails, { step: '2' })

    // GetPendingJobExecutions leaves the copy of the first pending execution StartNext works on.
    await store.listPending({ thingName: 't2' }, 10)
    const started = await statementsOf(store, () => startNext(store, 't2'))
    assert.equal(started.length, 1, 'StartNext QUEUED → IN_PROGRESS: one statement')
    const job = await assertCountsTrue(store, 'j')
    assert.equal(job.counts.IN_PROGRESS, 2)
    assert.deepEqual(
      (await store.readOutbox(10)).filter((o) => o.thingName === 't2').map((o) => o.setChanged),
      [true, false],
      'queued (the job created), then moved within the pending list',
    )

    assert.equal(
      (await statementsOf(store, () => forceDelete(store, 'j', 't2', 1))).length,
      1,
      'DeleteJobExecution with force on a CONTINUOUS job: one statement',
    )
    const deleted = (await store.readEvents(100)).filter((e) => e.operation === 'deleted')
    assert.deepEqual(
      deleted.map((e) => (e.family === 'jobExecution' ? [e.execution.thingName, e.execution.status] : [])),
      [['t2', 'IN_PROGRESS']],
      'the deleted event carries the status at deletion',
    )
    await assertCountsTrue(store, 'j')

    // An end: abort criteria, retry and completion under the job row's lock.
    assert.equal(transactions(await statementsOf(store, () => update(store, 'j', 't1', 'SUCCEEDED'))), 1)
    await assertCountsTrue(store, 'j')
  })

  it('without outbox or events: numbered updates and the deletion of an ended execution, one statement each', async () => {
    const store = await open(await freshSchema(), true)
    await setUp(store, ['t1'], [newJob('j')])
    await startNext(store, 't1')
    const numbered = await statementsOf(store, () =>
      update(store, 'j', 't1', 'IN_PROGRESS', { executionNumber: 1, statusDetails: { n: '1' } }),
    )
    assert.equal(numbered.length, 1)
    await update(store, 'j', 't1', 'SUCCEEDED')
    assert.equal((await store.getJob('j'))?.status, 'COMPLETED')
    await store.getExecution({ jobId: 'j', thingName: 't1', executionNumber: 1 })
    const deleted = await statementsOf(store, () =>
      store.mutateExecution({ jobId: 'j', thingName: 't1', executionNumber: 1 }, ({ execution, job }) =>
        decideDeleteExecution(execution, job, { force: false }, NOW),
      ),
    )
    assert.equal(deleted.length, 1, 'a COMPLETED job: the completion rule declines whatever the counters')
    assert.equal(await store.getExecution({ jobId: 'j', thingName: 't1' }), undefined)
    const job = await assertCountsTrue(store, 'j')
    assert.equal(job.counts.SUCCEEDED, 0)
  })

  it('a SNAPSHOT job whose last pending execution is deleted completes, in the transaction', async () => {
    const store = await open(await freshSchema())
    await setUp(store, ['t1', 't2'], [newJob('s')])
    await startNext(store, 't1')
    await update(store, 's', 't1', 'SUCCEEDED')
    await store.getExecution({ jobId: 's', thingName: 't2' })
    const statements = await statementsOf(store, () => forceDelete(store, 's', 't2', 1))
    assert.equal(transactions(statements), 1, 'the completion rule may fire: the transaction path')
    const job = await assertCountsTrue(store, 's')
    assert.equal(job.status, 'COMPLETED')
  })

  it('a copy that another node changed is not written over: the write is decided again on the row', async () => {
    const schema = await freshSchema()
    const a = await open(schema)
    const b = await open(schema)
    await setUp(a, ['t1'], [newJob('j')])
    await startNext(a, 't1')
    await update(a, 'j', 't1', 'IN_PROGRESS', { statusDetails: { by: 'a' } })
    await update(b, 'j', 't1', 'IN_PROGRESS', { statusDetails: { by: 'b' } })
    // A's copy says version 3 with {by: a}; the row is at 4 with {by: b}. A report without details
    // keeps the row's details, not the copy's.
    let kept: Awaited<ReturnType<typeof update>> | undefined
    const statements = await statementsOf(a, async () => {
      kept = await update(a, 'j', 't1', 'IN_PROGRESS')
    })
    assert.equal(statements.length, 3, 'the check that fails, a read of the row, the write on it')
    assert.equal(transactions(statements), 0)
    assert.ok(kept)
    assert.equal(kept.kind, 'written')
    assert.deepEqual(kept.kind === 'written' ? kept.execution.statusDetails : undefined, { by: 'b' })
    const now = await b.getExecution({ jobId: 'j', thingName: 't1' })
    assert.equal(now?.execution.versionNumber, 5)
    assert.deepEqual(now?.execution.statusDetails, { by: 'b' })
    // B again; then A's expectedVersion is checked against the row, not the copy.
    await update(b, 'j', 't1', 'IN_PROGRESS', { statusDetails: { by: 'b2' } })
    const expected = await update(a, 'j', 't1', 'IN_PROGRESS', { expectedVersion: 6 })
    assert.equal(expected.kind === 'written' ? expected.execution.versionNumber : 0, 7)
    await assert.rejects(update(a, 'j', 't1', 'IN_PROGRESS', { expectedVersion: 6 }), /expectedVersion/)
  })

  it("a copy whose job's spec changed meanwhile is decided again on the new spec", async () => {
    const schema = await freshSchema()
    const a = await open(schema)
    const b = await open(schema)
    await setUp(a, ['t1'], [newJob('j')])
    await a.listPending({ thingName: 't1' }, 10)
    await b.mutateJob('j', ({ job }) => ({
      kind: 'write',
      next: { ...job, timeoutConfig: { inProgressTimeoutInMinutes: 5 }, lastUpdatedAtMs: NOW },
    }))
    const started = await startNext(a, 't1')
    assert.equal(started?.kind, 'written')
    assert.equal(
      started?.kind === 'written' ? started.execution.inProgressDeadlineMs : undefined,
      NOW + 5 * MINUTE,
      'the timeout of the spec as it now stands',
    )
    assert.equal(await a.nextDeadlineMs(), NOW + 5 * MINUTE)
  })

  it("StartNext on a copy of the thing's first pending execution starts the one that is first now", async () => {
    const schema = await freshSchema()
    const a = await open(schema)
    const b = await open(schema)
    await setUp(a, ['t1'], [newJob('j1'), newJob('j2', { createdAtMs: NOW + 1 })])
    const pending = await a.listPending({ thingName: 't1' }, 10)
    assert.deepEqual(
      pending.map((p) => p.job.jobId),
      ['j1', 'j2'],
    )
    // On B, the device starts j2 by its id: IN_PROGRESS comes first in pending order.
    await update(b, 'j2', 't1', 'IN_PROGRESS')
    const next = await startNext(a, 't1')
    assert.equal(next?.kind, 'unchanged')
    assert.equal(next?.execution.jobId, 'j2')
    assert.equal((await a.getExecution({ jobId: 'j1', thingName: 't1' }))?.execution.status, 'QUEUED')
    await assertCountsTrue(a, 'j1')
    await assertCountsTrue(a, 'j2')
  })

  it('a copy of the latest execution is not written once a later one exists', async () => {
    const schema = await freshSchema()
    const a = await open(schema)
    await setUp(a, ['t1'], [newJob('j', { targetSelection: 'CONTINUOUS' })])
    await startNext(a, 't1')
    // Another node's change that adds execution 2 without touching execution 1 (no write of this store
    // does that while 1 is pending; the check does not rely on it).
    await onDatabase(async (c) => {
      await c.query(
        `INSERT INTO ${schema}.job_executions (job_id, thing_name, execution_number, status, namespace_id,
           queued_at, last_updated_at, version_number) VALUES ('j', 't1', 2, 'QUEUED', '', $1, $1, 1)`,
        [NOW],
      )
      await c.query(`UPDATE ${schema}.jobs SET n_queued = n_queued + 1 WHERE job_id = 'j'`)
    })
    const written = await update(a, 'j', 't1', 'IN_PROGRESS', { statusDetails: { to: 'latest' } })
    assert.equal(written.kind === 'written' ? written.execution.executionNumber : 0, 2)
    const first = await a.getExecution({ jobId: 'j', thingName: 't1', executionNumber: 1 })
    assert.deepEqual(first?.execution.statusDetails, {}, 'execution 1 is untouched')
    await assertCountsTrue(a, 'j')
  })

  it('a forced delete on a stale copy deletes the execution as it now stands', async () => {
    const schema = await freshSchema()
    const a = await open(schema)
    const b = await open(schema)
    await setUp(a, ['t1', 't2'], [newJob('j', { targetSelection: 'CONTINUOUS' })])
    await a.getExecution({ jobId: 'j', thingName: 't1', executionNumber: 1 })
    await startNext(b, 't1')
    const gone = await forceDelete(a, 'j', 't1', 1)
    assert.equal(gone.kind, 'deleted')
    assert.equal(gone.kind === 'deleted' ? gone.execution.status : undefined, 'IN_PROGRESS')
    const job = await assertCountsTrue(a, 'j')
    assert.equal(job.counts.IN_PROGRESS, 0)
    assert.equal(job.counts.QUEUED, 1)
  })

  it('a node without the lease wakes the holder when its one statement leaves outbox rows', async () => {
    const schema = await freshSchema()
    const holder = await open(schema)
    const other = await open(schema)
    assert.equal(holder.lease.held, true)
    assert.equal(other.lease.held, false)
    await setUp(other, ['t1'], [newJob('j')])
    await other.listPending({ thingName: 't1' }, 10)
    // The holder's channel, heard from now on (notifications of earlier commits are not delivered).
    const listener = new pg.Client({ connectionString: URL, application_name: 'fleetjobs-test' })
    await listener.connect()
    try {
      await listener.query(`LISTEN ${other.lease.channel}`)
      const heard = new Promise<void>((resolve, reject) => {
        listener.on('notification', () => resolve())
        setTimeout(() => reject(new Error('no NOTIFY within 5 s')), 5_000).unref()
      })
      const statements = await statementsOf(other, () => startNext(other, 't1'))
      assert.equal(statements.length, 1)
      await heard
    } finally {
      await listener.end()
    }
    assert.equal((await holder.readOutbox(10)).length > 0, true)
  })

  it("one node's one-statement writes racing another's CancelJob with force and DeleteThing: no 5xx, counters true", async () => {
    const schema = await freshSchema()
    const a = await open(schema)
    const b = await open(schema)
    const list = Array.from({ length: 24 }, (_, i) => `r${i}`)
    await setUp(a, list, [
      newJob('c', { targetSelection: 'CONTINUOUS' }),
      newJob('s', { createdAtMs: NOW + 1 }),
    ])
    const device = async (t: string, i: number): Promise<void> => {
      await a.listPending({ thingName: t }, 10)
      await startNext(a, t)
      for (let k = 0; k < 4; k += 1)
        await update(a, 'c', t, 'IN_PROGRESS', { statusDetails: { k: String(k) } })
      if (i % 4 === 0) await forceDelete(a, 'c', t, 1)
      else if (i % 4 === 1) await update(a, 'c', t, 'SUCCEEDED')
      await a.listPending({ thingName: t }, 10)
      await startNext(a, t)
    }
    const work: Promise<unknown>[] = list.map((t, i) => device(t, i))
    list.forEach((t, i) => {
      if (i % 5 === 0) work.push(b.mutateThing(t, () => ({ kind: 'delete', atMs: NOW, result: undefined })))
    })
    work.push(b.mutateJob('c', ({ job }) => decideCancelJob(job, { force: true }, NOW)))
    const results = await Promise.allSettled(work)
    for (const r of results)
      if (r.status === 'rejected')
        assert.ok(
          r.reason instanceof ServiceError && r.reason.code === 'InvalidStateTransitionException',
          String(r.reason),
        )
    await assertCountsTrue(a, 'c')
    await assertCountsTrue(a, 's')
    const canceled = await a.getJob('c')
    assert.equal(canceled?.counts.QUEUED, 0)
    assert.equal(canceled?.counts.IN_PROGRESS, 0, 'CancelJob with force left nothing pending')
  })

  it('two nodes updating the same executions at once: every accepted write raises versionNumber by one, counters true', async () => {
    const schema = await freshSchema()
    const a = await open(schema)
    const b = await open(schema)
    const list = Array.from({ length: 8 }, (_, i) => `t${i}`)
    await setUp(a, list, [newJob('j', { targetSelection: 'CONTINUOUS' })])
    for (const t of list) await startNext(a, t)
    let accepted = 0
    const device = async (store: PgStore, t: string, n: number): Promise<void> => {
      for (let i = 0; i < n; i += 1) {
        const outcome = await update(store, 'j', t, 'IN_PROGRESS', { statusDetails: { i: String(i) } })
        if (outcome.kind === 'written') accepted += 1
      }
    }
    await Promise.all(list.flatMap((t) => [device(a, t, 20), device(b, t, 20), device(a, t, 10)]))
    // Then half of them canceled with force (an end: the transaction path) while the others report.
    await Promise.all(
      list.map((t, i) =>
        i % 2 === 0
          ? a.mutateExecution({ jobId: 'j', thingName: t }, ({ execution, job }) =>
              decideCancelExecution(execution, job, { force: true }, NOW),
            )
          : device(b, t, 5),
      ),
    )
    accepted += list.length / 2
    const page = await a.listExecutionsForJob('j', {}, { limit: 100 })
    const versions = page.items.reduce((sum, e) => sum + e.versionNumber, 0)
    // Each execution: 1 when queued, 1 for its start, 1 for every accepted update.
    assert.equal(versions, list.length * 2 + accepted)
    await assertCountsTrue(a, 'j')
  })
})
