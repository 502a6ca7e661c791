/**
 * The certificate registry in SQLite: the Store port's certificate section (ports/store.ts), which
 * sqlite-store.ts delegates to. Writes run through the store's group committer, one savepoint each;
 * reads see committed state. [aws: iot certificates]
 */
import type Database from 'better-sqlite3'
import type { CACertificate, Certificate, CertificateIdentity } from '../../domain/certificates.js'
import { certificateIdentity, identityKey, thingStillAttached } from '../../domain/certificates.js'
import type {
  AttachOutcome,
  CACertificateDecision,
  CertificateDecision,
  CertificateFacts,
  CreateCACertificateOutcome,
  CreateCertificateOutcome,
  DetachOutcome,
  Page,
  PageRequest,
} from '../../ports/store.js'
import type { CACertificateRow, CertificateRow, IdentityRow } from '../certificate-rows.js'
import {
  CA_CERTIFICATE_COLUMNS,
  CERTIFICATE_COLUMNS,
  caCertificateFromRow,
  caCertificateValues,
  certificateFromRow,
  certificateKey,
  certificateValues,
  keyOf,
} from '../certificate-rows.js'
import { pageOf } from '../listing.js'

/** Runs a synchronous write in a transaction of the store's group committer. */
type Commit = <T>(work: () => T) => Promise<T>

const placeholders = (columns: string): string =>
  columns
    .split(',')
    .map(() => '?')
    .join(', ')

/** The first-page and next-page statements of one list order, both walking an index. */
function listStatements(
  db: Database.Database,
  table: string,
  where: string,
  ascending: boolean,
): { first: Database.Statement; after: Database.Statement } {
  const dir = ascending ? 'ASC' : 'DESC'
  const cmp = ascending ? '>' : '<'
  const order = `ORDER BY created_at ${dir}, certificate_id ${dir} LIMIT @limit`
  const filter = where === '' ? '' : `${where} AND `
  return {
    first: db.prepare(`SELECT * FROM ${table} ${where === '' ? '' : `WHERE ${where}`} ${order}`),
    after: db.prepare(
      `SELECT * FROM ${table} WHERE ${filter}(created_at, certificate_id) ${cmp} (@createdAt, @id) ${order}`,
    ),
  }
}

export class SqliteCertificates {
  private readonly s
  private readonly lists

  constructor(
    db: Database.Database,
    private readonly commit: Commit,
  ) {
    this.s = {
      certificate: db.prepare('SELECT * FROM certificates WHERE certificate_id = ?'),
      caCertificate: db.prepare('SELECT * FROM ca_certificates WHERE certificate_id = ?'),
      caBySubject: db.prepare(
        'SELECT * FROM ca_certificates WHERE subject = ? ORDER BY created_at, certificate_id',
      ),
      caCountBySubject: db.prepare('SELECT count(*) AS n FROM ca_certificates WHERE subject = ?'),
      insertCertificate: db.prepare(
        `INSERT INTO certificates (${CERTIFICATE_COLUMNS}) VALUES (${placeholders(CERTIFICATE_COLUMNS)})`,
      ),
      updateCertificate: db.prepare(
        `UPDATE certificates SET status = ?, last_modified_at = ?, customer_version = ?, generation_id = ?
         WHERE certificate_id = ?`,
      ),
      deleteCertificate: db.prepare('DELETE FROM certificates WHERE certificate_id = ?'),
      insertCA: db.prepare(
        `INSERT INTO ca_certificates (${CA_CERTIFICATE_COLUMNS}) VALUES (${placeholders(CA_CERTIFICATE_COLUMNS)})`,
      ),
      updateCA: db.prepare(
        `UPDATE ca_certificates SET status = ?, auto_registration = ?, registration_config = ?,
           last_modified_at = ?, customer_version = ?, generation_id = ?
         WHERE certificate_id = ?`,
      ),
      deleteCA: db.prepare('DELETE FROM ca_certificates WHERE certificate_id = ?'),
      idsOfCA: db.prepare(
        'SELECT certificate_id FROM certificates WHERE ca_certificate_id = ? ORDER BY certificate_id',
      ),
      firstAttachedThing: db.prepare(
        'SELECT thing_name FROM thing_principals WHERE certificate_id = ? ORDER BY thing_name LIMIT 1',
      ),
      anyPrincipalOfThing: db.prepare('SELECT 1 FROM thing_principals WHERE thing_name = ? LIMIT 1'),
      thingExists: db.prepare('SELECT 1 FROM things WHERE thing_name = ?'),
      certificateExists: db.prepare('SELECT 1 FROM certificates WHERE certificate_id = ?'),
      attach: db.prepare(
        'INSERT OR IGNORE INTO thing_principals (thing_name, certificate_id, attached_at) VALUES (?, ?, ?)',
      ),
      detach: db.prepare('DELETE FROM thing_principals WHERE thing_name = ? AND certificate_id = ?'),
      principalsFirst: db.prepare(
        'SELECT certificate_id FROM thing_principals WHERE thing_name = @name ORDER BY certificate_id LIMIT @limit',
      ),
      principalsAfter: db.prepare(
        `SELECT certificate_id FROM thing_principals WHERE thing_name = @name AND certificate_id > @after
         ORDER BY certificate_id LIMIT @limit`,
      ),
      thingsFirst: db.prepare(
        'SELECT thing_name FROM thing_principals WHERE certificate_id = @id ORDER BY thing_name LIMIT @limit',
      ),
      thingsAfter: db.prepare(
        `SELECT thing_name FROM thing_principals WHERE certificate_id = @id AND thing_name > @after
         ORDER BY thing_name LIMIT @limit`,
      ),
      // Primary-key lookups only: the device identity check of every connection.
      identity: db.prepare(
        `SELECT c.status AS status, c.ca_certificate_id AS ca_certificate_id, ca.status AS ca_status,
           EXISTS (SELECT 1 FROM things WHERE thing_name = @thing) AS thing_exists,
           EXISTS (SELECT 1 FROM thing_principals WHERE thing_name = @thing AND certificate_id = @cert) AS attached
         FROM (SELECT 1) LEFT JOIN certificates c ON c.certificate_id = @cert
           LEFT JOIN ca_certificates ca ON ca.certificate_id = c.ca_certificate_id`,
      ),
      // One statement for the whole set: pairs as a JSON array of [certificateId, thingName].
      identities: db.prepare(
        `SELECT p.certificate_id AS c, p.thing_name AS t
         FROM json_each(?) AS j
           JOIN thing_principals p
             ON p.thing_name = json_extract(j.value, '$[1]') AND p.certificate_id = json_extract(j.value, '$[0]')
           JOIN certificates c ON c.certificate_id = p.certificate_id
           JOIN things t ON t.thing_name = p.thing_name
           LEFT JOIN ca_certificates ca ON ca.certificate_id = c.ca_certificate_id
         WHERE c.status = 'ACTIVE' AND (c.ca_certificate_id IS NULL OR ca.status = 'ACTIVE')`,
      ),
    }
    this.lists = {
      certificates: {
        asc: listStatements(db, 'certificates', '', true),
        desc: listStatements(db, 'certificates', '', false),
      },
      byCA: {
        asc: listStatements(db, 'certificates', 'ca_certificate_id = @ca', true),
        desc: listStatements(db, 'certificates', 'ca_certificate_id = @ca', false),
      },
      caCertificates: {
        asc: listStatements(db, 'ca_certificates', '', true),
        desc: listStatements(db, 'ca_certificates', '', false),
      },
    }
  }

  private readCertificate(id: string): Certificate | undefined {
    const row = this.s.certificate.get(id) as CertificateRow | undefined
    return row === undefined ? undefined : certificateFromRow(row)
  }

  private readCA(id: string): CACertificate | undefined {
    const row = this.s.caCertificate.get(id) as CACertificateRow | undefined
    return row === undefined ? undefined : caCertificateFromRow(row)
  }

  getCertificate(id: string): Promise<Certificate | undefined> {
    return Promise.resolve(this.readCertificate(id))
  }

  getCACertificate(id: string): Promise<CACertificate | undefined> {
    return Promise.resolve(this.readCA(id))
  }

  caCertificatesBySubject(subject: string): Promise<readonly CACertificate[]> {
    return Promise.resolve((this.s.caBySubject.all(subject) as CACertificateRow[]).map(caCertificateFromRow))
  }

  createCertificate(c: Certificate): Promise<CreateCertificateOutcome> {
    return this.commit((): CreateCertificateOutcome => {
      const existing = this.readCertificate(c.certificateId)
      if (existing !== undefined) return { kind: 'exists', existing }
      if (c.caCertificateId !== undefined) {
        const ca = this.readCA(c.caCertificateId)
        if (ca?.status !== 'ACTIVE') return { kind: 'caNotActive', ca }
      }
      this.s.insertCertificate.run(...certificateValues(c))
      return { kind: 'created' }
    })
  }

  mutateCertificate<R>(id: string, decide: (facts: CertificateFacts) => CertificateDecision<R>): Promise<R> {
    return this.commit(() => {
      const certificate = this.readCertificate(id)
      const ca =
        certificate?.caCertificateId === undefined ? undefined : this.readCA(certificate.caCertificateId)
      const attached = this.s.firstAttachedThing.get(id) as { thing_name: string } | undefined
      const decision = decide({ certificate, ca, attachedThing: attached?.thing_name })
      switch (decision.kind) {
        case 'reject':
          throw decision.error
        case 'none':
          return decision.result
        case 'write': {
          const n = decision.next
          this.s.updateCertificate.run(n.status, n.lastModifiedAtMs, n.customerVersion, n.generationId, id)
          return decision.result
        }
        case 'delete':
          this.s.deleteCertificate.run(id)
          return decision.result
      }
    })
  }

  listCertificates(
    filter: { readonly caCertificateId?: string | undefined; readonly ascending: boolean },
    page: PageRequest,
  ): Promise<Page<Certificate>> {
    const lists = filter.caCertificateId === undefined ? this.lists.certificates : this.lists.byCA
    const list = filter.ascending ? lists.asc : lists.desc
    const params = {
      limit: page.limit + 1,
      ...(filter.caCertificateId === undefined ? {} : { ca: filter.caCertificateId }),
      ...(page.after === undefined ? {} : keyOf(page.after)),
    }
    const rows = (page.after === undefined ? list.first : list.after).all(params) as CertificateRow[]
    return Promise.resolve(pageOf(rows.map(certificateFromRow), page.limit, certificateKey))
  }

  certificateIdsOfCA(caCertificateId: string): Promise<readonly string[]> {
    const rows = this.s.idsOfCA.all(caCertificateId) as { certificate_id: string }[]
    return Promise.resolve(rows.map((r) => r.certificate_id))
  }

  createCACertificate(ca: CACertificate, maxPerSubject: number): Promise<CreateCACertificateOutcome> {
    return this.commit((): CreateCACertificateOutcome => {
      const existing = this.readCA(ca.certificateId)
      if (existing !== undefined) return { kind: 'exists', existing }
      const { n } = this.s.caCountBySubject.get(ca.subject) as { n: number }
      if (n >= maxPerSubject) return { kind: 'limit', count: n }
      this.s.insertCA.run(...caCertificateValues(ca))
      return { kind: 'created' }
    })
  }

  mutateCACertificate<R>(
    id: string,
    decide: (current: CACertificate | undefined) => CACertificateDecision<R>,
  ): Promise<R> {
    return this.commit(() => {
      const decision = decide(this.readCA(id))
      switch (decision.kind) {
        case 'reject':
          throw decision.error
        case 'none':
          return decision.result
        case 'write': {
          const n = decision.next
          this.s.updateCA.run(
            n.status,
            n.autoRegistrationStatus,
            n.registrationConfig === undefined ? null : JSON.stringify(n.registrationConfig),
            n.lastModifiedAtMs,
            n.customerVersion,
            n.generationId,
            id,
          )
          return decision.result
        }
        case 'delete':
          this.s.deleteCA.run(id)
          return decision.result
      }
    })
  }

  listCACertificates(
    filter: { readonly ascending: boolean },
    page: PageRequest,
  ): Promise<Page<CACertificate>> {
    const list = filter.ascending ? this.lists.caCertificates.asc : this.lists.caCertificates.desc
    const params = { limit: page.limit + 1, ...(page.after === undefined ? {} : keyOf(page.after)) }
    const rows = (page.after === undefined ? list.first : list.after).all(params) as CACertificateRow[]
    return Promise.resolve(pageOf(rows.map(caCertificateFromRow), page.limit, certificateKey))
  }

  attachThingPrincipal(thingName: string, certificateId: string, atMs: number): Promise<AttachOutcome> {
    return this.commit((): AttachOutcome => {
      if (this.s.thingExists.get(thingName) === undefined) return 'noThing'
      if (this.s.certificateExists.get(certificateId) === undefined) return 'noCertificate'
      return this.s.attach.run(thingName, certificateId, atMs).changes === 1 ? 'attached' : 'already'
    })
  }

  detachThingPrincipal(thingName: string, certificateId: string): Promise<DetachOutcome> {
    return this.commit((): DetachOutcome => {
      if (this.s.thingExists.get(thingName) === undefined) return 'noThing'
      return this.s.detach.run(thingName, certificateId).changes === 1 ? 'detached' : 'notAttached'
    })
  }

  listThingPrincipals(thingName: string, page: PageRequest): Promise<Page<string>> {
    const rows = (
      page.after === undefined
        ? this.s.principalsFirst.all({ name: thingName, limit: page.limit + 1 })
        : this.s.principalsAfter.all({ name: thingName, after: page.after, limit: page.limit + 1 })
    ) as { certificate_id: string }[]
    return Promise.resolve(
      pageOf(
        rows.map((r) => r.certificate_id),
        page.limit,
        (id) => id,
      ),
    )
  }

  listPrincipalThings(certificateId: string, page: PageRequest): Promise<Page<string>> {
    const rows = (
      page.after === undefined
        ? this.s.thingsFirst.all({ id: certificateId, limit: page.limit + 1 })
        : this.s.thingsAfter.all({ id: certificateId, after: page.after, limit: page.limit + 1 })
    ) as { thing_name: string }[]
    return Promise.resolve(
      pageOf(
        rows.map((r) => r.thing_name),
        page.limit,
        (name) => name,
      ),
    )
  }

  certificateIdentity(certificateId: string, thingName: string): Promise<CertificateIdentity> {
    const r = this.s.identity.get({ cert: certificateId, thing: thingName }) as IdentityRow
    return Promise.resolve(
      certificateIdentity({
        status: r.status ?? undefined,
        hasCA: r.ca_certificate_id !== null,
        caStatus: r.ca_status ?? undefined,
        thingExists: r.thing_exists === 1,
        attached: r.attached === 1,
      }),
    )
  }

  certificateIdentities(
    pairs: readonly { readonly certificateId: string; readonly thingName: string }[],
  ): Promise<ReadonlySet<string>> {
    if (pairs.length === 0) return Promise.resolve(new Set())
    const rows = this.s.identities.all(JSON.stringify(pairs.map((p) => [p.certificateId, p.thingName]))) as {
      c: string
      t: string
    }[]
    return Promise.resolve(new Set(rows.map((r) => identityKey(r.c, r.t))))
  }

  /**
   * Inside DeleteThing's transaction, before anything is deleted: AWS refuses to delete a thing that
   * still has principals. [aws: DeleteThing]
   */
  refuseDeleteOfAttachedThing(thingName: string): void {
    if (this.s.anyPrincipalOfThing.get(thingName) !== undefined) throw thingStillAttached(thingName)
  }
}
