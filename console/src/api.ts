/** Calls to fleetjobs' console API (src/console/console.ts): same origin, the session cookie, AWS errors. */

export const API = '/console/api'

/** An AWS-style error answer: the error type (`x-amzn-ErrorType`), its message and HTTP status. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message)
  }
}

/** Called when an answer says the session is gone (401): the app shows the login form. */
let onSignedOut: () => void = () => undefined
export function whenSignedOut(callback: () => void): void {
  onSignedOut = callback
}

/** GETs started before the first render (prefetch), each taken once by the first call that asks for it. */
const early = new Map<string, Promise<unknown>>()

/**
 * Starts a GET now, in parallel with the page's own start (the session check): the first call for the
 * same path takes its answer instead of asking again. A refusal (401 before signing in) is not kept.
 */
export function prefetch(path: string): void {
  const answer = send('GET', path, undefined, false)
  answer.catch(() => undefined)
  early.set(path, answer)
}

function call<T>(method: string, path: string, body?: unknown): Promise<T> {
  const started = method === 'GET' ? early.get(path) : undefined
  if (started === undefined) return send<T>(method, path, body, true)
  early.delete(path)
  return (started as Promise<T>).catch((e: unknown) => {
    if (e instanceof ApiError && e.status === 401) return send<T>(method, path, body, true)
    throw e
  })
}

async function send<T>(method: string, path: string, body: unknown, signalSignOut: boolean): Promise<T> {
  const res = await fetch(`${API}${path}`, {
    method,
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      // Every state-changing call carries it: a cross-site form cannot (docs/console.md#security).
      ...(method === 'GET' ? {} : { 'x-fleetjobs-console': '1', 'content-type': 'application/json' }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  })
  const text = await res.text()
  let parsed: unknown = {}
  if (text !== '') {
    try {
      parsed = JSON.parse(text)
    } catch {
      // Not JSON (a proxy's error page): the status says enough.
      parsed = { message: text.slice(0, 200) }
    }
  }
  if (!res.ok) {
    const code = res.headers.get('x-amzn-errortype') ?? `HTTP ${res.status}`
    const message = (parsed as { message?: unknown }).message
    if (res.status === 401 && signalSignOut && !path.startsWith('/session')) onSignedOut()
    throw new ApiError(res.status, code, typeof message === 'string' ? message : res.statusText)
  }
  return parsed as T
}

/** A control-plane operation by its AWS name, with its input as the AWS model names it. */
export function aws<T = Record<string, unknown>>(operation: string, input: object): Promise<T> {
  return call<T>('POST', `/aws/${operation}`, input)
}

export interface SessionInfo {
  readonly loginRequired: boolean
  readonly methods: readonly ('access-key' | 'operator')[]
  readonly user?: string
}

export const session = {
  get: () => call<SessionInfo>('GET', '/session'),
  login: (username: string, password: string) =>
    call<{ user: string }>('POST', '/session', { username, password }),
  logout: () => call<object>('DELETE', '/session'),
}

export interface JobView extends Record<string, unknown> {
  readonly jobId: string
  readonly jobArn: string
  readonly status: string
  readonly targets?: readonly string[]
  readonly createdAt: number
  readonly jobProcessDetails?: Record<string, unknown>
}

export function listJobs(query: {
  status?: string | undefined
  nextToken?: string | undefined
  maxResults?: number | undefined
}): Promise<{ jobs: JobView[]; nextToken?: string }> {
  const q = new URLSearchParams()
  if (query.status !== undefined && query.status !== '') q.set('status', query.status)
  if (query.nextToken !== undefined) q.set('nextToken', query.nextToken)
  if (query.maxResults !== undefined) q.set('maxResults', String(query.maxResults))
  const qs = q.toString()
  return call('GET', `/jobs${qs === '' ? '' : `?${qs}`}`)
}

export const EVENTS_URL = `${API}/events`
