import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { formatCount, formatDuration, formatTime, nameOfArn, settingsOf } from './format.js'

describe('console formatting', () => {
  it('counts with thousands separators', () => {
    assert.equal(formatCount(0), '0')
    assert.equal(formatCount(999), '999')
    assert.equal(formatCount(100_000), '100,000')
    assert.equal(formatCount(1_000_000), '1,000,000')
  })

  it('AWS epoch seconds as UTC, absent as a dash', () => {
    assert.equal(formatTime(1_764_678_896.5), '2025-12-02 12:34:56Z')
    assert.equal(formatTime(undefined), '—')
    assert.equal(formatTime('x'), '—')
  })

  it('durations', () => {
    assert.equal(formatDuration(45), '45 s')
    assert.equal(formatDuration(12 * 60), '12 min')
    assert.equal(formatDuration(3 * 3600), '3 h')
    assert.equal(formatDuration(3 * 3600 + 5 * 60), '3 h 5 min')
    assert.equal(formatDuration(2 * 86400 + 4 * 3600), '2 d 4 h')
    assert.equal(formatDuration(-1), '—')
  })

  it("a job's rollout, abort, timeout, retry and schedule settings", () => {
    const settings = settingsOf({
      jobExecutionsRolloutConfig: {
        maximumPerMinute: 1000,
        exponentialRate: {
          baseRatePerMinute: 10,
          incrementFactor: 2,
          rateIncreaseCriteria: { numberOfSucceededThings: 50 },
        },
      },
      abortConfig: {
        criteriaList: [
          {
            failureType: 'FAILED',
            action: 'CANCEL',
            thresholdPercentage: 10,
            minNumberOfExecutedThings: 100,
          },
        ],
      },
      timeoutConfig: { inProgressTimeoutInMinutes: 90 },
      jobExecutionsRetryConfig: { criteriaList: [{ failureType: 'TIMED_OUT', numberOfRetries: 2 }] },
      schedulingConfig: {
        startTime: '2030-01-01T00:00',
        endTime: '2030-01-02T00:00',
        endBehavior: 'STOP_ROLLOUT',
        maintenanceWindows: [{ startTime: 'cron(0 1 * * ? *)', durationInMinutes: 60 }],
      },
    })
    assert.deepEqual(settings, [
      { label: 'rollout', text: '1,000/min, from 10/min ×2 every 50 succeeded' },
      { label: 'abort', text: 'failed ≥ 10% of ≥ 100' },
      { label: 'timeout', text: '1 h 30 min in progress' },
      { label: 'retry', text: 'timed out ×2' },
      {
        label: 'schedule',
        text: 'from 2030-01-01T00:00, until 2030-01-02T00:00, then stop rollout, 1 maintenance window',
      },
    ])
    assert.deepEqual(settingsOf({}), [])
  })

  it('the name at the end of an ARN', () => {
    assert.equal(nameOfArn('arn:aws:iot:us-east-1:123456789012:thinggroup/fleet'), 'fleet')
    assert.equal(nameOfArn('plain'), 'plain')
  })
})
