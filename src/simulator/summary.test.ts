/**
 * The end-of-run summary of `fleetjobs simulate` (pure text).
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { FleetStats } from './fleet.js'
import { barLine, formatSummary, progressLine, summaryRows } from './summary.js'

describe('formatSummary', () => {
  const stats: FleetStats = {
    devices: 100,
    connected: 99,
    connectionFailures: 1,
    firstConnectionError: 'sim-0042: connect ECONNREFUSED 127.0.0.1:1',
    inProgress: 0,
    busy: 0,
    jobsReceived: 99,
    succeeded: 90,
    failed: 3,
    rejected: 2,
    crashed: 3,
    canceledUnderIt: 1,
    abandoned: 0,
    interrupted: 0,
    errors: 0,
    connectionsLost: 0,
    jobsFinished: 99,
    seed: 7,
  }
  it('one row per counter, aligned, then the seed and the first failure', () => {
    const lines = formatSummary(stats).split('\n')
    assert.equal(lines.length, 2 + summaryRows(stats).length + 3)
    assert.match(lines[2] ?? '', /^devices\s+│\s+100$/)
    assert.match(formatSummary(stats), /^succeeded\s+│\s+90$/m)
    assert.match(formatSummary(stats), /^canceled under it\s+│\s+1$/m)
    assert.equal(new Set(lines.slice(0, 2 + summaryRows(stats).length).map((l) => l.length)).size, 1)
    assert.match(formatSummary(stats), /--seed 7/)
    assert.match(formatSummary(stats), /first connection failure: sim-0042: connect ECONNREFUSED/)
  })
  it('connected counts the devices that connected at the start, though the stop disconnected them', () => {
    assert.match(formatSummary({ ...stats, connected: 0 }), /^connected\s+│\s+99$/m)
  })
  it('the progress lines carry the counters, errors only when there are some', () => {
    assert.match(
      progressLine(stats),
      /received 99: succeeded 90, failed 3, rejected 2, crashed 3, canceled under it 1$/,
    )
    assert.match(progressLine({ ...stats, errors: 2 }), /, errors 2$/)
    assert.equal(barLine(stats), 'ok 90 fail 3 rej 2 crash 3 canceled 1 | up 99/100 busy 0')
  })
})
