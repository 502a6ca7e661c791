/** SQL both stores use for a thing's pending executions, over `job_executions e JOIN jobs j`. */

/**
 * Pending order: IN_PROGRESS first, then QUEUED, each by creation. [spec: jobs-device-api#1.1]
 * By the status itself ('IN_PROGRESS' sorts before 'QUEUED', and a pending query has no other), so
 * that an index on (thing_name, namespace_id, status, queued_at, seq) gives the order without a sort.
 */
export const PENDING_ORDER = `e.status, e.queued_at, e.seq`

/**
 * Devices see no execution of a job being deleted. (A SCHEDULED job has executions only when a closed
 * maintenance window paused its rollout; they stay visible.)
 */
export const DEVICE_VISIBLE_JOB = `j.status <> 'DELETION_IN_PROGRESS'`
