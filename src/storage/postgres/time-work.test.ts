/**
 * The PostgreSQL store's time-driven work beyond the storage contract: what several nodes and row locks
 * add (SKIP LOCKED in the deadline sweep, each effect once when two nodes run the same passes at once,
 * an abort racing devices), `reset`, and migration 2 on existing rows. Each store on a fresh schema
 * of the test database (FLEETJOBS_TEST_DATABASE_URL), dropped after the suite. [spec: state-machines#4,
 * #5, #6, #8] [spec: test-clock#2]
 */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import pg from 'pg'
import type { Job } from '../../domain/records.js'
import { decideDeviceUpdate, decideStartNext } from '../../domain/state-machine.js'
import { jobBody } from '../rows.js'
import { PG_MIGRATIONS } from './migrations.js'
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
  const schema = `fj_time_${process.pid}_${schemas.length + 1}`
  schemas.push(schema)
  await onDatabase((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
  return schema
}

async function open(schema: string): Promise<PgStore> {
  const store = await PgStore.open({
    url: URL,
    schema,
    poolSize: 4,
    events: { job: true, jobExecution: true },
  })
  stores.push(store)
  return store
}

after(async () => {
  for (const store of stores) await store.close().catch(() => undefined)
  for (const schema of schemas) await onDatabase((c) => c.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`))
})

const names = (n: number): string[] => Array.from({ length: n }, (_, i) => `t${String(i).padStart(3, '0')}`)

async function addThings(store: PgStore, list: readonly string[]): Promise<void> {
  for (const name of list)
    await store.mutateThing(name, () => ({ kind: 'write', next: thing(name), result: undefined }))
}

async function startAll(store: PgStore, list: readonly string[], atMs: number): Promise<void> {
  for (const thingName of list)
    await store.mutateNextPending({ thingName }, ({ execution, job }) =>
      decideStartNext(execution, job, {}, atMs),
    )
}

async function statusesOf(store: PgStore, jobId: string): Promise<string[]> {
  const page = await store.listExecutionsForJob(jobId, {}, { limit: 250 })
  return page.items.map((e) => `${e.thingName}#${e.executionNumber}:${e.status}`).sort()
}

async function assertCountsTrue(store: PgStore, jobId: string): Promise<Job> {
  const job = await store.getJob(jobId)
  assert.ok(job)
  assert.deepEqual(job.counts, await store.recountExecutions(jobId), 'the counters equal a recount')
  return job
}

/** What a node's pass does: every deadline due, then every job due, in batches. */
async function runDue(store: PgStore, nowMs: number, batch: number): Promise<void> {
  while ((await store.timeOutDue(nowMs, batch)) === batch) {
    // a full batch: there may be more
  }
  while ((await store.tickJobsDue(nowMs, batch)) === batch) {
    // a full batch: there may be more
  }
}

describe('PostgreSQL time-driven work', () => {
  it('the sweep leaves an execution whose row another transaction holds for the next pass (SKIP LOCKED)', async () => {
    const store = await open(await freshSchema())
    const list = names(3)
    await addThings(store, list)
    await store.createJob(newJob('j', { timeoutConfig: { inProgressTimeoutInMinutes: 1 } }), {
      thingNames: list,
      groupNames: [],
    })
    await startAll(store, list, NOW)
    assert.equal(await store.nextDeadlineMs(), NOW + MINUTE)
    assert.equal(await store.timeOutDue(NOW + MINUTE - 1, 10), 0, 'nothing is due before the deadline')

    const device = new pg.Client({ connectionString: URL, application_name: 'fleetjobs-test' })
    await device.connect()
    try {
      await device.query('BEGIN')
      await device.query(
        `SELECT 1 FROM ${schemas.at(-1)}.job_executions WHERE thing_name = 't001' FOR UPDATE`,
      )
      assert.equal(
        await store.timeOutDue(NOW + MINUTE, 10),
        2,
        'the row held elsewhere is skipped, not waited for',
      )
      assert.deepEqual(await statusesOf(store, 'j'), [
        't000#1:TIMED_OUT',
        't001#1:IN_PROGRESS',
        't002#1:TIMED_OUT',
      ])
      await device.query('ROLLBACK')
    } finally {
      await device.end()
    }
    assert.equal(await store.timeOutDue(NOW + MINUTE, 10), 1)
    assert.equal(await store.timeOutDue(NOW + MINUTE, 10), 0, 'each execution times out once')
    const job = await assertCountsTrue(store, 'j')
    assert.equal(job.counts.TIMED_OUT, 3)
    assert.equal(job.status, 'COMPLETED', 'the completion rule ran in the sweep')
    assert.equal(await store.nextDeadlineMs(), undefined, 'no deadline is left')
    const events = await store.readEvents(100)
    assert.equal(events.filter((e) => e.operation === 'timed_out').length, 3)
  })

  it('two nodes running the same passes at once apply each timeout, retry and rollout batch once', async () => {
    const schema = await freshSchema()
    const a = await open(schema)
    const b = await open(schema)
    const list = names(40)
    await addThings(a, list)
    await a.createJob(
      newJob('timed', {
        timeoutConfig: { inProgressTimeoutInMinutes: 1 },
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'TIMED_OUT', numberOfRetries: 1 }] },
      }),
      { thingNames: list, groupNames: [] },
    )
    await startAll(a, list, NOW)
    const created = await a.createJob(
      newJob('paced', { jobExecutionsRolloutConfig: { maximumPerMinute: 7 } }),
      { thingNames: list, groupNames: [] },
    )
    assert.equal(created.kind === 'created' ? created.executions : -1, 7, 'the first batch at once')

    for (let minute = 1; minute <= 6; minute += 1) {
      const at = NOW + minute * MINUTE
      await Promise.all([runDue(a, at, 3), runDue(b, at, 3), runDue(a, at, 5), runDue(b, at, 2)])
      const paced = await assertCountsTrue(a, 'paced')
      assert.equal(paced.counts.QUEUED, Math.min(40, 7 * (minute + 1)), `one batch at minute ${minute}`)
      assert.equal(paced.rollout.notified, paced.counts.QUEUED)
    }
    const timed = await assertCountsTrue(a, 'timed')
    assert.equal(timed.counts.TIMED_OUT, 40, 'each execution timed out once')
    assert.equal(timed.counts.QUEUED, 40, 'one retry each')
    const statuses = await statusesOf(a, 'timed')
    assert.equal(statuses.length, 80)
    assert.ok(list.every((t) => statuses.includes(`${t}#2:QUEUED`)))
    const paced = await assertCountsTrue(a, 'paced')
    assert.equal(paced.rollout.remaining, 0)
    assert.equal(paced.nextDueAtMs, undefined, 'the rollout is over')
  })

  it("a device's update that meets the abort criteria while other devices start executions: consistent, once", async () => {
    const store = await open(await freshSchema())
    const list = names(30)
    await addThings(store, list)
    await store.createJob(
      newJob('j', {
        abortConfig: {
          criteriaList: [
            {
              failureType: 'FAILED',
              action: 'CANCEL',
              thresholdPercentage: 50,
              minNumberOfExecutedThings: 2,
            },
          ],
        },
      }),
      { thingNames: list, groupNames: [] },
    )
    await startAll(store, list.slice(0, 2), NOW)
    const fail = (thingName: string) =>
      store.mutateExecution({ jobId: 'j', thingName }, ({ execution, job }) =>
        decideDeviceUpdate(execution, job, { status: 'FAILED' }, NOW + 1),
      )
    await fail('t000')
    // The second failure aborts the job while the other devices start theirs.
    const racing = await Promise.allSettled([
      fail('t001'),
      ...list
        .slice(2, 12)
        .map((thingName) =>
          store.mutateNextPending({ thingName }, ({ execution, job }) =>
            decideStartNext(execution, job, {}, NOW + 1),
          ),
        ),
    ])
    assert.equal(racing[0]?.status, 'fulfilled')
    const job = await assertCountsTrue(store, 'j')
    assert.equal(job.status, 'CANCELED')
    assert.equal(job.reasonCode, 'ABORT_CRITERIA_MET')
    assert.equal(job.counts.QUEUED, 0, 'no QUEUED execution is left')
    assert.equal(job.counts.FAILED, 2)
    assert.equal(
      job.counts.IN_PROGRESS + job.counts.CANCELED,
      28,
      'each started before the abort, or canceled by it',
    )
  })

  it('an abort a device update causes locks the QUEUED executions before the job row: no deadlock with a device starting one', async (t) => {
    const schema = await freshSchema()
    const store = await open(schema)
    const list = names(4)
    await addThings(store, list)
    await store.createJob(
      newJob('j', {
        abortConfig: {
          criteriaList: [
            {
              failureType: 'FAILED',
              action: 'CANCEL',
              thresholdPercentage: 50,
              minNumberOfExecutedThings: 1,
            },
          ],
        },
      }),
      { thingNames: list, groupNames: [] },
    )
    await startAll(store, ['t000'], NOW)
    const device = new pg.Client({ connectionString: URL, application_name: 'fleetjobs-test' })
    await device.connect()
    try {
      try {
        // This side of a deadlock would find it first, and fail.
        await device.query(`SET deadlock_timeout = '50ms'`)
      } catch (error) {
        t.skip(`needs a role that may set deadlock_timeout: ${String(error)}`)
        return
      }
      await device.query(`SET search_path = ${schema}`)
      await device.query('BEGIN')
      const pid = (await device.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid
      // A device starting t002's execution has its row locked; its last statement will take the job row.
      await device.query(`SELECT 1 FROM job_executions WHERE job_id = 'j' AND thing_name = 't002' FOR UPDATE`)
      const failing = store.mutateExecution({ jobId: 'j', thingName: 't000' }, ({ execution, job }) =>
        decideDeviceUpdate(execution, job, { status: 'FAILED' }, NOW + 1),
      )
      for (let i = 0; ; i += 1) {
        const { rows } = await device.query<{ n: number }>(
          'SELECT count(*)::int AS n FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))',
          [pid],
        )
        if (rows[0]!.n > 0) break
        assert.ok(i < 500, 'the failing update waits for the execution the device holds')
        await new Promise((resolve) => setTimeout(resolve, 10))
      }
      await device.query(
        `UPDATE job_executions SET status = 'IN_PROGRESS', version_number = version_number + 1
         WHERE job_id = 'j' AND thing_name = 't002'`,
      )
      await device.query(
        `UPDATE jobs SET n_queued = n_queued - 1, n_in_progress = n_in_progress + 1 WHERE job_id = 'j'`,
      )
      await device.query('COMMIT')
      await failing
    } finally {
      await device.end()
    }
    const job = await assertCountsTrue(store, 'j')
    assert.equal(job.status, 'CANCELED')
    assert.deepEqual(await statusesOf(store, 'j'), [
      't000#1:FAILED',
      't001#1:CANCELED',
      't002#1:IN_PROGRESS',
      't003#1:CANCELED',
    ])
  })

  it('reset empties every table; the store goes on, and ids can be used again', async () => {
    const store = await open(await freshSchema())
    await addThings(store, ['a', 'b'])
    await store.createJob(newJob('j', { jobExecutionsRolloutConfig: { maximumPerMinute: 1 } }), {
      thingNames: ['a', 'b'],
      groupNames: [],
    })
    assert.equal(await store.nextJobDueMs(), NOW + MINUTE)
    await store.reset()
    assert.equal(await store.getJob('j'), undefined)
    assert.equal(await store.getThing('a'), undefined)
    assert.equal(await store.nextJobDueMs(), undefined)
    assert.deepEqual(await store.readEvents(10), [])
    await addThings(store, ['a'])
    const again = await store.createJob(newJob('j'), { thingNames: ['a'], groupNames: [] })
    assert.equal(again.kind, 'created')
    assert.equal(again.kind === 'created' ? again.job.counts.QUEUED : -1, 1)
  })

  it('migration 2 backfills deadlines and due instants of rows written before it', async () => {
    const schema = await freshSchema()
    const job = newJob('old', { timeoutConfig: { inProgressTimeoutInMinutes: 5 } })
    const scheduled = newJob('later', {
      status: 'SCHEDULED',
      schedulingConfig: { startTime: '2025-01-02T00:00:00Z' },
    })
    await onDatabase(async (c) => {
      await c.query(`CREATE SCHEMA ${schema}`)
      await c.query(`SET search_path = ${schema}`)
      await c.query('CREATE TABLE schema_version (version INTEGER NOT NULL, applied_at TIMESTAMPTZ NOT NULL)')
      await c.query(PG_MIGRATIONS[0]!.sql)
      await c.query('INSERT INTO schema_version VALUES (1, now())')
      await c.query(`INSERT INTO things VALUES ('a', 'id-a', '{}', 1, $1), ('b', 'id-b', '{}', 1, $1)`, [NOW])
      for (const [j, v] of [
        [job, 1],
        [scheduled, 2],
      ] as const) {
        await c.query(
          `INSERT INTO jobs (job_id, status, target_selection, created_at, last_updated_at, spec_version, n_in_progress, n_queued)
           VALUES ($1, $2, 'SNAPSHOT', $3, $3, $4, $5, $6)`,
          [j.jobId, j.status, NOW, v, j.status === 'IN_PROGRESS' ? 1 : 0, j.status === 'IN_PROGRESS' ? 1 : 0],
        )
        await c.query('INSERT INTO job_specs VALUES ($1, $2, $3)', [j.jobId, j.document, jobBody(j)])
      }
      await c.query("SELECT setval('job_spec_versions', 2)")
      await c.query(
        `INSERT INTO job_executions (job_id, thing_name, execution_number, status, namespace_id, queued_at, started_at,
           last_updated_at, version_number, in_progress_deadline, step_deadline)
         VALUES ('old', 'a', 1, 'IN_PROGRESS', '', $1, $1, $1, 2, $2, $3),
                ('old', 'b', 1, 'QUEUED', '', $1, NULL, $1, 1, NULL, NULL)`,
        [NOW, NOW + 5 * MINUTE, NOW + 2 * MINUTE],
      )
    })
    const store = await open(schema)
    assert.equal(await store.nextDeadlineMs(), NOW + 2 * MINUTE, 'the earlier timer')
    assert.equal(await store.nextJobDueMs(), 0, 'jobs that may have work are due at once')
    assert.equal((await store.getJob('later'))?.rollout.started, false)
    assert.equal((await store.getJob('old'))?.rollout.started, true)
    await runDue(store, NOW, 10)
    assert.equal((await store.getJob('old'))?.nextDueAtMs, undefined, 'nothing time-driven is left for it')
    assert.equal((await store.getJob('later'))?.nextDueAtMs, Date.parse('2025-01-02T00:00:00Z'))
    await runDue(store, NOW + 2 * MINUTE, 10)
    assert.deepEqual(await statusesOf(store, 'old'), ['a#1:TIMED_OUT', 'b#1:QUEUED'])
    await assertCountsTrue(store, 'old')
  })
})
