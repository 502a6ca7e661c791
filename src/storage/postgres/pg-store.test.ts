/**
 * The storage contract on PostgreSQL: every store on a fresh schema of its own in the test database
 * (FLEETJOBS_TEST_DATABASE_URL, default postgres://127.0.0.1:5432/test with trust authentication); the
 * schemas are dropped after the suite. Runs in `npm run test:postgres`.
 */
import pg from 'pg'
import { after } from 'node:test'
import { describeStorageContract } from '../store.contract.js'
import { PgStore } from './pg-store.js'

const URL = process.env['FLEETJOBS_TEST_DATABASE_URL'] ?? 'postgres://127.0.0.1:5432/test'

const schemas: string[] = []

async function onDatabase(sql: string): Promise<void> {
  const client = new pg.Client({ connectionString: URL, application_name: 'fleetjobs-test' })
  await client.connect()
  try {
    await client.query(sql)
  } finally {
    await client.end()
  }
}

after(async () => {
  for (const schema of schemas) await onDatabase(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
})

describeStorageContract(`PostgreSQL (a fresh schema per store at ${URL})`, async () => {
  const schema = `fj_contract_${process.pid}_${schemas.length + 1}`
  schemas.push(schema)
  // A schema of the same name that an earlier run (same pid, killed before its `after`) left behind.
  await onDatabase(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  return PgStore.open({ url: URL, schema, poolSize: 4 })
})
