import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { describe, it } from 'node:test'
import {
  ACTORS,
  EXECUTION_DELETION,
  EXECUTION_TRANSITIONS,
  JOB_TRANSITIONS,
} from '../../src/domain/state-machine.js'

const doc = readFileSync(new URL('../../docs/state-machines.md', import.meta.url), 'utf8')

function section(name: string): string[] {
  const m = new RegExp(`<!-- ${name}:start -->\\n([\\s\\S]*?)<!-- ${name}:end -->`).exec(doc)
  assert.ok(m?.[1] !== undefined, `docs/state-machines.md lacks the ${name} table`)
  return m[1].trim().split('\n').slice(2)
}

const cell = (list: readonly string[]): string => (list.length === 0 ? '–' : list.join(', '))

describe('docs/state-machines.md matches the tables in src/domain/state-machine.ts [spec: state-machines]', () => {
  it('execution transitions', () => {
    const expected = Object.entries(EXECUTION_TRANSITIONS).map(
      ([from, byActor]) => `| ${from} | ${ACTORS.map((a) => cell(byActor[a])).join(' | ')} |`,
    )
    assert.deepEqual(section('execution-transitions'), expected)
  })
  it('execution deletion', () => {
    const expected = Object.entries(EXECUTION_DELETION).map(
      ([status, rule]) =>
        `| ${status} | ${rule.withoutForce ? 'deleted' : '409'} | ${rule.withForce ? 'deleted' : '409'} |`,
    )
    assert.deepEqual(section('execution-deletion'), expected)
  })
  it('job transitions', () => {
    const expected = Object.entries(JOB_TRANSITIONS).map(
      ([from, t]) => `| ${from} | ${cell(t.controlPlane)} | ${cell(t.service)} |`,
    )
    assert.deepEqual(section('job-transitions'), expected)
  })
})
