/**
 * Device certificates through the real AWS SDK: CreateKeysAndCertificate, RegisterCertificateWithoutCA,
 * DescribeCertificate, UpdateCertificate and DeleteCertificate, each error with its status and a message
 * naming the field or the certificate. docs/compatibility.md#certificates. [aws: iot certificates]
 */
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DescribeCertificateCommand,
  DetachThingPrincipalCommand,
  RegisterCertificateWithoutCACommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot'
import type { CertificateStatus } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { X509Certificate, createPrivateKey, createPublicKey } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { ACCOUNT, raw, startHarness, unique } from '../../support/harness.js'
import {
  certArnOf,
  certificateIdOf,
  issueDevice,
  makeCA,
  unregisteredDevice,
} from '../../support/certificates.js'
import { expectError } from '../../support/registry.js'

let h: Harness
before(async () => {
  h = await startHarness()
})
after(async () => {
  await h.close()
})

const HEX64 = /^[0-9a-f]{64}$/

const describeCert = async (certificateId: string) =>
  (await h.iot.send(new DescribeCertificateCommand({ certificateId }))).certificateDescription

const newCertificate = async (setAsActive = true) => {
  const out = await h.iot.send(new CreateKeysAndCertificateCommand({ setAsActive }))
  return { id: out.certificateId ?? '', arn: out.certificateArn ?? '', pem: out.certificatePem ?? '' }
}

const update = (certificateId: string, newStatus: CertificateStatus) =>
  h.iot.send(new UpdateCertificateCommand({ certificateId, newStatus }))

describe('CreateKeysAndCertificate [aws: CreateKeysAndCertificate]', () => {
  it('returns the id (SHA-256 of the DER), the cert ARN, the PEM and a key pair that matches it; ACTIVE with setAsActive', async () => {
    const before = Date.now()
    const out = await h.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.match(out.certificateId ?? '', HEX64)
    assert.equal(out.certificateId, certificateIdOf(out.certificatePem ?? ''))
    assert.equal(out.certificateArn, `arn:aws:iot:us-east-1:123456789012:cert/${out.certificateId}`)
    const x509 = new X509Certificate(out.certificatePem ?? '')
    assert.equal(x509.subject, 'CN=AWS IoT Certificate')
    assert.equal(new Date(x509.validTo).toISOString(), '2049-12-31T23:59:59.000Z')
    // The private key belongs to the certificate's public key.
    const publicFromPrivate = createPublicKey(createPrivateKey(out.keyPair?.PrivateKey ?? ''))
    assert.ok(x509.publicKey.equals(publicFromPrivate))
    assert.ok(createPublicKey(out.keyPair?.PublicKey ?? '').equals(x509.publicKey))
    // Signed by fleetjobs' own CA in <data-dir>/tls/.
    const ca = new X509Certificate(readFileSync(join(h.dataDir, 'tls', 'ca.pem')))
    assert.ok(x509.verify(ca.publicKey))

    const d = await describeCert(out.certificateId ?? '')
    assert.equal(d?.status, 'ACTIVE')
    assert.equal(d?.certificateArn, out.certificateArn)
    assert.equal(d?.certificatePem, out.certificatePem)
    assert.equal(d?.certificateMode, 'DEFAULT')
    assert.equal(d?.caCertificateId, undefined)
    assert.equal(d?.ownedBy, ACCOUNT)
    assert.equal(d?.customerVersion, 1)
    assert.equal(typeof d?.generationId, 'string')
    assert.ok((d?.creationDate?.getTime() ?? 0) >= before - 1000)
    assert.deepEqual(d?.lastModifiedDate, d?.creationDate)
    assert.equal(d?.validity?.notAfter?.toISOString(), '2049-12-31T23:59:59.000Z')
    assert.ok((d?.validity?.notBefore?.getTime() ?? Infinity) <= Date.now())
  })

  it('is INACTIVE without setAsActive, and each call makes a new certificate', async () => {
    const a = await h.iot.send(new CreateKeysAndCertificateCommand({}))
    const b = await h.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: false }))
    assert.notEqual(a.certificateId, b.certificateId)
    assert.equal((await describeCert(a.certificateId ?? ''))?.status, 'INACTIVE')
    assert.equal((await describeCert(b.certificateId ?? ''))?.status, 'INACTIVE')
  })

  it('a setAsActive that is not a boolean is InvalidRequestException naming it', async () => {
    const r = await raw(h.server.url, 'POST', '/keys-and-certificate?setAsActive=yes')
    assert.equal(r.status, 400)
    assert.equal(r.headers.get('x-amzn-errortype'), 'InvalidRequestException')
    assert.match(String(r.json['message']), /setAsActive/)
  })
})

describe('RegisterCertificateWithoutCA [aws: RegisterCertificateWithoutCA]', () => {
  it('registers any well-formed certificate, INACTIVE by default, in SNI_ONLY mode, without a CA id', async () => {
    const device = await unregisteredDevice()
    const out = await h.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.pem }))
    assert.equal(out.certificateId, device.id)
    assert.equal(out.certificateArn, certArnOf(device.id))
    const d = await describeCert(device.id)
    assert.deepEqual(
      [d?.status, d?.certificateMode, d?.caCertificateId, d?.certificatePem],
      ['INACTIVE', 'SNI_ONLY', undefined, device.pem],
    )
  })

  for (const status of ['ACTIVE', 'INACTIVE', 'REVOKED'] as const) {
    it(`takes status ${status}`, async () => {
      const device = await unregisteredDevice()
      await h.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.pem, status }))
      assert.equal((await describeCert(device.id))?.status, status)
    })
  }

  for (const status of ['PENDING_TRANSFER', 'PENDING_ACTIVATION', 'REGISTER_INACTIVE'] as const) {
    it(`status ${status} is CertificateStateException (406) naming it; nothing is registered`, async () => {
      const device = await unregisteredDevice()
      await expectError(
        h.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.pem, status })),
        'CertificateStateException',
        406,
        ['status', status],
      )
      await expectError(describeCert(device.id), 'ResourceNotFoundException', 404, [device.id])
    })
  }

  it('the same certificate twice is ResourceAlreadyExistsException (409) with its id and ARN', async () => {
    const device = await unregisteredDevice()
    await h.iot.send(
      new RegisterCertificateWithoutCACommand({ certificatePem: device.pem, status: 'ACTIVE' }),
    )
    const e = await expectError(
      h.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.pem })),
      'ResourceAlreadyExistsException',
      409,
      ['already provisioned or registered'],
    )
    assert.equal(e.resourceId, device.id)
    assert.equal(e.resourceArn, certArnOf(device.id))
    assert.equal((await describeCert(device.id))?.status, 'ACTIVE')
  })

  it('a certificate made by CreateKeysAndCertificate cannot be registered again', async () => {
    const c = await newCertificate()
    const e = await expectError(
      h.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: c.pem })),
      'ResourceAlreadyExistsException',
      409,
    )
    assert.equal(e.resourceId, c.id)
  })

  for (const [what, pem] of [
    ['garbage', 'not a certificate'],
    ['a truncated PEM', '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'],
    ['a private key', '-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n'],
  ] as const) {
    it(`${what} is CertificateValidationException (400) naming certificatePem`, async () => {
      await expectError(
        h.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: pem })),
        'CertificateValidationException',
        400,
        ['certificatePem'],
      )
    })
  }

  it('an expired certificate is CertificateValidationException naming certificatePem', async () => {
    const expired = await issueDevice(await makeCA(), { expired: true })
    await expectError(
      h.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: expired.pem })),
      'CertificateValidationException',
      400,
      ['certificatePem', 'expired'],
    )
  })

  it('two certificates in one PEM are CertificateValidationException', async () => {
    const a = await unregisteredDevice()
    const b = await unregisteredDevice()
    await expectError(
      h.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: a.pem + b.pem })),
      'CertificateValidationException',
      400,
      ['certificatePem'],
    )
  })

  it('no certificatePem is InvalidRequestException (400) naming it; an empty one too', async () => {
    for (const body of ['{}', '{"certificatePem":""}']) {
      const r = await raw(h.server.url, 'POST', '/certificate/register-no-ca', body)
      assert.equal(r.status, 400)
      assert.equal(r.headers.get('x-amzn-errortype'), 'InvalidRequestException')
      assert.match(String(r.json['message']), /certificatePem/)
    }
  })

  it('a status outside the enum is InvalidRequestException naming status', async () => {
    const device = await unregisteredDevice()
    const r = await raw(
      h.server.url,
      'POST',
      '/certificate/register-no-ca',
      JSON.stringify({ certificatePem: device.pem, status: 'ENABLED' }),
    )
    assert.equal(r.status, 400)
    assert.match(String(r.json['message']), /status/)
  })
})

describe('DescribeCertificate [aws: DescribeCertificate]', () => {
  it('an unknown id is ResourceNotFoundException (404) naming it', async () => {
    const id = 'f'.repeat(64)
    await expectError(describeCert(id), 'ResourceNotFoundException', 404, [id])
  })

  it('upper-case hex names the same certificate', async () => {
    const c = await newCertificate()
    assert.equal((await describeCert(c.id.toUpperCase()))?.certificateId, c.id)
  })

  for (const [what, id] of [
    ['63 digits', 'a'.repeat(63)],
    ['65 digits', 'a'.repeat(65)],
    ['a non-hex digit', `${'a'.repeat(63)}g`],
  ] as const) {
    it(`an id of ${what} is InvalidRequestException (400) naming certificateId`, async () => {
      await expectError(describeCert(id), 'InvalidRequestException', 400, ['certificateId'])
    })
  }
})

describe('UpdateCertificate [aws: UpdateCertificate]', () => {
  it('ACTIVE → INACTIVE → ACTIVE → REVOKED; each change raises customerVersion and moves lastModifiedDate', async () => {
    const c = await newCertificate()
    const first = await describeCert(c.id)
    let version = first?.customerVersion ?? 0
    let generation = first?.generationId
    for (const status of ['INACTIVE', 'ACTIVE', 'REVOKED'] as const) {
      const out = await update(c.id, status)
      assert.equal(out.$metadata.httpStatusCode, 200)
      const d = await describeCert(c.id)
      assert.equal(d?.status, status)
      assert.equal(d?.customerVersion, version + 1)
      assert.notEqual(d?.generationId, generation)
      assert.ok((d?.lastModifiedDate?.getTime() ?? 0) >= (first?.creationDate?.getTime() ?? 0))
      version += 1
      generation = d?.generationId
    }
  })

  it('setting the current status again succeeds and changes nothing (idempotent)', async () => {
    const c = await newCertificate()
    await update(c.id, 'ACTIVE')
    assert.equal((await describeCert(c.id))?.customerVersion, 1)
  })

  for (const to of ['ACTIVE', 'INACTIVE'] as const) {
    it(`a REVOKED certificate cannot become ${to}: CertificateStateException (406) naming it`, async () => {
      const c = await newCertificate()
      await update(c.id, 'REVOKED')
      await expectError(update(c.id, to), 'CertificateStateException', 406, [c.id, 'REVOKED'])
      assert.equal((await describeCert(c.id))?.status, 'REVOKED')
      await update(c.id, 'REVOKED')
    })
  }

  for (const to of ['PENDING_TRANSFER', 'PENDING_ACTIVATION', 'REGISTER_INACTIVE'] as const) {
    it(`newStatus ${to} is CertificateStateException (406) naming newStatus`, async () => {
      const c = await newCertificate()
      await expectError(update(c.id, to), 'CertificateStateException', 406, ['newStatus', to])
      assert.equal((await describeCert(c.id))?.status, 'ACTIVE')
    })
  }

  it('an unknown certificate is ResourceNotFoundException (404) naming it', async () => {
    const id = 'e'.repeat(64)
    await expectError(update(id, 'INACTIVE'), 'ResourceNotFoundException', 404, [id])
  })

  it('a missing or unknown newStatus is InvalidRequestException naming newStatus', async () => {
    const c = await newCertificate()
    for (const query of ['', '?newStatus=DISABLED']) {
      const r = await raw(h.server.url, 'PUT', `/certificates/${c.id}${query}`)
      assert.equal(r.status, 400)
      assert.equal(r.headers.get('x-amzn-errortype'), 'InvalidRequestException')
      assert.match(String(r.json['message']), /newStatus/)
    }
  })
})

describe('DeleteCertificate [aws: DeleteCertificate]', () => {
  it('an ACTIVE certificate is CertificateStateException (406) with AWS message; it stays', async () => {
    const c = await newCertificate()
    await expectError(
      h.iot.send(new DeleteCertificateCommand({ certificateId: c.id })),
      'CertificateStateException',
      406,
      [`Certificate must be deactivated (not ACTIVE) before deletion. Id: ${c.id}`],
    )
    assert.equal((await describeCert(c.id))?.status, 'ACTIVE')
  })

  it('an attached certificate is DeleteConflictException (409) naming its ARN, with or without forceDelete; it stays', async () => {
    const c = await newCertificate()
    const thingName = unique('thing')
    await h.iot.send(new CreateThingCommand({ thingName }))
    await h.iot.send(new AttachThingPrincipalCommand({ thingName, principal: c.arn }))
    await update(c.id, 'REVOKED')
    for (const forceDelete of [false, true]) {
      await expectError(
        h.iot.send(new DeleteCertificateCommand({ certificateId: c.id, forceDelete })),
        'DeleteConflictException',
        409,
        [`Things must be detached before deletion (arn: ${c.arn})`],
      )
    }
    assert.equal((await describeCert(c.id))?.status, 'REVOKED')
    await h.iot.send(new DetachThingPrincipalCommand({ thingName, principal: c.arn }))
    await h.iot.send(new DeleteCertificateCommand({ certificateId: c.id }))
    await expectError(describeCert(c.id), 'ResourceNotFoundException', 404, [c.id])
  })

  for (const status of ['INACTIVE', 'REVOKED'] as const) {
    it(`an ${status} certificate is deleted (forceDelete or not); it can then be registered again`, async () => {
      const device = await unregisteredDevice()
      await h.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.pem, status }))
      const out = await h.iot.send(
        new DeleteCertificateCommand({ certificateId: device.id, forceDelete: status === 'REVOKED' }),
      )
      assert.equal(out.$metadata.httpStatusCode, 200)
      await expectError(describeCert(device.id), 'ResourceNotFoundException', 404, [device.id])
      await h.iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.pem }))
      assert.equal((await describeCert(device.id))?.customerVersion, 1)
    })
  }

  it('an unknown certificate is ResourceNotFoundException (404) naming it', async () => {
    const id = 'd'.repeat(64)
    await expectError(
      h.iot.send(new DeleteCertificateCommand({ certificateId: id })),
      'ResourceNotFoundException',
      404,
      [id],
    )
  })
})
