/**
 * The TLS side of the composition root: the listeners' configuration, their server certificate (given
 * files, or the local CA's), and the certificate of a TLS connection. [docs/tls.md]
 */
import { readFileSync } from 'node:fs'
import type { TLSSocket } from 'node:tls'
import type { DataDirPki, ServerIdentity } from './pki/local-ca.js'
import { certificateIdOfDer } from './pki/x509.js'

/** The TLS listeners for devices; each asks every client for a certificate. [docs/tls.md] */
export interface TlsConfig {
  /** MQTT over TLS on the embedded broker (AWS: 8883); 0 picks a free port; undefined: off. */
  readonly mqttPort?: number | undefined
  /** The device data plane over HTTPS (AWS: 8443); 0 picks a free port; undefined: off. */
  readonly dataPlanePort?: number | undefined
  /** The server's certificate chain and its key (PEM files); default: issued by the local CA. */
  readonly certFile?: string | undefined
  readonly keyFile?: string | undefined
  /** When a port was not chosen by the user and is taken, listen on a free one and say so. */
  readonly fallbackToFreePort?: boolean | undefined
}

/** A TLS file (`--tls-cert`, `--tls-key`) that cannot be read or does not hold what it should. */
export class TlsConfigError extends Error {}

/**
 * The TLS listeners' certificate and key: the files given, or else a certificate for `host` and the
 * loopback names from the local CA in `<data-dir>/tls/` (created on first use). [docs/tls.md]
 */
export async function serverIdentity(
  tls: TlsConfig,
  pki: DataDirPki,
  host: string,
): Promise<{ identity: ServerIdentity; caPath?: string }> {
  if (tls.certFile !== undefined || tls.keyFile !== undefined) {
    if (tls.certFile === undefined || tls.keyFile === undefined)
      throw new TlsConfigError('--tls-cert and --tls-key go together: give both, or neither')
    return {
      identity: {
        certPem: readTlsFile(tls.certFile, '--tls-cert'),
        keyPem: readTlsFile(tls.keyFile, '--tls-key'),
      },
    }
  }
  // The machine's clock, not a virtual one: clients check the certificate against theirs.
  const ca = await pki.authority(Date.now())
  return { identity: await ca.serverIdentity([host], Date.now()), caPath: ca.caPath }
}

function readTlsFile(path: string, flag: string): string {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    throw new TlsConfigError(`${flag} ${path}: ${(error as Error).message}`)
  }
  if (!text.includes('-----BEGIN ')) throw new TlsConfigError(`${flag} ${path}: not a PEM file`)
  return text
}

/** The AWS certificate id of a TLS connection's client certificate, if it presented one. */
export function socketCertificateId(socket: unknown): string | undefined {
  const raw = (socket as Partial<TLSSocket>).getPeerCertificate?.().raw as Buffer | undefined
  return raw === undefined ? undefined : certificateIdOfDer(raw)
}
