/**
 * ListCertificates, ListCertificatesByCA and ListCACertificates through the real AWS SDK: creation
 * order both ways, `pageSize`/`marker`/`nextMarker` walks at several page sizes, filters, and bad
 * input. Each test has a server of its own, so it sees the whole registry. [aws: ListCertificates]
 */
import {
  CreateKeysAndCertificateCommand,
  ListCACertificatesCommand,
  ListCertificatesByCACommand,
  ListCertificatesCommand,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  UpdateCertificateCommand,
} from '@aws-sdk/client-iot'
import type { CACertificate, Certificate } from '@aws-sdk/client-iot'
import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import type { Harness } from '../../support/harness.js'
import { startHarness } from '../../support/harness.js'
import { caCertArnOf, certArnOf, issueDevice, makeCA, verificationFor } from '../../support/certificates.js'
import { expectError, walk } from '../../support/registry.js'

async function withFreshServer(test: (h: Harness) => Promise<void>): Promise<void> {
  const h = await startHarness()
  try {
    await test(h)
  } finally {
    await h.close()
  }
}

/** The model's Marker pattern: standard base64. */
const MARKER = /^[A-Za-z0-9+/]+={0,2}$/

const byCreation = (
  a: { creationDate?: Date | undefined; certificateId?: string | undefined },
  b: { creationDate?: Date | undefined; certificateId?: string | undefined },
): number =>
  (a.creationDate?.getTime() ?? 0) - (b.creationDate?.getTime() ?? 0) ||
  (a.certificateId ?? '').localeCompare(b.certificateId ?? '')

async function walkCertificates(
  h: Harness,
  pageSize: number,
  ascendingOrder: boolean | undefined,
  caCertificateId?: string,
): Promise<{ items: Certificate[]; sizes: number[] }> {
  return walk(async (marker) => {
    const out =
      caCertificateId === undefined
        ? await h.iot.send(new ListCertificatesCommand({ pageSize, marker, ascendingOrder }))
        : await h.iot.send(
            new ListCertificatesByCACommand({ caCertificateId, pageSize, marker, ascendingOrder }),
          )
    if (out.nextMarker !== undefined) assert.match(out.nextMarker, MARKER)
    return { items: out.certificates ?? [], nextToken: out.nextMarker }
  })
}

describe('ListCertificates [aws: ListCertificates]', () => {
  it('an empty registry lists no certificates and no nextMarker', async () => {
    await withFreshServer(async (h) => {
      const out = await h.iot.send(new ListCertificatesCommand({}))
      assert.deepEqual(out.certificates, [])
      assert.equal(out.nextMarker, undefined)
    })
  })

  it('newest first, oldest first with isAscendingOrder; items carry ARN, id, status, mode, creationDate; walks at several page sizes', async () => {
    await withFreshServer(async (h) => {
      const ids: string[] = []
      for (let i = 0; i < 7; i++) {
        const out = await h.iot.send(new CreateKeysAndCertificateCommand({ setAsActive: i % 2 === 0 }))
        ids.push(out.certificateId ?? '')
      }
      await h.iot.send(new UpdateCertificateCommand({ certificateId: ids[1]!, newStatus: 'REVOKED' }))
      const all = (await walkCertificates(h, 250, true)).items
      assert.equal(all.length, 7)
      const ascending = [...all].sort(byCreation)
      assert.deepEqual(all, ascending)
      const first = all.find((c) => c.certificateId === ids[0])
      assert.deepEqual(Object.keys(first ?? {}).sort(), [
        'certificateArn',
        'certificateId',
        'certificateMode',
        'creationDate',
        'status',
      ])
      assert.equal(first?.certificateArn, certArnOf(ids[0]!))
      assert.equal(first?.status, 'ACTIVE')
      assert.equal(all.find((c) => c.certificateId === ids[1])?.status, 'REVOKED')
      for (const pageSize of [1, 2, 3, 7, 8]) {
        const up = await walkCertificates(h, pageSize, true)
        assert.deepEqual(
          up.items.map((c) => c.certificateId),
          ascending.map((c) => c.certificateId),
        )
        assert.equal(up.sizes.length, Math.max(1, Math.ceil(7 / pageSize)))
        for (const order of [false, undefined]) {
          const down = await walkCertificates(h, pageSize, order)
          assert.deepEqual(
            down.items.map((c) => c.certificateId),
            ascending.map((c) => c.certificateId).reverse(),
          )
        }
      }
    })
  })

  it('a marker walk neither skips nor repeats while certificates are added', async () => {
    await withFreshServer(async (h) => {
      for (let i = 0; i < 4; i++) await h.iot.send(new CreateKeysAndCertificateCommand({}))
      const seen = await walk(
        async (marker) => {
          const out = await h.iot.send(
            new ListCertificatesCommand({ pageSize: 2, marker, ascendingOrder: true }),
          )
          return { items: out.certificates ?? [], nextToken: out.nextMarker }
        },
        { between: async () => void (await h.iot.send(new CreateKeysAndCertificateCommand({}))) },
      )
      const ids = seen.items.map((c) => c.certificateId)
      assert.equal(new Set(ids).size, ids.length)
      // Newer certificates come after the cursor, so the walk sees every one of them too.
      assert.equal(ids.length, 4 + seen.pages - 1)
    })
  })

  it('a marker of the other order or of another operation, a forged marker, and pageSize 0 or 251 are InvalidRequestException naming marker or pageSize', async () => {
    await withFreshServer(async (h) => {
      const ca = await makeCA()
      await h.iot.send(
        new RegisterCACertificateCommand({
          caCertificate: ca.pem,
          verificationCertificate: await verificationFor(ca),
          setAsActive: true,
        }),
      )
      for (let i = 0; i < 3; i++)
        await h.iot.send(
          new RegisterCertificateCommand({ certificatePem: (await issueDevice(ca)).pem, setAsActive: true }),
        )
      const page = await h.iot.send(new ListCertificatesCommand({ pageSize: 1, ascendingOrder: true }))
      const marker = page.nextMarker
      assert.ok(marker !== undefined)
      for (const call of [
        h.iot.send(new ListCertificatesCommand({ pageSize: 1, marker })),
        h.iot.send(new ListCertificatesByCACommand({ caCertificateId: ca.id, marker, ascendingOrder: true })),
        h.iot.send(new ListCACertificatesCommand({ marker, ascendingOrder: true })),
        h.iot.send(new ListCertificatesCommand({ marker: 'Zm9yZ2Vk' })),
      ])
        await expectError(call, 'InvalidRequestException', 400, ['marker'])
      await expectError(
        h.iot.send(new ListCertificatesCommand({ marker: 'not base64!' })),
        'InvalidRequestException',
        400,
        ['marker'],
      )
      for (const pageSize of [0, 251])
        await expectError(
          h.iot.send(new ListCertificatesCommand({ pageSize })),
          'InvalidRequestException',
          400,
          ['pageSize'],
        )
    })
  })
})

describe('ListCertificatesByCA [aws: ListCertificatesByCA]', () => {
  it("lists exactly the CA's certificates, in both orders, at several page sizes; an unknown CA lists none", async () => {
    await withFreshServer(async (h) => {
      const cas = [await makeCA(), await makeCA()]
      for (const ca of cas)
        await h.iot.send(
          new RegisterCACertificateCommand({
            caCertificate: ca.pem,
            certificateMode: 'SNI_ONLY',
            setAsActive: true,
          }),
        )
      const mine: string[] = []
      for (let i = 0; i < 5; i++) {
        for (const [n, ca] of cas.entries()) {
          const device = await issueDevice(ca)
          await h.iot.send(new RegisterCertificateCommand({ certificatePem: device.pem }))
          if (n === 0) mine.push(device.id)
        }
      }
      await h.iot.send(new CreateKeysAndCertificateCommand({}))
      const ca = cas[0]!
      const all = (await walkCertificates(h, 250, true, ca.id)).items
      assert.deepEqual(all.map((c) => c.certificateId).sort(), [...mine].sort())
      assert.deepEqual(all, [...all].sort(byCreation))
      for (const pageSize of [1, 2, 5]) {
        assert.deepEqual(
          (await walkCertificates(h, pageSize, true, ca.id)).items.map((c) => c.certificateId),
          all.map((c) => c.certificateId),
        )
        assert.deepEqual(
          (await walkCertificates(h, pageSize, false, ca.id)).items.map((c) => c.certificateId),
          all.map((c) => c.certificateId).reverse(),
        )
      }
      const none = await h.iot.send(new ListCertificatesByCACommand({ caCertificateId: 'a'.repeat(64) }))
      assert.deepEqual(none.certificates, [])
      await expectError(
        h.iot.send(new ListCertificatesByCACommand({ caCertificateId: 'xyz' })),
        'InvalidRequestException',
        400,
        ['caCertificateId'],
      )
    })
  })
})

describe('ListCACertificates [aws: ListCACertificates]', () => {
  it('newest first or oldest first, items with ARN, id, status, creationDate; templateName keeps matching ones; walks', async () => {
    await withFreshServer(async (h) => {
      const registered: { id: string; template: string | undefined }[] = []
      for (let i = 0; i < 6; i++) {
        const ca = await makeCA()
        const template = i % 2 === 0 ? 'provision-a' : i === 3 ? 'provision-b' : undefined
        await h.iot.send(
          new RegisterCACertificateCommand({
            caCertificate: ca.pem,
            certificateMode: 'SNI_ONLY',
            setAsActive: i === 0,
            ...(template === undefined ? {} : { registrationConfig: { templateName: template } }),
          }),
        )
        registered.push({ id: ca.id, template })
      }
      const walkCAs = async (pageSize: number, ascendingOrder?: boolean, templateName?: string) =>
        walk(async (marker) => {
          const out = await h.iot.send(
            new ListCACertificatesCommand({ pageSize, marker, ascendingOrder, templateName }),
          )
          if (out.nextMarker !== undefined) assert.match(out.nextMarker, MARKER)
          return { items: out.certificates ?? [], nextToken: out.nextMarker }
        })
      const all: CACertificate[] = (await walkCAs(250, true)).items
      assert.deepEqual(all, [...all].sort(byCreation))
      assert.deepEqual(all.map((c) => c.certificateId).sort(), registered.map((r) => r.id).sort())
      const first = all.find((c) => c.certificateId === registered[0]!.id)
      assert.deepEqual(Object.keys(first ?? {}).sort(), [
        'certificateArn',
        'certificateId',
        'creationDate',
        'status',
      ])
      assert.equal(first?.certificateArn, caCertArnOf(registered[0]!.id))
      assert.equal(first?.status, 'ACTIVE')
      const order = all.map((c) => c.certificateId)
      for (const pageSize of [1, 2, 4]) {
        assert.deepEqual(
          (await walkCAs(pageSize, true)).items.map((c) => c.certificateId),
          order,
        )
        assert.deepEqual(
          (await walkCAs(pageSize)).items.map((c) => c.certificateId),
          [...order].reverse(),
        )
        const a = await walkCAs(pageSize, true, 'provision-a')
        assert.deepEqual(
          a.items.map((c) => c.certificateId),
          order.filter((id) => registered.find((r) => r.id === id)?.template === 'provision-a'),
        )
      }
      assert.deepEqual(
        (await walkCAs(2, true, 'provision-b')).items.map((c) => c.certificateId),
        [registered[3]!.id],
      )
      assert.deepEqual((await walkCAs(2, true, 'nothing')).items, [])
      await expectError(
        h.iot.send(new ListCACertificatesCommand({ templateName: 'bad name!' })),
        'InvalidRequestException',
        400,
        ['templateName'],
      )
    })
  })
})
