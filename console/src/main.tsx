import { render } from 'preact'
import { prefetch } from './api.js'
import { App } from './components/app.js'
import { PAGE_SIZE } from './components/jobs.js'
import { parseRoute } from './route.js'
import './style.css'

// The session and, on the jobs list, its first page are asked for at once, not one after the other.
prefetch('/session')
if (parseRoute(location.hash).page === 'jobs') prefetch(`/jobs?maxResults=${PAGE_SIZE}`)

const root = document.getElementById('app')
if (root !== null) render(<App />, root)
