/**
 * Devices on the embedded broker's TLS listener, identified by their X.509 client certificate as on AWS
 * IoT (docs/tls.md, docs/mqtt.md#mqtt-over-tls). The TLS handshake asks every client for a certificate
 * and accepts any (our registry decides, not the chain: a certificate may be registered without its CA);
 * the CONNECT then asks the registry whether that certificate may act as the thing its client id names.
 * Username and password are ignored there, whatever the token authentication mode.
 */
import type { Client } from 'aedes'
import { createHash } from 'node:crypto'
import type { TLSSocket } from 'node:tls'
import type { CertificateIdentity } from '../domain/certificates.js'

/**
 * Whether the certificate `certificateId` may connect as the thing `clientId` names: 'ok', or why not
 * (domain/certificates.ts#certificateIdentity). Rejects when it cannot tell (the store is down).
 */
export type CertificateIdentityCheck = (
  certificateId: string,
  clientId: string,
) => Promise<CertificateIdentity>

/** The MQTT over TLS listener of the embedded broker. */
export interface BrokerTls {
  /** 0 picks a free port. */
  readonly port: number
  readonly host: string
  /** The server's private key and certificate chain, and the CAs it names to clients, in PEM. */
  readonly key: string
  readonly cert: string
  readonly ca?: string | undefined
  /** The certificate registry's answer for a CONNECT. */
  readonly certificateIdentity: CertificateIdentityCheck
  /** Where a refused CONNECT is told, with its reason (debug level); pino's logger fits. */
  readonly logger?: { debug(details: object, message: string): void } | undefined
}

/** A certificate in use by a connection authenticated with it. */
export interface ConnectedCertificate {
  readonly certificateId: string
  readonly thingName: string
}

/** AWS's certificate id of a TLS connection's client certificate (SHA-256 of its DER), or undefined. */
export function peerCertificateId(socket: TLSSocket): string | undefined {
  // An empty object when the client presented none.
  const raw = (socket.getPeerCertificate() as { raw?: Buffer }).raw
  return raw === undefined ? undefined : createHash('sha256').update(raw).digest('hex')
}

interface Use {
  readonly certificateId: string
  readonly thingName: string
  /** Accepted; before, its CONNECT is being checked. */
  connected: boolean
  /** Taken away (disconnectCertificate) while its CONNECT was being checked: refuse it. */
  revoked: boolean
}

/**
 * The client certificate of every connection on the TLS listener, and the connections that use one: those
 * authenticated with it, and those whose CONNECT is being checked.
 */
export class CertificateConnections {
  /** Every TLS connection's certificate id; null when it presented none. */
  private readonly peers = new WeakMap<Client, string | null>()
  private readonly uses = new Map<Client, Use>()

  /** A new TLS connection; forgets it when `socket` closes. */
  accept(client: Client, socket: TLSSocket): void {
    this.peers.set(client, peerCertificateId(socket) ?? null)
    socket.once('close', () => this.uses.delete(client))
  }

  /** The client's certificate id, null if it presented none, undefined if it is no TLS connection. */
  certificateOf(client: Client): string | null | undefined {
    return this.peers.get(client)
  }

  /** A CONNECT with this certificate as `thingName` is being checked. */
  checking(client: Client, certificateId: string, thingName: string): Use {
    const use = { certificateId, thingName, connected: false, revoked: false }
    this.uses.set(client, use)
    return use
  }

  /** The CONNECT was accepted. */
  connected(client: Client): void {
    const use = this.uses.get(client)
    if (use !== undefined) use.connected = true
  }

  /** The CONNECT was refused: the connection no longer uses its certificate. */
  refused(client: Client): void {
    this.uses.delete(client)
  }

  /**
   * Ends every connection using `certificateId` (as `thingName`, when given) at once: `revoke` stops its
   * traffic, an MQTT 5 client is told DISCONNECT 0x87 (not authorized), and the socket closes. A CONNECT
   * still being checked with it is refused (CONNACK not authorized) when the check answers, whatever the
   * answer. Returns how many connections it ended or will refuse.
   */
  disconnect(certificateId: string, thingName: string | undefined, revoke: (client: Client) => void): number {
    let ended = 0
    for (const [client, use] of this.uses) {
      if (use.certificateId !== certificateId || (thingName !== undefined && use.thingName !== thingName))
        continue
      ended += 1
      use.revoked = true
      this.uses.delete(client)
      if (!use.connected) continue
      revoke(client)
      endNow(client)
    }
    return ended
  }

  /** The certificates in use, one entry per connection (for a periodic re-check against the registry). */
  inUse(): ConnectedCertificate[] {
    return [...this.uses.values()].map(({ certificateId, thingName }) => ({ certificateId, thingName }))
  }
}

/** MQTT 5: Not authorized [MQTT-3.14.2.1]. */
const NOT_AUTHORIZED = 0x87
/** How long a DISCONNECT may take to leave before the socket is destroyed regardless (a stalled reader). */
const DISCONNECT_GRACE_MS = 1000

function endNow(client: Client): void {
  // aedes sends an MQTT 5 client the DISCONNECT and then closes; a 3.1.1 client is closed at once.
  client.disconnect({ reasonCode: NOT_AUTHORIZED }, () => undefined)
  setTimeout(() => client.conn.destroy(), DISCONNECT_GRACE_MS).unref()
}
