import fc from 'fast-check'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Execution, Job } from './records.js'
import { ROLLOUT_DONE, zeroCounts } from './records.js'
import type { Actor } from './state-machine.js'
import {
  ACTORS,
  EXECUTION_DELETION,
  decideCancelExecution,
  decideDeleteExecution,
  decideDeviceUpdate,
  decideJobCompletion,
  decideStartNext,
  mayMove,
} from './state-machine.js'
import type { ExecutionStatus } from './statuses.js'
import { EXECUTION_STATUSES, TERMINAL_EXECUTION_STATUSES } from './statuses.js'

/**
 * The transitions of spec/state-machines.md §2, written out independently of the module's table:
 * "from to actor" per line. Every pair not listed must be refused.
 */
const SPEC_TRANSITIONS = `
QUEUED IN_PROGRESS device
QUEUED SUCCEEDED device
QUEUED FAILED device
QUEUED REJECTED device
QUEUED CANCELED controlPlane
QUEUED CANCELED controlPlaneForce
QUEUED CANCELED service
QUEUED REMOVED service
IN_PROGRESS IN_PROGRESS device
IN_PROGRESS SUCCEEDED device
IN_PROGRESS FAILED device
IN_PROGRESS REJECTED device
IN_PROGRESS TIMED_OUT service
IN_PROGRESS CANCELED controlPlaneForce
IN_PROGRESS CANCELED service
IN_PROGRESS REMOVED service
`
const allowed = new Set(
  SPEC_TRANSITIONS.trim()
    .split('\n')
    .map((l) => l.trim()),
)

const NOW = 1_735_689_600_000

const job = (overrides: Partial<Job> = {}): Job => ({
  jobId: 'job-1',
  status: 'IN_PROGRESS',
  targetSelection: 'SNAPSHOT',
  targets: [],
  document: '{}',
  forceCanceled: false,
  createdAtMs: NOW - 1000,
  lastUpdatedAtMs: NOW - 1000,
  counts: zeroCounts(),
  rollout: ROLLOUT_DONE,
  ...overrides,
})

const execution = (status: ExecutionStatus, overrides: Partial<Execution> = {}): Execution => ({
  jobId: 'job-1',
  thingName: 'thing-1',
  executionNumber: 1,
  status,
  forceCanceled: false,
  statusDetails: {},
  queuedAtMs: NOW - 1000,
  lastUpdatedAtMs: NOW - 1000,
  versionNumber: 1,
  retryAttempt: 0,
  timedOutRetries: 0,
  ...overrides,
})

describe('execution transition table [spec: state-machines#2]', () => {
  for (const from of EXECUTION_STATUSES) {
    for (const to of EXECUTION_STATUSES) {
      for (const actor of ACTORS) {
        const expected = allowed.has(`${from} ${to} ${actor}`)
        it(`${from} → ${to} by ${actor}: ${expected ? 'allowed' : 'refused'}`, () => {
          assert.equal(mayMove(from, to, actor), expected)
        })
      }
    }
  }
})

describe('deletion table [spec: delete-job-execution#3]', () => {
  for (const status of EXECUTION_STATUSES) {
    const terminal = TERMINAL_EXECUTION_STATUSES.has(status)
    it(`${status}: without force ${terminal ? 'deleted' : '409'}, with force deleted`, () => {
      assert.equal(EXECUTION_DELETION[status].withoutForce, terminal)
      assert.equal(EXECUTION_DELETION[status].withForce, true)
      const without = decideDeleteExecution(execution(status), job(), { force: false }, NOW)
      assert.equal(without.kind, terminal ? 'delete' : 'reject')
      if (without.kind === 'reject') assert.equal(without.error.code, 'InvalidStateTransitionException')
      assert.equal(decideDeleteExecution(execution(status), job(), { force: true }, NOW).kind, 'delete')
    })
  }
  it('[open-question 59] TIMED_OUT is deletable without force', () => {
    assert.equal(decideDeleteExecution(execution('TIMED_OUT'), job(), { force: false }, NOW).kind, 'delete')
  })
  it('[open-question 60] QUEUED is deletable with force', () => {
    assert.equal(decideDeleteExecution(execution('QUEUED'), job(), { force: true }, NOW).kind, 'delete')
  })
  it('[open-question 61] a job in DELETION_IN_PROGRESS answers InvalidStateTransitionException', () => {
    const d = decideDeleteExecution(
      execution('SUCCEEDED'),
      job({ status: 'DELETION_IN_PROGRESS' }),
      { force: true },
      NOW,
    )
    assert.equal(d.kind, 'reject')
    if (d.kind === 'reject') assert.equal(d.error.message, 'Job job-1 is being deleted')
  })
})

const statusArb = fc.constantFrom(...EXECUTION_STATUSES)
const terminalArb = fc.constantFrom(...TERMINAL_EXECUTION_STATUSES)
const detailsArb = fc.option(
  fc.dictionary(fc.stringMatching(/^[a-z]{1,5}$/), fc.string({ minLength: 1, maxLength: 5 })),
  {
    nil: undefined,
  },
)
const decisionArb = fc.oneof(
  fc.record({
    op: fc.constant('device' as const),
    status: statusArb,
    details: detailsArb,
    step: fc.option(fc.integer({ min: 1, max: 10080 }), { nil: undefined }),
  }),
  fc.record({ op: fc.constant('cancel' as const), force: fc.boolean(), details: detailsArb }),
  fc.record({ op: fc.constant('startNext' as const), details: detailsArb }),
)

type Request = typeof decisionArb extends fc.Arbitrary<infer T> ? T : never

function decide(e: Execution, j: Job, r: Request) {
  switch (r.op) {
    case 'device':
      return decideDeviceUpdate(
        e,
        j,
        { status: r.status, statusDetails: r.details, stepTimeoutInMinutes: r.step },
        NOW,
      )
    case 'cancel':
      return decideCancelExecution(e, j, { force: r.force, statusDetails: r.details }, NOW)
    case 'startNext':
      return decideStartNext(e, j, { statusDetails: r.details }, NOW)
  }
}

describe('properties of the execution state machine [spec: state-machines#2, #3.1]', () => {
  it('a terminal status never changes', () => {
    fc.assert(
      fc.property(terminalArb, decisionArb, (status, request) => {
        const d = decide(execution(status), job(), request)
        assert.ok(d.kind === 'reject' || d.kind === 'unchanged', `${status} moved by ${request.op}`)
      }),
    )
  })

  it('every accepted write raises versionNumber by exactly one and stamps lastUpdatedAt', () => {
    fc.assert(
      fc.property(statusArb, fc.integer({ min: 1, max: 1000 }), decisionArb, (status, version, request) => {
        const d = decide(execution(status, { versionNumber: version }), job(), request)
        if (d.kind !== 'write') return
        assert.equal(d.next.versionNumber, version + 1)
        assert.equal(d.next.lastUpdatedAtMs, NOW)
      }),
    )
  })

  it('only the transition table decides: a write always follows an allowed move', () => {
    const actorOf = (r: Request, from: ExecutionStatus): Actor =>
      r.op === 'cancel'
        ? r.force && from === 'IN_PROGRESS'
          ? 'controlPlaneForce'
          : 'controlPlane'
        : 'device'
    fc.assert(
      fc.property(statusArb, decisionArb, (status, request) => {
        const d = decide(execution(status), job(), request)
        if (d.kind === 'write') assert.ok(mayMove(status, d.next.status, actorOf(request, status)))
      }),
    )
  })

  it('expectedVersion other than versionNumber is refused before anything else [spec: state-machines#3.1]', () => {
    fc.assert(
      fc.property(
        statusArb,
        fc.integer({ min: 1, max: 50 }),
        fc.integer({ min: 1, max: 50 }),
        (status, version, expected) => {
          fc.pre(version !== expected)
          const e = execution(status, { versionNumber: version })
          const device = decideDeviceUpdate(
            e,
            job(),
            { status: 'IN_PROGRESS', expectedVersion: expected },
            NOW,
          )
          assert.equal(device.kind, 'reject')
          const cancel = decideCancelExecution(e, job(), { force: true, expectedVersion: expected }, NOW)
          assert.equal(cancel.kind === 'reject' && cancel.error.code, 'VersionConflictException')
        },
      ),
    )
  })
})

describe('timers [spec: state-machines#4]', () => {
  it('the step timer cannot outlast the in-progress timer', () => {
    const j = job({ timeoutConfig: { inProgressTimeoutInMinutes: 20 } })
    const started = decideStartNext(execution('QUEUED'), j, {}, NOW)
    assert.equal(started.kind, 'write')
    if (started.kind !== 'write') return
    assert.equal(started.next.inProgressDeadlineMs, NOW + 20 * 60_000)
    const later = NOW + 13 * 60_000
    const stepped = decideDeviceUpdate(
      started.next,
      j,
      { status: 'IN_PROGRESS', stepTimeoutInMinutes: 9 },
      later,
    )
    assert.equal(stepped.kind, 'write')
    if (stepped.kind !== 'write') return
    assert.equal(stepped.next.stepDeadlineMs, later + 9 * 60_000)
    assert.equal(
      Math.min(stepped.next.stepDeadlineMs ?? Infinity, stepped.next.inProgressDeadlineMs ?? Infinity),
      NOW + 20 * 60_000,
    )
  })

  it('-1 cancels the step timer; a terminal status stops both', () => {
    const running = execution('IN_PROGRESS', { stepDeadlineMs: NOW + 1, inProgressDeadlineMs: NOW + 2 })
    const cancelled = decideDeviceUpdate(
      running,
      job(),
      { status: 'IN_PROGRESS', stepTimeoutInMinutes: -1 },
      NOW,
    )
    assert.ok(
      cancelled.kind === 'write' &&
        cancelled.next.stepDeadlineMs === undefined &&
        cancelled.next.inProgressDeadlineMs === NOW + 2,
    )
    const done = decideDeviceUpdate(running, job(), { status: 'SUCCEEDED' }, NOW)
    assert.ok(
      done.kind === 'write' &&
        done.next.stepDeadlineMs === undefined &&
        done.next.inProgressDeadlineMs === undefined,
    )
  })
})

describe('SNAPSHOT completion [spec: state-machines#10]', () => {
  it('completes an IN_PROGRESS SNAPSHOT job with nothing pending, and nothing else', () => {
    const counts = zeroCounts()
    assert.equal(decideJobCompletion(job({ counts }), NOW)?.status, 'COMPLETED')
    assert.equal(decideJobCompletion(job({ counts, targetSelection: 'CONTINUOUS' }), NOW), undefined)
    assert.equal(decideJobCompletion(job({ counts: { ...counts, QUEUED: 1 } }), NOW), undefined)
    assert.equal(decideJobCompletion(job({ counts: { ...counts, IN_PROGRESS: 1 } }), NOW), undefined)
    assert.equal(decideJobCompletion(job({ counts, status: 'CANCELED' }), NOW), undefined)
  })
})
