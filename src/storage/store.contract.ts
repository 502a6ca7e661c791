/**
 * The storage contract: one suite that every Store adapter must pass (SQLite now, PostgreSQL later).
 * Each adapter's test file calls describeStorageContract with a factory for a fresh, empty store.
 * A skip names its reason.
 */
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ServiceError } from '../domain/errors.js'
import { ROLLOUT_NOT_STARTED } from '../domain/records.js'
import {
  decideCancelExecution,
  decideDeleteExecution,
  decideDeviceUpdate,
  decideStartNext,
} from '../domain/state-machine.js'
import type { ExecutionStatus } from '../domain/statuses.js'
import type { Store } from '../ports/store.js'
import { describeCertificateContract } from './certificates.contract.js'
import { describeReadsContract } from './reads.contract.js'
import { addThings, newJob, NOW } from './store-fixtures.js'

export interface ContractOptions {
  /** Test names to skip, each with the reason. */
  readonly skip?: Readonly<Record<string, string>>
}

/** Many things, 100 writes at a time (one group commit on SQLite, the pool's connections on PostgreSQL). */
async function addManyThings(store: Store, names: readonly string[]): Promise<void> {
  for (let i = 0; i < names.length; i += 100)
    await Promise.all(names.slice(i, i + 100).map((n) => addThings(store, [n])))
}

/** `prefix0000` … in name order. */
const manyNames = (prefix: string, count: number): string[] =>
  Array.from({ length: count }, (_, i) => `${prefix}${String(i).padStart(4, '0')}`)

const thingArn = (thingName: string): string => `arn:aws:iot:us-east-1:123456789012:thing/${thingName}`

/** The same names in another order (a fixed one: reversed halves, interleaved). */
const shuffled = <T>(values: readonly T[]): T[] => {
  const half = Math.ceil(values.length / 2)
  const [a, b] = [values.slice(0, half).reverse(), values.slice(half)]
  return a.flatMap((v, i) => (i < b.length ? [v, b[i] as T] : [v]))
}

/** Every execution of a job, as `thing#number:status`, in listing order. */
async function executionsOf(store: Store, jobId: string): Promise<string[]> {
  const all: string[] = []
  let after: string | undefined
  do {
    const page = await store.listExecutionsForJob(jobId, {}, { limit: 1000, after })
    all.push(...page.items.map((e) => `${e.thingName}#${e.executionNumber}:${e.status}`))
    after = page.after
  } while (after !== undefined)
  return all
}

export function describeStorageContract(
  name: string,
  open: () => Promise<Store>,
  options: ContractOptions = {},
): void {
  const test = (title: string, fn: () => Promise<void>) => {
    const reason = options.skip?.[title]
    if (reason === undefined) it(title, fn)
    else it(title, { skip: reason }, fn)
  }

  describe(`storage contract: ${name}`, () => {
    test('createJob fans out one QUEUED execution per distinct thing, numbered 1, counted', async () => {
      const store = await open()
      try {
        await addThings(store, ['b', 'a', 'c'])
        const outcome = await store.createJob(newJob('j1'), {
          thingNames: ['c', 'a', 'b', 'a'],
          groupNames: [],
        })
        assert.equal(outcome.kind, 'created')
        const job = await store.getJob('j1')
        assert.equal(job?.counts.QUEUED, 3)
        const page = await store.listExecutionsForJob('j1', {}, { limit: 10 })
        assert.deepEqual(
          page.items.map((e) => [e.thingName, e.executionNumber, e.status, e.versionNumber]),
          [
            ['a', 1, 'QUEUED', 1],
            ['b', 1, 'QUEUED', 1],
            ['c', 1, 'QUEUED', 1],
          ],
        )
      } finally {
        await store.close()
      }
    })

    test('createJob writes nothing when a thing is missing or the id is taken', async () => {
      const store = await open()
      try {
        await addThings(store, ['a'])
        const missing = await store.createJob(newJob('j1'), { thingNames: ['a', 'zz'], groupNames: [] })
        assert.deepEqual(missing, { kind: 'missing', missing: { kind: 'thing', names: ['zz'] } })
        assert.equal(await store.getJob('j1'), undefined)
        // The same check, without writing: things first, then groups, names in name order.
        assert.deepEqual(
          await store.findMissingTargets({ thingNames: ['zz', 'a', 'yy'], groupNames: ['g'] }),
          {
            kind: 'thing',
            names: ['yy', 'zz'],
          },
        )
        assert.deepEqual(await store.findMissingTargets({ thingNames: ['a'], groupNames: ['g'] }), {
          kind: 'group',
          names: ['g'],
        })
        assert.equal(await store.findMissingTargets({ thingNames: ['a'], groupNames: [] }), undefined)
        assert.equal(
          (await store.createJob(newJob('j1'), { thingNames: ['a'], groupNames: [] })).kind,
          'created',
        )
        assert.equal(
          (await store.createJob(newJob('j1'), { thingNames: ['a'], groupNames: [] })).kind,
          'exists',
        )
        assert.equal((await store.listExecutionsForJob('j1', {}, { limit: 10 })).items.length, 1)
      } finally {
        await store.close()
      }
    })

    test('createJob over 2,000 things in any order, some named twice: one QUEUED execution each, in name order, counted', async () => {
      const store = await open()
      try {
        const names = manyNames('t', 2_000)
        await addManyThings(store, names)
        const named = shuffled([...names, ...names.slice(0, 10)])
        const targets = named.map(thingArn)
        const outcome = await store.createJob(newJob('big', { targets }), {
          thingNames: named,
          groupNames: [],
        })
        assert.equal(outcome.kind === 'created' ? outcome.executions : outcome.kind, 2_000)
        const job = await store.getJob('big')
        assert.equal(job?.counts.QUEUED, 2_000)
        assert.deepEqual(job?.counts, await store.recountExecutions('big'))
        assert.deepEqual(job?.targets, targets, 'the targets are stored as given')
        assert.deepEqual(
          await executionsOf(store, 'big'),
          names.map((n) => `${n}#1:QUEUED`),
        )
      } finally {
        await store.close()
      }
    })

    test('createJob naming missing things among many: each missing name once, in name order; nothing is written', async () => {
      const store = await open()
      try {
        const names = manyNames('t', 600)
        await addManyThings(store, names)
        const absent = ['zz-last', 'a-first', 't0300x']
        const named = shuffled([...names, ...absent, 'zz-last'])
        const targets = { thingNames: named, groupNames: ['g-absent'] }
        const job = newJob('j', { targets: named.map(thingArn) })
        const expected = { kind: 'thing', names: ['a-first', 't0300x', 'zz-last'] }
        assert.deepEqual(await store.createJob(job, targets), { kind: 'missing', missing: expected })
        assert.deepEqual(await store.findMissingTargets(targets), expected)
        assert.equal(await store.getJob('j'), undefined)
        assert.deepEqual(await executionsOf(store, 'j'), [])
        await addManyThings(store, absent)
        assert.deepEqual(await store.createJob(job, targets), {
          kind: 'missing',
          missing: { kind: 'group', names: ['g-absent'] },
        })
        const created = await store.createJob(job, { thingNames: named, groupNames: [] })
        assert.equal(created.kind === 'created' ? created.executions : created.kind, 603)
      } finally {
        await store.close()
      }
    })

    test('a SCHEDULED job keeps its many thing targets and resolves them at its start', async () => {
      const store = await open()
      try {
        const names = manyNames('t', 1_100)
        await addManyThings(store, names)
        const startMs = NOW + 60_000
        const job = newJob('later', {
          status: 'SCHEDULED',
          rollout: ROLLOUT_NOT_STARTED,
          schedulingConfig: { startTime: new Date(startMs).toISOString() },
          targets: shuffled(names).map(thingArn),
        })
        const outcome = await store.createJob(job, { thingNames: names, groupNames: [] })
        assert.equal(outcome.kind === 'created' ? outcome.executions : outcome.kind, 0)
        // A thing deleted before the start gets no execution.
        await store.mutateThing('t0700', () => ({ kind: 'delete', atMs: NOW, result: undefined }))
        assert.equal(await store.tickJobsDue(startMs, 10), 1)
        const started = await store.getJob('later')
        assert.equal(started?.status, 'IN_PROGRESS')
        assert.equal(started?.counts.QUEUED, 1_099)
        assert.deepEqual(
          await executionsOf(store, 'later'),
          names.filter((n) => n !== 't0700').map((n) => `${n}#1:QUEUED`),
        )
      } finally {
        await store.close()
      }
    })

    test('a paced createJob over many things creates the first batch and enlists the rest', async () => {
      const store = await open()
      try {
        const names = manyNames('t', 1_100)
        await addManyThings(store, names)
        const job = newJob('paced', {
          jobExecutionsRolloutConfig: { maximumPerMinute: 100 },
          targets: names.map(thingArn),
        })
        const outcome = await store.createJob(job, { thingNames: shuffled(names), groupNames: [] })
        assert.equal(outcome.kind === 'created' ? outcome.executions : outcome.kind, 100)
        const stored = await store.getJob('paced')
        assert.equal(stored?.counts.QUEUED, 100)
        assert.equal(stored?.rollout.remaining, 1_000)
        assert.deepEqual(
          await executionsOf(store, 'paced'),
          names.slice(0, 100).map((n) => `${n}#1:QUEUED`),
          'the first batch in thing-name order',
        )
      } finally {
        await store.close()
      }
    })

    test('a rejected decision writes nothing and surfaces its ServiceError', async () => {
      const store = await open()
      try {
        await addThings(store, ['a'])
        await store.createJob(newJob('j1'), { thingNames: ['a'], groupNames: [] })
        await assert.rejects(
          store.mutateExecution({ jobId: 'j1', thingName: 'a' }, ({ execution, job }) =>
            decideDeleteExecution(execution, job, { force: false }, NOW),
          ),
          (e: unknown) => e instanceof ServiceError && e.code === 'InvalidStateTransitionException',
        )
        const still = await store.getExecution({ jobId: 'j1', thingName: 'a' })
        assert.equal(still?.execution.status, 'QUEUED')
      } finally {
        await store.close()
      }
    })

    test('pending order: IN_PROGRESS first, then QUEUED in creation order; namespaces apart', async () => {
      const store = await open()
      try {
        await addThings(store, ['t'])
        for (const id of ['j3', 'j1', 'j2'])
          await store.createJob(newJob(id), { thingNames: ['t'], groupNames: [] })
        await store.createJob(newJob('jn', { namespaceId: 'ns' }), { thingNames: ['t'], groupNames: [] })
        await store.mutateExecution({ jobId: 'j2', thingName: 't' }, ({ execution, job }) =>
          decideStartNext(execution, job, {}, NOW),
        )
        const pending = await store.listPending({ thingName: 't' }, 10)
        assert.deepEqual(
          pending.map((p) => p.execution.jobId),
          ['j2', 'j3', 'j1'],
        )
        const namespaced = await store.listPending({ thingName: 't', namespaceId: 'ns' }, 10)
        assert.deepEqual(
          namespaced.map((p) => p.execution.jobId),
          ['jn'],
        )
      } finally {
        await store.close()
      }
    })

    test('keyset pages neither skip nor repeat while rows are deleted between pages', async () => {
      const store = await open()
      try {
        const names = Array.from({ length: 30 }, (_, i) => `t${String(i).padStart(2, '0')}`)
        await addThings(store, names)
        await store.createJob(newJob('j'), { thingNames: names, groupNames: [] })
        const seen: string[] = []
        let after: string | undefined
        let round = 0
        do {
          const page = await store.listExecutionsForJob('j', {}, { limit: 7, after })
          seen.push(...page.items.map((e) => e.thingName))
          after = page.after
          // delete one row not yet listed, and one already listed
          const notYet = names.find((n) => !seen.includes(n) && n !== names[names.length - 1])
          if (notYet !== undefined && round % 2 === 0) {
            await store.mutateExecution({ jobId: 'j', thingName: notYet }, ({ execution, job }) =>
              decideDeleteExecution(execution, job, { force: true }, NOW),
            )
            names.splice(names.indexOf(notYet), 1)
          }
          round += 1
        } while (after !== undefined)
        assert.deepEqual(seen, names)
      } finally {
        await store.close()
      }
    })

    test('deleting a thing marks its pending executions REMOVED and keeps the counters', async () => {
      const store = await open()
      try {
        await addThings(store, ['a', 'b'])
        await store.createJob(newJob('j'), { thingNames: ['a', 'b'], groupNames: [] })
        await store.mutateThing('a', () => ({ kind: 'delete', atMs: NOW, result: undefined }))
        const job = await store.getJob('j')
        assert.equal(job?.counts.REMOVED, 1)
        assert.equal(job?.counts.QUEUED, 1)
        assert.deepEqual(job?.counts, await store.recountExecutions('j'))
        assert.equal((await store.getExecution({ jobId: 'j', thingName: 'a' }))?.execution.status, 'REMOVED')
      } finally {
        await store.close()
      }
    })

    test('counters always equal a recount, and the job completes exactly when nothing is pending', async () => {
      const op = fc.record({
        thing: fc.integer({ min: 0, max: 3 }),
        kind: fc.constantFrom(
          'start',
          'succeed',
          'fail',
          'reject',
          'cancel',
          'forceCancel',
          'delete',
          'forceDelete',
          'deleteThing',
        ),
      })
      await fc.assert(
        fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
          const store = await open()
          try {
            const names = ['t0', 't1', 't2', 't3']
            await addThings(store, names)
            await store.createJob(newJob('j'), { thingNames: names, groupNames: [] })
            for (const o of ops) {
              const thingName = names[o.thing] ?? 't0'
              const key = { jobId: 'j', thingName }
              const device = (status: ExecutionStatus) =>
                store.mutateExecution(key, ({ execution, job }) =>
                  decideDeviceUpdate(execution, job, { status }, NOW),
                )
              const attempts: Record<typeof o.kind, () => Promise<unknown>> = {
                start: () => device('IN_PROGRESS'),
                succeed: () => device('SUCCEEDED'),
                fail: () => device('FAILED'),
                reject: () => device('REJECTED'),
                cancel: () =>
                  store.mutateExecution(key, ({ execution, job }) =>
                    decideCancelExecution(execution, job, { force: false }, NOW),
                  ),
                forceCancel: () =>
                  store.mutateExecution(key, ({ execution, job }) =>
                    decideCancelExecution(execution, job, { force: true }, NOW),
                  ),
                delete: () =>
                  store.mutateExecution(key, ({ execution, job }) =>
                    decideDeleteExecution(execution, job, { force: false }, NOW),
                  ),
                forceDelete: () =>
                  store.mutateExecution(key, ({ execution, job }) =>
                    decideDeleteExecution(execution, job, { force: true }, NOW),
                  ),
                deleteThing: () =>
                  store.mutateThing(thingName, () => ({ kind: 'delete', atMs: NOW, result: undefined })),
              }
              await attempts[o.kind]().catch((e: unknown) => {
                if (!(e instanceof ServiceError)) throw e
              })
              const job = await store.getJob('j')
              const recount = await store.recountExecutions('j')
              assert.deepEqual(job?.counts, recount)
              const pending = recount.QUEUED + recount.IN_PROGRESS
              assert.equal(job?.status, pending === 0 ? 'COMPLETED' : 'IN_PROGRESS')
            }
          } finally {
            await store.close()
          }
        }),
        { numRuns: 40 },
      )
    })

    describeCertificateContract(test, open)
    describeReadsContract(open)
  })
}
