/**
 * The storage contract of the certificate registry (ports/store.ts, certificates section), run by
 * describeStorageContract on every adapter. Certificates here are records, not X.509: the stores never
 * parse them. [aws: iot certificates]
 */
import assert from 'node:assert/strict'
import { ServiceError } from '../domain/errors.js'
import type { CACertificate, Certificate, CertificateStatus } from '../domain/certificates.js'
import { certificateIdentity, identityKey } from '../domain/certificates.js'
import type { Store } from '../ports/store.js'
import { addThings, NOW } from './store-fixtures.js'

/** A 64-hex-digit id from a small number. */
export const idOf = (n: number): string => n.toString(16).padStart(64, '0')

const certificate = (n: number, overrides: Partial<Certificate> = {}): Certificate => ({
  certificateId: idOf(n),
  status: 'ACTIVE',
  certificateMode: 'DEFAULT',
  certificatePem: `-----BEGIN CERTIFICATE-----\n${n}\n-----END CERTIFICATE-----\n`,
  createdAtMs: NOW + n,
  lastModifiedAtMs: NOW + n,
  customerVersion: 1,
  generationId: `g${n}`,
  notBeforeMs: NOW - 1000,
  notAfterMs: NOW + 1_000_000,
  ...overrides,
})

const caCertificate = (n: number, overrides: Partial<CACertificate> = {}): CACertificate => ({
  certificateId: idOf(n),
  status: 'ACTIVE',
  certificateMode: 'DEFAULT',
  certificatePem: `-----BEGIN CERTIFICATE-----\nca${n}\n-----END CERTIFICATE-----\n`,
  subject: `CN=ca ${n}`,
  autoRegistrationStatus: 'DISABLE',
  createdAtMs: NOW + n,
  lastModifiedAtMs: NOW + n,
  customerVersion: 1,
  generationId: `g${n}`,
  notBeforeMs: NOW - 1000,
  notAfterMs: NOW + 1_000_000,
  ...overrides,
})

const addThing = (store: Store, name: string): Promise<void> => addThings(store, [name])

async function setStatus(store: Store, id: string, status: CertificateStatus): Promise<void> {
  await store.mutateCertificate(id, ({ certificate: c }) =>
    c === undefined
      ? { kind: 'none', result: undefined }
      : { kind: 'write', next: { ...c, status }, result: undefined },
  )
}

async function walk<T>(
  read: (after: string | undefined) => Promise<{ items: readonly T[]; after?: string }>,
): Promise<T[]> {
  const all: T[] = []
  let after: string | undefined
  do {
    const page = await read(after)
    all.push(...page.items)
    after = page.after
  } while (after !== undefined)
  return all
}

export function describeCertificateContract(
  test: (title: string, fn: () => Promise<void>) => void,
  open: () => Promise<Store>,
): void {
  const withStore = (fn: (store: Store) => Promise<void>) => async () => {
    const store = await open()
    try {
      await fn(store)
    } finally {
      await store.close()
    }
  }

  test(
    'certificates: created once, read back whole; a second create of the id says exists and writes nothing',
    withStore(async (store) => {
      const c = certificate(1)
      assert.deepEqual(await store.createCertificate(c), { kind: 'created' })
      assert.deepEqual(await store.getCertificate(c.certificateId), c)
      const again = await store.createCertificate({ ...c, status: 'INACTIVE' })
      assert.deepEqual(again, { kind: 'exists', existing: c })
      assert.equal((await store.getCertificate(c.certificateId))?.status, 'ACTIVE')
      assert.equal(await store.getCertificate(idOf(99)), undefined)
    }),
  )

  test(
    'certificates: a certificate naming a CA is created only while that CA is registered and ACTIVE',
    withStore(async (store) => {
      const ca = caCertificate(100, { status: 'INACTIVE' })
      assert.deepEqual(await store.createCertificate(certificate(1, { caCertificateId: ca.certificateId })), {
        kind: 'caNotActive',
        ca: undefined,
      })
      await store.createCACertificate(ca, 10)
      assert.deepEqual(await store.createCertificate(certificate(1, { caCertificateId: ca.certificateId })), {
        kind: 'caNotActive',
        ca,
      })
      await store.mutateCACertificate(ca.certificateId, (current) => ({
        kind: 'write',
        next: { ...current!, status: 'ACTIVE' },
        result: undefined,
      }))
      assert.equal(
        (await store.createCertificate(certificate(1, { caCertificateId: ca.certificateId }))).kind,
        'created',
      )
      assert.equal((await store.getCertificate(idOf(1)))?.caCertificateId, ca.certificateId)
    }),
  )

  test(
    'certificates: mutate reads the CA and an attached thing; a rejection writes nothing; delete removes',
    withStore(async (store) => {
      const ca = caCertificate(100)
      await store.createCACertificate(ca, 10)
      await store.createCertificate(certificate(1, { caCertificateId: ca.certificateId }))
      await addThing(store, 'b-thing')
      await addThing(store, 'a-thing')
      await store.attachThingPrincipal('b-thing', idOf(1), NOW)
      await store.attachThingPrincipal('a-thing', idOf(1), NOW)
      const facts = await store.mutateCertificate(idOf(1), (f) => ({ kind: 'none', result: f }))
      assert.equal(facts.certificate?.certificateId, idOf(1))
      assert.deepEqual(facts.ca, ca)
      assert.equal(facts.attachedThing, 'a-thing')
      await assert.rejects(
        store.mutateCertificate(idOf(1), () => ({
          kind: 'reject',
          error: new ServiceError('CertificateStateException', 'no'),
        })),
        (e: unknown) => e instanceof ServiceError && e.code === 'CertificateStateException',
      )
      await store.mutateCertificate(idOf(1), ({ certificate: c }) => ({
        kind: 'write',
        next: { ...c!, status: 'REVOKED', lastModifiedAtMs: NOW + 5, customerVersion: 2, generationId: 'g2' },
        result: undefined,
      }))
      const written = await store.getCertificate(idOf(1))
      assert.deepEqual(
        [written?.status, written?.lastModifiedAtMs, written?.customerVersion, written?.generationId],
        ['REVOKED', NOW + 5, 2, 'g2'],
      )
      const none = await store.mutateCertificate(idOf(7), (f) => ({ kind: 'none', result: f }))
      assert.deepEqual(none, { certificate: undefined, ca: undefined, attachedThing: undefined })
      await store.detachThingPrincipal('a-thing', idOf(1))
      await store.detachThingPrincipal('b-thing', idOf(1))
      await store.mutateCertificate(idOf(1), () => ({ kind: 'delete', result: undefined }))
      assert.equal(await store.getCertificate(idOf(1)), undefined)
    }),
  )

  test(
    'certificates: listed by creation date both ways, optionally by CA; keyset pages neither skip nor repeat',
    withStore(async (store) => {
      const ca = caCertificate(500)
      await store.createCACertificate(ca, 10)
      // Equal creation dates are ordered by id.
      for (let n = 1; n <= 23; n++)
        await store.createCertificate(
          certificate(n, {
            createdAtMs: NOW + Math.floor(n / 2),
            ...(n % 3 === 0 ? { caCertificateId: ca.certificateId } : {}),
          }),
        )
      const ascending = Array.from({ length: 23 }, (_, i) => idOf(i + 1))
      for (const limit of [1, 4, 23, 50]) {
        const up = await walk((after) => store.listCertificates({ ascending: true }, { limit, after }))
        assert.deepEqual(
          up.map((c) => c.certificateId),
          ascending,
        )
        const down = await walk((after) => store.listCertificates({ ascending: false }, { limit, after }))
        assert.deepEqual(
          down.map((c) => c.certificateId),
          [...ascending].reverse(),
        )
        const byCA = await walk((after) =>
          store.listCertificates({ ascending: true, caCertificateId: ca.certificateId }, { limit, after }),
        )
        assert.deepEqual(
          byCA.map((c) => c.certificateId),
          ascending.filter((_, i) => (i + 1) % 3 === 0),
        )
      }
      assert.deepEqual(
        await store.certificateIdsOfCA(ca.certificateId),
        ascending.filter((_, i) => (i + 1) % 3 === 0).sort(),
      )
      assert.deepEqual(
        (await store.listCertificates({ ascending: true, caCertificateId: idOf(9) }, { limit: 5 })).items,
        [],
      )
    }),
  )

  test(
    'CA certificates: created once, at most maxPerSubject per subject; updated, listed, deleted',
    withStore(async (store) => {
      const first = caCertificate(1, { subject: 'CN=shared', registrationConfig: { templateName: 't1' } })
      assert.deepEqual(await store.createCACertificate(first, 2), { kind: 'created' })
      assert.deepEqual(await store.getCACertificate(first.certificateId), first)
      assert.deepEqual(await store.createCACertificate(first, 2), { kind: 'exists', existing: first })
      assert.equal(
        (await store.createCACertificate(caCertificate(2, { subject: 'CN=shared' }), 2)).kind,
        'created',
      )
      assert.deepEqual(await store.createCACertificate(caCertificate(3, { subject: 'CN=shared' }), 2), {
        kind: 'limit',
        count: 2,
      })
      assert.equal((await store.createCACertificate(caCertificate(4), 2)).kind, 'created')
      assert.deepEqual(
        (await store.caCertificatesBySubject('CN=shared')).map((c) => c.certificateId),
        [idOf(1), idOf(2)],
      )
      await store.mutateCACertificate(idOf(1), (current) => {
        const { registrationConfig: _gone, ...rest } = current!
        return {
          kind: 'write',
          next: { ...rest, status: 'INACTIVE', autoRegistrationStatus: 'ENABLE', customerVersion: 2 },
          result: undefined,
        }
      })
      const updated = await store.getCACertificate(idOf(1))
      assert.deepEqual(
        [
          updated?.status,
          updated?.autoRegistrationStatus,
          updated?.registrationConfig,
          updated?.customerVersion,
        ],
        ['INACTIVE', 'ENABLE', undefined, 2],
      )
      for (const limit of [1, 2, 10]) {
        const up = await walk((after) => store.listCACertificates({ ascending: true }, { limit, after }))
        assert.deepEqual(
          up.map((c) => c.certificateId),
          [idOf(1), idOf(2), idOf(4)],
        )
        const down = await walk((after) => store.listCACertificates({ ascending: false }, { limit, after }))
        assert.deepEqual(
          down.map((c) => c.certificateId),
          [idOf(4), idOf(2), idOf(1)],
        )
      }
      await store.mutateCACertificate(idOf(1), () => ({ kind: 'delete', result: undefined }))
      assert.equal(await store.getCACertificate(idOf(1)), undefined)
    }),
  )

  test(
    'attachments: both ends must exist; again is already; listed both ways in name order; detach',
    withStore(async (store) => {
      await store.createCertificate(certificate(1))
      await store.createCertificate(certificate(2))
      for (const name of ['t3', 't1', 't2']) await addThing(store, name)
      assert.equal(await store.attachThingPrincipal('nope', idOf(1), NOW), 'noThing')
      assert.equal(await store.attachThingPrincipal('t1', idOf(9), NOW), 'noCertificate')
      for (const name of ['t3', 't1', 't2'])
        assert.equal(await store.attachThingPrincipal(name, idOf(1), NOW), 'attached')
      assert.equal(await store.attachThingPrincipal('t1', idOf(2), NOW), 'attached')
      assert.equal(await store.attachThingPrincipal('t1', idOf(1), NOW), 'already')
      for (const limit of [1, 2, 5]) {
        assert.deepEqual(await walk((after) => store.listPrincipalThings(idOf(1), { limit, after })), [
          't1',
          't2',
          't3',
        ])
        assert.deepEqual(await walk((after) => store.listThingPrincipals('t1', { limit, after })), [
          idOf(1),
          idOf(2),
        ])
      }
      assert.equal(await store.detachThingPrincipal('nope', idOf(1)), 'noThing')
      assert.equal(await store.detachThingPrincipal('t2', idOf(1)), 'detached')
      assert.equal(await store.detachThingPrincipal('t2', idOf(1)), 'notAttached')
      assert.deepEqual((await store.listPrincipalThings(idOf(1), { limit: 10 })).items, ['t1', 't3'])
    }),
  )

  test(
    'a thing with a certificate attached cannot be deleted (InvalidRequestException, nothing changes); once detached it can',
    withStore(async (store) => {
      await store.createCertificate(certificate(1))
      await addThing(store, 't')
      await store.attachThingPrincipal('t', idOf(1), NOW)
      await assert.rejects(
        store.mutateThing('t', () => ({ kind: 'delete', atMs: NOW, result: undefined })),
        (e: unknown) =>
          e instanceof ServiceError &&
          e.code === 'InvalidRequestException' &&
          e.message === 'Cannot delete. Thing t is still attached to one or more principals',
      )
      assert.ok(await store.thingExists('t'))
      await store.detachThingPrincipal('t', idOf(1))
      await store.mutateThing('t', () => ({ kind: 'delete', atMs: NOW, result: undefined }))
      assert.equal(await store.thingExists('t'), false)
    }),
  )

  test(
    'identity: every answer of certificateIdentity, and certificateIdentities keeps exactly the ok pairs',
    withStore(async (store) => {
      const activeCA = caCertificate(100)
      const inactiveCA = caCertificate(101, { status: 'INACTIVE' })
      await store.createCACertificate(activeCA, 10)
      await store.createCACertificate(inactiveCA, 10)
      await store.createCertificate(certificate(1))
      await store.createCertificate(certificate(2, { caCertificateId: activeCA.certificateId }))
      // Registered while the CA was ACTIVE, then the CA was deactivated.
      await store.mutateCACertificate(inactiveCA.certificateId, (c) => ({
        kind: 'write',
        next: { ...c!, status: 'ACTIVE' },
        result: undefined,
      }))
      await store.createCertificate(certificate(3, { caCertificateId: inactiveCA.certificateId }))
      await store.mutateCACertificate(inactiveCA.certificateId, (c) => ({
        kind: 'write',
        next: { ...c!, status: 'INACTIVE' },
        result: undefined,
      }))
      await store.createCertificate(certificate(4, { status: 'INACTIVE' }))
      await store.createCertificate(certificate(5, { status: 'REVOKED' }))
      await store.createCertificate(certificate(6))
      for (const name of ['t', 'u']) await addThing(store, name)
      for (const n of [1, 2, 3, 4, 5]) await store.attachThingPrincipal('t', idOf(n), NOW)
      const cases: [number, string, string][] = [
        [1, 't', 'ok'],
        [2, 't', 'ok'],
        [3, 't', 'inactive'],
        [4, 't', 'inactive'],
        [5, 't', 'revoked'],
        [6, 't', 'not-attached'],
        [1, 'u', 'not-attached'],
        [1, 'gone', 'no-thing'],
        [9, 't', 'unknown'],
      ]
      for (const [n, thingName, expected] of cases)
        assert.equal(await store.certificateIdentity(idOf(n), thingName), expected, `${n}/${thingName}`)
      const pairs = cases.map(([n, thingName]) => ({ certificateId: idOf(n), thingName }))
      assert.deepEqual(
        [...(await store.certificateIdentities(pairs))].sort(),
        [identityKey(idOf(1), 't'), identityKey(idOf(2), 't')].sort(),
      )
      assert.deepEqual([...(await store.certificateIdentities([]))], [])
      // The CA goes: its certificates cannot act any more.
      await store.mutateCACertificate(activeCA.certificateId, (c) => ({
        kind: 'write',
        next: { ...c!, status: 'INACTIVE' },
        result: undefined,
      }))
      assert.equal(await store.certificateIdentity(idOf(2), 't'), 'inactive')
      await store.mutateCACertificate(activeCA.certificateId, () => ({ kind: 'delete', result: undefined }))
      assert.equal(await store.certificateIdentity(idOf(2), 't'), 'inactive')
      await setStatus(store, idOf(1), 'INACTIVE')
      assert.deepEqual([...(await store.certificateIdentities(pairs))], [])
      // The pure rule and the stores agree on the order of reasons.
      assert.equal(
        certificateIdentity({
          status: 'REVOKED',
          hasCA: true,
          caStatus: undefined,
          thingExists: false,
          attached: false,
        }),
        'revoked',
      )
    }),
  )

  test(
    'identities: a thousand pairs in one call',
    withStore(async (store) => {
      await addThing(store, 't')
      for (let n = 1; n <= 20; n++) {
        await store.createCertificate(certificate(n))
        if (n % 2 === 0) await store.attachThingPrincipal('t', idOf(n), NOW)
      }
      const pairs = Array.from({ length: 1000 }, (_, i) => ({
        certificateId: idOf((i % 25) + 1),
        thingName: 't',
      }))
      const ok = await store.certificateIdentities(pairs)
      assert.deepEqual(
        [...ok].sort(),
        Array.from({ length: 10 }, (_, i) => identityKey(idOf((i + 1) * 2), 't')).sort(),
      )
    }),
  )

  test(
    'reset empties the certificate registry',
    withStore(async (store) => {
      await store.createCertificate(certificate(1))
      await store.createCACertificate(caCertificate(2), 10)
      await addThing(store, 't')
      await store.attachThingPrincipal('t', idOf(1), NOW)
      await store.reset()
      assert.equal(await store.getCertificate(idOf(1)), undefined)
      assert.equal(await store.getCACertificate(idOf(2)), undefined)
      assert.deepEqual((await store.listPrincipalThings(idOf(1), { limit: 5 })).items, [])
    }),
  )
}
