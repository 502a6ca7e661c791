import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Route } from './route.js'
import { hrefOf, parseRoute, sectionOf } from './route.js'

describe('console routes', () => {
  it('parses every page and gives back its hash', () => {
    const cases: [string, Route][] = [
      ['', { page: 'jobs' }],
      ['#', { page: 'jobs' }],
      ['#/', { page: 'jobs' }],
      ['#/jobs', { page: 'jobs' }],
      ['#/jobs/', { page: 'jobs' }],
      ['#/jobs/fw-1', { page: 'job', jobId: 'fw-1' }],
      ['#/things/t%3A1', { page: 'thing', thingName: 't:1' }],
      ['#/groups', { page: 'groups' }],
      ['#/groups/fleet', { page: 'group', groupName: 'fleet' }],
      ['#/templates/tpl', { page: 'template', templateId: 'tpl' }],
    ]
    for (const [hash, route] of cases) {
      assert.deepEqual(parseRoute(hash), route, hash)
      assert.deepEqual(parseRoute(hrefOf(route)), route, `round trip of ${hash}`)
    }
  })

  it('sends anything else to not-found, never throws', () => {
    for (const hash of ['#/nope', '#/jobs/a/b', '#/jobs/%E0%A4%A', '#/jobs/%20x/extra', '#/things/%']) {
      assert.equal(parseRoute(hash).page, 'not-found', hash)
    }
  })

  it('names the section of each page', () => {
    assert.equal(sectionOf({ page: 'job', jobId: 'x' }), 'jobs')
    assert.equal(sectionOf({ page: 'thing', thingName: 'x' }), 'things')
    assert.equal(sectionOf({ page: 'not-found', hash: '#/x' }), undefined)
  })
})
