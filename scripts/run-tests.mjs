// Node 20's test runner takes no globs: find the test files ourselves, then hand them to `node --test`.
//
// FLEETJOBS_TEST_STORE=postgres runs the suite with every server on PostgreSQL (test/support/store.ts).
// Without file filters, each run leaves out the other store's own tests: the SQLite run (the default)
// those of the PostgreSQL store (src/storage/postgres/, test/postgres/), the PostgreSQL run those of the
// SQLite store (src/storage/sqlite/) and the store-independent files below, which the SQLite run covers.
// A filter runs whatever it names.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { userInfo } from 'node:os'
import { join, sep } from 'node:path'

const store = process.env.FLEETJOBS_TEST_STORE ?? 'sqlite'
if (store !== 'sqlite' && store !== 'postgres') {
  console.error(`FLEETJOBS_TEST_STORE must be "sqlite" or "postgres", not "${store}"`)
  process.exit(1)
}
/**
 * Files that do not depend on the store (pure domain and wire code, docs, the signature check, HTTP
 * framing and limits, bad input refused before any write, MQTT broker storms and limits, CLI behaviour
 * that never reaches the database, clients of the API): the SQLite run covers them, and the PostgreSQL
 * run leaves them out to keep CI short. What each store does is tested on both: the storage contract, the
 * API operations (test/api), time-driven work, notifications and events, restarts and several nodes.
 */
const storeIndependent = [
  join('src', 'domain') + sep,
  join('src', 'mqtt') + sep,
  join('src', 'app') + sep,
  join('src', 'pki') + sep,
  join('test', 'docs') + sep,
  join('console', 'src') + sep,
  join('test', 'http') + sep,
  join('test', 'mqtt', 'storm'),
  join('test', 'mqtt', 'limits'),
  join('test', 'mqtt', 'identity'),
  // MQTT 5, TLS and the Device SDK at the protocol level, aedes' guards, Mosquitto's certificate config.
  join('test', 'mqtt', 'mqtt5'),
  join('test', 'mqtt', 'tls'),
  join('test', 'mqtt', 'device-sdk'),
  join('test', 'mqtt', 'aedes-beta-guards'),
  join('test', 'mqtt', 'mosquitto-certificates'),
  join('test', 'api', 'sigv4'),
  join('test', 'bad-input') + sep,
  join('test', 'cli', 'aws-cli'),
  join('test', 'cli', 'device-token'),
  join('test', 'cli', 'shutdown'),
  // Clients of the API whose store work is the operations' own, tested on both stores elsewhere: the web
  // console (its API runs the control-plane handlers; headless Chromium), the simulator (a fleet of MQTT
  // devices), the npm package and the Docker entry point (SQLite, as a user starts it).
  join('test', 'console') + sep,
  join('test', 'cli', 'simulate'),
  join('test', 'cli', 'package'),
  // Certificates over TLS and through the API: the registry's storage is the PostgreSQL contract's
  // (src/storage/certificates.contract.ts), the identity checks its two queries.
  join('test', 'tls') + sep,
  join('test', 'api', 'certificates') + sep,
]
const otherStoreOnly = {
  sqlite: [join('src', 'storage', 'postgres') + sep, join('test', 'postgres') + sep],
  postgres: [join('src', 'storage', 'sqlite') + sep, ...storeIndependent],
}[store]

// A database URL without a user (the default one): node-postgres takes $USER where libpq takes the login
// name; a bare container or CI job may set neither variable.
const env = { ...process.env }
if (env.PGUSER === undefined && env.USER === undefined) env.PGUSER = userInfo().username

// What `npm install` builds and some tests run as a user would: the web console's page
// (dist/public/console, which its tests load) and the built server (dist/, which the package test packs).
// Each is rebuilt here, before any test starts, when missing or older than a file of its sources; no test
// builds, so none can empty dist/ under another one.
const newerThan = (built, sources) => {
  const builtMs = existsSync(built) ? statSync(built).mtimeMs : -1
  return sources.some((root) =>
    readdirSync(root, { recursive: true, encoding: 'utf8' }).some(
      (f) => statSync(join(root, f)).mtimeMs > builtMs,
    ),
  )
}
for (const [built, sources, script] of [
  [join('dist', 'public', 'console', 'index.html'), ['console'], 'build:console'],
  [join('dist', 'cli', 'main.js'), ['src', 'models'], 'build:server'],
]) {
  if (!newerThan(built, sources)) continue
  console.log(`# building (npm run ${script}): ${built} is older than its sources`)
  const done = spawnSync('npm', ['run', script, '--silent'], { stdio: 'inherit', env })
  if (done.status !== 0) process.exit(done.status ?? 1)
}

const roots = ['src', 'test', 'console']
const filter = process.argv.slice(2)
const files = roots
  .flatMap((root) => readdirSync(root, { recursive: true, encoding: 'utf8' }).map((f) => join(root, f)))
  .filter((f) => f.endsWith('.test.ts'))
  .filter((f) =>
    filter.length === 0
      ? !otherStoreOnly.some((prefix) => f.startsWith(prefix))
      : filter.some((word) => f.includes(word)),
  )
  .sort()
if (files.length === 0) {
  console.error(`no test files match ${filter.join(' ')}`)
  process.exit(1)
}
console.log(
  `# store: ${store}${store === 'postgres' ? ` (${process.env.FLEETJOBS_TEST_DATABASE_URL ?? 'postgres://127.0.0.1:5432/test'})` : ''}`,
)
// Files whose servers answer every device request on the machine's shared MQTT broker (127.0.0.1:1883):
// two of them at once would answer each other's devices, so they run one at a time, after the rest.
const sharedBroker = [
  join('test', 'mqtt', 'external-mosquitto.test.ts'),
  join('test', 'multinode', 'two-nodes.test.ts'),
]
const run = (list, concurrency) =>
  list.length === 0
    ? 0
    : (spawnSync(
        process.execPath,
        ['--import', 'tsx', '--test', `--test-concurrency=${concurrency}`, '--test-timeout=120000', ...list],
        { stdio: 'inherit', env },
      ).status ?? 1)
const parallel = run(
  files.filter((f) => !sharedBroker.includes(f)),
  2,
)
const serial = run(
  files.filter((f) => sharedBroker.includes(f)),
  1,
)
process.exit(parallel !== 0 ? parallel : serial)
