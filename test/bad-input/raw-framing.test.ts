/**
 * Raw bytes on real sockets, below what fetch and mqtt.js can send: broken HTTP/1.1 framing (request
 * lines, duplicate or impossible Content-Length, bad chunk sizes, headers without a colon, obs-fold,
 * NUL bytes, over-long lines) against both HTTP ports, and broken MQTT packets (random bytes, truncated
 * packets, CONNECTs with random fields, PUBLISHes of malformed requests to `$aws/things/<thing>/jobs/…`)
 * against the embedded broker. Every case must be answered with a status < 500 or closed, within a
 * bound; the server must still serve a proper request afterwards; the database must not change.
 * [spec: wire-protocol#5] [spec: jobs-device-api#2] [spec: limits]
 */
import fc from 'fast-check'
import mqttPacket from 'mqtt-packet'
import type { Packet } from 'mqtt-packet'
import assert from 'node:assert/strict'
import { connect } from 'node:net'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness } from '../support/harness.js'
import type { Seeded } from '../support/bad-input.js'
import { check, expectDatabaseUnchanged, REQUEST_TIMEOUT_MS, seedState, send } from '../support/bad-input.js'
import { connectDevice, jobsTopics } from '../support/mqtt.js'

/** Fewer runs than the JSON-level suites: every case opens a connection and checks the server after it. */
const RUNS = 80

interface Exchange {
  /** Everything the server sent before it closed (or before the bound). */
  readonly received: Buffer
  /** Whether the server closed (or reset) the connection; false means `until` was satisfied first. */
  readonly closed: boolean
}

/**
 * Opens a TCP connection, writes `bytes`, half-closes unless `keepOpen`, and resolves when the server
 * has closed the connection or `until(received)` holds. Neither within REQUEST_TIMEOUT_MS is a hang.
 */
function exchange(
  url: string,
  bytes: Buffer,
  what: string,
  options: { keepOpen?: boolean; until?: (received: Buffer) => boolean } = {},
): Promise<Exchange> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    const socket = connect({ host: hostname, port: Number(port) })
    const received = () => Buffer.concat(chunks)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(
        new Error(
          `no answer and no close within ${REQUEST_TIMEOUT_MS} ms (a hang) after ${what}; received ${JSON.stringify(received().toString('latin1').slice(0, 300))}`,
        ),
      )
    }, REQUEST_TIMEOUT_MS)
    const finish = (closed: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve({ received: received(), closed })
    }
    socket.on('data', (chunk: Buffer) => {
      chunks.push(chunk)
      if (options.until?.(received()) === true) finish(false)
    })
    // The server may reset the connection while we still write: that is a close, as the property allows.
    socket.on('error', () => finish(true))
    socket.on('close', () => finish(true))
    socket.once('connect', () => {
      socket.write(bytes)
      if (options.keepOpen !== true) socket.end()
    })
  })
}

const shown = (bytes: Buffer): string => {
  const text = JSON.stringify(bytes.toString('latin1'))
  return text.length > 600 ? `${text.slice(0, 600)}…(${bytes.length} bytes)` : text
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

/**
 * Request targets no write operation serves (CreateJob is PUT /jobs/{jobId}, CreateThing POST
 * /things/{thingName}, …): whatever the framing, a request that got through could not change the
 * database, so a change means the framing let a hidden request through.
 */
const TARGETS = [
  '/',
  '/things',
  '/jobs',
  '/things?maxResults=2',
  '*',
  '//',
  '/%zz',
  '/things%00',
  'http://127.0.0.1/things',
  '/jobs/../things',
  '/things#frag',
  '/\u00e9',
]

const methodArb = fc.oneof(
  fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'HEAD', 'OPTIONS', 'CONNECT', 'TRACE', 'PRI'),
  fc.constantFrom('get', 'G\u0000T', '', 'GET GET', 'M'.repeat(300)),
  fc.string({ unit: 'binary-ascii', minLength: 1, maxLength: 10 }),
)
const targetArb = fc.oneof(
  fc.constantFrom(...TARGETS),
  fc.integer({ min: 1000, max: 20_000 }).map((n) => `/${'a'.repeat(n)}`),
  fc.string({ unit: 'binary-ascii', maxLength: 40 }),
)
const versionArb = fc.constantFrom(
  'HTTP/1.1',
  'HTTP/1.0',
  'HTTP/2.0',
  'HTTP/0.9',
  'HTTP/1.1x',
  'http/1.1',
  'HTTP/1.1 extra',
  '',
)
const contentLengthArb = fc.oneof(
  fc.integer({ min: -10, max: 2_000_000 }).map(String),
  fc.constantFrom('99999999999999999999', '1e3', '0x10', ' 5', '5, 5', '+5', '-0', 'abc', ''),
)
const headerArb = fc.oneof(
  fc.constant('Host: 127.0.0.1'),
  contentLengthArb.map((v) => `Content-Length: ${v}`),
  fc.constantFrom(
    'Transfer-Encoding: chunked',
    'Transfer-Encoding: gzip, chunked',
    'Transfer-Encoding: chunked, identity',
    'transfer-encoding: xchunked',
    'Transfer-Encoding : chunked',
    'Content-Type: application/json',
    'Connection: close',
    'Connection: keep-alive',
    'Expect: 100-continue',
    'NoColonHere',
    ': no-name',
    'X-Folded: first\r\n  continued',
    'X-Folded: first\r\n\tcontinued',
    'X-Nul: a\u0000b',
    'X-N\u0000ul: b',
    'X-Bad\u007f: c',
  ),
  fc.integer({ min: 1000, max: 40_000 }).map((n) => `X-Long: ${'a'.repeat(n)}`),
  fc.string({ unit: 'binary-ascii', maxLength: 60 }),
)
const chunkedBodyArb = fc.constantFrom(
  '0\r\n\r\n',
  '2\r\n{}\r\n0\r\n\r\n',
  'zz\r\nabc\r\n0\r\n\r\n',
  'ffffffffffffffffffff\r\nabc\r\n',
  '-1\r\nabc\r\n0\r\n\r\n',
  '5\r\nab\r\n',
  '3;ext=\u0000\r\n{}x\r\n0\r\n\r\n',
  '2\r\n{}0\r\n\r\n',
  '2 \r\n{}\r\n0\r\n\r\n',
  '0x2\r\n{}\r\n0\r\n\r\n',
  '2\r\n{}\r\n0\r\nTrailer: x\r\n\r\n',
  '100000\r\n{}',
)
const bodyArb = fc.oneof(
  fc.uint8Array({ maxLength: 300 }).map((b) => Buffer.from(b)),
  chunkedBodyArb.map((s) => Buffer.from(s, 'latin1')),
  fc.constantFrom('{}', '{"thingName":"x"}', '').map((s) => Buffer.from(s)),
)

interface RawRequest {
  readonly plane: 'control' | 'data'
  readonly bytes: Buffer
}

const rawRequestArb: fc.Arbitrary<RawRequest> = fc
  .record({
    plane: fc.constantFrom('control' as const, 'data' as const),
    method: methodArb,
    target: targetArb,
    version: versionArb,
    headers: fc.array(headerArb, { maxLength: 8 }),
    eol: fc.constantFrom('\r\n', '\r\n', '\n', '\r'),
    endOfHeaders: fc.boolean(),
    body: bodyArb,
  })
  .map(({ plane, method, target, version, headers, eol, endOfHeaders, body }) => {
    const head = [`${method} ${target} ${version}`, ...headers].join(eol) + (endOfHeaders ? eol + eol : eol)
    return { plane, bytes: Buffer.concat([Buffer.from(head, 'latin1'), body]) }
  })

/** Requests named in the brief, run every time. */
const NAMED_HTTP: string[] = [
  'POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x',
  'POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n{}',
  'POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n{}',
  'POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: abc\r\n\r\n{}',
  'POST /things HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n',
  'POST /things HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 2\r\n\r\n2\r\n{}\r\n0\r\n\r\n',
  'GET /things HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n',
  'GET /things HTTP/1.1\r\nHost: x\r\nX-A: b\r\n  folded\r\n\r\n',
  'GET /things HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n',
  `GET /things HTTP/1.1\r\nHost: x\r\nX-Long: ${'a'.repeat(40_000)}\r\n\r\n`,
  `GET /${'a'.repeat(20_000)} HTTP/1.1\r\nHost: x\r\n\r\n`,
  // A smuggling attempt whose hidden request would create a thing.
  'POST /things HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nPOST /things/smuggled HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}',
]

/** Status codes of the responses in `received` (pipelined responses included). */
function statusesOf(received: Buffer): number[] {
  const text = received.toString('latin1')
  return [...text.matchAll(/(?:^|\r\n)HTTP\/1\.[01] (\d{3})[ \r]/g)].map((m) => Number(m[1]))
}

function expectHttpHandled(url: string, bytes: Buffer, result: Exchange): void {
  const seen = `${shown(bytes)}\n  to ${url}\n  answered ${shown(result.received)}`
  if (result.received.length > 0)
    assert.match(result.received.toString('latin1'), /^HTTP\/1\.[01] \d{3} /, `not an HTTP response: ${seen}`)
  for (const status of statusesOf(result.received)) assert.ok(status < 500, `server error ${status}: ${seen}`)
}

// ---------------------------------------------------------------------------------------------
// MQTT
// ---------------------------------------------------------------------------------------------

const packet = (p: Packet): Buffer => mqttPacket.generate(p, { protocolVersion: 4 })
const PINGREQ = packet({ cmd: 'pingreq' })

/** MQTT's variable-length Remaining Length. */
function remainingLength(n: number): Buffer {
  const out: number[] = []
  do {
    let byte = n % 128
    n = Math.floor(n / 128)
    if (n > 0) byte |= 0x80
    out.push(byte)
  } while (n > 0)
  return Buffer.from(out)
}

const utf8Field = (s: Buffer): Buffer => Buffer.concat([Buffer.from([s.length >> 8, s.length & 0xff]), s])

/** A CONNECT built by hand, so that any field may be wrong: protocol name, level, flags, lengths. */
const rawConnectArb = fc
  .record({
    protocol: fc.oneof(
      fc.constantFrom('MQTT', 'MQIsdp', 'mqtt', 'MQTT\u0000', ''),
      fc.string({ maxLength: 8 }),
    ),
    level: fc.oneof(fc.constantFrom(3, 4, 5), fc.integer({ min: 0, max: 255 })),
    flags: fc.integer({ min: 0, max: 255 }),
    keepalive: fc.integer({ min: 0, max: 0xffff }),
    clientId: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    tail: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    lengthSkew: fc.constantFrom(0, 0, 0, -3, 1, 200),
  })
  .map(({ protocol, level, flags, keepalive, clientId, tail, lengthSkew }) => {
    const body = Buffer.concat([
      utf8Field(Buffer.from(protocol)),
      Buffer.from([level, flags, keepalive >> 8, keepalive & 0xff]),
      utf8Field(clientId),
      tail,
    ])
    return Buffer.concat([Buffer.from([0x10]), remainingLength(Math.max(0, body.length + lengthSkew)), body])
  })

/**
 * Payloads of badPayloadArb whose members StartNextPendingJobExecution does not define: it drops them
 * and starts the next execution (found by this test in CI: `{"includeJobDocument":"yes"}` started one).
 */
const GOOD_FOR_START_NEXT = new Set([
  '{"includeJobDocument":"yes"}',
  '{"status":7}',
  '{"status":"DONE"}',
  '{"expectedVersion":"one","status":"SUCCEEDED"}',
  '{"executionNumber":"x"}',
])

/**
 * A payload no jobs request accepts: not JSON, JSON that is not an object, or members of wrong types
 * (but for start-next, see GOOD_FOR_START_NEXT).
 */
const badPayloadArb = fc.oneof(
  fc
    .uint8Array({ minLength: 1, maxLength: 200 })
    .map((b) => Buffer.from(b))
    .filter((b) => {
      try {
        JSON.parse(b.toString('utf8'))
        return false
      } catch {
        // Not JSON: the kind of payload wanted here.
        return true
      }
    }),
  fc.constantFrom(
    '{',
    '{"clientToken":',
    '[]',
    '[{}]',
    '"x"',
    '42',
    'true',
    '{"status":"SUCCEEDED"',
    '{"clientToken":5}',
    '{"statusDetails":"x"}',
    '{"statusDetails":{"k":5}}',
    '{"stepTimeoutInMinutes":"ten"}',
    '{"includeJobDocument":"yes"}',
    '{"status":7}',
    '{"status":"DONE"}',
    '{"expectedVersion":"one","status":"SUCCEEDED"}',
    '{"executionNumber":"x"}',
  ),
)

interface MqttCase {
  readonly kind: 'random' | 'truncated' | 'connect' | 'publish'
  readonly bytes: Buffer
  /** A device request whose `/accepted` or `/rejected` reply the case waits for. */
  readonly reply?: string
}

/**
 * The four shapes of broken MQTT input. Topics name the seeded things and jobs most of the time, so
 * that a request that slipped through would change the seeded executions.
 */
function mqttCaseArb(s: Seeded): fc.Arbitrary<MqttCase> {
  const thingArb = fc.oneof(
    { arbitrary: fc.constantFrom(s.queuedThing, s.runningThing, s.otherThing), weight: 3 },
    fc.stringMatching(/^[a-zA-Z0-9:_-]{1,20}$/),
    fc.constantFrom('+', '#', '', 'a/b', 'bad.thing'),
  )
  const suffixArb = fc.oneof(
    { arbitrary: fc.constantFrom('get', 'start-next', 'notify', 'notify-next', ''), weight: 2 },
    fc
      .constantFrom(s.queuedJob, s.runningJob, '$next')
      .chain((job) => fc.constantFrom(`${job}/get`, `${job}/update`, `${job}/update/accepted`)),
    fc.string({ maxLength: 20 }),
  )
  const publishArb = fc
    .record({
      clientId: fc.stringMatching(/^[a-z0-9]{1,12}$/),
      thing: thingArb,
      suffix: suffixArb,
      payload: badPayloadArb,
      qos: fc.constantFrom(0 as const, 1 as const),
      garbage: fc.option(
        fc.uint8Array({ minLength: 1, maxLength: 30 }).map((b) => Buffer.from(b)),
        { nil: undefined },
      ),
    })
    // StartNextPendingJobExecution ignores members its model does not define (as AWS does), so a payload
    // of only such members is a good start-next request, not a bad one. [spec: wire-protocol#2.3]
    .filter(({ suffix, payload }) => !(suffix === 'start-next' && GOOD_FOR_START_NEXT.has(String(payload))))
    .map(({ clientId, thing, suffix, payload, qos, garbage }) =>
      publishCase(`raw-${clientId}`, `$aws/things/${thing}/jobs/${suffix}`, payload, qos, garbage),
    )
  return fc.oneof(
    fc
      .uint8Array({ minLength: 1, maxLength: 300 })
      .map((b) => ({ kind: 'random' as const, bytes: Buffer.from(b) })),
    fc
      .tuple(publishArb, fc.nat())
      .map(([{ bytes }, at]) => ({ kind: 'truncated' as const, bytes: bytes.subarray(0, at % bytes.length) }))
      .filter((c) => c.bytes.length > 0),
    rawConnectArb.map((bytes) => ({ kind: 'connect' as const, bytes })),
    publishArb,
  )
}

/** Topics of the device requests, each answered on `<topic>/accepted` or `<topic>/rejected`. */
const REQUEST_TOPIC =
  /^\$aws\/things\/[a-zA-Z0-9:_-]+\/jobs\/(get|start-next|[a-zA-Z0-9_-]+\/(get|update)|\$next\/get)$/

/**
 * CONNECT, then for a request topic a SUBSCRIBE to its replies, the PUBLISH, and a PINGREQ — or, with
 * `garbage`, those bytes in place of the PINGREQ.
 */
function publishCase(
  clientId: string,
  topic: string,
  payload: string | Buffer,
  qos: 0 | 1,
  garbage?: Buffer,
): MqttCase {
  const request = garbage === undefined && REQUEST_TOPIC.test(topic)
  return {
    kind: 'publish',
    bytes: Buffer.concat([
      packet({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId, clean: true, keepalive: 0 }),
      request
        ? packet({ cmd: 'subscribe', messageId: 2, subscriptions: [{ topic: `${topic}/+`, qos: 0 }] })
        : Buffer.alloc(0),
      packet({
        cmd: 'publish',
        topic,
        payload: Buffer.from(payload),
        qos,
        messageId: 1,
        retain: false,
        dup: false,
      }),
      garbage ?? PINGREQ,
    ]),
    ...(request ? { reply: topic } : {}),
  }
}

/** Malformed requests named in the brief, on the seeded executions, run every time. */
const namedMqttCases = (s: Seeded): [MqttCase][] =>
  [
    publishCase('raw-n1', jobsTopics(s.queuedThing).startNext, '{', 1),
    publishCase('raw-n2', jobsTopics(s.queuedThing).startNext, '[]', 0),
    publishCase('raw-n3', jobsTopics(s.queuedThing).startNext, '{"statusDetails":"x"}', 1),
    publishCase('raw-n4', jobsTopics(s.runningThing).update(s.runningJob), '{"status":"SUCCEEDED"', 1),
    publishCase('raw-n5', jobsTopics(s.runningThing).update(s.runningJob), '{"status":"DONE"}', 1),
    publishCase('raw-n6', jobsTopics(s.queuedThing).update(s.queuedJob), '{"status":7}', 0),
    publishCase('raw-n7', jobsTopics(s.queuedThing).update(s.queuedJob), Buffer.from([0xff, 0xfe, 0x00]), 1),
    publishCase('raw-n8', jobsTopics(s.queuedThing).get, 'not json', 1),
    { kind: 'random' as const, bytes: Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f]) },
    { kind: 'connect' as const, bytes: Buffer.from([0x10, 0x02, 0x00, 0x04]) },
  ].map((c): [MqttCase] => [c])

/** Parses what the broker sent: it must be well-formed MQTT (a CONNACK, a PUBACK, a PINGRESP, …). */
function parseBrokerOutput(received: Buffer): Packet[] {
  const parser = mqttPacket.parser({ protocolVersion: 4 })
  const packets: Packet[] = []
  const errors: Error[] = []
  parser.on('packet', (p: Packet) => packets.push(p))
  parser.on('error', (e: Error) => errors.push(e))
  parser.parse(received)
  assert.deepEqual(errors, [], `the broker sent malformed MQTT: ${shown(received)}`)
  return packets
}

/** A proper device can still connect and GetPendingJobExecutions is answered. */
async function expectBrokerServes(url: string, s: Seeded): Promise<void> {
  const device = await connectDevice(url)
  try {
    const reply = await device.request(jobsTopics(s.queuedThing).get)
    assert.equal(reply.outcome, 'accepted', JSON.stringify(reply.payload))
    assert.deepEqual(
      (reply.payload['queuedJobs'] as { jobId: string }[]).map((j) => j.jobId),
      [s.queuedJob],
    )
  } finally {
    await device.close()
  }
}

describe('raw framing on real sockets [spec: wire-protocol#5] [spec: limits]', () => {
  let h: Harness
  let s: Seeded
  before(async () => {
    h = await startHarness({ mqtt: { port: 0 } })
    s = await seedState(h)
  })
  after(async () => {
    await h.close()
  })

  it('HTTP: broken framing is answered < 500 or closed within the bound, the server still serves, nothing changes', async () => {
    const named = NAMED_HTTP.map((r): [RawRequest] => [{ plane: 'control', bytes: Buffer.from(r, 'latin1') }])
    await expectDatabaseUnchanged(h, () =>
      check(
        [rawRequestArb],
        async ({ plane, bytes }) => {
          const url = plane === 'control' ? h.server.url : h.server.dataPlaneUrl
          expectHttpHandled(url, bytes, await exchange(url, bytes, shown(bytes)))
          const health = await send(
            url,
            'GET',
            plane === 'control' ? '/things?maxResults=1' : `/things/${s.queuedThing}/jobs`,
          )
          assert.equal(health.status, 200, `after ${shown(bytes)}: ${health.status} ${health.text}`)
        },
        RUNS,
        named,
      ),
    )
  })

  it('MQTT: random, truncated and malformed packets are closed or answered, the broker still serves, nothing changes', async () => {
    const url = h.server.mqttUrl
    assert.ok(url !== undefined, 'the harness runs without MQTT')
    await expectDatabaseUnchanged(h, () =>
      check(
        [mqttCaseArb(s)],
        async ({ kind, bytes, reply }) => {
          const what = `${kind} ${shown(bytes)}`
          // A complete request is answered on its reply topic, any other complete CONNECT + PUBLISH +
          // PINGREQ by a PINGRESP; anything else is half-closed at once, and the broker must close it.
          const until: ((r: Buffer) => boolean) | undefined =
            reply !== undefined
              ? (r) =>
                  parseBrokerOutput(r).some(
                    (p) =>
                      p.cmd === 'publish' &&
                      (p.topic === `${reply}/accepted` || p.topic === `${reply}/rejected`),
                  )
              : kind === 'publish' && bytes.subarray(-PINGREQ.length).equals(PINGREQ)
                ? (r) => parseBrokerOutput(r).some((p) => p.cmd === 'pingresp')
                : undefined
          const result = await exchange(
            url,
            bytes,
            what,
            until === undefined ? {} : { keepOpen: true, until },
          )
          if (reply !== undefined)
            assert.equal(
              result.closed,
              false,
              `no reply on ${reply}/accepted|rejected to ${what}; got ${shown(result.received)}`,
            )
          parseBrokerOutput(result.received)
          await expectBrokerServes(url, s)
        },
        RUNS,
        namedMqttCases(s),
      ),
    )
  })
})
