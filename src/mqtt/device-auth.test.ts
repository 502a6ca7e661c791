/** Tokens, topic rules and the default of device authentication. [issue 4 §7] */
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, describe, it } from 'node:test'
import {
  DeviceAuth,
  OPERATOR_USERNAME,
  deviceAuthEnabled,
  isLoopback,
  mayPublish,
  maySubscribe,
} from './device-auth.js'

const dir = mkdtempSync(join(tmpdir(), 'fleetjobs-auth-'))
after(() => rmSync(dir, { recursive: true, force: true }))

describe('device tokens', () => {
  it('a generated secret is kept in the data directory (mode 0600) and gives the same tokens again', () => {
    const a = DeviceAuth.load(dir)
    const b = DeviceAuth.load(dir)
    assert.equal(a.tokenFor('t1'), b.tokenFor('t1'))
    assert.notEqual(a.tokenFor('t1'), a.tokenFor('t2'))
    assert.equal(statSync(join(dir, 'mqtt-device-secret')).mode & 0o777, 0o600)
  })

  it('a given secret overrides the file (nodes sharing one broker share it)', () => {
    const shared = DeviceAuth.load(dir, 'shared-secret')
    assert.equal(shared.tokenFor('t1'), DeviceAuth.load(join(dir, 'other'), 'shared-secret').tokenFor('t1'))
    assert.notEqual(shared.tokenFor('t1'), DeviceAuth.load(dir).tokenFor('t1'))
  })

  it('verify names the thing, or the operator, and refuses anything else', () => {
    const auth = DeviceAuth.load(dir)
    assert.deepEqual(auth.verify('t1', Buffer.from(auth.tokenFor('t1'))), { kind: 'thing', thingName: 't1' })
    assert.deepEqual(auth.verify(OPERATOR_USERNAME, Buffer.from(auth.tokenFor(OPERATOR_USERNAME))), {
      kind: 'operator',
    })
    assert.equal(auth.verify('t2', Buffer.from(auth.tokenFor('t1'))), undefined, "another thing's token")
    assert.equal(auth.verify('t1', Buffer.from('')), undefined)
    assert.equal(auth.verify('t1', undefined), undefined)
    assert.equal(auth.verify(undefined, Buffer.from(auth.tokenFor('t1'))), undefined)
  })
})

describe('topic rules', () => {
  const t1 = { kind: 'thing', thingName: 't1' } as const
  it('a device publishes only under $aws/things/{its thing}/', () => {
    assert.equal(mayPublish(t1, '$aws/things/t1/jobs/get'), true)
    assert.equal(mayPublish(t1, '$aws/things/t1/jobs/j/update'), true)
    assert.equal(mayPublish(t1, '$aws/things/t2/jobs/get'), false)
    assert.equal(mayPublish(t1, '$aws/things/t10/jobs/get'), false, 'a name that starts like its own')
    assert.equal(mayPublish(t1, '$aws/things/t1'), false)
    assert.equal(mayPublish(t1, 'anything/else'), false)
    assert.equal(mayPublish(t1, '$aws/events/job/j/completed'), false)
  })

  it('a device subscribes only to filters inside its own topics', () => {
    assert.equal(maySubscribe(t1, '$aws/things/t1/jobs/#'), true)
    assert.equal(maySubscribe(t1, '$aws/things/t1/jobs/+/get/accepted'), true)
    assert.equal(maySubscribe(t1, '$aws/things/+/jobs/#'), false)
    assert.equal(maySubscribe(t1, '$aws/things/t2/jobs/notify'), false)
    assert.equal(maySubscribe(t1, '#'), false)
    assert.equal(maySubscribe(t1, '$share/g/$aws/things/t1/jobs/#'), false)
    assert.equal(maySubscribe(t1, '$aws/events/#'), false)
  })

  it('the operator may use any topic', () => {
    assert.equal(mayPublish({ kind: 'operator' }, 'x/y'), true)
    assert.equal(maySubscribe({ kind: 'operator' }, '#'), true)
  })
})

describe('when authentication is on', () => {
  it('auto: off on loopback, on on any other address; on and off are obeyed', () => {
    for (const host of ['127.0.0.1', '127.1.2.3', 'localhost', '::1', '[::1]']) {
      assert.equal(deviceAuthEnabled('auto', host), false, host)
      assert.equal(deviceAuthEnabled(undefined, host), false, host)
      assert.equal(isLoopback(host), true, host)
    }
    for (const host of ['0.0.0.0', '::', '192.168.1.10', 'devices.example.com']) {
      assert.equal(deviceAuthEnabled('auto', host), true, host)
    }
    assert.equal(deviceAuthEnabled('off', '0.0.0.0'), false)
    assert.equal(deviceAuthEnabled('on', '127.0.0.1'), true)
  })
})
