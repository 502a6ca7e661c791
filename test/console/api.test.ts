/**
 * The console's server side without a browser: its static files, its JSON API (the same model
 * validation and AWS errors as the HTTP API), the coalesced event stream, `console: false`, and a
 * shutdown that open event streams do not hold up.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { CreateThingCommand, DescribeJobCommand } from '@aws-sdk/client-iot'
import { COALESCE_MS } from '../../src/console/events.js'
import type { Harness } from '../support/harness.js'
import { raw, seedJob, startHarness, unique } from '../support/harness.js'

const CSRF = { 'x-fleetjobs-console': '1' }

/** Reads an event stream for `ms`, returning the names of the events received. */
async function eventsFor(url: string, ms: number, during?: () => Promise<void>): Promise<string[]> {
  const controller = new AbortController()
  const res = await fetch(url, { signal: controller.signal })
  assert.equal(res.status, 200)
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/)
  const names: string[] = []
  const reader = res.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  const reading = (async () => {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return
      buffer += decoder.decode(value as Uint8Array, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) >= 0) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const name = /^event: (.+)$/m.exec(block)?.[1]
        if (name !== undefined) names.push(name)
      }
    }
  })().catch((e: unknown) => {
    if ((e as Error).name !== 'AbortError') throw e
  })
  await during?.()
  await new Promise((r) => setTimeout(r, ms))
  controller.abort()
  await reading
  return names
}

describe('console server side', () => {
  let h: Harness
  before(async () => {
    h = await startHarness()
  })
  after(async () => {
    await h.close()
  })

  it('serves the page with its security headers, hashed assets for a year, 404s inside /console', async () => {
    const redirect = await fetch(`${h.server.url}/console`, { redirect: 'manual' })
    assert.equal(redirect.status, 301)
    assert.equal(redirect.headers.get('location'), '/console/')
    const page = await fetch(`${h.server.url}/console/`)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type') ?? '', /^text\/html/)
    assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/)
    assert.equal(page.headers.get('cache-control'), 'no-cache')
    const html = await page.text()
    const asset = /src="(\/console\/assets\/[^"]+\.js)"/.exec(html)?.[1]
    assert.ok(asset !== undefined, html)
    assert.ok(!/https?:\/\//.test(html), 'no external resource')
    const js = await fetch(`${h.server.url}${asset}`)
    assert.equal(js.status, 200)
    assert.match(js.headers.get('content-type') ?? '', /^text\/javascript/)
    assert.match(js.headers.get('cache-control') ?? '', /immutable/)
    const etag = js.headers.get('etag')!
    await js.arrayBuffer()
    const again = await fetch(`${h.server.url}${asset}`, { headers: { 'if-none-match': etag } })
    assert.equal(again.status, 304)
    const missing = await fetch(`${h.server.url}/console/nope.js`)
    assert.equal(missing.status, 404)
    await missing.text()
    const unknownApi = await raw(h.server.url, 'GET', '/console/api/nope')
    assert.equal(unknownApi.status, 404)
    assert.equal(unknownApi.headers.get('x-amzn-errortype'), 'UnknownOperationException')
    // Outside /console the AWS routes answer as before.
    const aws = await raw(h.server.url, 'GET', '/consoles')
    assert.equal(aws.headers.get('x-amzn-errortype'), 'UnknownOperationException')
  })

  it("lists jobs with DescribeJob's counts and settings, one page at a time", async () => {
    const { jobId } = await seedJob(h, {
      things: 3,
      extra: { timeoutConfig: { inProgressTimeoutInMinutes: 15 } },
    })
    await seedJob(h, { things: 1 })
    const first = await raw(h.server.url, 'GET', '/console/api/jobs?maxResults=1')
    assert.equal(first.status, 200)
    const jobs = first.json['jobs'] as Record<string, unknown>[]
    assert.equal(jobs.length, 1)
    assert.equal(typeof first.json['nextToken'], 'string')
    const { job } = await h.iot.send(new DescribeJobCommand({ jobId }))
    assert.equal(jobs[0]!['jobId'], jobId)
    assert.deepEqual(jobs[0]!['jobProcessDetails'], job!.jobProcessDetails)
    assert.deepEqual(jobs[0]!['timeoutConfig'], { inProgressTimeoutInMinutes: 15 })
    const next = await raw(
      h.server.url,
      'GET',
      `/console/api/jobs?maxResults=1&nextToken=${encodeURIComponent(String(first.json['nextToken']))}`,
    )
    assert.equal(next.status, 200)
    assert.notEqual((next.json['jobs'] as { jobId: string }[])[0]!.jobId, jobId)
    const filtered = await raw(h.server.url, 'GET', '/console/api/jobs?status=COMPLETED')
    assert.deepEqual(filtered.json['jobs'], [])
  })

  it('refuses bad input with AWS errors naming the field, never a 5xx', async () => {
    const cases: [string, string, string | undefined, number, string, RegExp][] = [
      ['GET', '/console/api/jobs?maxResults=0', undefined, 400, 'InvalidRequestException', /maxResults/],
      ['GET', '/console/api/jobs?maxResults=x', undefined, 400, 'InvalidRequestException', /maxResults/],
      ['GET', '/console/api/jobs?status=DONE', undefined, 400, 'InvalidRequestException', /status/],
      ['GET', '/console/api/jobs?nextToken=forged', undefined, 400, 'InvalidRequestException', /nextToken/],
      ['POST', '/console/api/aws/DescribeJob', '{', 400, 'InvalidRequestException', /not valid JSON/],
      ['POST', '/console/api/aws/DescribeJob', '[1]', 400, 'InvalidRequestException', /JSON object/],
      ['POST', '/console/api/aws/DescribeJob', '{}', 400, 'InvalidRequestException', /jobId/],
      [
        'POST',
        '/console/api/aws/DescribeJob',
        '{"jobId":"no such"}',
        400,
        'InvalidRequestException',
        /jobId/,
      ],
      ['POST', '/console/api/aws/DescribeJob', '{"jobId":"nope"}', 404, 'ResourceNotFoundException', /nope/],
      [
        'POST',
        '/console/api/aws/CreateJob',
        '{"jobId":"j","targets":"x","document":"{}"}',
        400,
        'InvalidRequestException',
        /targets/,
      ],
      [
        'POST',
        '/console/api/aws/ListJobExecutionsForJob',
        '{"jobId":"j","maxResults":100000}',
        400,
        'InvalidRequestException',
        /maxResults/,
      ],
      [
        'POST',
        '/console/api/aws/CreateKeysAndCertificate',
        '{}',
        404,
        'UnknownOperationException',
        /does not offer/,
      ],
      ['POST', '/console/api/aws/Nope', '{}', 404, 'UnknownOperationException', /Nope/],
      ['PUT', '/console/api/jobs', '{}', 404, 'UnknownOperationException', /PUT/],
      ['POST', '/console/api/session', '{"username":1}', 400, 'InvalidRequestException', /username/],
    ]
    for (const [method, path, body, status, type, message] of cases) {
      const res = await raw(h.server.url, method, path, body, CSRF)
      assert.equal(res.status, status, `${method} ${path} ${body ?? ''}: ${JSON.stringify(res.json)}`)
      assert.equal(res.headers.get('x-amzn-errortype'), type, `${method} ${path}`)
      assert.match(String(res.json['message']), message, `${method} ${path}`)
    }
    const big = await raw(
      h.server.url,
      'POST',
      '/console/api/aws/DescribeJob',
      'x'.repeat(1024 * 1024 + 1),
      CSRF,
    )
    assert.equal(big.status, 413)
  })

  it('asks for the CSRF header on every call but GET, even without a login', async () => {
    const res = await raw(h.server.url, 'POST', '/console/api/aws/ListThings', '{}')
    assert.equal(res.status, 403)
    assert.equal(res.headers.get('x-amzn-errortype'), 'AccessDeniedException')
    assert.match(String(res.json['message']), /x-fleetjobs-console/)
    const ok = await raw(h.server.url, 'POST', '/console/api/aws/ListThings', '{}', CSRF)
    assert.equal(ok.status, 200)
    const session = await raw(h.server.url, 'GET', '/console/api/session')
    assert.deepEqual(session.json, { loginRequired: false, methods: [] })
  })

  it(`sends one coalesced event per ${COALESCE_MS} ms however many commits, and one for a single commit`, async () => {
    const url = `${h.server.url}/console/api/events`
    const burstMs = 1_500
    const names = await eventsFor(url, burstMs, async () => {
      const started = Date.now()
      let n = 0
      while (Date.now() - started < burstMs - 300) {
        await Promise.all(
          Array.from({ length: 20 }, () => h.iot.send(new CreateThingCommand({ thingName: unique('sse') }))),
        )
        n += 20
      }
      assert.ok(n >= 40, `${n} commits`)
    })
    assert.equal(names[0], 'hello')
    const changed = names.filter((n) => n === 'changed').length
    assert.ok(changed >= 1, 'a change is announced')
    // Two intervals of slack: the stream opens and the burst ends between ticks.
    assert.ok(changed <= Math.ceil(burstMs / COALESCE_MS) + 2, `${changed} events`)
    const one = await eventsFor(url, 3 * COALESCE_MS, async () => {
      await h.iot.send(new CreateThingCommand({ thingName: unique('sse') }))
    })
    // One commit, one event (PostgreSQL's background commits, such as the lease's, may add another).
    assert.equal(one[0], 'hello')
    const single = one.filter((n) => n === 'changed').length
    assert.ok(single >= 1 && single <= 2, one.join())
  })
})

describe('console lifecycle', () => {
  it('is off with console: false (the AWS routes answer /console)', async () => {
    const h = await startHarness({ console: false })
    try {
      assert.equal(h.server.console, undefined)
      const res = await raw(h.server.url, 'GET', '/console/')
      assert.equal(res.status, 404)
      assert.equal(res.headers.get('x-amzn-errortype'), 'UnknownOperationException')
    } finally {
      await h.close()
    }
  })

  it('does not hold up a shutdown with event streams open', async () => {
    const h = await startHarness()
    const res = await fetch(`${h.server.url}/console/api/events`)
    assert.equal(res.status, 200)
    const reader = res.body!.getReader()
    await reader.read()
    const started = performance.now()
    await h.close()
    const ms = performance.now() - started
    assert.ok(ms < 3_000, `shutdown took ${Math.round(ms)} ms`)
    // The stream ended cleanly (not left hanging).
    for (;;) if ((await reader.read()).done) break
  })
})
