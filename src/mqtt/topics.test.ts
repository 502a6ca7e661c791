import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { notifyNextTopic, notifyTopic, parseTopic } from './topics.js'

const off = { namespacedListTopics: false }
const on = { namespacedListTopics: true }

describe('MQTT topic parsing [spec: jobs-device-api#2.1, #3]', () => {
  const cases: [string, object][] = [
    ['$aws/things/t1/jobs/get', { operation: 'GetPendingJobExecutions', thingName: 't1' }],
    ['$aws/things/t:1/jobs/start-next', { operation: 'StartNextPendingJobExecution', thingName: 't:1' }],
    ['$aws/things/t1/jobs/job-1/get', { operation: 'DescribeJobExecution', jobId: 'job-1' }],
    ['$aws/things/t1/jobs/$next/get', { operation: 'DescribeJobExecution', jobId: '$next' }],
    ['$aws/things/t1/jobs/job-1/update', { operation: 'UpdateJobExecution', jobId: 'job-1' }],
    [
      '$aws/things/t1/jobs/job-1/namespace-aws-gg-deployment/get',
      { operation: 'DescribeJobExecution', jobId: 'job-1', namespaceId: 'aws-gg-deployment' },
    ],
    [
      '$aws/things/t1/jobs/$next/namespace-ns/get',
      { operation: 'DescribeJobExecution', jobId: '$next', namespaceId: 'ns' },
    ],
    [
      '$aws/things/t1/jobs/job-1/namespace-ns/update',
      { operation: 'UpdateJobExecution', jobId: 'job-1', namespaceId: 'ns' },
    ],
  ]
  for (const [topic, expected] of cases) {
    it(topic, () => {
      const parsed = parseTopic(topic, off)
      assert.equal(parsed.kind, 'request')
      for (const [k, v] of Object.entries(expected))
        assert.equal((parsed as unknown as Record<string, unknown>)[k], v)
    })
  }

  it('ignores replies and notifications, its own publishes coming back', () => {
    for (const t of [
      '$aws/things/t1/jobs/get/accepted',
      '$aws/things/t1/jobs/job-1/update/rejected',
      '$aws/things/t1/jobs/notify',
      '$aws/things/t1/jobs/notify-next',
      '$aws/things/t1/jobs/notify-namespace-ns',
      '$aws/things/t1/jobs/notify-next-namespace-ns',
      '$aws/events/job/j/completed',
      'other/topic',
    ]) {
      assert.equal(parseTopic(t, off).kind, 'ignored', t)
    }
  })

  it('answers InvalidTopic for other topics under the jobs tree [open-question 46]', () => {
    for (const t of [
      '$aws/things/t1/jobs',
      '$aws/things/t1/jobs/x/y/z/get',
      '$aws/things/t1/jobs/$next/update',
      '$aws/things/t1/jobs/a.b/get',
    ]) {
      assert.equal(parseTopic(t, off).kind, 'invalid', t)
    }
  })

  it('[open-question 47] namespaced get/start-next only with the setting; otherwise namespace-x is a job id', () => {
    const plain = parseTopic('$aws/things/t1/jobs/namespace-ns/get', off)
    assert.equal(plain.kind === 'request' && plain.operation, 'DescribeJobExecution')
    const list = parseTopic('$aws/things/t1/jobs/namespace-ns/get', on)
    assert.ok(
      list.kind === 'request' && list.operation === 'GetPendingJobExecutions' && list.namespaceId === 'ns',
    )
    const start = parseTopic('$aws/things/t1/jobs/namespace-ns/start-next', on)
    assert.ok(
      start.kind === 'request' &&
        start.operation === 'StartNextPendingJobExecution' &&
        start.namespaceId === 'ns',
    )
    assert.equal(parseTopic('$aws/things/t1/jobs/namespace-ns/start-next', off).kind, 'invalid')
  })

  it('builds the notification topics, plain and namespaced [spec: jobs-device-api#4]', () => {
    assert.equal(notifyTopic('t1', undefined), '$aws/things/t1/jobs/notify')
    assert.equal(notifyTopic('t1', 'ns'), '$aws/things/t1/jobs/notify-namespace-ns')
    assert.equal(notifyNextTopic('t1', ''), '$aws/things/t1/jobs/notify-next')
    assert.equal(notifyNextTopic('t1', 'ns'), '$aws/things/t1/jobs/notify-next-namespace-ns')
  })
})
