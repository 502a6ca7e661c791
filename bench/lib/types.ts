/** The shapes every bench scenario shares: options, measurements, figures and the scenario registry. */
import type { Session } from './session.js'

export interface BenchOptions {
  /** A very short smoke run of the whole harness (CI). */
  readonly quick: boolean
  /** Measured seconds per time-bounded point. */
  readonly durationS: number
  /** Unmeasured seconds before each time-bounded point (JIT, caches, connection set-up). */
  readonly warmupS: number
  /** Client connections of every HTTP point. */
  readonly connections: readonly number[]
  /** Substrings of point names to run; empty runs everything. */
  readonly only: readonly string[]
  /** Where `--json` writes every figure. */
  readonly jsonFile: string | undefined
  /** Where `--cpu-prof` writes the fleetjobs server's CPU profile. */
  readonly cpuProfDir: string | undefined
  /** Measured DeleteJobExecution requests per point (amount-bounded: each consumes one execution). */
  readonly deleteAmount: number
  /** Unmeasured DeleteJobExecution requests before each point. */
  readonly deleteWarmup: number
  /** CreateJob-with-10,000-targets repetitions; the figure is their median. */
  readonly createJobReps: number
  /** `--mqtt`: run the MQTT family, and only it. */
  readonly mqtt: boolean
  /** Simulated devices of the MQTT family, all connected at once (10,000; 1,000 with --quick). */
  readonly mqttDevices: number
  /** Load-generator processes the devices are spread over. */
  readonly mqttProcesses: number
  /**
   * `--store`: `sqlite` (the default: every family but the flagged ones) or `postgres` (only the
   * PostgreSQL family, `pg.*`, against `databaseUrl`).
   */
  readonly store: 'sqlite' | 'postgres'
  /** The PostgreSQL database of `--store postgres` (always on 127.0.0.1). */
  readonly databaseUrl: string
  /** `--time`: run the time-driven family (`time.*`), and only it; on `store`. */
  readonly time: boolean
  /** `--console`: run the web console family (`console.*`), and only it; SQLite. */
  readonly console: boolean
  /** `--wrk`: run the wrk check (`wrk.*`), and only it; SQLite. */
  readonly wrk: boolean
}

/** What one load run against one server measured. Latencies count only 2xx answers. */
export interface LoadStats {
  /** 2xx answers. */
  readonly ok: number
  /** Answers that were not 2xx. */
  readonly failed: number
  /** Socket errors and timeouts. */
  readonly errors: number
  readonly elapsedS: number
  /** 2xx answers per second of the run. */
  readonly rps: number
  readonly p50Ms: number
  readonly p99Ms: number
  readonly maxMs: number
}

/** The two reference servers every HTTP point is compared with. */
export const BASELINES = ['node-http', 'node-http-sqlite'] as const
export type BaselineName = (typeof BASELINES)[number]

/** One HTTP point: fleetjobs and each baseline under the same load. */
export interface ThroughputPoint {
  readonly name: string
  readonly connections: number
  readonly ours: LoadStats
  readonly baselines: Partial<Record<BaselineName, LoadStats>>
}

/**
 * One comparable number, as written by `--json`. `ratio` is a speed ratio: ≥ 1.0 means fleetjobs is
 * at least as good as the baseline (value/baseline when higher is better, baseline/value when lower is).
 */
export interface Figure {
  readonly name: string
  readonly value: number
  readonly unit: string
  readonly better: 'higher' | 'lower'
  readonly baseline: number | null
  readonly baselineName: string | null
  readonly ratio: number | null
}

export interface ScenarioContext {
  readonly options: BenchOptions
  readonly session: Session
  /** Whether `--only` selects this point. */
  wants(point: string): boolean
  recordPoint(point: ThroughputPoint): void
  recordFigure(figure: Figure): void
  /** A check that failed (figures are still printed; the exit code becomes 1). */
  recordFailure(message: string): void
  log(message: string): void
}

/** One family of figures (HTTP executions, CreateJob fan-out, MQTT, PostgreSQL). */
export interface Scenario {
  readonly family: string
  /**
   * A family that runs only with this flag, and then alone (`--mqtt`, `--store postgres`, `--time`);
   * others run without it.
   */
  readonly flag?: 'mqtt' | 'postgres' | 'time' | 'console' | 'wrk'
  /** The names of the points this family would run with these options (for `--only` and `--list`). */
  points(options: BenchOptions): readonly string[]
  run(ctx: ScenarioContext): Promise<void>
}

/** Ratio as defined on `Figure`. */
export function speedRatio(value: number, baseline: number, better: 'higher' | 'lower'): number | null {
  if (!(value > 0) || !(baseline > 0)) return null
  return better === 'higher' ? value / baseline : baseline / value
}
