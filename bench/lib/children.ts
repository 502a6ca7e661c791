/**
 * Server processes of the bench: each runs one `bench/serve/*.ts` entry with `--import tsx`, so the
 * load generator (this process) and the server under test get a core each.
 */
import { fork } from 'node:child_process'
import type { ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import type { ChildMessage, ParentMessage, ServerInfo } from '../serve/child-ipc.js'

const START_TIMEOUT_MS = 30_000
const CLOSE_TIMEOUT_MS = 30_000

export class ServerProcess {
  private nextId = 1
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private exited = false

  private constructor(
    readonly label: string,
    private readonly child: ChildProcess,
    readonly info: ServerInfo,
  ) {
    child.on('message', (message: ChildMessage) => {
      if (message.type !== 'result') return
      const p = this.pending.get(message.id)
      if (p === undefined) return
      this.pending.delete(message.id)
      if (message.ok) p.resolve(message.value)
      else p.reject(new Error(`${label}: ${message.error}`))
    })
    // A send on a channel that closed meanwhile reports here; the pending call is rejected on exit.
    child.on('error', () => undefined)
    child.on('exit', () => {
      this.exited = true
      for (const p of this.pending.values()) p.reject(new Error(`${label} exited`))
      this.pending.clear()
    })
  }

  get pid(): number {
    return this.child.pid ?? -1
  }

  /** Forks `bench/serve/<entry>.ts` with its JSON configuration and waits for its URLs. */
  static start(
    label: string,
    entry: string,
    config: unknown,
    nodeFlags: readonly string[] = [],
  ): Promise<ServerProcess> {
    const script = fileURLToPath(new URL(`../serve/${entry}.ts`, import.meta.url))
    const child = fork(script, [JSON.stringify(config)], {
      execArgv: ['--import', 'tsx', ...nodeFlags],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    })
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        child.kill('SIGKILL')
        reject(new Error(`${label} did not start within ${START_TIMEOUT_MS} ms`))
      }, START_TIMEOUT_MS)
      child.once('exit', (code) => {
        clearTimeout(timer)
        reject(new Error(`${label} exited with code ${code ?? 'null'} before it was ready`))
      })
      child.on('message', function onReady(message: ChildMessage) {
        if (message.type !== 'ready') return
        clearTimeout(timer)
        child.off('message', onReady)
        child.removeAllListeners('exit')
        resolve(new ServerProcess(label, child, message.info))
      })
    })
  }

  /**
   * Calls a handler of the child. With `timeoutMs` the answer is awaited that long at most (the call
   * then fails; the child is left running until `close`).
   */
  call<T>(method: string, args: unknown = null, timeoutMs?: number): Promise<T> {
    if (this.exited) return Promise.reject(new Error(`${this.label} has exited`))
    const id = this.nextId++
    const message: ParentMessage = { type: 'call', id, method, args }
    return new Promise<T>((resolve, reject) => {
      const timer =
        timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              this.pending.delete(id)
              reject(new Error(`${this.label}: ${method} did not answer within ${timeoutMs} ms`))
            }, timeoutMs)
      const settle =
        <A>(fn: (a: A) => void) =>
        (a: A): void => {
          clearTimeout(timer)
          fn(a)
        }
      this.pending.set(id, { resolve: settle(resolve as (v: unknown) => void), reject: settle(reject) })
      if (!this.child.connected) {
        this.pending.get(id)?.reject(new Error(`${this.label}: its IPC channel is closed`))
        this.pending.delete(id)
        return
      }
      this.child.send(message)
    })
  }

  /** Asks the child to close and exit; kills it (this PID only) when it does not in time. */
  async close(): Promise<void> {
    if (this.exited) return
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()))
    const timer = setTimeout(() => this.child.kill('SIGKILL'), CLOSE_TIMEOUT_MS)
    try {
      await this.call('close').catch(() => undefined)
      await exited
    } finally {
      clearTimeout(timer)
    }
  }
}
