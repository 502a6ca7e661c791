/**
 * SigV4 on both HTTP planes (`--auth sigv4`): the real SDK clients sign and are served; an unsigned,
 * unknown-key, wrong-secret, tampered, mis-scoped or out-of-time request is refused with AWS's 403 and
 * error type, before anything is read or changed. [spec: wire-protocol#7] [spec: newer-in-latest-sdk#control-plane]
 */
import { CreateThingCommand, IoTClient, ListJobsCommand, ListThingsCommand } from '@aws-sdk/client-iot'
import { GetPendingJobExecutionsCommand, IoTJobsDataPlaneClient } from '@aws-sdk/client-iot-jobs-data-plane'
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import WebSocket from 'ws'
import type { Harness } from '../support/harness.js'
import { REGION, startHarness, unique } from '../support/harness.js'

const KEY = {
  accessKeyId: 'AKIDFLEETJOBSTEST01',
  secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
}
const credentials = new Map([[KEY.accessKeyId, KEY.secretAccessKey]])

let h: Harness
before(async () => {
  h = await startHarness({ auth: { mode: 'sigv4', credentials }, mqtt: { port: 0 } })
})
after(async () => {
  await h?.close()
})

const iot = (over: Partial<ConstructorParameters<typeof IoTClient>[0]> = {}) =>
  new IoTClient({ region: REGION, endpoint: h.server.url, credentials: KEY, maxAttempts: 1, ...over })
const device = (
  endpoint: string,
  over: Partial<ConstructorParameters<typeof IoTJobsDataPlaneClient>[0]> = {},
) => new IoTJobsDataPlaneClient({ region: REGION, endpoint, credentials: KEY, maxAttempts: 1, ...over })

/** A request signed by the SDK's signer as a client would, then sent with fetch. */
async function signed(
  method: string,
  path: string,
  options: {
    service?: string
    body?: string
    secret?: string
    query?: Record<string, string>
    tamper?: (r: { path: string; body?: string | undefined; headers: Record<string, string> }) => void
  } = {},
): Promise<Response> {
  const url = new URL(h.server.url)
  const signer = new SignatureV4({
    credentials: { accessKeyId: KEY.accessKeyId, secretAccessKey: options.secret ?? KEY.secretAccessKey },
    region: REGION,
    service: options.service ?? 'iot',
    sha256: Hash.bind(null, 'sha256'),
  })
  const headers: Record<string, string> = {
    host: url.host,
    ...(options.body === undefined ? {} : { 'content-type': 'application/json' }),
  }
  const request = await signer.sign({
    method,
    protocol: 'http:',
    hostname: url.hostname,
    port: Number(url.port),
    path,
    query: options.query ?? {},
    headers,
    ...(options.body === undefined ? {} : { body: options.body }),
  })
  const sent = { path, body: options.body, headers: request.headers as Record<string, string> }
  options.tamper?.(sent)
  const query = new URLSearchParams(options.query ?? {}).toString()
  const { host: _host, ...rest } = sent.headers
  return fetch(`${h.server.url}${sent.path}${query === '' ? '' : `?${query}`}`, {
    method,
    headers: rest,
    ...(sent.body === undefined ? {} : { body: sent.body }),
  })
}

async function expect403(res: Response, type: string, message?: RegExp): Promise<void> {
  const text = await res.text()
  assert.equal(res.status, 403, text)
  assert.equal(res.headers.get('x-amzn-errortype'), type, text)
  if (message !== undefined) assert.match((JSON.parse(text) as { message: string }).message, message)
}

describe('SigV4 on the HTTP APIs [spec: wire-protocol#7]', () => {
  it('the AWS SDK clients, signing with a known key, are served on both planes and both data-plane endpoints', async () => {
    const client = iot()
    const thingName = unique('signed')
    await client.send(new CreateThingCommand({ thingName }))
    assert.ok((await client.send(new ListThingsCommand({}))).things?.some((t) => t.thingName === thingName))
    for (const endpoint of [h.server.dataPlaneUrl, h.server.url, `${h.server.url}/iot-jobs-data`]) {
      const d = device(endpoint)
      const pending = await d.send(new GetPendingJobExecutionsCommand({ thingName }))
      assert.deepEqual(pending.queuedJobs, [], endpoint)
      d.destroy()
    }
    client.destroy()
  })

  it('no signature at all: 403 MissingAuthenticationTokenException, also for the test API and unknown paths', async () => {
    await expect403(
      await fetch(`${h.server.url}/jobs`),
      'MissingAuthenticationTokenException',
      /^Missing Authentication Token$/,
    )
    await expect403(await fetch(`${h.server.url}/no/such/operation`), 'MissingAuthenticationTokenException')
    await expect403(await fetch(`${h.server.url}/_fleetjobs/clock`), 'MissingAuthenticationTokenException')
    await expect403(
      await fetch(`${h.server.dataPlaneUrl}/things/x/jobs`),
      'MissingAuthenticationTokenException',
    )
    const res = await fetch(`${h.server.url}/things/x`, {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    })
    await expect403(res, 'MissingAuthenticationTokenException')
  })

  it('an unknown access key: 403 UnrecognizedClientException, as the SDK names it', async () => {
    const client = iot({ credentials: { accessKeyId: 'AKIDUNKNOWN', secretAccessKey: 'x' } })
    await assert.rejects(
      client.send(new ListJobsCommand({})),
      (e: Error & { $metadata?: { httpStatusCode?: number } }) => {
        assert.equal(e.name, 'UnrecognizedClientException')
        assert.equal(e.$metadata?.httpStatusCode, 403)
        assert.equal(e.message, 'The security token included in the request is invalid.')
        return true
      },
    )
    client.destroy()
  })

  it("a wrong secret: 403 InvalidSignatureException with AWS's message", async () => {
    const client = iot({ credentials: { accessKeyId: KEY.accessKeyId, secretAccessKey: 'not-the-secret' } })
    await assert.rejects(client.send(new ListJobsCommand({})), (e: Error) => {
      assert.equal(e.name, 'InvalidSignatureException')
      assert.match(
        e.message,
        /^The request signature we calculated does not match the signature you provided/,
      )
      return true
    })
    client.destroy()
  })

  it('both control-plane signing names (iot, execute-api) are accepted; the data plane wants iot-jobs-data', async () => {
    assert.equal((await signed('GET', '/jobs', { service: 'iot' })).status, 200)
    assert.equal((await signed('GET', '/jobs', { service: 'execute-api' })).status, 200)
    // Signed for iot-jobs-data on the main port: routed to the data plane, and served there.
    assert.equal((await signed('GET', '/things/nobody/jobs', { service: 'iot-jobs-data' })).status, 404)
    // Signed for another service.
    await expect403(
      await signed('GET', '/jobs', { service: 's3' }),
      'InvalidSignatureException',
      /scoped to correct service/,
    )
    // A control-plane signature sent to the data-plane prefix.
    await expect403(
      await signed('GET', '/iot-jobs-data/things/x/jobs', { service: 'iot' }),
      'InvalidSignatureException',
    )
  })

  it('a request changed after signing is refused: path, query, header, body, and a false payload hash', async () => {
    const body = JSON.stringify({ attributePayload: { attributes: { a: '1' } } })
    const thingName = unique('tamper')
    await expect403(
      await signed('POST', `/things/${thingName}`, {
        body,
        tamper: (r) => (r.body = body.replace('1', '2')),
      }),
      'InvalidSignatureException',
    )
    await expect403(
      await signed('GET', '/things', { tamper: (r) => (r.path = '/jobs') }),
      'InvalidSignatureException',
    )
    await expect403(
      await signed('GET', '/jobs', {
        query: { status: 'IN_PROGRESS' },
        tamper: (r) => (r.path = '/jobs?status=CANCELED&'),
      }),
      'InvalidSignatureException',
    )
    await expect403(
      await signed('GET', '/jobs', { tamper: (r) => (r.headers['x-amz-date'] = '20200101T000000Z') }),
      'InvalidSignatureException',
    )
    // The payload hash header is checked against the body, not trusted.
    await expect403(
      await signed('POST', `/things/${thingName}`, {
        body,
        tamper: (r) => {
          r.headers['x-amz-content-sha256'] =
            'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'
        },
      }),
      'InvalidSignatureException',
    )
    // Nothing was created by any of them.
    assert.equal((await signed('GET', `/things/${thingName}`)).status, 404)
  })

  it('presigned URLs (the query form) are served, and refused once expired', async () => {
    const url = new URL(h.server.url)
    const signer = new SignatureV4({
      credentials: KEY,
      region: REGION,
      service: 'iot',
      sha256: Hash.bind(null, 'sha256'),
    })
    const presign = async (signingDate: Date, expiresIn: number) => {
      const r = await signer.presign(
        {
          method: 'GET',
          protocol: 'http:',
          hostname: url.hostname,
          port: Number(url.port),
          path: '/jobs',
          query: {},
          headers: { host: url.host },
        },
        { signingDate, expiresIn },
      )
      return `${h.server.url}/jobs?${new URLSearchParams(r.query as Record<string, string>).toString()}`
    }
    assert.equal((await fetch(await presign(new Date(), 300))).status, 200)
    await expect403(
      await fetch(await presign(new Date(Date.now() - 3_600_000), 60)),
      'InvalidSignatureException',
      /expired/,
    )
  })

  it('the WebSocket MQTT path needs a SigV4-presigned URL', async () => {
    const wsUrl = h.server.mqttWebSocketUrl ?? ''
    const refused = await new Promise<number>((resolve) => {
      const ws = new WebSocket(wsUrl, 'mqtt')
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => resolve(101))
      ws.on('error', () => undefined)
    })
    assert.equal(refused, 403)
    const url = new URL(wsUrl)
    const signer = new SignatureV4({
      credentials: KEY,
      region: REGION,
      service: 'iotdevicegateway',
      sha256: Hash.bind(null, 'sha256'),
    })
    const r = await signer.presign(
      {
        method: 'GET',
        protocol: 'http:',
        hostname: url.hostname,
        port: Number(url.port),
        path: '/mqtt',
        query: {},
        headers: { host: url.host },
      },
      { expiresIn: 60 },
    )
    const opened = await new Promise<number>((resolve) => {
      const ws = new WebSocket(
        `${wsUrl}?${new URLSearchParams(r.query as Record<string, string>).toString()}`,
        'mqtt',
      )
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
      ws.on('open', () => {
        ws.close()
        resolve(101)
      })
      ws.on('error', () => undefined)
    })
    assert.equal(opened, 101)
  })
})

describe('SigV4 against the service clock (5 minutes of skew) [spec: wire-protocol#7]', () => {
  let v: Harness
  before(async () => {
    v = await startHarness({
      auth: { mode: 'sigv4', credentials },
      clockMode: 'virtual',
      clockStartMs: Date.now() + 3_600_000,
    })
  })
  after(async () => {
    await v?.close()
  })
  it('a request signed an hour before the service clock is refused as expired; one signed at its time is served', async () => {
    const client = new IoTClient({ region: REGION, endpoint: v.server.url, credentials: KEY, maxAttempts: 1 })
    await assert.rejects(client.send(new ListJobsCommand({})), (e: Error) => {
      assert.equal(e.name, 'InvalidSignatureException')
      assert.match(
        e.message,
        /^Signature expired: \d{8}T\d{6}Z is now earlier than \d{8}T\d{6}Z \(\d{8}T\d{6}Z - 5 min\.\)$/,
      )
      return true
    })
    client.destroy()
    const inTime = new IoTClient({
      region: REGION,
      endpoint: v.server.url,
      credentials: KEY,
      maxAttempts: 1,
      systemClockOffset: 3_600_000,
    })
    assert.ok(Array.isArray((await inTime.send(new ListJobsCommand({}))).jobs))
    inTime.destroy()
  })
})
