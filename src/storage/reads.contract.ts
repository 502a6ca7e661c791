/**
 * The device API's one-read paths of the storage contract (issue 14): getExecutionOfThing and
 * listPendingOfThing answer what thingExists followed by getExecution / listPending answer, and the
 * pending order holds for any mix of statuses and queue times. Called by describeStorageContract.
 */
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Job } from '../domain/records.js'
import { decideStartNext } from '../domain/state-machine.js'
import type { Store } from '../ports/store.js'
import { addThings, newJob, NOW } from './store-fixtures.js'

const job = (jobId: string, createdAtMs: number): Job =>
  newJob(jobId, { createdAtMs, lastUpdatedAtMs: createdAtMs, document: `{"job":"${jobId}"}` })

async function start(store: Store, jobId: string, thingName: string): Promise<void> {
  await store.mutateExecution({ jobId, thingName }, ({ execution, job: j }) =>
    decideStartNext(execution, j, {}, NOW),
  )
}

export function describeReadsContract(open: () => Promise<Store>): void {
  describe('the device API reads a thing and its executions in one read', () => {
    it('getExecutionOfThing: no thing; the thing without the execution; the latest or the numbered one', async () => {
      const store = await open()
      try {
        assert.deepEqual(await store.getExecutionOfThing({ jobId: 'j', thingName: 't' }), {
          thingExists: false,
        })
        await addThings(store, ['t'])
        assert.deepEqual(await store.getExecutionOfThing({ jobId: 'j', thingName: 't' }), {
          thingExists: true,
          value: undefined,
        })
        await store.createJob(job('j', NOW), { thingNames: ['t'], groupNames: [] })
        await start(store, 'j', 't')
        for (const key of [
          { jobId: 'j', thingName: 't' },
          { jobId: 'j', thingName: 't', executionNumber: 1 },
          { jobId: 'j', thingName: 't', executionNumber: 2 },
          { jobId: 'other', thingName: 't' },
        ]) {
          const read = await store.getExecutionOfThing(key)
          assert.deepEqual(
            read,
            { thingExists: true, value: await store.getExecution(key) },
            JSON.stringify(key),
          )
        }
        const read = await store.getExecutionOfThing({ jobId: 'j', thingName: 't' })
        assert.equal(read.thingExists && read.value?.execution.status, 'IN_PROGRESS')
        assert.equal(read.thingExists && read.value?.job.document, '{"job":"j"}')
        // Execution records outlive their thing; the device API's reads start from the thing.
        await store.mutateThing('t', () => ({ kind: 'delete', atMs: NOW, result: undefined }))
        assert.deepEqual(await store.getExecutionOfThing({ jobId: 'j', thingName: 't' }), {
          thingExists: false,
        })
        assert.deepEqual(await store.listPendingOfThing({ thingName: 't' }, 10), { thingExists: false })
      } finally {
        await store.close()
      }
    })

    it('listPendingOfThing: IN_PROGRESS first, then QUEUED, each by queuedAt then creation, whatever the mix [spec: jobs-device-api#1.1]', async () => {
      // Each job: its creation time (= its execution's queuedAt, from a few values so that ties
      // happen) and whether the thing started it.
      const jobs = fc.array(fc.record({ queuedAt: fc.integer({ min: 0, max: 3 }), started: fc.boolean() }), {
        minLength: 1,
        maxLength: 8,
      })
      await fc.assert(
        fc.asyncProperty(jobs, async (spec) => {
          const store = await open()
          try {
            await addThings(store, ['t'])
            for (const [i, s] of spec.entries()) {
              await store.createJob(job(`j${i}`, NOW + s.queuedAt * 1000), {
                thingNames: ['t'],
                groupNames: [],
              })
            }
            for (const [i, s] of spec.entries()) if (s.started) await start(store, `j${i}`, 't')
            const expected = spec
              .map((s, i) => ({ ...s, jobId: `j${i}`, i }))
              .sort((a, b) => Number(b.started) - Number(a.started) || a.queuedAt - b.queuedAt || a.i - b.i)
              .map((s) => s.jobId)
            const read = await store.listPendingOfThing({ thingName: 't' }, 100)
            assert.ok(read.thingExists)
            assert.deepEqual(
              read.value.map((p) => p.execution.jobId),
              expected,
            )
            assert.deepEqual(read.value, await store.listPending({ thingName: 't' }, 100))
            const limited = await store.listPendingOfThing({ thingName: 't' }, 2)
            assert.deepEqual(
              limited.thingExists && limited.value.map((p) => p.execution.jobId),
              expected.slice(0, 2),
            )
          } finally {
            await store.close()
          }
        }),
        { numRuns: 25 },
      )
    })
  })
}
