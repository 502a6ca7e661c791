import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { LiveEvent, LiveState } from './live.js'
import { INITIAL_LIVE, reduce } from './live.js'

const run = (events: LiveEvent[], from: LiveState = INITIAL_LIVE): LiveState => events.reduce(reduce, from)

describe('live updates reducer', () => {
  it('the first connection does not reload; each change does', () => {
    const s = run([{ type: 'hello', seq: 5 }])
    assert.deepEqual(s, { status: 'live', version: 0, seq: 5 })
    assert.deepEqual(run([{ type: 'changed', seq: 6 }], s), { status: 'live', version: 1, seq: 6 })
  })

  it('a repeated or older event changes nothing (same object: no re-render)', () => {
    const s = run([
      { type: 'hello', seq: 1 },
      { type: 'changed', seq: 2 },
    ])
    assert.equal(reduce(s, { type: 'changed', seq: 2 }), s)
    assert.equal(reduce(s, { type: 'changed', seq: 1 }), s)
  })

  it('a lost connection shows offline; the reconnection reloads (changes may have been missed)', () => {
    const s = run([{ type: 'hello', seq: 1 }, { type: 'changed', seq: 2 }, { type: 'error' }])
    assert.equal(s.status, 'offline')
    assert.equal(reduce(s, { type: 'error' }), s)
    const back = reduce(s, { type: 'hello', seq: 9 })
    assert.deepEqual(back, { status: 'live', version: s.version + 1, seq: 9 })
  })

  it('a restarted server (its sequence back at 0) still reloads on its changes', () => {
    const s = run([{ type: 'hello', seq: 40 }, { type: 'error' }, { type: 'hello', seq: 0 }])
    const next = reduce(s, { type: 'changed', seq: 1 })
    assert.equal(next.version, s.version + 1)
  })
})
