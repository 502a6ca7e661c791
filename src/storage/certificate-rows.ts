/**
 * Row types of the certificate registry's tables (SQLite and PostgreSQL share the names) and their
 * mapping to domain records, and the list keys both stores page by.
 */
import type {
  AutoRegistrationStatus,
  CACertificate,
  CACertificateStatus,
  Certificate,
  CertificateMode,
  CertificateStatus,
  RegistrationConfig,
} from '../domain/certificates.js'

export interface CertificateRow {
  certificate_id: string
  ca_certificate_id: string | null
  status: CertificateStatus
  certificate_mode: CertificateMode
  pem: string
  not_before: number
  not_after: number
  created_at: number
  last_modified_at: number
  customer_version: number
  generation_id: string
}

export interface CACertificateRow {
  certificate_id: string
  status: CACertificateStatus
  certificate_mode: CertificateMode
  pem: string
  subject: string
  auto_registration: AutoRegistrationStatus
  registration_config: string | null
  not_before: number
  not_after: number
  created_at: number
  last_modified_at: number
  customer_version: number
  generation_id: string
}

export function certificateFromRow(r: CertificateRow): Certificate {
  return {
    certificateId: r.certificate_id,
    ...(r.ca_certificate_id === null ? {} : { caCertificateId: r.ca_certificate_id }),
    status: r.status,
    certificateMode: r.certificate_mode,
    certificatePem: r.pem,
    notBeforeMs: r.not_before,
    notAfterMs: r.not_after,
    createdAtMs: r.created_at,
    lastModifiedAtMs: r.last_modified_at,
    customerVersion: r.customer_version,
    generationId: r.generation_id,
  }
}

/** The columns of a certificate, in the order both stores' INSERTs list them. */
export function certificateValues(c: Certificate): unknown[] {
  return [
    c.certificateId,
    c.caCertificateId ?? null,
    c.status,
    c.certificateMode,
    c.certificatePem,
    c.notBeforeMs,
    c.notAfterMs,
    c.createdAtMs,
    c.lastModifiedAtMs,
    c.customerVersion,
    c.generationId,
  ]
}

export const CERTIFICATE_COLUMNS =
  'certificate_id, ca_certificate_id, status, certificate_mode, pem, not_before, not_after, created_at, last_modified_at, customer_version, generation_id'

export function caCertificateFromRow(r: CACertificateRow): CACertificate {
  return {
    certificateId: r.certificate_id,
    status: r.status,
    certificateMode: r.certificate_mode,
    certificatePem: r.pem,
    subject: r.subject,
    autoRegistrationStatus: r.auto_registration,
    ...(r.registration_config === null
      ? {}
      : { registrationConfig: JSON.parse(r.registration_config) as RegistrationConfig }),
    notBeforeMs: r.not_before,
    notAfterMs: r.not_after,
    createdAtMs: r.created_at,
    lastModifiedAtMs: r.last_modified_at,
    customerVersion: r.customer_version,
    generationId: r.generation_id,
  }
}

export function caCertificateValues(c: CACertificate): unknown[] {
  return [
    c.certificateId,
    c.status,
    c.certificateMode,
    c.certificatePem,
    c.subject,
    c.autoRegistrationStatus,
    c.registrationConfig === undefined ? null : JSON.stringify(c.registrationConfig),
    c.notBeforeMs,
    c.notAfterMs,
    c.createdAtMs,
    c.lastModifiedAtMs,
    c.customerVersion,
    c.generationId,
  ]
}

export const CA_CERTIFICATE_COLUMNS =
  'certificate_id, status, certificate_mode, pem, subject, auto_registration, registration_config, not_before, not_after, created_at, last_modified_at, customer_version, generation_id'

/** The list key of a certificate: [createdAt, certificateId] as JSON (checked by app/pagination.ts). */
export const certificateKey = (c: { createdAtMs: number; certificateId: string }): string =>
  JSON.stringify([c.createdAtMs, c.certificateId])

export function keyOf(after: string): { createdAt: number; id: string } {
  const [createdAt, id] = JSON.parse(after) as [number, string]
  return { createdAt, id }
}

/** What the identity query reads for one pair (both stores). */
export interface IdentityRow {
  status: CertificateStatus | null
  ca_certificate_id: string | null
  ca_status: CACertificateStatus | null
  thing_exists: number | boolean
  attached: number | boolean
}
