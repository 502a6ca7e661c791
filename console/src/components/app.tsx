/** The console's frame: login when needed, the navigation, the live connection, the current page. */
import { useCallback, useEffect, useState } from 'preact/hooks'
import type { SessionInfo } from '../api.js'
import { EVENTS_URL, session, whenSignedOut } from '../api.js'
import type { LiveState } from '../live.js'
import { INITIAL_LIVE, connectLive } from '../live.js'
import type { Route } from '../route.js'
import { hrefOf, parseRoute, sectionOf } from '../route.js'
import type { ConfirmRequest } from './common.js'
import { ConfirmContext, ConfirmDialog, ErrorNote, LiveVersion, Loading } from './common.js'
import { GroupPage, GroupsPage, ThingPage, ThingsPage } from './fleet.js'
import { JobPage } from './job.js'
import { JobsPage } from './jobs.js'
import { TemplatePage, TemplatesPage } from './templates.js'

export function App() {
  const [info, setInfo] = useState<SessionInfo | undefined>(undefined)
  const [error, setError] = useState<Error | undefined>(undefined)
  const refresh = useCallback(() => {
    session.get().then(setInfo, (e: unknown) => setError(e instanceof Error ? e : new Error(String(e))))
  }, [])
  useEffect(() => {
    refresh()
    whenSignedOut(() =>
      setInfo((i) => (i === undefined ? i : { loginRequired: i.loginRequired, methods: i.methods })),
    )
  }, [refresh])
  if (info === undefined)
    return (
      <main class="center">
        <ErrorNote error={error} />
        {error === undefined && <Loading />}
      </main>
    )
  if (info.loginRequired && info.user === undefined) return <Login info={info} onSignedIn={refresh} />
  return <Console info={info} onSignedOut={refresh} />
}

function Login({ info, onSignedIn }: { info: SessionInfo; onSignedIn: () => void }) {
  const [method, setMethod] = useState(info.methods[0] ?? 'access-key')
  const [username, setUsername] = useState(method === 'operator' ? '*operator*' : '')
  const [password, setPassword] = useState('')
  const [error, setError] = useState<Error | undefined>(undefined)
  const [busy, setBusy] = useState(false)
  const operator = method === 'operator'
  return (
    <main class="center">
      <form
        class="login"
        aria-label="sign in"
        onSubmit={(e) => {
          e.preventDefault()
          setBusy(true)
          setError(undefined)
          session.login(username, password).then(onSignedIn, (err: unknown) => {
            setBusy(false)
            setError(err instanceof Error ? err : new Error(String(err)))
          })
        }}
      >
        <h1>fleetjobs console</h1>
        <p class="muted">
          {operator
            ? 'Sign in as the MQTT operator: its token is printed by `fleetjobs device-token --operator`.'
            : 'Sign in with an access key of the credentials file the server was started with.'}
        </p>
        {info.methods.length > 1 && (
          <div class="tabs" role="tablist">
            {info.methods.map((m) => (
              <button
                key={m}
                type="button"
                role="tab"
                aria-selected={m === method}
                onClick={() => {
                  setMethod(m)
                  setUsername(m === 'operator' ? '*operator*' : '')
                }}
              >
                {m === 'operator' ? 'MQTT operator' : 'Access key'}
              </button>
            ))}
          </div>
        )}
        <label>
          {operator ? 'Operator username' : 'Access key id'}
          <input
            name="username"
            autoComplete="username"
            required
            value={username}
            onInput={(e) => setUsername(e.currentTarget.value)}
          />
        </label>
        <label>
          {operator ? 'Operator token' : 'Secret access key'}
          <input
            name="password"
            type="password"
            autoComplete="current-password"
            required
            value={password}
            onInput={(e) => setPassword(e.currentTarget.value)}
          />
        </label>
        <ErrorNote error={error} />
        <button type="submit" class="primary" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  )
}

const SECTIONS = [
  ['jobs', 'Jobs'],
  ['things', 'Things'],
  ['groups', 'Thing groups'],
  ['templates', 'Templates'],
] as const

function Console({ info, onSignedOut }: { info: SessionInfo; onSignedOut: () => void }) {
  const [route, setRoute] = useState<Route>(() => parseRoute(location.hash))
  const [live, setLive] = useState<LiveState>(INITIAL_LIVE)
  const [confirm, setConfirm] = useState<ConfirmRequest | undefined>(undefined)
  useEffect(() => {
    const onHash = () => setRoute(parseRoute(location.hash))
    addEventListener('hashchange', onHash)
    return () => removeEventListener('hashchange', onHash)
  }, [])
  useEffect(() => connectLive(EVENTS_URL, setLive), [])
  const closeConfirm = useCallback(() => setConfirm(undefined), [])
  const section = sectionOf(route)
  return (
    <ConfirmContext.Provider value={setConfirm}>
      <LiveVersion.Provider value={live.version}>
        <header class="top">
          <a class="brand" href={hrefOf({ page: 'jobs' })}>
            fleetjobs
          </a>
          <nav>
            {SECTIONS.map(([page, label]) => (
              <a key={page} href={`#/${page}`} aria-current={section === page ? 'page' : undefined}>
                {label}
              </a>
            ))}
          </nav>
          <span
            class={`live ${live.status}`}
            title="updates from the server as they happen"
            data-live={live.status}
          >
            {live.status === 'live'
              ? '● live'
              : live.status === 'connecting'
                ? '○ connecting'
                : '○ reconnecting'}
          </span>
          {info.user !== undefined && (
            <span class="user">
              {info.user}{' '}
              <button
                type="button"
                class="link"
                onClick={() => void session.logout().then(onSignedOut, onSignedOut)}
              >
                Sign out
              </button>
            </span>
          )}
        </header>
        <main>
          <Page route={route} />
        </main>
        {confirm !== undefined && <ConfirmDialog request={confirm} onClose={closeConfirm} />}
      </LiveVersion.Provider>
    </ConfirmContext.Provider>
  )
}

function Page({ route }: { route: Route }) {
  switch (route.page) {
    case 'jobs':
      return <JobsPage />
    case 'job':
      return <JobPage key={route.jobId} jobId={route.jobId} />
    case 'things':
      return <ThingsPage />
    case 'thing':
      return <ThingPage key={route.thingName} thingName={route.thingName} />
    case 'groups':
      return <GroupsPage />
    case 'group':
      return <GroupPage key={route.groupName} groupName={route.groupName} />
    case 'templates':
      return <TemplatesPage />
    case 'template':
      return <TemplatePage key={route.templateId} templateId={route.templateId} />
    case 'not-found':
      return (
        <section>
          <h1>Not found</h1>
          <p>
            No console page at <code>{route.hash}</code>. <a href="#/jobs">Jobs</a>
          </p>
        </section>
      )
  }
}
