/**
 * Time-driven work on two `fleetjobs serve` nodes sharing one PostgreSQL schema, in system mode: the
 * node doing a deadline sweep, or a run of rollout batches, is killed with SIGKILL mid-way; the other
 * node takes the lease and finishes. Every due effect happens exactly once: each execution timed out
 * once (versionNumber 3), exactly one retry per execution, rollout lists with neither duplicates nor
 * gaps, counters equal to a recount. Deadlines and due instants are moved into the past with SQL (real
 * time cannot be advanced on two nodes); the nodes see them at their next look (at most a second).
 * [spec: state-machines#4] [spec: state-machines#5] [spec: state-machines#8] [spec: state-machines#9]
 */
import { CreateJobCommand, CreateThingGroupCommand } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ACCOUNT, REGION, unique } from '../support/harness.js'
import { waitUntil } from '../support/mqtt.js'
import type { Node } from '../support/nodes.js'
import { dropSchema, nodeSchema, querySchema, startNode } from '../support/nodes.js'
import { onPostgres } from '../support/store.js'

const skip = onPostgres ? false : 'the PostgreSQL pass runs it (npm run test:postgres)'
const groupArnOf = (name: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/${name}`

/** Things and one group holding them, written straight into the schema (set-based). */
async function seedGroup(schema: string, node: Node, size: number): Promise<string> {
  const group = unique('tg')
  await node.iot.send(new CreateThingGroupCommand({ thingGroupName: group }))
  await querySchema(
    schema,
    `INSERT INTO things (thing_name, thing_id, attributes, version, created_at)
     SELECT $1 || '-' || lpad(g::text, 6, '0'), md5($1 || g), '{}', 1, 0 FROM generate_series(1, $2) g`,
    [group, size],
  )
  await querySchema(
    schema,
    `INSERT INTO thing_group_members (group_name, thing_name)
     SELECT $1, $1 || '-' || lpad(g::text, 6, '0') FROM generate_series(1, $2) g`,
    [group, size],
  )
  return group
}

async function countersEqualRecount(schema: string, jobId: string): Promise<void> {
  const [job] = await querySchema<Record<string, string>>(schema, 'SELECT * FROM jobs WHERE job_id = $1', [
    jobId,
  ])
  const recount = await querySchema<{ status: string; n: string }>(
    schema,
    'SELECT status, count(*) AS n FROM job_executions WHERE job_id = $1 GROUP BY status',
    [jobId],
  )
  const counted = Object.fromEntries(recount.map((r) => [r.status, Number(r.n)]))
  const columns: Record<string, string> = {
    QUEUED: 'n_queued',
    IN_PROGRESS: 'n_in_progress',
    SUCCEEDED: 'n_succeeded',
    FAILED: 'n_failed',
    TIMED_OUT: 'n_timed_out',
    REJECTED: 'n_rejected',
    REMOVED: 'n_removed',
    CANCELED: 'n_canceled',
  }
  for (const [status, column] of Object.entries(columns)) {
    assert.equal(Number(job?.[column] ?? -1), counted[status] ?? 0, `${jobId}: ${column} against a recount`)
  }
}

describe('time-driven work on two nodes, the lease holder killed mid-way', { skip }, () => {
  const schema = nodeSchema()
  let a: Node
  let b: Node
  before(async () => {
    // Node a starts first and takes the lease, so it is the one doing the time-driven work.
    a = await startNode('a', { schema })
    b = await startNode('b', { schema })
  })
  after(async () => {
    await Promise.all([a?.stop(), b?.stop()])
    await dropSchema(schema)
  })

  it('a deadline sweep: every execution TIMED_OUT once, one retry each, counters equal a recount [spec: state-machines#4] [spec: state-machines#8]', async () => {
    const size = 20_000
    const group = await seedGroup(schema, a, size)
    const jobId = unique('sweep')
    await b.iot.send(
      new CreateJobCommand({
        jobId,
        targets: [groupArnOf(group)],
        document: '{"op":"sweep"}',
        timeoutConfig: { inProgressTimeoutInMinutes: 60 },
        jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'TIMED_OUT', numberOfRetries: 1 }] },
      }),
    )
    // Every execution IN_PROGRESS (versionNumber 2) with a deadline that has just passed, as if the
    // devices had started an hour ago and gone silent.
    await querySchema(
      schema,
      `WITH u AS (
         UPDATE job_executions SET status = 'IN_PROGRESS', version_number = 2, started_at = $2,
           in_progress_deadline = $3, deadline = $3
         WHERE job_id = $1 RETURNING 1)
       UPDATE jobs SET n_queued = n_queued - (SELECT count(*) FROM u), n_in_progress = (SELECT count(*) FROM u)
       WHERE job_id = $1`,
      [jobId, Date.now() - 3_600_000, Date.now() - 1000],
    )
    // Kill the holder as soon as its sweep has committed a first batch, and before it is done.
    const timedOut = async () =>
      Number(
        (
          await querySchema<{ n: string }>(
            schema,
            `SELECT count(*) AS n FROM job_executions WHERE job_id = $1 AND status = 'TIMED_OUT'`,
            [jobId],
          )
        )[0]?.n,
      )
    const seenAtKill = await waitUntil(
      'the sweep to commit a first batch',
      async () => {
        const n = await timedOut()
        return n > 0 ? n : undefined
      },
      30_000,
    )
    await a.kill9()
    // Node b takes the lease (within about a second) and finishes the sweep.
    await waitUntil(
      'every execution to time out and get its retry',
      async () => {
        const [row] = await querySchema<{ n: string }>(
          schema,
          'SELECT count(*) AS n FROM job_executions WHERE job_id = $1 AND execution_number = 2',
          [jobId],
        )
        return Number(row?.n) === size && (await timedOut()) === size ? true : undefined
      },
      60_000,
    )
    assert.ok(seenAtKill <= size)
    const rows = await querySchema<{
      execution_number: string
      status: string
      version_number: string
      retry_attempt: string
      n: string
    }>(
      schema,
      `SELECT execution_number, status, version_number, retry_attempt, count(*) AS n FROM job_executions
       WHERE job_id = $1 GROUP BY 1, 2, 3, 4 ORDER BY 1`,
      [jobId],
    )
    assert.deepEqual(
      rows.map((r) => [
        Number(r.execution_number),
        r.status,
        Number(r.version_number),
        Number(r.retry_attempt),
        Number(r.n),
      ]),
      [
        [1, 'TIMED_OUT', 3, 0, size],
        [2, 'QUEUED', 1, 1, size],
      ],
      'each execution timed out once (one service write: versionNumber 2 → 3) and got exactly one retry',
    )
    await countersEqualRecount(schema, jobId)
  })

  it('rollout batches: no thing twice, none skipped, notified equals executions, counters equal a recount [spec: state-machines#5]', async () => {
    // Node b holds the lease now (a was killed above); start a again and kill b mid-way this time.
    const c = await startNode('c', { schema })
    try {
      const size = 300
      const jobs = 30
      const group = await seedGroup(schema, c, size)
      const jobIds = Array.from({ length: jobs }, () => unique('paced'))
      for (const jobId of jobIds) {
        await c.iot.send(
          new CreateJobCommand({
            jobId,
            targets: [groupArnOf(group)],
            document: '{"op":"paced"}',
            jobExecutionsRolloutConfig: { maximumPerMinute: 10 },
          }),
        )
      }
      // Make the next batch of every job due now, over and over, and kill the holder (b) mid-way.
      const dueNow = () =>
        querySchema(
          schema,
          `UPDATE jobs SET rollout_last_batch_at = rollout_last_batch_at - 60000, next_due_at = 0
           WHERE job_id = ANY($1) AND rollout_remaining > 0`,
          [jobIds],
        )
      const created = async () =>
        Number(
          (
            await querySchema<{ n: string }>(
              schema,
              'SELECT count(*) AS n FROM job_executions WHERE job_id = ANY($1)',
              [jobIds],
            )
          )[0]?.n,
        )
      const atStart = await created()
      assert.equal(atStart, jobs * 10, 'the first batch of each job comes with CreateJob')
      await dueNow()
      await waitUntil(
        'a first round of batches to start',
        async () => ((await created()) > atStart ? true : undefined),
        30_000,
      )
      await b.kill9()
      for (let round = 0; round < 5; round += 1) {
        await dueNow()
        const before = await created()
        await waitUntil(
          'the next round of batches',
          async () => ((await created()) > before ? true : undefined),
          30_000,
        )
      }
      // Let every due batch land, then check each job's rollout.
      await waitUntil(
        'no job due any more',
        async () => {
          const [row] = await querySchema<{ n: string }>(
            schema,
            'SELECT count(*) AS n FROM jobs WHERE job_id = ANY($1) AND next_due_at <= $2',
            [jobIds, Date.now()],
          )
          return Number(row?.n) === 0 ? true : undefined
        },
        30_000,
      )
      for (const jobId of jobIds) {
        const [j] = await querySchema<{ rollout_notified: string; rollout_remaining: string }>(
          schema,
          'SELECT rollout_notified, rollout_remaining FROM jobs WHERE job_id = $1',
          [jobId],
        )
        const [e] = await querySchema<{ n: string; things: string }>(
          schema,
          'SELECT count(*) AS n, count(DISTINCT thing_name) AS things FROM job_executions WHERE job_id = $1',
          [jobId],
        )
        const [left] = await querySchema<{ n: string; overlap: string }>(
          schema,
          `SELECT count(*) AS n, count(*) FILTER (WHERE EXISTS (SELECT 1 FROM job_executions x
             WHERE x.job_id = r.job_id AND x.thing_name = r.thing_name)) AS overlap
           FROM job_rollout_things r WHERE r.job_id = $1`,
          [jobId],
        )
        const executions = Number(e?.n)
        assert.equal(Number(e?.things), executions, `${jobId}: no thing got two executions`)
        assert.equal(Number(j?.rollout_notified), executions, `${jobId}: notified counts each execution once`)
        assert.equal(Number(left?.overlap), 0, `${jobId}: no thing is both rolled out and still waiting`)
        assert.equal(
          executions + Number(left?.n),
          size,
          `${jobId}: rolled out + waiting = every thing (no gap)`,
        )
        assert.equal(Number(j?.rollout_remaining), Number(left?.n), `${jobId}: remaining equals the list`)
        assert.equal(executions % 10, 0, `${jobId}: whole batches of maximumPerMinute`)
        await countersEqualRecount(schema, jobId)
      }
    } finally {
      await c.stop()
    }
  })
})
