/**
 * The device data plane over HTTPS with client certificates (issue 12 §2, §4; docs/tls.md): the real
 * IoTJobsDataPlaneClient over mutual TLS with a certificate from CreateKeysAndCertificate, trusting
 * the local CA of the data directory.
 */
import { DetachThingPrincipalCommand, UpdateCertificateCommand } from '@aws-sdk/client-iot'
import {
  GetPendingJobExecutionsCommand,
  IoTJobsDataPlaneClient,
  StartNextPendingJobExecutionCommand,
  UpdateJobExecutionCommand,
} from '@aws-sdk/client-iot-jobs-data-plane'
import { NodeHttpHandler } from '@smithy/node-http-handler'
import assert from 'node:assert/strict'
import { readFileSync, statSync } from 'node:fs'
import { Agent, request } from 'node:https'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { ACCOUNT, REGION, startHarness } from '../support/harness.js'
import { createJob, createThing } from '../support/device.js'
import type { DeviceCredentials } from '../support/certificates.js'
import { provisionDevice, unregisteredCredentials } from '../support/certificates.js'
import { expectError } from '../support/registry.js'

let h: Harness
let ca: string
before(async () => {
  h = await startHarness({ tls: { dataPlanePort: 0 } })
  assert.ok(h.server.dataPlaneTlsUrl !== undefined)
  assert.ok(h.server.tlsCaPath !== undefined)
  ca = readFileSync(h.server.tlsCaPath, 'utf8')
})
after(async () => {
  await h.close()
})

function clientFor(device?: DeviceCredentials): IoTJobsDataPlaneClient {
  const agent = new Agent({ ca, ...(device === undefined ? {} : { cert: device.cert, key: device.key }) })
  return new IoTJobsDataPlaneClient({
    region: REGION,
    endpoint: h.server.dataPlaneTlsUrl ?? '',
    // The SDK signs anyway; over TLS the certificate, not the signature, is the credential.
    credentials: { accessKeyId: 'unused', secretAccessKey: 'unused' },
    maxAttempts: 1,
    requestHandler: new NodeHttpHandler({ httpsAgent: agent }),
  })
}

describe('the data plane over HTTPS with a client certificate [issue 12 §2, §4]', () => {
  it('keeps the local CA in <data-dir>/tls/ with its key readable by the owner only', () => {
    assert.equal(h.server.tlsCaPath, join(h.dataDir, 'tls', 'ca.pem'))
    assert.equal(statSync(join(h.dataDir, 'tls', 'ca.key')).mode & 0o777, 0o600)
  })

  it('runs a job round for the thing the certificate is attached to', async () => {
    const thingName = await createThing(h)
    const jobId = await createJob(h, [thingName])
    const device = await provisionDevice(h, thingName)
    const data = clientFor(device)
    try {
      const pending = await data.send(new GetPendingJobExecutionsCommand({ thingName }))
      assert.deepEqual(
        pending.queuedJobs?.map((j) => j.jobId),
        [jobId],
      )
      const started = await data.send(new StartNextPendingJobExecutionCommand({ thingName }))
      assert.equal(started.execution?.status, 'IN_PROGRESS')
      const done = await data.send(
        new UpdateJobExecutionCommand({
          thingName,
          jobId,
          status: 'SUCCEEDED',
          expectedVersion: 2,
          includeJobExecutionState: true,
        }),
      )
      assert.equal(done.executionState?.status, 'SUCCEEDED')
    } finally {
      data.destroy()
    }
  })

  it("refuses another thing's jobs with AccessDeniedException (403)", async () => {
    const mine = await createThing(h)
    const theirs = await createThing(h)
    const data = clientFor(await provisionDevice(h, mine))
    try {
      await expectError(
        data.send(new GetPendingJobExecutionsCommand({ thingName: theirs })),
        'AccessDeniedException',
        403,
        [theirs],
      )
    } finally {
      data.destroy()
    }
  })

  it('refuses a client without a certificate, an unknown, an inactive and a revoked one with CertificateValidationException (400)', async () => {
    const thingName = await createThing(h)
    const none = clientFor()
    try {
      await expectError(
        none.send(new GetPendingJobExecutionsCommand({ thingName })),
        'CertificateValidationException',
        400,
        ['no client certificate'],
      )
    } finally {
      none.destroy()
    }
    // Issued by the CA but never registered: another server's (its data directory's) certificate.
    // Another CA's certificate, never registered here.
    const stranger = await unregisteredCredentials()
    const unknown = clientFor(stranger)
    try {
      await expectError(
        unknown.send(new GetPendingJobExecutionsCommand({ thingName })),
        'CertificateValidationException',
        400,
        ['not registered'],
      )
    } finally {
      unknown.destroy()
    }
    for (const newStatus of ['INACTIVE', 'REVOKED'] as const) {
      const device = await provisionDevice(h, thingName)
      await h.iot.send(new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus }))
      const data = clientFor(device)
      try {
        await expectError(
          data.send(new GetPendingJobExecutionsCommand({ thingName })),
          'CertificateValidationException',
          400,
          [newStatus],
        )
      } finally {
        data.destroy()
      }
    }
  })

  it('refuses a certificate detached from the thing', async () => {
    const thingName = await createThing(h)
    const device = await provisionDevice(h, thingName)
    await h.iot.send(new DetachThingPrincipalCommand({ thingName, principal: device.certificateArn }))
    const data = clientFor(device)
    try {
      await expectError(
        data.send(new GetPendingJobExecutionsCommand({ thingName })),
        'AccessDeniedException',
        403,
      )
    } finally {
      data.destroy()
    }
  })

  it("closes a certificate's open connections at once when it is deactivated", async () => {
    const thingName = await createThing(h)
    const device = await provisionDevice(h, thingName)
    const url = new URL(h.server.dataPlaneTlsUrl ?? '')
    const socket = connect({
      host: url.hostname,
      port: Number(url.port),
      ca,
      cert: device.cert,
      key: device.key,
      servername: 'localhost',
    })
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve)
      socket.once('error', reject)
    })
    // One keep-alive request, answered: the connection stays open.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 })
    agent.createConnection = () => socket
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(
        { agent, host: url.hostname, port: url.port, path: `/things/${thingName}/jobs`, method: 'GET' },
        (res) => {
          res.resume()
          res.on('end', () => resolve(res.statusCode ?? 0))
        },
      )
      req.on('error', reject)
      req.end()
    })
    assert.equal(status, 200)
    assert.equal(socket.destroyed, false)
    const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()))
    await h.iot.send(
      new UpdateCertificateCommand({ certificateId: device.certificateId, newStatus: 'INACTIVE' }),
    )
    await closed
    agent.destroy()
  })

  it('serves ARNs of this account and region in what it creates', async () => {
    const device = await provisionDevice(h)
    assert.equal(device.certificateArn, `arn:aws:iot:${REGION}:${ACCOUNT}:cert/${device.certificateId}`)
  })
})
