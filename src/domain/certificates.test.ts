import fc from 'fast-check'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { CACertificate, Certificate, CertificateStatus } from './certificates.js'
import {
  CERTIFICATE_TRANSITIONS,
  certificateIdentity,
  decideDeleteCACertificate,
  decideDeleteCertificate,
  decideUpdateCACertificate,
  decideUpdateCertificate,
  parseCertificatePrincipal,
  registrationStatus,
} from './certificates.js'

const ID = 'ab'.repeat(32)
const SCOPE = { region: 'us-east-1', accountId: '123456789012' }
const STAMP = { nowMs: 2_000, generationId: 'g-next' }
const ALL: CertificateStatus[] = [
  'ACTIVE',
  'INACTIVE',
  'REVOKED',
  'PENDING_TRANSFER',
  'REGISTER_INACTIVE',
  'PENDING_ACTIVATION',
]

const cert = (status: CertificateStatus): Certificate => ({
  certificateId: ID,
  status,
  certificateMode: 'DEFAULT',
  certificatePem: 'pem',
  createdAtMs: 1_000,
  lastModifiedAtMs: 1_000,
  customerVersion: 3,
  generationId: 'g',
  notBeforeMs: 0,
  notAfterMs: 10_000,
})

const ca = (status: 'ACTIVE' | 'INACTIVE'): CACertificate => ({
  certificateId: ID,
  status,
  certificateMode: 'DEFAULT',
  certificatePem: 'pem',
  subject: 'CN=x',
  autoRegistrationStatus: 'DISABLE',
  registrationConfig: { templateName: 't' },
  createdAtMs: 1_000,
  lastModifiedAtMs: 1_000,
  customerVersion: 1,
  generationId: 'g',
  notBeforeMs: 0,
  notAfterMs: 10_000,
})

describe('UpdateCertificate transitions [aws: UpdateCertificate]', () => {
  const table: [CertificateStatus, CertificateStatus, 'write' | 'none' | 'reject'][] = [
    ['ACTIVE', 'INACTIVE', 'write'],
    ['ACTIVE', 'REVOKED', 'write'],
    ['ACTIVE', 'ACTIVE', 'none'],
    ['INACTIVE', 'ACTIVE', 'write'],
    ['INACTIVE', 'REVOKED', 'write'],
    ['INACTIVE', 'INACTIVE', 'none'],
    ['REVOKED', 'ACTIVE', 'reject'],
    ['REVOKED', 'INACTIVE', 'reject'],
    ['REVOKED', 'REVOKED', 'none'],
    ['ACTIVE', 'PENDING_TRANSFER', 'reject'],
    ['INACTIVE', 'PENDING_ACTIVATION', 'reject'],
    ['INACTIVE', 'REGISTER_INACTIVE', 'reject'],
  ]
  for (const [from, to, kind] of table) {
    it(`${from} → ${to}: ${kind}`, () => {
      const d = decideUpdateCertificate(cert(from), ID, to, STAMP)
      assert.equal(d.kind, kind)
      if (d.kind === 'reject') {
        assert.equal(d.error.code, 'CertificateStateException')
        assert.ok(d.error.message.includes(to) || d.error.message.includes('REVOKED'), d.error.message)
      }
    })
  }

  it('an unknown certificate is ResourceNotFoundException naming it', () => {
    const d = decideUpdateCertificate(undefined, ID, 'ACTIVE', STAMP)
    assert.ok(
      d.kind === 'reject' && d.error.code === 'ResourceNotFoundException' && d.error.message.includes(ID),
    )
  })

  it('property: a REVOKED certificate never changes; every write raises customerVersion by exactly one', () => {
    fc.assert(
      fc.property(fc.constantFrom(...ALL), fc.constantFrom(...ALL), (from, to) => {
        const d = decideUpdateCertificate(cert(from), ID, to, STAMP)
        if (from === 'REVOKED') assert.notEqual(d.kind, 'write')
        if (d.kind === 'write') {
          assert.equal(d.next.customerVersion, 4)
          assert.equal(d.next.status, to)
          assert.equal(d.next.lastModifiedAtMs, STAMP.nowMs)
          assert.equal(d.next.generationId, STAMP.generationId)
          assert.ok((CERTIFICATE_TRANSITIONS[from] as readonly CertificateStatus[]).includes(to))
        }
      }),
    )
  })
})

describe('registration status [aws: RegisterCertificate]', () => {
  it('status wins, setAsActive means ACTIVE, the default is INACTIVE; internal statuses and contradictions are refused', () => {
    assert.deepEqual(registrationStatus({}), { kind: 'ok', status: 'INACTIVE' })
    assert.deepEqual(registrationStatus({ setAsActive: true }), { kind: 'ok', status: 'ACTIVE' })
    assert.deepEqual(registrationStatus({ status: 'REVOKED' }), { kind: 'ok', status: 'REVOKED' })
    assert.deepEqual(registrationStatus({ status: 'ACTIVE', setAsActive: true }), {
      kind: 'ok',
      status: 'ACTIVE',
    })
    const contradiction = registrationStatus({ status: 'INACTIVE', setAsActive: true })
    assert.ok(contradiction.kind === 'reject' && contradiction.error.code === 'InvalidRequestException')
    for (const status of ['PENDING_TRANSFER', 'PENDING_ACTIVATION', 'REGISTER_INACTIVE'] as const) {
      const r = registrationStatus({ status })
      assert.ok(
        r.kind === 'reject' &&
          r.error.code === 'CertificateStateException' &&
          r.error.message.includes(status),
      )
    }
  })
})

describe('deletion refusals [aws: DeleteCertificate] [aws: DeleteCACertificate]', () => {
  const arn = `arn:aws:iot:us-east-1:123456789012:cert/${ID}`
  it('an ACTIVE certificate: CertificateStateException with AWS message', () => {
    const d = decideDeleteCertificate(cert('ACTIVE'), ID, undefined, arn)
    assert.ok(d.kind === 'reject')
    assert.equal(d.error.code, 'CertificateStateException')
    assert.equal(d.error.message, `Certificate must be deactivated (not ACTIVE) before deletion. Id: ${ID}`)
  })
  it('an attached certificate: DeleteConflictException naming its ARN, even REVOKED', () => {
    for (const status of ['INACTIVE', 'REVOKED'] as const) {
      const d = decideDeleteCertificate(cert(status), ID, 'thing-1', arn)
      assert.ok(d.kind === 'reject')
      assert.equal(d.error.code, 'DeleteConflictException')
      assert.equal(d.error.message, `Things must be detached before deletion (arn: ${arn})`)
    }
  })
  it('INACTIVE or REVOKED and detached: deleted; unknown: ResourceNotFoundException', () => {
    assert.equal(decideDeleteCertificate(cert('INACTIVE'), ID, undefined, arn).kind, 'delete')
    assert.equal(decideDeleteCertificate(cert('REVOKED'), ID, undefined, arn).kind, 'delete')
    const d = decideDeleteCertificate(undefined, ID, undefined, arn)
    assert.ok(d.kind === 'reject' && d.error.code === 'ResourceNotFoundException')
  })
  it('a CA certificate: refused while ACTIVE', () => {
    const d = decideDeleteCACertificate(ca('ACTIVE'), ID)
    assert.ok(d.kind === 'reject' && d.error.code === 'CertificateStateException')
    assert.equal(decideDeleteCACertificate(ca('INACTIVE'), ID).kind, 'delete')
  })
})

describe('UpdateCACertificate [aws: UpdateCACertificate]', () => {
  it('changes what is given, drops the registration config on removeAutoRegistration, and nothing twice', () => {
    const d = decideUpdateCACertificate(
      ca('ACTIVE'),
      ID,
      { newStatus: 'INACTIVE', removeAutoRegistration: true },
      STAMP,
    )
    assert.ok(d.kind === 'write')
    assert.equal(d.next.status, 'INACTIVE')
    assert.equal(d.next.registrationConfig, undefined)
    assert.equal(d.next.customerVersion, 2)
    assert.equal(decideUpdateCACertificate(ca('ACTIVE'), ID, { newStatus: 'ACTIVE' }, STAMP).kind, 'none')
    const both = decideUpdateCACertificate(
      ca('ACTIVE'),
      ID,
      { removeAutoRegistration: true, registrationConfig: { templateName: 'u' } },
      STAMP,
    )
    assert.ok(both.kind === 'reject' && both.error.code === 'InvalidRequestException')
    const auto = decideUpdateCACertificate(ca('ACTIVE'), ID, { newAutoRegistrationStatus: 'ENABLE' }, STAMP)
    assert.ok(auto.kind === 'write' && auto.next.autoRegistrationStatus === 'ENABLE')
  })
})

describe('principals and identity', () => {
  it('a principal is a certificate ARN of this region and account', () => {
    assert.equal(
      parseCertificatePrincipal(SCOPE, `arn:aws:iot:us-east-1:123456789012:cert/${ID.toUpperCase()}`),
      ID,
    )
    for (const other of [
      `arn:aws:iot:eu-west-1:123456789012:cert/${ID}`,
      `arn:aws:iot:us-east-1:999999999999:cert/${ID}`,
      `arn:aws:iot:us-east-1:123456789012:cacert/${ID}`,
      `arn:aws:iot:us-east-1:123456789012:cert/${ID}0`,
      'us-east-1:8f8e9a4c-cognito-identity',
      'arn:aws:iam::123456789012:role/x',
    ])
      assert.equal(parseCertificatePrincipal(SCOPE, other), undefined, other)
  })

  it('identity: the reasons in order', () => {
    const base = { status: 'ACTIVE' as const, hasCA: false, thingExists: true, attached: true }
    assert.equal(certificateIdentity(base), 'ok')
    assert.equal(certificateIdentity({ ...base, status: undefined }), 'unknown')
    assert.equal(certificateIdentity({ ...base, status: 'REVOKED' }), 'revoked')
    assert.equal(certificateIdentity({ ...base, status: 'INACTIVE' }), 'inactive')
    assert.equal(certificateIdentity({ ...base, status: 'PENDING_ACTIVATION' }), 'inactive')
    assert.equal(certificateIdentity({ ...base, hasCA: true, caStatus: 'INACTIVE' }), 'inactive')
    assert.equal(certificateIdentity({ ...base, hasCA: true, caStatus: undefined }), 'inactive')
    assert.equal(certificateIdentity({ ...base, hasCA: true, caStatus: 'ACTIVE' }), 'ok')
    assert.equal(certificateIdentity({ ...base, thingExists: false, attached: false }), 'no-thing')
    assert.equal(certificateIdentity({ ...base, attached: false }), 'not-attached')
  })
})
