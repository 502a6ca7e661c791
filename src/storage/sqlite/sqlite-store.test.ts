import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { describeStorageContract } from '../store.contract.js'
import { SqliteStore } from './sqlite-store.js'

const dirs: string[] = []
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true })
})

describeStorageContract('SQLite (temporary file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-store-'))
  dirs.push(dir)
  return Promise.resolve(new SqliteStore({ file: join(dir, 'test.db') }))
})
