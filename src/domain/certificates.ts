/**
 * The certificate registry's rules, pure: the records, their ARNs, which status changes AWS allows,
 * when a certificate or CA certificate may be deleted, and what a device's certificate may do.
 * Messages are AWS's where AWS's are known (docs/compatibility.md#certificates says which).
 * [aws: iot certificates]
 */
import type { ArnScope } from './arns.js'
import { ServiceError, invalidRequest, notFound } from './errors.js'

/** AWS's certificate statuses, as the model spells them. */
export type CertificateStatus =
  'ACTIVE' | 'INACTIVE' | 'REVOKED' | 'PENDING_TRANSFER' | 'REGISTER_INACTIVE' | 'PENDING_ACTIVATION'
export type CACertificateStatus = 'ACTIVE' | 'INACTIVE'
export type CertificateMode = 'DEFAULT' | 'SNI_ONLY'
export type AutoRegistrationStatus = 'ENABLE' | 'DISABLE'

/** A device (client) certificate. Times in epoch milliseconds. */
export interface Certificate {
  /** SHA-256 of the DER encoding, 64 lowercase hex digits. */
  readonly certificateId: string
  /** The registered CA certificate that signed it (RegisterCertificate); absent otherwise. */
  readonly caCertificateId?: string
  readonly status: CertificateStatus
  readonly certificateMode: CertificateMode
  readonly certificatePem: string
  readonly createdAtMs: number
  readonly lastModifiedAtMs: number
  /** 1 at registration, one more at every change. */
  readonly customerVersion: number
  /** Changes at every write (AWS: an opaque id). */
  readonly generationId: string
  readonly notBeforeMs: number
  readonly notAfterMs: number
}

/** What AWS keeps of a CA's just-in-time provisioning set-up: stored and returned, not acted on. */
export interface RegistrationConfig {
  readonly templateBody?: string
  readonly roleArn?: string
  readonly templateName?: string
}

export interface CACertificate {
  readonly certificateId: string
  readonly status: CACertificateStatus
  readonly certificateMode: CertificateMode
  readonly certificatePem: string
  /** The CA's subject (RFC 4514): device certificates name it as their issuer. */
  readonly subject: string
  readonly autoRegistrationStatus: AutoRegistrationStatus
  readonly registrationConfig?: RegistrationConfig
  readonly createdAtMs: number
  readonly lastModifiedAtMs: number
  readonly customerVersion: number
  readonly generationId: string
  readonly notBeforeMs: number
  readonly notAfterMs: number
}

// ---- ARNs [aws: arn:aws:iot:<region>:<account>:cert/<certificateId>] ----

export const certificateArn = (s: ArnScope, certificateId: string): string =>
  `arn:aws:iot:${s.region}:${s.accountId}:cert/${certificateId}`
export const caCertificateArn = (s: ArnScope, certificateId: string): string =>
  `arn:aws:iot:${s.region}:${s.accountId}:cacert/${certificateId}`

const CERTIFICATE_ID = /^[0-9a-fA-F]{64}$/

/**
 * The certificate id named by a principal: a certificate ARN of this region and account. Undefined for
 * anything else (another account or region, a Cognito identity, an IAM ARN, a malformed id).
 */
export function parseCertificatePrincipal(s: ArnScope, principal: string): string | undefined {
  const prefix = `arn:aws:iot:${s.region}:${s.accountId}:cert/`
  if (!principal.startsWith(prefix)) return undefined
  const id = principal.slice(prefix.length)
  return CERTIFICATE_ID.test(id) ? id.toLowerCase() : undefined
}

/** A certificate id as the path gives it (the model allows upper case): the stored, lower-case form. */
export const normalizeCertificateId = (id: string): string => id.toLowerCase()

export const principalNotCertificate = (principal: string): ServiceError =>
  invalidRequest(
    `principal ${principal} is not the ARN of an X.509 certificate of this account and region (arn:aws:iot:<region>:<account>:cert/<certificateId>); other principals are not supported`,
  )

// ---- statuses ----

/**
 * Which status UpdateCertificate may set from each status. A REVOKED certificate never changes again
 * [aws: developerguide revoke-ca-cert "Once a certificate is revoked, its status can't be changed"];
 * PENDING_TRANSFER and PENDING_ACTIVATION are AWS's own and "setting them results in an exception";
 * REGISTER_INACTIVE is deprecated. Setting the current status again is accepted and changes nothing
 * (AWS: "This operation is idempotent").
 */
export const CERTIFICATE_TRANSITIONS = {
  ACTIVE: ['ACTIVE', 'INACTIVE', 'REVOKED'],
  INACTIVE: ['ACTIVE', 'INACTIVE', 'REVOKED'],
  REVOKED: ['REVOKED'],
  PENDING_TRANSFER: [],
  REGISTER_INACTIVE: [],
  PENDING_ACTIVATION: [],
} as const satisfies Record<CertificateStatus, readonly CertificateStatus[]>

/** The statuses a caller may give a certificate (at registration or with UpdateCertificate). */
export const SETTABLE_STATUSES: readonly CertificateStatus[] = ['ACTIVE', 'INACTIVE', 'REVOKED']

const certificateState = (message: string): ServiceError =>
  new ServiceError('CertificateStateException', message)

const notSettable = (field: string, status: CertificateStatus): ServiceError =>
  certificateState(
    `${field} ${status} cannot be set: PENDING_TRANSFER and PENDING_ACTIVATION are used internally by AWS IoT and REGISTER_INACTIVE is deprecated; use ACTIVE, INACTIVE or REVOKED`,
  )

export const certificateNotFound = (certificateId: string): ServiceError =>
  notFound(`Certificate ${certificateId} not found`)
export const caCertificateNotFound = (certificateId: string): ServiceError =>
  notFound(`CA certificate ${certificateId} not found`)

export type Decision<T> =
  | { readonly kind: 'write'; readonly next: T }
  | { readonly kind: 'none' }
  | { readonly kind: 'reject'; readonly error: ServiceError }

/** What a write needs besides the record: the time and a fresh generation id (app/ makes both). */
export interface Stamp {
  readonly nowMs: number
  readonly generationId: string
}

/**
 * The status a registration gives: `status` when given, else ACTIVE with `setAsActive`, else INACTIVE.
 * [aws: RegisterCertificate] setAsActive is deprecated; given together with a status other than ACTIVE
 * they contradict each other.
 */
export function registrationStatus(input: {
  status?: CertificateStatus | undefined
  setAsActive?: boolean | undefined
}): { kind: 'ok'; status: CertificateStatus } | { kind: 'reject'; error: ServiceError } {
  if (input.status !== undefined && !SETTABLE_STATUSES.includes(input.status))
    return { kind: 'reject', error: notSettable('status', input.status) }
  if (input.setAsActive === true && input.status !== undefined && input.status !== 'ACTIVE')
    return {
      kind: 'reject',
      error: invalidRequest(`setAsActive=true contradicts status ${input.status}; give one of them`),
    }
  return { kind: 'ok', status: input.status ?? (input.setAsActive === true ? 'ACTIVE' : 'INACTIVE') }
}

/** UpdateCertificate. [aws: UpdateCertificate] */
export function decideUpdateCertificate(
  current: Certificate | undefined,
  certificateId: string,
  newStatus: CertificateStatus,
  stamp: Stamp,
): Decision<Certificate> {
  if (current === undefined) return { kind: 'reject', error: certificateNotFound(certificateId) }
  if (!SETTABLE_STATUSES.includes(newStatus))
    return { kind: 'reject', error: notSettable('newStatus', newStatus) }
  const allowed: readonly CertificateStatus[] = CERTIFICATE_TRANSITIONS[current.status]
  if (!allowed.includes(newStatus))
    return {
      kind: 'reject',
      error: certificateState(
        current.status === 'REVOKED'
          ? `Certificate ${certificateId} is REVOKED; a revoked certificate's status cannot be changed`
          : `Certificate ${certificateId} is ${current.status} and cannot become ${newStatus}`,
      ),
    }
  if (newStatus === current.status) return { kind: 'none' }
  return { kind: 'write', next: touched({ ...current, status: newStatus }, stamp) }
}

/** Whether a certificate that went from `before` to `after` lost the right to connect. */
export const lostRights = (before: CertificateStatus, after: CertificateStatus | 'DELETED'): boolean =>
  before === 'ACTIVE' && after !== 'ACTIVE'

/**
 * DeleteCertificate: refused while ACTIVE (CertificateStateException) and while attached to a thing
 * (DeleteConflictException), with AWS's messages. `forceDelete` only skips AWS's check of attached
 * policies, and fleetjobs has no policies, so it changes nothing here. [aws: DeleteCertificate]
 */
export function decideDeleteCertificate(
  current: Certificate | undefined,
  certificateId: string,
  attachedThing: string | undefined,
  arn: string,
): { kind: 'delete' } | { kind: 'reject'; error: ServiceError } {
  if (current === undefined) return { kind: 'reject', error: certificateNotFound(certificateId) }
  if (current.status === 'ACTIVE')
    return {
      kind: 'reject',
      error: certificateState(
        `Certificate must be deactivated (not ACTIVE) before deletion. Id: ${certificateId}`,
      ),
    }
  if (attachedThing !== undefined)
    return {
      kind: 'reject',
      error: new ServiceError(
        'DeleteConflictException',
        `Things must be detached before deletion (arn: ${arn})`,
      ),
    }
  return { kind: 'delete' }
}

/** UpdateCACertificate's input, as the model names it. */
export interface UpdateCAInput {
  readonly newStatus?: CACertificateStatus | undefined
  readonly newAutoRegistrationStatus?: AutoRegistrationStatus | undefined
  readonly registrationConfig?: RegistrationConfig | undefined
  readonly removeAutoRegistration?: boolean | undefined
}

/**
 * UpdateCACertificate: status, auto-registration status and registration configuration, each kept as
 * given; `removeAutoRegistration` drops the registration configuration (and cannot come with a new one).
 * [aws: UpdateCACertificate]
 */
export function decideUpdateCACertificate(
  current: CACertificate | undefined,
  certificateId: string,
  input: UpdateCAInput,
  stamp: Stamp,
): Decision<CACertificate> {
  if (current === undefined) return { kind: 'reject', error: caCertificateNotFound(certificateId) }
  if (input.removeAutoRegistration === true && input.registrationConfig !== undefined)
    return {
      kind: 'reject',
      error: invalidRequest('removeAutoRegistration and registrationConfig cannot be given together'),
    }
  const { registrationConfig: _dropped, ...withoutConfig } = current
  const base: CACertificate = input.removeAutoRegistration === true ? withoutConfig : current
  const next: CACertificate = {
    ...base,
    ...(input.newStatus === undefined ? {} : { status: input.newStatus }),
    ...(input.newAutoRegistrationStatus === undefined
      ? {}
      : { autoRegistrationStatus: input.newAutoRegistrationStatus }),
    ...(input.registrationConfig === undefined ? {} : { registrationConfig: input.registrationConfig }),
  }
  if (sameCA(current, next)) return { kind: 'none' }
  return { kind: 'write', next: touched(next, stamp) }
}

function sameCA(a: CACertificate, b: CACertificate): boolean {
  return (
    a.status === b.status &&
    a.autoRegistrationStatus === b.autoRegistrationStatus &&
    JSON.stringify(a.registrationConfig) === JSON.stringify(b.registrationConfig)
  )
}

/** DeleteCACertificate: refused while ACTIVE. [aws: DeleteCACertificate] */
export function decideDeleteCACertificate(
  current: CACertificate | undefined,
  certificateId: string,
): { kind: 'delete' } | { kind: 'reject'; error: ServiceError } {
  if (current === undefined) return { kind: 'reject', error: caCertificateNotFound(certificateId) }
  if (current.status === 'ACTIVE')
    return {
      kind: 'reject',
      error: certificateState(
        `CA certificate must be deactivated (not ACTIVE) before deletion. Id: ${certificateId}`,
      ),
    }
  return { kind: 'delete' }
}

function touched<T extends { lastModifiedAtMs: number; customerVersion: number; generationId: string }>(
  record: T,
  stamp: Stamp,
): T {
  return {
    ...record,
    lastModifiedAtMs: stamp.nowMs,
    customerVersion: record.customerVersion + 1,
    generationId: stamp.generationId,
  }
}

/** [aws: DeleteThing] AWS's answer to deleting a thing that still has principals. */
export const thingStillAttached = (thingName: string): ServiceError =>
  invalidRequest(`Cannot delete. Thing ${thingName} is still attached to one or more principals`)

/** [aws: RegisterCACertificate] "up to 10 CA certificates with the same CA subject field per account". */
export const MAX_CA_CERTIFICATES_PER_SUBJECT = 10

// ---- device identity ----

/**
 * The answer to "may this certificate act as this thing?": `ok` when the certificate is registered and
 * ACTIVE, its CA (if it has one) is registered and ACTIVE, the thing exists and the certificate is
 * attached to it. Otherwise the first reason in that order.
 */
export type CertificateIdentity = 'ok' | 'unknown' | 'inactive' | 'revoked' | 'not-attached' | 'no-thing'

/** What the store reads for one (certificate, thing) pair, in one indexed query. */
export interface IdentityFacts {
  /** Undefined when no such certificate is registered. */
  readonly status?: CertificateStatus | undefined
  /** Whether the certificate names a CA certificate. */
  readonly hasCA: boolean
  /** The CA certificate's status; undefined when it names one that is no longer registered. */
  readonly caStatus?: CACertificateStatus | undefined
  readonly thingExists: boolean
  readonly attached: boolean
}

export function certificateIdentity(f: IdentityFacts): CertificateIdentity {
  if (f.status === undefined) return 'unknown'
  if (f.status === 'REVOKED') return 'revoked'
  // [aws: "certificates signed by an INACTIVE CA cannot connect"]: a CA that is not ACTIVE, or gone.
  if (f.status !== 'ACTIVE' || (f.hasCA && f.caStatus !== 'ACTIVE')) return 'inactive'
  if (!f.thingExists) return 'no-thing'
  if (!f.attached) return 'not-attached'
  return 'ok'
}

/** The key `certificateIdentities` answers with. */
export const identityKey = (certificateId: string, thingName: string): string =>
  `${certificateId}/${thingName}`
