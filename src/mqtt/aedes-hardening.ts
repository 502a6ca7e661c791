/**
 * What aedes 2.0.0-beta.1 lacks of aedes 1.2.0's fixes, put back from outside (docs/decisions.md,
 * "MQTT 5: aedes 2.0.0-beta.1"). The beta branched before 1.2.0 and does not have:
 *
 * 1. **GHSA-52qw-whmv-87c5.** aedes keys plain objects by strings from the wire: `broker.clients` and
 *    `client.duplicates` (client id, broker id), `client.subscriptions` (topic filter),
 *    `broker.brokers` (heartbeat payload), and the map of a SUBSCRIBE's filters. A name inherited
 *    from `Object.prototype` reads back as present: on the beta, one CONNECT with client id
 *    `constructor` (or `toString`, `__proto__`, …) throws in `registerClient` (an unhandled rejection:
 *    the process exits), and one SUBSCRIBE or UNSUBSCRIBE of the filter `constructor` throws an
 *    uncaught AssertionError in the emitter. A thing may be called `constructor` (the thing-name
 *    pattern allows it), and UNSUBSCRIBE is not authorised, so device authentication does not cover
 *    it. 1.2.0 made these objects prototype-less; so do `hardenBroker` and `hardenClient`, before the
 *    first packet is read. The SUBSCRIBE map (`_dedupe`, a local of aedes' handler) cannot be reached:
 *    a SUBSCRIBE that names `__proto__` among several filters (the one case that map gets wrong: the
 *    subscriptions vanish, no SUBACK comes) closes the connection instead, and `__proto__` alone is
 *    refused in the SUBACK (broker-guard.ts), so that no session holds it: restoring a session runs
 *    its filters through the same map.
 * 2. **The inbound QoS 2 bound** (`maxInflightInbound`) and **duplicate PUBREL** and **clean-session
 *    residue** of QoS 2 state: kept by our SessionStore (session-store.ts).
 *
 * Each reaches into aedes' internals (`client._parser`); `hardenClient` fails loudly when they are not
 * where this was written against, so an upgrade cannot silently drop the guard.
 */
import type { Aedes, Client } from 'aedes'
import type { EventEmitter } from 'node:events'

/** The one filter name the SUBSCRIBE map of aedes 2.0.0-beta.1 mishandles (it sets the map's prototype). */
export const PROTO_FILTER = '__proto__'

/** A packet as mqtt-packet's parser emits it, as far as this guard reads it. */
interface ParsedPacket {
  readonly cmd: string
  readonly subscriptions?: readonly { readonly topic: string }[]
}

/** Makes the broker's maps keyed by client ids and broker ids prototype-less (GHSA-52qw-whmv-87c5). */
export function hardenBroker(aedes: Aedes): void {
  const maps = aedes as unknown as { clients: object; brokers: object }
  maps.clients = Object.assign(Object.create(null) as object, maps.clients)
  maps.brokers = Object.assign(Object.create(null) as object, maps.brokers)
}

/**
 * Makes a new client's maps prototype-less and screens its SUBSCRIBE packets. Call it
 * on the client `aedes.handle` returns, before any of its bytes are read (handle reads on 'readable').
 */
export function hardenClient(client: Client): void {
  const fields = client as unknown as {
    subscriptions: object
    duplicates: object
    _parser?: EventEmitter
  }
  fields.subscriptions = Object.create(null) as object
  fields.duplicates = Object.create(null) as object
  const parser = fields._parser
  const listeners = parser?.listeners('packet') ?? []
  if (parser === undefined || listeners.length !== 1)
    throw new Error('aedes internals changed (client._parser): review src/mqtt/aedes-hardening.ts')
  parser.removeAllListeners('packet')
  let refused = false
  parser.on('packet', function screen(this: unknown, packet: ParsedPacket) {
    // After a refusal, the rest of the bytes already read are dropped with the connection.
    if (refused) return
    const filters = packet.cmd === 'subscribe' ? (packet.subscriptions ?? []) : []
    if (filters.length > 1 && filters.some((s) => s.topic === PROTO_FILTER)) {
      refused = true
      client.conn.destroy(new Error(`a SUBSCRIBE naming ${PROTO_FILTER} among other filters`))
      return
    }
    for (const listener of listeners) (listener as (p: ParsedPacket) => void).call(this, packet)
  })
}
