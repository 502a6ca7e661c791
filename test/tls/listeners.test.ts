/**
 * The TLS listeners' ports and certificate (issue 12 §2; docs/tls.md): a default port that is taken
 * moves to a free one with a notice, as 1883 does; a chosen one that is taken stops the start naming
 * its flag; `--tls-cert`/`--tls-key` replace the local CA's server certificate.
 */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import type { AddressInfo, Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { connect } from 'node:tls'
import { after, before, describe, it } from 'node:test'
import { LocalCa } from '../../src/pki/local-ca.js'
import { PortInUseError, TlsConfigError } from '../../src/server.js'
import { startHarness } from '../support/harness.js'

let taken: Server
let takenPort: number
let dir: string
before(async () => {
  taken = createServer()
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve))
  takenPort = (taken.address() as AddressInfo).port
  dir = mkdtempSync(join(tmpdir(), 'fleetjobs-tls-listeners-'))
})
after(() => {
  taken.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The common name of the certificate a TLS port presents, verified against `ca` for localhost. */
function presentedSubject(url: string, ca: string): Promise<string> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port), ca, servername: 'localhost' }, () => {
      const cn = socket.getPeerCertificate().subject.CN
      resolve(Array.isArray(cn) ? cn.join(',') : (cn ?? ''))
      socket.destroy()
    })
    socket.once('error', reject)
  })
}

describe('the TLS listeners [issue 12 §2]', () => {
  it('a taken default port moves to a free one and says so, for MQTT over TLS and for HTTPS', async () => {
    const h = await startHarness({
      mqtt: { port: 0 },
      tls: { mqttPort: takenPort, dataPlanePort: takenPort, fallbackToFreePort: true },
    })
    try {
      const mqttTls = Number(new URL(h.server.mqttTlsUrl ?? '').port)
      const https = Number(new URL(h.server.dataPlaneTlsUrl ?? '').port)
      assert.notEqual(mqttTls, takenPort)
      assert.notEqual(https, takenPort)
      assert.ok(
        h.server.notices.some((n) =>
          n.includes(
            `MQTT over TLS port ${takenPort} is already in use; the embedded broker listens on port ${mqttTls}`,
          ),
        ),
        h.server.notices.join('\n'),
      )
      assert.ok(
        h.server.notices.some((n) =>
          n.includes(`HTTPS data-plane port ${takenPort} is already in use; listening on port ${https}`),
        ),
        h.server.notices.join('\n'),
      )
    } finally {
      await h.close()
    }
  })

  it('a taken port that was chosen stops the start, naming its flag', async () => {
    await assert.rejects(
      startHarness({ mqtt: { port: 0 }, tls: { mqttPort: takenPort } }),
      (error: unknown) => error instanceof PortInUseError && error.flag === '--mqtt-tls-port',
    )
    await assert.rejects(
      startHarness({ tls: { dataPlanePort: takenPort } }),
      (error: unknown) => error instanceof PortInUseError && error.flag === '--data-plane-tls-port',
    )
  })

  it('--tls-cert and --tls-key replace the local CA on both listeners; one without the other is refused', async () => {
    const own = await LocalCa.open(join(dir, 'own-ca'), Date.now())
    const identity = await own.serverIdentity([], Date.now())
    const certFile = join(dir, 'server.pem')
    const keyFile = join(dir, 'server.key')
    writeFileSync(certFile, identity.certPem)
    writeFileSync(keyFile, identity.keyPem)
    const h = await startHarness({
      mqtt: { port: 0 },
      tls: { mqttPort: 0, dataPlanePort: 0, certFile, keyFile },
    })
    try {
      assert.equal(h.server.tlsCaPath, undefined, 'no local CA file to trust')
      assert.equal(await presentedSubject(h.server.dataPlaneTlsUrl ?? '', own.caPem), 'fleetjobs')
      assert.equal(await presentedSubject(h.server.mqttTlsUrl ?? '', own.caPem), 'fleetjobs')
    } finally {
      await h.close()
    }
    await assert.rejects(startHarness({ tls: { dataPlanePort: 0, certFile } }), TlsConfigError)
    await assert.rejects(
      startHarness({ tls: { dataPlanePort: 0, certFile: join(dir, 'missing.pem'), keyFile } }),
      (error: unknown) => error instanceof TlsConfigError && /--tls-cert .*missing\.pem/.test(error.message),
    )
  })
})
