/**
 * The certificate registry with the unmodified AWS CLI v2 (botocore): create-keys-and-certificate,
 * attach-thing-principal (the principal in a header), list-thing-principals, list-principal-things,
 * describe-certificate, update-certificate, delete-certificate and delete-thing, with AWS's refusals.
 * [aws: iot certificates]
 */
import assert from 'node:assert/strict'
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import mqtt from 'mqtt'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { AwsCli } from '../support/aws-cli.js'
import { cliEnvironment, failsWith, locateAwsCliV2, ok, runAws } from '../support/aws-cli.js'
import type { Harness } from '../support/harness.js'
import { startHarness, unique } from '../support/harness.js'

describe('AWS CLI v2: the certificate registry [aws: iot certificates]', () => {
  let h: Harness
  let home: string
  let cli: AwsCli

  before(async () => {
    home = mkdtempSync(join(tmpdir(), 'fleetjobs-aws-cli-'))
    cli = locateAwsCliV2(cliEnvironment(home))
    // MQTT over TLS too, for the README's device (the last test).
    h = await startHarness({ mqtt: { port: 0 }, tls: { mqttPort: 0 } })
  })
  after(async () => {
    await h.close()
    rmSync(home, { recursive: true, force: true })
  })

  const iot = (...args: string[]) => runAws(cli, home, ['iot', ...args, '--endpoint-url', h.server.url])

  it('finds the AWS CLI v2 on PATH', () => {
    if ('problem' in cli) assert.fail(cli.problem)
    assert.match(cli.version, /^aws-cli\/2\./)
  })

  it('creates an ACTIVE certificate, attaches it to a thing, lists it, deactivates and deletes it', async () => {
    const thingName = unique('cli-thing')
    ok(await iot('create-thing', '--thing-name', thingName))

    // create-keys-and-certificate --set-as-active
    const created = ok(await iot('create-keys-and-certificate', '--set-as-active'))
    const certificateId = String(created['certificateId'])
    const certificateArn = String(created['certificateArn'])
    assert.match(certificateId, /^[0-9a-f]{64}$/)
    assert.equal(certificateArn, `arn:aws:iot:us-east-1:123456789012:cert/${certificateId}`)
    const x509 = new X509Certificate(String(created['certificatePem']))
    const keyPair = created['keyPair'] as Record<string, unknown>
    assert.ok(createPublicKey(createPrivateKey(String(keyPair['PrivateKey']))).equals(x509.publicKey))
    assert.ok(createPublicKey(String(keyPair['PublicKey'])).equals(x509.publicKey))

    // describe-certificate: botocore reads the epoch-second dates.
    const described = ok(await iot('describe-certificate', '--certificate-id', certificateId))[
      'certificateDescription'
    ] as Record<string, unknown>
    assert.equal(described['status'], 'ACTIVE')
    assert.equal(described['certificateMode'], 'DEFAULT')
    assert.match(String(described['creationDate']), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00$/)
    const validity = described['validity'] as Record<string, unknown>
    assert.match(String(validity['notAfter']), /^2049-12-31T23:59:59(\.0+)?\+00:00$/)

    // attach-thing-principal, list-thing-principals, list-principal-things
    assert.deepEqual(
      ok(await iot('attach-thing-principal', '--thing-name', thingName, '--principal', certificateArn)),
      {},
    )
    assert.deepEqual(ok(await iot('list-thing-principals', '--thing-name', thingName))['principals'], [
      certificateArn,
    ])
    assert.deepEqual(ok(await iot('list-principal-things', '--principal', certificateArn))['things'], [
      thingName,
    ])
    const listed = ok(await iot('list-certificates'))['certificates'] as Record<string, unknown>[]
    assert.ok(listed.some((c) => c['certificateId'] === certificateId))

    // AWS's refusals: an ACTIVE certificate, an attached certificate, a thing with a principal.
    failsWith(await iot('delete-certificate', '--certificate-id', certificateId), 'CertificateStateException')
    failsWith(await iot('delete-thing', '--thing-name', thingName), 'InvalidRequestException')

    // update-certificate --new-status INACTIVE
    assert.deepEqual(
      ok(await iot('update-certificate', '--certificate-id', certificateId, '--new-status', 'INACTIVE')),
      {},
    )
    const inactive = ok(await iot('describe-certificate', '--certificate-id', certificateId))[
      'certificateDescription'
    ] as Record<string, unknown>
    assert.equal(inactive['status'], 'INACTIVE')
    failsWith(
      await iot('delete-certificate', '--certificate-id', certificateId, '--force-delete'),
      'DeleteConflictException',
    )

    // detach, then delete-certificate and delete-thing go through.
    assert.deepEqual(
      ok(await iot('detach-thing-principal', '--thing-name', thingName, '--principal', certificateArn)),
      {},
    )
    assert.deepEqual(ok(await iot('delete-certificate', '--certificate-id', certificateId)), {})
    failsWith(
      await iot('describe-certificate', '--certificate-id', certificateId),
      'ResourceNotFoundException',
    )
    assert.deepEqual(ok(await iot('delete-thing', '--thing-name', thingName)), {})
  })

  it('a REVOKED certificate stays REVOKED', async () => {
    const created = ok(await iot('create-keys-and-certificate'))
    const certificateId = String(created['certificateId'])
    ok(await iot('update-certificate', '--certificate-id', certificateId, '--new-status', 'REVOKED'))
    failsWith(
      await iot('update-certificate', '--certificate-id', certificateId, '--new-status', 'ACTIVE'),
      'CertificateStateException',
    )
  })

  it("the README's device: files from create-keys-and-certificate, MQTT over TLS as its thing, cut off by update-certificate", async () => {
    const thingName = unique('cli-device')
    const pem = join(home, `${thingName}.pem`)
    const key = join(home, `${thingName}.key`)
    ok(await iot('create-thing', '--thing-name', thingName))
    const created = await iot(
      'create-keys-and-certificate',
      '--set-as-active',
      '--certificate-pem-outfile',
      pem,
      '--private-key-outfile',
      key,
      '--query',
      'certificateArn',
    )
    const certificateArn = JSON.parse(created.stdout) as string
    ok(await iot('attach-thing-principal', '--thing-name', thingName, '--principal', certificateArn))
    const device = mqtt.connect((h.server.mqttTlsUrl ?? '').replace('127.0.0.1', 'localhost'), {
      clientId: thingName,
      ca: readFileSync(h.server.tlsCaPath ?? ''),
      cert: readFileSync(pem),
      key: readFileSync(key),
      reconnectPeriod: 0,
    })
    try {
      await new Promise<void>((resolve, reject) => {
        device.once('connect', () => resolve())
        device.once('error', reject)
      })
      await device.subscribeAsync(`$aws/things/${thingName}/jobs/notify-next`, { qos: 1 })
      const notified = new Promise<string>((resolve) => device.once('message', (topic) => resolve(topic)))
      ok(
        await iot(
          'create-job',
          '--job-id',
          unique('cli-job'),
          '--targets',
          `arn:aws:iot:us-east-1:123456789012:thing/${thingName}`,
          '--document',
          '{"operation":"install"}',
        ),
      )
      assert.equal(await notified, `$aws/things/${thingName}/jobs/notify-next`)
      const closed = new Promise<void>((resolve) => device.once('close', () => resolve()))
      const certificateId = certificateArn.slice(certificateArn.lastIndexOf('/') + 1)
      ok(await iot('update-certificate', '--certificate-id', certificateId, '--new-status', 'INACTIVE'))
      await closed
    } finally {
      device.end(true)
    }
  })
})
