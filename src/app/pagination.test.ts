/** nextToken round trips and rejections. [spec: wire-protocol#6-pagination] */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ServiceError } from '../domain/errors.js'
import { nextToken, pageRequest } from './pagination.js'

const forge = (body: object): string => Buffer.from(JSON.stringify(body)).toString('base64url')
const invalid = (error: unknown): boolean =>
  error instanceof ServiceError && error.code === 'InvalidRequestException' && /nextToken/.test(error.message)

describe('nextToken', () => {
  it('round-trips the cursor for the same operation and filters', () => {
    const token = nextToken('ListJobs', { status: 'IN_PROGRESS' }, { items: [], after: '42' })
    assert.ok(token !== undefined)
    const page = pageRequest('ListJobs', { status: 'IN_PROGRESS' }, { nextToken: token }, 50, 'seq')
    assert.deepEqual(page, { limit: 50, after: '42' })
  })

  it('is refused by another operation or other filters', () => {
    const token = nextToken('ListJobs', { status: 'IN_PROGRESS' }, { items: [], after: '42' }) ?? ''
    assert.throws(
      () => pageRequest('ListThings', { status: 'IN_PROGRESS' }, { nextToken: token }, 50, 'name'),
      invalid,
    )
    assert.throws(
      () => pageRequest('ListJobs', { status: 'QUEUED' }, { nextToken: token }, 50, 'seq'),
      invalid,
    )
  })

  it('refuses garbage, an empty token and an over-long one', () => {
    for (const token of ['%%%', 'bm90IGpzb24', '', 'a'.repeat(4097)]) {
      assert.throws(() => pageRequest('ListJobs', {}, { nextToken: token }, 50, 'seq'), invalid, token)
    }
  })

  it('refuses a well-formed token whose sequence cursor is not a sequence number (forged)', () => {
    for (const a of ['garbage', '-1', '1.5', '', '9'.repeat(16)]) {
      const token = forge({ v: 1, op: 'ListJobs', f: '{}', a })
      assert.throws(() => pageRequest('ListJobs', {}, { nextToken: token }, 50, 'seq'), invalid, a)
    }
  })

  it('takes any string as a name cursor (lists in name order)', () => {
    const token = forge({ v: 1, op: 'ListThings', f: '{}', a: 'thing-β' })
    assert.deepEqual(pageRequest('ListThings', {}, { nextToken: token }, 10, 'name'), {
      limit: 10,
      after: 'thing-β',
    })
  })
})
