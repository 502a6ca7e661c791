/**
 * The console's compiled files (`vite build` → dist/public/console/, at `npm install` and `npm run
 * build`), read once into memory: a few hundred kilobytes. Hashed assets are cached for a year;
 * index.html is revalidated every time so that a new build is picked up.
 */
import { createHash } from 'node:crypto'
import { existsSync, readFileSync, readdirSync, statSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { extname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

/** From src/console/*.ts (tsx) and dist/console/*.js alike, the build output is two levels up. */
export const CONSOLE_DIST_DIR = fileURLToPath(new URL('../../dist/public/console/', import.meta.url))

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.map': 'application/json',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
}

/**
 * The page may load only its own files and talk only to its own origin; it is never framed.
 * Styles are files too (no inline style elements); `style-src 'unsafe-inline'` covers only the
 * `style` attributes the components set (the progress bars' widths).
 */
export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

interface StaticFile {
  readonly body: Buffer
  readonly type: string
  readonly etag: string
  /** Under assets/: the name carries a content hash, so the file never changes. */
  readonly immutable: boolean
}

export class StaticFiles {
  private files: Map<string, StaticFile> | undefined

  constructor(private readonly dir: string = CONSOLE_DIST_DIR) {}

  /** Whether the console was built (index.html exists). */
  get built(): boolean {
    return existsSync(join(this.dir, 'index.html'))
  }

  /**
   * Answers a GET/HEAD for `path` (below /console, without the query): the file, index.html for the
   * console's root, or 404. Files are loaded on first use, and again if the build was missing then.
   */
  serve(req: IncomingMessage, res: ServerResponse, path: string): void {
    const files = this.load()
    if (files === undefined) {
      send(res, 503, 'text/plain; charset=utf-8', {}, NOT_BUILT)
      return
    }
    const name = path === '' || path === '/' ? 'index.html' : path.replace(/^\//, '')
    const file = files.get(name)
    if (file === undefined) {
      send(res, 404, 'text/plain; charset=utf-8', {}, `Not found: /console/${name}\n`)
      return
    }
    const headers: Record<string, string> = {
      etag: file.etag,
      'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    }
    if (file.type.startsWith('text/html')) {
      headers['content-security-policy'] = CONTENT_SECURITY_POLICY
      headers['x-frame-options'] = 'DENY'
    }
    if (req.headers['if-none-match'] === file.etag) {
      res.writeHead(304, headers).end()
      return
    }
    send(res, 200, file.type, headers, req.method === 'HEAD' ? undefined : file.body, file.body.length)
  }

  private load(): Map<string, StaticFile> | undefined {
    if (this.files !== undefined) return this.files
    if (!this.built) return undefined
    const files = new Map<string, StaticFile>()
    for (const entry of readdirSync(this.dir, { recursive: true, encoding: 'utf8' })) {
      const full = join(this.dir, entry)
      if (!statSync(full).isFile()) continue
      const body = readFileSync(full)
      const name = relative(this.dir, full).split(sep).join('/')
      files.set(name, {
        body,
        type: CONTENT_TYPES[extname(name)] ?? 'application/octet-stream',
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`,
        immutable: name.startsWith('assets/'),
      })
    }
    this.files = files
    return files
  }
}

const NOT_BUILT =
  'The console is not built: run `npm run build` (or `npm install`, which builds it), then reload.\n'

function send(
  res: ServerResponse,
  status: number,
  type: string,
  headers: Record<string, string>,
  body: string | Buffer | undefined,
  length?: number,
): void {
  res.writeHead(status, {
    ...headers,
    'content-type': type,
    'content-length': length ?? (body === undefined ? 0 : Buffer.byteLength(body)),
  })
  res.end(body)
}
