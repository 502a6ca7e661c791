/**
 * What the two baseline servers share: which benchmarked operation a request is (by listener and
 * method only, the least a server can do), canned answers, and the two listeners on free ports.
 */
import { createServer } from 'node:http'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export type Plane = 'controlPlane' | 'dataPlane'
export type RouteKey = 'update' | 'describe-cp' | 'describe-dp' | 'delete'

export function routeOf(plane: Plane, method: string | undefined): RouteKey | undefined {
  if (plane === 'dataPlane')
    return method === 'POST' ? 'update' : method === 'GET' ? 'describe-dp' : undefined
  return method === 'GET' ? 'describe-cp' : method === 'DELETE' ? 'delete' : undefined
}

/** The fleetjobs answer of each route, captured from the real server before the baselines run. */
export class CannedAnswers {
  private readonly bodies = new Map<RouteKey, Buffer>()

  set(args: unknown): void {
    const { key, body } = args as { key: RouteKey; body: string }
    this.bodies.set(key, Buffer.from(body, 'utf8'))
  }

  get(key: RouteKey): Buffer | undefined {
    return this.bodies.get(key)
  }
}

// Same header set as fleetjobs sends (content type, length, a request id of the same length).
const REQUEST_ID = '00000000-0000-4000-8000-000000000000'

export function send(res: ServerResponse, status: number, body: Buffer | string): void {
  res.writeHead(status, {
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(body),
    'x-amzn-RequestId': REQUEST_ID,
  })
  res.end(body)
}

export function notFound(res: ServerResponse, message: string): void {
  send(res, 404, JSON.stringify({ message }))
}

/** Reads the whole body, then calls `then` (callbacks, no promise: the baseline stays bare). */
export function withBody(req: IncomingMessage, then: (body: Buffer) => void): void {
  const chunks: Buffer[] = []
  req.on('data', (chunk: Buffer) => chunks.push(chunk))
  req.on('end', () => then(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks)))
}

/** A control-plane and a data-plane listener on 127.0.0.1, free ports, like fleetjobs. */
export async function listenBoth(
  handler: (plane: Plane, req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; dataPlaneUrl: string; close(): Promise<void> }> {
  const open = async (plane: Plane): Promise<Server> => {
    const server = createServer((req, res) => handler(plane, req, res))
    server.keepAliveTimeout = 65_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', resolve)
    })
    return server
  }
  const servers = [await open('controlPlane'), await open('dataPlane')]
  const urlOf = (s: Server | undefined): string => `http://127.0.0.1:${(s!.address() as AddressInfo).port}`
  return {
    url: urlOf(servers[0]),
    dataPlaneUrl: urlOf(servers[1]),
    close: () =>
      Promise.all(
        servers.map(
          (s) =>
            new Promise<void>((resolve) => {
              s.close(() => resolve())
              s.closeAllConnections()
            }),
        ),
      ).then(() => undefined),
  }
}
