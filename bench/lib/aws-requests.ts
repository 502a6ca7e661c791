/**
 * The exact requests the AWS SDK for JavaScript v3 sends for each benchmarked operation, built as
 * plain data once, so the load generator sends raw HTTP (the SDK itself only drives 600–1,300 req/s).
 *
 * Captured from @aws-sdk/client-iot 3.1168 and @aws-sdk/client-iot-jobs-data-plane 3.956 against a
 * recording server: same methods, paths, query strings, bodies and header set. The signature is not
 * checked by fleetjobs; it is a hex string of the real length. `host` and `content-length` are added
 * by the load generator.
 */
import { createHash } from 'node:crypto'

export const REGION = 'us-east-1'
export const ACCOUNT = '123456789012'

export type Method = 'GET' | 'POST' | 'PUT' | 'DELETE'

export interface HttpRequest {
  readonly method: Method
  readonly path: string
  readonly headers: Readonly<Record<string, string>>
  readonly body?: string
}

const AMZ_DATE = '20261128T205424Z'
const SIGNED_NO_BODY = 'host;x-amz-content-sha256;x-amz-date;x-amz-user-agent'
const SIGNED_BODY = 'content-length;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-user-agent'
const CONTROL_PLANE_VERSION = '3.1168.0'
const DATA_PLANE_VERSION = '3.956.0'
const UA_PLATFORM = 'ua/2.1 os/linux#6.18.44-fc-v769 lang/js md/nodejs#20.20.2'

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex')

function signed(
  plane: 'iot' | 'iot-jobs-data',
  method: Method,
  path: string,
  body: string | undefined,
): HttpRequest {
  const version = plane === 'iot' ? CONTROL_PLANE_VERSION : DATA_PLANE_VERSION
  const api = plane === 'iot' ? `iot#${version}` : `iot-jobs-data-plane#${version}`
  // The data-plane client (older SDK line) also sends and signs its retry headers.
  const sdkHeaders = plane === 'iot-jobs-data' ? 'amz-sdk-invocation-id;amz-sdk-request;' : ''
  const signedHeaders = sdkHeaders + (body === undefined ? SIGNED_NO_BODY : SIGNED_BODY)
  const headers: Record<string, string> = {
    ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    'x-amz-user-agent': `aws-sdk-js/${version}`,
    'user-agent': `aws-sdk-js/${version} ${UA_PLATFORM} api/${api} m/N,E,e`,
    ...(plane === 'iot-jobs-data'
      ? { 'amz-sdk-invocation-id': uuidOf(method + path), 'amz-sdk-request': 'attempt=1; max=3' }
      : {}),
    'x-amz-date': AMZ_DATE,
    'x-amz-content-sha256': sha256(body ?? ''),
    authorization:
      `AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/${AMZ_DATE.slice(0, 8)}/${REGION}/${plane}/aws4_request, ` +
      `SignedHeaders=${signedHeaders}, Signature=${sha256(`${method} ${path} ${body ?? ''}`)}`,
  }
  return body === undefined ? { method, path, headers } : { method, path, headers, body }
}

function uuidOf(seed: string): string {
  const h = sha256(seed)
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`
}

const seg = encodeURIComponent

export const thingArn = (thingName: string): string => `arn:aws:iot:${REGION}:${ACCOUNT}:thing/${thingName}`
export const thingGroupArn = (groupName: string): string =>
  `arn:aws:iot:${REGION}:${ACCOUNT}:thinggroup/${groupName}`

/** Control plane (`iot`), sent to the main listener. */
export const controlPlane = {
  createThing: (thingName: string): HttpRequest => signed('iot', 'POST', `/things/${seg(thingName)}`, '{}'),
  createJob: (jobId: string, targets: readonly string[], document: string): HttpRequest =>
    signed('iot', 'PUT', `/jobs/${seg(jobId)}`, JSON.stringify({ targets, document })),
  describeJobExecution: (thingName: string, jobId: string): HttpRequest =>
    signed('iot', 'GET', `/things/${seg(thingName)}/jobs/${seg(jobId)}`, undefined),
  describeJob: (jobId: string): HttpRequest => signed('iot', 'GET', `/jobs/${seg(jobId)}`, undefined),
  /** No body: setAsActive is the only input, in the query string. */
  createKeysAndCertificate: (setAsActive: boolean): HttpRequest =>
    signed('iot', 'POST', `/keys-and-certificate?setAsActive=${setAsActive}`, undefined),
  createThingGroup: (groupName: string): HttpRequest =>
    signed('iot', 'POST', `/thing-groups/${seg(groupName)}`, '{}'),
  listJobExecutionsForJob: (jobId: string, maxResults: number, nextToken?: string): HttpRequest =>
    signed(
      'iot',
      'GET',
      `/jobs/${seg(jobId)}/things?maxResults=${maxResults}` +
        (nextToken === undefined ? '' : `&nextToken=${seg(nextToken)}`),
      undefined,
    ),
  deleteJobExecution: (thingName: string, jobId: string, executionNumber: number): HttpRequest =>
    signed(
      'iot',
      'DELETE',
      `/things/${seg(thingName)}/jobs/${seg(jobId)}/executionNumber/${executionNumber}?force=true`,
      undefined,
    ),
}

/** Device data plane (`iot-jobs-data`), sent to the data-plane listener. */
export const dataPlane = {
  /** A progress report: IN_PROGRESS → IN_PROGRESS is always legal, so it can repeat forever. */
  updateJobExecution: (thingName: string, jobId: string): HttpRequest =>
    signed(
      'iot-jobs-data',
      'POST',
      `/things/${seg(thingName)}/jobs/${seg(jobId)}`,
      JSON.stringify({ status: 'IN_PROGRESS', statusDetails: { p: '1' } }),
    ),
  describeJobExecution: (thingName: string, jobId: string): HttpRequest =>
    signed('iot-jobs-data', 'GET', `/things/${seg(thingName)}/jobs/${seg(jobId)}`, undefined),
}

/**
 * Sends one request with fetch; for seeding and one-off timings, never for load. With `timeoutMs`
 * the request is aborted (and the promise rejects) after that long.
 */
export async function sendOnce(
  baseUrl: string,
  request: HttpRequest,
  timeoutMs?: number,
): Promise<{ status: number; body: string; ms: number }> {
  const started = performance.now()
  const res = await fetch(`${baseUrl}${request.path}`, {
    method: request.method,
    headers: request.headers,
    ...(request.body === undefined ? {} : { body: request.body }),
    ...(timeoutMs === undefined ? {} : { signal: AbortSignal.timeout(timeoutMs) }),
  })
  const body = await res.text()
  return { status: res.status, body, ms: performance.now() - started }
}
