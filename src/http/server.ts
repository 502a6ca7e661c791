/**
 * The HTTP side: two AWS REST-JSON APIs on node:http, routed from the models' request URIs.
 * The main listener serves the control plane, the data plane under the `/iot-jobs-data` prefix,
 * and data-plane requests signed for `iot-jobs-data`; a second listener serves only the data plane.
 * [spec: wire-protocol#1] [ARCHITECTURE: both AWS APIs, told apart]
 */
import FindMyWay from 'find-my-way'
import type { HTTPVersion, Instance } from 'find-my-way'
import { createHash, randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'
import type { Logger } from 'pino'
import type { AppContext } from '../app/context.js'
import { ServiceError, invalidRequest } from '../domain/errors.js'
import { ENVELOPE_CODES, errorStatus } from './errors.js'
import type { LoadedModels, OperationSpec, Plane } from '../aws-model/model.js'
import { describeValidationError, loadModels } from '../aws-model/model.js'
import type { Input, OperationHandler } from './operations.js'
import { CONTROL_PLANE, DATA_PLANE } from './operations.js'
import type { RateLimit } from '../app/throttle.js'
import { Throttle } from '../app/throttle.js'
import { advanceClock, getClock, resetService } from '../app/test-clock.js'
import type { SigV4Verifier } from './sigv4.js'
import { signingService } from './sigv4.js'

/** The SigV4 signing name of the device data plane. [spec: wire-protocol#1] */
export const DATA_PLANE_SIGNING_NAME = 'iot-jobs-data'

/** The path prefix that selects the data plane on the main listener. */
export const DATA_PLANE_PREFIX = '/iot-jobs-data'
/**
 * Largest request body accepted: a 32 KB document plus room for 10,000 target ARNs. Larger: 413
 * `RequestEntityTooLargeException` and the connection closes. Header, time and connection limits are in
 * listener.ts.
 */
export const MAX_BODY_BYTES = 1024 * 1024

/**
 * find-my-way answers 404 for a path parameter longer than `maxParamLength` (default 100); AWS names
 * go to 128 characters (ARNs further), so length is left to the model validation, which names the
 * field. The body limit bounds the URL anyway (Node caps headers at 16 KiB).
 */
const ROUTER_OPTIONS = { maxParamLength: 16 * 1024 } as const

export type ResponseStyle = 'aws' | 'envelope'

export interface HttpOptions {
  readonly responseStyle: ResponseStyle
  /** SigV4 verification of every request (`--auth sigv4`); undefined accepts any caller. [spec: wire-protocol#7] */
  readonly auth?: SigV4Verifier | undefined
  /**
   * The service clock, for the `Date` header: SDKs correct their clock skew from it, so signatures stay
   * valid against a virtual clock as against AWS. Default: node's own (the machine's clock).
   */
  readonly nowMs?: (() => number) | undefined
  readonly rateLimit?: { readonly controlPlane?: RateLimit; readonly dataPlane?: RateLimit } | undefined
  readonly logger: Logger
  /**
   * Whom a client certificate may act for, on the data plane over TLS: `ok`, or why not. The store
   * answers (Store.certificateIdentity); docs/tls.md.
   */
  readonly certificateIdentity?: CertificateIdentityCheck | undefined
  /** Called once per answered request (metrics); must be cheap and must not throw. */
  readonly observe?: ((record: RequestRecord) => void) | undefined
}

/** One answered request, as metrics and the request log see it. */
export interface RequestRecord {
  readonly plane: Plane
  /** The AWS operation, or `unknown` when no route matched (the test API: `fleetjobs-test-api`). */
  readonly operation: string
  readonly status: number
  readonly seconds: number
  /** The error type answered, when the status is not 200. */
  readonly errorType?: string | undefined
}

/** `ok` when the certificate is registered, ACTIVE and attached to the thing; otherwise the reason. */
export type CertificateIdentityCheck = (
  certificateId: string,
  thingName: string,
) => Promise<'ok' | 'unknown' | 'inactive' | 'revoked' | 'not-attached' | 'no-thing'>

interface Route {
  readonly spec: OperationSpec
  readonly handler: OperationHandler
}

type Router = Instance<HTTPVersion.V1>

export interface RequestHandlers {
  /** Handler of the main listener (control plane, prefixed and signed data plane). */
  readonly main: (req: IncomingMessage, res: ServerResponse) => void
  /** Handler of the data-plane listener. */
  readonly dataPlane: (req: IncomingMessage, res: ServerResponse) => void
  /** Handler of the data plane over TLS: the client certificate, not SigV4, says who is calling. */
  readonly dataPlaneTls: (req: IncomingMessage, res: ServerResponse) => void
}

/** The AWS models of every operation served over HTTP (the MQTT side validates with the same ones). */
export function loadServedModels(): LoadedModels {
  return loadModels({ controlPlane: Object.keys(CONTROL_PLANE), dataPlane: Object.keys(DATA_PLANE) })
}

export function createRequestHandlers(
  ctx: AppContext,
  options: HttpOptions,
  models: LoadedModels,
): RequestHandlers {
  const routers: Record<Plane, Router> = {
    controlPlane: FindMyWay(ROUTER_OPTIONS),
    dataPlane: FindMyWay(ROUTER_OPTIONS),
  }
  for (const spec of models.operations) {
    const handler = (spec.plane === 'controlPlane' ? CONTROL_PLANE : DATA_PLANE)[spec.name]
    if (handler === undefined) continue
    const path = spec.requestUri.replace(/\{(\w+)\+?\}/g, ':$1')
    const route: Route = { spec, handler }
    routers[spec.plane].on(spec.method as 'GET', path, () => undefined, route)
  }
  const clock = () => ctx.clock.nowMs()
  const throttles: Partial<Record<Plane, Throttle>> = {}
  if (options.rateLimit?.controlPlane !== undefined)
    throttles.controlPlane = new Throttle(options.rateLimit.controlPlane, clock)
  if (options.rateLimit?.dataPlane !== undefined)
    throttles.dataPlane = new Throttle(options.rateLimit.dataPlane, clock)

  const handle = (
    req: IncomingMessage,
    res: ServerResponse,
    plane: Plane,
    path: string,
    certificate?: PeerCertificate,
  ): void => {
    const requestId = randomUUID()
    const ctxForRequest: RequestState = {
      plane,
      requestId,
      route: undefined,
      certificate,
      startedMs: performance.now(),
    }
    serve(ctx, models, routers, throttles, options, req, res, path, ctxForRequest).catch((error: unknown) => {
      respondError(models, options, res, ctxForRequest, error)
    })
  }
  const handleTestApi = (req: IncomingMessage, res: ServerResponse, path: string): void => {
    const state: RequestState = {
      plane: 'controlPlane',
      requestId: randomUUID(),
      route: undefined,
      startedMs: performance.now(),
      operation: TEST_API_OPERATION,
    }
    serveTestApi(ctx, options, req, res, path, state).catch((error: unknown) => {
      respondError(models, options, res, state, error)
    })
  }
  return {
    main: (req, res) => {
      const url = req.url ?? '/'
      if (url.startsWith(TEST_API_PREFIX)) {
        handleTestApi(req, res, url)
      } else if (
        url === DATA_PLANE_PREFIX ||
        url.startsWith(`${DATA_PLANE_PREFIX}/`) ||
        url.startsWith(`${DATA_PLANE_PREFIX}?`)
      ) {
        handle(req, res, 'dataPlane', url.slice(DATA_PLANE_PREFIX.length) || '/')
      } else if (signingService(req.headers, url) === DATA_PLANE_SIGNING_NAME) {
        handle(req, res, 'dataPlane', url)
      } else {
        handle(req, res, 'controlPlane', url)
      }
    },
    dataPlane: (req, res) => {
      const url = req.url ?? '/'
      const path = url.startsWith(`${DATA_PLANE_PREFIX}/`) ? url.slice(DATA_PLANE_PREFIX.length) : url
      handle(req, res, 'dataPlane', path)
    },
    dataPlaneTls: (req, res) => {
      const url = req.url ?? '/'
      const path = url.startsWith(`${DATA_PLANE_PREFIX}/`) ? url.slice(DATA_PLANE_PREFIX.length) : url
      handle(req, res, 'dataPlane', path, peerCertificate(req))
    },
  }
}

/** The client certificate of a TLS request: its AWS certificate id, or `null` when none was presented. */
type PeerCertificate = { readonly certificateId: string } | null

function peerCertificate(req: IncomingMessage): PeerCertificate {
  const raw = (req.socket as TLSSocket).getPeerCertificate().raw as Buffer | undefined
  // AWS's certificate id: the SHA-256 of the DER certificate. [aws: CertificateDescription]
  return raw === undefined ? null : { certificateId: createHash('sha256').update(raw).digest('hex') }
}

/**
 * A data-plane request over TLS may act only for a thing its certificate is attached to (AWS's usual
 * `iot:Connection.Thing.IsAttached` policy): an unusable certificate is CertificateValidationException,
 * another thing's resources AccessDeniedException. [docs/tls.md]
 */
async function checkCertificate(
  options: HttpOptions,
  certificate: PeerCertificate,
  thingName: string,
): Promise<void> {
  if (certificate === null)
    throw new ServiceError('CertificateValidationException', 'no client certificate was presented')
  const check = options.certificateIdentity
  const verdict = check === undefined ? 'unknown' : await check(certificate.certificateId, thingName)
  switch (verdict) {
    case 'ok':
      return
    case 'unknown':
      throw new ServiceError(
        'CertificateValidationException',
        `the client certificate ${certificate.certificateId} is not registered`,
      )
    case 'inactive':
    case 'revoked':
      throw new ServiceError(
        'CertificateValidationException',
        `the client certificate ${certificate.certificateId} is ${verdict.toUpperCase()}`,
      )
    case 'not-attached':
    case 'no-thing':
      throw new ServiceError(
        'AccessDeniedException',
        `the client certificate ${certificate.certificateId} is not attached to thing ${thingName}`,
      )
  }
}

/** The virtual clock's test API, on the main port only (beyond AWS). [spec: test-clock#2] */
export const TEST_API_PREFIX = '/_fleetjobs/'

async function serveTestApi(
  ctx: AppContext,
  options: HttpOptions,
  req: IncomingMessage,
  res: ServerResponse,
  url: string,
  state: RequestState,
): Promise<void> {
  const path = url.split('?')[0] ?? ''
  const method = req.method ?? 'GET'
  const body = await readBody(req)
  // The test API is as protected as the control plane it sits beside.
  if (options.auth !== undefined) await authenticate(options.auth, req, body, 'controlPlane')
  let output: object
  if (path === '/_fleetjobs/clock' && method === 'GET') output = getClock(ctx)
  else if (path === '/_fleetjobs/clock/advance' && method === 'POST')
    output = await advanceClock(ctx, parseBody(body))
  else if (path === '/_fleetjobs/reset' && method === 'POST') output = await resetService(ctx)
  else
    throw new ServiceError(
      'UnknownOperationException',
      `No fleetjobs test operation matches ${method} ${path}`,
    )
  respond(options, res, state, 200, output)
}

interface RequestState {
  readonly plane: Plane
  readonly requestId: string
  route: Route | undefined
  /** Set on the data plane over TLS: the caller's certificate (null: none presented). */
  readonly certificate?: PeerCertificate | undefined
  /** performance.now() when the request arrived. */
  readonly startedMs: number
  /** The input once bound (the request log names its thing and job). */
  input?: Input | undefined
  /** Set for requests that are not AWS operations. */
  readonly operation?: string | undefined
}

/** The operation name the test API's requests are recorded under. */
const TEST_API_OPERATION = 'fleetjobs-test-api'

async function serve(
  ctx: AppContext,
  models: LoadedModels,
  routers: Record<Plane, Router>,
  throttles: Partial<Record<Plane, Throttle>>,
  options: HttpOptions,
  req: IncomingMessage,
  res: ServerResponse,
  rawPath: string,
  state: RequestState,
): Promise<void> {
  // Over TLS the client certificate is the credential (checked against the thing once routed).
  if (options.auth !== undefined && state.certificate === undefined) {
    // AWS refuses an unsigned or badly signed request before it looks at the operation.
    const body = await readBody(req)
    await authenticate(options.auth, req, body, state.plane)
    return serveRequest(ctx, models, routers, throttles, options, req, res, rawPath, state, body)
  }
  return serveRequest(ctx, models, routers, throttles, options, req, res, rawPath, state, undefined)
}

/** The signing names each plane accepts: the control plane's two (newest SDK, 2022 model), the data plane's. */
const SIGNING_NAMES: Record<Plane, readonly string[]> = {
  controlPlane: ['iot', 'execute-api'],
  dataPlane: [DATA_PLANE_SIGNING_NAME],
}

async function authenticate(
  auth: SigV4Verifier,
  req: IncomingMessage,
  body: Buffer,
  plane: Plane,
): Promise<void> {
  await auth.verify(
    { method: req.method ?? 'GET', url: req.url ?? '/', headers: req.headers, body },
    SIGNING_NAMES[plane],
  )
}

async function serveRequest(
  ctx: AppContext,
  models: LoadedModels,
  routers: Record<Plane, Router>,
  throttles: Partial<Record<Plane, Throttle>>,
  options: HttpOptions,
  req: IncomingMessage,
  res: ServerResponse,
  rawPath: string,
  state: RequestState,
  bodyRead: Buffer | undefined,
): Promise<void> {
  // [spec: wire-protocol#2.1] `$next` arrives encoded or not.
  const path = rawPath.includes('%') ? rawPath.replace(/\/%24next(?=[/?]|$)/gi, '/$next') : rawPath
  const found = routers[state.plane].find((req.method ?? 'GET') as 'GET', path)
  if (found === null) {
    if (bodyRead === undefined) await drain(req)
    if (!isValidPercentEncoding(path)) throw invalidRequest('the request path is not valid percent-encoding')
    throw new ServiceError(
      'UnknownOperationException',
      `No ${planeName(state.plane)} operation matches ${req.method ?? ''} ${path.split('?')[0] ?? ''}`,
    )
  }
  const route = found.store as Route
  state.route = route
  const body = bodyRead ?? (hasNoBody(req) ? NO_BODY : await readBody(req))
  const q = path.indexOf('?')
  const input = bind(route.spec, found.params, q < 0 ? '' : path.slice(q + 1), req.headers, body)
  state.input = input
  if (!route.spec.validate(input)) {
    const [first] = route.spec.validate.errors ?? []
    throw invalidRequest(
      first === undefined ? 'request is invalid' : describeValidationError(first, models.patternSource),
    )
  }
  if (state.certificate !== undefined)
    await checkCertificate(options, state.certificate, String(input['thingName']))
  // [spec: delete-job-execution#2] the rate limit comes after validation: a malformed request is
  // InvalidRequestException whatever the bucket holds.
  const throttle = throttles[state.plane]
  if (throttle !== undefined) {
    const key = state.plane === 'dataPlane' ? String(found.params['thingName'] ?? '') : ''
    if (!throttle.take(key)) throw new ServiceError('ThrottlingException', 'Rate exceeded')
  }
  const output = await route.handler.run(ctx, input)
  respond(options, res, state, 200, envelopeSuccess(options, route, input, output, ctx.clock.nowMs()))
}

function planeName(plane: Plane): string {
  return plane === 'controlPlane' ? 'control-plane (iot)' : 'data-plane (iot-jobs-data)'
}

function isValidPercentEncoding(path: string): boolean {
  try {
    decodeURIComponent(path.split('?')[0] ?? '')
    return true
  } catch {
    // decodeURIComponent throws URIError on malformed escapes: exactly what this asks.
    return false
  }
}

/** Request → input object keyed by model member names. [spec: wire-protocol#2] */
function bind(
  spec: OperationSpec,
  params: Record<string, string | undefined>,
  queryString: string,
  headers: IncomingMessage['headers'],
  body: Buffer,
): Input {
  const input: Input = {}
  let json: Record<string, unknown> | undefined
  let query: URLSearchParams | undefined
  for (const m of spec.members) {
    if (m.location === 'uri') {
      const value = params[m.wireName]
      if (value !== undefined) input[m.name] = scalar(m.wireName, m.type, value)
    } else if (m.location === 'querystring') {
      query ??= new URLSearchParams(queryString)
      const value = query.get(m.wireName)
      if (value !== null) input[m.name] = scalar(m.wireName, m.type, value)
    } else if (m.location === 'header') {
      // e.g. AttachThingPrincipal's principal in `x-amzn-principal`; node lower-cases header names.
      const value = headers[m.wireName.toLowerCase()]
      if (typeof value === 'string') input[m.name] = scalar(m.wireName, m.type, value)
    } else {
      json ??= parseBody(body)
      const value = json[m.wireName]
      if (value !== undefined) input[m.name] = value
    }
  }
  // AWS ignores what its model does not define, at every level; `null` means absent. [spec: wire-protocol#2.3]
  // Only a body can hold such members: path, query and header values are bound by name, as scalars.
  return json === undefined ? input : spec.dropUnknownMembers(input)
}

/** Path and query values are strings on the wire; numbers and booleans are parsed strictly. */
function scalar(name: string, type: string, raw: string): unknown {
  switch (type) {
    case 'integer':
    case 'long': {
      if (!/^-?\d{1,16}$/.test(raw)) throw invalidRequest(`${name} must be an integer`)
      const n = Number(raw)
      if (!Number.isSafeInteger(n)) throw invalidRequest(`${name} must be an integer`)
      return n
    }
    case 'boolean':
      if (raw === 'true') return true
      if (raw === 'false') return false
      throw invalidRequest(`${name} must be true or false`)
    default:
      return raw
  }
}

function parseBody(body: Buffer): Record<string, unknown> {
  if (body.length === 0) return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(body.toString('utf8'))
  } catch {
    // Malformed JSON is the client's error. [spec: wire-protocol#2.3]
    throw invalidRequest('the request body is not valid JSON')
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw invalidRequest('the request body must be a JSON object')
  }
  return parsed as Record<string, unknown>
}

/** The client went away before its request was complete: nothing to answer, nothing to report. */
class ClientAbortedError extends Error {
  override readonly name = 'ClientAbortedError'
}

/** The body is over MAX_BODY_BYTES: 413, and the connection closes instead of reading the rest. */
const bodyTooLarge = (): ServiceError =>
  new ServiceError(
    'RequestEntityTooLargeException',
    `the request body is larger than the limit of ${MAX_BODY_BYTES} bytes (1 MiB)`,
  )

const NO_BODY = Buffer.alloc(0)

/**
 * A request that declares no body (no Content-Length, or 0, and no Transfer-Encoding: every GET the
 * SDKs send) is not read: node discards what is left of it when the answer ends.
 */
function hasNoBody(req: IncomingMessage): boolean {
  const length = req.headers['content-length']
  return (length === undefined || length === '0') && req.headers['transfer-encoding'] === undefined
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  // A declared length over the limit is refused before a byte of it is read.
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES) return Promise.reject(bodyTooLarge())
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    let failed = false
    req.on('data', (chunk: Buffer) => {
      if (failed) return
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        failed = true
        // No more reading: the answer closes the connection (respond).
        req.pause()
        reject(bodyTooLarge())
        return
      }
      chunks.push(chunk)
    })
    req.on('end', () => {
      if (!failed) resolve(chunks.length === 1 && chunks[0] !== undefined ? chunks[0] : Buffer.concat(chunks))
    })
    req.on('error', (error) => {
      if (!failed) reject(req.complete ? error : new ClientAbortedError(error.message, { cause: error }))
    })
  })
}

function drain(req: IncomingMessage): Promise<void> {
  return new Promise((resolve) => {
    if (req.readableEnded) return resolve()
    req.on('end', resolve)
    req.on('error', () => resolve())
    req.resume()
  })
}

function envelopeSuccess(
  options: HttpOptions,
  route: Route,
  input: Input,
  output: object,
  nowMs: number,
): object {
  if (options.responseStyle !== 'envelope') return output
  const data =
    route.spec.emptyOutput && route.handler.resourceId !== undefined
      ? { id: route.handler.resourceId(input), created_at: new Date(nowMs).toISOString() }
      : output
  return { success: true, data }
}

function respond(
  options: HttpOptions,
  res: ServerResponse,
  state: RequestState,
  status: number,
  body: object,
  errorType?: string,
): void {
  if (res.headersSent) return
  const text = JSON.stringify(body)
  const headers: Record<string, string | number> = {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(text),
    'x-amzn-RequestId': state.requestId,
  }
  if (options.nowMs !== undefined) headers['date'] = new Date(options.nowMs()).toUTCString()
  if (errorType !== undefined) headers['x-amzn-ErrorType'] = errorType
  // Answered before the whole body arrived (over the limit): close rather than read the rest.
  if (!res.req.complete) headers['connection'] = 'close'
  res.writeHead(status, headers)
  res.end(text)
  recordRequest(options, state, status, errorType)
}

/**
 * The request log (pino: `info` for every error answer, `debug` for every request) and the metrics hook.
 * The log line names the operation, status, duration and the thing and job it acted on.
 */
function recordRequest(
  options: HttpOptions,
  state: RequestState,
  status: number,
  errorType: string | undefined,
): void {
  const seconds = (performance.now() - state.startedMs) / 1000
  const operation = state.route?.spec.name ?? state.operation ?? 'unknown'
  options.observe?.({ plane: state.plane, operation, status, seconds, errorType })
  const level = status >= 400 ? 'info' : 'debug'
  if (!options.logger.isLevelEnabled(level)) return
  const input = state.input
  options.logger[level](
    {
      requestId: state.requestId,
      plane: state.plane,
      operation,
      status,
      durationMs: Math.round(seconds * 100_000) / 100,
      ...(errorType === undefined ? {} : { errorType }),
      ...(typeof input?.['thingName'] === 'string' ? { thingName: input['thingName'] } : {}),
      ...(typeof input?.['jobId'] === 'string' ? { jobId: input['jobId'] } : {}),
    },
    'request',
  )
}

function respondError(
  models: LoadedModels,
  options: HttpOptions,
  res: ServerResponse,
  state: RequestState,
  error: unknown,
): void {
  let serviceError: ServiceError
  if (error instanceof ClientAbortedError) {
    // The client's doing (it closed the connection, or node did at the request timeout), not ours.
    options.logger.debug(
      { err: error, requestId: state.requestId, operation: state.route?.spec.name },
      'client closed the connection before the request was complete',
    )
    return
  }
  if (error instanceof ServiceError) {
    serviceError = error
  } else {
    // Unexpected: logged once; the operation's modeled server error goes to the client. [spec: wire-protocol#5.5]
    options.logger.error(
      { err: error, requestId: state.requestId, operation: state.route?.spec.name },
      'request failed',
    )
    serviceError =
      state.route?.spec.errors.has('InternalFailureException') === true
        ? new ServiceError('InternalFailureException', 'Internal failure')
        : new ServiceError('ServiceUnavailableException', 'Service unavailable')
  }
  const status = errorStatus(models.errorStatus, state.plane, serviceError.code)
  const body =
    options.responseStyle === 'envelope'
      ? { success: false, error: { code: ENVELOPE_CODES[serviceError.code], message: serviceError.message } }
      : { message: serviceError.message, ...serviceError.extra }
  respond(options, res, state, status, body, serviceError.code)
}
