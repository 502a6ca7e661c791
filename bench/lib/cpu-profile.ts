/** Top self-time functions of a V8 `.cpuprofile` (what `node --cpu-prof` writes). */
import { readFileSync } from 'node:fs'

interface ProfileNode {
  readonly id: number
  readonly callFrame: { functionName: string; url: string; lineNumber: number }
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[]
  readonly samples: readonly number[]
  readonly timeDeltas: readonly number[]
}

export interface SelfTime {
  readonly fn: string
  readonly ms: number
  /** Share of the busy (non-idle) time. */
  readonly share: number
}

export function topSelfTime(file: string, limit: number, cwd = process.cwd()): SelfTime[] {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile
  const nameOf = new Map<number, string>()
  for (const n of profile.nodes) {
    const { functionName, url, lineNumber } = n.callFrame
    const where = url === '' ? '' : ` ${url.replace(`file://${cwd}/`, '')}:${lineNumber + 1}`
    nameOf.set(n.id, `${functionName === '' ? '(anonymous)' : functionName}${where}`)
  }
  const usByName = new Map<string, number>()
  profile.samples.forEach((id, i) => {
    const name = nameOf.get(id) ?? '?'
    usByName.set(name, (usByName.get(name) ?? 0) + (profile.timeDeltas[i] ?? 0))
  })
  let busyUs = 0
  for (const [name, us] of usByName) if (name !== '(idle)') busyUs += us
  return [...usByName]
    .filter(([name]) => name !== '(idle)')
    .sort((a, b) => b[1] - a[1])
    .slice(0, limit)
    .map(([fn, us]) => ({ fn, ms: us / 1000, share: busyUs > 0 ? us / busyUs : 0 }))
}
