import assert from 'node:assert/strict'
import { X509Certificate, createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { connect, createServer } from 'node:tls'
import { after, describe, it } from 'node:test'
import { CA_CERT_FILE, CA_KEY_FILE, LocalCa, TLS_DIR, serverNames } from './local-ca.js'
import { parseCertificate } from './x509.js'

const NOW = Date.parse('2026-12-02T00:00:00Z')
const dirs: string[] = []
const tempDir = (): string => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-pki-'))
  dirs.push(dir)
  return dir
}
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })))

describe('the local certificate authority', () => {
  it('is created once in <data-dir>/tls/, its key readable by the owner only', async () => {
    const dataDir = tempDir()
    const ca = await LocalCa.open(dataDir, NOW)
    assert.equal(ca.caPath, join(dataDir, TLS_DIR, CA_CERT_FILE))
    assert.equal(statSync(join(dataDir, TLS_DIR, CA_KEY_FILE)).mode & 0o777, 0o600)
    const again = await LocalCa.open(dataDir, NOW + 1000)
    assert.equal(again.caPem, ca.caPem)
    const parsed = parseCertificate(ca.caPem)
    assert.equal(parsed?.isCA, true)
  })

  it('issues device certificates as CreateKeysAndCertificate does: RSA-2048, until 2049, id = SHA-256 of DER', async () => {
    const ca = await LocalCa.open(tempDir(), NOW)
    const issued = await ca.createKeysAndCertificate()
    const node = new X509Certificate(issued.certificate.pem)
    assert.equal(issued.certificate.certificateId, createHash('sha256').update(node.raw).digest('hex'))
    assert.match(issued.certificate.certificateId, /^[0-9a-f]{64}$/)
    assert.equal(node.subject, 'CN=AWS IoT Certificate')
    assert.equal(new Date(node.validTo).toISOString(), '2049-12-31T23:59:59.000Z')
    // From the machine's clock (a minute early), whatever the service clock says.
    assert.ok(Math.abs(Date.parse(node.validFrom) - (Date.now() - 60_000)) < 5 * 60_000)
    assert.equal(node.publicKey.asymmetricKeyDetails?.modulusLength, 2048)
    assert.equal(
      node.checkPrivateKey(await import('node:crypto').then((c) => c.createPrivateKey(issued.privateKeyPem))),
      true,
    )
    assert.equal(await ca.isSignedBy(issued.certificate.pem, ca.caPem), true)
    assert.equal(issued.certificate.isCA, false)
    const other = await LocalCa.open(tempDir(), NOW)
    assert.equal(await ca.isSignedBy(issued.certificate.pem, other.caPem), false)
  })

  it('refuses to parse anything but exactly one certificate', async () => {
    const ca = await LocalCa.open(tempDir(), NOW)
    const { certificate, privateKeyPem } = await ca.createKeysAndCertificate()
    assert.equal(ca.parse(''), undefined)
    assert.equal(ca.parse('not a certificate'), undefined)
    assert.equal(ca.parse(privateKeyPem), undefined)
    assert.equal(ca.parse(certificate.pem + certificate.pem), undefined)
    assert.equal(ca.parse(certificate.pem.replace(/[A-Z]{8}/, 'AAAAAAAA')), undefined)
    assert.equal(ca.parse(certificate.pem)?.certificateId, certificate.certificateId)
  })

  it('gives the TLS listeners a certificate a client verifies against ca.pem for every loopback name and --host', async () => {
    const dataDir = tempDir()
    const ca = await LocalCa.open(dataDir, Date.now())
    const identity = await ca.serverIdentity(['devices.example.test'], Date.now())
    const server = createServer({ key: identity.keyPem, cert: identity.certPem }, (s) => s.end('hello'))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    const port = (server.address() as AddressInfo).port
    try {
      for (const servername of ['localhost', 'devices.example.test', undefined]) {
        const text = await new Promise<string>((resolve, reject) => {
          const socket = connect({
            port,
            host: '127.0.0.1',
            ca: readFileSync(ca.caPath),
            ...(servername ? { servername } : {}),
          })
          let got = ''
          socket.on('data', (d: Buffer) => (got += d.toString()))
          socket.on('end', () => resolve(got))
          socket.on('error', reject)
        })
        assert.equal(text, 'hello')
      }
      await assert.rejects(
        new Promise((resolve, reject) => {
          const socket = connect({
            port,
            host: '127.0.0.1',
            ca: readFileSync(ca.caPath),
            servername: 'elsewhere.test',
          })
          socket.on('secureConnect', resolve)
          socket.on('error', reject)
        }),
        /altnames|Hostname/i,
      )
    } finally {
      server.close()
    }
  })

  it('keeps the server certificate while it serves the same names, and renews it when --host changes', async () => {
    const dataDir = tempDir()
    const ca = await LocalCa.open(dataDir, Date.now())
    const first = await ca.serverIdentity(['a.test'], Date.now())
    assert.equal((await ca.serverIdentity(['a.test'], Date.now())).certPem, first.certPem)
    const renamed = await ca.serverIdentity(['b.test'], Date.now())
    assert.notEqual(renamed.certPem, first.certPem)
    assert.match(new X509Certificate(renamed.certPem).subjectAltName ?? '', /DNS:b\.test/)
  })

  it('names loopback and the host, never a wildcard address', () => {
    assert.deepEqual(serverNames(['0.0.0.0']), ['localhost', '127.0.0.1', '::1'])
    assert.deepEqual(serverNames(['::', '[::1]', '10.0.0.5']), ['localhost', '127.0.0.1', '::1', '10.0.0.5'])
  })
})
