/**
 * The broker's bounds, alone: the packet-size guard reads packet boundaries right however the bytes are
 * cut, and refuses an oversized packet from its header; the connect limiter's burst, line and refusals;
 * the limits' validation. [docs: mqtt.md#limits]
 */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import fc from 'fast-check'
import { ConnectRateLimiter, DEFAULT_BROKER_LIMITS, PacketSizeGuard, brokerLimits } from './broker-limits.js'

/** A packet of `bodyBytes` body bytes: a type byte, the Remaining Length [MQTT-2.2.3], the body. */
function packet(bodyBytes: number): Buffer {
  const length: number[] = []
  let n = bodyBytes
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    length.push(byte)
  } while (n > 0)
  return Buffer.concat([Buffer.from([0x30, ...length]), Buffer.alloc(bodyBytes, 7)])
}

/** Feeds `bytes` cut at `cuts`; the guard's answer for the last piece it was given. */
function feed(guard: PacketSizeGuard, bytes: Buffer, cuts: readonly number[]): boolean {
  let from = 0
  for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length)]
    .sort((a, b) => a - b)
    .concat(bytes.length)) {
    if (!guard.accept(bytes.subarray(from, cut))) return false
    from = cut
  }
  return true
}

describe('PacketSizeGuard', () => {
  it('accepts a stream of packets up to the limit, however it is cut; refuses it with one packet over', () => {
    const max = 300
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 0, max: 400 }), { minLength: 1, maxLength: 12 }),
        fc.array(fc.integer({ min: 0, max: 5000 }), { maxLength: 20 }),
        (bodies, cuts) => {
          const bytes = Buffer.concat(bodies.map(packet))
          const fits = bodies.every((b) => packet(b).length <= max)
          assert.equal(feed(new PacketSizeGuard(max), bytes, cuts), fits)
        },
      ),
    )
  })

  it('refuses a 100 MB packet from its first five bytes', () => {
    const header = packet(100 * 1024 * 1024).subarray(0, 5)
    assert.equal(new PacketSizeGuard(DEFAULT_BROKER_LIMITS.maxPacketBytes).accept(header), false)
  })

  it('refuses a Remaining Length of more than four bytes [MQTT-2.2.3]', () => {
    assert.equal(
      new PacketSizeGuard(Number.MAX_SAFE_INTEGER).accept(Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x7f])),
      false,
    )
  })
})

describe('ConnectRateLimiter', () => {
  it('lets a second’s worth in at once, makes the next ones wait in line, refuses beyond the line', async () => {
    let nowMs = 0
    const limiter = new ConnectRateLimiter(5, 2, () => nowMs)
    const answers: boolean[] = []
    const later: Promise<boolean>[] = []
    for (let i = 0; i < 10; i += 1) {
      later.push(
        new Promise((resolve) =>
          limiter.admit((ok) => {
            answers.push(ok)
            resolve(ok)
          }),
        ),
      )
    }
    // Five at once, two waiting, three refused at once.
    assert.deepEqual(answers, [true, true, true, true, true, false, false, false])
    assert.equal(limiter.pending, 2)
    // A second on, the two in line go in (the limiter's timer sees the clock moved).
    nowMs += 1000
    assert.deepEqual(await Promise.all(later), [
      true,
      true,
      true,
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ])
    assert.equal(limiter.pending, 0)
    limiter.close()
  })

  it('0 per second is no limit; close refuses who waits', async () => {
    const open = new ConnectRateLimiter(0, 0)
    for (let i = 0; i < 1000; i += 1) open.admit((ok) => assert.ok(ok))
    const limiter = new ConnectRateLimiter(1, 1, () => 0)
    limiter.admit((ok) => assert.ok(ok))
    const waiting = new Promise<boolean>((resolve) => limiter.admit(resolve))
    limiter.close()
    assert.equal(await waiting, false)
  })
})

describe('brokerLimits', () => {
  it('fills in the defaults, pending connects following the rate', () => {
    assert.deepEqual(brokerLimits(), DEFAULT_BROKER_LIMITS)
    assert.equal(brokerLimits({ connectsPerSecond: 2000 }).maxPendingConnects, 2000)
    assert.equal(brokerLimits({ connectsPerSecond: 2000, maxPendingConnects: 10 }).maxPendingConnects, 10)
  })

  it('refuses a bound that is not a positive whole number', () => {
    for (const bad of [
      { maxPacketBytes: 0 },
      { maxQueuedRequestsPerThing: 1.5 },
      { connectsPerSecond: -1 },
    ]) {
      assert.throws(() => brokerLimits(bad), RangeError, JSON.stringify(bad))
    }
  })
})
