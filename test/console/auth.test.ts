/**
 * The console's login (docs/console.md#login): required when HTTP requests must be SigV4-signed (an
 * access key id and its secret) or the embedded broker authenticates devices (the MQTT operator's
 * username and token); a signed, HttpOnly, SameSite=Strict session cookie afterwards; 401 without it;
 * the CSRF header on every call but GET; sign-out. In the browser too.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import { ListThingsCommand } from '@aws-sdk/client-iot'
import { OPERATOR_USERNAME } from '../../src/mqtt/device-auth.js'
import { DeviceAuth } from '../../src/mqtt/device-auth.js'
import type { Harness } from '../support/harness.js'
import { raw, sdkCredentials, startHarness } from '../support/harness.js'
import type { HeadlessBrowser } from './browser.js'
import { launchBrowser } from './browser.js'

const CSRF = { 'x-fleetjobs-console': '1' }
const KEY_ID = sdkCredentials.accessKeyId
const SECRET = sdkCredentials.secretAccessKey

/** Signs in through the API; returns the cookie (name=value) and the Set-Cookie header. */
async function signIn(url: string, username: string, password: string) {
  const res = await raw(url, 'POST', '/console/api/session', JSON.stringify({ username, password }), CSRF)
  const setCookie = res.headers.get('set-cookie') ?? ''
  return { res, setCookie, cookie: setCookie.split(';')[0] ?? '' }
}

describe('console login with SigV4 access keys', () => {
  let h: Harness
  let browser: HeadlessBrowser
  before(async () => {
    h = await startHarness({ auth: { mode: 'sigv4', credentials: new Map([[KEY_ID, SECRET]]) } })
    browser = await launchBrowser()
  })
  after(async () => {
    await browser?.close()
    await h?.close()
  })

  it('the API answers 401 without a session, and says how to sign in', async () => {
    assert.equal(h.server.console?.loginMethods.join(), 'access-key')
    const session = await raw(h.server.url, 'GET', '/console/api/session')
    assert.deepEqual(session.json, { loginRequired: true, methods: ['access-key'] })
    for (const [method, path] of [
      ['GET', '/console/api/jobs'],
      ['GET', '/console/api/events'],
      ['POST', '/console/api/aws/ListThings'],
    ] as const) {
      const res = await raw(h.server.url, method, path, method === 'POST' ? '{}' : undefined, CSRF)
      assert.equal(res.status, 401, `${method} ${path}`)
      assert.equal(res.headers.get('x-amzn-errortype'), 'UnauthorizedException')
    }
    // The page itself holds no data: served without a login.
    assert.equal((await fetch(`${h.server.url}/console/`)).status, 200)
    // The AWS API still wants signatures (the SDK signs).
    await h.iot.send(new ListThingsCommand({}))
  })

  it('refuses a wrong secret, an unknown key and a sign-in without the CSRF header', async () => {
    for (const [username, password] of [
      [KEY_ID, 'wrong'],
      ['AKIDUNKNOWN', SECRET],
      [KEY_ID, `${SECRET}x`],
    ]) {
      const { res, setCookie } = await signIn(h.server.url, username!, password!)
      assert.equal(res.status, 401, `${username}/${password}`)
      assert.equal(res.headers.get('x-amzn-errortype'), 'UnauthorizedException')
      assert.equal(setCookie, '')
    }
    const noHeader = await raw(
      h.server.url,
      'POST',
      '/console/api/session',
      JSON.stringify({ username: KEY_ID, password: SECRET }),
    )
    assert.equal(noHeader.status, 403)
  })

  it('a good sign-in sets a strict HttpOnly cookie that opens the API; CSRF header still needed; sign-out', async () => {
    const { res, setCookie, cookie } = await signIn(h.server.url, KEY_ID, SECRET)
    assert.equal(res.status, 200)
    assert.equal(res.json['user'], KEY_ID)
    assert.match(setCookie, /HttpOnly/)
    assert.match(setCookie, /SameSite=Strict/)
    assert.match(setCookie, /Path=\/console/)
    assert.match(setCookie, /Max-Age=43200/)
    const jobs = await raw(h.server.url, 'GET', '/console/api/jobs', undefined, { cookie })
    assert.equal(jobs.status, 200)
    const noCsrf = await raw(h.server.url, 'POST', '/console/api/aws/ListThings', '{}', { cookie })
    assert.equal(noCsrf.status, 403)
    assert.equal(noCsrf.headers.get('x-amzn-errortype'), 'AccessDeniedException')
    const withCsrf = await raw(h.server.url, 'POST', '/console/api/aws/ListThings', '{}', { cookie, ...CSRF })
    assert.equal(withCsrf.status, 200)
    const events = await fetch(`${h.server.url}/console/api/events`, { headers: { cookie } })
    assert.equal(events.status, 200)
    await events.body?.cancel()
    // A cookie changed by a single character is refused.
    const [name, value] = cookie.split('=') as [string, string]
    const forged = `${name}=${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`
    assert.equal(
      (await raw(h.server.url, 'GET', '/console/api/jobs', undefined, { cookie: forged })).status,
      401,
    )
    const payload = JSON.parse(Buffer.from(value.split('.')[0]!, 'base64url').toString()) as { u: string }
    assert.equal(payload.u, KEY_ID)
    const out = await raw(h.server.url, 'DELETE', '/console/api/session', undefined, { cookie, ...CSRF })
    assert.equal(out.status, 200)
    assert.match(out.headers.get('set-cookie') ?? '', /Max-Age=0/)
  })

  it('in the browser: the login form, a wrong secret refused, then the jobs page', async () => {
    const { context, page } = await browser.page()
    try {
      await page.goto(`${h.server.url}/console/`)
      await page.getByRole('form', { name: 'sign in' }).waitFor()
      await page.locator('input[name=username]').fill(KEY_ID)
      await page.locator('input[name=password]').fill('not the secret')
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('alert').getByText('the username or the password is wrong').waitFor()
      await page.locator('input[name=password]').fill(SECRET)
      await page.getByRole('button', { name: 'Sign in' }).click()
      await page.getByRole('heading', { name: 'Jobs' }).waitFor()
      await page.locator('[data-live=live]').waitFor()
      const cookies = await context.cookies()
      const session = cookies.find((c) => c.name === 'fleetjobs_console')
      assert.equal(session?.httpOnly, true)
      assert.equal(session?.sameSite, 'Strict')
      await page.getByRole('button', { name: 'Sign out' }).click()
      await page.getByRole('form', { name: 'sign in' }).waitFor()
    } finally {
      await context.close()
    }
  })
})

describe('console login with the MQTT operator token', () => {
  it('takes the operator username and token when the broker authenticates devices', async () => {
    const h = await startHarness({ mqtt: { port: 0, auth: 'on' } })
    try {
      assert.equal(h.server.console?.loginMethods.join(), 'operator')
      const token = DeviceAuth.load(h.dataDir).tokenFor(OPERATOR_USERNAME)
      const wrong = await signIn(
        h.server.url,
        OPERATOR_USERNAME,
        DeviceAuth.load(h.dataDir).tokenFor('thing-1'),
      )
      assert.equal(wrong.res.status, 401)
      // A device's own token is not the operator's.
      const device = await signIn(h.server.url, 'thing-1', DeviceAuth.load(h.dataDir).tokenFor('thing-1'))
      assert.equal(device.res.status, 401)
      const { res, cookie } = await signIn(h.server.url, OPERATOR_USERNAME, token)
      assert.equal(res.status, 200)
      assert.equal((await raw(h.server.url, 'GET', '/console/api/jobs', undefined, { cookie })).status, 200)
    } finally {
      await h.close()
    }
  })
})
