/** The table printed at the end of a run and the `--json` file. */
import { writeFileSync } from 'node:fs'
import type { BaselineName, BenchOptions, Figure, LoadStats, ThroughputPoint } from './types.js'
import { redactedUrl } from './pg.js'
import { BASELINES, speedRatio } from './types.js'

/** The issue's latency goal for fleetjobs' p99 at every point. */
export const P99_GOAL_MS = 10

const LABEL: Record<BaselineName, string> = { 'node-http': 'node:http', 'node-http-sqlite': 'node:http+SQL' }

/** Every point as comparable figures: req/s and p99 against each baseline. */
export function figuresOf(points: readonly ThroughputPoint[]): Figure[] {
  return points.flatMap((p) =>
    BASELINES.flatMap((b): Figure[] => {
      const base = p.baselines[b]
      if (base === undefined) return []
      return [
        {
          name: `${p.name}.rps.vs-${b}`,
          value: p.ours.rps,
          unit: 'req/s',
          better: 'higher',
          baseline: base.rps,
          baselineName: b,
          ratio: speedRatio(p.ours.rps, base.rps, 'higher'),
        },
        {
          name: `${p.name}.p99.vs-${b}`,
          value: p.ours.p99Ms,
          unit: 'ms',
          better: 'lower',
          baseline: base.p99Ms,
          baselineName: b,
          ratio: speedRatio(p.ours.p99Ms, base.p99Ms, 'lower'),
        },
      ]
    }),
  )
}

export function printTables(points: readonly ThroughputPoint[], figures: readonly Figure[]): void {
  const out: string[] = []
  if (points.length > 0) {
    const header = [
      'point'.padEnd(22),
      'fleetjobs req/s'.padStart(15),
      'p99 ms'.padStart(7),
      ...BASELINES.flatMap((b) => [
        `${LABEL[b]} req/s`.padStart(20),
        'p99 ms'.padStart(7),
        'ratio'.padStart(6),
      ]),
    ].join(' ')
    out.push(header, '-'.repeat(header.length))
    for (const p of points) {
      const flags =
        (p.ours.p99Ms > P99_GOAL_MS ? ' p99>10ms' : '') + (hasFailures(p) ? ' FAILED-REQUESTS' : '')
      out.push(
        [
          p.name.padEnd(22),
          p.ours.rps.toFixed(0).padStart(15),
          p.ours.p99Ms.toFixed(2).padStart(7),
          ...BASELINES.flatMap((b) => baselineCells(p.ours, p.baselines[b])),
        ].join(' ') + flags,
      )
    }
    out.push(
      'ratio = fleetjobs req/s ÷ baseline req/s (≥ 1.00: at least as fast). Goal: ≥ 1.00 vs node:http+SQL with p99 ≤ 10 ms.',
    )
  }
  const others = figures.filter((f) => !points.some((p) => f.name.startsWith(`${p.name}.`)))
  if (others.length > 0) {
    out.push('')
    const width = Math.max(36, ...others.map((f) => f.name.length))
    const header = [
      'figure'.padEnd(width),
      'value'.padStart(10),
      'unit'.padEnd(13),
      'baseline'.padStart(10),
      'ratio'.padStart(6),
      'baseline is',
    ].join(' ')
    out.push(header, '-'.repeat(header.length))
    for (const f of others) {
      out.push(
        [
          f.name.padEnd(width),
          num(f.value).padStart(10),
          f.unit.padEnd(13),
          (f.baseline === null ? '-' : num(f.baseline)).padStart(10),
          (f.ratio === null ? '-' : f.ratio.toFixed(2)).padStart(6),
          f.baselineName ?? '',
        ].join(' '),
      )
    }
    out.push(
      'ratio ≥ 1.00: fleetjobs at least as good (value ÷ baseline, or baseline ÷ value when lower is better).',
    )
  }
  console.log(`\n${out.join('\n')}`)
}

function baselineCells(ours: LoadStats, base: LoadStats | undefined): string[] {
  if (base === undefined) return ['-'.padStart(20), '-'.padStart(7), '-'.padStart(6)]
  const ratio = speedRatio(ours.rps, base.rps, 'higher')
  return [
    base.rps.toFixed(0).padStart(20),
    base.p99Ms.toFixed(2).padStart(7),
    (ratio === null ? '-' : ratio.toFixed(2)).padStart(6),
  ]
}

function num(v: number): string {
  return v >= 100 ? v.toFixed(0) : v.toFixed(2)
}

export function hasFailures(p: ThroughputPoint): boolean {
  return [p.ours, ...Object.values(p.baselines)].some((s) => s.failed + s.errors > 0)
}

export function writeJson(file: string, options: BenchOptions, figures: readonly Figure[]): void {
  const meta = {
    date: new Date().toISOString(),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    quick: options.quick,
    durationS: options.durationS,
    connections: options.connections,
    ...(options.mqtt ? { mqtt: { devices: options.mqttDevices, loadProcesses: options.mqttProcesses } } : {}),
    ...(options.store === 'postgres'
      ? { store: 'postgres', database: redactedUrl(options.databaseUrl) }
      : {}),
    ratio: 'speed ratio: ≥ 1 means fleetjobs is at least as good as the baseline',
  }
  writeFileSync(file, `${JSON.stringify({ results: figures, meta }, null, 2)}\n`)
}
