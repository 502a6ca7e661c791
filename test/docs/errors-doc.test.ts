import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import type { ErrorCode } from '../../src/domain/errors.js'
import { ENVELOPE_CODES, errorStatus } from '../../src/http/errors.js'
import { loadModels } from '../../src/aws-model/model.js'
import { CONTROL_PLANE, DATA_PLANE } from '../../src/http/operations.js'

const doc = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8')
const rows = [...doc.matchAll(/^\| `(\w+)` \| (\d+|–) \| (\d+|–) \| `(\w+)` \|/gm)].map((m) => ({
  name: m[1] as ErrorCode,
  cp: m[2],
  dp: m[3],
  envelope: m[4],
}))
const models = loadModels({ controlPlane: Object.keys(CONTROL_PLANE), dataPlane: Object.keys(DATA_PLANE) })

describe('docs/errors.md is true [spec: wire-protocol#5]', () => {
  it('lists every error the code can raise', () => {
    assert.deepEqual(rows.map((r) => r.name).sort(), (Object.keys(ENVELOPE_CODES) as ErrorCode[]).sort())
  })
  for (const row of rows) {
    it(`${row.name}: statuses from the models, envelope code from the code`, () => {
      assert.equal(row.envelope, ENVELOPE_CODES[row.name])
      const cpModel = models.errorStatus.get(`controlPlane:${row.name}`)
      const dpModel = models.errorStatus.get(`dataPlane:${row.name}`)
      if (row.cp !== '–')
        assert.equal(Number(row.cp), errorStatus(models.errorStatus, 'controlPlane', row.name))
      if (cpModel !== undefined) assert.equal(Number(row.cp), cpModel)
      if (row.dp !== '–') assert.equal(Number(row.dp), errorStatus(models.errorStatus, 'dataPlane', row.name))
      if (dpModel !== undefined) assert.equal(Number(row.dp), dpModel)
    })
  }
  it('every error an operation models is in the table', () => {
    const named = new Set(rows.map((r) => r.name as string))
    for (const op of models.operations) {
      for (const e of op.errors) {
        assert.ok(named.has(e), `${op.name} models ${e}, missing from docs/errors.md`)
      }
    }
  })
})

describe('docs/envelope.md lists the envelope code of every error', () => {
  it('matches ENVELOPE_CODES', () => {
    const envelope = readFileSync(new URL('../../docs/envelope.md', import.meta.url), 'utf8')
    const table = Object.fromEntries(
      [...envelope.matchAll(/^\| (\w+Exception) \| ([A-Z_]+) \|$/gm)].map((m) => [m[1] ?? '', m[2] ?? '']),
    )
    assert.deepEqual(table, ENVELOPE_CODES)
  })
})
