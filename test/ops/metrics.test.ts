/**
 * /metrics, /healthz and /readyz on the real server, scraped over HTTP and parsed with a Prometheus
 * text-format parser; the figures are checked against what the AWS SDK reads (DescribeJob), on both
 * stores. The request log (pino) is read from the server's own logger. (/readyz with the database
 * stopped: test/postgres/restart.test.ts.)
 */
import { CancelJobCommand, DescribeJobCommand } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { Writable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import parsePrometheusTextFormat from 'parse-prometheus-text-format'
import type { PrometheusFamily } from 'parse-prometheus-text-format'
import { pino } from 'pino'
import { createJob, createThing, report } from '../support/device.js'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'
import { waitUntil } from '../support/mqtt.js'

async function scrape(h: Harness, headers: Record<string, string> = {}): Promise<PrometheusFamily[]> {
  const res = await fetch(`${h.server.url}/metrics`, { headers })
  assert.equal(res.status, 200, await res.clone().text())
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  return parsePrometheusTextFormat(await res.text())
}

function family(families: readonly PrometheusFamily[], name: string): PrometheusFamily {
  const found = families.find((f) => f.name === name)
  assert.ok(found !== undefined, `no ${name} in the scrape`)
  return found
}

/** The value of the sample whose labels include `labels`. */
function valueOf(f: PrometheusFamily, labels: Record<string, string> = {}): number {
  const sample = f.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
  assert.ok(sample !== undefined, `no ${f.name} sample with ${JSON.stringify(labels)}`)
  return Number(sample.value ?? sample.count)
}

describe('/metrics, /healthz and /readyz', () => {
  let h: Harness
  const lines: Record<string, unknown>[] = []
  before(async () => {
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString('utf8').split('\n'))
          if (line !== '') lines.push(JSON.parse(line) as Record<string, unknown>)
        done()
      },
    })
    h = await startHarness({ mqtt: { port: 0 }, logger: pino({ level: 'debug' }, sink) })
  })
  after(() => h.close())

  it('counts jobs and executions by status as DescribeJob does, per status', async () => {
    const things = await Promise.all(Array.from({ length: 5 }, () => createThing(h)))
    const running = await createJob(h, things)
    await report(h, running, things[0]!, 'IN_PROGRESS')
    await report(h, running, things[1]!, 'SUCCEEDED')
    await report(h, running, things[2]!, 'FAILED')
    await report(h, running, things[3]!, 'REJECTED')
    const canceled = await createJob(h, things.slice(0, 2))
    await h.iot.send(new CancelJobCommand({ jobId: canceled, force: true }))

    const families = await scrape(h)
    const executions = family(families, 'fleetjobs_job_executions')
    assert.equal(executions.type, 'GAUGE')
    // A server of this test's own: its stored executions are exactly those of the two jobs.
    const details = await Promise.all(
      [running, canceled].map(
        async (jobId) => (await h.iot.send(new DescribeJobCommand({ jobId }))).job?.jobProcessDetails,
      ),
    )
    const sum = (
      key:
        | 'numberOfQueuedThings'
        | 'numberOfInProgressThings'
        | 'numberOfSucceededThings'
        | 'numberOfFailedThings'
        | 'numberOfRejectedThings'
        | 'numberOfCanceledThings'
        | 'numberOfTimedOutThings'
        | 'numberOfRemovedThings',
    ) => details.reduce((total, d) => total + (d?.[key] ?? 0), 0)
    assert.deepEqual(
      {
        QUEUED: valueOf(executions, { status: 'QUEUED' }),
        IN_PROGRESS: valueOf(executions, { status: 'IN_PROGRESS' }),
        SUCCEEDED: valueOf(executions, { status: 'SUCCEEDED' }),
        FAILED: valueOf(executions, { status: 'FAILED' }),
        REJECTED: valueOf(executions, { status: 'REJECTED' }),
        CANCELED: valueOf(executions, { status: 'CANCELED' }),
        TIMED_OUT: valueOf(executions, { status: 'TIMED_OUT' }),
        REMOVED: valueOf(executions, { status: 'REMOVED' }),
      },
      {
        QUEUED: sum('numberOfQueuedThings'),
        IN_PROGRESS: sum('numberOfInProgressThings'),
        SUCCEEDED: sum('numberOfSucceededThings'),
        FAILED: sum('numberOfFailedThings'),
        REJECTED: sum('numberOfRejectedThings'),
        CANCELED: sum('numberOfCanceledThings'),
        TIMED_OUT: sum('numberOfTimedOutThings'),
        REMOVED: sum('numberOfRemovedThings'),
      },
    )
    assert.deepEqual(
      { QUEUED: 1, IN_PROGRESS: 1, SUCCEEDED: 1, FAILED: 1, REJECTED: 1, CANCELED: 2 },
      {
        QUEUED: sum('numberOfQueuedThings'),
        IN_PROGRESS: sum('numberOfInProgressThings'),
        SUCCEEDED: sum('numberOfSucceededThings'),
        FAILED: sum('numberOfFailedThings'),
        REJECTED: sum('numberOfRejectedThings'),
        CANCELED: sum('numberOfCanceledThings'),
      },
    )
    const jobs = family(families, 'fleetjobs_jobs')
    assert.equal(valueOf(jobs, { status: 'IN_PROGRESS' }), 1)
    assert.equal(valueOf(jobs, { status: 'CANCELED' }), 1)
    assert.equal(valueOf(jobs, { status: 'COMPLETED' }), 0)
  })

  it('counts requests by operation and status, with a latency histogram', async () => {
    const before = await scrape(h)
    const counted = (families: PrometheusFamily[], labels: Record<string, string>) => {
      const f = families.find((x) => x.name === 'fleetjobs_http_requests_total')
      const sample = f?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v))
      return sample === undefined ? 0 : Number(sample.value)
    }
    const missing = unique('missing-job')
    for (let i = 0; i < 3; i++)
      await assert.rejects(h.iot.send(new DescribeJobCommand({ jobId: missing })), {
        name: 'ResourceNotFoundException',
      })
    const after = await scrape(h)
    const labels = { plane: 'controlPlane', operation: 'DescribeJob', status: '404' }
    assert.equal(counted(after, labels) - counted(before, labels), 3)
    assert.equal(family(after, 'fleetjobs_http_request_duration_seconds').type, 'HISTOGRAM')
    // The parser folds a labelled histogram's series together; its count series is read from the text.
    const text = await (await fetch(`${h.server.url}/metrics`)).text()
    const count =
      /^fleetjobs_http_request_duration_seconds_count\{plane="controlPlane",operation="DescribeJob"\} (\d+)$/m.exec(
        text,
      )
    assert.ok(count !== null && Number(count[1]) >= 3, 'DescribeJob latency observed')
    assert.match(
      text,
      /^fleetjobs_http_request_duration_seconds_bucket\{le="0\.001",plane="controlPlane",operation="DescribeJob"\} \d+$/m,
    )
    // A request no route knows is counted as `unknown`, not by its path (bounded label values).
    await fetch(`${h.server.url}/no/such/${unique('path')}`)
    const unknown = await scrape(h)
    assert.ok(counted(unknown, { operation: 'unknown', status: '404' }) >= 1)
  })

  it('reports the outboxes, the broker, time-driven lag and store transactions', async () => {
    const thing = await createThing(h)
    await createJob(h, [thing])
    // The notification dispatcher empties the outbox once it published.
    const families = await waitUntil('the notification outbox to empty', async () => {
      const f = await scrape(h)
      return valueOf(family(f, 'fleetjobs_outbox_rows'), { outbox: 'notifications' }) === 0 ? f : undefined
    })
    assert.equal(
      valueOf(family(families, 'fleetjobs_outbox_oldest_age_seconds'), { outbox: 'notifications' }),
      0,
    )
    assert.equal(valueOf(family(families, 'fleetjobs_outbox_rows'), { outbox: 'events' }), 0)
    assert.equal(valueOf(family(families, 'fleetjobs_mqtt_connected_clients')), 0)
    assert.equal(valueOf(family(families, 'fleetjobs_time_driven_lag_seconds')), 0)
    const transactions = family(families, 'fleetjobs_store_transaction_duration_seconds')
    assert.ok(Number(transactions.metrics[0]?.count) > 0, 'transactions were observed')
    assert.ok(valueOf(family(families, 'fleetjobs_store_writes_total')) > 0)
    // The process' own figures come along (prom-client's defaults).
    family(families, 'process_cpu_seconds_total')
    family(families, 'nodejs_eventloop_lag_seconds')
  })

  it('/healthz answers ok and /readyz names each check', async () => {
    const health = await fetch(`${h.server.url}/healthz`)
    assert.equal(health.status, 200)
    assert.equal(await health.text(), 'ok\n')
    const ready = await fetch(`${h.server.url}/readyz`)
    assert.equal(ready.status, 200)
    const body = (await ready.json()) as {
      status: string
      checks: Record<string, { ok: boolean; detail: string }>
    }
    assert.equal(body.status, 'ready')
    assert.deepEqual(Object.keys(body.checks).sort(), ['migrations', 'mqtt', 'store'])
    assert.ok(Object.values(body.checks).every((c) => c.ok))
    assert.match(body.checks['migrations']!.detail, /version \d+/)
    const post = await fetch(`${h.server.url}/metrics`, { method: 'POST' })
    assert.equal(post.status, 405)
  })

  it('logs each request at debug and each error answer at info, with operation, status, duration, thing and job', async () => {
    const thing = await createThing(h)
    const jobId = await createJob(h, [thing])
    await report(h, jobId, thing, 'IN_PROGRESS')
    // QUEUED is not a status a device may report: InvalidRequestException.
    await assert.rejects(report(h, jobId, thing, 'QUEUED'))
    const update = lines.filter(
      (l) => l['msg'] === 'request' && l['operation'] === 'UpdateJobExecution' && l['thingName'] === thing,
    )
    assert.equal(update.length, 2, JSON.stringify(update))
    const [ok, refused] = update
    assert.equal(ok?.['level'], 20)
    assert.equal(ok?.['status'], 200)
    assert.equal(ok?.['jobId'], jobId)
    assert.equal(ok?.['plane'], 'dataPlane')
    assert.equal(typeof ok?.['durationMs'], 'number')
    assert.equal(refused?.['level'], 30)
    assert.equal(refused?.['status'], 400)
    assert.equal(refused?.['errorType'], 'InvalidRequestException')
  })
})

describe('/metrics and /readyz off loopback (HTTP authentication on)', () => {
  const credentials = new Map([['AKIDOPS', 'ops-secret']])

  it('answer 403 without a --metrics-token, 401 with a wrong one, and the figures with the right one; /healthz answers anyone', async () => {
    const without = await startHarness({ auth: { mode: 'sigv4', credentials } })
    try {
      const metrics = await fetch(`${without.server.url}/metrics`)
      assert.equal(metrics.status, 403)
      assert.match(await metrics.text(), /--metrics-token/)
      assert.equal((await fetch(`${without.server.url}/readyz`)).status, 403)
      assert.equal((await fetch(`${without.server.url}/healthz`)).status, 200)
    } finally {
      await without.close()
    }
    const token = 'a-long-random-token'
    const h = await startHarness({ auth: { mode: 'sigv4', credentials }, metricsToken: token })
    try {
      const wrong = await fetch(`${h.server.url}/metrics`, { headers: { authorization: 'Bearer nope' } })
      assert.equal(wrong.status, 401)
      assert.equal(wrong.headers.get('www-authenticate'), 'Bearer')
      assert.equal((await fetch(`${h.server.url}/readyz`)).status, 401)
      const families = await scrape(h, { authorization: `Bearer ${token}` })
      family(families, 'fleetjobs_job_executions')
      const ready = await fetch(`${h.server.url}/readyz`, { headers: { authorization: `Bearer ${token}` } })
      assert.equal(ready.status, 200)
    } finally {
      await h.close()
    }
  })
})
