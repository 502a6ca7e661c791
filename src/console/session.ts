/**
 * The console's login: who may sign in, and the signed session cookie that proves it afterwards.
 *
 * Operators sign in with what already protects the service: an access key id and its secret access key
 * when HTTP requests must be SigV4-signed, or the MQTT operator's username and token when the embedded
 * broker authenticates devices. The cookie holds `<payload>.<HMAC-SHA256>`; the payload is the user and
 * an expiry. The HMAC key derives from those same secrets, so every node that shares them accepts the
 * cookie, a restart does not sign anyone out, and changing a secret signs everyone out.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'

/** The session cookie's name; its Path is `/console`. */
export const SESSION_COOKIE = 'fleetjobs_console'
/** How long a sign-in lasts (a working day, then sign in again). */
export const SESSION_TTL_MS = 12 * 3600_000

/** What a console sign-in may use. */
export interface ConsoleLogins {
  /** SigV4 access keys (access key id → secret access key), when HTTP authentication is sigv4. */
  readonly accessKeys?: ReadonlyMap<string, string> | undefined
  /** The MQTT operator's username and token, when the embedded broker authenticates devices. */
  readonly operator?: { readonly username: string; readonly token: string } | undefined
}

export type LoginMethod = 'access-key' | 'operator'

export interface Session {
  /** The access key id or the operator username. */
  readonly user: string
  readonly method: LoginMethod
  readonly expiresAtMs: number
}

/** Constant-time equality of two strings (different lengths are unequal without a timing hint on content). */
function sameSecret(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given, 'utf8').digest()
  const b = createHash('sha256').update(expected, 'utf8').digest()
  return timingSafeEqual(a, b)
}

export class ConsoleSessions {
  private readonly key: Buffer

  constructor(
    private readonly logins: ConsoleLogins,
    private readonly nowMs: () => number = Date.now,
  ) {
    const h = createHash('sha256').update('fleetjobs-console-session:v1')
    for (const [id, secret] of [...(logins.accessKeys ?? new Map<string, string>())].sort(([a], [b]) =>
      a < b ? -1 : a > b ? 1 : 0,
    ))
      h.update(`\0${id}\0${secret}`)
    if (logins.operator !== undefined) h.update(`\0op\0${logins.operator.username}\0${logins.operator.token}`)
    this.key = h.digest()
  }

  /** Whether the console asks for a login at all (off when neither HTTP nor MQTT authenticates). */
  get required(): boolean {
    return this.methods.length > 0
  }

  /** The ways to sign in, for the login form. */
  get methods(): readonly LoginMethod[] {
    const methods: LoginMethod[] = []
    if ((this.logins.accessKeys?.size ?? 0) > 0) methods.push('access-key')
    if (this.logins.operator !== undefined) methods.push('operator')
    return methods
  }

  /**
   * Checks a sign-in: an access key id and its secret, or the operator's username and token. Every
   * comparison is constant-time, and an unknown access key costs the same as a wrong secret.
   */
  login(username: string, password: string): Session | undefined {
    const keys = this.logins.accessKeys
    let method: LoginMethod | undefined
    if (keys !== undefined && keys.size > 0) {
      const secret = keys.get(username)
      const ok = sameSecret(password, secret ?? '\0no such key')
      if (ok && secret !== undefined) method = 'access-key'
    }
    const op = this.logins.operator
    if (method === undefined && op !== undefined) {
      const okName = sameSecret(username, op.username)
      const okToken = sameSecret(password, op.token)
      if (okName && okToken) method = 'operator'
    }
    if (method === undefined) return undefined
    return { user: username, method, expiresAtMs: this.nowMs() + SESSION_TTL_MS }
  }

  /** The cookie value of a session. */
  seal(session: Session): string {
    const payload = Buffer.from(
      JSON.stringify({ u: session.user, m: session.method, e: session.expiresAtMs }),
    ).toString('base64url')
    return `${payload}.${this.mac(payload)}`
  }

  /** The session a request's cookie proves, or undefined (none, forged, expired, or its key is gone). */
  fromRequest(req: IncomingMessage): Session | undefined {
    const value = cookieValue(req.headers.cookie, SESSION_COOKIE)
    if (value === undefined) return undefined
    const dot = value.indexOf('.')
    if (dot <= 0) return undefined
    const payload = value.slice(0, dot)
    const mac = Buffer.from(value.slice(dot + 1), 'utf8')
    const expected = Buffer.from(this.mac(payload), 'utf8')
    if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) return undefined
    let body: unknown
    try {
      body = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'))
    } catch {
      // Signed by us, so this cannot happen short of a key collision: treat it as no session.
      return undefined
    }
    if (typeof body !== 'object' || body === null) return undefined
    const { u, m, e } = body as { u?: unknown; m?: unknown; e?: unknown }
    if (typeof u !== 'string' || (m !== 'access-key' && m !== 'operator') || typeof e !== 'number')
      return undefined
    if (e <= this.nowMs()) return undefined
    // A key taken out of the credentials file (after a restart) no longer signs anyone in.
    if (m === 'access-key' && this.logins.accessKeys?.has(u) !== true) return undefined
    if (m === 'operator' && this.logins.operator === undefined) return undefined
    return { user: u, method: m, expiresAtMs: e }
  }

  /** `Set-Cookie` for a new session: HttpOnly, SameSite=Strict, only under /console. */
  setCookie(session: Session, secure: boolean): string {
    const maxAgeS = Math.max(0, Math.ceil((session.expiresAtMs - this.nowMs()) / 1000))
    return `${SESSION_COOKIE}=${this.seal(session)}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`
  }

  /** `Set-Cookie` that signs out. */
  clearCookie(): string {
    return `${SESSION_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0`
  }

  private mac(payload: string): string {
    return createHmac('sha256', this.key).update(payload).digest('base64url')
  }
}

/** One cookie's value from a `Cookie` header. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim()
  }
  return undefined
}
