/**
 * CA certificates and the certificates registered under them, through the real AWS SDK:
 * RegisterCACertificate, DescribeCACertificate, UpdateCACertificate, DeleteCACertificate and
 * RegisterCertificate. docs/compatibility.md#certificates. [aws: iot certificates]
 */
import {
  DeleteCACertificateCommand,
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  UpdateCACertificateCommand,
} from '@aws-sdk/client-iot'
import type { RegisterCACertificateCommandInput } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { ACCOUNT, raw, startHarness } from '../../support/harness.js'
import type { TestCA } from '../../support/certificates.js'
import {
  caCertArnOf,
  certArnOf,
  issueDevice,
  makeCA,
  unregisteredDevice,
  verificationFor,
} from '../../support/certificates.js'
import { expectError } from '../../support/registry.js'

let h: Harness
before(async () => {
  h = await startHarness()
})
after(async () => {
  await h.close()
})

const registerCA = async (ca: TestCA, extra: Partial<RegisterCACertificateCommandInput> = {}) =>
  h.iot.send(
    new RegisterCACertificateCommand({
      caCertificate: ca.pem,
      ...(extra.certificateMode === 'SNI_ONLY' ? {} : { verificationCertificate: await verificationFor(ca) }),
      ...extra,
    }),
  )

const describeCA = async (certificateId: string) =>
  h.iot.send(new DescribeCACertificateCommand({ certificateId }))

const describeCert = async (certificateId: string) =>
  (await h.iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription

/** A registered, ACTIVE CA. */
async function activeCA(extra: Partial<RegisterCACertificateCommandInput> = {}): Promise<TestCA> {
  const ca = await makeCA()
  await registerCA(ca, { setAsActive: true, ...extra })
  return ca
}

describe('RegisterCACertificate [aws: RegisterCACertificate]', () => {
  it('registers with a verification certificate signed by the CA: cacert ARN, INACTIVE, DEFAULT, auto-registration DISABLE', async () => {
    const ca = await makeCA()
    const out = await registerCA(ca)
    assert.equal(out.certificateId, ca.id)
    assert.equal(out.certificateArn, `arn:aws:iot:us-east-1:123456789012:cacert/${ca.id}`)
    const d = await describeCA(ca.id)
    assert.deepEqual(
      [
        d.certificateDescription?.certificateArn,
        d.certificateDescription?.status,
        d.certificateDescription?.certificateMode,
        d.certificateDescription?.autoRegistrationStatus,
        d.certificateDescription?.certificatePem,
        d.certificateDescription?.ownedBy,
        d.certificateDescription?.customerVersion,
        d.registrationConfig,
      ],
      [caCertArnOf(ca.id), 'INACTIVE', 'DEFAULT', 'DISABLE', ca.pem, ACCOUNT, 1, undefined],
    )
    assert.ok(d.certificateDescription?.validity?.notAfter instanceof Date)
    assert.ok(d.certificateDescription?.creationDate instanceof Date)
  })

  it('setAsActive, allowAutoRegistration and registrationConfig are kept; tags are accepted', async () => {
    const ca = await makeCA()
    const registrationConfig = {
      templateBody: '{"Resources":{}}',
      roleArn: `arn:aws:iam::${ACCOUNT}:role/jitp`,
      templateName: 'tpl',
    }
    await registerCA(ca, {
      setAsActive: true,
      allowAutoRegistration: true,
      registrationConfig,
      tags: [{ Key: 'team', Value: 'fleet' }],
    })
    const d = await describeCA(ca.id)
    assert.equal(d.certificateDescription?.status, 'ACTIVE')
    assert.equal(d.certificateDescription?.autoRegistrationStatus, 'ENABLE')
    assert.deepEqual(d.registrationConfig, registrationConfig)
  })

  it('SNI_ONLY mode needs no verification certificate', async () => {
    const ca = await makeCA()
    await registerCA(ca, { certificateMode: 'SNI_ONLY' })
    assert.equal((await describeCA(ca.id)).certificateDescription?.certificateMode, 'SNI_ONLY')
  })

  it('SNI_ONLY with a verification certificate is InvalidRequestException naming verificationCertificate', async () => {
    const ca = await makeCA()
    await expectError(
      h.iot.send(
        new RegisterCACertificateCommand({
          caCertificate: ca.pem,
          verificationCertificate: await verificationFor(ca),
          certificateMode: 'SNI_ONLY',
        }),
      ),
      'InvalidRequestException',
      400,
      ['verificationCertificate', 'SNI_ONLY'],
    )
  })

  it('DEFAULT mode without a verification certificate is InvalidRequestException naming verificationCertificate', async () => {
    const ca = await makeCA()
    await expectError(
      h.iot.send(new RegisterCACertificateCommand({ caCertificate: ca.pem })),
      'InvalidRequestException',
      400,
      ['verificationCertificate'],
    )
    await expectError(describeCA(ca.id), 'ResourceNotFoundException', 404, [ca.id])
  })

  it('a verification certificate another key signed is RegistrationCodeValidationException (400)', async () => {
    const ca = await makeCA()
    await expectError(
      h.iot.send(
        new RegisterCACertificateCommand({
          caCertificate: ca.pem,
          verificationCertificate: (await unregisteredDevice()).pem,
        }),
      ),
      'RegistrationCodeValidationException',
      400,
      ['verificationCertificate'],
    )
  })

  it('a certificate that is not a CA is CertificateValidationException naming caCertificate', async () => {
    const leaf = await unregisteredDevice()
    await expectError(
      h.iot.send(new RegisterCACertificateCommand({ caCertificate: leaf.pem, certificateMode: 'SNI_ONLY' })),
      'CertificateValidationException',
      400,
      ['caCertificate', 'cA'],
    )
  })

  it('a PEM that is not a certificate is CertificateValidationException naming caCertificate', async () => {
    await expectError(
      h.iot.send(new RegisterCACertificateCommand({ caCertificate: 'nope', certificateMode: 'SNI_ONLY' })),
      'CertificateValidationException',
      400,
      ['caCertificate'],
    )
  })

  it('the same CA twice is ResourceAlreadyExistsException (409) with its id and cacert ARN', async () => {
    const ca = await activeCA()
    const e = await expectError(registerCA(ca), 'ResourceAlreadyExistsException', 409, ['already registered'])
    assert.equal(e.resourceId, ca.id)
    assert.equal(e.resourceArn, caCertArnOf(ca.id))
  })

  it('an eleventh CA certificate with the same subject is LimitExceededException (410) naming the subject', async () => {
    const subject = `CN=shared-${process.pid}-${Date.now()},O=fleetjobs tests`
    for (let i = 0; i < 10; i++) await registerCA(await makeCA(subject), { certificateMode: 'SNI_ONLY' })
    const eleventh = await makeCA(subject)
    await expectError(registerCA(eleventh, { certificateMode: 'SNI_ONLY' }), 'LimitExceededException', 410, [
      '10',
      'subject',
    ])
  })

  it('no caCertificate is InvalidRequestException naming it; a certificateMode outside the enum names certificateMode', async () => {
    let r = await raw(h.server.url, 'POST', '/cacertificate', '{}')
    assert.equal(r.status, 400)
    assert.match(String(r.json['message']), /caCertificate/)
    r = await raw(
      h.server.url,
      'POST',
      '/cacertificate',
      JSON.stringify({ caCertificate: 'x', certificateMode: 'MTLS' }),
    )
    assert.equal(r.status, 400)
    assert.match(String(r.json['message']), /certificateMode/)
  })
})

describe('DescribeCACertificate [aws: DescribeCACertificate]', () => {
  it('an unknown CA is ResourceNotFoundException (404) naming it; a malformed id is InvalidRequestException', async () => {
    const id = 'c'.repeat(64)
    await expectError(describeCA(id), 'ResourceNotFoundException', 404, [id])
    await expectError(describeCA('c'.repeat(10)), 'InvalidRequestException', 400, ['certificateId'])
  })

  it('a device certificate is not a CA certificate (and a CA certificate is no device certificate)', async () => {
    const ca = await activeCA()
    const device = await issueDevice(ca)
    await h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem }))
    await expectError(describeCA(device.id), 'ResourceNotFoundException', 404, [device.id])
    await expectError(describeCert(ca.id), 'ResourceNotFoundException', 404, [ca.id])
  })
})

describe('RegisterCertificate [aws: RegisterCertificate]', () => {
  it('registers a certificate of a registered ACTIVE CA, found by its issuer: caCertificateId and the CA mode', async () => {
    const ca = await activeCA({ certificateMode: 'SNI_ONLY' })
    const device = await issueDevice(ca)
    const out = await h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem }))
    assert.equal(out.certificateId, device.id)
    assert.equal(out.certificateArn, certArnOf(device.id))
    const d = await describeCert(device.id)
    assert.deepEqual([d?.caCertificateId, d?.status, d?.certificateMode], [ca.id, 'INACTIVE', 'SNI_ONLY'])
  })

  it('with caCertificatePem; status, or the deprecated setAsActive', async () => {
    const ca = await activeCA()
    const a = await issueDevice(ca)
    await h.iot.send(
      new RegisterCertificateCommand({ certificatePem: a.pem, caCertificatePem: ca.pem, setAsActive: true }),
    )
    const b = await issueDevice(ca)
    await h.iot.send(new RegisterCertificateCommand({ certificatePem: b.pem, status: 'REVOKED' }))
    assert.deepEqual(
      [(await describeCert(a.id))?.status, (await describeCert(a.id))?.certificateMode],
      ['ACTIVE', 'DEFAULT'],
    )
    assert.equal((await describeCert(b.id))?.status, 'REVOKED')
  })

  it('setAsActive=true with status INACTIVE is InvalidRequestException naming both', async () => {
    const ca = await activeCA()
    const device = await issueDevice(ca)
    await expectError(
      h.iot.send(
        new RegisterCertificateCommand({ certificatePem: device.pem, setAsActive: true, status: 'INACTIVE' }),
      ),
      'InvalidRequestException',
      400,
      ['setAsActive', 'status'],
    )
  })

  it('a certificate of a CA that is not registered is CertificateValidationException naming certificatePem', async () => {
    const device = await unregisteredDevice()
    await expectError(
      h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem })),
      'CertificateValidationException',
      400,
      ['certificatePem', 'registered CA'],
    )
  })

  it('a caCertificatePem that is not registered is CertificateValidationException naming it', async () => {
    const ca = await makeCA()
    const device = await issueDevice(ca)
    await expectError(
      h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem, caCertificatePem: ca.pem })),
      'CertificateValidationException',
      400,
      ['caCertificatePem', ca.id],
    )
  })

  it('a caCertificatePem that did not sign the certificate is CertificateValidationException naming both', async () => {
    const ca = await activeCA()
    const other = await activeCA()
    const device = await issueDevice(ca)
    await expectError(
      h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem, caCertificatePem: other.pem })),
      'CertificateValidationException',
      400,
      ['certificatePem', other.id],
    )
  })

  it('under an INACTIVE CA is CertificateStateException (406) naming the CA; ACTIVE again, it registers', async () => {
    const ca = await makeCA()
    await registerCA(ca)
    const device = await issueDevice(ca)
    await expectError(
      h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem })),
      'CertificateStateException',
      406,
      [ca.id, 'INACTIVE'],
    )
    await h.iot.send(new UpdateCACertificateCommand({ certificateId: ca.id, newStatus: 'ACTIVE' }))
    await h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem }))
    assert.equal((await describeCert(device.id))?.caCertificateId, ca.id)
  })

  it('two registered CAs with the same subject and key: without caCertificatePem CertificateConflictException; with it, registered', async () => {
    const ca = await makeCA()
    // The same subject and key, another certificate (serial): both sign what the key signs.
    const { createAuthority, toPem } = await import('../../../src/pki/x509.js')
    const { certificateIdOf } = await import('../../support/certificates.js')
    const twinCert = await createAuthority(
      ca.subject,
      {
        privateKey: ca.signer.key,
        publicKey: await ca.signer.cert.publicKey.export(),
      },
      new Date(Date.now() - 3_600_000),
      new Date(Date.now() + 3_600_000 * 24 * 365),
    )
    const twin: TestCA = { ...ca, pem: toPem(twinCert), id: certificateIdOf(toPem(twinCert)) }
    await registerCA(ca, { setAsActive: true, certificateMode: 'SNI_ONLY' })
    await registerCA(twin, { setAsActive: true, certificateMode: 'SNI_ONLY' })
    const device = await issueDevice(ca)
    await expectError(
      h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem })),
      'CertificateConflictException',
      409,
      [ca.id, twin.id, 'caCertificatePem'],
    )
    await h.iot.send(
      new RegisterCertificateCommand({ certificatePem: device.pem, caCertificatePem: twin.pem }),
    )
    assert.equal((await describeCert(device.id))?.caCertificateId, twin.id)
  })

  it('the same certificate twice is ResourceAlreadyExistsException (409) with its id and ARN', async () => {
    const ca = await activeCA()
    const device = await issueDevice(ca)
    await h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem }))
    const e = await expectError(
      h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem })),
      'ResourceAlreadyExistsException',
      409,
      ['already provisioned or registered'],
    )
    assert.equal(e.resourceId, device.id)
    assert.equal(e.resourceArn, certArnOf(device.id))
  })

  it('an expired certificate is CertificateValidationException; PENDING_ACTIVATION is CertificateStateException', async () => {
    const ca = await activeCA()
    const expired = await issueDevice(ca, { expired: true })
    await expectError(
      h.iot.send(new RegisterCertificateCommand({ certificatePem: expired.pem })),
      'CertificateValidationException',
      400,
      ['certificatePem', 'expired'],
    )
    const device = await issueDevice(ca)
    await expectError(
      h.iot.send(
        new RegisterCertificateCommand({ certificatePem: device.pem, status: 'PENDING_ACTIVATION' }),
      ),
      'CertificateStateException',
      406,
      ['PENDING_ACTIVATION'],
    )
  })
})

describe('UpdateCACertificate [aws: UpdateCACertificate]', () => {
  it('changes status, auto-registration and registration config; each change raises customerVersion', async () => {
    const ca = await activeCA({ registrationConfig: { templateName: 'before' } })
    await h.iot.send(
      new UpdateCACertificateCommand({
        certificateId: ca.id,
        newStatus: 'INACTIVE',
        newAutoRegistrationStatus: 'ENABLE',
        registrationConfig: { templateName: 'after', roleArn: `arn:aws:iam::${ACCOUNT}:role/provision` },
      }),
    )
    let d = await describeCA(ca.id)
    assert.equal(d.certificateDescription?.status, 'INACTIVE')
    assert.equal(d.certificateDescription?.autoRegistrationStatus, 'ENABLE')
    assert.equal(d.certificateDescription?.customerVersion, 2)
    assert.deepEqual(d.registrationConfig, {
      templateName: 'after',
      roleArn: `arn:aws:iam::${ACCOUNT}:role/provision`,
    })
    await h.iot.send(new UpdateCACertificateCommand({ certificateId: ca.id, removeAutoRegistration: true }))
    d = await describeCA(ca.id)
    assert.equal(d.registrationConfig, undefined)
    assert.equal(d.certificateDescription?.customerVersion, 3)
    // Nothing new: nothing changes.
    await h.iot.send(new UpdateCACertificateCommand({ certificateId: ca.id, newStatus: 'INACTIVE' }))
    assert.equal((await describeCA(ca.id)).certificateDescription?.customerVersion, 3)
  })

  it('removeAutoRegistration with a registrationConfig is InvalidRequestException naming both', async () => {
    const ca = await activeCA()
    await expectError(
      h.iot.send(
        new UpdateCACertificateCommand({
          certificateId: ca.id,
          removeAutoRegistration: true,
          registrationConfig: { templateName: 'x' },
        }),
      ),
      'InvalidRequestException',
      400,
      ['removeAutoRegistration', 'registrationConfig'],
    )
  })

  it('an unknown CA is ResourceNotFoundException (404); a status outside ACTIVE/INACTIVE is InvalidRequestException naming newStatus', async () => {
    const id = 'b'.repeat(64)
    await expectError(
      h.iot.send(new UpdateCACertificateCommand({ certificateId: id, newStatus: 'ACTIVE' })),
      'ResourceNotFoundException',
      404,
      [id],
    )
    const ca = await activeCA()
    const r = await raw(h.server.url, 'PUT', `/cacertificate/${ca.id}?newStatus=REVOKED`)
    assert.equal(r.status, 400)
    assert.match(String(r.json['message']), /newStatus/)
  })
})

describe('DeleteCACertificate [aws: DeleteCACertificate]', () => {
  it('an ACTIVE CA is CertificateStateException (406) naming it; INACTIVE, it is deleted and its certificates stay', async () => {
    const ca = await activeCA()
    const device = await issueDevice(ca)
    await h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem, setAsActive: true }))
    await expectError(
      h.iot.send(new DeleteCACertificateCommand({ certificateId: ca.id })),
      'CertificateStateException',
      406,
      [ca.id, 'ACTIVE'],
    )
    await h.iot.send(new UpdateCACertificateCommand({ certificateId: ca.id, newStatus: 'INACTIVE' }))
    const out = await h.iot.send(new DeleteCACertificateCommand({ certificateId: ca.id }))
    assert.equal(out.$metadata.httpStatusCode, 200)
    await expectError(describeCA(ca.id), 'ResourceNotFoundException', 404, [ca.id])
    assert.equal((await describeCert(device.id))?.caCertificateId, ca.id)
    await expectError(
      h.iot.send(new DeleteCACertificateCommand({ certificateId: ca.id })),
      'ResourceNotFoundException',
      404,
      [ca.id],
    )
  })
})
