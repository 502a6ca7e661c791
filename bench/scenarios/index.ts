/**
 * Every figure family, in run order; `--only` picks points by name across all of them. A family with
 * a `flag` (`mqtt`: `--mqtt`; `postgres`: `--store postgres`; `time`: `--time`) runs only with that
 * flag, and then alone.
 */
import type { Scenario } from '../lib/types.js'
import { consoleFamily } from './console.js'
import { createJob } from './create-job.js'
import { fleetScale } from './fleet-scale.js'
import { httpDelete } from './http-delete.js'
import { httpDescribe } from './http-describe.js'
import { httpUpdate } from './http-update.js'
import { mqttFleet } from './mqtt.js'
import { postgres } from './postgres.js'
import { timeDriven } from './time.js'
import { wrkCheck } from './wrk.js'

// CreateJob runs before DeleteJobExecution, whose executions come from its 10,000-target jobs.
// The fleet-scale family runs last, on a server of its own.
// The MQTT family runs only with --mqtt, the PostgreSQL family only with --store postgres, the
// time-driven family only with --time (on SQLite, or on PostgreSQL with --store postgres), the web
// console family only with --console, the wrk check only with --wrk.
export const SCENARIOS: readonly Scenario[] = [
  httpUpdate,
  httpDescribe,
  createJob,
  httpDelete,
  fleetScale,
  mqttFleet,
  postgres,
  timeDriven,
  consoleFamily,
  wrkCheck,
]
