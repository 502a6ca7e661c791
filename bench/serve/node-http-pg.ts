/**
 * The PostgreSQL baseline of UpdateJobExecution (`--store postgres`): bare node:http + node-postgres
 * (`pg`) doing one single-row UPDATE per request, autocommit (one transaction, one durable commit), on
 * a pool of `poolSize` connections — as many as the point has concurrent requests, so each in-flight
 * request has a connection of its own. Answers with fleetjobs' own JSON, like the SQLite baseline
 * (`node-http-sqlite.ts`) whose shape it mirrors.
 *
 *   UPDATE t SET version = version + 1, status = $1, updated_at = $2 WHERE id = $3
 *
 * `t` (`pgBaselineTable` in baseline-schema.ts) holds one row per thing of the point's request list, created by the bench
 * process in a schema of its own; the thing in the request path picks the row. Unnamed statements
 * (`pool.query(text, values)`), as fleetjobs' store sends them.
 */
import pg from 'pg'
import type { ServerResponse } from 'node:http'
import { pgConfig } from '../lib/pg.js'
import { CannedAnswers, listenBoth, notFound, routeOf, send, withBody } from './baseline-routes.js'
import { childConfig, cpuMs, serveChild } from './child-ipc.js'

export interface NodeHttpPgConfig {
  readonly url: string
  readonly schema: string
  readonly poolSize: number
  /** Thing names in row order: the thing at index i is the row with id i + 1. */
  readonly thingNames: readonly string[]
}

const UPDATE = 'UPDATE t SET version = version + 1, status = $1, updated_at = $2 WHERE id = $3'

await serveChild(async () => {
  const config = childConfig<NodeHttpPgConfig>()
  const pool = new pg.Pool({ ...pgConfig(config.url, config.schema), max: config.poolSize })
  pool.on('error', () => undefined)
  const rowOf = new Map(config.thingNames.map((name, i) => [name, i + 1]))
  const answers = new CannedAnswers()
  const answer = (res: ServerResponse, found: boolean): void => {
    const body = answers.get('update')
    if (!found || body === undefined) notFound(res, 'no row or no canned answer for update')
    else send(res, 200, body)
  }

  const listeners = await listenBoth((plane, req, res) => {
    withBody(req, (body) => {
      const url = req.url ?? '/'
      if (routeOf(plane, req.method) !== 'update')
        return notFound(res, `no route for ${req.method ?? ''} ${url}`)
      const q = url.indexOf('?')
      // /things/{thingName}/jobs/{jobId}
      const thingName = decodeURIComponent((q < 0 ? url : url.slice(0, q)).split('/')[2] ?? '')
      const id = rowOf.get(thingName)
      if (id === undefined) return answer(res, false)
      const input = JSON.parse(body.toString('utf8')) as { status: string }
      pool.query(UPDATE, [input.status, Date.now(), id]).then(
        (result) => answer(res, result.rowCount === 1),
        (error: unknown) => send(res, 500, JSON.stringify({ message: String(error) })),
      )
    })
  })
  return {
    info: { url: listeners.url, dataPlaneUrl: listeners.dataPlaneUrl },
    handlers: {
      setAnswer: (args) => answers.set(args),
      cpuMs,
    },
    close: async () => {
      await listeners.close()
      await pool.end()
    },
  }
})
