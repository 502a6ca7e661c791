/**
 * The web console on the control-plane port (docs/console.md): the compiled page under `/console`, and
 * its JSON API under `/console/api/`:
 *
 * - `GET  /console/api/session`        whether a login is needed, and who is signed in
 * - `POST /console/api/session`        sign in (`{username, password}`): sets the session cookie
 * - `DELETE /console/api/session`      sign out
 * - `GET  /console/api/jobs`           a page of jobs with their per-status counts and settings (as
 *   DescribeJob shows each, with the first few targets and `targetCount`)
 * - `POST /console/api/aws/<Operation>` a control-plane operation by its AWS name, JSON input as the
 *   model names it, through the same model validation and handlers as the HTTP API
 * - `GET  /console/api/events`         server-sent `changed` events, coalesced, from the commit hook
 *
 * Every API call but the session ones needs the session cookie when a login is required (401
 * UnauthorizedException otherwise). Every POST and DELETE needs `x-fleetjobs-console: 1`: a header a
 * cross-site form cannot send and a cross-site script cannot send without a CORS preflight, which is
 * never granted (403 AccessDeniedException otherwise). Errors are AWS's JSON errors.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Logger } from 'pino'
import type { AppContext } from '../app/context.js'
import { listJobs } from '../app/jobs.js'
import type { LoadedModels, OperationSpec } from '../aws-model/model.js'
import { describeValidationError } from '../aws-model/model.js'
import { ServiceError, invalidRequest } from '../domain/errors.js'
import type { Job } from '../domain/records.js'
import { errorStatus } from '../http/errors.js'
import { CONTROL_PLANE } from '../http/operations.js'
import { jobShape } from '../http/presenters.js'
import { ConsoleEvents } from './events.js'
import type { ConsoleLogins, LoginMethod } from './session.js'
import { ConsoleSessions } from './session.js'
import { StaticFiles } from './static-files.js'

/** Where the console lives on the main port. */
export const CONSOLE_PREFIX = '/console'
/** The header every state-changing console call carries. [docs/console.md#security] */
export const CSRF_HEADER = 'x-fleetjobs-console'
/** Targets of each job in the jobs list (DescribeJob has them all). */
const LIST_TARGETS = 3
/** Request bodies of the console API: operations' inputs are small; CreateJob's is the largest. */
const MAX_BODY_BYTES = 1024 * 1024

/**
 * The control-plane operations the console may call: what its pages read and the actions it offers.
 * Nothing else (certificates, thing or group changes) is reachable through it.
 */
export const CONSOLE_OPERATIONS: ReadonlySet<string> = new Set([
  'DescribeJob',
  'GetJobDocument',
  'ListJobExecutionsForJob',
  'DescribeJobExecution',
  'ListJobExecutionsForThing',
  'ListThings',
  'DescribeThing',
  'ListThingGroups',
  'DescribeThingGroup',
  'ListThingsInThingGroup',
  'ListThingGroupsForThing',
  'ListJobTemplates',
  'DescribeJobTemplate',
  'CreateJob',
  'CancelJob',
  'DeleteJob',
  'CancelJobExecution',
  'DeleteJobExecution',
])

export interface ConsoleOptions {
  readonly context: AppContext
  readonly models: LoadedModels
  readonly logins: ConsoleLogins
  readonly logger: Logger
  /** Files to serve instead of dist/public/console (tests). */
  readonly staticDir?: string | undefined
}

export interface WebConsole {
  /** Takes the requests under /console (true), leaves the rest (false). */
  readonly route: (req: IncomingMessage, res: ServerResponse) => boolean
  /** Call after every store commit. */
  readonly changed: () => void
  /** Whether a login is required, and with what. */
  readonly login: { readonly required: boolean; readonly methods: readonly LoginMethod[] }
  /** Whether the page was built (dist/public/console/index.html). */
  readonly built: boolean
  /** Ends the event streams, so that the listeners' shutdown does not wait for them. */
  close(): void
}

export function createConsole(options: ConsoleOptions): WebConsole {
  const { context: ctx, models, logger } = options
  const sessions = new ConsoleSessions(options.logins)
  const events = new ConsoleEvents()
  const files = new StaticFiles(options.staticDir)
  const specs = new Map<string, OperationSpec>()
  for (const spec of models.operations)
    if (spec.plane === 'controlPlane' && CONSOLE_OPERATIONS.has(spec.name)) specs.set(spec.name, spec)
  const listJobsSpec = models.operations.find((o) => o.plane === 'controlPlane' && o.name === 'ListJobs')
  if (listJobsSpec === undefined) throw new Error('the iot model has no ListJobs')

  const fail = (res: ServerResponse, error: unknown, operation?: string): void => {
    let e: ServiceError
    if (error instanceof ServiceError) e = error
    else {
      logger.error({ err: error, operation }, 'console request failed')
      e = new ServiceError('InternalFailureException', 'Internal failure')
    }
    json(
      res,
      errorStatus(models.errorStatus, 'controlPlane', e.code),
      { message: e.message, ...e.extra },
      {
        'x-amzn-ErrorType': e.code,
      },
    )
  }

  const validate = (spec: OperationSpec, raw: Record<string, unknown>): Record<string, unknown> => {
    const input = spec.dropUnknownMembers(raw)
    if (!spec.validate(input)) {
      const [first] = spec.validate.errors ?? []
      throw invalidRequest(
        first === undefined ? 'request is invalid' : describeValidationError(first, models.patternSource),
      )
    }
    return input
  }

  const needSession = (req: IncomingMessage): void => {
    if (sessions.required && sessions.fromRequest(req) === undefined)
      throw new ServiceError(
        'UnauthorizedException',
        'sign in to the console first (POST /console/api/session)',
      )
  }
  const needCsrfHeader = (req: IncomingMessage): void => {
    if (req.headers[CSRF_HEADER] !== '1')
      throw new ServiceError(
        'AccessDeniedException',
        `console API requests other than GET must carry the header ${CSRF_HEADER}: 1`,
      )
  }

  const api = async (req: IncomingMessage, res: ServerResponse, path: string, query: string) => {
    const method = req.method ?? 'GET'
    if (method !== 'GET' && method !== 'HEAD') needCsrfHeader(req)
    if (path === '/session') {
      if (method === 'GET') {
        const session = sessions.fromRequest(req)
        json(res, 200, {
          loginRequired: sessions.required,
          methods: sessions.methods,
          ...(session === undefined
            ? {}
            : { user: session.user, method: session.method, expiresAt: session.expiresAtMs / 1000 }),
        })
        return
      }
      if (method === 'POST') {
        const body = parseJson(await readBody(req))
        const { username, password } = body
        if (typeof username !== 'string' || username === '')
          throw invalidRequest('username must be a non-empty string')
        if (typeof password !== 'string' || password === '')
          throw invalidRequest('password must be a non-empty string')
        if (!sessions.required) {
          json(res, 200, { loginRequired: false })
          return
        }
        const session = sessions.login(username, password)
        if (session === undefined) {
          logger.warn({ username: username.slice(0, 128) }, 'console sign-in refused')
          throw new ServiceError('UnauthorizedException', 'the username or the password is wrong')
        }
        json(
          res,
          200,
          { user: session.user, method: session.method, expiresAt: session.expiresAtMs / 1000 },
          { 'set-cookie': sessions.setCookie(session, isHttps(req)) },
        )
        return
      }
      if (method === 'DELETE') {
        json(res, 200, {}, { 'set-cookie': sessions.clearCookie() })
        return
      }
    } else if (path === '/jobs' && method === 'GET') {
      needSession(req)
      json(res, 200, await jobsPage(ctx, listJobsSpec, validate, new URLSearchParams(query)))
      return
    } else if (path === '/events' && method === 'GET') {
      needSession(req)
      events.open(req, res)
      return
    } else if (path.startsWith('/aws/') && method === 'POST') {
      needSession(req)
      const name = path.slice('/aws/'.length)
      const spec = specs.get(name)
      const handler = CONTROL_PLANE[name]
      if (spec === undefined || handler === undefined)
        throw new ServiceError(
          'UnknownOperationException',
          `the console does not offer the operation ${name}`,
        )
      const input = validate(spec, parseJson(await readBody(req)))
      json(res, 200, await handler.run(ctx, input))
      return
    }
    throw new ServiceError(
      'UnknownOperationException',
      `No console API matches ${method} /console/api${path}`,
    )
  }

  return {
    route: (req, res) => {
      const url = req.url ?? '/'
      if (!(
        url === CONSOLE_PREFIX ||
        url.startsWith(`${CONSOLE_PREFIX}/`) ||
        url.startsWith(`${CONSOLE_PREFIX}?`)
      ))
        return false
      const q = url.indexOf('?')
      const path = (q < 0 ? url : url.slice(0, q)).slice(CONSOLE_PREFIX.length)
      const query = q < 0 ? '' : url.slice(q + 1)
      if (path === '/api' || path.startsWith('/api/')) {
        api(req, res, path.slice('/api'.length), query).catch((error: unknown) => {
          // The body may be unread (refused before it was needed): close rather than read it.
          if (!req.complete) res.setHeader('connection', 'close')
          fail(res, error)
        })
        return true
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }).end('Method not allowed\n')
        return true
      }
      // `/console` → `/console/`, so that the page's relative URLs resolve under it.
      if (path === '') {
        res.writeHead(301, { location: `${CONSOLE_PREFIX}/${q < 0 ? '' : url.slice(q)}` }).end()
        return true
      }
      files.serve(req, res, path)
      return true
    },
    changed: () => events.changed(),
    login: { required: sessions.required, methods: sessions.methods },
    get built() {
      return files.built
    },
    close: () => events.close(),
  }
}

/**
 * A page of jobs as DescribeJob shows each (counts per status, rollout, abort, timeout and schedule
 * settings): one indexed page read of the jobs table and its counters, never a count over executions.
 */
async function jobsPage(
  ctx: AppContext,
  spec: OperationSpec,
  validate: (spec: OperationSpec, raw: Record<string, unknown>) => Record<string, unknown>,
  query: URLSearchParams,
): Promise<object> {
  const raw: Record<string, unknown> = {}
  for (const name of ['status', 'nextToken', 'targetSelection', 'thingGroupName', 'namespaceId']) {
    const v = query.get(name)
    if (v !== null && v !== '') raw[name] = v
  }
  const maxResults = query.get('maxResults')
  if (maxResults !== null && maxResults !== '') {
    if (!/^\d{1,6}$/.test(maxResults)) throw invalidRequest('maxResults must be an integer')
    raw['maxResults'] = Number(maxResults)
  }
  const input = validate(spec, raw) as Parameters<typeof listJobs>[1]
  const page = await listJobs(ctx, input)
  const nowMs = ctx.clock.nowMs()
  return {
    jobs: page.jobs.map(({ job }) => ({
      ...jobShape(ctx.scope, job, nowMs),
      // A list shows a few targets: a job may name 100 (and a continuous fleet job, ARNs by the hundred).
      targets: job.targets.slice(0, LIST_TARGETS),
      targetCount: job.targets.length,
      jobProcessDetails: { ...countsOf(job) },
    })),
    ...(page.nextToken === undefined ? {} : { nextToken: page.nextToken }),
  }
}

/** DescribeJob's per-status counts, without the rollout's `processingTargets` (the whole target list). */
function countsOf(job: Job): Record<string, number> {
  return {
    numberOfCanceledThings: job.counts.CANCELED,
    numberOfSucceededThings: job.counts.SUCCEEDED,
    numberOfFailedThings: job.counts.FAILED,
    numberOfRejectedThings: job.counts.REJECTED,
    numberOfQueuedThings: job.counts.QUEUED,
    numberOfInProgressThings: job.counts.IN_PROGRESS,
    numberOfRemovedThings: job.counts.REMOVED,
    numberOfTimedOutThings: job.counts.TIMED_OUT,
  }
}

function isHttps(req: IncomingMessage): boolean {
  return 'encrypted' in req.socket && req.socket.encrypted === true
}

function json(res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  res.writeHead(status, {
    ...headers,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  })
  res.end(text)
}

function parseJson(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    // Malformed JSON is the caller's error, named as such.
    throw invalidRequest('the request body is not valid JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed))
    throw invalidRequest('the request body must be a JSON object')
  return parsed as Record<string, unknown>
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  const tooLarge = () =>
    new ServiceError(
      'RequestEntityTooLargeException',
      `the request body is larger than the limit of ${MAX_BODY_BYTES} bytes (1 MiB)`,
    )
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES) return Promise.reject(tooLarge())
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    req.on('data', (chunk: Buffer) => {
      if (failed) return
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        failed = true
        req.pause()
        reject(tooLarge())
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (!failed) resolve(Buffer.concat(chunks))
    })
    req.on('error', (error) => {
      if (!failed) reject(error)
    })
  })
}
