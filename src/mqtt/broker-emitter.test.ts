/**
 * The embedded broker's message bus (broker-emitter.ts), alone: no recursion however many messages
 * complete at once, messages out in aedes' numbering order, and a listener that is slow to finish
 * holding back no publisher unless it asks to.
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { BrokerEmitter } from './broker-emitter.js'

/** Resolves after the emitter's next turn (it emits once per turn of the event loop). */
const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve))

describe('BrokerEmitter', () => {
  it('completes 100,000 messages nobody listens to, released at once behind slow ones, without recursion', async () => {
    // The field's crash: every slot held by a slow delivery, then a long queue of $SYS messages with no
    // listener, drained by recursion when the slow ones finished. [aedes#193, mqemitter#204]
    const emitter = new BrokerEmitter()
    const held: (() => void)[] = []
    emitter.on('slow/+', (_m, done) => held.push(done), undefined, { holdsPublisher: true })
    let completed = 0
    for (let i = 0; i < 200; i += 1) emitter.emit({ topic: `slow/${i}` }, () => (completed += 1))
    await nextTurn()
    for (let i = 0; i < 100_000; i += 1)
      emitter.emit({ topic: `$SYS/b/disconnect/clients` }, () => (completed += 1))
    await nextTurn()
    for (const done of held) done()
    assert.equal(completed, 200 + 100_000)
    await new Promise<void>((resolve) => emitter.close(resolve))
  })

  it('emits the messages of a turn in the order aedes numbered them', async () => {
    const emitter = new BrokerEmitter()
    const seen: number[] = []
    emitter.on('t/#', (m, done) => {
      seen.push(m['brokerCounter'] as number)
      done()
    })
    await nextTurn()
    // A QoS 1 message numbered first reaches the emitter after a QoS 0 one numbered later. [aedes#994]
    for (const n of [3, 1, 2, 5, 4]) emitter.emit({ topic: 't/x', brokerCounter: n })
    await nextTurn()
    assert.deepEqual(seen, [1, 2, 3, 4, 5])
  })

  it('a listener that has not finished holds back the publisher only with holdsPublisher', async () => {
    const emitter = new BrokerEmitter()
    const slow: (() => void)[] = []
    const delivery = (_m: unknown, done: () => void): void => void slow.push(done)
    emitter.on('client/+', delivery)
    emitter.on('request/+', (_m, done) => slow.push(done), undefined, { holdsPublisher: true })
    await nextTurn()
    const finished: string[] = []
    emitter.emit({ topic: 'client/1' }, () => finished.push('client'))
    emitter.emit({ topic: 'request/1' }, () => finished.push('request'))
    await nextTurn()
    assert.deepEqual(finished, ['client'])
    for (const done of slow) done()
    assert.deepEqual(finished, ['client', 'request'])
    // A listener registered without holding is removed by the function it was registered with.
    await new Promise<void>((resolve) => emitter.removeListener('client/+', delivery, resolve))
    emitter.emit({ topic: 'client/1' }, () => finished.push('nobody'))
    await nextTurn()
    assert.equal(slow.length, 2)
  })

  it('fails what is emitted after close', async () => {
    const emitter = new BrokerEmitter()
    await new Promise<void>((resolve) => emitter.close(resolve))
    const error = await new Promise<Error | undefined>((resolve) => emitter.emit({ topic: 'a' }, resolve))
    assert.match(String(error), /closed/)
  })
})
