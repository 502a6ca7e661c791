/**
 * Helpers for the bad-input suite (test/bad-input/): raw requests that cannot hang, the checks every
 * rejection must pass, an exact snapshot of the database (SQLite file or PostgreSQL schema), a seeded state whose executions a slipped
 * request would visibly change, and fast-check arbitraries for malformed input.
 * [spec: wire-protocol#2] [spec: wire-protocol#5] [spec: limits]
 */
import Database from 'better-sqlite3'
import fc from 'fast-check'
import assert from 'node:assert/strict'
import { CreateThingCommand, CreateJobCommand } from '@aws-sdk/client-iot'
import { StartNextPendingJobExecutionCommand } from '@aws-sdk/client-iot-jobs-data-plane'
import type { Harness } from './harness.js'
import { thingArnOf, unique } from './harness.js'
import { onPostgres, sqliteFileOf, withSchema } from './store.js'

/** A request that has not answered by then counts as a hang and fails the property. */
export const REQUEST_TIMEOUT_MS = 10_000

export interface Reply {
  readonly status: number
  readonly errorType: string | null
  readonly contentType: string | null
  readonly text: string
  /** The parsed body, or undefined when it is not JSON. */
  readonly json: unknown
  /** `METHOD url body…`, for assertion messages and fast-check reports. */
  readonly request: string
}

export interface SendOptions {
  readonly body?: string | Uint8Array
  readonly headers?: Record<string, string>
}

/**
 * Sends one request with plain fetch; `path` goes on the wire as given (callers percent-encode what
 * they mean to encode). The body is sent with `Content-Type: application/json`, as the SDKs do.
 */
export async function send(
  baseUrl: string,
  method: string,
  path: string,
  options: SendOptions = {},
): Promise<Reply> {
  const { body, headers = {} } = options
  const shown =
    body === undefined
      ? ''
      : typeof body === 'string'
        ? ` body(${body.length} chars)=${JSON.stringify(body.slice(0, 300))}`
        : ` body(${body.length} bytes)`
  const request = `${method} ${baseUrl}${path.length > 400 ? `${path.slice(0, 400)}…(${path.length} chars)` : path}${shown}`
  let res: Response
  let text: string
  try {
    res = await fetch(`${baseUrl}${path}`, {
      method,
      headers: { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body }),
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    })
    text = await res.text()
  } catch (error) {
    const name = (error as Error).name
    if (name === 'TimeoutError')
      throw new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms (a hang): ${request}`)
    throw new Error(`request failed (${(error as Error).message}): ${request}`, { cause: error })
  }
  let json: unknown
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    // Not JSON: left undefined so that expectRejection reports the raw text.
    json = undefined
  }
  return {
    status: res.status,
    errorType: res.headers.get('x-amzn-errortype'),
    contentType: res.headers.get('content-type'),
    text,
    json,
    request,
  }
}

/** A body over the 1 MiB limit (src/http/server.ts MAX_BODY_BYTES): 413, the limit named. */
export const TOO_LARGE: Expected = {
  status: 413,
  type: 'RequestEntityTooLargeException',
  names: '1048576 bytes',
}

export interface Expected {
  /** 400 unless said otherwise. */
  readonly status?: number
  /** `InvalidRequestException` unless said otherwise. */
  readonly type?: string
  /** A string the message must contain: the field the input names. */
  readonly names?: string
}

/**
 * The checks every rejected request must pass: never 5xx, the expected 4xx status and
 * `x-amzn-ErrorType`, and a JSON body with a non-empty `message` that names the field.
 * [spec: wire-protocol#5.1]
 */
export function expectRejection(reply: Reply, expected: Expected = {}): void {
  const status = expected.status ?? 400
  const type = expected.type ?? 'InvalidRequestException'
  const seen = `${reply.status} ${String(reply.errorType)} ${reply.text.slice(0, 300)}\n  for ${reply.request}`
  assert.ok(reply.status < 500, `server error: ${seen}`)
  assert.equal(reply.status, status, `expected ${status} ${type}, got ${seen}`)
  assert.equal(reply.errorType, type, `expected x-amzn-ErrorType ${type}, got ${seen}`)
  assert.match(reply.contentType ?? '', /^application\/json/, `content-type of ${seen}`)
  assert.ok(
    typeof reply.json === 'object' && reply.json !== null && !Array.isArray(reply.json),
    `body is not a JSON object: ${seen}`,
  )
  const message = (reply.json as Record<string, unknown>)['message']
  assert.ok(typeof message === 'string' && message.length > 0, `no message string: ${seen}`)
  if (expected.names !== undefined) {
    assert.ok(message.includes(expected.names), `message does not name ${expected.names}: ${seen}`)
  }
}

/**
 * Every row of every table (and the schema version) of the server's database, read in one read-only
 * transaction so that all tables come from the same commit: the SQLite file, or on PostgreSQL the
 * server's schema.
 */
export async function snapshotDatabase(h: Harness): Promise<Record<string, string[]>> {
  return onPostgres ? snapshotSchema(h) : Promise.resolve(snapshotSqliteFile(h))
}

function snapshotSqliteFile(h: Harness): Record<string, string[]> {
  const db = new Database(sqliteFileOf(h.dataDir), { readonly: true, fileMustExist: true })
  try {
    return db.transaction(() => {
      const tables = db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .pluck()
        .all() as string[]
      const snapshot: Record<string, string[]> = {
        '(user_version)': [String(db.pragma('user_version', { simple: true }))],
      }
      for (const table of tables) {
        snapshot[table] = db
          .prepare(`SELECT * FROM "${table.replaceAll('"', '""')}"`)
          .all()
          .map((row) => JSON.stringify(row))
          .sort()
      }
      return snapshot
    })()
  } finally {
    db.close()
  }
}

async function snapshotSchema(h: Harness): Promise<Record<string, string[]>> {
  return withSchema(h.dataDir, async (c) => {
    await c.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY')
    try {
      const { rows: tables } = await c.query<{ name: string }>(
        `SELECT table_name AS name FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' ORDER BY table_name`,
      )
      // The schema_version table holds the version, as user_version does on SQLite.
      const snapshot: Record<string, string[]> = {}
      for (const { name } of tables) {
        const { rows } = await c.query(`SELECT * FROM "${name.replaceAll('"', '""')}"`)
        snapshot[name] = rows.map((row) => JSON.stringify(row)).sort()
      }
      return snapshot
    } finally {
      await c.query('ROLLBACK')
    }
  })
}

/** Runs `work` and asserts that the database is byte-for-byte the same afterwards. */
export async function expectDatabaseUnchanged(h: Harness, work: () => Promise<void>): Promise<void> {
  const before = await snapshotDatabase(h)
  await work()
  assert.deepEqual(await snapshotDatabase(h), before, 'the bad requests changed the database')
}

/**
 * The state the bad requests aim at, chosen so that a request that slipped through validation would
 * change it: `queuedThing` has a QUEUED execution of `queuedJob`; `runningThing` has an IN_PROGRESS
 * execution (versionNumber 2) of `runningJob`. `otherThing` is a second target of `queuedJob`.
 */
export interface Seeded {
  readonly queuedThing: string
  readonly otherThing: string
  readonly runningThing: string
  readonly queuedJob: string
  readonly runningJob: string
  /** A nextToken of ListThings (maxResults=1), to be offered to other operations. */
  readonly thingsToken: string
}

export async function seedState(h: Harness): Promise<Seeded> {
  const queuedThing = unique('bad-q')
  const otherThing = unique('bad-o')
  const runningThing = unique('bad-r')
  await h.iot.send(
    new CreateThingCommand({ thingName: queuedThing, attributePayload: { attributes: { color: 'red' } } }),
  )
  await h.iot.send(new CreateThingCommand({ thingName: otherThing }))
  await h.iot.send(new CreateThingCommand({ thingName: runningThing }))
  const queuedJob = unique('bad-jq')
  const runningJob = unique('bad-jr')
  await h.iot.send(
    new CreateJobCommand({
      jobId: queuedJob,
      targets: [thingArnOf(queuedThing), thingArnOf(otherThing)],
      document: '{"step":"queued"}',
    }),
  )
  await h.iot.send(
    new CreateJobCommand({
      jobId: runningJob,
      targets: [thingArnOf(runningThing)],
      document: '{"step":"run"}',
    }),
  )
  const started = await h.data.send(new StartNextPendingJobExecutionCommand({ thingName: runningThing }))
  assert.equal(started.execution?.status, 'IN_PROGRESS')
  assert.equal(started.execution?.versionNumber, 2)
  const page = await send(h.server.url, 'GET', '/things?maxResults=1')
  const thingsToken = (page.json as { nextToken?: unknown }).nextToken
  assert.ok(typeof thingsToken === 'string' && thingsToken.length > 0, page.text)
  return { queuedThing, otherThing, runningThing, queuedJob, runningJob, thingsToken }
}

/**
 * Runs a fast-check property over `arbitraries`. A failure reports the shrunk counterexample with its
 * failed assertion and also the first failure seen: when a bad request slipped through and changed
 * the database, the shrinking runs that follow see another state, and only the first failure tells
 * what happened.
 */
export async function check<Ts extends [unknown, ...unknown[]]>(
  arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> },
  predicate: (...args: Ts) => Promise<void>,
  numRuns: number,
  /** Cases that run every time, before the generated ones. */
  examples: Ts[] = [],
): Promise<void> {
  let first: unknown
  const guarded = async (...args: Ts): Promise<void> => {
    try {
      await predicate(...args)
    } catch (error) {
      first ??= error
      throw error
    }
  }
  const property = (fc.asyncProperty as unknown as (...a: unknown[]) => fc.IAsyncProperty<Ts>)(
    ...arbitraries,
    guarded,
  )
  try {
    await fc.assert(property, { numRuns, examples, includeErrorInReport: true })
  } catch (error) {
    if (first === undefined) throw error
    throw new Error(
      `${(error as Error).message}\n\nFirst failure, before shrinking:\n${(first as Error).message}`,
    )
  }
}

// ---------------------------------------------------------------------------------------------
// Arbitraries
// ---------------------------------------------------------------------------------------------

const LETTERS_DIGITS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789'
/** [spec: limits#2] thingName 1..128 `[a-zA-Z0-9:_-]+`; jobId 1..64 `[a-zA-Z0-9_-]+`. */
export const THING_NAME = { label: 'thingName', alphabet: `${LETTERS_DIGITS}:_-`, max: 128 } as const
export const JOB_ID = { label: 'jobId', alphabet: `${LETTERS_DIGITS}_-`, max: 64 } as const
export type NameRule = { readonly label: string; readonly alphabet: string; readonly max: number }

/** Characters outside most identifier patterns of the spec (each rule drops those it allows). */
const ILLEGAL = [
  '.',
  ' ',
  '/',
  '\\',
  '?',
  '#',
  '%',
  '&',
  '=',
  '+',
  '$',
  '!',
  '*',
  "'",
  '"',
  '(',
  ')',
  '~',
  '@',
  ',',
  ';',
  '<',
  '>',
  '[',
  ']',
  '{',
  '}',
  '|',
  '^',
  '`',
  '\u0000',
  '\t',
  '\n',
  '\u007f',
  'é',
  'ß',
  'Ж',
  '日',
  '😀',
  '\u200b',
  '\u00a0',
  '\ufeff',
]

const validRun = (rule: NameRule, minLength: number, maxLength: number): fc.Arbitrary<string> =>
  fc.string({ unit: fc.constantFrom(...rule.alphabet), minLength, maxLength })

const isLegal = (rule: NameRule, ch: string): boolean => rule.alphabet.includes(ch)

/**
 * Names longer than the limit, of legal characters only, so that length is the only fault. Built
 * from a length and a short motif so that a counterexample shrinks in a few steps.
 */
export const tooLongName = (rule: NameRule): fc.Arbitrary<string> =>
  fc
    .tuple(fc.integer({ min: rule.max + 1, max: rule.max + 100 }), validRun(rule, 1, 8))
    .map(([length, motif]) => motif.repeat(Math.ceil(length / motif.length)).slice(0, length))

/**
 * Names of legal length with at least one illegal character: space, dot, unicode, `/` (which
 * arrives as `%2F`), control characters… Never a name made only of dots (URL parsers collapse
 * those segments), never `$next`.
 */
export function illegalName(rule: NameRule): fc.Arbitrary<string> {
  const illegalChar = fc.oneof(
    fc.constantFrom(...[...ILLEGAL, ':'].filter((c) => !isLegal(rule, c))),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }).filter((c) => !isLegal(rule, c)),
  )
  return fc
    .oneof(
      fc.tuple(validRun(rule, 0, 20), illegalChar, validRun(rule, 0, 20)).map(([a, b, c]) => a + b + c),
      fc
        .string({ unit: 'grapheme', minLength: 1, maxLength: 12 })
        .filter((s) => [...s].some((c) => !isLegal(rule, c))),
    )
    .filter((s) => !/^\.+$/.test(s) && s !== '$next')
}

/** Names a path label or a name-like query value must refuse: too long or illegal. */
export const badName = (rule: NameRule): fc.Arbitrary<string> =>
  fc.oneof(tooLongName(rule), illegalName(rule))

/** Illegal names the issue lists explicitly, run every time: dot, space, unicode, `/` (sent as `%2F`). */
export const NAMED_ILLEGAL_NAMES = ['a.b', 'a b', 'ünïcödé', '日本', 'a/b', '%2F', 'a\u0000b']

/** The shortest too-long name, run every time. */
export const namedTooLongNames = (rule: NameRule): string[] => ['x'.repeat(rule.max + 1)]

/** A path segment on the wire: the name percent-encoded the way the SDKs encode labels. */
export const segment = (name: string): string => encodeURIComponent(name)

/** A JSON member kind as the models type it. */
export type Kind = 'string' | 'integer' | 'double' | 'boolean' | 'list' | 'object'

const anyString = fc.string({ maxLength: 12 })
const smallArray = fc.array(fc.oneof(fc.integer(), anyString), { maxLength: 3 })
const smallObject = fc.dictionary(fc.stringMatching(/^[a-z]{1,6}$/), fc.oneof(fc.integer(), anyString), {
  maxKeys: 3,
})
const nonIntegerNumber = fc
  .double({ noNaN: true, noDefaultInfinity: true, min: -1e9, max: 1e9 })
  .filter((d) => !Number.isInteger(d))

/**
 * A JSON value of the wrong type for a member of `kind`. Never null (null means "absent",
 * [spec: wire-protocol#2.3]) and never NaN/Infinity (JSON.stringify turns them into null).
 */
export function wrongValue(kind: Kind): fc.Arbitrary<unknown> {
  switch (kind) {
    case 'string':
      return fc.oneof(fc.integer(), nonIntegerNumber, fc.boolean(), smallArray, smallObject)
    case 'integer':
      return fc.oneof(
        anyString,
        fc.integer().map(String),
        fc.boolean(),
        smallArray,
        smallObject,
        nonIntegerNumber,
      )
    case 'double':
      return fc.oneof(anyString, fc.integer().map(String), fc.boolean(), smallArray, smallObject)
    case 'boolean':
      return fc.oneof(
        fc.constantFrom('true', 'false'),
        anyString,
        fc.integer({ min: 0, max: 1 }),
        smallArray,
        smallObject,
      )
    case 'list':
      return fc.oneof(anyString, fc.integer(), fc.boolean(), smallObject)
    case 'object':
      return fc.oneof(anyString, fc.integer(), fc.boolean(), smallArray)
  }
}

/** A value outside an enum: another type, another spelling, or another word. */
export function wrongEnum(values: readonly string[]): fc.Arbitrary<unknown> {
  return fc
    .oneof(
      wrongValue('string'),
      fc.constantFrom(...values).map((v) => v.toLowerCase()),
      fc.constantFrom(...values).map((v) => ` ${v}`),
      fc.constantFrom('DONE', 'PENDING', 'ALL', ''),
      fc.string({ maxLength: 15 }),
    )
    .filter((v) => typeof v !== 'string' || !values.includes(v))
}

/** One member of a request body, addressed by its JSON path, and what is wrong with it. */
export interface MemberCase {
  /** JSON path from the body root; numbers index lists. */
  readonly path: readonly (string | number)[]
  readonly wrong: fc.Arbitrary<unknown>
  /** What the message must name. */
  readonly names: string
}

/** `a.b[0].c`, the way messages name a member. */
export const fieldName = (path: readonly (string | number)[]): string =>
  path.reduce<string>(
    (acc, p) => (typeof p === 'number' ? `${acc}[${p}]` : acc === '' ? p : `${acc}.${p}`),
    '',
  )

/** A member of the wrong JSON type (or outside its enum); the message must name its full path. */
export const member = (
  path: readonly (string | number)[],
  kindOrEnum: Kind | readonly string[],
  names = fieldName(path),
): MemberCase => ({
  path,
  wrong: typeof kindOrEnum === 'string' ? wrongValue(kindOrEnum) : wrongEnum(kindOrEnum),
  names,
})

/** A copy of `base` with the value at `path` replaced (containers are created as needed). */
export function withValue(
  base: Record<string, unknown>,
  path: readonly (string | number)[],
  value: unknown,
): Record<string, unknown> {
  const root = structuredClone(base)
  let node: Record<string | number, unknown> = root
  path.forEach((key, i) => {
    if (i === path.length - 1) {
      node[key] = value
      return
    }
    const next = node[key]
    if (typeof next !== 'object' || next === null) node[key] = typeof path[i + 1] === 'number' ? [] : {}
    node = node[key] as Record<string | number, unknown>
  })
  return root
}

/** Text that is not JSON at all (never empty or only whitespace: an empty body means `{}`). */
export function malformedJson(validBody: string): fc.Arbitrary<string> {
  const notJson = (s: string): boolean => {
    if (s.trim() === '') return false
    try {
      JSON.parse(s)
      return false
    } catch {
      // Exactly what is wanted: the text does not parse.
      return true
    }
  }
  return fc
    .oneof(
      // A strict prefix of an object is never JSON.
      fc.integer({ min: 1, max: Math.max(1, validBody.length - 1) }).map((n) => validBody.slice(0, n)),
      // One character inserted somewhere.
      fc
        .tuple(
          fc.integer({ min: 0, max: validBody.length }),
          fc.constantFrom('{', '}', '"', ',', ':', '[', 'x', '\\'),
        )
        .map(([at, ch]) => validBody.slice(0, at) + ch + validBody.slice(at)),
      fc.constantFrom(
        "{'a':1}",
        '{a:1}',
        '{"a":1,}',
        '{"a":undefined}',
        '{"a":NaN}',
        '{"a":01}',
        '{"a":1}{',
        '{"a":"\u0001"}',
        '<xml/>',
        'a=1&b=2',
        '\u0000',
      ),
      fc.string({ unit: 'binary', minLength: 1, maxLength: 40 }),
    )
    .filter(notJson)
}

/** Bytes that are not JSON once decoded as UTF-8 (invalid UTF-8 included). */
export const malformedBytes: fc.Arbitrary<Uint8Array> = fc
  .oneof(
    fc.uint8Array({ minLength: 1, maxLength: 40 }),
    fc.constantFrom(
      Uint8Array.from([0xff, 0xfe, 0x7b, 0x7d]),
      Uint8Array.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x3a, 0x31, 0x7d]),
      Uint8Array.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d, 0xff]),
    ),
  )
  .filter((bytes) => {
    const text = Buffer.from(bytes).toString('utf8')
    if (text.trim() === '') return false
    try {
      JSON.parse(text)
      return false
    } catch {
      // Not JSON: exactly what is wanted.
      return true
    }
  })

/** JSON that is not an object: arrays, strings, numbers, booleans, null. */
export const nonObjectJson: fc.Arbitrary<string> = fc
  .jsonValue({ maxDepth: 2 })
  .filter((v) => typeof v !== 'object' || v === null || Array.isArray(v))
  .map((v) => JSON.stringify(v))

/** A value nested `depth` levels deep: `[[[…]]]` or `{"a":{"a":…1}}`. */
export const deeplyNested = (depth: number, shape: 'array' | 'object'): string =>
  shape === 'array'
    ? `${'['.repeat(depth)}${']'.repeat(depth)}`
    : `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`

/** Query values that are not a decimal integer in `min..max`. [spec: wire-protocol#2.2] */
export function badIntegerQuery(min: number, max: number): fc.Arbitrary<string> {
  const outside: fc.Arbitrary<string>[] = []
  if (Number.isSafeInteger(min - 1_000_000))
    outside.push(fc.integer({ min: min - 1_000_000, max: min - 1 }).map(String))
  if (Number.isSafeInteger(max + 1_000_000))
    outside.push(fc.integer({ min: max + 1, max: max + 1_000_000 }).map(String))
  return fc
    .oneof(
      ...outside,
      // 1e20 is beyond any long; the rest are not decimal integers at all.
      fc.constantFrom(
        'abc',
        '1.5',
        '',
        ' ',
        '5a',
        'NaN',
        'Infinity',
        '0x10',
        '1e2',
        '99999999999999999999',
        '--1',
        '1,2',
      ),
      fc.string({ maxLength: 8 }).filter((s) => !/^-?\d+$/.test(s)),
    )
    .filter((s) => !(/^-?\d+$/.test(s) && Number(s) >= min && Number(s) <= max))
}

/** Query values that are not a decimal long (of at least `min`). */
export const badLongQuery = (min?: number): fc.Arbitrary<string> =>
  badIntegerQuery(min ?? Number.MIN_SAFE_INTEGER, Number.MAX_SAFE_INTEGER)

/** Query values that are not exactly `true` or `false`. [spec: wire-protocol#2.2] */
export const badBooleanQuery: fc.Arbitrary<string> = fc
  .oneof(
    fc.constantFrom('yes', 'no', 'TRUE', 'False', '1', '0', '', 'on', 'true ', 't'),
    fc.string({ maxLength: 8 }),
  )
  .filter((s) => s !== 'true' && s !== 'false')

/** Query values outside an enum. */
export const badEnumQuery = (values: readonly string[]): fc.Arbitrary<string> =>
  fc
    .oneof(
      fc.constantFrom('DONE', '', 'queued', 'in_progress', 'ALL'),
      fc.constantFrom(...values).map((v) => v.toLowerCase()),
      fc.string({ maxLength: 12 }),
    )
    .filter((s) => !values.includes(s))

/** Query string values for a string member with a name pattern: illegal characters or too long. */
export const badNameQuery = (rule: NameRule): fc.Arbitrary<string> => fc.oneof(badName(rule), fc.constant(''))

/** `nextToken` values no list operation handed out. */
export function garbageToken(otherTokens: readonly string[]): fc.Arbitrary<string> {
  return fc.oneof(
    fc.string({ minLength: 1, maxLength: 60 }),
    fc.string({ unit: 'binary', minLength: 1, maxLength: 30 }),
    fc.base64String({ minLength: 4, maxLength: 80 }),
    ...(otherTokens.length === 0 ? [] : [fc.constantFrom(...otherTokens)]),
    fc.integer({ min: 4097, max: 6000 }).map((n) => 'A'.repeat(n)),
    fc.jsonValue({ maxDepth: 2 }).map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')),
  )
}

/** `?name=value` with the value percent-encoded. */
export const query = (params: Record<string, string>): string =>
  `?${Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&')}`
