/**
 * The X.509 work the certificate registry needs, behind a port so `app/` stays free of crypto
 * libraries. The adapter (src/pki/) holds fleetjobs' own certificate authority, which issues the
 * certificates of CreateKeysAndCertificate and the TLS listeners' server certificate.
 */

/** What the registry keeps of a parsed certificate. */
export interface ParsedCertificate {
  /** AWS's certificate id: the SHA-256 of the certificate's DER encoding, 64 lowercase hex digits. */
  readonly certificateId: string
  /** The certificate re-encoded as one PEM block (`-----BEGIN CERTIFICATE-----` …), newline-terminated. */
  readonly pem: string
  /** Distinguished names as RFC 4514 strings. */
  readonly subject: string
  readonly issuer: string
  readonly notBeforeMs: number
  readonly notAfterMs: number
  /** basicConstraints says cA: a certificate authority's certificate. */
  readonly isCA: boolean
}

/** A key pair and the certificate issued for it (CreateKeysAndCertificate). */
export interface IssuedCertificate {
  readonly certificate: ParsedCertificate
  /** SPKI public key, PEM. */
  readonly publicKeyPem: string
  /** PKCS#8 private key, PEM; fleetjobs keeps no copy (AWS returns it once, too). */
  readonly privateKeyPem: string
}

export interface Pki {
  /** Parses one PEM certificate; undefined when the text is not exactly one well-formed certificate. */
  parse(pem: string): ParsedCertificate | undefined
  /** Whether `certPem` names `issuerPem`'s subject as its issuer and carries a valid signature by its key. */
  isSignedBy(certPem: string, issuerPem: string): Promise<boolean>
  /**
   * A new RSA-2048 key pair and a device certificate for it, issued by fleetjobs' own CA, valid from now
   * (less a minute for clock skew) until 2049-12-31T23:59:59Z, as AWS's. "Now" is the machine's clock,
   * not a virtual one: TLS peers check validity against their own clocks. [aws: CreateKeysAndCertificate]
   */
  createKeysAndCertificate(): Promise<IssuedCertificate>
}
