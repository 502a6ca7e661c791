/**
 * Things and their certificates through the real AWS SDK: AttachThingPrincipal, DetachThingPrincipal,
 * ListThingPrincipals, ListPrincipalThings (the principal travels in the `x-amzn-principal` header), and
 * DeleteThing refused while a certificate is attached. docs/compatibility.md#certificates.
 * [aws: iot certificates]
 */
import {
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreateThingCommand,
  DeleteCertificateCommand,
  DeleteThingCommand,
  DescribeThingCommand,
  DetachThingPrincipalCommand,
  ListPrincipalThingsCommand,
  ListThingPrincipalsCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { raw, startHarness, unique } from '../../support/harness.js'
import { certArnOf } from '../../support/certificates.js'
import { expectError, makeThings, walk } from '../../support/registry.js'

let h: Harness
before(async () => {
  h = await startHarness()
})
after(async () => {
  await h.close()
})

const newCertificate = async () => {
  const out = await h.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }))
  return { id: out.certificateId ?? '', arn: out.certificateArn ?? '' }
}

const attach = (thingName: string, principal: string) =>
  h.iot.send(new AttachThingPrincipalCommand({ thingName, principal }))
const detach = (thingName: string, principal: string) =>
  h.iot.send(new DetachThingPrincipalCommand({ thingName, principal }))

const principalsOf = async (thingName: string) =>
  (
    await walk(async (nextToken) => {
      const out = await h.iot.send(new ListThingPrincipalsCommand({ thingName, maxResults: 2, nextToken }))
      return { items: out.principals ?? [], nextToken: out.nextToken }
    })
  ).items

const thingsOf = async (principal: string) =>
  (
    await walk(async (nextToken) => {
      const out = await h.iot.send(new ListPrincipalThingsCommand({ principal, maxResults: 2, nextToken }))
      return { items: out.things ?? [], nextToken: out.nextToken }
    })
  ).items

describe('AttachThingPrincipal [aws: AttachThingPrincipal]', () => {
  it('attaches a certificate to things and things to a certificate; both lists show it; again is a success', async () => {
    const [t1, t2, t3] = await makeThings(h, 3)
    const a = await newCertificate()
    const b = await newCertificate()
    for (const thingName of [t3!, t1!, t2!]) {
      const out = await attach(thingName, a.arn)
      assert.equal(out.$metadata.httpStatusCode, 200)
    }
    await attach(t1!, b.arn)
    await attach(t1!, a.arn)
    assert.deepEqual(await thingsOf(a.arn), [t1, t2, t3].sort())
    assert.deepEqual(await principalsOf(t1!), [a.arn, b.arn].sort())
    assert.deepEqual(await thingsOf(b.arn), [t1])
  })

  it('an unknown thing is ResourceNotFoundException (404) naming it', async () => {
    const c = await newCertificate()
    const thingName = unique('missing')
    await expectError(attach(thingName, c.arn), 'ResourceNotFoundException', 404, [thingName])
  })

  it('an unknown certificate is ResourceNotFoundException (404) naming it; nothing is attached', async () => {
    const [thingName] = await makeThings(h, 1)
    const id = '9'.repeat(64)
    await expectError(attach(thingName!, certArnOf(id)), 'ResourceNotFoundException', 404, [id])
    assert.deepEqual(await principalsOf(thingName!), [])
  })

  for (const [what, principal] of [
    ['a certificate ARN of another account', `arn:aws:iot:us-east-1:999999999999:cert/${'a'.repeat(64)}`],
    ['a certificate ARN of another region', `arn:aws:iot:eu-west-1:123456789012:cert/${'a'.repeat(64)}`],
    ['a Cognito identity', 'us-east-1:6f1c7d2e-8a4b-4f6e-9d1a-2b3c4d5e6f70'],
    ['a CA certificate ARN', `arn:aws:iot:us-east-1:123456789012:cacert/${'a'.repeat(64)}`],
    ['a short certificate id', 'arn:aws:iot:us-east-1:123456789012:cert/abc'],
  ] as const) {
    it(`${what} is InvalidRequestException (400) naming principal`, async () => {
      const [thingName] = await makeThings(h, 1)
      await expectError(attach(thingName!, principal), 'InvalidRequestException', 400, [
        'principal',
        principal,
      ])
    })
  }

  it('without the x-amzn-principal header: InvalidRequestException naming principal', async () => {
    const [thingName] = await makeThings(h, 1)
    const r = await raw(h.server.url, 'PUT', `/things/${thingName}/principals`)
    assert.equal(r.status, 400)
    assert.equal(r.headers.get('x-amzn-errortype'), 'InvalidRequestException')
    assert.match(String(r.json['message']), /principal/)
  })

  it('the principal comes from the header, not the body', async () => {
    const [thingName] = await makeThings(h, 1)
    const c = await newCertificate()
    const body = await raw(
      h.server.url,
      'PUT',
      `/things/${thingName}/principals`,
      JSON.stringify({ principal: c.arn }),
    )
    assert.equal(body.status, 400)
    const header = await raw(h.server.url, 'PUT', `/things/${thingName}/principals`, undefined, {
      'x-amzn-principal': c.arn,
    })
    assert.equal(header.status, 200)
    assert.deepEqual(await principalsOf(thingName!), [c.arn])
  })

  it('an INACTIVE or REVOKED certificate can be attached', async () => {
    const [thingName] = await makeThings(h, 1)
    const c = await newCertificate()
    await h.iot.send(new UpdateCertificateCommand({ certificateId: c.id, newStatus: 'REVOKED' }))
    await attach(thingName!, c.arn)
    assert.deepEqual(await principalsOf(thingName!), [c.arn])
  })
})

describe('DetachThingPrincipal [aws: DetachThingPrincipal]', () => {
  it('detaches one attachment; the others stay; detaching again is a success', async () => {
    const [t1, t2] = await makeThings(h, 2)
    const c = await newCertificate()
    await attach(t1!, c.arn)
    await attach(t2!, c.arn)
    const out = await detach(t1!, c.arn)
    assert.equal(out.$metadata.httpStatusCode, 200)
    assert.deepEqual(await thingsOf(c.arn), [t2])
    assert.deepEqual(await principalsOf(t1!), [])
    await detach(t1!, c.arn)
  })

  it('an unknown thing is ResourceNotFoundException (404) naming it; a bad principal is InvalidRequestException', async () => {
    const c = await newCertificate()
    const thingName = unique('missing')
    await expectError(detach(thingName, c.arn), 'ResourceNotFoundException', 404, [thingName])
    const [existing] = await makeThings(h, 1)
    await expectError(detach(existing!, 'not-an-arn'), 'InvalidRequestException', 400, ['principal'])
  })
})

describe('ListThingPrincipals and ListPrincipalThings [aws: ListThingPrincipals] [aws: ListPrincipalThings]', () => {
  it('page with maxResults and nextToken, in id and name order, without repeats', async () => {
    const things = await makeThings(h, 5)
    const certs = [await newCertificate(), await newCertificate(), await newCertificate()]
    for (const t of things) await attach(t, certs[0]!.arn)
    for (const c of certs) await attach(things[0]!, c.arn)
    const pages = await walk(async (nextToken) => {
      const out = await h.iot.send(
        new ListPrincipalThingsCommand({ principal: certs[0]!.arn, maxResults: 2, nextToken }),
      )
      return { items: out.things ?? [], nextToken: out.nextToken }
    })
    assert.deepEqual(pages.sizes, [2, 2, 1])
    assert.deepEqual(pages.items, [...things].sort())
    const principals = await walk(async (nextToken) => {
      const out = await h.iot.send(
        new ListThingPrincipalsCommand({ thingName: things[0]!, maxResults: 1, nextToken }),
      )
      return { items: out.principals ?? [], nextToken: out.nextToken }
    })
    assert.deepEqual(principals.sizes, [1, 1, 1])
    assert.deepEqual(principals.items, certs.map((c) => c.arn).sort())
  })

  it('a thing without certificates lists none; an unknown thing is ResourceNotFoundException (404) naming it', async () => {
    const [thingName] = await makeThings(h, 1)
    const out = await h.iot.send(new ListThingPrincipalsCommand({ thingName }))
    assert.deepEqual(out.principals, [])
    assert.equal(out.nextToken, undefined)
    const missing = unique('missing')
    await expectError(
      h.iot.send(new ListThingPrincipalsCommand({ thingName: missing })),
      'ResourceNotFoundException',
      404,
      [missing],
    )
  })

  it('a certificate without things lists none; an unknown certificate is ResourceNotFoundException naming it', async () => {
    const c = await newCertificate()
    assert.deepEqual((await h.iot.send(new ListPrincipalThingsCommand({ principal: c.arn }))).things, [])
    const id = '8'.repeat(64)
    await expectError(
      h.iot.send(new ListPrincipalThingsCommand({ principal: certArnOf(id) })),
      'ResourceNotFoundException',
      404,
      [id],
    )
    await expectError(
      h.iot.send(new ListPrincipalThingsCommand({ principal: 'arn:aws:iam::123456789012:user/alice' })),
      'InvalidRequestException',
      400,
      ['principal'],
    )
  })

  it('a nextToken of another thing or a forged one is InvalidRequestException naming nextToken; maxResults 251 names maxResults', async () => {
    const [t1, t2] = await makeThings(h, 2)
    for (const c of [await newCertificate(), await newCertificate()]) await attach(t1!, c.arn)
    const first = await h.iot.send(new ListThingPrincipalsCommand({ thingName: t1!, maxResults: 1 }))
    assert.ok(first.nextToken !== undefined)
    await expectError(
      h.iot.send(new ListThingPrincipalsCommand({ thingName: t2!, nextToken: first.nextToken })),
      'InvalidRequestException',
      400,
      ['nextToken'],
    )
    await expectError(
      h.iot.send(new ListThingPrincipalsCommand({ thingName: t1!, nextToken: 'forged' })),
      'InvalidRequestException',
      400,
      ['nextToken'],
    )
    await expectError(
      h.iot.send(new ListThingPrincipalsCommand({ thingName: t1!, maxResults: 251 })),
      'InvalidRequestException',
      400,
      ['maxResults'],
    )
  })
})

describe('DeleteThing and DeleteCertificate with attachments [aws: DeleteThing]', () => {
  it('DeleteThing is refused while a certificate is attached (InvalidRequestException, AWS message); detached, it goes', async () => {
    const [thingName] = await makeThings(h, 1)
    const c = await newCertificate()
    await attach(thingName!, c.arn)
    await expectError(h.iot.send(new DeleteThingCommand({ thingName })), 'InvalidRequestException', 400, [
      `Cannot delete. Thing ${thingName} is still attached to one or more principals`,
    ])
    assert.equal((await h.iot.send(new DescribeThingCommand({ thingName }))).thingName, thingName)
    await detach(thingName!, c.arn)
    await h.iot.send(new DeleteThingCommand({ thingName }))
    await expectError(h.iot.send(new DescribeThingCommand({ thingName })), 'ResourceNotFoundException', 404)
    // The certificate is untouched, and a thing of the same name starts with no principals.
    await h.iot.send(new CreateThingCommand({ thingName }))
    assert.deepEqual(await principalsOf(thingName!), [])
    assert.deepEqual(await thingsOf(c.arn), [])
  })

  it('a deleted certificate leaves no attachment behind (it had to be detached first)', async () => {
    const [thingName] = await makeThings(h, 1)
    const c = await newCertificate()
    await attach(thingName!, c.arn)
    await detach(thingName!, c.arn)
    await h.iot.send(new UpdateCertificateCommand({ certificateId: c.id, newStatus: 'INACTIVE' }))
    await h.iot.send(new DeleteCertificateCommand({ certificateId: c.id }))
    await expectError(attach(thingName!, c.arn), 'ResourceNotFoundException', 404, [c.id])
    await h.iot.send(new DeleteThingCommand({ thingName }))
  })
})
