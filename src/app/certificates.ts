/**
 * The certificate registry's use cases, one per AWS operation: device certificates
 * (CreateKeysAndCertificate, RegisterCertificate, RegisterCertificateWithoutCA, DescribeCertificate,
 * ListCertificates, ListCertificatesByCA, UpdateCertificate, DeleteCertificate), CA certificates
 * (RegisterCACertificate, DescribeCACertificate, ListCACertificates, UpdateCACertificate,
 * DeleteCACertificate) and thing ↔ certificate attachments (AttachThingPrincipal, DetachThingPrincipal,
 * ListThingPrincipals, ListPrincipalThings). X.509 work goes through ctx.pki; every change is one store
 * transaction; a change that takes rights from a certificate is reported to
 * ctx.certificateRightsRevoked after its commit. docs/compatibility.md#certificates records each choice
 * made where AWS's documentation is silent. [aws: iot certificates]
 */
import { randomUUID } from 'node:crypto'
import type {
  AutoRegistrationStatus,
  CACertificate,
  CACertificateStatus,
  Certificate,
  CertificateMode,
  CertificateStatus,
  RegistrationConfig,
  Stamp,
} from '../domain/certificates.js'
import {
  MAX_CA_CERTIFICATES_PER_SUBJECT,
  caCertificateArn,
  caCertificateNotFound,
  certificateArn,
  certificateNotFound,
  decideDeleteCACertificate,
  decideDeleteCertificate,
  decideUpdateCACertificate,
  decideUpdateCertificate,
  lostRights,
  normalizeCertificateId,
  parseCertificatePrincipal,
  principalNotCertificate,
  registrationStatus,
} from '../domain/certificates.js'
import { ServiceError, invalidRequest, notFound } from '../domain/errors.js'
import type { ParsedCertificate } from '../ports/pki.js'
import type { Page, PageRequest } from '../ports/store.js'
import type { AppContext } from './context.js'
import { nextToken, pageRequest } from './pagination.js'

/** The list key of certificates and CA certificates: createdAt, certificateId. */
const CERTIFICATE_KEY = ['number', 'string'] as const

const stamp = (ctx: AppContext): Stamp => ({ nowMs: ctx.clock.nowMs(), generationId: randomUUID() })

const invalidCertificate = (message: string): ServiceError =>
  new ServiceError('CertificateValidationException', message)

/** One PEM certificate, parsed, that is valid now; CertificateValidationException naming `field` otherwise. */
function parseValid(ctx: AppContext, pem: string, field: string): ParsedCertificate {
  const parsed = ctx.pki.parse(pem)
  if (parsed === undefined)
    throw invalidCertificate(
      `${field} is not one X.509 certificate in PEM format (-----BEGIN CERTIFICATE-----)`,
    )
  if (parsed.notAfterMs < ctx.clock.nowMs())
    throw invalidCertificate(
      `${field} expired at ${new Date(parsed.notAfterMs).toISOString()}; an expired certificate cannot be registered`,
    )
  return parsed
}

function newCertificate(
  parsed: ParsedCertificate,
  status: CertificateStatus,
  certificateMode: CertificateMode,
  s: Stamp,
  caCertificateId?: string,
): Certificate {
  return {
    certificateId: parsed.certificateId,
    ...(caCertificateId === undefined ? {} : { caCertificateId }),
    status,
    certificateMode,
    certificatePem: parsed.pem,
    createdAtMs: s.nowMs,
    lastModifiedAtMs: s.nowMs,
    customerVersion: 1,
    generationId: s.generationId,
    notBeforeMs: parsed.notBeforeMs,
    notAfterMs: parsed.notAfterMs,
  }
}

export interface CertificateIdentifiers {
  readonly certificateArn: string
  readonly certificateId: string
}

const identifiers = (ctx: AppContext, certificateId: string): CertificateIdentifiers => ({
  certificateArn: certificateArn(ctx.scope, certificateId),
  certificateId,
})

/**
 * Stores a new certificate. [aws: RegisterCertificate] a certificate registered before is
 * ResourceAlreadyExistsException with its id and ARN, whatever its status.
 */
async function store(ctx: AppContext, certificate: Certificate): Promise<CertificateIdentifiers> {
  const outcome = await ctx.store.createCertificate(certificate)
  const ids = identifiers(ctx, certificate.certificateId)
  switch (outcome.kind) {
    case 'created':
      return ids
    case 'exists':
      throw new ServiceError(
        'ResourceAlreadyExistsException',
        'The certificate is already provisioned or registered',
        {
          resourceId: ids.certificateId,
          resourceArn: ids.certificateArn,
        },
      )
    case 'caNotActive':
      // Deactivated or deleted after this request checked it.
      throw caNotActive(certificate.caCertificateId ?? '', outcome.ca?.status)
  }
}

const caNotActive = (caCertificateId: string, status: CACertificateStatus | undefined): ServiceError =>
  new ServiceError(
    'CertificateStateException',
    status === undefined
      ? `CA certificate ${caCertificateId} is no longer registered`
      : `CA certificate ${caCertificateId} is ${status}; certificates can be registered only under an ACTIVE CA certificate`,
  )

// ---- device certificates ----

export interface CreateKeysAndCertificateOutput extends CertificateIdentifiers {
  readonly certificatePem: string
  readonly keyPair: { readonly PublicKey: string; readonly PrivateKey: string }
}

/**
 * A new key pair and a certificate for it from fleetjobs' own CA, registered ACTIVE with `setAsActive`,
 * INACTIVE otherwise. The private key is returned once and not kept. [aws: CreateKeysAndCertificate]
 */
export async function createKeysAndCertificate(
  ctx: AppContext,
  input: { setAsActive?: boolean | undefined },
): Promise<CreateKeysAndCertificateOutput> {
  const issued = await ctx.pki.createKeysAndCertificate()
  const status = input.setAsActive === true ? 'ACTIVE' : 'INACTIVE'
  // Certificates AWS issues carry no caCertificateId and are in DEFAULT mode. [aws: DescribeCertificate]
  const ids = await store(ctx, newCertificate(issued.certificate, status, 'DEFAULT', stamp(ctx)))
  return {
    ...ids,
    certificatePem: issued.certificate.pem,
    keyPair: { PublicKey: issued.publicKeyPem, PrivateKey: issued.privateKeyPem },
  }
}

/**
 * Registers a certificate without a CA: no issuer check, SNI_ONLY mode, the given status (INACTIVE by
 * default). [aws: RegisterCertificateWithoutCA]
 */
export async function registerCertificateWithoutCA(
  ctx: AppContext,
  input: { certificatePem: string; status?: CertificateStatus | undefined },
): Promise<CertificateIdentifiers> {
  const status = registrationStatus({ status: input.status })
  if (status.kind === 'reject') throw status.error
  const parsed = parseValid(ctx, input.certificatePem, 'certificatePem')
  return store(ctx, newCertificate(parsed, status.status, 'SNI_ONLY', stamp(ctx)))
}

/**
 * Registers a certificate signed by a registered, ACTIVE CA certificate: the one given as
 * `caCertificatePem`, else the one registered CA certificate whose subject is the certificate's issuer
 * and whose key signed it (CertificateConflictException when several did). It takes the CA's
 * certificate mode. [aws: RegisterCertificate]
 */
export async function registerCertificate(
  ctx: AppContext,
  input: {
    certificatePem: string
    caCertificatePem?: string | undefined
    setAsActive?: boolean | undefined
    status?: CertificateStatus | undefined
  },
): Promise<CertificateIdentifiers> {
  const status = registrationStatus(input)
  if (status.kind === 'reject') throw status.error
  const parsed = parseValid(ctx, input.certificatePem, 'certificatePem')
  const ca =
    input.caCertificatePem === undefined
      ? await signerAmongRegistered(ctx, parsed)
      : await namedSigner(ctx, parsed, input.caCertificatePem)
  if (ca.status !== 'ACTIVE') throw caNotActive(ca.certificateId, ca.status)
  return store(ctx, newCertificate(parsed, status.status, ca.certificateMode, stamp(ctx), ca.certificateId))
}

async function namedSigner(
  ctx: AppContext,
  parsed: ParsedCertificate,
  caPem: string,
): Promise<CACertificate> {
  const caParsed = ctx.pki.parse(caPem)
  if (caParsed === undefined)
    throw invalidCertificate(
      'caCertificatePem is not one X.509 certificate in PEM format (-----BEGIN CERTIFICATE-----)',
    )
  const ca = await ctx.store.getCACertificate(caParsed.certificateId)
  if (ca === undefined)
    throw invalidCertificate(
      `caCertificatePem is not a registered CA certificate (id ${caParsed.certificateId}); register it with RegisterCACertificate first`,
    )
  if (!(await ctx.pki.isSignedBy(parsed.pem, ca.certificatePem)))
    throw invalidCertificate(
      `certificatePem is not signed by the CA certificate ${ca.certificateId} (caCertificatePem)`,
    )
  return ca
}

async function signerAmongRegistered(ctx: AppContext, parsed: ParsedCertificate): Promise<CACertificate> {
  const candidates = await ctx.store.caCertificatesBySubject(parsed.issuer)
  const signers: CACertificate[] = []
  for (const ca of candidates) if (await ctx.pki.isSignedBy(parsed.pem, ca.certificatePem)) signers.push(ca)
  const [only, ...more] = signers
  if (only === undefined)
    throw invalidCertificate(
      `certificatePem is not signed by a registered CA certificate (issuer ${parsed.issuer}); register its CA with RegisterCACertificate, or use RegisterCertificateWithoutCA`,
    )
  if (more.length > 0)
    throw new ServiceError(
      'CertificateConflictException',
      `certificatePem's issuer ${parsed.issuer} matches several registered CA certificates with the same subject and key (${signers.map((s) => s.certificateId).join(', ')}); name one with caCertificatePem`,
    )
  return only
}

export async function describeCertificate(
  ctx: AppContext,
  input: { certificateId: string },
): Promise<Certificate> {
  const id = normalizeCertificateId(input.certificateId)
  const certificate = await ctx.store.getCertificate(id)
  if (certificate === undefined) throw certificateNotFound(input.certificateId)
  return certificate
}

interface MarkerPage {
  pageSize?: number | undefined
  marker?: string | undefined
  ascendingOrder?: boolean | undefined
}

/**
 * The ListCertificates family pages with `marker`/`pageSize` and a `nextMarker` whose model pattern is
 * standard base64 (`[A-Za-z0-9+/]+={0,2}`): our token in that alphabet. Newest first unless
 * `isAscendingOrder`. [aws: ListCertificates]
 */
function markerRequest(ctx: AppContext, op: string, filters: object, input: MarkerPage): PageRequest {
  try {
    return pageRequest(
      op,
      filters,
      { maxResults: input.pageSize, nextToken: input.marker },
      ctx.settings.defaultPageSize,
      CERTIFICATE_KEY,
    )
  } catch (error) {
    // pagination.ts names the token `nextToken`; these operations call it `marker`.
    if (error instanceof ServiceError && error.code === 'InvalidRequestException')
      throw invalidRequest('marker is invalid or does not belong to this request')
    throw error
  }
}

function nextMarker(op: string, filters: object, page: Page<unknown>): { nextMarker?: string } {
  const token = nextToken(op, filters, page)
  if (token === undefined) return {}
  const base64 = token.replaceAll('-', '+').replaceAll('_', '/')
  return { nextMarker: base64 + '='.repeat((4 - (base64.length % 4)) % 4) }
}

export async function listCertificates(
  ctx: AppContext,
  input: MarkerPage,
): Promise<{ certificates: readonly Certificate[]; nextMarker?: string }> {
  const filters = { ascending: input.ascendingOrder === true }
  const page = await ctx.store.listCertificates(
    filters,
    markerRequest(ctx, 'ListCertificates', filters, input),
  )
  return { certificates: page.items, ...nextMarker('ListCertificates', filters, page) }
}

/** The certificates registered under a CA certificate; an unknown CA has none (the model has no 404 here). */
export async function listCertificatesByCA(
  ctx: AppContext,
  input: MarkerPage & { caCertificateId: string },
): Promise<{ certificates: readonly Certificate[]; nextMarker?: string }> {
  const filters = {
    caCertificateId: normalizeCertificateId(input.caCertificateId),
    ascending: input.ascendingOrder === true,
  }
  const op = 'ListCertificatesByCA'
  const page = await ctx.store.listCertificates(filters, markerRequest(ctx, op, filters, input))
  return { certificates: page.items, ...nextMarker(op, filters, page) }
}

/**
 * UpdateCertificate: ACTIVE, INACTIVE or REVOKED (domain/certificates.ts#CERTIFICATE_TRANSITIONS).
 * A certificate that is not ACTIVE afterwards has its live connections closed (after the commit).
 */
export async function updateCertificate(
  ctx: AppContext,
  input: { certificateId: string; newStatus: CertificateStatus },
): Promise<void> {
  const id = normalizeCertificateId(input.certificateId)
  const s = stamp(ctx)
  const before = await ctx.store.mutateCertificate(id, ({ certificate }) => {
    const d = decideUpdateCertificate(certificate, input.certificateId, input.newStatus, s)
    if (d.kind === 'reject') return d
    const result = certificate?.status
    return d.kind === 'none' ? { kind: 'none', result } : { kind: 'write', next: d.next, result }
  })
  if (before !== undefined && lostRights(before, input.newStatus))
    ctx.certificateRightsRevoked({ certificateId: id })
}

/**
 * DeleteCertificate: refused while ACTIVE or attached to a thing; `forceDelete` skips only AWS's check
 * of attached policies (fleetjobs has none). [aws: DeleteCertificate]
 */
export async function deleteCertificate(
  ctx: AppContext,
  input: { certificateId: string; forceDelete?: boolean | undefined },
): Promise<void> {
  const id = normalizeCertificateId(input.certificateId)
  const arn = certificateArn(ctx.scope, id)
  await ctx.store.mutateCertificate(id, ({ certificate, attachedThing }) => {
    const d = decideDeleteCertificate(certificate, input.certificateId, attachedThing, arn)
    return d.kind === 'reject' ? d : { kind: 'delete', result: undefined }
  })
  ctx.certificateRightsRevoked({ certificateId: id })
}

// ---- CA certificates ----

/**
 * Registers a CA certificate. DEFAULT mode (the default) needs a verification certificate, which must be
 * signed by the CA's key: fleetjobs has no registration code, so a certificate signed by the CA is the
 * proof of possession (RegistrationCodeValidationException otherwise). SNI_ONLY mode takes none.
 * `tags` are accepted and not kept. [aws: RegisterCACertificate]
 */
export async function registerCACertificate(
  ctx: AppContext,
  input: {
    caCertificate: string
    verificationCertificate?: string | undefined
    setAsActive?: boolean | undefined
    allowAutoRegistration?: boolean | undefined
    registrationConfig?: RegistrationConfig | undefined
    certificateMode?: CertificateMode | undefined
  },
): Promise<CertificateIdentifiers> {
  const mode = input.certificateMode ?? 'DEFAULT'
  if (mode === 'SNI_ONLY' && input.verificationCertificate !== undefined)
    throw invalidRequest('verificationCertificate must be empty when certificateMode is SNI_ONLY')
  if (mode === 'DEFAULT' && input.verificationCertificate === undefined)
    throw invalidRequest('verificationCertificate is required when certificateMode is DEFAULT (the default)')
  const parsed = parseValid(ctx, input.caCertificate, 'caCertificate')
  if (!parsed.isCA)
    throw invalidCertificate(
      'caCertificate is not a CA certificate: its basicConstraints extension does not say cA',
    )
  if (input.verificationCertificate !== undefined) {
    const verification = parseValid(ctx, input.verificationCertificate, 'verificationCertificate')
    if (!(await ctx.pki.isSignedBy(verification.pem, parsed.pem)))
      throw new ServiceError(
        'RegistrationCodeValidationException',
        "verificationCertificate is not signed by caCertificate's key (it proves possession of the CA's private key)",
      )
  }
  const s = stamp(ctx)
  const autoRegistrationStatus: AutoRegistrationStatus =
    input.allowAutoRegistration === true ? 'ENABLE' : 'DISABLE'
  const ca: CACertificate = {
    certificateId: parsed.certificateId,
    status: input.setAsActive === true ? 'ACTIVE' : 'INACTIVE',
    certificateMode: mode,
    certificatePem: parsed.pem,
    subject: parsed.subject,
    autoRegistrationStatus,
    ...(input.registrationConfig === undefined ? {} : { registrationConfig: input.registrationConfig }),
    createdAtMs: s.nowMs,
    lastModifiedAtMs: s.nowMs,
    customerVersion: 1,
    generationId: s.generationId,
    notBeforeMs: parsed.notBeforeMs,
    notAfterMs: parsed.notAfterMs,
  }
  const outcome = await ctx.store.createCACertificate(ca, MAX_CA_CERTIFICATES_PER_SUBJECT)
  const ids = {
    certificateArn: caCertificateArn(ctx.scope, ca.certificateId),
    certificateId: ca.certificateId,
  }
  switch (outcome.kind) {
    case 'created':
      return ids
    case 'exists':
      throw new ServiceError('ResourceAlreadyExistsException', 'The CA certificate is already registered', {
        resourceId: ids.certificateId,
        resourceArn: ids.certificateArn,
      })
    case 'limit':
      throw new ServiceError(
        'LimitExceededException',
        `${outcome.count} CA certificates with subject ${ca.subject} are registered already; at most ${MAX_CA_CERTIFICATES_PER_SUBJECT} may share a subject`,
      )
  }
}

export async function describeCACertificate(
  ctx: AppContext,
  input: { certificateId: string },
): Promise<CACertificate> {
  const ca = await ctx.store.getCACertificate(normalizeCertificateId(input.certificateId))
  if (ca === undefined) throw caCertificateNotFound(input.certificateId)
  return ca
}

/** CA certificates, newest first unless `isAscendingOrder`; `templateName` keeps those whose registration config names it. */
export async function listCACertificates(
  ctx: AppContext,
  input: MarkerPage & { templateName?: string | undefined },
): Promise<{ certificates: readonly CACertificate[]; nextMarker?: string }> {
  const filters = { ascending: input.ascendingOrder === true, templateName: input.templateName }
  const op = 'ListCACertificates'
  const request = markerRequest(ctx, op, filters, input)
  const wanted = (ca: CACertificate) =>
    input.templateName === undefined || ca.registrationConfig?.templateName === input.templateName
  const page = await filteredPage(request, wanted, (r) => ctx.store.listCACertificates(filters, r))
  return { certificates: page.items, ...nextMarker(op, filters, page) }
}

/**
 * One page of the items `wanted` keeps, read through the store's pages (a filter the store has no
 * index for: CA certificates are few). The cursor is the key of the last item kept.
 */
async function filteredPage<T extends { createdAtMs: number; certificateId: string }>(
  request: PageRequest,
  wanted: (item: T) => boolean,
  read: (r: PageRequest) => Promise<Page<T>>,
): Promise<Page<T>> {
  const kept: T[] = []
  let after = request.after
  for (;;) {
    const page = await read({ limit: request.limit, after })
    for (const item of page.items) {
      if (!wanted(item)) continue
      if (kept.length === request.limit) {
        const last = kept[kept.length - 1]
        return {
          items: kept,
          ...(last === undefined ? {} : { after: JSON.stringify([last.createdAtMs, last.certificateId]) }),
        }
      }
      kept.push(item)
    }
    if (page.after === undefined) return { items: kept }
    after = page.after
  }
}

/**
 * UpdateCACertificate. Deactivating a CA certificate takes the right to connect from every certificate
 * registered under it (AWS: devices whose certificate a CA that is not ACTIVE signed cannot connect):
 * each is reported to ctx.certificateRightsRevoked after the commit. [aws: UpdateCACertificate]
 */
export async function updateCACertificate(
  ctx: AppContext,
  input: {
    certificateId: string
    newStatus?: CACertificateStatus | undefined
    newAutoRegistrationStatus?: AutoRegistrationStatus | undefined
    registrationConfig?: RegistrationConfig | undefined
    removeAutoRegistration?: boolean | undefined
  },
): Promise<void> {
  const id = normalizeCertificateId(input.certificateId)
  const s = stamp(ctx)
  const deactivated = await ctx.store.mutateCACertificate(id, (current) => {
    const d = decideUpdateCACertificate(current, input.certificateId, input, s)
    if (d.kind === 'reject') return d
    if (d.kind === 'none') return { kind: 'none', result: false }
    return { kind: 'write', next: d.next, result: current?.status === 'ACTIVE' && d.next.status !== 'ACTIVE' }
  })
  if (!deactivated) return
  for (const certificateId of await ctx.store.certificateIdsOfCA(id))
    ctx.certificateRightsRevoked({ certificateId })
}

/** DeleteCACertificate: refused while ACTIVE. Certificates registered under it stay (and cannot connect). */
export async function deleteCACertificate(ctx: AppContext, input: { certificateId: string }): Promise<void> {
  const id = normalizeCertificateId(input.certificateId)
  await ctx.store.mutateCACertificate(id, (current) => {
    const d = decideDeleteCACertificate(current, input.certificateId)
    return d.kind === 'reject' ? d : { kind: 'delete', result: undefined }
  })
}

// ---- things and principals ----

function certificateOfPrincipal(ctx: AppContext, principal: string): string {
  const id = parseCertificatePrincipal(ctx.scope, principal)
  if (id === undefined) throw principalNotCertificate(principal)
  return id
}

const thingNotFound = (thingName: string): ServiceError => notFound(`Thing ${thingName} not found`)

/** Attaches a certificate to a thing; again is a success. Both must exist. [aws: AttachThingPrincipal] */
export async function attachThingPrincipal(
  ctx: AppContext,
  input: { thingName: string; principal: string },
): Promise<void> {
  const id = certificateOfPrincipal(ctx, input.principal)
  const outcome = await ctx.store.attachThingPrincipal(input.thingName, id, ctx.clock.nowMs())
  if (outcome === 'noThing') throw thingNotFound(input.thingName)
  if (outcome === 'noCertificate') throw certificateNotFound(id)
}

/**
 * Detaches a certificate from a thing; a certificate that is not attached is a success. The thing must
 * exist. The certificate's live connections as that thing close (after the commit). [aws: DetachThingPrincipal]
 */
export async function detachThingPrincipal(
  ctx: AppContext,
  input: { thingName: string; principal: string },
): Promise<void> {
  const id = certificateOfPrincipal(ctx, input.principal)
  const outcome = await ctx.store.detachThingPrincipal(input.thingName, id)
  if (outcome === 'noThing') throw thingNotFound(input.thingName)
  if (outcome === 'detached') ctx.certificateRightsRevoked({ certificateId: id, thingName: input.thingName })
}

interface TokenPage {
  maxResults?: number | undefined
  nextToken?: string | undefined
}

/** The certificate ARNs attached to a thing, by certificate id. [aws: ListThingPrincipals] */
export async function listThingPrincipals(
  ctx: AppContext,
  input: TokenPage & { thingName: string },
): Promise<{ principals: readonly string[]; nextToken?: string }> {
  const filters = { thingName: input.thingName }
  const request = pageRequest('ListThingPrincipals', filters, input, ctx.settings.defaultPageSize, 'name')
  if (!(await ctx.store.thingExists(input.thingName))) throw thingNotFound(input.thingName)
  const page = await ctx.store.listThingPrincipals(input.thingName, request)
  const token = nextToken('ListThingPrincipals', filters, page)
  return {
    principals: page.items.map((id) => certificateArn(ctx.scope, id)),
    ...(token === undefined ? {} : { nextToken: token }),
  }
}

/** The things a certificate is attached to, by name; an unknown certificate is ResourceNotFoundException. */
export async function listPrincipalThings(
  ctx: AppContext,
  input: TokenPage & { principal: string },
): Promise<{ things: readonly string[]; nextToken?: string }> {
  const id = certificateOfPrincipal(ctx, input.principal)
  const filters = { certificateId: id }
  const request = pageRequest('ListPrincipalThings', filters, input, ctx.settings.defaultPageSize, 'name')
  if ((await ctx.store.getCertificate(id)) === undefined) throw certificateNotFound(id)
  const page = await ctx.store.listPrincipalThings(id, request)
  const token = nextToken('ListPrincipalThings', filters, page)
  return { things: page.items, ...(token === undefined ? {} : { nextToken: token }) }
}
