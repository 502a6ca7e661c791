/**
 * Every figure family, in run order. A later issue adds its family here (`mqtt-*`, `postgres-*`);
 * `--only` picks points by name across all of them.
 */
import type { Scenario } from '../lib/types.js'
import { createJob } from './create-job.js'
import { fleetScale } from './fleet-scale.js'
import { httpDelete } from './http-delete.js'
import { httpDescribe } from './http-describe.js'
import { httpUpdate } from './http-update.js'

// CreateJob runs before DeleteJobExecution, whose executions come from its 10,000-target jobs.
// The fleet-scale family runs last, on a server of its own.
export const SCENARIOS: readonly Scenario[] = [httpUpdate, httpDescribe, createJob, httpDelete, fleetScale]
