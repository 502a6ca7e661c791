/**
 * The re-check of live certificate connections against the registry, for changes made through another
 * node (several nodes on PostgreSQL): every few seconds, one set-based query asks which of this node's
 * (certificate, thing) pairs are still allowed, and the connections of the others are closed. Changes
 * made through this node close their connections at once (AppContext.certificateRightsRevoked).
 * [docs/tls.md#who-a-certificate-lets-in]
 */
import type { Store } from '../ports/store.js'

/** How often the connected certificates are re-checked: a revocation elsewhere takes at most this long. */
export const RECHECK_INTERVAL_MS = 5_000

/** What the re-check needs of the broker's TLS listener. */
export interface CertificateListener {
  connectedCertificates(): readonly { readonly certificateId: string; readonly thingName: string }[]
  disconnectCertificate(certificateId: string, thingName?: string): number
}

export class CertificateRecheck {
  private readonly timer: NodeJS.Timeout
  private running: Promise<void> | undefined

  constructor(
    private readonly store: Pick<Store, 'certificateIdentities'>,
    private readonly listener: CertificateListener,
    private readonly logger: { warn(details: object, message: string): void },
    intervalMs = RECHECK_INTERVAL_MS,
  ) {
    this.timer = setInterval(() => void this.runOnce(), intervalMs)
    this.timer.unref()
  }

  /** One re-check (none starts while one runs); resolves with how many connections it closed. */
  async runOnce(): Promise<number> {
    if (this.running !== undefined) return 0
    let closed = 0
    this.running = (async () => {
      const inUse = this.listener.connectedCertificates()
      if (inUse.length === 0) return
      const unique = [...new Map(inUse.map((p) => [`${p.certificateId}/${p.thingName}`, p])).values()]
      const allowed = await this.store.certificateIdentities(unique)
      for (const pair of unique) {
        if (allowed.has(`${pair.certificateId}/${pair.thingName}`)) continue
        closed += this.listener.disconnectCertificate(pair.certificateId, pair.thingName)
      }
    })().catch((error: unknown) => {
      // The store is down: the connections stay until it answers again (they were allowed last time).
      this.logger.warn({ err: error }, 're-checking the connected certificates failed; will try again')
    })
    try {
      await this.running
    } finally {
      this.running = undefined
    }
    return closed
  }

  /** Stops the timer and waits for a re-check under way. */
  async stop(): Promise<void> {
    clearInterval(this.timer)
    await this.running
  }
}
