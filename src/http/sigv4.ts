/**
 * Verifies AWS Signature Version 4 on requests, as AWS does: the `Authorization` header form and the
 * presigned-query form, the payload hash, the credential scope's service (both control-plane names, or
 * `iot-jobs-data`), and a 5-minute clock-skew window against the service's clock. The expected signature
 * is computed by the AWS SDK's own signer (`@smithy/signature-v4`) from the request as received, with
 * exactly the headers the client signed; nothing here is hand-written crypto.
 * [spec: wire-protocol#7] [spec: newer-in-latest-sdk#control-plane]
 */
import { Hash } from '@smithy/hash-node'
import { SignatureV4 } from '@smithy/signature-v4'
import { timingSafeEqual } from 'node:crypto'
import type { IncomingHttpHeaders } from 'node:http'
import { ServiceError } from '../domain/errors.js'

/** Secret keys by access key id. */
export type Credentials = ReadonlyMap<string, string>

/** AWS's window for a request's X-Amz-Date against the service's clock. */
const SKEW_MS = 5 * 60_000
/** Presigned URLs live at most seven days (SigV4's limit). */
const MAX_EXPIRES_S = 7 * 24 * 3600

const ALGORITHM = 'AWS4-HMAC-SHA256'
const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'

/** AWS's messages, word for word. */
const MESSAGES = {
  missing: 'Missing Authentication Token',
  unknownKey: 'The security token included in the request is invalid.',
  mismatch:
    'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
}

export interface SignedRequest {
  readonly method: string
  /** The request target as received: path and query, percent-encoded as the client sent them. */
  readonly url: string
  readonly headers: IncomingHttpHeaders
  readonly body: Buffer
}

/** Who signed the request, and for which service. */
export interface Signer {
  readonly accessKeyId: string
  readonly service: string
  readonly region: string
}

const denied = (
  code: 'MissingAuthenticationTokenException' | 'UnrecognizedClientException' | 'InvalidSignatureException',
  message: string,
) => new ServiceError(code, message)

interface Parsed {
  readonly presigned: boolean
  readonly accessKeyId: string
  readonly shortDate: string
  readonly region: string
  readonly service: string
  readonly signedHeaders: readonly string[]
  readonly signature: string
  readonly amzDate: string
  readonly expiresS?: number
}

/** The signing name a request claims, from its header or its presigned query (for routing). */
export function signingService(headers: IncomingHttpHeaders, url: string): string | undefined {
  const scope =
    /Credential=[^/,\s]+\/\d{8}\/[^/]+\/([^/]+)\/aws4_request/.exec(headers.authorization ?? '')?.[1] ??
    /[?&]X-Amz-Credential=[^/&]+(?:%2F|\/)\d{8}(?:%2F|\/)[^/&%]+(?:%2F|\/)([^/&%]+)(?:%2F|\/)aws4_request/i.exec(
      url,
    )?.[1]
  return scope
}

function parse(req: SignedRequest): Parsed | undefined {
  const auth = req.headers.authorization
  if (auth !== undefined) {
    const m =
      /^AWS4-HMAC-SHA256\s+Credential=([^/,\s]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request,\s*SignedHeaders=([a-z0-9;._-]+),\s*Signature=([0-9a-f]{64})$/.exec(
        auth.trim(),
      )
    if (m === null)
      throw denied(
        'InvalidSignatureException',
        `Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters of ${ALGORITHM}.`,
      )
    const amzDate = header(req.headers, 'x-amz-date')
    if (amzDate === undefined)
      throw denied(
        'InvalidSignatureException',
        "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
      )
    return {
      presigned: false,
      accessKeyId: m[1] ?? '',
      shortDate: m[2] ?? '',
      region: m[3] ?? '',
      service: m[4] ?? '',
      signedHeaders: (m[5] ?? '').split(';'),
      signature: m[6] ?? '',
      amzDate,
    }
  }
  const query = new URLSearchParams(req.url.includes('?') ? req.url.slice(req.url.indexOf('?') + 1) : '')
  if (query.get('X-Amz-Algorithm') === null && query.get('X-Amz-Signature') === null) return undefined
  const credential = /^([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request$/.exec(
    query.get('X-Amz-Credential') ?? '',
  )
  const signature = query.get('X-Amz-Signature') ?? ''
  const amzDate = query.get('X-Amz-Date') ?? ''
  const expires = Number(query.get('X-Amz-Expires'))
  if (
    query.get('X-Amz-Algorithm') !== ALGORITHM ||
    credential === null ||
    !/^[0-9a-f]{64}$/.test(signature) ||
    !/^\d{8}T\d{6}Z$/.test(amzDate) ||
    !Number.isInteger(expires) ||
    expires < 1 ||
    expires > MAX_EXPIRES_S
  ) {
    throw denied(
      'InvalidSignatureException',
      'AWS query-string parameters must include X-Amz-Algorithm (AWS4-HMAC-SHA256), X-Amz-Credential, X-Amz-Date, X-Amz-Expires (1 to 604800), X-Amz-SignedHeaders and X-Amz-Signature.',
    )
  }
  return {
    presigned: true,
    accessKeyId: credential[1] ?? '',
    shortDate: credential[2] ?? '',
    region: credential[3] ?? '',
    service: credential[4] ?? '',
    signedHeaders: (query.get('X-Amz-SignedHeaders') ?? 'host').split(';'),
    signature,
    amzDate,
    expiresS: expires,
  }
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name]
  return Array.isArray(value) ? value.join(',') : value
}

/** `20300101T120000Z` → epoch milliseconds. */
function amzDateMs(value: string): number {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(value)
  if (m === null) return Number.NaN
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]))
}

const longDate = (ms: number): string =>
  new Date(ms)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '')

export class SigV4Verifier {
  constructor(
    private readonly credentials: Credentials,
    private readonly nowMs: () => number,
  ) {}

  /**
   * Resolves who signed the request when the signature is valid for one of `services`; otherwise throws
   * AWS's error: no signature → MissingAuthenticationTokenException, an unknown access key →
   * UnrecognizedClientException, anything else (wrong signature, body, time, service) →
   * InvalidSignatureException. All answer 403.
   */
  async verify(req: SignedRequest, services: readonly string[]): Promise<Signer> {
    const parsed = parse(req)
    if (parsed === undefined) throw denied('MissingAuthenticationTokenException', MESSAGES.missing)
    const secret = this.credentials.get(parsed.accessKeyId)
    if (secret === undefined) throw denied('UnrecognizedClientException', MESSAGES.unknownKey)
    if (!services.includes(parsed.service)) {
      throw denied(
        'InvalidSignatureException',
        `Credential should be scoped to correct service: '${services[0] ?? ''}'.`,
      )
    }
    const signedAt = amzDateMs(parsed.amzDate)
    if (Number.isNaN(signedAt) || parsed.amzDate.slice(0, 8) !== parsed.shortDate) {
      throw denied('InvalidSignatureException', MESSAGES.mismatch)
    }
    const now = this.nowMs()
    if (parsed.presigned) {
      if (now > signedAt + (parsed.expiresS ?? 0) * 1000 + SKEW_MS || signedAt > now + SKEW_MS)
        throw denied(
          'InvalidSignatureException',
          `Signature expired: ${parsed.amzDate} is now earlier than ${longDate(now)}.`,
        )
    } else if (signedAt < now - SKEW_MS) {
      throw denied(
        'InvalidSignatureException',
        `Signature expired: ${parsed.amzDate} is now earlier than ${longDate(now - SKEW_MS)} (${longDate(now)} - 5 min.)`,
      )
    } else if (signedAt > now + SKEW_MS) {
      throw denied(
        'InvalidSignatureException',
        `Signature not yet current: ${parsed.amzDate} is still later than ${longDate(now + SKEW_MS)} (${longDate(now)} + 5 min.)`,
      )
    }
    if (!parsed.signedHeaders.includes('host')) throw denied('InvalidSignatureException', MESSAGES.mismatch)
    const expected = await this.expectedSignature(req, parsed, secret)
    const a = Buffer.from(expected, 'hex')
    const b = Buffer.from(parsed.signature, 'hex')
    if (a.length !== b.length || !timingSafeEqual(a, b))
      throw denied('InvalidSignatureException', MESSAGES.mismatch)
    return { accessKeyId: parsed.accessKeyId, service: parsed.service, region: parsed.region }
  }

  private async expectedSignature(req: SignedRequest, parsed: Parsed, secret: string): Promise<string> {
    const headers: Record<string, string> = {}
    for (const name of parsed.signedHeaders) {
      const value = header(req.headers, name)
      if (value === undefined) throw denied('InvalidSignatureException', MESSAGES.mismatch)
      headers[name] = value
    }
    const bodyHash = await sha256Hex(req.body)
    const claimed = headers['x-amz-content-sha256']
    // The signer trusts this header; AWS checks it against the body, and so do we.
    if (claimed !== undefined && claimed !== bodyHash)
      throw denied('InvalidSignatureException', MESSAGES.mismatch)
    const question = req.url.indexOf('?')
    const path = question < 0 ? req.url : req.url.slice(0, question)
    const query: Record<string, string | string[]> = {}
    for (const [key, value] of new URLSearchParams(question < 0 ? '' : req.url.slice(question + 1))) {
      if (parsed.presigned && key === 'X-Amz-Signature') continue
      const seen = query[key]
      query[key] = seen === undefined ? value : Array.isArray(seen) ? [...seen, value] : [seen, value]
    }
    const signer = new SignatureV4({
      credentials: { accessKeyId: parsed.accessKeyId, secretAccessKey: secret },
      region: parsed.region,
      service: parsed.service,
      sha256: Hash.bind(null, 'sha256'),
      // The SDK clients of these services escape the path again (they are not S3).
      uriEscapePath: true,
      applyChecksum: false,
    })
    const request = {
      method: req.method,
      protocol: 'http:',
      hostname: headers['host'] ?? '',
      path,
      query,
      headers,
      body: req.body.length === 0 ? undefined : req.body,
    }
    const signingDate = new Date(amzDateMs(parsed.amzDate))
    const signableHeaders = new Set(parsed.signedHeaders)
    if (parsed.presigned) {
      const presigned = await signer.presign(request, {
        signingDate,
        expiresIn: parsed.expiresS ?? 0,
        signableHeaders,
        // Keep the signed headers as headers: the client signed them there.
        unhoistableHeaders: signableHeaders,
      })
      const value = presigned.query?.['X-Amz-Signature']
      return typeof value === 'string' ? value : ''
    }
    const signed = await signer.sign(request, { signingDate, signableHeaders })
    return /Signature=([0-9a-f]{64})/.exec(String(signed.headers['authorization'] ?? ''))?.[1] ?? ''
  }
}

async function sha256Hex(body: Buffer): Promise<string> {
  if (body.length === 0) return EMPTY_SHA256
  const hash = new Hash('sha256')
  hash.update(body)
  return Buffer.from(await hash.digest()).toString('hex')
}
