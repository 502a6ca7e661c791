/**
 * Requests no operation serves, on both planes: unknown paths, known paths with another method,
 * extra or missing segments, an operation of one plane sent to the other; and paths whose
 * percent-encoding is broken. They must be answered (never a hang, never 5xx) and change nothing.
 */
import fc from 'fast-check'
import { after, before, beforeEach, describe, it } from 'node:test'
import type { Harness } from '../support/harness.js'
import { startHarness } from '../support/harness.js'
import type { Seeded } from '../support/bad-input.js'
import { check, expectDatabaseUnchanged, expectRejection, seedState, send } from '../support/bad-input.js'

/** First path segments some operation of this service uses; anything else is unknown. */
const KNOWN_ROOTS = new Set(['things', 'jobs', 'job-templates', 'thing-groups', 'iot-jobs-data'])
const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const

const unknownOperation = { status: 404, type: 'UnknownOperationException' } as const

describe('Unknown operations and broken paths [spec: wire-protocol#5.5] [spec: wire-protocol#1] [spec: wire-protocol#2.1]', () => {
  let h: Harness
  let s: Seeded
  before(async () => {
    h = await startHarness()
  })
  after(async () => {
    await h.close()
  })
  beforeEach(async () => {
    s = await seedState(h)
  })

  const segmentArb = fc
    .oneof(
      fc.stringMatching(/^[a-zA-Z0-9_~-][a-zA-Z0-9._~-]{0,11}$/),
      fc.string({ unit: 'grapheme', minLength: 1, maxLength: 8 }).map(encodeURIComponent),
    )
    .filter((seg) => !/^\.+$/.test(seg) && !/^%2e/i.test(seg))

  it('answers 404 UnknownOperationException for paths under an unknown root, with any method, on both planes [spec: wire-protocol#5.5]', async () => {
    await expectDatabaseUnchanged(h, () =>
      check(
        [
          fc.constantFrom('controlPlane', 'dataPlane', 'prefixed'),
          fc.constantFrom(...METHODS),
          fc.array(segmentArb, { minLength: 1, maxLength: 4 }).filter((segs) => !KNOWN_ROOTS.has(segs[0]!)),
          fc.option(fc.constant('{}'), { nil: undefined }),
        ],
        async (plane, method, segments, body) => {
          const base =
            plane === 'controlPlane'
              ? h.server.url
              : plane === 'dataPlane'
                ? h.server.dataPlaneUrl
                : `${h.server.url}/iot-jobs-data`
          const reply = await send(
            base,
            method,
            `/${segments.join('/')}`,
            body === undefined || method === 'GET' ? {} : { body },
          )
          expectRejection(reply, unknownOperation)
        },
        200,
      ),
    )
  })

  it('answers 404 UnknownOperationException for known paths with another method, extra or missing segments, or the other plane [spec: wire-protocol#1] [spec: wire-protocol#5.5]', async () => {
    // Every label names the seeded resources, so any of these that were served would change them.
    const controlPlane = (t: string, j: string): [string, string][] => [
      ['POST', '/jobs'],
      ['DELETE', '/things'],
      ['PUT', `/things/${t}/jobs`],
      ['POST', `/jobs/${j}/job-document`],
      ['DELETE', `/jobs/${j}/things`],
      ['GET', `/things/${t}/jobs/${j}/cancel`],
      ['POST', `/things/${t}/jobs/${j}/executionNumber/1`],
      ['GET', `/jobs/${j}/job-document/extra`],
      ['DELETE', `/things/${t}/jobs/${j}/executionNumber`],
      ['DELETE', `/things/${t}/jobs/${j}/executionNumber/1/extra`],
      // Data-plane operations are not control-plane operations.
      ['POST', `/things/${t}/jobs/${j}`],
      ['PUT', `/things/${t}/jobs/$next`],
    ]
    const dataPlane = (t: string, j: string): [string, string][] => [
      ['GET', '/jobs'],
      ['GET', `/things/${t}`],
      ['POST', `/things/${t}`],
      ['DELETE', `/things/${t}/jobs/${j}/executionNumber/1`],
      ['PUT', `/things/${t}/jobs/${j}/cancel`],
      ['POST', `/things/${t}/jobs`],
      ['GET', `/things/${t}/jobs/$next/extra`],
      ['PATCH', `/things/${t}/jobs/${j}`],
      ['DELETE', `/things/${t}/jobs/${j}`],
      ['PUT', `/jobs/${j}`],
    ]
    await expectDatabaseUnchanged(h, async () => {
      for (const [method, path] of controlPlane(s.queuedThing, s.queuedJob)) {
        const body = method === 'GET' || method === 'DELETE' ? {} : { body: '{"status":"SUCCEEDED"}' }
        expectRejection(await send(h.server.url, method, path, body), unknownOperation)
      }
      for (const base of [h.server.dataPlaneUrl, `${h.server.url}/iot-jobs-data`]) {
        for (const [method, path] of dataPlane(s.queuedThing, s.queuedJob)) {
          const body =
            method === 'GET' || method === 'DELETE' ? {} : { body: '{"targets":[],"document":"{}"}' }
          expectRejection(await send(base, method, path, body), unknownOperation)
        }
      }
    })
  })

  it('answers 400 InvalidRequestException for a path label whose percent-encoding is broken [spec: wire-protocol#2.1]', async () => {
    const brokenEscape = fc.constantFrom(
      '%',
      '%Z',
      '%ZZ',
      '%4',
      '%G1',
      '%C0%AF',
      '%FF',
      '%ED%A0%80',
      '%E0%A4%A',
      '%F0%9F%98',
    )
    const paths = (t: string, j: string, broken: string): [string, string, string][] => [
      ['cp', 'GET', `/things/${t}${broken}`],
      ['cp', 'GET', `/jobs/${j}${broken}`],
      ['cp', 'GET', `/jobs/${j}${broken}/job-document`],
      ['cp', 'PUT', `/things/${t}/jobs/${j}${broken}/cancel`],
      ['cp', 'DELETE', `/things/${t}/jobs/${j}/executionNumber/1${broken}`],
      ['dp', 'GET', `/things/${t}${broken}/jobs`],
      ['dp', 'PUT', `/things/${t}${broken}/jobs/$next`],
      ['dp', 'POST', `/things/${t}/jobs/${j}${broken}`],
    ]
    await expectDatabaseUnchanged(h, () =>
      check(
        [fc.nat({ max: 7 }), brokenEscape],
        async (i, broken) => {
          const [plane, method, path] = paths(s.queuedThing, s.queuedJob, broken)[i]!
          const base = plane === 'cp' ? h.server.url : h.server.dataPlaneUrl
          const body = method === 'GET' || method === 'DELETE' ? {} : { body: '{"status":"SUCCEEDED"}' }
          expectRejection(await send(base, method, path, body))
        },
        80,
      ),
    )
  })

  it('answers 400 naming the parameter for query values whose percent-encoding is broken [spec: wire-protocol#2.2]', async () => {
    const brokenEscape = fc.constantFrom('%', '%Z', '%ZZ', '%4', '%C0%AF', '%FF')
    await expectDatabaseUnchanged(h, () =>
      check(
        [
          fc.constantFrom(
            ['/things', 'maxResults'],
            ['/jobs', 'nextToken'],
            ['/jobs/JOB/things', 'status'],
            ['/things/THING/jobs', 'jobId'],
          ),
          fc.stringMatching(/^[a-z0-9]{0,4}$/),
          brokenEscape,
        ],
        async ([path, name], prefix, broken) => {
          const resolved = path.replace('JOB', s.queuedJob).replace('THING', s.queuedThing)
          expectRejection(await send(h.server.url, 'GET', `${resolved}?${name}=${prefix}${broken}`), {
            names: name,
          })
        },
        60,
      ),
    )
  })
})
