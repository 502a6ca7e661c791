/**
 * The console's live state: whether the event stream is connected, and a version number that moves
 * each time the server says something changed. Pages refetch what they show when the version moves;
 * nothing polls. `reduce` is pure; `connectLive` wires it to an EventSource.
 */

export interface LiveState {
  readonly status: 'connecting' | 'live' | 'offline'
  /** Moves on every `changed` event and on every (re)connection (changes may have been missed). */
  readonly version: number
  /** The server's event sequence last seen (`hello` carries the current one). */
  readonly seq: number
}

export type LiveEvent =
  | { readonly type: 'hello'; readonly seq: number }
  | { readonly type: 'changed'; readonly seq: number }
  | { readonly type: 'error' }

export const INITIAL_LIVE: LiveState = { status: 'connecting', version: 0, seq: 0 }

export function reduce(state: LiveState, event: LiveEvent): LiveState {
  switch (event.type) {
    case 'hello':
      // A first connection changes nothing; a reconnection may have missed changes: look again.
      return {
        status: 'live',
        version: state.status === 'connecting' && state.version === 0 ? state.version : state.version + 1,
        seq: event.seq,
      }
    case 'changed':
      // Streams deliver in order; an old or repeated event (a replay) changes nothing.
      if (event.seq !== 0 && event.seq <= state.seq && state.status === 'live') return state
      return { status: 'live', version: state.version + 1, seq: event.seq }
    case 'error':
      return state.status === 'offline' ? state : { ...state, status: 'offline' }
  }
}

/** Opens the stream; `onState` gets every new state. Returns the close function. */
export function connectLive(url: string, onState: (state: LiveState) => void): () => void {
  let state = INITIAL_LIVE
  const source = new EventSource(url)
  const apply = (event: LiveEvent) => {
    const next = reduce(state, event)
    if (next !== state) {
      state = next
      onState(state)
    }
  }
  const seqOf = (e: MessageEvent): number => {
    const n = Number(e.data)
    return Number.isSafeInteger(n) ? n : 0
  }
  source.addEventListener('hello', (e) => apply({ type: 'hello', seq: seqOf(e) }))
  source.addEventListener('changed', (e) => apply({ type: 'changed', seq: seqOf(e) }))
  // The browser reconnects by itself (the server's `retry:`); this only shows the state.
  source.addEventListener('error', () => apply({ type: 'error' }))
  return () => source.close()
}
