/**
 * Time-driven work across a restart, with the real server stopped and started again on the same data
 * directory (its SQLite file, or its PostgreSQL schema) and a virtual clock that starts later: deadlines
 * and scheduled starts already due are applied at start, deadlines not yet due are kept and fire at
 * their instant, and a half-done rollout resumes without duplicates or gaps.
 * [spec: state-machines#4] [spec: state-machines#5] [spec: state-machines#1] [spec: test-clock#1]
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { TestContext } from 'node:test'
import { rmSync } from 'node:fs'
import type { Harness } from '../../support/harness.js'
import { startHarness } from '../../support/harness.js'
import { dropSchemaFor } from '../../support/store.js'
import { createJob, describeJob, report } from '../../support/device.js'
import { cpExecution, executionFacts } from '../../support/lifecycle.js'
import { assertCountersMatchRecords, executionsOf } from '../../support/thing-groups.js'
import {
  CLOCK_START_MS,
  MINUTE_S,
  SECOND_MS,
  advance,
  clockNow,
  createFleet,
  isoAfter,
  thingsWithExecutions,
} from '../../support/clock.js'

const MINUTE_MS = 60 * SECOND_MS

/**
 * The first run of a server on a virtual clock at CLOCK_START_MS, and `restart(atMs)`, which stops it
 * (without removing its data) and starts another on the same data directory with its clock at `atMs`.
 * Everything is closed and removed when the test ends.
 */
async function restartable(
  t: TestContext,
): Promise<{ first: Harness; restart: (atMs: number) => Promise<Harness> }> {
  const first = await startHarness({ clockMode: 'virtual', clockStartMs: CLOCK_START_MS })
  let second: Harness | undefined
  let firstRunning = true
  const stopFirst = async () => {
    if (!firstRunning) return
    firstRunning = false
    first.iot.destroy()
    first.data.destroy()
    await first.server.close()
  }
  t.after(async () => {
    if (firstRunning) {
      await first.close()
      return
    }
    // The second run drops the PostgreSQL schema of the data directory it used; the folder is the first's.
    if (second !== undefined) await second.close()
    else await dropSchemaFor(first.dataDir)
    rmSync(first.dataDir, { recursive: true, force: true })
  })
  return {
    first,
    restart: async (atMs) => {
      await stopFirst()
      second = await startHarness({ dataDir: first.dataDir, clockMode: 'virtual', clockStartMs: atMs })
      return second
    },
  }
}

describe('Restart on the same data [spec: state-machines#4] [spec: state-machines#5]', () => {
  it('a deadline that passed while the server was stopped is applied at start: TIMED_OUT, with its counters', async (t) => {
    const { first, restart } = await restartable(t)
    const [a, b] = (await createFleet(first, 2)) as [string, string]
    const jobId = await createJob(first, [a, b], { timeoutConfig: { inProgressTimeoutInMinutes: 10 } })
    await report(first, jobId, a, 'IN_PROGRESS')
    const deadline = CLOCK_START_MS + 10 * MINUTE_MS
    const h = await restart(CLOCK_START_MS + 60 * MINUTE_MS)
    const e = await cpExecution(h, jobId, a)
    assert.equal(e.status, 'TIMED_OUT')
    assert.equal(e.versionNumber, 3)
    const at = e.lastUpdatedAt?.getTime() ?? 0
    assert.ok(
      at >= deadline && at <= CLOCK_START_MS + 60 * MINUTE_MS,
      `lastUpdatedAt ${at} between D and the start`,
    )
    assert.equal((await assertCountersMatchRecords(h, jobId)).numberOfTimedOutThings, 1)
  })

  it('a deadline not yet due at the restart is kept and fires at exactly D', async (t) => {
    const { first, restart } = await restartable(t)
    const [a] = (await createFleet(first, 1)) as [string]
    const jobId = await createJob(first, [a], { timeoutConfig: { inProgressTimeoutInMinutes: 10 } })
    await report(first, jobId, a, 'IN_PROGRESS', { stepTimeoutInMinutes: 5 })
    const h = await restart(CLOCK_START_MS + 2 * MINUTE_MS)
    assert.equal((await cpExecution(h, jobId, a)).approximateSecondsBeforeTimedOut, 3 * 60)
    await advance(h, 3 * MINUTE_S - 1)
    assert.equal((await cpExecution(h, jobId, a)).status, 'IN_PROGRESS')
    await advance(h, 1)
    assert.equal(
      await executionFacts(h, jobId, a),
      `TIMED_OUT/v3/force=false/at=${CLOCK_START_MS + 5 * MINUTE_MS}`,
    )
    assert.equal((await describeJob(h, jobId)).status, 'COMPLETED')
  })

  it('a half-done rollout resumes where it stopped: no duplicates, no gaps', async (t) => {
    const { first, restart } = await restartable(t)
    const things = await createFleet(first, 40)
    const jobId = await createJob(first, things, { jobExecutionsRolloutConfig: { maximumPerMinute: 10 } })
    await advance(first, MINUTE_S)
    assert.equal((await executionsOf(first, jobId)).length, 20)
    // Stopped 30 s before the next batch; started again 30 s later still: nothing is due yet.
    const h = await restart(CLOCK_START_MS + 90 * SECOND_MS)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 20))
    await advance(h, 30)
    assert.deepEqual(await thingsWithExecutions(h, jobId), things.slice(0, 30))
    await advance(h, 10 * MINUTE_S)
    const records = await executionsOf(h, jobId)
    assert.equal(records.length, 40)
    assert.deepEqual(
      records.map((r) => r.thingName),
      things,
      'each thing once',
    )
    assert.ok(records.every((r) => r.executionNumber === 1))
    assert.equal((await assertCountersMatchRecords(h, jobId)).numberOfQueuedThings, 40)
  })

  it('a rollout whose next batch came due while the server was stopped resumes at start, then keeps its pace', async (t) => {
    const { first, restart } = await restartable(t)
    const things = await createFleet(first, 40)
    const jobId = await createJob(first, things, { jobExecutionsRolloutConfig: { maximumPerMinute: 10 } })
    const h = await restart(CLOCK_START_MS + 10 * MINUTE_MS)
    const afterStart = await thingsWithExecutions(h, jobId)
    assert.ok(
      afterStart.length > 10 && afterStart.length <= 40,
      `${afterStart.length} executions after the start`,
    )
    assert.deepEqual(afterStart, things.slice(0, afterStart.length), 'in thing-name order, without gaps')
    await advance(h, 10 * MINUTE_S)
    const records = await executionsOf(h, jobId)
    assert.deepEqual(
      records.map((r) => r.thingName),
      things,
    )
    await assertCountersMatchRecords(h, jobId)
  })

  it('[spec: state-machines#1] a scheduled start that passed while the server was stopped is applied at start', async (t) => {
    const { first, restart } = await restartable(t)
    const things = await createFleet(first, 3)
    const jobId = await createJob(first, things, {
      schedulingConfig: { startTime: isoAfter(CLOCK_START_MS, 40 * MINUTE_S) },
    })
    assert.equal((await describeJob(first, jobId)).status, 'SCHEDULED')
    const h = await restart(CLOCK_START_MS + 2 * 60 * MINUTE_MS)
    assert.equal(await clockNow(h), CLOCK_START_MS + 2 * 60 * MINUTE_MS)
    assert.equal((await describeJob(h, jobId)).status, 'IN_PROGRESS')
    assert.deepEqual(await thingsWithExecutions(h, jobId), things)
  })

  it('[spec: state-machines#8] a timeout applied at start queues its retry', async (t) => {
    const { first, restart } = await restartable(t)
    const [a] = (await createFleet(first, 1)) as [string]
    const jobId = await createJob(first, [a], {
      timeoutConfig: { inProgressTimeoutInMinutes: 1 },
      jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'TIMED_OUT', numberOfRetries: 1 }] },
    })
    await report(first, jobId, a, 'IN_PROGRESS')
    const h = await restart(CLOCK_START_MS + 30 * MINUTE_MS)
    assert.deepEqual(
      (await executionsOf(h, jobId)).map(
        (r) => `#${r.executionNumber}:${r.status}:${String(r.retryAttempt)}`,
      ),
      ['#1:TIMED_OUT:0', '#2:QUEUED:1'],
    )
  })
})
