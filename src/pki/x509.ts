/**
 * X.509 through @peculiar/x509 on Node's WebCrypto: parsing, signature checks and issuing. No files
 * here (local-ca.ts keeps them), no shelling out to openssl.
 */
// @peculiar/x509 resolves its algorithms through tsyringe, which needs the Reflect metadata API first.
import 'reflect-metadata'
import * as x509 from '@peculiar/x509'
import { createHash, webcrypto } from 'node:crypto'
import type { ParsedCertificate } from '../ports/pki.js'

type CryptoKey = webcrypto.CryptoKey
type CryptoKeyPair = webcrypto.CryptoKeyPair

const subtle = webcrypto.subtle
x509.cryptoProvider.set(webcrypto as unknown as Parameters<typeof x509.cryptoProvider.set>[0])

/** RSA-2048 with SHA-256: what AWS IoT issues (CreateKeysAndCertificate) and every TLS stack accepts. */
export const RSA_2048: webcrypto.RsaHashedKeyGenParams = {
  name: 'RSASSA-PKCS1-v1_5',
  hash: 'SHA-256',
  publicExponent: new Uint8Array([1, 0, 1]),
  modulusLength: 2048,
}

const ONE_PEM_CERTIFICATE =
  /^\s*-----BEGIN CERTIFICATE-----\r?\n[A-Za-z0-9+/=\r\n]+-----END CERTIFICATE-----\s*$/

/** AWS's certificate id of a DER certificate: its SHA-256, lowercase hex. */
export function certificateIdOfDer(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex')
}

/** Parses exactly one PEM certificate; undefined for anything else (several, a key, garbage). */
export function parseCertificate(pem: string): ParsedCertificate | undefined {
  const cert = decode(pem)
  return cert === undefined ? undefined : describe(cert)
}

function decode(pem: string): x509.X509Certificate | undefined {
  if (!ONE_PEM_CERTIFICATE.test(pem)) return undefined
  try {
    return new x509.X509Certificate(pem.trim())
  } catch {
    // Not DER that decodes as a certificate: the caller answers "not a certificate".
    return undefined
  }
}

function describe(cert: x509.X509Certificate): ParsedCertificate {
  const constraints = cert.getExtension(x509.BasicConstraintsExtension)
  return {
    certificateId: certificateIdOfDer(new Uint8Array(cert.rawData)),
    pem: `${cert.toString('pem').replace(/\r\n/g, '\n')}\n`,
    subject: cert.subject,
    issuer: cert.issuer,
    notBeforeMs: cert.notBefore.getTime(),
    notAfterMs: cert.notAfter.getTime(),
    isCA: constraints?.ca === true,
  }
}

/** Whether `certPem` names `issuerPem`'s subject as issuer and its signature verifies with that key. */
export async function isSignedBy(certPem: string, issuerPem: string): Promise<boolean> {
  const cert = decode(certPem)
  const issuer = decode(issuerPem)
  if (cert === undefined || issuer === undefined || cert.issuer !== issuer.subject) return false
  try {
    return await cert.verify({ publicKey: issuer.publicKey, signatureOnly: true })
  } catch {
    // An algorithm WebCrypto cannot check is a signature we cannot vouch for.
    return false
  }
}

export interface KeyPairPem {
  readonly privateKeyPem: string
  readonly publicKeyPem: string
}

export interface Signer {
  readonly cert: x509.X509Certificate
  readonly key: CryptoKey
}

/** A new RSA-2048 key pair. */
export async function generateKeys(): Promise<CryptoKeyPair> {
  return await subtle.generateKey(RSA_2048, true, ['sign', 'verify'])
}

export async function exportKeys(keys: CryptoKeyPair): Promise<KeyPairPem> {
  return {
    privateKeyPem: pem(await subtle.exportKey('pkcs8', keys.privateKey), 'PRIVATE KEY'),
    publicKeyPem: pem(await subtle.exportKey('spki', keys.publicKey), 'PUBLIC KEY'),
  }
}

export async function importPrivateKey(privateKeyPem: string): Promise<CryptoKey> {
  const der = x509.PemConverter.decodeFirst(privateKeyPem)
  return subtle.importKey('pkcs8', der, RSA_2048, false, ['sign'])
}

function pem(der: ArrayBuffer, tag: string): string {
  return `${x509.PemConverter.encode(der, tag).replace(/\r\n/g, '\n')}\n`
}

const randomSerial = (): string => {
  const bytes = webcrypto.getRandomValues(new Uint8Array(16))
  bytes[0] = (bytes[0] ?? 0) & 0x7f // a positive INTEGER [RFC 5280 4.1.2.2]
  return Buffer.from(bytes).toString('hex')
}

/** A self-signed certificate authority (basicConstraints cA, keyCertSign). */
export async function createAuthority(
  name: string,
  keys: CryptoKeyPair,
  notBefore: Date,
  notAfter: Date,
): Promise<x509.X509Certificate> {
  return x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name,
    notBefore,
    notAfter,
    signingAlgorithm: RSA_2048,
    keys,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  })
}

export interface LeafOptions {
  readonly subject: string
  readonly publicKey: CryptoKey
  readonly notBefore: Date
  readonly notAfter: Date
  readonly usage: 'server' | 'client'
  /** Host names and IP addresses (server certificates). */
  readonly names?: readonly string[]
}

/** An end-entity certificate signed by `issuer`. */
export async function issueLeaf(issuer: Signer, options: LeafOptions): Promise<x509.X509Certificate> {
  const extensions: x509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(
      x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
      true,
    ),
    new x509.ExtendedKeyUsageExtension([
      options.usage === 'server' ? x509.ExtendedKeyUsage.serverAuth : x509.ExtendedKeyUsage.clientAuth,
    ]),
    await x509.AuthorityKeyIdentifierExtension.create(issuer.cert),
    await x509.SubjectKeyIdentifierExtension.create(options.publicKey),
  ]
  if (options.names !== undefined && options.names.length > 0) {
    extensions.push(
      new x509.SubjectAlternativeNameExtension(
        options.names.map((value) => ({ type: isIpAddress(value) ? 'ip' : 'dns', value })),
      ),
    )
  }
  return x509.X509CertificateGenerator.create({
    serialNumber: randomSerial(),
    subject: options.subject,
    issuer: issuer.cert.subject,
    notBefore: options.notBefore,
    notAfter: options.notAfter,
    signingAlgorithm: RSA_2048,
    publicKey: options.publicKey,
    signingKey: issuer.key,
    extensions,
  })
}

/** The host names and addresses a server certificate names (its subjectAltName). */
export function subjectAltNames(cert: x509.X509Certificate): string[] {
  const ext = cert.getExtension(x509.SubjectAlternativeNameExtension)
  return ext === null ? [] : ext.names.items.map((n) => n.value)
}

export function isIpAddress(value: string): boolean {
  return /^\d{1,3}(\.\d{1,3}){3}$/.test(value) || value.includes(':')
}

export const toPem = (cert: x509.X509Certificate): string =>
  `${cert.toString('pem').replace(/\r\n/g, '\n')}\n`

export const readCertificate = (pemText: string): x509.X509Certificate => new x509.X509Certificate(pemText)
