/**
 * Certificates for the certificate-registry tests: a test's own certificate authorities and the device
 * and verification certificates they sign, made with the same X.509 code as fleetjobs' CA (src/pki).
 * Every CA gets a unique subject, so tests never meet each other's CA certificates.
 */
import { AttachThingPrincipalCommand, CreateKeysAndCertificateCommand } from '@aws-sdk/client-iot'
import { createHash } from 'node:crypto'
import type { Signer } from '../../src/pki/x509.js'
import { createAuthority, exportKeys, generateKeys, issueLeaf, toPem } from '../../src/pki/x509.js'
import type { Harness } from './harness.js'
import { ACCOUNT, REGION, unique } from './harness.js'

const HOUR_MS = 3_600_000
const YEAR_MS = 365 * 24 * HOUR_MS

export interface TestCA {
  readonly pem: string
  /** Its subject (RFC 4514), unique to the test. */
  readonly subject: string
  readonly id: string
  readonly signer: Signer
}

/** The certificate id AWS gives a PEM certificate: the SHA-256 of its DER. */
export function certificateIdOf(pem: string): string {
  const base64 = pem.replace(/-----(BEGIN|END) CERTIFICATE-----/g, '').replace(/\s+/g, '')
  return createHash('sha256').update(Buffer.from(base64, 'base64')).digest('hex')
}

export const certArnOf = (id: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:cert/${id}`
export const caCertArnOf = (id: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:cacert/${id}`

/** A new self-signed CA with a subject of its own (or `subject`, to make CAs that share one). */
export async function makeCA(subject = `CN=${unique('test-ca')},O=fleetjobs tests`): Promise<TestCA> {
  const keys = await generateKeys()
  const now = Date.now()
  const cert = await createAuthority(subject, keys, new Date(now - HOUR_MS), new Date(now + 10 * YEAR_MS))
  const pem = toPem(cert)
  return { pem, subject: cert.subject, id: certificateIdOf(pem), signer: { cert, key: keys.privateKey } }
}

/** A device certificate signed by `ca`; `expired` ends it an hour ago. */
export async function issueDevice(
  ca: TestCA,
  options: { expired?: boolean; subject?: string } = {},
): Promise<{ pem: string; id: string }> {
  const keys = await generateKeys()
  const now = Date.now()
  const cert = await issueLeaf(ca.signer, {
    subject: options.subject ?? `CN=${unique('device')}`,
    publicKey: keys.publicKey,
    notBefore: new Date(now - 2 * HOUR_MS),
    notAfter: new Date(options.expired === true ? now - HOUR_MS : now + YEAR_MS),
    usage: 'client',
  })
  const pem = toPem(cert)
  return { pem, id: certificateIdOf(pem) }
}

/**
 * A CA's verification certificate: signed by the CA, its subject's CN standing for AWS's registration
 * code (fleetjobs has none and checks only the signature).
 */
export async function verificationFor(ca: TestCA): Promise<string> {
  return (await issueDevice(ca, { subject: 'CN=registration-code-placeholder' })).pem
}

/** A device certificate of a CA that is never registered (for RegisterCertificateWithoutCA). */
export async function unregisteredDevice(): Promise<{ pem: string; id: string }> {
  return issueDevice(await makeCA())
}

/** A device's certificate and private key (PEM), and how the registry names the certificate. */
export interface DeviceCredentials {
  readonly certificateId: string
  readonly certificateArn: string
  readonly cert: string
  readonly key: string
}

/**
 * A certificate from CreateKeysAndCertificate, ACTIVE and attached to each of `things`, as a fleet's
 * operator provisions a device. [docs/tls.md]
 */
export async function provisionDevice(h: Harness, ...things: string[]): Promise<DeviceCredentials> {
  const out = await h.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))
  const device = {
    certificateId: out.certificateId ?? '',
    certificateArn: out.certificateArn ?? '',
    cert: out.certificatePem ?? '',
    key: out.keyPair?.PrivateKey ?? '',
  }
  for (const thingName of things)
    await h.iot.send(new AttachThingPrincipalCommand({ thingName, principal: device.certificateArn }))
  return device
}

/** A certificate with its key that no server has registered (its CA is the test's own), for refusals. */
export async function unregisteredCredentials(): Promise<DeviceCredentials> {
  const ca = await makeCA()
  const keys = await generateKeys()
  const now = Date.now()
  const cert = toPem(
    await issueLeaf(ca.signer, {
      subject: `CN=${unique('stranger')}`,
      publicKey: keys.publicKey,
      notBefore: new Date(now - HOUR_MS),
      notAfter: new Date(now + YEAR_MS),
      usage: 'client',
    }),
  )
  const certificateId = certificateIdOf(cert)
  return {
    certificateId,
    certificateArn: certArnOf(certificateId),
    cert,
    key: (await exportKeys(keys)).privateKeyPem,
  }
}
