import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describeStorageContract } from '../store.contract.js'
import { SqliteStore } from './sqlite-store.js'

describeStorageContract('SQLite (temporary file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-store-'))
  return Promise.resolve(new SqliteStore({ file: join(dir, 'test.db') }))
})
