/** nextToken round trips and rejections. [spec: wire-protocol#6-pagination] */
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { ServiceError } from '../domain/errors.js'
import { JOB_KEY, nextToken, pageRequest } from './pagination.js'

const forge = (body: object): string => Buffer.from(JSON.stringify(body)).toString('base64url')
const invalid = (error: unknown): boolean =>
  error instanceof ServiceError && error.code === 'InvalidRequestException' && /nextToken/.test(error.message)

describe('nextToken', () => {
  it('round-trips the cursor for the same operation and filters', () => {
    const token = nextToken('ListJobs', { status: 'IN_PROGRESS' }, { items: [], after: '[42,"j"]' })
    assert.ok(token !== undefined)
    const page = pageRequest('ListJobs', { status: 'IN_PROGRESS' }, { nextToken: token }, 50, JOB_KEY)
    assert.deepEqual(page, { limit: 50, after: '[42,"j"]' })
  })

  it('is refused by another operation or other filters', () => {
    const token = nextToken('ListJobs', { status: 'IN_PROGRESS' }, { items: [], after: '[42,"j"]' }) ?? ''
    assert.throws(
      () => pageRequest('ListThings', { status: 'IN_PROGRESS' }, { nextToken: token }, 50, 'name'),
      invalid,
    )
    assert.throws(
      () => pageRequest('ListJobs', { status: 'QUEUED' }, { nextToken: token }, 50, JOB_KEY),
      invalid,
    )
  })

  it('refuses garbage, an empty token and an over-long one', () => {
    for (const token of ['%%%', 'bm90IGpzb24', '', 'a'.repeat(4097)]) {
      assert.throws(() => pageRequest('ListJobs', {}, { nextToken: token }, 50, JOB_KEY), invalid, token)
    }
  })

  it('refuses a well-formed token whose cursor is not a key of the list (forged)', () => {
    for (const a of ['garbage', '42', '[]', '[42]', '["42","j"]', '[1.5,"j"]', '[42,"j",1]', '{"a":1}', '']) {
      const token = forge({ v: 1, op: 'ListJobs', f: '{}', a })
      assert.throws(() => pageRequest('ListJobs', {}, { nextToken: token }, 50, JOB_KEY), invalid, a)
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
