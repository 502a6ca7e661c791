/**
 * The embedded broker's session state (aedes' `persistence` option): aedes' in-memory persistence, with
 * what a client can make it hold bounded.
 *
 * - **Outgoing QoS 1 messages**, per session. Without a bound, a persistent session (`clean: false`)
 *   whose device never comes back gathers every notification published to it, forever. The queue keeps
 *   the newest `maxQueued` messages and drops the oldest: a device that returns wants the current state
 *   (the last notify-next), not the history. A message dropped after it was sent and before it was
 *   acknowledged is not sent again on reconnect.
 * - **Incoming QoS 2 messages** awaiting their PUBREL, kept here rather than by aedes-persistence: what
 *   aedes 1.2.0 fixed and aedes 2.0.0-beta.1 (which predates it) lacks (aedes-hardening.ts). At most
 *   MAX_INBOUND_QOS2 per client (a client that keeps sending new message ids and withholds PUBREL is
 *   disconnected, as 1.2.0's `maxInflightInbound` does); a PUBREL for a message already released
 *   resolves (the beta's PUBREL handler lets that rejection escape, which ends the process); and the
 *   state of a session that ends (`cleanIncoming`, called by the broker) is dropped [MQTT-3.1.2-6].
 */
import memory from 'aedes-persistence'
import type { AedesPublishPacket, Client } from 'aedes'
import { Readable } from 'node:stream'

/** A message as the persistence stores it (aedes-packet's fields). */
type StoredPacket = AedesPublishPacket & { brokerId?: string; brokerCounter?: number }

/**
 * aedes calls its persistence without callbacks and awaits the promises the in-memory persistence then
 * returns; its published types describe only the callback form, hence this view of it.
 */
interface PromisePersistence {
  setup(broker: unknown): Promise<void>
  [method: string]: unknown
}

type SubscriptionsByClient = (client: { id: string }) => Promise<{ topic: string }[] | undefined>
type RemoveSubscriptions = (client: { id: string }, topics: string[]) => Promise<void>

/** The methods aedes calls that this store passes to the in-memory persistence unchanged. */
const DELEGATED = [
  'storeRetained',
  'createRetainedStream',
  'createRetainedStreamCombi',
  'addSubscriptions',
  'removeSubscriptions',
  'subscriptionsByClient',
  'countOffline',
  'subscriptionsByTopic',
  'cleanSubscriptions',
  'putWill',
  'getWill',
  'delWill',
  'streamWill',
  'getClientList',
  'destroy',
] as const

/**
 * Incoming QoS 2 messages one client may have stored awaiting PUBREL: aedes 1.2.0's default
 * `maxInflightInbound` ("well above what a pipelining publisher reaches").
 */
export const MAX_INBOUND_QOS2 = 1000

export class SessionStore {
  // The package is CommonJS exporting the factory itself; its typings declare an ES default export.
  private readonly inner = (memory as unknown as () => PromisePersistence)()
  /** Each session's outgoing QoS 1 messages, oldest first. */
  private readonly outgoing = new Map<string, StoredPacket[]>()
  /** Each session's incoming QoS 2 messages awaiting PUBREL, by message id. */
  private readonly incoming = new Map<string, Map<number, StoredPacket>>()

  constructor(private readonly maxQueued: number) {
    for (const method of DELEGATED) {
      const f = this.inner[method]
      if (typeof f === 'function') Object.assign(this, { [method]: f.bind(this.inner) as unknown })
    }
  }

  /** aedes requires an async function here (it checks `setup.constructor.name`). */
  async setup(broker: unknown): Promise<void> {
    await this.inner.setup(broker)
  }

  /**
   * Removes from a persistent session the subscriptions its new owner may not have (a session another
   * identity left under this client id): the broker would otherwise keep queueing their messages there.
   */
  async dropSubscriptions(clientId: string, allowed: (filter: string) => boolean): Promise<void> {
    const client = { id: clientId }
    const subs = (await (this.inner['subscriptionsByClient'] as SubscriptionsByClient)(client)) ?? []
    const refused = subs.map((s) => s.topic).filter((topic) => !allowed(topic))
    if (refused.length > 0) await (this.inner['removeSubscriptions'] as RemoveSubscriptions)(client, refused)
  }

  /** Messages queued for a session (tests, diagnostics). */
  queued(clientId: string): number {
    return this.outgoing.get(clientId)?.length ?? 0
  }

  outgoingEnqueue(sub: { clientId: string }, packet: StoredPacket): Promise<void> {
    this.enqueue(sub.clientId, packet)
    return Promise.resolve()
  }

  outgoingEnqueueCombi(subs: readonly { clientId: string }[], packet: StoredPacket): Promise<void> {
    for (const sub of subs) this.enqueue(sub.clientId, packet)
    return Promise.resolve()
  }

  /**
   * Records the message id a queued message was sent with. A message that was dropped from a full queue
   * meanwhile is sent all the same, untracked (aedes would otherwise fail the client for it).
   */
  outgoingUpdate(client: Client, packet: StoredPacket): Promise<void> {
    const queue = this.outgoing.get(client.id) ?? []
    for (let i = 0; i < queue.length; i += 1) {
      const stored = queue[i]
      if (stored === undefined) continue
      if (stored.brokerId === packet.brokerId) {
        if (stored.brokerCounter === packet.brokerCounter) {
          Object.assign(stored, { messageId: packet.messageId })
          return Promise.resolve()
        }
      } else if (stored.messageId === packet.messageId) {
        queue[i] = packet
        return Promise.resolve()
      }
    }
    return Promise.resolve()
  }

  /** Removes the message the client acknowledged (or aedes gave up on) and returns it. */
  outgoingClearMessageId(client: Client, packet: { messageId?: number }): Promise<StoredPacket | undefined> {
    const queue = this.outgoing.get(client.id)
    if (queue === undefined) return Promise.resolve(undefined)
    const i = queue.findIndex((stored) => stored.messageId === packet.messageId)
    if (i < 0) return Promise.resolve(undefined)
    const [removed] = queue.splice(i, 1)
    if (queue.length === 0) this.outgoing.delete(client.id)
    return Promise.resolve(removed)
  }

  /**
   * Keeps an incoming QoS 2 message until its PUBREL; rejects (aedes then closes the connection) when
   * the client already has MAX_INBOUND_QOS2 of them. A DUP of a kept message takes no second place.
   */
  incomingStorePacket(client: Client, packet: StoredPacket): Promise<void> {
    const id = packet.messageId ?? 0
    let kept = this.incoming.get(client.id)
    if (kept === undefined) {
      kept = new Map()
      this.incoming.set(client.id, kept)
    }
    if (!kept.has(id) && kept.size >= MAX_INBOUND_QOS2)
      return Promise.reject(new Error(`more than ${MAX_INBOUND_QOS2} inbound QoS 2 messages awaiting PUBREL`))
    kept.set(id, { ...packet, messageId: id })
    return Promise.resolve()
  }

  /** The kept message with this id; rejects when there is none (aedes' contract: "not a duplicate"). */
  incomingGetPacket(client: Client, packet: { messageId?: number }): Promise<StoredPacket> {
    const found = this.incoming.get(client.id)?.get(packet.messageId ?? 0)
    return found === undefined ? Promise.reject(new Error('no such packet')) : Promise.resolve(found)
  }

  /** Forgets a released message. Never rejects: a second PUBREL for it is answered all the same. */
  incomingDelPacket(client: Client, packet: { messageId?: number }): Promise<void> {
    const kept = this.incoming.get(client.id)
    kept?.delete(packet.messageId ?? 0)
    if (kept?.size === 0) this.incoming.delete(client.id)
    return Promise.resolve()
  }

  /** Drops a session's incoming QoS 2 state (its session ended). */
  cleanIncoming(client: { id: string }): Promise<void> {
    this.incoming.delete(client.id)
    return Promise.resolve()
  }

  /** Incoming QoS 2 messages kept for a client (tests, diagnostics). */
  incomingFor(clientId: string): number {
    return this.incoming.get(clientId)?.size ?? 0
  }

  outgoingStream(client: Client): Readable {
    // A copy: the queue changes while aedes walks it.
    return Readable.from([...(this.outgoing.get(client.id) ?? [])])
  }

  private enqueue(clientId: string, packet: StoredPacket): void {
    let queue = this.outgoing.get(clientId)
    if (queue === undefined) {
      queue = []
      this.outgoing.set(clientId, queue)
    }
    // A copy per session (as aedes-persistence makes), without the message id of another delivery.
    queue.push({ ...packet, messageId: undefined } as unknown as StoredPacket)
    if (queue.length > this.maxQueued) queue.splice(0, queue.length - this.maxQueued)
  }
}
