/** Baseline 1: a bare node:http server that answers each benchmarked request with fleetjobs' own JSON. */
import { CannedAnswers, listenBoth, notFound, routeOf, send, withBody } from './baseline-routes.js'
import { serveChild } from './child-ipc.js'

await serveChild(async () => {
  const answers = new CannedAnswers()
  const listeners = await listenBoth((plane, req, res) => {
    withBody(req, () => {
      const key = routeOf(plane, req.method)
      const body = key === undefined ? undefined : answers.get(key)
      if (body === undefined) notFound(res, `no canned answer for ${req.method ?? ''} on ${plane}`)
      else send(res, 200, body)
    })
  })
  return {
    info: { url: listeners.url, dataPlaneUrl: listeners.dataPlaneUrl },
    handlers: { setAnswer: (args) => answers.set(args) },
    close: () => listeners.close(),
  }
})
