/**
 * fleetjobs' own certificate authority, kept in `<data-dir>/tls/`: created once (`ca.pem`, and
 * `ca.key` with mode 0600), it issues the certificates of CreateKeysAndCertificate and the server
 * certificate of the TLS listeners (`server.pem`/`server.key`, for localhost, 127.0.0.1, ::1 and the
 * `--host` name, renewed when the names change or it nears its end). docs/tls.md says how devices
 * trust it and how several nodes share it. Validity periods follow the machine's clock, never a virtual
 * one: TLS peers check them against their own clocks.
 */
import { randomBytes } from 'node:crypto'
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { IssuedCertificate, ParsedCertificate, Pki } from '../ports/pki.js'
import type { Signer } from './x509.js'
import {
  createAuthority,
  exportKeys,
  generateKeys,
  importPrivateKey,
  isSignedBy,
  issueLeaf,
  parseCertificate,
  readCertificate,
  subjectAltNames,
  toPem,
} from './x509.js'

export const TLS_DIR = 'tls'
export const CA_CERT_FILE = 'ca.pem'
export const CA_KEY_FILE = 'ca.key'
const SERVER_CERT_FILE = 'server.pem'
const SERVER_KEY_FILE = 'server.key'

const DAY_MS = 86_400_000
/** The CA outlives every certificate it issues. */
const CA_YEARS = 40
/** Server certificates: 825 days, the longest most TLS clients accept from any CA. */
const SERVER_CERT_DAYS = 825
/** A server certificate this close to its end is renewed at start-up. */
const RENEW_WITHIN_DAYS = 30
/** Issued certificates start a minute early, for devices whose clock is a little behind. */
const SKEW_MS = 60_000
/** CreateKeysAndCertificate's certificates end where AWS's do. [aws: CreateKeysAndCertificate] */
const DEVICE_CERT_NOT_AFTER = new Date('2049-12-31T23:59:59Z')
/** AWS's subject for the certificates it creates. */
const DEVICE_CERT_SUBJECT = 'CN=AWS IoT Certificate'

/** The names every server certificate covers, besides the `--host` name. */
export const LOOPBACK_NAMES = ['localhost', '127.0.0.1', '::1'] as const

/** A TLS listener's key and certificate chain (PEM). */
export interface ServerIdentity {
  readonly certPem: string
  readonly keyPem: string
}

export class LocalCa implements Pki {
  private constructor(
    /** Where the CA certificate is, for devices to trust. */
    readonly caPath: string,
    readonly caPem: string,
    private readonly signer: Signer,
    private readonly dir: string,
  ) {}

  /** The CA in `<dataDir>/tls/`, created there the first time. */
  static async open(dataDir: string, nowMs: number): Promise<LocalCa> {
    const dir = join(dataDir, TLS_DIR)
    const certPath = join(dir, CA_CERT_FILE)
    const keyPath = join(dir, CA_KEY_FILE)
    if (!existsSync(certPath) || !existsSync(keyPath)) {
      mkdirSync(dir, { recursive: true, mode: 0o700 })
      const keys = await generateKeys()
      const name = `CN=fleetjobs local CA ${randomBytes(4).toString('hex')},O=fleetjobs`
      const notBefore = new Date(nowMs - SKEW_MS)
      const notAfter = new Date(nowMs + CA_YEARS * 365 * DAY_MS)
      const cert = await createAuthority(name, keys, notBefore, notAfter)
      // The key first: a CA certificate on disk always has its key beside it.
      writeAtomically(keyPath, (await exportKeys(keys)).privateKeyPem, 0o600)
      writeAtomically(certPath, toPem(cert), 0o644)
    }
    const caPem = readFileSync(certPath, 'utf8')
    const signer = {
      cert: readCertificate(caPem),
      key: await importPrivateKey(readFileSync(keyPath, 'utf8')),
    }
    return new LocalCa(certPath, caPem, signer, dir)
  }

  parse(pem: string): ParsedCertificate | undefined {
    return parseCertificate(pem)
  }

  isSignedBy(certPem: string, issuerPem: string): Promise<boolean> {
    return isSignedBy(certPem, issuerPem)
  }

  async createKeysAndCertificate(): Promise<IssuedCertificate> {
    const nowMs = Date.now()
    const keys = await generateKeys()
    const cert = await issueLeaf(this.signer, {
      subject: DEVICE_CERT_SUBJECT,
      publicKey: keys.publicKey,
      notBefore: new Date(nowMs - SKEW_MS),
      notAfter: DEVICE_CERT_NOT_AFTER,
      usage: 'client',
    })
    const parsed = parseCertificate(toPem(cert))
    if (parsed === undefined) throw new Error('the certificate just issued does not parse')
    return { certificate: parsed, ...(await exportKeys(keys)) }
  }

  /**
   * The TLS listeners' key and certificate for `hosts` (and the loopback names), from the data
   * directory when the one there still covers them, is this CA's and is not near its end; else a new one.
   */
  async serverIdentity(hosts: readonly string[], nowMs: number): Promise<ServerIdentity> {
    const names = serverNames(hosts)
    const certPath = join(this.dir, SERVER_CERT_FILE)
    const keyPath = join(this.dir, SERVER_KEY_FILE)
    if (existsSync(certPath) && existsSync(keyPath)) {
      const certPem = readFileSync(certPath, 'utf8')
      if (await this.stillServes(certPem, names, nowMs)) {
        return { certPem: certPem + this.caPem, keyPem: readFileSync(keyPath, 'utf8') }
      }
    }
    const keys = await generateKeys()
    const cert = await issueLeaf(this.signer, {
      subject: 'CN=fleetjobs',
      publicKey: keys.publicKey,
      notBefore: new Date(nowMs - SKEW_MS),
      notAfter: new Date(nowMs + SERVER_CERT_DAYS * DAY_MS),
      usage: 'server',
      names,
    })
    const { privateKeyPem } = await exportKeys(keys)
    writeAtomically(keyPath, privateKeyPem, 0o600)
    writeAtomically(certPath, toPem(cert), 0o644)
    return { certPem: toPem(cert) + this.caPem, keyPem: privateKeyPem }
  }

  private async stillServes(certPem: string, names: readonly string[], nowMs: number): Promise<boolean> {
    const parsed = parseCertificate(certPem)
    if (parsed === undefined || parsed.notAfterMs - RENEW_WITHIN_DAYS * DAY_MS < nowMs) return false
    const covered = new Set(subjectAltNames(readCertificate(certPem)))
    return names.every((n) => covered.has(n)) && (await isSignedBy(certPem, this.caPem))
  }
}

/** The loopback names and `hosts`, without wildcard addresses (`0.0.0.0`, `::`), each once. */
export function serverNames(hosts: readonly string[]): string[] {
  const names: string[] = [...LOOPBACK_NAMES]
  for (const raw of hosts) {
    const host = raw.replace(/^\[|\]$/g, '')
    if (host === '' || host === '0.0.0.0' || host === '::' || names.includes(host)) continue
    names.push(host)
  }
  return names
}

function writeAtomically(path: string, text: string, mode: number): void {
  const tmp = `${path}.${process.pid}.tmp`
  writeFileSync(tmp, text, { mode })
  chmodSync(tmp, mode)
  renameSync(tmp, path)
}

/**
 * The Pki of a data directory: parsing and signature checks need no CA; the CA is opened (created the
 * first time) when something is first issued, so a server that never issues writes nothing.
 */
export class DataDirPki implements Pki {
  private ca: Promise<LocalCa> | undefined

  constructor(private readonly dataDir: string) {}

  /** The data directory's CA, created there on first use. */
  authority(nowMs: number): Promise<LocalCa> {
    this.ca ??= LocalCa.open(this.dataDir, nowMs).catch((error: unknown) => {
      // A failure (disk full, permissions) is reported to this caller; the next one tries again.
      this.ca = undefined
      throw error
    })
    return this.ca
  }

  parse(pem: string): ParsedCertificate | undefined {
    return parseCertificate(pem)
  }

  isSignedBy(certPem: string, issuerPem: string): Promise<boolean> {
    return isSignedBy(certPem, issuerPem)
  }

  async createKeysAndCertificate(): Promise<IssuedCertificate> {
    return (await this.authority(Date.now())).createKeysAndCertificate()
  }
}
