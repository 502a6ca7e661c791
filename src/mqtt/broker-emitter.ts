/**
 * The embedded broker's message bus (aedes' `mq` option): mqemitter, with three changes that aedes 1.2
 * needs under load.
 *
 * 1. **No concurrency queue.** mqemitter runs at most `concurrency` messages (aedes: 100) and queues the
 *    rest; a finished message takes the next one from the queue inside its own completion callback. A
 *    message nobody listens to, such as aedes' `$SYS/<id>/disconnect/clients` and
 *    `$SYS/<id>/new/unsubscribes` (two per client that leaves), completes synchronously, so a queue full
 *    of them is drained by recursion, one stack level each: 10,000 devices leaving at once while slow
 *    deliveries held every slot overflowed the stack (`RangeError: Maximum call stack size exceeded`
 *    in MQEmitter._do / released / fastparallel; aedes#193, mqemitter#204). Here the inner emitter runs
 *    every message at once (`concurrency: 0`), which never queues and so never recurses; the number of
 *    messages under way is bounded by what produces them (the per-client limits in broker-limits.ts),
 *    not by a queue that only moved the memory elsewhere.
 * 2. **Messages go out in the order aedes numbered them.** aedes gives each published message a number
 *    (`brokerCounter`) and then drops, per receiving client, a message whose number is not above the last
 *    one delivered to that client (how it dedupes overlapping subscriptions). A QoS 1 message passes an
 *    asynchronous offline-queue step that a QoS 0 message skips, so a QoS 0 message published just after
 *    a QoS 1 one overtook it, and the QoS 1 message was dropped for every client that received both
 *    (aedes#994; issue 12: a `…/jobs/#` subscriber lost the notifications published next to a device's
 *    QoS 0 request and reply). Messages are collected for one turn of the event loop and emitted sorted
 *    by that number. Every step between numbering and emitting is a promise continuation (the in-memory
 *    persistence), so all of them finish within the turn in which the message was numbered, before the
 *    next turn's batch is emitted.
 * 3. **A slow reader holds back nobody but itself.** aedes completes a publish (acknowledges it to the
 *    publisher, resolves the server's own publish) only when every listener is done, and a delivery to a
 *    client is done only once the client's socket has taken it: one client that stops reading stalled
 *    every publish that reached it, the notification outbox included, for aedes' drain timeout (30 s).
 *    Here a listener is done as soon as it has been called, unless it is registered with
 *    `holdsPublisher` (the device-request handler, which holds a flooding client back on purpose). What a
 *    slow client has not read is bounded per client instead (broker-limits.ts, maxOutboundBufferBytes).
 *
 * Emitting in batches also means a burst is emitted from a fresh stack each turn.
 */
import mqemitter from 'mqemitter'

type Message = mqemitter.Message
type Listener = (message: Message, done: () => void) => void
type Callback = (error?: Error) => void

const noop = (): void => undefined

interface Pending {
  readonly message: Message
  readonly callback: Callback
}

/** The order aedes numbered a message in; a message without a number goes first (none has one). */
const orderOf = (message: Message): number =>
  typeof message['brokerCounter'] === 'number' ? message['brokerCounter'] : 0

export class BrokerEmitter {
  private readonly inner = mqemitter({
    // 0: no limit, so no queue (see above).
    concurrency: 0,
    // [MQTT-4.7.1-3] as aedes configures its own emitter
    matchEmptyLevels: true,
  })
  /** The listener registered with the inner emitter for each listener that does not hold publishers. */
  private readonly detached = new WeakMap<Listener, Listener>()
  private pending: Pending[] = []
  private scheduled = false
  private closed = false

  /** Messages waiting for the next turn (tests, diagnostics). */
  get length(): number {
    return this.pending.length
  }

  /**
   * Calls `listener` for every message matching `topic`. The message's publisher waits for the
   * listener's `done` only with `holdsPublisher`; otherwise the listener is done once called.
   */
  on(topic: string, listener: Listener, done?: () => void, options: { holdsPublisher?: boolean } = {}): this {
    this.inner.on(topic, options.holdsPublisher === true ? listener : this.detach(listener), done)
    return this
  }

  removeListener(topic: string, listener: Listener, done?: () => void): this {
    this.inner.removeListener(topic, this.detached.get(listener) ?? listener, done)
    return this
  }

  emit(message: Message, callback: Callback = noop): this {
    if (this.closed) {
      callback(new Error('mqemitter is closed'))
      return this
    }
    this.pending.push({ message, callback })
    if (!this.scheduled) {
      this.scheduled = true
      setImmediate(this.flush)
    }
    return this
  }

  /** Emits what is waiting, then closes; later messages fail. */
  close(callback: () => void): void {
    this.flush()
    this.closed = true
    this.inner.close(callback)
  }

  private detach(listener: Listener): Listener {
    let detached = this.detached.get(listener)
    if (detached === undefined) {
      detached = (message, done) => {
        listener(message, noop)
        done()
      }
      this.detached.set(listener, detached)
    }
    return detached
  }

  private readonly flush = (): void => {
    this.scheduled = false
    const batch = this.pending
    this.pending = []
    // Array.prototype.sort is stable: messages with the same number keep their order.
    batch.sort((a, b) => orderOf(a.message) - orderOf(b.message))
    for (const { message, callback } of batch) this.inner.emit(message, callback)
  }
}
