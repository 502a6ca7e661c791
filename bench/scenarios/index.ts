/**
 * Every figure family, in run order. A later issue adds its family here (`postgres-*`); `--only`
 * picks points by name across all of them. A family with a `flag` (`mqtt`: `--mqtt`) runs only with
 * that flag, and then alone.
 */
import type { Scenario } from '../lib/types.js'
import { createJob } from './create-job.js'
import { fleetScale } from './fleet-scale.js'
import { httpDelete } from './http-delete.js'
import { httpDescribe } from './http-describe.js'
import { httpUpdate } from './http-update.js'
import { mqttFleet } from './mqtt.js'

// CreateJob runs before DeleteJobExecution, whose executions come from its 10,000-target jobs.
// The fleet-scale family runs last, on a server of its own.
// The MQTT family runs only with --mqtt.
export const SCENARIOS: readonly Scenario[] = [
  httpUpdate,
  httpDescribe,
  createJob,
  httpDelete,
  fleetScale,
  mqttFleet,
]
