/** Pieces every page uses: live reloading, the confirmation dialog, the progress bar, pagers. */
import { createContext } from 'preact'
import type { ComponentChildren } from 'preact'
import { useCallback, useContext, useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks'
import { ApiError } from '../api.js'
import { formatCount } from '../format.js'
import type { Counts } from '../progress.js'
import { STATUS_LABELS, barOf } from '../progress.js'

/** The live version (moves when the server says something changed); pages reload on it. */
export const LiveVersion = createContext(0)

export interface Loaded<T> {
  readonly data: T | undefined
  readonly error: Error | undefined
  /** Loads again now (after an action of this page). */
  readonly reload: () => void
}

const SKIP = Symbol('superseded')

/**
 * Loads what a page shows, again whenever `key` or `revision` changes (by default the live version:
 * every coalesced change the server announces). Never two requests of one page at once: a change
 * during a load queues one more load after it, and a burst of changes is one. An answer equal to the
 * one shown changes nothing (no render).
 */
export function useLoad<T>(key: string, load: () => Promise<T>, revision?: string | number): Loaded<T> {
  const version = useContext(LiveVersion)
  const [nonce, setNonce] = useState(0)
  const [state, setState] = useState<{ key: string; data?: T; error?: Error }>({ key })
  const loadRef = useRef(load)
  loadRef.current = load
  const generation = useRef(0)
  const inFlight = useRef<Promise<unknown>>(Promise.resolve())
  const shown = useRef('')
  // A layout effect: the request leaves as soon as the page is rendered, not a frame later.
  useLayoutEffect(() => {
    const mine = ++generation.current
    const run: Promise<T | typeof SKIP> = inFlight.current
      .catch(() => undefined)
      .then((): Promise<T | typeof SKIP> | typeof SKIP =>
        generation.current === mine ? loadRef.current() : SKIP,
      )
    inFlight.current = run
    run.then(
      (data) => {
        if (data === SKIP || generation.current !== mine) return
        const text = `${key}\n${JSON.stringify(data)}`
        if (text === shown.current) return
        shown.current = text
        setState({ key, data })
      },
      (error: unknown) => {
        if (generation.current !== mine) return
        shown.current = ''
        setState((s) => ({
          key,
          ...(s.key === key && s.data !== undefined ? { data: s.data } : {}),
          error: error instanceof Error ? error : new Error(String(error)),
        }))
      },
    )
  }, [key, revision ?? version, nonce])
  const reload = useCallback(() => setNonce((n) => n + 1), [])
  // What another key loaded is not shown under this one.
  return state.key === key
    ? { data: state.data, error: state.error, reload }
    : { data: undefined, error: undefined, reload }
}

export function ErrorNote({ error }: { error: Error | undefined }) {
  if (error === undefined) return null
  return (
    <p class="error" role="alert">
      {error instanceof ApiError ? `${error.code}: ` : ''}
      {error.message}
    </p>
  )
}

export function Loading() {
  return <p class="muted">Loading…</p>
}

export function StatusBadge({ status }: { status: string }) {
  return <span class={`badge s-${status.toLowerCase()}`}>{status.replace(/_/g, ' ').toLowerCase()}</span>
}

/** A job's executions per status: the bar, and the numbers under it. */
export function ProgressBar({
  counts,
  jobId,
  compact,
}: {
  counts: Counts
  jobId: string
  compact?: boolean
}) {
  const bar = barOf(counts)
  return (
    <div class={compact === true ? 'progress compact' : 'progress'} data-job={jobId} data-total={bar.total}>
      <div
        class="bar"
        role="progressbar"
        aria-label={`job ${jobId}: ${bar.donePercent}% done`}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={bar.donePercent}
      >
        {bar.segments.map((s) => (
          <span
            key={s.status}
            class={`seg s-${s.status.toLowerCase()}`}
            style={{ width: `${s.percent}%` }}
            title={`${STATUS_LABELS[s.status]}: ${formatCount(s.count)}`}
          />
        ))}
      </div>
      <div class="legend">
        <span class="done">
          {bar.donePercent}% of {formatCount(bar.total)}
        </span>
        {(Object.keys(STATUS_LABELS) as (keyof Counts)[]).map((s) => (
          <span
            key={s}
            class={counts[s] === 0 ? `count zero s-${s.toLowerCase()}` : `count s-${s.toLowerCase()}`}
            data-status={s}
            data-count={counts[s]}
          >
            <i />
            {STATUS_LABELS[s]} {formatCount(counts[s])}
          </span>
        ))}
      </div>
    </div>
  )
}

/** Keyset pages: the tokens of the pages before, to go back; next needs the token of the page shown. */
export function usePager(): {
  token: string | undefined
  page: number
  next: (token: string) => void
  previous: () => void
  first: () => void
} {
  const [tokens, setTokens] = useState<(string | undefined)[]>([undefined])
  return {
    token: tokens[tokens.length - 1],
    page: tokens.length,
    next: (token) => setTokens((t) => [...t, token]),
    previous: () => setTokens((t) => (t.length > 1 ? t.slice(0, -1) : t)),
    first: () => setTokens([undefined]),
  }
}

export function Pager({
  pager,
  nextToken,
  label,
}: {
  pager: ReturnType<typeof usePager>
  nextToken: string | undefined
  label: string
}) {
  return (
    <nav class="pager" aria-label={`${label} pages`}>
      <button type="button" disabled={pager.page === 1} onClick={pager.first}>
        « First
      </button>
      <button type="button" disabled={pager.page === 1} onClick={pager.previous}>
        ‹ Previous
      </button>
      <span class="muted">page {pager.page}</span>
      <button
        type="button"
        disabled={nextToken === undefined}
        onClick={() => nextToken !== undefined && pager.next(nextToken)}
      >
        Next ›
      </button>
    </nav>
  )
}

export interface ConfirmRequest {
  readonly title: string
  readonly body: ComponentChildren
  readonly confirmLabel: string
  readonly danger?: boolean
  /** Runs on confirmation; an error keeps the dialog open and shows it. */
  readonly action: () => Promise<void>
}

export const ConfirmContext = createContext<(request: ConfirmRequest) => void>(() => undefined)

/** Asks before an action: every create, cancel and delete goes through it. */
export function useConfirm(): (request: ConfirmRequest) => void {
  return useContext(ConfirmContext)
}

export function ConfirmDialog({ request, onClose }: { request: ConfirmRequest; onClose: () => void }) {
  const [busy, setBusy] = useState(false)
  const [error, setError] = useState<Error | undefined>(undefined)
  const confirmRef = useRef<HTMLButtonElement>(null)
  useEffect(() => {
    confirmRef.current?.focus()
    const onKey = (e: KeyboardEvent) => {
      if (e.key === 'Escape' && !busy) onClose()
    }
    addEventListener('keydown', onKey)
    return () => removeEventListener('keydown', onKey)
  }, [busy, onClose])
  const confirm = () => {
    setBusy(true)
    setError(undefined)
    request.action().then(onClose, (e: unknown) => {
      setBusy(false)
      setError(e instanceof Error ? e : new Error(String(e)))
    })
  }
  return (
    <div class="overlay">
      <div class="dialog" role="dialog" aria-modal="true" aria-labelledby="confirm-title">
        <h2 id="confirm-title">{request.title}</h2>
        <div class="dialog-body">{request.body}</div>
        <ErrorNote error={error} />
        <div class="actions">
          <button type="button" onClick={onClose} disabled={busy}>
            Cancel
          </button>
          <button
            type="button"
            ref={confirmRef}
            class={request.danger === true ? 'danger' : 'primary'}
            onClick={confirm}
            disabled={busy}
          >
            {busy ? 'Working…' : request.confirmLabel}
          </button>
        </div>
      </div>
    </div>
  )
}

/** A `<dl>` of label/value pairs. */
export function Facts({ rows }: { rows: readonly (readonly [string, ComponentChildren])[] }) {
  return (
    <dl class="facts">
      {rows.map(([k, v]) => (
        <div key={k}>
          <dt>{k}</dt>
          <dd>{v}</dd>
        </div>
      ))}
    </dl>
  )
}

/** A JSON value, pretty-printed (documents, configurations). */
export function JsonBlock({ value }: { value: unknown }) {
  let text: string
  if (typeof value === 'string') {
    try {
      text = JSON.stringify(JSON.parse(value), null, 2)
    } catch {
      // Not JSON (job documents may be any text): shown as it is.
      text = value
    }
  } else text = JSON.stringify(value, null, 2)
  return <pre class="json">{text}</pre>
}
