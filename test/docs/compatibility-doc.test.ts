import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import { CONTROL_PLANE, DATA_PLANE } from '../../src/http/operations.js'

const doc = readFileSync(new URL('../../docs/compatibility.md', import.meta.url), 'utf8')
const part = (heading: string): string => doc.split(`## ${heading}`)[1]?.split('\n## ')[0] ?? ''
const supported = (text: string): string[] =>
  [...text.matchAll(/^\| (\w+) \| yes \|/gm)].map((m) => m[1] ?? '').sort()

describe('docs/compatibility.md is true', () => {
  it('control plane: the operations marked yes are exactly the served ones', () => {
    assert.deepEqual(supported(part('Control plane')), Object.keys(CONTROL_PLANE).sort())
  })
  it('data plane: the operations marked yes are exactly the served ones', () => {
    assert.deepEqual(supported(part('Device data plane')), Object.keys(DATA_PLANE).sort())
  })
})
