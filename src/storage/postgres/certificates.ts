/**
 * The certificate registry in PostgreSQL: the Store port's certificate section (ports/store.ts), which
 * pg-store.ts delegates to, with the same rules as the SQLite store (storage/sqlite/certificates.ts).
 * Locks: a certificate change takes its row FOR UPDATE; AttachThingPrincipal takes the thing and the
 * certificate FOR SHARE, so it waits for a DeleteThing or DeleteCertificate under way and then sees
 * its outcome, and they, in turn, see its attachment. Registering under a CA certificate takes the CA
 * row FOR SHARE against a concurrent deactivation; CA registrations of one subject serialize on an
 * advisory lock so that the per-subject limit holds. [aws: iot certificates]
 */
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
import type { PgDb, Sql } from './db.js'
import { LostRace } from './db.js'

const placeholders = (columns: string): string =>
  columns
    .split(',')
    .map((_, i) => `$${i + 1}`)
    .join(', ')

const INSERT_CERTIFICATE = `INSERT INTO certificates (${CERTIFICATE_COLUMNS})
  VALUES (${placeholders(CERTIFICATE_COLUMNS)}) ON CONFLICT (certificate_id) DO NOTHING`
const INSERT_CA = `INSERT INTO ca_certificates (${CA_CERTIFICATE_COLUMNS})
  VALUES (${placeholders(CA_CERTIFICATE_COLUMNS)})`

/** One list order's statement: `$1` the limit, then the filter's value, then the key after which to go on. */
function listSql(table: string, filter: string | undefined, ascending: boolean, after: boolean): string {
  const dir = ascending ? 'ASC' : 'DESC'
  const conditions = [
    ...(filter === undefined ? [] : [`${filter} = $2`]),
    ...(after
      ? [
          `(created_at, certificate_id) ${ascending ? '>' : '<'} ($${filter === undefined ? 2 : 3}, $${filter === undefined ? 3 : 4})`,
        ]
      : []),
  ]
  return `SELECT * FROM ${table} ${conditions.length === 0 ? '' : `WHERE ${conditions.join(' AND ')}`}
    ORDER BY created_at ${dir}, certificate_id ${dir} LIMIT $1`
}

export class PgCertificates {
  constructor(private readonly db: PgDb) {}

  private async readCertificate(sql: Sql, id: string, lock = ''): Promise<Certificate | undefined> {
    const { rows } = await sql.query<CertificateRow>(
      `SELECT * FROM certificates WHERE certificate_id = $1 ${lock}`,
      [id],
    )
    return rows[0] === undefined ? undefined : certificateFromRow(rows[0])
  }

  private async readCA(sql: Sql, id: string, lock = ''): Promise<CACertificate | undefined> {
    const { rows } = await sql.query<CACertificateRow>(
      `SELECT * FROM ca_certificates WHERE certificate_id = $1 ${lock}`,
      [id],
    )
    return rows[0] === undefined ? undefined : caCertificateFromRow(rows[0])
  }

  getCertificate(id: string): Promise<Certificate | undefined> {
    return this.readCertificate(this.db, id)
  }

  getCACertificate(id: string): Promise<CACertificate | undefined> {
    return this.readCA(this.db, id)
  }

  async caCertificatesBySubject(subject: string): Promise<readonly CACertificate[]> {
    const { rows } = await this.db.query<CACertificateRow>(
      'SELECT * FROM ca_certificates WHERE subject = $1 ORDER BY created_at, certificate_id',
      [subject],
    )
    return rows.map(caCertificateFromRow)
  }

  createCertificate(c: Certificate): Promise<CreateCertificateOutcome> {
    return this.db.tx(async (sql): Promise<CreateCertificateOutcome> => {
      if (c.caCertificateId !== undefined) {
        const ca = await this.readCA(sql, c.caCertificateId, 'FOR SHARE')
        if (ca?.status !== 'ACTIVE') {
          const existing = await this.readCertificate(sql, c.certificateId)
          return existing === undefined ? { kind: 'caNotActive', ca } : { kind: 'exists', existing }
        }
      }
      const { rowCount } = await sql.query(INSERT_CERTIFICATE, certificateValues(c))
      if (rowCount === 1) return { kind: 'created' }
      const existing = await this.readCertificate(sql, c.certificateId)
      // Taken and deleted again between the two statements: a race lost, run again (db.ts).
      if (existing === undefined) throw new LostRace('the certificate was deleted between two statements')
      return { kind: 'exists', existing }
    })
  }

  mutateCertificate<R>(id: string, decide: (facts: CertificateFacts) => CertificateDecision<R>): Promise<R> {
    return this.db.tx(async (sql) => {
      const certificate = await this.readCertificate(sql, id, 'FOR UPDATE')
      const ca =
        certificate?.caCertificateId === undefined
          ? undefined
          : await this.readCA(sql, certificate.caCertificateId)
      const { rows } = await sql.query<{ thing_name: string }>(
        'SELECT thing_name FROM thing_principals WHERE certificate_id = $1 ORDER BY thing_name LIMIT 1',
        [id],
      )
      const decision = decide({ certificate, ca, attachedThing: rows[0]?.thing_name })
      switch (decision.kind) {
        case 'reject':
          throw decision.error
        case 'none':
          return decision.result
        case 'write': {
          const n = decision.next
          await sql.query(
            `UPDATE certificates SET status = $2, last_modified_at = $3, customer_version = $4, generation_id = $5
             WHERE certificate_id = $1`,
            [id, n.status, n.lastModifiedAtMs, n.customerVersion, n.generationId],
          )
          return decision.result
        }
        case 'delete':
          await sql.query('DELETE FROM certificates WHERE certificate_id = $1', [id])
          return decision.result
      }
    })
  }

  async listCertificates(
    filter: { readonly caCertificateId?: string | undefined; readonly ascending: boolean },
    page: PageRequest,
  ): Promise<Page<Certificate>> {
    const ca = filter.caCertificateId
    const text = listSql(
      'certificates',
      ca === undefined ? undefined : 'ca_certificate_id',
      filter.ascending,
      page.after !== undefined,
    )
    const key = page.after === undefined ? [] : Object.values(keyOf(page.after))
    const { rows } = await this.db.query<CertificateRow>(text, [
      page.limit + 1,
      ...(ca === undefined ? [] : [ca]),
      ...key,
    ])
    return pageOf(rows.map(certificateFromRow), page.limit, certificateKey)
  }

  async certificateIdsOfCA(caCertificateId: string): Promise<readonly string[]> {
    const { rows } = await this.db.query<{ certificate_id: string }>(
      'SELECT certificate_id FROM certificates WHERE ca_certificate_id = $1 ORDER BY certificate_id',
      [caCertificateId],
    )
    return rows.map((r) => r.certificate_id)
  }

  createCACertificate(ca: CACertificate, maxPerSubject: number): Promise<CreateCACertificateOutcome> {
    return this.db.tx(async (sql): Promise<CreateCACertificateOutcome> => {
      await sql.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`fleetjobs-ca-subject:${ca.subject}`])
      const existing = await this.readCA(sql, ca.certificateId)
      if (existing !== undefined) return { kind: 'exists', existing }
      const { rows } = await sql.query<{ n: number }>(
        'SELECT count(*)::bigint AS n FROM ca_certificates WHERE subject = $1',
        [ca.subject],
      )
      const n = rows[0]?.n ?? 0
      if (n >= maxPerSubject) return { kind: 'limit', count: n }
      // A concurrent registration of the same id loses on the key and runs again (db.ts): then it exists.
      await sql.query(INSERT_CA, caCertificateValues(ca))
      return { kind: 'created' }
    })
  }

  mutateCACertificate<R>(
    id: string,
    decide: (current: CACertificate | undefined) => CACertificateDecision<R>,
  ): Promise<R> {
    return this.db.tx(async (sql) => {
      const decision = decide(await this.readCA(sql, id, 'FOR UPDATE'))
      switch (decision.kind) {
        case 'reject':
          throw decision.error
        case 'none':
          return decision.result
        case 'write': {
          const n = decision.next
          await sql.query(
            `UPDATE ca_certificates SET status = $2, auto_registration = $3, registration_config = $4,
               last_modified_at = $5, customer_version = $6, generation_id = $7
             WHERE certificate_id = $1`,
            [
              id,
              n.status,
              n.autoRegistrationStatus,
              n.registrationConfig === undefined ? null : JSON.stringify(n.registrationConfig),
              n.lastModifiedAtMs,
              n.customerVersion,
              n.generationId,
            ],
          )
          return decision.result
        }
        case 'delete':
          await sql.query('DELETE FROM ca_certificates WHERE certificate_id = $1', [id])
          return decision.result
      }
    })
  }

  async listCACertificates(
    filter: { readonly ascending: boolean },
    page: PageRequest,
  ): Promise<Page<CACertificate>> {
    const text = listSql('ca_certificates', undefined, filter.ascending, page.after !== undefined)
    const key = page.after === undefined ? [] : Object.values(keyOf(page.after))
    const { rows } = await this.db.query<CACertificateRow>(text, [page.limit + 1, ...key])
    return pageOf(rows.map(caCertificateFromRow), page.limit, certificateKey)
  }

  attachThingPrincipal(thingName: string, certificateId: string, atMs: number): Promise<AttachOutcome> {
    return this.db.tx(async (sql): Promise<AttachOutcome> => {
      // The thing first, as every change of a thing locks it (pg-store.ts's lock order).
      const thing = await sql.query('SELECT 1 FROM things WHERE thing_name = $1 FOR SHARE', [thingName])
      if (thing.rowCount === 0) return 'noThing'
      const cert = await sql.query('SELECT 1 FROM certificates WHERE certificate_id = $1 FOR SHARE', [
        certificateId,
      ])
      if (cert.rowCount === 0) return 'noCertificate'
      const { rowCount } = await sql.query(
        `INSERT INTO thing_principals (thing_name, certificate_id, attached_at) VALUES ($1, $2, $3)
         ON CONFLICT (thing_name, certificate_id) DO NOTHING`,
        [thingName, certificateId, atMs],
      )
      return rowCount === 1 ? 'attached' : 'already'
    })
  }

  detachThingPrincipal(thingName: string, certificateId: string): Promise<DetachOutcome> {
    return this.db.tx(async (sql): Promise<DetachOutcome> => {
      const thing = await sql.query('SELECT 1 FROM things WHERE thing_name = $1 FOR SHARE', [thingName])
      if (thing.rowCount === 0) return 'noThing'
      const { rowCount } = await sql.query(
        'DELETE FROM thing_principals WHERE thing_name = $1 AND certificate_id = $2',
        [thingName, certificateId],
      )
      return rowCount === 1 ? 'detached' : 'notAttached'
    })
  }

  async listThingPrincipals(thingName: string, page: PageRequest): Promise<Page<string>> {
    const { rows } =
      page.after === undefined
        ? await this.db.query<{ certificate_id: string }>(
            'SELECT certificate_id FROM thing_principals WHERE thing_name = $1 ORDER BY certificate_id LIMIT $2',
            [thingName, page.limit + 1],
          )
        : await this.db.query<{ certificate_id: string }>(
            `SELECT certificate_id FROM thing_principals WHERE thing_name = $1 AND certificate_id > $3
             ORDER BY certificate_id LIMIT $2`,
            [thingName, page.limit + 1, page.after],
          )
    return pageOf(
      rows.map((r) => r.certificate_id),
      page.limit,
      (id) => id,
    )
  }

  async listPrincipalThings(certificateId: string, page: PageRequest): Promise<Page<string>> {
    const { rows } =
      page.after === undefined
        ? await this.db.query<{ thing_name: string }>(
            'SELECT thing_name FROM thing_principals WHERE certificate_id = $1 ORDER BY thing_name LIMIT $2',
            [certificateId, page.limit + 1],
          )
        : await this.db.query<{ thing_name: string }>(
            `SELECT thing_name FROM thing_principals WHERE certificate_id = $1 AND thing_name > $3
             ORDER BY thing_name LIMIT $2`,
            [certificateId, page.limit + 1, page.after],
          )
    return pageOf(
      rows.map((r) => r.thing_name),
      page.limit,
      (name) => name,
    )
  }

  async certificateIdentity(certificateId: string, thingName: string): Promise<CertificateIdentity> {
    // Primary-key lookups only: the device identity check of every connection.
    const { rows } = await this.db.query<IdentityRow>(
      `SELECT c.status, c.ca_certificate_id, ca.status AS ca_status,
         EXISTS (SELECT 1 FROM things WHERE thing_name = $2) AS thing_exists,
         EXISTS (SELECT 1 FROM thing_principals WHERE thing_name = $2 AND certificate_id = $1) AS attached
       FROM (SELECT 1) AS one LEFT JOIN certificates c ON c.certificate_id = $1
         LEFT JOIN ca_certificates ca ON ca.certificate_id = c.ca_certificate_id`,
      [certificateId, thingName],
    )
    const r = rows[0]
    if (r === undefined) throw new Error('the identity query returned no row')
    return certificateIdentity({
      status: r.status ?? undefined,
      hasCA: r.ca_certificate_id !== null,
      caStatus: r.ca_status ?? undefined,
      thingExists: r.thing_exists === true,
      attached: r.attached === true,
    })
  }

  async certificateIdentities(
    pairs: readonly { readonly certificateId: string; readonly thingName: string }[],
  ): Promise<ReadonlySet<string>> {
    if (pairs.length === 0) return new Set()
    const { rows } = await this.db.query<{ c: string; t: string }>(
      `SELECT p.certificate_id AS c, p.thing_name AS t
       FROM unnest($1::text[], $2::text[]) AS q(certificate_id, thing_name)
         JOIN thing_principals p ON p.thing_name = q.thing_name AND p.certificate_id = q.certificate_id
         JOIN certificates c ON c.certificate_id = p.certificate_id
         JOIN things t ON t.thing_name = p.thing_name
         LEFT JOIN ca_certificates ca ON ca.certificate_id = c.ca_certificate_id
       WHERE c.status = 'ACTIVE' AND (c.ca_certificate_id IS NULL OR ca.status = 'ACTIVE')`,
      [pairs.map((p) => p.certificateId), pairs.map((p) => p.thingName)],
    )
    return new Set(rows.map((r) => identityKey(r.c, r.t)))
  }

  /**
   * Inside DeleteThing's transaction, after the thing row is locked and before anything is deleted: AWS
   * refuses to delete a thing that still has principals. [aws: DeleteThing]
   */
  async refuseDeleteOfAttachedThing(sql: Sql, thingName: string): Promise<void> {
    const { rowCount } = await sql.query('SELECT 1 FROM thing_principals WHERE thing_name = $1 LIMIT 1', [
      thingName,
    ])
    if (rowCount > 0) throw thingStillAttached(thingName)
  }
}
